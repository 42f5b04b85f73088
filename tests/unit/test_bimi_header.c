/* test_bimi_header.c - BIMI-Location and BIMI-Indicator values: the URIs, base64 of the
 * SVG in 76-character lines joined by the fold, exact sizes, too-small buffers refused;
 * whether a DKIM-Signature's h= lists BIMI-Selector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bimi/bimi.h"

static void test_location(void **state)
{
    struct bimi_record r;
    char out[512];

    (void)state;
    memset(&r, 0, sizeof(r));
    snprintf(r.l, sizeof(r.l), "https://b.example/l.svg");
    assert_int_equal(bimi_format_location(&r, out, sizeof(out)), 0);
    assert_string_equal(out, "v=BIMI1; l=https://b.example/l.svg");
    snprintf(r.a, sizeof(r.a), "https://b.example/a.pem");
    assert_int_equal(bimi_format_location(&r, out, sizeof(out)), 0);
    assert_string_equal(out, "v=BIMI1; l=https://b.example/l.svg; a=https://b.example/a.pem");
    assert_int_equal(bimi_format_location(&r, out, 20), -1);
}

static const struct {
    const char *in, *fold, *want;
} rows[] = {
    {"", "\n\t", ""},
    {"f", "\n\t", "Zg=="},
    {"fo", "\n\t", "Zm8="},
    {"foo", "\n\t", "Zm9v"},
    {"<svg/>", "\n\t", "PHN2Zy8+"},
    /* 57 bytes -> 76 characters: one full line, no fold */
    {"123456789012345678901234567890123456789012345678901234567", "\n\t",
     "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3"},
    /* 58 bytes -> 80 characters: folded after 76 */
    {"1234567890123456789012345678901234567890123456789012345678", "|",
     "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3|OA=="},
};

static void test_indicator(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[256];
        size_t n = strlen(rows[i].in), need = bimi_indicator_size(n, rows[i].fold);
        int rc = bimi_format_indicator(rows[i].in, n, rows[i].fold, out, sizeof(out));

        if (rc != 0 || strcmp(out, rows[i].want) != 0)
            fail_msg("indicator(\"%s\"): got %d \"%s\", want \"%s\"", rows[i].in, rc,
                     rc == 0 ? out : "", rows[i].want);
        if (need != strlen(rows[i].want) + 1)
            fail_msg("indicator_size(%zu): got %zu, want %zu", n, need, strlen(rows[i].want) + 1);
        if (need > 1 && bimi_format_indicator(rows[i].in, n, rows[i].fold, out, need - 1) == 0)
            fail_msg("indicator(\"%s\") into %zu bytes: got 0, want -1", rows[i].in, need - 1);
    }
}

static const struct {
    const char *sig;
    int want;
} sig_rows[] = {
    {"v=1; a=rsa-sha256; d=b.example; s=s1; h=from:subject:bimi-selector; bh=x; b=y", 1},
    {"v=1; h=From:BIMI-Selector:Subject; b=y", 1},
    {"v=1; h = from :\r\n\tbimi-selector\r\n\t: to ; b=y", 1},
    {"h=bimi-selector", 1},
    {"v=1; h=from:subject; b=y", 0},
    {"v=1; h=from:bimi-selector-x:subject; b=y", 0},
    {"v=1; h=from:xbimi-selector; b=y", 0},
    {"v=1; bh=bimi-selector; b=y", 0},        /* not the h= tag */
    {"v=1; z=bimi-selector; h=from; b=y", 0}, /* copied header values do not count */
    {"v=1; hh=bimi-selector; h=from; b=y", 0},
    {"v=1; h; bimi-selector; b=y", 0}, /* h without = */
    {"v=1; a=rsa-sha256; b=y", 0},     /* no h= */
    {"", 0},
};

static void test_signs_selector(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sig_rows) / sizeof(sig_rows[0]); i++) {
        int got = bimi_dkim_signs_selector(sig_rows[i].sig);

        if (got != sig_rows[i].want)
            fail_msg("row %zu %s: got %d, want %d", i, sig_rows[i].sig, got, sig_rows[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_location),
        cmocka_unit_test(test_indicator),
        cmocka_unit_test(test_signs_selector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
