/* test_store_history.c - the history side of the store on SQLite (a temporary file):
 * open refuses a store without the schema, a batch goes in whole, the policies and
 * groups of an interval (table of rows -> expected records and counts), the count
 * queries, the report log and the destination failure counter, purge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf/conf.h"
#include "senderauth/store.h"
#include "util/xalloc.h"

static char dir[64], path[128];
static struct sa_conf *conf;
static struct store_history *h;

/* One input row: the fields that make a group, and when. */
static const struct {
    long long at;
    const char *domain, *ip, *from, *dkim, *spf, *disp, *reason, *rua;
} rows[] = {
    {1000, "a.example", "192.0.2.1", "a.example", "pass:a.example:s1", "pass", "none", "",
     "mailto:r@a.example"},
    {1001, "a.example", "192.0.2.1", "a.example", "pass:a.example:s1", "pass", "none", "",
     "mailto:r@a.example"},
    {1002, "a.example", "192.0.2.1", "sub.a.example", "pass:a.example:s1", "pass", "none", "",
     "mailto:r@a.example"},
    {1003, "a.example", "192.0.2.2", "a.example", "", "fail", "reject", "", "mailto:r@a.example"},
    {1004, "a.example", "192.0.2.2", "a.example", "", "fail", "none", "local_policy",
     "mailto:r@a.example"},
    {1005, "a.example", "2001:db8::1", "a.example", "fail:a.example:s1 pass:b.example:k", "fail",
     "none", "", "mailto:r@a.example"},
    {1006, "b.example", "192.0.2.1", "b.example", "", "pass", "none", "",
     "mailto:x@b.example,mailto:y@c.example!10m"},
    {1007, "c.example", "192.0.2.1", "c.example", "", "pass", "none", "", ""}, /* no rua */
    {1008, "", "192.0.2.1", "d.example", "", "none", "none", "", ""},          /* no record */
    {2000, "a.example", "192.0.2.9", "a.example", "", "pass", "none", "",
     "mailto:r@a.example"}, /* outside */
};
#define NROWS (int)(sizeof(rows) / sizeof(rows[0]))

static int setup(void **state)
{
    static struct conf_errors errs;
    char text[256], err[256];
    struct store *st;
    int from, to;

    snprintf(dir, sizeof(dir), "/tmp/test_hist_XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/consent.db", dir);
    snprintf(text, sizeof(text), "store = { sqlite_path = \"%s\"; };\n", path);
    if ((conf = conf_load_string(text, "t.conf", &errs)) == NULL)
        return -1;
    if (store_history_open(conf, err, sizeof(err)) != NULL || strstr(err, "init") == NULL) {
        fprintf(stderr, "history open before init: got \"%s\", want a hint\n", err);
        return -1;
    }
    if ((st = store_open(conf, STORE_OPEN_INIT, err, sizeof(err))) == NULL ||
        store_migrate(st, &from, &to) < 0 || to != STORE_SCHEMA_VERSION)
        return -1;
    store_close(st);
    if ((h = store_history_open(conf, err, sizeof(err))) == NULL) {
        fprintf(stderr, "history open: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];

    store_history_close(h);
    conf_free(conf);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void fill(struct store_hist_row *r, int i)
{
    memset(r, 0, sizeof(*r));
    r->at = rows[i].at;
    sa_strlcpy(r->source_ip, rows[i].ip, sizeof(r->source_ip));
    sa_strlcpy(r->header_from, rows[i].from, sizeof(r->header_from));
    sa_strlcpy(r->env_from, rows[i].from, sizeof(r->env_from));
    sa_strlcpy(r->policy_domain, rows[i].domain, sizeof(r->policy_domain));
    sa_strlcpy(r->spf_domain, rows[i].from, sizeof(r->spf_domain));
    sa_strlcpy(r->spf_scope, "mfrom", sizeof(r->spf_scope));
    sa_strlcpy(r->spf_result, rows[i].spf, sizeof(r->spf_result));
    sa_strlcpy(r->dkim, rows[i].dkim, sizeof(r->dkim));
    sa_strlcpy(r->dmarc_result, strcmp(rows[i].spf, "pass") == 0 ? "pass" : "fail",
               sizeof(r->dmarc_result));
    r->spf_aligned = strcmp(rows[i].spf, "pass") == 0;
    sa_strlcpy(r->p, "reject", sizeof(r->p));
    r->pct = 100;
    sa_strlcpy(r->adkim, "r", sizeof(r->adkim));
    sa_strlcpy(r->aspf, "r", sizeof(r->aspf));
    sa_strlcpy(r->disposition, rows[i].disp, sizeof(r->disposition));
    sa_strlcpy(r->reason, rows[i].reason, sizeof(r->reason));
    sa_strlcpy(r->discovery, "psl", sizeof(r->discovery));
    sa_strlcpy(r->rua, rows[i].rua, sizeof(r->rua));
    sa_strlcpy(r->action, strcmp(rows[i].disp, "reject") == 0 ? "reject" : "accept",
               sizeof(r->action));
    sa_strlcpy(r->would, r->action, sizeof(r->would));
    r->rcpt_consent = i % 2;
    r->rcpt_total = 1;
}

static int collect_policy(const struct store_hist_policy *p, void *arg)
{
    char *out = arg;
    char line[700];

    snprintf(line, sizeof(line), "%s %lld %s|", p->policy_domain, p->rows, p->rua);
    strncat(out, line, 4095 - strlen(out));
    return 0;
}

static int collect_group(const struct store_hist_group *g, void *arg)
{
    char *out = arg;
    char line[1200];

    snprintf(line, sizeof(line), "%s %s %s %s %s %lld|", g->source_ip, g->header_from,
             g->disposition, g->reason[0] ? g->reason : "-", g->dkim[0] ? g->dkim : "-", g->count);
    strncat(out, line, 4095 - strlen(out));
    return 0;
}

static int collect_count(const char *key, long long n, void *arg)
{
    char *out = arg;
    char line[100];

    snprintf(line, sizeof(line), "%s=%lld ", key, n);
    strncat(out, line, 1023 - strlen(out));
    return 0;
}

static void test_insert_and_aggregate(void **state)
{
    struct store_hist_row *r = xcalloc(NROWS, sizeof(*r));
    char got[4096];
    static const struct {
        const char *domain, *want;
    } groups[] = {
        {"a.example", "192.0.2.1 a.example none - pass:a.example:s1 2|"
                      "192.0.2.1 sub.a.example none - pass:a.example:s1 1|"
                      "192.0.2.2 a.example none local_policy - 1|"
                      "192.0.2.2 a.example reject - - 1|"
                      "2001:db8::1 a.example none - fail:a.example:s1 pass:b.example:k 1|"},
        {"b.example", "192.0.2.1 b.example none - - 1|"},
        {"c.example", ""},
    };

    for (int i = 0; i < NROWS; i++)
        fill(&r[i], i);
    assert_int_equal(store_history_insert(h, r, NROWS), 0);
    free(r);

    got[0] = '\0';
    assert_int_equal(store_history_policies(h, 1000, 2000, collect_policy, got), 0);
    if (strcmp(got, "a.example 6 mailto:r@a.example|b.example 1 "
                    "mailto:x@b.example,mailto:y@c.example!10m|") != 0)
        fail_msg("policies: got \"%s\"", got);
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        got[0] = '\0';
        assert_int_equal(store_history_groups(h, groups[i].domain, 1000, 2000, collect_group, got),
                         0);
        if (strcmp(got, groups[i].want) != 0)
            fail_msg("groups(%s): got \"%s\", want \"%s\"", groups[i].domain, got, groups[i].want);
    }
}

static void test_counts(void **state)
{
    static const struct {
        const char *column, *want;
    } cases[] = {
        {"all", "=9 "},
        {"spf_result", "fail=3 none=1 pass=5 "},
        {"dkim_pass", "none=5 pass=4 "},
        {"dmarc_result", "fail=4 pass=5 "},
        {"action", "accept=8 reject=1 "},
        {"reason", "local_policy=1 "},
        {"consent", "consenting=4 total=9 "},
        {"report_status", ""},
    };
    char got[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        got[0] = '\0';
        assert_int_equal(store_history_count(h, cases[i].column, 1000, 2000, collect_count, got),
                         0);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("count(%s): got \"%s\", want \"%s\"", cases[i].column, got, cases[i].want);
    }
    assert_int_equal(store_history_count(h, "nope", 0, 1, collect_count, got), -1);
}

static void test_report_bookkeeping(void **state)
{
    struct store_report_event ev = {5000,  1000,   1999, "a.example", "mailto:r@a.example",
                                    "id1", "sent", "",   1234};
    int failures;
    long long last, n;
    char got[1024];

    assert_int_equal(store_report_log(h, &ev), 0);
    ev.status = "failed";
    assert_int_equal(store_report_log(h, &ev), 0);
    got[0] = '\0';
    assert_int_equal(store_history_count(h, "report_status", 5000, 5001, collect_count, got), 0);
    assert_string_equal(got, "failed=1 sent=1 ");

    assert_int_equal(store_report_dest_get(h, "mailto:x@y", &failures, &last), 0);
    assert_int_equal(failures, 0);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(store_report_dest_set(h, "mailto:x@y", 0, 100 + i, "exit 75"), 0);
        assert_int_equal(store_report_dest_get(h, "mailto:x@y", &failures, &last), 0);
        if (failures != i || last != 100 + i)
            fail_msg("failure %d: got %d at %lld", i, failures, last);
    }
    assert_int_equal(store_report_dest_set(h, "mailto:x@y", 1, 200, NULL), 0);
    assert_int_equal(store_report_dest_get(h, "mailto:x@y", &failures, &last), 0);
    assert_int_equal(failures, 0);

    assert_int_equal(store_history_purge(h, 1005, &n), 0);
    assert_int_equal(n, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_and_aggregate),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_report_bookkeeping),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
