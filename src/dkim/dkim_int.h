/* dkim_int.h - what the files of src/dkim share and nobody else sees: the per-message
 * struct, the key lookup callback (dkim_dns.c), the decoded key cache and signature
 * check (dkim_key.c), the result mapping (dkim_result.c) and the canonical body length
 * counter (dkim_bodylen.c).
 * Threads: as dkim_eval.h. */
#ifndef SA_DKIM_INT_H
#define SA_DKIM_INT_H

#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dkim/dkim_eval.h"
#include "util/buf.h"

/* Canonical body length of one canonicalization (RFC 6376 3.4.3, 3.4.4), streamed. */
struct dkim_bodylen {
    int relaxed;
    uint64_t len;     /* committed canonical bytes */
    uint64_t pending; /* canonical bytes of trailing empty lines (dropped at the end) */
    uint64_t line;    /* canonical bytes of the current line, before its CRLF */
    int wsp;          /* relaxed: a whitespace run not yet written */
    int cr;           /* the previous byte was a CR not yet known to end a line */
};
void dkim_bodylen_init(struct dkim_bodylen *b, int relaxed);
void dkim_bodylen_add(struct dkim_bodylen *b, const unsigned char *p, size_t n);
/* dkim_bodylen_total - canonical length of everything added so far, as at end of body. */
uint64_t dkim_bodylen_total(const struct dkim_bodylen *b);

/* One key record, parsed and decoded (dkim_key.c); immutable once made, shared. */
enum dkim_key_type { DKIM_KEY_RSA = 0, DKIM_KEY_ED25519 };
enum dkim_key_err {
    DKIM_KEY_OK = 0,
    DKIM_KEY_ERR_SYNTAX,  /* tag-list, v=, h=, k=, p= missing or not a key */
    DKIM_KEY_ERR_SERVICE, /* s= does not allow email */
    DKIM_KEY_ERR_REVOKED, /* p= empty */
};
#define DKIM_EVAL_MAX_SIGLEN 2048 /* decoded b=: RSA 16384 */
#define DKIM_KEY_HASH_SHA1 1
#define DKIM_KEY_HASH_SHA256 2
struct dkim_key {
    atomic_int refs;
    enum dkim_key_err err;
    int late;           /* err found after h= (reported after the signature's hash check) */
    enum dkim_key_type type;
    int hashes;         /* DKIM_KEY_HASH_* allowed by h= (both when absent) */
    int testing;        /* t=y */
    int nosubdomain;    /* t=s */
    int bits;           /* RSA: modulus bits; Ed25519: 256 */
    EVP_PKEY *pkey;     /* err == DKIM_KEY_OK only */
    EVP_PKEY_CTX *verify256; /* RSA: verification set up for SHA-256, duplicated per use */
};
struct dkim_key_cache;

/* dkim_key_cache_new - empty cache, the digests fetched; NULL on error. */
struct dkim_key_cache *dkim_key_cache_new(void);
void dkim_key_cache_free(struct dkim_key_cache *c);
/* dkim_key_get - a reference to the key of this record text (len bytes, no NUL
 * needed), from the cache or made now; the caller releases it. NULL on out of memory. */
struct dkim_key *dkim_key_get(struct dkim_key_cache *c, const char *text, size_t len);
void dkim_key_release(struct dkim_key *k);
void dkim_key_cache_stats(struct dkim_key_cache *c, unsigned long *hits, unsigned long *misses);
/* dkim_key_verify - 1 good signature of the header hash, 0 bad, -1 internal error. */
int dkim_key_verify(const struct dkim_key_cache *c, const struct dkim_key *k, int sha1,
                    const unsigned char *hh, size_t hhlen, const unsigned char *sig,
                    size_t siglen);

/* What our key lookup found. libopendkim is always told "no key": LOOKUP_KEY means
 * the slot holds the record's key and the checks are ours (dkim_result.c). */
enum dkim_lookup {
    LOOKUP_NONE = 0, /* nothing to add: libopendkim's own result stands */
    LOOKUP_TEMPFAIL, /* DNS could not find out */
    LOOKUP_BADNAME,  /* d= or s= is not a domain name: no query made */
    LOOKUP_TOOLARGE, /* record of 4 KB or more (dkim_dns.c DKIM_KEY_MAX_RECORD) */
    LOOKUP_MULTI,    /* more than one TXT record at the name */
    LOOKUP_BADDATA,  /* record holds a NUL */
    LOOKUP_KEY,      /* slot.key holds the record's key */
    LOOKUP_NOMEM,    /* out of memory while decoding */
};

struct dkim_slot {
    unsigned char fed;     /* the field reached libopendkim */
    unsigned char bad;     /* libopendkim refused its tag list */
    unsigned char toolong; /* not fed: over DKIM_EVAL_MAX_HEADER */
    unsigned char lookup;  /* enum dkim_lookup */
    struct dkim_key *key;  /* LOOKUP_KEY: a reference, released with the message */
};

struct dkim_eval_lib {
    DKIM_LIB *lib;
    struct dkim_eval_conf conf;
    struct dkim_key_cache *keys;
};

struct dkim_eval {
    struct dkim_eval_lib *lib;
    DKIM *dkim;
    struct dns *dns;
    time_t now; /* verification time: conf.fixed_time or time() at new */
    int leadspace;
    int failed;  /* libopendkim state is unusable: results are temperror */
    int eoh;     /* dkim_eoh called */
    DKIM_STAT eom_status; /* what dkim_eom answered */
    int nsighdr; /* DKIM-Signature fields seen (fed or not) */
    int nfed;    /* ... of which fed to libopendkim */
    struct dkim_slot slot[DKIM_EVAL_MAX_TRACK];
    DKIM_SIGINFO **sigs; /* libopendkim's list, kept by the prescreen callback */
    int nsigs;
    int need_len;                /* some signature has l= */
    struct dkim_bodylen blen[2]; /* [0] simple, [1] relaxed */
    struct buf hdr;              /* the current "Name: value" field, reused */
};

/* dkim_dns_key_lookup - libopendkim key lookup callback: TXT at s._domainkey.d through
 * the message's struct dns (found with dkim_get_user_context), the key from the
 * library's key cache into the signature's slot. Always answers NOTFOUND (or ERROR),
 * never DKIM_CBSTAT_DEFAULT, so libopendkim neither decodes a key nor uses its own
 * resolver. */
DKIM_CBSTAT dkim_dns_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen);
/* dkim_dns_name_ok - d= (two labels or more) or s= (one or more) is LDH syntax. */
int dkim_dns_name_ok(const char *name, int min_labels);
/* dkim_eval_slot_of - slot index of sig in the message's list, or -1. */
int dkim_eval_slot_of(struct dkim_eval *v, DKIM_SIGINFO *sig);

/* dkim_result_fill - map one libopendkim signature (sig may be NULL when it never
 * reached libopendkim) and our slot notes to a result. index is its position. */
void dkim_result_fill(struct dkim_eval *v, DKIM_SIGINFO *sig, const struct dkim_slot *slot,
                      int index, struct dkim_sig_res *out);

#endif
