/* store_int.h - what src/store shares between the interface (store.c) and the backends
 * (store_sqlite.c, store_pgsql.c): the backend operations table, the struct store
 * header every backend starts with, the schema text and the error helper.
 * Private to src/store; the rest of the program uses include/senderauth/store.h.
 * Threads: see each backend for its connection pool; a struct store_conn is used by
 * one thread at a time, between acquire and release. */
#ifndef SA_STORE_INT_H
#define SA_STORE_INT_H

#include "senderauth/store.h"

struct store_conn; /* one backend connection, defined by the backend */

/* The change written by put(): enforce is 0/1, or -1 to delete the row. */
struct store_change {
    enum store_kind kind;
    const char *subject;
    int enforce;
    const char *source; /* row column (may be NULL) */
    const char *note;   /* row column and event note (may be NULL) */
    long long now;
    const struct store_evidence *ev; /* never NULL here */
};

/* Backend operations. Each returns 0 / -1 (or enum store_lookup), and sets the thread's
 * error with store_seterr() on failure. A failure that leaves the connection unusable
 * marks it broken (broken()), so that release() drops it and the caller may retry once. */
struct store_ops {
    const char *name;
    /* open - a new store (its struct begins with struct store, ops and flags set). */
    struct store *(*open)(const struct sa_conf *conf, int flags, char *err, size_t errlen);
    void (*close)(struct store *st);
    struct store_conn *(*acquire)(struct store *st);
    void (*release)(struct store *st, struct store_conn *c);
    int (*broken)(struct store_conn *c);

    int (*schema_version)(struct store_conn *c);                      /* 0 none, -1 error */
    int (*migrate_step)(struct store_conn *c, int to, long long now); /* one transaction */

    enum store_lookup (*get)(struct store_conn *c, enum store_kind kind, const char *key,
                             int *enforce);
    /* put - one change and its event in one transaction; *existed = a row was there. */
    int (*put)(struct store_conn *c, const struct store_change *ch, int *existed);

    /* Bulk import: begin, rows, end(commit 1 / 0 = roll back). */
    int (*import_begin)(struct store_conn *c);
    int (*import_row)(struct store_conn *c, const struct store_change *ch, long line);
    int (*import_end)(struct store_conn *c, int commit);

    int (*foreach)(struct store_conn *c, enum store_kind kind, store_row_fn fn, void *arg);
    int (*stats)(struct store_conn *c, struct store_stats *out);
};

/* The common head of every backend's struct store. */
struct store {
    const struct store_ops *ops;
    int flags;
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pgsql_ops;

/* One schema migration: the statements taking the database from version - 1 to version,
 * in each backend's dialect (store_schema.c). */
struct store_migration {
    int version;
    const char *sqlite;
    const char *pgsql;
};
extern const struct store_migration store_migrations[];
extern const int store_nmigrations;
/* store_migration_sql - the statements of the step to version `to` in one dialect
 * (pgsql 0: SQLite), and in row (rowlen bytes) the INSERT of its schema_version row;
 * NULL with the error set when there is no such step. */
const char *store_migration_sql(int to, int pgsql, long long now, char *row, size_t rowlen);
/* store_stats_sql - one row: users, users enforcing, domains, domains enforcing, events,
 * time of the last event (the same text in both dialects). */
extern const char store_stats_sql[];

/* store_seterr - set the calling thread's error text (printf format). */
void store_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* store_kind_name - "user" / "domain" (the consent_event.subject_kind values). */
const char *store_kind_name(enum store_kind k);

#endif
