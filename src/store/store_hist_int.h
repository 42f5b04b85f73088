/* store_hist_int.h - what the history side of the store (store_history.c) needs from a
 * backend: one connection that runs SQL with text parameters. The SQL text is the same
 * for both backends: parameters are written $1, $2, ... (PostgreSQL's form, which SQLite
 * reads as named parameters numbered in order of appearance) and integers are CAST.
 * Private to src/store.
 * Threads: a struct hist_conn is used by one thread at a time. */
#ifndef SA_STORE_HIST_INT_H
#define SA_STORE_HIST_INT_H

#include "senderauth/store.h"

struct hist_conn;

/* hist_row_fn - one result row as text columns (NULL for SQL NULL); 0 go on, -1 stop. */
typedef int (*hist_row_fn)(int ncol, const char *const *val, void *arg);

struct hist_ops {
    const char *name;
    /* open - one connection; NULL with store_seterr() set. */
    struct hist_conn *(*open)(const struct sa_conf *conf);
    void (*close)(struct hist_conn *c);
    /* broken - the connection must be re-made before the next statement */
    int (*broken)(struct hist_conn *c);
    /* run - one statement with n text parameters; rows (if any) go to fn (may be NULL).
     * A statement is prepared once per connection and found again by its sql pointer, so
     * sql must be a string constant. *changes (may be NULL) gets the rows changed. */
    int (*run)(struct hist_conn *c, const char *sql, int n, const char *const *param,
               hist_row_fn fn, void *arg, long long *changes);
    /* cmd - a statement without parameters or rows (BEGIN, COMMIT, ROLLBACK) */
    int (*cmd)(struct hist_conn *c, const char *sql);
};

extern const struct hist_ops store_hist_sqlite_ops;
extern const struct hist_ops store_hist_pgsql_ops;

#endif
