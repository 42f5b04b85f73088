/* mlt_session.c - the native engine's side of one MTA connection: read buffered
 * (one read takes every command the MTA has pipelined, no poll per command), hand each
 * command to the filter's callbacks, queue the replies and the end-of-message changes,
 * and write them with one write before the next read. Owns the connection's buffers,
 * its macros and its struct mlt_ctx (the ops below).
 * Rules kept from the protocol: a step whose reply the MTA agreed to go without
 * (SMFIP_NR_*) never gets one; an answer other than "continue" produced at such a step
 * is kept for the next step that has a reply, so the MTA never reads a reply out of
 * step. Changes are only accepted inside the eom callback and for negotiated actions.
 * Acknowledgements: when a read brought only no-reply commands, nothing of ours goes back
 * to carry the TCP ACK, and an MTA that writes each command on its own without
 * TCP_NODELAY holds its next command (Nagle) until the delayed ACK comes, 40 ms later;
 * such a read is acknowledged at once (TCP_QUICKACK). An MTA that buffers its commands up
 * to the next reply (Postfix) never needs it.
 * Threads: a session is served by one thread at a time (the engine hands it over
 * between threads only while it is idle); nothing here is shared. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "milter/mlt_session.h"
#include "milter/mlt_wire.h"
#include "util/log.h"

#define IN_MIN (16 * 1024) /* read buffer kept between messages */
#define REPLY_MAX 512      /* "rcode xcode text" of mlt_setreply */

/* Macro sets, one per step the MTA sends them for; a later set for a step replaces it. */
enum { MAC_CONN, MAC_HELO, MAC_MAIL, MAC_RCPT, MAC_DATA, MAC_EOH, MAC_EOM, MAC_OTHER, MAC_N };

struct macset {
    char *buf;
    size_t len, cap;
};

struct session {
    struct mlt_ctx ctx; /* first: the ops recover the session from the ctx */
    int fd;
    int tcp; /* fd is a TCP socket: quick ACKs (see above) */
    const struct mlt_callbacks *cb;
    char *in;
    size_t in_len, in_cap;
    struct mlt_out out;
    struct macset mac[MAC_N];
    int cur_mac;                       /* set of the command being handled */
    uint32_t mta_act, mta_proto;       /* what the MTA offered */
    unsigned long act, proto;          /* what was agreed */
    int negotiated, in_eom;
    enum mlt_stat pending;             /* an answer held back from a no-reply step */
    size_t body_left;                  /* data of a streamed body command still to come */
    enum mlt_stat body_st;             /* what the body callback said last for it */
    char reply[REPLY_MAX];             /* "" = none set */
};

static int dispatch(struct session *s, const struct mlt_pkt *p);
static int negotiate(struct session *s, uint32_t act, uint32_t proto);
static void answer(struct session *s, enum mlt_stat st, unsigned long nr);
static int mac_slot(char cmd);
static void mac_set(struct session *s, const char *data, size_t len);
static void mac_clear(struct session *s, int from);
static int flush(struct session *s);
static int fill(struct session *s, const int *yield);
static int consume(struct session *s, size_t *off);
static void drop_in(struct session *s);
static int is_tcp(int fd);
static void quick_ack(struct session *s);

/* The ops of a native ctx (mlt.h). */
static struct session *sess(struct mlt_ctx *ctx)
{
    return (struct session *)ctx;
}

static const char *op_getsymval(struct mlt_ctx *ctx, const char *name)
{
    static const int order[] = {MAC_EOM, MAC_EOH, MAC_DATA, MAC_RCPT,
                                MAC_MAIL, MAC_HELO, MAC_CONN, MAC_OTHER};
    struct session *s = sess(ctx);
    const struct macset *m = &s->mac[s->cur_mac];
    const char *v;

    if (name == NULL)
        return NULL;
    if (m->len > 0 && (v = mlt_wire_macro_find(m->buf, m->len, name)) != NULL)
        return v;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        m = &s->mac[order[i]];
        if (m->len > 0 && (v = mlt_wire_macro_find(m->buf, m->len, name)) != NULL)
            return v;
    }
    return NULL;
}

/* op_setreply - as smfi_setreply: a 4xx/5xx code, an optional enhanced code, one line */
static int op_setreply(struct mlt_ctx *ctx, const char *rcode, const char *xcode, const char *text)
{
    struct session *s = sess(ctx);
    int n;

    if (rcode == NULL || strlen(rcode) != 3 || (rcode[0] != '4' && rcode[0] != '5') ||
        rcode[1] < '0' || rcode[1] > '9' || rcode[2] < '0' || rcode[2] > '9')
        return -1;
    if ((xcode && strpbrk(xcode, "\r\n")) || (text && strpbrk(text, "\r\n")))
        return -1;
    n = snprintf(s->reply, sizeof(s->reply), "%s%s%s%s%s", rcode, xcode ? " " : "",
                 xcode ? xcode : "", text ? " " : "", text ? text : "");
    if (n < 0 || (size_t)n >= sizeof(s->reply)) {
        s->reply[0] = '\0';
        return -1;
    }
    return 0;
}

/* may - a change of this kind is possible now */
static int may(struct session *s, unsigned long action)
{
    return s->in_eom && (s->act & action) == action;
}

static int op_addheader(struct mlt_ctx *ctx, const char *name, const char *value)
{
    struct session *s = sess(ctx);

    if (!may(s, MLT_ACT_ADDHDRS) || name == NULL || name[0] == '\0' || value == NULL)
        return -1;
    return mlt_wire_put(&s->out, SMFIR_ADDHEADER, 0, 0, name, value, NULL, 0);
}

static int op_insheader(struct mlt_ctx *ctx, int index, const char *name, const char *value)
{
    struct session *s = sess(ctx);

    if (!may(s, MLT_ACT_ADDHDRS) || index < 0 || name == NULL || name[0] == '\0' ||
        value == NULL)
        return -1;
    return mlt_wire_put(&s->out, SMFIR_INSHEADER, 1, (uint32_t)index, name, value, NULL, 0);
}

static int op_chgheader(struct mlt_ctx *ctx, const char *name, int index, const char *value)
{
    struct session *s = sess(ctx);

    if (!may(s, MLT_ACT_CHGHDRS) || index < 0 || name == NULL || name[0] == '\0')
        return -1;
    return mlt_wire_put(&s->out, SMFIR_CHGHEADER, 1, (uint32_t)index, name,
                        value ? value : "", NULL, 0);
}

static int op_quarantine(struct mlt_ctx *ctx, const char *reason)
{
    struct session *s = sess(ctx);

    if (!may(s, MLT_ACT_QUARANTINE) || reason == NULL || reason[0] == '\0')
        return -1;
    return mlt_wire_put(&s->out, SMFIR_QUARANTINE, 0, 0, reason, NULL, NULL, 0);
}

static int op_addrcpt(struct mlt_ctx *ctx, const char *rcpt)
{
    struct session *s = sess(ctx);

    if (!may(s, MLT_ACT_ADDRCPT) || rcpt == NULL || rcpt[0] == '\0')
        return -1;
    return mlt_wire_put(&s->out, SMFIR_ADDRCPT, 0, 0, rcpt, NULL, NULL, 0);
}

static int op_delrcpt(struct mlt_ctx *ctx, const char *rcpt)
{
    struct session *s = sess(ctx);

    if (!may(s, MLT_ACT_DELRCPT) || rcpt == NULL || rcpt[0] == '\0')
        return -1;
    return mlt_wire_put(&s->out, SMFIR_DELRCPT, 0, 0, rcpt, NULL, NULL, 0);
}

static const struct mlt_ops native_ops = {
    op_getsymval, op_setreply, op_addheader, op_insheader,
    op_chgheader, op_quarantine, op_addrcpt, op_delrcpt,
};

static int mac_slot(char cmd)
{
    switch (cmd) {
    case SMFIC_CONNECT:
        return MAC_CONN;
    case SMFIC_HELO:
        return MAC_HELO;
    case SMFIC_MAIL:
        return MAC_MAIL;
    case SMFIC_RCPT:
        return MAC_RCPT;
    case SMFIC_DATA:
        return MAC_DATA;
    case SMFIC_EOH:
        return MAC_EOH;
    case SMFIC_BODYEOB:
        return MAC_EOM;
    }
    return MAC_OTHER;
}

/* mac_set - SMFIC_MACRO: data[0] names the step, then name\0value\0 pairs. A new MAIL
 * set starts a transaction: the sets of the previous one's later steps go. */
static void mac_set(struct session *s, const char *data, size_t len)
{
    struct macset *m;
    int slot;

    if (len < 1)
        return;
    slot = mac_slot(data[0]);
    if (slot == MAC_MAIL)
        mac_clear(s, MAC_MAIL);
    m = &s->mac[slot];
    m->len = 0;
    if (len - 1 > m->cap) {
        char *nb = realloc(m->buf, len - 1);

        if (nb == NULL) {
            log_warn("out of memory for milter macros: %zu bytes dropped", len - 1);
            return;
        }
        m->buf = nb;
        m->cap = len - 1;
    }
    if (len > 1) /* an empty set: no buffer may exist yet */
        memcpy(m->buf, data + 1, len - 1);
    m->len = len - 1;
}

/* mac_clear - forget the sets of step from and the steps after it */
static void mac_clear(struct session *s, int from)
{
    for (int i = from; i < MAC_OTHER; i++)
        s->mac[i].len = 0;
}

/* negotiate - SMFIC_OPTNEG (also replayed after SMFIC_QUIT_NC, with no answer) */
static int negotiate(struct session *s, uint32_t act, uint32_t proto)
{
    unsigned long wa = 0, wp = 0;

    s->mta_act = act;
    s->mta_proto = proto;
    if (s->cb->negotiate(&s->ctx, act, proto, &wa, &wp) != MLT_CONTINUE)
        return -1;
    s->act = wa & act;
    s->proto = wp & proto;
    s->negotiated = 1;
    return 0;
}

/* answer - the reply to a step (nr: its SMFIP_NR_* flag, 0 = it always has one) */
static void answer(struct session *s, enum mlt_stat st, unsigned long nr)
{
    char cmd;

    if (nr != 0 && (s->proto & nr)) {
        if (st != MLT_NOREPLY && st != MLT_CONTINUE && s->pending == MLT_CONTINUE)
            s->pending = st; /* no reply here: given at the next step that has one */
        return;
    }
    if (s->pending != MLT_CONTINUE && (st == MLT_CONTINUE || st == MLT_NOREPLY))
        st = s->pending;
    s->pending = MLT_CONTINUE;
    switch (st) {
    case MLT_REJECT:
    case MLT_TEMPFAIL:
        if (s->reply[0] == (st == MLT_REJECT ? '5' : '4')) {
            mlt_wire_put(&s->out, SMFIR_REPLYCODE, 0, 0, s->reply, NULL, NULL, 0);
            s->reply[0] = '\0';
            return;
        }
        cmd = st == MLT_REJECT ? SMFIR_REJECT : SMFIR_TEMPFAIL;
        break;
    case MLT_ACCEPT:
        cmd = SMFIR_ACCEPT;
        break;
    case MLT_DISCARD:
        cmd = SMFIR_DISCARD;
        break;
    default:
        cmd = SMFIR_CONTINUE;
        break;
    }
    s->reply[0] = '\0';
    mlt_wire_put(&s->out, cmd, 0, 0, NULL, NULL, NULL, 0);
}

/* dispatch - one command: 0 to go on, 1 when the MTA quit, -1 on a protocol error */
static int dispatch(struct session *s, const struct mlt_pkt *p)
{
    const char *argv[MLT_WIRE_MAX_ARGS + 1];
    const struct mlt_callbacks *cb = s->cb;
    struct sockaddr_storage ss;
    const char *host;
    uint32_t ver, act, proto;
    int n, has_addr;

    if (!s->negotiated && p->cmd != SMFIC_OPTNEG && p->cmd != SMFIC_MACRO &&
        p->cmd != SMFIC_QUIT) {
        log_warn("milter protocol: command '%c' before option negotiation", p->cmd);
        return -1;
    }
    s->cur_mac = mac_slot(p->cmd);
    switch (p->cmd) {
    case SMFIC_OPTNEG:
        if (s->negotiated) { /* an MTA negotiates once; after QUIT_NC a CONNECT follows */
            log_warn("milter protocol: a second option negotiation");
            return -1;
        }
        if (mlt_wire_optneg(p, &ver, &act, &proto) < 0 || ver < 2) {
            log_warn("milter protocol: bad option negotiation (%zu bytes)", p->len);
            return -1;
        }
        if (negotiate(s, act, proto) < 0)
            return -1;
        return mlt_wire_put_optneg(&s->out, SMFI_PROT_VERSION, (uint32_t)s->act,
                                   (uint32_t)s->proto);
    case SMFIC_MACRO:
        mac_set(s, p->data, p->len);
        return 0;
    case SMFIC_CONNECT:
        if (mlt_wire_connect(p, &host, &ss, &has_addr) < 0) {
            log_warn("milter protocol: malformed connect information");
            return -1;
        }
        answer(s, cb->connect(&s->ctx, host, has_addr ? (struct sockaddr *)&ss : NULL),
               SMFIP_NR_CONN);
        return 0;
    case SMFIC_HELO:
        n = mlt_wire_strings(p->data, p->len, argv, MLT_WIRE_MAX_ARGS);
        answer(s, cb->helo(&s->ctx, n > 0 ? argv[0] : ""), SMFIP_NR_HELO);
        return 0;
    case SMFIC_MAIL:
    case SMFIC_RCPT:
        if (mlt_wire_strings(p->data, p->len, argv, MLT_WIRE_MAX_ARGS) < 1) {
            log_warn("milter protocol: malformed %s", p->cmd == SMFIC_MAIL ? "MAIL" : "RCPT");
            return -1;
        }
        if (p->cmd == SMFIC_MAIL)
            answer(s, cb->envfrom(&s->ctx, (char **)argv), SMFIP_NR_MAIL);
        else
            answer(s, cb->envrcpt(&s->ctx, (char **)argv), SMFIP_NR_RCPT);
        return 0;
    case SMFIC_DATA:
        answer(s, MLT_CONTINUE, SMFIP_NR_DATA);
        return 0;
    case SMFIC_UNKNOWN:
        answer(s, MLT_CONTINUE, SMFIP_NR_UNKN);
        return 0;
    case SMFIC_HEADER:
        if (mlt_wire_strings(p->data, p->len, argv, 2) != 2) {
            log_warn("milter protocol: malformed header (%zu bytes)", p->len);
            return -1;
        }
        answer(s, cb->header(&s->ctx, argv[0], argv[1]), SMFIP_NR_HDR);
        return 0;
    case SMFIC_EOH:
        answer(s, cb->eoh(&s->ctx), SMFIP_NR_EOH);
        return 0;
    case SMFIC_BODY:
        answer(s, cb->body(&s->ctx, (const unsigned char *)p->data, p->len), SMFIP_NR_BODY);
        return 0;
    case SMFIC_BODYEOB:
        if (p->len > 0)
            (void)cb->body(&s->ctx, (const unsigned char *)p->data, p->len);
        s->in_eom = 1;
        answer(s, cb->eom(&s->ctx), 0);
        s->in_eom = 0;
        mac_clear(s, MAC_MAIL);
        return 0;
    case SMFIC_ABORT:
        (void)cb->abort(&s->ctx);
        s->pending = MLT_CONTINUE;
        s->reply[0] = '\0';
        mac_clear(s, MAC_MAIL);
        return 0;
    case SMFIC_QUIT:
        return 1;
    case SMFIC_QUIT_NC:
        /* the MTA keeps the connection for a new SMTP session: close this one and
         * start the next with the same agreement */
        cb->close(&s->ctx);
        if (cb->ended != NULL)
            cb->ended();
        s->ctx.priv = NULL;
        s->pending = MLT_CONTINUE;
        s->reply[0] = '\0';
        mac_clear(s, MAC_CONN);
        s->mac[MAC_OTHER].len = 0;
        return negotiate(s, s->mta_act, s->mta_proto);
    }
    log_warn("milter protocol: unknown command 0x%02x", (unsigned char)p->cmd);
    return -1;
}

/* flush - write the queued replies; 0 or -1 */
static int flush(struct session *s)
{
    size_t off = 0;

    if (s->out.overflow) {
        log_warn("milter replies past %d bytes or out of memory: connection closed",
                 MLT_WIRE_MAX_OUT);
        return -1;
    }
    while (off < s->out.len) {
        ssize_t w = write(s->fd, s->out.buf + off, s->out.len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_warn("milter write: %s", w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                                             ? "timeout"
                                             : strerror(errno));
            return -1;
        }
        off += (size_t)w;
    }
    mlt_out_reset(&s->out);
    return 0;
}

/* fill - read what the MTA has sent, with room for at least the whole next packet;
 * 1 read, 0 on end of file, 2 when nothing came within the socket's receive timeout or,
 * while *yield is set, nothing was there (the session goes idle), -1 on error (logged) */
static int fill(struct session *s, const int *yield)
{
    size_t need = s->body_left > 0 ? IN_MIN : mlt_wire_need(s->in, s->in_len);
    ssize_t r;

    if (need < IN_MIN)
        need = IN_MIN;
    if (need > s->in_cap) {
        char *nb = realloc(s->in, need);

        if (nb == NULL) {
            log_warn("out of memory for a %zu-byte milter command", need);
            return -1;
        }
        s->in = nb;
        s->in_cap = need;
    }
    do
        r = recv(s->fd, s->in + s->in_len, s->in_cap - s->in_len,
                 yield != NULL && __atomic_load_n(yield, __ATOMIC_RELAXED) ? MSG_DONTWAIT : 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 2;
        if (errno != ECONNRESET)
            log_warn("milter read: %s", strerror(errno));
        return -1;
    }
    s->in_len += (size_t)r;
    return r > 0;
}

/* is_tcp - whether fd is a TCP socket */
static int is_tcp(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
           (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

/* quick_ack - acknowledge what was read now, not after the delayed-ACK timer (the
 * kernel clears the flag again by itself, so it is set per read) */
static void quick_ack(struct session *s)
{
    int one = 1;

    if (setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one)) < 0)
        s->tcp = 0; /* not worth a log line per read; stop trying */
}

/* drop_in - free the read buffer when it holds nothing */
static void drop_in(struct session *s)
{
    if (s->in_len > 0)
        return;
    free(s->in);
    s->in = NULL;
    s->in_cap = 0;
}

/* consume - handle what is buffered from *off on: every whole command, and the data of
 * a body command as it arrives (a body chunk is never held whole: the buffer stays at
 * IN_MIN however large the MTA's chunks are, so memory does not grow with the message).
 * 0 to go on, 1 when the MTA quit, -1 on an error. */
static int consume(struct session *s, size_t *off)
{
    struct mlt_pkt p;
    size_t used;
    int r;

    for (;;) {
        size_t avail = s->in_len - *off;

        if (s->body_left > 0) {
            size_t take = avail < s->body_left ? avail : s->body_left;

            if (take == 0)
                return 0;
            s->body_st = s->cb->body(&s->ctx, (const unsigned char *)s->in + *off, take);
            *off += take;
            if ((s->body_left -= take) == 0)
                answer(s, s->body_st, SMFIP_NR_BODY);
            continue;
        }
        if (avail == 0) /* s->in is NULL while nothing was read */
            return 0;
        r = mlt_wire_next(s->in + *off, avail, MLT_WIRE_MAX_DATA, &p, &used);
        if (r < 0) {
            log_warn("milter protocol: a command longer than %d bytes: connection closed",
                     MLT_WIRE_MAX_DATA);
            return -1;
        }
        if (r == 1) {
            int rc;

            *off += used;
            if ((rc = dispatch(s, &p)) != 0)
                return rc;
            continue;
        }
        /* incomplete: a large body chunk is streamed from here */
        if (s->negotiated && avail > MILTER_LEN_BYTES &&
            s->in[*off + MILTER_LEN_BYTES] == SMFIC_BODY &&
            mlt_wire_need(s->in + *off, avail) > IN_MIN) {
            s->body_left = mlt_wire_need(s->in + *off, avail) - MILTER_LEN_BYTES - 1;
            s->body_st = MLT_CONTINUE;
            s->cur_mac = MAC_OTHER;
            *off += MILTER_LEN_BYTES + 1;
            continue;
        }
        return 0;
    }
}

/* mlt_session_new - see mlt_session.h */
struct mlt_session *mlt_session_new(int fd, const struct mlt_callbacks *cb)
{
    struct session *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->ctx.ops = &native_ops;
    s->fd = fd;
    s->cb = cb;
    s->pending = MLT_CONTINUE;
    s->tcp = is_tcp(fd);
    return (struct mlt_session *)s;
}

/* mlt_session_serve - see mlt_session.h */
enum mlt_serve mlt_session_serve(struct mlt_session *ms, const int *yield)
{
    struct session *s = (struct session *)ms;
    size_t off;
    int rc = 0, r = 0;

    for (;;) {
        int wrote;

        off = 0;
        rc = consume(s, &off);
        if (off > 0) {
            memmove(s->in, s->in + off, s->in_len - off);
            s->in_len -= off;
        }
        if ((wrote = s->out.len > 0) && flush(s) < 0)
            rc = -1;
        if (rc != 0)
            break;
        if (!wrote && s->tcp && r > 0 && s->body_left == 0)
            quick_ack(s);
        if (s->in_cap > IN_MIN)
            drop_in(s); /* back to the small buffer */
        if ((r = fill(s, yield)) == 2) {
            drop_in(s); /* nothing kept while idle */
            return MLT_SERVE_IDLE;
        }
        if (r <= 0)
            break;
    }
    mlt_session_end(ms);
    return MLT_SERVE_END;
}

/* mlt_session_end - see mlt_session.h */
void mlt_session_end(struct mlt_session *ms)
{
    struct session *s = (struct session *)ms;
    void (*ended)(void) = s->cb->ended;

    s->cb->close(&s->ctx); /* as libmilter: whatever ended the connection */
    close(s->fd);
    for (int i = 0; i < MAC_N; i++)
        free(s->mac[i].buf);
    mlt_out_free(&s->out);
    free(s->in);
    free(s);
    if (ended != NULL)
        ended();
}

/* mlt_session_run - see mlt_session.h */
void mlt_session_run(int fd, const struct mlt_callbacks *cb)
{
    struct mlt_session *s = mlt_session_new(fd, cb);

    if (s == NULL) {
        log_warn("out of memory for a milter connection: closed");
        close(fd);
        return;
    }
    while (mlt_session_serve(s, NULL) == MLT_SERVE_IDLE) {
        struct pollfd pf = {fd, POLLIN, 0};

        if (poll(&pf, 1, -1) < 0 && errno != EINTR) {
            mlt_session_end(s);
            return;
        }
    }
}
