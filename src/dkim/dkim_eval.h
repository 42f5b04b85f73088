/* dkim_eval.h - DKIM verification (RFC 6376, RFC 8463 Ed25519, RFC 8301) on
 * libopendkim, fed as the message streams in; keys fetched through our struct dns.
 * Prefix dkim_eval_ because libopendkim owns the dkim_ namespace.
 * Threads: one struct dkim_eval_lib per process (thread-safe, immutable after new);
 * one struct dkim_eval per message (one thread at a time). */
#ifndef SA_DKIM_EVAL_H
#define SA_DKIM_EVAL_H

#include <stddef.h>
#include <time.h>

#include "dns/dns.h"
#include "senderauth/result.h"

#define DKIM_EVAL_MAX_SIGS_DEFAULT 5
#define DKIM_EVAL_MIN_RSA_BITS 1024 /* RFC 8301 section 3.2: verifiers MUST NOT accept less */
#define DKIM_EVAL_CLOCK_DRIFT 300   /* seconds of slack for x= (as libopendkim's default) */
#define DKIM_EVAL_MAX_HEADER 131072 /* one reconstructed header field; longer ones are not fed */
#define DKIM_EVAL_MAX_TRACK 64      /* DKIM-Signature fields tracked per message */

struct dkim_eval_conf {
    int max_sigs;      /* signatures evaluated; extras get AUTH_POLICY "too many signatures" */
    int min_rsa_bits;  /* RSA keys below this fail (default 1024); Ed25519 exempt */
    time_t fixed_time; /* 0 = now; tests pin the verification time */
};

/* The reasons (struct dkim_sig_res.reason) this module writes, so callers compare
 * with strcmp against these and never against spelled-out copies. */
#define DKIM_REASON_BH_MISMATCH "body hash mismatch"
#define DKIM_REASON_SIG_MISMATCH "signature mismatch"
#define DKIM_REASON_NO_KEY "key not found"
#define DKIM_REASON_REVOKED "key revoked"
#define DKIM_REASON_EXPIRED "signature expired"
#define DKIM_REASON_FUTURE "signature in the future"
#define DKIM_REASON_KEY_SMALL "key too small"
#define DKIM_REASON_SHA1 "rsa-sha1 not allowed"
#define DKIM_REASON_SYNTAX "syntax error"
#define DKIM_REASON_BAD_ALGO "unknown algorithm"
#define DKIM_REASON_FROM_UNSIGNED "From not signed"
#define DKIM_REASON_BAD_IDENTITY "i= not within d="
#define DKIM_REASON_SUBDOMAIN "i= subdomain not allowed by key (t=s)"
#define DKIM_REASON_L_TOO_LARGE "l= exceeds body length"
#define DKIM_REASON_PARTIAL "partial body (l=)"
#define DKIM_REASON_TOO_MANY "too many signatures"
#define DKIM_REASON_KEY_SYNTAX "key syntax error"
#define DKIM_REASON_KEY_HASH "key does not allow this hash (h=)"
#define DKIM_REASON_KEY_SERVICE "key not for e-mail (s=)"
#define DKIM_REASON_KEY_TYPE "key type does not match a="
#define DKIM_REASON_KEY_LARGE "key record too large"
#define DKIM_REASON_KEY_MULTI "multiple key records"
#define DKIM_REASON_DNS_TEMP "DNS temporary failure"
#define DKIM_REASON_HDR_LONG "header too long"
#define DKIM_REASON_INTERNAL "internal error"

struct dkim_sig_res {
    enum auth_res result; /* pass fail neutral policy temperror permerror */
    char domain[256];     /* d=, lower-case */
    char selector[64];    /* s= */
    char algo[32];        /* a= ("rsa-sha256", "ed25519-sha256") */
    char b8[9];           /* first 8 characters of b= (RFC 6008 header.b) */
    char reason[96]; /* one of DKIM_REASON_* (libopendkim's text for a rare other error); "" on pass
                      */
    int key_bits;    /* RSA modulus bits; 256 for Ed25519; 0 unknown */
    int full_body;   /* 1 when l= is absent or covers the whole body */
    int testing;     /* key record has t=y (RFC 6376 3.6.1); result unchanged */
};

struct dkim_eval_lib;
struct dkim_eval;

/* dkim_eval_lib_new - the libopendkim handle with our key lookup and policy; built once
 * per process (conf == NULL: defaults). NULL on error. Thread-safe to share afterwards. */
struct dkim_eval_lib *dkim_eval_lib_new(const struct dkim_eval_conf *conf);
void dkim_eval_lib_free(struct dkim_eval_lib *lib);

/* dkim_eval_new - start one message; dns is borrowed for the message's life. NULL on error.
 * Header values are taken as libmilter gives them without SMFIP_HDR_LEADSPC (leading
 * space after the colon stripped); see dkim_eval_set_leadspace. */
struct dkim_eval *dkim_eval_new(struct dkim_eval_lib *lib, struct dns *dns, const char *qid);
/* dkim_eval_set_leadspace - on != 0: values arrive exactly as received after the colon
 * (SMFIP_HDR_LEADSPC negotiated), so "Name:" + value is the field; on == 0 (default):
 * "Name: " + value. Call before the first header. */
void dkim_eval_set_leadspace(struct dkim_eval *v, int on);
/* dkim_eval_header - one header field as libmilter gives it (name, value; folded lines
 * may end in LF or CRLF, both are fed as CRLF). 0, or -1 when the field could not be
 * fed (too long, out of memory); the message then goes on and signatures covering
 * that field fail. */
int dkim_eval_header(struct dkim_eval *v, const char *name, const char *value);
/* dkim_eval_eoh - end of header; fetches the keys (DNS) of the evaluated signatures. */
int dkim_eval_eoh(struct dkim_eval *v);
/* dkim_eval_body - one body chunk with CRLF line endings; nothing is kept. */
int dkim_eval_body(struct dkim_eval *v, const unsigned char *p, size_t n);
/* dkim_eval_finish - results for up to max signatures, in header order, into out[];
 * *nout set (0 = unsigned). Returns 0, or -1 on an internal error (then each result is
 * TEMPERROR). Call once. */
int dkim_eval_finish(struct dkim_eval *v, struct dkim_sig_res *out, int max, int *nout);
/* dkim_eval_free - NULL is a no-op. */
void dkim_eval_free(struct dkim_eval *v);

#endif
