/* store.h - the consent store: per-address and per-domain enforcement flags with the
 * evidence of every change (issue 5). One interface, two backends chosen by the config
 * (store.backend = "sqlite" | "postgresql"); the schema is the same in both and is a
 * contract for operators' portals (docs/consent.md).
 *
 * Used by senderauthd (read only: lookups at RCPT through its own TTL cache) and by
 * senderauthctl (writes, import, export, stats, schema init/migrate).
 *
 * Results: lookups return enum store_lookup, which keeps "not found" (STORE_NOTFOUND:
 * the next rule of the lookup order applies) apart from "could not find out"
 * (STORE_ERROR: the store is down or broken; the caller must not enforce). Other
 * operations return 0 or -1. After any STORE_ERROR or -1, store_strerror() gives the
 * reason for the calling thread.
 *
 * Threads: one struct store is shared by all milter threads. Every function except
 * store_open and store_close may be called from any number of threads at once; each
 * call borrows one backend connection from a pool inside the store for its duration
 * (SQLite: WAL mode, busy_timeout; PostgreSQL: store.pg_pool_size connections,
 * reconnected after a failure). No lock is held between calls. store_close must be
 * called once, after every other call has returned. */
#ifndef SENDERAUTH_STORE_H
#define SENDERAUTH_STORE_H

#include <stddef.h>
#include <stdio.h>

struct sa_conf;
struct store;

#define STORE_SCHEMA_VERSION 2 /* the version this build reads and writes (2: DMARC history) */
#define STORE_ADDR_MAX                                                                             \
    256                      /* buffer for a normalized address, NUL included (RFC 5321 4.5.3.1.3) \
                              */
#define STORE_DOMAIN_MAX 256 /* buffer for a normalized domain, NUL included */
#define STORE_TEXT_MAX 1024  /* longest source / note / actor / channel / version text */

/* store_open flags.
 *   READ   lookups, export, stats (senderauthd); each query bounded by store.busy_timeout_ms
 *   WRITE  also set/del/import (senderauthctl)
 *   INIT   with WRITE: create the database file if missing and skip the schema check
 *          (senderauthctl init / migrate only)
 *   BULK   no time limit per statement (export or stats of a large store) */
#define STORE_OPEN_READ 0
#define STORE_OPEN_WRITE 1
#define STORE_OPEN_INIT 2
#define STORE_OPEN_BULK 4

enum store_lookup {
    STORE_FOUND = 0, /* a row exists; *enforce is set */
    STORE_NOTFOUND,  /* no row: the next rule of the lookup order applies */
    STORE_ERROR,     /* could not find out (store down, bad schema, bad key) */
};

/* Which rule of the lookup order decided (store_resolve). */
enum store_match {
    STORE_MATCH_ADDRESS = 0, /* exact address row */
    STORE_MATCH_BASE,        /* address without its subaddress tag */
    STORE_MATCH_DOMAIN,      /* domain default row */
    STORE_MATCH_DEFAULT,     /* policy.default_enforce */
};

enum store_kind {
    STORE_KIND_USER = 0,
    STORE_KIND_DOMAIN,
};

/* Evidence written with every change into consent_event (append-only). Any member may
 * be NULL (stored as NULL). channel is also stored as the row's source column.
 *   actor               who made the change ("portal:session-42", "admin:tanaka", "user")
 *   channel             how ("portal", "support-call", "ctl", "import")
 *   explanation_version the explanation text the user was shown ("2026-11-v1")
 *   scope_version       the scope consented to ("dmarc-enforce-v1")
 *   note                free text; also stored as the row's note column */
struct store_evidence {
    const char *actor;
    const char *channel;
    const char *explanation_version;
    const char *scope_version;
    const char *note;
};

/* Address rules from the config (policy.subaddress_delimiter, policy.local_part_case_sensitive). */
struct store_addr_rules {
    char delimiters[16];      /* each character is a subaddress delimiter; "" = none */
    int local_case_sensitive; /* 0: local parts compare case-insensitively */
};

/* One row, for store_foreach. Pointers are borrowed, valid during the callback only. */
struct store_row {
    enum store_kind kind;
    const char *subject;  /* normalized address or domain */
    int enforce;          /* 0 or 1 */
    long long updated_at; /* seconds since the epoch, UTC */
    const char *source;   /* "" when NULL */
    const char *note;     /* "" when NULL */
};

struct store_stats {
    int schema_version;
    const char *backend; /* "sqlite" or "postgresql" (static string) */
    long long users, users_on;
    long long domains, domains_on;
    long long events;
    long long last_change; /* newest updated_at / event time; 0 when empty */
};

/* ---- open / close ---- */

/* store_open - connect to the store named by conf (store.* keys). flags: STORE_OPEN_*.
 * Unless STORE_OPEN_INIT, the schema version is checked: a missing schema or an older
 * one fails with "run senderauthctl init/migrate", a newer one fails too. On failure
 * returns NULL with a one-line reason in err. For PostgreSQL, one connection is made at
 * open (so a wrong conninfo is reported now); the rest are made on demand. */
struct store *store_open(const struct sa_conf *conf, int flags, char *err, size_t errlen);
/* store_close - close every connection and free. NULL is a no-op. Returns NULL. */
struct store *store_close(struct store *st);

/* store_strerror - the reason for the calling thread's last failed call; "" if none.
 * Valid until that thread's next store call. */
const char *store_strerror(void);

/* store_backend_name - "sqlite" or "postgresql". */
const char *store_backend_name(const struct store *st);

/* ---- schema ---- */

/* store_schema_version - the version in the database: 0 = no schema, -1 = error. */
int store_schema_version(struct store *st);
/* store_migrate - create the schema or bring it to STORE_SCHEMA_VERSION, in one
 * transaction per step. *from / *to (may be NULL) receive the versions. 0 or -1. */
int store_migrate(struct store *st, int *from, int *to);

/* ---- keys ---- */

/* store_addr_rules_from_conf - the address rules configured in conf. */
void store_addr_rules_from_conf(const struct sa_conf *conf, struct store_addr_rules *r);
/* store_normalize_domain - lower-case ASCII, drop one trailing dot. Rejects empty
 * names, labels longer than 63, names longer than 253, spaces, control characters,
 * '@' and '<>'. 0, or -1 (out untouched beyond a NUL). outlen >= STORE_DOMAIN_MAX. */
int store_normalize_domain(const char *in, char *out, size_t outlen);
/* store_normalize_address - "Local@Domain" (one pair of surrounding <> allowed) to the
 * key form: the domain normalized as above, the local part lower-cased unless
 * local_case_sensitive. Rejects a missing or empty local part, whitespace and control
 * characters. The domain starts after the last '@'. 0 or -1. */
int store_normalize_address(const char *in, int local_case_sensitive, char *out, size_t outlen);
/* store_strip_subaddress - for a normalized address "user+tag@dom" write "user@dom":
 * the local part is cut at the first character that is in delims. Returns 1 when a tag
 * was removed, 0 when there was none (out = the address), -1 on error. A local part
 * that starts with a delimiter is not split (as Postfix does not). */
int store_strip_subaddress(const char *addr, const char *delims, char *out, size_t outlen);

/* ---- lookups (senderauthd) ---- */

/* store_get_user - the row for a normalized address, exactly as stored. */
enum store_lookup store_get_user(struct store *st, const char *address, int *enforce);
/* store_get_domain - the row for a normalized domain. */
enum store_lookup store_get_domain(struct store *st, const char *domain, int *enforce);
/* store_resolve - the whole lookup order for a recipient as given (not yet normalized):
 * exact address -> address without subaddress tag -> domain default -> default_enforce.
 * Sets *enforce and *via (may be NULL). Returns STORE_FOUND when a row decided,
 * STORE_NOTFOUND when the default did, STORE_ERROR (with *enforce = 0) when the store
 * failed or the address is not valid - the caller must not enforce then. Uses at most
 * three queries (one per rule), each on a connection borrowed from the pool. */
enum store_lookup store_resolve(struct store *st, const char *rcpt,
                                const struct store_addr_rules *rules, int default_enforce,
                                int *enforce, enum store_match *via);
/* store_match_name - "address", "base", "domain", "default". */
const char *store_match_name(enum store_match m);

/* ---- changes (senderauthctl, portals) ---- */

/* store_set_user - insert or update the row of a normalized address and append one
 * consent_event, in one transaction. ev may be NULL. 0 or -1. */
int store_set_user(struct store *st, const char *address, int enforce,
                   const struct store_evidence *ev);
/* store_del_user - delete the row and append an event (enforce NULL in the event).
 * STORE_FOUND when a row was deleted, STORE_NOTFOUND when there was none (no event
 * written), STORE_ERROR. */
enum store_lookup store_del_user(struct store *st, const char *address,
                                 const struct store_evidence *ev);
int store_set_domain(struct store *st, const char *domain, int enforce,
                     const struct store_evidence *ev);
enum store_lookup store_del_domain(struct store *st, const char *domain,
                                   const struct store_evidence *ev);

/* One row of a bulk import. subject is normalized by store_import; a subject with '@'
 * is a user, without one a domain. source/note may be NULL (then the evidence's
 * channel / note apply). line is for messages only. */
struct store_import_row {
    const char *subject;
    int enforce;
    const char *source;
    const char *note;
    long line;
};
/* store_import_next_fn - fill *row with the next row: 1 = a row, 0 = end of input,
 * -1 = bad input (reason already in err). The row's strings must stay valid until
 * the next call. */
typedef int (*store_import_next_fn)(void *arg, struct store_import_row *row, char *err,
                                    size_t errlen);
/* store_import - all rows in ONE transaction, each an upsert plus its event: either
 * every row is stored or none is. On a bad row (from next, or a subject that does not
 * normalize) everything is rolled back and err says which line. *count (may be NULL)
 * gets the rows stored. local_case_sensitive as in store_normalize_address. 0 or -1. */
int store_import(struct store *st, store_import_next_fn next, void *arg, int local_case_sensitive,
                 const struct store_evidence *ev, long *count, char *err, size_t errlen);
/* store_import_csv - store_import over CSV lines "subject,on|off[,source[,note]]"
 * (RFC 4180 quoting, '#' comment lines and blank lines skipped, a first line
 * "address,enforce..." taken as a header). Errors read "NAME:LINE: what". */
int store_import_csv(struct store *st, FILE *fp, const char *name, int local_case_sensitive,
                     const struct store_evidence *ev, long *count, char *err, size_t errlen);

/* ---- reading everything ---- */

/* store_row_fn - called once per row; return 0 to go on, -1 to stop (store_foreach
 * then returns -1). */
typedef int (*store_row_fn)(const struct store_row *row, void *arg);
/* store_foreach - every row of one kind in subject order, from one snapshot. 0 or -1. */
int store_foreach(struct store *st, enum store_kind kind, store_row_fn fn, void *arg);
/* store_export_csv - users then domains as CSV that store_import_csv reads back, with
 * a header line. 0 or -1. */
int store_export_csv(struct store *st, FILE *fp);
/* store_get_stats - counts. 0 or -1. */
int store_get_stats(struct store *st, struct store_stats *out);

/* ---- DMARC history and report bookkeeping (issue 10, docs/reports.md) ----
 * A separate handle on the same database: struct store_history holds ONE connection and
 * is used by one thread at a time (senderauthd's history writer thread, or the report
 * tool). It is opened writable for history even where the consent side is read-only,
 * and reconnects by itself on the next call after a failure. No recipient address and
 * no message content is ever stored here. */
struct store_history;

#define STORE_HIST_IP_MAX 46      /* INET6_ADDRSTRLEN */
#define STORE_HIST_DKIM_MAX 768   /* "result:d:s" words separated by spaces */
#define STORE_HIST_RUA_MAX 512    /* the rua tag as published */
#define STORE_HIST_WORD_MAX 16    /* results, policies, dispositions, reasons */
#define STORE_HIST_COMMENT_MAX 64 /* reason comment */
#define STORE_HIST_REASON_MAX 24  /* PolicyOverrideType, e.g. "trusted_forwarder" */

/* One evaluated message. Every string is NUL-terminated ("" when unknown/absent).
 * dkim: one word per verified signature, "result:d=domain:selector" without the "d=",
 * i.e. "pass:example.com:s1 fail:other.example:k2"; results are RFC 8601 words.
 * policy_domain: where the DMARC record was found ("" = no record); p/sp/np are the
 * policy names ("" = tag absent), adkim/aspf "r" or "s". disposition is the RFC 9990
 * ActionDispositionType (none, pass, quarantine, reject); reason its PolicyOverrideType
 * ("" none) with a free comment. action / would: what senderauthd did / what enforce
 * would have done (accept, quarantine, reject, tempfail). rcpt_consent / rcpt_total:
 * recipients of the transaction that consented to enforcement / all accepted. */
struct store_hist_row {
    long long at;
    char source_ip[STORE_HIST_IP_MAX];
    char env_from[STORE_DOMAIN_MAX];
    char header_from[STORE_DOMAIN_MAX];
    char policy_domain[STORE_DOMAIN_MAX];
    char spf_domain[STORE_DOMAIN_MAX];
    char spf_scope[8]; /* "mfrom" or "helo" */
    char spf_result[STORE_HIST_WORD_MAX];
    char dkim[STORE_HIST_DKIM_MAX];
    char dmarc_result[STORE_HIST_WORD_MAX];
    int dkim_aligned, spf_aligned; /* DMARC-aligned pass of each method */
    char p[STORE_HIST_WORD_MAX], sp[STORE_HIST_WORD_MAX], np[STORE_HIST_WORD_MAX];
    int pct;     /* 0..100 */
    int testing; /* t=y */
    char adkim[2], aspf[2];
    char disposition[STORE_HIST_WORD_MAX];
    char reason[STORE_HIST_REASON_MAX];
    char reason_comment[STORE_HIST_COMMENT_MAX];
    char discovery[STORE_HIST_WORD_MAX]; /* "psl" or "treewalk" */
    char rua[STORE_HIST_RUA_MAX];
    char action[STORE_HIST_WORD_MAX], would[STORE_HIST_WORD_MAX];
    int rcpt_consent, rcpt_total;
};

/* One report record: the reportable rows of an interval that share every field below.
 * Strings borrowed, valid during the callback only. */
struct store_hist_group {
    const char *policy_domain, *source_ip, *header_from, *env_from;
    const char *spf_domain, *spf_scope, *spf_result, *dkim;
    const char *disposition, *reason, *reason_comment;
    int dkim_aligned, spf_aligned;
    long long count;
};

/* The policy a domain published, as seen by its newest row in the interval. */
struct store_hist_policy {
    const char *policy_domain, *p, *sp, *np, *adkim, *aspf, *discovery, *rua;
    int pct, testing;
    long long rows; /* reportable rows of the domain in the interval */
};

/* store_history_open - one connection to the store named by conf. A missing or older
 * schema fails as store_open does. NULL with the reason in err. */
struct store_history *store_history_open(const struct sa_conf *conf, char *err, size_t errlen);
/* store_history_close - NULL is a no-op; returns NULL. */
struct store_history *store_history_close(struct store_history *h);
/* store_history_insert - n rows in one transaction: all or none. 0, or -1 (the reason
 * in store_strerror()); the connection is re-made at the next call after a failure. */
int store_history_insert(struct store_history *h, const struct store_hist_row *rows, int n);

typedef int (*store_hist_group_fn)(const struct store_hist_group *g, void *arg);
typedef int (*store_hist_policy_fn)(const struct store_hist_policy *p, void *arg);
/* store_history_policies - each domain with reportable rows (a record with rua, not
 * answered tempfail: the client retries and the retry gets its own row) in
 * [from, to), in domain order. fn returns 0 to go on, -1 to stop. 0 or -1. */
int store_history_policies(struct store_history *h, long long from, long long to,
                           store_hist_policy_fn fn, void *arg);
/* store_history_groups - the records of one domain in [from, to), one per distinct
 * (source IP, header-from, envelope-from, results, disposition, reason). 0 or -1. */
int store_history_groups(struct store_history *h, const char *policy_domain, long long from,
                         long long to, store_hist_group_fn fn, void *arg);

/* store_hist_count_fn - one (key, count) pair of a count query. */
typedef int (*store_hist_count_fn)(const char *key, long long count, void *arg);
/* store_history_count - rows in [from, to) grouped by one column, in key order: column
 * is one of "all" (one key ""), "spf_result", "dkim_pass" ("pass" when any signature
 * passed, "none" without signatures, else "fail"), "dmarc_result", "action", "would",
 * "disposition", "reason" (rows with one), "consent" (two keys, "consenting" and "total":
 * the sums of rcpt_consent and rcpt_total), "report_status" (report_log rows by status,
 * by their own time). Keys come in key order.
 * 0 or -1 (unknown column: -1). */
int store_history_count(struct store_history *h, const char *column, long long from, long long to,
                        store_hist_count_fn fn, void *arg);

/* store_history_purge - delete history rows older than before; *n gets the count. */
int store_history_purge(struct store_history *h, long long before, long long *n);

/* Report bookkeeping: one report_log row per report and destination, and per destination
 * the count of consecutive failures (dead-destination backoff). */
struct store_report_event {
    long long at, begin, end;
    const char *policy_domain, *dest, *report_id;
    const char *status; /* "sent", "failed", "skipped", "written" */
    const char *detail; /* why ("" when sent) */
    long long bytes;
};
int store_report_log(struct store_history *h, const struct store_report_event *ev);
/* store_report_dest_get - the destination's consecutive failures and the time of the
 * last one (0 / 0 when never failed). 0 or -1. */
int store_report_dest_get(struct store_history *h, const char *dest, int *failures,
                          long long *last_at);
/* store_report_dest_set - ok: reset to 0; else one more failure at now with why. */
int store_report_dest_set(struct store_history *h, const char *dest, int ok, long long now,
                          const char *why);

#endif
