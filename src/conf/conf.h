/* conf.h - senderauthd configuration: libconfig file -> immutable struct sa_conf.
 * Every key is described once in the key table (conf_keys.c): its type, default,
 * range and one-line doc. That table drives parsing, validation, the defaults,
 * conf_dump (-t -v), the shipped conf/senderauth.conf and docs/configuration.md.
 *
 * Errors: a load collects ALL problems, each one line "FILE:LINE: key: what is wrong",
 * sorted by line within a file; an unknown key is an error. libconfig stops at the first
 * syntax error, so that one comes alone: "FILE:LINE: syntax error" (or libconfig's
 * words, e.g. "duplicate setting name", "cannot open include file").
 *
 * Ownership and threads: a struct sa_conf is immutable after load and may be read
 * by any number of threads. It carries an atomic reference count: conf_load_* and
 * conf_defaults return it with one reference; conf_ref adds one, conf_unref drops
 * one and frees at zero. SIGHUP reload: load a new conf, conf_set_current(new) (which
 * drops the holder's reference to the old one), and each message takes its own
 * reference with conf_get_current() at MAIL FROM and conf_unref()s it when done, so
 * in-flight messages finish on the old configuration. */
#ifndef SA_CONF_H
#define SA_CONF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONF_MAX_NAMESERVERS 3 /* MAXNS of libresolv */
#define CONF_MAX_ERRORS 64     /* messages kept per load; more are counted in dropped */
#define CONF_MAX_ERRLEN 512    /* one formatted message */
#define CONF_PATH_MAX 108      /* sun_path of struct sockaddr_un */

/* ---- parsed value types ---- */

enum conf_sock_kind {
    CONF_SOCK_INET = 0, /* "inet:PORT@ADDR" (ADDR: IPv4 literal or host name) */
    CONF_SOCK_INET6,    /* "inet6:PORT@ADDR" (IPv6 literal, no brackets) */
    CONF_SOCK_UNIX,     /* "unix:PATH" or "local:PATH" (absolute path) */
};

/* The milter protocol implementation (milter.engine). */
enum conf_engine {
    CONF_ENGINE_NATIVE = 0, /* our own (src/milter/mlt_native.c) */
    CONF_ENGINE_LIBMILTER,  /* Sendmail's libmilter */
};

/* A milter listening socket. spec is the text as written (libmilter's syntax). */
struct conf_socket {
    char *spec;
    enum conf_sock_kind kind;
    char host[256];           /* INET/INET6: address or host name; "" = any */
    uint16_t port;            /* INET/INET6 */
    char path[CONF_PATH_MAX]; /* UNIX */
};

/* A DNS server: "ADDR", "ADDR:PORT" (IPv4) or "[V6ADDR]:PORT" / "V6ADDR" (IPv6). */
struct conf_nameserver {
    int family;    /* AF_INET or AF_INET6 */
    char addr[64]; /* numeric literal, no brackets */
    uint16_t port; /* 53 unless given */
};

struct conf_addr_list {
    int n; /* 0 = use /etc/resolv.conf */
    struct conf_nameserver v[CONF_MAX_NAMESERVERS];
};

/* One network: family AF_INET (4 significant bytes) or AF_INET6 (16). */
struct conf_cidr {
    int family;
    uint8_t addr[16]; /* network address, host bits cleared */
    int prefix;       /* 0..32 or 0..128 */
};

struct conf_cidr_list {
    int n;
    struct conf_cidr *v;
};

enum conf_on_error {
    CONF_ON_ERROR_ACCEPT = 0, /* accept; the A-R header says temperror */
    CONF_ON_ERROR_TEMPFAIL,   /* 4xx the message */
};

enum conf_policy_mode {
    CONF_POLICY_OFF = 0, /* no consent lookups, nothing enforced */
    CONF_POLICY_MEASURE, /* log what would happen (would_reject, would_quarantine) */
    CONF_POLICY_ENFORCE, /* reject / quarantine for consenting recipients */
};

enum conf_mixed {
    CONF_MIXED_SPLIT = 0, /* 452 4.5.3 for a recipient of the other class */
    CONF_MIXED_NEVER,     /* a mixed transaction is enforced for nobody */
};

enum conf_quarantine_action {
    CONF_QUARANTINE_HEADER = 0, /* add quarantine.header_name: yes */
    CONF_QUARANTINE_HOLD,       /* the MTA's hold queue (milter quarantine action) */
    CONF_QUARANTINE_SUBADDRESS, /* rewrite each consenting recipient to local+TAG@domain */
};

enum conf_log_level {
    CONF_LOG_WARNING = 0, /* warnings and errors only */
    CONF_LOG_INFO,        /* plus one summary line per message */
    CONF_LOG_DEBUG,       /* plus debugging detail */
};

enum conf_iprev_policy {
    CONF_IPREV_OFF = 0, /* the A-R result only */
    CONF_IPREV_MEASURE, /* also log and count what tag would do */
    CONF_IPREV_TAG,     /* also mark iprev=fail messages (docs/forwarding.md) */
    CONF_IPREV_TEMPFAIL, /* 4xx for matching clients, at iprev.stage */
    CONF_IPREV_REJECT,   /* 5xx for matching clients, at iprev.stage */
};

enum conf_iprev_on {
    CONF_IPREV_ON_NO_PTR = 0, /* the policy applies to clients without a PTR record */
    CONF_IPREV_ON_FAIL,       /* ... to every iprev=fail (also PTR names not leading back) */
};

enum conf_iprev_stage {
    CONF_IPREV_STAGE_RCPT = 0, /* reply at RCPT TO (authenticated clients are known) */
    CONF_IPREV_STAGE_CONNECT,  /* reply at connect (only trusted networks are known) */
};

enum conf_dmarc_discovery {
    CONF_DISCOVERY_PSL = 0,  /* RFC 7489: Public Suffix List */
    CONF_DISCOVERY_TREEWALK, /* RFC 9989: DNS tree walk */
};

enum conf_store_backend {
    CONF_STORE_SQLITE = 0,
    CONF_STORE_POSTGRESQL,
};

/* ---- the configuration ---- */

struct sa_conf {
    /* milter.* */
    struct conf_socket milter_socket; /* milter.socket */
    char *milter_socket_owner;        /* "user:group", "user", ":group"; "" = leave as is */
    unsigned int milter_socket_mode;  /* from an octal string; for unix sockets */
    char *milter_user;                /* "" = do not change user */
    int milter_timeout;               /* seconds to wait for the MTA */
    enum conf_engine milter_engine;   /* milter.engine */

    char *authserv_id; /* never empty after load (host name by default) */

    /* dns.* */
    struct conf_addr_list dns_nameservers;
    int dns_timeout;          /* seconds per try, 1..60 */
    int dns_retries;          /* tries per server, 1..10 */
    int dns_cache_size;       /* entries; 0 = no cache */
    int dns_cache_max_ttl;    /* seconds */
    int dns_negative_ttl;     /* seconds, NXDOMAIN/NODATA without a usable TTL */
    int dns_message_deadline; /* seconds of DNS per message */
    int dns_max_queries_per_message;

    struct conf_cidr_list trusted_networks; /* clients here are not checked */
    int skip_authenticated;                 /* {auth_authen} set -> not checked */

    char *psl_path; /* missing file at load: a warning, not an error */

    enum conf_on_error on_error;

    /* spf.* */
    int spf_enable;
    int spf_helo_check;
    int spf_received_spf_header;

    /* dkim.* */
    int dkim_enable;
    int dkim_max_signatures;
    int dkim_min_rsa_bits;

    /* dmarc.* */
    int dmarc_enable;
    int dmarc_tree_walk; /* RFC 9989 DNS tree walk instead of the PSL */
    enum conf_dmarc_discovery dmarc_discovery; /* treewalk also sets dmarc_tree_walk */

    /* arc.* and iprev.* (docs/forwarding.md) */
    int arc_enable;
    char *arc_trusted_sealers; /* ARC-Seal d= domains, spaces or commas; "" = none */
    int arc_seal_enable;       /* add our ARC set (docs/forwarding.md, sealing) */
    char *arc_seal_domain;     /* d= of our ARC sets */
    char *arc_seal_selector;   /* s= */
    char *arc_seal_key_file;   /* PEM private key, RSA (1024+ bits) or Ed25519 */
    char *arc_seal_headers;    /* ARC-Message-Signature h= candidates, ':'-separated */
    struct evp_pkey_st *arc_seal_key; /* read from arc_seal_key_file at load (conf_seal.c) */
    int iprev_enable;
    enum conf_iprev_policy iprev_policy;
    enum conf_iprev_on iprev_policy_on;
    enum conf_iprev_stage iprev_stage;
    enum conf_on_error iprev_on_temperror; /* accept / tempfail */
    char *iprev_tempfail_reply;            /* "450 4.7.25 text" (checked at load) */
    char *iprev_reject_reply;              /* "550 5.7.25 text" */
    char *iprev_temperror_reply;           /* "451 4.4.3 text" */

    /* store.* (consent store, include/senderauth/store.h) */
    enum conf_store_backend store_backend;
    char *store_sqlite_path;
    char *store_pg_conninfo;
    int store_pg_pool_size;
    int store_busy_timeout_ms;

    /* policy.* consent lookup */
    int policy_default_enforce;
    char *policy_subaddress_delimiter; /* each character is a delimiter; "" = none */
    int policy_local_part_case_sensitive;

    /* log.* */
    enum conf_log_level log_level;

    /* metrics.* (docs/operations.md) */
    char *metrics_listen; /* "ADDR:PORT" or "[V6ADDR]:PORT"; "" = no metrics */

    /* policy.* - enforcement (docs/enforcement.md) */
    enum conf_policy_mode policy_mode;
    char *policy_domain_modes; /* "DOMAIN=MODE ..." per recipient domain; "" = none */
    int policy_cache_ttl;      /* seconds a consent answer is reused; 0 = no cache */
    int policy_cache_size;     /* consent answers kept */
    enum conf_mixed policy_mixed_recipients;
    enum conf_on_error policy_on_temperror;
    char *policy_reject_template; /* %d From domain, %p its policy */
    int policy_reject_as_quarantine;
    struct conf_cidr_list policy_forwarders;
    char *policy_list_ids;           /* List-Id values, separated by spaces or commas */
    char *policy_allow_from_domains; /* From domains (and below), spaces or commas */
    int policy_random_seed;          /* pct sampling; 0 = from the clock */

    /* quarantine.* */
    enum conf_quarantine_action quarantine_action;
    char *quarantine_header_name;
    char *quarantine_tag; /* subaddress tag of quarantine.action = subaddress */

    /* lists.* and headers.* (docs/webmail-headers.md) */
    char *lists_warning_file;   /* "" = no warning list */
    char *lists_trustmark_file; /* "" = no trust-mark list */
    int lists_match_orgdomain;
    int lists_reload_interval; /* seconds; 0 = check at every message */
    char *headers_trust_name;
    char *headers_warning_name;
    char *headers_warning_value;
    int headers_warn_on_enforcing_policy;
    char *headers_trustmark_name;

    /* bimi.* (docs/bimi.md) */
    int bimi_enable;
    char *bimi_trust_file;     /* PEM CA bundle for mark certificates */
    char *bimi_https_ca_file;  /* PEM CA bundle for the logo servers; "" = system */
    int bimi_accept_vmc;
    int bimi_accept_cmc;
    int bimi_timeout;          /* seconds for record lookup and both fetches */
    int bimi_max_svg_bytes;
    int bimi_max_cert_bytes;
    int bimi_cache_ttl;        /* seconds */
    int bimi_cache_entries;
    int bimi_indicator;        /* add BIMI-Indicator (base64 SVG) */

    /* report.* (docs/reports.md) */
    int report_enable; /* senderauthd records history */
    int report_queue_size;
    int report_batch_size;
    int report_flush_interval_ms;
    char *report_org_name;
    char *report_email;
    char *report_sendmail_path;
    int report_verify_external;
    int report_max_failures;
    int report_dead_retry_days;
    int report_retention_days;

    /* private */
    atomic_int refcnt;
    char *source; /* file loaded, or "(defaults)" */
};

/* ---- errors ---- */

struct conf_errors {
    int nerr;    /* errors (the load failed when > 0) */
    int nwarn;   /* warnings (the load still succeeds) */
    int dropped; /* messages not kept because the array was full */
    int n;       /* entries in item[] */
    struct conf_error_item {
        int warning;                /* 0 error, 1 warning */
        char text[CONF_MAX_ERRLEN]; /* "FILE:LINE: key: what", no newline */
        int line;                   /* LINE, 0 when the message has none */
        size_t filelen;             /* length of FILE at the start of text */
    } item[CONF_MAX_ERRORS];
};

/* conf_errors_print - one line per kept message, warnings prefixed "warning: " after
 * the location, plus a count line when some were dropped. */
void conf_errors_print(const struct conf_errors *errs, FILE *fp);

/* ---- load, reference, free ---- */

/* conf_load_file - read and validate path. Returns a new conf (one reference), or NULL
 * when there is any error; errs (may be NULL) is reset and receives every error and
 * warning. Relative @include paths are resolved from the directory of path. */
struct sa_conf *conf_load_file(const char *path, struct conf_errors *errs);
/* conf_load_string - the same from text; name stands for the file name in messages. */
struct sa_conf *conf_load_string(const char *text, const char *name, struct conf_errors *errs);
/* conf_defaults - every key at its default; NULL only when out of memory. */
struct sa_conf *conf_defaults(void);

/* conf_ref - add a reference; returns c. Thread-safe. */
struct sa_conf *conf_ref(struct sa_conf *c);
/* conf_unref - drop a reference, freeing at zero. NULL is a no-op. Returns NULL. */
struct sa_conf *conf_unref(struct sa_conf *c);
/* conf_free - free now, whatever the count (start-up and tests). NULL ok. Returns NULL. */
struct sa_conf *conf_free(struct sa_conf *c);

/* conf_set_current - publish c as the process-wide current conf, taking over the
 * caller's reference; the previous one (if any) is unref'd. Thread-safe. */
void conf_set_current(struct sa_conf *c);
/* conf_get_current - a new reference to the current conf (NULL if none); the caller
 * conf_unref()s it. Thread-safe. */
struct sa_conf *conf_get_current(void);

/* ---- queries ---- */

/* conf_cidr_match - 1 when sa (AF_INET or AF_INET6; IPv4-mapped IPv6 counts as IPv4)
 * is inside one of c->trusted_networks, else 0. */
int conf_cidr_match(const struct sa_conf *c, const struct sockaddr *sa);
/* conf_cidr_match_str - the same for a textual address; 0 when ip is not an address. */
int conf_cidr_match_str(const struct sa_conf *c, const char *ip);

/* ---- output ---- */

/* conf_dump - the effective configuration in libconfig syntax (loads back the same).
 * 0, or -1 on a write error. */
int conf_dump(const struct sa_conf *c, FILE *fp);
/* conf_write_default - the documented default config (conf/senderauth.conf): every key
 * with its doc line as a comment, set to its default. 0 or -1. */
int conf_write_default(FILE *fp);
/* conf_write_docs - the key reference section of docs/configuration.md (Markdown). */
int conf_write_docs(FILE *fp);
/* conf_write_man - the manual page senderauth.conf(5) in roff (docs/man). 0 or -1. */
int conf_write_man(FILE *fp);

#endif
