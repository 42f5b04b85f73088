/* enforce.c - per-recipient DMARC policy enforcement in senderauthd.
 * At RCPT: the recipient's mode (policy.mode or policy.domain_modes) and consent (the
 * consent cache over the store) give its class, active (consented, mode enforce) or
 * passive; the first accepted recipient fixes the transaction's class and a later one
 * of the other class gets 452 4.5.3 (split) or makes the transaction mixed (never).
 * At EOM: the local overrides, then decide_action, then the reply (550 5.7.1 from
 * policy.reject_template, 451 on temperror) or the quarantine mark (header, hold, or
 * subaddress). Recipients are never dropped and never named in a header; with
 * quarantine.action = subaddress a consenting recipient is replaced by its tagged form
 * (mlt_addrcpt first, then mlt_delrcpt, so that a failure never loses it), and a
 * mixed transaction needs no split when nothing but quarantine can happen.
 * Owns struct enforce_proc (store handle, cache, rng, counters) and m->enf; not the
 * decision table (src/policy/decide.c), the cache (src/policy/consent.c) or the store.
 * Threads: the store handle is (re)opened under store_lock, at most once per
 * STORE_RETRY seconds, and never closed while the milter runs; counters are atomics;
 * m->enf belongs to the message's thread. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/enforce.h"
#include "daemon/msg.h"
#include "mail/hdr.h"
#include "policy/consent.h"
#include "senderauth/store.h"
#include "util/log.h"
#include "util/xalloc.h"

#define STORE_RETRY 10 /* seconds between two attempts to open a failed store */
#define CLS_PASSIVE 1
#define CLS_ACTIVE 2

struct enforce_proc {
    struct sa_conf *conf; /* start-up conf (store and consent keys need a restart) */
    struct store_addr_rules rules;
    int default_enforce;
    pthread_mutex_t store_lock;
    struct store *_Atomic store;
    double store_tried; /* monotonic time of the last failed open, under store_lock */
    struct consent *consent;
    struct decide_rng rng;
    atomic_ulong n_reject, n_quarantine, n_tempfail, n_would_reject, n_would_quarantine,
        n_would_tempfail, n_deferred, n_mixed, n_override, n_tagged;
};

static double now_mono(void);
static struct store *get_store(struct enforce_proc *e, char *why, size_t whylen);
static enum store_lookup resolve(void *arg, const char *rcpt, int *enforce, enum store_match *via,
                                 char *why, size_t whylen);
static int enabled(const struct sa_conf *conf);
static enum decide_mode rcpt_mode(const struct sa_conf *conf, const char *rcpt);
static int word_match(const char *list, const char *s, size_t n, int under);
static int cidr_match(const struct conf_cidr_list *l, const struct sa_conn *c);
static const char *find_override(const struct sa_msg *m, const struct sa_conn *c);
static void expand_template(const char *t, const char *domain, const char *policy, char *out,
                            size_t outlen);
static int tag_mixed_ok(const struct sa_conf *conf, const struct sa_conn *c);
static struct enforce_rcpt *new_tag(struct sa_msg *m, const char *rcpt);
static int tag_added(const struct enforce_rcpt *list, const struct enforce_rcpt *r);
static int tag_rcpts(struct mlt_ctx *ctx, const struct sa_msg *m);

static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* get_store - the store handle, opening it when it is not open and the last attempt
 * is STORE_RETRY old; NULL with why when there is none */
static struct store *get_store(struct enforce_proc *e, char *why, size_t whylen)
{
    struct store *st = atomic_load(&e->store);
    char err[256];
    double now;

    if (st != NULL)
        return st;
    pthread_mutex_lock(&e->store_lock);
    now = now_mono();
    if ((st = atomic_load(&e->store)) == NULL && now - e->store_tried >= STORE_RETRY) {
        if ((st = store_open(e->conf, STORE_OPEN_READ, err, sizeof(err))) == NULL) {
            e->store_tried = now;
            snprintf(why, whylen, "cannot open the store: %s", err);
        } else {
            atomic_store(&e->store, st);
            log_info("consent store open (%s)", store_backend_name(st));
        }
    } else if (st == NULL) {
        snprintf(why, whylen, "the store could not be opened (retried every %d s)", STORE_RETRY);
    }
    pthread_mutex_unlock(&e->store_lock);
    return st;
}

/* resolve - the consent cache's resolver: the store's lookup order */
static enum store_lookup resolve(void *arg, const char *rcpt, int *enforce, enum store_match *via,
                                 char *why, size_t whylen)
{
    struct enforce_proc *e = arg;
    struct store *st = get_store(e, why, whylen);
    enum store_lookup r;

    if (st == NULL)
        return STORE_ERROR;
    r = store_resolve(st, rcpt, &e->rules, e->default_enforce, enforce, via);
    if (r == STORE_ERROR)
        snprintf(why, whylen, "%s", store_strerror());
    return r;
}

/* enabled - some recipient could be enforced or measured under conf */
static int enabled(const struct sa_conf *conf)
{
    return conf->policy_mode != CONF_POLICY_OFF ||
           (conf->policy_domain_modes != NULL && conf->policy_domain_modes[0] != '\0');
}

/* enforce_rcpt_replies - see enforce.h */
int enforce_rcpt_replies(const struct sa_conf *conf)
{
    return enabled(conf) && (conf->policy_mixed_recipients == CONF_MIXED_SPLIT ||
                             conf->quarantine_action == CONF_QUARANTINE_SUBADDRESS);
}

/* enforce_proc_new - see enforce.h */
struct enforce_proc *enforce_proc_new(const struct sa_conf *conf)
{
    struct enforce_proc *e = calloc(1, sizeof(*e));
    struct consent_conf cc;
    char why[300];

    if (e == NULL)
        return NULL;
    e->conf = conf_ref((struct sa_conf *)conf);
    store_addr_rules_from_conf(conf, &e->rules);
    e->default_enforce = conf->policy_default_enforce;
    pthread_mutex_init(&e->store_lock, NULL);
    e->store_tried = -STORE_RETRY;
    cc.ttl = conf->policy_cache_ttl;
    cc.max_entries = conf->policy_cache_size;
    cc.local_case_sensitive = e->rules.local_case_sensitive;
    if ((e->consent = consent_new(&cc, resolve, e)) == NULL)
        return enforce_proc_free(e);
    decide_rng_init(&e->rng, (uint64_t)conf->policy_random_seed);
    if (enabled(conf) && get_store(e, why, sizeof(why)) == NULL)
        log_warn("%s; nobody is enforced until it can be opened", why);
    return e;
}

/* enforce_proc_free - see enforce.h */
struct enforce_proc *enforce_proc_free(struct enforce_proc *e)
{
    struct consent_stats cs;

    if (e == NULL)
        return NULL;
    if (e->consent != NULL && enabled(e->conf)) {
        consent_stats(e->consent, &cs);
        log_info("policy counters: reject=%lu quarantine=%lu tempfail=%lu would_reject=%lu "
                 "would_quarantine=%lu would_tempfail=%lu deferred=%lu mixed=%lu override=%lu "
                 "tagged=%lu consent_lookups=%llu consent_hits=%llu store_errors=%llu",
                 atomic_load(&e->n_reject), atomic_load(&e->n_quarantine),
                 atomic_load(&e->n_tempfail), atomic_load(&e->n_would_reject),
                 atomic_load(&e->n_would_quarantine), atomic_load(&e->n_would_tempfail),
                 atomic_load(&e->n_deferred), atomic_load(&e->n_mixed), atomic_load(&e->n_override),
                 atomic_load(&e->n_tagged), cs.lookups, cs.hits, cs.errors);
    }
    consent_free(e->consent);
    store_close(atomic_load(&e->store));
    pthread_mutex_destroy(&e->store_lock);
    conf_unref(e->conf);
    free(e);
    return NULL;
}

/* word_match - s (n bytes) equals a word of list (separated by spaces or commas),
 * case-insensitively; with under, s may also be a subdomain of the word */
static int word_match(const char *list, const char *s, size_t n, int under)
{
    const char *p = list ? list : "";

    while (*p) {
        size_t w;

        p += strspn(p, " ,\t");
        w = strcspn(p, " ,\t");
        if (w > 0 && (n == w || (under && n > w && s[n - w - 1] == '.')) &&
            strncasecmp(s + n - w, p, w) == 0)
            return 1;
        p += w;
    }
    return 0;
}

/* rcpt_mode - policy.domain_modes for the recipient's domain, else policy.mode */
static enum decide_mode rcpt_mode(const struct sa_conf *conf, const char *rcpt)
{
    const char *at = strrchr(rcpt, '@'), *p = conf->policy_domain_modes;
    size_t dn;

    if (at != NULL && p != NULL && *p) {
        at++;
        dn = strcspn(at, ">");
        while (*p) {
            size_t w, d;

            p += strspn(p, " ,\t");
            w = strcspn(p, " ,\t");
            d = strcspn(p, "=");
            if (d < w && d == dn && strncasecmp(p, at, dn) == 0) {
                const char *v = p + d + 1;
                return strncasecmp(v, "enforce", 7) == 0   ? DECIDE_MODE_ENFORCE
                       : strncasecmp(v, "measure", 7) == 0 ? DECIDE_MODE_MEASURE
                                                           : DECIDE_MODE_OFF;
            }
            p += w;
        }
    }
    return conf->policy_mode == CONF_POLICY_ENFORCE   ? DECIDE_MODE_ENFORCE
           : conf->policy_mode == CONF_POLICY_MEASURE ? DECIDE_MODE_MEASURE
                                                      : DECIDE_MODE_OFF;
}

/* tag_mixed_ok - a mixed transaction can be served by tagging the consenting
 * recipients: the quarantine is per recipient, nothing but quarantine can happen at end
 * of message (no reject, no tempfail), and the MTA lets us change recipients */
static int tag_mixed_ok(const struct sa_conf *conf, const struct sa_conn *c)
{
    return conf->quarantine_action == CONF_QUARANTINE_SUBADDRESS &&
           conf->policy_reject_as_quarantine && conf->policy_on_temperror == CONF_ON_ERROR_ACCEPT &&
           (c->actions & (MLT_ACT_ADDRCPT | MLT_ACT_DELRCPT)) ==
               (MLT_ACT_ADDRCPT | MLT_ACT_DELRCPT);
}

/* new_tag - a consenting recipient and its tagged form (tagged NULL when it cannot be
 * tagged), in the message pool and not yet listed; NULL when out of memory */
static struct enforce_rcpt *new_tag(struct sa_msg *m, const char *rcpt)
{
    struct enforce_rcpt *r = pool_alloc(m->pool, sizeof(*r));
    char t[ENFORCE_RCPT_MAX];

    if (r == NULL || (r->orig = pool_strdup(m->pool, rcpt)) == NULL)
        return NULL;
    if (decide_tag_rcpt(rcpt, m->conf->policy_subaddress_delimiter, m->conf->quarantine_tag, t,
                        sizeof(t)) == 0 &&
        (r->tagged = pool_strdup(m->pool, t)) == NULL)
        return NULL;
    return r;
}

/* enforce_rcpt - see enforce.h */
enum mlt_stat enforce_rcpt(struct mlt_ctx *ctx, const struct sa_conn *c, struct sa_msg *m,
                           const char *rcpt)
{
    struct enforce_state *s = &m->enf;
    struct consent_answer a;
    enum decide_mode mode;
    struct enforce_rcpt *tr = NULL;
    int cls = CLS_PASSIVE;

    if (m->skip != NULL || !enabled(m->conf) || m->proc->enforce == NULL)
        return MLT_CONTINUE;
    rcpt = rcpt ? rcpt : "";
    mode = rcpt_mode(m->conf, rcpt);
    memset(&a, 0, sizeof(a));
    if (mode != DECIDE_MODE_OFF) {
        if (consent_get(m->proc->enforce->consent, rcpt, now_mono(), &a) < 0)
            s->nerror++;
        if (a.enforce && mode == DECIDE_MODE_ENFORCE)
            cls = CLS_ACTIVE;
    }
    if (log_debug_enabled())
        log_debug("%s: rcpt %.256s mode=%s consent=%s%s%s", m->qid, rcpt, decide_mode_name(mode),
                  a.error     ? "error"
                  : a.enforce ? "yes"
                              : "no",
                  a.error ? "" : " via=", a.error ? "" : store_match_name(a.via));
    if (cls == CLS_ACTIVE && m->conf->quarantine_action == CONF_QUARANTINE_SUBADDRESS &&
        (tr = new_tag(m, rcpt)) == NULL) {
        log_warn("%s: out of memory at RCPT: recipient deferred", m->qid);
        mlt_setreply(ctx, "452", "4.3.1", "Insufficient system resources, try again later");
        return MLT_TEMPFAIL;
    }
    if (s->cls == 0) {
        s->cls = cls;
    } else if (s->cls != cls || s->tagmix) {
        /* Both classes: tagging serves them in one transaction when every consenting
         * recipient can be tagged; otherwise split, and local submission, which cannot
         * split, is treated as "never" (enforced for nobody), as is a connection that
         * negotiated RCPT without a reply (opened before a reload turned splitting on). */
        if (tag_mixed_ok(m->conf, c) && s->nuntaggable == 0 && (tr == NULL || tr->tagged != NULL)) {
            s->tagmix = 1;
        } else if (m->conf->policy_mixed_recipients == CONF_MIXED_SPLIT && !c->nonsmtp &&
                   !(c->proto & SMFIP_NR_RCPT)) {
            s->ndeferred++;
            atomic_fetch_add(&m->proc->enforce->n_deferred, 1);
            log_info("%s: recipient deferred with 452 4.5.3: its enforcement class differs "
                     "from the transaction's (split)",
                     m->qid);
            mlt_setreply(ctx, "452", "4.5.3",
                         "Recipient deferred: please deliver it in a separate transaction");
            return MLT_TEMPFAIL;
        } else {
            if (!s->mixed) {
                atomic_fetch_add(&m->proc->enforce->n_mixed, 1);
                if (m->conf->policy_mixed_recipients == CONF_MIXED_SPLIT && !c->nonsmtp)
                    log_info("%s: recipients of both enforcement classes on a connection "
                             "opened before splitting was configured: enforced for nobody",
                             m->qid);
            }
            s->mixed = 1;
        }
    }
    if (cls == CLS_ACTIVE)
        s->nactive++;
    else
        s->npassive++;
    if (tr != NULL) { /* kept for quarantine.action = subaddress */
        tr->next = s->tag;
        s->tag = tr;
        s->ntag++;
        if (tr->tagged == NULL) {
            s->nuntaggable++;
            log_info("%s: a consenting recipient cannot be given a subaddress tag "
                     "(quoted local part, no domain or too long)",
                     m->qid);
        }
    }
    if (cls == CLS_PASSIVE && a.enforce && mode == DECIDE_MODE_MEASURE)
        s->nmeasure++;
    return MLT_CONTINUE;
}

/* enforce_header - see enforce.h */
void enforce_header(struct sa_msg *m, const char *name, const char *value)
{
    if (name == NULL || value == NULL || !enabled(m->conf))
        return;
    if (hdr_name_is(name, m->conf->quarantine_header_name)) {
        m->enf.nquar_in++;
    } else if (hdr_name_is(name, "List-Id") && m->enf.list_id[0] == '\0') {
        const char *lt = strrchr(value, '<'), *p = lt ? lt + 1 : value;
        size_t n;

        p += strspn(p, " \t\r\n");
        n = strcspn(p, lt ? ">" : " \t\r\n");
        if (n > 0 && n < sizeof(m->enf.list_id)) {
            memcpy(m->enf.list_id, p, n);
            m->enf.list_id[n] = '\0';
        }
    }
}

/* cidr_match - the client address is in l (IPv4-mapped IPv6 counts as IPv4) */
static int cidr_match(const struct conf_cidr_list *l, const struct sa_conn *c)
{
    uint8_t a[16];
    int fam, len;

    if (!c->has_addr || l->n == 0)
        return 0;
    if (c->addr.ss_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)&c->addr)->sin_addr, 4);
        fam = AF_INET;
    } else {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&c->addr)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(a, &a6->s6_addr[12], 4);
            fam = AF_INET;
        } else {
            memcpy(a, a6, 16);
            fam = AF_INET6;
        }
    }
    len = fam == AF_INET ? 4 : 16;
    for (int i = 0; i < l->n; i++) {
        const struct conf_cidr *n = &l->v[i];
        int bits = n->prefix, ok = 1;

        if (n->family != fam)
            continue;
        for (int b = 0; b < len && bits > 0 && ok; b++, bits -= 8) {
            uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
            ok = (a[b] & mask) == (n->addr[b] & mask);
        }
        if (ok)
            return 1;
    }
    return 0;
}

/* find_override - the local rule that skips enforcement for m, or NULL */
static const char *find_override(const struct sa_msg *m, const struct sa_conn *c)
{
    const struct sa_conf *conf = m->conf;

    if (cidr_match(&conf->policy_forwarders, c))
        return "override-forwarder";
    if (m->arc_override != NULL) /* a trusted ARC sealer saw DMARC pass (arc_hook.c) */
        return "override-arc";
    if (m->enf.list_id[0] != '\0' &&
        word_match(conf->policy_list_ids, m->enf.list_id, strlen(m->enf.list_id), 0))
        return "override-list-id";
    if (m->from_status == FROM_OK && m->from.domain[0] != '\0' &&
        word_match(conf->policy_allow_from_domains, m->from.domain, strlen(m->from.domain), 1))
        return "override-allow-from";
    return NULL;
}

/* enforce_eom - see enforce.h */
void enforce_eom(struct sa_msg *m, const struct sa_conn *c)
{
    struct enforce_state *s = &m->enf;
    struct enforce_proc *e = m->proc->enforce;
    struct decide_conf dc;
    struct decide_in in;

    if (m->skip != NULL || e == NULL || !enabled(m->conf) || s->cls == 0)
        return;
    dc.reject_as_quarantine = m->conf->policy_reject_as_quarantine;
    dc.on_temperror_tempfail = m->conf->policy_on_temperror == CONF_ON_ERROR_TEMPFAIL;
    memset(&in, 0, sizeof(in));
    in.dmarc = m->dmarc_ran ? m->dmarc : NULL;
    if (s->cls == CLS_ACTIVE || s->mixed || s->tagmix) {
        in.mode = DECIDE_MODE_ENFORCE;
        in.consent = 1;
    } else if (s->nmeasure > 0) {
        in.mode = DECIDE_MODE_MEASURE;
        in.consent = 1;
    } else {
        in.mode = DECIDE_MODE_MEASURE;
        in.consent = 0;
    }
    s->override = s->mixed ? "mixed-recipients" : find_override(m, c);
    in.override = s->override;
    decide_action(&dc, &in, &e->rng, &s->out);
    s->decided = 1;
    if (s->tagmix && (s->out.action == DECIDE_REJECT || s->out.action == DECIDE_TEMPFAIL)) {
        /* Cannot happen (tag_mixed_ok); a reply would reach the others too. */
        log_warn("%s: %s in a tagged mixed transaction: accepted", m->qid,
                 decide_act_name(s->out.action));
        s->out.action = DECIDE_ACCEPT;
    }
    if (s->out.action == DECIDE_QUARANTINE &&
        m->conf->quarantine_action == CONF_QUARANTINE_SUBADDRESS &&
        (s->tagmix || ((c->actions & (MLT_ACT_ADDRCPT | MLT_ACT_DELRCPT)) ==
                           (MLT_ACT_ADDRCPT | MLT_ACT_DELRCPT) &&
                       s->nuntaggable == 0)))
        s->ntagged = s->ntag - s->nuntaggable; /* else the header (all consented) */
    if (s->ntagged > 0)
        atomic_fetch_add(&e->n_tagged, (unsigned long)s->ntagged);
    if (s->override != NULL && in.consent && !s->mixed)
        atomic_fetch_add(&e->n_override, 1);
    switch (s->out.action) {
    case DECIDE_REJECT:
        atomic_fetch_add(&e->n_reject, 1);
        break;
    case DECIDE_QUARANTINE:
        atomic_fetch_add(&e->n_quarantine, 1);
        break;
    case DECIDE_TEMPFAIL:
        atomic_fetch_add(&e->n_tempfail, 1);
        break;
    default:
        if (s->out.would == DECIDE_REJECT)
            atomic_fetch_add(&e->n_would_reject, 1);
        else if (s->out.would == DECIDE_QUARANTINE)
            atomic_fetch_add(&e->n_would_quarantine, 1);
        else if (s->out.would == DECIDE_TEMPFAIL)
            atomic_fetch_add(&e->n_would_tempfail, 1);
    }
}

/* expand_template - %d -> domain, %p -> policy; anything else copied */
static void expand_template(const char *t, const char *domain, const char *policy, char *out,
                            size_t outlen)
{
    size_t o = 0;

    for (; *t && o + 1 < outlen; t++) {
        const char *sub = NULL;

        if (t[0] == '%' && t[1] == 'd')
            sub = domain;
        else if (t[0] == '%' && t[1] == 'p')
            sub = policy;
        if (sub == NULL) {
            out[o++] = *t == '%' ? ' ' : *t; /* libmilter treats '%' specially */
            continue;
        }
        for (; *sub && o + 1 < outlen; sub++)
            out[o++] = (*sub == '%' || (unsigned char)*sub < 0x20) ? '?' : *sub;
        t++;
    }
    out[o] = '\0';
}

/* enforce_reply - see enforce.h */
int enforce_reply(struct mlt_ctx *ctx, const struct sa_msg *m, enum mlt_stat *r)
{
    char text[512];

    if (!m->enf.decided)
        return 0;
    if (m->enf.out.action == DECIDE_REJECT) {
        expand_template(m->conf->policy_reject_template, m->from.domain,
                        dmarc_policy_name(m->enf.out.published), text, sizeof(text));
        mlt_setreply(ctx, "550", "5.7.1", text);
        *r = MLT_REJECT;
        return 1;
    }
    if (m->enf.out.action == DECIDE_TEMPFAIL) {
        mlt_setreply(ctx, "451", "4.4.3", "Temporary DMARC failure, try again later");
        *r = MLT_TEMPFAIL;
        return 1;
    }
    return 0;
}

/* tag_added - an entry before r in list has the same tagged form (user and user+x
 * both become user+TAG: that one is added once) */
static int tag_added(const struct enforce_rcpt *list, const struct enforce_rcpt *r)
{
    for (; list != NULL && list != r; list = list->next)
        if (list->tagged != NULL && strcasecmp(list->tagged, r->tagged) == 0)
            return 1;
    return 0;
}

/* tag_rcpts - replace each consenting recipient by its quarantine subaddress: the new
 * one is added before the old one is removed, so a refusal never loses a recipient
 * (at worst it gets the message twice). 0, or -1 after a refusal (logged). */
static int tag_rcpts(struct mlt_ctx *ctx, const struct sa_msg *m)
{
    int rc = 0;

    for (const struct enforce_rcpt *r = m->enf.tag; r != NULL; r = r->next) {
        if (r->tagged == NULL) {
            log_warn("%s: a consenting recipient has no subaddress form: not quarantined", m->qid);
            rc = -1;
        } else if (!tag_added(m->enf.tag, r) && mlt_addrcpt(ctx, r->tagged) != 0) {
            log_warn("%s: the MTA refused to add a tagged recipient: not quarantined", m->qid);
            rc = -1;
        } else if (mlt_delrcpt(ctx, r->orig) != 0) {
            log_warn("%s: the MTA refused to remove a recipient after adding its tagged form: "
                     "it gets both copies",
                     m->qid);
            rc = -1;
        }
    }
    return rc;
}

/* enforce_apply - see enforce.h */
int enforce_apply(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m)
{
    const char *hname = m->conf->quarantine_header_name;
    char reason[300];
    int rc = 0;

    if (m->enf.nquar_in > 0 && enabled(m->conf)) {
        if (!(c->actions & MLT_ACT_CHGHDRS))
            rc = -1;
        for (int i = m->enf.nquar_in; i >= 1 && rc == 0; i--)
            if (mlt_chgheader(ctx, hname, i, NULL) != 0)
                rc = -1;
        if (rc < 0)
            log_warn("%s: cannot remove %d inbound %s fields", m->qid, m->enf.nquar_in, hname);
    }
    if (!m->enf.decided || m->enf.out.action != DECIDE_QUARANTINE)
        return rc;
    if (m->enf.ntagged > 0 || m->enf.tagmix)
        return tag_rcpts(ctx, m) < 0 ? -1 : rc; /* the others' copy is left alone */
    if (m->conf->quarantine_action == CONF_QUARANTINE_SUBADDRESS)
        log_info("%s: quarantine by subaddress is not possible (the MTA does not offer "
                 "recipient changes, or a recipient cannot be tagged); marking with %s",
                 m->qid, hname);
    if (m->conf->quarantine_action == CONF_QUARANTINE_HOLD && (c->actions & MLT_ACT_QUARANTINE)) {
        snprintf(reason, sizeof(reason), "DMARC p=%s of %s",
                 dmarc_policy_name(m->enf.out.published), m->from.domain);
        if (mlt_quarantine(ctx, reason) == 0)
            return rc;
        log_warn("%s: the MTA refused to hold the message; marking it with %s", m->qid, hname);
    } else if (m->conf->quarantine_action == CONF_QUARANTINE_HOLD) {
        log_warn("%s: the MTA does not offer quarantine (hold); marking with %s", m->qid, hname);
    }
    if (mlt_addheader(ctx, hname, (c->proto & SMFIP_HDR_LEADSPC) ? " yes" : "yes") != 0) {
        log_warn("%s: cannot add %s", m->qid, hname);
        rc = -1;
    }
    return rc;
}

/* enforce_disposition - see enforce.h */
const char *enforce_disposition(const struct sa_msg *m)
{
    if (!m->enf.decided)
        return "none";
    if (m->enf.out.action == DECIDE_REJECT)
        return "reject";
    if (m->enf.out.action == DECIDE_QUARANTINE && !m->enf.tagmix)
        return "quarantine";
    return "none";
}

/* enforce_action - see enforce.h */
const char *enforce_action(const struct sa_msg *m)
{
    return m->enf.decided ? decide_act_name(m->enf.out.action) : "accept";
}

/* enforce_log - see enforce.h: " consent=ACTIVE/ALL [deferred=N] enforce=WHY [outcome=X]" */
void enforce_log(const struct sa_msg *m, struct buf *b)
{
    const struct enforce_state *s = &m->enf;

    if (s->cls == 0 && s->ndeferred == 0)
        return;
    buf_printf(b, " consent=%d/%d", s->nactive, s->nactive + s->npassive);
    if (s->nmeasure)
        buf_printf(b, " measured=%d", s->nmeasure);
    if (s->ndeferred)
        buf_printf(b, " deferred=%d", s->ndeferred);
    if (s->nerror)
        buf_printf(b, " store_errors=%d", s->nerror);
    if (!s->decided)
        return;
    buf_printf(b, " enforce=%s", s->out.why);
    if (s->out.draw >= 0)
        buf_printf(b, " pct_draw=%d", s->out.draw);
    if (s->ntagged > 0)
        buf_printf(b, " tagged=%d", s->ntagged);
    if (s->out.action != DECIDE_ACCEPT)
        buf_printf(b, " outcome=%s", decide_act_name(s->out.action));
    else if (s->out.would != DECIDE_ACCEPT)
        buf_printf(b, " outcome=would_%s", decide_act_name(s->out.would));
}
