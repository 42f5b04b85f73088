/* mlt_native.c - the "native" engine: our own listener for the milter protocol. Binds
 * milter.socket, accepts, and runs each MTA connection in its own thread
 * (mlt_session.c); a signal thread turns SIGTERM/SIGINT into the end of the listener.
 * Owns the listening socket, the stop pipe and the signal thread.
 * Threads: open and run are called once from the milter thread; session threads are
 * detached and share only the read-only callback table. TERM and INT are blocked in
 * every thread (the caller's mask, inherited) and taken by sigwait alone. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
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
#include <sys/stat.h>
#include <sys/un.h>

#include "milter/mlt.h"
#include "milter/mlt_session.h"
#include "util/log.h"
#include "util/xalloc.h"

#define ACCEPT_PAUSE_MS 100 /* after EMFILE/ENFILE: let connections close before retrying */
#define ACCEPT_WARN_EVERY 60

static const struct mlt_callbacks *cbs;
static int listen_fd = -1;
static int stop_pipe[2] = {-1, -1};
static int is_tcp;
static int conn_timeout;
static char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static int open_unix(const char *path);
static int open_inet(const struct mlt_listen *l);
static void *signal_main(void *arg);
static void *session_main(void *arg);
static void start_session(int fd);

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

static void *session_main(void *arg)
{
    mlt_session_run((int)(intptr_t)arg, cbs);
    return NULL;
}

/* start_session - timeouts and TCP_NODELAY on the accepted socket, then its thread */
static void start_session(int fd)
{
    struct timeval tv = {.tv_sec = conn_timeout, .tv_usec = 0};
    pthread_attr_t attr;
    pthread_t tid;
    int one = 1, err;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (is_tcp)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&tid, &attr, session_main, (void *)(intptr_t)fd);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        log_warn("cannot start a thread for a milter connection: %s; closed (the MTA applies "
                 "its milter default action)",
                 strerror(err));
        close(fd);
    }
}

static int native_run(void)
{
    pthread_t sig_tid;
    time_t warned = 0;
    int rc = 0;

    if (listen_fd < 0)
        return -1;
    if (listen(listen_fd, SOMAXCONN) < 0 || pipe2(stop_pipe, O_CLOEXEC) < 0) {
        log_warn("cannot listen on the milter socket: %s", strerror(errno));
        return -1;
    }
    if (pthread_create(&sig_tid, NULL, signal_main, NULL) != 0) {
        log_warn("cannot start the signal thread");
        return -1;
    }
    for (;;) {
        struct pollfd pf[2] = {{listen_fd, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
        int fd;

        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_warn("poll on the milter socket: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        if ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
            start_session(fd);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            time_t now = time(NULL);
            struct timespec pause = {0, ACCEPT_PAUSE_MS * 1000000L};

            if (now - warned >= ACCEPT_WARN_EVERY) {
                warned = now;
                log_warn("accept on the milter socket: %s; the MTA's connection waits "
                         "(raise LimitNOFILE)",
                         strerror(errno));
            }
            nanosleep(&pause, NULL);
        } else if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
            log_warn("accept on the milter socket: %s", strerror(errno));
        }
    }
    close(listen_fd);
    listen_fd = -1;
    if (unix_path[0] != '\0')
        unlink(unix_path);
    if (rc < 0)
        pthread_cancel(sig_tid);
    pthread_join(sig_tid, NULL);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc;
}

const struct mlt_engine mlt_native_engine = {"native", native_open, native_run};
