/* dmarc_walk.c - DMARC record discovery in the DNS: the TXT lookup at one _dmarc name
 * (RFC 7489 6.6.3 steps 1-2, RFC 9989 4.10 steps 1-2) and the RFC 9989 4.10 DNS tree
 * walk with the 4.10.2 organizational-domain selection.
 * Owns the query sequence; not policy selection or alignment (dmarc_eval.c).
 * Threads: reentrant; uses only the struct dns it is given; no allocation except the
 * answers the dns layer returns (freed here). Label offsets are kept as bytes (a name
 * is at most DNS_MAX_NAME characters) to keep the frames small. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dmarc/dmarc.h"
#include "util/xalloc.h"

#define DMARC_PREFIX "_dmarc." /* RFC 7489 6.1 */
#define MAX_LABELS 128 /* a 253-character name has at most 127 labels */

static int label_starts(const char *name, unsigned char *starts, int max);
static int kept_slot(const struct dmarc_walk *w, int i);
static const char *suffix_labels(const char *name, int keep);
static void set_reason(char *reason, size_t reasonlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* set_reason - format a reason comment when the caller wants one; a long name is cut
 * (the reason is a comment for logs and the A-R, never parsed) */
static void set_reason(char *reason, size_t reasonlen, const char *fmt, ...)
{
    va_list ap;

    if (reason == NULL || reasonlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(reason, reasonlen, fmt, ap);
    va_end(ap);
}

/* dmarc_lookup_name - the v=DMARC1 records at _dmarc.<domain>, reduced to one verdict */
enum dmarc_lookup dmarc_lookup_name(struct dns *dns, const char *domain, struct dmarc_record *rec,
                                    char *reason, size_t reasonlen)
{
    char qname[DNS_MAX_NAME + 16];
    struct dns_answer *ans = NULL;
    enum dns_status st;
    enum dmarc_lookup res = DMARC_LOOKUP_NONE;
    int ndmarc = 0;
    size_t dlen;
    const struct dns_rr *one = NULL;

    if (reason != NULL && reasonlen > 0)
        reason[0] = '\0';
    /* "_dmarc." + domain without snprintf: this runs for every message. */
    dlen = strlen(domain);
    if (sizeof(DMARC_PREFIX) - 1 + dlen > DNS_MAX_NAME - 2) {
        if (reason != NULL)
            snprintf(reason, reasonlen, "_dmarc name too long");
        return DMARC_LOOKUP_NONE; /* cannot exist on the wire */
    }
    memcpy(qname, DMARC_PREFIX, sizeof(DMARC_PREFIX) - 1);
    memcpy(qname + sizeof(DMARC_PREFIX) - 1, domain, dlen + 1);
    st = dns_query(dns, qname, DNS_T_TXT, &ans);
    switch (st) {
    case DNS_OK:
        break;
    case DNS_NXDOMAIN:
    case DNS_NODATA:
        dns_answer_free(ans);
        return DMARC_LOOKUP_NONE;
    case DNS_TEMPFAIL:
    case DNS_BADREPLY:
    default:
        dns_answer_free(ans);
        set_reason(reason, reasonlen, "DNS %s for %s", dns_status_name(st), qname);
        return DMARC_LOOKUP_TEMP;
    }
    for (int i = 0; ans != NULL && i < ans->nrr; i++) {
        const struct dns_rr *r = &ans->rr[i];

        if (r->type != DNS_T_TXT || !dmarc_is_record(r->u.txt.data, r->u.txt.len))
            continue; /* RFC 7489 6.6.3 step 2: other TXT records are discarded */
        ndmarc++;
        one = r;
    }
    /* More than DNS_MAX_RRS records: a dropped one may be a second DMARC record. */
    if (ndmarc > 1 || (ndmarc == 1 && ans->truncated)) {
        set_reason(reason, reasonlen, "multiple DMARC records at %s", qname);
        res = DMARC_LOOKUP_MULTI;
    } else if (ndmarc == 1) {
        char why[64];

        if (dmarc_parse_record(one->u.txt.data, one->u.txt.len, rec, why, sizeof(why)) == 0) {
            res = DMARC_LOOKUP_FOUND;
        } else {
            set_reason(reason, reasonlen, "invalid DMARC record at %s: %s", qname, why);
            res = DMARC_LOOKUP_INVALID;
        }
    }
    dns_answer_free(ans);
    return res;
}

/* label_starts - offsets of each label of name, left to right; count or -1 */
static int label_starts(const char *name, unsigned char *starts, int max)
{
    int n = 0;

    for (size_t i = 0; name[i] != '\0'; i++) {
        if (i > DNS_MAX_NAME)
            return -1;
        if (i == 0 || name[i - 1] == '.') {
            if (n >= max)
                return -1;
            starts[n++] = (unsigned char)i;
        }
    }
    return n;
}

/* kept_slot - where the record of found entry i is (or would be) kept: slot 0 for the
 * start's own record, else slots 1 and 2 by turns (so the last two found stay) */
static int kept_slot(const struct dmarc_walk *w, int i)
{
    if (i == 0 && w->start_status == DMARC_LOOKUP_FOUND)
        return 0;
    return 1 + (i & 1);
}

/* suffix_labels - the right-most keep labels of name (a pointer into it) */
static const char *suffix_labels(const char *name, int keep)
{
    unsigned char starts[MAX_LABELS];
    int n = label_starts(name, starts, MAX_LABELS);

    if (n <= 0 || keep <= 0)
        return name + strlen(name);
    if (keep >= n)
        return name;
    return name + starts[n - keep];
}

/* dmarc_walk_run - RFC 9989 4.10 steps 1-7 */
int dmarc_walk_run(struct dns *dns, const char *start, struct dmarc_walk *w)
{
    unsigned char starts[MAX_LABELS];
    struct dmarc_record *scratch = &w->kept[DMARC_WALK_KEPT];
    int x, keep;

    /* Not a memset: the kept records are written only when found. */
    w->start = start;
    w->nqueries = 0;
    w->tempfail = 0;
    w->nfound = 0;
    w->start_status = DMARC_LOOKUP_NONE;
    w->start_reason[0] = '\0';
    if (start == NULL || start[0] == '\0' || (x = label_starts(start, starts, MAX_LABELS)) <= 0)
        return -1;
    /* Label counts to query: x, then min(x - 1, 7) down to 1 (step 4: at most 8). */
    for (keep = x; keep >= 1 && w->nqueries < DMARC_TREE_WALK_MAX;) {
        unsigned char off = starts[x - keep];
        char why[96];
        enum dmarc_lookup lk;

        lk = dmarc_lookup_name(dns, start + off, scratch, why, sizeof(why));
        if (w->nqueries == 0) {
            w->start_status = (int)lk;
            sa_strlcpy(w->start_reason, why, sizeof(w->start_reason));
        }
        w->nqueries++;
        if (lk == DMARC_LOOKUP_TEMP) {
            w->tempfail = 1;
            break; /* "could not find out": the walk is incomplete */
        }
        if (lk == DMARC_LOOKUP_FOUND && w->nfound < DMARC_TREE_WALK_MAX) {
            w->found[w->nfound].off = off;
            w->found[w->nfound].psd = scratch->psd;
            w->kept[kept_slot(w, w->nfound)] = *scratch;
            w->nfound++;
            if (scratch->psd == 0 || scratch->psd == 1)
                break; /* steps 2 and 6: a single record with psd=n or psd=y stops */
        }
        keep = keep == x && x >= DMARC_TREE_WALK_MAX ? DMARC_TREE_WALK_MAX - 1 : keep - 1;
    }
    return 0;
}

/* dmarc_walk_domain - see dmarc.h */
const char *dmarc_walk_domain(const struct dmarc_walk *w, int i)
{
    return w->start + w->found[i].off;
}

/* dmarc_walk_record - see dmarc.h */
const struct dmarc_record *dmarc_walk_record(const struct dmarc_walk *w, int i)
{
    if (i < 0 || i >= w->nfound)
        return NULL;
    if (kept_slot(w, i) == 0 || i >= w->nfound - 2)
        return &w->kept[kept_slot(w, i)];
    return NULL;
}

/* dmarc_walk_org - RFC 9989 4.10.2 selection, longest to shortest */
const char *dmarc_walk_org(const struct dmarc_walk *w, const char *start)
{
    for (int i = 0; i < w->nfound; i++) {
        const char *d = start + w->found[i].off;

        if (w->found[i].psd == 0) /* rule 1 */
            return d;
        if (w->found[i].psd == 1 && !dmarc_domain_equal(d, start)) { /* rule 2 */
            unsigned char lab[MAX_LABELS];
            int n = label_starts(d, lab, MAX_LABELS);

            return suffix_labels(start, n + 1);
        }
    }
    if (w->nfound > 0) /* rule 3: the record at the name with the fewest labels */
        return start + w->found[w->nfound - 1].off;
    return start;
}

/* dmarc_walk_orgdomain - dmarc_walk_org copied into out */
int dmarc_walk_orgdomain(const struct dmarc_walk *w, const char *start, char *out, size_t outlen)
{
    if (sa_strlcpy(out, dmarc_walk_org(w, start), outlen) >= outlen)
        return -1;
    return 0;
}
