/* milter.h - the libmilter side of senderauthd (milter.c).
 * Threads: milter_run is called once, from main(). */
#ifndef SA_DAEMON_MILTER_H
#define SA_DAEMON_MILTER_H

#include "conf/conf.h"

struct sa_proc;

/* milter_run - register, open milter.socket (mode/owner for unix sockets), drop to
 * milter.user, and serve until SIGTERM/SIGINT; then wait up to milter.timeout seconds
 * for open connections to finish. p and conf are borrowed and must outlive the call.
 * Returns 0, or -1 on a start-up error or an unclean stop; *busy is set to 1 when
 * connections were still open at the end (then p must not be freed). */
int milter_run(const struct sa_proc *p, const struct sa_conf *conf, int *busy);

#endif
