/* consent.c - the consent cache: recipient -> enforce flag, shared by the milter
 * threads, bounded (least recently used answers go first) and aged by a TTL, in front
 * of the store's lookup order. Store failures are answered "not consenting", never
 * cached, counted and logged at most once per CONSENT_LOG_INTERVAL.
 * Owns the cache and its counters; not the lookup order or the backends (src/store),
 * nor what is done with the answer (decide.c, src/daemon/enforce.c).
 * Threads: CONSENT_SHARDS shards, each a hash table plus an LRU list under its own
 * mutex; a shard is chosen by the key's hash. No lock is held while the resolver runs:
 * two threads missing the same key may both ask the store, and the later answer wins.
 * Counters are atomics. */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/consent.h"
#include "util/log.h"
#include "util/xalloc.h"

#define BUCKETS_MAX (1u << 16) /* per shard; longer chains beyond that */

struct entry {
    struct entry *hnext;       /* bucket chain */
    struct entry *prev, *next; /* LRU list, most recent first */
    uint32_t hash;
    double expires;
    int enforce;
    enum store_match via;
    char key[];
};

struct shard {
    pthread_mutex_t lock;
    struct entry **buckets;
    uint32_t mask;
    long n, max;
    struct entry lru; /* sentinel: lru.next most recent, lru.prev least */
};

struct consent {
    struct consent_conf conf;
    consent_resolve_fn fn;
    void *arg;
    struct shard shard[CONSENT_SHARDS];
    atomic_ullong lookups, hits, errors, evictions, unlogged;
    atomic_llong last_log; /* monotonic second of the last warning; LLONG_MIN never */
};

static int make_key(const char *rcpt, int case_sensitive, char *out, size_t outlen);
static uint32_t hash_key(const char *k);
static struct entry *find(struct shard *s, const char *key, uint32_t h);
static void unlink_entry(struct shard *s, struct entry *e);
static void lru_front(struct shard *s, struct entry *e);
static void store_answer(struct consent *c, struct shard *s, const char *key, uint32_t h,
                         const struct consent_answer *a, double expires);
static void note_error(struct consent *c, double now, const char *why);

/* consent_new - see consent.h */
struct consent *consent_new(const struct consent_conf *conf, consent_resolve_fn fn, void *arg)
{
    struct consent *c;
    long per;
    uint32_t nb = 1;

    if (conf == NULL || fn == NULL || (c = calloc(1, sizeof(*c))) == NULL)
        return NULL;
    c->conf = *conf;
    c->fn = fn;
    c->arg = arg;
    per = conf->max_entries / CONSENT_SHARDS;
    if (per < 1)
        per = 1;
    while (nb < (uint32_t)per && nb < BUCKETS_MAX)
        nb <<= 1;
    for (int i = 0; i < CONSENT_SHARDS; i++) {
        struct shard *s = &c->shard[i];
        pthread_mutex_init(&s->lock, NULL);
        s->max = per;
        s->mask = nb - 1;
        s->lru.next = s->lru.prev = &s->lru;
        if (conf->ttl > 0 && (s->buckets = calloc(nb, sizeof(*s->buckets))) == NULL)
            return consent_free(c);
    }
    atomic_init(&c->last_log, -(long long)CONSENT_LOG_INTERVAL * 2);
    return c;
}

/* consent_free - see consent.h */
struct consent *consent_free(struct consent *c)
{
    if (c == NULL)
        return NULL;
    for (int i = 0; i < CONSENT_SHARDS; i++) {
        struct shard *s = &c->shard[i];
        struct entry *e = s->lru.next, *nx;

        while (s->buckets != NULL && e != &s->lru) {
            nx = e->next;
            free(e);
            e = nx;
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
    return NULL;
}

/* make_key - rcpt without <> and surrounding blanks, domain lower-cased, local part
 * too unless case_sensitive. -1 when it does not fit (then it is not cached). */
static int make_key(const char *rcpt, int case_sensitive, char *out, size_t outlen)
{
    const char *p = rcpt, *at;
    size_t n;

    while (*p == ' ' || *p == '<')
        p++;
    n = strcspn(p, ">");
    while (n > 0 && p[n - 1] == ' ')
        n--;
    if (n == 0 || n >= outlen)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    at = strrchr(out, '@');
    for (char *q = out; *q; q++)
        if (!case_sensitive || (at != NULL && q > at))
            *q = (char)tolower((unsigned char)*q);
    return 0;
}

/* hash_key - FNV-1a */
static uint32_t hash_key(const char *k)
{
    uint32_t h = 2166136261u;

    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

static struct entry *find(struct shard *s, const char *key, uint32_t h)
{
    for (struct entry *e = s->buckets[(h >> 4) & s->mask]; e != NULL; e = e->hnext)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* unlink_entry - out of its bucket and the LRU list (not freed) */
static void unlink_entry(struct shard *s, struct entry *e)
{
    struct entry **pp = &s->buckets[(e->hash >> 4) & s->mask];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->prev->next = e->next;
    e->next->prev = e->prev;
    s->n--;
}

static void lru_front(struct shard *s, struct entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->next = s->lru.next;
    e->prev = &s->lru;
    s->lru.next->prev = e;
    s->lru.next = e;
}

/* store_answer - insert or refresh key; evict the least recently used past the bound */
static void store_answer(struct consent *c, struct shard *s, const char *key, uint32_t h,
                         const struct consent_answer *a, double expires)
{
    size_t klen = strlen(key) + 1;
    struct entry *e = malloc(sizeof(*e) + klen), *old;

    if (e == NULL)
        return; /* not cached; the answer itself is still good */
    memcpy(e->key, key, klen);
    e->hash = h;
    e->expires = expires;
    e->enforce = a->enforce;
    e->via = a->via;
    pthread_mutex_lock(&s->lock);
    if ((old = find(s, key, h)) != NULL) {
        unlink_entry(s, old);
        free(old);
    }
    e->hnext = s->buckets[(h >> 4) & s->mask];
    s->buckets[(h >> 4) & s->mask] = e;
    e->next = s->lru.next;
    e->prev = &s->lru;
    s->lru.next->prev = e;
    s->lru.next = e;
    s->n++;
    while (s->n > s->max) {
        struct entry *victim = s->lru.prev;
        unlink_entry(s, victim);
        free(victim);
        atomic_fetch_add(&c->evictions, 1);
    }
    pthread_mutex_unlock(&s->lock);
}

/* note_error - count; warn when the last warning is CONSENT_LOG_INTERVAL old */
static void note_error(struct consent *c, double now, const char *why)
{
    long long sec = (long long)now, last = atomic_load(&c->last_log);
    unsigned long long n;

    atomic_fetch_add(&c->errors, 1);
    n = atomic_fetch_add(&c->unlogged, 1) + 1;
    if (sec - last < CONSENT_LOG_INTERVAL ||
        !atomic_compare_exchange_strong(&c->last_log, &last, sec))
        return;
    atomic_fetch_sub(&c->unlogged, n);
    log_warn("consent store lookup failed (%llu failure%s since the last warning; those "
             "recipients count as not consenting): %s",
             n, n == 1 ? "" : "s", why[0] ? why : "unknown error");
}

/* consent_get - see consent.h */
int consent_get(struct consent *c, const char *rcpt, double now, struct consent_answer *out)
{
    char key[CONSENT_KEY_MAX], why[256];
    int cacheable;
    uint32_t h = 0;
    struct shard *s = NULL;
    enum store_lookup r;

    memset(out, 0, sizeof(*out));
    atomic_fetch_add(&c->lookups, 1);
    cacheable = c->conf.ttl > 0 &&
                make_key(rcpt ? rcpt : "", c->conf.local_case_sensitive, key, sizeof(key)) == 0;
    if (cacheable) {
        struct entry *e;

        h = hash_key(key);
        s = &c->shard[h % CONSENT_SHARDS];
        pthread_mutex_lock(&s->lock);
        if ((e = find(s, key, h)) != NULL) {
            if (e->expires > now) {
                out->enforce = e->enforce;
                out->via = e->via;
                out->cached = 1;
                lru_front(s, e);
                pthread_mutex_unlock(&s->lock);
                atomic_fetch_add(&c->hits, 1);
                return 0;
            }
            unlink_entry(s, e);
            free(e);
        }
        pthread_mutex_unlock(&s->lock);
    }
    why[0] = '\0';
    r = c->fn(c->arg, rcpt ? rcpt : "", &out->enforce, &out->via, why, sizeof(why));
    if (r == STORE_ERROR) {
        out->enforce = 0;
        out->error = 1;
        note_error(c, now, why);
        return -1;
    }
    out->enforce = out->enforce != 0;
    if (cacheable)
        store_answer(c, s, key, h, out, now + c->conf.ttl);
    return 0;
}

/* consent_stats - see consent.h */
void consent_stats(struct consent *c, struct consent_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->lookups = atomic_load(&c->lookups);
    out->hits = atomic_load(&c->hits);
    out->errors = atomic_load(&c->errors);
    out->evictions = atomic_load(&c->evictions);
    for (int i = 0; i < CONSENT_SHARDS; i++) {
        pthread_mutex_lock(&c->shard[i].lock);
        out->entries += c->shard[i].n;
        pthread_mutex_unlock(&c->shard[i].lock);
    }
}
