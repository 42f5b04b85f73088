/* dmarc.h - DMARC (RFC 7489, RFC 9989 compatible): record parsing, alignment,
 * organizational domain and evaluation. Evaluators are functions of (input, dns).
 * Threads: struct orgdomain is immutable after orgdomain_new and shared; the rest reentrant.
 * Nothing here allocates per message except orgdomain_get's libpsl call (freed inside). */
#ifndef SA_DMARC_H
#define SA_DMARC_H

#include <stddef.h>

#include "dns/dns.h"
#include "senderauth/result.h"

#define DMARC_MAX_RECORDS_SEEN DNS_MAX_RRS /* TXT records examined at one name (all kept) */
#define DMARC_TREE_WALK_MAX 8              /* RFC 9989 4.10: at most 8 lookups in the tree walk */
#define DMARC_MAX_ALIGN_WALKS 8            /* distinct identifier domains walked per message */
#define DMARC_PCT_DEFAULT 100              /* RFC 7489 6.3 */

enum dmarc_policy {
    DMARC_POLICY_UNSPEC = 0, /* tag absent */
    DMARC_POLICY_NONE,
    DMARC_POLICY_QUARANTINE,
    DMARC_POLICY_REJECT,
};

struct dmarc_record {
    enum dmarc_policy p, sp, np; /* sp/np UNSPEC when absent */
    int pct;                     /* 0..100, default 100 (RFC 7489; removed by RFC 9989) */
    int adkim_strict, aspf_strict;
    int testing;       /* t=y (RFC 9989) */
    int psd;           /* psd=y (RFC 9989); -1 absent or "u", 0 n, 1 y */
    int p_implied;     /* p was missing/invalid and rua made it p=none (6.6.3 step 6) */
    int rua_truncated; /* rua/ruf longer than the buffer: cut at the last whole URI */
    int ruf_truncated;
    char rua[512]; /* the tag value as published (whitespace trimmed), "" absent */
    char ruf[512];
    char fo[16]; /* validated fo value, default "0" */
};

/* dmarc_parse_record - strict parse of one TXT string (character-strings already joined).
 * 0 and *out filled when it is a usable DMARC record; -1 with reason when it is not a
 * DMARC record (see dmarc_is_record) or is one that cannot be used: duplicate tag, or
 * no valid p (or an invalid sp/np) without a syntactically valid rua URI. Never allocates. */
int dmarc_parse_record(const char *txt, size_t len, struct dmarc_record *out, char *reason,
                       size_t reasonlen);
/* dmarc_is_record - 1 when txt starts with the "v=DMARC1" tag (RFC 7489 6.6.3 step 2,
 * RFC 9989 4.10 step 2), else 0. Such a record occupies its name even when unusable. */
int dmarc_is_record(const char *txt, size_t len);
const char *dmarc_policy_name(enum dmarc_policy p); /* "none" "quarantine" "reject" "" */

/* Organizational domain (libpsl). */
struct orgdomain;
/* orgdomain_new - load the PSL at path (NULL or unreadable: libpsl's built-in list).
 * NULL only when out of memory. Free with orgdomain_free. */
struct orgdomain *orgdomain_new(const char *psl_path);
/* orgdomain_free - NULL is a no-op; returns NULL. */
struct orgdomain *orgdomain_free(struct orgdomain *o);
/* orgdomain_get - registrable domain of name (lower-cased first, trailing dot ignored)
 * into out. 0, or -1 when name has none (it is a public suffix, empty, starts with a
 * dot) or out is too small. A name under an unknown TLD gets its last two labels
 * (the PSL's implicit "*" rule, RFC 7489 3.2). */
int orgdomain_get(const struct orgdomain *o, const char *name, char *out, size_t outlen);

/* One authenticated identifier as DMARC sees it. */
struct dmarc_dkim_in {
    enum auth_res result;
    const char *domain; /* d= */
    int full_body;      /* l= signatures with partial coverage never align */
};

struct dmarc_in {
    const char *from_domain; /* from the From parser; lower-case A-label */
    enum auth_res spf;       /* SPF result for the MAIL FROM identity */
    const char *spf_domain;  /* MAIL FROM domain (or HELO when reverse-path is null) */
    const struct dmarc_dkim_in *dkim;
    int ndkim;
    const struct orgdomain *org; /* required unless tree_walk */
    int tree_walk;               /* 1: RFC 9989 tree walk instead of PSL */
};

struct dmarc_res {
    enum auth_res result;    /* pass fail none temperror permerror */
    struct dmarc_record rec; /* valid when has_record */
    int has_record;
    enum dmarc_policy policy; /* effective policy for this From domain (p, sp or np) */
    const char *policy_tag;   /* "p", "sp", "np" (static string) or "" without record */
    int from_nxdomain;        /* the From domain does not exist (np applies) */
    char record_domain[256];  /* where the record was found */
    char org_domain[256];
    int spf_aligned;
    int dkim_aligned;
    char dkim_aligned_domain[256];
    char reason[128];
};

/* dmarc_eval - evaluate; always fills *out. Returns 0, or -1 on internal error (no PSL
 * without tree_walk), with out->result AUTH_TEMPERROR. Uses dns for _dmarc TXT queries,
 * one A query for the From domain's existence (np), and tree-walk queries. */
int dmarc_eval(const struct dmarc_in *in, struct dns *dns, struct dmarc_res *out);

/* dmarc_aligned - 1 when a and b align (relaxed: same org domain; strict: equal),
 * comparing case-insensitively and ignoring one trailing dot. A name that is itself a
 * public suffix is its own organizational domain here. */
int dmarc_aligned(const struct orgdomain *o, const char *a, const char *b, int strict);

/* dmarc_domain_equal - 1 when a and b are the same name (ASCII case-insensitive, one
 * trailing dot ignored on either), else 0. NULL never equals anything. */
int dmarc_domain_equal(const char *a, const char *b);
/* dmarc_domain_under - 1 when name equals parent or ends in "." parent (same rules). */
int dmarc_domain_under(const char *name, const char *parent);

/* ---- DNS side of discovery (dmarc_walk.c), exported for dmarc_eval and tests ---- */
enum dmarc_lookup {
    DMARC_LOOKUP_NONE = 0, /* no v=DMARC1 record (NXDOMAIN, NODATA, only other TXT) */
    DMARC_LOOKUP_FOUND,    /* exactly one, and it is usable: *rec filled */
    DMARC_LOOKUP_MULTI,    /* more than one v=DMARC1 record: all discarded (RFC 9989 4.10) */
    DMARC_LOOKUP_INVALID,  /* exactly one v=DMARC1 record, unusable (reason says why) */
    DMARC_LOOKUP_TEMP,     /* DNS_TEMPFAIL or DNS_BADREPLY */
};
/* dmarc_lookup_name - query TXT at _dmarc.<domain>. reason gets a short explanation. */
enum dmarc_lookup dmarc_lookup_name(struct dns *dns, const char *domain, struct dmarc_record *rec,
                                    char *reason, size_t reasonlen);

/* One RFC 9989 4.10 tree walk: the valid records found, longest name first. Of their
 * records the walk keeps only those discovery can pick (RFC 9989 4.10.1 with the 4.10.2
 * selection): the start's and the last two found (the walk ends at the first psd=y/n
 * record, so the organizational domain's record, when found, is one of those). That
 * keeps the struct, which lives on the evaluating thread's stack, near 5 KB. */
#define DMARC_WALK_KEPT 3
struct dmarc_walk {
    const char *start; /* as given to dmarc_walk_run (borrowed) */
    int nqueries;
    int tempfail; /* a query failed temporarily (walk incomplete) */
    int nfound;
    int start_status; /* enum dmarc_lookup of the first query (the start) */
    char start_reason[96];
    struct {
        unsigned short off; /* the name is start + off (a suffix of start) */
        int psd;            /* its record's psd (-1, 0, 1) */
    } found[DMARC_TREE_WALK_MAX];
    struct dmarc_record kept[DMARC_WALK_KEPT + 1]; /* the last one is the lookup's scratch */
};
/* dmarc_walk_run - walk from start (a valid lower-case name, borrowed until the walk
 * is no longer used) towards the root: at most DMARC_TREE_WALK_MAX queries, stopping at a
 * single valid record with psd=y or psd=n. 0, or -1 when start is not a valid name. */
int dmarc_walk_run(struct dns *dns, const char *start, struct dmarc_walk *w);
/* dmarc_walk_domain - the name of found record i (a pointer into start). */
const char *dmarc_walk_domain(const struct dmarc_walk *w, int i);
/* dmarc_walk_record - the record found at i when the walk kept it (the start's and the
 * last two found), else NULL. Valid until w is reused. */
const struct dmarc_record *dmarc_walk_record(const struct dmarc_walk *w, int i);
/* dmarc_walk_orgdomain - organizational domain from a finished walk (RFC 9989 4.10.2
 * selection rules 1-3; start itself when no rule applies) into out. 0 or -1 (too small). */
int dmarc_walk_orgdomain(const struct dmarc_walk *w, const char *start, char *out, size_t outlen);
/* dmarc_walk_org - the same organizational domain as a pointer into start (a suffix). */
const char *dmarc_walk_org(const struct dmarc_walk *w, const char *start);

#endif
