/* from.h - RFC 5322 section 3.6.2 From field parser: one author domain or an anomaly.
 * Pure function of its input. Threads: reentrant. */
#ifndef SA_FROM_H
#define SA_FROM_H

#include <stddef.h>

enum from_status {
    FROM_OK = 0,         /* exactly one author domain (possibly several addresses, same domain) */
    FROM_NONE,           /* no From field in the message (set by the caller) */
    FROM_MULTI_FIELD,    /* several From fields (set by the caller) */
    FROM_MULTI_DOMAIN,   /* several addresses with different domains */
    FROM_EMPTY,          /* empty value or empty group */
    FROM_UNPARSEABLE,    /* does not parse as RFC 5322 (obsolete syntax tolerated) */
    FROM_BAD_DOMAIN,     /* domain is not a valid LDH / IDN name */
};

struct from_res {
    enum from_status status;
    char domain[256];    /* lower-case A-label (punycode) form; "" unless FROM_OK */
    char local[256];     /* first address's local part as written (for logs) */
    int naddr;           /* addresses found */
    char reason[96];     /* for anomalies: "From has addresses in two domains" */
};

/* from_parse - parse one From field value (len bytes, possibly folded). Returns 0 when
 * out->status == FROM_OK, else -1. Never reads past len. */
int from_parse(const char *value, size_t len, struct from_res *out);

/* from_status_name - "ok", "none", "multiple-from", ... */
const char *from_status_name(enum from_status s);

#endif
