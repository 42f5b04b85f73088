/* dkim_int.h - what the files of src/dkim share and nobody else sees: the per-message
 * struct, the key lookup callback (dkim_dns.c), the result mapping (dkim_result.c) and
 * the canonical body length counter (dkim_bodylen.c).
 * Threads: as dkim_eval.h. */
#ifndef SA_DKIM_INT_H
#define SA_DKIM_INT_H

#include <opendkim/dkim.h>
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

/* Why our key lookup did not hand libopendkim a key (it then sees "no key"). */
enum dkim_lookup {
    LOOKUP_NONE = 0, /* nothing to add: libopendkim's own result stands */
    LOOKUP_TEMPFAIL, /* DNS could not find out */
    LOOKUP_BADNAME,  /* d= or s= is not a domain name: no query made */
    LOOKUP_TOOLARGE, /* record longer than libopendkim's key buffer */
    LOOKUP_MULTI,    /* more than one TXT record at the name */
    LOOKUP_BADDATA,  /* record holds a NUL */
};

struct dkim_slot {
    unsigned char fed;     /* the field reached libopendkim */
    unsigned char bad;     /* libopendkim refused its tag list */
    unsigned char toolong; /* not fed: over DKIM_EVAL_MAX_HEADER */
    unsigned char lookup;  /* enum dkim_lookup */
};

struct dkim_eval_lib {
    DKIM_LIB *lib;
    struct dkim_eval_conf conf;
};

struct dkim_eval {
    struct dkim_eval_lib *lib;
    DKIM *dkim;
    struct dns *dns;
    time_t now; /* verification time: conf.fixed_time or time() at new */
    int leadspace;
    int failed;  /* libopendkim state is unusable: results are temperror */
    int eoh;     /* dkim_eoh called */
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
 * the message's struct dns (found with dkim_get_user_context). Never returns
 * DKIM_CBSTAT_DEFAULT, so libopendkim's own resolver is never used. */
DKIM_CBSTAT dkim_dns_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen);
/* dkim_dns_key_rewrap - rec (len bytes, no NUL) with a bare PKCS#1 RSAPublicKey in p=
 * re-encoded as SubjectPublicKeyInfo into out. 1 rewritten, 0 nothing to do (out
 * untouched), -1 it would not fit in outsize. */
int dkim_dns_key_rewrap(const char *rec, size_t len, char *out, size_t outsize);
/* dkim_dns_name_ok - d= (two labels or more) or s= (one or more) is LDH syntax. */
int dkim_dns_name_ok(const char *name, int min_labels);
/* dkim_eval_slot_of - slot index of sig in the message's list, or -1. */
int dkim_eval_slot_of(struct dkim_eval *v, DKIM_SIGINFO *sig);

/* dkim_result_fill - map one libopendkim signature (sig may be NULL when it never
 * reached libopendkim) and our slot notes to a result. index is its position. */
void dkim_result_fill(struct dkim_eval *v, DKIM_SIGINFO *sig, const struct dkim_slot *slot,
                      int index, struct dkim_sig_res *out);

#endif
