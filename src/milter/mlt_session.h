/* mlt_session.h - one MTA connection of the native engine (mlt_session.c). */
#ifndef SA_MILTER_MLT_SESSION_H
#define SA_MILTER_MLT_SESSION_H

#include "milter/mlt.h"

struct mlt_session;

enum mlt_serve {
    MLT_SERVE_IDLE, /* nothing came within the socket's receive timeout: wait, serve again */
    MLT_SERVE_END,  /* the session is over: ended and freed */
};

/* mlt_session_new - a session on fd (a connected blocking socket; its SO_RCVTIMEO is
 * how long mlt_session_serve waits for the MTA before it returns MLT_SERVE_IDLE, none =
 * for ever). Takes fd. NULL when out of memory (fd is then still the caller's). */
struct mlt_session *mlt_session_new(int fd, const struct mlt_callbacks *cb);

/* mlt_session_serve - speak the milter protocol: read, hand each command to the
 * filter's callbacks, write the replies, until the MTA is quiet for the receive timeout
 * (IDLE; a partial command stays buffered) or the session ends (the MTA quit, closed or
 * broke the protocol: END, and the session is ended as by mlt_session_end).
 * yield (may be NULL): while *yield is nonzero (read atomically: other connections are
 * waiting for a thread), a read that would wait returns IDLE at once instead. */
enum mlt_serve mlt_session_serve(struct mlt_session *s, const int *yield);

/* mlt_session_end - end a session now (timeout, shutdown): the close callback, then
 * close the socket, free everything, and the ended callback. */
void mlt_session_end(struct mlt_session *s);

/* mlt_session_run - the whole session in the calling thread: serve, and wait with
 * poll() whenever it is idle, until it ends. Every connection ends with one cb->close,
 * as with libmilter: also when the MTA broke the protocol before negotiating or the
 * filter refused the negotiation (after SMFIC_QUIT_NC, the session it ends gets its
 * close there and the next one its own at the end). */
void mlt_session_run(int fd, const struct mlt_callbacks *cb);

#endif
