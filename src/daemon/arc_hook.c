/* arc_hook.c - ARC in senderauthd: feeds the header fields and body of a checked message
 * to arc_eval (bounded there), validates the chain at end of message with its own DNS
 * budget, decides the trusted-sealer DMARC override, and describes arc= for the A-R.
 * Trust rule (docs/forwarding.md): when DMARC failed and the chain passes, walk the hops
 * from the newest one down; a hop counts only when its sealer (ARC-Seal d=) is in
 * arc.trusted_sealers. The first such hop whose ARC-Authentication-Results says dmarc=pass
 * (for our From domain, when it names one) overrides the DMARC disposition with reason
 * "arc" -- provided every newer hop is also trusted, or the hop's ARC-Message-Signature
 * still verifies (the message is unchanged since that hop). The AAR of an untrusted sealer
 * is never read as evidence.
 * Sealing (arc.seal_enable, docs/forwarding.md): the header fields and body also go to
 * arc_seal; at the very end of act_eom, after every other change to the message, our set
 * (AAR = the A-R we add) is written with the chain status found here and inserted at the
 * top. No set when the status could not be found out (DNS or internal error), after a
 * newest cv=fail, or past i=50 (arc_seal.c).
 * Owns m->arc_v, m->arc, m->arc_hop, m->arc_override, m->arc_s and m->arc_sealed; not the
 * enforcement (enforce.c reads m->arc_override) nor the A-R syntax (src/out).
 * Threads: one message, its libmilter thread; the sealing key is the conf's, read-only. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arc/arc_seal.h"
#include "daemon/msg.h"
#include "metrics/metrics.h"
#include "out/ar_format.h"
#include "util/log.h"

#define SEAL_NOT_UNKNOWN "chain status unknown"
#define SEAL_OUTCOMES 4

static const char *const seal_outcomes[SEAL_OUTCOMES] = {"none", "pass", "fail", "not_sealed"};
static atomic_uint_fast64_t seal_counts[SEAL_OUTCOMES];
static const struct metrics_family seal_family = {
    "senderauth_arc_seals_total",
    "Checked messages under arc.seal_enable, by what was done: our ARC set added with cv= "
    "none, pass or fail, or not_sealed (newest cv=fail, 50 sets, chain status unknown, too "
    "large, or an error).",
    "cv",
    seal_outcomes,
    SEAL_OUTCOMES,
    seal_counts};

static int sealer_trusted(const char *list, const char *d);
static int find_trusted_hop(const struct sa_msg *m);
static void seal_header(struct sa_msg *m, const char *name, const char *value);
static void seal_log(const struct sa_msg *m, struct buf *b);
static int seal(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m);

/* seal_header - the sealer starts at the first header field (arc.seal_enable) */
static void seal_header(struct sa_msg *m, const char *name, const char *value)
{
    if (!m->conf->arc_seal_enable || m->conf->arc_seal_key == NULL)
        return;
    if (m->arc_sealed == NULL) {
        struct arc_seal_conf sc = {m->conf->arc_seal_key, m->conf->arc_seal_domain,
                                   m->conf->arc_seal_selector, m->conf->arc_seal_headers};
        if ((m->arc_sealed = pool_alloc(m->pool, sizeof(*m->arc_sealed))) == NULL)
            return;
        if ((m->arc_s = arc_seal_new(&sc)) == NULL) {
            log_warn("%s: arc: cannot start sealing", m->qid);
            sa_strlcpy(m->arc_sealed->reason, ARC_SEAL_NOT_INTERNAL, sizeof(m->arc_sealed->reason));
        }
    }
    if (m->arc_s != NULL)
        arc_seal_header(m->arc_s, name, value);
}

/* arc_hook_header - see msg.h: the evaluator starts at the first field */
void arc_hook_header(struct sa_msg *m, const struct sa_conn *c, const char *name, const char *value)
{
    if (m->skip != NULL || !m->conf->arc_enable || m->arc_error)
        return;
    if (m->arc_v == NULL) {
        struct arc_conf ac = {m->conf->dkim_min_rsa_bits};
        /* The DNS comes at end of message (arc_hook_eom); nothing is looked up before. */
        if ((m->arc_v = arc_eval_new(&ac, NULL)) == NULL) {
            log_warn("%s: arc: cannot start verification", m->qid);
            m->arc_error = 1;
            return;
        }
        arc_eval_set_leadspace(m->arc_v, (c->proto & SMFIP_HDR_LEADSPC) != 0);
    }
    arc_eval_header(m->arc_v, name, value);
    seal_header(m, name, value);
}

/* arc_hook_eoh - see msg.h */
void arc_hook_eoh(struct sa_msg *m)
{
    if (m->arc_v != NULL && !arc_eval_has_arc(m->arc_v)) {
        arc_eval_free(m->arc_v); /* no ARC fields: nothing to keep or hash */
        m->arc_v = NULL;
    }
    if (m->arc_v != NULL && arc_eval_eoh(m->arc_v) < 0)
        log_warn("%s: arc: internal error at end of header", m->qid);
}

/* arc_hook_body - see msg.h */
void arc_hook_body(struct sa_msg *m, const unsigned char *p, size_t n)
{
    if (m->arc_v != NULL)
        arc_eval_body(m->arc_v, p, n);
    if (m->arc_s != NULL)
        arc_seal_body(m->arc_s, p, n);
}

/* sealer_trusted - d is one of the words of list (spaces or commas), case-insensitive */
static int sealer_trusted(const char *list, const char *d)
{
    const char *p = list ? list : "";
    size_t n = strlen(d);

    while (*p) {
        size_t w;
        p += strspn(p, " ,\t");
        w = strcspn(p, " ,\t");
        if (w > 0 && w == n && strncasecmp(p, d, n) == 0)
            return 1;
        p += w;
    }
    return 0;
}

/* find_trusted_hop - the instance whose trusted sealer saw dmarc=pass (rule above), or 0 */
static int find_trusted_hop(const struct sa_msg *m)
{
    const struct arc_res *r = m->arc;
    int newer_trusted = 1;

    for (int i = r->nsets; i >= 1; i--) {
        const struct arc_set_res *s = &r->set[i];
        int trusted = sealer_trusted(m->conf->arc_trusted_sealers, s->sealer);

        if (trusted && s->aar_dmarc_pass && (newer_trusted || s->ams_valid) &&
            (s->aar_dmarc_from[0] == '\0' || strcasecmp(s->aar_dmarc_from, m->from.domain) == 0))
            return i;
        newer_trusted = newer_trusted && trusted;
    }
    return 0;
}

/* arc_hook_eom - see msg.h */
void arc_hook_eom(struct sa_msg *m)
{
    struct dns *dns;
    struct timespec ts;
    int cap = m->queries_left > 0 ? m->queries_left : 1;

    if (m->skip != NULL || !m->conf->arc_enable)
        return;
    if (m->arc_error && m->arc == NULL) {
        m->failed = 1;
        return;
    }
    if (m->arc_v == NULL)
        return; /* no ARC fields: no arc= result */
    if ((m->arc = pool_alloc(m->pool, sizeof(*m->arc))) == NULL) {
        m->failed = 1;
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* The message's remaining query cap; an exhausted message gets a past deadline. */
    dns = dns_budget_new(m->proc->shared, cap,
                         m->queries_left > 0 ? (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 +
                                                   m->conf->dns_message_deadline
                                             : 1e-9);
    if (dns == NULL) {
        m->failed = 1;
        m->arc->result = AUTH_FAIL;
        sa_strlcpy(m->arc->reason, ARC_REASON_INTERNAL, sizeof(m->arc->reason));
        return;
    }
    arc_eval_set_dns(m->arc_v, dns);
    if (arc_eval_finish(m->arc_v, m->arc) < 0)
        log_warn("%s: arc: internal error: %s", m->qid, m->arc->reason);
    m->queries_left -= dns_budget_queries(dns);
    dns_free(dns);
    arc_eval_free(m->arc_v);
    m->arc_v = NULL;
    if (m->arc->result == AUTH_PASS && m->dmarc_ran && m->dmarc->result == AUTH_FAIL &&
        m->from_status == FROM_OK && (m->arc_hop = find_trusted_hop(m)) > 0)
        m->arc_override = "arc";
    if (m->arc->result == AUTH_PASS && m->arc_hop == 0) { /* the oldest trusted hop's IP */
        int newer_trusted = 1;
        for (int i = m->arc->nsets; i >= 1 && newer_trusted; i--)
            if ((newer_trusted =
                     sealer_trusted(m->conf->arc_trusted_sealers, m->arc->set[i].sealer)))
                m->arc_ip_hop = i;
    }
    if (m->arc_hop > 0)
        m->arc_ip_hop = m->arc_hop;
    snprintf(m->arc_oldest, sizeof(m->arc_oldest), "%d", m->arc->oldest_pass);
    if (m->arc->result != AUTH_PASS)
        sa_strlcpy(m->arc_comment, m->arc->reason, sizeof(m->arc_comment));
    else if (m->arc_override != NULL)
        if (snprintf(m->arc_comment, sizeof(m->arc_comment),
                     "dmarc override arc: trusted sealer %s i=%d", m->arc->set[m->arc_hop].sealer,
                     m->arc_hop) < 0) /* a long sealer name is cut: the comment is text */
            m->arc_comment[0] = '\0';
}

/* arc_hook_ar - see msg.h: arc=pass|fail with header.oldest-pass, and smtp.remote-ip as
 * the oldest trusted sealer saw it */
void arc_hook_ar(const struct sa_msg *m, struct ar_header *h)
{
    struct ar_resinfo *ri;
    const struct arc_res *r = m->arc;

    if (r == NULL || m->skip != NULL)
        return;
    ri = ar_header_add(h, "arc", r->result, m->arc_comment);
    if (ri == NULL || r->result != AUTH_PASS)
        return;
    ar_resinfo_prop(ri, "header.oldest-pass", m->arc_oldest);
    if (m->arc_ip_hop > 0 && r->set[m->arc_ip_hop].aar_remote_ip[0] != '\0')
        ar_resinfo_prop(ri, "smtp.remote-ip", r->set[m->arc_ip_hop].aar_remote_ip);
}

/* arc_hook_log - see msg.h: " arc=RESULT[:sets=N][:oldest-pass=N][:override=arc:SEALER]",
 * then our seal (seal_log) */
void arc_hook_log(const struct sa_msg *m, struct buf *b)
{
    seal_log(m, b);
    if (m->arc == NULL)
        return;
    buf_printf(b, " arc=%s", auth_res_name(m->arc->result));
    if (m->arc->nsets > 0)
        buf_printf(b, ":sets=%d", m->arc->nsets);
    if (m->arc->result == AUTH_PASS)
        buf_printf(b, ":oldest-pass=%d", m->arc->oldest_pass);
    if (m->arc_override != NULL)
        buf_printf(b, ":override=%s:%s", m->arc_override, m->arc->set[m->arc_hop].sealer);
}

/* seal_log - " arc_seal=N:CV" (our set was added) or " arc_seal=none" (not added) */
static void seal_log(const struct sa_msg *m, struct buf *b)
{
    const struct arc_seal_out *o = m->arc_sealed;

    if (o != NULL && o->sealed)
        buf_printf(b, " arc_seal=%d:%s", o->instance, o->cv);
    else if (o != NULL && o->reason[0] != '\0')
        buf_printf(b, " arc_seal=none");
}

/* arc_hook_metrics - see msg.h */
void arc_hook_metrics(void)
{
    if (metrics_add_family(&seal_family) < 0)
        log_warn("arc seal counters: no room on the metrics server");
}

/* arc_hook_seal - see msg.h: seal, then count what was done */
int arc_hook_seal(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m)
{
    int rc = seal(ctx, c, m), k = SEAL_OUTCOMES - 1;

    if (m->arc_sealed == NULL || m->skip != NULL) /* sealing off, or not checked */
        return rc;
    for (int i = 0; m->arc_sealed->sealed && i < SEAL_OUTCOMES - 1; i++)
        if (strcmp(m->arc_sealed->cv, seal_outcomes[i]) == 0)
            k = i;
    atomic_fetch_add_explicit(&seal_counts[k], 1, memory_order_relaxed);
    return rc;
}

/* seal - our set, when one is due (arc_hook_seal) */
static int seal(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m)
{
    struct arc_seal_out *out = m->arc_sealed;
    struct arc_seal_in in;
    struct ar_header h;
    char comment[160], ar[AR_MAX_HEADER + 1];

    if (m->arc_s == NULL || m->skip != NULL)
        return 0;
    /* A chain we could not check is not sealed: cv=fail would break a good one for good. */
    if (m->arc_error || (m->arc != NULL && (m->arc->dns_temp || m->arc->result == AUTH_TEMPERROR ||
                                            strcmp(m->arc->reason, ARC_REASON_INTERNAL) == 0))) {
        sa_strlcpy(out->reason, SEAL_NOT_UNKNOWN, sizeof(out->reason));
        log_info("%s: arc: not sealed: %s", m->qid, out->reason);
        return 0;
    }
    act_build_ar(m, &h, comment, sizeof(comment)); /* the A-R act_eom inserted */
    if (ar_format_header(&h, "\n\t", ar, sizeof(ar)) < 0) {
        log_warn("%s: arc: cannot format the ARC-Authentication-Results", m->qid);
        return -1;
    }
    in.chain = m->arc != NULL ? m->arc->result : AUTH_NONE;
    in.ar = ar;
    in.now = (long long)time(NULL);
    in.fold = "\n "; /* LF + space: python3-dkim finds a set by " i=N;" */
    if (arc_seal_finish(m->arc_s, &in, out) < 0) {
        log_warn("%s: arc: cannot seal: %s", m->qid, out->reason);
        return -1;
    }
    if (!out->sealed) {
        log_info("%s: arc: not sealed: %s", m->qid, out->reason);
        return 0;
    }
    /* Each goes on top: ARC-Seal ends up first, then the AMS, then the AAR. */
    if (act_insert_field(ctx, c, "ARC-Authentication-Results", out->aar) < 0 ||
        act_insert_field(ctx, c, "ARC-Message-Signature", out->ams) < 0 ||
        act_insert_field(ctx, c, "ARC-Seal", out->as) < 0) {
        log_warn("%s: arc: cannot add the ARC set", m->qid);
        out->sealed = 0;
        sa_strlcpy(out->reason, ARC_SEAL_NOT_INTERNAL, sizeof(out->reason));
        return -1;
    }
    return 0;
}

/* arc_hook_free - see msg.h */
void arc_hook_free(struct sa_msg *m)
{
    arc_eval_free(m->arc_v);
    m->arc_v = NULL;
    arc_seal_free(m->arc_s);
    m->arc_s = NULL;
}
