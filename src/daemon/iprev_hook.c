/* iprev_hook.c - iprev (RFC 8601 3) in senderauthd: the reverse-then-forward check of the
 * client address (cached DNS, its own small budget), once per connection -- at connect
 * when iprev.stage = connect, else at the first checked MAIL FROM -- and reused by later
 * transactions; iprev= in the A-R; the iprev.policy action (measure: log and count; tag:
 * X-Senderauth-Iprev: fail; tempfail / reject: the configured reply at connect or RCPT);
 * the per-client counters (a 48-hour ring, /iprev on the metrics server, and cumulative
 * senderauth_iprev_clients_total). Trusted networks, authenticated clients (known from
 * MAIL FROM on, whatever skip_authenticated says) and local submission are exempt: not
 * checked, counted as such.
 * Owns c->iprev, m->iprev and m->iprev_ran, the counters; not the DNS layers or the
 * decision table (src/iprev/iprev_policy.c).
 * Threads: a connection and its message belong to one libmilter thread; the counters are
 * atomics (the ring takes its own short mutex when an hour bucket is reused) and the
 * hourly log line is claimed by one compare-and-swap. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/msg.h"
#include "metrics/metrics.h"
#include "out/ar_format.h"
#include "util/buf.h"
#include "util/log.h"

#define IPREV_QUERIES (1 + IPREV_MAX_PTR) /* the PTR query and one forward query per name */
#define IPREV_HEADER "X-Senderauth-Iprev"
#define IPREV_JSON_CAP (16 * 1024) /* 48 hours of 10 counters: about 10 kB */

_Static_assert((int)CONF_IPREV_OFF == (int)IPREV_MODE_OFF &&
                   (int)CONF_IPREV_MEASURE == (int)IPREV_MODE_MEASURE &&
                   (int)CONF_IPREV_TAG == (int)IPREV_MODE_TAG &&
                   (int)CONF_IPREV_TEMPFAIL == (int)IPREV_MODE_TEMPFAIL &&
                   (int)CONF_IPREV_REJECT == (int)IPREV_MODE_REJECT,
               "iprev.policy names follow enum iprev_mode");

static struct iprev_stats ring = IPREV_STATS_INIT;
static atomic_uint_fast64_t totals[IPREV_NEVENTS];
static atomic_llong logged_hour;
static const struct metrics_family family = {
    "senderauth_iprev_clients_total",
    "Clients (SMTP connections) by iprev policy event: seen, exempt, results, matched by "
    "iprev.policy_on, and the actions taken.",
    "event",
    iprev_event_names,
    IPREV_NEVENTS,
    totals};

static int active(const struct sa_conf *conf);
static struct iprev_policy policy_of(const struct sa_conf *conf);
static void count(enum iprev_event ev, time_t now);
static void log_hour(time_t now);
static void count_client(struct iprev_client *ic, const struct sa_conf *conf);
static struct iprev_client *client_of(struct sa_conn *c);
static int check(struct iprev_client *ic, const char *ip, struct dns *shared, int max_queries,
                 double deadline_in);
static enum mlt_stat reply(struct mlt_ctx *ctx, struct sa_conn *c, const struct sa_conf *conf,
                           const char *qid, const char *stage);
static char *render_json(size_t *len);

/* active - the check runs: iprev.enable, or a policy that needs it */
static int active(const struct sa_conf *conf)
{
    return conf->iprev_enable || conf->iprev_policy != CONF_IPREV_OFF;
}

static struct iprev_policy policy_of(const struct sa_conf *conf)
{
    struct iprev_policy p = {(enum iprev_mode)conf->iprev_policy,
                             conf->iprev_policy_on == CONF_IPREV_ON_FAIL,
                             conf->iprev_on_temperror == CONF_ON_ERROR_TEMPFAIL};
    return p;
}

/* count - one event: the hour's bucket and the cumulative counter */
static void count(enum iprev_event ev, time_t now)
{
    iprev_stats_add(&ring, now, ev);
    atomic_fetch_add_explicit(&totals[ev], 1, memory_order_relaxed);
}

/* log_hour - the first client of a new hour logs the finished one (for operators
 * without the metrics server) */
static void log_hour(time_t now)
{
    long long h = (long long)now - (long long)now % IPREV_STATS_SECONDS;
    long long old = atomic_load(&logged_hour);
    struct iprev_stats_row rows[1];
    int n;

    if (old == h || !atomic_compare_exchange_strong(&logged_hour, &old, h) || old == 0)
        return;
    n = iprev_stats_read(&ring, (time_t)old, rows, 1);
    if (n == 1 && rows[0].start == old)
        log_info("iprev clients in the hour from %lld: seen=%llu exempt=%llu pass=%llu "
                 "no_ptr=%llu fail=%llu temperror=%llu matched=%llu tagged=%llu "
                 "tempfailed=%llu rejected=%llu",
                 old, (unsigned long long)rows[0].n[IPREV_EV_SEEN],
                 (unsigned long long)rows[0].n[IPREV_EV_EXEMPT],
                 (unsigned long long)rows[0].n[IPREV_EV_PASS],
                 (unsigned long long)rows[0].n[IPREV_EV_NO_PTR],
                 (unsigned long long)rows[0].n[IPREV_EV_FAIL],
                 (unsigned long long)rows[0].n[IPREV_EV_TEMPERROR],
                 (unsigned long long)rows[0].n[IPREV_EV_MATCHED],
                 (unsigned long long)rows[0].n[IPREV_EV_TAGGED],
                 (unsigned long long)rows[0].n[IPREV_EV_TEMPFAILED],
                 (unsigned long long)rows[0].n[IPREV_EV_REJECTED]);
}

/* count_client - the client's events, once per connection: seen, then exempt or its
 * result, whether the policy matches it and whether it will be tagged */
static void count_client(struct iprev_client *ic, const struct sa_conf *conf)
{
    time_t now = time(NULL);
    struct iprev_policy p = policy_of(conf);

    if (ic->counted)
        return;
    ic->counted = 1;
    log_hour(now);
    count(IPREV_EV_SEEN, now);
    if (!ic->checked || ic->exempt) {
        count(IPREV_EV_EXEMPT, now);
        return;
    }
    if (ic->res.result == AUTH_PASS)
        count(IPREV_EV_PASS, now);
    else if (ic->res.result == AUTH_FAIL)
        count(ic->res.no_ptr ? IPREV_EV_NO_PTR : IPREV_EV_FAIL, now);
    else
        count(IPREV_EV_TEMPERROR, now);
    if (iprev_policy_match(&ic->res, &p))
        count(IPREV_EV_MATCHED, now);
    if (iprev_policy_decide(&ic->res, &p) == IPREV_ACT_TAG)
        count(IPREV_EV_TAGGED, now);
}

/* client_of - c's iprev state, made at its first use (a connection with iprev off
 * carries none); NULL when out of memory */
static struct iprev_client *client_of(struct sa_conn *c)
{
    if (c->iprev == NULL)
        c->iprev = calloc(1, sizeof(*c->iprev));
    return c->iprev;
}

/* check - run the check for ip into ic with at most max_queries queries before
 * deadline_in seconds from now (<= 0: already out of time, temperror); returns the
 * queries made, or -1 when out of memory */
static int check(struct iprev_client *ic, const char *ip, struct dns *shared, int max_queries,
                 double deadline_in)
{
    struct timespec ts;
    struct dns *dns;
    int used;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    dns = dns_budget_new(
        shared, max_queries,
        deadline_in > 0 ? (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + deadline_in : 1e-9);
    if (dns == NULL)
        return -1;
    iprev_eval(ip, dns, &ic->res);
    used = dns_budget_queries(dns);
    dns_free(dns);
    ic->checked = 1;
    return used;
}

/* reply - the policy's reply for the client's action: "CODE X.Y.Z text, [ADDR]" from the
 * configured string (checked at load); counts and logs the first one per connection */
static enum mlt_stat reply(struct mlt_ctx *ctx, struct sa_conn *c, const struct sa_conf *conf,
                           const char *qid, const char *stage)
{
    struct iprev_policy p = policy_of(conf);
    enum iprev_action a = iprev_policy_decide(&c->iprev->res, &p);
    const char *spec, *sp;
    char code[4], xcode[16], text[300];

    if (a != IPREV_ACT_TEMPFAIL && a != IPREV_ACT_REJECT)
        return MLT_CONTINUE;
    spec = a == IPREV_ACT_REJECT                    ? conf->iprev_reject_reply
           : c->iprev->res.result == AUTH_TEMPERROR ? conf->iprev_temperror_reply
                                                    : conf->iprev_tempfail_reply;
    sa_strlcpy(code, spec, sizeof(code));
    sp = strchr(spec + 4, ' ');
    if (sp == NULL || (size_t)(sp - spec - 4) >= sizeof(xcode)) /* cannot happen: checked */
        return a == IPREV_ACT_REJECT ? MLT_REJECT : MLT_TEMPFAIL;
    memcpy(xcode, spec + 4, (size_t)(sp - spec - 4));
    xcode[sp - spec - 4] = '\0';
    if (snprintf(text, sizeof(text), "%s, [%s]", sp + 1, c->ip) >= (int)sizeof(text))
        text[sizeof(text) - 1] = '\0';
    mlt_setreply(ctx, code, xcode, text);
    if (!c->iprev->acted) {
        c->iprev->acted = 1;
        count(a == IPREV_ACT_REJECT ? IPREV_EV_REJECTED : IPREV_EV_TEMPFAILED, time(NULL));
        log_info("%s: client=%s iprev=%s%s iprev_policy=%s stage=%s reply=%s %s", qid, c->ip,
                 auth_res_name(c->iprev->res.result), c->iprev->res.no_ptr ? ":no_ptr" : "",
                 iprev_action_name(a), stage, code, xcode);
    }
    return a == IPREV_ACT_REJECT ? MLT_REJECT : MLT_TEMPFAIL;
}

/* iprev_hook_proto_off - see msg.h */
unsigned long iprev_hook_proto_off(const struct sa_conf *conf)
{
    if (conf->iprev_policy != CONF_IPREV_TEMPFAIL && conf->iprev_policy != CONF_IPREV_REJECT)
        return 0;
    return conf->iprev_stage == CONF_IPREV_STAGE_CONNECT ? SMFIP_NR_CONN : SMFIP_NR_RCPT;
}

/* iprev_hook_connect - see msg.h */
enum mlt_stat iprev_hook_connect(struct mlt_ctx *ctx, struct sa_conn *c, const struct sa_proc *proc)
{
    struct sa_conf *conf = conf_get_current();
    enum mlt_stat r = MLT_CONTINUE;
    struct iprev_client *ic;

    if (conf == NULL || !active(conf) || conf->iprev_stage != CONF_IPREV_STAGE_CONNECT) {
        conf_unref(conf);
        return MLT_CONTINUE;
    }
    if ((ic = client_of(c)) == NULL) {
        log_warn("NOQUEUE: iprev: out of memory at connect; the client is checked at MAIL FROM");
        conf_unref(conf);
        return MLT_CONTINUE;
    }
    if (!c->has_addr || c->nonsmtp || conf_cidr_match(conf, (const struct sockaddr *)&c->addr))
        ic->exempt = 1;
    else if (check(ic, c->ip, proc->shared, IPREV_QUERIES, conf->dns_message_deadline) < 0)
        log_warn("NOQUEUE: iprev: out of memory at connect; the client is checked at MAIL FROM");
    count_client(ic, conf);
    if (ic->checked && !ic->exempt && !(c->proto & SMFIP_NR_CONN))
        r = reply(ctx, c, conf, "NOQUEUE", "connect");
    conf_unref(conf);
    return r;
}

/* iprev_hook_mail - see msg.h */
void iprev_hook_mail(struct sa_msg *m, struct sa_conn *c, const char *authen)
{
    struct iprev_client *ic;

    if (!active(m->conf))
        return;
    if ((ic = client_of(c)) == NULL) {
        m->failed = 1;
        return;
    }
    if (m->skip != NULL || (authen != NULL && authen[0] != '\0') || c->ip[0] == '\0' ||
        c->nonsmtp) {
        ic->exempt = 1; /* also with skip_authenticated = false: never checked */
        count_client(ic, m->conf);
        return;
    }
    if (!ic->checked) {
        int used = check(ic, c->ip, m->proc->shared, IPREV_QUERIES,
                         m->queries_left > 0 ? m->conf->dns_message_deadline : 0);
        if (used < 0) {
            m->failed = 1;
            return;
        }
        m->queries_left -= used;
    }
    if (ic->checked && !ic->exempt) {
        m->iprev = &ic->res;
        m->iprev_ran = 1;
    }
    count_client(ic, m->conf);
}

/* iprev_hook_rcpt - see msg.h */
enum mlt_stat iprev_hook_rcpt(struct mlt_ctx *ctx, struct sa_conn *c, const struct sa_msg *m)
{
    if (!m->iprev_ran || m->skip != NULL || c->iprev->exempt)
        return MLT_CONTINUE;
    return reply(ctx, c, m->conf, m->qid, "rcpt");
}

/* iprev_hook_ar - see msg.h: iprev=RESULT (reason) policy.iprev=IP */
void iprev_hook_ar(const struct sa_msg *m, struct ar_header *h)
{
    struct ar_resinfo *ri;

    if (!m->iprev_ran || m->skip != NULL)
        return;
    ri = ar_header_add(h, "iprev", m->iprev->result,
                       m->iprev->result == AUTH_PASS ? m->iprev->name : m->iprev->reason);
    ar_resinfo_prop(ri, "policy.iprev", m->iprev->ip);
}

/* iprev_hook_apply - see msg.h */
int iprev_hook_apply(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m)
{
    struct iprev_policy p = policy_of(m->conf);

    if (!m->iprev_ran || m->skip != NULL || iprev_policy_decide(m->iprev, &p) != IPREV_ACT_TAG)
        return 0;
    if (mlt_addheader(ctx, IPREV_HEADER, (c->proto & SMFIP_HDR_LEADSPC) ? " fail" : "fail") != 0) {
        log_warn("%s: cannot add %s", m->qid, IPREV_HEADER);
        return -1;
    }
    return 0;
}

/* iprev_hook_log - see msg.h: " iprev=RESULT[:no_ptr][ iprev_policy=matched|tag]" */
void iprev_hook_log(const struct sa_msg *m, struct buf *b)
{
    struct iprev_policy p;
    enum iprev_action a;

    if (!m->iprev_ran)
        return;
    p = policy_of(m->conf);
    a = iprev_policy_decide(m->iprev, &p);
    buf_printf(b, " iprev=%s%s", auth_res_name(m->iprev->result),
               m->iprev->no_ptr ? ":no_ptr" : "");
    if (a != IPREV_ACT_NONE)
        buf_printf(b, " iprev_policy=%s", iprev_action_name(a));
    else if (p.mode == IPREV_MODE_MEASURE && iprev_policy_match(m->iprev, &p))
        buf_printf(b, " iprev_policy=matched");
}

/* render_json - the /iprev page: the ring as JSON */
static char *render_json(size_t *len)
{
    struct buf b;

    buf_init(&b, IPREV_JSON_CAP);
    if (iprev_stats_json(&ring, time(NULL), &b) < 0 || b.data == NULL) {
        buf_release(&b);
        return NULL;
    }
    *len = b.len;
    return b.data; /* the metrics server frees it */
}

/* iprev_hook_metrics - see msg.h */
void iprev_hook_metrics(void)
{
    if (metrics_add_family(&family) < 0 ||
        metrics_add_page("/iprev", "application/json; charset=utf-8", render_json) < 0)
        log_warn("iprev counters: no room on the metrics server");
}
