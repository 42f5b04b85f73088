/* reload.c - SIGHUP: read the configuration, the Public Suffix List and the domain lists
 * again and swap them in without dropping a connection; the signal set-up that makes
 * this possible next to libmilter's own signal thread (see reload.h for why).
 * Owns the runtime snapshots (struct reload_snap) and the main thread's wait loop; not
 * the milter (milter.c), the start-up objects (main.c) or the config parser (src/conf).
 * Threads: reload_now runs only in the main thread. snap_lock guards the pointer to the
 * current snapshot (held only to read or swap it); a snapshot's reference count is
 * atomic and it is freed by whoever drops the last reference. The SIGHUP handler only
 * stores a flag and posts a semaphore (both async-signal-safe). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/hist.h"
#include "daemon/milter.h"
#include "daemon/msg.h"
#include "daemon/reload.h"
#include "metrics/metrics.h"
#include "policy/lists.h"
#include "util/log.h"

struct reload_snap {
    atomic_int refcnt;   /* messages using it, plus one while it is the current one */
    struct sa_proc proc; /* org and the lists are ours; the rest is the start-up proc's */
};

/* What the milter thread needs and gives back. */
struct milter_job {
    const struct sa_proc *p;
    const struct sa_conf *conf;
    int rc, busy;
};

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reload_snap *current;
static const struct sa_proc *base; /* the start-up proc the snapshots borrow from */
static sem_t wake;
static atomic_int hup_pending, milter_done;

static void on_hup(int sig);
static struct reload_snap *snap_new(struct orgdomain *org, struct lists_file *warn,
                                    struct lists_file *trust);
static void snap_unref(struct reload_snap *s);
static void snap_publish(struct reload_snap *s);
static int load_list(const char *path, int interval, struct lists_file **out);
static void restart_warn(const struct sa_conf *o, const struct sa_conf *n);
static void *milter_thread(void *arg);

/* on_hup - SIGHUP handler: note it and wake the main thread (async-signal-safe) */
static void on_hup(int sig)
{
    int saved = errno;

    atomic_store(&hup_pending, 1);
    sem_post(&wake);
    errno = saved;
}

/* reload_signals_init - see reload.h */
int reload_signals_init(void)
{
    struct sigaction sa;
    sigset_t set;

    if (sem_init(&wake, 0, 0) < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_hup;
    /* SA_NODEFER: HUP stays unblocked in this thread even while the handler runs, so a
     * second HUP can never fall through to libmilter's sigwait. */
    sa.sa_flags = SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGHUP, &sa, NULL) < 0)
        return -1;
    /* The main thread takes only HUP: TERM and INT are for libmilter's signal thread,
     * USR1 (lists) for any milter thread. With nothing else pending here, the kernel
     * always picks this thread for a HUP. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0 ? 0 : -1;
}

/* snap_new - a snapshot over base with these PSL and lists (taken over); NULL when out
 * of memory (the pieces are then still the caller's) */
static struct reload_snap *snap_new(struct orgdomain *org, struct lists_file *warn,
                                    struct lists_file *trust)
{
    struct reload_snap *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->proc = *base;
    s->proc.org = org;
    s->proc.warn_list = warn;
    s->proc.trust_list = trust;
    s->proc.snap = s;
    atomic_init(&s->refcnt, 1);
    return s;
}

/* snap_unref - drop one reference; the last one frees the PSL and the lists */
static void snap_unref(struct reload_snap *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refcnt, 1) != 1)
        return;
    orgdomain_free(s->proc.org);
    lists_file_free(s->proc.warn_list);
    lists_file_free(s->proc.trust_list);
    free(s);
}

/* snap_publish - make s (its reference) current; NULL unpublishes */
static void snap_publish(struct reload_snap *s)
{
    struct reload_snap *old;

    pthread_mutex_lock(&snap_lock);
    old = current;
    current = s;
    pthread_mutex_unlock(&snap_lock);
    snap_unref(old);
}

/* reload_proc_get - see reload.h */
const struct sa_proc *reload_proc_get(const struct sa_proc *fallback)
{
    struct reload_snap *s;

    pthread_mutex_lock(&snap_lock);
    if ((s = current) != NULL)
        atomic_fetch_add(&s->refcnt, 1);
    pthread_mutex_unlock(&snap_lock);
    return s != NULL ? &s->proc : fallback;
}

/* reload_proc_put - see reload.h */
void reload_proc_put(const struct sa_proc *p)
{
    if (p != NULL && p->snap != NULL)
        snap_unref(p->snap);
}

/* load_list - a domain list file ("" = none); -1 when it cannot be read (logged) */
static int load_list(const char *path, int interval, struct lists_file **out)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return 0;
    return (*out = lists_file_new(path, interval, NULL)) != NULL ? 0 : -1;
}

#define CHANGED_INT(f) (o->f != n->f)
#define CHANGED_STR(f) (strcmp(o->f ? o->f : "", n->f ? n->f : "") != 0)

/* restart_warn - name the keys whose new value waits for a restart: they configure the
 * socket, the user, the resolver, the cache, the DKIM library, the store and metrics */
static void restart_warn(const struct sa_conf *o, const struct sa_conf *n)
{
    static const char *const names[] = {
        "milter.socket",     "milter.socket_owner",   "milter.socket_mode",
        "milter.user",       "milter.timeout",        "milter.engine",
        "dns.nameservers",
        "dns.timeout",       "dns.retries",           "dns.cache_size",
        "dns.cache_max_ttl", "dns.negative_ttl",      "dkim.min_rsa_bits",
        "store.backend",     "store.sqlite_path",     "store.pg_conninfo",
        "store.pg_pool_size", "store.busy_timeout_ms", "policy.cache_ttl",
        "policy.cache_size", "policy.random_seed",    "metrics.listen",
        "report.queue_size", "report.batch_size",     "report.flush_interval_ms",
    };
    const int changed[] = {
        strcmp(o->milter_socket.spec, n->milter_socket.spec) != 0,
        CHANGED_STR(milter_socket_owner),
        CHANGED_INT(milter_socket_mode),
        CHANGED_STR(milter_user),
        CHANGED_INT(milter_timeout),
        CHANGED_INT(milter_engine),
        memcmp(&o->dns_nameservers, &n->dns_nameservers, sizeof(o->dns_nameservers)) != 0,
        CHANGED_INT(dns_timeout),
        CHANGED_INT(dns_retries),
        CHANGED_INT(dns_cache_size),
        CHANGED_INT(dns_cache_max_ttl),
        CHANGED_INT(dns_negative_ttl),
        CHANGED_INT(dkim_min_rsa_bits),
        CHANGED_INT(store_backend),
        CHANGED_STR(store_sqlite_path),
        CHANGED_STR(store_pg_conninfo),
        CHANGED_INT(store_pg_pool_size),
        CHANGED_INT(store_busy_timeout_ms),
        CHANGED_INT(policy_cache_ttl),
        CHANGED_INT(policy_cache_size),
        CHANGED_INT(policy_random_seed),
        CHANGED_STR(metrics_listen),
        CHANGED_INT(report_queue_size),
        CHANGED_INT(report_batch_size),
        CHANGED_INT(report_flush_interval_ms),
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (changed[i])
            log_warn("reload: %s changed; the new value takes effect at the next restart",
                     names[i]);
}

/* reload_now - see reload.h */
int reload_now(const char *path)
{
    static struct conf_errors errs; /* main thread only */
    struct sa_conf *nc, *old;
    struct orgdomain *org = NULL;
    struct lists_file *warn = NULL, *trust = NULL;
    struct reload_snap *s;

    nc = conf_load_file(path, &errs);
    for (int i = 0; i < errs.n; i++)
        log_warn("%s%s", errs.item[i].warning ? "warning: " : "", errs.item[i].text);
    if (errs.dropped > 0)
        log_warn("%s: %d more problems not shown", path, errs.dropped);
    if (nc == NULL)
        goto refused;
    if ((org = orgdomain_new(nc->psl_path)) == NULL) {
        log_warn("reload: cannot load the public suffix list %s", nc->psl_path);
        goto refused;
    }
    if (load_list(nc->lists_warning_file, nc->lists_reload_interval, &warn) < 0 ||
        load_list(nc->lists_trustmark_file, nc->lists_reload_interval, &trust) < 0)
        goto refused;
    if ((s = snap_new(org, warn, trust)) == NULL) {
        log_warn("reload: out of memory");
        goto refused;
    }
    if ((old = conf_get_current()) != NULL) {
        restart_warn(old, nc);
        conf_unref(old);
    }
    hist_reload(nc);      /* report.enable turned on: start the history writer */
    conf_set_current(nc); /* takes our reference; messages keep theirs to the old one */
    snap_publish(s);
    metrics_count(METRICS_RELOAD_OK, 1);
    log_info("reloaded %s (authserv-id %s)", path, nc->authserv_id);
    return 0;

refused:
    orgdomain_free(org);
    lists_file_free(warn);
    lists_file_free(trust);
    conf_unref(nc);
    metrics_count(METRICS_RELOAD_FAILED, 1);
    log_warn("reload of %s refused: the running configuration stays in force", path);
    return -1;
}

/* milter_thread - the whole libmilter life, then wake the main thread */
static void *milter_thread(void *arg)
{
    struct milter_job *j = arg;

    j->rc = milter_run(j->p, j->conf, &j->busy);
    atomic_store(&milter_done, 1);
    sem_post(&wake);
    return NULL;
}

/* reload_run - see reload.h */
int reload_run(struct sa_proc *p, const struct sa_conf *conf, const char *path, int *busy)
{
    struct milter_job job = {.p = p, .conf = conf, .rc = -1, .busy = 0};
    struct reload_snap *first;
    pthread_attr_t attr;
    pthread_t tid;
    sigset_t set;
    int err;

    base = p;
    if ((first = snap_new(p->org, p->warn_list, p->trust_list)) == NULL) {
        log_warn("out of memory");
        return -1;
    }
    p->org = NULL; /* the snapshot owns them now */
    p->warn_list = p->trust_list = NULL;
    snap_publish(first);

    /* The milter thread and every thread libmilter starts block HUP, TERM and INT (its
     * signal thread sigwaits TERM and INT); set at creation, so there is no window. */
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_attr_init(&attr);
    err = pthread_attr_setsigmask_np(&attr, &set);
    if (err == 0)
        err = pthread_create(&tid, &attr, milter_thread, &job);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        log_warn("cannot start the milter thread: %s", strerror(err));
        snap_publish(NULL);
        return -1;
    }
    for (;;) {
        while (sem_wait(&wake) < 0 && errno == EINTR)
            ;
        if (atomic_exchange(&hup_pending, 0) && !atomic_load(&milter_done)) {
            log_info("SIGHUP: reloading %s", path);
            reload_now(path);
        }
        if (atomic_load(&milter_done))
            break;
    }
    pthread_join(tid, NULL);
    *busy = job.busy;
    if (!job.busy)
        snap_publish(NULL); /* the last reference: frees the PSL and lists */
    return job.rc;
}
