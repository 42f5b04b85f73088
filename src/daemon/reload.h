/* reload.h - SIGHUP reload and the reference-counted runtime snapshot (reload.c).
 *
 * What a reload replaces: the configuration (conf_set_current), the Public Suffix List
 * and the domain lists. A snapshot is a struct sa_proc whose org, warn_list and
 * trust_list it owns; the resolver, DNS cache, DKIM library and consent store are
 * borrowed from the start-up proc and stay (keys that configure them need a restart,
 * and a reload says so in the log). A message takes a reference to the current snapshot
 * at MAIL FROM (msg_new) and drops it when freed, so in-flight messages finish on the
 * snapshot they started with.
 *
 * Signals: libmilter's own signal thread sigwait()s SIGHUP, SIGTERM and SIGINT and stops
 * the milter on any of them. So reload_run runs the milter in a second thread created
 * with HUP, TERM and INT blocked (libmilter's threads inherit that), and the main thread
 * keeps SIGHUP unblocked with a handler at all times and blocks everything else it could
 * be sent. Linux delivers a process-directed signal to the thread-group leader whenever
 * that thread does not block it, so a HUP always reaches our handler and never libmilter's
 * sigwait; TERM and INT still stop the milter through libmilter.
 * Threads: reload_run is called once from main(); reload_proc_get/put from any thread. */
#ifndef SA_DAEMON_RELOAD_H
#define SA_DAEMON_RELOAD_H

#include "conf/conf.h"

struct sa_proc;

/* reload_signals_init - before any thread exists: install the SIGHUP handler and block
 * in the calling (main) thread every signal it must not take. Threads created after this
 * (the metrics server) inherit that mask. 0 or -1. */
int reload_signals_init(void);

/* reload_run - publish a first snapshot made from p (taking over p->org, p->warn_list
 * and p->trust_list: they are set to NULL in p), run milter_run(p, conf, busy) in a
 * second thread and serve SIGHUP reloads of path in this one until the milter stops.
 * Returns what milter_run returned. */
int reload_run(struct sa_proc *p, const struct sa_conf *conf, const char *path, int *busy);

/* reload_now - one reload of path, as on SIGHUP: 0 when the new configuration, PSL and
 * lists are in force, -1 when something was wrong (every problem is logged and the
 * running snapshot stays). Main thread only. */
int reload_now(const char *path);

/* reload_proc_get - a reference to the current snapshot, or fallback when none is
 * published (before reload_run). Release it with reload_proc_put. */
const struct sa_proc *reload_proc_get(const struct sa_proc *fallback);
/* reload_proc_put - drop a reference from reload_proc_get; a proc that is not a
 * snapshot (the fallback) and NULL are ignored. */
void reload_proc_put(const struct sa_proc *p);

#endif
