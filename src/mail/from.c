/* from.c - RFC 5322 section 3.6.2 From field value -> one author domain or an anomaly.
 * Owns the tokenizer (CFWS, quoted strings, encoded words, domain literals), the
 * mailbox / group grammar with the safe parts of the obsolete syntax (section 4), and the
 * domain normalisation (lower case, IDN U-label -> A-label with a bounded RFC 3492
 * encoder). Does not own header unfolding for other fields, Sender/Resent-From, or
 * deciding what a DMARC verifier does with an anomaly (the caller and docs do).
 * Allocation: none; works in the caller's struct from_res and small stack buffers.
 * Time: linear in the input length. Threads: reentrant, no globals written. */
#include <stdint.h>
#include <string.h>

#include "mail/from.h"
#include "util/xalloc.h"

#define FROM_MAX_DOMAIN_RAW 1024 /* raw (UTF-8) domain bytes we look at */
#define DNS_MAX_NAME 253         /* RFC 1035 2.3.4, without the trailing dot */
#define DNS_MAX_LABEL 63         /* RFC 1035 2.3.4 */
#define EWORD_MAX 200            /* RFC 2047 2 says 75; we tolerate longer, bounded */

enum tok_type { T_END, T_ATOM, T_QSTR, T_EWORD, T_DLIT, T_SPECIAL };

struct tok {
    enum tok_type type;
    const char *s; /* ATOM/EWORD: the text; QSTR/DLIT: between the delimiters */
    size_t n;
    int ch;        /* T_SPECIAL: one of < > @ , ; : . */
    int atext;     /* T_EWORD: every byte is atext, so it may also serve as an atom */
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
static int domain_normalize(const char *raw, size_t n, char *dst, size_t dstsz, const char **why);

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
        lex_fail(lx, cur_is(ps, '>')   ? "'>' without '<'"
                     : cur_is(ps, ';') ? "';' outside a group"
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
                lex_fail(lx, lx->cur.type == T_END ? "address without domain" : "bad domain syntax");
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
    char norm[DNS_MAX_NAME + 1];
    const char *why = NULL;

    out->naddr++;
    if (ps->domliteral)
        why = "From domain is an address literal";
    else if (ps->domtoolong)
        why = "From domain too long";
    else if (domain_normalize(ps->dom, ps->domlen, norm, sizeof(norm), &why) == 0)
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

/* ---- domain normalisation: LDH check, lower case, U-label -> A-label ---- */

enum fold_op { F_SAME, F_ADD, F_EVEN, F_ODD, F_TO };

/* Non-ASCII code points we accept in a U-label, with the lower-casing UTS 46 applies.
 * Only scripts where this table plus "no combining marks" gives the NFC, case-folded
 * form exactly; anything else is rejected rather than guessed (see docs/from-parsing.md). */
static const struct {
    uint32_t lo, hi;
    enum fold_op op;
    uint32_t arg;
} fold_tab[] = {
    {0x00C0, 0x00D6, F_ADD, 0x20}, {0x00D8, 0x00DE, F_ADD, 0x20}, {0x00DF, 0x00F6, F_SAME, 0},
    {0x00F8, 0x00FF, F_SAME, 0},   {0x0100, 0x012F, F_EVEN, 0},   {0x0131, 0x0131, F_SAME, 0},
    {0x0134, 0x0137, F_EVEN, 0},   {0x0138, 0x0138, F_SAME, 0},   {0x0139, 0x013E, F_ODD, 0},
    {0x0141, 0x0148, F_ODD, 0},    {0x014A, 0x0177, F_EVEN, 0},   {0x0178, 0x0178, F_TO, 0x00FF},
    {0x0179, 0x017E, F_ODD, 0},    {0x0386, 0x0386, F_TO, 0x03AC}, {0x0388, 0x038A, F_ADD, 0x25},
    {0x038C, 0x038C, F_TO, 0x03CC}, {0x038E, 0x038F, F_ADD, 0x3F}, {0x0390, 0x0390, F_SAME, 0},
    {0x0391, 0x03A1, F_ADD, 0x20}, {0x03A3, 0x03AB, F_ADD, 0x20}, {0x03AC, 0x03CE, F_SAME, 0},
    {0x0400, 0x040F, F_ADD, 0x50}, {0x0410, 0x042F, F_ADD, 0x20}, {0x0430, 0x045F, F_SAME, 0},
    {0x0460, 0x0481, F_EVEN, 0},   {0x048A, 0x04BF, F_EVEN, 0},   {0x04C0, 0x04C0, F_TO, 0x04CF},
    {0x04C1, 0x04CE, F_ODD, 0},    {0x04CF, 0x04CF, F_SAME, 0},   {0x04D0, 0x052F, F_EVEN, 0},
    {0x0531, 0x0556, F_ADD, 0x30}, {0x0561, 0x0586, F_SAME, 0},   {0x05D0, 0x05EA, F_SAME, 0},
    {0x0620, 0x063F, F_SAME, 0},   {0x0641, 0x064A, F_SAME, 0},   {0x0660, 0x0669, F_SAME, 0},
    {0x066E, 0x066F, F_SAME, 0},   {0x0671, 0x0674, F_SAME, 0},   {0x0679, 0x06D3, F_SAME, 0},
    {0x06D5, 0x06D5, F_SAME, 0},   {0x06F0, 0x06F9, F_SAME, 0},   {0x1E00, 0x1E95, F_EVEN, 0},
    {0x1EA0, 0x1EFF, F_EVEN, 0},   {0x3005, 0x3007, F_SAME, 0},   {0x3041, 0x3096, F_SAME, 0},
    {0x309D, 0x309E, F_SAME, 0},   {0x30A1, 0x30FA, F_SAME, 0},   {0x30FC, 0x30FE, F_SAME, 0},
    {0x3400, 0x4DBF, F_SAME, 0},   {0x4E00, 0x9FFF, F_SAME, 0},   {0xAC00, 0xD7A3, F_SAME, 0},
};

/* fold_cp - lower-case form of a non-ASCII code point, or 0 if we do not accept it. */
static uint32_t fold_cp(uint32_t c)
{
    size_t lo = 0, hi = sizeof(fold_tab) / sizeof(fold_tab[0]);

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < fold_tab[mid].lo) {
            hi = mid;
        } else if (c > fold_tab[mid].hi) {
            lo = mid + 1;
        } else {
            switch (fold_tab[mid].op) {
            case F_SAME:
                return c;
            case F_ADD:
                return c + fold_tab[mid].arg;
            case F_EVEN:
                return (c & 1) == 0 ? c + 1 : c;
            case F_ODD:
                return (c & 1) == 1 ? c + 1 : c;
            case F_TO:
                return fold_tab[mid].arg;
            }
        }
    }
    return 0;
}

/* utf8_next - decode one strict UTF-8 sequence (no overlongs, surrogates or > U+10FFFF);
 * returns its length or 0. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        c = s[0] & 0x1F;
        len = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        c = s[0] & 0x0F;
        len = 3;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        c = s[0] & 0x07;
        len = 4;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

#define PUNY_BASE 36 /* RFC 3492 5 */
#define PUNY_TMIN 1
#define PUNY_TMAX 26
#define PUNY_SKEW 38
#define PUNY_DAMP 700
#define PUNY_BIAS 72
#define PUNY_N 128

static uint32_t puny_adapt(uint32_t delta, uint32_t numpoints, int first)
{
    uint32_t k = 0;

    delta = first ? delta / PUNY_DAMP : delta / 2;
    delta += delta / numpoints;
    while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
        delta /= PUNY_BASE - PUNY_TMIN;
        k += PUNY_BASE;
    }
    return k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW);
}

/* puny_encode - RFC 3492 6.3 encoder for n code points (n <= DNS_MAX_LABEL) into dst
 * (NUL-terminated); returns the length or -1 if it does not fit. */
static int puny_encode(const uint32_t *cp, size_t n, char *dst, size_t dstsz)
{
    size_t out = 0, h, b = 0;
    uint32_t m, cur = PUNY_N, delta = 0, bias = PUNY_BIAS;

    for (size_t j = 0; j < n; j++) {
        if (cp[j] < 0x80) {
            if (out + 1 >= dstsz)
                return -1;
            dst[out++] = (char)cp[j];
            b++;
        }
    }
    h = b;
    if (b > 0) {
        if (out + 1 >= dstsz)
            return -1;
        dst[out++] = '-';
    }
    while (h < n) {
        m = UINT32_MAX;
        for (size_t j = 0; j < n; j++)
            if (cp[j] >= cur && cp[j] < m)
                m = cp[j];
        /* n <= 63 and m <= 0x10FFFF keep delta far below 2^32: no overflow checks needed. */
        delta += (m - cur) * (uint32_t)(h + 1);
        cur = m;
        for (size_t j = 0; j < n; j++) {
            if (cp[j] < cur) {
                delta++;
            } else if (cp[j] == cur) {
                uint32_t q = delta;
                for (uint32_t k = PUNY_BASE;; k += PUNY_BASE) {
                    uint32_t t = k <= bias ? PUNY_TMIN
                                 : k >= bias + PUNY_TMAX ? PUNY_TMAX
                                                         : k - bias;
                    uint32_t d;
                    if (q < t)
                        break;
                    d = t + (q - t) % (PUNY_BASE - t);
                    if (out + 1 >= dstsz)
                        return -1;
                    dst[out++] = (char)(d < 26 ? 'a' + d : '0' + d - 26);
                    q = (q - t) / (PUNY_BASE - t);
                }
                if (out + 1 >= dstsz)
                    return -1;
                dst[out++] = (char)(q < 26 ? 'a' + q : '0' + q - 26);
                bias = puny_adapt(delta, (uint32_t)(h + 1), h == b);
                delta = 0;
                h++;
            }
        }
        delta++;
        cur++;
    }
    dst[out] = '\0';
    return (int)out;
}

/* label_normalize - one label -> lower-case LDH (A-label for non-ASCII) appended to dst. */
static int label_normalize(const unsigned char *s, size_t n, char *dst, size_t *dlen,
                           size_t dstsz, const char **why)
{
    uint32_t cp[DNS_MAX_LABEL];
    size_t ncp = 0, ascii = 1;
    char lab[DNS_MAX_LABEL + 1];
    size_t llen;

    if (n == 0) {
        *why = "empty label in From domain";
        return -1;
    }
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t k = utf8_next(s + i, n - i, &c);
        if (k == 0) {
            *why = "From domain is not valid UTF-8";
            return -1;
        }
        i += k;
        if (c >= 'A' && c <= 'Z') {
            c += 'a' - 'A';
        } else if (c >= 0x80) {
            ascii = 0;
            if ((c = fold_cp(c)) == 0) {
                *why = "From domain has a character we do not accept in an IDN";
                return -1;
            }
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            *why = "From domain is not letters, digits and hyphens";
            return -1;
        }
        if (ncp == DNS_MAX_LABEL) {
            *why = "label longer than 63 in From domain";
            return -1;
        }
        cp[ncp++] = c;
    }
    if (cp[0] == '-' || cp[ncp - 1] == '-') {
        *why = "label starts or ends with a hyphen in From domain";
        return -1;
    }
    if (ascii) {
        for (size_t i = 0; i < ncp; i++)
            lab[i] = (char)cp[i];
        llen = ncp;
    } else {
        int r;
        if (ncp >= 4 && cp[2] == '-' && cp[3] == '-') {
            *why = "U-label with '--' in positions 3 and 4";
            return -1;
        }
        memcpy(lab, "xn--", 4);
        r = puny_encode(cp, ncp, lab + 4, sizeof(lab) - 4);
        if (r < 0) {
            *why = "label longer than 63 in From domain";
            return -1;
        }
        llen = 4 + (size_t)r;
    }
    if (*dlen + (*dlen > 0) + llen >= dstsz) {
        *why = "From domain longer than 253";
        return -1;
    }
    if (*dlen > 0)
        dst[(*dlen)++] = '.';
    memcpy(dst + *dlen, lab, llen);
    *dlen += llen;
    dst[*dlen] = '\0';
    return 0;
}

/* domain_normalize - raw domain (no trailing dot) -> lower-case A-label form in dst. */
static int domain_normalize(const char *raw, size_t n, char *dst, size_t dstsz, const char **why)
{
    size_t dlen = 0, start = 0, last = 0;
    int numeric = 1;

    dst[0] = '\0';
    for (size_t i = 0; i <= n; i++) {
        if (i < n && raw[i] != '.')
            continue;
        last = dlen + (dlen > 0);
        if (label_normalize((const unsigned char *)raw + start, i - start, dst, &dlen, dstsz,
                            why) < 0)
            return -1;
        start = i + 1;
    }
    for (size_t i = last; i < dlen; i++)
        if (dst[i] < '0' || dst[i] > '9')
            numeric = 0;
    if (numeric) {
        *why = "From domain has an all-numeric top-level label";
        return -1;
    }
    return 0;
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
