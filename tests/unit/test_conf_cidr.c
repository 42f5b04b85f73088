/* test_conf_cidr.c - trusted_networks matching: a table of (networks, client, want),
 * by text and by struct sockaddr, including IPv4-mapped IPv6 clients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "conf/conf.h"

static const struct cidr_case {
    const char *networks; /* inside trusted_networks = [ ... ] */
    const char *ip;
    int want;
} cases[] = {
    {"\"192.0.2.0/24\"", "192.0.2.0", 1},
    {"\"192.0.2.0/24\"", "192.0.2.255", 1},
    {"\"192.0.2.0/24\"", "192.0.3.0", 0},
    {"\"192.0.2.0/24\"", "192.0.1.255", 0},
    {"\"192.0.2.128/25\"", "192.0.2.127", 0},
    {"\"192.0.2.128/25\"", "192.0.2.128", 1},
    {"\"10.0.0.0/7\"", "11.255.255.255", 1},
    {"\"10.0.0.0/7\"", "12.0.0.0", 0},
    {"\"198.51.100.7\"", "198.51.100.7", 1},
    {"\"198.51.100.7\"", "198.51.100.6", 0},
    {"\"198.51.100.7/32\"", "198.51.100.7", 1},
    {"\"0.0.0.0/0\"", "203.0.113.9", 1},
    {"\"0.0.0.0/0\"", "2001:db8::1", 0}, /* an IPv4 network never matches IPv6 */
    {"\"::/0\"", "2001:db8::1", 1},
    {"\"::/0\"", "203.0.113.9", 0}, /* and the other way round */
    {"\"2001:db8::/32\"", "2001:db8:ffff::1", 1},
    {"\"2001:db8::/32\"", "2001:db9::1", 0},
    {"\"2001:db8:0:80::/57\"", "2001:db8:0:ff::1", 1},
    {"\"2001:db8:0:80::/57\"", "2001:db8:0:7f::1", 0},
    {"\"::1\"", "::1", 1},
    {"\"::1\"", "::2", 0},
    {"\"192.0.2.0/24\"", "::ffff:192.0.2.10", 1}, /* IPv4-mapped client */
    {"\"192.0.2.0/24\"", "::ffff:192.0.3.10", 0},
    {"\"::ffff:0:0/96\"", "::ffff:192.0.2.10", 0}, /* mapped clients are compared as IPv4 */
    {"\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.0/24\"", "192.0.2.1", 1},
    {"\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.0/24\"", "2001:db8::25", 1},
    {"\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.0/24\"", "172.16.0.1", 0},
    {"", "127.0.0.1", 0},
    {"\"10.0.0.0/8\"", "not-an-ip", 0},
    {"\"10.0.0.0/8\"", "10.0.0.1/8", 0},
    {"\"10.0.0.0/8\"", "", 0},
};

/* sockaddr_of - the textual address as a sockaddr; 0 when it is not an address */
static int sockaddr_of(const char *ip, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ss->ss_family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ss->ss_family = AF_INET6;
        return 1;
    }
    return 0;
}

static void test_cidr_match(void **state)
{
    static struct conf_errors errs;
    char text[512];
    int failed = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct cidr_case *cc = &cases[i];
        struct sockaddr_storage ss;
        struct sa_conf *c;
        int got;

        snprintf(text, sizeof(text), "trusted_networks = [ %s ];\n", cc->networks);
        c = conf_load_string(text, "t.conf", &errs);
        if (c == NULL) {
            conf_errors_print(&errs, stderr);
            fail_msg("case %zu: networks [%s] do not load", i, cc->networks);
        }
        got = conf_cidr_match_str(c, cc->ip);
        if (got != cc->want) {
            print_error("case %zu: conf_cidr_match_str([%s], \"%s\"): got %d, want %d\n", i,
                        cc->networks, cc->ip, got, cc->want);
            failed++;
        }
        if (sockaddr_of(cc->ip, &ss)) {
            got = conf_cidr_match(c, (struct sockaddr *)&ss);
            if (got != cc->want) {
                print_error("case %zu: conf_cidr_match([%s], %s): got %d, want %d\n", i,
                            cc->networks, cc->ip, got, cc->want);
                failed++;
            }
        }
        conf_free(c);
    }
    if (failed)
        fail_msg("%d CIDR cases failed", failed);
}

static void test_cidr_null(void **state)
{
    struct sa_conf *c = conf_defaults();
    struct sockaddr_storage ss;

    assert_int_equal(conf_cidr_match_str(NULL, "127.0.0.1"), 0);
    assert_int_equal(conf_cidr_match_str(c, NULL), 0);
    assert_int_equal(conf_cidr_match(c, NULL), 0);
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    assert_int_equal(conf_cidr_match(c, (struct sockaddr *)&ss), 0);
    /* The defaults trust loopback only. */
    assert_int_equal(conf_cidr_match_str(c, "127.0.0.1"), 1);
    assert_int_equal(conf_cidr_match_str(c, "::1"), 1);
    assert_int_equal(conf_cidr_match_str(c, "192.0.2.1"), 0);
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_cidr_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
