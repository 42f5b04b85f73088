/* msg.h - senderauthd's connection and message contexts, and the process-wide objects.
 * struct sa_conn lives from negotiate/connect to close (mlt_setpriv); at MAIL FROM it
 * creates a fresh struct sa_msg, which EOM, abort, a new MAIL FROM and close free; a
 * message is never recycled. Each stage writes only its own member of sa_msg.
 * Threads: a conn and its msg belong to one libmilter thread at a time; struct sa_proc
 * is built in main() before the milter starts and is read-only afterwards. */
#ifndef SA_DAEMON_MSG_H
#define SA_DAEMON_MSG_H

#include <sys/socket.h>

#include "milter/mlt.h"

#include "conf/conf.h"
#include "daemon/enforce.h"
#include "dkim/dkim_eval.h"
#include "dmarc/dmarc.h"
#include "arc/arc_eval.h"
#include "dns/dns.h"
#include "iprev/iprev.h"
#include "iprev/iprev_policy.h"
#include "mail/from.h"
#include "spf/spf_eval.h"
#include "util/xalloc.h"

#define MSG_MAX_QID 64
#define MSG_MAX_MAILFROM 512 /* RFC 5321 4.5.3.1.3: a path is at most 256 octets */
#define MSG_MAX_FORGED 10000 /* our-id A-R headers one message may carry; more: tempfail */
#define MSG_IP_LEN 64

/* Process-wide objects, built in main(). */
struct sa_proc {
    struct dns *res;       /* libresolv */
    struct dns *counted;   /* counts queries to res for the metrics (stats.c) */
    struct dns *shared;    /* cache over counted (counted itself when the cache is off) */
    struct orgdomain *org; /* PSL */
    struct dkim_eval_lib *dkim_lib;
    struct lists_file *warn_list;  /* lists.warning_file, or NULL (badge.c) */
    struct lists_file *trust_list; /* lists.trustmark_file, or NULL */
    struct enforce_proc *enforce; /* consent store, cache, counters (enforce.c) */
    char hostname[256];
    struct reload_snap *snap; /* set in a reload snapshot (reload.c), NULL in main()'s */
};

struct sa_msg;
struct lists_file;
struct reload_snap;
struct badge_state;
struct bimi_state;

struct sa_conn {
    char ip[MSG_IP_LEN]; /* client address as text; "" when the MTA gave none */
    struct sockaddr_storage addr;
    int has_addr;
    int nonsmtp;           /* local submission (Postfix non_smtpd_milters: port 0, or no
                            * address): nothing may be rejected or deferred at RCPT */
    char helo[256];        /* last HELO/EHLO argument */
    unsigned long actions; /* negotiated MLT_ACT_* */
    unsigned long proto;   /* negotiated SMFIP_* (NR_*, HDR_LEADSPC) */
    unsigned long nmsg;    /* transactions seen on this connection */
    struct sa_msg *msg;    /* the open transaction, or NULL */
    struct iprev_client *iprev; /* the client's iprev check, once per connection, made when
                                 * iprev runs (iprev_hook.c); NULL before and when off */
};

struct sa_msg {
    struct pool *pool;
    struct sa_conf *conf; /* own reference, taken at MAIL FROM */
    const struct sa_proc *proc;
    struct dns *dns_spf; /* per-phase budgets over proc->shared, one cap */
    struct dns *dns_dkim;
    struct dns *dns_dmarc;
    int queries_left;                /* the message's query cap minus earlier phases */
    struct dkim_eval *dkim_v;        /* created at the first header */
    char qid[MSG_MAX_QID];           /* macro i; "NOQUEUE" until known */
    const char *skip;                /* why no checks ran ("trusted", ...); NULL = checked */
    int failed;                      /* an internal error happened: on_error at EOM */
    char mailfrom[MSG_MAX_MAILFROM]; /* reverse-path without <>; "" = null */
    const char *mailfrom_domain;     /* points into mailfrom, or "" */
    int nrcpt;

    /* MAIL FROM stage */
    int spf_ran, spf_helo_ran;
    struct spf_res spf;      /* mailfrom identity (HELO when reverse-path is null) */
    struct spf_res spf_helo; /* spf.helo_check */

    /* header stage */
    int nfrom;
    struct from_res from; /* first From field */
    int nar;              /* Authentication-Results fields seen */
    int *ours;            /* their 1-based indexes whose authserv-id is ours */
    int nours, ours_cap;
    int too_many_forged;
    struct badge_state *badge; /* incoming X-Senderauth-* fields (badge.c), NULL = none */

    /* EOM stage */
    struct dkim_sig_res *dkim; /* pool array of conf->dkim_max_signatures, made at EOM
                                * (NULL before, and when no DKIM handle ran): read
                                * only the first ndkim */
    int ndkim, dkim_ran;
    int dkim_error; /* no results: the handle failed (dkim=temperror) */
    enum from_status from_status;
    const struct dmarc_res *dmarc; /* pool, made at EOM when DMARC runs (an in-flight
                                    * message carries none); never NULL (empty before) */
    int dmarc_ran;

    struct enforce_state enf; /* consent classes (RCPT) and the decision (EOM) */

    /* ARC and iprev (arc_hook.c, iprev_hook.c) */
    struct arc_eval *arc_v;   /* from the first header while the message has ARC fields */
    struct arc_res *arc;      /* pool; NULL = no ARC fields or not checked */
    int arc_error;            /* the evaluator could not be made */
    int arc_hop;              /* instance of the trusted sealer behind the override, 0 = none */
    int arc_ip_hop;           /* instance whose AAR gives smtp.remote-ip, 0 = none */
    char arc_oldest[4];       /* header.oldest-pass as text */
    char arc_comment[128];    /* the arc= comment in the A-R */
    const char *arc_override; /* "arc": DMARC failed, a trusted sealer saw it pass (enforce.c) */
    struct arc_seal *arc_s;   /* arc.seal_enable: our ARC set, from the first header */
    struct arc_seal_out *arc_sealed; /* pool; what arc_hook_seal did (for the log line) */
    int iprev_ran;
    const struct iprev_res *iprev; /* the connection's result (c->iprev, which outlives the
                                    * message and is never rewritten once checked); valid
                                    * when iprev_ran */

    struct bimi_state *bimi; /* bimi_hook.c: incoming BIMI fields, selector, result; NULL = none */
};

/* conn.c */
struct sa_conn *conn_new(void);
/* conn_free - frees the open message too; NULL is a no-op; returns NULL. */
struct sa_conn *conn_free(struct sa_conn *c);
/* conn_set_client - record the connect address (hostaddr may be NULL). The MTA's host
 * name for the client is not kept: nothing reads it (iprev makes its own check). */
void conn_set_client(struct sa_conn *c, const struct sockaddr *hostaddr);
void conn_set_helo(struct sa_conn *c, const char *helo);
/* conn_end_msg - free the open message, if any. */
void conn_end_msg(struct sa_conn *c);

/* msg.c */
/* msg_new - start a transaction: takes a conf reference, makes the pool. NULL when out
 * of memory (the caller then lets the message through untouched and logs). */
struct sa_msg *msg_new(const struct sa_proc *proc, const char *qid);
struct sa_msg *msg_free(struct sa_msg *m);
/* msg_mail_from - MAIL FROM: decide whether to check, then run SPF (mailfrom and HELO
 * identities). authen is the {auth_authen} macro (NULL = not authenticated). */
void msg_mail_from(struct sa_msg *m, const struct sa_conn *c, const char *path, const char *authen);
/* msg_header - one header field: From, DKIM, and our-id Authentication-Results indexes. */
void msg_header(struct sa_msg *m, const struct sa_conn *c, const char *name, const char *value);
void msg_eoh(struct sa_msg *m);
void msg_body(struct sa_msg *m, const unsigned char *p, size_t n);
/* msg_eval_eom - DKIM finish, From outcome, DMARC: fills the EOM members. */
void msg_eval_eom(struct sa_msg *m);
/* msg_set_qid - copy the queue id once known (NULL or "" ignored). */
void msg_set_qid(struct sa_msg *m, const char *qid);

/* arc_hook.c - ARC for checked messages (arc.enable): every header field, end of header
 * and body chunks go to the evaluator; arc_hook_eom (after DMARC, before enforce_eom)
 * validates and sets m->arc_override for the trusted-sealer rule (docs/forwarding.md). */
void arc_hook_header(struct sa_msg *m, const struct sa_conn *c, const char *name,
                     const char *value);
void arc_hook_eoh(struct sa_msg *m);
void arc_hook_body(struct sa_msg *m, const unsigned char *p, size_t n);
void arc_hook_eom(struct sa_msg *m);
struct ar_header;
struct buf;
/* arc_hook_ar - add arc= to h when the message had ARC fields (strings borrowed from m). */
void arc_hook_ar(const struct sa_msg *m, struct ar_header *h);
void arc_hook_log(const struct sa_msg *m, struct buf *b);
/* arc_hook_seal - arc.seal_enable: add our ARC set (the A-R of act_build_ar as its AAR) at
 * the top; called by act_eom after every other change. 0 (also when no set is due), -1
 * when the set could not be made or added. */
int arc_hook_seal(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m);
/* arc_hook_metrics - register senderauth_arc_seals_total{cv}; once, from stats_init. */
void arc_hook_metrics(void);
void arc_hook_free(struct sa_msg *m);

/* iprev_hook.c - iprev (iprev.enable, or any iprev.policy but off), once per connection:
 * at connect (iprev.stage = connect) or at the first checked MAIL FROM; iprev= in the A-R;
 * the iprev.policy action and the per-client counters (docs/forwarding.md).
 * iprev_hook_proto_off - the SMFIP_NR_* flags not to ask for at negotiate under conf
 * (NR_CONN when the policy may reply at connect, NR_RCPT when at RCPT). */
unsigned long iprev_hook_proto_off(const struct sa_conf *conf);
/* iprev_hook_connect - after conn_set_client: the check and, at stage connect, the
 * tempfail/reject reply (MLT_TEMPFAIL / MLT_REJECT with the reply set). */
enum mlt_stat iprev_hook_connect(struct mlt_ctx *ctx, struct sa_conn *c, const struct sa_proc *proc);
/* iprev_hook_mail - after msg_mail_from: the check (unless done at connect or by an
 * earlier transaction) for a checked message; authen is {auth_authen} (NULL = none):
 * authenticated and skipped clients are exempt and counted so. */
void iprev_hook_mail(struct sa_msg *m, struct sa_conn *c, const char *authen);
/* iprev_hook_rcpt - before enforce_rcpt: the tempfail/reject reply for a checked
 * message (not local submission), else MLT_CONTINUE. */
enum mlt_stat iprev_hook_rcpt(struct mlt_ctx *ctx, struct sa_conn *c, const struct sa_msg *m);
void iprev_hook_ar(const struct sa_msg *m, struct ar_header *h);
/* iprev_hook_apply - iprev.policy tag adds X-Senderauth-Iprev: fail at EOM (0, or -1
 * when refused). */
int iprev_hook_apply(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m);
void iprev_hook_log(const struct sa_msg *m, struct buf *b);
/* iprev_hook_metrics - register senderauth_iprev_clients_total and the /iprev page (the
 * hourly counters as JSON) on the metrics server; once, from main(). */
void iprev_hook_metrics(void);

/* bimi_hook.c - BIMI (bimi.enable, docs/bimi.md). bimi_hook_header notes BIMI-Selector
 * and the incoming BIMI-Location/BIMI-Indicator fields (every message, checked or not);
 * bimi_hook_eom (after DMARC) checks; bimi_hook_blocked is 1 when those fields cannot be
 * removed (defer); bimi_hook_strip removes them and bimi_hook_apply adds ours on a pass
 * (0, or -1 when the MTA refused); bimi_hook_authority is "vmc"/"cmc" on a pass, else NULL. */
void bimi_hook_header(struct sa_msg *m, const char *name, const char *value);
void bimi_hook_eom(struct sa_msg *m);
void bimi_hook_ar(const struct sa_msg *m, struct ar_header *h);
int bimi_hook_blocked(const struct sa_conn *c, const struct sa_msg *m);
int bimi_hook_strip(struct mlt_ctx *ctx, const struct sa_msg *m);
int bimi_hook_apply(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m);
const char *bimi_hook_authority(const struct sa_msg *m);
void bimi_hook_log(const struct sa_msg *m, struct buf *b);
void bimi_hook_free(struct sa_msg *m);
/* bimi_hook_metrics - register senderauth_bimi_passes_total{authority} and
 * senderauth_bimi_fetches_total{outcome}; once, from stats_init. bimi_hook_stats - count
 * m's bimi= result (results_total{method="bimi"}) and a pass's authority; from
 * stats_message. */
void bimi_hook_metrics(void);
void bimi_hook_stats(const struct sa_msg *m);

/* act.c */
struct ar_header;
/* act_eom - the end-of-message actions on the MTA: delete our-id A-R fields, insert
 * ours at the top, the optional Received-SPF, the log line; returns the reply. */
enum mlt_stat act_eom(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m);
/* act_build_ar - describe m's results for the A-R writer; strings borrowed from m. */
void act_build_ar(const struct sa_msg *m, struct ar_header *h, char *dmarc_comment,
                  size_t dmarc_comment_len);
/* act_tempfail_wanted - 1 when on_error says tempfail and something failed. */
int act_tempfail_wanted(const struct sa_msg *m);
/* act_log - the one summary line for m, Postfix style. */
void act_log(const struct sa_msg *m, const struct sa_conn *c, const char *action);
/* act_insert_field - insert "name: value" at the top of the header (any length; with
 * SMFIP_HDR_LEADSPC the space after the colon is ours to add). 0 or -1. */
int act_insert_field(struct mlt_ctx *ctx, const struct sa_conn *c, const char *name, const char *value);
/* act_received_spf - Received-SPF value (RFC 7208 9.1) into out; -1 when none applies. */
int act_received_spf(const struct sa_msg *m, const struct sa_conn *c, char *out, size_t outlen);

#endif
