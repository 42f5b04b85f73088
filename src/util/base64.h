/* base64.h - bounded base64 decoding for DKIM and ARC tag values (RFC 6376 3.6.1 p=, b=, bh=).
 * Threads: reentrant. */
#ifndef SA_BASE64_H
#define SA_BASE64_H

#include <stddef.h>

enum base64_end {
    BASE64_PADDED = 0, /* the input (without white space) must be a multiple of 4 characters */
    BASE64_LENIENT,    /* missing '=' padding accepted; only a dangling 6-bit group is refused */
};

/* base64_decode - decode n bytes of s into out (at most outsize bytes). Space, tab, CR and
 * LF are ignored anywhere; '=' may only end the input (at most two). 0 with *outlen set,
 * or -1 on a bad character, bad padding, or output past outsize. */
int base64_decode(const char *s, size_t n, unsigned char *out, size_t outsize, size_t *outlen,
                  enum base64_end end);

#endif
