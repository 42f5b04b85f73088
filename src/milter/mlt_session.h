/* mlt_session.h - one MTA connection of the native engine (mlt_session.c). */
#ifndef SA_MILTER_MLT_SESSION_H
#define SA_MILTER_MLT_SESSION_H

#include "milter/mlt.h"

/* mlt_session_run - speak the milter protocol on fd (connected, timeouts set) with the
 * filter's callbacks until the MTA quits, closes, times out or breaks the protocol;
 * then close fd. Every connection ends with one cb->close, as with libmilter: also when
 * the MTA broke the protocol before negotiating or the filter refused the negotiation
 * (after SMFIC_QUIT_NC, the session it ends gets its close there and the next one its
 * own at the end). */
void mlt_session_run(int fd, const struct mlt_callbacks *cb);

#endif
