/* arc_seal.h - ARC sealing (RFC 8617 5.1): add our ARC set (ARC-Authentication-Results,
 * ARC-Message-Signature, ARC-Seal) to a message as it streams in. The chain status (cv=)
 * comes from the verifier (arc_eval.h); canonicalization is arc_canon.c's; signatures are
 * rsa-sha256 (RSA PKCS#1 v1.5) or ed25519-sha256 (RFC 8463) with a private key the caller
 * loaded. Always c=relaxed/relaxed, the whole body (no l=).
 * Output follows the ValiMail suite's standard form: tags in alphabetical order, one
 * space (or the caller's fold) after each ';', no white space inside b= and bh=.
 * Threads: a struct arc_seal belongs to one message (one thread at a time); the key is
 * only read (several messages may sign with one key at once). */
#ifndef SA_ARC_SEAL_H
#define SA_ARC_SEAL_H

#include <stddef.h>

#include <openssl/evp.h>

#include "senderauth/result.h"

#define ARC_SEAL_MAX_FIELDS 512  /* header fields kept (named in h= or ARC); more: no seal */
#define ARC_SEAL_MAX_SAME 16     /* fields of one name signed (the newest ones, RFC 6376 5.4.2) */
#define ARC_SEAL_MAX_HLIST 1024  /* the h= value */
#define ARC_SEAL_MAX_VALUE 12288 /* one output value (AAR: our A-R, up to 8192, plus i=) */
#define ARC_SEAL_DEFAULT_HEADERS                                                                   \
    "from:to:cc:subject:date:message-id:reply-to:in-reply-to:references:mime-version:"             \
    "content-type:content-transfer-encoding:dkim-signature"

/* Why nothing was added (struct arc_seal_out.reason when sealed == 0). */
#define ARC_SEAL_NOT_FAILED_CHAIN "chain already failed (newest ARC-Seal cv=fail)"
#define ARC_SEAL_NOT_LIMIT "chain has 50 ARC sets (RFC 8617 4.2.1)"
#define ARC_SEAL_NOT_TOO_BIG "header too large to seal"
#define ARC_SEAL_NOT_INTERNAL "internal error"

struct arc_seal_conf {
    EVP_PKEY *key;        /* borrowed: RSA (1024 bits or more) or Ed25519 */
    const char *domain;   /* d= */
    const char *selector; /* s= */
    const char *headers;  /* h= candidates, names separated by ':' (NULL = the default) */
};

struct arc_seal_in {
    enum auth_res chain; /* the verifier's result: AUTH_NONE, AUTH_PASS or AUTH_FAIL */
    const char *ar;      /* the AAR payload: "authserv-id; method=result ..." (our A-R) */
    long long now;       /* t= */
    const char *fold;    /* line break + WSP written between tags: "\n " for libmilter,
                          * "\r\n " for a file (a space, not a tab: python3-dkim looks
                          * for " i=N;"); NULL = a single space, no folding */
};

struct arc_seal_out {
    int sealed;      /* 1: add the three fields below; 0: add nothing (reason says why) */
    int instance;    /* i= of the new set */
    const char *cv;  /* "none", "pass" or "fail" */
    char reason[96]; /* when sealed == 0 */
    const char *aar; /* ARC-Authentication-Results value (owned by the struct arc_seal) */
    const char *ams; /* ARC-Message-Signature value */
    const char *as;  /* ARC-Seal value */
};

struct arc_seal;

/* arc_seal_new - start one message; conf and the strings in it are borrowed until
 * arc_seal_free. NULL when out of memory. */
struct arc_seal *arc_seal_new(const struct arc_seal_conf *conf);
/* arc_seal_header - every header field in message order ("Name", value after the colon;
 * folds as LF or CRLF). Only fields named in h= and ARC fields are kept. 0, or -1 when a
 * bound is passed (then arc_seal_finish adds nothing). */
int arc_seal_header(struct arc_seal *s, const char *name, const char *value);
/* arc_seal_body - one body chunk (CRLF line endings) into the body hash. */
int arc_seal_body(struct arc_seal *s, const unsigned char *p, size_t n);
/* arc_seal_finish - decide (RFC 8617 5.1 steps 2-3) and sign; fills *out. 0 (also when
 * nothing is to be added), -1 on an internal error (out->sealed 0, reason set). Once. */
int arc_seal_finish(struct arc_seal *s, const struct arc_seal_in *in, struct arc_seal_out *out);
/* arc_seal_free - NULL is a no-op. */
void arc_seal_free(struct arc_seal *s);

#endif
