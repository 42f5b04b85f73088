/* bimi_hook.c - BIMI in senderauthd (bimi.enable, docs/bimi.md): at header time, the
 * BIMI-Selector, which DKIM-Signature fields sign it (h=), and the incoming
 * BIMI-Location / BIMI-Indicator fields (a sender's forgery: they are removed from every
 * message); at end of message, after DMARC, the selector when a passing aligned
 * signature covers it (else "default"), the
 * eligibility rule and the check (src/bimi) within bimi.timeout; bimi= for the A-R,
 * BIMI-Location and BIMI-Indicator on a pass, the log word and level=bimi for badge.c.
 * Owns m->bimi and the process-wide trust store and fetch cache (built on first use
 * from the configuration in force, rebuilt when bimi.trust_file, its file or the fetch
 * settings change); not the checks (src/bimi) nor the A-R syntax (src/out).
 * Threads: one message, its libmilter thread; the process-wide objects are behind one
 * mutex (held only to take or drop a reference, or to build them, never during a check)
 * and are shared read-only (the fetch cache locks itself). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "bimi/bimi.h"
#include "daemon/msg.h"
#include "mail/hdr.h"
#include "metrics/metrics.h"
#include "out/ar_format.h"
#include "util/buf.h"
#include "util/log.h"

#define BIMI_QUERIES 3       /* the organizational domain's _dmarc and two _bimi names */
#define BIMI_MAX_FORGED 1000 /* incoming BIMI-Location/-Indicator fields one message may carry */
#define BIMI_MAX_SIGS 64     /* DKIM-Signature fields whose h= is remembered (one bit each) */

/* The trust store and fetcher for one set of settings; refcounted by messages. */
struct bimi_shared {
    int refs;
    char *trust_file, *ca_file;
    time_t trust_mtime;
    ino_t trust_ino;
    int ttl, entries;
    struct bimi_trust *trust; /* NULL: trust_err says why */
    struct bimi_fetcher *fetch;
    char trust_err[128];
};

struct bimi_state {
    int nloc, nind;                       /* incoming BIMI-Location / BIMI-Indicator fields */
    int overflow;                         /* more than BIMI_MAX_FORGED */
    int nsel;                             /* BIMI-Selector fields */
    char selector[BIMI_MAX_SELECTOR + 1]; /* the first one's s=, "default" when broken */
    int nsig;                             /* DKIM-Signature fields, in header order ... */
    uint64_t sel_signed;                  /* ... bit i: the i-th one's h= has BIMI-Selector */
    int ran;                              /* a bimi= result exists */
    struct bimi_res res;
    struct bimi_shared *sh; /* reference held while the message lives */
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bimi_shared *shared_cur;

/* enum bimi_result -> the A-R's and the metrics' auth_res (skipped is none) */
static const enum auth_res as_auth[] = {AUTH_NONE, AUTH_PASS, AUTH_FAIL, AUTH_TEMPERROR, AUTH_NONE};

/* The metrics families (bimi_hook_metrics); process-wide, outliving every fetcher. */
static const char *const fetch_names[BIMI_NCOUNTS] = {"fetched", "cached", "timeout", "failed"};
static atomic_uint_fast64_t fetch_counts[BIMI_NCOUNTS];
static const struct metrics_family fetch_family = {
    "senderauth_bimi_fetches_total",
    "BIMI logo and mark certificate requests by outcome (fetched over HTTPS, answered by "
    "the cache, timed out, failed otherwise).",
    "outcome",
    fetch_names,
    BIMI_NCOUNTS,
    fetch_counts};
static const char *const pass_names[2] = {"vmc", "cmc"};
static atomic_uint_fast64_t pass_counts[2];
static const struct metrics_family pass_family = {
    "senderauth_bimi_passes_total",
    "Messages with bimi=pass by kind of mark certificate.",
    "authority",
    pass_names,
    2,
    pass_counts};

static int str_eq(const char *a, const char *b);
static struct bimi_shared *shared_get(const struct sa_conf *cf);
static void shared_put(struct bimi_shared *s);
static struct bimi_state *state(struct sa_msg *m);
static void run(struct sa_msg *m, struct bimi_state *st);
static int selector_signed(const struct sa_msg *m, const struct bimi_state *st);

static int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* shared_put - drop a reference (under shared_lock held by the caller or not: takes it) */
static void shared_put(struct bimi_shared *s)
{
    int last;

    if (s == NULL)
        return;
    pthread_mutex_lock(&shared_lock);
    last = --s->refs == 0;
    pthread_mutex_unlock(&shared_lock);
    if (!last)
        return;
    bimi_trust_free(s->trust);
    bimi_fetch_free(s->fetch);
    free(s->trust_file);
    free(s->ca_file);
    free(s);
}

/* shared_get - a reference to the objects for cf's settings, rebuilt when they or the
 * trust file changed; NULL when out of memory */
static struct bimi_shared *shared_get(const struct sa_conf *cf)
{
    struct bimi_shared *s, *old = NULL;
    struct stat sb;
    struct bimi_fetch_conf fc = {cf->bimi_https_ca_file, cf->bimi_cache_ttl, cf->bimi_cache_entries,
                                 fetch_counts};

    memset(&sb, 0, sizeof(sb));
    if (cf->bimi_trust_file != NULL && cf->bimi_trust_file[0] != '\0')
        (void)stat(cf->bimi_trust_file, &sb);
    pthread_mutex_lock(&shared_lock);
    s = shared_cur;
    if (s == NULL || !str_eq(s->trust_file, cf->bimi_trust_file) ||
        !str_eq(s->ca_file, cf->bimi_https_ca_file) || s->ttl != cf->bimi_cache_ttl ||
        s->entries != cf->bimi_cache_entries || s->trust_mtime != sb.st_mtime ||
        s->trust_ino != sb.st_ino) {
        old = shared_cur;
        if ((s = calloc(1, sizeof(*s))) == NULL ||
            (s->trust_file = strdup(cf->bimi_trust_file ? cf->bimi_trust_file : "")) == NULL ||
            (s->ca_file = strdup(cf->bimi_https_ca_file ? cf->bimi_https_ca_file : "")) == NULL ||
            (s->fetch = bimi_fetch_new(&fc)) == NULL) {
            if (s != NULL) {
                free(s->trust_file);
                free(s->ca_file);
                free(s);
            }
            pthread_mutex_unlock(&shared_lock);
            return NULL;
        }
        s->ttl = cf->bimi_cache_ttl;
        s->entries = cf->bimi_cache_entries;
        s->trust_mtime = sb.st_mtime;
        s->trust_ino = sb.st_ino;
        if ((s->trust = bimi_trust_new(s->trust_file, s->trust_err, sizeof(s->trust_err))) == NULL)
            log_warn("bimi.trust_file: %s: no logo can pass", s->trust_err);
        s->refs = 1; /* the current one */
        shared_cur = s;
    }
    s->refs++;
    pthread_mutex_unlock(&shared_lock);
    if (old != NULL)
        shared_put(old); /* the previous settings' objects go with their last message */
    return s;
}

/* state - m's BIMI state, made on first use from the pool; NULL when out of memory */
static struct bimi_state *state(struct sa_msg *m)
{
    if (m->bimi == NULL && (m->bimi = pool_alloc(m->pool, sizeof(*m->bimi))) != NULL)
        memset(m->bimi, 0, sizeof(*m->bimi));
    return m->bimi;
}

/* bimi_hook_header - see msg.h */
void bimi_hook_header(struct sa_msg *m, const char *name, const char *value)
{
    struct bimi_state *st;
    int loc, ind, sel, sig;

    if (m == NULL || name == NULL || !m->conf->bimi_enable)
        return;
    loc = strcasecmp(name, BIMI_LOCATION_NAME) == 0;
    ind = strcasecmp(name, BIMI_INDICATOR_NAME) == 0;
    sel = strcasecmp(name, BIMI_SELECTOR_NAME) == 0;
    sig = strcasecmp(name, "DKIM-Signature") == 0; /* as dkim_eval_header counts them */
    if (!loc && !ind && !sel && !sig)
        return;
    if ((st = state(m)) == NULL) {
        m->too_many_forged = 1; /* cannot remember it: never pass it on */
        return;
    }
    if (sig) {
        if (st->nsig < BIMI_MAX_SIGS && value != NULL && bimi_dkim_signs_selector(value))
            st->sel_signed |= (uint64_t)1 << st->nsig;
        st->nsig++;
        return;
    }
    if (sel && st->nsel++ == 0 &&
        bimi_parse_selector(value, st->selector, sizeof(st->selector)) < 0)
        sa_strlcpy(st->selector, "default", sizeof(st->selector));
    if ((loc && ++st->nloc > BIMI_MAX_FORGED) || (ind && ++st->nind > BIMI_MAX_FORGED))
        st->overflow = 1;
}

/* selector_signed - 1 when the message has one BIMI-Selector and a DKIM signature that
 * passed over the whole body, aligns with the author domain (as DMARC aligned it) and
 * lists BIMI-Selector in h=. m->dkim[i] is the i-th DKIM-Signature field's result. Two
 * BIMI-Selector fields: h= covers only the last, the first was read; neither is used. */
static int selector_signed(const struct sa_msg *m, const struct bimi_state *st)
{
    int strict = m->dmarc->has_record && m->dmarc->rec.adkim_strict;

    if (st->nsel != 1 || st->sel_signed == 0 || !m->dkim_ran)
        return 0;
    for (int i = 0; i < m->ndkim && i < BIMI_MAX_SIGS; i++) {
        const struct dkim_sig_res *r = &m->dkim[i];

        if (!(st->sel_signed & (uint64_t)1 << i) || r->result != AUTH_PASS || !r->full_body)
            continue;
        if (dmarc_domain_equal(r->domain, m->from.domain) ||
            (m->dmarc->dkim_aligned &&
             dmarc_domain_equal(r->domain, m->dmarc->dkim_aligned_domain)) ||
            (!strict && !m->conf->dmarc_tree_walk &&
             dmarc_aligned(m->proc->org, m->from.domain, r->domain, 0)))
            return 1;
    }
    return 0;
}

/* run - eligibility, then the check within bimi.timeout */
static void run(struct sa_msg *m, struct bimi_state *st)
{
    struct bimi_conf bc = {m->conf->bimi_accept_vmc, m->conf->bimi_accept_cmc,
                           (size_t)m->conf->bimi_max_svg_bytes,
                           (size_t)m->conf->bimi_max_cert_bytes};
    struct bimi_in in;
    struct timespec ts;
    struct dns *dns;
    double deadline;
    enum bimi_eligible el;

    st->ran = 1;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    deadline = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + m->conf->bimi_timeout;
    dns = dns_budget_new(m->proc->shared, BIMI_QUERIES, m->queries_left > 0 ? deadline : 1e-9);
    if (dns == NULL || (st->sh = shared_get(m->conf)) == NULL) {
        dns_free(dns);
        st->res.result = BIMI_TEMPERROR;
        sa_strlcpy(st->res.reason, "internal error", sizeof(st->res.reason));
        return;
    }
    el =
        bimi_dmarc_eligible(m->dmarc, m->from.domain, dns, st->res.reason, sizeof(st->res.reason));
    if (el != BIMI_ELIGIBLE) {
        st->res.result = el == BIMI_ELIGIBLE_TEMP ? BIMI_TEMPERROR : BIMI_SKIPPED;
    } else {
        memset(&in, 0, sizeof(in));
        in.from_domain = m->from.domain;
        in.org_domain = m->dmarc->org_domain;
        in.selector = selector_signed(m, st) ? st->selector : NULL;
        in.now = time(NULL);
        in.deadline = deadline;
        in.cache_now = (long)ts.tv_sec;
        in.conf = &bc;
        in.trust = st->sh->trust;
        in.fetch = st->sh->fetch;
        if (bimi_eval(&in, dns, &st->res) < 0)
            log_warn("%s: bimi: internal error: %s", m->qid, st->res.reason);
        if (st->sh->trust == NULL && st->res.result == BIMI_TEMPERROR)
            sa_strlcpy(st->res.reason, st->sh->trust_err, sizeof(st->res.reason));
    }
    m->queries_left -= dns_budget_queries(dns);
    dns_free(dns);
}

/* bimi_hook_eom - see msg.h */
void bimi_hook_eom(struct sa_msg *m)
{
    struct bimi_state *st;

    if (m->skip != NULL || !m->conf->bimi_enable)
        return;
    if ((st = state(m)) == NULL) {
        m->failed = 1;
        return;
    }
    if (!m->dmarc_ran || m->from_status != FROM_OK) {
        st->ran = 1;
        st->res.result = BIMI_SKIPPED;
        sa_strlcpy(st->res.reason, m->dmarc_ran ? "no single author domain" : "dmarc not evaluated",
                   sizeof(st->res.reason));
        return;
    }
    run(m, st);
}

/* bimi_hook_ar - see msg.h: bimi=RESULT (reason) header.d header.selector policy.authority */
void bimi_hook_ar(const struct sa_msg *m, struct ar_header *h)
{
    const struct bimi_state *st = m->bimi;
    struct ar_resinfo *ri;

    if (st == NULL || !st->ran || m->skip != NULL)
        return;
    ri = ar_header_add(h, "bimi", as_auth[st->res.result],
                       st->res.result == BIMI_PASS ? NULL : st->res.reason);
    if (ri == NULL)
        return;
    ri->word = bimi_result_name(st->res.result);
    if (st->res.domain[0] != '\0') {
        ar_resinfo_prop(ri, "header.d", st->res.domain);
        ar_resinfo_prop(ri, "header.selector", st->res.selector);
    }
    if (st->res.result == BIMI_PASS)
        ar_resinfo_prop(ri, "policy.authority", bimi_authority_name(st->res.authority));
}

/* bimi_hook_blocked - see msg.h */
int bimi_hook_blocked(const struct sa_conn *c, const struct sa_msg *m)
{
    const struct bimi_state *st = m->bimi;

    if (st == NULL || (st->nloc == 0 && st->nind == 0))
        return 0;
    if (st->overflow || !(c->actions & MLT_ACT_CHGHDRS)) {
        log_warn("%s: cannot remove %d %s and %d %s fields", m->qid, st->nloc, BIMI_LOCATION_NAME,
                 st->nind, BIMI_INDICATOR_NAME);
        return 1;
    }
    return 0;
}

/* bimi_hook_strip - see msg.h: every incoming field of both names, highest index first */
int bimi_hook_strip(struct mlt_ctx *ctx, const struct sa_msg *m)
{
    const struct bimi_state *st = m->bimi;
    const char *names[2] = {BIMI_LOCATION_NAME, BIMI_INDICATOR_NAME};

    for (int k = 0; st != NULL && k < 2; k++)
        for (int i = k == 0 ? st->nloc : st->nind; i >= 1; i--)
            if (mlt_chgheader(ctx, names[k], i, NULL) != 0) {
                log_warn("%s: cannot delete %s #%d", m->qid, names[k], i);
                return -1;
            }
    return 0;
}

/* bimi_hook_apply - see msg.h */
int bimi_hook_apply(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m)
{
    const struct bimi_state *st = m->bimi;
    char loc[2 * BIMI_MAX_URI + 32], *ind;
    size_t n;
    int rc = 0;

    if (st == NULL || !st->ran || st->res.result != BIMI_PASS || m->skip != NULL)
        return 0;
    if (m->conf->bimi_indicator) {
        n = bimi_indicator_size(st->res.svg_len, "\n\t");
        if ((ind = malloc(n)) == NULL ||
            bimi_format_indicator(st->res.svg, st->res.svg_len, "\n\t", ind, n) < 0 ||
            act_insert_field(ctx, c, BIMI_INDICATOR_NAME, ind) < 0)
            rc = -1;
        free(ind);
    }
    if (bimi_format_location(&st->res.rec, loc, sizeof(loc)) < 0 ||
        act_insert_field(ctx, c, BIMI_LOCATION_NAME, loc) < 0)
        rc = -1;
    if (rc < 0)
        log_warn("%s: cannot add the BIMI fields", m->qid);
    return rc;
}

/* bimi_hook_authority - see msg.h */
const char *bimi_hook_authority(const struct sa_msg *m)
{
    const struct bimi_state *st = m->bimi;

    return st != NULL && st->ran && st->res.result == BIMI_PASS
               ? bimi_authority_name(st->res.authority)
               : NULL;
}

/* bimi_hook_log - see msg.h: " bimi=RESULT[:vmc|cmc][:reason_words]" */
void bimi_hook_log(const struct sa_msg *m, struct buf *b)
{
    const struct bimi_state *st = m->bimi;
    char why[sizeof(st->res.reason)];

    if (st == NULL || !st->ran)
        return;
    buf_printf(b, " bimi=%s", bimi_result_name(st->res.result));
    if (st->res.result == BIMI_PASS)
        buf_printf(b, ":%s", bimi_authority_name(st->res.authority));
    else if (st->res.reason[0] != '\0') {
        hdr_log_value(st->res.reason, why, sizeof(why));
        for (char *p = why; *p; p++)
            if (*p == ' ')
                *p = '_';
        buf_printf(b, ":%s", why);
    }
}

/* bimi_hook_free - see msg.h */
void bimi_hook_free(struct sa_msg *m)
{
    if (m->bimi == NULL)
        return;
    bimi_res_clear(&m->bimi->res);
    shared_put(m->bimi->sh);
    m->bimi->sh = NULL;
}

/* bimi_hook_metrics - see msg.h */
void bimi_hook_metrics(void)
{
    if (metrics_add_family(&pass_family) < 0 || metrics_add_family(&fetch_family) < 0)
        log_warn("bimi counters: no room on the metrics server");
}

/* bimi_hook_stats - see msg.h: skipped counts as none (the A-R's auth_res mapping) */
void bimi_hook_stats(const struct sa_msg *m)
{
    const struct bimi_state *st = m->bimi;

    if (st == NULL || !st->ran)
        return;
    metrics_count_result(METRICS_BIMI, as_auth[st->res.result]);
    if (st->res.result == BIMI_PASS && st->res.authority != BIMI_AUTH_NONE)
        atomic_fetch_add_explicit(&pass_counts[st->res.authority == BIMI_AUTH_VMC ? 0 : 1], 1,
                                  memory_order_relaxed);
}
