/* mlt.c - the engine-independent entry points of a milter connection (mlt.h): each
 * forwards to the engine that owns the ctx. Owns nothing. */
#include "milter/mlt.h"

const char *mlt_getsymval(struct mlt_ctx *ctx, const char *name)
{
    return ctx->ops->getsymval(ctx, name);
}

int mlt_setreply(struct mlt_ctx *ctx, const char *rcode, const char *xcode, const char *text)
{
    return ctx->ops->setreply(ctx, rcode, xcode, text);
}

int mlt_addheader(struct mlt_ctx *ctx, const char *name, const char *value)
{
    return ctx->ops->addheader(ctx, name, value);
}

int mlt_insheader(struct mlt_ctx *ctx, int index, const char *name, const char *value)
{
    return ctx->ops->insheader(ctx, index, name, value);
}

int mlt_chgheader(struct mlt_ctx *ctx, const char *name, int index, const char *value)
{
    return ctx->ops->chgheader(ctx, name, index, value);
}

int mlt_quarantine(struct mlt_ctx *ctx, const char *reason)
{
    return ctx->ops->quarantine(ctx, reason);
}

int mlt_addrcpt(struct mlt_ctx *ctx, const char *rcpt)
{
    return ctx->ops->addrcpt(ctx, rcpt);
}

int mlt_delrcpt(struct mlt_ctx *ctx, const char *rcpt)
{
    return ctx->ops->delrcpt(ctx, rcpt);
}
