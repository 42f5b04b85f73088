/* milter.c - the milter callbacks: one short callback per milter step that hands its
 * arguments to conn.c / msg.c / act.c, and the start of the engine (milter.engine:
 * our own protocol implementation, or libmilter; src/milter) on milter.socket.
 * Owns the callback table, the negotiated flags and the count of open connections (so
 * that SIGTERM lets in-flight messages finish); no checks and no header logic live here.
 * Threads: either engine runs each connection in its own thread; the callbacks touch only
 * that connection's sa_conn. The process objects are read-only; the connection count
 * is under its own mutex. Each connection holds a descriptor: at start the soft
 * RLIMIT_NOFILE is raised to the hard one, and a warning names the limit when the open
 * connections reach 3/4 of it (a failed accept() is otherwise only a log line).
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/badge.h"
#include "daemon/milter.h"
#include "daemon/msg.h"
#include "daemon/stats.h"
#include "milter/mlt.h"
#include "util/log.h"

/* Actions we use: add our fields, delete forged A-R fields, hold and recipient changes
 * (quarantine.action hold / subaddress). The flags are fixed at registration, so the
 * recipient changes are asked for even when not configured: they only permit, they
 * cost nothing until used. */
#define HDR_ACTIONS (MLT_ACT_ADDHDRS | MLT_ACT_CHGHDRS)
#define WANT_ACTIONS (HDR_ACTIONS | MLT_ACT_QUARANTINE | MLT_ACT_ADDRCPT | MLT_ACT_DELRCPT)
/* Steps we never answer with anything but "continue": ask for no reply to save round
 * trips (RCPT too, unless enforce.c or iprev may answer there: see proto_wanted); steps
 * we do not need (DATA, unknown commands) are not sent; values keep their leading space
 * (DKIM simple canonicalization needs it). No SMFIP_SKIP: with NR_BODY there is no body
 * reply to carry it. */
#define WANT_PROTO                                                                                 \
    (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_DATA | SMFIP_NR_UNKN |               \
     SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NOUNKNOWN | SMFIP_NODATA |                \
     SMFIP_HDR_LEADSPC)

static const struct sa_proc *proc;
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_cond = PTHREAD_COND_INITIALIZER;
static int active;
static long nofile_limit, nofile_warn_at; /* set once by nofile_init, before any thread */
static time_t nofile_warned;              /* under active_lock */

#define NOFILE_WARN_EVERY 60 /* seconds between two "near the open-files limit" warnings */
#define TRIM_MIN_PEAK 64     /* a burst worth trimming after: this many connections at once */
#define TRIM_EVERY 2         /* seconds between two trims while connections are open */

static int trim_peak;            /* most connections open since the last trim; under active_lock */
static time_t trim_last;         /* under active_lock */
static int trim_burst;           /* under active_lock: a burst is on (trim_due) */
static int closing;              /* under active_lock: closed connections not yet freed */
static int trim_final;           /* under active_lock: trim when the last one is freed */
static __thread int trim_owed;   /* cb_close found a trim due; cb_ended does it */
static __thread int closed_here; /* cb_close counted a connection in closing */

static struct sa_conn *conn_of(struct mlt_ctx *ctx);
static enum mlt_stat next(const struct sa_conn *c, unsigned long nr);
static int socket_perms(const struct sa_conf *conf);
static int drop_user(const char *user);
static void nofile_init(void);
static void nofile_check(int n);
static int trim_due(int n);

/* conn_of - this connection's context, created on first use (negotiate or connect) */
static struct sa_conn *conn_of(struct mlt_ctx *ctx)
{
    struct sa_conn *c = mlt_getpriv(ctx);

    if (c == NULL && (c = conn_new()) != NULL) {
        int n;

        mlt_setpriv(ctx, c);
        pthread_mutex_lock(&active_lock);
        n = ++active;
        if (n > trim_peak)
            trim_peak = n;
        pthread_mutex_unlock(&active_lock);
        nofile_check(n);
    }
    return c;
}

/* trim_due - under active_lock, n connections left open: 1 when the heap is to be
 * trimmed now. A burst is a time when at least TRIM_MIN_PEAK connections were open at
 * once; during one, a trim is due when the open ones fall to a quarter of the peak since
 * the last trim (at most every TRIM_EVERY s), and always when the last one closes (which
 * ends the burst). */
static int trim_due(int n)
{
    time_t now;

    if (trim_peak >= TRIM_MIN_PEAK)
        trim_burst = 1;
    if (!trim_burst)
        return 0;
    now = time(NULL);
    if (n == 0) {
        trim_burst = 0;
    } else if (n * 4 > trim_peak || now - trim_last < TRIM_EVERY) {
        return 0;
    }
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
static enum mlt_stat next(const struct sa_conn *c, unsigned long nr)
{
    return (c != NULL && (c->proto & nr)) ? MLT_NOREPLY : MLT_CONTINUE;
}

/* proto_wanted - WANT_PROTO, with RCPT answered only when the configuration in force
 * may answer there (consent splitting or subaddress tagging, iprev.policy at RCPT): one
 * round trip less per message otherwise. A reload applies to connections opened after it
 * (enforce_rcpt, iprev: an answer at RCPT then waits for end of message). */
static unsigned long proto_wanted(void)
{
    struct sa_conf *conf = conf_get_current();
    unsigned long p = WANT_PROTO;

    if (conf != NULL) {
        if (!enforce_rcpt_replies(conf))
            p |= SMFIP_NR_RCPT;
        p &= ~iprev_hook_proto_off(conf);
    }
    conf_unref(conf);
    return p;
}

static enum mlt_stat cb_negotiate(struct mlt_ctx *ctx, unsigned long f0, unsigned long f1,
                                  unsigned long *pf0, unsigned long *pf1)
{
    struct sa_conn *c = conn_of(ctx);

    if (c == NULL)
        return MLT_TEMPFAIL;
    c->actions = f0 & WANT_ACTIONS;
    c->proto = f1 & proto_wanted();
    if ((c->actions & HDR_ACTIONS) != HDR_ACTIONS)
        log_warn("MTA does not offer header changes (actions 0x%lx): no headers will be "
                 "written and messages with forged Authentication-Results are deferred",
                 f0);
    *pf0 = c->actions;
    *pf1 = c->proto;
    return MLT_CONTINUE;
}

static enum mlt_stat cb_connect(struct mlt_ctx *ctx, const char *host, const struct sockaddr *addr)
{
    struct sa_conn *c = conn_of(ctx);
    enum mlt_stat r;

    if (c == NULL)
        return MLT_TEMPFAIL;
    conn_set_client(c, addr);
    if ((r = iprev_hook_connect(ctx, c, proc)) != MLT_CONTINUE)
        return r; /* iprev.policy at connect */
    return next(c, SMFIP_NR_CONN);
}

static enum mlt_stat cb_helo(struct mlt_ctx *ctx, const char *helo)
{
    struct sa_conn *c = conn_of(ctx);

    if (c != NULL)
        conn_set_helo(c, helo);
    return next(c, SMFIP_NR_HELO);
}

static enum mlt_stat cb_envfrom(struct mlt_ctx *ctx, char **argv)
{
    struct sa_conn *c = conn_of(ctx);

    if (c == NULL)
        return MLT_TEMPFAIL;
    conn_end_msg(c); /* a new transaction never sees the previous one */
    c->nmsg++;
    c->msg = msg_new(proc, mlt_getsymval(ctx, "i"));
    if (c->msg == NULL)
        log_warn("out of memory at MAIL FROM: the message will be deferred");
    else {
        msg_mail_from(c->msg, c, argv ? argv[0] : NULL, mlt_getsymval(ctx, "{auth_authen}"));
        iprev_hook_mail(c->msg, c, mlt_getsymval(ctx, "{auth_authen}"));
    }
    return next(c, SMFIP_NR_MAIL);
}

static enum mlt_stat cb_envrcpt(struct mlt_ctx *ctx, char **argv)
{
    struct sa_conn *c = conn_of(ctx);

    if (c != NULL && c->msg != NULL) {
        enum mlt_stat r = iprev_hook_rcpt(ctx, c, c->msg);

        if (r != MLT_CONTINUE)
            return r; /* iprev.policy tempfail / reject */
        if (enforce_rcpt(ctx, c, c->msg, argv ? argv[0] : NULL) != MLT_CONTINUE)
            return MLT_TEMPFAIL; /* 452 4.5.3 for this recipient only */
        c->msg->nrcpt++;
        if (log_debug_enabled() && argv && argv[0])
            log_debug("%s: rcpt %.256s", c->msg->qid, argv[0]);
    }
    return next(c, SMFIP_NR_RCPT);
}

static enum mlt_stat cb_header(struct mlt_ctx *ctx, const char *name, const char *value)
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

static enum mlt_stat cb_eoh(struct mlt_ctx *ctx)
{
    struct sa_conn *c = conn_of(ctx);

    if (c != NULL && c->msg != NULL) {
        msg_set_qid(c->msg, mlt_getsymval(ctx, "i"));
        msg_eoh(c->msg);
    }
    return next(c, SMFIP_NR_EOH);
}

static enum mlt_stat cb_body(struct mlt_ctx *ctx, const unsigned char *p, size_t n)
{
    struct sa_conn *c = conn_of(ctx);

    if (c != NULL && c->msg != NULL)
        msg_body(c->msg, p, n);
    return next(c, SMFIP_NR_BODY);
}

static enum mlt_stat cb_eom(struct mlt_ctx *ctx)
{
    struct sa_conn *c = conn_of(ctx);
    double t0 = stats_clock();
    enum mlt_stat r;

    if (c == NULL || c->msg == NULL) {
        log_warn("%s: no message context at end of message: deferred",
                 mlt_getsymval(ctx, "i") ? mlt_getsymval(ctx, "i") : "NOQUEUE");
        return MLT_TEMPFAIL;
    }
    msg_set_qid(c->msg, mlt_getsymval(ctx, "i"));
    msg_eval_eom(c->msg);
    enforce_eom(c->msg, c);
    r = act_eom(ctx, c, c->msg);
    conn_end_msg(c);
    stats_eom_done(t0);
    return r;
}

static enum mlt_stat cb_abort(struct mlt_ctx *ctx)
{
    conn_end_msg(mlt_getpriv(ctx));
    return MLT_CONTINUE;
}

/* cb_ended - after the engine freed a connection: the trim cb_close found due; the
 * trim that ends a burst waits for the last connection to be freed, not just closed
 * (other threads may still be freeing theirs when the last one closes) */
static void cb_ended(void)
{
    int final = 0;

    if (!closed_here)
        return;
    closed_here = 0;
    pthread_mutex_lock(&active_lock);
    closing--;
    if (trim_final && active == 0 && closing == 0) {
        trim_final = 0;
        final = 1;
    }
    pthread_mutex_unlock(&active_lock);
    if (trim_owed || final) {
        trim_owed = 0;
        malloc_trim(0);
    }
}

static void cb_close(struct mlt_ctx *ctx)
{
    struct sa_conn *c = mlt_getpriv(ctx);

    if (c != NULL) {
        int trim;

        mlt_setpriv(ctx, NULL);
        conn_free(c);
        pthread_mutex_lock(&active_lock);
        if (--active == 0)
            pthread_cond_broadcast(&active_cond);
        closing++;
        trim = trim_due(active);
        if (trim && active == 0) {
            trim_final = 1; /* the last cb_ended of the burst does it */
            trim = 0;
        }
        pthread_mutex_unlock(&active_lock);
        trim_owed = trim; /* done in cb_ended, once the engine has freed its part */
        closed_here = 1;
    }
}

static const struct mlt_callbacks callbacks = {
    .negotiate = cb_negotiate,
    .connect = cb_connect,
    .helo = cb_helo,
    .envfrom = cb_envfrom,
    .envrcpt = cb_envrcpt,
    .header = cb_header,
    .eoh = cb_eoh,
    .body = cb_body,
    .eom = cb_eom,
    .abort = cb_abort,
    .close = cb_close,
    .ended = cb_ended,
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

/* milter_run - see milter.h */
int milter_run(const struct sa_proc *p, const struct sa_conf *conf, int *busy)
{
    struct timespec until;
    int rc, left;

    const struct mlt_engine *eng =
        conf->milter_engine == CONF_ENGINE_LIBMILTER ? &mlt_smfi_engine : &mlt_native_engine;
    const struct conf_socket *cs = &conf->milter_socket;
    struct mlt_listen l = {
        .spec = cs->spec,
        .kind = cs->kind == CONF_SOCK_UNIX    ? MLT_SOCK_UNIX
                : cs->kind == CONF_SOCK_INET6 ? MLT_SOCK_INET6
                                              : MLT_SOCK_INET,
        .host = cs->host,
        .port = cs->port,
        .path = cs->path,
        .timeout = conf->milter_timeout,
        .name = "senderauthd",
    };

    proc = p;
    *busy = 0;
    nofile_init();
    if (eng->open(&l, &callbacks) < 0)
        return -1;
    if (socket_perms(conf) < 0 || drop_user(conf->milter_user) < 0)
        return -1;
    log_info("senderauthd %s listening on %s (authserv-id %s, %s engine)", SA_VERSION, cs->spec,
             conf->authserv_id, eng->name);
    rc = eng->run();
    /* run returns once the listener stops; sessions still running finish first. */
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
    return rc;
}
