/* base64.c - bounded base64 decoder shared by the DKIM key callback and the ARC verifier.
 * Owns only the decoding; not where the values come from. Threads: reentrant. */
#include "base64.h"

static int digit(int c);

/* digit - value of one base64 character, or -1 */
static int digit(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* base64_decode - see base64.h */
int base64_decode(const char *s, size_t n, unsigned char *out, size_t outsize, size_t *outlen,
                  enum base64_end end)
{
    unsigned int acc = 0;
    int bits = 0, pad = 0, v;
    size_t o = 0, nchars = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        nchars++;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad > 0 || (v = digit(c)) < 0)
            return -1; /* data after padding, or not base64 */
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outsize)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (pad > 2)
        return -1;
    if (end == BASE64_PADDED ? nchars % 4 != 0 : bits >= 6)
        return -1;
    *outlen = o;
    return 0;
}
