/* test_iprev_eval.c - iprev (RFC 8601 3) against the DNS stub: one table of client
 * addresses over one zone, with the result, the name that led back and the query count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "iprev/iprev.h"

static struct dns *zone(void)
{
    struct dns *d = dns_stub_new();

    assert_non_null(d);
    /* 192.0.2.1: PTR -> mx.good.example -> A 192.0.2.1 (pass) */
    dns_stub_add(d, "1.2.0.192.in-addr.arpa", DNS_T_PTR, "mx.good.example");
    dns_stub_add(d, "mx.good.example", DNS_T_A, "192.0.2.1");
    /* 192.0.2.2: PTR -> liar.example whose A is elsewhere (fail) */
    dns_stub_add(d, "2.2.0.192.in-addr.arpa", DNS_T_PTR, "liar.example");
    dns_stub_add(d, "liar.example", DNS_T_A, "198.51.100.9");
    /* 192.0.2.3: no PTR (fail, no_ptr). 192.0.2.4: PTR SERVFAIL (temperror) */
    dns_stub_fail(d, "4.2.0.192.in-addr.arpa", 0, DNS_TEMPFAIL);
    /* 192.0.2.5: two names, the first breaks temporarily, the second matches (pass) */
    dns_stub_add(d, "5.2.0.192.in-addr.arpa", DNS_T_PTR, "broken.example");
    dns_stub_add(d, "5.2.0.192.in-addr.arpa", DNS_T_PTR, "ok.example");
    dns_stub_fail(d, "broken.example", 0, DNS_TEMPFAIL);
    dns_stub_add(d, "ok.example", DNS_T_A, "192.0.2.5");
    /* 192.0.2.6: only a broken forward name (temperror) */
    dns_stub_add(d, "6.2.0.192.in-addr.arpa", DNS_T_PTR, "broken.example");
    /* 192.0.2.7: twelve names, the matching one is the 12th: beyond IPREV_MAX_PTR (fail) */
    for (int i = 1; i <= 12; i++) {
        char n[64];
        snprintf(n, sizeof(n), "n%02d.many.example", i);
        dns_stub_add(d, "7.2.0.192.in-addr.arpa", DNS_T_PTR, n);
        dns_stub_add(d, n, DNS_T_A, i == 12 ? "192.0.2.7" : "203.0.113.1");
    }
    /* IPv6 2001:db8::1 -> v6.example AAAA (pass); the name has an A too (ignored) */
    dns_stub_add(d, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                 DNS_T_PTR, "v6.example");
    dns_stub_add(d, "v6.example", DNS_T_AAAA, "2001:db8::1");
    dns_stub_add(d, "v6.example", DNS_T_A, "192.0.2.99");
    return d;
}

static const struct {
    const char *ip;
    enum auth_res want;
    const char *name; /* the name that led back */
    int no_ptr;
    int queries;
    const char *ip_out;
} cases[] = {
    {"192.0.2.1", AUTH_PASS, "mx.good.example", 0, 2, "192.0.2.1"},
    {"192.0.2.2", AUTH_FAIL, "", 0, 2, "192.0.2.2"},
    {"192.0.2.3", AUTH_FAIL, "", 1, 1, "192.0.2.3"},
    {"192.0.2.4", AUTH_TEMPERROR, "", 0, 1, "192.0.2.4"},
    {"192.0.2.5", AUTH_PASS, "ok.example", 0, 3, "192.0.2.5"},
    {"192.0.2.6", AUTH_TEMPERROR, "", 0, 2, "192.0.2.6"},
    {"192.0.2.7", AUTH_FAIL, "", 0, 1 + IPREV_MAX_PTR, "192.0.2.7"},
    {"2001:db8::1", AUTH_PASS, "v6.example", 0, 2, "2001:db8::1"},
    {"::ffff:192.0.2.1", AUTH_PASS, "mx.good.example", 0, 2, "192.0.2.1"},
    {"not-an-ip", AUTH_PERMERROR, "", 0, 0, "not-an-ip"},
    {"", AUTH_PERMERROR, "", 0, 0, ""},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dns *d = zone();
        struct iprev_res r;
        int before = dns_stub_queries(d), rc = iprev_eval(cases[i].ip, d, &r);
        int q = dns_stub_queries(d) - before;

        if (r.result != cases[i].want)
            fail_msg("iprev_eval(%s): got %s (%s), want %s", cases[i].ip, auth_res_name(r.result),
                     r.reason, auth_res_name(cases[i].want));
        if (strcmp(r.name, cases[i].name) != 0)
            fail_msg("iprev_eval(%s): name got '%s', want '%s'", cases[i].ip, r.name,
                     cases[i].name);
        if (r.no_ptr != cases[i].no_ptr)
            fail_msg("iprev_eval(%s): no_ptr got %d, want %d", cases[i].ip, r.no_ptr,
                     cases[i].no_ptr);
        if (q != cases[i].queries)
            fail_msg("iprev_eval(%s): queries got %d, want %d", cases[i].ip, q, cases[i].queries);
        if (strcmp(r.ip, cases[i].ip_out) != 0)
            fail_msg("iprev_eval(%s): ip got '%s', want '%s'", cases[i].ip, r.ip, cases[i].ip_out);
        if ((rc < 0) != (cases[i].want == AUTH_PERMERROR))
            fail_msg("iprev_eval(%s): returned %d", cases[i].ip, rc);
        if ((r.result == AUTH_PASS) != (r.reason[0] == '\0'))
            fail_msg("iprev_eval(%s): reason '%s' with %s", cases[i].ip, r.reason,
                     auth_res_name(r.result));
        dns_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
