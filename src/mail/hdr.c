/* hdr.c - header field helpers: name comparison, unfolding, log-safe copies.
 * Owns nothing; no parsing of particular fields (from.c, ar_match.c do that).
 * Threads: reentrant. */
#include <string.h>
#include <strings.h>

#include "mail/hdr.h"

/* hdr_name_is - see hdr.h; the first bytes are compared before the library call (names
 * equal under ASCII case folding have equal first bytes once 0x20 is set) */
int hdr_name_is(const char *name, const char *want)
{
    return name != NULL && want != NULL &&
           ((unsigned char)name[0] | 0x20) == ((unsigned char)want[0] | 0x20) &&
           strcasecmp(name, want) == 0;
}

/* hdr_unfold - see hdr.h */
int hdr_unfold(const char *value, size_t len, char *out, size_t outlen)
{
    size_t n = 0;
    int space = 0;

    if (outlen == 0)
        return -1;
    out[0] = '\0';
    for (size_t i = 0; i < len && value[i] != '\0'; i++) {
        char c = value[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = n > 0;
            continue;
        }
        if (space) {
            if (n + 1 >= outlen)
                return -1;
            out[n++] = ' ';
            out[n] = '\0';
            space = 0;
        }
        if (n + 1 >= outlen)
            return -1;
        out[n++] = c;
        out[n] = '\0';
    }
    return (int)n;
}

/* hdr_log_value - see hdr.h */
char *hdr_log_value(const char *s, char *out, size_t outlen)
{
    size_t n = 0;

    if (outlen == 0)
        return out;
    if (s == NULL || *s == '\0')
        s = "-";
    for (; *s && n + 1 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        out[n++] = (c <= 0x20 || c >= 0x7f || c == '=') ? '?' : (char)c;
    }
    out[n] = '\0';
    return out;
}
