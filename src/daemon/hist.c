/* hist.c - the DMARC history row of one message (what RFC 9990 aggregate reports and
 * the operator statistics need) and its hand-over to the history queue.
 * Recorded: time, client IP, envelope-from and header-from domains, SPF domain / scope /
 * result, every DKIM d= / selector / result, the DMARC result and alignment, the policy
 * published, the disposition with the reason it differs from the policy, the discovery
 * method, the rua tag, the action and the consent counts. Never recorded: recipient
 * addresses, local parts, subjects, message ids or any other content.
 * Owns the mapping from struct sa_msg to struct store_hist_row; not the queue
 * (src/report/history.c) nor the SQL (src/store/store_history.c).
 * Threads: the history pointer is atomic. hist_start (before the milter threads) or
 * hist_reload (main thread, SIGHUP) set it once; hist_stop clears it after the milter
 * threads and the metrics server have ended. hist_record and hist_get_stats only read it.
 * A writer, once started, runs until hist_stop: report.enable = false on reload only
 * stops new rows (each message follows its own configuration snapshot). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/hist.h"
#include "daemon/msg.h"
#include "report/history.h"
#include "util/log.h"

static _Atomic(struct history *) hist;
static struct sa_conf *held; /* the conf a writer started at reload borrows (our reference) */

static void lower_copy(char *dst, const char *src, size_t n);
static void disposition(const struct sa_msg *m, const char *action, struct store_hist_row *r);
static void set_reason(struct store_hist_row *r, const char *type, const char *comment);
static void arc_comment(const struct sa_msg *m, struct store_hist_row *r);

/* hist_start - see hist.h */
int hist_start(const struct sa_conf *conf)
{
    struct history *h;

    if (!conf->report_enable)
        return 0;
    if ((h = history_new(conf)) == NULL) {
        log_warn("cannot start the history writer");
        return -1;
    }
    atomic_store(&hist, h);
    return 0;
}

/* hist_reload - see hist.h */
void hist_reload(struct sa_conf *nc)
{
    struct sa_conf *ref;

    if (!nc->report_enable || atomic_load(&hist) != NULL)
        return;
    ref = conf_ref(nc);
    if (hist_start(ref) < 0) {
        conf_unref(ref);
        return;
    }
    held = ref;
    log_info("reload: report.enable: the history writer started");
}

/* hist_stop - see hist.h */
void hist_stop(void)
{
    history_free(atomic_exchange(&hist, NULL));
    held = conf_unref(held);
}

/* hist_get_stats - see hist.h */
int hist_get_stats(struct history_stats *out)
{
    struct history *h = atomic_load(&hist);

    if (h == NULL)
        return -1;
    history_get_stats(h, out);
    return 0;
}

/* lower_copy - ASCII lower-case copy, truncated to n - 1 */
static void lower_copy(char *dst, const char *src, size_t n)
{
    size_t i = 0;

    for (; src != NULL && src[i] != '\0' && i + 1 < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] - 'A' + 'a') : src[i];
    dst[i] = '\0';
}

/* set_reason - the RFC 9990 PolicyOverrideType and a comment */
static void set_reason(struct store_hist_row *r, const char *type, const char *comment)
{
    sa_strlcpy(r->reason, type, sizeof(r->reason));
    sa_strlcpy(r->reason_comment, comment, sizeof(r->reason_comment));
}

/* arc_comment - "arc=pass as[N].d=SEALER" (RFC 8617 7.2.1): the trusted sealer whose
 * set carried the override; a long sealer name is cut (the comment is free text) */
static void arc_comment(const struct sa_msg *m, struct store_hist_row *r)
{
    int n = snprintf(r->reason_comment, sizeof(r->reason_comment), "arc=pass as[%d].d=%s",
                     m->arc_hop, m->arc->set[m->arc_hop].sealer);

    if (n < 0)
        sa_strlcpy(r->reason_comment, "arc=pass", sizeof(r->reason_comment));
}

/* disposition - what was applied (RFC 9990 ActionDispositionType) and, when a failing
 * message got less than its published policy, why: first a local rule that skips
 * enforcement whatever the recipients (enforce.c find_override, or the ARC override when
 * enforcement did not run), then the sender's own record (pct, t=y), then our settings
 * (reject as quarantine, measure mode, consent, enforcement off) */
static void disposition(const struct sa_msg *m, const char *action, struct store_hist_row *r)
{
    static const struct {
        const char *rule, *type, *comment;
    } rules[] = {
        {"override-forwarder", "trusted_forwarder", ""},
        {"override-arc", "local_policy", "arc=pass"},
        {"override-list-id", "mailing_list", ""},
        {"override-allow-from", "local_policy", "allowed From domain"},
        {"mixed-recipients", "local_policy", "mixed recipients"},
    };
    const struct enforce_state *s = &m->enf;
    enum dmarc_policy pol = m->dmarc->has_record ? m->dmarc->policy : DMARC_POLICY_UNSPEC;
    int enforcing = pol == DMARC_POLICY_QUARANTINE || pol == DMARC_POLICY_REJECT;
    const char *why = s->decided ? s->out.why : "";
    const char *rule = s->decided && s->override != NULL ? s->override
                       : m->arc_override != NULL         ? "override-arc"
                                                         : "";

    if (strcmp(action, "reject") == 0 || strcmp(action, "quarantine") == 0)
        sa_strlcpy(r->disposition, action, sizeof(r->disposition));
    else if (m->dmarc->result == AUTH_PASS && enforcing)
        sa_strlcpy(r->disposition, "pass", sizeof(r->disposition));
    else
        sa_strlcpy(r->disposition, "none", sizeof(r->disposition));
    if (m->dmarc->result != AUTH_FAIL || !enforcing)
        return;
    if (strcmp(r->disposition, dmarc_policy_name(pol)) == 0)
        return;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (strcmp(rule, rules[i].rule) == 0) {
            set_reason(r, rules[i].type, rules[i].comment);
            if (strcmp(rule, "override-arc") == 0 && m->arc != NULL && m->arc_hop > 0)
                arc_comment(m, r);
            return;
        }
    if (s->decided && s->out.sampled_out)
        set_reason(r, "other", "sampled_out");
    else if (m->dmarc->rec.testing)
        set_reason(r, "policy_test_mode", "");
    else if (strcmp(why, "as-quarantine") == 0)
        set_reason(r, "local_policy", "reject applied as quarantine");
    else if (s->decided && s->out.would != DECIDE_ACCEPT)
        set_reason(r, "local_policy", "measure mode");
    else if (!s->decided || strcmp(why, "mode-off") == 0)
        set_reason(r, "local_policy", "enforcement off");
    else
        set_reason(r, "local_policy", "no consent");
}

/* hist_fill_row - see hist.h */
int hist_fill_row(const struct sa_msg *m, const struct sa_conn *c, const char *action,
                  long long now, struct store_hist_row *r)
{
    const struct dmarc_record *rec = &m->dmarc->rec;
    size_t off = 0;

    if (m->skip != NULL || m->from_status != FROM_OK || m->from.domain[0] == '\0')
        return -1;
    memset(r, 0, sizeof(*r));
    r->at = now;
    sa_strlcpy(r->source_ip, c->ip, sizeof(r->source_ip));
    lower_copy(r->env_from, m->mailfrom_domain, sizeof(r->env_from));
    lower_copy(r->header_from, m->from.domain, sizeof(r->header_from));
    sa_strlcpy(r->spf_result, "none", sizeof(r->spf_result));
    if (m->spf_ran) {
        lower_copy(r->spf_domain, m->spf.domain[0] ? m->spf.domain : m->mailfrom_domain,
                   sizeof(r->spf_domain));
        sa_strlcpy(r->spf_scope, m->mailfrom[0] ? "mfrom" : "helo", sizeof(r->spf_scope));
        sa_strlcpy(r->spf_result, auth_res_name(m->spf.result), sizeof(r->spf_result));
    }
    for (int i = 0; m->dkim_ran && i < m->ndkim; i++) {
        const struct dkim_sig_res *s = &m->dkim[i];
        int n = snprintf(r->dkim + off, sizeof(r->dkim) - off, "%s%s:%s:%s", off ? " " : "",
                         auth_res_name(s->result), s->domain, s->selector);

        if (n < 0 || (size_t)n >= sizeof(r->dkim) - off) { /* keep whole words only */
            r->dkim[off] = '\0';
            break;
        }
        off += (size_t)n;
    }
    sa_strlcpy(r->dmarc_result, m->dmarc_ran ? auth_res_name(m->dmarc->result) : "none",
               sizeof(r->dmarc_result));
    sa_strlcpy(r->discovery, m->conf->dmarc_tree_walk ? "treewalk" : "psl", sizeof(r->discovery));
    if (m->dmarc_ran && m->dmarc->has_record) {
        r->dkim_aligned = m->dmarc->dkim_aligned;
        r->spf_aligned = m->dmarc->spf_aligned;
        lower_copy(r->policy_domain, m->dmarc->record_domain, sizeof(r->policy_domain));
        sa_strlcpy(r->p, rec->p == DMARC_POLICY_UNSPEC ? "none" : dmarc_policy_name(rec->p),
                   sizeof(r->p));
        sa_strlcpy(r->sp, dmarc_policy_name(rec->sp), sizeof(r->sp));
        sa_strlcpy(r->np, dmarc_policy_name(rec->np), sizeof(r->np));
        r->pct = rec->pct;
        r->testing = rec->testing;
        sa_strlcpy(r->adkim, rec->adkim_strict ? "s" : "r", sizeof(r->adkim));
        sa_strlcpy(r->aspf, rec->aspf_strict ? "s" : "r", sizeof(r->aspf));
        sa_strlcpy(r->rua, rec->rua, sizeof(r->rua));
    } else {
        r->pct = 100;
    }
    disposition(m, action, r);
    sa_strlcpy(r->action, action, sizeof(r->action));
    sa_strlcpy(r->would, m->enf.decided ? decide_act_name(m->enf.out.would) : action,
               sizeof(r->would));
    r->rcpt_consent = m->enf.nactive + m->enf.nmeasure;
    r->rcpt_total = m->enf.nactive + m->enf.npassive;
    return 0;
}

/* hist_record - see hist.h */
void hist_record(const struct sa_msg *m, const struct sa_conn *c, const char *action)
{
    struct history *h = atomic_load(&hist);
    struct store_hist_row r;

    if (h == NULL || !m->conf->report_enable ||
        hist_fill_row(m, c, action, (long long)time(NULL), &r) < 0)
        return;
    history_add(h, &r); /* a dropped row is counted there */
}
