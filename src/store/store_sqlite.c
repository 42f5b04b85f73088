/* store_sqlite.c - the SQLite backend of the consent store (store.backend = "sqlite"):
 * one database file in WAL mode, so that senderauthd's readers never wait for
 * senderauthctl's writer and a writer waits for another at most store.busy_timeout_ms.
 * Owns its connections and their prepared statements; not the schema text
 * (store_schema.c) or the lookup order (store.c).
 *
 * Threads and locking: a connection is used by one thread at a time (opened
 * SQLITE_OPEN_NOMUTEX). The store keeps a stack of idle connections behind one mutex,
 * held only to push or pop: acquire pops one or opens a new one (outside the lock),
 * release pushes it back, or closes it when SQLITE_IDLE_MAX are already idle or when
 * it failed with an I/O or corruption error. So there are as many connections as
 * threads in a store call at once, and no SQLite call is made under the mutex.
 * A connection remembers the file (device, inode, permissions) it opened; acquire drops
 * an idle one whose path no longer names that file (removed, replaced by another file) or
 * whose permissions changed, so that lookups never go on reading a deleted database or
 * one the operator made unreadable: the new open reports the fault.
 * A store opened without STORE_OPEN_WRITE sets PRAGMA query_only on each connection.
 * Writes run in BEGIN IMMEDIATE transactions (the row and its event together). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "store_int.h"
#include "util/xalloc.h"

#define SQLITE_IDLE_MAX 64

enum { S_GET, S_UPSERT, S_DEL, S_NSTMT_KIND };

struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[2][S_NSTMT_KIND]; /* [kind][S_*], prepared on first use */
    sqlite3_stmt *event;
    dev_t dev; /* the file opened and its permissions (same_file) */
    ino_t ino;
    mode_t mode;
    int broken;
    struct store_conn *next;
};

struct sqlite_store {
    struct store head;
    pthread_mutex_t mu;
    struct store_conn *idle;
    int nidle;
    char *path;
    int busy_ms;
};

static const char *const sql_kind[2][S_NSTMT_KIND] = {
    {"SELECT enforce FROM consent_user WHERE address = ?1",
     "INSERT INTO consent_user (address, enforce, updated_at, source, note)"
     " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (address) DO UPDATE SET"
     " enforce = excluded.enforce, updated_at = excluded.updated_at,"
     " source = excluded.source, note = excluded.note",
     "DELETE FROM consent_user WHERE address = ?1"},
    {"SELECT enforce FROM consent_domain WHERE domain = ?1",
     "INSERT INTO consent_domain (domain, enforce, updated_at, source, note)"
     " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (domain) DO UPDATE SET"
     " enforce = excluded.enforce, updated_at = excluded.updated_at,"
     " source = excluded.source, note = excluded.note",
     "DELETE FROM consent_domain WHERE domain = ?1"},
};
static const char sql_event[] =
    "INSERT INTO consent_event (subject_kind, subject, enforce, at, actor, channel,"
    " explanation_version, scope_version, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

static struct store_conn *conn_open(struct sqlite_store *s);
static int same_file(const struct sqlite_store *s, const struct store_conn *c);
static void conn_close(struct store_conn *c);
static int fail(struct store_conn *c, const char *what);
static sqlite3_stmt *stmt(struct store_conn *c, sqlite3_stmt **slot, const char *sql);
static int exec(struct store_conn *c, const char *sql);
static int bind_text(sqlite3_stmt *st, int i, const char *s);
static int write_change(struct store_conn *c, const struct store_change *ch, int *existed);

/* fail - record the connection's error; I/O and corruption break the connection */
static int fail(struct store_conn *c, const char *what)
{
    int code = sqlite3_errcode(c->db) & 0xff;

    if (code == SQLITE_IOERR || code == SQLITE_CORRUPT || code == SQLITE_NOTADB ||
        code == SQLITE_CANTOPEN)
        c->broken = 1;
    store_seterr("sqlite: %s: %s", what, sqlite3_errmsg(c->db));
    return -1;
}

/* conn_open - one connection with busy timeout, WAL for writers, query_only for readers */
static struct store_conn *conn_open(struct sqlite_store *s)
{
    struct store_conn *c = xcalloc(1, sizeof(*c));
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    struct stat sb;

    if ((s->head.flags & STORE_OPEN_INIT) != 0)
        flags |= SQLITE_OPEN_CREATE;
    if ((flags & SQLITE_OPEN_CREATE) == 0 && access(s->path, F_OK) != 0) {
        store_seterr("sqlite: %s: %m (run \"senderauthctl init\")", s->path);
        free(c);
        return NULL;
    }
    if (sqlite3_open_v2(s->path, &c->db, flags, NULL) != SQLITE_OK) {
        store_seterr("sqlite: %s: %s", s->path,
                     c->db != NULL ? sqlite3_errmsg(c->db) : "out of memory");
        conn_close(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, s->busy_ms);
    sqlite3_extended_result_codes(c->db, 1);
    if ((s->head.flags & STORE_OPEN_WRITE) != 0 ? exec(c, "PRAGMA journal_mode = WAL") < 0
                                                : exec(c, "PRAGMA query_only = 1") < 0) {
        char why[512];

        sa_strlcpy(why, store_strerror(), sizeof(why));
        store_seterr("%s: %s", s->path, why);
        conn_close(c);
        return NULL;
    }
    if (stat(s->path, &sb) == 0) {
        c->dev = sb.st_dev;
        c->ino = sb.st_ino;
        c->mode = sb.st_mode;
    }
    return c;
}

/* same_file - the path still names the file c opened, with the same permissions */
static int same_file(const struct sqlite_store *s, const struct store_conn *c)
{
    struct stat sb;

    return stat(s->path, &sb) == 0 && sb.st_dev == c->dev && sb.st_ino == c->ino &&
           sb.st_mode == c->mode;
}

/* conn_close - statements and handle */
static void conn_close(struct store_conn *c)
{
    if (c == NULL)
        return;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < S_NSTMT_KIND; i++)
            sqlite3_finalize(c->stmt[k][i]);
    sqlite3_finalize(c->event);
    sqlite3_close(c->db);
    free(c);
}

/* stmt - the prepared statement in *slot, reset and unbound; NULL on error */
static sqlite3_stmt *stmt(struct store_conn *c, sqlite3_stmt **slot, const char *sql)
{
    if (*slot == NULL) {
        if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) !=
            SQLITE_OK) {
            fail(c, "prepare");
            *slot = NULL;
            return NULL;
        }
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    return *slot;
}

/* exec - statements without results */
static int exec(struct store_conn *c, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int code = sqlite3_errcode(c->db) & 0xff;

        if (code == SQLITE_IOERR || code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
            c->broken = 1;
        store_seterr("sqlite: %s", msg != NULL ? msg : sqlite3_errstr(code));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* bind_text - a text parameter, NULL as SQL NULL */
static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s == NULL ? sqlite3_bind_null(st, i) : sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* sq_open - a store on the configured file, one connection opened now */
static struct store *sq_open(const struct sa_conf *conf, int flags, char *err, size_t errlen)
{
    struct sqlite_store *s = xcalloc(1, sizeof(*s));
    struct store_conn *c;

    s->head.ops = &store_sqlite_ops;
    s->head.flags = flags;
    pthread_mutex_init(&s->mu, NULL);
    s->path = xstrdup(conf->store_sqlite_path != NULL ? conf->store_sqlite_path : "");
    s->busy_ms = conf->store_busy_timeout_ms;
    if ((c = conn_open(s)) == NULL) {
        snprintf(err, errlen, "%s", store_strerror());
        store_sqlite_ops.close(&s->head);
        return NULL;
    }
    c->next = s->idle;
    s->idle = c;
    s->nidle = 1;
    return &s->head;
}

/* sq_close - every idle connection and the store */
static void sq_close(struct store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct store_conn *c, *n;

    for (c = s->idle; c != NULL; c = n) {
        n = c->next;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

/* sq_acquire - an idle connection still on the configured file, or a new one */
static struct store_conn *sq_acquire(struct store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct store_conn *c;

    pthread_mutex_lock(&s->mu);
    if ((c = s->idle) != NULL) {
        s->idle = c->next;
        s->nidle--;
    }
    pthread_mutex_unlock(&s->mu);
    if (c != NULL && !same_file(s, c)) {
        conn_close(c); /* its file was removed or replaced */
        c = NULL;
    }
    if (c == NULL)
        c = conn_open(s);
    if (c != NULL)
        c->next = NULL;
    return c;
}

/* sq_release - back onto the idle stack (rolled back), or closed when broken or surplus */
static void sq_release(struct store *st, struct store_conn *c)
{
    struct sqlite_store *s = (struct sqlite_store *)st;

    if (!c->broken && !sqlite3_get_autocommit(c->db))
        exec(c, "ROLLBACK"); /* a transaction left open by a failed call */
    if (!c->broken) {
        pthread_mutex_lock(&s->mu);
        if (s->nidle < SQLITE_IDLE_MAX) {
            c->next = s->idle;
            s->idle = c;
            s->nidle++;
            c = NULL;
        }
        pthread_mutex_unlock(&s->mu);
    }
    conn_close(c);
}

/* sq_broken - the connection failed in a way a new one may not */
static int sq_broken(struct store_conn *c)
{
    return c->broken;
}

/* sq_schema_version - MAX(version) of schema_version, 0 without the table */
static int sq_schema_version(struct store_conn *c)
{
    sqlite3_stmt *st = NULL;
    int v = -1, rc;

    if (sqlite3_prepare_v2(c->db,
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                           " AND name = 'schema_version'",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(c, "schema version");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 0)
        v = 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return fail(c, "schema version");
    if (v == 0)
        return 0;
    if (sqlite3_prepare_v2(c->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &st,
                           NULL) != SQLITE_OK)
        return fail(c, "schema version");
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? v : fail(c, "schema version");
}

/* sq_migrate_step - one migration and its schema_version row in one transaction */
static int sq_migrate_step(struct store_conn *c, int to, long long now)
{
    char sql[128];
    const char *ddl = store_migration_sql(to, 0, now, sql, sizeof(sql));

    if (ddl == NULL)
        return -1;
    if (exec(c, "BEGIN IMMEDIATE") < 0)
        return -1;
    if (exec(c, ddl) < 0 || exec(c, sql) < 0 || exec(c, "COMMIT") < 0) {
        char why[512];

        sa_strlcpy(why, store_strerror(), sizeof(why));
        exec(c, "ROLLBACK");
        store_seterr("migration to version %d: %s", to, why);
        return -1;
    }
    return 0;
}

/* sq_get - the enforce flag of one key */
static enum store_lookup sq_get(struct store_conn *c, enum store_kind kind, const char *key,
                                int *enforce)
{
    sqlite3_stmt *st = stmt(c, &c->stmt[kind][S_GET], sql_kind[kind][S_GET]);
    int rc;

    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *enforce = sqlite3_column_int(st, 0) != 0;
        sqlite3_reset(st);
        return STORE_FOUND;
    }
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return STORE_NOTFOUND;
    }
    fail(c, "lookup");
    sqlite3_reset(st);
    return STORE_ERROR;
}

/* write_change - the row (upsert or delete) and, unless nothing was deleted, its event;
 * inside the caller's transaction */
static int write_change(struct store_conn *c, const struct store_change *ch, int *existed)
{
    sqlite3_stmt *st;
    const struct store_evidence *ev = ch->ev;

    if (ch->enforce < 0) {
        if ((st = stmt(c, &c->stmt[ch->kind][S_DEL], sql_kind[ch->kind][S_DEL])) == NULL)
            return -1;
        bind_text(st, 1, ch->subject);
        if (sqlite3_step(st) != SQLITE_DONE)
            return fail(c, "delete");
        *existed = sqlite3_changes(c->db) > 0;
        if (!*existed)
            return 0;
    } else {
        if ((st = stmt(c, &c->stmt[ch->kind][S_UPSERT], sql_kind[ch->kind][S_UPSERT])) == NULL)
            return -1;
        bind_text(st, 1, ch->subject);
        sqlite3_bind_int(st, 2, ch->enforce);
        sqlite3_bind_int64(st, 3, ch->now);
        bind_text(st, 4, ch->source);
        bind_text(st, 5, ch->note);
        if (sqlite3_step(st) != SQLITE_DONE)
            return fail(c, "write");
        *existed = 1;
    }
    if ((st = stmt(c, &c->event, sql_event)) == NULL)
        return -1;
    bind_text(st, 1, store_kind_name(ch->kind));
    bind_text(st, 2, ch->subject);
    if (ch->enforce < 0)
        sqlite3_bind_null(st, 3);
    else
        sqlite3_bind_int(st, 3, ch->enforce);
    sqlite3_bind_int64(st, 4, ch->now);
    bind_text(st, 5, ev->actor);
    bind_text(st, 6, ev->channel);
    bind_text(st, 7, ev->explanation_version);
    bind_text(st, 8, ev->scope_version);
    bind_text(st, 9, ch->note);
    if (sqlite3_step(st) != SQLITE_DONE)
        return fail(c, "event");
    return 0;
}

/* sq_put - one change and its event in one transaction */
static int sq_put(struct store_conn *c, const struct store_change *ch, int *existed)
{
    if (exec(c, "BEGIN IMMEDIATE") < 0)
        return -1;
    if (write_change(c, ch, existed) < 0) {
        char why[512];

        sa_strlcpy(why, store_strerror(), sizeof(why));
        exec(c, "ROLLBACK");
        store_seterr("%s", why);
        return -1;
    }
    return exec(c, "COMMIT");
}

/* sq_import_begin - the import transaction */
static int sq_import_begin(struct store_conn *c)
{
    return exec(c, "BEGIN IMMEDIATE");
}

/* sq_import_row - one import row and its event */
static int sq_import_row(struct store_conn *c, const struct store_change *ch, long line)
{
    int existed;

    return write_change(c, ch, &existed);
}

/* sq_import_end - commit or roll back the import */
static int sq_import_end(struct store_conn *c, int commit)
{
    if (commit)
        return exec(c, "COMMIT");
    if (!sqlite3_get_autocommit(c->db))
        return exec(c, "ROLLBACK");
    return 0;
}

/* sq_foreach - every row of one kind in key order */
static int sq_foreach(struct store_conn *c, enum store_kind kind, store_row_fn fn, void *arg)
{
    static const char *const sql[2] = {
        "SELECT address, enforce, updated_at, COALESCE(source, ''), COALESCE(note, '')"
        " FROM consent_user ORDER BY address",
        "SELECT domain, enforce, updated_at, COALESCE(source, ''), COALESCE(note, '')"
        " FROM consent_domain ORDER BY domain",
    };
    sqlite3_stmt *st = NULL;
    struct store_row row;
    int rc;

    if (sqlite3_prepare_v2(c->db, sql[kind], -1, &st, NULL) != SQLITE_OK)
        return fail(c, "export");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row.kind = kind;
        row.subject = (const char *)sqlite3_column_text(st, 0);
        row.enforce = sqlite3_column_int(st, 1) != 0;
        row.updated_at = sqlite3_column_int64(st, 2);
        row.source = (const char *)sqlite3_column_text(st, 3);
        row.note = (const char *)sqlite3_column_text(st, 4);
        if (fn(&row, arg) < 0) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    if (rc != SQLITE_DONE) {
        fail(c, "export");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

/* sq_stats - counts from one statement (one snapshot) */
static int sq_stats(struct store_conn *c, struct store_stats *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(c->db, store_stats_sql, -1, &st, NULL) != SQLITE_OK)
        return fail(c, "stats");
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->users = sqlite3_column_int64(st, 0);
        out->users_on = sqlite3_column_int64(st, 1);
        out->domains = sqlite3_column_int64(st, 2);
        out->domains_on = sqlite3_column_int64(st, 3);
        out->events = sqlite3_column_int64(st, 4);
        out->last_change = sqlite3_column_int64(st, 5);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : fail(c, "stats");
}

const struct store_ops store_sqlite_ops = {
    "sqlite",        sq_open,           sq_close,        sq_acquire, sq_release,
    sq_broken,       sq_schema_version, sq_migrate_step, sq_get,     sq_put,
    sq_import_begin, sq_import_row,     sq_import_end,   sq_foreach, sq_stats,
};
