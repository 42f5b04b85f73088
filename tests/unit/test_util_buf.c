/* test_util_buf.c - capped buffer and pool: table of appends with expected outcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/xalloc.h"
#include "senderauth/result.h"

static void test_buf_cap(void **state)
{
    static const struct {
        size_t cap;
        const char *parts[4];
        const char *want;
        int want_last_rc;
    } cases[] = {
        {8, {"abc", "def", NULL}, "abcdef", 0},
        {8, {"abcd", "efgh", NULL}, "abcdefgh", 0},
        {8, {"abcd", "efghi", NULL}, "abcd", -1},
        {0, {"a", NULL}, "", -1},
        {100, {"", "x", "", NULL}, "x", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        int rc = 0;
        buf_init(&b, cases[i].cap);
        for (int k = 0; cases[i].parts[k]; k++)
            rc = buf_append_str(&b, cases[i].parts[k]);
        if (rc != cases[i].want_last_rc || strcmp(b.data ? b.data : "", cases[i].want) != 0)
            fail_msg("case %zu: got rc=%d '%s', want rc=%d '%s'", i, rc, b.data ? b.data : "",
                     cases[i].want_last_rc, cases[i].want);
        buf_release(&b);
    }
}

static void test_buf_printf(void **state)
{
    struct buf b;

    buf_init(&b, 10);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "abc"), 0);
    assert_string_equal(b.data, "42-abc");
    assert_int_equal(buf_printf(&b, "%s", "12345"), -1);
    assert_string_equal(b.data, "42-abc");
    assert_int_equal(buf_printf(&b, "%s", "1234"), 0);
    assert_string_equal(b.data, "42-abc1234");
    buf_release(&b);
}

static void test_pool(void **state)
{
    struct pool *p = pool_new();
    char *big;

    assert_non_null(p);
    assert_string_equal(pool_strdup(p, "hello"), "hello");
    big = pool_alloc(p, 100000);
    assert_non_null(big);
    assert_int_equal(big[99999], 0);
    assert_null(pool_free(p));
    assert_null(pool_free(NULL));
}

static void test_strlcpy(void **state)
{
    char d[4];

    assert_int_equal(sa_strlcpy(d, "abcdef", sizeof(d)), 6);
    assert_string_equal(d, "abc");
    assert_string_equal(auth_res_name(AUTH_TEMPERROR), "temperror");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_strlcpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
