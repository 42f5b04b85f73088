/* ar_match.h - forged Authentication-Results detection: does an existing A-R header
 * claim to come from us (its authserv-id equals ours)? Such headers are deleted before
 * ours is added (RFC 8601 section 5). The test errs on the side of "ours": a header a
 * downstream reader could take as ours is treated as ours.
 * Pure function of its input; no copies beyond a 256-byte stack buffer.
 * Threads: reentrant. */
#ifndef SA_AR_MATCH_H
#define SA_AR_MATCH_H

#include <stddef.h>

#define AR_MATCH_MAX_ID 255 /* an authserv-id longer than this is never ours */

/* ar_match_ours - 1 when the A-R header value (len bytes; a NUL ends it early) names
 * ours as its authserv-id, else 0. Case-insensitive; one trailing dot on either side is
 * ignored. Accepted forms: leading folding white space and comments (nested, with
 * quoted-pairs), a token or a quoted-string id, then ';', CFWS, a version ("ours 1;"),
 * or the "ours/1" form. A value whose leading comment or quoted-string never ends is
 * malformed; it counts as ours when ours occurs anywhere in it. An empty ours never
 * matches. */
int ar_match_ours(const char *value, size_t len, const char *ours);

#endif
