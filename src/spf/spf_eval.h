/* spf_eval.h - RFC 7208 check_host() for one identity, on libspf2 over our DNS.
 * The evaluator uses no milter, globals or config: inputs in, struct spf_res out.
 * Threads: spf_eval is reentrant; each call uses only its arguments. */
#ifndef SA_SPF_EVAL_H
#define SA_SPF_EVAL_H

#include "dns/dns.h"
#include "senderauth/result.h"

#define SPF_MAX_DNS_MECH 10     /* RFC 7208 4.6.4: DNS-querying terms */
#define SPF_MAX_VOID_LOOKUPS 2  /* RFC 7208 4.6.4: lookups giving NXDOMAIN/NODATA */
#define SPF_MAX_MX_NAMES 10     /* RFC 7208 4.6.4: MX names looked up per mx */
#define SPF_MAX_PTR_NAMES 10    /* RFC 7208 4.6.4: PTR names checked per ptr */
#define SPF_MAX_RECORD 4096     /* our bound on one record handed to libspf2 */

enum spf_identity {
    SPF_ID_MAILFROM = 0,
    SPF_ID_HELO,
};

struct spf_in {
    const char *client_ip;   /* textual IPv4 or IPv6 (IPv4-mapped IPv6 is treated as IPv4) */
    const char *helo;        /* HELO/EHLO argument; may be NULL */
    const char *mailfrom;    /* reverse-path without <>; "" or NULL = null reverse-path */
    enum spf_identity identity; /* MAILFROM: postmaster@helo is used when mailfrom is null */
    const char *receiver;    /* our host name, for %{r}; may be NULL */
};

struct spf_res {
    enum auth_res result;    /* none neutral pass fail softfail temperror permerror */
    enum spf_identity identity;
    char domain[256];        /* domain whose policy was checked (lower-case); "" if none */
    char sender[512];        /* identity as checked: local@domain, or the HELO name */
    char reason[128];        /* e.g. "too many DNS lookups", "matched ip4:192.0.2.0/24" */
};

/* spf_eval - evaluate in->identity for in->client_ip. Always fills *out (never leaves
 * it undefined); returns 0, or -1 on an internal error (out->result is then TEMPERROR). */
int spf_eval(const struct spf_in *in, struct dns *dns, struct spf_res *out);

/* spf_record_check - strict RFC 7208 section 12 syntax check of one "v=spf1 ..." record
 * (len bytes, may hold a NUL). 0 when valid; -1 with reason set when it is a permerror. */
int spf_record_check(const char *rec, size_t len, char *reason, size_t reasonlen);

#endif
