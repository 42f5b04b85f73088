/* msg.c - the message context (struct sa_msg): one per transaction, from MAIL FROM to
 * EOM/abort/close, never recycled. Runs the evaluators in order (SPF at MAIL FROM,
 * DKIM fed while headers and body stream in, From and DMARC at EOM) and keeps their
 * typed results; records which Authentication-Results fields carry our authserv-id.
 * Owns the message pool, the conf reference and the per-phase DNS budgets; not the
 * MTA actions or the log line (act.c) nor libmilter (milter.c).
 * Never reads an inbound Authentication-Results, Received-SPF or ARC field as evidence.
 * Threads: a message is used by one libmilter thread at a time. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "milter/mlt.h"

#include "daemon/msg.h"
#include "daemon/reload.h"
#include "mail/ar_match.h"
#include "mail/hdr.h"
#include "out/ar_format.h"
#include "util/log.h"

static double now_mono(void);
static struct dns *phase_dns(struct sa_msg *m, struct dns **slot);
static void phase_done(struct sa_msg *m, struct dns **slot);
static void copy_path(struct sa_msg *m, const char *path);
static void run_spf(struct sa_msg *m, const struct sa_conn *c);
static void note_ours(struct sa_msg *m);
static void start_dkim(struct sa_msg *m, const struct sa_conn *c);
static void run_dmarc(struct sa_msg *m);

/* The DMARC result lives in the message pool, made when DMARC runs at EOM: a message
 * held open mid-transfer carries none (1,000 open connections, docs/performance.md).
 * m->dmarc names dmarc_empty before (all zero, as the embedded member was), and
 * dmarc_nomem when the pool cannot hold it. */
static const struct dmarc_res dmarc_empty;
static const struct dmarc_res dmarc_nomem = {.result = AUTH_TEMPERROR, .reason = "internal error"};

/* now_mono - CLOCK_MONOTONIC seconds, the clock of dns_budget deadlines */
static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* phase_dns - a budget for one phase (MAIL FROM, header/body, EOM): the message's
 * remaining query cap and a deadline of dns.message_deadline from now, so a slowly
 * transferred body never eats the DNS time of the next phase. NULL when out of memory. */
static struct dns *phase_dns(struct sa_msg *m, struct dns **slot)
{
    /* A budget with a cap <= 0 has no cap, so an exhausted message gets a deadline
     * that has already passed instead: every query answers DNS_TEMPFAIL. */
    double deadline = m->queries_left > 0 ? now_mono() + m->conf->dns_message_deadline : 1e-9;

    *slot = dns_budget_new(m->proc->shared, m->queries_left > 0 ? m->queries_left : 1, deadline);
    if (*slot == NULL)
        m->failed = 1;
    return *slot;
}

/* phase_done - charge the phase's queries to the message and free its budget */
static void phase_done(struct sa_msg *m, struct dns **slot)
{
    if (*slot == NULL)
        return;
    m->queries_left -= dns_budget_queries(*slot);
    *slot = dns_free(*slot);
}

struct sa_msg *msg_new(const struct sa_proc *proc, const char *qid)
{
    struct sa_msg *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->proc = reload_proc_get(proc); /* the PSL and lists of the current snapshot */
    m->conf = conf_get_current();
    m->pool = pool_new();
    if (m->conf == NULL || m->pool == NULL)
        return msg_free(m);
    m->queries_left = m->conf->dns_max_queries_per_message;
    sa_strlcpy(m->qid, "NOQUEUE", sizeof(m->qid));
    msg_set_qid(m, qid);
    m->mailfrom_domain = "";
    m->dmarc = &dmarc_empty;
    return m;
}

struct sa_msg *msg_free(struct sa_msg *m)
{
    if (m == NULL)
        return NULL;
    dkim_eval_free(m->dkim_v);
    arc_hook_free(m);
    bimi_hook_free(m);
    dns_free(m->dns_spf);
    dns_free(m->dns_dkim);
    dns_free(m->dns_dmarc);
    free(m->ours);
    pool_free(m->pool);
    conf_unref(m->conf);
    reload_proc_put(m->proc);
    free(m);
    return NULL;
}

void msg_set_qid(struct sa_msg *m, const char *qid)
{
    if (qid != NULL && qid[0] != '\0')
        hdr_log_value(qid, m->qid, sizeof(m->qid));
}

/* copy_path - the reverse-path without <>, source route or parameters; a path longer
 * than MSG_MAX_MAILFROM is cut (SPF then reports it as a permerror) */
static void copy_path(struct sa_msg *m, const char *path)
{
    const char *p = path ? path : "", *colon, *at;
    size_t n;

    while (*p == ' ' || *p == '<')
        p++;
    if (*p == '@' && (colon = strchr(p, ':')) != NULL) /* RFC 5321 4.1.2 A-d-l */
        p = colon + 1;
    n = strcspn(p, ">");
    if (n >= sizeof(m->mailfrom)) {
        n = sizeof(m->mailfrom) - 1;
        m->spf.result = AUTH_PERMERROR;
    }
    memcpy(m->mailfrom, p, n);
    m->mailfrom[n] = '\0';
    at = strrchr(m->mailfrom, '@');
    m->mailfrom_domain = at ? at + 1 : "";
}

/* run_spf - RFC 7208: the MAIL FROM identity (postmaster@HELO for a null reverse-path),
 * then the HELO identity when spf.helo_check is on and the reverse-path was not null */
static void run_spf(struct sa_msg *m, const struct sa_conn *c)
{
    struct spf_in in = {c->ip, c->helo, m->mailfrom, SPF_ID_MAILFROM, m->conf->authserv_id};
    struct dns *dns;

    if (m->spf.result == AUTH_PERMERROR) { /* set by copy_path */
        m->spf_ran = 1;
        sa_strlcpy(m->spf.reason, "reverse-path too long", sizeof(m->spf.reason));
        return;
    }
    if ((dns = phase_dns(m, &m->dns_spf)) == NULL) {
        m->spf.result = AUTH_TEMPERROR;
        sa_strlcpy(m->spf.reason, "internal error", sizeof(m->spf.reason));
        m->spf_ran = 1;
        return;
    }
    if (spf_eval(&in, dns, &m->spf) < 0) {
        log_warn("%s: spf: internal error: %s", m->qid, m->spf.reason);
        m->failed = 1;
    }
    m->spf_ran = 1;
    if (m->conf->spf_helo_check && m->mailfrom[0] != '\0' && c->helo[0] != '\0') {
        in.identity = SPF_ID_HELO;
        if (spf_eval(&in, dns, &m->spf_helo) < 0) {
            log_warn("%s: spf helo: internal error: %s", m->qid, m->spf_helo.reason);
            m->failed = 1;
        }
        m->spf_helo_ran = 1;
    }
    phase_done(m, &m->dns_spf);
}

/* msg_mail_from - see msg.h */
void msg_mail_from(struct sa_msg *m, const struct sa_conn *c, const char *path, const char *authen)
{
    copy_path(m, path);
    if (c->has_addr && conf_cidr_match(m->conf, (const struct sockaddr *)&c->addr))
        m->skip = "trusted";
    else if (m->conf->skip_authenticated && authen != NULL && authen[0] != '\0')
        m->skip = "authenticated";
    else if (!c->has_addr)
        m->skip = "no-client-address";
    if (m->skip != NULL) {
        m->spf.result = AUTH_NONE;
        return;
    }
    if (m->conf->spf_enable)
        run_spf(m, c);
}

/* note_ours - remember the current A-R field index (m->nar) as ours */
static void note_ours(struct sa_msg *m)
{
    if (m->nours >= MSG_MAX_FORGED) {
        m->too_many_forged = 1;
        return;
    }
    if (m->nours == m->ours_cap) {
        int cap = m->ours_cap ? m->ours_cap * 2 : 8;
        int *n = realloc(m->ours, sizeof(int) * (size_t)cap);
        if (n == NULL) {
            m->too_many_forged = 1; /* cannot remember it: never pass it on */
            return;
        }
        m->ours = n;
        m->ours_cap = cap;
    }
    m->ours[m->nours++] = m->nar;
}

/* start_dkim - the DKIM handle and its budget, at the first header field */
static void start_dkim(struct sa_msg *m, const struct sa_conn *c)
{
    struct dns *dns = phase_dns(m, &m->dns_dkim);

    if (dns != NULL)
        m->dkim_v = dkim_eval_new(m->proc->dkim_lib, dns, m->qid);
    if (m->dkim_v == NULL) {
        log_warn("%s: dkim: cannot start verification", m->qid);
        m->failed = 1;
        m->dkim_error = 1;
        return;
    }
    dkim_eval_set_leadspace(m->dkim_v, (c->proto & SMFIP_HDR_LEADSPC) != 0);
}

/* msg_header - see msg.h */
void msg_header(struct sa_msg *m, const struct sa_conn *c, const char *name, const char *value)
{
    if (name == NULL || value == NULL)
        return;
    if (hdr_name_is(name, AR_HEADER_NAME)) {
        m->nar++;
        if (ar_match_ours(value, strlen(value), m->conf->authserv_id))
            note_ours(m);
    }
    if (m->skip != NULL)
        return;
    if (hdr_name_is(name, "From") && ++m->nfrom == 1)
        from_parse(value, strlen(value), &m->from);
    if (m->conf->dkim_enable) {
        if (m->dkim_v == NULL && !m->dkim_error)
            start_dkim(m, c);
        if (m->dkim_v != NULL)
            dkim_eval_header(m->dkim_v, name, value);
    }
    arc_hook_header(m, c, name, value);
}

void msg_eoh(struct sa_msg *m)
{
    if (m->dkim_v != NULL)
        dkim_eval_eoh(m->dkim_v);
    arc_hook_eoh(m);
}

void msg_body(struct sa_msg *m, const unsigned char *p, size_t n)
{
    if (m->dkim_v != NULL)
        dkim_eval_body(m->dkim_v, p, n);
    arc_hook_body(m, p, n);
}

/* run_dmarc - DMARC over the typed SPF and DKIM results; a From anomaly is a permerror
 * (never a pass) and costs no lookup */
static void run_dmarc(struct sa_msg *m)
{
    struct dmarc_res *d = pool_alloc(m->pool, sizeof(*d));
    struct dmarc_dkim_in *din;
    struct dmarc_in in;
    struct dns *dns;

    m->dmarc_ran = 1;
    if (d == NULL) {
        m->failed = 1;
        m->dmarc = &dmarc_nomem;
        return;
    }
    m->dmarc = d;
    if (m->from_status != FROM_OK) {
        d->result = AUTH_PERMERROR;
        sa_strlcpy(d->reason,
                   m->from_status == FROM_NONE          ? "no From field"
                   : m->from_status == FROM_MULTI_FIELD ? "multiple From fields"
                   : m->from.reason[0]                  ? m->from.reason
                                                        : from_status_name(m->from_status),
                   sizeof(d->reason));
        return;
    }
    din = pool_alloc(m->pool, sizeof(*din) * (size_t)(m->ndkim + 1));
    if (din == NULL || (dns = phase_dns(m, &m->dns_dmarc)) == NULL) {
        m->failed = 1;
        d->result = AUTH_TEMPERROR;
        sa_strlcpy(d->reason, "internal error", sizeof(d->reason));
        return;
    }
    for (int i = 0; i < m->ndkim; i++) {
        din[i].result = m->dkim[i].result;
        din[i].domain = m->dkim[i].domain;
        din[i].full_body = m->dkim[i].full_body;
    }
    memset(&in, 0, sizeof(in));
    in.from_domain = m->from.domain;
    in.spf = m->spf_ran ? m->spf.result : AUTH_NONE;
    in.spf_domain = m->spf_ran ? m->spf.domain : "";
    in.dkim = din;
    in.ndkim = m->ndkim;
    in.org = m->proc->org;
    in.tree_walk = m->conf->dmarc_tree_walk;
    if (dmarc_eval(&in, dns, d) < 0) {
        log_warn("%s: dmarc: internal error: %s", m->qid, d->reason);
        m->failed = 1;
    }
    phase_done(m, &m->dns_dmarc);
}

/* msg_eval_eom - see msg.h */
void msg_eval_eom(struct sa_msg *m)
{
    if (m->skip != NULL)
        return;
    if (m->conf->dkim_enable) {
        m->dkim_ran = 1;
        /* The result array only now: a message held open mid-transfer costs no pool
         * chunk before EOM (1,000 open connections, docs/performance.md). */
        if (m->dkim_v != NULL &&
            ((m->dkim = pool_alloc(m->pool, sizeof(*m->dkim) *
                                                (size_t)(m->conf->dkim_max_signatures + 1))) ==
                 NULL ||
             dkim_eval_finish(m->dkim_v, m->dkim, m->conf->dkim_max_signatures, &m->ndkim) < 0)) {
            log_warn("%s: dkim: internal error", m->qid);
            m->failed = 1;
            m->dkim_error = 1;
        }
        phase_done(m, &m->dns_dkim);
    }
    m->from_status = m->nfrom == 0 ? FROM_NONE : m->nfrom > 1 ? FROM_MULTI_FIELD : m->from.status;
    if (m->conf->dmarc_enable)
        run_dmarc(m);
    arc_hook_eom(m); /* after DMARC: the trusted-sealer override needs its result */
    bimi_hook_eom(m); /* after DMARC: only enforced dmarc=pass is eligible */
}
