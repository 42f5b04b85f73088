/* dns.h - the one DNS interface every evaluator uses (SPF, DKIM, DMARC).
 * A struct dns is a table of function pointers, like Postfix DICT: production stacks
 * dns_budget (per message) -> dns_cache (shared) -> dns_res (libresolv); unit tests
 * use dns_stub. "Not found" (NXDOMAIN/NODATA) is never confused with "could not
 * find out" (TEMPFAIL/BADREPLY).
 * Threads: dns_res and dns_cache objects are shared by all threads and internally
 * locked; a dns_budget object belongs to one message (one thread at a time). */
#ifndef SA_DNS_H
#define SA_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

enum dns_status {
    DNS_OK = 0,   /* at least one record of the asked type */
    DNS_NXDOMAIN, /* the name does not exist */
    DNS_NODATA,   /* the name exists, no record of this type */
    DNS_TEMPFAIL, /* timeout, SERVFAIL, REFUSED, network error, budget exhausted */
    DNS_BADREPLY, /* reply could not be parsed, or exceeds our bounds */
};

/* Record types we ask for (numeric values are the wire values). */
#define DNS_T_A 1
#define DNS_T_NS 2
#define DNS_T_CNAME 5
#define DNS_T_PTR 12
#define DNS_T_MX 15
#define DNS_T_TXT 16
#define DNS_T_AAAA 28

#define DNS_MAX_NAME 255     /* RFC 1035 2.3.4 */
#define DNS_MAX_ANSWER 65535 /* bound on one reply (TCP maximum) */
#define DNS_MAX_RRS 64       /* records kept per answer; extras dropped, flagged */

/* One resource record of the asked type. Names are lower-case, no trailing dot; the root
 * (a null MX, RFC 7505 "0 .") is the empty string. Names keep libresolv's presentation
 * escapes (\. inside a label, \DDD for other bytes). */
struct dns_rr {
    uint16_t type;
    uint32_t ttl;
    union {
        struct in_addr a;
        struct in6_addr aaaa;
        struct {
            uint16_t pref;
            char *exchange;
        } mx;
        char *name; /* PTR, CNAME, NS */
        struct {
            char *data; /* character-strings joined, NUL-terminated */
            size_t len; /* joined length; may be < strlen if data holds a NUL */
        } txt;
    } u;
};

/* One answer: one allocation, freed with dns_answer_free(). */
struct dns_answer {
    enum dns_status status;
    uint16_t type;
    uint32_t ttl;  /* minimum TTL of the records, or the negative TTL */
    int truncated; /* more than DNS_MAX_RRS records were present */
    int nrr;
    struct dns_rr rr[];
};

struct dns {
    /* query - look up name/type. Returns the status; on DNS_OK sets *ans (caller frees
     * with dns_answer_free), otherwise *ans is NULL. name has no trailing dot. */
    enum dns_status (*query)(struct dns *d, const char *name, uint16_t type,
                             struct dns_answer **ans);
    /* free - release this layer (not the layer below it). */
    void (*free)(struct dns *d);
    void *ctx;
    /* query_ttl - optional (NULL in layers that cannot tell): like query, and on
     * DNS_NXDOMAIN/DNS_NODATA also sets *neg_ttl to the negative TTL (RFC 2308: the SOA
     * minimum from the authority section), 0 when unknown. Used by dns_cache; callers
     * outside src/dns use dns_query(). */
    enum dns_status (*query_ttl)(struct dns *d, const char *name, uint16_t type,
                                 struct dns_answer **ans, uint32_t *neg_ttl);
};

/* Names: a name that cannot exist on the wire (longer than 253 characters without the
 * trailing dot, a label longer than 63, an empty label, an empty name) is never queried
 * and answers DNS_NXDOMAIN: RFC 7208 4.3 treats such a domain as "none", and DKIM/DMARC
 * treat a missing record the same way. One trailing dot is accepted and ignored. */

/* dns_query - convenience wrapper: d->query(d, name, type, ans). */
enum dns_status dns_query(struct dns *d, const char *name, uint16_t type, struct dns_answer **ans);

/* dns_answer_free - free an answer; NULL is a no-op. Returns NULL. */
struct dns_answer *dns_answer_free(struct dns_answer *a);

/* dns_free - d->free(d); NULL is a no-op. Returns NULL. */
struct dns *dns_free(struct dns *d);

/* dns_status_name - "ok", "nxdomain", "nodata", "tempfail", "badreply". */
const char *dns_status_name(enum dns_status s);

/* dns_type_name - "A", "TXT", ... or "TYPE<n>" in a static buffer for unknown types.
 * dns_type_parse - inverse (case-insensitive, also "TYPE<n>"); 0 when unknown. */
const char *dns_type_name(uint16_t type);
uint16_t dns_type_parse(const char *s);

/* dns_query_ttl - d->query_ttl when the layer has one, else d->query with *neg_ttl = 0. */
enum dns_status dns_query_ttl(struct dns *d, const char *name, uint16_t type,
                              struct dns_answer **ans, uint32_t *neg_ttl);

/* ---- answer building, for the layers in src/dns (dns_util.c) ---- */
/* A builder collects up to DNS_MAX_RRS records (extras set truncated) and turns them
 * into one allocation holding the struct, rr[] and every string. Not shared. */
struct dns_abuild {
    uint16_t type;
    int nrr;
    int truncated;
    int failed; /* out of memory or over the string cap */
    struct dns_rr rr[DNS_MAX_RRS];
    size_t off[DNS_MAX_RRS]; /* offset of the record's string in strs */
    char *strs;
    size_t slen, ssize;
};
void dns_abuild_init(struct dns_abuild *b, uint16_t type);
/* dns_abuild_add - add rr (its string member is ignored); str/len is the PTR/CNAME/NS
 * name, the MX exchange or the TXT data (names are lower-cased here). 0, or -1 when
 * out of memory. A record beyond DNS_MAX_RRS is dropped, sets truncated, returns 0. */
int dns_abuild_add(struct dns_abuild *b, const struct dns_rr *rr, const char *str, size_t len);
/* dns_abuild_finish - the answer (status DNS_OK, ttl = minimum record TTL), or NULL
 * when out of memory or no records. Releases the builder either way. */
struct dns_answer *dns_abuild_finish(struct dns_abuild *b);
void dns_abuild_release(struct dns_abuild *b);
/* dns_answer_copy - fresh single-allocation copy of a; NULL when out of memory. */
struct dns_answer *dns_answer_copy(const struct dns_answer *a);
/* dns_name_check - copy name, lower-cased and without one trailing dot, into out
 * (DNS_MAX_NAME + 1 bytes). 0, or -1 when the name cannot exist on the wire. */
int dns_name_check(const char *name, char *out);

/* ---- libresolv resolver (dns_res.c) ---- */
#define DNS_RES_MAX_SERVERS 3 /* MAXNS of libresolv */
struct dns_res_conf {
    int nservers;
    struct {
        char addr[64];             /* IPv4 or IPv6 literal */
        uint16_t port;             /* 53 normally; tests use a high port */
    } server[DNS_RES_MAX_SERVERS]; /* nservers == 0: use /etc/resolv.conf */
    int timeout;                   /* seconds per try, 1..60 */
    int retries;                   /* tries per server, 1..10 */
};
/* dns_res_new - resolver on libresolv with per-thread res state; TCP fallback on TC.
 * Thread-safe. Returns NULL and sets errno on failure. */
struct dns *dns_res_new(const struct dns_res_conf *conf);

/* ---- shared cache (dns_cache.c) ---- */
struct dns_cache_stats {
    unsigned long hits, misses, inserts, evictions, negative_hits;
    unsigned long entries; /* entries held now (expired ones until touched or evicted) */
};
/* hits counts every answer from the table, negative_hits the NXDOMAIN/NODATA part of
 * them; misses counts queries passed upstream. Only OK, NXDOMAIN and NODATA are cached,
 * for min(TTL, max_ttl) seconds (a TTL of 0 is not cached). An invalid name answers
 * DNS_NXDOMAIN without touching the table. On a hit the answer's TTLs are the time
 * left. dns_cache_new fails (EINVAL) when max_entries is 0. */
/* dns_cache_new - shared, bounded TTL cache over upstream (positive and negative).
 * max_entries bounds the table; max_ttl caps any TTL (seconds); neg_ttl is used for
 * NXDOMAIN/NODATA when the upstream gave no usable TTL. now_fn returns seconds; NULL means
 * CLOCK_MONOTONIC.
 * Does not take ownership of upstream. Thread-safe. */
struct dns *dns_cache_new(struct dns *upstream, size_t max_entries, uint32_t max_ttl,
                          uint32_t neg_ttl, long (*now_fn)(void));
void dns_cache_get_stats(struct dns *cache, struct dns_cache_stats *out);

/* ---- per-message budget (dns_budget.c) ---- */
/* dns_budget_new - one message's view: after max_queries queries or once the clock
 * (monotonic, seconds) passes deadline, every query returns DNS_TEMPFAIL.
 * max_queries <= 0 means no cap, deadline <= 0 no deadline. Refused queries are not
 * counted and never reach upstream.
 * Does not take ownership of upstream. One thread at a time. */
struct dns *dns_budget_new(struct dns *upstream, int max_queries, double deadline);
int dns_budget_queries(struct dns *budget); /* queries made so far */

/* ---- in-process stub for unit tests (dns_stub.c) ---- */
struct dns *dns_stub_new(void);
/* dns_stub_add - add one record from presentation text: A "192.0.2.1", AAAA "2001:db8::1",
 * MX "10 mx.example", PTR/CNAME/NS "host.example", TXT raw text (one string). Returns 0/-1. */
int dns_stub_add(struct dns *stub, const char *name, uint16_t type, const char *value);
/* dns_stub_add_txt_len - TXT with explicit length (may contain NUL). */
int dns_stub_add_txt_len(struct dns *stub, const char *name, const char *data, size_t len);
/* dns_stub_fail - make name/type (type 0 = any type) answer status instead. */
int dns_stub_fail(struct dns *stub, const char *name, uint16_t type, enum dns_status status);
int dns_stub_queries(struct dns *stub); /* queries seen, for tests */
/* dns_stub_set_ttl - TTL for records added from now on (default 300) and the negative
 * TTL reported through query_ttl for NXDOMAIN/NODATA (default 0 = unknown). */
void dns_stub_set_ttl(struct dns *stub, uint32_t ttl, uint32_t neg_ttl);
/* dns_stub_clear - forget every record and failure (the query count is kept). */
void dns_stub_clear(struct dns *stub);
/* The stub answers like a recursive server: an exact failure rule wins; then records of
 * the type; then a CNAME at the name is followed (up to 8 links, the chain's records are
 * not returned); then NODATA when the name owns any record or has a descendant with one
 * (an empty non-terminal), else NXDOMAIN. Thread-safe (one mutex). */

#endif
