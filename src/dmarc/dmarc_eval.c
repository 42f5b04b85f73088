/* dmarc_eval.c - DMARC evaluation of one message: policy discovery (RFC 7489 6.6.3 with
 * the PSL, or the RFC 9989 4.10 tree walk), effective policy (p/sp/np), identifier
 * alignment of the SPF and DKIM results, and the verdict.
 * Owns struct dmarc_res filling; not record syntax (dmarc_record.c), the DNS query
 * sequence (dmarc_walk.c), or enforcement (the caller decides what to do with policy).
 * Threads: reentrant; no globals, no clock, no logging; only the given struct dns.
 * Stack: with the PSL a call needs well under 1 KB of its own; the tree walk's state
 * (about 7 KB) lives in a frame of its own that only the tree-walk mode enters, so
 * the default mode does not touch those stack pages on any of the daemon's threads. */
#include <stdio.h>
#include <string.h>

#include "dmarc/dmarc.h"
#include "util/xalloc.h"

/* Organizational domains already walked for identifiers of this message. */
struct walk_cache {
    int n;
    struct {
        char domain[DNS_MAX_NAME + 1];
        short org; /* the organizational domain is domain + org; -1 none */
        int tempfail;
    } e[DMARC_MAX_ALIGN_WALKS];
};

/* State of the tree-walk mode only (see the header comment). */
struct tree {
    struct walk_cache cache;
    struct dmarc_walk walk; /* scratch walk */
};

/* Per-call state, kept off the caller's struct. */
struct eval {
    const struct dmarc_in *in;
    struct dns *dns;
    struct dmarc_res *out;
    char from[DNS_MAX_NAME + 1];
    int org_uncertain;  /* the author's tree walk ended on a DNS failure */
    int align_tempfail; /* an identifier's tree walk ended on a DNS failure */
    struct tree *tree;  /* NULL with the PSL */
};

static int run(struct eval *e);
static int run_tree(struct eval *e) __attribute__((noinline));
static int discover_psl(struct eval *e);
static int discover_walk(struct eval *e);
static void choose_policy(struct eval *e);
static int aligned(struct eval *e, const char *id, int strict);
static int walk_org(struct eval *e, const char *id, char *org, size_t orglen);
static void finish(struct dmarc_res *out, enum auth_res r, const char *reason);

/* finish - set the verdict and its reason */
static void finish(struct dmarc_res *out, enum auth_res r, const char *reason)
{
    out->result = r;
    sa_strlcpy(out->reason, reason, sizeof(out->reason));
}

/* discover_psl - RFC 7489 6.6.3: the From domain, then its PSL organizational domain.
 * 0 when a record applies (out->rec filled), -1 when the verdict is already final. */
static int discover_psl(struct eval *e)
{
    struct dmarc_res *out = e->out;
    char why[sizeof(out->reason)];
    enum dmarc_lookup lk;

    if (orgdomain_get(e->in->org, e->from, out->org_domain, sizeof(out->org_domain)) < 0)
        sa_strlcpy(out->org_domain, e->from, sizeof(out->org_domain));
    lk = dmarc_lookup_name(e->dns, e->from, &out->rec, why, sizeof(why));
    switch (lk) {
    case DMARC_LOOKUP_FOUND:
        sa_strlcpy(out->record_domain, e->from, sizeof(out->record_domain));
        return 0;
    case DMARC_LOOKUP_TEMP:
        finish(out, AUTH_TEMPERROR, why);
        return -1;
    case DMARC_LOOKUP_INVALID: /* step 6: no DMARC processing for this message */
        finish(out, AUTH_NONE, why);
        return -1;
    case DMARC_LOOKUP_MULTI: /* RFC 9989 4.10 step 2: discarded, go on to step 3 */
    case DMARC_LOOKUP_NONE:
        break;
    }
    if (dmarc_domain_equal(out->org_domain, e->from)) {
        finish(out, AUTH_NONE, lk == DMARC_LOOKUP_MULTI ? why : "no DMARC record");
        return -1;
    }
    lk = dmarc_lookup_name(e->dns, out->org_domain, &out->rec, why, sizeof(why));
    switch (lk) {
    case DMARC_LOOKUP_FOUND:
        sa_strlcpy(out->record_domain, out->org_domain, sizeof(out->record_domain));
        return 0;
    case DMARC_LOOKUP_TEMP:
        finish(out, AUTH_TEMPERROR, why);
        return -1;
    case DMARC_LOOKUP_INVALID:
    case DMARC_LOOKUP_MULTI:
        finish(out, AUTH_NONE, why);
        return -1;
    case DMARC_LOOKUP_NONE:
        break;
    }
    finish(out, AUTH_NONE, "no DMARC record");
    return -1;
}

/* discover_walk - RFC 9989 4.10.1: the Author Domain's record, else the record of its
 * Organizational Domain, else that of its Public Suffix Domain. Same return as above. */
static int discover_walk(struct eval *e)
{
    struct dmarc_res *out = e->out;
    struct dmarc_walk *w = &e->tree->walk;
    const struct dmarc_record *rec;
    int pick = -1;

    if (dmarc_walk_run(e->dns, e->from, w) < 0) {
        finish(out, AUTH_PERMERROR, "invalid From domain");
        return -1;
    }
    if (w->start_status == DMARC_LOOKUP_TEMP) {
        finish(out, AUTH_TEMPERROR, w->start_reason);
        return -1;
    }
    if (w->start_status == DMARC_LOOKUP_INVALID) {
        finish(out, AUTH_NONE, w->start_reason);
        return -1;
    }
    e->org_uncertain = w->tempfail;
    dmarc_walk_orgdomain(w, e->from, out->org_domain, sizeof(out->org_domain));
    if (w->start_status == DMARC_LOOKUP_FOUND) {
        pick = 0;
    } else {
        if (w->tempfail) {
            finish(out, AUTH_TEMPERROR, "DNS failure during the DMARC tree walk");
            return -1;
        }
        for (int i = 0; i < w->nfound && pick < 0; i++)
            if (dmarc_domain_equal(dmarc_walk_domain(w, i), out->org_domain))
                pick = i;
        for (int i = 0; i < w->nfound && pick < 0; i++)
            if (w->found[i].psd == 1)
                pick = i; /* the Public Suffix Domain's record */
    }
    if (pick < 0) {
        finish(out, AUTH_NONE, "no DMARC record");
        return -1;
    }
    if ((rec = dmarc_walk_record(w, pick)) == NULL) { /* dmarc.h: cannot happen */
        finish(out, AUTH_TEMPERROR, "internal: DMARC record not kept by the walk");
        return -1;
    }
    out->rec = *rec;
    sa_strlcpy(out->record_domain, dmarc_walk_domain(w, pick), sizeof(out->record_domain));
    return 0;
}

/* choose_policy - p at the Author Domain; for a subdomain np when it does not exist,
 * else sp, else p (RFC 7489 6.3 sp, RFC 9989 4.7 np/sp and 4.10.1). */
static void choose_policy(struct eval *e)
{
    struct dmarc_res *out = e->out;
    const struct dmarc_record *r = &out->rec;
    struct dns_answer *ans = NULL;

    if (dmarc_domain_equal(out->record_domain, e->from)) {
        out->policy = r->p;
        out->policy_tag = "p";
        return;
    }
    /* RFC 9989 3.2.13: NXDOMAIN (RFC 8020) means the name and everything below it do not
     * exist, whatever the type asked; one A query answers it. A failure counts as exists. */
    if (dns_query(e->dns, e->from, DNS_T_A, &ans) == DNS_NXDOMAIN)
        out->from_nxdomain = 1;
    dns_answer_free(ans);
    if (out->from_nxdomain && r->np != DMARC_POLICY_UNSPEC) {
        out->policy = r->np;
        out->policy_tag = "np";
    } else if (r->sp != DMARC_POLICY_UNSPEC) {
        out->policy = r->sp;
        out->policy_tag = "sp";
    } else {
        out->policy = r->p;
        out->policy_tag = "p";
    }
}

/* walk_org - organizational domain of an identifier by tree walk, cached per message.
 * 0, or -1 when it could not be determined (DNS failure or cache full). */
static int walk_org(struct eval *e, const char *id, char *org, size_t orglen)
{
    struct walk_cache *c = &e->tree->cache;
    struct dmarc_walk *w = &e->tree->walk;
    int i;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->e[i].domain, id) == 0)
            break;
    if (i == c->n) {
        if (c->n >= DMARC_MAX_ALIGN_WALKS)
            return -1;
        sa_strlcpy(c->e[i].domain, id, sizeof(c->e[i].domain));
        c->e[i].org = -1;
        /* The walk runs over the cached copy: its organizational domain is a suffix. */
        if (dmarc_walk_run(e->dns, c->e[i].domain, w) == 0)
            c->e[i].org = (short)(dmarc_walk_org(w, c->e[i].domain) - c->e[i].domain);
        c->e[i].tempfail = w->tempfail;
        c->n++;
    }
    if (c->e[i].tempfail) {
        e->align_tempfail = 1;
        return -1;
    }
    if (c->e[i].org < 0 || sa_strlcpy(org, c->e[i].domain + c->e[i].org, orglen) >= orglen)
        return -1;
    return 0;
}

/* aligned - Identifier Alignment of id with the From domain */
static int aligned(struct eval *e, const char *raw, int strict)
{
    char id[DNS_MAX_NAME + 1], org[DNS_MAX_NAME + 1];

    if (raw == NULL || dns_name_check(raw, id) < 0)
        return 0;
    if (dmarc_domain_equal(id, e->from))
        return 1;
    if (strict)
        return 0;
    if (!e->in->tree_walk)
        return dmarc_aligned(e->in->org, e->from, id, 0);
    /* RFC 9989 4.10.2. An organizational domain is a suffix of its name, so an identifier
     * outside the author's organizational domain cannot align: no walk for it. */
    if (!dmarc_domain_under(id, e->out->org_domain))
        return 0;
    if (walk_org(e, id, org, sizeof(org)) < 0)
        return 0;
    return dmarc_domain_equal(org, e->out->org_domain);
}

/* dmarc_eval - input checks, then run() in the frame the discovery mode needs */
int dmarc_eval(const struct dmarc_in *in, struct dns *dns, struct dmarc_res *out)
{
    struct eval e;

    memset(out, 0, sizeof(*out));
    out->result = AUTH_NONE;
    out->policy_tag = "";
    if (in == NULL || in->from_domain == NULL || in->from_domain[0] == '\0') {
        finish(out, AUTH_PERMERROR, "no From domain");
        return 0;
    }
    if (dns == NULL || (!in->tree_walk && in->org == NULL)) {
        finish(out, AUTH_TEMPERROR, "internal: no DNS or no public suffix list");
        return -1;
    }
    e.in = in;
    e.dns = dns;
    e.out = out;
    e.org_uncertain = 0;
    e.align_tempfail = 0;
    e.tree = NULL;
    if (dns_name_check(in->from_domain, e.from) < 0) {
        finish(out, AUTH_PERMERROR, "invalid From domain");
        return 0;
    }
    return in->tree_walk ? run_tree(&e) : run(&e);
}

/* run_tree - run() with the tree-walk state in this (separate) frame */
static int run_tree(struct eval *e)
{
    struct tree t;

    t.cache.n = 0;
    e->tree = &t;
    return run(e);
}

/* run - discovery, policy, alignment, verdict */
static int run(struct eval *e)
{
    const struct dmarc_in *in = e->in;
    struct dmarc_res *out = e->out;
    const struct dmarc_record *r;

    if ((in->tree_walk ? discover_walk(e) : discover_psl(e)) < 0)
        return 0;
    out->has_record = 1;
    r = &out->rec;
    choose_policy(e);

    if (in->spf == AUTH_PASS && aligned(e, in->spf_domain, r->aspf_strict))
        out->spf_aligned = 1;
    for (int i = 0; in->dkim != NULL && i < in->ndkim; i++) {
        const struct dmarc_dkim_in *d = &in->dkim[i];

        if (d->result != AUTH_PASS || !d->full_body || d->domain == NULL)
            continue;
        if (aligned(e, d->domain, r->adkim_strict)) {
            out->dkim_aligned = 1;
            if (dns_name_check(d->domain, out->dkim_aligned_domain) < 0)
                sa_strlcpy(out->dkim_aligned_domain, d->domain, sizeof(out->dkim_aligned_domain));
            break;
        }
    }
    if (out->dkim_aligned || out->spf_aligned) {
        char why[DNS_MAX_NAME + 64];

        if (out->dkim_aligned)
            snprintf(why, sizeof(why), "DKIM d=%s%s aligned", out->dkim_aligned_domain,
                     out->spf_aligned ? " and SPF" : "");
        else
            snprintf(why, sizeof(why), "SPF aligned");
        finish(out, AUTH_PASS, why);
    } else if (e->org_uncertain || e->align_tempfail) {
        finish(out, AUTH_TEMPERROR, "DNS failure while determining alignment");
    } else {
        finish(out, AUTH_FAIL, "no aligned identifier");
    }
    return 0;
}
