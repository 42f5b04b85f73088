/* report-bench.c - cost of DMARC history recording (docs/performance.md):
 *   report-bench CONF N
 * 1. history_add on the milter side (after a warm-up round of N): N rows queued by 1 thread into a queue large enough
 *    for all of them while the writer thread writes them (ns per row on the caller);
 * 2. the writer: time until all N rows are committed (rows per second of the store).
 * CONF names the store (senderauthctl init first). Prints one line per figure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "report/history.h"
#include "util/xalloc.h"

static double clk(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
    return clk(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
    static struct conf_errors errs;
    struct sa_conf *conf;
    struct history *h;
    struct history_stats s;
    struct store_hist_row r;
    long n;
    double t0, t1, t2, c0, c1, p0, p2;

    if (argc != 3 || (n = atol(argv[2])) <= 0) {
        fprintf(stderr, "usage: report-bench CONF N\n");
        return 2;
    }
    if ((conf = conf_load_file(argv[1], &errs)) == NULL) {
        conf_errors_print(&errs, stderr);
        return 2;
    }
    memset(&r, 0, sizeof(r));
    sa_strlcpy(r.source_ip, "192.0.2.1", sizeof(r.source_ip));
    sa_strlcpy(r.env_from, "example.com", sizeof(r.env_from));
    sa_strlcpy(r.header_from, "example.com", sizeof(r.header_from));
    sa_strlcpy(r.policy_domain, "example.com", sizeof(r.policy_domain));
    sa_strlcpy(r.spf_domain, "example.com", sizeof(r.spf_domain));
    sa_strlcpy(r.spf_scope, "mfrom", sizeof(r.spf_scope));
    sa_strlcpy(r.spf_result, "pass", sizeof(r.spf_result));
    sa_strlcpy(r.dkim, "pass:example.com:s1", sizeof(r.dkim));
    sa_strlcpy(r.dmarc_result, "pass", sizeof(r.dmarc_result));
    sa_strlcpy(r.p, "reject", sizeof(r.p));
    sa_strlcpy(r.disposition, "pass", sizeof(r.disposition));
    sa_strlcpy(r.discovery, "psl", sizeof(r.discovery));
    sa_strlcpy(r.rua, "mailto:agg@example.com", sizeof(r.rua));
    sa_strlcpy(r.action, "accept", sizeof(r.action));
    sa_strlcpy(r.would, "accept", sizeof(r.would));
    r.pct = 100;
    if ((h = history_new(conf)) == NULL)
        return 1;
    for (long i = 0; i < n; i++) /* warm-up round: touches every page of the queue */
        history_add(h, &r);
    do {
        history_get_stats(h, &s);
    } while (s.written + s.dropped_store < s.added);
    t0 = now();
    c0 = clk(CLOCK_THREAD_CPUTIME_ID);
    p0 = clk(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < n; i++) {
        r.at = (long long)time(NULL);
        r.source_ip[8] = (char)('0' + i % 10);
        history_add(h, &r);
    }
    t1 = now();
    c1 = clk(CLOCK_THREAD_CPUTIME_ID);
    do {
        history_get_stats(h, &s);
    } while (s.written + s.dropped_store < s.added && now() - t1 < 600);
    s.written -= (unsigned long long)n; /* the warm-up round's */
    t2 = now();
    p2 = clk(CLOCK_PROCESS_CPUTIME_ID);
    printf("history_add: %ld rows, %.0f ns CPU per row on the caller (%.0f ns wall; dropped "
           "full %llu)\n",
           n, (c1 - c0) / (double)n * 1e9, (t1 - t0) / (double)n * 1e9, s.dropped_full);
    printf("writer: %llu rows committed, %.1f us CPU per row (%.2f s wall), dropped (store) "
           "%llu\n",
           s.written, ((p2 - p0) - (c1 - c0)) / (double)s.written * 1e6, t2 - t0,
           s.dropped_store);
    history_free(h);
    conf_free(conf);
    return 0;
}
