/* test_spf_macro.c - spf_macro_expand (RFC 7208 7.3) and its use by spf_record_rewrite and
 * spf_eval: the RFC 7208 7.4 examples, the shapes Debian's libspf2 1.2.10 gets wrong (a
 * digit at least the number of parts; delimiters other than "."), every delimiter, URL
 * escaping, the 253-octet truncation, bounded output for hostile input, malformed macros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dns/dns.h"
#include "spf/spf_eval.h"
#include "spf/spf_int.h"

#define RFC_SENDER "strong-bad@email.example.com"
#define RFC_DOMAIN "email.example.com"
#define L30 "aaaaaaaaaabbbbbbbbbbcccccccccc"
#define LONGDOM L30 L30 "." L30 L30 ".example"   /* 129 octets */

struct mrow {
    const char *sender, *domain, *helo, *ip;
    const char *in;
    int want_rc;        /* >= 0: success (the length is checked against want) */
    const char *want;
};

static void env_set(struct spf_macro_env *env, const struct mrow *r)
{
    memset(env, 0, sizeof(*env));
    env->sender = r->sender;
    env->domain = r->domain;
    env->helo = r->helo;
    if (inet_pton(AF_INET, r->ip, &env->v4) == 1) {
        env->af = AF_INET;
    } else {
        env->af = AF_INET6;
        if (inet_pton(AF_INET6, r->ip, &env->v6) != 1)
            fail_msg("bad test address %s", r->ip);
    }
}

static void run_rows(const struct mrow *rows, size_t n)
{
    char out[SPF_MACRO_MAX_NAME + 1];
    int bad = 0;

    for (size_t i = 0; i < n; i++) {
        struct spf_macro_env env;
        int rc;

        env_set(&env, &rows[i]);
        memset(out, 'X', sizeof(out));
        rc = spf_macro_expand(&env, rows[i].in, strlen(rows[i].in), out, sizeof(out));
        if (rows[i].want_rc >= 0 ? (rc < 0 || (size_t)rc != strlen(out) ||
                                   strcmp(out, rows[i].want) != 0)
                                 : rc != rows[i].want_rc) {
            print_error("spf_macro_expand(\"%s\") sender %s: got %d \"%s\", want %d \"%s\"\n",
                        rows[i].in, rows[i].sender, rc, rc >= 0 ? out : "",
                        rows[i].want_rc, rows[i].want != NULL ? rows[i].want : "");
            bad++;
        }
    }
    if (bad > 0)
        fail_msg("%d of %zu rows failed", bad, n);
}

/* RFC 7208 7.4, every example whose letters may appear in a domain-spec. */
static void test_rfc7208_examples(void **state)
{
#define V4(in, want) {RFC_SENDER, RFC_DOMAIN, "h.example", "192.0.2.3", in, 0, want}
#define V6(in, want) {RFC_SENDER, RFC_DOMAIN, "h.example", "2001:db8::cb01", in, 0, want}
    static const struct mrow rows[] = {
        V4("%{s}", "strong-bad@email.example.com"),
        V4("%{o}", "email.example.com"),
        V4("%{d}", "email.example.com"),
        V4("%{d4}", "email.example.com"),
        V4("%{d3}", "email.example.com"),
        V4("%{d2}", "example.com"),
        V4("%{d1}", "com"),
        V4("%{dr}", "com.example.email"),
        V4("%{d2r}", "example.email"),
        V4("%{l}", "strong-bad"),
        V4("%{l-}", "strong.bad"),
        V4("%{lr}", "strong-bad"),
        V4("%{lr-}", "bad.strong"),
        V4("%{l1r-}", "strong"),
        V4("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        V4("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        V4("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        V4("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        V4("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
        V6("%{ir}.%{v}._spf.%{d2}",
           "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"),
    };
#undef V6
#undef V4
    (void)state;
    run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

/* Debian 12's libspf2 1.2.10 gives the "libspf2" column; RFC 7208 7.3 the "want" one. */
static void test_libspf2_shapes(void **state)
{
#define D(sender, dom, in, want) {sender, dom, NULL, "192.0.2.3", in, 0, want}
    static const struct mrow rows[] = {
        /* digit >= number of parts: all parts (libspf2: x533.example, lice, mith.bob) */
        D("a@dx533.example", "dx533.example", "%{d2}", "dx533.example"),
        D("a@dx533.example", "dx533.example", "%{d3}", "dx533.example"),
        D("a@dx533.example", "dx533.example", "%{d128}", "dx533.example"),
        D("alice@b.example", "b.example", "%{l1r-}", "alice"),
        D("bob.smith@b.example", "b.example", "%{l2r}", "smith.bob"),
        /* other delimiters only: no split on "." (libspf2: smith) */
        D("bob.smith@b.example", "b.example", "%{l1r-}", "bob.smith"),
        D("bob.smith-x@b.example", "b.example", "%{l1r-}", "bob.smith"),
        D("bob.smith-x@b.example", "b.example", "%{l1r.-}", "bob"),
        D("alice@bounce.dx140.example", "bounce.dx140.example",
          "%{l1r-}.x72.bounce.dx140.example", "alice.x72.bounce.dx140.example"),
        /* every delimiter of 7.1; parts rejoined with "." */
        D("a.b-c+d,e/f_g=h@x.example", "x.example", "%{l.-+,/_=}", "a.b.c.d.e.f.g.h"),
        D("a.b-c+d,e/f_g=h@x.example", "x.example", "%{lr.-+,/_=}", "h.g.f.e.d.c.b.a"),
        D("a,b@x.example", "x.example", "%{l,}", "a.b"),
        D("a/b@x.example", "x.example", "%{l1/}", "b"),
        D("a=b@x.example", "x.example", "%{l2r=}", "b.a"),
        D("a_b@x.example", "x.example", "%{l_}", "a.b"),
        D("a+b@x.example", "x.example", "%{l1+}", "b"),
        D("a..b@x.example", "x.example", "%{l}", "a..b"),
        D("a..b@x.example", "x.example", "%{l2}", ".b"),
        /* upper case: URL escaping of what RFC 3986 does not leave unreserved */
        D(RFC_SENDER, RFC_DOMAIN, "%{S}", "strong-bad%40email.example.com"),
        D("a b%c~d@x.example", "x.example", "%{L}", "a%20b%25c~d"),
        D("a b%c~d@x.example", "x.example", "%{l}", "a b%c~d"),
        D(RFC_SENDER, RFC_DOMAIN, "%{D2R}", "example.email"),
        /* escapes, literals, l and o of odd senders */
        D(RFC_SENDER, RFC_DOMAIN, "a%%b%_c%-d.example", "a%b c%20d.example"),
        D("postmaster@x.example", "x.example", "%{l}.%{o}", "postmaster.x.example"),
        D("a@b@x.example", "x.example", "%{l}.%{o}", "a@b.x.example"),
        D(RFC_SENDER, RFC_DOMAIN, "plain.example.com", "plain.example.com"),
        {RFC_SENDER, RFC_DOMAIN, "mail.example.org", "192.0.2.3", "%{h}.%{H1}", 0,
         "mail.example.org.org"},
    };
#undef D
    (void)state;
    run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_malformed_and_unknown(void **state)
{
#define E(in, rc) {RFC_SENDER, RFC_DOMAIN, NULL, "192.0.2.3", in, rc, NULL}
    static const struct mrow rows[] = {
        E("%{d0}", -1), E("%{d00}", -1), E("%{d1000}", -1), E("%{x}", -1), E("%{}", -1),
        E("%{d", -1), E("%{d2r.", -1), E("%", -1), E("a%", -1), E("%a", -1), E("%{d|}", -1),
        E("%{d }", -1), E("%{dr r}", -1), E("%{1}", -1), E("%{{d}}", -1),
        E("a b.example", -1), E("a\tb.example", -1), E("\x80.example", -1),
        /* explanation-only letters are an error in a domain-spec (7.2) */
        E("%{c}", -1), E("%{r}", -1), E("%{t}", -1),
        /* values we do not have: %{p} (DNS), %{h} without a HELO name */
        E("%{p}", SPF_MACRO_UNKNOWN), E("%{P2}", SPF_MACRO_UNKNOWN), E("%{h}", SPF_MACRO_UNKNOWN),
        E("x.%{d}.%{p}", SPF_MACRO_UNKNOWN),
    };
#undef E
    (void)state;
    run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

/* 7.3: over 253 octets, labels go on the left until it fits; work and output bounded. */
static void test_truncation(void **state)
{
    static char sender[600], big[5000], want[300];
    char out[SPF_MACRO_MAX_NAME + 1];
    struct spf_macro_env env;
    size_t n = 0;
    int rc;

    (void)state;
    /* local part: 60 labels "abc" -> 239 octets */
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(sender + n, sizeof(sender) - n, "%sabc", i ? "." : "");
    snprintf(sender + n, sizeof(sender) - n, "@x.example");
    memset(&env, 0, sizeof(env));
    env.sender = sender;
    env.domain = "x.example";
    env.af = AF_INET;
    inet_pton(AF_INET, "192.0.2.3", &env.v4);
    rc = spf_macro_expand(&env, "%{l}.x.example", 14, out, sizeof(out));
    /* 239 + 10 = 249: fits */
    if (rc != 249 || strncmp(out, "abc.abc", 7) != 0 || strcmp(out + 239, ".x.example") != 0)
        fail_msg("249 octets: got %d \"%s\"", rc, out);
    rc = spf_macro_expand(&env, "%{l}.long-suffix.example", 24, out, sizeof(out));
    /* 239 + 20 = 259: the first two labels ("abc.abc.", 8 octets) go */
    if (rc != 251 || strncmp(out, "abc.", 4) != 0 || strcmp(out + 231, ".long-suffix.example") != 0)
        fail_msg("259 octets: got %d \"%s\", want 251 octets", rc, out);
    /* hostile: 1,000 %{S} of a 239-octet local part (2.5 MB if unbounded) */
    n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%%{S}");
    n += (size_t)snprintf(big + n, sizeof(big) - n, ".end.example");
    rc = spf_macro_expand(&env, big, n, out, sizeof(out));
    if (rc < 0 || rc > SPF_MACRO_MAX_NAME || strcmp(out + rc - 12, ".end.example") != 0 ||
        (size_t)rc != strlen(out))
        fail_msg("1000 x %%{S}: got %d \"%s\"", rc, rc >= 0 ? out : "");
    /* the last label alone is over 253: the last 253 octets (a name that cannot exist) */
    memset(sender, 'q', 400);
    snprintf(sender + 400, sizeof(sender) - 400, "@x.example");
    rc = spf_macro_expand(&env, "%{l}", 4, out, sizeof(out));
    memset(want, 'q', SPF_MACRO_MAX_NAME);
    want[SPF_MACRO_MAX_NAME] = '\0';
    if (rc != SPF_MACRO_MAX_NAME || strcmp(out, want) != 0)
        fail_msg("one 400-octet label: got %d", rc);
    /* a value over SPF_MACRO_MAX_VALUE is left to libspf2 */
    env.helo = big;
    rc = spf_macro_expand(&env, "%{h}", 4, out, sizeof(out));
    if (rc != SPF_MACRO_UNKNOWN)
        fail_msg("%%{h} of %zu octets: got %d, want %d", strlen(big), rc, SPF_MACRO_UNKNOWN);
    /* an output buffer below 254 octets is refused */
    if (spf_macro_expand(&env, "%{d}", 4, out, 100) != -1)
        fail_msg("short output buffer accepted");
}

static void test_transformed(void **state)
{
    static const struct {
        const char *s;
        int want;
    } cases[] = {
        {"%{d}", 0}, {"%{d}.%{i}.%{l}.x.example", 0}, {"x.example", 0}, {"%%{d2}", 0},
        {"%-{d2}", 0}, {"%_%{o}", 0}, {"%{d2}", 1}, {"%{dr}", 1}, {"%{l-}", 1}, {"%{D}", 1},
        {"%{d}.%{ir}", 1}, {"a%%%{l1r-}", 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = spf_macro_transformed(cases[i].s, strlen(cases[i].s));

        if (got != cases[i].want)
            fail_msg("spf_macro_transformed(\"%s\"): got %d, want %d", cases[i].s, got,
                     cases[i].want);
    }
}

/* spf_record_rewrite with an env: the domain-specs it expands and those it leaves. */
static void test_rewrite_expanded(void **state)
{
    static const struct {
        const char *sender, *rec;
        int af;
        const char *want;
    } cases[] = {
        {"alice@bounce.dx140.example", "v=spf1 exists:%{l1r-}.x72.bounce.dx140.example -all",
         AF_INET, "v=spf1 exists:alice.x72.bounce.dx140.example -all"},
        {"a@d.example", "v=spf1 redirect=%{d2}.r.example a:%{l}.x.example/24//64 include:%{ir}.i",
         AF_INET, "v=spf1 a:a.x.example/24//64 include:1.2.0.192.i redirect=d.example.r.example"},
        {"a@d.example", "v=spf1 ptr:%{d} ptr a mx/24 -mx:%{d}", AF_INET6,
         "v=spf1 ptr:d.example ptr a mx/24 -mx:d.example"},
        /* CIDR /0: the expanded name gets the suffix (no trailing dot in between) */
        {"a@d.example", "v=spf1 a/0 mx:%{l}.m.example./0 -all", AF_INET,
         "v=spf1 a:d.example." SPF_CIDR0_LABEL " mx:a.m.example." SPF_CIDR0_LABEL " -all"},
        {"a@d.example", "v=spf1 a:%{l}.m.example/24//0", AF_INET, "v=spf1 a:a.m.example/24"},
        /* "%" and " " of a value are written as libspf2 reads them */
        {"a%b c@d.example", "v=spf1 exists:%{l}.e.example", AF_INET,
         "v=spf1 exists:a%%b%_c.e.example"},
        {"a%b c@d.example", "v=spf1 exists:%{L}.e.example", AF_INET,
         "v=spf1 exists:a%%25b%%20c.e.example"},
        /* left as they are: %{p}; "/" in an a/mx name (libspf2 would read a CIDR) */
        {"a@d.example", "v=spf1 exists:%{p}.%{d} -all", AF_INET, "v=spf1 exists:%{p}.%{d} -all"},
        {"x/24@d.example", "v=spf1 a:%{l} exists:%{l}.e -all", AF_INET,
         "v=spf1 a:%{l} exists:x/24.e -all"},
        /* exp= and unknown modifiers go as before */
        {"a@d.example", "v=spf1 exp=%{d2}.e -all", AF_INET, "v=spf1 -all"},
        /* transformed_only (the "T" sender prefix below): plain %{d} stays for libspf2 */
        {"Ta@d.example", "v=spf1 exists:%{d}.a a:%{d1}.b -all", AF_INET,
         "v=spf1 exists:%{d}.a a:example.b -all"},
    };
    char out[2 * SPF_MAX_RECORD + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct spf_macro_env env;
        int rc;

        memset(&env, 0, sizeof(env));
        env.transformed_only = cases[i].sender[0] == 'T';
        env.sender = cases[i].sender + env.transformed_only;
        env.domain = "d.example";
        env.af = cases[i].af;
        inet_pton(AF_INET, "192.0.2.1", &env.v4);
        inet_pton(AF_INET6, "2001:db8::1", &env.v6);
        if (spf_record_check(cases[i].rec, strlen(cases[i].rec), NULL, 0) != 0)
            fail_msg("case %zu does not check: %s", i, cases[i].rec);
        rc = spf_record_rewrite(cases[i].rec, strlen(cases[i].rec), cases[i].af, &env, out,
                                sizeof(out));
        if (rc != 0 || strcmp(out, cases[i].want) != 0)
            fail_msg("spf_record_rewrite(\"%s\", %s): got %d \"%s\", want \"%s\"", cases[i].rec,
                     cases[i].sender, rc, out, cases[i].want);
    }
}

/* Through spf_eval and the DNS stub: the differential test's reproducer and its kin. */
static void test_eval(void **state)
{
    static const struct {
        const char *txt, *aname, *mailfrom, *helo;
        enum auth_res want;
    } cases[] = {
        {"v=spf1 exists:%{l1r-}.x72.bounce.dx140.example -all", "alice.x72.bounce.dx140.example",
         "alice@bounce.dx140.example", "h.example", AUTH_PASS},
        {"v=spf1 exists:%{l1r-}.x72.bounce.dx140.example -all", "bob.smith.x72.bounce.dx140.example",
         "bob.smith@bounce.dx140.example", "h.example", AUTH_PASS},
        {"v=spf1 exists:%{d2}.x.example -all", "bounce.dx140.x.example",
         "a@bounce.dx140.example", "h.example", AUTH_FAIL},
        {"v=spf1 exists:%{d3}.x.example -all", "bounce.dx140.example.x.example",
         "a@bounce.dx140.example", "h.example", AUTH_PASS},
        {"v=spf1 exists:%{h}.h.example -all", "helo.example.h.example",
         "a@bounce.dx140.example", "helo.example", AUTH_PASS},
        {"v=spf1 exists:%{l,}.x.example -all", "a.b.x.example", "a,b@bounce.dx140.example",
         "h.example", AUTH_PASS},
        /* too big for libspf2's compiler once expanded (5 x 140 bytes of names): the
         * record is compiled as published, and libspf2 expands the plain %{d} */
        {"v=spf1 exists:%{d}.e1.example exists:%{d}.e2.example exists:%{d}.e3.example "
         "exists:%{d}.e4.example exists:%{d}.e5.example -all",
         LONGDOM ".e1.example", "a@" LONGDOM, "h.example", AUTH_PASS},
        /* the same, a transformer first: only its domain-spec is expanded by us (libspf2
         * would query lice.t.example and then run into the void limit) */
        {"v=spf1 exists:%{l1r-}.t.example exists:%{d}.e1.example exists:%{d}.e2.example "
         "exists:%{d}.e3.example exists:%{d}.e4.example exists:%{d}.e5.example -all",
         "alice.t.example", "alice@" LONGDOM, "h.example", AUTH_PASS},
        /* a malformed macro stays a permerror */
        {"v=spf1 exists:%{l0}.x.example -all", "a.x.example", "a@bounce.dx140.example",
         "h.example", AUTH_PERMERROR},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dns *d = dns_stub_new();
        const char *at = strrchr(cases[i].mailfrom, '@');
        struct spf_in in;
        struct spf_res res;

        assert_non_null(d);
        assert_int_equal(dns_stub_add(d, at + 1, DNS_T_TXT, cases[i].txt), 0);
        assert_int_equal(dns_stub_add(d, cases[i].aname, DNS_T_A, "127.0.0.2"), 0);
        memset(&in, 0, sizeof(in));
        in.client_ip = "192.0.2.1";
        in.helo = cases[i].helo;
        in.mailfrom = cases[i].mailfrom;
        in.identity = SPF_ID_MAILFROM;
        if (spf_eval(&in, d, &res) != 0 || res.result != cases[i].want)
            fail_msg("\"%s\" for %s: got %d (%s), want %d", cases[i].txt, cases[i].mailfrom,
                     (int)res.result, res.reason, (int)cases[i].want);
        dns_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7208_examples),
        cmocka_unit_test(test_libspf2_shapes),
        cmocka_unit_test(test_malformed_and_unknown),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_transformed),
        cmocka_unit_test(test_rewrite_expanded),
        cmocka_unit_test(test_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
