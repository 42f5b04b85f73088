/* test_out_receivedspf.c - Received-SPF writer: table of inputs and exact values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "out/received_spf.h"

static void test_table(void **state)
{
    static const struct {
        struct received_spf in;
        const char *want;
    } cases[] = {
        {{AUTH_PASS, "mx.example.jp", "192.0.2.1", "user@a.example", "mail.a.example", "mailfrom",
          "a.example", NULL},
         "pass (mx.example.jp: domain of a.example designates 192.0.2.1 as permitted sender)\n"
         "\treceiver=mx.example.jp; client-ip=192.0.2.1;\n"
         "\tenvelope-from=\"user@a.example\"; helo=mail.a.example;\n"
         "\tidentity=mailfrom;"},
        {{AUTH_FAIL, "mx.example.jp", "2001:db8::1", "", "h.example", "mailfrom", "h.example",
          NULL},
         "fail (mx.example.jp: domain of h.example does not designate 2001:db8::1 as permitted "
         "sender)\n"
         "\treceiver=mx.example.jp; client-ip=\"2001:db8::1\"; envelope-from=\"\";\n"
         "\thelo=h.example; identity=mailfrom;"},
        /* hostile values: CR/LF and ';' are dropped, the comment is cleaned */
        {{AUTH_PERMERROR, "mx.example.jp", "192.0.2.1", "a;b@x.example\r\nX: y", "h\r\n.example",
          "mailfrom", "x.example", "bad (record); v=spf1\r\n"},
         "permerror (mx.example.jp: bad [record] v=spf1)\n"
         "\treceiver=mx.example.jp; client-ip=192.0.2.1; identity=mailfrom;"},
        {{AUTH_POLICY, "mx.example.jp", "192.0.2.1", "", "", "helo", "", NULL}, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[1024];
        received_spf_format(&cases[i].in, "\n\t", out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("case %zu:\ngot:  %s\nwant: %s", i, out, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_table)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
