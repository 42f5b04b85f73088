/* buf.c - capped byte buffer (see buf.h).
 * Owns growth and the cap check; not the meaning of the bytes. Threads: none shared. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static int grow(struct buf *b, size_t need);

/* buf_init - empty buffer that may hold up to cap bytes */
void buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->size = 0;
    b->cap = cap;
}

/* grow - make room for need bytes plus the terminator */
static int grow(struct buf *b, size_t need)
{
    size_t nsize;
    char *p;

    if (need + 1 <= b->size)
        return 0;
    nsize = b->size ? b->size : 64;
    while (nsize < need + 1)
        nsize *= 2;
    if (nsize > b->cap + 1)
        nsize = b->cap + 1;
    if ((p = realloc(b->data, nsize)) == NULL)
        return -1;
    b->data = p;
    b->size = nsize;
    return 0;
}

/* buf_append - append n bytes, refusing to pass the cap */
int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n > b->cap || b->len > b->cap - n)
        return -1;
    if (grow(b, b->len + n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

/* buf_printf - formatted append; unchanged buffer on truncation */
int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room;

    if (grow(b, b->len) < 0)
        return -1;
    for (;;) {
        room = b->size - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, room, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n > b->cap - b->len) {
            b->data[b->len] = '\0';
            return -1;
        }
        if ((size_t)n < room)
            break;
        if (grow(b, b->len + (size_t)n) < 0) {
            b->data[b->len] = '\0';
            return -1;
        }
    }
    b->len += (size_t)n;
    return 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_release(struct buf *b)
{
    free(b->data);
    buf_init(b, b->cap);
}
