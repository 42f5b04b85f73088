/* ar_check.h - an Authentication-Results reader for the fuzz targets, written from the
 * RFC 8601 section 2.2 grammar and independent of src/out/ar_format.c: it checks that a
 * value our writer produced is one well-formed header (printable ASCII, folds followed
 * by white space, balanced comments, lines within RFC 5322's 998) and returns what it
 * says (authserv-id, then each resinfo's method, result, top-level comments and
 * properties with quoted-strings unquoted).
 * Header-only (static functions) so each fuzz_*.c stays one program; not a library.
 * Threads: reentrant; the parsed struct is the caller's. */
#ifndef SA_FUZZ_AR_CHECK_H
#define SA_FUZZ_AR_CHECK_H

#include <stdio.h>
#include <string.h>

#define ARC_MAX_RES 32
#define ARC_MAX_PROPS 16
#define ARC_MAX_STR 300
#define ARC_FIELD_COLS 24 /* "Authentication-Results: " */

struct arc_prop {
    char name[ARC_MAX_STR];
    char value[ARC_MAX_STR];
};

struct arc_res {
    char method[ARC_MAX_STR];
    char result[ARC_MAX_STR];
    char comment[ARC_MAX_STR]; /* the first top-level comment after the result */
    int nprop;
    struct arc_prop prop[ARC_MAX_PROPS];
};

struct arc_header {
    char id[ARC_MAX_STR];
    int none; /* "id; none" */
    int nres;
    struct arc_res res[ARC_MAX_RES];
};

struct arc_rd {
    const char *s;
    size_t n, i;
    char *why;
    size_t whylen;
};

static int arc_fail(struct arc_rd *r, const char *what)
{
    snprintf(r->why, r->whylen, "%s at offset %zu", what, r->i);
    return -1;
}

static int arc_tspecial(int c)
{
    return c != 0 && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int arc_tokchar(int c)
{
    return c > 0x20 && c < 0x7f && !arc_tspecial(c);
}

/* arc_lines - every byte printable ASCII, TAB, or a line break (CRLF or LF) followed by
 * WSP; no line (the first counted with the field name) longer than 998 */
static int arc_lines(struct arc_rd *r)
{
    size_t col = ARC_FIELD_COLS;

    for (r->i = 0; r->i < r->n; r->i++) {
        unsigned char c = (unsigned char)r->s[r->i];

        if (c == '\r') {
            if (r->i + 1 >= r->n || r->s[r->i + 1] != '\n')
                return arc_fail(r, "bare CR");
            continue;
        }
        if (c == '\n') {
            if (r->i + 1 >= r->n || (r->s[r->i + 1] != ' ' && r->s[r->i + 1] != '\t'))
                return arc_fail(r, "line break not followed by WSP");
            col = 0;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c >= 0x7f)
            return arc_fail(r, "byte outside printable ASCII");
        if (++col > 998)
            return arc_fail(r, "line longer than 998");
    }
    if (r->n > 0 && (r->s[r->n - 1] == ' ' || r->s[r->n - 1] == '\t'))
        return arc_fail(r, "trailing white space");
    return 0;
}

/* arc_cfws - skip white space, folds and comments; the first top-level comment's text
 * goes to comment (when not NULL and still empty) */
static int arc_cfws(struct arc_rd *r, char *comment)
{
    for (;;) {
        while (r->i < r->n && strchr(" \t\r\n", r->s[r->i]) != NULL)
            r->i++;
        if (r->i >= r->n || r->s[r->i] != '(')
            return 0;
        {
            size_t depth = 0, o = 0, start = r->i + 1;
            int keep = comment != NULL && comment[0] == '\0';

            for (; r->i < r->n; r->i++) {
                char c = r->s[r->i];
                if (c == '\\') {
                    if (++r->i >= r->n)
                        return arc_fail(r, "quoted-pair at end");
                } else if (c == '(') {
                    depth++;
                } else if (c == ')' && --depth == 0) {
                    break;
                }
            }
            if (r->i >= r->n)
                return arc_fail(r, "unterminated comment");
            if (keep) {
                for (size_t k = start; k < r->i && o + 1 < ARC_MAX_STR; k++)
                    comment[o++] = r->s[k];
                comment[o] = '\0';
            }
            r->i++;
        }
    }
}

/* arc_token - a token into out */
static int arc_token(struct arc_rd *r, char *out)
{
    size_t o = 0;

    if (r->i >= r->n || !arc_tokchar((unsigned char)r->s[r->i]))
        return arc_fail(r, "token expected");
    while (r->i < r->n && arc_tokchar((unsigned char)r->s[r->i])) {
        if (o + 1 >= ARC_MAX_STR)
            return arc_fail(r, "token too long");
        out[o++] = r->s[r->i++];
    }
    out[o] = '\0';
    return 0;
}

/* arc_value - token or quoted-string (unquoted into out) */
static int arc_value(struct arc_rd *r, char *out)
{
    size_t o = 0;

    if (r->i < r->n && r->s[r->i] == '"') {
        for (r->i++; r->i < r->n && r->s[r->i] != '"'; r->i++) {
            if (r->s[r->i] == '\\' && ++r->i >= r->n)
                return arc_fail(r, "quoted-pair at end");
            if (o + 1 >= ARC_MAX_STR)
                return arc_fail(r, "quoted-string too long");
            out[o++] = r->s[r->i];
        }
        if (r->i >= r->n)
            return arc_fail(r, "unterminated quoted-string");
        r->i++;
        out[o] = '\0';
        return 0;
    }
    return arc_token(r, out);
}

static int arc_expect(struct arc_rd *r, char c)
{
    if (r->i >= r->n || r->s[r->i] != c) {
        char m[32];
        snprintf(m, sizeof(m), "'%c' expected", c);
        return arc_fail(r, m);
    }
    r->i++;
    return 0;
}

/* arc_parse - parse v (n bytes) into *h; 0, or -1 with why set */
static int arc_parse(const char *v, size_t n, struct arc_header *h, char *why, size_t whylen)
{
    struct arc_rd r = {v, n, 0, why, whylen};

    memset(h, 0, sizeof(*h));
    why[0] = '\0';
    if (memchr(v, '\0', n) != NULL)
        return arc_fail(&r, "NUL in value");
    if (arc_lines(&r) < 0)
        return -1;
    r.i = 0;
    if (arc_cfws(&r, NULL) < 0 || arc_value(&r, h->id) < 0 || arc_cfws(&r, NULL) < 0)
        return -1;
    if (r.i < r.n && r.s[r.i] >= '0' && r.s[r.i] <= '9') { /* authres-version */
        char ver[ARC_MAX_STR];
        if (arc_token(&r, ver) < 0 || arc_cfws(&r, NULL) < 0)
            return -1;
    }
    if (arc_expect(&r, ';') < 0 || arc_cfws(&r, NULL) < 0)
        return -1;
    if (r.n - r.i == 4 && strncmp(r.s + r.i, "none", 4) == 0) {
        h->none = 1;
        return 0;
    }
    for (;;) {
        struct arc_res *ri;

        if (h->nres >= ARC_MAX_RES)
            return arc_fail(&r, "too many resinfos");
        ri = &h->res[h->nres++];
        if (arc_cfws(&r, NULL) < 0 || arc_token(&r, ri->method) < 0 || arc_cfws(&r, NULL) < 0)
            return -1;
        if (r.i < r.n && r.s[r.i] == '/') { /* methodspec version */
            char ver[ARC_MAX_STR];
            r.i++;
            if (arc_cfws(&r, NULL) < 0 || arc_token(&r, ver) < 0 || arc_cfws(&r, NULL) < 0)
                return -1;
        }
        if (arc_expect(&r, '=') < 0 || arc_cfws(&r, NULL) < 0 || arc_token(&r, ri->result) < 0 ||
            arc_cfws(&r, ri->comment) < 0)
            return -1;
        for (;;) {
            struct arc_prop *p;

            if (r.i >= r.n)
                return 0;
            if (r.s[r.i] == ';') {
                r.i++;
                break;
            }
            if (ri->nprop >= ARC_MAX_PROPS)
                return arc_fail(&r, "too many properties");
            p = &ri->prop[ri->nprop++];
            if (arc_token(&r, p->name) < 0 || arc_cfws(&r, NULL) < 0 || arc_expect(&r, '=') < 0 ||
                arc_cfws(&r, NULL) < 0 || arc_value(&r, p->value) < 0 ||
                arc_cfws(&r, ri->comment) < 0)
                return -1;
            if (strchr(p->name, '.') == NULL)
                return arc_fail(&r, "property without ptype");
        }
    }
}

#endif
