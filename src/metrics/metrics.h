/* metrics.h - senderauthd's counters and their Prometheus text exposition (version 0.0.4)
 * over HTTP on one configured address (libmicrohttpd), e.g. "127.0.0.1:9712".
 *
 * The set of metrics is fixed here (docs/operations.md lists them):
 *   senderauth_messages_total                      transactions that reached end of message
 *   senderauth_results_total{method,result}        one per result (every DKIM signature)
 *   senderauth_actions_total{action}               accept reject quarantine tempfail split
 *   senderauth_dns_queries_total                   queries sent to the resolvers
 *   senderauth_dns_cache_hits_total                answers from the shared cache
 *   senderauth_dns_timeouts_total                  queries that got no usable answer
 *   senderauth_store_errors_total                  consent store failures
 *   senderauth_reloads_total{result}               SIGHUP reloads, ok / failed
 *   senderauth_history_rows_total{result}          DMARC history rows written / dropped
 *   senderauth_history_queue_rows                  (gauge) rows waiting in the queue
 *   senderauth_eom_seconds                         histogram of end-of-message processing
 * and after them the labelled families other modules register (metrics_add_family).
 *
 * Threads: every counter is one lock-free atomic, so metrics_count and friends may be
 * called from any thread at any time, also before metrics_start and after metrics_stop
 * (they then only count). The collect hook runs in the HTTP thread at each scrape and
 * must be thread-safe itself. metrics_start and metrics_stop are called from main(). */
#ifndef SA_METRICS_H
#define SA_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "senderauth/result.h"

/* Plain counters. */
enum metrics_counter {
    METRICS_MESSAGES = 0,
    METRICS_ACTION_ACCEPT,
    METRICS_ACTION_REJECT,
    METRICS_ACTION_QUARANTINE,
    METRICS_ACTION_TEMPFAIL,
    METRICS_ACTION_SPLIT,
    METRICS_DNS_QUERIES,
    METRICS_DNS_CACHE_HITS,
    METRICS_DNS_TIMEOUTS,
    METRICS_STORE_ERRORS,
    METRICS_RELOAD_OK,
    METRICS_RELOAD_FAILED,
    METRICS_HISTORY_WRITTEN,       /* DMARC history rows committed to the store */
    METRICS_HISTORY_DROPPED_FULL,  /* ... refused: the queue was full */
    METRICS_HISTORY_DROPPED_STORE, /* ... lost: the store failed */
    METRICS_HISTORY_QUEUED,        /* a gauge: rows waiting now */
    METRICS_NCOUNTERS
};

/* Methods of senderauth_results_total (the RFC 8601 method names, spf_helo for the
 * HELO identity). */
enum metrics_method {
    METRICS_SPF = 0,
    METRICS_SPF_HELO,
    METRICS_DKIM,
    METRICS_DMARC,
    METRICS_ARC,
    METRICS_IPREV,
    METRICS_BIMI,
    METRICS_NMETHODS
};
#define METRICS_NRESULTS (AUTH_PERMERROR + 1)

/* Upper bounds (seconds) of the latency buckets; +Inf is added. */
#define METRICS_NBUCKETS 12
extern const double metrics_buckets[METRICS_NBUCKETS];

#define METRICS_LISTEN_MAX 64 /* "[v6addr]:port" */

/* metrics_count - add n to counter c. */
void metrics_count(enum metrics_counter c, uint64_t n);
/* metrics_set - set counter c to v (for a total kept elsewhere, e.g. the DNS cache's
 * hit count, copied in by the collect hook). */
void metrics_set(enum metrics_counter c, uint64_t v);
/* metrics_get - the current value of c (tests, the collect hook). */
uint64_t metrics_get(enum metrics_counter c);
/* metrics_count_result - one more result r for method m; out-of-range values are ignored. */
void metrics_count_result(enum metrics_method m, enum auth_res r);
/* metrics_observe_eom - one end-of-message processing time in seconds. */
void metrics_observe_eom(double seconds);
/* metrics_set_collect - fn is called at the start of each scrape (NULL = none). */
void metrics_set_collect(void (*fn)(void));

/* metrics_render - the exposition text, malloc'd and NUL-terminated (*len without the
 * NUL); the caller frees it. NULL when out of memory. */
char *metrics_render(size_t *len);

/* metrics_parse_listen - "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6), numeric, port
 * 1..65535, into a socket address. 0, or -1 with why set. */
struct sockaddr_storage;
int metrics_parse_listen(const char *s, struct sockaddr_storage *ss, char *why, size_t whylen);

/* metrics_start - serve GET /metrics (any other path: 404) on listen; "" or NULL = off
 * (returns 0). -1 when the address cannot be parsed or bound (logged). The server's
 * thread is created here and inherits the caller's signal mask. */
int metrics_start(const char *listen);
/* metrics_stop - stop serving (no-op when not started). */
void metrics_stop(void);
/* metrics_port - the bound port (useful with port 0), 0 when not serving. */
int metrics_port(void);

/* Labelled counter families and extra pages owned by other modules (registered once,
 * from any thread, also while serving; never removed).
 * A family is rendered after the fixed metrics at each scrape as
 *   # HELP name help / # TYPE name counter / name{label="values[i]"} counters[i]
 * Its strings and counters belong to the caller and must live as long as the process
 * (static data); the caller updates the counters with relaxed atomic adds. */
struct metrics_family {
    const char *name;
    const char *help;
    const char *label;
    const char *const *values;
    int n;
    atomic_uint_fast64_t *counters;
};
#define METRICS_MAX_FAMILIES 8
#define METRICS_MAX_PAGES 4
/* metrics_add_family - expose f (not copied). 0, or -1 when METRICS_MAX_FAMILIES are in
 * use. */
int metrics_add_family(const struct metrics_family *f);
/* A page renderer: the body, malloc'd (the server frees it), *len its length; NULL on
 * failure (500). Called in the HTTP thread. */
typedef char *(*metrics_page_fn)(size_t *len);
/* metrics_add_page - serve GET path (e.g. "/iprev", a string that lives as long as the
 * process) with fn and this Content-Type. 0, or -1 when METRICS_MAX_PAGES are in use. */
int metrics_add_page(const char *path, const char *content_type, metrics_page_fn fn);

#endif
