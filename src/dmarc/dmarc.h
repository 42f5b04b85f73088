/* dmarc.h - DMARC (RFC 7489, RFC 9989 compatible): record parsing, alignment,
 * organizational domain and evaluation. Evaluators are functions of (input, dns).
 * Threads: struct orgdomain is immutable after orgdomain_new and shared; the rest reentrant. */
#ifndef SA_DMARC_H
#define SA_DMARC_H

#include <stddef.h>

#include "dns/dns.h"
#include "senderauth/result.h"

#define DMARC_MAX_RECORDS_SEEN 10 /* TXT records examined at one name */
#define DMARC_TREE_WALK_MAX 8     /* RFC 9989 4.10: at most 8 lookups in the tree walk */

enum dmarc_policy {
    DMARC_POLICY_UNSPEC = 0,  /* tag absent */
    DMARC_POLICY_NONE,
    DMARC_POLICY_QUARANTINE,
    DMARC_POLICY_REJECT,
};

struct dmarc_record {
    enum dmarc_policy p, sp, np; /* sp/np UNSPEC when absent */
    int pct;                     /* 0..100, default 100 */
    int adkim_strict, aspf_strict;
    int testing;                 /* t=y (RFC 9989) */
    int psd;                     /* psd=y (RFC 9989); -1 absent, 0 n, 1 y */
    char rua[512];
    char ruf[512];
    char fo[16];
};

/* dmarc_parse_record - strict parse of one TXT string. 0 and *out filled when valid;
 * -1 with reason when it is not a DMARC record or is malformed. */
int dmarc_parse_record(const char *txt, size_t len, struct dmarc_record *out, char *reason,
                       size_t reasonlen);
const char *dmarc_policy_name(enum dmarc_policy p); /* "none" "quarantine" "reject" "" */

/* Organizational domain (libpsl). */
struct orgdomain;
/* orgdomain_new - load the PSL at path (NULL or unreadable: libpsl's built-in list). */
struct orgdomain *orgdomain_new(const char *psl_path);
void orgdomain_free(struct orgdomain *o);
/* orgdomain_get - registrable domain of name (lower-cased first) into out. 0 or -1. */
int orgdomain_get(const struct orgdomain *o, const char *name, char *out, size_t outlen);

/* One authenticated identifier as DMARC sees it. */
struct dmarc_dkim_in {
    enum auth_res result;
    const char *domain;   /* d= */
    int full_body;        /* l= signatures with partial coverage never align */
};

struct dmarc_in {
    const char *from_domain;        /* from the From parser; lower-case A-label */
    enum auth_res spf;              /* SPF result for the MAIL FROM identity */
    const char *spf_domain;         /* MAIL FROM domain (or HELO when reverse-path is null) */
    const struct dmarc_dkim_in *dkim;
    int ndkim;
    const struct orgdomain *org;
    int tree_walk;                  /* 1: RFC 9989 tree walk instead of PSL */
};

struct dmarc_res {
    enum auth_res result;           /* pass fail none temperror permerror */
    struct dmarc_record rec;        /* valid when has_record */
    int has_record;
    enum dmarc_policy policy;       /* effective policy for this From domain (p, sp or np) */
    char record_domain[256];        /* where the record was found */
    char org_domain[256];
    int spf_aligned;
    int dkim_aligned;
    char dkim_aligned_domain[256];
    char reason[128];
};

/* dmarc_eval - evaluate; always fills *out. Returns 0, or -1 on internal error. */
int dmarc_eval(const struct dmarc_in *in, struct dns *dns, struct dmarc_res *out);

/* dmarc_aligned - 1 when a and b align (relaxed: same org domain; strict: equal). */
int dmarc_aligned(const struct orgdomain *o, const char *a, const char *b, int strict);

#endif
