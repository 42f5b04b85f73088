/* stats.h - what senderauthd feeds to the metrics (src/metrics) and when (stats.c).
 * Threads: every function may be called from any thread. */
#ifndef SA_DAEMON_STATS_H
#define SA_DAEMON_STATS_H

#include "dns/dns.h"

struct sa_msg;
struct sa_proc;

/* stats_message - one message at its end: its results, its final action ("accept",
 * "reject", "quarantine", "tempfail"), split recipients and store errors. */
void stats_message(const struct sa_msg *m, const char *action);
/* stats_clock - seconds on the monotonic clock (to time end of message). */
double stats_clock(void);
/* stats_eom_done - end-of-message processing that started at t0 (stats_clock) is over. */
void stats_eom_done(double t0);
/* stats_dns_new - a layer over upstream that counts the queries sent there and those
 * answered DNS_TEMPFAIL (timeouts, SERVFAIL, REFUSED). Does not own upstream. NULL when
 * out of memory. */
struct dns *stats_dns_new(struct dns *upstream);
/* stats_init - at each scrape, copy the shared DNS cache's hit count (cache may be
 * NULL: no cache); register the override and iprev counter families and /iprev. */
void stats_init(struct dns *cache);

#endif
