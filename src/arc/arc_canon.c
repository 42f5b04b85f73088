/* arc_canon.c - canonicalization for ARC signatures (RFC 6376 3.4, used by RFC 8617):
 * header fields (simple, relaxed) into a caller buffer, and the body streamed through a
 * callback (the body hash), with trailing empty lines held back and l= honoured.
 * Owns no memory and hashes nothing itself; libopendkim's canonicalization is internal
 * to its handle and cannot be fed ARC fields, so this is our own.
 * Threads: reentrant; a struct arc_body belongs to its owner. */
#include <string.h>

#include "arc/arc_eval.h"
#include "util/crlf.h"

static int put(char *out, size_t outlen, size_t *len, const char *p, size_t n);
static void emit(struct arc_body *b, const void *p, size_t n);
static void flush_pending(struct arc_body *b);
static void content(void *arg, unsigned char c);
static void end_line(void *arg);

/* put - bounded append */
static int put(char *out, size_t outlen, size_t *len, const char *p, size_t n)
{
    if (*len + n > outlen)
        return -1;
    memcpy(out + *len, p, n);
    *len += n;
    return 0;
}

/* arc_canon_header - see arc_eval.h */
int arc_canon_header(const char *field, size_t n, int relaxed, int crlf, char *out, size_t outlen,
                     size_t *len)
{
    const char *colon = memchr(field, ':', n);
    size_t i, nl, start = *len;
    int wsp = 0, any = 0;

    if (!relaxed) {
        if (put(out, outlen, len, field, n) < 0 || (crlf && put(out, outlen, len, "\r\n", 2) < 0))
            goto toolong;
        return 0;
    }
    if (colon == NULL)
        goto toolong;
    nl = (size_t)(colon - field);
    while (nl > 0 && (field[nl - 1] == ' ' || field[nl - 1] == '\t'))
        nl--; /* WSP before the colon */
    for (i = 0; i < nl; i++) {
        char c = field[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (put(out, outlen, len, &c, 1) < 0)
            goto toolong;
    }
    if (put(out, outlen, len, ":", 1) < 0)
        goto toolong;
    for (i = (size_t)(colon - field) + 1; i < n; i++) {
        char c = field[i];
        if (c == '\r' || c == '\n')
            continue; /* unfold */
        if (c == ' ' || c == '\t') {
            wsp = 1;
            continue;
        }
        if (wsp && any && put(out, outlen, len, " ", 1) < 0)
            goto toolong;
        wsp = 0;
        any = 1;
        if (put(out, outlen, len, &c, 1) < 0)
            goto toolong;
    }
    if (crlf && put(out, outlen, len, "\r\n", 2) < 0)
        goto toolong;
    return 0;
toolong:
    *len = start;
    return -1;
}

/* arc_body_init - see arc_eval.h */
void arc_body_init(struct arc_body *b, int relaxed, long long limit,
                   void (*out)(void *arg, const void *p, size_t n), void *arg)
{
    memset(b, 0, sizeof(*b));
    b->relaxed = relaxed;
    b->limit = limit;
    b->out = out;
    b->arg = arg;
}

/* emit - pass canonical bytes on, up to the l= limit */
static void emit(struct arc_body *b, const void *p, size_t n)
{
    unsigned long long room = n;

    if (b->limit >= 0) {
        room =
            b->total >= (unsigned long long)b->limit ? 0 : (unsigned long long)b->limit - b->total;
        if (room > n)
            room = n;
    }
    if (room > 0)
        b->out(b->arg, p, (size_t)room);
    b->total += n;
}

/* flush_pending - empty lines followed by content are part of the body after all */
static void flush_pending(struct arc_body *b)
{
    static const char crlfs[] = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

    while (b->pending > 0) {
        unsigned long long k = b->pending > 8 ? 8 : b->pending;
        emit(b, crlfs, (size_t)k * 2);
        b->pending -= k;
    }
}

/* content - one byte that is not a line ending */
static void content(void *arg, unsigned char c)
{
    struct arc_body *b = arg;

    if (b->relaxed && (c == ' ' || c == '\t')) {
        b->wsp = 1; /* a run of WSP becomes one SP, unless it ends the line */
        return;
    }
    if (!b->content) {
        flush_pending(b);
        b->content = 1;
    }
    if (b->wsp) {
        emit(b, " ", 1);
        b->wsp = 0;
    }
    emit(b, &c, 1);
}

/* end_line - a CRLF: an empty line is held back (trailing empty lines are dropped) */
static void end_line(void *arg)
{
    struct arc_body *b = arg;

    b->wsp = 0;
    if (!b->content) {
        b->pending++;
        return;
    }
    emit(b, "\r\n", 2);
    b->content = 0;
}

/* arc_body_add - see arc_eval.h */
void arc_body_add(struct arc_body *b, const unsigned char *p, size_t n)
{
    crlf_split(&b->cr, p, n, b, content, end_line);
}

/* arc_body_end - an unterminated last line gets its CRLF; an empty simple body is one
 * CRLF (RFC 6376 3.4.3), an empty relaxed body is empty (3.4.4) */
void arc_body_end(struct arc_body *b)
{
    if (b->cr) {
        b->cr = 0;
        content(b, '\r');
    }
    if (b->content || b->wsp) {
        if (!b->content && b->wsp && b->relaxed) {
            b->wsp = 0; /* a last line of only WSP is an empty line in relaxed */
        } else {
            emit(b, "\r\n", 2);
            b->content = 0;
        }
    }
    if (b->total == 0 && !b->relaxed)
        emit(b, "\r\n", 2);
}
