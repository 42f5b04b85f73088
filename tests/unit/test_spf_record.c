/* test_spf_record.c - spf_record_check (RFC 7208 section 12 grammar plus our bounds) and
 * spf_record_rewrite: tables of records with the expected verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "spf/spf_eval.h"
#include "spf/spf_int.h"

static void test_record_check(void **state)
{
    static const struct {
        const char *rec;
        int want;   /* 0 valid, -1 permerror */
    } cases[] = {
        /* valid */
        {"v=spf1", 0},
        {"v=spf1 -all", 0},
        {"V=SPF1 -ALL", 0},
        {"v=spf1  a  mx   -all  ", 0},
        {"v=spf1 +all", 0},
        {"v=spf1 ?all", 0},
        {"v=spf1 ~all", 0},
        {"v=spf1 a mx ptr -all", 0},
        {"v=spf1 a:example.com mx:example.com ptr:example.com", 0},
        {"v=spf1 a/24 mx/24//64 a//64", 0},
        {"v=spf1 a:example.com/0 a:example.com//0 a/32 a//128", 0},
        {"v=spf1 ip4:192.0.2.0/24 ip4:192.0.2.1 ip4:0.0.0.0/0", 0},
        {"v=spf1 ip6:2001:db8::/32 ip6:::1 ip6:::1.1.1.1/0 ip6:::ffff:1.2.3.4", 0},
        {"v=spf1 include:_spf.example.com exists:%{i}.bl.example.org", 0},
        {"v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}", 0},
        {"v=spf1 exists:%{d2}.example.com exists:%{D128R-.+,/_=}", 0},
        {"v=spf1 a:%{d}", 0},
        {"v=spf1 a:foo.%%.example.com a:x%_y%-z.example.com", 0},
        {"v=spf1 a:example.com. a:example.123-4", 0},
        {"v=spf1 redirect=_spf.example.com", 0},
        {"v=spf1 exp=explain.example.com -all", 0},
        {"v=spf1 foo=bar -all", 0},
        {"v=spf1 moo.cow-far_out=man:dog/cat -all", 0},
        {"v=spf1 unknown= -all", 0},
        {"v=spf1 a:foo:bar/baz.example.com", 0},
        {"v=spf1 mx:example.com/24", 0},
        /* non-ASCII, control characters, NUL */
        {"v=spf1 a:\xef\xbb\xbfgarbage.example.net -all", -1},
        {"v=spf1 \x80" "a:example.net -all", -1},
        {"v=spf1 a:example.net \x96" "all", -1},
        {"v=spf1 a:ctrl.example.com\rptr -all", -1},
        {"v=spf1 ip4:192.0.2.5\n include:x.example.com", -1},
        {"v=spf1\ta -all", -1},
        /* version */
        {"v=spf10", -1},
        {"v=spf2 -all", -1},
        {"spf1 -all", -1},
        {"", -1},
        /* mechanisms */
        {"v=spf1 foo -all", -1},
        {"v=spf1 redirect:t2.example.com", -1},
        {"v=spf1 +redirect=t2.example.com", -1},
        {"v=spf1 all:foo", -1},
        {"v=spf1 all/24", -1},
        {"v=spf1 include", -1},
        {"v=spf1 include:", -1},
        {"v=spf1 exists", -1},
        {"v=spf1 exists:", -1},
        {"v=spf1 a:", -1},
        {"v=spf1 mx:", -1},
        {"v=spf1 ptr/0 -all", -1},
        {"v=spf1 ptr:", -1},
        {"v=spf1 -", -1},
        /* CIDR */
        {"v=spf1 a/032", -1},
        {"v=spf1 a/33", -1},
        {"v=spf1 a//129", -1},
        {"v=spf1 a//0128", -1},
        {"v=spf1 a/", -1},
        {"v=spf1 a:example.com/24/64", -1},
        {"v=spf1 ip4:1.2.3.4/032", -1},
        {"v=spf1 ip4:1.2.3.4/33", -1},
        {"v=spf1 ip4:1.2.3.4/", -1},
        {"v=spf1 ip6:::1/129", -1},
        {"v=spf1 ip6:::1/0128", -1},
        /* addresses */
        {"v=spf1 ip4:1.2.3", -1},
        {"v=spf1 ip4:1.2.3.256", -1},
        {"v=spf1 ip4:01.2.3.4", -1},
        {"v=spf1 ip4:1.2.3.4.5", -1},
        {"v=spf1 ip4:", -1},
        {"v=spf1 ip4:example.com", -1},
        {"v=spf1 ip6:1.2.3.4", -1},
        {"v=spf1 ip6:::g", -1},
        {"v=spf1 ip6:1:2:3:4:5:6:7:8:9", -1},
        /* domain-end / toplabel */
        {"v=spf1 a:localhost", -1},
        {"v=spf1 a:example.123", -1},
        {"v=spf1 a:example.-com", -1},
        {"v=spf1 a:example.com-", -1},
        {"v=spf1 include:example.c_m", -1},
        {"v=spf1 a:example.com..", -1},
        {"v=spf1 exists:%{d}.123", -1},
        /* modifiers */
        {"v=spf1 redirect=", -1},
        {"v=spf1 exp=", -1},
        {"v=spf1 redirect=a.example.com redirect=b.example.com", -1},
        {"v=spf1 exp=a.example.com exp=b.example.com", -1},
        {"v=spf1 redirect=-all ?all", -1},
        {"v=spf1 1foo=bar", -1},
        {"v=spf1 foo=%", -1},
        /* macros */
        {"v=spf1 a:%{x}.example.com", -1},
        {"v=spf1 a:%{d", -1},
        {"v=spf1 a:%{}.example.com", -1},
        {"v=spf1 a:%{d0}.example.com", -1},
        {"v=spf1 a:%{d1234}.example.com", -1},
        {"v=spf1 a:%{d2rr}.example.com", -1},
        {"v=spf1 a:%{d2r*}.example.com", -1},
        {"v=spf1 a:%x.example.com", -1},
        {"v=spf1 a:example.com%", -1},
        {"v=spf1 exists:%{r}.example.com", -1},
        {"v=spf1 exists:%{c}.example.com", -1},
        {"v=spf1 exists:%{t}.example.com", -1},
        {"v=spf1 foo=%{r}", -1},
        {"v=spf1 exists:%{l.........}.example.com", -1},
    };
    char reason[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = spf_record_check(cases[i].rec, strlen(cases[i].rec), reason, sizeof(reason));

        if (rc != cases[i].want)
            fail_msg("spf_record_check(\"%s\"): got %d (%s), want %d", cases[i].rec, rc, reason,
                     cases[i].want);
        if (rc < 0 && reason[0] == '\0')
            fail_msg("spf_record_check(\"%s\"): no reason given", cases[i].rec);
    }
}

/* Records over our bounds and records that cut at a NUL. */
static void test_record_bounds(void **state)
{
    char reason[128], *big;
    static const char nul[] = "v=spf1 a:foo.example.com\0 -all";
    size_t n;

    assert_int_equal(spf_record_check(nul, sizeof(nul) - 1, reason, sizeof(reason)), -1);
    assert_int_equal(spf_record_check(nul, strlen(nul), reason, sizeof(reason)), 0);

    big = malloc(SPF_MAX_RECORD + 64);
    assert_non_null(big);
    memcpy(big, "v=spf1", 6);
    for (n = 6; n + 13 <= SPF_MAX_RECORD + 20;)
        n += (size_t)snprintf(big + n, 14, " ip4:10.0.0.1");
    assert_int_equal(spf_record_check(big, n, reason, sizeof(reason)), -1);
    if (strstr(reason, "too long") == NULL)
        fail_msg("over-long record: got reason \"%s\", want \"record too long\"", reason);
    free(big);
}

static void test_record_rewrite(void **state)
{
    static const struct {
        const char *rec;
        int af;
        const char *want;
    } cases[] = {
        {"v=spf1 -all", AF_INET, "v=spf1 -all"},
        {"v=spf1 redirect=r.example.com a mx", AF_INET, "v=spf1 a mx redirect=r.example.com"},
        {"v=spf1 redirect=r.example.com -all", AF_INET, "v=spf1 -all"},
        {"v=spf1 exp=e.example.com foo.bar=baz -all", AF_INET, "v=spf1 -all"},
        {"v=spf1 ip4:1.1.1.1/0 -all", AF_INET, "v=spf1 all -all"},
        {"v=spf1 -ip4:1.1.1.1/0 +all", AF_INET6, "v=spf1 +all"},
        {"v=spf1 ip6:::1/0", AF_INET6, "v=spf1 all"},
        {"v=spf1 ip6:::1/0", AF_INET, "v=spf1"},
        {"v=spf1 ~a:d.example/0 -all", AF_INET, "v=spf1 ~a:d.example." SPF_CIDR0_LABEL " -all"},
        {"v=spf1 a/0 -all", AF_INET, "v=spf1 a:%{d}." SPF_CIDR0_LABEL " -all"},
        {"v=spf1 a/0 -all", AF_INET6, "v=spf1 a -all"},
        {"v=spf1 mx:d.example./24//0", AF_INET6, "v=spf1 mx:d.example." SPF_CIDR0_LABEL},
        {"v=spf1 mx:d.example./24//0", AF_INET, "v=spf1 mx:d.example./24"},
        {"v=spf1 a//0", AF_INET, "v=spf1 a"},
        {"v=spf1   a   ip4:1.2.3.4/24  ", AF_INET, "v=spf1 a ip4:1.2.3.4/24"},
    };
    char out[SPF_MAX_RECORD + 1];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = spf_record_rewrite(cases[i].rec, strlen(cases[i].rec), cases[i].af, NULL, out,
                                    sizeof(out));

        if (rc != 0 || strcmp(out, cases[i].want) != 0)
            fail_msg("spf_record_rewrite(\"%s\", %s): got %d \"%s\", want \"%s\"", cases[i].rec,
                     cases[i].af == AF_INET ? "v4" : "v6", rc, out, cases[i].want);
    }
    assert_int_equal(spf_record_rewrite("v=spf1 a mx", 11, AF_INET, NULL, out, 8), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_check),
        cmocka_unit_test(test_record_bounds),
        cmocka_unit_test(test_record_rewrite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
