/* dmarc_record.c - parse one DMARC policy record (RFC 7489 6.3/6.4, RFC 9989 4.7/4.8).
 * Owns the tag-value grammar and the per-tag value rules; not DNS, discovery or policy
 * selection (dmarc_walk.c, dmarc_eval.c).
 * Threads: reentrant; no allocation, no globals. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "dmarc/dmarc.h"
#include "util/xalloc.h"

/* Tags we know; bit positions for duplicate detection (RFC 6376 3.2 via RFC 7489 6.3). */
enum tag {
    TAG_V,
    TAG_P,
    TAG_SP,
    TAG_NP,
    TAG_PCT,
    TAG_ADKIM,
    TAG_ASPF,
    TAG_T,
    TAG_PSD,
    TAG_RUA,
    TAG_RUF,
    TAG_FO,
    TAG_RI,
    TAG_RF,
    TAG_UNKNOWN
};

struct span {
    const char *s;
    size_t n;
};

static int is_wsp(int c);
static int lower(int c);
static int span_eq_nocase(struct span a, const char *lit);
static enum tag tag_lookup(struct span name);
static size_t skip_wsp(const char *s, size_t i, size_t len);
static int parse_version(const char *txt, size_t len, size_t *end);
static int parse_policy(struct span v, enum dmarc_policy *out);
static int parse_pct(struct span v, int *out);
static int parse_fo(struct span v, char *out, size_t outlen);
static int uri_list_has_valid(struct span v);
static int uri_valid(struct span u);
static void copy_uri_list(struct span v, char *out, size_t outlen, int *truncated);
static void set_reason(char *reason, size_t reasonlen, const char *msg);

static const struct {
    const char *name;
    enum tag tag;
} tags[] = {
    {"v", TAG_V},         {"p", TAG_P},       {"sp", TAG_SP}, {"np", TAG_NP},   {"pct", TAG_PCT},
    {"adkim", TAG_ADKIM}, {"aspf", TAG_ASPF}, {"t", TAG_T},   {"psd", TAG_PSD}, {"rua", TAG_RUA},
    {"ruf", TAG_RUF},     {"fo", TAG_FO},     {"ri", TAG_RI}, {"rf", TAG_RF},
};

/* is_wsp - RFC 5234 WSP (space or horizontal tab) */
static int is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

/* lower - ASCII-only tolower, independent of the locale */
static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* span_eq_nocase - ASCII case-insensitive comparison with a lower-case literal */
static int span_eq_nocase(struct span a, const char *lit)
{
    if (strlen(lit) != a.n)
        return 0;
    for (size_t i = 0; i < a.n; i++)
        if (lower((unsigned char)a.s[i]) != lit[i])
            return 0;
    return 1;
}

/* tag_lookup - known tag for a (case-insensitive) name */
static enum tag tag_lookup(struct span name)
{
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        if (span_eq_nocase(name, tags[i].name))
            return tags[i].tag;
    return TAG_UNKNOWN;
}

static size_t skip_wsp(const char *s, size_t i, size_t len)
{
    while (i < len && is_wsp((unsigned char)s[i]))
        i++;
    return i;
}

/* parse_version - "v" *WSP "=" *WSP "DMARC1" *WSP (";" / end) at the start (leading WSP
 * tolerated). Sets *end to the index after the separator. 1 when present, else 0. */
static int parse_version(const char *txt, size_t len, size_t *end)
{
    size_t i = skip_wsp(txt, 0, len);

    if (i >= len || lower((unsigned char)txt[i]) != 'v')
        return 0;
    i = skip_wsp(txt, i + 1, len);
    if (i >= len || txt[i] != '=')
        return 0;
    i = skip_wsp(txt, i + 1, len);
    if (len - i < 6 || memcmp(txt + i, "DMARC1", 6) != 0) /* case-sensitive, RFC 9989 4.8 */
        return 0;
    i = skip_wsp(txt, i + 6, len);
    if (i < len && txt[i] != ';')
        return 0;
    *end = i < len ? i + 1 : i;
    return 1;
}

int dmarc_is_record(const char *txt, size_t len)
{
    size_t end;

    if (txt == NULL)
        return 0;
    return parse_version(txt, len, &end);
}

/* parse_policy - dmarc-request ("none" / "quarantine" / "reject", ABNF case-insensitive) */
static int parse_policy(struct span v, enum dmarc_policy *out)
{
    if (span_eq_nocase(v, "none"))
        *out = DMARC_POLICY_NONE;
    else if (span_eq_nocase(v, "quarantine"))
        *out = DMARC_POLICY_QUARANTINE;
    else if (span_eq_nocase(v, "reject"))
        *out = DMARC_POLICY_REJECT;
    else
        return -1;
    return 0;
}

/* parse_pct - 1*3DIGIT in 0..100 (RFC 7489 6.3) */
static int parse_pct(struct span v, int *out)
{
    int n = 0;

    if (v.n == 0 || v.n > 3)
        return -1;
    for (size_t i = 0; i < v.n; i++) {
        if (v.s[i] < '0' || v.s[i] > '9')
            return -1;
        n = n * 10 + (v.s[i] - '0');
    }
    if (n > 100)
        return -1;
    *out = n;
    return 0;
}

/* parse_fo - colon-separated options from {0,1,d,s}, each once, 0 and 1 exclusive
 * (RFC 9989 4.7/4.8 dmarc-fo). Whitespace around colons tolerated; stored without it. */
static int parse_fo(struct span v, char *out, size_t outlen)
{
    char buf[16];
    size_t o = 0, i = 0;
    unsigned seen = 0;

    while (i < v.n) {
        int c, bit;

        i = skip_wsp(v.s, i, v.n);
        if (i >= v.n)
            return -1;
        c = lower((unsigned char)v.s[i++]);
        bit = c == '0' ? 1 : c == '1' ? 2 : c == 'd' ? 4 : c == 's' ? 8 : 0;
        if (bit == 0 || (seen & (unsigned)bit))
            return -1;
        seen |= (unsigned)bit;
        if (o + 2 >= sizeof(buf))
            return -1;
        if (o > 0)
            buf[o++] = ':';
        buf[o++] = (char)c;
        i = skip_wsp(v.s, i, v.n);
        if (i < v.n) {
            if (v.s[i] != ':')
                return -1;
            i++;
            if (skip_wsp(v.s, i, v.n) >= v.n)
                return -1; /* trailing colon */
        }
    }
    if (o == 0 || (seen & 3) == 3)
        return -1;
    buf[o] = '\0';
    if (sa_strlcpy(out, buf, outlen) >= outlen)
        return -1;
    return 0;
}

/* uri_valid - RFC 3986 absolute URI shape: scheme ":" 1*(URI characters), with the
 * obsolete "!size" suffix (RFC 9989 obs-dmarc-report-size) allowed after it. */
static int uri_valid(struct span u)
{
    size_t i = 0, end = u.n;

    for (size_t k = 0; k < u.n; k++)
        if (u.s[k] == '!') {
            end = k;
            break;
        }
    if (end == 0 || !((u.s[0] >= 'a' && u.s[0] <= 'z') || (u.s[0] >= 'A' && u.s[0] <= 'Z')))
        return 0;
    for (i = 1; i < end && u.s[i] != ':'; i++) {
        int c = (unsigned char)u.s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.'))
            return 0;
    }
    if (i >= end || i + 1 >= end)
        return 0; /* no ':' or nothing after it */
    for (i++; i < end; i++) {
        int c = (unsigned char)u.s[i];

        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' ||
            c == '`' || c == '{' || c == '|' || c == '}')
            return 0;
        if (c == '%') {
            if (i + 2 >= end)
                return 0;
            for (int k = 1; k <= 2; k++) {
                int h = lower((unsigned char)u.s[i + (size_t)k]);

                if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f')))
                    return 0;
            }
            i += 2;
        }
    }
    /* The size suffix, when present: "!" 1*DIGIT [k/m/g/t]. */
    if (end < u.n) {
        size_t k = end + 1;

        if (k >= u.n || u.s[k] < '0' || u.s[k] > '9')
            return 0;
        while (k < u.n && u.s[k] >= '0' && u.s[k] <= '9')
            k++;
        if (k < u.n && strchr("kmgtKMGT", u.s[k]) != NULL)
            k++;
        if (k != u.n)
            return 0;
    }
    return 1;
}

/* uri_list_has_valid - does a comma-separated list hold at least one valid URI? */
static int uri_list_has_valid(struct span v)
{
    size_t i = 0;

    while (i <= v.n) {
        size_t j = i, a, b;

        while (j < v.n && v.s[j] != ',')
            j++;
        a = skip_wsp(v.s, i, j);
        b = j;
        while (b > a && is_wsp((unsigned char)v.s[b - 1]))
            b--;
        if (b > a && uri_valid((struct span){v.s + a, b - a}))
            return 1;
        i = j + 1;
    }
    return 0;
}

/* copy_uri_list - keep the list; when it does not fit, cut at the last whole URI */
static void copy_uri_list(struct span v, char *out, size_t outlen, int *truncated)
{
    size_t n = v.n;

    *truncated = 0;
    if (n >= outlen) {
        *truncated = 1;
        n = outlen - 1;
        while (n > 0 && v.s[n] != ',')
            n--;
        while (n > 0 && is_wsp((unsigned char)v.s[n - 1]))
            n--;
    }
    memcpy(out, v.s, n);
    out[n] = '\0';
}

static void set_reason(char *reason, size_t reasonlen, const char *msg)
{
    if (reason != NULL && reasonlen > 0)
        sa_strlcpy(reason, msg, reasonlen);
}

/* dmarc_parse_record - parse one v=DMARC1 TXT string */
int dmarc_parse_record(const char *txt, size_t len, struct dmarc_record *out, char *reason,
                       size_t reasonlen)
{
    struct dmarc_record r;
    unsigned seen = 0;
    int bad_p = 0, bad_sp = 0, bad_np = 0, rua_ok = 0;
    size_t i;

    set_reason(reason, reasonlen, "");
    if (txt == NULL || !parse_version(txt, len, &i)) {
        set_reason(reason, reasonlen, "not a DMARC record (no leading v=DMARC1)");
        return -1;
    }
    if (memchr(txt, '\0', len) != NULL) {
        set_reason(reason, reasonlen, "NUL byte in record");
        return -1;
    }
    memset(&r, 0, sizeof(r));
    r.pct = DMARC_PCT_DEFAULT;
    r.psd = -1;
    sa_strlcpy(r.fo, "0", sizeof(r.fo));
    seen |= 1u << TAG_V;

    while (i < len) {
        size_t j = i, a, b, eq;
        struct span name, val;
        enum tag t;
        int syntax_ok = 1;

        while (j < len && txt[j] != ';')
            j++;
        /* One segment txt[i..j): *WSP 1*ALPHA *WSP "=" *WSP 1*dmarc-value *WSP. */
        a = skip_wsp(txt, i, j);
        b = j;
        while (b > a && is_wsp((unsigned char)txt[b - 1]))
            b--;
        i = j + 1;
        if (a == b)
            continue; /* empty segment ("p=none;;" or the trailing ";") */
        for (eq = a; eq < b && txt[eq] != '='; eq++)
            ;
        name.s = txt + a;
        name.n = eq - a;
        while (name.n > 0 && is_wsp((unsigned char)name.s[name.n - 1]))
            name.n--;
        if (eq >= b || name.n == 0)
            continue; /* no "=": a syntax error, discarded (RFC 9989 4.8) */
        for (size_t k = 0; k < name.n; k++) {
            int c = (unsigned char)name.s[k];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
                syntax_ok = 0;
        }
        if (!syntax_ok)
            continue;
        a = skip_wsp(txt, eq + 1, b);
        val.s = txt + a;
        val.n = b - a;
        for (size_t k = 0; k < val.n; k++) {
            int c = (unsigned char)val.s[k];

            if (!(is_wsp(c) || (c >= 0x20 && c <= 0x7e)))
                syntax_ok = 0;
        }
        t = tag_lookup(name);
        if (t != TAG_UNKNOWN) {
            if (seen & (1u << t)) {
                set_reason(reason, reasonlen, "duplicate tag");
                return -1;
            }
            seen |= 1u << t;
        }
        if (val.n == 0)
            syntax_ok = 0;
        switch (t) {
        case TAG_V:
            break; /* unreachable: v counted as seen above, duplicate returned */
        case TAG_P:
            bad_p = !syntax_ok || parse_policy(val, &r.p) < 0;
            break;
        case TAG_SP:
            bad_sp = !syntax_ok || parse_policy(val, &r.sp) < 0;
            break;
        case TAG_NP:
            bad_np = !syntax_ok || parse_policy(val, &r.np) < 0;
            break;
        case TAG_PCT:
            if (!syntax_ok || parse_pct(val, &r.pct) < 0)
                r.pct = DMARC_PCT_DEFAULT;
            break;
        case TAG_ADKIM:
            r.adkim_strict = syntax_ok && span_eq_nocase(val, "s");
            break;
        case TAG_ASPF:
            r.aspf_strict = syntax_ok && span_eq_nocase(val, "s");
            break;
        case TAG_T:
            r.testing = syntax_ok && span_eq_nocase(val, "y");
            break;
        case TAG_PSD:
            r.psd = !syntax_ok                 ? -1
                    : span_eq_nocase(val, "y") ? 1
                    : span_eq_nocase(val, "n") ? 0
                                               : -1;
            break;
        case TAG_RUA:
            if (syntax_ok) {
                copy_uri_list(val, r.rua, sizeof(r.rua), &r.rua_truncated);
                rua_ok = uri_list_has_valid(val);
            }
            break;
        case TAG_RUF:
            if (syntax_ok)
                copy_uri_list(val, r.ruf, sizeof(r.ruf), &r.ruf_truncated);
            break;
        case TAG_FO:
            if (!syntax_ok || parse_fo(val, r.fo, sizeof(r.fo)) < 0)
                sa_strlcpy(r.fo, "0", sizeof(r.fo));
            break;
        case TAG_RI:
        case TAG_RF:
        case TAG_UNKNOWN:
            break; /* RFC 7489 ri/rf are not used; unknown tags MUST be ignored */
        }
    }
    if (!(seen & (1u << TAG_P)))
        bad_p = 1;
    /* RFC 7489 6.6.3 step 6, RFC 9989 4.10.1: no valid p, or an invalid sp/np. */
    if (bad_p || bad_sp || bad_np) {
        if (!rua_ok) {
            set_reason(reason, reasonlen,
                       bad_p ? "no valid p tag and no valid rua"
                             : "invalid sp/np and no valid rua");
            return -1;
        }
        r.p = DMARC_POLICY_NONE;
        r.sp = DMARC_POLICY_UNSPEC;
        r.np = DMARC_POLICY_UNSPEC;
        r.p_implied = 1;
    }
    *out = r;
    return 0;
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
    switch (p) {
    case DMARC_POLICY_NONE:
        return "none";
    case DMARC_POLICY_QUARANTINE:
        return "quarantine";
    case DMARC_POLICY_REJECT:
        return "reject";
    case DMARC_POLICY_UNSPEC:
        break;
    }
    return "";
}
