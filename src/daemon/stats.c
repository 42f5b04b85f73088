/* stats.c - senderauthd's side of the metrics: which events count as what. One call per
 * message at its end (act_log), the end-of-message time (milter.c), a counting DNS layer
 * between the shared cache and the resolver, and the scrape hook for the cache's hits.
 * Owns those mappings; not the counters or the HTTP server (src/metrics).
 * Threads: everything here is called from any libmilter thread or the metrics thread;
 * the counters are atomics inside src/metrics and this file keeps no other state except
 * the cache pointer, set once before the milter starts. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/hist.h"
#include "daemon/msg.h"
#include "daemon/stats.h"
#include "metrics/metrics.h"

static struct dns *cache_for_scrape;

#define NOVERRIDES 4
static const char *const override_names[NOVERRIDES] = {"arc", "forwarder", "list_id",
                                                       "allow_from"};
static atomic_uint_fast64_t overrides[NOVERRIDES];
static const struct metrics_family override_family = {
    "senderauth_overrides_total",
    "Messages whose DMARC disposition was overridden, by reason (arc: a trusted ARC sealer "
    "saw DMARC pass; forwarder, list_id, allow_from: the local lists).",
    "reason", override_names, NOVERRIDES, overrides};

static enum dns_status count_query(struct dns *d, const char *name, uint16_t type,
                                   struct dns_answer **ans);
static enum dns_status count_query_ttl(struct dns *d, const char *name, uint16_t type,
                                       struct dns_answer **ans, uint32_t *neg_ttl);
static void count_free(struct dns *d);
static void count_override(const struct sa_msg *m);
static void collect(void);
static void collect_history(void);

/* stats_message - see stats.h */
void stats_message(const struct sa_msg *m, const char *action)
{
    static const struct {
        const char *name;
        enum metrics_counter c;
    } actions[] = {
        {"accept", METRICS_ACTION_ACCEPT},
        {"reject", METRICS_ACTION_REJECT},
        {"quarantine", METRICS_ACTION_QUARANTINE},
        {"tempfail", METRICS_ACTION_TEMPFAIL},
    };

    metrics_count(METRICS_MESSAGES, 1);
    for (size_t i = 0; action != NULL && i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(action, actions[i].name) == 0)
            metrics_count(actions[i].c, 1);
    if (m->enf.ndeferred > 0)
        metrics_count(METRICS_ACTION_SPLIT, 1);
    if (m->enf.nerror > 0)
        metrics_count(METRICS_STORE_ERRORS, (uint64_t)m->enf.nerror);
    if (m->skip != NULL)
        return;
    if (m->spf_ran)
        metrics_count_result(METRICS_SPF, m->spf.result);
    if (m->spf_helo_ran)
        metrics_count_result(METRICS_SPF_HELO, m->spf_helo.result);
    if (m->dkim_ran && m->ndkim == 0)
        metrics_count_result(METRICS_DKIM, m->dkim_error ? AUTH_TEMPERROR : AUTH_NONE);
    for (int i = 0; m->dkim_ran && i < m->ndkim; i++)
        metrics_count_result(METRICS_DKIM, m->dkim[i].result);
    if (m->dmarc_ran)
        metrics_count_result(METRICS_DMARC, m->dmarc->result);
    if (m->arc != NULL) /* a chain was checked */
        metrics_count_result(METRICS_ARC, m->arc->result);
    else if (m->conf->arc_enable && !m->arc_error) /* no ARC fields */
        metrics_count_result(METRICS_ARC, AUTH_NONE);
    if (m->iprev_ran)
        metrics_count_result(METRICS_IPREV, m->iprev->result);
    bimi_hook_stats(m);
    count_override(m);
}

/* count_override - senderauth_overrides_total: the local rule enforcement applied, or
 * the trusted-sealer ARC override recorded in the A-R when enforcement did not look */
static void count_override(const struct sa_msg *m)
{
    static const char *const rules[] = {"override-arc", "override-forwarder",
                                        "override-list-id", "override-allow-from"};
    const char *why = m->enf.override != NULL ? m->enf.override
                      : m->arc_override != NULL ? "override-arc"
                                                : NULL;

    for (int i = 0; why != NULL && i < NOVERRIDES; i++)
        if (strcmp(why, rules[i]) == 0)
            atomic_fetch_add_explicit(&overrides[i], 1, memory_order_relaxed);
}

double stats_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void stats_eom_done(double t0)
{
    metrics_observe_eom(stats_clock() - t0);
}

/* count_query - pass through, counting the query and a TEMPFAIL answer */
static enum dns_status count_query(struct dns *d, const char *name, uint16_t type,
                                   struct dns_answer **ans)
{
    enum dns_status st = dns_query((struct dns *)d->ctx, name, type, ans);

    metrics_count(METRICS_DNS_QUERIES, 1);
    if (st == DNS_TEMPFAIL)
        metrics_count(METRICS_DNS_TIMEOUTS, 1);
    return st;
}

/* count_query_ttl - the same, keeping the negative TTL for the cache above */
static enum dns_status count_query_ttl(struct dns *d, const char *name, uint16_t type,
                                       struct dns_answer **ans, uint32_t *neg_ttl)
{
    enum dns_status st = dns_query_ttl((struct dns *)d->ctx, name, type, ans, neg_ttl);

    metrics_count(METRICS_DNS_QUERIES, 1);
    if (st == DNS_TEMPFAIL)
        metrics_count(METRICS_DNS_TIMEOUTS, 1);
    return st;
}

static void count_free(struct dns *d)
{
    free(d);
}

/* stats_dns_new - see stats.h */
struct dns *stats_dns_new(struct dns *upstream)
{
    struct dns *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->query = count_query;
    d->query_ttl = count_query_ttl;
    d->free = count_free;
    d->ctx = upstream;
    return d;
}

/* collect_history - the DMARC history writer's counters (hist.c), when it runs */
static void collect_history(void)
{
    struct history_stats hs;

    if (hist_get_stats(&hs) < 0)
        return;
    metrics_set(METRICS_HISTORY_WRITTEN, hs.written);
    metrics_set(METRICS_HISTORY_DROPPED_FULL, hs.dropped_full);
    metrics_set(METRICS_HISTORY_DROPPED_STORE, hs.dropped_store);
    metrics_set(METRICS_HISTORY_QUEUED, hs.queued);
}

/* collect - before a scrape: totals kept by other modules */
static void collect(void)
{
    struct dns_cache_stats st;

    if (cache_for_scrape != NULL) {
        dns_cache_get_stats(cache_for_scrape, &st);
        metrics_set(METRICS_DNS_CACHE_HITS, st.hits);
    }
    collect_history();
}

void stats_init(struct dns *cache)
{
    cache_for_scrape = cache;
    metrics_set_collect(collect);
    metrics_add_family(&override_family);
    iprev_hook_metrics();
    arc_hook_metrics();
    bimi_hook_metrics();
}
