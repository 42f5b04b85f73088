/* dns_budget.c - one message's DNS allowance: a cap on the number of queries and a
 * monotonic deadline; past either, every query answers DNS_TEMPFAIL without asking.
 * Owns its counters; not the layer below (cache or resolver), which it never frees.
 * Threads: a budget belongs to one message, used by one thread at a time. */
#include <stdlib.h>
#include <time.h>

#include "dns/dns.h"

struct budget {
    struct dns dns;
    struct dns *up;
    int max_queries; /* <= 0: no cap */
    double deadline; /* CLOCK_MONOTONIC seconds; <= 0: none */
    int queries;     /* passed to the layer below */
};

static enum dns_status budget_query_ttl(struct dns *d, const char *name, uint16_t type,
                                        struct dns_answer **ans, uint32_t *neg_ttl);
static enum dns_status budget_query(struct dns *d, const char *name, uint16_t type,
                                    struct dns_answer **ans);
static void budget_free(struct dns *d);
static double now_mono(void);

struct dns *dns_budget_new(struct dns *upstream, int max_queries, double deadline)
{
    struct budget *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    b->up = upstream;
    b->max_queries = max_queries;
    b->deadline = deadline;
    b->dns.query = budget_query;
    b->dns.query_ttl = budget_query_ttl;
    b->dns.free = budget_free;
    b->dns.ctx = b;
    return &b->dns;
}

int dns_budget_queries(struct dns *d)
{
    return ((struct budget *)d->ctx)->queries;
}

/* now_mono - CLOCK_MONOTONIC in seconds */
static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* budget_query_ttl - refuse once the cap or the deadline is reached, else pass down */
static enum dns_status budget_query_ttl(struct dns *d, const char *name, uint16_t type,
                                        struct dns_answer **ans, uint32_t *neg_ttl)
{
    struct budget *b = d->ctx;

    *ans = NULL;
    *neg_ttl = 0;
    if (b->max_queries > 0 && b->queries >= b->max_queries)
        return DNS_TEMPFAIL;
    if (b->deadline > 0 && now_mono() >= b->deadline)
        return DNS_TEMPFAIL;
    b->queries++;
    return dns_query_ttl(b->up, name, type, ans, neg_ttl);
}

static enum dns_status budget_query(struct dns *d, const char *name, uint16_t type,
                                    struct dns_answer **ans)
{
    uint32_t neg_ttl;

    return budget_query_ttl(d, name, type, ans, &neg_ttl);
}

static void budget_free(struct dns *d)
{
    free(d->ctx);
}
