/* dkim_bodyhash.c - the body hashes of a message's DKIM signatures (RFC 6376 3.7 bh=),
 * streamed: each canonicalization (3.4.3 simple, 3.4.4 relaxed) runs once over the body
 * and feeds every digest that uses it, each cut at its own l= limit, and counts the
 * whole canonical length (for l= against the body). libopendkim is not given the body.
 * Owns struct dkim_bodyhash and its digest contexts; not which signatures want a hash
 * (dkim_eval.c) or the comparison with bh= (dkim_result.c). Chunks may split a CRLF or a
 * run of empty lines anywhere; nothing is allocated per chunk.
 * Threads: a struct dkim_bodyhash belongs to one message. */
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim_int.h"

static void feed(struct dkim_bodyhash *h, int relaxed, const unsigned char *p, size_t n);
static void flush(struct dkim_bodyhash *h, struct dkim_bh_canon *c);
static void emit(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p,
                 size_t n);
static void flush_pending(struct dkim_bodyhash *h, struct dkim_bh_canon *c);
static void end_line(struct dkim_bodyhash *h, struct dkim_bh_canon *c);
static size_t pending_cr(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p);
static void content(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p,
                    size_t n);
static void add_simple(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p,
                       size_t n);
static void add_relaxed(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p,
                        size_t n);

static const unsigned char crlfs[] =
    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

/* special - relaxed: the bytes that are not copied as they come (WSP and CR) */
static const unsigned char special[256] = {[' '] = 1, ['\t'] = 1, ['\r'] = 1};

/* dkim_bodyhash_init - every field but the two buffers */
void dkim_bodyhash_init(struct dkim_bodyhash *h)
{
    for (int k = 0; k < 2; k++) {
        struct dkim_bh_canon *c = &h->canon[k];

        c->used = c->cr = c->wsp = c->content = 0;
        c->relaxed = k;
        c->pending = c->total = 0;
        c->buflen = 0;
    }
    h->n = 0;
    h->done = h->failed = 0;
}

void dkim_bodyhash_free(struct dkim_bodyhash *h)
{
    for (int i = 0; i < h->n; i++) {
        EVP_MD_CTX_free(h->d[i]->ctx);
        free(h->d[i]);
        h->d[i] = NULL;
    }
    h->n = 0;
}

/* dkim_bodyhash_want - see dkim_int.h */
int dkim_bodyhash_want(struct dkim_bodyhash *h, int relaxed, int sha1, long long limit)
{
    struct dkim_bh_canon *c;
    struct dkim_bh_digest *d;

    relaxed = relaxed != 0;
    sha1 = sha1 != 0;
    if (limit < 0)
        limit = -1;
    for (int i = 0; i < h->n; i++)
        if (h->d[i]->relaxed == relaxed && h->d[i]->sha1 == sha1 && h->d[i]->limit == limit)
            return i;
    c = &h->canon[relaxed];
    if (h->n >= DKIM_BODYHASH_MAX || h->done || c->total > 0 || c->pending > 0 || c->cr || c->wsp)
        return -1; /* too many, or asked for after the body started */
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return -1;
    if ((d->ctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(d->ctx, sha1 ? EVP_sha1() : EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(d->ctx);
        free(d);
        return -1;
    }
    d->relaxed = relaxed;
    d->sha1 = sha1;
    d->limit = limit;
    h->canon[relaxed].used = 1;
    h->d[h->n] = d;
    return h->n++;
}

/* dkim_bodyhash_count - see dkim_int.h */
void dkim_bodyhash_count(struct dkim_bodyhash *h, int relaxed)
{
    h->canon[relaxed != 0].used = 1;
}

/* feed - canonical bytes to every digest of this canonicalization, up to its l= */
static void feed(struct dkim_bodyhash *h, int relaxed, const unsigned char *p, size_t n)
{
    for (int i = 0; i < h->n; i++) {
        struct dkim_bh_digest *d = h->d[i];
        size_t k = n;

        if (d->relaxed != relaxed || d->failed)
            continue;
        if (d->limit >= 0) {
            unsigned long long room =
                d->fed >= (unsigned long long)d->limit ? 0 : (unsigned long long)d->limit - d->fed;
            if (room < k)
                k = (size_t)room;
        }
        if (k > 0 && EVP_DigestUpdate(d->ctx, p, k) != 1)
            d->failed = 1;
        d->fed += k;
    }
}

/* flush - the buffered canonical bytes out */
static void flush(struct dkim_bodyhash *h, struct dkim_bh_canon *c)
{
    if (c->buflen > 0)
        feed(h, c->relaxed, c->buf, c->buflen);
    c->buflen = 0;
}

/* emit - canonical bytes out: gathered in the buffer, or as they are when large */
static void emit(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p, size_t n)
{
    c->total += n;
    if (n >= sizeof(c->buf)) {
        flush(h, c);
        feed(h, c->relaxed, p, n);
        return;
    }
    while (n > 0) {
        size_t k = sizeof(c->buf) - c->buflen;

        if (k > n)
            k = n;
        memcpy(c->buf + c->buflen, p, k);
        c->buflen += k;
        p += k;
        n -= k;
        if (c->buflen == sizeof(c->buf))
            flush(h, c);
    }
}

/* flush_pending - empty lines followed by content belong to the body after all */
static void flush_pending(struct dkim_bodyhash *h, struct dkim_bh_canon *c)
{
    while (c->pending > 0) {
        unsigned long long k = c->pending > 16 ? 16 : c->pending;

        emit(h, c, crlfs, (size_t)k * 2);
        c->pending -= k;
    }
}

/* end_line - a CRLF: after content it is written, an empty line is held back (trailing
 * empty lines are dropped); relaxed drops a WSP run before it */
static void end_line(struct dkim_bodyhash *h, struct dkim_bh_canon *c)
{
    c->wsp = 0;
    if (c->content) {
        emit(h, c, crlfs, 2);
        c->content = 0;
    } else {
        c->pending++;
    }
}

/* content - n > 0 bytes of line content (relaxed: with a WSP run before them made one SP) */
static void content(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p,
                    size_t n)
{
    if (!c->content) {
        flush_pending(h, c);
        c->content = 1;
    }
    if (c->wsp) {
        emit(h, c, (const unsigned char *)" ", 1);
        c->wsp = 0;
    }
    emit(h, c, p, n);
}

/* pending_cr - a CR that ended the last chunk: with this chunk's LF it ends a line,
 * else it was content. How many bytes of p it took (0 or 1). */
static size_t pending_cr(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p)
{
    if (!c->cr)
        return 0;
    c->cr = 0;
    if (p[0] == '\n') {
        end_line(h, c);
        return 1;
    }
    content(h, c, (const unsigned char *)"\r", 1);
    return 0;
}

/* add_simple - RFC 6376 3.4.3: bytes as they are, lines found with memchr; a CR ending
 * the chunk waits in c->cr for the next chunk's first byte */
static void add_simple(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p,
                       size_t n)
{
    size_t i = pending_cr(h, c, p);

    while (i < n) {
        const unsigned char *q = memchr(p + i, '\n', n - i);
        size_t j, end;

        if (q == NULL) {
            end = n;
            if (p[n - 1] == '\r') {
                c->cr = 1;
                end--;
            }
            if (end > i)
                content(h, c, p + i, end - i);
            return;
        }
        j = (size_t)(q - p);
        if (j > i && p[j - 1] == '\r') { /* [i, j-1) then CRLF */
            if (j - 1 > i)
                content(h, c, p + i, j - 1 - i);
            end_line(h, c);
        } else { /* a bare LF is content */
            content(h, c, p + i, j + 1 - i);
        }
        i = j + 1;
    }
}

/* add_relaxed - RFC 6376 3.4.4: a WSP run is one SP, none before a CRLF; spans of other
 * bytes (a single SP inside one included) are copied as they are */
static void add_relaxed(struct dkim_bodyhash *h, struct dkim_bh_canon *c, const unsigned char *p,
                        size_t n)
{
    size_t i = pending_cr(h, c, p);

    while (i < n) {
        size_t a = i;
        unsigned char ch;

        while (i < n) {
            if (!special[p[i]]) {
                i++;
            } else if (p[i] == ' ' && i > a && i + 1 < n && !special[p[i + 1]]) {
                i += 2; /* one SP between content bytes stays as it is */
            } else {
                break;
            }
        }
        if (i > a)
            content(h, c, p + a, i - a);
        if (i >= n)
            break;
        ch = p[i++];
        if (ch != '\r') {
            c->wsp = 1;
        } else if (i >= n) {
            c->cr = 1;
        } else if (p[i] == '\n') {
            end_line(h, c);
            i++;
        } else {
            content(h, c, p + i - 1, 1); /* a bare CR is content */
        }
    }
}

/* dkim_bodyhash_add - see dkim_int.h */
void dkim_bodyhash_add(struct dkim_bodyhash *h, const unsigned char *p, size_t n)
{
    if (n == 0 || h->done)
        return;
    if (h->canon[0].used)
        add_simple(h, &h->canon[0], p, n);
    if (h->canon[1].used)
        add_relaxed(h, &h->canon[1], p, n);
}

/* dkim_bodyhash_end - see dkim_int.h */
int dkim_bodyhash_end(struct dkim_bodyhash *h)
{
    int rc = 0;

    if (h->done)
        return h->failed ? -1 : 0;
    h->done = 1;
    for (int k = 0; k < 2; k++) {
        struct dkim_bh_canon *c = &h->canon[k];

        if (!c->used)
            continue;
        if (c->cr) { /* a CR ending the body is content */
            c->cr = 0;
            content(h, c, (const unsigned char *)"\r", 1);
        }
        /* An unterminated last line gets its CRLF; a last line of only WSP is an
         * empty line in relaxed. */
        if (c->content)
            end_line(h, c);
        if (c->total == 0 && !c->relaxed)
            emit(h, c, crlfs, 2); /* an empty simple body is one CRLF */
        flush(h, c);
    }
    for (int i = 0; i < h->n; i++) {
        struct dkim_bh_digest *d = h->d[i];
        unsigned int len = 0;

        if (d->failed || EVP_DigestFinal_ex(d->ctx, d->md, &len) != 1) {
            d->failed = 1;
            rc = -1;
            continue;
        }
        d->mdlen = len;
    }
    h->failed = rc < 0;
    return rc;
}

/* dkim_bodyhash_get - see dkim_int.h */
const unsigned char *dkim_bodyhash_get(const struct dkim_bodyhash *h, int i, size_t *len)
{
    if (!h->done || i < 0 || i >= h->n || h->d[i]->failed)
        return NULL;
    *len = h->d[i]->mdlen;
    return h->d[i]->md;
}

/* dkim_bodyhash_total - see dkim_int.h */
uint64_t dkim_bodyhash_total(const struct dkim_bodyhash *h, int relaxed)
{
    return h->canon[relaxed != 0].total;
}
