/* test_mail_from.c - From parser: table of field values with the status and author domain
 * we want, including the hostile shapes a spoofer uses to make us pick the wrong domain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mail/from.h"

#define A10 "aaaaaaaaaa"
#define A55 A10 A10 A10 A10 A10 "aaaaa"
#define A61 A55 "aaaaaa"
#define A63 A61 "aa"
#define U_UML "\xc3\xbc" /* ü */

struct from_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    enum from_status want;
    const char *domain; /* want out->domain when FROM_OK */
    int naddr;          /* want out->naddr when FROM_OK and non-zero */
};

static const struct from_case cases[] = {
    /* Plain shapes. */
    {"a@example.com", 0, FROM_OK, "example.com", 1},
    {"<a@example.com>", 0, FROM_OK, "example.com", 1},
    {"Alice <alice@example.com>", 0, FROM_OK, "example.com", 1},
    {"\"Alice Smith\" <alice@example.com>", 0, FROM_OK, "example.com", 1},
    {"Alice@EXAMPLE.COM", 0, FROM_OK, "example.com", 1},
    {"  a@example.com\t ", 0, FROM_OK, "example.com", 1},
    {"a@example.com.", 0, FROM_OK, "example.com", 1},
    {"a@example.com..", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@.example.com", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@example..com", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a.b.c@example.com", 0, FROM_OK, "example.com", 1},
    {"a..b@example.com", 0, FROM_OK, "example.com", 1},
    {"a . b @ x . example", 0, FROM_OK, "x.example", 1},
    {"(a\x01"
     "b) a@x.example",
     0, FROM_OK, "x.example", 1},
    {"\"quoted\".part@example.com", 0, FROM_OK, "example.com", 1},
    {"Alice <a@example.com>, Bob <b@example.com>", 0, FROM_OK, "example.com", 2},
    {"a@bank.example, b@BANK.EXAMPLE.", 0, FROM_OK, "bank.example", 2},
    {"a@bank.example,,b@bank.example,", 0, FROM_OK, "bank.example", 2},
    /* Comments and folding. */
    {"(comment) a@example.com (another)", 0, FROM_OK, "example.com", 1},
    {"a(c)@(c)example(c).(c)com", 0, FROM_OK, "example.com", 1},
    {"Alice (nested (comment (deep)) here) <a@example.com>", 0, FROM_OK, "example.com", 1},
    {"(esc \\) paren) a@example.com", 0, FROM_OK, "example.com", 1},
    {"a@example.com (trailing \"quote)", 0, FROM_OK, "example.com", 1},
    {"a@example.com (unbalanced", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@example.com (c1 (c2) \\( x", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@example.com )", 0, FROM_UNPARSEABLE, NULL, 0},
    {"Alice\r\n <a@example.com>", 0, FROM_OK, "example.com", 1},
    {"Alice <a@example.com\r\n\t>", 0, FROM_OK, "example.com", 1},
    {"\"Al\r\n ice\" <a@example.com>", 0, FROM_OK, "example.com", 1},
    {"Alice\n <a@example.com>", 0, FROM_OK, "example.com", 1},
    {"a@example.com\r\n", 0, FROM_OK, "example.com", 1},
    {"Alice\r\n<a@example.com>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"Alice\r <a@example.com>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@bank.example\r\nFrom: b@evil.example", 0, FROM_UNPARSEABLE, NULL, 0},
    /* Quoted strings and 8-bit local parts. */
    {"\"esc \\\" quote\" <x@example.com>", 0, FROM_OK, "example.com", 1},
    {"\"a(b\" <x@example.com>", 0, FROM_OK, "example.com", 1},
    {"\"\" <x@example.com>", 0, FROM_OK, "example.com", 1},
    {"\"a\x01"
     "b\" <a@example.com>",
     0, FROM_OK, "example.com", 1},
    {"\"unterminated <x@example.com>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"caf\xc3\xa9@example.com", 0, FROM_OK, "example.com", 1},
    {"\xe9t\xe9@example.com", 0, FROM_OK, "example.com", 1},
    {"a\\b@example.com", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a b@example.com", 0, FROM_UNPARSEABLE, NULL, 0},
    {"Alice Smith@example.com", 0, FROM_UNPARSEABLE, NULL, 0},
    /* Hostile: a display name or comment that looks like another address. */
    {"\"security@bank.example\" <x@evil.example>", 0, FROM_OK, "evil.example", 1},
    {"\"x@bank.example\"@evil.example", 0, FROM_OK, "evil.example", 1},
    {"\"a<b@bank.example>\" <x@evil.example>", 0, FROM_OK, "evil.example", 1},
    {"\"a\\\"@bank.example\" <x@evil.example>", 0, FROM_OK, "evil.example", 1},
    {"\"a>b\"@evil.example", 0, FROM_OK, "evil.example", 1},
    {"bank.example <x@evil.example>", 0, FROM_OK, "evil.example", 1},
    {"x@evil.example (a@bank.example)", 0, FROM_OK, "evil.example", 1},
    {"(a@bank.example) x@evil.example", 0, FROM_OK, "evil.example", 1},
    /* Hostile: encoded words are display text, never an address. */
    {"=?UTF-8?B?QWxpY2U=?= <a@example.com>", 0, FROM_OK, "example.com", 1},
    {"=?utf-8?q?a@bank.example?= <x@evil.example>", 0, FROM_OK, "evil.example", 1},
    {"=?utf-8?q?a<b@bank.example>?= <x@evil.example>", 0, FROM_OK, "evil.example", 1},
    {"=?utf-8?q?a@bank.example?=", 0, FROM_UNPARSEABLE, NULL, 0},
    {"=?utf-8?b?YUBiYW5rLmV4YW1wbGU=?=", 0, FROM_UNPARSEABLE, NULL, 0},
    {"=?utf-8?q?x?=@evil.example", 0, FROM_OK, "evil.example", 1},
    {"=?utf-8?q?a@b?=@evil.example", 0, FROM_UNPARSEABLE, NULL, 0},
    {"=?utf-8?q?a@bank.example?=x <y@evil.example>", 0, FROM_UNPARSEABLE, NULL, 0},
    /* Hostile: angle brackets that do not pair up, two addresses in one mailbox. */
    {"alerts@bank.example>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"<a@bank.example> <b@evil.example>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@bank.example <b@evil.example>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"<a@bank.example", 0, FROM_UNPARSEABLE, NULL, 0},
    {"Alice <a@example.com", 0, FROM_UNPARSEABLE, NULL, 0},
    {"Alice a@example.com>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"<<a@bank.example>>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"<a@bank.example>>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"<>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"<x@evil.example@bank.example>", 0, FROM_UNPARSEABLE, NULL, 0},
    {"x@evil.example@bank.example", 0, FROM_UNPARSEABLE, NULL, 0},
    /* Obsolete route: the route domain is ignored; only inside angle brackets. */
    {"Bank <@bank.example:x@evil.example>", 0, FROM_OK, "evil.example", 1},
    {"<@a.example,@bank.example:x@evil.example>", 0, FROM_OK, "evil.example", 1},
    {"@bank.example:x@evil.example", 0, FROM_UNPARSEABLE, NULL, 0},
    {"<@bank.example x@evil.example>", 0, FROM_UNPARSEABLE, NULL, 0},
    /* Several addresses. */
    {"a@bank.example, b@evil.example", 0, FROM_MULTI_DOMAIN, NULL, 0},
    {"\"Bank\" <a@bank.example>, b@evil.example", 0, FROM_MULTI_DOMAIN, NULL, 0},
    {"a@bank.example, \"Bank\" <@bank.example:b@evil.example>", 0, FROM_MULTI_DOMAIN, NULL, 0},
    {"a@x.example, b@evil", 0, FROM_MULTI_DOMAIN, NULL, 0},
    {"a@x.example, b@[192.0.2.1]", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@x.example, b@y.example, c@", 0, FROM_UNPARSEABLE, NULL, 0},
    /* Empty. */
    {"", 0, FROM_EMPTY, NULL, 0},
    {"   ", 0, FROM_EMPTY, NULL, 0},
    {"(just a comment)", 0, FROM_EMPTY, NULL, 0},
    {",", 0, FROM_EMPTY, NULL, 0},
    {"\r\n", 0, FROM_EMPTY, NULL, 0},
    /* Groups (RFC 6854). */
    {"Group: a@x.example, b@x.example;", 0, FROM_OK, "x.example", 2},
    {"Group: \"a\"@x.example, (c) <b@x.example>;", 0, FROM_OK, "x.example", 2},
    {"Undisclosed recipients:;", 0, FROM_EMPTY, NULL, 0},
    {"G:;, a@x.example", 0, FROM_OK, "x.example", 1},
    {"G: a@x.example;, b@y.example", 0, FROM_MULTI_DOMAIN, NULL, 0},
    {"G: a@x.example", 0, FROM_UNPARSEABLE, NULL, 0},
    {"G: a@x.example; b@y.example", 0, FROM_UNPARSEABLE, NULL, 0},
    {"G: H: a@x.example;;", 0, FROM_UNPARSEABLE, NULL, 0},
    {": a@x.example;", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@x.example;", 0, FROM_UNPARSEABLE, NULL, 0},
    /* Not an address at all. */
    {"Alice", 0, FROM_UNPARSEABLE, NULL, 0},
    {"bank.example", 0, FROM_UNPARSEABLE, NULL, 0},
    {"@bank.example", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@\"bank.example\"", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@ex ample.com", 0, FROM_UNPARSEABLE, NULL, 0},
    {"[192.0.2.1]", 0, FROM_UNPARSEABLE, NULL, 0},
    /* NUL and control bytes. */
    {"a@bank.example\0.evil.example", 29, FROM_UNPARSEABLE, NULL, 0},
    {"\0a@bank.example", 15, FROM_UNPARSEABLE, NULL, 0},
    {"a@bank.example\x01", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@bank.ex\x7f"
     "ample",
     0, FROM_UNPARSEABLE, NULL, 0},
    /* Domain literals and LDH. */
    {"a@[192.0.2.1]", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"Bank <a@[IPv6:2001:db8::1]>", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@[192.0.2.1", 0, FROM_UNPARSEABLE, NULL, 0},
    {"a@192.0.2.1", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@under_score.example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@-lead.example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@trail-.example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@exa!mple.com", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@a--b.example", 0, FROM_OK, "a--b.example", 1},
    {"a@localhost", 0, FROM_OK, "localhost", 1},
    {"a@" A63 ".example", 0, FROM_OK, A63 ".example", 1},
    {"a@" A63 "a.example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@" A63 "." A63 "." A63 "." A61, 0, FROM_OK, A63 "." A63 "." A63 "." A61, 1},
    {"a@" A63 "." A63 "." A63 "." A61 "a", 0, FROM_BAD_DOMAIN, NULL, 0},
    /* IDN: U-labels become lower-case A-labels; what we cannot fold exactly is refused. */
    {"a@b" U_UML "cher.example", 0, FROM_OK, "xn--bcher-kva.example", 1},
    {"a@B\xc3\x9c"
     "CHER.example",
     0, FROM_OK, "xn--bcher-kva.example", 1},
    {"a@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.example", 0, FROM_OK,
     "xn--e1afmkfd.example", 1},
    {"a@\xd0\x9f\xd0\xa0\xd0\x98\xd0\x9c\xd0\x95\xd0\xa0.example", 0, FROM_OK,
     "xn--e1afmkfd.example", 1},
    {"a@\xe4\xbe\x8b\xe3\x81\x88.jp", 0, FROM_OK, "xn--r8jz45g.jp", 1},
    {"a@\xce\x95\xce\x9b\xce\x9b\xce\x86\xce\x94\xce\x91.example", 0, FROM_OK,
     "xn--hxakic4aa.example", 1},
    {"a@stra\xc3\x9f"
     "e.de",
     0, FROM_OK, "xn--strae-oqa.de", 1},
    {"a@\xce\xb5\xce\xbb\xce\xbb\xce\xac\xcf\x82.gr", 0, FROM_OK, "xn--hxarsa0b.gr", 1},
    {"a@TI\xe1\xba\xbeNG.vn", 0, FROM_OK, "xn--ting-hv5a.vn", 1},
    {"a@XN--BCHER-KVA.example", 0, FROM_OK, "xn--bcher-kva.example", 1},
    {"a@b" U_UML "cher.example, b@xn--bcher-kva.example", 0, FROM_OK, "xn--bcher-kva.example", 2},
    {"a@" A55 U_UML ".example", 0, FROM_OK,
     "xn--aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-8yf.example", 1},
    {"a@" A55 "a" U_UML ".example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@bank\xe3\x80\x82"
     "example",
     0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@\xef\xbd\x82\xef\xbd\x81\xef\xbd\x8e\xef\xbd\x8b.example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@bu\xcc\x88"
     "cher.example",
     0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@b\xfc"
     "cher.example",
     0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@\xc0\xae.example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@\xed\xa0\x80.example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@\xc4\xb0stanbul.example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@\xd3\x80.example", 0, FROM_BAD_DOMAIN, NULL, 0}, /* palochka: UTS 46 disallows */
    {"a@xn--" U_UML ".example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@-" U_UML ".example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@\xf0\x9f\x98\x80.example", 0, FROM_BAD_DOMAIN, NULL, 0},
    {"a@xn--.example", 0, FROM_BAD_DOMAIN, NULL, 0},
};

/* show - printable form of a test input for failure messages. */
static const char *show(const char *s, size_t n, char *buf, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[o++] = (char)c;
        } else {
            snprintf(buf + o, size - o, "\\x%02x", c);
            o += 4;
        }
    }
    buf[o] = '\0';
    return buf;
}

static void test_from_table(void **state)
{
    int failed = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct from_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        const char *want_dom = c->want == FROM_OK ? c->domain : "";
        struct from_res r;
        char b[1024];
        int rc;

        memset(&r, 0x5a, sizeof(r));
        rc = from_parse(c->in, len, &r);
        if (r.status != c->want || strcmp(r.domain, want_dom) != 0 ||
            rc != (c->want == FROM_OK ? 0 : -1) ||
            (c->want == FROM_OK && c->naddr && r.naddr != c->naddr) ||
            (c->want != FROM_OK && r.reason[0] == '\0')) {
            print_error("from_parse(\"%s\"): got %s/%s (naddr %d, %s), want %s/%s\n",
                        show(c->in, len, b, sizeof(b)), from_status_name(r.status), r.domain,
                        r.naddr, r.reason, from_status_name(c->want), want_dom);
            failed++;
        }
    }
    if (failed)
        fail_msg("%d of %zu rows failed", failed, sizeof(cases) / sizeof(cases[0]));
}

static void test_from_local(void **state)
{
    static const struct {
        const char *in, *local;
    } rows[] = {
        {"Alice <alice@example.com>", "alice"},
        {"\"x@bank.example\"@evil.example", "\"x@bank.example\""},
        {"a(c).b@example.com", "a.b"},
        {"Bank <@bank.example:x@evil.example>", "x"},
        {"\"a\x01"
         "b\"@example.com",
         "\"a?b\""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct from_res r;
        from_parse(rows[i].in, strlen(rows[i].in), &r);
        if (strcmp(r.local, rows[i].local) != 0)
            fail_msg("from_parse(\"%s\"): got local %s, want %s", rows[i].in, r.local,
                     rows[i].local);
    }
}

/* test_from_big - 100 KB values of the shapes that make naive parsers quadratic or
 * overflow a stack: the result must still be exact. */
static void test_from_big(void **state)
{
    enum { N = 100 * 1024 };
    static const struct {
        const char *head, *unit, *tail;
        enum from_status want;
        const char *domain;
    } rows[] = {
        {"", "(", "a@x.example", FROM_UNPARSEABLE, ""},
        {"", "((((((((((", "", FROM_UNPARSEABLE, ""},
        {"", "a@x.example,", "a@x.example", FROM_OK, "x.example"},
        {"", "a@x.example,", "b@y.example", FROM_MULTI_DOMAIN, ""},
        {"\"", "a@bank.example ", "\" <x@evil.example>", FROM_OK, "evil.example"},
        {"", "<", "x@evil.example>", FROM_UNPARSEABLE, ""},
        {"", "=?a?q?", "<x@evil.example>", FROM_OK, "evil.example"},
        {"", "=?a?q?<", "x@evil.example>", FROM_UNPARSEABLE, ""},
        {"", "=?a?q?b?= ", "<x@evil.example>", FROM_OK, "evil.example"},
        {"", "\r\n ", "x@evil.example", FROM_OK, "evil.example"},
        {"x@", "a.", "example", FROM_BAD_DOMAIN, ""},
        {"", "a.", "a@example", FROM_OK, "example"},
        {"G: ", ",", ";", FROM_EMPTY, ""},
    };
    char *v = malloc(N + 64);
    assert_non_null(v);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t n = 0, ul = strlen(rows[i].unit);
        struct from_res r;
        n += (size_t)snprintf(v, N, "%s", rows[i].head);
        while (n + ul < N) {
            memcpy(v + n, rows[i].unit, ul);
            n += ul;
        }
        memcpy(v + n, rows[i].tail, strlen(rows[i].tail));
        n += strlen(rows[i].tail);
        from_parse(v, n, &r);
        if (r.status != rows[i].want || strcmp(r.domain, rows[i].domain) != 0)
            fail_msg("from_parse(%s + %s * N + %s): got %s/%s, want %s/%s", rows[i].head,
                     rows[i].unit, rows[i].tail, from_status_name(r.status), r.domain,
                     from_status_name(rows[i].want), rows[i].domain);
    }
    free(v);
}

/* test_from_normalize - the domain normaliser on its own, including idempotence. */
static void test_from_normalize(void **state)
{
    static const struct {
        const char *in, *want; /* want NULL: -1 */
    } rows[] = {
        {"Example.COM", "example.com"},
        {"xn--bcher-kva.example", "xn--bcher-kva.example"},
        {"b" U_UML "cher.example", "xn--bcher-kva.example"},
        {"\xd5\x80\xd5\xa1\xd5\xb5.am", "xn--y9a3aq.am"}, /* upper-case HO folds */
        {"\xd5\xb0\xd5\xa1\xd5\xb5.am", "xn--y9a3aq.am"},
        {"\xed\x95\x9c\xea\xb5\xad.kr", "xn--3e0b707e.kr"},
        {"example.com.", NULL},
        {".example.com", NULL},
        {"", NULL},
        {"a b.example", NULL},
        {"123", NULL},
        {"ex\xc3", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char dst[FROM_MAX_NAME + 1], again[FROM_MAX_NAME + 1];
        const char *why = NULL;
        int rc = from_normalize_domain(rows[i].in, strlen(rows[i].in), dst, sizeof(dst), &why);
        if (rows[i].want == NULL) {
            if (rc != -1 || why == NULL)
                fail_msg("from_normalize_domain(\"%s\"): got %d/%s, want -1", rows[i].in, rc,
                         rc == 0 ? dst : "");
            continue;
        }
        if (rc != 0 || strcmp(dst, rows[i].want) != 0)
            fail_msg("from_normalize_domain(\"%s\"): got %d/%s, want 0/%s", rows[i].in, rc,
                     rc == 0 ? dst : why, rows[i].want);
        if (from_normalize_domain(dst, strlen(dst), again, sizeof(again), &why) != 0 ||
            strcmp(again, dst) != 0)
            fail_msg("from_normalize_domain(\"%s\"): not idempotent", dst);
    }
}

static void test_from_names(void **state)
{
    assert_string_equal(from_status_name(FROM_OK), "ok");
    assert_string_equal(from_status_name(FROM_MULTI_FIELD), "multiple-from");
    assert_string_equal(from_status_name(FROM_BAD_DOMAIN), "bad-domain");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_table), cmocka_unit_test(test_from_local),
        cmocka_unit_test(test_from_big),   cmocka_unit_test(test_from_normalize),
        cmocka_unit_test(test_from_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
