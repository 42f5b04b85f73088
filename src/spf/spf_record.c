/* spf_record.c - strict RFC 7208 section 12 syntax check of one SPF record, and the
 * rewrite that hands libspf2 only what it evaluates correctly.
 * Owns the record grammar; not record selection (spf_dns.c) or evaluation (libspf2).
 * Every record passes spf_record_check before libspf2's compiler or macro expander sees
 * it, which keeps malformed macros and over-long terms (CVE-2021-20314, -33912, -33913,
 * CVE-2023-42118) away from them.
 * Threads: reentrant; no state. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spf/spf_eval.h"
#include "spf/spf_int.h"

/* libspf2 compiles each term into a 511-byte buffer (SPF_MAX_MECH_LEN); we refuse terms
 * whose compiled size could come near it, far below anything a real record needs. */
#define TERM_EST_MAX 384
#define MACRO_MAX_DIGITS 3   /* %{d128}: RFC 7208 7.3 asks for at least 128 */
#define MACRO_MAX_DELIMS 8   /* seven distinct delimiters exist */

enum mech { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS, M_UNKNOWN };

struct ctx {
    char *reason;
    size_t reasonlen;
    int nredirect, nexp;
};

static int fail(struct ctx *c, const char *msg, const char *term, size_t tlen);
static int is_alpha(int ch);
static int is_digit(int ch);
static int is_alnum(int ch);
static size_t name_len(const char *s, size_t n);
static enum mech mech_lookup(const char *s, size_t n);
static int check_term(struct ctx *c, const char *t, size_t n);
static int check_macro_string(struct ctx *c, const char *s, size_t n, int crt_ok, int *last_macro,
                              size_t *est, const char *t, size_t tn);
static int check_domain_spec(struct ctx *c, const char *s, size_t n, const char *t, size_t tn);
static int check_toplabel(const char *s, size_t n);
static int parse_cidr(const char *s, size_t n, int max);
static size_t split_dual_cidr(const char *s, size_t n, int *c4, int *c6);
static int check_ip4(const char *s, size_t n);
static int check_ip6(const char *s, size_t n);
static size_t round8(size_t n);
static int append(char *out, size_t outlen, size_t *olen, const char *s, size_t n);
static int rewrite_cidr0(const char *t, size_t qlen, const char *p, size_t ml, size_t dn, int cidr,
                         int client_af, const struct spf_macro_env *env, char *out,
                         size_t outlen, size_t *olen);
static int put_domain(const char *ds, size_t dn, int amx, int strip_dot,
                      const struct spf_macro_env *env, char *out, size_t outlen, size_t *olen);
static int put_term(const char *t, size_t n, const char *ds, size_t dn, int amx,
                    const struct spf_macro_env *env, char *out, size_t outlen, size_t *olen);

static const struct {
    const char *name;
    enum mech m;
} mechs[] = {
    {"all", M_ALL}, {"include", M_INCLUDE}, {"a", M_A},     {"mx", M_MX},
    {"ptr", M_PTR}, {"ip4", M_IP4},         {"ip6", M_IP6}, {"exists", M_EXISTS},
};

/* fail - set the reason (message and the offending term, shortened) and return -1 */
static int fail(struct ctx *c, const char *msg, const char *term, size_t tlen)
{
    if (c->reason != NULL && c->reasonlen > 0) {
        if (term != NULL)
            snprintf(c->reason, c->reasonlen, "%s: %.*s", msg, (int)(tlen > 40 ? 40 : tlen), term);
        else
            snprintf(c->reason, c->reasonlen, "%s", msg);
    }
    return -1;
}

static int is_alpha(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_alnum(int ch)
{
    return is_alpha(ch) || is_digit(ch);
}

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* name_len - length of a leading modifier name: ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
static size_t name_len(const char *s, size_t n)
{
    size_t i = 0;

    if (n == 0 || !is_alpha((unsigned char)s[0]))
        return 0;
    for (i = 1; i < n; i++) {
        int ch = (unsigned char)s[i];

        if (!is_alnum(ch) && ch != '-' && ch != '_' && ch != '.')
            break;
    }
    return i;
}

static enum mech mech_lookup(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
        if (strlen(mechs[i].name) == n && strncasecmp(mechs[i].name, s, n) == 0)
            return mechs[i].m;
    return M_UNKNOWN;
}

/* spf_record_check - RFC 7208 section 12 grammar, plus our size bounds */
int spf_record_check(const char *rec, size_t len, char *reason, size_t reasonlen)
{
    struct ctx c = {reason, reasonlen, 0, 0};
    size_t pos;

    if (reason != NULL && reasonlen > 0)
        reason[0] = '\0';
    if (rec == NULL)
        return fail(&c, "no record", NULL, 0);
    if (len > SPF_MAX_RECORD)
        return fail(&c, "record too long", NULL, 0);
    if (memchr(rec, '\0', len) != NULL)
        return fail(&c, "NUL character in record", NULL, 0);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)rec[i];

        if (ch < 0x20 || ch > 0x7e)
            return fail(&c, "non-ASCII or control character in record", NULL, 0);
    }
    if (len < 6 || strncasecmp(rec, "v=spf1", 6) != 0 || (len > 6 && rec[6] != ' '))
        return fail(&c, "not a v=spf1 record", NULL, 0);
    pos = 6;
    for (;;) {
        size_t start;

        while (pos < len && rec[pos] == ' ')
            pos++;
        if (pos == len)
            break;
        start = pos;
        while (pos < len && rec[pos] != ' ')
            pos++;
        if (check_term(&c, rec + start, pos - start) < 0)
            return -1;
    }
    return 0;
}

/* check_term - one directive or modifier */
static int check_term(struct ctx *c, const char *t, size_t n)
{
    size_t nl = name_len(t, n), ml;
    const char *p = t, *rest;
    size_t rn, dn;
    int c4, c6;
    enum mech m;

    if (nl > 0 && nl < n && t[nl] == '=') {
        const char *v = t + nl + 1;
        size_t vn = n - nl - 1;
        int last;
        size_t est = 0;

        if (nl == 8 && strncasecmp(t, "redirect", 8) == 0) {
            if (++c->nredirect > 1)
                return fail(c, "redirect= given twice", t, n);
            return check_domain_spec(c, v, vn, t, n);
        }
        if (nl == 3 && strncasecmp(t, "exp", 3) == 0) {
            if (++c->nexp > 1)
                return fail(c, "exp= given twice", t, n);
            return check_domain_spec(c, v, vn, t, n);
        }
        return check_macro_string(c, v, vn, 0, &last, &est, t, n);
    }
    if (n > 0 && strchr("+-?~", *p) != NULL)
        p++;
    for (ml = 0; p + ml < t + n && is_alnum((unsigned char)p[ml]); ml++)
        ;
    m = mech_lookup(p, ml);
    if (m == M_UNKNOWN)
        return fail(c, "unknown mechanism", t, n);
    rest = p + ml;
    rn = (size_t)(t + n - rest);
    switch (m) {
    case M_ALL:
        if (rn != 0)
            return fail(c, "bad all", t, n);
        return 0;
    case M_INCLUDE:
    case M_EXISTS:
        if (rn == 0 || rest[0] != ':')
            return fail(c, "missing domain", t, n);
        return check_domain_spec(c, rest + 1, rn - 1, t, n);
    case M_PTR:
        if (rn == 0)
            return 0;
        if (rest[0] != ':')
            return fail(c, "bad ptr", t, n);
        return check_domain_spec(c, rest + 1, rn - 1, t, n);
    case M_A:
    case M_MX:
        dn = split_dual_cidr(rest, rn, &c4, &c6);
        if (c4 == -2 || c6 == -2)
            return fail(c, "bad CIDR length", t, n);
        if (dn == 0)
            return 0;
        if (rest[0] != ':')
            return fail(c, "bad mechanism", t, n);
        return check_domain_spec(c, rest + 1, dn - 1, t, n);
    case M_IP4:
    case M_IP6: {
        const char *slash;
        size_t an;

        if (rn < 2 || rest[0] != ':')
            return fail(c, "missing address", t, n);
        slash = memchr(rest, '/', rn);
        an = (slash != NULL ? (size_t)(slash - rest) : rn) - 1;
        if (m == M_IP4 ? check_ip4(rest + 1, an) < 0 : check_ip6(rest + 1, an) < 0)
            return fail(c, "bad IP address", t, n);
        if (slash != NULL &&
            parse_cidr(slash + 1, (size_t)(t + n - slash - 1), m == M_IP4 ? 32 : 128) < 0)
            return fail(c, "bad CIDR length", t, n);
        return 0;
    }
    default:
        break;
    }
    return fail(c, "unknown mechanism", t, n);
}

/* parse_cidr - digits of ip4-cidr-length / ip6-cidr-length (no leading zeros); value or -1 */
static int parse_cidr(const char *s, size_t n, int max)
{
    int v = 0;

    if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v > max ? -1 : v;
}

/* split_dual_cidr - strip a trailing dual-cidr-length from an a/mx argument; returns the
 * length before it. c4 and c6 get the value, -1 when absent, -2 when malformed. */
static size_t split_dual_cidr(const char *s, size_t n, int *c4, int *c6)
{
    size_t d, end = n;

    *c4 = *c6 = -1;
    d = end;
    while (d > 0 && is_digit((unsigned char)s[d - 1]))
        d--;
    if (d >= 2 && d < end && s[d - 1] == '/' && s[d - 2] == '/') {
        *c6 = parse_cidr(s + d, end - d, 128);
        if (*c6 < 0)
            *c6 = -2;
        end = d - 2;
        d = end;
        while (d > 0 && is_digit((unsigned char)s[d - 1]))
            d--;
    }
    if (d >= 1 && s[d - 1] == '/') {
        if (d == end) {
            *c4 = -2;   /* "/" with no digits */
            return d - 1;
        }
        *c4 = parse_cidr(s + d, end - d, 32);
        if (*c4 < 0)
            *c4 = -2;
        end = d - 1;
    }
    /* a '/' left over (e.g. "a/032x", "a///24") is not a CIDR: the caller fails it. */
    if (memchr(s, '/', end) != NULL && (end == 0 || s[0] != ':'))
        *c4 = -2;
    return end;
}

/* check_ip4 - ip4-network = qnum "." qnum "." qnum "." qnum */
static int check_ip4(const char *s, size_t n)
{
    size_t i = 0;

    for (int part = 0; part < 4; part++) {
        size_t st = i;
        int v = 0;

        while (i < n && is_digit((unsigned char)s[i]) && i - st < 3)
            v = v * 10 + (s[i++] - '0');
        if (i == st || v > 255 || (s[st] == '0' && i - st > 1))
            return -1;
        if (part < 3) {
            if (i >= n || s[i] != '.')
                return -1;
            i++;
        }
    }
    return i == n ? 0 : -1;
}

/* check_ip6 - RFC 4291 2.2 text form (inet_pton accepts exactly those) */
static int check_ip6(const char *s, size_t n)
{
    char buf[INET6_ADDRSTRLEN + 1];
    struct in6_addr a;

    if (n == 0 || n >= sizeof(buf))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!is_digit((unsigned char)s[i]) && strchr("abcdefABCDEF:.", s[i]) == NULL)
            return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, &a) == 1 ? 0 : -1;
}

/* check_macro_string - macro-string (RFC 7208 7.1); *last_macro says whether the last piece
 * is a macro-expand; *est accumulates the compiled-size estimate */
static int check_macro_string(struct ctx *c, const char *s, size_t n, int crt_ok, int *last_macro,
                              size_t *est, const char *t, size_t tn)
{
    size_t i = 0, lit = 0;

    *last_macro = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];

        if (ch != '%') {
            if (ch < 0x21 || ch > 0x7e)
                return fail(c, "bad character", t, tn);
            lit++;
            i++;
            *last_macro = 0;
            continue;
        }
        if (i + 1 >= n)
            return fail(c, "bad macro", t, tn);
        if (s[i + 1] == '%' || s[i + 1] == '_' || s[i + 1] == '-') {
            lit += 3;
            i += 2;
            *last_macro = 1;
            continue;
        }
        if (s[i + 1] != '{')
            return fail(c, "bad macro", t, tn);
        if (lit > 0)
            *est += 8 + round8(lit);
        lit = 0;
        i += 2;
        if (i >= n)
            return fail(c, "bad macro", t, tn);
        {
            int l = s[i] | 0x20, nd = 0, val = 0, ndelim = 0;

            if (strchr("slodiphv", l) == NULL || !is_alpha((unsigned char)s[i])) {
                if (strchr("crt", l) != NULL && is_alpha((unsigned char)s[i]))
                    return fail(c, crt_ok ? "bad macro" : "macro letter only allowed in exp text",
                                t, tn);
                return fail(c, "bad macro letter", t, tn);
            }
            i++;
            while (i < n && is_digit((unsigned char)s[i])) {
                if (++nd > MACRO_MAX_DIGITS)
                    return fail(c, "bad macro transformer", t, tn);
                val = val * 10 + (s[i] - '0');
                i++;
            }
            if (nd > 0 && val == 0)
                return fail(c, "bad macro transformer", t, tn);
            if (i < n && (s[i] | 0x20) == 'r')
                i++;
            while (i < n && strchr(".-+,/_=", s[i]) != NULL && s[i] != '\0') {
                if (++ndelim > MACRO_MAX_DELIMS)
                    return fail(c, "too many macro delimiters", t, tn);
                i++;
            }
            if (i >= n || s[i] != '}')
                return fail(c, "bad macro", t, tn);
            i++;
            *est += 8;
            *last_macro = 1;
        }
    }
    if (lit > 0)
        *est += 8 + round8(lit);
    return 0;
}

/* check_toplabel - toplabel = ( *alphanum ALPHA *alphanum ) /
 *                  ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static int check_toplabel(const char *s, size_t n)
{
    int alpha = 0, hyphen = 0;

    if (n == 0 || n > 63)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];

        if (ch == '-')
            hyphen = 1;
        else if (is_alpha(ch))
            alpha = 1;
        else if (!is_digit(ch))
            return -1;
    }
    if (hyphen)
        return (s[0] != '-' && s[n - 1] != '-') ? 0 : -1;
    return alpha ? 0 : -1;
}

/* check_domain_spec - domain-spec = macro-string domain-end */
static int check_domain_spec(struct ctx *c, const char *s, size_t n, const char *t, size_t tn)
{
    int last;
    size_t est = 16, m, dot;

    if (n == 0)
        return fail(c, "empty domain", t, tn);
    if (check_macro_string(c, s, n, 0, &last, &est, t, tn) < 0)
        return -1;
    if (est > TERM_EST_MAX)
        return fail(c, "term too long", t, tn);
    if (last)
        return 0;
    m = n;
    if (s[m - 1] == '.')
        m--;
    for (dot = m; dot > 0 && s[dot - 1] != '.'; dot--)
        ;
    if (dot == 0)
        return fail(c, "domain is not a FQDN", t, tn);
    for (size_t i = dot; i < m; i++)
        if (s[i] == '%' || s[i] == '}')
            return fail(c, "bad top label", t, tn);
    if (check_toplabel(s + dot, m - dot) < 0)
        return fail(c, "bad top label", t, tn);
    return 0;
}

/* append - add n bytes to out; -1 when they do not fit */
static int append(char *out, size_t outlen, size_t *olen, const char *s, size_t n)
{
    if (*olen + n + 1 > outlen)
        return -1;
    memcpy(out + *olen, s, n);
    *olen += n;
    out[*olen] = '\0';
    return 0;
}

/* put_domain - append the domain-spec ds (dn bytes): expanded under env when it holds a
 * macro we can expand, else as it stands (see spf_record_rewrite). strip_dot drops one
 * literal trailing dot (the caller appends a suffix). */
static int put_domain(const char *ds, size_t dn, int amx, int strip_dot,
                      const struct spf_macro_env *env, char *out, size_t outlen, size_t *olen)
{
    char x[SPF_MACRO_MAX_NAME + 1];
    int xl = -1;

    if (env != NULL && memchr(ds, '%', dn) != NULL &&
        (!env->transformed_only || spf_macro_transformed(ds, dn)))
        xl = spf_macro_expand(env, ds, dn, x, sizeof(x));
    if (xl > 0 && amx && memchr(x, '/', (size_t)xl) != NULL)
        xl = -1;
    if (xl <= 0) {
        if (strip_dot && dn > 1 && ds[dn - 1] == '.' && ds[dn - 2] != '%')
            dn--;   /* a literal trailing dot */
        return append(out, outlen, olen, ds, dn);
    }
    if (strip_dot && xl > 1 && x[xl - 1] == '.')
        xl--;
    for (int i = 0; i < xl; i++) {
        const char *e = x[i] == '%' ? "%%" : x[i] == ' ' ? "%_" : NULL;

        if (append(out, outlen, olen, e != NULL ? e : x + i, e != NULL ? 2 : 1) < 0)
            return -1;
    }
    return 0;
}

/* put_term - append " " and term t (n bytes) whose domain-spec is ds (dn bytes inside t) */
static int put_term(const char *t, size_t n, const char *ds, size_t dn, int amx,
                    const struct spf_macro_env *env, char *out, size_t outlen, size_t *olen)
{
    size_t pre = (size_t)(ds - t);

    if (append(out, outlen, olen, " ", 1) < 0 || append(out, outlen, olen, t, pre) < 0 ||
        put_domain(ds, dn, amx, 0, env, out, outlen, olen) < 0)
        return -1;
    return append(out, outlen, olen, ds + dn, n - pre - dn);
}

/* rewrite_cidr0 - an a/mx term with a CIDR length of 0, which libspf2 refuses. Only the
 * client's family matters: a non-zero length is kept; a zero length means "any address
 * of d matches", so d gets the SPF_CIDR0_LABEL suffix, and spf_dns.c answers such a name
 * with the client's own address when d (or, for mx, an exchange) has any address. */
static int rewrite_cidr0(const char *t, size_t qlen, const char *p, size_t ml, size_t dn, int cidr,
                         int client_af, const struct spf_macro_env *env, char *out,
                         size_t outlen, size_t *olen)
{
    char num[8];

    if (append(out, outlen, olen, " ", 1) < 0 || append(out, outlen, olen, t, qlen) < 0 ||
        append(out, outlen, olen, p, ml) < 0)
        return -1;
    if (cidr != 0) {
        if (dn > 0 && (append(out, outlen, olen, ":", 1) < 0 ||
                       put_domain(p + ml + 1, dn - 1, 1, 0, env, out, outlen, olen) < 0))
            return -1;
        if (cidr > 0) {
            snprintf(num, sizeof(num), client_af == AF_INET ? "/%d" : "//%d", cidr);
            if (append(out, outlen, olen, num, strlen(num)) < 0)
                return -1;
        }
        return 0;
    }
    if (append(out, outlen, olen, ":", 1) < 0)
        return -1;
    if (dn > 0) {
        if (put_domain(p + ml + 1, dn - 1, 1, 1, env, out, outlen, olen) < 0)
            return -1;
    } else if (put_domain("%{d}", 4, 1, 1, env, out, outlen, olen) < 0) {
        return -1;
    }
    return append(out, outlen, olen, "." SPF_CIDR0_LABEL, sizeof(SPF_CIDR0_LABEL));
}

/* spf_record_rewrite - see spf_int.h */
int spf_record_rewrite(const char *rec, size_t len, int client_af,
                       const struct spf_macro_env *env, char *out, size_t outlen)
{
    const char *redir = NULL;
    size_t redir_n = 0, olen = 0, pos = 6;
    int has_all = 0;

    if (outlen == 0 || len < 6)
        return -1;
    out[0] = '\0';
    if (append(out, outlen, &olen, "v=spf1", 6) < 0)
        return -1;
    for (;;) {
        const char *t, *p;
        size_t n, nl, ml;
        enum mech m;

        while (pos < len && rec[pos] == ' ')
            pos++;
        if (pos == len)
            break;
        t = rec + pos;
        while (pos < len && rec[pos] != ' ')
            pos++;
        n = (size_t)(rec + pos - t);
        nl = name_len(t, n);
        if (nl > 0 && nl < n && t[nl] == '=') {
            if (nl == 8 && strncasecmp(t, "redirect", 8) == 0) {
                redir = t;
                redir_n = n;
            }
            continue;   /* exp= and unknown modifiers: not evaluated */
        }
        p = t;
        if (strchr("+-?~", *p) != NULL)
            p++;
        for (ml = 0; p + ml < t + n && is_alnum((unsigned char)p[ml]); ml++)
            ;
        m = mech_lookup(p, ml);
        if (m == M_ALL)
            has_all = 1;
        if (m == M_IP4 || m == M_IP6) {
            const char *slash = memchr(p, '/', (size_t)(t + n - p));

            if (slash != NULL && (size_t)(t + n - slash) == 2 && slash[1] == '0') {
                /* ip4:x/0 matches every IPv4 client and no IPv6 one (and the reverse). */
                if ((m == M_IP4) != (client_af == AF_INET))
                    continue;
                if (append(out, outlen, &olen, " ", 1) < 0 ||
                    append(out, outlen, &olen, t, (size_t)(p - t)) < 0 ||
                    append(out, outlen, &olen, "all", 3) < 0)
                    return -1;
                has_all = 1;
                continue;
            }
        }
        if (m == M_A || m == M_MX) {
            int c4, c6;
            size_t dn = split_dual_cidr(p + ml, (size_t)(t + n - p - ml), &c4, &c6);

            if (c4 == 0 || c6 == 0) {
                if (rewrite_cidr0(t, (size_t)(p - t), p, ml, dn, client_af == AF_INET ? c4 : c6,
                                  client_af, env, out, outlen, &olen) < 0)
                    return -1;
                continue;
            }
            if (dn > 0) {   /* ":" domain-spec, then the CIDR lengths as they are */
                if (put_term(t, n, p + ml + 1, dn - 1, 1, env, out, outlen, &olen) < 0)
                    return -1;
                continue;
            }
        }
        if ((m == M_INCLUDE || m == M_EXISTS || m == M_PTR) && p + ml < t + n) {
            if (put_term(t, n, p + ml + 1, (size_t)(t + n - p - ml - 1), 0, env, out, outlen,
                         &olen) < 0)
                return -1;
            continue;
        }
        if (append(out, outlen, &olen, " ", 1) < 0 || append(out, outlen, &olen, t, n) < 0)
            return -1;
    }
    if (redir != NULL && !has_all &&
        put_term(redir, redir_n, redir + 9, redir_n - 9, 0, env, out, outlen, &olen) < 0)
        return -1;
    return 0;
}
