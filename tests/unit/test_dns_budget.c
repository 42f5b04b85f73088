/* test_dns_budget.c - per-message budget over the stub: query cap and monotonic
 * deadline, as a table of (max_queries, deadline offset, queries) with the statuses
 * expected and how many reached the stub. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "dns/dns.h"

static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_budget_table(void **state)
{
    static const struct {
        int max_queries;
        double deadline_in; /* seconds from now; 0: no deadline */
        int nq;
        const char *want; /* one letter per query: o ok, n nxdomain, t tempfail */
        int want_up;
    } cases[] = {
        {3, 0, 5, "onott", 3},    {1, 0, 3, "ott", 1}, {0, 0, 4, "onon", 4}, /* no cap */
        {10, 3600, 4, "onon", 4}, /* deadline far ahead */
        {10, -1, 3, "ttt", 0},    /* deadline passed */
        {2, -1, 2, "tt", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dns *stub = dns_stub_new(), *b;
        double dl = cases[i].deadline_in == 0 ? 0 : now_mono() + cases[i].deadline_in;
        char got[16];

        assert_int_equal(dns_stub_add(stub, "example.com", DNS_T_A, "192.0.2.1"), 0);
        b = dns_budget_new(stub, cases[i].max_queries, dl);
        assert_non_null(b);
        for (int k = 0; k < cases[i].nq; k++) {
            struct dns_answer *a;
            enum dns_status st = dns_query(b, k % 2 ? "none.example" : "example.com", DNS_T_A, &a);

            got[k] = st == DNS_OK ? 'o' : st == DNS_NXDOMAIN ? 'n' : st == DNS_TEMPFAIL ? 't' : '?';
            dns_answer_free(a);
        }
        got[cases[i].nq] = '\0';
        if (strcmp(got, cases[i].want) != 0 || dns_stub_queries(stub) != cases[i].want_up ||
            dns_budget_queries(b) != cases[i].want_up)
            fail_msg("case %zu: got %s upstream=%d counted=%d, want %s %d", i, got,
                     dns_stub_queries(stub), dns_budget_queries(b), cases[i].want,
                     cases[i].want_up);
        dns_free(b);
        dns_free(stub);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
