/* summary.h - the X-Senderauth-* header values webmail reads: the trust level of every
 * checked message, the warning, and the trust mark. The contract (grammar, levels,
 * rules) is docs/webmail-headers.md.
 * summary_eval is a pure function of typed results (no DNS, no lists: the caller says
 * whether the From domain is listed); the formatters write bounded, sanitized values.
 * Nothing is allocated. Threads: reentrant. */
#ifndef SA_OUT_SUMMARY_H
#define SA_OUT_SUMMARY_H

#include <stddef.h>

#include "dmarc/dmarc.h"
#include "senderauth/result.h"

#define SUMMARY_MAX_VALUE 600          /* longest value written ("level=...; from=<253>") */
#define SUMMARY_MAX_NAME 64            /* longest configurable header name */
#define SUMMARY_MAX_TOKEN 64           /* longest configurable warning value */
#define SUMMARY_PREFIX "X-Senderauth-" /* every field with this prefix is ours */

/* Ascending (docs/webmail-headers.md, "The trust levels"). */
enum summary_level {
    SUMMARY_FAIL = 0,
    SUMMARY_NONE,
    SUMMARY_DMARC_MONITOR,
    SUMMARY_DMARC_ENFORCED,
    SUMMARY_LISTED,
    SUMMARY_BIMI, /* bimi=pass (src/bimi): a verified brand logo */
};

enum summary_basis {
    SUMMARY_MARK_NONE = 0,
    SUMMARY_MARK_DMARC,            /* listed and dmarc=pass */
    SUMMARY_MARK_AUTHOR_SIGNATURE, /* listed, no DMARC record, passing author signature */
};

struct summary_in {
    int from_ok;                      /* exactly one author domain */
    const char *from_domain;          /* lower-case A-label when from_ok; else the first From
                                         field's domain if it parsed, or "" / NULL */
    int dmarc_ran;                    /* 0: DMARC not evaluated (dmarc.enable off) */
    const struct dmarc_res *dmarc;    /* valid when dmarc_ran */
    enum auth_res spf;                /* MAIL FROM identity; AUTH_NONE when not run */
    const struct dmarc_dkim_in *dkim; /* the signatures' results (may be NULL when ndkim 0) */
    int ndkim;
    int warn_listed;       /* from_domain is on the warning list */
    int trust_listed;      /* from_domain is on the trust-mark list */
    int warn_on_enforcing; /* headers.warn_on_enforcing_policy */
    int bimi_pass;               /* bimi=pass for the From domain */
    const char *bimi_authority;  /* "vmc" or "cmc" with bimi_pass */
};

struct summary {
    enum summary_level level;
    int warning;             /* add the warning field */
    enum summary_basis mark; /* SUMMARY_MARK_NONE: no trust-mark field */
    char from[256];          /* sanitized author domain, "" when none */
    char authority[4];       /* level bimi: "vmc" or "cmc" */
};

/* summary_eval - the level, warning and trust mark for in (see the contract); always
 * fills *out. out->from is the sanitized from_domain when from_ok, else "". */
void summary_eval(const struct summary_in *in, struct summary *out);

/* summary_format_trust - "level=<level>[; from=<domain>][; authority=vmc|cmc]" into out. 0, or -1 when out
 * is too small. */
int summary_format_trust(const struct summary *s, char *out, size_t outlen);
/* summary_format_trustmark - "from=<domain>; basis=<basis>"; -1 when there is no mark
 * (or out is too small). */
int summary_format_trustmark(const struct summary *s, char *out, size_t outlen);

/* summary_level_name - "fail" "none" "dmarc-monitor" "dmarc-enforced" "listed" "bimi". */
const char *summary_level_name(enum summary_level l);
/* summary_basis_name - "dmarc", "author-signature", or "" for none. */
const char *summary_basis_name(enum summary_basis b);

/* summary_sanitize_domain - copy s into out when it is an LDH domain (labels 1..63
 * of letters, digits and inner hyphens, at most 253 octets, one trailing dot dropped),
 * lower-cased. 0, or -1 (out = "") for anything else: 8-bit, spaces, ';', empty. */
int summary_sanitize_domain(const char *s, char *out, size_t outlen);

/* summary_name_ok - 1 when name is a header name we may own: 3..64 characters of
 * letters, digits and '-', starting with "X-" (any case); else 0. */
int summary_name_ok(const char *name);
/* summary_token_ok - 1 when v is a warning value: 1..64 of letters, digits, '-' '_' '.'. */
int summary_token_ok(const char *v);
/* summary_is_ours - 1 when a header field called name is one senderauthd owns: the
 * X-Senderauth- prefix (any case) or one of the extra names (NULL entries skipped). */
int summary_is_ours(const char *name, const char *const *extra, int nextra);

#endif
