/* milter.c - libmilter glue: registration, the socket, and one short callback per
 * milter step that hands its arguments to conn.c / msg.c / act.c.
 * Owns the smfiDesc, the negotiated flags and the count of open connections (so that
 * SIGTERM lets in-flight messages finish); no checks and no header logic live here.
 * Threads: libmilter runs each connection in its own thread; the callbacks touch only
 * that connection's sa_conn. The process objects are read-only; the connection count
 * is under its own mutex. Each connection holds a descriptor: at start the soft
 * RLIMIT_NOFILE is raised to the hard one, and a warning names the limit when the open
 * connections reach 3/4 of it (libmilter reports the failed accept() only to syslog).
 * After a burst of connections ends (the open ones fall to a quarter of the burst's peak,
 * at most every TRIM_EVERY s, or to none) the freed heap goes back to the kernel
 * (malloc_trim): glibc keeps it otherwise, and the RSS would stay at the burst's peak. */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "daemon/badge.h"
#include "daemon/milter.h"
#include "daemon/msg.h"
#include "daemon/stats.h"
#include "util/log.h"

/* Actions we use: add our fields, delete forged A-R fields, hold and recipient changes
 * (quarantine.action hold / subaddress). The flags are fixed at registration, so the
 * recipient changes are asked for even when not configured: they only permit, they
 * cost nothing until used. */
#define HDR_ACTIONS (SMFIF_ADDHDRS | SMFIF_CHGHDRS)
#define WANT_ACTIONS (HDR_ACTIONS | SMFIF_QUARANTINE | SMFIF_ADDRCPT | SMFIF_DELRCPT)
/* Steps we never answer with anything but "continue": ask for no reply to save round
 * trips (not RCPT: enforce.c may answer 452 4.5.3 there); steps we do not need (DATA,
 * unknown commands) are not sent; values keep their leading space (DKIM simple canonicalization needs it). No SMFIP_SKIP: with NR_BODY
 * there is no body reply to carry it. */
#define WANT_PROTO                                                                                 \
    (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_DATA |                               \
     SMFIP_NR_UNKN | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NOUNKNOWN |               \
     SMFIP_NODATA | SMFIP_HDR_LEADSPC)

static const struct sa_proc *proc;
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_cond = PTHREAD_COND_INITIALIZER;
static int active;
static long nofile_limit, nofile_warn_at; /* set once by nofile_init, before any thread */
static time_t nofile_warned;              /* under active_lock */

#define NOFILE_WARN_EVERY 60 /* seconds between two "near the open-files limit" warnings */
#define TRIM_MIN_PEAK 64     /* a burst worth trimming after: this many connections at once */
#define TRIM_EVERY 2         /* seconds between two trims while connections are open */

static int trim_peak;    /* most connections open since the last trim; under active_lock */
static time_t trim_last; /* under active_lock */

static struct sa_conn *conn_of(SMFICTX *ctx);
static sfsistat next(const struct sa_conn *c, unsigned long nr);
static int socket_perms(const struct sa_conf *conf);
static void socket_nodelay(const struct sa_conf *conf);
static int drop_user(const char *user);
static void nofile_init(void);
static void nofile_check(int n);
static int trim_due(int n);

/* conn_of - this connection's context, created on first use (negotiate or connect) */
static struct sa_conn *conn_of(SMFICTX *ctx)
{
    struct sa_conn *c = smfi_getpriv(ctx);

    if (c == NULL && (c = conn_new()) != NULL) {
        int n;

        smfi_setpriv(ctx, c);
        pthread_mutex_lock(&active_lock);
        n = ++active;
        if (n > trim_peak)
            trim_peak = n;
        pthread_mutex_unlock(&active_lock);
        nofile_check(n);
    }
    return c;
}

/* trim_due - under active_lock, n connections left open: 1 when a burst of at least
 * TRIM_MIN_PEAK has ended and the heap is to be trimmed now (then a new burst starts
 * from n). The last connection of a burst always trims: that cannot repeat faster
 * than bursts do. */
static int trim_due(int n)
{
    time_t now;

    if (trim_peak < TRIM_MIN_PEAK || (n > 0 && n * 4 > trim_peak))
        return 0;
    now = time(NULL);
    if (n > 0 && now - trim_last < TRIM_EVERY)
        return 0;
    trim_last = now;
    trim_peak = n;
    return 1;
}

/* nofile_init - soft RLIMIT_NOFILE up to the hard limit; the warning threshold */
static void nofile_init(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1L << 30)
        return;
    nofile_limit = (long)rl.rlim_cur;
    nofile_warn_at = nofile_limit / 4 * 3;
    log_info("open-files limit %ld (RLIMIT_NOFILE): about that many milter connections at once",
             nofile_limit);
}

/* nofile_check - warn (at most every NOFILE_WARN_EVERY s) when n connections near it */
static void nofile_check(int n)
{
    time_t now;
    int warn = 0;

    if (nofile_warn_at <= 0 || n < nofile_warn_at)
        return;
    now = time(NULL);
    pthread_mutex_lock(&active_lock);
    if (now - nofile_warned >= NOFILE_WARN_EVERY) {
        nofile_warned = now;
        warn = 1;
    }
    pthread_mutex_unlock(&active_lock);
    if (warn)
        log_warn("%d milter connections open, near the open-files limit of %ld "
                 "(RLIMIT_NOFILE): further connections fail with \"Too many open files\" "
                 "and the MTA applies its milter_default_action; raise LimitNOFILE",
                 n, nofile_limit);
}

/* next - "continue", or no reply at all when the MTA agreed to that for this step */
static sfsistat next(const struct sa_conn *c, unsigned long nr)
{
    return (c != NULL && (c->proto & nr)) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    struct sa_conn *c = conn_of(ctx);

    if (c == NULL)
        return SMFIS_TEMPFAIL;
    c->actions = f0 & WANT_ACTIONS;
    c->proto = f1 & WANT_PROTO & ~iprev_hook_proto_off();
    if ((c->actions & HDR_ACTIONS) != HDR_ACTIONS)
        log_warn("MTA does not offer header changes (actions 0x%lx): no headers will be "
                 "written and messages with forged Authentication-Results are deferred",
                 f0);
    *pf0 = c->actions;
    *pf1 = c->proto;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *host, struct sockaddr *addr)
{
    struct sa_conn *c = conn_of(ctx);
    sfsistat r;

    if (c == NULL)
        return SMFIS_TEMPFAIL;
    conn_set_client(c, host, addr);
    if ((r = iprev_hook_connect(ctx, c, proc)) != SMFIS_CONTINUE)
        return r; /* iprev.policy at connect */
    return next(c, SMFIP_NR_CONN);
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
    struct sa_conn *c = conn_of(ctx);

    if (c != NULL)
        conn_set_helo(c, helo);
    return next(c, SMFIP_NR_HELO);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    struct sa_conn *c = conn_of(ctx);

    if (c == NULL)
        return SMFIS_TEMPFAIL;
    conn_end_msg(c); /* a new transaction never sees the previous one */
    c->nmsg++;
    c->msg = msg_new(proc, smfi_getsymval(ctx, "i"));
    if (c->msg == NULL)
        log_warn("out of memory at MAIL FROM: the message will be deferred");
    else {
        msg_mail_from(c->msg, c, argv ? argv[0] : NULL, smfi_getsymval(ctx, "{auth_authen}"));
        iprev_hook_mail(c->msg, c, smfi_getsymval(ctx, "{auth_authen}"));
    }
    return next(c, SMFIP_NR_MAIL);
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
    struct sa_conn *c = conn_of(ctx);

    if (c != NULL && c->msg != NULL) {
        sfsistat r = iprev_hook_rcpt(ctx, c, c->msg);

        if (r != SMFIS_CONTINUE)
            return r; /* iprev.policy tempfail / reject */
        if (enforce_rcpt(ctx, c, c->msg, argv ? argv[0] : NULL) != SMFIS_CONTINUE)
            return SMFIS_TEMPFAIL; /* 452 4.5.3 for this recipient only */
        c->msg->nrcpt++;
        if (log_debug_enabled() && argv && argv[0])
            log_debug("%s: rcpt %.256s", c->msg->qid, argv[0]);
    }
    return next(c, SMFIP_NR_RCPT);
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
    struct sa_conn *c = conn_of(ctx);

    if (c != NULL && c->msg != NULL) {
        msg_header(c->msg, c, name, value);
        badge_header(c->msg, name);
        bimi_hook_header(c->msg, name, value);
        enforce_header(c->msg, name, value);
    }
    return next(c, SMFIP_NR_HDR);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
    struct sa_conn *c = conn_of(ctx);

    if (c != NULL && c->msg != NULL) {
        msg_set_qid(c->msg, smfi_getsymval(ctx, "i"));
        msg_eoh(c->msg);
    }
    return next(c, SMFIP_NR_EOH);
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
    struct sa_conn *c = conn_of(ctx);

    if (c != NULL && c->msg != NULL)
        msg_body(c->msg, p, n);
    return next(c, SMFIP_NR_BODY);
}

static sfsistat cb_eom(SMFICTX *ctx)
{
    struct sa_conn *c = conn_of(ctx);
    double t0 = stats_clock();
    sfsistat r;

    if (c == NULL || c->msg == NULL) {
        log_warn("%s: no message context at end of message: deferred",
                 smfi_getsymval(ctx, "i") ? smfi_getsymval(ctx, "i") : "NOQUEUE");
        return SMFIS_TEMPFAIL;
    }
    msg_set_qid(c->msg, smfi_getsymval(ctx, "i"));
    msg_eval_eom(c->msg);
    enforce_eom(c->msg, c);
    r = act_eom(ctx, c, c->msg);
    conn_end_msg(c);
    stats_eom_done(t0);
    return r;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
    conn_end_msg(smfi_getpriv(ctx));
    return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
    struct sa_conn *c = smfi_getpriv(ctx);

    if (c != NULL) {
        int trim;

        smfi_setpriv(ctx, NULL);
        conn_free(c);
        pthread_mutex_lock(&active_lock);
        if (--active == 0)
            pthread_cond_broadcast(&active_cond);
        trim = trim_due(active);
        pthread_mutex_unlock(&active_lock);
        if (trim)
            malloc_trim(0);
    }
    return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
    .xxfi_name = "senderauthd",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = WANT_ACTIONS,
    .xxfi_connect = cb_connect,
    .xxfi_helo = cb_helo,
    .xxfi_envfrom = cb_envfrom,
    .xxfi_envrcpt = cb_envrcpt,
    .xxfi_header = cb_header,
    .xxfi_eoh = cb_eoh,
    .xxfi_body = cb_body,
    .xxfi_eom = cb_eom,
    .xxfi_abort = cb_abort,
    .xxfi_close = cb_close,
    .xxfi_negotiate = cb_negotiate,
};

/* socket_perms - mode and owner of a unix socket (milter.socket_mode/_owner) */
static int socket_perms(const struct sa_conf *conf)
{
    const char *path = conf->milter_socket.path;
    const char *own = conf->milter_socket_owner ? conf->milter_socket_owner : "";
    char user[256], *colon;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;

    if (conf->milter_socket.kind != CONF_SOCK_UNIX)
        return 0;
    if (conf->milter_socket_mode != 0 && chmod(path, conf->milter_socket_mode) < 0) {
        log_warn("chmod %s: %s", path, strerror(errno));
        return -1;
    }
    if (own[0] == '\0')
        return 0;
    sa_strlcpy(user, own, sizeof(user));
    if ((colon = strchr(user, ':')) != NULL) {
        struct group *gr = getgrnam(colon + 1);
        *colon = '\0';
        if (colon[1] != '\0' && gr == NULL) {
            log_warn("socket owner: no group %s", colon + 1);
            return -1;
        }
        if (gr != NULL)
            gid = gr->gr_gid;
    }
    if (user[0] != '\0') {
        struct passwd *pw = getpwnam(user);
        if (pw == NULL) {
            log_warn("socket owner: no user %s", user);
            return -1;
        }
        uid = pw->pw_uid;
    }
    if (chown(path, uid, gid) < 0) {
        log_warn("chown %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* drop_user - become milter.user after the socket is open (groups, then gid, then uid)
 * and check that root cannot be regained; already being that user is fine */
static int drop_user(const char *user)
{
    struct passwd *pw;

    if (user == NULL || user[0] == '\0') {
        if (geteuid() == 0)
            log_warn("running as root: set milter.user");
        return 0;
    }
    if ((pw = getpwnam(user)) == NULL) {
        log_warn("milter.user: no user %s", user);
        return -1;
    }
    if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid && pw->pw_uid != 0)
        return 0; /* started as that user (systemd User=) */
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        log_warn("cannot become %s: %s", user, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() != pw->pw_uid || getegid() != pw->pw_gid)) {
        log_warn("milter.user %s: privileges were not dropped", user);
        return -1;
    }
    return 0;
}

/* socket_nodelay - set TCP_NODELAY on libmilter's listening TCP socket (accepted sockets
 * inherit it on Linux). libmilter writes each header change as its own small packet and
 * does not expose the socket; with Nagle on, the MTA's delayed ACK holds the second
 * packet of every end-of-message reply for ~40 ms. Found by scanning our descriptors for
 * the listening socket on the configured port; failure only costs latency. */
static void socket_nodelay(const struct sa_conf *conf)
{
    const struct conf_socket *cs = &conf->milter_socket;
    int one = 1, found = 0;

    if (cs->kind == CONF_SOCK_UNIX)
        return;
    for (int fd = 3; fd < 1024 && !found; fd++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int acc = 0;
        socklen_t alen = sizeof(acc);
        uint16_t port;

        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0 || !acc)
            continue;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
            continue;
        if (ss.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        else
            continue;
        if (port != cs->port)
            continue;
        found = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            log_warn("TCP_NODELAY on the milter socket: %s", strerror(errno));
    }
    if (!found)
        log_warn("milter socket %s: listening descriptor not found; TCP_NODELAY not set",
                 cs->spec);
}

/* milter_run - see milter.h */
int milter_run(const struct sa_proc *p, const struct sa_conf *conf, int *busy)
{
    struct timespec until;
    int rc, left;

    proc = p;
    *busy = 0;
    if (smfi_register(desc) == MI_FAILURE || smfi_setconn(conf->milter_socket.spec) == MI_FAILURE) {
        log_warn("cannot register the milter on %s", conf->milter_socket.spec);
        return -1;
    }
    smfi_settimeout(conf->milter_timeout);
    nofile_init();
    if (smfi_opensocket(1) == MI_FAILURE) {
        log_warn("cannot open milter socket %s", conf->milter_socket.spec);
        return -1;
    }
    if (socket_perms(conf) < 0 || drop_user(conf->milter_user) < 0)
        return -1;
    socket_nodelay(conf);
    log_info("senderauthd %s listening on %s (authserv-id %s)", SA_VERSION,
             conf->milter_socket.spec, conf->authserv_id);
    rc = smfi_main();
    /* smfi_main returns once the listener stops; sessions still running finish first. */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += conf->milter_timeout;
    pthread_mutex_lock(&active_lock);
    while (active > 0 && pthread_cond_timedwait(&active_cond, &active_lock, &until) == 0)
        ;
    left = active;
    pthread_mutex_unlock(&active_lock);
    if (left > 0) {
        log_warn("stopping with %d connections still open", left);
        *busy = 1;
        return -1;
    }
    log_info("senderauthd stopped");
    return rc == MI_SUCCESS ? 0 : -1;
}
