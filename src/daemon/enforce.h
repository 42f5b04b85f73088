/* enforce.h - DMARC policy enforcement in senderauthd, per recipient consent
 * (docs/enforcement.md): consent lookups and recipient classes at RCPT, the decision
 * at end of message, and the MTA actions (550 5.7.1, quarantine header, hold or
 * subaddress, 451 on temperror), with measure mode logging what would have happened.
 * Threads: struct enforce_proc is built in main() before the milter starts; its store
 * handle, cache, random source and counters are safe to share (locked or atomic inside).
 * struct enforce_state lives in one sa_msg and is used by that message's thread. */
#ifndef SA_DAEMON_ENFORCE_H
#define SA_DAEMON_ENFORCE_H

#include "milter/mlt.h"

#include "conf/conf.h"
#include "policy/decide.h"
#include "util/buf.h"

#define ENFORCE_LIST_ID_MAX 256
#define ENFORCE_RCPT_MAX 520 /* "<" + RFC 5321 path (256) + tag + ">", with room */

/* A consenting recipient kept for quarantine.action = subaddress (message pool). */
struct enforce_rcpt {
    struct enforce_rcpt *next;
    char *orig;   /* as the MTA gave it at RCPT (mlt_delrcpt needs it verbatim) */
    char *tagged; /* "<local+TAG@domain>", or NULL when it cannot be tagged */
};

/* Per-message state (a member of struct sa_msg, zeroed by msg_new). */
struct enforce_state {
    int cls;     /* recipient class fixed by the first accepted RCPT: 0 none yet,
                  * 1 passive (not enforced), 2 active (consenting, mode enforce) */
    int nactive; /* accepted recipients of each class */
    int npassive;
    int nmeasure;    /* passive ones that consented in measure mode */
    int ndeferred;   /* answered 452 4.5.3 (split) */
    int nerror;      /* store failures (counted as not consenting) */
    int mixed;       /* policy.mixed_recipients = never saw both classes */
    int nquar_in;    /* inbound copies of quarantine.header_name (removed at EOM) */
    int tagmix;      /* both classes accepted: quarantine by subaddress needs no split */
    int ntag;        /* consenting recipients kept in tag (quarantine.action = subaddress) */
    int nuntaggable; /* ... of which cannot be tagged (see decide_tag_rcpt) */
    int ntagged;     /* recipients to rewrite at EOM (the decision was quarantine) */
    struct enforce_rcpt *tag;          /* those recipients, newest first */
    char list_id[ENFORCE_LIST_ID_MAX]; /* the first List-Id, the part in <> */
    int decided;                       /* enforce_eom ran */
    const char *override;              /* why enforcement was skipped (static), or NULL */
    struct decide_out out;
};

struct sa_proc;
struct sa_conn;
struct sa_msg;
struct enforce_proc;

/* enforce_proc_new - the store (opened again lazily when it fails now), the consent
 * cache and the random source for conf. NULL only when out of memory; a store that
 * cannot be opened is a warning (no enforcement until it can). */
struct enforce_proc *enforce_proc_new(const struct sa_conf *conf);
/* enforce_proc_free - logs the counters; NULL is a no-op; returns NULL. */
struct enforce_proc *enforce_proc_free(struct enforce_proc *e);

/* enforce_rcpt_replies - whether enforce_rcpt may answer anything but "continue" under
 * conf (enforcement on, and policy.mixed_recipients = split or quarantine.action =
 * subaddress); when not, the RCPT step is negotiated without a reply. */
int enforce_rcpt_replies(const struct sa_conf *conf);
/* enforce_rcpt - one RCPT: resolve consent, fix or check the transaction's class.
 * MLT_CONTINUE, or MLT_TEMPFAIL with 452 4.5.3 set (split: this recipient only). On a
 * connection that negotiated RCPT without a reply (enforcement was switched on by a
 * reload after it opened), recipients of both classes are handled as "never". */
enum mlt_stat enforce_rcpt(struct mlt_ctx *ctx, const struct sa_conn *c, struct sa_msg *m, const char *rcpt);
/* enforce_header - note List-Id and inbound copies of the quarantine header. */
void enforce_header(struct sa_msg *m, const char *name, const char *value);
/* enforce_eom - the decision for the message, after DMARC (fills m->enf). */
void enforce_eom(struct sa_msg *m, const struct sa_conn *c);
/* enforce_reply - 1 and *r when the message ends here (reject, tempfail; the reply
 * text is set), else 0. */
int enforce_reply(struct mlt_ctx *ctx, const struct sa_msg *m, enum mlt_stat *r);
/* enforce_apply - remove inbound quarantine headers, then mark a quarantined message
 * (header, hold, or each consenting recipient rewritten to its quarantine subaddress
 * with mlt_addrcpt + mlt_delrcpt). 0, or -1 when the MTA refused a change. */
int enforce_apply(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m);
/* enforce_disposition - the DMARC disposition applied to the message as a whole, for
 * the A-R comment dis=: "reject", "quarantine" (header, hold, or every recipient
 * tagged), or "none" (accepted, measure mode, tempfail, or a transaction in which only
 * the consenting recipients were tagged: the header reaches the others too). Static. */
const char *enforce_disposition(const struct sa_msg *m);
/* enforce_action - "accept", "quarantine", "reject" or "tempfail" for the log line. */
const char *enforce_action(const struct sa_msg *m);
/* enforce_log - append the enforcement words of the summary line to b. */
void enforce_log(const struct sa_msg *m, struct buf *b);

#endif
