/* xalloc.h - allocation helpers and the per-message pool.
 * x* functions panic on out-of-memory only where no safe outcome exists (start-up);
 * pool_* allocate from a region freed all at once (unbound regional style).
 * Threads: a pool belongs to one message. */
#ifndef SA_XALLOC_H
#define SA_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
char *xstrdup(const char *s);

struct pool;
/* pool_new - empty pool; NULL on out-of-memory. */
struct pool *pool_new(void);
/* pool_alloc - n zeroed bytes valid until pool_free; NULL on out-of-memory. */
void *pool_alloc(struct pool *p, size_t n);
char *pool_strdup(struct pool *p, const char *s);
char *pool_strndup(struct pool *p, const char *s, size_t n);
/* pool_free - free everything; NULL is a no-op; returns NULL. */
struct pool *pool_free(struct pool *p);

/* strlcpy/strlcat are in glibc only from 2.38 (Debian 12 has 2.36). */
size_t sa_strlcpy(char *dst, const char *src, size_t size);
size_t sa_strlcat(char *dst, const char *src, size_t size);
/* sa_reason - format a reason text into dst, cut when long (a text for logs and
 * comments, never parsed); nothing when dst is NULL or size 0. Returns -1, so that a
 * failing function can end with "return sa_reason(...)". */
int sa_reason(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
