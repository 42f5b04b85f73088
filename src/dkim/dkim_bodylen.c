/* dkim_bodylen.c - length of the canonicalized body (RFC 6376 3.4.3 simple, 3.4.4
 * relaxed), counted as the body streams, so a signature's l= can be compared with the
 * whole body: libopendkim counts only up to l= (dkim_sig_getcanonlen), which cannot
 * tell "l= covers everything" from "l= covers a prefix".
 * Owns struct dkim_bodylen; hashes nothing and keeps no body bytes.
 * Threads: a counter belongs to one message. */
#include "dkim/dkim_int.h"
#include "util/crlf.h"

static void end_line(void *arg);
static void content(void *arg, unsigned char c);

void dkim_bodylen_init(struct dkim_bodylen *b, int relaxed)
{
    b->relaxed = relaxed;
    b->len = b->pending = b->line = 0;
    b->wsp = b->cr = 0;
}

/* end_line - a CRLF: an empty line is held back (trailing empty lines are dropped) */
static void end_line(void *arg)
{
    struct dkim_bodylen *b = arg;

    b->wsp = 0; /* relaxed: whitespace before CRLF is removed */
    if (b->line == 0) {
        b->pending += 2;
    } else {
        b->len += b->pending + b->line + 2;
        b->pending = 0;
        b->line = 0;
    }
}

/* content - one byte that is not a line ending */
static void content(void *arg, unsigned char c)
{
    struct dkim_bodylen *b = arg;

    if (b->relaxed && (c == ' ' || c == '\t')) {
        b->wsp = 1; /* a run of WSP becomes one SP, unless it ends the line */
        return;
    }
    if (b->wsp) {
        b->line++;
        b->wsp = 0;
    }
    b->line++;
}

void dkim_bodylen_add(struct dkim_bodylen *b, const unsigned char *p, size_t n)
{
    crlf_split(&b->cr, p, n, b, content, end_line);
}

/* dkim_bodylen_total - as if the body ended now: an unterminated last line gets its
 * CRLF; an empty simple body is one CRLF, an empty relaxed body is empty. */
uint64_t dkim_bodylen_total(const struct dkim_bodylen *b)
{
    struct dkim_bodylen t = *b;

    if (t.cr)
        content(&t, '\r');
    if (t.line > 0)
        t.len += t.pending + t.line + 2;
    if (t.len == 0 && !t.relaxed)
        return 2;
    return t.len;
}
