/* test_policy_lists.c - domain lists: parsing (bad lines reported as FILE:LINE, the rest
 * loads), matching (exact, ".parent", organizational domain), and the reloading file
 * (interval, modification time, on-demand request, unreadable file keeps the old set,
 * readers racing a reload). Files live in a mkdtemp directory under TMPDIR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy/lists.h"

#define PSL "/usr/share/publicsuffix/public_suffix_list.dat"

static const char LIST[] = "# warning list\n"
                           "bank.example\n"
                           "  Partner.EXAMPLE.   # trailing dot, upper case, comment\n"
                           "\n"
                           ".sub.example\n"
                           "bad domain.example\n"
                           "xn--bcher-kva.example\r\n"
                           "b\xc3\xa4nk.example\n"
                           "under_score.example\n"
                           "-lead.example\n"
                           ".\n"
                           "a..example\n"
                           "bank.example\n" /* duplicate */
                           "\t.co.example\t\n"
                           "last.example"; /* no final newline */

static void test_parse_report(void **state)
{
    struct lists_report rep;
    struct lists_set *s = lists_parse(LIST, sizeof(LIST) - 1, "warn.list", &rep);
    static const char *const want[] = {
        "warn.list:6: more than one word (one domain a line)",
        "warn.list:8: 8-bit name: write an IDN as its A-label (xn--...)",
        "warn.list:9: not a domain name (letters, digits, '-' and '.' only)",
        "warn.list:10: not a domain name (letters, digits, '-' and '.' only)",
        "warn.list:11: empty domain",
        "warn.list:12: empty label or label ending in '-'",
    };

    assert_non_null(s);
    if (rep.nbad != (int)(sizeof(want) / sizeof(want[0])))
        fail_msg("nbad: got %d, want %zu", rep.nbad, sizeof(want) / sizeof(want[0]));
    for (int i = 0; i < rep.nmsg; i++)
        if (strcmp(rep.msg[i], want[i]) != 0)
            fail_msg("report %d: got \"%s\", want \"%s\"", i, rep.msg[i], want[i]);
    /* bank partner xn--bcher-kva last (exact) + sub co (subdomain) */
    if (lists_set_count(s) != 6)
        fail_msg("count: got %zu, want 6", lists_set_count(s));
    lists_set_unref(s);

    /* a line over the limit is one bad line; the next still loads */
    {
        char big[LISTS_MAX_LINE + 40];
        memset(big, 'a', sizeof(big));
        memcpy(big + LISTS_MAX_LINE + 10, "\nok.example", 11);
        s = lists_parse(big, LISTS_MAX_LINE + 21, "big", &rep);
        assert_int_equal(rep.nbad, 1);
        assert_string_equal(rep.msg[0], "big:1: line longer than 1024 octets");
        assert_int_equal(lists_set_match(s, "ok.example", NULL), 1);
        lists_set_unref(s);
    }
    /* empty text: an empty set, no error */
    s = lists_parse("", 0, "empty", &rep);
    assert_non_null(s);
    assert_int_equal(rep.nbad, 0);
    assert_int_equal(lists_set_match(s, "bank.example", NULL), 0);
    lists_set_unref(s);
    /* NUL inside a line */
    s = lists_parse("a\0b.example\nc.example\n", 22, "nul", &rep);
    assert_int_equal(rep.nbad, 1);
    assert_string_equal(rep.msg[0], "nul:1: NUL byte");
    assert_int_equal(lists_set_match(s, "c.example", NULL), 1);
    lists_set_unref(s);
}

static void test_match(void **state)
{
    static const struct {
        const char *domain;
        int want, want_org; /* without / with the organizational domain */
    } rows[] = {
        {"bank.example", 1, 1},        {"BANK.example.", 1, 1},
        {"mail.bank.example", 0, 1}, /* org domain bank.example is listed */
        {"partner.example", 1, 1},     {"sub.example", 0, 0}, /* ".sub.example" is below only */
        {"a.sub.example", 1, 1},       {"x.y.sub.example", 1, 1},
        {"xsub.example", 0, 0},        {"xn--bcher-kva.example", 1, 1},
        {"a.co.example", 1, 1},        {"co.example", 0, 0},
        {"last.example", 1, 1},        {"example", 0, 0},
        {"evil-bank.example", 0, 0},   {"bank.example.evil.example", 0, 0},
        {"bank.example;x", 0, 0},      {"", 0, 0},
        {"b\xc3\xa4nk.example", 0, 0},
    };
    struct lists_set *s = lists_parse(LIST, sizeof(LIST) - 1, "warn.list", NULL);
    struct orgdomain *org = orgdomain_new(PSL);

    assert_non_null(org);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = lists_set_match(s, rows[i].domain, NULL);
        int got_org = lists_set_match(s, rows[i].domain, org);
        if (got != rows[i].want || got_org != rows[i].want_org)
            fail_msg("lists_set_match(\"%s\"): got %d/%d (org), want %d/%d", rows[i].domain, got,
                     got_org, rows[i].want, rows[i].want_org);
    }
    assert_int_equal(lists_set_match(NULL, "bank.example", NULL), 0);
    assert_int_equal(lists_set_match(s, NULL, NULL), 0);
    lists_set_unref(s);
    orgdomain_free(org);
}

/* ---- the reloading file ---- */

static char dir[256];

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

/* write_list - replace the file's content (same inode) and set its mtime to mtime */
static void write_list(const char *path, const char *text, time_t mtime)
{
    FILE *fp = fopen(path, "w");
    struct timespec ts[2];

    if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
        fail_msg("cannot write %s", path);
    ts[0].tv_sec = ts[1].tv_sec = mtime;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    if (utimensat(AT_FDCWD, path, ts, 0) != 0)
        fail_msg("cannot set the mtime of %s", path);
}

static int has(struct lists_file *f, time_t now, const char *domain)
{
    struct lists_set *s = lists_file_get(f, now);
    int r = lists_set_match(s, domain, NULL);

    lists_set_unref(s);
    return r;
}

static int setup(void **state)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/test_policy_lists.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char p[300];

    path_in(p, sizeof(p), "w.list");
    unlink(p);
    path_in(p, sizeof(p), "r.list");
    unlink(p);
    return rmdir(dir);
}

static void test_file_reload(void **state)
{
    char p[300];
    struct lists_file *f;
    struct lists_set *held;
    struct lists_report rep;

    path_in(p, sizeof(p), "w.list");
    write_list(p, "a.example\nbad name\n", 1000000);
    f = lists_file_new(p, 60, &rep);
    assert_non_null(f);
    assert_int_equal(rep.nbad, 1);
    assert_int_equal(strncmp(rep.msg[0], p, strlen(p)), 0);
    assert_string_equal(rep.msg[0] + strlen(p), ":2: more than one word (one domain a line)");
    assert_string_equal(lists_file_path(f), p);
    assert_int_equal(has(f, 1000, "a.example"), 1);
    held = lists_file_get(f, 1000);

    /* changed on disk: not seen before the interval has passed, then seen */
    write_list(p, "b.example\n", 1000100);
    assert_int_equal(has(f, 1059, "a.example"), 1);
    assert_int_equal(has(f, 1060, "b.example"), 1);
    assert_int_equal(has(f, 1060, "a.example"), 0);
    /* a set taken before the reload is still whole */
    assert_int_equal(lists_set_match(held, "a.example", NULL), 1);
    held = lists_set_unref(held);

    /* same size and mtime (only the content differs): only a request sees it */
    write_list(p, "c.example\n", 1000100);
    assert_int_equal(has(f, 2000, "b.example"), 1);
    lists_request_reload();
    assert_int_equal(has(f, 2001, "c.example"), 1);
    assert_int_equal(has(f, 2002, "c.example"), 1);

    /* unreadable (removed): the previous set stays; it comes back when the file does */
    unlink(p);
    assert_int_equal(has(f, 3000, "c.example"), 1);
    assert_int_equal(has(f, 3100, "c.example"), 1);
    write_list(p, "d.example\n", 1000200);
    assert_int_equal(has(f, 3200, "d.example"), 1);

    /* the clock going backwards forces a check rather than none for a long time */
    write_list(p, "e.example\n", 1000300);
    assert_int_equal(has(f, 100, "e.example"), 1);
    lists_file_free(f);

    /* a file that cannot be read at start: NULL */
    path_in(p, sizeof(p), "missing.list");
    assert_null(lists_file_new(p, 60, NULL));
    assert_null(lists_file_new(dir, 60, NULL)); /* a directory */
    assert_null(lists_file_get(NULL, 1));
    assert_null(lists_file_free(NULL));
}

struct racer {
    struct lists_file *f;
    int bad;
};

/* racer - many gets while the main thread rewrites the file: each set is whole */
static void *racer(void *arg)
{
    struct racer *r = arg;

    for (int i = 0; i < 3000; i++) {
        struct lists_set *s = lists_file_get(r->f, 5000 + i);
        int one = lists_set_match(s, "one.example", NULL);
        int two = lists_set_match(s, "two.example", NULL);
        if (s == NULL || one == two || lists_set_count(s) != 2)
            r->bad++;
        lists_set_unref(s);
    }
    return NULL;
}

static void test_file_threads(void **state)
{
    char p[300];
    struct lists_file *f;
    struct racer r[4];
    pthread_t t[4];

    path_in(p, sizeof(p), "r.list");
    write_list(p, "one.example\nx.example\n", 10);
    f = lists_file_new(p, 0, NULL);
    assert_non_null(f);
    for (int i = 0; i < 4; i++) {
        r[i].f = f;
        r[i].bad = 0;
        pthread_create(&t[i], NULL, racer, &r[i]);
    }
    for (int i = 0; i < 200; i++) {
        /* write a new file and rename it over the old one, as an operator's tool does */
        char tmp[320];
        snprintf(tmp, sizeof(tmp), "%s.new", p);
        write_list(tmp, i % 2 ? "one.example\nx.example\n" : "two.example\ny.example\n", 20 + i);
        if (rename(tmp, p) != 0)
            fail_msg("rename %s", tmp);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (r[i].bad)
            fail_msg("thread %d saw %d incomplete sets", i, r[i].bad);
    }
    lists_file_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_report),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_file_reload),
        cmocka_unit_test(test_file_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
