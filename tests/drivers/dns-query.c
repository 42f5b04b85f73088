/* dns-query.c - ask one server through dns_res and print the outcome, for debugging and
 * for the integration tests: "dns-query [-t TIMEOUT] [-r RETRIES] [-j THREADS] SERVER
 * PORT NAME TYPE [NAME TYPE ...]". Each query prints "NAME TYPE STATUS ttl=N nrr=N
 * truncated=N" and then one "  rr ttl=N DATA" line per record (TXT data C-escaped, with
 * its length). With -j N, N threads share one resolver, each asks every query 20 times,
 * and the program prints "threads: N mismatches" (answers that differ from the first
 * thread's first round) after the normal output.
 * Exit status 0 once every query has been asked, 2 on usage errors. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"
#include "util/xalloc.h"

#define MAX_THREADS 16
#define ROUNDS 20

struct job {
    struct dns *d;
    char **argv;
    int argc;
    char *want; /* summary of every answer, from the main thread */
    int mismatches;
};

static size_t summarize(struct dns *d, char **argv, int argc, char *out, size_t size);
static void *job_run(void *arg);

static void print_rr(const struct dns_rr *r)
{
    char ip[INET6_ADDRSTRLEN];

    printf("  rr ttl=%u ", r->ttl);
    switch (r->type) {
    case DNS_T_A:
        printf("%s\n", inet_ntop(AF_INET, &r->u.a, ip, sizeof(ip)));
        break;
    case DNS_T_AAAA:
        printf("%s\n", inet_ntop(AF_INET6, &r->u.aaaa, ip, sizeof(ip)));
        break;
    case DNS_T_MX:
        printf("%u %s\n", r->u.mx.pref, r->u.mx.exchange);
        break;
    case DNS_T_TXT:
        printf("len=%zu \"", r->u.txt.len);
        for (size_t i = 0; i < r->u.txt.len; i++) {
            unsigned char c = (unsigned char)r->u.txt.data[i];

            if (c == '"' || c == '\\')
                printf("\\%c", c);
            else if (c >= 0x20 && c < 0x7f)
                putchar(c);
            else
                printf("\\%03u", c);
        }
        printf("\"\n");
        break;
    default:
        printf("%s\n", r->u.name);
        break;
    }
}

/* summarize - status, count and first record of every query, as one string */
static size_t summarize(struct dns *d, char **argv, int argc, char *out, size_t size)
{
    size_t o = 0;

    out[0] = '\0';
    for (int i = 0; i + 1 < argc; i += 2) {
        struct dns_answer *a;
        enum dns_status st = dns_query(d, argv[i], dns_type_parse(argv[i + 1]), &a);
        int n = snprintf(out + o, size - o, "%s/%d/%zu;", dns_status_name(st), a ? a->nrr : 0,
                         a && a->rr[0].type == DNS_T_TXT ? a->rr[0].u.txt.len : 0);

        if (n > 0 && (size_t)n < size - o)
            o += (size_t)n;
        dns_answer_free(a);
    }
    return o;
}

static void *job_run(void *arg)
{
    struct job *j = arg;
    char got[4096];

    for (int r = 0; r < ROUNDS; r++) {
        summarize(j->d, j->argv, j->argc, got, sizeof(got));
        if (strcmp(got, j->want) != 0)
            j->mismatches++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct dns_res_conf conf;
    struct dns *d;
    int c, nthreads = 0;

    memset(&conf, 0, sizeof(conf));
    conf.timeout = 2;
    conf.retries = 2;
    while ((c = getopt(argc, argv, "t:r:j:")) != -1) {
        switch (c) {
        case 'j':
            nthreads = atoi(optarg);
            if (nthreads < 1 || nthreads > MAX_THREADS)
                goto usage;
            break;
        case 't':
            conf.timeout = atoi(optarg);
            break;
        case 'r':
            conf.retries = atoi(optarg);
            break;
        default:
            goto usage;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 4 || (argc - 2) % 2 != 0)
        goto usage;
    conf.nservers = 1;
    sa_strlcpy(conf.server[0].addr, argv[0], sizeof(conf.server[0].addr));
    conf.server[0].port = (uint16_t)atoi(argv[1]);
    if ((d = dns_res_new(&conf)) == NULL) {
        perror("dns_res_new");
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        uint16_t type = dns_type_parse(argv[i + 1]);
        struct dns_answer *a;
        uint32_t neg;
        enum dns_status st;

        if (type == 0) {
            fprintf(stderr, "dns-query: unknown type %s\n", argv[i + 1]);
            dns_free(d);
            return 2;
        }
        st = dns_query_ttl(d, argv[i], type, &a, &neg);
        printf("%s %s %s ttl=%u nrr=%d truncated=%d\n", argv[i], dns_type_name(type),
               dns_status_name(st), a ? a->ttl : neg, a ? a->nrr : 0, a ? a->truncated : 0);
        for (int k = 0; a != NULL && k < a->nrr; k++)
            print_rr(&a->rr[k]);
        dns_answer_free(a);
    }
    if (nthreads > 0) {
        static char want[4096];
        struct job jobs[MAX_THREADS];
        pthread_t tid[MAX_THREADS];
        int bad = 0;

        summarize(d, argv + 2, argc - 2, want, sizeof(want));
        for (int i = 0; i < nthreads; i++) {
            jobs[i] = (struct job){d, argv + 2, argc - 2, want, 0};
            if (pthread_create(&tid[i], NULL, job_run, &jobs[i]) != 0) {
                perror("pthread_create");
                return 2;
            }
        }
        for (int i = 0; i < nthreads; i++) {
            pthread_join(tid[i], NULL);
            bad += jobs[i].mismatches;
        }
        printf("threads: %d mismatches\n", bad);
    }
    fflush(stdout);
    dns_free(d);
    return 0;
usage:
    fprintf(stderr, "usage: dns-query [-t timeout] [-r retries] [-j threads] SERVER PORT "
                    "NAME TYPE [NAME TYPE ...]\n");
    return 2;
}
