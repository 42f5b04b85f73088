/* mlt_smfi.c - the "libmilter" engine: senderauthd's callbacks (mlt.h) served by
 * Sendmail's libmilter, one thread per connection as libmilter runs them.
 * Owns the smfiDesc, the per-connection wrapper (struct smfi_conn, libmilter's private
 * pointer) that carries a struct mlt_ctx, and TCP_NODELAY on libmilter's listener.
 * Threads: libmilter calls each connection's callbacks from that connection's thread;
 * cb is set once before smfi_main and read-only afterwards. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

#include "milter/mlt.h"
#include "util/log.h"

struct smfi_conn {
    struct mlt_ctx ctx; /* first: the ops recover the wrapper from the ctx */
    SMFICTX *smfi;
};

static const struct mlt_callbacks *cb;
static unsigned int listen_port; /* INET/INET6, for socket_nodelay; 0 for unix */

static struct smfi_conn *conn_of(SMFICTX *smfi);
static sfsistat stat_of(enum mlt_stat s);
static void socket_nodelay(const char *spec);

/* The ops of a ctx: libmilter's functions, MI_SUCCESS -> 0. */
static SMFICTX *smfi_of(struct mlt_ctx *ctx)
{
    return ((struct smfi_conn *)ctx)->smfi;
}

static const char *op_getsymval(struct mlt_ctx *ctx, const char *name)
{
    return smfi_getsymval(smfi_of(ctx), (char *)name);
}

static int op_setreply(struct mlt_ctx *ctx, const char *rcode, const char *xcode, const char *text)
{
    return smfi_setreply(smfi_of(ctx), (char *)rcode, (char *)xcode, (char *)text) == MI_SUCCESS
               ? 0
               : -1;
}

static int op_addheader(struct mlt_ctx *ctx, const char *name, const char *value)
{
    return smfi_addheader(smfi_of(ctx), (char *)name, (char *)value) == MI_SUCCESS ? 0 : -1;
}

static int op_insheader(struct mlt_ctx *ctx, int index, const char *name, const char *value)
{
    return smfi_insheader(smfi_of(ctx), index, (char *)name, (char *)value) == MI_SUCCESS ? 0
                                                                                          : -1;
}

static int op_chgheader(struct mlt_ctx *ctx, const char *name, int index, const char *value)
{
    return smfi_chgheader(smfi_of(ctx), (char *)name, index, (char *)value) == MI_SUCCESS ? 0
                                                                                          : -1;
}

static int op_quarantine(struct mlt_ctx *ctx, const char *reason)
{
    return smfi_quarantine(smfi_of(ctx), (char *)reason) == MI_SUCCESS ? 0 : -1;
}

static int op_addrcpt(struct mlt_ctx *ctx, const char *rcpt)
{
    return smfi_addrcpt(smfi_of(ctx), (char *)rcpt) == MI_SUCCESS ? 0 : -1;
}

static int op_delrcpt(struct mlt_ctx *ctx, const char *rcpt)
{
    return smfi_delrcpt(smfi_of(ctx), (char *)rcpt) == MI_SUCCESS ? 0 : -1;
}

static const struct mlt_ops smfi_ops = {
    op_getsymval, op_setreply, op_addheader, op_insheader,
    op_chgheader, op_quarantine, op_addrcpt, op_delrcpt,
};

/* conn_of - the connection's wrapper, created at its first callback; NULL when out of
 * memory (the callback then answers tempfail) */
static struct smfi_conn *conn_of(SMFICTX *smfi)
{
    struct smfi_conn *w = smfi_getpriv(smfi);

    if (w == NULL && (w = calloc(1, sizeof(*w))) != NULL) {
        w->ctx.ops = &smfi_ops;
        w->smfi = smfi;
        smfi_setpriv(smfi, w);
    }
    return w;
}

static sfsistat stat_of(enum mlt_stat s)
{
    switch (s) {
    case MLT_CONTINUE:
        return SMFIS_CONTINUE;
    case MLT_REJECT:
        return SMFIS_REJECT;
    case MLT_DISCARD:
        return SMFIS_DISCARD;
    case MLT_ACCEPT:
        return SMFIS_ACCEPT;
    case MLT_NOREPLY:
        return SMFIS_NOREPLY;
    case MLT_TEMPFAIL:
        break;
    }
    return SMFIS_TEMPFAIL;
}

#define WRAP(w) struct smfi_conn *w = conn_of(smfi); if (w == NULL) return SMFIS_TEMPFAIL

static sfsistat x_negotiate(SMFICTX *smfi, unsigned long f0, unsigned long f1, unsigned long f2,
                            unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                            unsigned long *pf2, unsigned long *pf3)
{
    WRAP(w);
    (void)f2;
    (void)f3;
    *pf2 = 0;
    *pf3 = 0;
    return stat_of(cb->negotiate(&w->ctx, f0, f1, pf0, pf1));
}

static sfsistat x_connect(SMFICTX *smfi, char *host, struct sockaddr *addr)
{
    WRAP(w);
    return stat_of(cb->connect(&w->ctx, host, addr));
}

static sfsistat x_helo(SMFICTX *smfi, char *helo)
{
    WRAP(w);
    return stat_of(cb->helo(&w->ctx, helo));
}

static sfsistat x_envfrom(SMFICTX *smfi, char **argv)
{
    WRAP(w);
    return stat_of(cb->envfrom(&w->ctx, argv));
}

static sfsistat x_envrcpt(SMFICTX *smfi, char **argv)
{
    WRAP(w);
    return stat_of(cb->envrcpt(&w->ctx, argv));
}

static sfsistat x_header(SMFICTX *smfi, char *name, char *value)
{
    WRAP(w);
    return stat_of(cb->header(&w->ctx, name, value));
}

static sfsistat x_eoh(SMFICTX *smfi)
{
    WRAP(w);
    return stat_of(cb->eoh(&w->ctx));
}

static sfsistat x_body(SMFICTX *smfi, unsigned char *p, size_t n)
{
    WRAP(w);
    return stat_of(cb->body(&w->ctx, p, n));
}

static sfsistat x_eom(SMFICTX *smfi)
{
    WRAP(w);
    return stat_of(cb->eom(&w->ctx));
}

static sfsistat x_abort(SMFICTX *smfi)
{
    WRAP(w);
    return stat_of(cb->abort(&w->ctx));
}

static sfsistat x_close(SMFICTX *smfi)
{
    struct smfi_conn *w = smfi_getpriv(smfi);

    if (w != NULL) {
        cb->close(&w->ctx);
        smfi_setpriv(smfi, NULL);
        free(w);
        if (cb->ended != NULL)
            cb->ended();
    }
    return SMFIS_CONTINUE;
}

/* Actions registered: all the filter may negotiate (it asks for a subset). */
static struct smfiDesc desc = {
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = MLT_ACT_ADDHDRS | MLT_ACT_CHGHDRS | MLT_ACT_QUARANTINE | MLT_ACT_ADDRCPT |
                  MLT_ACT_DELRCPT,
    .xxfi_connect = x_connect,
    .xxfi_helo = x_helo,
    .xxfi_envfrom = x_envfrom,
    .xxfi_envrcpt = x_envrcpt,
    .xxfi_header = x_header,
    .xxfi_eoh = x_eoh,
    .xxfi_body = x_body,
    .xxfi_eom = x_eom,
    .xxfi_abort = x_abort,
    .xxfi_close = x_close,
    .xxfi_negotiate = x_negotiate,
};

/* socket_nodelay - set TCP_NODELAY on libmilter's listening TCP socket (accepted sockets
 * inherit it on Linux). libmilter writes each header change as its own small packet and
 * does not expose the socket; with Nagle on, the MTA's delayed ACK holds the second
 * packet of every end-of-message reply for ~40 ms. Found by scanning our descriptors for
 * the listening socket on the configured port; failure only costs latency. */
static void socket_nodelay(const char *spec)
{
    int one = 1, found = 0;

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
        if (port != listen_port)
            continue;
        found = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            log_warn("TCP_NODELAY on the milter socket: %s", strerror(errno));
    }
    if (!found)
        log_warn("milter socket %s: listening descriptor not found; TCP_NODELAY not set", spec);
}

static int engine_open(const struct mlt_listen *l, const struct mlt_callbacks *callbacks)
{
    cb = callbacks;
    desc.xxfi_name = (char *)l->name;
    if (smfi_register(desc) == MI_FAILURE || smfi_setconn((char *)l->spec) == MI_FAILURE) {
        log_warn("cannot register the milter on %s", l->spec);
        return -1;
    }
    smfi_settimeout(l->timeout);
    if (smfi_opensocket(1) == MI_FAILURE) {
        log_warn("cannot open milter socket %s", l->spec);
        return -1;
    }
    if (l->kind != MLT_SOCK_UNIX) {
        listen_port = l->port;
        socket_nodelay(l->spec);
    }
    return 0;
}

static int engine_run(void)
{
    return smfi_main() == MI_SUCCESS ? 0 : -1;
}

const struct mlt_engine mlt_smfi_engine = {"libmilter", engine_open, engine_run};
