/* arc_eval.h - ARC chain validation (RFC 8617 section 5.2): ARC-Seal, ARC-Message-Signature
 * and ARC-Authentication-Results of every hop, fed as the message streams in; keys fetched
 * through our struct dns. Our own canonicalization (RFC 6376 3.4) and signature checks on
 * OpenSSL EVP (rsa-sha256, ed25519-sha256 as RFC 8463); rsa-sha1 is a failure (RFC 8301).
 * The evaluator only reports what the chain says; which sealers to trust is the caller's
 * business (src/daemon/arc_hook.c).
 * Threads: a struct arc_eval belongs to one message (one thread at a time). */
#ifndef SA_ARC_EVAL_H
#define SA_ARC_EVAL_H

#include <stddef.h>

#include "dns/dns.h"
#include "senderauth/result.h"

#define ARC_MAX_INSTANCES 50        /* RFC 8617 4.2.1: i= is 1..50 */
#define ARC_MAX_FIELDS 1000         /* header fields kept for h= (more: arc=fail) */
#define ARC_MAX_HEADER_BYTES 262144 /* bytes of header fields kept (more: arc=fail) */
#define ARC_MAX_FIELD 65536         /* one header field */
#define ARC_MIN_RSA_BITS 1024       /* RFC 8301 3.2 */
#define ARC_MAX_KEYS 8              /* distinct (selector, domain) keys fetched per message */

/* The reasons (struct arc_res.reason) this module writes. */
#define ARC_REASON_STRUCTURE "broken ARC set structure"
#define ARC_REASON_INSTANCE "bad instance (i=)"
#define ARC_REASON_CV_FAIL "chain already failed (cv=fail)"
#define ARC_REASON_CV_BAD "wrong cv= for its instance"
#define ARC_REASON_AMS "newest ARC-Message-Signature does not verify"
#define ARC_REASON_AS "ARC-Seal does not verify"
#define ARC_REASON_SYNTAX "ARC field syntax error"
#define ARC_REASON_TOO_BIG "header too large to verify"
#define ARC_REASON_DNS_TEMP "DNS temporary failure"
#define ARC_REASON_INTERNAL "internal error"

struct arc_conf {
    int min_rsa_bits; /* RSA keys below this fail; 0 = ARC_MIN_RSA_BITS */
};

/* What one hop (ARC set) says; filled for every instance 1..nsets that was parsed. */
struct arc_set_res {
    char sealer[256];     /* ARC-Seal d= (lower-case): who vouches for this set */
    char ams_domain[256]; /* ARC-Message-Signature d= */
    int ams_valid;        /* 1: its AMS verified against the message as it is now */
    char ams_reason[64];  /* why it did not ("" when valid or not checked) */
    /* From this hop's ARC-Authentication-Results (untrusted unless the sealer is): */
    int aar_dmarc_pass;       /* a dmarc=pass result is present */
    char aar_dmarc_from[256]; /* its header.from (lower-case), "" when absent */
    char aar_remote_ip[64];   /* smtp.remote-ip of any result, "" when absent */
};

struct arc_res {
    enum auth_res result; /* AUTH_NONE (no ARC fields), AUTH_PASS or AUTH_FAIL */
    char reason[96];      /* ARC_REASON_* or a key/signature reason; "" on pass and none */
    int fail_instance;    /* the instance the failure was found at, 0 = none or unknown */
    int nsets;            /* N, the newest instance (0 when result is none) */
    int oldest_pass;      /* RFC 8617 5.2 step 5: lowest instance whose AMS and every newer
                             one verified; 0 when all verified. Valid on pass. */
    int dns_temp;         /* a key lookup failed temporarily (the chain could not be checked) */
    struct arc_set_res set[ARC_MAX_INSTANCES + 1]; /* set[i] for instance i; [0] unused */
};

struct arc_eval;

/* arc_eval_new - start one message; dns (may be NULL until arc_eval_set_dns) is borrowed;
 * conf may be NULL (defaults). NULL when out of memory. */
struct arc_eval *arc_eval_new(const struct arc_conf *conf, struct dns *dns);
/* arc_eval_set_dns - the DNS for the key lookups (borrowed); may be given or changed any
 * time before arc_eval_finish (the daemon makes its end-of-message budget then). */
void arc_eval_set_dns(struct arc_eval *v, struct dns *dns);
/* arc_eval_set_leadspace - as dkim_eval_set_leadspace: on != 0 when values arrive exactly
 * as received after the colon (SMFIP_HDR_LEADSPC), else "Name: " + value is the field. */
void arc_eval_set_leadspace(struct arc_eval *v, int on);
/* arc_eval_header - every header field in message order (AMS h= may name any of them).
 * Bare LF in folded values is taken as CRLF. 0, or -1 when a bound is passed (the chain
 * then fails if there is one) or out of memory. */
int arc_eval_header(struct arc_eval *v, const char *name, const char *value);
/* arc_eval_has_arc - 1 when an ARC field was fed so far. */
int arc_eval_has_arc(const struct arc_eval *v);
/* arc_eval_eoh - end of header: parse the ARC sets and start the body hashes they need.
 * Makes no DNS query. 0 (also when the message has no ARC fields), -1 internal error. */
int arc_eval_eoh(struct arc_eval *v);
/* arc_eval_body - one body chunk (CRLF line endings); nothing is kept. */
int arc_eval_body(struct arc_eval *v, const unsigned char *p, size_t n);
/* arc_eval_finish - validate (DNS for the keys) and fill *out. Returns 0, or -1 on an
 * internal error (then out->result is AUTH_FAIL with ARC_REASON_INTERNAL). Call once. */
int arc_eval_finish(struct arc_eval *v, struct arc_res *out);
/* arc_eval_free - NULL is a no-op. */
void arc_eval_free(struct arc_eval *v);

/* ---- pieces exported for the unit tests (arc_canon.c, arc_tags.c, arc_aar.c) ---- */

/* arc_canon_header - append the canonical form (RFC 6376 3.4.1 simple, 3.4.2 relaxed) of
 * one raw field "Name:value" (folds as CRLF) to out (outlen bytes, *len used), then CRLF
 * when crlf. 0, or -1 when out is too small. */
int arc_canon_header(const char *field, size_t n, int relaxed, int crlf, char *out, size_t outlen,
                     size_t *len);

/* Streaming body canonicalization (RFC 6376 3.4.3, 3.4.4) into a callback. */
struct arc_body {
    int relaxed;
    long long limit;            /* l= bytes to pass on, -1 = all */
    unsigned long long total;   /* canonical bytes produced (also past the limit) */
    unsigned long long pending; /* empty lines held back */
    int wsp, cr, content;
    void (*out)(void *arg, const void *p, size_t n);
    void *arg;
};
void arc_body_init(struct arc_body *b, int relaxed, long long limit,
                   void (*out)(void *arg, const void *p, size_t n), void *arg);
void arc_body_add(struct arc_body *b, const unsigned char *p, size_t n);
void arc_body_end(struct arc_body *b);

/* A DKIM-style tag list (RFC 6376 3.2), offsets into the parsed text. */
#define ARC_MAX_TAGS 32
struct arc_tags {
    int n;
    struct {
        char name[16];
        size_t voff, vlen; /* value, FWS around it trimmed */
        size_t roff, rend; /* raw value: after '=' up to ';' or the end */
    } t[ARC_MAX_TAGS];
};
/* arc_tags_parse - strict: tag names ALPHA *(ALPHA/DIGIT/"_"), values of VALCHAR and FWS,
 * no duplicate, no empty tag-spec except one trailing ";". 0 or -1. */
int arc_tags_parse(const char *s, size_t n, struct arc_tags *out);
/* arc_tags_get - index of tag name, or -1. */
int arc_tags_get(const struct arc_tags *t, const char *name);

/* arc_aar_parse - an ARC-Authentication-Results value: "i=N;" then an RFC 8601 payload.
 * Sets *instance; fills the aar_* members of set. 0, or -1 when the i= prefix is bad. */
int arc_aar_parse(const char *value, size_t n, int *instance, struct arc_set_res *set);

#endif
