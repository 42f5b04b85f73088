/* consent_bench.c - time consent lookups (store_resolve) against a filled store.
 *   consent_bench CONFIG USERS LOOKUPS THREADS
 * Looks up LOOKUPS random recipients "userNNNNNNN+tag@bench.example" (NNNNNNN < USERS,
 * so every lookup is an exact miss, a base-address hit: two queries) twice over the
 * same keys: the first pass right after store_open ("cold": new connections, no
 * statement prepared, database pages as the OS has them), the second pass again
 * ("warm"). Prints p50/p99/max in microseconds per pass and lookups per second.
 * Not a test: built and run by consent_bench.py. Threads: THREADS readers share one
 * struct store, as senderauthd's milter threads do. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "senderauth/store.h"

struct job {
    struct store *st;
    struct store_addr_rules rules;
    const unsigned *keys;
    int n;
    double *lat;
    int errors;
};

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *run(void *arg)
{
    struct job *j = arg;
    char rcpt[96];
    int on;

    for (int i = 0; i < j->n; i++) {
        double t0;

        snprintf(rcpt, sizeof(rcpt), "user%07u+tag@bench.example", j->keys[i]);
        t0 = now_us();
        if (store_resolve(j->st, rcpt, &j->rules, 0, &on, NULL) != STORE_FOUND)
            j->errors++;
        j->lat[i] = now_us() - t0;
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int pass(const char *name, struct store *st, const struct store_addr_rules *rules,
                const unsigned *keys, int n, int nthreads)
{
    struct job *jobs = calloc((size_t)nthreads, sizeof(*jobs));
    pthread_t *th = calloc((size_t)nthreads, sizeof(*th));
    double *lat = calloc((size_t)n, sizeof(*lat)), t0, wall;
    int per = n / nthreads, errors = 0;

    t0 = now_us();
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (struct job){st, *rules, keys + i * per, per, lat + i * per, 0};
        pthread_create(&th[i], NULL, run, &jobs[i]);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        errors += jobs[i].errors;
    }
    wall = now_us() - t0;
    n = per * nthreads;
    qsort(lat, (size_t)n, sizeof(*lat), cmp);
    printf("%s lookups=%d threads=%d p50_us=%.1f p99_us=%.1f max_us=%.1f per_s=%.0f errors=%d\n",
           name, n, nthreads, lat[n / 2], lat[(int)(n * 0.99)], lat[n - 1], n / (wall / 1e6),
           errors);
    free(lat);
    free(th);
    free(jobs);
    return errors;
}

int main(int argc, char **argv)
{
    struct conf_errors errs;
    struct sa_conf *conf;
    struct store *st;
    struct store_addr_rules rules;
    char err[512];
    unsigned *keys, users, seed = 42;
    int n, nthreads, bad;

    if (argc != 5) {
        fprintf(stderr, "usage: consent_bench CONFIG USERS LOOKUPS THREADS\n");
        return 2;
    }
    users = (unsigned)atol(argv[2]);
    n = atoi(argv[3]);
    nthreads = atoi(argv[4]);
    if ((conf = conf_load_file(argv[1], &errs)) == NULL) {
        conf_errors_print(&errs, stderr);
        return 2;
    }
    store_addr_rules_from_conf(conf, &rules);
    keys = calloc((size_t)n, sizeof(*keys));
    for (int i = 0; i < n; i++)
        keys[i] = (unsigned)(rand_r(&seed) % users);
    if ((st = store_open(conf, STORE_OPEN_READ, err, sizeof(err))) == NULL) {
        fprintf(stderr, "consent_bench: %s\n", err);
        return 3;
    }
    printf("backend=%s users=%u\n", store_backend_name(st), users);
    bad = pass("cold", st, &rules, keys, n, nthreads);
    bad += pass("warm", st, &rules, keys, n, nthreads);
    store_close(st);
    conf_unref(conf);
    free(keys);
    return bad ? 1 : 0;
}
