/* bimi_header.c - the values of BIMI-Location and BIMI-Indicator that the receiver adds
 * for its delivery agent on bimi=pass (draft section 7.8 and 7.9): the record's URIs,
 * and the validated SVG in base64, folded; and whether a DKIM-Signature's h= covers
 * BIMI-Selector (only a signed selector is used).
 * Owns their syntax; not when they are added or removed (src/daemon/bimi_hook.c) nor
 * DKIM verification (src/dkim).
 * Threads: reentrant, no allocation. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bimi/bimi.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int is_fws(char c);

/* bimi_format_location - see bimi.h */
int bimi_format_location(const struct bimi_record *rec, char *out, size_t outlen)
{
    int n;

    if (rec->a[0] != '\0')
        n = snprintf(out, outlen, "v=BIMI1; l=%s; a=%s", rec->l, rec->a);
    else
        n = snprintf(out, outlen, "v=BIMI1; l=%s", rec->l);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* bimi_indicator_size - see bimi.h */
size_t bimi_indicator_size(size_t n, const char *fold)
{
    size_t chars = (n + 2) / 3 * 4, lines = (chars + BIMI_INDICATOR_LINE - 1) / BIMI_INDICATOR_LINE;

    return chars + (lines > 0 ? lines - 1 : 0) * strlen(fold) + 1;
}

/* bimi_format_indicator - see bimi.h */
int bimi_format_indicator(const char *svg, size_t n, const char *fold, char *out, size_t outlen)
{
    const unsigned char *s = (const unsigned char *)svg;
    size_t o = 0, col = 0, flen = strlen(fold);

    if (outlen < bimi_indicator_size(n, fold))
        return -1;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};

        for (int k = 0; k < 4; k++) {
            if (col == BIMI_INDICATOR_LINE) {
                memcpy(out + o, fold, flen);
                o += flen;
                col = 0;
            }
            out[o++] = q[k];
            col++;
        }
    }
    out[o] = '\0';
    return 0;
}

/* is_fws - RFC 6376 FWS characters (folding arrives as LF or CRLF) */
static int is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* bimi_dkim_signs_selector - see bimi.h */
int bimi_dkim_signs_selector(const char *sig)
{
    static const char want[] = BIMI_SELECTOR_NAME;
    const size_t wn = sizeof(want) - 1;
    const char *p = sig, *e;

    while (p != NULL && *p != '\0') {
        while (is_fws(*p))
            p++;
        e = p;
        while (*e != '\0' && *e != '=' && *e != ';')
            e++;
        while (e > p && is_fws(e[-1]))
            e--;
        if (e - p == 1 && *p == 'h') {
            p = e;
            while (is_fws(*p))
                p++;
            if (*p != '=')
                return 0;
            p++;
            /* colon-separated names up to the end of the tag */
            for (;;) {
                while (is_fws(*p))
                    p++;
                e = p;
                while (*e != '\0' && *e != ':' && *e != ';' && !is_fws(*e))
                    e++;
                if ((size_t)(e - p) == wn && strncasecmp(p, want, wn) == 0)
                    return 1;
                p = e;
                while (is_fws(*p))
                    p++;
                if (*p != ':')
                    return 0;
                p++;
            }
        }
        p = strchr(p, ';');
        if (p != NULL)
            p++;
    }
    return 0;
}
