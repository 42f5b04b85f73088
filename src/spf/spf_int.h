/* spf_int.h - pieces shared inside src/spf only: the record rewrite and the libspf2 DNS
 * layer with its per-evaluation limits. Not for other modules (they use spf_eval.h).
 * Threads: a struct spf_dns_state belongs to one thread and is reset (spf_dns_state_init)
 * for each spf_eval() call; its dns, sender and helo are cleared when the call returns. */
#ifndef SA_SPF_INT_H
#define SA_SPF_INT_H

#include <stddef.h>
#include <netinet/in.h>   /* libspf2 headers need struct in_addr */

#include <spf2/spf.h>

#include "dns/dns.h"
#include "spf/spf_eval.h"

/* Suffix spf_record_rewrite puts on the domain of an a/mx term with CIDR length 0;
 * spf_dns.c strips it and answers with the client's address when the name has any. */
#define SPF_CIDR0_LABEL "cidr0.senderauth.invalid"

#define SPF_MACRO_MAX_NAME 253    /* RFC 7208 7.3: longer expansions lose labels on the left */
#define SPF_MACRO_MAX_VALUE 1024  /* a longer macro value is left to libspf2 (-2) */
#define SPF_MACRO_UNKNOWN (-2)    /* spf_macro_expand: a value we do not have (%{p}) */

/* What the macros of a domain-spec expand to (RFC 7208 7.2), for spf_macro_expand. */
struct spf_macro_env {
    const char *sender;     /* s: "local@domain" (l and o are its parts) */
    const char *domain;     /* d: the domain whose record holds the macro */
    const char *helo;       /* h: the HELO name; NULL when not known */
    int af;                 /* AF_INET or AF_INET6: i and v */
    struct in_addr v4;
    struct in6_addr v6;
    int transformed_only;   /* spf_record_rewrite: expand only the domain-specs with a
                               macro that has transformers or an upper-case letter */
};

/* Per-evaluation state of the DNS layer: the RFC 7208 4.6.4 counters that libspf2 does
 * not keep across include:, and the reason a record or a limit ended the evaluation. */
struct spf_dns_state {
    struct dns *dns;
    int client_af;          /* AF_INET or AF_INET6, for the record rewrite */
    struct in_addr client4; /* the client, for SPF_CIDR0_LABEL answers */
    struct in6_addr client6;
    int pending_cidr0;      /* the pending MX names belong to an mx/0 term */
    int terms;              /* DNS-querying terms evaluated so far (whole evaluation) */
    int voids;              /* of those, lookups that gave NXDOMAIN/NODATA */
    int records;            /* SPF records fetched (the first is the top level) */
    int abort;              /* a limit or a record error ended the evaluation */
    int abort_temp;         /* the abort is a temperror (else a permerror) */
    int tempfail;           /* some lookup gave DNS_TEMPFAIL/DNS_BADREPLY */
    int top_none;           /* the top-level domain has no SPF record */
    char pending[SPF_MAX_MX_NAMES][256]; /* names of the last MX/PTR answer */
    int npending;
    int pending_ptr;        /* the pending names came from a PTR answer */
    const char *sender;     /* the identity as checked (local@domain), for macros */
    const char *helo;       /* the HELO name or NULL, for %{h} */
    char reason[128];
};

/* spf_dns_state_init - fresh state for one evaluation over dns. */
void spf_dns_state_init(struct spf_dns_state *st, struct dns *dns, int client_af,
                        const struct in_addr *v4, const struct in6_addr *v6);

/* spf_dns_new - libspf2 DNS layer over st->dns (st may be NULL here and bound later
 * through the layer's hook; it must be bound while libspf2 uses the layer): lookup() answers from our dns with the
 * 4.6.4 counters, get_spf() selects (4.5), checks (spf_record_check) and rewrites the
 * record before libspf2 compiles it, get_exp() never queries. Freed by SPF_server_free
 * (or SPF_dns_free). Does not own st. NULL when out of memory. */
SPF_dns_server_t *spf_dns_new(struct spf_dns_state *st);

/* spf_record_rewrite - the checked record as libspf2 should see it: exp= and unknown
 * modifiers dropped (we do not use explanations; RFC 7208 6 says unknown ones are
 * ignored), redirect= moved to the end (6.1: it applies after all mechanisms) or
 * dropped when "all" is present, and CIDR /0 on ip4/ip6 made explicit for the client's
 * address family (libspf2 reads /0 as "no CIDR"), and a/mx with /0 routed through
 * SPF_CIDR0_LABEL (libspf2 refuses them). With env, the macros of each domain-spec are
 * expanded (spf_macro_expand; "%" and " " of the result written as "%%" and "%_"),
 * except in a domain-spec holding %{p} or a value too long, and in an a/mx one whose
 * expansion holds "/" (libspf2 would read a CIDR): those stay as they are. env NULL:
 * no expansion. rec must have passed spf_record_check. 0, or -1 when out does not fit. */
int spf_record_rewrite(const char *rec, size_t len, int client_af,
                       const struct spf_macro_env *env, char *out, size_t outlen);

/* spf_macro_expand - the RFC 7208 7.3 expansion of the domain-spec s (n bytes, a
 * macro-string) under env into out (outlen at least SPF_MACRO_MAX_NAME + 1), truncated
 * on the left to SPF_MACRO_MAX_NAME. Returns the length, -1 for a malformed macro or a
 * letter not allowed in a domain-spec (c, r, t), SPF_MACRO_UNKNOWN when a value is not
 * in env (p, h without a HELO name, a value over SPF_MACRO_MAX_VALUE). Bounded work and
 * memory whatever s holds. */
int spf_macro_expand(const struct spf_macro_env *env, const char *s, size_t n, char *out,
                     size_t outlen);

/* spf_macro_transformed - 1 when the macro-string s (n bytes) holds a macro with digits,
 * "r", delimiters or an upper-case letter (what libspf2 expands wrongly), else 0. */
int spf_macro_transformed(const char *s, size_t n);

#endif
