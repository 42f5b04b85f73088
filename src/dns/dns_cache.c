/* dns_cache.c - shared, bounded cache of DNS answers (positive and negative), TTL-capped.
 * Owns the table and its entries; not the resolver below it or the per-message limits.
 * Threads: shared by all milter threads.
 *
 * Locking protocol (unbound lruhash style):
 * - The table is split into shards by hash of (lower-cased name, type). Each shard has
 *   one mutex that guards its buckets, its LRU list, its entry count and its stats.
 * - A thread holds at most one shard lock at a time, and never while it calls the
 *   upstream layer: a lookup locks, looks, copies the answer out and unlocks; on a miss
 *   it queries upstream unlocked and then locks again to insert. Two threads missing on
 *   the same key both query; the later insert replaces the earlier entry.
 * - Entries and the answers they hold are touched only under their shard's lock; the
 *   caller always gets its own copy, so nothing leaves the lock by reference.
 * - Only DNS_OK, DNS_NXDOMAIN and DNS_NODATA are stored; DNS_TEMPFAIL and DNS_BADREPLY
 *   go straight back to the caller so the next message asks again.
 * - Bound: shard i holds at most cap[i] entries, and the caps add up to max_entries;
 *   inserting into a full shard evicts its least recently used entry. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/dns.h"

#define CACHE_SHARDS 16

struct entry {
    struct entry *hnext;       /* bucket chain */
    struct entry *prev, *next; /* LRU list, most recent at head */
    uint32_t hash;
    uint16_t type;
    enum dns_status status;
    long expires;           /* valid while now < expires */
    struct dns_answer *ans; /* DNS_OK only */
    char name[];            /* lower-cased */
};

struct shard {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t nbuckets; /* power of two */
    struct entry *head, *tail;
    size_t count, cap;
    struct dns_cache_stats st;
};

struct cache {
    struct dns dns;
    struct dns *up;
    int nshards;
    uint32_t max_ttl, neg_ttl;
    long (*now_fn)(void);
    struct shard shard[CACHE_SHARDS];
};

static enum dns_status cache_query_ttl(struct dns *d, const char *name, uint16_t type,
                                       struct dns_answer **ans, uint32_t *neg_ttl);
static enum dns_status cache_query(struct dns *d, const char *name, uint16_t type,
                                   struct dns_answer **ans);
static void cache_free(struct dns *d);
static long now_default(void);
static uint32_t hash_key(const char *name, uint16_t type);
static struct entry *find_locked(struct shard *s, uint32_t h, const char *name, uint16_t type,
                                 struct entry ***pprev);
static void unlink_locked(struct shard *s, struct entry *e, struct entry **pp);
static void lru_front_locked(struct shard *s, struct entry *e);
static void lru_remove_locked(struct shard *s, struct entry *e);
static void entry_free(struct entry *e);
static void insert(struct cache *c, uint32_t h, const char *name, uint16_t type, enum dns_status st,
                   const struct dns_answer *ans, uint32_t ttl);

/* now_default - monotonic seconds (wall-clock steps must not expire or keep entries) */
static long now_default(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec;
}

/* hash_key - FNV-1a over the lower-cased name and the type */
static uint32_t hash_key(const char *name, uint16_t type)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    h = (h ^ (type & 0xff)) * 16777619u;
    h = (h ^ (type >> 8)) * 16777619u;
    return h;
}

struct dns *dns_cache_new(struct dns *upstream, size_t max_entries, uint32_t max_ttl,
                          uint32_t neg_ttl, long (*now_fn)(void))
{
    struct cache *c;

    if (upstream == NULL || max_entries == 0) {
        errno = EINVAL;
        return NULL;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return NULL;
    c->up = upstream;
    c->max_ttl = max_ttl;
    c->neg_ttl = neg_ttl;
    c->now_fn = now_fn != NULL ? now_fn : now_default;
    c->nshards = max_entries < CACHE_SHARDS ? (int)max_entries : CACHE_SHARDS;
    for (int i = 0; i < c->nshards; i++) {
        struct shard *s = &c->shard[i];
        size_t nb = 16;

        s->cap = max_entries / (size_t)c->nshards +
                 ((size_t)i < max_entries % (size_t)c->nshards ? 1 : 0);
        while (nb < s->cap && nb < ((size_t)1 << 20))
            nb *= 2;
        s->nbuckets = nb;
        if ((s->buckets = calloc(nb, sizeof(*s->buckets))) == NULL) {
            for (int k = 0; k < i; k++) {
                free(c->shard[k].buckets);
                pthread_mutex_destroy(&c->shard[k].lock);
            }
            free(c);
            return NULL;
        }
        pthread_mutex_init(&s->lock, NULL);
    }
    c->dns.query = cache_query;
    c->dns.query_ttl = cache_query_ttl;
    c->dns.free = cache_free;
    c->dns.ctx = c;
    return &c->dns;
}

/* find_locked - the entry for the key, and the link that points at it */
static struct entry *find_locked(struct shard *s, uint32_t h, const char *name, uint16_t type,
                                 struct entry ***pprev)
{
    struct entry **pp = &s->buckets[(h >> 4) & (s->nbuckets - 1)];

    for (; *pp != NULL; pp = &(*pp)->hnext) {
        struct entry *e = *pp;

        if (e->hash == h && e->type == type && strcmp(e->name, name) == 0) {
            *pprev = pp;
            return e;
        }
    }
    *pprev = pp;
    return NULL;
}

/* unlink_locked - take e out of its bucket (pp points at it) and the LRU list */
static void unlink_locked(struct shard *s, struct entry *e, struct entry **pp)
{
    *pp = e->hnext;
    lru_remove_locked(s, e);
    s->count--;
}

/* lru_remove_locked - take e out of the LRU list only */
static void lru_remove_locked(struct shard *s, struct entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
}

/* lru_front_locked - make e the most recently used entry (e is not in the list) */
static void lru_front_locked(struct shard *s, struct entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head != NULL)
        s->head->prev = e;
    s->head = e;
    if (s->tail == NULL)
        s->tail = e;
}

static void entry_free(struct entry *e)
{
    dns_answer_free(e->ans);
    free(e);
}

/* insert - store a copy of the result for ttl seconds, evicting the LRU entry if full */
static void insert(struct cache *c, uint32_t h, const char *name, uint16_t type, enum dns_status st,
                   const struct dns_answer *ans, uint32_t ttl)
{
    struct shard *s = &c->shard[h % (uint32_t)c->nshards];
    size_t nlen = strlen(name);
    struct entry *e, *old, **pp, *victim = NULL;

    if ((e = calloc(1, sizeof(*e) + nlen + 1)) == NULL)
        return;
    memcpy(e->name, name, nlen + 1);
    e->hash = h;
    e->type = type;
    e->status = st;
    if (ans != NULL && (e->ans = dns_answer_copy(ans)) == NULL) {
        free(e);
        return;
    }
    pthread_mutex_lock(&s->lock);
    e->expires = c->now_fn() + (long)ttl;
    if ((old = find_locked(s, h, name, type, &pp)) != NULL) {
        unlink_locked(s, old, pp);
        victim = old;
        find_locked(s, h, name, type, &pp);
    } else if (s->count >= s->cap && s->tail != NULL) {
        struct entry *t = s->tail, **tp;

        find_locked(s, t->hash, t->name, t->type, &tp);
        unlink_locked(s, t, tp);
        victim = t;
        s->st.evictions++;
        find_locked(s, h, name, type, &pp);
    }
    e->hnext = NULL;
    *pp = e;
    lru_front_locked(s, e);
    s->count++;
    s->st.inserts++;
    pthread_mutex_unlock(&s->lock);
    if (victim != NULL)
        entry_free(victim);
}

/* cache_query_ttl - answer from the table, or ask upstream (unlocked) and remember */
static enum dns_status cache_query_ttl(struct dns *d, const char *name, uint16_t type,
                                       struct dns_answer **ans, uint32_t *neg_ttl)
{
    struct cache *c = d->ctx;
    char key[DNS_MAX_NAME + 1];
    struct shard *s;
    struct entry *e, **pp, *expired = NULL;
    enum dns_status st;
    uint32_t h, ttl;
    long now;

    *ans = NULL;
    *neg_ttl = 0;
    if (dns_name_check(name, key) < 0)
        return DNS_NXDOMAIN;
    h = hash_key(key, type);
    s = &c->shard[h % (uint32_t)c->nshards];

    pthread_mutex_lock(&s->lock);
    now = c->now_fn();
    if ((e = find_locked(s, h, key, type, &pp)) != NULL) {
        if (now < e->expires) {
            long left = e->expires - now;

            lru_remove_locked(s, e); /* move to the LRU front */
            lru_front_locked(s, e);
            s->st.hits++;
            st = e->status;
            if (st == DNS_OK) {
                *ans = dns_answer_copy(e->ans);
                if (*ans == NULL)
                    st = DNS_TEMPFAIL;
                else {
                    (*ans)->ttl = (uint32_t)left;
                    for (int i = 0; i < (*ans)->nrr; i++)
                        if ((*ans)->rr[i].ttl > (uint32_t)left)
                            (*ans)->rr[i].ttl = (uint32_t)left;
                }
            } else {
                s->st.negative_hits++;
                *neg_ttl = (uint32_t)left;
            }
            pthread_mutex_unlock(&s->lock);
            return st;
        }
        unlink_locked(s, e, pp);
        expired = e;
    }
    s->st.misses++;
    pthread_mutex_unlock(&s->lock);
    if (expired != NULL)
        entry_free(expired);

    st = dns_query_ttl(c->up, key, type, ans, neg_ttl);
    switch (st) {
    case DNS_OK:
        ttl = *ans != NULL ? (*ans)->ttl : 0;
        break;
    case DNS_NXDOMAIN:
    case DNS_NODATA:
        ttl = *neg_ttl > 0 ? *neg_ttl : c->neg_ttl;
        break;
    default:
        return st;
    }
    if (ttl > c->max_ttl)
        ttl = c->max_ttl;
    if (st != DNS_OK)
        *neg_ttl = ttl;
    if (ttl > 0 && (st != DNS_OK || *ans != NULL))
        insert(c, h, key, type, st, st == DNS_OK ? *ans : NULL, ttl);
    return st;
}

static enum dns_status cache_query(struct dns *d, const char *name, uint16_t type,
                                   struct dns_answer **ans)
{
    uint32_t neg_ttl;

    return cache_query_ttl(d, name, type, ans, &neg_ttl);
}

void dns_cache_get_stats(struct dns *d, struct dns_cache_stats *out)
{
    struct cache *c = d->ctx;

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < c->nshards; i++) {
        struct shard *s = &c->shard[i];

        pthread_mutex_lock(&s->lock);
        out->hits += s->st.hits;
        out->misses += s->st.misses;
        out->inserts += s->st.inserts;
        out->evictions += s->st.evictions;
        out->negative_hits += s->st.negative_hits;
        out->entries += s->count;
        pthread_mutex_unlock(&s->lock);
    }
}

static void cache_free(struct dns *d)
{
    struct cache *c = d->ctx;

    for (int i = 0; i < c->nshards; i++) {
        struct shard *s = &c->shard[i];
        struct entry *e, *n;

        for (e = s->head; e != NULL; e = n) {
            n = e->next;
            entry_free(e);
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}
