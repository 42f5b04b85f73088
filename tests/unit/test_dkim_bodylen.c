/* test_dkim_bodylen.c - canonical body length (RFC 6376 3.4.3/3.4.4) for l= coverage:
 * a table of bodies with hand-computed lengths, fed whole and byte by byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dkim/dkim_int.h"

static void test_bodylen(void **state)
{
    static const struct {
        const char *body;
        unsigned simple, relaxed;
    } cases[] = {
        {"", 2, 0},
        {"\r\n", 2, 0},
        {"\r\n\r\n\r\n", 2, 0},
        {"abc", 5, 5},
        {"abc\r\n\r\n\r\n", 5, 5},
        {"a  b \r\n", 7, 5},
        {" \t a\r\n", 6, 4},
        {"a\r\n \r\n\r\n", 6, 3},
        {"a\r\n  \r\nb\r\n", 10, 8},
        {"a\r\n\r\nb\r\n", 8, 8},
        {"a\rb\r\n", 5, 5},
        {"abc  ", 7, 5},
        {"abc\r", 6, 6},
        {"x\t\t\ty\r\n\r\n", 7, 5},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const unsigned char *b = (const unsigned char *)cases[i].body;
        size_t n = strlen(cases[i].body);

        for (int relaxed = 0; relaxed <= 1; relaxed++) {
            unsigned want = relaxed ? cases[i].relaxed : cases[i].simple;
            struct dkim_bodylen whole, bytes;

            dkim_bodylen_init(&whole, relaxed);
            dkim_bodylen_init(&bytes, relaxed);
            dkim_bodylen_add(&whole, b, n);
            for (size_t k = 0; k < n; k++)
                dkim_bodylen_add(&bytes, b + k, 1);
            if (dkim_bodylen_total(&whole) != want || dkim_bodylen_total(&bytes) != want)
                fail_msg("case %zu %s: got %llu (whole) %llu (bytes), want %u", i,
                         relaxed ? "relaxed" : "simple",
                         (unsigned long long)dkim_bodylen_total(&whole),
                         (unsigned long long)dkim_bodylen_total(&bytes), want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bodylen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
