/* test_util_base64.c - base64_decode: one table, both end-of-input rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/base64.h"

static void test_base64_table(void **state)
{
    static const struct {
        const char *in;
        size_t outsize;
        int rc_padded, rc_lenient; /* 0 or -1 */
        const char *want;          /* when rc is 0 */
    } cases[] = {
        {"", 16, 0, 0, ""},
        {"TWFu", 16, 0, 0, "Man"},
        {"TWE=", 16, 0, 0, "Ma"},
        {"TQ==", 16, 0, 0, "M"},
        {"TWE", 16, -1, 0, "Ma"},            /* padding missing: lenient only */
        {"TQ", 16, -1, 0, "M"},
        {"T", 16, -1, -1, ""},               /* dangling 6 bits */
        {" TW\r\n\tFu ", 16, 0, 0, "Man"},   /* FWS anywhere */
        {"TQ===", 16, -1, -1, ""},           /* three '=' */
        {"TQ==TQ==", 16, -1, -1, ""},        /* data after padding */
        {"TW!u", 16, -1, -1, ""},            /* not base64 */
        {"TWFu", 2, -1, -1, ""},             /* output bound */
        {"TWFu", 3, 0, 0, "Man"},            /* exactly fits */
        {"+/+/", 16, 0, 0, "\xfb\xff\xbf"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int mode = 0; mode < 2; mode++) {
            unsigned char out[16];
            size_t olen = 0;
            int want = mode == 0 ? cases[i].rc_padded : cases[i].rc_lenient;
            int rc = base64_decode(cases[i].in, strlen(cases[i].in), out, cases[i].outsize, &olen,
                                   mode == 0 ? BASE64_PADDED : BASE64_LENIENT);

            if (rc != want)
                fail_msg("base64_decode(\"%s\", %s): got rc %d, want %d", cases[i].in,
                         mode ? "lenient" : "padded", rc, want);
            if (rc == 0 && (olen != strlen(cases[i].want) || memcmp(out, cases[i].want, olen)))
                fail_msg("base64_decode(\"%s\"): got %zu bytes, want \"%s\"", cases[i].in, olen,
                         cases[i].want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
