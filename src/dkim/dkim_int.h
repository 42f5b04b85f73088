/* dkim_int.h - what the files of src/dkim share and nobody else sees: the per-message
 * struct, the key lookup callback (dkim_dns.c), the decoded key cache and signature
 * check (dkim_key.c), the result mapping (dkim_result.c) and the body hashes
 * (dkim_bodyhash.c).
 * Threads: as dkim_eval.h. */
#ifndef SA_DKIM_INT_H
#define SA_DKIM_INT_H

#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dkim/dkim_eval.h"
#include "util/buf.h"

/* Body hashes (dkim_bodyhash.c): one canonicalization state per mode, feeding every
 * digest of that mode, each cut at its l= limit. init resets every field but the
 * buffers, so that the struct costs little to start. */
#define DKIM_BODYHASH_MAX DKIM_EVAL_MAX_TRACK /* distinct (c=, a=, l=): one per signature */
#define DKIM_BODYHASH_BUF 256                 /* canonical bytes gathered per digest update */
struct dkim_bh_canon {
    int used; /* some signature needs this canonicalization */
    int relaxed;
    int cr;           /* the chunk ended in a CR not yet known to start a CRLF */
    int wsp;          /* relaxed: a WSP run not yet written */
    int content;      /* the current line has content (written) */
    uint64_t pending; /* empty lines held back (dropped at the end of the body) */
    uint64_t total;   /* canonical bytes of the whole body so far */
    size_t buflen;
    unsigned char buf[DKIM_BODYHASH_BUF];
};
struct dkim_bh_digest {
    int relaxed, sha1, failed;
    long long limit;        /* l=, or -1 */
    unsigned long long fed; /* bytes given to ctx */
    EVP_MD_CTX *ctx;
    unsigned int mdlen;
    unsigned char md[EVP_MAX_MD_SIZE];
};
struct dkim_bodyhash {
    struct dkim_bh_canon canon[2]; /* [0] simple, [1] relaxed */
    struct dkim_bh_digest *d[DKIM_BODYHASH_MAX]; /* made by want, freed by free */
    int n;
    int done, failed;
};
void dkim_bodyhash_init(struct dkim_bodyhash *h);
/* dkim_bodyhash_free - the digest contexts; h itself is the caller's. */
void dkim_bodyhash_free(struct dkim_bodyhash *h);
/* dkim_bodyhash_want - a digest of this canonicalization, hash and l= (limit < 0: none),
 * shared with an earlier identical request; its index, or -1 (out of memory, too many,
 * or the body has started). */
int dkim_bodyhash_want(struct dkim_bodyhash *h, int relaxed, int sha1, long long limit);
/* dkim_bodyhash_count - count this canonicalization's length even with no digest. */
void dkim_bodyhash_count(struct dkim_bodyhash *h, int relaxed);
/* dkim_bodyhash_add - one body chunk, any size, split anywhere. */
void dkim_bodyhash_add(struct dkim_bodyhash *h, const unsigned char *p, size_t n);
/* dkim_bodyhash_end - end of body: finish every digest. 0, or -1 when one failed. */
int dkim_bodyhash_end(struct dkim_bodyhash *h);
/* dkim_bodyhash_get - digest i after end (borrowed, valid until free); NULL if failed. */
const unsigned char *dkim_bodyhash_get(const struct dkim_bodyhash *h, int i, size_t *len);
/* dkim_bodyhash_total - canonical length of the whole body (after end), of a mode that
 * was wanted or counted. */
uint64_t dkim_bodyhash_total(const struct dkim_bodyhash *h, int relaxed);

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

/* What the body needs from one evaluated signature (dkim_eval.c, at the first body chunk). */
struct dkim_bodysig {
    uint64_t l;
    signed char digest;    /* index in struct dkim_bodyhash, or -1 */
    unsigned char known;   /* set up: the fields below hold */
    unsigned char relaxed; /* body c= */
    unsigned char has_l;
    short eoh_err; /* dkim_sig_geterror after end of header */
    short err;     /* after dkim_eom: the signature's error (dkim_eval.c body_error) */
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
    int body_ready;              /* the body hashes are set up (body_setup) */
    struct dkim_bodysig body[DKIM_EVAL_MAX_TRACK]; /* per slot, for the body hash */
    struct dkim_bodyhash bh;
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
