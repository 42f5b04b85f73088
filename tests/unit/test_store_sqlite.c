/* test_store_sqlite.c - the consent store on SQLite (a temporary file): schema check at
 * open, init/migrate, get/set/del, the lookup order (table), evidence rows, a read-only
 * store, CSV import (good, and a bad row that leaves nothing behind), export, stats,
 * and readers in several threads while a writer toggles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf/conf.h"
#include "senderauth/store.h"

static char dir[64], path[128];
static struct sa_conf *conf;

static struct sa_conf *load(const char *extra)
{
    static struct conf_errors errs;
    char text[512];
    struct sa_conf *c;

    snprintf(text, sizeof(text), "store = { sqlite_path = \"%s\"; };\n%s", path, extra);
    c = conf_load_string(text, "t.conf", &errs);
    if (c == NULL)
        conf_errors_print(&errs, stderr);
    return c;
}

static int setup(void **state)
{
    char err[256];
    struct store *st;

    snprintf(dir, sizeof(dir), "/tmp/test_store_XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/consent.db", dir);
    conf = load("");
    if (conf == NULL)
        return -1;
    /* not there yet: reading fails and says what to do */
    st = store_open(conf, STORE_OPEN_READ, err, sizeof(err));
    if (st != NULL || strstr(err, "senderauthctl init") == NULL) {
        fprintf(stderr, "open before init: got %p \"%s\", want NULL and a hint\n", (void *)st, err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];

    conf_unref(conf);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct store *open_or_fail(int flags)
{
    char err[256] = "";
    struct store *st = store_open(conf, flags, err, sizeof(err));

    if (st == NULL)
        fail_msg("store_open(%d): %s", flags, err);
    return st;
}

static long long count(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    long long n = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static void test_init(void **state)
{
    struct store *st;
    char err[256];
    int from = -1, to = -1;

    /* a file that exists but has no schema */
    st = open_or_fail(STORE_OPEN_WRITE | STORE_OPEN_INIT);
    assert_int_equal(store_schema_version(st), 0);
    store_close(st);
    assert_null(store_open(conf, STORE_OPEN_READ, err, sizeof(err)));
    assert_non_null(strstr(err, "no schema"));

    st = open_or_fail(STORE_OPEN_WRITE | STORE_OPEN_INIT);
    assert_int_equal(store_migrate(st, &from, &to), 0);
    assert_int_equal(from, 0);
    assert_int_equal(to, STORE_SCHEMA_VERSION);
    assert_int_equal(store_migrate(st, &from, &to), 0); /* again: nothing to do */
    assert_int_equal(from, STORE_SCHEMA_VERSION);
    store_close(st);
    st = open_or_fail(STORE_OPEN_READ);
    assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
    assert_string_equal(store_backend_name(st), "sqlite");
    store_close(st);
    assert_int_equal(count("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"),
                     1);
}

static void test_set_get_del(void **state)
{
    struct store *st = open_or_fail(STORE_OPEN_WRITE);
    struct store_evidence ev = {"admin:t", "portal", "2026-11-v1", "dmarc-v1", "asked by phone"};
    int on = -1;

    assert_int_equal(store_get_user(st, "a@example.com", &on), STORE_NOTFOUND);
    assert_int_equal(store_set_user(st, "a@example.com", 1, &ev), 0);
    assert_int_equal(store_get_user(st, "a@example.com", &on), STORE_FOUND);
    assert_int_equal(on, 1);
    assert_int_equal(store_set_user(st, "a@example.com", 0, NULL), 0);
    assert_int_equal(store_get_user(st, "a@example.com", &on), STORE_FOUND);
    assert_int_equal(on, 0);
    assert_int_equal(store_get_user(st, "A@example.com", &on), STORE_NOTFOUND); /* exact key */
    assert_int_equal(store_del_user(st, "a@example.com", &ev), STORE_FOUND);
    assert_int_equal(store_del_user(st, "a@example.com", &ev), STORE_NOTFOUND);
    assert_int_equal(store_get_user(st, "a@example.com", &on), STORE_NOTFOUND);

    assert_int_equal(store_set_domain(st, "biz.example", 1, &ev), 0);
    assert_int_equal(store_get_domain(st, "biz.example", &on), STORE_FOUND);
    assert_int_equal(on, 1);
    assert_int_equal(store_del_domain(st, "biz.example", NULL), STORE_FOUND);
    assert_int_equal(store_get_domain(st, "biz.example", &on), STORE_NOTFOUND);

    /* evidence: set, set, del of the user; set, del of the domain (the second del of the
     * user found nothing and wrote nothing) */
    assert_int_equal(count("SELECT count(*) FROM consent_event WHERE subject = 'a@example.com'"),
                     3);
    assert_int_equal(count("SELECT count(*) FROM consent_event WHERE subject = 'a@example.com'"
                           " AND enforce IS NULL AND actor = 'admin:t'"),
                     1);
    assert_int_equal(count("SELECT count(*) FROM consent_event WHERE subject = 'a@example.com'"
                           " AND explanation_version = '2026-11-v1' AND scope_version = 'dmarc-v1'"
                           " AND channel = 'portal' AND note = 'asked by phone' AND enforce = 1"
                           " AND at > 1700000000"),
                     1);
    assert_int_equal(count("SELECT count(*) FROM consent_event WHERE subject_kind = 'domain'"
                           " AND subject = 'biz.example'"),
                     2);
    store_close(st);
}

static void test_append_only(void **state)
{
    sqlite3 *db;
    char *msg = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM consent_event", NULL, NULL, &msg),
                         SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE consent_event SET actor = 'x'", NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_close(db);
}

static void test_read_only(void **state)
{
    struct store *st = open_or_fail(STORE_OPEN_READ);
    long n = -1;
    char err[256];
    FILE *fp = fmemopen((void *)"x@example.com,on\n", 17, "r");

    assert_int_equal(store_set_user(st, "ro@example.com", 1, NULL), -1);
    assert_int_not_equal(store_strerror()[0], '\0');
    assert_int_equal(store_del_user(st, "ro@example.com", NULL), STORE_ERROR);
    assert_int_equal(store_import_csv(st, fp, "ro.csv", 0, NULL, &n, err, sizeof(err)), -1);
    fclose(fp);
    store_close(st);
}

static void test_resolve(void **state)
{
    static const struct {
        const char *rcpt;
        int cs, def;
        enum store_lookup r;
        int enforce;
        enum store_match via;
    } t[] = {
        {"exact@isp.example", 0, 0, STORE_FOUND, 1, STORE_MATCH_ADDRESS},
        {"<Exact@ISP.example>", 0, 0, STORE_FOUND, 1, STORE_MATCH_ADDRESS},
        {"exact+news@isp.example", 0, 0, STORE_FOUND, 1, STORE_MATCH_BASE},
        {"tagged+x@isp.example", 0, 0, STORE_FOUND, 0, STORE_MATCH_ADDRESS}, /* own row wins */
        {"tagged+y@isp.example", 0, 0, STORE_FOUND, 1, STORE_MATCH_BASE},
        {"nobody@isp.example", 0, 0, STORE_NOTFOUND, 0, STORE_MATCH_DEFAULT},
        {"nobody@isp.example", 0, 1, STORE_NOTFOUND, 1, STORE_MATCH_DEFAULT},
        {"anyone@biz.example", 0, 0, STORE_FOUND, 1, STORE_MATCH_DOMAIN},
        {"anyone+t@BIZ.example", 0, 0, STORE_FOUND, 1, STORE_MATCH_DOMAIN},
        {"optout@biz.example", 0, 1, STORE_FOUND, 0, STORE_MATCH_ADDRESS},   /* user beats domain */
        {"Exact@isp.example", 1, 0, STORE_NOTFOUND, 0, STORE_MATCH_DEFAULT}, /* case-sensitive */
        {"not-an-address", 0, 1, STORE_ERROR, 0, STORE_MATCH_DEFAULT},
    };
    struct store *w = open_or_fail(STORE_OPEN_WRITE), *st = open_or_fail(STORE_OPEN_READ);
    struct store_addr_rules rules = {"+", 0};
    int failed = 0;

    assert_int_equal(store_set_user(w, "exact@isp.example", 1, NULL), 0);
    assert_int_equal(store_set_user(w, "tagged@isp.example", 1, NULL), 0);
    assert_int_equal(store_set_user(w, "tagged+x@isp.example", 0, NULL), 0);
    assert_int_equal(store_set_user(w, "optout@biz.example", 0, NULL), 0);
    assert_int_equal(store_set_domain(w, "biz.example", 1, NULL), 0);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int on = -1;
        enum store_match via = (enum store_match) - 1;
        enum store_lookup r;

        rules.local_case_sensitive = t[i].cs;
        r = store_resolve(st, t[i].rcpt, &rules, t[i].def, &on, &via);
        if (r != t[i].r || on != t[i].enforce || via != t[i].via) {
            print_error("store_resolve(\"%s\", cs=%d, default=%d): got %d enforce=%d via=%s, "
                        "want %d enforce=%d via=%s\n",
                        t[i].rcpt, t[i].cs, t[i].def, r, on, store_match_name(via), t[i].r,
                        t[i].enforce, store_match_name(t[i].via));
            failed++;
        }
    }
    store_close(st);
    store_close(w);
    assert_int_equal(failed, 0);
}

static int import_text(const char *text, long *n, char *err, size_t errlen)
{
    struct store *st = open_or_fail(STORE_OPEN_WRITE);
    struct store_evidence ev = {"batch", NULL, "2026-11-v1", NULL, NULL};
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    int rc = store_import_csv(st, fp, "t.csv", 0, &ev, n, err, errlen);

    fclose(fp);
    store_close(st);
    return rc;
}

static void test_import(void **state)
{
    static const struct {
        const char *text;
        int rc;
        long n;
        const char *err;
    } t[] = {
        {"subject,enforce,source,note\n"
         "# comment\n"
         "\n"
         "imp1@Import.example,on\n"
         "imp2@import.example,off,portal\n"
         "\"\"\"imp3,x\"\"@import.example\",ON,\"src\",\"a \"\"quoted\"\" note\"\r\n"
         "import.example,on,,domain wide\n"
         "imp1@import.example,off\n", /* later row wins */
         0, 5, NULL},
        {"bad1@import.example,on\nbad2@import.example,maybe\n", -1, 0, "t.csv:2: \"maybe\""},
        {"bad1@import.example,on\nbad2@,on\n", -1, 0, "t.csv:2: "},
        {"bad1@import.example,on\nbad2@import.example\n", -1, 0, "t.csv:2: want"},
        {"bad1@import.example,on\n\"bad2@import.example,on\n", -1, 0, "t.csv:2: unterminated"},
        {"bad1@import.example,on,a,b,c\n", -1, 0, "t.csv:1: more than 4 fields"},
        {"bad1@import.example,on\nx y.example,on\n", -1, 0, "t.csv:2: "},
    };
    int failed = 0;
    long before = count("SELECT count(*) FROM consent_user"), evbefore;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char err[512] = "";
        long n = -1;
        int rc;

        evbefore = count("SELECT count(*) FROM consent_event");
        before = count("SELECT count(*) FROM consent_user") +
                 count("SELECT count(*) FROM consent_domain");
        rc = import_text(t[i].text, &n, err, sizeof(err));
        if (rc != t[i].rc || (rc == 0 && n != t[i].n) ||
            (t[i].err != NULL && strncmp(err, t[i].err, strlen(t[i].err)) != 0)) {
            print_error("import case %zu: got %d n=%ld \"%s\", want %d n=%ld \"%s...\"\n", i, rc, n,
                        err, t[i].rc, t[i].n, t[i].err != NULL ? t[i].err : "");
            failed++;
        }
        if (rc < 0 && (count("SELECT count(*) FROM consent_user") +
                               count("SELECT count(*) FROM consent_domain") !=
                           before ||
                       count("SELECT count(*) FROM consent_event") != evbefore)) {
            print_error("import case %zu: a bad row left rows behind\n", i);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
    assert_int_equal(count("SELECT count(*) FROM consent_user WHERE address LIKE 'bad%'"), 0);
    assert_int_equal(
        count("SELECT enforce FROM consent_user WHERE address = 'imp1@import.example'"), 0);
    assert_int_equal(
        count("SELECT count(*) FROM consent_user WHERE address = '\"imp3,x\"@import.example'"
              " AND source = 'src' AND note = 'a \"quoted\" note'"),
        1);
    assert_int_equal(count("SELECT count(*) FROM consent_domain WHERE domain = 'import.example'"
                           " AND enforce = 1 AND source IS NULL AND note = 'domain wide'"),
                     1);
    assert_int_equal(count("SELECT count(*) FROM consent_event WHERE actor = 'batch'"
                           " AND explanation_version = '2026-11-v1'"),
                     5);
}

static void test_export_stats(void **state)
{
    struct store *st = open_or_fail(STORE_OPEN_READ);
    struct store_stats s;
    char *buf = NULL, err[256];
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    long n = -1;

    assert_int_equal(store_export_csv(st, fp), 0);
    fclose(fp);
    assert_non_null(strstr(buf, "subject,enforce,source,note\n"));
    assert_non_null(
        strstr(buf, "\"\"\"imp3,x\"\"@import.example\",on,src,\"a \"\"quoted\"\" note\"\n"));
    assert_non_null(strstr(buf, "import.example,on,,domain wide\n"));
    assert_int_equal(store_get_stats(st, &s), 0);
    assert_int_equal(s.schema_version, STORE_SCHEMA_VERSION);
    assert_int_equal(s.users, count("SELECT count(*) FROM consent_user"));
    assert_int_equal(s.users_on, count("SELECT count(*) FROM consent_user WHERE enforce = 1"));
    assert_int_equal(s.domains, count("SELECT count(*) FROM consent_domain"));
    assert_int_equal(s.events, count("SELECT count(*) FROM consent_event"));
    assert_true(s.last_change > 1700000000);
    store_close(st);
    /* the export reads back to the same rows */
    assert_int_equal(import_text(buf, &n, err, sizeof(err)), 0);
    assert_int_equal(n, s.users + s.domains);
    free(buf);
}

struct reader {
    struct store *st;
    int want_final;
    int errors, bad, lookups;
};

static volatile int writer_done;

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct store_addr_rules rules = {"+", 0};
    int on, final_seen = 0;

    while (!final_seen) {
        int done = writer_done; /* read before the lookup: a lookup after done sees the end */
        enum store_lookup res =
            store_resolve(r->st, "toggle+tag@race.example", &rules, 0, &on, NULL);

        r->lookups++;
        if (res == STORE_ERROR)
            r->errors++;
        else if (on != 0 && on != 1)
            r->bad++;
        if (done) {
            final_seen = 1;
            if (res != STORE_FOUND || on != r->want_final)
                r->bad++;
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    enum { NREADERS = 4, TOGGLES = 200 };
    struct store *w = open_or_fail(STORE_OPEN_WRITE), *st = open_or_fail(STORE_OPEN_READ);
    struct reader r[NREADERS];
    pthread_t th[NREADERS];

    memset(r, 0, sizeof(r));
    writer_done = 0;
    assert_int_equal(store_set_user(w, "toggle@race.example", 0, NULL), 0);
    for (int i = 0; i < NREADERS; i++) {
        r[i].st = st;
        r[i].want_final = TOGGLES % 2;
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
    }
    for (int i = 1; i <= TOGGLES; i++)
        assert_int_equal(store_set_user(w, "toggle@race.example", i % 2, NULL), 0);
    __atomic_store_n(&writer_done, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < NREADERS; i++) {
        pthread_join(th[i], NULL);
        if (r[i].errors != 0 || r[i].bad != 0)
            fail_msg("reader %d: %d lookups, %d errors (%s), %d wrong", i, r[i].lookups,
                     r[i].errors, store_strerror(), r[i].bad);
    }
    assert_int_equal(
        count("SELECT count(*) FROM consent_event WHERE subject = 'toggle@race.example'"),
        TOGGLES + 1);
    store_close(st);
    store_close(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),         cmocka_unit_test(test_set_get_del),
        cmocka_unit_test(test_append_only),  cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_resolve),      cmocka_unit_test(test_import),
        cmocka_unit_test(test_export_stats), cmocka_unit_test(test_concurrent),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
