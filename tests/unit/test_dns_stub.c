/* test_dns_stub.c - the test stub answers like a recursive server: table of queries
 * against one zone, with the status and records expected; plus the answer helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dns/dns.h"

/* render - one record as presentation text, for comparing with the table */
static void render(const struct dns_rr *r, char *out, size_t size)
{
    char ip[INET6_ADDRSTRLEN];

    switch (r->type) {
    case DNS_T_A:
        inet_ntop(AF_INET, &r->u.a, ip, sizeof(ip));
        snprintf(out, size, "%s", ip);
        break;
    case DNS_T_AAAA:
        inet_ntop(AF_INET6, &r->u.aaaa, ip, sizeof(ip));
        snprintf(out, size, "%s", ip);
        break;
    case DNS_T_MX:
        snprintf(out, size, "%u %s", r->u.mx.pref, r->u.mx.exchange);
        break;
    case DNS_T_TXT:
        snprintf(out, size, "%s", r->u.txt.data);
        break;
    default:
        snprintf(out, size, "%s", r->u.name);
        break;
    }
}

static struct dns *zone(void)
{
    static const struct {
        const char *name;
        uint16_t type;
        const char *value;
    } recs[] = {
        {"Example.COM", DNS_T_A, "192.0.2.1"},
        {"example.com", DNS_T_A, "192.0.2.2"},
        {"example.com", DNS_T_MX, "10 MX.Example.com."},
        {"example.com", DNS_T_TXT, "v=spf1 -all"},
        {"a.example", DNS_T_AAAA, "2001:db8::1"},
        {"alias.example", DNS_T_CNAME, "example.com"},
        {"alias2.example", DNS_T_CNAME, "alias.example"},
        {"loop1.example", DNS_T_CNAME, "loop2.example"},
        {"loop2.example", DNS_T_CNAME, "loop1.example"},
        {"dangling.example", DNS_T_CNAME, "nowhere.example"},
        {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "mx.example.com"},
        {"sel._domainkey.d.example", DNS_T_TXT, "v=DKIM1; p=abc"},
    };
    struct dns *d = dns_stub_new();

    assert_non_null(d);
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
        if (dns_stub_add(d, recs[i].name, recs[i].type, recs[i].value) != 0)
            fail_msg("dns_stub_add(%s, %s): got -1, want 0", recs[i].name, recs[i].value);
    assert_int_equal(dns_stub_fail(d, "broken.example", 0, DNS_TEMPFAIL), 0);
    assert_int_equal(dns_stub_fail(d, "example.com", DNS_T_AAAA, DNS_BADREPLY), 0);
    return d;
}

static void test_stub_table(void **state)
{
    static const struct {
        const char *name;
        uint16_t type;
        enum dns_status want;
        const char *want_rr[3];
    } cases[] = {
        {"example.com", DNS_T_A, DNS_OK, {"192.0.2.1", "192.0.2.2"}},
        {"EXAMPLE.com.", DNS_T_A, DNS_OK, {"192.0.2.1", "192.0.2.2"}},
        {"example.com", DNS_T_MX, DNS_OK, {"10 mx.example.com"}},
        {"example.com", DNS_T_TXT, DNS_OK, {"v=spf1 -all"}},
        {"example.com", DNS_T_PTR, DNS_NODATA, {NULL}},
        {"example.com", DNS_T_AAAA, DNS_BADREPLY, {NULL}},
        {"a.example", DNS_T_AAAA, DNS_OK, {"2001:db8::1"}},
        {"a.example", DNS_T_A, DNS_NODATA, {NULL}},
        {"none.example", DNS_T_A, DNS_NXDOMAIN, {NULL}},
        {"alias.example", DNS_T_A, DNS_OK, {"192.0.2.1", "192.0.2.2"}},
        {"alias2.example", DNS_T_TXT, DNS_OK, {"v=spf1 -all"}},
        {"alias.example", DNS_T_CNAME, DNS_OK, {"example.com"}},
        {"alias.example", DNS_T_AAAA, DNS_BADREPLY, {NULL}},
        {"dangling.example", DNS_T_A, DNS_NXDOMAIN, {NULL}},
        {"loop1.example", DNS_T_A, DNS_TEMPFAIL, {NULL}},
        {"broken.example", DNS_T_TXT, DNS_TEMPFAIL, {NULL}},
        {"broken.example", DNS_T_A, DNS_TEMPFAIL, {NULL}},
        {"1.2.0.192.in-addr.arpa", DNS_T_PTR, DNS_OK, {"mx.example.com"}},
        {"_domainkey.d.example", DNS_T_TXT, DNS_NODATA, {NULL}}, /* empty non-terminal */
        {"d.example", DNS_T_TXT, DNS_NODATA, {NULL}},
        {"xd.example", DNS_T_TXT, DNS_NXDOMAIN, {NULL}},
        {"", DNS_T_A, DNS_NXDOMAIN, {NULL}},
        {"a..example", DNS_T_A, DNS_NXDOMAIN, {NULL}},
        {".", DNS_T_A, DNS_NXDOMAIN, {NULL}},
        {"x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
         DNS_T_A,
         DNS_NXDOMAIN,
         {NULL}},
    };
    struct dns *d = zone();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dns_answer *a = (struct dns_answer *)1;
        enum dns_status st = dns_query(d, cases[i].name, cases[i].type, &a);
        int want_n = 0;

        while (want_n < 3 && cases[i].want_rr[want_n] != NULL)
            want_n++;
        if (st != cases[i].want)
            fail_msg("query(%s, %s): got %s, want %s", cases[i].name, dns_type_name(cases[i].type),
                     dns_status_name(st), dns_status_name(cases[i].want));
        if (st != DNS_OK) {
            if (a != NULL)
                fail_msg("query(%s): status %s but answer set", cases[i].name, dns_status_name(st));
            continue;
        }
        if (a == NULL || a->nrr != want_n || a->type != cases[i].type)
            fail_msg("query(%s, %s): got %d records, want %d", cases[i].name,
                     dns_type_name(cases[i].type), a ? a->nrr : -1, want_n);
        for (int k = 0; k < want_n; k++) {
            char got[300];

            render(&a->rr[k], got, sizeof(got));
            if (strcmp(got, cases[i].want_rr[k]) != 0)
                fail_msg("query(%s) rr %d: got \"%s\", want \"%s\"", cases[i].name, k, got,
                         cases[i].want_rr[k]);
        }
        dns_answer_free(a);
    }
    assert_int_equal(dns_stub_queries(d), (int)(sizeof(cases) / sizeof(cases[0])));
    dns_free(d);
}

static void test_stub_txt_len_and_bounds(void **state)
{
    struct dns *d = dns_stub_new();
    struct dns_answer *a, *c;
    char many[8];

    assert_int_equal(dns_stub_add_txt_len(d, "nul.example", "ab\0cd", 5), 0);
    assert_int_equal(dns_query(d, "nul.example", DNS_T_TXT, &a), DNS_OK);
    assert_int_equal(a->rr[0].u.txt.len, 5);
    assert_memory_equal(a->rr[0].u.txt.data, "ab\0cd", 6);
    c = dns_answer_copy(a);
    assert_non_null(c);
    assert_int_equal(c->rr[0].u.txt.len, 5);
    assert_memory_equal(c->rr[0].u.txt.data, "ab\0cd", 6);
    assert_ptr_not_equal(c->rr[0].u.txt.data, a->rr[0].u.txt.data);
    dns_answer_free(a);
    dns_answer_free(c);

    for (int i = 0; i < DNS_MAX_RRS + 6; i++) {
        snprintf(many, sizeof(many), "t%d", i);
        assert_int_equal(dns_stub_add(d, "many.example", DNS_T_TXT, many), 0);
    }
    assert_int_equal(dns_query(d, "many.example", DNS_T_TXT, &a), DNS_OK);
    if (a->nrr != DNS_MAX_RRS || !a->truncated)
        fail_msg("many: got nrr=%d truncated=%d, want %d 1", a->nrr, a->truncated, DNS_MAX_RRS);
    dns_answer_free(a);

    /* Bad presentation text is refused. */
    assert_int_equal(dns_stub_add(d, "x.example", DNS_T_A, "300.1.1.1"), -1);
    assert_int_equal(dns_stub_add(d, "x.example", DNS_T_MX, "mx.example"), -1);
    assert_int_equal(dns_stub_add(d, "x..example", DNS_T_TXT, "t"), -1);

    /* TTLs and clear. */
    dns_stub_set_ttl(d, 42, 7);
    assert_int_equal(dns_stub_add(d, "ttl.example", DNS_T_A, "192.0.2.9"), 0);
    assert_int_equal(dns_query(d, "ttl.example", DNS_T_A, &a), DNS_OK);
    assert_int_equal(a->ttl, 42);
    dns_answer_free(a);
    {
        uint32_t neg = 0;

        assert_int_equal(dns_query_ttl(d, "ttl.example", DNS_T_TXT, &a, &neg), DNS_NODATA);
        assert_int_equal(neg, 7);
        assert_null(a);
    }
    dns_stub_clear(d);
    assert_int_equal(dns_query(d, "ttl.example", DNS_T_A, &a), DNS_NXDOMAIN);
    dns_free(d);
    assert_null(dns_free(NULL));
    assert_null(dns_answer_free(NULL));
}

static void test_names(void **state)
{
    static const struct {
        const char *in, *want; /* want NULL: invalid */
    } cases[] = {
        {"Example.COM", "example.com"},
        {"example.com.", "example.com"},
        {"a", "a"},
        {"", NULL},
        {".", NULL},
        {"a..b", NULL},
        {".a", NULL},
        {"a.b..", NULL},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", NULL},
    };
    char out[DNS_MAX_NAME + 1], longname[300];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = dns_name_check(cases[i].in, out);

        if (cases[i].want == NULL ? rc != -1 : (rc != 0 || strcmp(out, cases[i].want) != 0))
            fail_msg("dns_name_check(\"%s\"): got rc=%d \"%s\", want %s", cases[i].in, rc,
                     rc == 0 ? out : "", cases[i].want ? cases[i].want : "invalid");
    }
    /* 253 characters is the longest name; 254 is too long. */
    memset(longname, 'a', sizeof(longname));
    for (int i = 63; i < 253; i += 64)
        longname[i] = '.';
    longname[253] = '\0';
    assert_int_equal(dns_name_check(longname, out), 0);
    longname[253] = 'a';
    longname[254] = '\0';
    assert_int_equal(dns_name_check(longname, out), -1);

    assert_string_equal(dns_type_name(DNS_T_TXT), "TXT");
    assert_string_equal(dns_type_name(99), "TYPE99");
    assert_int_equal(dns_type_parse("aaaa"), DNS_T_AAAA);
    assert_int_equal(dns_type_parse("TYPE99"), 99);
    assert_int_equal(dns_type_parse("bogus"), 0);
    assert_string_equal(dns_status_name(DNS_NODATA), "nodata");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stub_table),
        cmocka_unit_test(test_stub_txt_len_and_bounds),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
