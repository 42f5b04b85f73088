/* iprev_hook.c - iprev (RFC 8601 3) in senderauthd: the reverse-then-forward check of the
 * client address at MAIL FROM (cached DNS, its own small budget), iprev= in the A-R, the
 * iprev.policy action (measure: log and count; tag: X-Senderauth-Iprev: fail) and the
 * per-process counters, logged per hour bucket. Trusted and authenticated clients are never
 * checked (m->skip).
 * Owns m->iprev and m->iprev_ran, the counters; not the DNS layers.
 * Threads: one message, its libmilter thread; the counters are atomics and the bucket
 * change is a compare-and-swap (one thread logs the finished hour). */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "daemon/msg.h"
#include "out/ar_format.h"
#include "util/log.h"

#define IPREV_QUERIES (1 + IPREV_MAX_PTR) /* the PTR query and one forward query per name */
#define IPREV_BUCKET 3600                 /* seconds per counter bucket */
#define IPREV_HEADER "X-Senderauth-Iprev"

static atomic_long bucket_start;
static atomic_ulong n_checked, n_pass, n_fail, n_noptr, n_temp, n_tagged;

static void count(const struct sa_msg *m);

/* count - per-process counters; at the first message of a new hour bucket the finished
 * one is logged: the numbers to look at before choosing a stricter iprev.policy */
static void count(const struct sa_msg *m)
{
    long now = (long)time(NULL), b = now - now % IPREV_BUCKET, old = atomic_load(&bucket_start);

    if (old != b && atomic_compare_exchange_strong(&bucket_start, &old, b) && old != 0)
        log_info("iprev counters for the hour from %ld: checked=%lu pass=%lu fail=%lu "
                 "no_ptr=%lu temperror=%lu tagged=%lu",
                 old, atomic_exchange(&n_checked, 0), atomic_exchange(&n_pass, 0),
                 atomic_exchange(&n_fail, 0), atomic_exchange(&n_noptr, 0),
                 atomic_exchange(&n_temp, 0), atomic_exchange(&n_tagged, 0));
    atomic_fetch_add(&n_checked, 1);
    if (m->iprev.result == AUTH_PASS)
        atomic_fetch_add(&n_pass, 1);
    else if (m->iprev.result == AUTH_FAIL)
        atomic_fetch_add(&n_fail, 1);
    else
        atomic_fetch_add(&n_temp, 1);
    if (m->iprev.no_ptr)
        atomic_fetch_add(&n_noptr, 1);
}

/* iprev_hook_mail - see msg.h */
void iprev_hook_mail(struct sa_msg *m, const struct sa_conn *c)
{
    struct dns *dns;
    struct timespec ts;

    if (m->skip != NULL || !m->conf->iprev_enable || c->ip[0] == '\0')
        return;
    /* A message whose query cap is gone gets a deadline already passed: temperror. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    dns = dns_budget_new(m->proc->shared, IPREV_QUERIES,
                         m->queries_left > 0 ? (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 +
                                                   m->conf->dns_message_deadline
                                             : 1e-9);
    if (dns == NULL) {
        m->failed = 1;
        return;
    }
    iprev_eval(c->ip, dns, &m->iprev);
    m->queries_left -= dns_budget_queries(dns);
    dns_free(dns);
    m->iprev_ran = 1;
    count(m);
}

/* iprev_hook_ar - see msg.h: iprev=RESULT (reason) policy.iprev=IP */
void iprev_hook_ar(const struct sa_msg *m, struct ar_header *h)
{
    struct ar_resinfo *ri;

    if (!m->iprev_ran || m->skip != NULL)
        return;
    ri = ar_header_add(h, "iprev", m->iprev.result,
                       m->iprev.result == AUTH_PASS ? m->iprev.name : m->iprev.reason);
    ar_resinfo_prop(ri, "policy.iprev", m->iprev.ip);
}

/* iprev_hook_apply - see msg.h */
int iprev_hook_apply(SMFICTX *ctx, const struct sa_conn *c, const struct sa_msg *m)
{
    if (!m->iprev_ran || m->iprev.result != AUTH_FAIL || m->conf->iprev_policy != CONF_IPREV_TAG)
        return 0;
    atomic_fetch_add(&n_tagged, 1);
    if (smfi_addheader(ctx, IPREV_HEADER, (c->proto & SMFIP_HDR_LEADSPC) ? " fail" : "fail") !=
        MI_SUCCESS) {
        log_warn("%s: cannot add %s", m->qid, IPREV_HEADER);
        return -1;
    }
    return 0;
}

/* iprev_hook_log - see msg.h: " iprev=RESULT[:no_ptr][ iprev_policy=would_tag|tag]" */
void iprev_hook_log(const struct sa_msg *m, struct buf *b)
{
    if (!m->iprev_ran)
        return;
    buf_printf(b, " iprev=%s%s", auth_res_name(m->iprev.result), m->iprev.no_ptr ? ":no_ptr" : "");
    if (m->iprev.result == AUTH_FAIL && m->conf->iprev_policy == CONF_IPREV_MEASURE)
        buf_printf(b, " iprev_policy=would_tag");
    else if (m->iprev.result == AUTH_FAIL && m->conf->iprev_policy == CONF_IPREV_TAG)
        buf_printf(b, " iprev_policy=tag");
}
