/* store_history_sqlite.c - the SQLite connection of the history side of the store: one
 * read-write handle on store.sqlite_path (never created here: senderauthctl init makes
 * the file), WAL journal, store.busy_timeout_ms, statements prepared once and found
 * again by the address of their SQL text.
 * Owns that handle; not the SQL (store_history.c) or the schema (store_schema.c).
 * Threads: one connection, used by one thread at a time (opened SQLITE_OPEN_NOMUTEX). */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "store_hist_int.h"
#include "store_int.h"
#include "util/xalloc.h"

#define HIST_SQ_STMTS 24

struct hist_conn {
    sqlite3 *db;
    int broken;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[HIST_SQ_STMTS];
};

static int fail(struct hist_conn *c, const char *what);
static sqlite3_stmt *prepared(struct hist_conn *c, const char *sql);

/* fail - record the error; I/O, corruption and a vanished file break the connection */
static int fail(struct hist_conn *c, const char *what)
{
    int code = sqlite3_errcode(c->db) & 0xff;

    if (code == SQLITE_IOERR || code == SQLITE_CORRUPT || code == SQLITE_NOTADB ||
        code == SQLITE_CANTOPEN || code == SQLITE_READONLY)
        c->broken = 1;
    store_seterr("sqlite: %s: %s", what, sqlite3_errmsg(c->db));
    return -1;
}

/* hs_open - the file must exist */
static struct hist_conn *hs_open(const struct sa_conf *conf)
{
    struct hist_conn *c;
    const char *path = conf->store_sqlite_path != NULL ? conf->store_sqlite_path : "";

    if (access(path, F_OK) != 0) {
        store_seterr("sqlite: %s: %m (run \"senderauthctl init\")", path);
        return NULL;
    }
    c = xcalloc(1, sizeof(*c));
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        store_seterr("sqlite: %s: %s", path, c->db != NULL ? sqlite3_errmsg(c->db) : "no memory");
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, conf->store_busy_timeout_ms);
    if (sqlite3_exec(c->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK) {
        fail(c, path);
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    return c;
}

/* hs_close - statements and handle */
static void hs_close(struct hist_conn *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < HIST_SQ_STMTS; i++)
        sqlite3_finalize(c->cache[i].st);
    sqlite3_close(c->db);
    free(c);
}

/* hs_broken - see store_hist_int.h */
static int hs_broken(struct hist_conn *c)
{
    return c->broken;
}

/* prepared - the cached statement of sql, reset and unbound; NULL on error */
static sqlite3_stmt *prepared(struct hist_conn *c, const char *sql)
{
    int i, free_slot = -1;

    for (i = 0; i < HIST_SQ_STMTS; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].st);
            sqlite3_clear_bindings(c->cache[i].st);
            return c->cache[i].st;
        }
        if (c->cache[i].sql == NULL && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0) { /* more statements than slots: forget the first */
        sqlite3_finalize(c->cache[0].st);
        c->cache[0].sql = NULL;
        free_slot = 0;
    }
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->cache[free_slot].st,
                           NULL) != SQLITE_OK) {
        fail(c, "prepare");
        c->cache[free_slot].st = NULL;
        return NULL;
    }
    c->cache[free_slot].sql = sql;
    return c->cache[free_slot].st;
}

/* hs_run - see store_hist_int.h */
static int hs_run(struct hist_conn *c, const char *sql, int n, const char *const *param,
                  hist_row_fn fn, void *arg, long long *changes)
{
    sqlite3_stmt *st = prepared(c, sql);
    const char *val[32];
    int rc, ncol;

    if (st == NULL)
        return -1;
    for (int i = 0; i < n; i++)
        if (sqlite3_bind_text(st, i + 1, param[i], -1, SQLITE_STATIC) != SQLITE_OK)
            return fail(c, "bind");
    ncol = sqlite3_column_count(st);
    if (ncol > 32)
        ncol = 32;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncol; i++)
            val[i] = (const char *)sqlite3_column_text(st, i);
        if (fn != NULL && fn(ncol, val, arg) < 0) {
            sqlite3_reset(st);
            return -1;
        }
    }
    if (rc != SQLITE_DONE) {
        fail(c, "query");
        sqlite3_reset(st);
        return -1;
    }
    if (changes != NULL)
        *changes = sqlite3_changes(c->db);
    sqlite3_reset(st);
    return 0;
}

/* hs_cmd - BEGIN / COMMIT / ROLLBACK */
static int hs_cmd(struct hist_conn *c, const char *sql)
{
    if (strcmp(sql, "BEGIN") == 0)
        sql = "BEGIN IMMEDIATE";
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(c, sql);
    return 0;
}

const struct hist_ops store_hist_sqlite_ops = {
    "sqlite", hs_open, hs_close, hs_broken, hs_run, hs_cmd,
};
