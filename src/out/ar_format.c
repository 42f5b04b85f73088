/* ar_format.c - writes the one Authentication-Results header value (RFC 8601).
 * Owns the output syntax, value quoting/dropping, reason sanitizing and folding; not
 * which results exist (the daemon's act.c decides) nor where the header goes.
 * Threads: reentrant; works only on its arguments. */
#include <stdio.h>
#include <string.h>

#include "out/ar_format.h"

#define FIELD_COLS (sizeof(AR_HEADER_NAME ": ") - 1)
#define AR_MAX_METHOD 32 /* longer method names are skipped (item[] holds method=result) */
#define TAB_COLS 8

/* One output line being built; failed sticks once out is too small. */
struct writer {
    char *out;
    size_t outlen, len;
    size_t col;
    const char *fold;
    int failed;
};

static int append(struct writer *w, const char *s, size_t n);
static void put(struct writer *w, const char *s, size_t n);
static void put_plain(struct writer *w, const char *s, size_t n);
static void put_item(struct writer *w, const char *s, size_t n, int force_fold);
static int quotable(const char *s);
static int is_tspecial(int c);
static size_t join(char *out, size_t outlen, const char *a, const char *b, const char *c,
                   const char *d);

/* Character classes as bit masks, so the per-character tests are one table read (a
 * strchr per character was a fifth of the cost of a header). */
#define C_TSPECIAL 1 /* RFC 2045 5.1 tspecials: ()<>@,;:\"/[]?= */
#define C_NOQUOTE 2  /* not left inside a quoted value: ;()"\ */
#define C_KEEP 4     /* kept as they are in a comment, besides letters and digits */
static const unsigned char cls[256] = {
    ['('] = C_TSPECIAL | C_NOQUOTE, [')'] = C_TSPECIAL | C_NOQUOTE,
    ['<'] = C_TSPECIAL | C_KEEP,    ['>'] = C_TSPECIAL | C_KEEP,
    ['@'] = C_TSPECIAL | C_KEEP,    [','] = C_TSPECIAL | C_KEEP,
    [';'] = C_TSPECIAL | C_NOQUOTE, [':'] = C_TSPECIAL | C_KEEP,
    ['\\'] = C_TSPECIAL | C_NOQUOTE, ['"'] = C_TSPECIAL | C_NOQUOTE,
    ['/'] = C_TSPECIAL | C_KEEP,    ['['] = C_TSPECIAL | C_KEEP,
    [']'] = C_TSPECIAL | C_KEEP,    ['?'] = C_TSPECIAL | C_KEEP,
    ['='] = C_TSPECIAL | C_KEEP,    ['.'] = C_KEEP,
    ['_'] = C_KEEP,                 ['+'] = C_KEEP,
    ['-'] = C_KEEP,                 ['\''] = C_KEEP,
    ['!'] = C_KEEP,                 ['#'] = C_KEEP,
    ['%'] = C_KEEP,                 ['&'] = C_KEEP,
    ['*'] = C_KEEP,                 ['{'] = C_KEEP,
    ['}'] = C_KEEP,                 ['|'] = C_KEEP,
    ['~'] = C_KEEP,                 ['^'] = C_KEEP,
    ['$'] = C_KEEP,
};

void ar_header_init(struct ar_header *h, const char *authserv_id)
{
    memset(h, 0, sizeof(*h));
    h->authserv_id = authserv_id;
}

struct ar_resinfo *ar_header_add(struct ar_header *h, const char *method, enum auth_res result,
                                 const char *reason)
{
    struct ar_resinfo *ri;

    if (h->nres >= AR_MAX_RESINFO)
        return NULL;
    ri = &h->res[h->nres++];
    memset(ri, 0, sizeof(*ri));
    ri->method = method;
    ri->result = result;
    ri->reason = reason;
    return ri;
}

int ar_resinfo_prop(struct ar_resinfo *ri, const char *name, const char *value)
{
    if (ri == NULL || ri->nprop >= AR_MAX_PROPS)
        return -1;
    ri->prop[ri->nprop].name = name;
    ri->prop[ri->nprop].value = value;
    ri->nprop++;
    return 0;
}

/* is_tspecial - RFC 2045 5.1 tspecials */
static int is_tspecial(int c)
{
    return (cls[(unsigned char)c] & C_TSPECIAL) != 0;
}

int ar_value_is_token(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || is_tspecial(c))
            return 0;
    }
    return 1;
}

/* quotable - 1 when s can be written as a quoted-string without escapes and without
 * characters a naive A-R splitter trips on (space, ';', '(', ')', '"', '\'). */
static int quotable(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || (cls[c] & C_NOQUOTE) != 0)
            return 0;
    }
    return 1;
}

/* ar_clean_comment - see ar_format.h */
size_t ar_clean_comment(const char *in, char *out, size_t outlen)
{
    size_t n = 0, cap = outlen - 1;
    for (; in && *in && n < cap; in++) {
        unsigned char c = (unsigned char)*in;
        char o;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (cls[c] & C_KEEP) != 0)
            o = (char)c;
        else if (c == '(')
            o = '[';
        else if (c == ')')
            o = ']';
        else
            o = ' ';
        if (o == ' ' && (n == 0 || out[n - 1] == ' '))
            continue;
        out[n++] = o;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    return n;
}

/* join - the concatenation of a, b, c and d (NULL ends the list early) into out,
 * truncated to fit; its length */
static size_t join(char *out, size_t outlen, const char *a, const char *b, const char *c,
                   const char *d)
{
    const char *parts[4] = {a, b, c, d};
    size_t n = 0;

    for (int i = 0; i < 4 && parts[i] != NULL; i++) {
        size_t l = strlen(parts[i]);

        if (l > outlen - 1 - n)
            l = outlen - 1 - n;
        memcpy(out + n, parts[i], l);
        n += l;
    }
    out[n] = '\0';
    return n;
}

/* append - raw append; 0, or -1 (and failed set) when it does not fit */
static int append(struct writer *w, const char *s, size_t n)
{
    if (w->failed)
        return -1;
    if (w->len + n + 1 > w->outlen || w->len + n > AR_MAX_HEADER) {
        w->failed = 1;
        return -1;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
    w->out[w->len] = '\0';
    return 0;
}

/* put - append, tracking the column through tabs and newlines (the fold) */
static void put(struct writer *w, const char *s, size_t n)
{
    if (append(w, s, n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            w->col = 0;
        else if (s[i] == '\t')
            w->col = (w->col / TAB_COLS + 1) * TAB_COLS;
        else
            w->col++;
    }
}

/* put_plain - append text with no tab or newline: every byte is one column. Items are
 * such text (tokens, quotable values, cleaned comments: no byte <= 0x20 but space). */
static void put_plain(struct writer *w, const char *s, size_t n)
{
    if (append(w, s, n) == 0)
        w->col += n;
}

/* put_item - separator (a space, or the fold when forced or the line would grow past
 * AR_FOLD_COLUMN, keeping one column for a ';' that may follow), then the item */
static void put_item(struct writer *w, const char *s, size_t n, int force_fold)
{
    if (force_fold || w->col + 1 + n + 1 > AR_FOLD_COLUMN)
        put(w, w->fold, strlen(w->fold));
    else
        put_plain(w, " ", 1);
    put_plain(w, s, n);
}

/* ar_format_header - see ar_format.h */
int ar_format_header(const struct ar_header *h, const char *fold, char *out, size_t outlen)
{
    struct writer w = {out, outlen, 0, FIELD_COLS, fold ? fold : "\n\t", 0};
    char item[AR_MAX_VALUE + 64];
    int written = 0;

    if (out == NULL || outlen == 0)
        return -1;
    out[0] = '\0';
    if (h == NULL || !ar_value_is_token(h->authserv_id) || strlen(h->authserv_id) > AR_MAX_VALUE)
        return -1;
    put(&w, h->authserv_id, strlen(h->authserv_id));
    put(&w, ";", 1);
    for (int i = 0; i < h->nres && i < AR_MAX_RESINFO; i++) {
        const struct ar_resinfo *ri = &h->res[i];
        char reason[AR_MAX_REASON + 1];
        size_t n;

        if (!ar_value_is_token(ri->method) || strlen(ri->method) > AR_MAX_METHOD)
            continue;
        if (written++ > 0)
            put(&w, ";", 1);
        n = join(item, sizeof(item), ri->method, "=",
                 ar_value_is_token(ri->word) && strlen(ri->word) <= AR_MAX_METHOD
                     ? ri->word
                     : auth_res_name(ri->result),
                 NULL);
        put_item(&w, item, n, 1);
        if (ar_clean_comment(ri->reason, reason, sizeof(reason)) > 0) {
            n = join(item, sizeof(item), "(", reason, ")", NULL);
            put_item(&w, item, n, 0);
        }
        for (int k = 0; k < ri->nprop && k < AR_MAX_PROPS; k++) {
            const struct ar_prop *p = &ri->prop[k];
            size_t vlen = p->value ? strlen(p->value) : 0;

            if (p->name == NULL || strchr(p->name, '.') == NULL || !ar_value_is_token(p->name) ||
                strlen(p->name) > 32 || vlen == 0 || vlen > AR_MAX_VALUE)
                continue;
            /* Bounded above (name 32, value AR_MAX_VALUE): join never truncates here. */
            if (ar_value_is_token(p->value))
                n = join(item, sizeof(item), p->name, "=", p->value, NULL);
            else if (quotable(p->value))
                n = join(item, sizeof(item), p->name, "=\"", p->value, "\"");
            else
                continue;
            put_item(&w, item, n, 0);
        }
    }
    if (written == 0)
        put_item(&w, "none", 4, 0);
    if (w.failed) {
        out[0] = '\0';
        return -1;
    }
    return (int)w.len;
}
