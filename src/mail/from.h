/* from.h - RFC 5322 section 3.6.2 From field parser: one author domain or an anomaly.
 * Pure function of its input; no allocation; linear time. Threads: reentrant.
 * The outcomes and what the daemon does with each are in docs/from-parsing.md. */
#ifndef SA_FROM_H
#define SA_FROM_H

#include <stddef.h>

#define FROM_MAX_NAME 253        /* RFC 1035 2.3.4, without a trailing dot */
#define FROM_MAX_LABEL 63        /* RFC 1035 2.3.4 */
#define FROM_MAX_DOMAIN_RAW 1024 /* raw (UTF-8) domain bytes looked at; longer: bad domain */

enum from_status {
    FROM_OK = 0,       /* exactly one author domain (possibly several addresses, same domain) */
    FROM_NONE,         /* no From field in the message (set by the caller) */
    FROM_MULTI_FIELD,  /* several From fields (set by the caller) */
    FROM_MULTI_DOMAIN, /* several addresses with different domains */
    FROM_EMPTY,        /* empty value or empty group */
    FROM_UNPARSEABLE,  /* does not parse as RFC 5322 (obsolete syntax tolerated) */
    FROM_BAD_DOMAIN,   /* domain is not a valid LDH / IDN name */
};

struct from_res {
    enum from_status status;
    char domain[256]; /* lower-case A-label (punycode) form; "" unless FROM_OK */
    char local[256];  /* first address's local part as written (for logs) */
    int naddr;        /* addresses found */
    char reason[96];  /* for anomalies: "From has addresses in two domains" */
};

/* from_parse - parse one From field value (len bytes, possibly folded, NUL not needed).
 * Returns 0 when out->status == FROM_OK, else -1 with out->reason set. Never reads past
 * len. On FROM_OK, out->domain is the one author domain (all addresses agree); on any
 * other status out->domain is "". The caller sets FROM_NONE / FROM_MULTI_FIELD itself. */
int from_parse(const char *value, size_t len, struct from_res *out);

/* from_normalize_domain - n bytes of a domain (no trailing dot, UTF-8 allowed) -> its
 * lower-case A-label form in dst (dstsz >= FROM_MAX_NAME + 1 holds any result). Returns 0,
 * or -1 with *why set (static string) for a name that is not LDH / a U-label we can map
 * exactly (see docs/from-parsing.md), or too long. */
int from_normalize_domain(const char *raw, size_t n, char *dst, size_t dstsz, const char **why);

/* from_status_name - "ok", "none", "multiple-from", ... */
const char *from_status_name(enum from_status s);

#endif
