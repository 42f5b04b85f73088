/* fuzz_milter_session.c - libFuzzer target for one native milter connection
 * (src/milter/mlt_session.c and the wire functions under it). The input is a 6-byte
 * script, then the bytes an MTA sends: a helper thread writes them into a socketpair
 * (and reads every reply), mlt_session_run serves the other end. The callbacks use
 * every op at every step: macros (fixed names and a name taken from the wire), setreply
 * (valid and invalid), every change both outside eom (must be refused) and inside it
 * (refused unless negotiated). Checked: no crash or out-of-bounds read (ASan), every
 * string handed over is terminated, argv is NULL-terminated and bounded, no callback
 * outside a negotiated session, and close exactly once per session (none twice without
 * a negotiation between, the last call is a close).
 * Script: byte 0 = actions wanted, bytes 1-4 = protocol flags wanted (big-endian),
 * byte 5 = how the callbacks answer (bits 0-2 pattern, bit 3 setreply, bit 4 mods).
 * Seeds: tests/fuzz/corpus/milter_session/ (realistic conversations). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "milter/mlt.h"
#include "milter/mlt_session.h"
#include "milter/mlt_wire.h"

#define SCRIPT 6

static unsigned long want_act, want_proto;
static unsigned char how;
static unsigned counter;
static int in_session, in_eom_cb, closes, last_close, negs;
static char wire_name[64]; /* a macro name taken from the conversation */

static void check_str(const char *s)
{
    if (s == NULL)
        abort();
    (void)strlen(s);
}

static void session_open(void)
{
    if (!in_session)
        abort(); /* a callback before a negotiation was agreed, or after close */
    last_close = 0;
}

/* answer - the pattern of byte 5 over a counter: continue mostly, each status sometimes */
static enum mlt_stat answer(void)
{
    static const enum mlt_stat pat[][4] = {
        {MLT_CONTINUE, MLT_CONTINUE, MLT_CONTINUE, MLT_CONTINUE},
        {MLT_CONTINUE, MLT_NOREPLY, MLT_CONTINUE, MLT_NOREPLY},
        {MLT_CONTINUE, MLT_CONTINUE, MLT_TEMPFAIL, MLT_CONTINUE},
        {MLT_REJECT, MLT_CONTINUE, MLT_CONTINUE, MLT_CONTINUE},
        {MLT_CONTINUE, MLT_ACCEPT, MLT_CONTINUE, MLT_DISCARD},
        {MLT_NOREPLY, MLT_TEMPFAIL, MLT_REJECT, MLT_CONTINUE},
        {MLT_CONTINUE, MLT_CONTINUE, MLT_CONTINUE, MLT_REJECT},
        {MLT_DISCARD, MLT_ACCEPT, MLT_TEMPFAIL, MLT_NOREPLY},
    };
    return pat[how & 7][counter++ & 3];
}

/* mods - every change; refused (-1) unless inside eom for a negotiated action */
static void mods(struct mlt_ctx *ctx, const char *value)
{
    static const unsigned long need[6] = {MLT_ACT_ADDHDRS,    MLT_ACT_ADDHDRS, MLT_ACT_CHGHDRS,
                                          MLT_ACT_QUARANTINE, MLT_ACT_ADDRCPT, MLT_ACT_DELRCPT};
    int r[6];

    r[0] = mlt_addheader(ctx, "X-Fuzz", value);
    r[1] = mlt_insheader(ctx, (int)(counter & 3), "X-Fuzz-Top", value);
    r[2] = mlt_chgheader(ctx, "Subject", 1, (counter & 1) ? NULL : value);
    r[3] = mlt_quarantine(ctx, value[0] ? value : "q");
    r[4] = mlt_addrcpt(ctx, "<added@example.net>");
    r[5] = mlt_delrcpt(ctx, "<gone@example.net>");
    for (int i = 0; i < 6; i++)
        if (r[i] != -1 && (!in_eom_cb || !(want_act & need[i])))
            abort();
    if (mlt_addheader(ctx, "", value) != -1 || mlt_insheader(ctx, -1, "X", value) != -1)
        abort();
}

/* common - what every step does: macros, maybe a reply text, maybe changes */
static enum mlt_stat common(struct mlt_ctx *ctx, const char *value)
{
    static const char *const names[] = {
        "i", "{i}", "j", "{auth_authen}", "{client_addr}", "{rcpt_addr}", "{mail_addr}",
        "",  "{",   "{}"};
    const char *v;

    session_open();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((v = mlt_getsymval(ctx, names[i])) != NULL)
            check_str(v);
    if (wire_name[0] && (v = mlt_getsymval(ctx, wire_name)) != NULL)
        check_str(v);
    if (mlt_getsymval(ctx, NULL) != NULL)
        abort();
    if (how & 8) {
        (void)mlt_setreply(ctx, (counter & 1) ? "550" : "451", "5.7.1", value);
        (void)mlt_setreply(ctx, "250", NULL, value);
    }
    if (how & 16)
        mods(ctx, value);
    return answer();
}

static enum mlt_stat f_negotiate(struct mlt_ctx *ctx, unsigned long act, unsigned long proto,
                                 unsigned long *wa, unsigned long *wp)
{
    if (in_session)
        abort(); /* a second negotiation without close */
    negs++;
    last_close = 0;
    *wa = want_act;
    *wp = want_proto;
    if ((how & 0xe0) == 0xe0)
        return MLT_TEMPFAIL; /* the filter refuses: no session */
    in_session = 1;
    want_act &= act;
    return MLT_CONTINUE;
}

static enum mlt_stat f_connect(struct mlt_ctx *ctx, const char *host, const struct sockaddr *a)
{
    check_str(host);
    if (a != NULL && a->sa_family != AF_INET && a->sa_family != AF_INET6)
        abort();
    return common(ctx, host);
}

static enum mlt_stat f_helo(struct mlt_ctx *ctx, const char *helo)
{
    check_str(helo);
    return common(ctx, helo);
}

static enum mlt_stat f_args(struct mlt_ctx *ctx, char **argv)
{
    int n = 0;

    while (argv[n] != NULL) {
        check_str(argv[n]);
        if (++n > MLT_WIRE_MAX_ARGS)
            abort();
    }
    if (n < 1)
        abort();
    return common(ctx, argv[0]);
}

static enum mlt_stat f_header(struct mlt_ctx *ctx, const char *name, const char *value)
{
    size_t n;

    check_str(name);
    check_str(value);
    n = strlen(name);
    if (n < sizeof(wire_name))
        memcpy(wire_name, name, n + 1);
    return common(ctx, value);
}

static enum mlt_stat f_eoh(struct mlt_ctx *ctx)
{
    return common(ctx, "eoh");
}

static enum mlt_stat f_body(struct mlt_ctx *ctx, const unsigned char *p, size_t n)
{
    volatile unsigned sum = 0;

    if (n > MLT_WIRE_MAX_DATA)
        abort();
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    (void)sum;
    return common(ctx, "body");
}

static enum mlt_stat f_eom(struct mlt_ctx *ctx)
{
    enum mlt_stat r;

    in_eom_cb = 1;
    r = common(ctx, "eom value");
    in_eom_cb = 0;
    return r;
}

static enum mlt_stat f_abort(struct mlt_ctx *ctx)
{
    return common(ctx, "abort");
}

static void f_close(struct mlt_ctx *ctx)
{
    if (last_close)
        abort(); /* closed twice with no negotiation between */
    last_close = 1;
    in_session = 0;
    closes++;
}

static const struct mlt_callbacks cbs = {
    f_negotiate, f_connect, f_helo, f_args,  f_args,  f_header,
    f_eoh,       f_body,    f_eom,  f_abort, f_close, NULL,
};

struct feed {
    int fd;
    const uint8_t *p;
    size_t n;
};

/* mta_main - write the conversation, read every reply, until the session closes */
static void *mta_main(void *arg)
{
    struct feed *f = arg;
    static char sink[65536];
    size_t off = 0;
    int wr_open = 1;

    fcntl(f->fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        struct pollfd pf = {f->fd, POLLIN | (wr_open ? POLLOUT : 0), 0};
        ssize_t r;

        if (wr_open && off == f->n) {
            shutdown(f->fd, SHUT_WR);
            wr_open = 0;
            continue;
        }
        if (poll(&pf, 1, 10000) <= 0)
            abort(); /* the session neither reads nor ends */
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            r = read(f->fd, sink, sizeof(sink));
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNRESET))
                break;
        }
        if (wr_open && (pf.revents & POLLOUT)) {
            r = write(f->fd, f->p + off, f->n - off);
            if (r > 0)
                off += (size_t)r;
            else if (r < 0 && errno != EAGAIN && errno != EINTR)
                wr_open = 0; /* the session has ended */
        }
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct timeval tv = {10, 0};
    struct feed f;
    pthread_t tid;
    int sv[2];

    if (size < SCRIPT)
        return 0;
    signal(SIGPIPE, SIG_IGN);
    want_act = data[0];
    want_proto = (unsigned long)data[1] << 24 | (unsigned long)data[2] << 16 |
                 (unsigned long)data[3] << 8 | data[4];
    how = data[5];
    counter = 0;
    in_session = in_eom_cb = closes = last_close = negs = 0;
    wire_name[0] = '\0';
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    f.fd = sv[0];
    f.p = data + SCRIPT;
    f.n = size - SCRIPT;
    if (pthread_create(&tid, NULL, mta_main, &f) != 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    mlt_session_run(sv[1], &cbs); /* closes sv[1] */
    pthread_join(tid, NULL);
    close(sv[0]);
    if (closes < 1 || !last_close || in_session || closes > negs + 1)
        abort();
    return 0;
}
