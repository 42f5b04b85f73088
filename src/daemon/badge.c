/* badge.c - the X-Senderauth-* fields on the MTA: which incoming fields are ours (noted
 * per name with their 1-based index as the MTA counts them), their deletion at end of
 * message, and the trust level, warning and trust-mark fields added for the message.
 * Owns those MTA actions and the list look-ups for one message; not the rules or the
 * field syntax (src/out/summary.c) nor the lists (src/policy/lists.c). Incoming copies
 * of quarantine.header_name are removed here while enforcement is off; when it is on,
 * enforce.c removes them itself (one deleter per field: see quarantine_ours).
 * Threads: one message, its libmilter thread; the lists are shared and take their own
 * lock inside lists_file_get; the set a message uses is its own reference. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/badge.h"
#include "daemon/msg.h"
#include "out/summary.h"
#include "policy/lists.h"
#include "util/log.h"

struct badge_state {
    int nnames;
    struct {
        char *name; /* as first seen (pool) */
        int seen;   /* fields of this name so far = the index of the last one */
    } names[BADGE_MAX_NAMES];
    int ndel, cap;
    struct {
        int slot; /* in names[] */
        int index;
    } * del; /* in arrival order: per name, ascending index */
    int overflow;
};

static int quarantine_ours(const struct sa_conf *cf);
static int listed(struct lists_file *f, const struct sa_msg *m, const char *domain);
static void fill_in(const struct sa_msg *m, struct summary_in *in, struct dmarc_dkim_in *din);

/* badge_header - see badge.h */
void badge_header(struct sa_msg *m, const char *name)
{
    const struct sa_conf *cf = m->conf;
    const char *extra[4] = {cf->headers_trust_name, cf->headers_warning_name,
                            cf->headers_trustmark_name,
                            quarantine_ours(cf) ? cf->quarantine_header_name : NULL};
    struct badge_state *b;
    int slot;

    if (name == NULL || !summary_is_ours(name, extra, 4))
        return;
    if (!quarantine_ours(cf) && strcasecmp(name, cf->quarantine_header_name) == 0)
        return; /* an X-Senderauth-* quarantine field: enforce.c deletes it */
    if (m->badge == NULL && (m->badge = pool_alloc(m->pool, sizeof(*m->badge))) == NULL) {
        m->too_many_forged = 1; /* cannot remember it: never pass it on */
        return;
    }
    b = m->badge;
    if (b->overflow)
        return;
    for (slot = 0; slot < b->nnames; slot++)
        if (strcasecmp(b->names[slot].name, name) == 0)
            break;
    if (slot == b->nnames) {
        if (b->nnames == BADGE_MAX_NAMES ||
            (b->names[slot].name = pool_strdup(m->pool, name)) == NULL) {
            b->overflow = 1;
            return;
        }
        b->nnames++;
    }
    if (b->ndel == b->cap) {
        int cap = b->cap ? b->cap * 2 : 8;
        void *n;
        if (b->ndel >= BADGE_MAX_DEL ||
            (n = pool_alloc(m->pool, sizeof(*b->del) * (size_t)cap)) == NULL) {
            b->overflow = 1;
            return;
        }
        if (b->ndel > 0)
            memcpy(n, b->del, sizeof(*b->del) * (size_t)b->ndel);
        b->del = n;
        b->cap = cap;
    }
    b->del[b->ndel].slot = slot;
    b->del[b->ndel].index = ++b->names[slot].seen;
    b->ndel++;
}

/* quarantine_ours - 1 when this file removes incoming quarantine.header_name fields:
 * enforcement is off (enforce.c removes them while any policy mode is set) */
static int quarantine_ours(const struct sa_conf *cf)
{
    return cf->policy_mode == CONF_POLICY_OFF &&
           (cf->policy_domain_modes == NULL || cf->policy_domain_modes[0] == '\0');
}

/* badge_blocked - see badge.h */
int badge_blocked(const struct sa_conn *c, const struct sa_msg *m)
{
    if (m->badge == NULL)
        return 0;
    if (m->badge->overflow || (m->badge->ndel > 0 && !(c->actions & MLT_ACT_CHGHDRS))) {
        log_warn("%s: cannot remove %d %s* fields%s", m->qid, m->badge->ndel, SUMMARY_PREFIX,
                 m->badge->overflow ? " (too many)" : "");
        return 1;
    }
    return 0;
}

/* badge_strip - see badge.h. Deleting from the last noted field back gives each name
 * descending indexes, so the lower ones stay valid (Postfix and Sendmail alike). */
int badge_strip(struct mlt_ctx *ctx, const struct sa_msg *m)
{
    const struct badge_state *b = m->badge;

    for (int i = b ? b->ndel - 1 : -1; i >= 0; i--) {
        const char *name = b->names[b->del[i].slot].name;
        if (mlt_chgheader(ctx, name, b->del[i].index, NULL) != 0) {
            log_warn("%s: cannot delete %.64s #%d", m->qid, name, b->del[i].index);
            return -1;
        }
    }
    return 0;
}

/* listed - the From domain on list f (NULL: no list) */
static int listed(struct lists_file *f, const struct sa_msg *m, const char *domain)
{
    struct lists_set *s;
    struct timespec now;
    int r;

    if (f == NULL || domain == NULL || domain[0] == '\0')
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    s = lists_file_get(f, now.tv_sec);
    r = lists_set_match(s, domain, m->conf->lists_match_orgdomain ? m->proc->org : NULL);
    lists_set_unref(s);
    return r;
}

/* fill_in - the typed results of m as the summary rules take them */
static void fill_in(const struct sa_msg *m, struct summary_in *in, struct dmarc_dkim_in *din)
{
    int n = m->dkim_ran ? m->ndkim : 0;

    memset(in, 0, sizeof(*in));
    for (int i = 0; i < n; i++) {
        din[i].result = m->dkim[i].result;
        din[i].domain = m->dkim[i].domain;
        din[i].full_body = m->dkim[i].full_body;
    }
    in->from_ok = m->from_status == FROM_OK;
    /* With several From fields the first one's domain (when it parsed) is still named
     * for the warning rule; from.domain is "" for every other anomaly. */
    in->from_domain = m->from.domain;
    in->dmarc_ran = m->dmarc_ran;
    in->dmarc = m->dmarc;
    in->spf = m->spf_ran ? m->spf.result : AUTH_NONE;
    in->dkim = din;
    in->ndkim = n;
    in->warn_on_enforcing = m->conf->headers_warn_on_enforcing_policy;
    in->bimi_authority = bimi_hook_authority(m);
    in->bimi_pass = in->bimi_authority != NULL;
}

/* badge_add - see badge.h */
int badge_add(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m)
{
    struct dmarc_dkim_in *din;
    struct summary_in in;
    struct summary s;
    char value[SUMMARY_MAX_VALUE];
    int rc = 0;

    if (m->skip != NULL)
        return 0;
    din = pool_alloc(m->pool, sizeof(*din) * (size_t)(m->ndkim + 1));
    if (din == NULL)
        return -1;
    fill_in(m, &in, din);
    in.warn_listed = listed(m->proc->warn_list, m, in.from_domain);
    in.trust_listed = in.from_ok && listed(m->proc->trust_list, m, in.from_domain);
    summary_eval(&in, &s);
    if (summary_format_trust(&s, value, sizeof(value)) < 0 ||
        act_insert_field(ctx, c, m->conf->headers_trust_name, value) < 0)
        rc = -1;
    if (s.warning && act_insert_field(ctx, c, m->conf->headers_warning_name,
                                      m->conf->headers_warning_value) < 0)
        rc = -1;
    if (s.mark != SUMMARY_MARK_NONE &&
        (summary_format_trustmark(&s, value, sizeof(value)) < 0 ||
         act_insert_field(ctx, c, m->conf->headers_trustmark_name, value) < 0))
        rc = -1;
    if (rc < 0)
        log_warn("%s: cannot add the %s* fields", m->qid, SUMMARY_PREFIX);
    else if (log_debug_enabled())
        log_debug("%s: badge level=%s warning=%s trustmark=%s", m->qid, summary_level_name(s.level),
                  s.warning ? "yes" : "no", s.mark ? summary_basis_name(s.mark) : "no");
    return rc;
}
