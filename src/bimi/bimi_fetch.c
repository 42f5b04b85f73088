/* bimi_fetch.c - HTTPS GET of BIMI logos and mark certificates with libcurl, and the
 * shared cache of what was fetched, keyed by URL.
 * Rules: https only, redirects only to https (at most 3), the body capped (the transfer
 * is cut as soon as it passes the cap), the whole transfer (name resolution, connect,
 * TLS, body) bounded by the caller's deadline, no signals (NOSIGNAL: libmilter threads).
 * Documents and permanent failures are cached for cache_ttl seconds, keyed by the URL
 * and the size cap (a logo URL and a certificate URL may name the same document: what
 * was too large for one cap says nothing of the other); temporary failures are not
 * cached. The same cache keeps the certificate verdicts of bimi_eval (memo).
 * Owns the cache and the curl handles; not what the documents mean.
 * Threads: the cache has one mutex, never held while a transfer runs; each transfer
 * has its own easy handle; the outcome counters are the caller's atomics.
 * curl_global_init runs once (pthread_once). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bimi/bimi.h"
#include "util/xalloc.h"

#define FETCH_MAX_REDIRS 3L
#define FETCH_AGENT "senderauthd-bimi/" SA_VERSION

struct entry {
    char *url;  /* NULL = free slot */
    size_t max; /* the size cap it was fetched under (0 for memo entries) */
    long until; /* cache clock */
    enum bimi_fetch_status status;
    char *data;
    size_t len;
    char reason[96];
};

struct bimi_fetcher {
    atomic_uint_fast64_t *counters; /* the caller's, or NULL */
    char *ca_file;
    int ttl;
    int nent;
    struct entry *ent;
    pthread_mutex_t lock;
};

struct sink {
    char *buf;
    size_t len, max;
    int over;
    int timeout; /* set by transfer: the deadline ended it */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void);
static size_t on_data(char *p, size_t size, size_t n, void *arg);
static enum bimi_fetch_status transfer(const struct bimi_fetcher *f, const char *url, size_t max,
                                       double deadline, struct sink *s, char *reason,
                                       size_t reasonlen);
static int cache_get(struct bimi_fetcher *f, const char *url, size_t max, long now,
                     enum bimi_fetch_status *st, char **data, size_t *len, char *reason,
                     size_t reasonlen);
static void cache_put(struct bimi_fetcher *f, const char *url, size_t max, long now,
                      enum bimi_fetch_status st, const char *data, size_t len, const char *reason);
static void entry_clear(struct entry *e);
static double mono(void);
static void count(const struct bimi_fetcher *f, enum bimi_fetch_count c);

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* count - one more c in the caller's counters, if any */
static void count(const struct bimi_fetcher *f, enum bimi_fetch_count c)
{
    if (f->counters != NULL)
        atomic_fetch_add_explicit(&f->counters[c], 1, memory_order_relaxed);
}

/* bimi_fetch_new - see bimi.h */
struct bimi_fetcher *bimi_fetch_new(const struct bimi_fetch_conf *conf)
{
    struct bimi_fetcher *f = calloc(1, sizeof(*f));

    pthread_once(&curl_once, curl_init);
    if (f == NULL)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    f->ttl = conf->cache_ttl;
    f->counters = conf->counters;
    f->nent = conf->cache_entries > 0 ? conf->cache_entries : 0;
    if ((conf->ca_file != NULL && conf->ca_file[0] != '\0' &&
         (f->ca_file = strdup(conf->ca_file)) == NULL) ||
        (f->nent > 0 && (f->ent = calloc((size_t)f->nent, sizeof(*f->ent))) == NULL))
        return bimi_fetch_free(f);
    return f;
}

static void entry_clear(struct entry *e)
{
    free(e->url);
    free(e->data);
    memset(e, 0, sizeof(*e));
}

/* bimi_fetch_free - see bimi.h */
struct bimi_fetcher *bimi_fetch_free(struct bimi_fetcher *f)
{
    if (f == NULL)
        return NULL;
    for (int i = 0; f->ent != NULL && i < f->nent; i++)
        entry_clear(&f->ent[i]);
    free(f->ent);
    free(f->ca_file);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return NULL;
}

/* on_data - append to the sink; past the cap the transfer is cut (a short count makes
 * curl stop with CURLE_WRITE_ERROR) */
static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t k = size * n;

    if (k > s->max - s->len) {
        s->over = 1;
        return 0;
    }
    memcpy(s->buf + s->len, p, k);
    s->len += k;
    return k;
}

/* transfer - one GET into s; the status and, unless OK, the reason */
static enum bimi_fetch_status transfer(const struct bimi_fetcher *f, const char *url, size_t max,
                                       double deadline, struct sink *s, char *reason,
                                       size_t reasonlen)
{
    CURL *c;
    CURLcode rc;
    long code = 0, ms = (long)((deadline - mono()) * 1000.0);
    enum bimi_fetch_status st = BIMI_FETCH_OK;

    if (ms <= 0) {
        s->timeout = 1;
        snprintf(reason, reasonlen, "no time left to fetch");
        return BIMI_FETCH_TEMP;
    }
    if ((c = curl_easy_init()) == NULL) {
        snprintf(reason, reasonlen, "cannot start a transfer");
        return BIMI_FETCH_TEMP;
    }
    /* Every option is a rule (https only, the caps, the deadline, TLS checks): a libcurl
     * that refuses one (CURLOPT_*_PROTOCOLS_STR is 7.85 and later) gets no transfer. */
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, FETCH_MAX_REDIRS) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, s) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_USERAGENT, FETCH_AGENT) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        (f->ca_file != NULL && curl_easy_setopt(c, CURLOPT_CAINFO, f->ca_file) != CURLE_OK)) {
        curl_easy_cleanup(c);
        snprintf(reason, reasonlen, "cannot set up the transfer (libcurl refused an option)");
        return BIMI_FETCH_TEMP;
    }
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (s->over || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(reason, reasonlen, "document larger than %zu bytes", max);
        st = BIMI_FETCH_FAIL;
    } else if (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT ||
               rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_RECV_ERROR ||
               rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE) {
        s->timeout = rc == CURLE_OPERATION_TIMEDOUT;
        snprintf(reason, reasonlen, "fetch: %s", curl_easy_strerror(rc));
        st = BIMI_FETCH_TEMP;
    } else if (rc != CURLE_OK) {
        snprintf(reason, reasonlen, "fetch: %s", curl_easy_strerror(rc));
        st = BIMI_FETCH_FAIL;
    } else if (code >= 500) {
        snprintf(reason, reasonlen, "fetch: HTTP %ld", code);
        st = BIMI_FETCH_TEMP;
    } else if (code != 200) {
        snprintf(reason, reasonlen, "fetch: HTTP %ld", code);
        st = BIMI_FETCH_FAIL;
    }
    return st;
}

/* cache_get - 1 and a copy of the entry for url fetched under the same cap max when one
 * is fresh, else 0 */
static int cache_get(struct bimi_fetcher *f, const char *url, size_t max, long now,
                     enum bimi_fetch_status *st, char **data, size_t *len, char *reason,
                     size_t reasonlen)
{
    int hit = 0;

    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->nent && !hit; i++) {
        struct entry *e = &f->ent[i];
        if (e->url == NULL || e->max != max || strcmp(e->url, url) != 0)
            continue;
        if (e->until <= now) {
            entry_clear(e);
            break;
        }
        hit = 1;
        *st = e->status;
        snprintf(reason, reasonlen, "%s", e->reason);
        if (e->status == BIMI_FETCH_OK && (*data = malloc(e->len + 1)) != NULL) {
            memcpy(*data, e->data, e->len + 1);
            *len = e->len;
        } else if (e->status == BIMI_FETCH_OK) {
            *st = BIMI_FETCH_TEMP;
            snprintf(reason, reasonlen, "out of memory");
        }
    }
    pthread_mutex_unlock(&f->lock);
    return hit;
}

/* cache_put - keep a document or a permanent failure for the TTL, in a free slot or
 * in place of the entry closest to expiry */
static void cache_put(struct bimi_fetcher *f, const char *url, size_t max, long now,
                      enum bimi_fetch_status st, const char *data, size_t len, const char *reason)
{
    struct entry *victim = NULL;
    char *u, *d = NULL;

    if (f->nent == 0 || f->ttl <= 0 || st == BIMI_FETCH_TEMP)
        return;
    if ((u = strdup(url)) == NULL || (data != NULL && (d = malloc(len + 1)) == NULL)) {
        free(u);
        return;
    }
    if (d != NULL)
        memcpy(d, data, len + 1);
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->nent; i++) {
        struct entry *e = &f->ent[i];
        if (e->url == NULL || (e->max == max && strcmp(e->url, url) == 0) || e->until <= now) {
            victim = e;
            break;
        }
        if (victim == NULL || e->until < victim->until)
            victim = e;
    }
    entry_clear(victim);
    victim->url = u;
    victim->max = max;
    victim->data = d;
    victim->len = len;
    victim->status = st;
    victim->until = now + f->ttl;
    snprintf(victim->reason, sizeof(victim->reason), "%s", reason);
    pthread_mutex_unlock(&f->lock);
}

/* bimi_fetch_memo_put - see bimi.h */
void bimi_fetch_memo_put(struct bimi_fetcher *f, const char *key, long now, const char *value)
{
    cache_put(f, key, 0, now, BIMI_FETCH_OK, value, strlen(value), "");
}

/* bimi_fetch_memo_get - see bimi.h */
int bimi_fetch_memo_get(struct bimi_fetcher *f, const char *key, long now, char *out, size_t outlen)
{
    enum bimi_fetch_status st;
    char *data = NULL, why[8];
    size_t len = 0;

    if (!cache_get(f, key, 0, now, &st, &data, &len, why, sizeof(why)) || st != BIMI_FETCH_OK) {
        free(data);
        return -1;
    }
    sa_strlcpy(out, data, outlen);
    free(data);
    return 0;
}

/* bimi_fetch_get - see bimi.h */
enum bimi_fetch_status bimi_fetch_get(struct bimi_fetcher *f, const char *url, size_t max,
                                      double deadline, long now, char **data, size_t *len,
                                      char *reason, size_t reasonlen)
{
    struct sink s = {NULL, 0, max, 0, 0};
    enum bimi_fetch_status st;

    *data = NULL;
    *len = 0;
    reason[0] = '\0';
    if (cache_get(f, url, max, now, &st, data, len, reason, reasonlen)) {
        count(f, BIMI_COUNT_CACHED);
        return st;
    }
    if ((s.buf = malloc(max + 1)) == NULL) {
        snprintf(reason, reasonlen, "out of memory");
        count(f, BIMI_COUNT_FAILED);
        return BIMI_FETCH_TEMP;
    }
    st = transfer(f, url, max, deadline, &s, reason, reasonlen);
    count(f, st == BIMI_FETCH_OK ? BIMI_COUNT_FETCHED
             : s.timeout         ? BIMI_COUNT_TIMEOUT
                                 : BIMI_COUNT_FAILED);
    s.buf[s.len] = '\0';
    cache_put(f, url, max, now, st, st == BIMI_FETCH_OK ? s.buf : NULL, s.len, reason);
    if (st != BIMI_FETCH_OK) {
        free(s.buf);
        return st;
    }
    *data = s.buf;
    *len = s.len;
    return st;
}
