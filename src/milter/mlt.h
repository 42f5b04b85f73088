/* mlt.h - the milter interface senderauthd's callbacks are written against, and the two
 * engines that serve it: "native" (mlt_native.c: our own implementation of the milter
 * wire protocol, buffered reads, one write per reply) and "libmilter" (mlt_smfi.c: the
 * same callbacks through Sendmail's libmilter). The daemon never sees which one runs.
 * A struct mlt_ctx is one MTA connection; its functions are those of libmilter's smfi_*
 * with the same meaning, returning 0 or -1. Header, recipient and quarantine changes are
 * only possible inside the eom callback and only for negotiated actions (else -1).
 * The wire constants (SMFIP_* protocol flags, SMFIC_* and SMFIR_* commands) come from
 * <libmilter/mfdef.h>, the protocol's definition; the actions are defined here.
 * Threads: a ctx is used by one thread at a time (its connection's). */
#ifndef SA_MILTER_MLT_H
#define SA_MILTER_MLT_H

#include <stddef.h>
#include <sys/socket.h>

#include <libmilter/mfdef.h>

/* Actions the filter may ask for at negotiation (protocol values, as SMFIF_*). */
#define MLT_ACT_ADDHDRS 0x01UL
#define MLT_ACT_CHGBODY 0x02UL
#define MLT_ACT_ADDRCPT 0x04UL
#define MLT_ACT_DELRCPT 0x08UL
#define MLT_ACT_CHGHDRS 0x10UL
#define MLT_ACT_QUARANTINE 0x20UL

/* What a callback answers; as libmilter's SMFIS_*. */
enum mlt_stat {
    MLT_CONTINUE,
    MLT_REJECT,
    MLT_DISCARD,
    MLT_ACCEPT,
    MLT_TEMPFAIL,
    MLT_NOREPLY, /* only for steps whose reply the MTA agreed to go without (SMFIP_NR_*) */
};

struct mlt_ctx;

/* The engine's half of a ctx; see the functions below for the meaning of each. */
struct mlt_ops {
    const char *(*getsymval)(struct mlt_ctx *ctx, const char *name);
    int (*setreply)(struct mlt_ctx *ctx, const char *rcode, const char *xcode, const char *text);
    int (*addheader)(struct mlt_ctx *ctx, const char *name, const char *value);
    int (*insheader)(struct mlt_ctx *ctx, int index, const char *name, const char *value);
    int (*chgheader)(struct mlt_ctx *ctx, const char *name, int index, const char *value);
    int (*quarantine)(struct mlt_ctx *ctx, const char *reason);
    int (*addrcpt)(struct mlt_ctx *ctx, const char *rcpt);
    int (*delrcpt)(struct mlt_ctx *ctx, const char *rcpt);
};

struct mlt_ctx {
    const struct mlt_ops *ops;
    void *priv; /* the filter's per-connection pointer (mlt_setpriv) */
};

/* The filter's callbacks. Strings are NUL-terminated and borrowed for the call. argv of
 * envfrom/envrcpt is the address then its ESMTP parameters, NULL-terminated. addr is NULL
 * when the MTA gave no IP address (local submission, unix socket). close is called once
 * per connection, also after an error; abort ends a transaction without ending the
 * connection. negotiate gets the MTA's offered actions and protocol flags and sets the
 * ones wanted (a subset). */
struct mlt_callbacks {
    enum mlt_stat (*negotiate)(struct mlt_ctx *ctx, unsigned long actions, unsigned long proto,
                               unsigned long *want_actions, unsigned long *want_proto);
    enum mlt_stat (*connect)(struct mlt_ctx *ctx, const char *host, const struct sockaddr *addr);
    enum mlt_stat (*helo)(struct mlt_ctx *ctx, const char *helo);
    enum mlt_stat (*envfrom)(struct mlt_ctx *ctx, char **argv);
    enum mlt_stat (*envrcpt)(struct mlt_ctx *ctx, char **argv);
    enum mlt_stat (*header)(struct mlt_ctx *ctx, const char *name, const char *value);
    enum mlt_stat (*eoh)(struct mlt_ctx *ctx);
    enum mlt_stat (*body)(struct mlt_ctx *ctx, const unsigned char *p, size_t n);
    enum mlt_stat (*eom)(struct mlt_ctx *ctx);
    enum mlt_stat (*abort)(struct mlt_ctx *ctx);
    void (*close)(struct mlt_ctx *ctx);
    /* after close, in the same thread, once the engine has freed all it held for the
     * connection (the filter may return memory to the system here); may be NULL */
    void (*ended)(void);
};

/* Where and how to listen: spec as written (libmilter's syntax) and its parts. */
enum mlt_sock_kind { MLT_SOCK_UNIX, MLT_SOCK_INET, MLT_SOCK_INET6 };

struct mlt_listen {
    const char *spec;        /* "inet:PORT@ADDR", "inet6:PORT@ADDR", "unix:/PATH" */
    enum mlt_sock_kind kind;
    const char *host;        /* INET/INET6: address or name; "" = any */
    unsigned int port;       /* INET/INET6 */
    const char *path;        /* UNIX */
    int timeout;             /* seconds to wait for the MTA on a connection */
    const char *name;        /* the filter's name (libmilter's registration, logs) */
};

/* An engine: open binds the socket (a stale unix socket file is replaced; the native
 * engine accepts no connection before run, so the mode and owner the caller sets in
 * between apply to every connection; libmilter listens at once); run serves
 * until SIGTERM or SIGINT (which the caller keeps blocked in every thread) and returns
 * once the listener is closed, while connections still open go on in their threads.
 * open and run return 0 or -1 (logged). */
struct mlt_engine {
    const char *name;
    int (*open)(const struct mlt_listen *l, const struct mlt_callbacks *cb);
    int (*run)(void);
};

extern const struct mlt_engine mlt_native_engine; /* mlt_native.c */
extern const struct mlt_engine mlt_smfi_engine;   /* mlt_smfi.c */

/* mlt_getsymval - a macro's value ("i", "{auth_authen}"; "x" and "{x}" are the same
 * name), borrowed until the next command of the connection; NULL when not sent. */
const char *mlt_getsymval(struct mlt_ctx *ctx, const char *name);
/* mlt_setreply - the SMTP reply of the next reject/tempfail answer (3-digit code matching
 * it, enhanced code, one line of text). */
int mlt_setreply(struct mlt_ctx *ctx, const char *rcode, const char *xcode, const char *text);
int mlt_addheader(struct mlt_ctx *ctx, const char *name, const char *value);
/* mlt_insheader - insert at position index (0 = top) */
int mlt_insheader(struct mlt_ctx *ctx, int index, const char *name, const char *value);
/* mlt_chgheader - change the index-th (1-based) field of that name; value NULL deletes */
int mlt_chgheader(struct mlt_ctx *ctx, const char *name, int index, const char *value);
int mlt_quarantine(struct mlt_ctx *ctx, const char *reason);
int mlt_addrcpt(struct mlt_ctx *ctx, const char *rcpt);
int mlt_delrcpt(struct mlt_ctx *ctx, const char *rcpt);

static inline void *mlt_getpriv(const struct mlt_ctx *ctx)
{
    return ctx->priv;
}

static inline void mlt_setpriv(struct mlt_ctx *ctx, void *priv)
{
    ctx->priv = priv;
}

#endif
