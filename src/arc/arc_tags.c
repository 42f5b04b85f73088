/* arc_tags.c - the two small parsers of ARC field values: the DKIM tag list (RFC 6376
 * 3.2) of ARC-Seal, ARC-Message-Signature and key records, and the "i=N;" prefix plus the
 * few RFC 8601 results we read from an ARC-Authentication-Results payload (dmarc=,
 * header.from, smtp.remote-ip), and which field names are ARC fields (arc_field_kind).
 * Owns no memory: results are offsets into the caller's text or bounded copies.
 * Threads: reentrant. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "arc/arc_int.h"
#include "util/xalloc.h"

#define AAR_MAX_WORD 300

static int is_fws(int c);
static size_t skip_fws(const char *s, size_t n, size_t i);
static size_t skip_cfws(const char *s, size_t n, size_t i);
static size_t aar_word(const char *s, size_t n, size_t i, char *w, size_t wlen);
static void lower(char *s);

/* is_fws - a character of folding white space */
static int is_fws(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_fws(const char *s, size_t n, size_t i)
{
    while (i < n && is_fws((unsigned char)s[i]))
        i++;
    return i;
}

/* arc_tags_parse - see arc_eval.h */
int arc_tags_parse(const char *s, size_t n, struct arc_tags *out)
{
    size_t i = 0;

    out->n = 0;
    for (;;) {
        size_t ns, vs, ve;
        int k;

        i = skip_fws(s, n, i);
        if (i >= n)
            return 0; /* empty list, or one trailing ';' */
        ns = i;
        if (!isalpha((unsigned char)s[i]))
            return -1;
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
            i++;
        if (i - ns >= sizeof(out->t[0].name) || out->n >= ARC_MAX_TAGS)
            return -1;
        memcpy(out->t[out->n].name, s + ns, i - ns);
        out->t[out->n].name[i - ns] = '\0';
        for (k = 0; k < out->n; k++)
            if (strcmp(out->t[k].name, out->t[out->n].name) == 0)
                return -1; /* duplicate tag */
        i = skip_fws(s, n, i);
        if (i >= n || s[i] != '=')
            return -1;
        out->t[out->n].roff = i + 1;
        vs = i = skip_fws(s, n, i + 1);
        while (i < n && s[i] != ';') {
            unsigned char c = (unsigned char)s[i];
            if (!is_fws(c) && (c < 0x21 || c > 0x7e))
                return -1;
            i++;
        }
        ve = i;
        out->t[out->n].rend = i;
        while (ve > vs && is_fws((unsigned char)s[ve - 1]))
            ve--;
        out->t[out->n].voff = vs;
        out->t[out->n].vlen = ve - vs;
        out->n++;
        if (i >= n)
            return 0;
        i = skip_fws(s, n, i + 1); /* past ';' */
        if (i < n && s[i] == ';')
            return -1; /* empty tag-spec */
    }
}

/* arc_field_kind - see arc_int.h */
int arc_field_kind(const char *name)
{
    static const char *const names[] = {"ARC-Authentication-Results", "ARC-Message-Signature",
                                        "ARC-Seal"};

    for (int k = 0; k < 3; k++)
        if (strcasecmp(name, names[k]) == 0)
            return ARC_KIND_AAR + k;
    return 0;
}

/* arc_tags_get - see arc_eval.h */
int arc_tags_get(const struct arc_tags *t, const char *name)
{
    for (int k = 0; k < t->n; k++)
        if (strcmp(t->t[k].name, name) == 0)
            return k;
    return -1;
}

/* skip_cfws - white space and (nested) comments */
static size_t skip_cfws(const char *s, size_t n, size_t i)
{
    int depth = 0;

    while (i < n) {
        char c = s[i];
        if (depth > 0 && c == '\\' && i + 1 < n) {
            i += 2;
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        else if (depth == 0 && !is_fws((unsigned char)c))
            break;
        i++;
    }
    return i;
}

/* aar_word - one token or quoted-string starting at i into w (cut at wlen); returns the
 * index after it. Stops at white space, ';', '=', '(' outside quotes. */
static size_t aar_word(const char *s, size_t n, size_t i, char *w, size_t wlen)
{
    size_t o = 0;

    if (i < n && s[i] == '"') {
        for (i++; i < n && s[i] != '"'; i++) {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            if (o + 1 < wlen)
                w[o++] = s[i];
        }
        if (i < n)
            i++;
    } else {
        for (; i < n && !is_fws((unsigned char)s[i]) && strchr(";=(", s[i]) == NULL; i++)
            if (o + 1 < wlen)
                w[o++] = s[i];
    }
    w[o] = '\0';
    return i;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* arc_aar_parse - see arc_eval.h. The payload is read leniently (it is evidence only for
 * a trusted sealer, and then only dmarc=pass, header.from and smtp.remote-ip count). */
int arc_aar_parse(const char *value, size_t n, int *instance, struct arc_set_res *set)
{
    size_t i = skip_fws(value, n, 0), d;
    long inst = 0;
    int in_dmarc = 0, first = 1;
    char key[AAR_MAX_WORD], val[AAR_MAX_WORD];

    set->aar_dmarc_pass = 0;
    set->aar_dmarc_from[0] = set->aar_remote_ip[0] = '\0';
    if (i >= n || value[i] != 'i')
        return -1;
    i = skip_fws(value, n, i + 1);
    if (i >= n || value[i] != '=')
        return -1;
    d = i = skip_fws(value, n, i + 1);
    while (i < n && value[i] >= '0' && value[i] <= '9' && i - d < 3)
        inst = inst * 10 + (value[i++] - '0');
    if (i == d || (i < n && value[i] >= '0' && value[i] <= '9'))
        return -1;
    i = skip_fws(value, n, i);
    if (i >= n || value[i] != ';')
        return -1;
    *instance = (int)inst;
    i++;
    /* authserv-id [version] then resinfo *(";" resinfo); first word is the authserv-id */
    while (i < n) {
        i = skip_cfws(value, n, i);
        if (i >= n)
            break;
        if (value[i] == ';') {
            in_dmarc = 0;
            first = 0;
            i++;
            continue;
        }
        i = aar_word(value, n, i, key, sizeof(key));
        i = skip_cfws(value, n, i);
        if (i < n && value[i] == '=') {
            i = skip_cfws(value, n, i + 1);
            i = aar_word(value, n, i, val, sizeof(val));
        } else {
            val[0] = '\0';
            if (key[0] == '\0' && i < n)
                i++; /* a stray character: step over it */
        }
        if (first)
            continue; /* authserv-id and its version */
        lower(key);
        if (strcmp(key, "dmarc") == 0) {
            in_dmarc = strcasecmp(val, "pass") == 0;
            if (in_dmarc)
                set->aar_dmarc_pass = 1;
        } else if (in_dmarc && strcmp(key, "header.from") == 0 && set->aar_dmarc_from[0] == 0) {
            lower(val);
            sa_strlcpy(set->aar_dmarc_from, val, sizeof(set->aar_dmarc_from));
        } else if (strcmp(key, "smtp.remote-ip") == 0 && set->aar_remote_ip[0] == '\0') {
            sa_strlcpy(set->aar_remote_ip, val, sizeof(set->aar_remote_ip));
        }
    }
    return 0;
}
