/* test_dmarc_orgdomain.c - organizational domain (libpsl) and alignment.
 * The PSL cases are read at test time from the shared test suites (psl-tests/tests.txt,
 * public domain, from the Public Suffix List project); env SA_TESTSUITES, default
 * "$SA_SRC/../shared/testsuites" (from the source root; unit tests run in tests/unit).
 * The PSL itself: env SA_PSL_FILE, default the Debian publicsuffix package's file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dmarc/dmarc.h"

#define DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"

static const char *psl_path(void)
{
    const char *p = getenv("SA_PSL_FILE");

    return p != NULL && p[0] != '\0' ? p : DEFAULT_PSL;
}

/* suites_path - SA_TESTSUITES, else $SA_SRC/../shared/testsuites, else relative to
 * tests/unit (the working directory ctest gives unit tests) */
static void suites_path(char *out, size_t outlen)
{
    const char *s = getenv("SA_TESTSUITES"), *src = getenv("SA_SRC");

    if (s != NULL && s[0] != '\0')
        snprintf(out, outlen, "%s", s);
    else if (src != NULL && src[0] != '\0')
        snprintf(out, outlen, "%s/../shared/testsuites", src);
    else
        snprintf(out, outlen, "../../../shared/testsuites");
}

static int setup(void **state)
{
    struct orgdomain *o = orgdomain_new(psl_path());

    if (o == NULL)
        return -1;
    *state = o;
    return 0;
}

static int teardown(void **state)
{
    assert_null(orgdomain_free(*state));
    return 0;
}

/* test_psl_suite - every "<domain> <expected>" line of psl-tests/tests.txt */
static void test_psl_suite(void **state)
{
    const struct orgdomain *o = *state;
    char dir[512], path[600], line[512];
    int passed = 0, failed = 0;
    FILE *f;

    suites_path(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/psl-tests/tests.txt", dir);
    if ((f = fopen(path, "r")) == NULL) {
        print_message("PSL: skipped, %s not found (set SA_TESTSUITES)\n", path);
        skip();
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char in[256], want[256], got[256];
        int rc;

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || strncmp(line, "//", 2) == 0)
            continue;
        if (sscanf(line, "%255s %255s", in, want) != 2) {
            print_error("PSL: bad line '%s'\n", line);
            failed++;
            continue;
        }
        rc = orgdomain_get(o, strcmp(in, "null") == 0 ? NULL : in, got, sizeof(got));
        if (rc < 0)
            snprintf(got, sizeof(got), "null");
        if (strcmp(got, want) == 0) {
            passed++;
        } else {
            print_error("orgdomain_get(\"%s\"): got %s, want %s\n", in, got, want);
            failed++;
        }
    }
    fclose(f);
    print_message("PSL: %d passed, %d failed\n", passed, failed);
    assert_int_equal(failed, 0);
    assert_int_equal(passed, 78); /* the suite's size (SOURCE.md) */
}

/* test_orgdomain_table - our own cases: case, trailing dot, co.jp, unknown TLD */
static void test_orgdomain_table(void **state)
{
    static const struct {
        const char *in, *want; /* want NULL: -1 */
    } cases[] = {
        {"mail.example.co.jp", "example.co.jp"},
        {"a.b.MAIL.Example.CO.JP.", "example.co.jp"},
        {"example.co.jp", "example.co.jp"},
        {"co.jp", NULL},
        {"example.co.uk", "example.co.uk"},
        {"x.y.example.invalidtld", "example.invalidtld"},
        {"com", NULL},
        {"", NULL},
        {".", NULL},
        {".example.com", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[256];
        int rc = orgdomain_get(*state, cases[i].in, got, sizeof(got));
        const char *g = rc == 0 ? got : "(none)";
        const char *w = cases[i].want ? cases[i].want : "(none)";

        if (strcmp(g, w) != 0)
            fail_msg("orgdomain_get(\"%s\"): got %s, want %s", cases[i].in, g, w);
    }
    {
        char small[4];

        assert_int_equal(orgdomain_get(*state, "example.com", small, sizeof(small)), -1);
    }
}

/* test_builtin_fallback - an unreadable PSL path falls back to libpsl's built-in list */
static void test_builtin_fallback(void **state)
{
    struct orgdomain *o = orgdomain_new("/nonexistent/psl.dat");
    char got[256];

    assert_non_null(o);
    assert_int_equal(orgdomain_get(o, "www.example.com", got, sizeof(got)), 0);
    assert_string_equal(got, "example.com");
    assert_null(orgdomain_free(o));
    assert_null(orgdomain_free(NULL));
}

/* test_aligned_table - relaxed and strict alignment (RFC 7489 3.1, RFC 9989 Table 1) */
static void test_aligned_table(void **state)
{
    static const struct {
        const char *a, *b;
        int strict, want;
    } cases[] = {
        {"news.example.com", "foo.example.com", 0, 1},
        {"news.example.com", "foo.example.com", 1, 0},
        {"news.example.com", "news.example.com", 1, 1},
        {"news.example.com", "NEWS.Example.COM.", 1, 1},
        {"news.example.com", "foo.example.net", 0, 0},
        {"example.com", "mail.example.com", 0, 1},
        {"example.com", "mail.example.com", 1, 0},
        {"mail.example.co.jp", "bounce.example.co.jp", 0, 1},
        {"mail.example.co.jp", "other.co.jp", 0, 0},
        {"example.co.jp", "co.jp", 0, 0},
        {"co.jp", "co.jp", 0, 1},
        {"a.example.invalidtld", "b.example.invalidtld", 0, 1},
        {"a.example.invalidtld", "example2.invalidtld", 0, 0},
        {"example.com", "", 0, 0},
        {"example.com", NULL, 0, 0},
        {"example.com.", "example.com", 1, 1},
        {"example.com", "ample.com", 0, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = dmarc_aligned(*state, cases[i].a, cases[i].b, cases[i].strict);

        if (got != cases[i].want)
            fail_msg("dmarc_aligned(\"%s\", \"%s\", strict=%d): got %d, want %d", cases[i].a,
                     cases[i].b ? cases[i].b : "(null)", cases[i].strict, got, cases[i].want);
    }
}

/* test_domain_helpers - the comparisons the module shares */
static void test_domain_helpers(void **state)
{
    assert_int_equal(dmarc_domain_equal("Example.COM.", "example.com"), 1);
    assert_int_equal(dmarc_domain_equal("example.com", "example.co"), 0);
    assert_int_equal(dmarc_domain_equal("", ""), 0);
    assert_int_equal(dmarc_domain_under("a.b.example.com", "EXAMPLE.com"), 1);
    assert_int_equal(dmarc_domain_under("example.com", "example.com."), 1);
    assert_int_equal(dmarc_domain_under("badexample.com", "example.com"), 0);
    assert_int_equal(dmarc_domain_under("com", "example.com"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psl_suite),        cmocka_unit_test(test_orgdomain_table),
        cmocka_unit_test(test_builtin_fallback), cmocka_unit_test(test_aligned_table),
        cmocka_unit_test(test_domain_helpers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
