/* buf.h - capped byte buffer for data from the wire (OpenSMTPD rfc5322.c style).
 * Appending past the cap fails with -1 instead of growing; the content is always
 * NUL-terminated. Threads: a buf belongs to its owner. */
#ifndef SA_BUF_H
#define SA_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t size;  /* allocated bytes (>= len + 1) */
    size_t cap;   /* maximum len */
};

/* buf_init - empty buffer that may hold up to cap bytes. */
void buf_init(struct buf *b, size_t cap);
/* buf_append - append n bytes; -1 (nothing appended) when len + n > cap or out of memory. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
/* buf_printf - formatted append; -1 on truncation (buffer left unchanged). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_release(struct buf *b);

#endif
