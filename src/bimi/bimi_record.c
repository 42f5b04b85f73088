/* bimi_record.c - the BIMI assertion record (v=BIMI1; l=...; a=...) and its TXT lookup at
 * <selector>._bimi.<domain>, the BIMI-Selector field, and the result words.
 * Owns the record syntax and the query of one name; not the order of names (bimi_eval.c)
 * nor what the URIs lead to.
 * Threads: reentrant; no allocation except the answers the dns layer returns (freed). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bimi/bimi.h"
#include "util/xalloc.h"

#define BIMI_MAX_TAGS 16 /* tags examined in one record */

static size_t trim(const char **p, size_t n);
static int uri_ok(const char *v, size_t n);
static int is_record(const char *txt, size_t len);
static int label_ok(const char *s, size_t n);
static int take_uri(char *dst, int *seen, char tag, const char *v, size_t vn, char *reason,
                    size_t reasonlen);

const char *bimi_result_name(enum bimi_result r)
{
    static const char *const names[] = {"none", "pass", "fail", "temperror", "skipped"};

    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "fail";
}

const char *bimi_authority_name(enum bimi_authority a)
{
    return a == BIMI_AUTH_VMC ? "vmc" : a == BIMI_AUTH_CMC ? "cmc" : "";
}

/* trim - drop leading and trailing white space of *p/n; returns the new length */
static size_t trim(const char **p, size_t n)
{
    while (n > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        n--;
    }
    while (n > 0 && ((*p)[n - 1] == ' ' || (*p)[n - 1] == '\t'))
        n--;
    return n;
}

/* uri_ok - an https: URI of printable ASCII without spaces, at most BIMI_MAX_URI */
static int uri_ok(const char *v, size_t n)
{
    if (n <= 8 || n > BIMI_MAX_URI || strncasecmp(v, "https://", 8) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f || v[i] == ',')
            return 0;
    return 1;
}

/* is_record - the TXT string starts with the v=BIMI1 tag */
static int is_record(const char *txt, size_t len)
{
    const char *p = txt;
    size_t n = len, k;

    n = trim(&p, n);
    if (n < 7 || p[0] != 'v' || p[1] == '\0')
        return 0;
    p++;
    n--;
    k = trim(&p, n);
    if (k == 0 || *p != '=')
        return 0;
    p++;
    n = trim(&p, k - 1);
    return n >= 5 && strncmp(p, "BIMI1", 5) == 0 &&
           (n == 5 || p[5] == ';' || p[5] == ' ' || p[5] == '\t');
}

/* take_uri - the value of an l= or a= tag (given once; empty, or one https URI) into dst
 * (BIMI_MAX_URI + 1 bytes) */
static int take_uri(char *dst, int *seen, char tag, const char *v, size_t vn, char *reason,
                    size_t reasonlen)
{
    if ((*seen)++)
        return sa_reason(reason, reasonlen, "duplicate %c= tag", tag);
    if (vn > 0 && !uri_ok(v, vn))
        return sa_reason(reason, reasonlen, "%c= is not one https URI", tag);
    memcpy(dst, v, vn);
    dst[vn] = '\0';
    return 0;
}

/* bimi_parse_record - see bimi.h */
int bimi_parse_record(const char *txt, size_t len, struct bimi_record *out, char *reason,
                      size_t reasonlen)
{
    const char *p = txt, *end = txt + len;
    int ntag = 0, seen_l = 0, seen_a = 0;

    memset(out, 0, sizeof(*out));
    if (memchr(txt, '\0', len) != NULL)
        return sa_reason(reason, reasonlen, "NUL in record");
    if (!is_record(txt, len))
        return sa_reason(reason, reasonlen, "not a v=BIMI1 record");
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *t = p, *eq, *v;
        size_t tn = (size_t)((semi ? semi : end) - p), nn, vn;

        p = semi ? semi + 1 : end;
        if ((tn = trim(&t, tn)) == 0)
            continue;
        if (++ntag > BIMI_MAX_TAGS)
            return sa_reason(reason, reasonlen, "too many tags");
        if ((eq = memchr(t, '=', tn)) == NULL)
            return sa_reason(reason, reasonlen, "tag without '='");
        nn = (size_t)(eq - t);
        nn = trim(&t, nn);
        v = eq + 1;
        vn = trim(&v, tn - (size_t)(eq + 1 - t));
        if (nn == 1 && (t[0] == 'l' || t[0] == 'a') &&
            take_uri(t[0] == 'l' ? out->l : out->a, t[0] == 'l' ? &seen_l : &seen_a, t[0], v, vn,
                     reason, reasonlen) < 0)
            return -1;
    }
    out->declined = out->l[0] == '\0';
    return 0;
}

/* label_ok - one DNS label of letters, digits, '-' and '_' */
static int label_ok(const char *s, size_t n)
{
    if (n == 0 || n > BIMI_MAX_SELECTOR)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* bimi_parse_selector - see bimi.h */
int bimi_parse_selector(const char *value, char *out, size_t outlen)
{
    const char *p = value, *s;
    size_t n;

    if (value == NULL || outlen == 0 || !is_record(value, strlen(value)))
        return -1;
    while ((s = strchr(p, ';')) != NULL) {
        p = s + 1;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (p[0] != 's')
            continue;
        s = p + 1;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s != '=')
            continue;
        s++;
        while (*s == ' ' || *s == '\t')
            s++;
        n = strcspn(s, "; \t\r\n");
        if (!label_ok(s, n) || n >= outlen)
            return -1;
        for (size_t i = 0; i < n; i++)
            out[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
        out[n] = '\0';
        return 0;
    }
    return -1;
}

/* bimi_lookup_name - see bimi.h */
enum bimi_lookup bimi_lookup_name(struct dns *dns, const char *selector, const char *domain,
                                  struct bimi_record *rec, char *reason, size_t reasonlen)
{
    char qname[DNS_MAX_NAME + 16];
    struct dns_answer *ans = NULL;
    enum dns_status st;
    enum bimi_lookup res = BIMI_LOOKUP_NONE;
    const struct dns_rr *one = NULL;
    int nbimi = 0, n;

    if (reason != NULL && reasonlen > 0)
        reason[0] = '\0';
    n = snprintf(qname, sizeof(qname), "%s._bimi.%s", selector, domain);
    if (n < 0 || (size_t)n >= sizeof(qname) || n > DNS_MAX_NAME - 2) {
        sa_reason(reason, reasonlen, "_bimi name too long");
        return BIMI_LOOKUP_NONE;
    }
    st = dns_query(dns, qname, DNS_T_TXT, &ans);
    if (st == DNS_NXDOMAIN || st == DNS_NODATA) {
        sa_reason(reason, reasonlen, "no BIMI record");
        return BIMI_LOOKUP_NONE;
    }
    if (st != DNS_OK) {
        dns_answer_free(ans);
        sa_reason(reason, reasonlen, "DNS %s for %s", dns_status_name(st), qname);
        return BIMI_LOOKUP_TEMP;
    }
    for (int i = 0; ans != NULL && i < ans->nrr; i++) {
        const struct dns_rr *r = &ans->rr[i];
        if (r->type == DNS_T_TXT && is_record(r->u.txt.data, r->u.txt.len)) {
            nbimi++;
            one = r;
        }
    }
    if (nbimi > 1 || (nbimi == 1 && ans->truncated)) {
        sa_reason(reason, reasonlen, "multiple BIMI records");
    } else if (nbimi == 0) {
        sa_reason(reason, reasonlen, "no BIMI record");
    } else {
        char why[96] = "";
        if (bimi_parse_record(one->u.txt.data, one->u.txt.len, rec, why, sizeof(why)) == 0) {
            res = BIMI_LOOKUP_FOUND;
        } else {
            sa_reason(reason, reasonlen, "invalid BIMI record: %s", why);
            res = BIMI_LOOKUP_INVALID;
        }
    }
    dns_answer_free(ans);
    return res;
}
