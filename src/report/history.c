/* history.c - the bounded history queue and its writer thread (see history.h).
 * Owns the ring of rows, the writer thread, its store_history handle and the counters;
 * not the rows' contents (src/daemon/hist.c builds them) nor the SQL (store_history.c).
 * Threads: mu guards ring/head/n/stop and why, and is held only to copy rows or why in
 * or out, never while the store is written. The writer waits on cv for batch_size rows
 * or the flush interval. Counters and the warning's time are atomics: the drop warning
 * may come from the writer or from a milter thread whose row was refused (so a writer
 * stuck in the store does not hide the drops); a compare-and-swap on last_warn lets one
 * thread log per HISTORY_WARN_SEC. The store handle belongs to the writer thread. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/history.h"
#include "util/log.h"
#include "util/xalloc.h"

struct history {
    const struct sa_conf *conf;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_hist_row *ring;
    int cap, head, n, batch;
    int stop;
    pthread_t thr;
    atomic_ullong added, written, dropped_full, dropped_store;
    /* writer thread only */
    struct store_history *st;
    struct store_hist_row *buf;
    time_t next_try;
    atomic_llong last_warn;     /* monotonic seconds of the last warning, 0 = none */
    atomic_ullong warned_drops; /* drops counted by the last warning */
    char why[256];              /* the store's last error (under mu) */
};

static void *writer(void *arg);
static void write_batch(struct history *h, int k);
static void maybe_warn(struct history *h, int force);
static void set_why(struct history *h, const char *why);
static time_t now_mono(void);

/* now_mono - seconds on the monotonic clock */
static time_t now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* history_new - see history.h */
struct history *history_new(const struct sa_conf *conf)
{
    struct history *h = calloc(1, sizeof(*h));
    pthread_condattr_t ca;

    if (h == NULL)
        return NULL;
    h->conf = conf;
    h->cap = conf->report_queue_size > 0 ? conf->report_queue_size : 16;
    h->batch = conf->report_batch_size > 0 ? conf->report_batch_size : 1;
    if (h->batch > h->cap)
        h->batch = h->cap;
    h->ring = calloc((size_t)h->cap, sizeof(*h->ring));
    h->buf = calloc((size_t)h->batch, sizeof(*h->buf));
    if (h->ring == NULL || h->buf == NULL) {
        free(h->ring);
        free(h->buf);
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&h->thr, NULL, writer, h) != 0) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h->ring);
        free(h->buf);
        free(h);
        return NULL;
    }
    return h;
}

/* history_free - see history.h */
struct history *history_free(struct history *h)
{
    struct history_stats s;

    if (h == NULL)
        return NULL;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thr, NULL);
    history_get_stats(h, &s);
    log_info("history: %llu rows recorded, %llu written, %llu dropped (queue full %llu, store "
             "failed %llu)",
             s.added, s.written, s.dropped_full + s.dropped_store, s.dropped_full, s.dropped_store);
    store_history_close(h->st);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h->ring);
    free(h->buf);
    free(h);
    return NULL;
}

/* history_add - see history.h */
int history_add(struct history *h, const struct store_hist_row *row)
{
    pthread_mutex_lock(&h->mu);
    if (h->n == h->cap || h->stop) {
        pthread_mutex_unlock(&h->mu);
        atomic_fetch_add(&h->dropped_full, 1);
        maybe_warn(h, 0);
        return -1;
    }
    memcpy(&h->ring[(h->head + h->n) % h->cap], row, sizeof(*row));
    if (++h->n == h->batch)
        pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    atomic_fetch_add(&h->added, 1);
    return 0;
}

/* history_get_stats - see history.h */
void history_get_stats(struct history *h, struct history_stats *out)
{
    out->added = atomic_load(&h->added);
    out->written = atomic_load(&h->written);
    out->dropped_full = atomic_load(&h->dropped_full);
    out->dropped_store = atomic_load(&h->dropped_store);
    pthread_mutex_lock(&h->mu);
    out->queued = (unsigned long long)h->n;
    pthread_mutex_unlock(&h->mu);
}

/* writer - wait for a batch or the flush interval, take up to batch rows, write them;
 * at stop, write what is left */
static void *writer(void *arg)
{
    struct history *h = arg;
    struct timespec until;
    int k, stopping;

    pthread_mutex_lock(&h->mu);
    for (;;) {
        if (h->n < h->batch && !h->stop) {
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += h->conf->report_flush_interval_ms / 1000;
            until.tv_nsec += (long)(h->conf->report_flush_interval_ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&h->cv, &h->mu, &until);
        }
        stopping = h->stop;
        k = h->n < h->batch ? h->n : h->batch;
        for (int i = 0; i < k; i++)
            memcpy(&h->buf[i], &h->ring[(h->head + i) % h->cap], sizeof(h->buf[i]));
        h->head = (h->head + k) % h->cap;
        h->n -= k;
        if (stopping && k == 0)
            break;
        pthread_mutex_unlock(&h->mu);
        if (k > 0)
            write_batch(h, k);
        maybe_warn(h, 0);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    maybe_warn(h, 1);
    return NULL;
}

/* write_batch - k rows of buf in one transaction; dropped and counted on failure, and
 * the store left alone for HISTORY_RETRY_SEC (while stopping, one try only) */
static void write_batch(struct history *h, int k)
{
    time_t now = now_mono();
    char err[256];

    if (h->next_try != 0 && now < h->next_try && !h->stop) {
        atomic_fetch_add(&h->dropped_store, (unsigned long long)k);
        return;
    }
    if (h->st == NULL && (h->st = store_history_open(h->conf, err, sizeof(err))) == NULL) {
        set_why(h, err);
        h->next_try = now_mono() + HISTORY_RETRY_SEC;
        atomic_fetch_add(&h->dropped_store, (unsigned long long)k);
        return;
    }
    if (store_history_insert(h->st, h->buf, k) < 0) {
        set_why(h, store_strerror());
        h->next_try = now_mono() + HISTORY_RETRY_SEC;
        atomic_fetch_add(&h->dropped_store, (unsigned long long)k);
        return;
    }
    if (h->next_try != 0)
        log_info("history: the store accepts rows again");
    h->next_try = 0;
    atomic_fetch_add(&h->written, (unsigned long long)k);
}

/* set_why - remember the store's last error for the warning */
static void set_why(struct history *h, const char *why)
{
    pthread_mutex_lock(&h->mu);
    sa_strlcpy(h->why, why, sizeof(h->why));
    pthread_mutex_unlock(&h->mu);
}

/* maybe_warn - one line about rows dropped since the last one, at most every
 * HISTORY_WARN_SEC seconds (force: now, if any); any thread */
static void maybe_warn(struct history *h, int force)
{
    unsigned long long full = atomic_load(&h->dropped_full);
    unsigned long long store = atomic_load(&h->dropped_store);
    long long now = (long long)now_mono(), last = atomic_load(&h->last_warn);
    char why[sizeof(h->why)];

    if (full + store == atomic_load(&h->warned_drops))
        return;
    if (!force && last != 0 && now - last < HISTORY_WARN_SEC)
        return;
    if (!atomic_compare_exchange_strong(&h->last_warn, &last, now) && !force)
        return; /* another thread is warning now */
    atomic_store(&h->warned_drops, full + store);
    pthread_mutex_lock(&h->mu);
    sa_strlcpy(why, h->why, sizeof(why));
    pthread_mutex_unlock(&h->mu);
    log_warn("history: %llu rows dropped so far (queue full %llu, store failed %llu)%s%s",
             full + store, full, store, why[0] ? "; store: " : "", why);
}
