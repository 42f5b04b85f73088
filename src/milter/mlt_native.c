/* mlt_native.c - the "native" engine: our own listener for the milter protocol.
 * Binds milter.socket, accepts, and serves each MTA connection (mlt_session.c) from a
 * pool of worker threads. A connection keeps its worker while the MTA is talking; after
 * LINGER_MS without a command (an SMTP client thinking, a held transaction, an idle
 * connection between messages) it is parked in epoll and its worker goes back to the
 * pool, so 1,000 open connections do not need 1,000 threads. The listener thread
 * accepts, wakes parked connections that become readable, and ends those parked for
 * milter.timeout. A signal thread turns SIGTERM/SIGINT into the end of the listener;
 * open connections are then served until they close, for at most milter.timeout.
 * Owns the listening socket, the stop pipe, the signal thread, the parked list, the job
 * queue and the workers.
 * Threads: a connection (struct node) belongs to exactly one of: a worker serving it,
 * the job queue, the parked list; the queue and the parked list are under one lock
 * (held for list operations only, never across I/O). Workers start on demand when a job
 * finds none idle (up to WORKERS_SOFT; beyond, when jobs wait and no worker has taken
 * one for QUEUE_WAIT_MS) and
 * end after WORKER_IDLE_S idle beyond WORKERS_KEEP. While jobs wait with WORKERS_SOFT
 * busy, a worker parks its connection as soon as the MTA is quiet instead of lingering,
 * so the workers follow the connections that have something to read, not those open
 * (a 1 MB message no longer holds a thread between its chunks). TERM and INT are
 * blocked in every thread (the caller's mask, inherited) and taken by sigwait alone. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "milter/mlt.h"
#include "milter/mlt_session.h"
#include "util/log.h"
#include "util/xalloc.h"

#define ACCEPT_PAUSE_MS 100 /* after EMFILE/ENFILE: let connections close before retrying */
#define ACCEPT_WARN_EVERY 60
#define LINGER_MS 200      /* quiet time after which a connection is parked */
#define WORKERS_KEEP 4     /* idle workers kept */
#define WORKER_IDLE_S 2    /* an idle worker beyond those ends after this */
#define WORKERS_SOFT 16    /* up to this many, a job that finds no idle worker starts one */
#define QUEUE_WAIT_MS 10   /* beyond those, a job that waited this long while no worker took
                            * a job either (all blocked, e.g. on DNS) starts one more */
#define EVENTS 64

/* One MTA connection. */
struct node {
    struct mlt_session *s;
    int fd;
    time_t since;             /* parked at */
    long long queued_ms;      /* put on the job queue at (monotonic) */
    int timed_out;            /* a job to end it, not to serve it: 1 timeout, 2 stop */
    struct node *prev, *next; /* parked list, or next in the job queue */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static struct node *qhead, *qtail; /* jobs */
static struct node parked = {.prev = &parked, .next = &parked};
static int nworkers, nidle, nconns; /* under lock */
static long long last_take_ms;      /* under lock: a worker last took a job */
static int crowded; /* jobs wait, no worker is idle and no more start: a worker whose
                     * connection is quiet parks it at once instead of lingering (written
                     * under lock, read without it by mlt_session_serve) */
static int epfd = -1;

static const struct mlt_callbacks *cbs;
static int listen_fd = -1;
static int stop_pipe[2] = {-1, -1};
static int is_tcp;
static int conn_timeout;
static char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static int open_unix(const char *path);
static int open_inet(const struct mlt_listen *l);
static void *signal_main(void *arg);
static void *worker_main(void *arg);
static void start_session(int fd);
static void enqueue(struct node *n);
static void park(struct node *n);
static void unpark_locked(struct node *n);
static void wake(struct node *n);
static void reap(time_t now, int all);
static void node_free(struct node *n);
static long long now_ms(void);
static int spawn_worker(void);
static int queue_check(void);
static int cpus_idle(long long now);
static void crowd_locked(void);

/* open_unix - bind path, replacing a stale socket (never another kind of file) */
static int open_unix(const char *path)
{
    struct sockaddr_un sun;
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        log_warn("milter socket path too long: %s", path);
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_warn("milter socket %s exists and is not a socket: not replaced", path);
            return -1;
        }
        unlink(path);
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        log_warn("bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    sa_strlcpy(unix_path, path, sizeof(unix_path));
    return fd;
}

/* open_inet - bind the address (any when host is empty) and port */
static int open_inet(const struct mlt_listen *l)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int fd = -1, one = 1, err;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = l->kind == MLT_SOCK_INET6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", l->port);
    if ((err = getaddrinfo(l->host && l->host[0] ? l->host : NULL, port, &hints, &res)) != 0) {
        log_warn("milter socket %s: %s", l->spec, gai_strerror(err));
        return -1;
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            log_warn("bind %s: %s", l->spec, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int native_open(const struct mlt_listen *l, const struct mlt_callbacks *cb)
{
    cbs = cb;
    conn_timeout = l->timeout;
    is_tcp = l->kind != MLT_SOCK_UNIX;
    listen_fd = is_tcp ? open_inet(l) : open_unix(l->path);
    if (listen_fd >= 0)
        fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK); /* accept loop */
    if (listen_fd < 0) {
        log_warn("cannot open milter socket %s", l->spec);
        return -1;
    }
    return 0; /* bound; listen() in run, once the caller has set the socket's mode and owner */
}

/* signal_main - wait for TERM or INT, then wake the accept loop */
static void *signal_main(void *arg)
{
    sigset_t set;
    int sig = 0;

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    while (sigwait(&set, &sig) != 0)
        ;
    log_info("%s: stopping (open connections may finish)", sig == SIGINT ? "SIGINT" : "SIGTERM");
    while (write(stop_pipe[1], "x", 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* node_free - a connection is over (its session already ended) */
static void node_free(struct node *n)
{
    pthread_mutex_lock(&lock);
    nconns--;
    pthread_mutex_unlock(&lock);
    free(n);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* spawn_worker - one more worker (counted in nworkers by the caller, under lock);
 * 0, or -1 (logged, the count given back) */
static int spawn_worker(void)
{
    pthread_t tid;
    pthread_attr_t attr;
    int err;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&tid, &attr, worker_main, NULL);
    pthread_attr_destroy(&attr);
    if (err == 0)
        return 0;
    pthread_mutex_lock(&lock);
    nworkers--;
    crowd_locked();
    pthread_mutex_unlock(&lock);
    log_warn("cannot start a milter worker thread: %s; the connection waits for a busy one",
             strerror(err));
    return -1;
}

/* crowd_locked - recompute crowded; under lock */
static void crowd_locked(void)
{
    __atomic_store_n(&crowded, qhead != NULL && nidle == 0 && nworkers >= WORKERS_SOFT,
                     __ATOMIC_RELAXED);
}

/* enqueue - hand a connection to a worker: an idle one, else a new one while there are
 * fewer than WORKERS_SOFT (beyond that the listener adds workers for jobs that wait:
 * a CPU-bound burst does not start a thread per connection, a DNS-bound one still
 * gets them) */
static void enqueue(struct node *n)
{
    int spawn = 0;

    n->next = NULL;
    n->queued_ms = now_ms();
    pthread_mutex_lock(&lock);
    if (qtail != NULL)
        qtail->next = n;
    else
        qhead = n;
    qtail = n;
    if (nidle > 0)
        pthread_cond_signal(&work);
    else if (nworkers < WORKERS_SOFT) {
        spawn = 1;
        nworkers++;
    }
    crowd_locked();
    pthread_mutex_unlock(&lock);
    if (spawn)
        spawn_worker();
}

/* cpus_idle - listener thread: whether the process used less than half of the CPUs it
 * may run on since the last call at least QUEUE_WAIT_MS ago (1 until there is such a
 * window). Workers that are all busy computing (a 1 MB body takes a worker for many
 * milliseconds) leave nothing for another thread to do; workers waiting on the network
 * leave the CPUs idle. */
static int cpus_idle(long long now)
{
    static long long last_ms, last_cpu_us;
    static int idle = 1, ncpu;
    struct timespec ts;
    long long cpu_us;

    if (now - last_ms < QUEUE_WAIT_MS)
        return idle;
    if (ncpu == 0 && (ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN)) < 1)
        ncpu = 1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    cpu_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (last_ms != 0)
        idle = (cpu_us - last_cpu_us) * 2 < (now - last_ms) * 1000 * ncpu;
    last_ms = now;
    last_cpu_us = cpu_us;
    return idle;
}

/* queue_check - listener thread: a job waiting QUEUE_WAIT_MS, with no idle worker, no
 * job taken by any worker for as long and the CPUs not busy, starts one more (workers
 * busy on the CPU need no help, whether they keep taking jobs or are on a long message;
 * workers stuck on the network do); returns the epoll timeout to use (short while jobs
 * wait) */
static int queue_check(void)
{
    long long now = now_ms();
    int spawn = 0, wait, idle = cpus_idle(now);

    pthread_mutex_lock(&lock);
    wait = qhead != NULL;
    if (wait && nidle == 0 && now - qhead->queued_ms >= QUEUE_WAIT_MS &&
        now - last_take_ms >= QUEUE_WAIT_MS && idle) {
        spawn = 1;
        nworkers++;
    }
    pthread_mutex_unlock(&lock);
    if (spawn)
        spawn_worker();
    return wait ? QUEUE_WAIT_MS : 1000;
}

/* park - the MTA is quiet on n: wait for it in epoll, without a thread. List and epoll
 * membership change together under the lock, so the reaper never sees one without the
 * other. */
static void park(struct node *n)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = n};
    int err = 0;

    n->since = time(NULL);
    pthread_mutex_lock(&lock);
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, n->fd, &ev) < 0) {
        err = errno;
    } else {
        n->prev = parked.prev;
        n->next = &parked;
        parked.prev->next = n;
        parked.prev = n;
    }
    pthread_mutex_unlock(&lock);
    if (err != 0) {
        log_warn("epoll: %s; milter connection served without parking", strerror(err));
        enqueue(n);
    }
}

/* unpark_locked - take n off the parked list and out of epoll; under lock */
static void unpark_locked(struct node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
    epoll_ctl(epfd, EPOLL_CTL_DEL, n->fd, NULL);
}

/* wake - a parked connection became readable (listener thread): serve it */
static void wake(struct node *n)
{
    pthread_mutex_lock(&lock);
    unpark_locked(n);
    pthread_mutex_unlock(&lock);
    enqueue(n);
}

/* reap - hand the connections parked for milter.timeout (all: every parked one) to
 * workers to be ended */
static void reap(time_t now, int all)
{
    struct node *n, *next, *hits = NULL;

    pthread_mutex_lock(&lock);
    for (n = parked.next; n != &parked; n = next) {
        next = n->next;
        if (all || now - n->since >= conn_timeout) {
            unpark_locked(n);
            n->next = hits;
            hits = n;
        }
    }
    pthread_mutex_unlock(&lock);
    for (n = hits; n != NULL; n = next) {
        next = n->next;
        n->timed_out = all ? 2 : 1;
        enqueue(n);
    }
}

/* worker_main - serve queued connections; park them when quiet, free them when over */
static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        struct node *n;

        while (qhead == NULL) {
            struct timespec until;
            int rc;

            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += WORKER_IDLE_S;
            nidle++;
            crowd_locked();
            rc = pthread_cond_timedwait(&work, &lock, &until);
            nidle--;
            if (rc == ETIMEDOUT && qhead == NULL && nworkers > WORKERS_KEEP) {
                /* the last worker of a burst to end, with no connection open: the
                 * caches the ended threads gave back go to the system (glibc keeps
                 * them in its arenas otherwise) */
                int trim = --nworkers == WORKERS_KEEP && nconns == 0;

                pthread_mutex_unlock(&lock);
                if (trim)
                    malloc_trim(0);
                return NULL;
            }
        }
        n = qhead;
        if ((qhead = n->next) == NULL)
            qtail = NULL;
        crowd_locked();
        last_take_ms = now_ms();
        pthread_mutex_unlock(&lock);
        if (n->timed_out) {
            if (n->timed_out == 1)
                log_warn("milter connection: no command from the MTA for %d s: closed",
                         conn_timeout);
            else
                log_warn("stopping: an open milter connection closed");
            mlt_session_end(n->s);
            node_free(n);
        } else if (mlt_session_serve(n->s, &crowded) == MLT_SERVE_IDLE) {
            park(n);
        } else {
            node_free(n);
        }
        pthread_mutex_lock(&lock);
    }
}

/* start_session - socket options on an accepted connection, then a worker for it (the
 * MTA speaks first) */
static void start_session(int fd)
{
    struct timeval linger = {.tv_sec = 0, .tv_usec = LINGER_MS * 1000};
    struct timeval tv = {.tv_sec = conn_timeout, .tv_usec = 0};
    struct node *n;
    int one = 1;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &linger, sizeof(linger));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (is_tcp)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if ((n = calloc(1, sizeof(*n))) == NULL || (n->s = mlt_session_new(fd, cbs)) == NULL) {
        log_warn("out of memory for a milter connection: closed (the MTA applies its "
                 "milter default action)");
        free(n);
        close(fd);
        return;
    }
    n->fd = fd;
    pthread_mutex_lock(&lock);
    nconns++;
    pthread_mutex_unlock(&lock);
    enqueue(n);
}

/* native_run - the listener thread: accept, wake parked connections, end those quiet
 * for milter.timeout; after a stop signal, go on for open connections until they close
 * or milter.timeout passes (then the parked ones are ended) */
static int native_run(void)
{
    struct epoll_event ev = {.events = EPOLLIN}, evs[EVENTS];
    pthread_t sig_tid;
    time_t warned = 0, last_reap = 0, stop_at = 0;
    int rc = 0, stopping = 0, wait_ms = 1000;

    if (listen_fd < 0)
        return -1;
    if (listen(listen_fd, SOMAXCONN) < 0 || pipe2(stop_pipe, O_CLOEXEC) < 0 ||
        (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        log_warn("cannot listen on the milter socket: %s", strerror(errno));
        return -1;
    }
    ev.data.ptr = &listen_fd;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        return -1;
    ev.data.ptr = stop_pipe;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, stop_pipe[0], &ev) < 0)
        return -1;
    if (pthread_create(&sig_tid, NULL, signal_main, NULL) != 0) {
        log_warn("cannot start the signal thread");
        return -1;
    }
    for (;;) {
        int n = epoll_wait(epfd, evs, EVENTS, wait_ms);
        time_t now;

        if (n < 0 && errno != EINTR) {
            log_warn("epoll_wait: %s", strerror(errno));
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;

            if (p == stop_pipe) {
                if (!stopping) {
                    stopping = 1;
                    stop_at = time(NULL) + conn_timeout;
                    epoll_ctl(epfd, EPOLL_CTL_DEL, stop_pipe[0], NULL); /* stays readable */
                    epoll_ctl(epfd, EPOLL_CTL_DEL, listen_fd, NULL);
                    close(listen_fd);
                    listen_fd = -1;
                    if (unix_path[0] != '\0')
                        unlink(unix_path);
                }
                continue;
            }
            if (p != &listen_fd) {
                wake(p);
                continue;
            }
            for (int k = 0; k < EVENTS && listen_fd >= 0; k++) {
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

                if (fd >= 0) {
                    start_session(fd);
                    continue;
                }
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                    struct timespec pause = {0, ACCEPT_PAUSE_MS * 1000000L};

                    if (time(NULL) - warned >= ACCEPT_WARN_EVERY) {
                        warned = time(NULL);
                        log_warn("accept on the milter socket: %s; the MTA's connection "
                                 "waits (raise LimitNOFILE)",
                                 strerror(errno));
                    }
                    nanosleep(&pause, NULL);
                } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                    log_warn("accept on the milter socket: %s", strerror(errno));
                }
                break;
            }
        }
        wait_ms = queue_check();
        now = time(NULL);
        if (now != last_reap) {
            last_reap = now;
            reap(now, 0);
        }
        if (stopping) {
            int left;

            pthread_mutex_lock(&lock);
            left = nconns;
            pthread_mutex_unlock(&lock);
            if (left == 0)
                break;
            if (now >= stop_at) {
                reap(now, 1);
                break;
            }
        }
    }
    if (listen_fd >= 0) {
        close(listen_fd);
        listen_fd = -1;
        if (unix_path[0] != '\0')
            unlink(unix_path);
    }
    if (rc < 0)
        pthread_cancel(sig_tid);
    pthread_join(sig_tid, NULL);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc;
}

const struct mlt_engine mlt_native_engine = {"native", native_open, native_run};
