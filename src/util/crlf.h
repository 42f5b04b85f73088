/* crlf.h - split a byte stream that arrives in chunks into line content and CRLF line
 * ends, the way the DKIM and ARC body canonicalizations (RFC 6376 3.4.3, 3.4.4) read a
 * body: a CR is content unless the next byte, maybe the first of the next chunk, is LF.
 * Header-only so that the two callbacks inline into the caller's loop.
 * Threads: reentrant; the caller keeps *cr (0 at the start) with its stream. */
#ifndef SA_CRLF_H
#define SA_CRLF_H

#include <stddef.h>

/* crlf_split - feed p[0..n): content(arg, c) for every byte that is not part of a CRLF,
 * eol(arg) for every CRLF; a CR ending the chunk waits in *cr for the next one. */
static inline void crlf_split(int *cr, const unsigned char *p, size_t n, void *arg,
                              void (*content)(void *arg, unsigned char c), void (*eol)(void *arg))
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];

        if (*cr) {
            *cr = 0;
            if (c == '\n') {
                eol(arg);
                continue;
            }
            content(arg, '\r');
        }
        if (c == '\r')
            *cr = 1;
        else
            content(arg, c);
    }
}

#endif
