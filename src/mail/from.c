/* from.c - RFC 5322 section 3.6.2 From field value -> one author domain or an anomaly.
 * Owns the tokenizer (CFWS, quoted strings, encoded words, domain literals), the
 * mailbox / group grammar with the safe parts of the obsolete syntax (section 4), and the
 * choice of one author domain. Does not own the domain normalisation (from_idn.c), header
 * unfolding for other fields, Sender/Resent-From, or what a DMARC verifier does with an
 * anomaly (the caller and docs/from-parsing.md do).
 * Allocation: none; works in the caller's struct from_res and small stack buffers.
 * Time: linear in the input length. Threads: reentrant, no globals written. */
#include <string.h>

#include "mail/from.h"
#include "util/xalloc.h"

#define EWORD_MAX 200 /* RFC 2047 2 says 75; we tolerate longer, bounded */

enum tok_type { T_END, T_ATOM, T_QSTR, T_EWORD, T_DLIT, T_SPECIAL };

struct tok {
    enum tok_type type;
    const char *s; /* ATOM/EWORD: the text; QSTR/DLIT: between the delimiters */
    size_t n;
    int ch;    /* T_SPECIAL: one of < > @ , ; : . */
    int atext; /* T_EWORD: every byte is atext, so it may also serve as an atom */
};

struct lex {
    const char *p, *end;
    struct tok cur;
    const char *err; /* first syntax error, NULL if none */
};

struct parse {
    struct lex lx;
    struct from_res *out;
    const char *bad_domain; /* first domain problem */
    int multi;              /* two addresses with different domains */
    char lp[256];           /* local part of the address being parsed (for logs) */
    size_t lplen;
    char dom[FROM_MAX_DOMAIN_RAW + 1];
    size_t domlen;
    int domtoolong;
    int domliteral;
};

static int is_atext(unsigned char c);
static void lex_next(struct lex *lx);
static void lex_fail(struct lex *lx, const char *why);
static int prescan(const char *v, size_t *len, const char **why);
static int is_word(const struct tok *t, int as_atom);
static void lp_add(struct parse *ps, const struct tok *t);
static void parse_list(struct parse *ps, int in_group);
static void parse_address(struct parse *ps, int in_group);
static void parse_angle(struct parse *ps);
static void parse_local(struct parse *ps);
static void parse_domain(struct parse *ps, int keep);
static void record_address(struct parse *ps);

/* is_atext - RFC 5322 3.2.3 atext, plus 8-bit bytes (RFC 6532 3.2 UTF8-non-ascii). */
static int is_atext(unsigned char c)
{
    if (c >= 0x80)
        return 1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* lex_fail - remember the first syntax error and stop the token stream. */
static void lex_fail(struct lex *lx, const char *why)
{
    if (lx->err == NULL)
        lx->err = why;
    lx->cur.type = T_END;
    lx->p = lx->end;
}

/* skip_cfws - skip WSP, folding (validated by prescan) and nested comments. */
static void skip_cfws(struct lex *lx)
{
    while (lx->p < lx->end) {
        unsigned char c = (unsigned char)*lx->p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            lx->p++;
        } else if (c == '(') {
            size_t depth = 1;
            lx->p++;
            while (lx->p < lx->end && depth > 0) {
                c = (unsigned char)*lx->p++;
                if (c == '\\') {
                    if (lx->p >= lx->end || *lx->p == '\r' || *lx->p == '\n') {
                        lex_fail(lx, "bad quoted-pair in comment");
                        return;
                    }
                    lx->p++;
                } else if (c == '(') {
                    depth++;
                } else if (c == ')') {
                    depth--;
                }
            }
            if (depth > 0) {
                lex_fail(lx, "unbalanced comment");
                return;
            }
        } else {
            return;
        }
    }
}

/* scan_eword - length of an RFC 2047 encoded word at p, or 0 if there is none.
 * Bounded by EWORD_MAX, so a failed attempt costs a constant. */
static size_t scan_eword(const char *p, const char *end, int *atext)
{
    const char *q = p, *lim = end;
    int part = 0;

    if (lim - p > EWORD_MAX)
        lim = p + EWORD_MAX;
    if (lim - q < 2 || q[0] != '=' || q[1] != '?')
        return 0;
    q += 2;
    *atext = 1;
    for (const char *start = q; q < lim; q++) {
        unsigned char c = (unsigned char)*q;
        if (c == '?') {
            if (q == start)
                return 0;
            if (part == 1 && !(q - start == 1 && strchr("BbQq", *start)))
                return 0;
            part++;
            start = q + 1;
            if (part == 3)
                break;
            continue;
        }
        if (c <= ' ' || c >= 0x7f)
            return 0;
        if (part < 2 && strchr("()<>@,;:\"/[]?.=", c))
            return 0;
        if (!is_atext(c))
            *atext = 0;
    }
    if (part != 3 || q + 1 >= lim || q[1] != '=')
        return 0;
    q += 2;
    /* An encoded word is a whole word: it must not run on into atext. */
    if (q < end && is_atext((unsigned char)*q))
        return 0;
    return (size_t)(q - p);
}

/* lex_next - read the next token into lx->cur. */
static void lex_next(struct lex *lx)
{
    struct tok *t = &lx->cur;
    unsigned char c;
    size_t n;

    skip_cfws(lx);
    if (lx->err != NULL || lx->p >= lx->end) {
        t->type = T_END;
        return;
    }
    c = (unsigned char)*lx->p;
    t->s = lx->p;
    t->n = 0;
    t->atext = 0;
    if (c == '"' || c == '[') {
        int close = c == '"' ? '"' : ']';
        const char *q = ++lx->p;
        while (q < lx->end && *q != close) {
            if (*q == '\\') {
                if (q + 1 >= lx->end || q[1] == '\r' || q[1] == '\n') {
                    lex_fail(lx, "bad quoted-pair");
                    return;
                }
                q++;
            } else if (c == '[' && *q == '[') {
                lex_fail(lx, "'[' inside domain literal");
                return;
            }
            q++;
        }
        if (q >= lx->end) {
            lex_fail(lx, c == '"' ? "unbalanced quote" : "unbalanced '['");
            return;
        }
        t->type = c == '"' ? T_QSTR : T_DLIT;
        t->s = lx->p;
        t->n = (size_t)(q - lx->p);
        lx->p = q + 1;
        return;
    }
    if (strchr("<>@,;:.", c) != NULL) {
        t->type = T_SPECIAL;
        t->ch = c;
        lx->p++;
        return;
    }
    if ((n = scan_eword(lx->p, lx->end, &t->atext)) > 0) {
        t->type = T_EWORD;
        t->n = n;
        lx->p += n;
        return;
    }
    if (is_atext(c)) {
        const char *q = lx->p;
        while (q < lx->end && is_atext((unsigned char)*q))
            q++;
        t->type = T_ATOM;
        t->n = (size_t)(q - lx->p);
        lx->p = q;
        return;
    }
    lex_fail(lx, c == ')'    ? "unbalanced ')'"
                 : c == ']'  ? "unbalanced ']'"
                 : c == '\\' ? "backslash outside quotes"
                             : "character not allowed here");
}

/* prescan - reject NUL and line breaks that are not folding; drop one trailing line end. */
static int prescan(const char *v, size_t *len, const char **why)
{
    size_t n = *len;

    if (n >= 2 && v[n - 2] == '\r' && v[n - 1] == '\n')
        n -= 2;
    else if (n >= 1 && v[n - 1] == '\n')
        n -= 1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\0') {
            *why = "NUL byte in From";
            return -1;
        }
        if (v[i] == '\r' && (i + 1 >= n || v[i + 1] != '\n')) {
            *why = "bare CR in From";
            return -1;
        }
        if (v[i] == '\n' && (i + 1 >= n || (v[i + 1] != ' ' && v[i + 1] != '\t'))) {
            *why = "line break that is not folding";
            return -1;
        }
    }
    *len = n;
    return 0;
}

/* is_word - token is an RFC 5322 word (atom or quoted string); encoded words count as
 * atoms only when as_atom and they consist of atext. */
static int is_word(const struct tok *t, int as_atom)
{
    if (t->type == T_ATOM || t->type == T_QSTR)
        return 1;
    if (t->type == T_EWORD)
        return as_atom ? t->atext : 1;
    return 0;
}

/* lp_add - append a local-part token to ps->lp for logging (truncates, log-safe). */
static void lp_add(struct parse *ps, const struct tok *t)
{
    const char *s = t->s;
    size_t n = t->n;

    if (t->type == T_SPECIAL) {
        s = ".";
        n = 1;
    } else if (t->type == T_QSTR) {
        s = t->s - 1;
        n = t->n + 2;
    }
    for (size_t i = 0; i < n && ps->lplen + 1 < sizeof(ps->lp); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n')
            continue;
        ps->lp[ps->lplen++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    ps->lp[ps->lplen] = '\0';
}

static int cur_is(const struct parse *ps, int ch)
{
    return ps->lx.cur.type == T_SPECIAL && ps->lx.cur.ch == ch;
}

/* parse_list - mailbox-list / group-list, with obsolete empty members (4.4). */
static void parse_list(struct parse *ps, int in_group)
{
    struct lex *lx = &ps->lx;

    while (lx->err == NULL) {
        if (cur_is(ps, ',')) {
            lex_next(lx);
            continue;
        }
        if (lx->cur.type == T_END || (in_group && cur_is(ps, ';')))
            return;
        parse_address(ps, in_group);
        if (lx->err != NULL)
            return;
        if (cur_is(ps, ','))
            continue;
        if (lx->cur.type == T_END || (in_group && cur_is(ps, ';')))
            return;
        lex_fail(lx, cur_is(ps, '>')   ? "'>' without '<'"
                     : cur_is(ps, '<') ? "second angle address in one mailbox"
                                       : "text after address");
    }
}

/* parse_address - one mailbox (name-addr or addr-spec) or, outside a group, one group. */
static void parse_address(struct parse *ps, int in_group)
{
    struct lex *lx = &ps->lx;
    int words = 0, local_ok = 1, last_word = 0;

    ps->lplen = 0;
    ps->lp[0] = '\0';
    /* The phrase of a name-addr or group, or the local part of an addr-spec: we cannot
     * tell until the token after it, so collect once and decide then. */
    while (is_word(&lx->cur, 0) || cur_is(ps, '.')) {
        if (cur_is(ps, '.')) {
            last_word = 0;
        } else {
            if (last_word || !is_word(&lx->cur, 1))
                local_ok = 0;
            last_word = 1;
            words++;
        }
        if (local_ok)
            lp_add(ps, &lx->cur);
        lex_next(lx);
    }
    if (lx->err != NULL)
        return;
    if (cur_is(ps, '<')) {
        lex_next(lx);
        parse_angle(ps);
    } else if (cur_is(ps, ':')) {
        if (in_group) {
            lex_fail(lx, "group inside a group");
            return;
        }
        if (words == 0) {
            lex_fail(lx, "group without a name");
            return;
        }
        lex_next(lx);
        parse_list(ps, 1);
        if (lx->err == NULL && !cur_is(ps, ';'))
            lex_fail(lx, "group without ';'");
        if (lx->err == NULL)
            lex_next(lx);
    } else if (cur_is(ps, '@')) {
        if (words == 0) {
            lex_fail(lx, "address without local part");
            return;
        }
        if (!local_ok) {
            lex_fail(lx, "local part is not word *(\".\" word)");
            return;
        }
        lex_next(lx);
        parse_domain(ps, 1);
        if (lx->err == NULL)
            record_address(ps);
    } else if (words > 0) {
        lex_fail(lx, "display name without address");
    } else {
        lex_fail(lx, cur_is(ps, '>')          ? "'>' without '<'"
                     : cur_is(ps, ';')        ? "';' outside a group"
                     : lx->cur.type == T_DLIT ? "domain literal without address"
                                              : "unexpected character");
    }
}

/* parse_angle - after '<': [obs-route] addr-spec '>' (route domains are ignored). */
static void parse_angle(struct parse *ps)
{
    struct lex *lx = &ps->lx;

    if (cur_is(ps, '@') || cur_is(ps, ',')) {
        while (lx->err == NULL) {
            if (cur_is(ps, ',')) {
                lex_next(lx);
            } else if (cur_is(ps, '@')) {
                lex_next(lx);
                parse_domain(ps, 0);
            } else {
                break;
            }
        }
        if (lx->err == NULL && !cur_is(ps, ':'))
            lex_fail(lx, "obsolete route without ':'");
        if (lx->err != NULL)
            return;
        lex_next(lx);
    }
    ps->lplen = 0;
    ps->lp[0] = '\0';
    parse_local(ps);
    if (lx->err != NULL)
        return;
    if (!cur_is(ps, '@')) {
        lex_fail(lx, cur_is(ps, '>') ? "angle address without '@'" : "bad local part");
        return;
    }
    lex_next(lx);
    parse_domain(ps, 1);
    if (lx->err != NULL)
        return;
    if (!cur_is(ps, '>')) {
        lex_fail(lx, "unbalanced '<'");
        return;
    }
    lex_next(lx);
    record_address(ps);
}

/* parse_local - local-part = word *("." word); stray dots tolerated (obs, real mail). */
static void parse_local(struct parse *ps)
{
    struct lex *lx = &ps->lx;
    int words = 0, last_word = 0;

    while (lx->err == NULL && (is_word(&lx->cur, 0) || cur_is(ps, '.'))) {
        if (!cur_is(ps, '.')) {
            if (last_word || !is_word(&lx->cur, 1)) {
                lex_fail(lx, "local part is not word *(\".\" word)");
                return;
            }
            words++;
        }
        last_word = !cur_is(ps, '.');
        lp_add(ps, &lx->cur);
        lex_next(lx);
    }
    if (lx->err == NULL && words == 0)
        lex_fail(lx, "address without local part");
}

/* parse_domain - dot-atom / obs-domain / domain-literal. With keep, the text goes to
 * ps->dom for record_address; a single trailing dot is accepted and dropped. */
static void parse_domain(struct parse *ps, int keep)
{
    struct lex *lx = &ps->lx;

    if (keep) {
        ps->domlen = 0;
        ps->domtoolong = 0;
        ps->domliteral = 0;
    }
    if (lx->cur.type == T_DLIT) {
        if (keep)
            ps->domliteral = 1;
        lex_next(lx);
        return;
    }
    for (;;) {
        if (!is_word(&lx->cur, 1) || lx->cur.type == T_QSTR) {
            if (lx->err == NULL)
                lex_fail(lx,
                         lx->cur.type == T_END ? "address without domain" : "bad domain syntax");
            return;
        }
        if (keep) {
            if (ps->domlen + lx->cur.n + 1 > FROM_MAX_DOMAIN_RAW) {
                ps->domtoolong = 1;
            } else {
                if (ps->domlen > 0)
                    ps->dom[ps->domlen++] = '.';
                memcpy(ps->dom + ps->domlen, lx->cur.s, lx->cur.n);
                ps->domlen += lx->cur.n;
            }
        }
        lex_next(lx);
        if (!cur_is(ps, '.'))
            return;
        lex_next(lx);
        if (!is_word(&lx->cur, 1) || lx->cur.type == T_QSTR)
            return; /* trailing dot: tolerated, the caller checks what follows */
    }
}

/* record_address - normalise the domain just parsed and compare with the first one. */
static void record_address(struct parse *ps)
{
    struct from_res *out = ps->out;
    char norm[FROM_MAX_NAME + 1];
    const char *why = NULL;

    out->naddr++;
    if (ps->domliteral)
        why = "From domain is an address literal";
    else if (ps->domtoolong)
        why = "From domain too long";
    else if (from_normalize_domain(ps->dom, ps->domlen, norm, sizeof(norm), &why) == 0)
        why = NULL;
    if (why != NULL) {
        if (ps->bad_domain == NULL)
            ps->bad_domain = why;
        return;
    }
    if (out->domain[0] == '\0') {
        sa_strlcpy(out->domain, norm, sizeof(out->domain));
        sa_strlcpy(out->local, ps->lp, sizeof(out->local));
    } else if (strcmp(out->domain, norm) != 0) {
        ps->multi = 1;
    }
}

/* from_parse - see from.h. */
int from_parse(const char *value, size_t len, struct from_res *out)
{
    struct parse ps;
    const char *why = NULL;

    out->status = FROM_UNPARSEABLE;
    out->domain[0] = '\0';
    out->local[0] = '\0';
    out->naddr = 0;
    out->reason[0] = '\0';
    if (value == NULL)
        len = 0;
    if (len > 0 && prescan(value, &len, &why) < 0) {
        sa_strlcpy(out->reason, why, sizeof(out->reason));
        return -1;
    }
    memset(&ps.lx, 0, sizeof(ps.lx));
    ps.lx.p = value;
    ps.lx.end = value + len;
    ps.out = out;
    ps.bad_domain = NULL;
    ps.multi = 0;
    ps.lplen = 0;
    ps.domlen = 0;
    lex_next(&ps.lx);
    parse_list(&ps, 0);
    if (ps.lx.err != NULL) {
        out->status = FROM_UNPARSEABLE;
        why = ps.lx.err;
    } else if (ps.bad_domain != NULL) {
        out->status = FROM_BAD_DOMAIN;
        why = ps.bad_domain;
    } else if (ps.multi) {
        out->status = FROM_MULTI_DOMAIN;
        why = "From has addresses in two domains";
    } else if (out->naddr == 0) {
        out->status = FROM_EMPTY;
        why = "From has no address";
    } else {
        out->status = FROM_OK;
        return 0;
    }
    out->domain[0] = '\0';
    sa_strlcpy(out->reason, why, sizeof(out->reason));
    return -1;
}

/* from_status_name - see from.h. */
const char *from_status_name(enum from_status s)
{
    switch (s) {
    case FROM_OK:
        return "ok";
    case FROM_NONE:
        return "none";
    case FROM_MULTI_FIELD:
        return "multiple-from";
    case FROM_MULTI_DOMAIN:
        return "multiple-domains";
    case FROM_EMPTY:
        return "empty";
    case FROM_UNPARSEABLE:
        return "unparseable";
    case FROM_BAD_DOMAIN:
        return "bad-domain";
    }
    return "unparseable";
}
