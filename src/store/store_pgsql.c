/* store_pgsql.c - the PostgreSQL backend of the consent store (store.backend =
 * "postgresql"): one database shared by a fleet of MTAs, reached with libpq.
 * Owns its connection pool and the SQL of each operation; not the schema text
 * (store_schema.c) or the lookup order (store.c).
 *
 * Threads and locking: a pool of store.pg_pool_size slots behind one mutex and one
 * condition variable. acquire waits (at most store.busy_timeout_ms, at least 1 s) for
 * a free slot and marks it taken; the mutex is never held during network I/O. A slot
 * connects lazily, outside the lock; a connection that fails (CONNECTION_BAD) is
 * closed at release, so the next acquire reconnects, and store.c retries a failed
 * lookup once on the fresh connection. A dead connection usually means the server
 * restarted, which killed the idle ones too (libpq notices only when it next uses
 * them): release marks them stale, and acquire reconnects a stale slot before use, so
 * that the retry never lands on another connection from before the restart.
 * A reader's prepare and lookup wait for the server at most store.busy_timeout_ms + 1 s
 * (its statement_timeout normally answers first): a server that accepts connections but
 * never answers (stopped, hung) makes the lookup fail instead of holding the message.
 * Connections use connect_timeout = 5 s unless the conninfo sets it. A store opened without
 * STORE_OPEN_WRITE (senderauthd) runs with statement_timeout = store.busy_timeout_ms and
 * default_transaction_read_only; a writable one with lock_timeout = store.busy_timeout_ms
 * and no statement limit; a read-only one opened with STORE_OPEN_BULK (export) has no
 * statement limit either. Statements are prepared once per connection on first use. One
 * change is one SQL statement (a data-modifying WITH writes the row and its event
 * atomically); an import streams rows with COPY into a temporary table and merges it in the
 * same transaction. */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "store_int.h"
#include "util/xalloc.h"

#define PG_WAIT_MIN_MS 1000
#define PG_ANSWER_MARGIN_MS 1000 /* a reader's wait for an answer beyond statement_timeout */
#define PG_COPY_BUF 65536

enum { P_GET, P_SET, P_DEL, P_NKIND };

struct store_conn {
    PGconn *pg;
    unsigned prepared; /* bit (kind * P_NKIND + P_*) */
    int broken;
    int stale; /* made before a connection died: reconnect before use */
    int taken;
    int answer_ms; /* wait for an answer at most this long; 0 = no bound (writers) */
    int in_copy;
    char *copybuf; /* import: rows not yet sent */
    size_t copylen;
    const struct store_evidence *ev; /* import: the evidence of every row */
    long long now;                   /* import: the time of every row */
};

struct pg_store {
    struct store head;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int size;
    struct store_conn *slot;
    char *conninfo;
    int timeout_ms;
    int answer_ms; /* readers: timeout_ms + PG_ANSWER_MARGIN_MS; others 0 */
    char options[64];
};

static const char *const sql_kind[2][P_NKIND] = {
    {"SELECT enforce FROM consent_user WHERE address = $1",
     "WITH r AS (INSERT INTO consent_user (address, enforce, updated_at, source, note)"
     " VALUES ($1, $2::smallint, $3::bigint, $4, $5) ON CONFLICT (address) DO UPDATE SET"
     " enforce = excluded.enforce, updated_at = excluded.updated_at,"
     " source = excluded.source, note = excluded.note RETURNING address)"
     " INSERT INTO consent_event (subject_kind, subject, enforce, at, actor, channel,"
     " explanation_version, scope_version, note)"
     " SELECT 'user', address, $2::smallint, $3::bigint, $6, $7, $8, $9, $5 FROM r",
     "WITH r AS (DELETE FROM consent_user WHERE address = $1 RETURNING address)"
     " INSERT INTO consent_event (subject_kind, subject, enforce, at, actor, channel,"
     " explanation_version, scope_version, note)"
     " SELECT 'user', address, NULL, $2::bigint, $3, $4, $5, $6, $7 FROM r"},
    {"SELECT enforce FROM consent_domain WHERE domain = $1",
     "WITH r AS (INSERT INTO consent_domain (domain, enforce, updated_at, source, note)"
     " VALUES ($1, $2::smallint, $3::bigint, $4, $5) ON CONFLICT (domain) DO UPDATE SET"
     " enforce = excluded.enforce, updated_at = excluded.updated_at,"
     " source = excluded.source, note = excluded.note RETURNING domain)"
     " INSERT INTO consent_event (subject_kind, subject, enforce, at, actor, channel,"
     " explanation_version, scope_version, note)"
     " SELECT 'domain', domain, $2::smallint, $3::bigint, $6, $7, $8, $9, $5 FROM r",
     "WITH r AS (DELETE FROM consent_domain WHERE domain = $1 RETURNING domain)"
     " INSERT INTO consent_event (subject_kind, subject, enforce, at, actor, channel,"
     " explanation_version, scope_version, note)"
     " SELECT 'domain', domain, NULL, $2::bigint, $3, $4, $5, $6, $7 FROM r"},
};

static int pgfail(struct store_conn *c, const PGresult *res, const char *what);
static int pg_connect(struct pg_store *s, struct store_conn *c);
static int cmd(struct store_conn *c, const char *sql, const char *what);
static int prepare(struct store_conn *c, enum store_kind kind, int which, char *name,
                   size_t namelen);
static PGresult *answer(struct store_conn *c, int sent, const char *what);
static long since_ms(const struct timespec *t0);
static void copy_add(struct store_conn *c, const char *s, int last);
static int copy_flush(struct store_conn *c, int force);

/* pgfail - the server's or libpq's message; a dead connection is marked broken */
static int pgfail(struct store_conn *c, const PGresult *res, const char *what)
{
    const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
    size_t n;
    char buf[512];

    if (msg == NULL || *msg == '\0')
        msg = c->pg != NULL ? PQerrorMessage(c->pg) : "no connection";
    sa_strlcpy(buf, msg, sizeof(buf));
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
        c->broken = 1;
    store_seterr("postgresql: %s: %s", what, buf);
    return -1;
}

/* pg_connect - one connection with our defaults in front of the operator's conninfo */
static int pg_connect(struct pg_store *s, struct store_conn *c)
{
    const char *keys[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    const char *vals[] = {"5", "senderauth", s->options, s->conninfo, NULL};

    c->pg = PQconnectdbParams(keys, vals, 1);
    c->prepared = 0;
    c->broken = 0;
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        pgfail(c, NULL, "connect");
        PQfinish(c->pg);
        c->pg = NULL;
        c->broken = 0;
        return -1;
    }
    return 0;
}

/* cmd - a command without rows */
static int cmd(struct store_conn *c, const char *sql, const char *what)
{
    PGresult *res = PQexec(c->pg, sql);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pgfail(c, res, what);
    PQclear(res);
    return rc;
}

/* prepare - the statement of (kind, which) on this connection; its name in name */
static int prepare(struct store_conn *c, enum store_kind kind, int which, char *name,
                   size_t namelen)
{
    unsigned bit = 1u << (kind * P_NKIND + which);
    PGresult *res;

    snprintf(name, namelen, "sa_%d_%d", (int)kind, which);
    if ((c->prepared & bit) != 0)
        return 0;
    res = answer(c, PQsendPrepare(c->pg, name, sql_kind[kind][which], 0, NULL), "prepare");
    if (res == NULL)
        return -1;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pgfail(c, res, "prepare");
        PQclear(res);
        return -1;
    }
    PQclear(res);
    c->prepared |= bit;
    return 0;
}

/* since_ms - milliseconds since t0 (monotonic) */
static long since_ms(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* answer - the last result of the command just sent (sent: its PQsend* return), waiting
 * at most c->answer_ms; NULL when it could not be sent, the connection was lost, or the
 * server did not answer in time (the connection is then broken: closed at release) */
static PGresult *answer(struct store_conn *c, int sent, const char *what)
{
    PGresult *res, *last = NULL;
    struct timespec t0;

    if (sent != 1) {
        pgfail(c, NULL, what);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
        long left = c->answer_ms > 0 ? c->answer_ms - since_ms(&t0) : -1;
        int n;

        while (!PQisBusy(c->pg)) {
            if ((res = PQgetResult(c->pg)) == NULL)
                return last;
            PQclear(last);
            last = res;
        }
        if (c->answer_ms > 0 && left <= 0)
            break;
        n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && PQconsumeInput(c->pg) == 0) {
            PQclear(last);
            pgfail(c, NULL, what);
            return NULL;
        }
    }
    PQclear(last);
    c->broken = 1;
    store_seterr("postgresql: %s: no answer from the server within %d ms", what, c->answer_ms);
    return NULL;
}

/* pg_open - the pool, with one connection made now */
static struct store *pg_open(const struct sa_conf *conf, int flags, char *err, size_t errlen)
{
    struct pg_store *s;
    struct store_conn *c;

    if (conf->store_pg_conninfo == NULL || conf->store_pg_conninfo[0] == '\0') {
        snprintf(err, errlen, "postgresql store: store.pg_conninfo is empty");
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->head.ops = &store_pgsql_ops;
    s->head.flags = flags;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->size = conf->store_pg_pool_size > 0 ? conf->store_pg_pool_size : 1;
    s->slot = xcalloc((size_t)s->size, sizeof(*s->slot));
    s->conninfo = xstrdup(conf->store_pg_conninfo);
    s->timeout_ms = conf->store_busy_timeout_ms;
    /* readers (senderauthd) bound every query; writers only their wait for locks, so
     * that a bulk import may take as long as it needs */
    if ((flags & STORE_OPEN_WRITE) != 0)
        snprintf(s->options, sizeof(s->options), "-c lock_timeout=%d", s->timeout_ms);
    else if ((flags & STORE_OPEN_BULK) != 0)
        snprintf(s->options, sizeof(s->options), "-c default_transaction_read_only=on");
    else
        snprintf(s->options, sizeof(s->options),
                 "-c statement_timeout=%d -c default_transaction_read_only=on", s->timeout_ms);
    if ((flags & (STORE_OPEN_WRITE | STORE_OPEN_BULK)) == 0)
        s->answer_ms = s->timeout_ms + PG_ANSWER_MARGIN_MS;
    /* connect one slot now, so that a wrong conninfo is reported at start */
    if ((c = store_pgsql_ops.acquire(&s->head)) == NULL) {
        snprintf(err, errlen, "%s", store_strerror());
        store_pgsql_ops.close(&s->head);
        return NULL;
    }
    store_pgsql_ops.release(&s->head, c);
    return &s->head;
}

/* pg_close - every connection and the pool */
static void pg_close(struct store *st)
{
    struct pg_store *s = (struct pg_store *)st;

    for (int i = 0; i < s->size; i++) {
        PQfinish(s->slot[i].pg);
        free(s->slot[i].copybuf);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->slot);
    free(s->conninfo);
    free(s);
}

/* pg_acquire - a free slot (waiting a bounded time), connected if it was not */
static struct store_conn *pg_acquire(struct store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    struct store_conn *c = NULL;
    struct timespec until;
    long ms = s->timeout_ms > PG_WAIT_MIN_MS ? s->timeout_ms : PG_WAIT_MIN_MS;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        /* prefer a connected slot */
        for (int i = 0; i < s->size && c == NULL; i++)
            if (!s->slot[i].taken && s->slot[i].pg != NULL)
                c = &s->slot[i];
        for (int i = 0; i < s->size && c == NULL; i++)
            if (!s->slot[i].taken)
                c = &s->slot[i];
        if (c != NULL)
            break;
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->mu);
            store_seterr("postgresql: all %d connections busy for %ld ms", s->size, ms);
            return NULL;
        }
    }
    c->taken = 1;
    pthread_mutex_unlock(&s->mu);
    if (c->pg != NULL && (c->stale || PQstatus(c->pg) != CONNECTION_OK)) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->stale = 0;
    c->answer_ms = s->answer_ms;
    if (c->pg == NULL && pg_connect(s, c) < 0) {
        pthread_mutex_lock(&s->mu);
        c->taken = 0;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    c->broken = 0;
    return c;
}

/* pg_release - free the slot; a broken connection or one left in a transaction is closed */
static void pg_release(struct store *st, struct store_conn *c)
{
    struct pg_store *s = (struct pg_store *)st;
    int died = c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK;

    if (!c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        c->broken = 1; /* a failed call left a transaction: start clean */
    if (c->broken) {
        PQfinish(c->pg);
        c->pg = NULL;
        c->broken = 0;
    }
    c->in_copy = 0;
    c->copylen = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; died && i < s->size; i++)
        if (!s->slot[i].taken && s->slot[i].pg != NULL)
            s->slot[i].stale = 1; /* the same server restart killed them too */
    c->taken = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* pg_broken - the connection died (CONNECTION_BAD) */
static int pg_broken(struct store_conn *c)
{
    return c->broken;
}

/* pg_schema_version - MAX(version) of schema_version, 0 without the table */
static int pg_schema_version(struct store_conn *c)
{
    PGresult *res = PQexec(c->pg, "SELECT to_regclass('schema_version') IS NOT NULL");
    int v;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        pgfail(c, res, "schema version");
        PQclear(res);
        return -1;
    }
    v = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!v)
        return 0;
    res = PQexec(c->pg, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        pgfail(c, res, "schema version");
        PQclear(res);
        return -1;
    }
    v = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

/* pg_migrate_step - one migration and its schema_version row in one transaction */
static int pg_migrate_step(struct store_conn *c, int to, long long now)
{
    char sql[128], why[512];
    const char *ddl = store_migration_sql(to, 1, now, sql, sizeof(sql));

    if (ddl == NULL)
        return -1;
    if (cmd(c, "BEGIN", "migrate") < 0)
        return -1;
    if (cmd(c, ddl, "migrate") < 0 || cmd(c, sql, "migrate") < 0 ||
        cmd(c, "COMMIT", "migrate") < 0) {
        sa_strlcpy(why, store_strerror(), sizeof(why));
        cmd(c, "ROLLBACK", "migrate");
        store_seterr("migration to version %d: %s", to, why);
        return -1;
    }
    return 0;
}

/* pg_get - the enforce flag of one key */
static enum store_lookup pg_get(struct store_conn *c, enum store_kind kind, const char *key,
                                int *enforce)
{
    char name[32];
    PGresult *res;
    enum store_lookup r;

    if (prepare(c, kind, P_GET, name, sizeof(name)) < 0)
        return STORE_ERROR;
    res = answer(c, PQsendQueryPrepared(c->pg, name, 1, &key, NULL, NULL, 0), "lookup");
    if (res == NULL)
        return STORE_ERROR;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pgfail(c, res, "lookup");
        r = STORE_ERROR;
    } else if (PQntuples(res) == 0) {
        r = STORE_NOTFOUND;
    } else {
        *enforce = atoi(PQgetvalue(res, 0, 0)) != 0;
        r = STORE_FOUND;
    }
    PQclear(res);
    return r;
}

/* pg_put - one change and its event in one statement */
static int pg_put(struct store_conn *c, const struct store_change *ch, int *existed)
{
    const struct store_evidence *ev = ch->ev;
    char name[32], en[4], now[24];
    const char *p[9];
    int np;
    PGresult *res;

    snprintf(en, sizeof(en), "%d", ch->enforce);
    snprintf(now, sizeof(now), "%lld", ch->now);
    if (ch->enforce < 0) {
        const char *v[] = {
            ch->subject,       now,     ev->actor, ev->channel, ev->explanation_version,
            ev->scope_version, ch->note};

        np = 7;
        memcpy(p, v, sizeof(v));
        if (prepare(c, ch->kind, P_DEL, name, sizeof(name)) < 0)
            return -1;
    } else {
        const char *v[] = {ch->subject,      en,        now,         ch->source,
                           ch->note,         ev->actor, ev->channel, ev->explanation_version,
                           ev->scope_version};

        np = 9;
        memcpy(p, v, sizeof(v));
        if (prepare(c, ch->kind, P_SET, name, sizeof(name)) < 0)
            return -1;
    }
    res = PQexecPrepared(c->pg, name, np, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pgfail(c, res, "write");
        PQclear(res);
        return -1;
    }
    *existed = atoi(PQcmdTuples(res)) > 0;
    PQclear(res);
    return 0;
}

/* pg_import_begin - transaction, temporary table, COPY started */
static int pg_import_begin(struct store_conn *c)
{
    PGresult *res;

    if (cmd(c, "BEGIN", "import") < 0 ||
        cmd(c,
            "CREATE TEMP TABLE sa_import (subject_kind text, subject text, enforce smallint,"
            " source text, note text, line bigint) ON COMMIT DROP",
            "import") < 0)
        return -1;
    res = PQexec(c->pg, "COPY sa_import FROM STDIN");
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        pgfail(c, res, "import");
        PQclear(res);
        return -1;
    }
    PQclear(res);
    c->in_copy = 1;
    c->copylen = 0;
    c->ev = NULL;
    if (c->copybuf == NULL)
        c->copybuf = xmalloc(PG_COPY_BUF);
    return 0;
}

/* copy_add - one field in COPY text format (\N for NULL), then a tab or a newline */
static void copy_add(struct store_conn *c, const char *s, int last)
{
    char *o = c->copybuf + c->copylen;

    if (s == NULL) {
        *o++ = '\\';
        *o++ = 'N';
    } else {
        for (; *s; s++) {
            switch (*s) {
            case '\\':
                *o++ = '\\';
                *o++ = '\\';
                break;
            case '\t':
                *o++ = '\\';
                *o++ = 't';
                break;
            case '\n':
                *o++ = '\\';
                *o++ = 'n';
                break;
            case '\r':
                *o++ = '\\';
                *o++ = 'r';
                break;
            default:
                *o++ = *s;
            }
        }
    }
    *o++ = last ? '\n' : '\t';
    c->copylen = (size_t)(o - c->copybuf);
}

/* copy_flush - send the buffer when the next row might not fit (or always) */
static int copy_flush(struct store_conn *c, int force)
{
    if (c->copylen == 0 || (!force && PG_COPY_BUF - c->copylen > 4 * (STORE_TEXT_MAX + 64) + 64))
        return 0;
    if (PQputCopyData(c->pg, c->copybuf, (int)c->copylen) != 1)
        return pgfail(c, NULL, "import");
    c->copylen = 0;
    return 0;
}

/* pg_import_row - one row into the COPY stream */
static int pg_import_row(struct store_conn *c, const struct store_change *ch, long line)
{
    char en[4], ln[24];

    /* each text field is at most STORE_TEXT_MAX and doubles when escaped */
    if ((ch->source != NULL && strlen(ch->source) > STORE_TEXT_MAX) ||
        (ch->note != NULL && strlen(ch->note) > STORE_TEXT_MAX) ||
        strlen(ch->subject) >= STORE_ADDR_MAX) {
        store_seterr("field longer than %d", STORE_TEXT_MAX);
        return -1;
    }
    c->ev = ch->ev;
    c->now = ch->now;
    snprintf(en, sizeof(en), "%d", ch->enforce);
    snprintf(ln, sizeof(ln), "%ld", line);
    copy_add(c, store_kind_name(ch->kind), 0);
    copy_add(c, ch->subject, 0);
    copy_add(c, en, 0);
    copy_add(c, ch->source, 0);
    copy_add(c, ch->note, 0);
    copy_add(c, ln, 1);
    return copy_flush(c, 0);
}

/* pg_import_end - end the COPY, merge into the tables with events, commit; or roll back */
static int pg_import_end(struct store_conn *c, int commit)
{
    static const char *const merge[] = {
        "INSERT INTO consent_user (address, enforce, updated_at, source, note)"
        " SELECT DISTINCT ON (subject) subject, enforce, $1::bigint, source, note FROM sa_import"
        " WHERE subject_kind = 'user' ORDER BY subject, line DESC"
        " ON CONFLICT (address) DO UPDATE SET enforce = excluded.enforce,"
        " updated_at = excluded.updated_at, source = excluded.source, note = excluded.note",
        "INSERT INTO consent_domain (domain, enforce, updated_at, source, note)"
        " SELECT DISTINCT ON (subject) subject, enforce, $1::bigint, source, note FROM sa_import"
        " WHERE subject_kind = 'domain' ORDER BY subject, line DESC"
        " ON CONFLICT (domain) DO UPDATE SET enforce = excluded.enforce,"
        " updated_at = excluded.updated_at, source = excluded.source, note = excluded.note",
        "INSERT INTO consent_event (subject_kind, subject, enforce, at, actor, channel,"
        " explanation_version, scope_version, note)"
        " SELECT subject_kind, subject, enforce, $1::bigint, $2, $3, $4, $5, note"
        " FROM sa_import ORDER BY line",
    };
    PGresult *res;
    int rc = 0;

    if (c->in_copy) {
        c->in_copy = 0;
        if (commit && copy_flush(c, 1) < 0)
            commit = 0;
        if (PQputCopyEnd(c->pg, commit ? NULL : "import abandoned") != 1)
            return pgfail(c, NULL, "import");
        while ((res = PQgetResult(c->pg)) != NULL) {
            if (commit && PQresultStatus(res) != PGRES_COMMAND_OK)
                rc = pgfail(c, res, "import");
            PQclear(res);
        }
        if (rc < 0)
            commit = 0;
    }
    if (!commit) {
        cmd(c, "ROLLBACK", "import");
        return rc;
    }
    if (c->ev != NULL) {
        char now[24];
        const char *p[] = {now, c->ev->actor, c->ev->channel, c->ev->explanation_version,
                           c->ev->scope_version};

        snprintf(now, sizeof(now), "%lld", c->now);
        for (size_t i = 0; i < sizeof(merge) / sizeof(merge[0]) && rc == 0; i++) {
            res = PQexecParams(c->pg, merge[i], i == 2 ? 5 : 1, NULL, p, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                rc = pgfail(c, res, "import");
            PQclear(res);
        }
    }
    if (rc < 0) {
        cmd(c, "ROLLBACK", "import");
        return -1;
    }
    return cmd(c, "COMMIT", "import");
}

/* pg_foreach - every row of one kind in key order, one row in memory at a time */
static int pg_foreach(struct store_conn *c, enum store_kind kind, store_row_fn fn, void *arg)
{
    static const char *const sql[2] = {
        "SELECT address, enforce, updated_at, COALESCE(source, ''), COALESCE(note, '')"
        " FROM consent_user ORDER BY address COLLATE \"C\"",
        "SELECT domain, enforce, updated_at, COALESCE(source, ''), COALESCE(note, '')"
        " FROM consent_domain ORDER BY domain COLLATE \"C\"",
    };
    struct store_row row;
    PGresult *res;
    int rc = 0, stop = 0;

    if (PQsendQuery(c->pg, sql[kind]) != 1 || PQsetSingleRowMode(c->pg) != 1)
        return pgfail(c, NULL, "export");
    while ((res = PQgetResult(c->pg)) != NULL) {
        ExecStatusType t = PQresultStatus(res);

        if (t == PGRES_SINGLE_TUPLE && !stop) {
            row.kind = kind;
            row.subject = PQgetvalue(res, 0, 0);
            row.enforce = atoi(PQgetvalue(res, 0, 1)) != 0;
            row.updated_at = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
            row.source = PQgetvalue(res, 0, 3);
            row.note = PQgetvalue(res, 0, 4);
            if (fn(&row, arg) < 0) {
                stop = 1;
                rc = -1;
            }
        } else if (t != PGRES_SINGLE_TUPLE && t != PGRES_TUPLES_OK && rc == 0) {
            rc = pgfail(c, res, "export");
        }
        PQclear(res);
    }
    return rc;
}

/* pg_stats - counts from one statement (one snapshot) */
static int pg_stats(struct store_conn *c, struct store_stats *out)
{
    PGresult *res = PQexec(c->pg, store_stats_sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        pgfail(c, res, "stats");
        PQclear(res);
        return -1;
    }
    out->users = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    out->users_on = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    out->domains = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    out->domains_on = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    out->events = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    out->last_change = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    PQclear(res);
    return 0;
}

const struct store_ops store_pgsql_ops = {
    "postgresql",    pg_open,           pg_close,        pg_acquire, pg_release,
    pg_broken,       pg_schema_version, pg_migrate_step, pg_get,     pg_put,
    pg_import_begin, pg_import_row,     pg_import_end,   pg_foreach, pg_stats,
};
