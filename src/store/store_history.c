/* store_history.c - the history side of the store (issue 10): append DMARC evaluation
 * rows in batches, read them back aggregated for RFC 9990 reports and statistics, and
 * keep the report log and the per-destination failure counts. One SQL text serves both
 * backends (store_hist_int.h); the backends only run it.
 * Owns that SQL and the reconnect rule; not the tables' definition (store_schema.c) nor
 * the consent side (store.c).
 * Threads: a struct store_history is one connection, used by one thread at a time; the
 * conf it was opened with must outlive it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "store_hist_int.h"
#include "store_int.h"
#include "util/xalloc.h"

#define NCOLS 28

struct store_history {
    const struct hist_ops *ops;
    const struct sa_conf *conf;
    struct hist_conn *c; /* NULL after a failure until the next call */
};

static const char sql_insert[] =
    "INSERT INTO dmarc_history (at, source_ip, env_from, header_from, policy_domain,"
    " spf_domain, spf_scope, spf_result, dkim, dmarc_result, dkim_aligned, spf_aligned,"
    " p, sp, np, pct, testing, adkim, aspf, disposition, reason, reason_comment, discovery,"
    " rua, action, would, rcpt_consent, rcpt_total) VALUES (CAST($1 AS BIGINT), $2, $3, $4,"
    " $5, $6, $7, $8, $9, $10, CAST($11 AS INTEGER), CAST($12 AS INTEGER), $13, $14, $15,"
    " CAST($16 AS INTEGER), CAST($17 AS INTEGER), $18, $19, $20, $21, $22, $23, $24, $25, $26,"
    " CAST($27 AS INTEGER), CAST($28 AS INTEGER))";
static const char sql_version[] = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
static const char sql_policies[] =
    "SELECT h.policy_domain, h.p, h.sp, h.np, h.adkim, h.aspf, h.discovery, h.rua, h.pct,"
    " h.testing, g.n FROM dmarc_history h JOIN (SELECT policy_domain, MAX(id) AS id,"
    " count(*) AS n FROM dmarc_history WHERE at >= CAST($1 AS BIGINT)"
    " AND at < CAST($2 AS BIGINT) AND policy_domain <> '' AND rua <> ''"
    " AND action <> 'tempfail' GROUP BY policy_domain) g ON h.id = g.id ORDER BY h.policy_domain";
static const char sql_groups[] =
    "SELECT source_ip, header_from, env_from, spf_domain, spf_scope, spf_result, dkim,"
    " disposition, reason, reason_comment, dkim_aligned, spf_aligned, count(*)"
    " FROM dmarc_history WHERE policy_domain = $1 AND at >= CAST($2 AS BIGINT)"
    " AND at < CAST($3 AS BIGINT) AND rua <> '' AND action <> 'tempfail'"
    " GROUP BY source_ip, header_from, env_from,"
    " spf_domain, spf_scope, spf_result, dkim, disposition, reason, reason_comment,"
    " dkim_aligned, spf_aligned ORDER BY source_ip, header_from, env_from, disposition, dkim,"
    " spf_result, reason";
#define RANGE " FROM dmarc_history WHERE at >= CAST($1 AS BIGINT) AND at < CAST($2 AS BIGINT)"
static const char sql_count_all[] = "SELECT '', count(*)" RANGE;
static const char sql_count_spf[] =
    "SELECT spf_result, count(*)" RANGE " GROUP BY spf_result ORDER BY spf_result";
static const char sql_count_dkim[] =
    "SELECT k, count(*) FROM (SELECT CASE WHEN dkim = '' THEN 'none'"
    " WHEN dkim LIKE 'pass:%' OR dkim LIKE '% pass:%' THEN 'pass' ELSE 'fail' END AS k" RANGE
    ") t GROUP BY k ORDER BY k";
static const char sql_count_dmarc[] =
    "SELECT dmarc_result, count(*)" RANGE " GROUP BY dmarc_result ORDER BY dmarc_result";
static const char sql_count_action[] =
    "SELECT action, count(*)" RANGE " GROUP BY action ORDER BY action";
static const char sql_count_would[] =
    "SELECT would, count(*)" RANGE " GROUP BY would ORDER BY would";
static const char sql_count_disp[] =
    "SELECT disposition, count(*)" RANGE " GROUP BY disposition ORDER BY disposition";
static const char sql_count_reason[] =
    "SELECT reason, count(*)" RANGE " AND reason <> '' GROUP BY reason ORDER BY reason";
static const char sql_count_consent[] =
    "SELECT 'consenting', COALESCE(SUM(rcpt_consent), 0)" RANGE
    " UNION ALL SELECT 'total', COALESCE(SUM(rcpt_total), 0)" RANGE;
static const char sql_count_report[] =
    "SELECT status, count(*) FROM report_log WHERE at >= CAST($1 AS BIGINT)"
    " AND at < CAST($2 AS BIGINT) GROUP BY status ORDER BY status";
#undef RANGE
static const char sql_purge[] = "DELETE FROM dmarc_history WHERE at < CAST($1 AS BIGINT)";
static const char sql_log[] =
    "INSERT INTO report_log (at, begin_at, end_at, policy_domain, dest, report_id, status,"
    " detail, bytes) VALUES (CAST($1 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS BIGINT), $4,"
    " $5, $6, $7, $8, CAST($9 AS BIGINT))";
static const char sql_dest_get[] = "SELECT failures, last_at FROM report_dest WHERE dest = $1";
static const char sql_dest_ok[] = "DELETE FROM report_dest WHERE dest = $1";
static const char sql_dest_fail[] =
    "INSERT INTO report_dest (dest, failures, last_at, last_error) VALUES ($1, 1,"
    " CAST($2 AS BIGINT), $3) ON CONFLICT (dest) DO UPDATE SET failures ="
    " report_dest.failures + 1, last_at = excluded.last_at, last_error = excluded.last_error";

static const struct {
    const char *name;
    const char *sql;
} count_sql[] = {
    {"all", sql_count_all},          {"spf_result", sql_count_spf},
    {"dkim_pass", sql_count_dkim},   {"dmarc_result", sql_count_dmarc},
    {"action", sql_count_action},    {"would", sql_count_would},
    {"disposition", sql_count_disp}, {"reason", sql_count_reason},
    {"consent", sql_count_consent},  {"report_status", sql_count_report},
};

struct cb {
    void *fn;
    void *arg;
    long long n[2];
};

static struct hist_conn *conn(struct store_history *h);
static int after(struct store_history *h, int rc);
static int one_int(int ncol, const char *const *val, void *arg);
static int policy_row(int ncol, const char *const *val, void *arg);
static int group_row(int ncol, const char *const *val, void *arg);
static int count_row(int ncol, const char *const *val, void *arg);
static const char *s0(const char *s);

/* s0 - NULL as "" */
static const char *s0(const char *s)
{
    return s != NULL ? s : "";
}

/* conn - the connection, made (and its schema checked) if there is none */
static struct hist_conn *conn(struct store_history *h)
{
    struct cb v = {NULL, NULL, {-1, 0}};

    if (h->c != NULL && !h->ops->broken(h->c))
        return h->c;
    h->ops->close(h->c);
    if ((h->c = h->ops->open(h->conf)) == NULL)
        return NULL;
    if (h->ops->run(h->c, sql_version, 0, NULL, one_int, &v, NULL) < 0) {
        h->c = (h->ops->close(h->c), NULL);
        return NULL;
    }
    if (v.n[0] < STORE_SCHEMA_VERSION || v.n[0] > STORE_SCHEMA_VERSION) {
        store_seterr("%s store: schema version %lld, this program needs %d (run \"senderauthctl "
                     "migrate\")",
                     h->ops->name, v.n[0], STORE_SCHEMA_VERSION);
        h->c = (h->ops->close(h->c), NULL);
        return NULL;
    }
    return h->c;
}

/* after - drop a broken connection so that the next call makes a new one */
static int after(struct store_history *h, int rc)
{
    if (rc < 0 && h->c != NULL && h->ops->broken(h->c))
        h->c = (h->ops->close(h->c), NULL);
    return rc;
}

/* one_int - the first column of the first row into n[0] (and the second into n[1]) */
static int one_int(int ncol, const char *const *val, void *arg)
{
    struct cb *v = arg;

    v->n[0] = atoll(s0(val[0]));
    if (ncol > 1)
        v->n[1] = atoll(s0(val[1]));
    return 0;
}

/* store_history_open - see store.h */
struct store_history *store_history_open(const struct sa_conf *conf, char *err, size_t errlen)
{
    struct store_history *h = xcalloc(1, sizeof(*h));

    h->ops = conf->store_backend == CONF_STORE_POSTGRESQL ? &store_hist_pgsql_ops
                                                          : &store_hist_sqlite_ops;
    h->conf = conf;
    if (conn(h) == NULL) {
        snprintf(err, errlen, "%s", store_strerror());
        free(h);
        return NULL;
    }
    return h;
}

/* store_history_close - see store.h */
struct store_history *store_history_close(struct store_history *h)
{
    if (h != NULL) {
        h->ops->close(h->c);
        free(h);
    }
    return NULL;
}

/* store_history_insert - see store.h */
int store_history_insert(struct store_history *h, const struct store_hist_row *rows, int n)
{
    struct hist_conn *c;
    char num[7][24];
    const char *p[NCOLS];
    char why[512];

    if (n <= 0)
        return 0;
    if ((c = conn(h)) == NULL)
        return -1;
    if (h->ops->cmd(c, "BEGIN") < 0)
        return after(h, -1);
    for (int i = 0; i < n; i++) {
        const struct store_hist_row *r = &rows[i];

        snprintf(num[0], sizeof(num[0]), "%lld", r->at);
        snprintf(num[1], sizeof(num[1]), "%d", r->dkim_aligned != 0);
        snprintf(num[2], sizeof(num[2]), "%d", r->spf_aligned != 0);
        snprintf(num[3], sizeof(num[3]), "%d", r->pct);
        snprintf(num[4], sizeof(num[4]), "%d", r->testing != 0);
        snprintf(num[5], sizeof(num[5]), "%d", r->rcpt_consent);
        snprintf(num[6], sizeof(num[6]), "%d", r->rcpt_total);
        p[0] = num[0], p[1] = r->source_ip, p[2] = r->env_from, p[3] = r->header_from;
        p[4] = r->policy_domain, p[5] = r->spf_domain, p[6] = r->spf_scope;
        p[7] = r->spf_result, p[8] = r->dkim, p[9] = r->dmarc_result, p[10] = num[1];
        p[11] = num[2], p[12] = r->p, p[13] = r->sp, p[14] = r->np, p[15] = num[3];
        p[16] = num[4], p[17] = r->adkim, p[18] = r->aspf, p[19] = r->disposition;
        p[20] = r->reason, p[21] = r->reason_comment, p[22] = r->discovery, p[23] = r->rua;
        p[24] = r->action, p[25] = r->would, p[26] = num[5], p[27] = num[6];
        if (h->ops->run(c, sql_insert, NCOLS, p, NULL, NULL, NULL) < 0) {
            sa_strlcpy(why, store_strerror(), sizeof(why));
            if (!h->ops->broken(c))
                h->ops->cmd(c, "ROLLBACK");
            store_seterr("%s", why);
            return after(h, -1);
        }
    }
    return after(h, h->ops->cmd(c, "COMMIT"));
}

/* policy_row - one row of sql_policies */
static int policy_row(int ncol, const char *const *val, void *arg)
{
    struct cb *cb = arg;
    struct store_hist_policy p;

    p.policy_domain = s0(val[0]), p.p = s0(val[1]), p.sp = s0(val[2]), p.np = s0(val[3]);
    p.adkim = s0(val[4]), p.aspf = s0(val[5]), p.discovery = s0(val[6]), p.rua = s0(val[7]);
    p.pct = atoi(s0(val[8]));
    p.testing = atoi(s0(val[9]));
    p.rows = atoll(s0(val[10]));
    return ((store_hist_policy_fn)cb->fn)(&p, cb->arg);
}

/* store_history_policies - see store.h */
int store_history_policies(struct store_history *h, long long from, long long to,
                           store_hist_policy_fn fn, void *arg)
{
    struct cb cb = {(void *)fn, arg, {0, 0}};
    char a[24], b[24];
    const char *p[2] = {a, b};
    struct hist_conn *c = conn(h);

    if (c == NULL)
        return -1;
    snprintf(a, sizeof(a), "%lld", from);
    snprintf(b, sizeof(b), "%lld", to);
    return after(h, h->ops->run(c, sql_policies, 2, p, policy_row, &cb, NULL));
}

/* group_row - one row of sql_groups */
static int group_row(int ncol, const char *const *val, void *arg)
{
    struct cb *cb = arg;
    struct store_hist_group g;

    g.policy_domain = "";
    g.source_ip = s0(val[0]), g.header_from = s0(val[1]), g.env_from = s0(val[2]);
    g.spf_domain = s0(val[3]), g.spf_scope = s0(val[4]), g.spf_result = s0(val[5]);
    g.dkim = s0(val[6]), g.disposition = s0(val[7]), g.reason = s0(val[8]);
    g.reason_comment = s0(val[9]);
    g.dkim_aligned = atoi(s0(val[10]));
    g.spf_aligned = atoi(s0(val[11]));
    g.count = atoll(s0(val[12]));
    return ((store_hist_group_fn)cb->fn)(&g, cb->arg);
}

/* store_history_groups - see store.h */
int store_history_groups(struct store_history *h, const char *policy_domain, long long from,
                         long long to, store_hist_group_fn fn, void *arg)
{
    struct cb cb = {(void *)fn, arg, {0, 0}};
    char a[24], b[24];
    const char *p[3] = {policy_domain, a, b};
    struct hist_conn *c = conn(h);

    if (c == NULL)
        return -1;
    snprintf(a, sizeof(a), "%lld", from);
    snprintf(b, sizeof(b), "%lld", to);
    return after(h, h->ops->run(c, sql_groups, 3, p, group_row, &cb, NULL));
}

/* count_row - one (key, count) row */
static int count_row(int ncol, const char *const *val, void *arg)
{
    struct cb *cb = arg;

    return ((store_hist_count_fn)cb->fn)(s0(val[0]), atoll(s0(val[1])), cb->arg);
}

/* store_history_count - see store.h */
int store_history_count(struct store_history *h, const char *column, long long from, long long to,
                        store_hist_count_fn fn, void *arg)
{
    struct cb cb = {(void *)fn, arg, {0, 0}};
    char a[24], b[24];
    const char *p[2] = {a, b};
    const char *sql = NULL;
    struct hist_conn *c;

    for (size_t i = 0; i < sizeof(count_sql) / sizeof(count_sql[0]); i++)
        if (strcmp(count_sql[i].name, column) == 0)
            sql = count_sql[i].sql;
    if (sql == NULL) {
        store_seterr("unknown history count \"%s\"", column);
        return -1;
    }
    if ((c = conn(h)) == NULL)
        return -1;
    snprintf(a, sizeof(a), "%lld", from);
    snprintf(b, sizeof(b), "%lld", to);
    return after(h, h->ops->run(c, sql, 2, p, count_row, &cb, NULL));
}

/* store_history_purge - see store.h */
int store_history_purge(struct store_history *h, long long before, long long *n)
{
    char a[24];
    const char *p[1] = {a};
    long long changes = 0;
    struct hist_conn *c = conn(h);
    int rc;

    if (c == NULL)
        return -1;
    snprintf(a, sizeof(a), "%lld", before);
    rc = after(h, h->ops->run(c, sql_purge, 1, p, NULL, NULL, &changes));
    if (n != NULL)
        *n = rc == 0 ? changes : 0;
    return rc;
}

/* store_report_log - see store.h */
int store_report_log(struct store_history *h, const struct store_report_event *ev)
{
    char a[24], b[24], e[24], n[24];
    const char *p[9];
    struct hist_conn *c = conn(h);

    if (c == NULL)
        return -1;
    snprintf(a, sizeof(a), "%lld", ev->at);
    snprintf(b, sizeof(b), "%lld", ev->begin);
    snprintf(e, sizeof(e), "%lld", ev->end);
    snprintf(n, sizeof(n), "%lld", ev->bytes);
    p[0] = a, p[1] = b, p[2] = e, p[3] = s0(ev->policy_domain), p[4] = s0(ev->dest);
    p[5] = s0(ev->report_id), p[6] = s0(ev->status), p[7] = s0(ev->detail), p[8] = n;
    return after(h, h->ops->run(c, sql_log, 9, p, NULL, NULL, NULL));
}

/* store_report_dest_get - see store.h */
int store_report_dest_get(struct store_history *h, const char *dest, int *failures,
                          long long *last_at)
{
    struct cb v = {NULL, NULL, {0, 0}};
    const char *p[1] = {dest};
    struct hist_conn *c = conn(h);

    *failures = 0;
    *last_at = 0;
    if (c == NULL)
        return -1;
    if (after(h, h->ops->run(c, sql_dest_get, 1, p, one_int, &v, NULL)) < 0)
        return -1;
    *failures = (int)v.n[0];
    *last_at = v.n[1];
    return 0;
}

/* store_report_dest_set - see store.h */
int store_report_dest_set(struct store_history *h, const char *dest, int ok, long long now,
                          const char *why)
{
    char a[24];
    const char *p[3] = {dest, a, s0(why)};
    struct hist_conn *c = conn(h);

    if (c == NULL)
        return -1;
    snprintf(a, sizeof(a), "%lld", now);
    if (ok)
        return after(h, h->ops->run(c, sql_dest_ok, 1, p, NULL, NULL, NULL));
    return after(h, h->ops->run(c, sql_dest_fail, 3, p, NULL, NULL, NULL));
}
