/* xalloc.c - allocation helpers and the per-message pool (see xalloc.h).
 * Owns pool chunks; not what is stored in them. Threads: a pool is not shared. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

#define POOL_CHUNK 4096

struct chunk {
    struct chunk *next;
    size_t used, size;
    max_align_t data[];
};

struct pool {
    struct chunk *head;
};

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        log_panic("out of memory (%zu bytes)", n);
    return p;
}

void *xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);

    if (p == NULL)
        log_panic("out of memory (%zu x %zu bytes)", n, m);
    return p;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        log_panic("out of memory");
    return p;
}

struct pool *pool_new(void)
{
    return calloc(1, sizeof(struct pool));
}

/* pool_alloc - carve n zeroed bytes, aligned, from the current chunk */
void *pool_alloc(struct pool *p, size_t n)
{
    struct chunk *c = p->head;
    size_t align = sizeof(max_align_t);
    size_t need = (n + align - 1) / align * align;
    size_t size;
    void *r;

    if (need < n)
        return NULL;
    if (c == NULL || c->size - c->used < need) {
        size = need > POOL_CHUNK ? need : POOL_CHUNK;
        if ((c = malloc(sizeof(*c) + size)) == NULL)
            return NULL;
        c->used = 0;
        c->size = size;
        c->next = p->head;
        p->head = c;
    }
    r = (char *)c->data + c->used;
    c->used += need;
    memset(r, 0, n);
    return r;
}

char *pool_strndup(struct pool *p, const char *s, size_t n)
{
    char *r = pool_alloc(p, n + 1);

    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

char *pool_strdup(struct pool *p, const char *s)
{
    return pool_strndup(p, s, strlen(s));
}

struct pool *pool_free(struct pool *p)
{
    struct chunk *c, *next;

    if (p == NULL)
        return NULL;
    for (c = p->head; c; c = next) {
        next = c->next;
        free(c);
    }
    free(p);
    return NULL;
}

size_t sa_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);

    if (size) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}

int sa_reason(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (dst == NULL || size == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    return -1;
}

size_t sa_strlcat(char *dst, const char *src, size_t size)
{
    size_t d = strnlen(dst, size);

    if (d == size)
        return size + strlen(src);
    return d + sa_strlcpy(dst + d, src, size - d);
}
