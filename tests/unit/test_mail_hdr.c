/* test_mail_hdr.c - header helpers: unfolding and log-safe copies, as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mail/hdr.h"

static void test_unfold(void **state)
{
    static const struct {
        const char *in;
        size_t outlen;
        const char *want;
        int want_rc;
    } cases[] = {
        {" a.example", 64, "a.example", 9},
        {"Bob\r\n\t<b@x.example>", 64, "Bob <b@x.example>", 17},
        {"a \t \n  b  ", 64, "a b", 3},
        {"\r\n", 64, "", 0},
        {"abcdef", 4, "abc", -1},
        {"ab cd", 4, "ab ", -1},
        {"abc", 4, "abc", 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        int rc = hdr_unfold(cases[i].in, strlen(cases[i].in), out, cases[i].outlen);
        if (rc != cases[i].want_rc || strcmp(out, cases[i].want) != 0)
            fail_msg("hdr_unfold(\"%s\", %zu): got %d '%s', want %d '%s'", cases[i].in,
                     cases[i].outlen, rc, out, cases[i].want_rc, cases[i].want);
    }
}

static void test_log_value(void **state)
{
    static const struct {
        const char *in;
        size_t outlen;
        const char *want;
    } cases[] = {
        {"a.example", 64, "a.example"},
        {NULL, 64, "-"},
        {"", 64, "-"},
        {"a b\r\nX=1", 64, "a?b??X?1"},
        {"\xc3\xa9t\xc3\xa9", 64, "??t??"},
        {"abcdef", 4, "abc"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        hdr_log_value(cases[i].in, out, cases[i].outlen);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("hdr_log_value(\"%s\"): got '%s', want '%s'",
                     cases[i].in ? cases[i].in : "(null)", out, cases[i].want);
    }
    assert_true(hdr_name_is("authentication-RESULTS", "Authentication-Results"));
    assert_false(hdr_name_is("Authentication-Results2", "Authentication-Results"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unfold),
        cmocka_unit_test(test_log_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
