/* test_mail_armatch.c - forged Authentication-Results detection: table of header
 * values against our authserv-id "mx.example.jp". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mail/ar_match.h"

#define OURS "mx.example.jp"

static void test_table(void **state)
{
    static const struct {
        const char *value;
        size_t len; /* 0 = strlen */
        const char *ours;
        int want;
    } cases[] = {
        /* plain forms */
        {"mx.example.jp; spf=pass smtp.mailfrom=a.example", 0, OURS, 1},
        {" mx.example.jp; spf=pass", 0, OURS, 1},
        {"other.example; spf=pass", 0, OURS, 0},
        {"mx.example.jp; none", 0, OURS, 1},
        {"mx.example.jp;", 0, OURS, 1},
        {"mx.example.jp", 0, OURS, 1},
        /* version forms */
        {"mx.example.jp 1; dkim=pass", 0, OURS, 1},
        {"mx.example.jp/1; dkim=pass", 0, OURS, 1},
        {"mx.example.jp(c)1; dkim=pass", 0, OURS, 1},
        /* case, trailing dot */
        {"MX.Example.JP; spf=pass", 0, OURS, 1},
        {"mx.example.jp.; spf=pass", 0, OURS, 1},
        {"mx.example.jp; spf=pass", 0, "MX.EXAMPLE.JP.", 1},
        /* folding and comments before the id */
        {"\r\n\tmx.example.jp;\r\n\tspf=pass", 0, OURS, 1},
        {"\n mx.example.jp; spf=pass", 0, OURS, 1},
        {"(forged) mx.example.jp; spf=pass", 0, OURS, 1},
        {"(a (nested) comment)mx.example.jp; spf=pass", 0, OURS, 1},
        {"(escaped \\) paren) mx.example.jp; spf=pass", 0, OURS, 1},
        {" (c1)\r\n (c2) mx.example.jp; spf=pass", 0, OURS, 1},
        {"(mx.example.jp) other.example; spf=pass", 0, OURS, 0},
        /* quoted-string id */
        {"\"mx.example.jp\"; spf=pass", 0, OURS, 1},
        {"\"mx.ex\\ample.jp\"; spf=pass", 0, OURS, 1},
        {"\"other.example\"; spf=pass", 0, OURS, 0},
        /* near misses */
        {"a.mx.example.jp; spf=pass", 0, OURS, 0},
        {"mx.example.jp.evil; spf=pass", 0, OURS, 0},
        {"mx.example.j; spf=pass", 0, OURS, 0},
        {"mx-example.jp; spf=pass", 0, OURS, 0},
        {"other.example; spf=pass (mx.example.jp)", 0, OURS, 0},
        /* malformed: unterminated comment or quote counts as ours when ours appears */
        {"(unterminated mx.example.jp; spf=pass", 0, OURS, 1},
        {"(unterminated other.example; spf=pass", 0, OURS, 0},
        {"\"mx.example.jp; spf=pass", 0, OURS, 1},
        /* empty */
        {"", 0, OURS, 0},
        {"   ", 0, OURS, 0},
        {"; spf=pass", 0, OURS, 0},
        {"mx.example.jp; spf=pass", 0, "", 0},
        /* NUL ends the value */
        {"mx.exa\0mple.jp; spf=pass", 23, OURS, 0},
        {"\0mx.example.jp; spf=pass", 24, OURS, 0},
        {"mx.example.jp\0garbage", 21, OURS, 1},
        /* len shorter than the string */
        {"mx.example.jp.evil", 13, OURS, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].value);
        int got = ar_match_ours(cases[i].value, len, cases[i].ours);
        if (got != cases[i].want)
            fail_msg("case %zu: ar_match_ours(\"%s\", \"%s\"): got %d, want %d", i, cases[i].value,
                     cases[i].ours, got, cases[i].want);
    }
}

/* test_oversized - huge comments are scanned to the end; huge ids are never ours */
static void test_oversized(void **state)
{
    size_t big = 200000;
    char *v = malloc(big + 64);
    int got;

    /* 200 kB comment before our id */
    v[0] = '(';
    memset(v + 1, 'x', big);
    memcpy(v + 1 + big, ") mx.example.jp; spf=pass", 26);
    got = ar_match_ours(v, strlen(v), OURS);
    if (got != 1)
        fail_msg("200 kB comment then our id: got %d, want 1", got);
    /* deeply nested comment */
    for (size_t i = 0; i < big; i++)
        v[i] = i < big / 2 ? '(' : ')';
    memcpy(v + big, "mx.example.jp;", 15);
    got = ar_match_ours(v, strlen(v), OURS);
    if (got != 1)
        fail_msg("100k nested comment then our id: got %d, want 1", got);
    /* id of 300 characters that starts with ours */
    memcpy(v, OURS, 13);
    memset(v + 13, 'a', 300);
    memcpy(v + 313, "; spf=pass", 11);
    got = ar_match_ours(v, strlen(v), OURS);
    if (got != 0)
        fail_msg("300-character id: got %d, want 0", got);
    /* the same quoted */
    v[0] = '"';
    memset(v + 1, 'a', 300);
    memcpy(v + 301, "\"; spf=pass", 12);
    got = ar_match_ours(v, strlen(v), OURS);
    if (got != 0)
        fail_msg("300-character quoted id: got %d, want 0", got);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_oversized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
