/* history.h - senderauthd's DMARC history writer (issue 10, docs/reports.md): a bounded
 * in-memory queue of struct store_hist_row filled by the milter threads and emptied in
 * batches into the store by one writer thread. Mail never waits for the store: when the
 * queue is full or the store fails, rows are dropped and counted, and a warning is
 * logged at most once a minute.
 * Threads: history_add and history_get_stats may be called from any thread at once;
 * history_new and history_free from one thread, before and after every history_add. */
#ifndef SA_REPORT_HISTORY_H
#define SA_REPORT_HISTORY_H

#include "conf/conf.h"
#include "senderauth/store.h"

#define HISTORY_RETRY_SEC 5 /* seconds between two tries to reach a failed store */
#define HISTORY_WARN_SEC 60 /* at most one drop warning per this many seconds */

struct history;

struct history_stats {
    unsigned long long added;         /* rows queued */
    unsigned long long written;       /* rows committed to the store */
    unsigned long long dropped_full;  /* rows refused because the queue was full */
    unsigned long long dropped_store; /* rows lost because the store failed */
    unsigned long long queued;        /* rows waiting now */
};

/* history_new - the queue (report.queue_size rows) and the writer thread, which opens
 * the store itself (a store that is down now is retried every HISTORY_RETRY_SEC).
 * conf is borrowed and must outlive the history. NULL when out of memory or when the
 * thread cannot start. */
struct history *history_new(const struct sa_conf *conf);
/* history_free - stop the writer after one last attempt to write what is queued (rows
 * it cannot write are counted as dropped), log the totals, free. NULL ok; returns NULL. */
struct history *history_free(struct history *h);
/* history_add - queue a copy of row; never blocks on the store. 0, or -1 when dropped. */
int history_add(struct history *h, const struct store_hist_row *row);
/* history_get_stats - the counters now. */
void history_get_stats(struct history *h, struct history_stats *out);

#endif
