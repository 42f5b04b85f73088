/* test_store_addr.c - the key forms of the consent store: domains, addresses (case,
 * brackets, bad shapes) and the subaddress cut, as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "senderauth/store.h"

static int failures;

static void check_str(const char *what, const char *in, int grc, const char *got, int wrc,
                      const char *want)
{
    if (grc != wrc || (wrc >= 0 && strcmp(got, want) != 0)) {
        print_error("%s(\"%s\"): got %d \"%s\", want %d \"%s\"\n", what, in, grc, got, wrc,
                    want != NULL ? want : "");
        failures++;
    }
}

static void test_domain(void **state)
{
    static const struct {
        const char *in;
        int rc;
        const char *want;
    } t[] = {
        {"Example.COM", 0, "example.com"},
        {"example.com.", 0, "example.com"},
        {"xn--ls8h.example", 0, "xn--ls8h.example"},
        {"a", 0, "a"},
        {"", -1, NULL},
        {".", -1, NULL},
        {"example..com", -1, NULL},
        {".example.com", -1, NULL},
        {"example.com..", -1, NULL},
        {"exa mple.com", -1, NULL},
        {"user@example.com", -1, NULL},
        {"<example.com>", -1, NULL},
        {"a\tb", -1, NULL},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", 0,
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"},            /* 63 */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", -1, NULL}, /* 64 */
    };
    char out[STORE_DOMAIN_MAX];

    failures = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int rc = store_normalize_domain(t[i].in, out, sizeof(out));

        check_str("store_normalize_domain", t[i].in, rc, out, t[i].rc, t[i].want);
    }
    assert_int_equal(failures, 0);
}

static void test_address(void **state)
{
    static const struct {
        const char *in;
        int cs;
        int rc;
        const char *want;
    } t[] = {
        {"User@Example.COM", 0, 0, "user@example.com"},
        {"User@Example.COM", 1, 0, "User@example.com"},
        {"<Foo+Bar@Example.com>", 0, 0, "foo+bar@example.com"},
        {"<Foo+Bar@Example.com.>", 1, 0, "Foo+Bar@example.com"},
        {"\"a@b\"@example.com", 0, 0, "\"a@b\"@example.com"}, /* the last '@' splits */
        {"user@", 0, -1, NULL},
        {"@example.com", 0, -1, NULL},
        {"example.com", 0, -1, NULL},
        {"<>", 0, -1, NULL},
        {"", 0, -1, NULL},
        {"us er@example.com", 0, -1, NULL},
        {"user@exa mple.com", 0, -1, NULL},
        {"\"a,b\"@Example.com", 0, 0, "\"a,b\"@example.com"}, /* quoted local part */
        {"user@example..com", 0, -1, NULL},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.example", 0, 0,
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.example"}, /* 64 */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.example", 0, -1,
         NULL}, /* 65 */
        {"\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88@Example.JP", 0, 0,
         "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88@example.jp"}, /* UTF-8 local part kept as is */
    };
    char out[STORE_ADDR_MAX];

    failures = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int rc = store_normalize_address(t[i].in, t[i].cs, out, sizeof(out));

        check_str("store_normalize_address", t[i].in, rc, out, t[i].rc, t[i].want);
    }
    assert_int_equal(failures, 0);
}

static void test_strip(void **state)
{
    static const struct {
        const char *in, *delims;
        int rc;
        const char *want;
    } t[] = {
        {"user+tag@example.com", "+", 1, "user@example.com"},
        {"user+tag+more@example.com", "+", 1, "user@example.com"},
        {"user-tag@example.com", "+-", 1, "user@example.com"},
        {"user-tag@example.com", "+", 0, "user-tag@example.com"},
        {"user@exa+mple.com", "+", 0, "user@exa+mple.com"}, /* never in the domain */
        {"+tag@example.com", "+", 0, "+tag@example.com"},   /* nothing before it */
        {"user+@example.com", "+", 1, "user@example.com"},
        {"user+tag@example.com", "", 0, "user+tag@example.com"},
        {"user", "+", -1, NULL},
    };
    char out[STORE_ADDR_MAX];

    failures = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int rc = store_strip_subaddress(t[i].in, t[i].delims, out, sizeof(out));

        check_str("store_strip_subaddress", t[i].in, rc, out, t[i].rc, t[i].want);
    }
    assert_int_equal(failures, 0);
}

static void test_small_buffers(void **state)
{
    char out[8];

    assert_int_equal(store_normalize_domain("example.com", out, sizeof(out)), -1);
    assert_int_equal(store_normalize_address("a@example.com", 0, out, sizeof(out)), -1);
    assert_int_equal(store_strip_subaddress("abcdefgh@x", "+", out, sizeof(out)), -1);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_strip),
        cmocka_unit_test(test_small_buffers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
