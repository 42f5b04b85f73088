/* summary.c - the X-Senderauth-* values: trust level, warning and trust mark from typed
 * results, and their bounded, sanitized text (docs/webmail-headers.md).
 * Owns the rules and the syntax of those values; not the lists (src/policy/lists.c),
 * nor adding or removing fields on the MTA (src/daemon/badge.c).
 * Threads: pure functions, reentrant. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "out/summary.h"
#include "util/xalloc.h"

#define DOMAIN_MAX 253 /* RFC 1035 2.3.4, without the trailing dot */
#define LABEL_MAX 63

static int lower(int c);
static int same_domain(const char *a, const char *b);
static int enforcing(enum dmarc_policy p);
static enum summary_basis trust_basis(const struct summary_in *in, const char *dom);

static const char *const level_names[] = {"fail",           "none",   "dmarc-monitor",
                                          "dmarc-enforced", "listed", "bimi"};

/* lower - ASCII tolower, locale-free */
static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* same_domain - ASCII case-insensitive equality, one trailing dot ignored on either */
static int same_domain(const char *a, const char *b)
{
    size_t na, nb;

    if (a == NULL || b == NULL)
        return 0;
    na = strlen(a);
    nb = strlen(b);
    if (na > 0 && a[na - 1] == '.')
        na--;
    if (nb > 0 && b[nb - 1] == '.')
        nb--;
    if (na != nb || na == 0)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

static int enforcing(enum dmarc_policy p)
{
    return p == DMARC_POLICY_QUARANTINE || p == DMARC_POLICY_REJECT;
}

/* trust_basis - the trust-mark rule: listed, and dmarc=pass, or no DMARC record and a
 * passing whole-body signature whose d= is the From domain */
static enum summary_basis trust_basis(const struct summary_in *in, const char *dom)
{
    if (!in->trust_listed || !in->dmarc_ran)
        return SUMMARY_MARK_NONE;
    if (in->dmarc->result == AUTH_PASS)
        return SUMMARY_MARK_DMARC;
    if (in->dmarc->result != AUTH_NONE || in->dmarc->has_record)
        return SUMMARY_MARK_NONE;
    for (int i = 0; i < in->ndkim; i++) {
        const struct dmarc_dkim_in *s = &in->dkim[i];
        if (s->result == AUTH_PASS && s->full_body && same_domain(s->domain, dom))
            return SUMMARY_MARK_AUTHOR_SIGNATURE;
    }
    return SUMMARY_MARK_NONE;
}

/* summary_eval - see summary.h */
void summary_eval(const struct summary_in *in, struct summary *out)
{
    char dom[256];
    int dom_ok, dkim_pass = 0, no_policy;
    const struct dmarc_res *d = in->dmarc_ran ? in->dmarc : NULL;

    memset(out, 0, sizeof(*out));
    dom_ok =
        in->from_domain != NULL && summary_sanitize_domain(in->from_domain, dom, sizeof(dom)) == 0;
    if (!in->from_ok || !dom_ok) {
        /* No single author domain: never a pass; warned when the first From is listed. */
        out->level = SUMMARY_FAIL;
        out->warning = dom_ok && in->warn_listed;
        return;
    }
    sa_strlcpy(out->from, dom, sizeof(out->from));
    if (d != NULL && d->result == AUTH_FAIL) {
        out->level = SUMMARY_FAIL;
        out->warning =
            in->warn_listed || (in->warn_on_enforcing && d->has_record && enforcing(d->policy));
        return;
    }
    out->mark = trust_basis(in, dom);
    if (in->bimi_pass && d != NULL && d->result == AUTH_PASS && in->bimi_authority != NULL &&
        (strcmp(in->bimi_authority, "vmc") == 0 || strcmp(in->bimi_authority, "cmc") == 0)) {
        out->level = SUMMARY_BIMI; /* the trust mark, when earned, is still written */
        sa_strlcpy(out->authority, in->bimi_authority, sizeof(out->authority));
        return;
    }
    if (out->mark != SUMMARY_MARK_NONE) {
        out->level = SUMMARY_LISTED;
        return;
    }
    if (d != NULL && d->result == AUTH_PASS) {
        out->level = enforcing(d->policy) && d->rec.pct >= 100 && !d->rec.testing
                         ? SUMMARY_DMARC_ENFORCED
                         : SUMMARY_DMARC_MONITOR;
        return;
    }
    for (int i = 0; i < in->ndkim; i++)
        dkim_pass |= in->dkim[i].result == AUTH_PASS;
    no_policy = d == NULL || (d->result == AUTH_NONE && !d->has_record);
    out->level = no_policy && in->spf == AUTH_FAIL && !dkim_pass ? SUMMARY_FAIL : SUMMARY_NONE;
}

/* summary_format_trust - see summary.h */
int summary_format_trust(const struct summary *s, char *out, size_t outlen)
{
    int n;

    if (s->from[0] != '\0' && s->level == SUMMARY_BIMI && s->authority[0] != '\0')
        n = snprintf(out, outlen, "level=%s; from=%s; authority=%s", summary_level_name(s->level),
                     s->from, s->authority);
    else if (s->from[0] != '\0')
        n = snprintf(out, outlen, "level=%s; from=%s", summary_level_name(s->level), s->from);
    else
        n = snprintf(out, outlen, "level=%s", summary_level_name(s->level));
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* summary_format_trustmark - see summary.h */
int summary_format_trustmark(const struct summary *s, char *out, size_t outlen)
{
    int n;

    if (s->mark == SUMMARY_MARK_NONE || s->from[0] == '\0')
        return -1;
    n = snprintf(out, outlen, "from=%s; basis=%s", s->from, summary_basis_name(s->mark));
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

const char *summary_level_name(enum summary_level l)
{
    if ((int)l < 0 || (size_t)l >= sizeof(level_names) / sizeof(level_names[0]))
        return "fail";
    return level_names[l];
}

const char *summary_basis_name(enum summary_basis b)
{
    switch (b) {
    case SUMMARY_MARK_DMARC:
        return "dmarc";
    case SUMMARY_MARK_AUTHOR_SIGNATURE:
        return "author-signature";
    default:
        return "";
    }
}

/* summary_sanitize_domain - see summary.h */
int summary_sanitize_domain(const char *s, char *out, size_t outlen)
{
    size_t n = s ? strlen(s) : 0, label = 0;

    if (outlen > 0)
        out[0] = '\0';
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n > DOMAIN_MAX || n >= outlen)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int c = lower((unsigned char)s[i]);
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                goto bad;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
            if (++label > LABEL_MAX)
                goto bad;
        } else {
            goto bad;
        }
        out[i] = (char)c;
    }
    if (s[n - 1] == '-')
        goto bad;
    out[n] = '\0';
    return 0;
bad:
    out[0] = '\0';
    return -1;
}

/* summary_name_ok - see summary.h */
int summary_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n < 3 || n > SUMMARY_MAX_NAME || lower((unsigned char)name[0]) != 'x' || name[1] != '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = lower((unsigned char)name[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

/* summary_token_ok - see summary.h */
int summary_token_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;

    if (n < 1 || n > SUMMARY_MAX_TOKEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = lower((unsigned char)v[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* summary_is_ours - see summary.h. Called for every header of every message: the
 * first letters are compared before the library call (equal names under ASCII case
 * folding always have equal first bytes once 0x20 is set). */
int summary_is_ours(const char *name, const char *const *extra, int nextra)
{
    size_t plen = sizeof(SUMMARY_PREFIX) - 1;
    unsigned char first;

    if (name == NULL || name[0] == '\0')
        return 0;
    first = (unsigned char)name[0] | 0x20;
    if (first == ((unsigned char)SUMMARY_PREFIX[0] | 0x20) &&
        strncasecmp(name, SUMMARY_PREFIX, plen) == 0)
        return 1;
    for (int i = 0; i < nextra; i++)
        if (extra[i] != NULL && ((unsigned char)extra[i][0] | 0x20) == first &&
            strcasecmp(name, extra[i]) == 0)
            return 1;
    return 0;
}
