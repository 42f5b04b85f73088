/* ar_match.c - is an inbound Authentication-Results header's authserv-id ours?
 * Owns the authserv-id scanner (RFC 8601 section 2.2 with RFC 5322 CFWS); not the
 * deletion (the daemon's msg.c records indexes, act.c deletes).
 * Threads: reentrant; scans in place, never allocates. */
#include <strings.h>
#include <string.h>

#include "mail/ar_match.h"

static int same_id(const char *a, size_t alen, const char *b);
static int contains_ci(const char *hay, size_t hlen, const char *needle);
static int is_delim(unsigned char c);

/* is_delim - characters that end a token authserv-id (RFC 2045 tspecials, space, CTL) */
static int is_delim(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* same_id - a (alen bytes) equals the NUL-terminated b, ignoring case and one trailing dot */
static int same_id(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);

    if (alen > 0 && a[alen - 1] == '.')
        alen--;
    if (blen > 0 && b[blen - 1] == '.')
        blen--;
    return alen > 0 && alen == blen && strncasecmp(a, b, alen) == 0;
}

/* contains_ci - needle occurs in hay (hlen bytes), ignoring case */
static int contains_ci(const char *hay, size_t hlen, const char *needle)
{
    size_t n = strlen(needle);

    if (n > 0 && needle[n - 1] == '.')
        n--;
    for (size_t i = 0; n > 0 && i + n <= hlen; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

int ar_match_ours(const char *value, size_t len, const char *ours)
{
    const char *p, *end;
    char id[AR_MATCH_MAX_ID + 1];
    size_t n = 0;

    if (value == NULL || ours == NULL || ours[0] == '\0')
        return 0;
    end = memchr(value, '\0', len);
    if (end == NULL)
        end = value + len;
    p = value;
    /* CFWS: white space, line breaks, comments (nested, with quoted-pairs) */
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (p < end && *p == '(') {
            size_t depth = 0;
            for (; p < end; p++) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                else if (*p == '(')
                    depth++;
                else if (*p == ')' && --depth == 0)
                    break;
            }
            if (p >= end) /* unterminated comment: malformed */
                return contains_ci(value, (size_t)(end - value), ours);
            p++;
            continue;
        }
        break;
    }
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end)
                p++;
            if (*p == '\r' || *p == '\n') /* folding inside the quotes */
                continue;
            if (n >= AR_MATCH_MAX_ID)
                return 0;
            id[n++] = *p;
        }
        if (p >= end) /* unterminated quoted-string: malformed */
            return contains_ci(value, (size_t)(end - value), ours);
        return same_id(id, n, ours);
    }
    while (p + n < end && !is_delim((unsigned char)p[n])) {
        if (++n > AR_MATCH_MAX_ID)
            return 0;
    }
    return same_id(p, n, ours);
}
