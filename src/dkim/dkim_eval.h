/* dkim_eval.h - DKIM verification (RFC 6376, RFC 8463 Ed25519, RFC 8301) on
 * libopendkim, fed as the message streams in; keys fetched through our struct dns.
 * Prefix dkim_eval_ because libopendkim owns the dkim_ namespace.
 * Threads: one struct dkim_eval_lib per process (thread-safe, immutable after new);
 * one struct dkim_eval per message. */
#ifndef SA_DKIM_EVAL_H
#define SA_DKIM_EVAL_H

#include <stddef.h>
#include <time.h>

#include "dns/dns.h"
#include "senderauth/result.h"

#define DKIM_EVAL_MAX_SIGS_DEFAULT 5

struct dkim_eval_conf {
    int max_sigs;       /* signatures evaluated; extras get AUTH_POLICY "too many signatures" */
    int min_rsa_bits;   /* RSA keys below this fail (default 1024); Ed25519 exempt */
    time_t fixed_time;  /* 0 = now; tests pin the verification time */
};

struct dkim_sig_res {
    enum auth_res result;   /* pass fail neutral policy temperror permerror */
    char domain[256];       /* d=, lower-case */
    char selector[64];      /* s= */
    char algo[32];          /* a= ("rsa-sha256", "ed25519-sha256") */
    char b8[9];             /* first 8 characters of b= (RFC 6008 header.b) */
    char reason[96];        /* "body hash mismatch", "key not found", ... ; "" on pass */
    int key_bits;           /* RSA modulus bits; 256 for Ed25519; 0 unknown */
    int full_body;          /* 1 when l= is absent or covers the whole body */
};

struct dkim_eval_lib;
struct dkim_eval;

struct dkim_eval_lib *dkim_eval_lib_new(const struct dkim_eval_conf *conf);
void dkim_eval_lib_free(struct dkim_eval_lib *lib);

/* dkim_eval_new - start one message; dns is borrowed for the message's life. NULL on error. */
struct dkim_eval *dkim_eval_new(struct dkim_eval_lib *lib, struct dns *dns, const char *qid);
/* dkim_eval_header - one header field as libmilter gives it (name, unfolded-as-received value). */
int dkim_eval_header(struct dkim_eval *v, const char *name, const char *value);
int dkim_eval_eoh(struct dkim_eval *v);
int dkim_eval_body(struct dkim_eval *v, const unsigned char *p, size_t n);
/* dkim_eval_finish - results for up to max signatures into out[]; *nout set (0 = unsigned).
 * Returns 0, or -1 on an internal error (then each result is TEMPERROR). */
int dkim_eval_finish(struct dkim_eval *v, struct dkim_sig_res *out, int max, int *nout);
/* dkim_eval_free - NULL is a no-op. */
void dkim_eval_free(struct dkim_eval *v);

#endif
