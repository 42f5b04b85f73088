/* hist.h - senderauthd's side of DMARC reporting: one history row per evaluated
 * message, built from struct sa_msg at the end of the message and handed to the
 * history queue (src/report/history.h). Nothing here waits for the store.
 * Threads: hist_start / hist_stop from main() before / after the milter threads,
 * hist_reload from the main thread; hist_record and hist_get_stats from any thread. */
#ifndef SA_DAEMON_HIST_H
#define SA_DAEMON_HIST_H

#include "report/history.h"
#include "senderauth/store.h"

struct sa_conf;
struct sa_conn;
struct sa_msg;

/* hist_start - when conf->report_enable, start the history writer (conf is borrowed
 * until hist_stop). 0, or -1 when it cannot start (out of memory, no thread). */
int hist_start(const struct sa_conf *conf);
/* hist_reload - after a SIGHUP reload to nc (main thread): when nc turns report.enable on
 * and no writer runs yet, start one on nc (a reference is kept until hist_stop). Turning
 * it off needs nothing here: hist_record follows each message's own configuration. The
 * queue and store keys of a running writer change only at restart. */
void hist_reload(struct sa_conf *nc);
/* hist_stop - write what is queued, stop the writer, log the totals. */
void hist_stop(void);
/* hist_get_stats - the history counters now (for the metrics); -1 when no writer runs. */
int hist_get_stats(struct history_stats *out);
/* hist_record - queue the row for m (action: what senderauthd answered: accept,
 * quarantine, reject, tempfail). Messages that were not checked (m->skip) and
 * messages without a From domain get no row. */
void hist_record(const struct sa_msg *m, const struct sa_conn *c, const char *action);
/* hist_fill_row - the row for m into r (for tests and hist_record). 0, or -1 when m gets
 * no row. */
int hist_fill_row(const struct sa_msg *m, const struct sa_conn *c, const char *action,
                  long long now, struct store_hist_row *r);

#endif
