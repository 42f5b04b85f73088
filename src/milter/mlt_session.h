/* mlt_session.h - one MTA connection of the native engine (mlt_session.c). */
#ifndef SA_MILTER_MLT_SESSION_H
#define SA_MILTER_MLT_SESSION_H

#include "milter/mlt.h"

/* mlt_session_run - speak the milter protocol on fd (connected, timeouts set) with the
 * filter's callbacks until the MTA quits, closes, times out or breaks the protocol;
 * then close fd. Every path that got as far as a callback ends with cb->close. */
void mlt_session_run(int fd, const struct mlt_callbacks *cb);

#endif
