/* store_history_pgsql.c - the PostgreSQL connection of the history side of the store:
 * one libpq connection from store.pg_conninfo (connect_timeout 5 s unless the conninfo
 * says otherwise, application_name senderauth-history), statements prepared once per
 * connection and found again by the address of their SQL text. A connection that is
 * no longer CONNECTION_OK is reported broken, so the caller makes a new one.
 * Owns that connection; not the SQL (store_history.c) or the schema (store_schema.c).
 * Threads: one connection, used by one thread at a time. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "store_hist_int.h"
#include "store_int.h"
#include "util/xalloc.h"

#define HIST_PG_STMTS 24

struct hist_conn {
    PGconn *pg;
    int broken;
    const char *sql[HIST_PG_STMTS]; /* prepared as "h<index>" */
    int nsql;
};

static int fail(struct hist_conn *c, const PGresult *res, const char *what);
static int prepared(struct hist_conn *c, const char *sql, char *name, size_t namelen);

/* fail - the server's or libpq's message on one line; a dead connection is broken */
static int fail(struct hist_conn *c, const PGresult *res, const char *what)
{
    const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
    char buf[512];
    size_t n;

    if (msg == NULL || *msg == '\0')
        msg = c->pg != NULL ? PQerrorMessage(c->pg) : "no connection";
    sa_strlcpy(buf, msg, sizeof(buf));
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
        c->broken = 1;
    store_seterr("postgresql: %s: %s", what, buf);
    return -1;
}

/* hp_open - connect now */
static struct hist_conn *hp_open(const struct sa_conf *conf)
{
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "senderauth-history", conf->store_pg_conninfo, NULL};
    struct hist_conn *c;

    if (conf->store_pg_conninfo == NULL || conf->store_pg_conninfo[0] == '\0') {
        store_seterr("postgresql store: store.pg_conninfo is empty");
        return NULL;
    }
    c = xcalloc(1, sizeof(*c));
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        fail(c, NULL, "connect");
        PQfinish(c->pg);
        free(c);
        return NULL;
    }
    return c;
}

/* hp_close - the connection */
static void hp_close(struct hist_conn *c)
{
    if (c == NULL)
        return;
    PQfinish(c->pg);
    free(c);
}

/* hp_broken - see store_hist_int.h */
static int hp_broken(struct hist_conn *c)
{
    return c->broken || PQstatus(c->pg) != CONNECTION_OK;
}

/* prepared - the name of sql's prepared statement on this connection, preparing it */
static int prepared(struct hist_conn *c, const char *sql, char *name, size_t namelen)
{
    PGresult *res;
    int i;

    for (i = 0; i < c->nsql; i++)
        if (c->sql[i] == sql) {
            snprintf(name, namelen, "h%d", i);
            return 0;
        }
    if (c->nsql == HIST_PG_STMTS) {
        store_seterr("postgresql: too many distinct statements");
        return -1;
    }
    snprintf(name, namelen, "h%d", c->nsql);
    res = PQprepare(c->pg, name, sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fail(c, res, "prepare");
        PQclear(res);
        return -1;
    }
    PQclear(res);
    c->sql[c->nsql++] = sql;
    return 0;
}

/* hp_run - see store_hist_int.h; rows are read one at a time (single-row mode), so a
 * large result is never held whole in memory */
static int hp_run(struct hist_conn *c, const char *sql, int n, const char *const *param,
                  hist_row_fn fn, void *arg, long long *changes)
{
    char name[16];
    const char *val[32];
    PGresult *res;
    ExecStatusType s;
    int ncol, rc = 0, failed = 0;

    if (prepared(c, sql, name, sizeof(name)) < 0)
        return -1;
    if (!PQsendQueryPrepared(c->pg, name, n, param, NULL, NULL, 0))
        return fail(c, NULL, "query");
    PQsetSingleRowMode(c->pg);
    while ((res = PQgetResult(c->pg)) != NULL) {
        s = PQresultStatus(res);
        if (s == PGRES_SINGLE_TUPLE && rc == 0 && fn != NULL) {
            ncol = PQnfields(res);
            if (ncol > 32)
                ncol = 32;
            for (int i = 0; i < ncol; i++)
                val[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
            rc = fn(ncol, val, arg);
        } else if (s == PGRES_COMMAND_OK && changes != NULL) {
            *changes = atoll(PQcmdTuples(res));
        } else if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK &&
                   !failed) {
            fail(c, res, "query");
            failed = 1;
        }
        PQclear(res);
    }
    if (!failed && PQstatus(c->pg) != CONNECTION_OK)
        failed = fail(c, NULL, "query") < 0;
    return failed ? -1 : rc;
}

/* hp_cmd - BEGIN / COMMIT / ROLLBACK */
static int hp_cmd(struct hist_conn *c, const char *sql)
{
    PGresult *res = PQexec(c->pg, sql);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail(c, res, sql);
    PQclear(res);
    return rc;
}

const struct hist_ops store_hist_pgsql_ops = {
    "postgresql", hp_open, hp_close, hp_broken, hp_run, hp_cmd,
};
