/* ar_format.h - the Authentication-Results header we write (RFC 8601); the contract
 * for the syntax is docs/authentication-results.md.
 * The caller describes the results (struct ar_header: authserv-id, then one resinfo per
 * method run, each with an optional reason comment and ptype.property=value pairs);
 * ar_format_header() turns that into one header value, sanitizing every value that came
 * from the message or from DNS so that nothing can break the syntax: a value that is an
 * RFC 2045 token is written as is, a printable one is written as a quoted-string, and
 * anything else (CR, LF, NUL, 8-bit, ';', '"', '\') drops the property. Comments keep
 * only safe characters. Lengths are capped.
 * The struct only borrows strings; nothing is allocated. Threads: reentrant. */
#ifndef SA_AR_FORMAT_H
#define SA_AR_FORMAT_H

#include <stddef.h>

#include "senderauth/result.h"

#define AR_MAX_RESINFO 16  /* methods in one header (2 SPF + DKIM signatures + DMARC) */
#define AR_MAX_PROPS 6     /* properties per method */
#define AR_MAX_VALUE 255   /* longest property value written (a domain name, RFC 1035) */
#define AR_MAX_REASON 64   /* longest reason comment written */
#define AR_FOLD_COLUMN 78  /* RFC 5322 2.1.1: lines SHOULD be no longer than 78 */
#define AR_MAX_HEADER 8192 /* the value never exceeds this */
#define AR_HEADER_NAME "Authentication-Results"

struct ar_prop {
    const char *name;  /* "smtp.mailfrom", "header.d": ptype.property, from our code */
    const char *value; /* from the message or DNS: sanitized on output; NULL = skip */
};

struct ar_resinfo {
    const char *method; /* "spf", "dkim", "dmarc": from our code */
    enum auth_res result;
    const char *reason; /* comment after the result; NULL or "" = none */
    const char *word;   /* result word written instead of result's ("skipped" for bimi,
                           RFC 8601 2.7 allows method-specific words); NULL = result's */
    int nprop;
    struct ar_prop prop[AR_MAX_PROPS];
};

struct ar_header {
    const char *authserv_id; /* must be a token (a host name); else ar_format_header fails */
    int nres;                /* 0 = "authserv-id; none" (RFC 8601 2.2 no-result) */
    struct ar_resinfo res[AR_MAX_RESINFO];
};

/* ar_header_init - empty header for authserv_id (borrowed). */
void ar_header_init(struct ar_header *h, const char *authserv_id);
/* ar_header_add - append a resinfo; returns it, or NULL when AR_MAX_RESINFO are used.
 * method and reason are borrowed. */
struct ar_resinfo *ar_header_add(struct ar_header *h, const char *method, enum auth_res result,
                                 const char *reason);
/* ar_resinfo_prop - add name=value (both borrowed) to ri; 0, or -1 when full or ri NULL. */
int ar_resinfo_prop(struct ar_resinfo *ri, const char *name, const char *value);

/* ar_format_header - write the header value (without "Authentication-Results:" and
 * without a leading space) into out. Lines are folded before a resinfo and whenever a
 * line would pass AR_FOLD_COLUMN (counting the field name on the first line, a tab as
 * 8 columns); fold is the line break to write, "\n\t" for libmilter (NULL means that).
 * Returns the length written, or -1 when authserv_id is not a token or out is too
 * small (out is then ""). Never writes more than outlen bytes including the NUL. */
int ar_format_header(const struct ar_header *h, const char *fold, char *out, size_t outlen);

/* ar_clean_comment - the text of a comment built from untrusted in: letters, digits and
 * harmless punctuation kept, '(' ')' turned into '[' ']', anything else (CR, LF, ';',
 * '"', '\', 8-bit) a space, runs of spaces collapsed, cut at AR_MAX_REASON. Returns the
 * length written to out (outlen > 0); 0 means no comment. */
size_t ar_clean_comment(const char *in, char *out, size_t outlen);

/* ar_value_is_token - 1 when s (non-empty) is an RFC 2045 token, else 0. */
int ar_value_is_token(const char *s);

#endif
