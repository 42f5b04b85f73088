/* spf_macro.c - RFC 7208 section 7 macro expansion of one domain-spec, done by us because
 * Debian 12's libspf2 (1.2.10) expands transformers wrongly (a digit at least the number
 * of parts drops the first character; delimiters other than "." are not honoured).
 * Owns: splitting on delimiters, reversal, the right-hand-parts digit, URL escaping of
 * upper-case letters, %% %_ %-, and the 253-octet left truncation (7.3). Output and
 * work space are bounded whatever the input: a value over SPF_MACRO_MAX_VALUE bytes is
 * not expanded (-2), and a long expansion keeps only the tail the truncation needs.
 * Not: the grammar check (spf_record.c runs first) or where the result goes (the
 * record rewrite in spf_record.c, its use in spf_dns.c).
 * Threads: reentrant; no state. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "spf/spf_int.h"

#define MACRO_MAX_DIGIT 128     /* RFC 7208 7.1: at least 128; more means "all" anyway */
#define TAIL_CAP 1024           /* work buffer; only the last SPF_MACRO_MAX_NAME + 1 count */

/* The expansion so far: when it outgrows buf, only its tail is kept (cut = 1). */
struct tail {
    char buf[TAIL_CAP];
    size_t len;
    int cut;
};

static void put(struct tail *t, const char *s, size_t n);
static void put_escaped(struct tail *t, const char *s, size_t n, int url);
static int is_delim(const char *delims, size_t nd, int ch);
static int value_of(const struct spf_macro_env *env, int letter, char *tmp, size_t tmplen,
                    const char **v);
static int expand_one(const struct spf_macro_env *env, const char *m, size_t mn, struct tail *t);
static size_t finish(const struct tail *t, char *out, size_t outlen);

/* put - append n bytes; keep only the last SPF_MACRO_MAX_NAME + 1 bytes when full */
static void put(struct tail *t, const char *s, size_t n)
{
    const size_t keep = SPF_MACRO_MAX_NAME + 1;

    while (n > 0) {
        size_t room, k;

        if (t->len == sizeof(t->buf)) {
            memmove(t->buf, t->buf + t->len - keep, keep);
            t->len = keep;
            t->cut = 1;
        }
        room = sizeof(t->buf) - t->len;
        k = n < room ? n : room;
        memcpy(t->buf + t->len, s, k);
        t->len += k;
        s += k;
        n -= k;
    }
}

/* put_escaped - append s; with url, RFC 3986 unreserved characters as they are and any
 * other byte as %XX (RFC 7208 7.3: upper-case macro letters) */
static void put_escaped(struct tail *t, const char *s, size_t n, int url)
{
    static const char hex[] = "0123456789ABCDEF";

    if (!url) {
        put(t, s, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char e[3];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            put(t, s + i, 1);
            continue;
        }
        e[0] = '%';
        e[1] = hex[ch >> 4];
        e[2] = hex[ch & 15];
        put(t, e, 3);
    }
}

static int is_delim(const char *delims, size_t nd, int ch)
{
    if (nd == 0)
        return ch == '.';
    return memchr(delims, ch, nd) != NULL;
}

/* value_of - the value of macro letter (lower case) in *v; 0, -1 for a letter that is
 * not valid in a domain-spec, -2 for one whose value we do not have */
static int value_of(const struct spf_macro_env *env, int letter, char *tmp, size_t tmplen,
                    const char **v)
{
    const char *at = env->sender != NULL ? strrchr(env->sender, '@') : NULL;

    switch (letter) {
    case 's':
        *v = env->sender;
        break;
    case 'l':   /* RFC 7208 4.3: no local-part means "postmaster" */
        if (at == NULL || at == env->sender) {
            *v = "postmaster";
        } else {
            size_t n = (size_t)(at - env->sender);

            if (n >= tmplen)
                return -2;
            memcpy(tmp, env->sender, n);
            tmp[n] = '\0';
            *v = tmp;
        }
        break;
    case 'o':
        *v = at != NULL ? at + 1 : env->sender;
        break;
    case 'd':
        *v = env->domain;
        break;
    case 'h':
        *v = env->helo;
        break;
    case 'v':
        *v = env->af == AF_INET ? "in-addr" : "ip6";
        break;
    case 'i':
        if (env->af == AF_INET) {
            if (inet_ntop(AF_INET, &env->v4, tmp, (socklen_t)tmplen) == NULL)
                return -2;
        } else {
            size_t o = 0;   /* RFC 7208 7.3: IPv6 as dot-separated nibbles */

            if (tmplen < 64)
                return -2;
            for (int i = 0; i < 16; i++) {
                static const char hx[] = "0123456789abcdef";

                tmp[o++] = hx[env->v6.s6_addr[i] >> 4];
                tmp[o++] = '.';
                tmp[o++] = hx[env->v6.s6_addr[i] & 15];
                tmp[o++] = '.';
            }
            tmp[o - 1] = '\0';
        }
        *v = tmp;
        break;
    case 'p':   /* needs DNS (5.5 validation): left to libspf2 */
        return -2;
    default:    /* c, r, t only in explanation text (7.2) */
        return -1;
    }
    if (*v == NULL || (*v)[0] == '\0' || strlen(*v) > SPF_MACRO_MAX_VALUE)
        return -2;
    return 0;
}

/* expand_one - the macro between "%{" and "}" (m, mn bytes): letter, digits, "r",
 * delimiters (7.1), transformed as 7.3 says */
static int expand_one(const struct spf_macro_env *env, const char *m, size_t mn, struct tail *t)
{
    char tmp[SPF_MACRO_MAX_VALUE + 1];
    unsigned short start[SPF_MACRO_MAX_VALUE + 2];
    const char *v, *delims;
    size_t i = 1, nd, vl, nparts = 0, keep, first;
    int letter, url, rev = 0, digits = 0, rc;
    unsigned long num = 0;

    if (mn == 0)
        return -1;
    letter = m[0] | 0x20;
    if (!((m[0] >= 'a' && m[0] <= 'z') || (m[0] >= 'A' && m[0] <= 'Z')))
        return -1;
    url = m[0] >= 'A' && m[0] <= 'Z';
    while (i < mn && m[i] >= '0' && m[i] <= '9') {
        if (++digits > 3)
            return -1;
        num = num * 10 + (unsigned long)(m[i++] - '0');
    }
    if (digits > 0 && num == 0)
        return -1;   /* 7.3: the digit must be nonzero */
    if (i < mn && (m[i] | 0x20) == 'r') {
        rev = 1;
        i++;
    }
    delims = m + i;
    nd = mn - i;
    for (size_t k = 0; k < nd; k++)
        if (strchr(".-+,/_=", delims[k]) == NULL || delims[k] == '\0')
            return -1;
    if ((rc = value_of(env, letter, tmp, sizeof(tmp), &v)) < 0)
        return rc;
    vl = strlen(v);
    /* parts: [start[j], start[j + 1] - 1) for j < nparts */
    start[nparts++] = 0;
    for (size_t k = 0; k < vl; k++)
        if (is_delim(delims, nd, (unsigned char)v[k]))
            start[nparts++] = (unsigned short)(k + 1);
    start[nparts] = (unsigned short)(vl + 1);
    keep = digits > 0 && num < nparts ? num : nparts;
    /* the right-most keep parts of the list, after the optional reversal */
    first = rev ? 0 : nparts - keep;
    for (size_t j = 0; j < keep; j++) {
        size_t p = rev ? keep - 1 - j : first + j;

        if (j > 0)
            put(t, ".", 1);
        put_escaped(t, v + start[p], (size_t)(start[p + 1] - 1 - start[p]), url);
    }
    return 0;
}

/* finish - 7.3: over SPF_MACRO_MAX_NAME, drop labels from the left until it fits; when
 * even the last label does not fit, the last SPF_MACRO_MAX_NAME bytes (a name that
 * cannot exist: it holds a label over 63). Returns the length written to out. */
static size_t finish(const struct tail *t, char *out, size_t outlen)
{
    size_t k = 0, n;

    if (t->cut || t->len > SPF_MACRO_MAX_NAME) {
        k = t->len - SPF_MACRO_MAX_NAME;
        while (k < t->len && t->buf[k - 1] != '.')
            k++;
        if (k >= t->len)
            k = t->len - SPF_MACRO_MAX_NAME;
    }
    n = t->len - k;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, t->buf + k, n);
    out[n] = '\0';
    return n;
}

/* spf_macro_expand - see spf_int.h */
int spf_macro_expand(const struct spf_macro_env *env, const char *s, size_t n, char *out,
                     size_t outlen)
{
    struct tail t;
    size_t i = 0;

    if (env == NULL || s == NULL || out == NULL || outlen < SPF_MACRO_MAX_NAME + 1)
        return -1;
    t.len = 0;
    t.cut = 0;
    out[0] = '\0';
    while (i < n) {
        const char *close;
        int rc;

        if (s[i] != '%') {
            size_t lit = i;

            while (lit < n && s[lit] != '%') {
                if ((unsigned char)s[lit] < 0x21 || (unsigned char)s[lit] > 0x7e)
                    return -1;   /* 7.1: macro-literal = %x21-24 / %x26-7E */
                lit++;
            }
            put(&t, s + i, lit - i);
            i = lit;
            continue;
        }
        if (i + 1 >= n)
            return -1;
        switch (s[i + 1]) {
        case '%':
            put(&t, "%", 1);
            i += 2;
            continue;
        case '_':
            put(&t, " ", 1);
            i += 2;
            continue;
        case '-':
            put(&t, "%20", 3);
            i += 2;
            continue;
        case '{':
            break;
        default:
            return -1;
        }
        if ((close = memchr(s + i + 2, '}', n - i - 2)) == NULL)
            return -1;
        if ((rc = expand_one(env, s + i + 2, (size_t)(close - s - i - 2), &t)) < 0)
            return rc;
        i = (size_t)(close - s) + 1;
    }
    return (int)finish(&t, out, outlen);
}

/* spf_macro_transformed - see spf_int.h */
int spf_macro_transformed(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++) {
        if (s[i] != '%')
            continue;
        if (s[i + 1] == '{' && (s[i + 3] != '}' || (s[i + 2] >= 'A' && s[i + 2] <= 'Z')))
            return 1;
        i++;   /* "%%", "%_", "%-", "%{x}": the next byte starts nothing */
    }
    return 0;
}
