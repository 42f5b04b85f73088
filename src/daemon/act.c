/* act.c - what happens at end of message: results -> the Authentication-Results
 * description, the MTA actions (delete our-id A-R fields, insert ours, optional
 * Received-SPF), the reply (accept, or tempfail per on_error), and the one log line.
 * Owns those decisions; not the evaluation (msg.c) nor the header syntax (src/out).
 * Threads: works on one message, called from its libmilter thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/badge.h"
#include "daemon/hist.h"
#include "daemon/msg.h"
#include "daemon/stats.h"
#include "mail/hdr.h"
#include "out/ar_format.h"
#include "out/received_spf.h"
#include "util/buf.h"
#include "util/log.h"

#define LOG_LINE_MAX 2048
/* Our A-R or Received-SPF field on a typical message fits this many bytes of stack; a
 * longer one (many signatures, long names) is formatted again into AR_MAX_HEADER + 1
 * bytes of the message pool. An 8 KB buffer on every worker's stack made each worker
 * keep 8 KB more resident (the stack-clash probes touch every page of a large frame). */
#define ACT_FIELD_SMALL 1024

static void log_word(struct buf *b, const char *key, const char *val);
static int field_grow(const struct sa_msg *m, char **value, size_t *len);

/* act_build_ar - see msg.h */
void act_build_ar(const struct sa_msg *m, struct ar_header *h, char *dmarc_comment,
                  size_t dmarc_comment_len)
{
    struct ar_resinfo *ri;
    int ok_result, dkim_room;

    ar_header_init(h, m->conf->authserv_id);
    dmarc_comment[0] = '\0';
    if (m->skip != NULL)
        return;
    iprev_hook_ar(m, h);
    if (m->spf_ran) {
        ok_result = m->spf.result == AUTH_PASS || m->spf.result == AUTH_NONE;
        ri = ar_header_add(h, "spf", m->spf.result, ok_result ? NULL : m->spf.reason);
        /* A null reverse-path is checked as postmaster@HELO (RFC 7208 2.4): say so. */
        ar_resinfo_prop(ri, m->mailfrom[0] ? "smtp.mailfrom" : "smtp.helo",
                        m->spf.domain[0] ? m->spf.domain : m->mailfrom_domain);
    }
    if (m->spf_helo_ran) {
        ok_result = m->spf_helo.result == AUTH_PASS || m->spf_helo.result == AUTH_NONE;
        ri = ar_header_add(h, "spf", m->spf_helo.result, ok_result ? NULL : m->spf_helo.reason);
        ar_resinfo_prop(ri, "smtp.helo", m->spf_helo.domain);
    }
    if (m->dkim_ran && m->ndkim == 0) {
        ar_header_add(h, "dkim", m->dkim_error ? AUTH_TEMPERROR : AUTH_NONE,
                      m->dkim_error ? "internal error" : NULL);
    }
    /* The DKIM results fill what the table leaves after SPF and one slot kept for DMARC
     * (with dkim.max_signatures above 13 they could crowd it out); the log line still
     * names every signature. */
    arc_hook_ar(m, h);
    dkim_room = AR_MAX_RESINFO - h->nres - (m->dmarc_ran ? 1 : 0) - (m->bimi != NULL ? 1 : 0);
    for (int i = 0; m->dkim_ran && i < m->ndkim && i < dkim_room; i++) {
        const struct dkim_sig_res *s = &m->dkim[i];
        ri = ar_header_add(h, "dkim", s->result, s->result == AUTH_PASS ? NULL : s->reason);
        ar_resinfo_prop(ri, "header.d", s->domain);
        ar_resinfo_prop(ri, "header.s", s->selector);
        ar_resinfo_prop(ri, "header.a", s->algo);
        ar_resinfo_prop(ri, "header.b", s->b8);
    }
    if (m->dmarc_ran) {
        const struct dmarc_res *d = m->dmarc;
        if (m->from_status != FROM_OK || d->result == AUTH_TEMPERROR ||
            d->result == AUTH_PERMERROR || !d->has_record)
            sa_strlcpy(dmarc_comment, d->reason, dmarc_comment_len);
        else
            snprintf(dmarc_comment, dmarc_comment_len, "p=%s dis=%s",
                     dmarc_policy_name(d->rec.p != DMARC_POLICY_UNSPEC ? d->rec.p : d->policy),
                     enforce_disposition(m)); /* enforce_eom ran before */
        ri = ar_header_add(h, "dmarc", d->result, dmarc_comment);
        if (m->from_status == FROM_OK)
            ar_resinfo_prop(ri, "header.from", m->from.domain);
        if (d->has_record)
            ar_resinfo_prop(ri, "policy.dmarc", dmarc_policy_name(d->policy));
    }
    bimi_hook_ar(m, h);
}

/* act_tempfail_wanted - see msg.h */
int act_tempfail_wanted(const struct sa_msg *m)
{
    int temp = m->failed;

    if (m->conf->on_error != CONF_ON_ERROR_TEMPFAIL || m->skip != NULL)
        return 0;
    temp |= m->spf_ran && m->spf.result == AUTH_TEMPERROR;
    temp |= m->spf_helo_ran && m->spf_helo.result == AUTH_TEMPERROR;
    temp |= m->dmarc_ran && m->dmarc->result == AUTH_TEMPERROR;
    for (int i = 0; m->dkim_ran && i < m->ndkim; i++)
        temp |= m->dkim[i].result == AUTH_TEMPERROR;
    return temp != 0;
}

/* act_received_spf - see msg.h */
int act_received_spf(const struct sa_msg *m, const struct sa_conn *c, char *out, size_t outlen)
{
    struct received_spf r;
    int ok;

    if (!m->spf_ran || m->skip != NULL)
        return -1;
    ok = m->spf.result == AUTH_PASS || m->spf.result == AUTH_NONE;
    r.result = m->spf.result;
    r.receiver = m->conf->authserv_id;
    r.client_ip = c->ip;
    r.envelope_from = m->mailfrom;
    r.helo = c->helo;
    r.identity = m->mailfrom[0] ? "mailfrom" : "helo";
    r.domain = m->spf.domain;
    r.problem = ok ? NULL : m->spf.reason;
    return received_spf_format(&r, "\n\t", out, outlen);
}

/* log_word - append " key=value" with the value made log-safe */
static void log_word(struct buf *b, const char *key, const char *val)
{
    char safe[300];

    buf_printf(b, " %s=%s", key, hdr_log_value(val, safe, sizeof(safe)));
}

/* act_log - see msg.h. Recipients are never named here (debug logs them per RCPT). */
void act_log(const struct sa_msg *m, const struct sa_conn *c, const char *action)
{
    struct buf b;
    char w[600];

    stats_message(m, action); /* the metrics count every message, whatever the log level */
    hist_record(m, c, action); /* the DMARC history row (report/history.c), never blocks */
    if (m->conf->log_level < CONF_LOG_INFO)
        return;
    buf_init(&b, LOG_LINE_MAX);
    buf_printf(&b, "%s:", m->qid);
    log_word(&b, "client", c->ip[0] ? c->ip : "unknown");
    log_word(&b, "helo", c->helo);
    log_word(&b, "envfrom", m->mailfrom[0] ? m->mailfrom_domain : "<>");
    buf_printf(&b, " nrcpt=%d", m->nrcpt);
    if (m->skip != NULL) {
        log_word(&b, "skip", m->skip);
    } else {
        log_word(&b, "from",
                 m->from_status == FROM_OK ? m->from.domain : from_status_name(m->from_status));
        if (m->spf_ran) {
            snprintf(w, sizeof(w), "%s:%s", auth_res_name(m->spf.result), m->spf.domain);
            log_word(&b, "spf", w);
        }
        if (m->spf_helo_ran) {
            snprintf(w, sizeof(w), "%s:%s", auth_res_name(m->spf_helo.result), m->spf_helo.domain);
            log_word(&b, "spf_helo", w);
        }
        for (int i = 0; m->dkim_ran && i < m->ndkim; i++) {
            const struct dkim_sig_res *s = &m->dkim[i];
            snprintf(w, sizeof(w), "%s:%s/%s%s%s", auth_res_name(s->result), s->domain, s->selector,
                     s->reason[0] ? ":" : "", s->reason);
            for (char *p = w; *p; p++)
                if (*p == ' ')
                    *p = '_';
            log_word(&b, "dkim", w);
        }
        if (m->dkim_ran && m->ndkim == 0)
            log_word(&b, "dkim", m->dkim_error ? "temperror" : "none");
        if (m->dmarc_ran) {
            const struct dmarc_res *d = m->dmarc;
            snprintf(w, sizeof(w), "%s%s%s%s", d->spf_aligned ? "spf" : "",
                     d->spf_aligned && d->dkim_aligned ? "," : "", d->dkim_aligned ? "dkim:" : "",
                     d->dkim_aligned ? d->dkim_aligned_domain : "");
            log_word(&b, "aligned", w[0] ? w : "none");
            log_word(&b, "dmarc", auth_res_name(d->result));
            log_word(&b, "policy", d->has_record ? dmarc_policy_name(d->policy) : "-");
        }
    }
    arc_hook_log(m, &b);
    iprev_hook_log(m, &b);
    bimi_hook_log(m, &b);
    enforce_log(m, &b);
    log_word(&b, "action", action);
    log_info("%s", b.data ? b.data : m->qid);
    buf_release(&b);
}

/* act_insert_field - see msg.h: with SMFIP_HDR_LEADSPC the MTA adds no space after the
 * colon, so we do (the value copied behind one; without it the value goes as it is) */
int act_insert_field(struct mlt_ctx *ctx, const struct sa_conn *c, const char *name, const char *value)
{
    char small[ACT_FIELD_SMALL + 2], *v = small;
    size_t n = strlen(value) + 2;
    int rc;

    if (!(c->proto & SMFIP_HDR_LEADSPC))
        return mlt_insheader(ctx, 0, name, value);
    if (n > sizeof(small) && (v = malloc(n)) == NULL)
        return -1;
    snprintf(v, n, " %s", value);
    rc = mlt_insheader(ctx, 0, name, v);
    if (v != small)
        free(v);
    return rc;
}

/* field_grow - switch *value from the caller's ACT_FIELD_SMALL stack buffer to
 * AR_MAX_HEADER + 1 bytes of the pool; -1 when it already is that or out of memory */
static int field_grow(const struct sa_msg *m, char **value, size_t *len)
{
    char *big;

    if (*len > ACT_FIELD_SMALL || (big = pool_alloc(m->pool, AR_MAX_HEADER + 1)) == NULL)
        return -1;
    *value = big;
    *len = AR_MAX_HEADER + 1;
    return 0;
}

/* act_eom - see msg.h */
enum mlt_stat act_eom(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m)
{
    struct ar_header h;
    char comment[160], small[ACT_FIELD_SMALL], *value = small;
    size_t vlen = sizeof(small);
    int fail = 0, n;
    enum mlt_stat reply;

    if (m->too_many_forged || badge_blocked(c, m) || bimi_hook_blocked(c, m) ||
        (m->nours > 0 && !(c->actions & MLT_ACT_CHGHDRS))) {
        log_warn("%s: cannot remove %d Authentication-Results fields naming us", m->qid, m->nours);
        act_log(m, c, "tempfail");
        mlt_setreply(ctx, "451", "4.7.0", "Message cannot be processed, try again later");
        return MLT_TEMPFAIL;
    }
    if (act_tempfail_wanted(m)) {
        act_log(m, c, "tempfail");
        mlt_setreply(ctx, "451", "4.4.3",
                      "Temporary sender authentication failure, try again later");
        return MLT_TEMPFAIL;
    }
    if (enforce_reply(ctx, m, &reply)) { /* 550 5.7.1 policy reject, or 451 */
        act_log(m, c, enforce_action(m));
        return reply;
    }
    /* Delete from the highest index down so that lower indexes stay valid. */
    for (int i = m->nours - 1; i >= 0; i--) {
        if (mlt_chgheader(ctx, AR_HEADER_NAME, m->ours[i], NULL) != 0) {
            log_warn("%s: cannot delete Authentication-Results #%d", m->qid, m->ours[i]);
            act_log(m, c, "tempfail");
            return MLT_TEMPFAIL; /* never pass a forged header on */
        }
    }
    if (badge_strip(ctx, m) < 0 || bimi_hook_strip(ctx, m) < 0) { /* X-Senderauth-*, BIMI-* */
        act_log(m, c, "tempfail");
        return MLT_TEMPFAIL;
    }
    act_build_ar(m, &h, comment, sizeof(comment));
    if ((n = ar_format_header(&h, "\n\t", value, vlen)) < 0 && field_grow(m, &value, &vlen) == 0)
        n = ar_format_header(&h, "\n\t", value, vlen);
    if (n < 0 || act_insert_field(ctx, c, AR_HEADER_NAME, value) < 0) {
        log_warn("%s: cannot add Authentication-Results", m->qid);
        fail = 1;
    }
    if (m->conf->spf_received_spf_header) {
        /* -1 also when none applies: then the retry answers -1 again */
        if ((n = act_received_spf(m, c, value, vlen)) < 0 && m->spf_ran && m->skip == NULL &&
            field_grow(m, &value, &vlen) == 0)
            n = act_received_spf(m, c, value, vlen);
        if (n >= 0 && act_insert_field(ctx, c, RECEIVED_SPF_NAME, value) < 0) {
            log_warn("%s: cannot add Received-SPF", m->qid);
            fail = 1;
        }
    }
    if (badge_add(ctx, c, m) < 0) /* trust level, warning, trust mark (webmail) */
        fail = 1;
    if (iprev_hook_apply(ctx, c, m) < 0) /* iprev.policy tag */
        fail = 1;
    if (bimi_hook_apply(ctx, c, m) < 0) /* BIMI-Location, BIMI-Indicator */
        fail = 1;
    if (enforce_apply(ctx, c, m) < 0) /* quarantine mark, inbound copies removed */
        fail = 1;
    if (!fail && arc_hook_seal(ctx, c, m) < 0) /* our ARC set, after every other change */
        fail = 1;
    if (fail && m->conf->on_error == CONF_ON_ERROR_TEMPFAIL) {
        act_log(m, c, "tempfail");
        return MLT_TEMPFAIL;
    }
    act_log(m, c, enforce_action(m));
    return MLT_CONTINUE;
}
