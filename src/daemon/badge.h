/* badge.h - the X-Senderauth-* fields webmail reads (docs/webmail-headers.md): at
 * header time, remember every incoming field senderauthd owns; at end of message,
 * delete them (highest index first, per name) and add the trust level, the warning
 * and the trust mark computed for the message.
 * A warning filters nothing and applies to every recipient.
 * Threads: works on one message, called from its libmilter thread; the lists are
 * shared objects of struct sa_proc (see src/policy/lists.h). */
#ifndef SA_DAEMON_BADGE_H
#define SA_DAEMON_BADGE_H

#include "milter/mlt.h"

#define BADGE_MAX_NAMES 32  /* distinct field names of ours one message may carry */
#define BADGE_MAX_DEL 10000 /* fields of ours one message may carry; more: tempfail */

struct sa_conn;
struct sa_msg;

/* badge_header - one incoming header field: note it when its name is ours
 * (X-Senderauth-*, a configured headers.*_name, or quarantine.header_name). */
void badge_header(struct sa_msg *m, const char *name);
/* badge_blocked - 1 when the fields of ours cannot all be removed (too many, or the MTA
 * does not allow header changes): the message must be deferred, never passed on. */
int badge_blocked(const struct sa_conn *c, const struct sa_msg *m);
/* badge_strip - delete the incoming fields of ours. 0, or -1 when the MTA refused one
 * (the caller defers the message). */
int badge_strip(struct mlt_ctx *ctx, const struct sa_msg *m);
/* badge_add - compute level, warning and trust mark and insert the fields at the top
 * (nothing for a message that was not checked). 0, or -1 when a field could not be
 * added. */
int badge_add(struct mlt_ctx *ctx, const struct sa_conn *c, const struct sa_msg *m);

#endif
