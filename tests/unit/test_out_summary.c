/* test_out_summary.c - trust level, warning and trust-mark rules (docs/webmail-headers.md)
 * as a table of typed results -> the exact header values; plus the sanitizers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "out/summary.h"

enum { P_NO = -1 }; /* no DMARC record */
#define U DMARC_POLICY_UNSPEC
#define NONE_P DMARC_POLICY_NONE
#define Q DMARC_POLICY_QUARANTINE
#define R DMARC_POLICY_REJECT

struct sig {
    enum auth_res result;
    const char *d;
    int full;
};

struct row {
    const char *name;
    int from_ok;
    const char *from;
    int dmarc_ran;
    enum auth_res dmarc;
    int policy; /* P_NO: no record; else enum dmarc_policy (effective) */
    int pct, testing;
    enum auth_res spf;
    struct sig sig[2];
    int nsig;
    int warn_listed, trust_listed, warn_enforcing;
    /* want */
    const char *trust;     /* X-Senderauth-Trust value */
    int warning;           /* X-Senderauth-Result added */
    const char *trustmark; /* X-Senderauth-Trustmark value or NULL */
};

#define PASS AUTH_PASS
#define FAIL AUTH_FAIL
#define NO AUTH_NONE
#define SIG(r, d, f)                                                                               \
    {                                                                                              \
        r, d, f                                                                                    \
    }
#define NOSIG                                                                                      \
    {                                                                                              \
        {                                                                                          \
            0, NULL, 0                                                                             \
        }                                                                                          \
    }

static const struct row rows[] = {
    /* the ladder */
    {"dmarc fail p=reject, unlisted", 1, "bank.example", 1, FAIL, R, 100, 0, FAIL, NOSIG, 0, 0, 0,
     0, "level=fail; from=bank.example", 0, NULL},
    {"no dmarc, spf pass", 1, "shop.example", 1, NO, P_NO, 100, 0, PASS, NOSIG, 0, 0, 0, 0,
     "level=none; from=shop.example", 0, NULL},
    {"no dmarc, spf fail, unsigned", 1, "shop.example", 1, NO, P_NO, 100, 0, FAIL, NOSIG, 0, 0, 0,
     0, "level=fail; from=shop.example", 0, NULL},
    {"no dmarc, spf fail, dkim fail",
     1,
     "shop.example",
     1,
     NO,
     P_NO,
     100,
     0,
     FAIL,
     {SIG(FAIL, "shop.example", 1)},
     1,
     0,
     0,
     0,
     "level=fail; from=shop.example",
     0,
     NULL},
    {"no dmarc, spf fail, dkim pass (other domain)",
     1,
     "shop.example",
     1,
     NO,
     P_NO,
     100,
     0,
     FAIL,
     {SIG(PASS, "esp.example", 1)},
     1,
     0,
     0,
     0,
     "level=none; from=shop.example",
     0,
     NULL},
    {"no dmarc, spf softfail is not failing", 1, "shop.example", 1, NO, P_NO, 100, 0, AUTH_SOFTFAIL,
     NOSIG, 0, 0, 0, 0, "level=none; from=shop.example", 0, NULL},
    {"dmarc disabled, spf fail, unsigned", 1, "shop.example", 0, NO, P_NO, 100, 0, FAIL, NOSIG, 0,
     0, 0, 0, "level=fail; from=shop.example", 0, NULL},
    {"dmarc temperror is none", 1, "shop.example", 1, AUTH_TEMPERROR, P_NO, 100, 0, FAIL, NOSIG, 0,
     0, 0, 0, "level=none; from=shop.example", 0, NULL},
    {"pass p=none", 1, "news.example", 1, PASS, NONE_P, 100, 0, PASS, NOSIG, 0, 0, 0, 0,
     "level=dmarc-monitor; from=news.example", 0, NULL},
    {"pass p=quarantine pct=50", 1, "news.example", 1, PASS, Q, 50, 0, PASS, NOSIG, 0, 0, 0, 0,
     "level=dmarc-monitor; from=news.example", 0, NULL},
    {"pass p=reject t=y", 1, "news.example", 1, PASS, R, 100, 1, PASS, NOSIG, 0, 0, 0, 0,
     "level=dmarc-monitor; from=news.example", 0, NULL},
    {"pass p=quarantine", 1, "news.example", 1, PASS, Q, 100, 0, PASS, NOSIG, 0, 0, 0, 0,
     "level=dmarc-enforced; from=news.example", 0, NULL},
    {"pass p=reject",
     1,
     "news.example",
     1,
     PASS,
     R,
     100,
     0,
     FAIL,
     {SIG(PASS, "news.example", 1)},
     1,
     0,
     0,
     0,
     "level=dmarc-enforced; from=news.example",
     0,
     NULL},
    /* warning */
    {"listed, dmarc fail p=none: warning", 1, "bank.example", 1, FAIL, NONE_P, 100, 0, PASS, NOSIG,
     0, 1, 0, 0, "level=fail; from=bank.example", 1, NULL},
    {"unlisted, dmarc fail p=reject: no warning by default", 1, "fwd.example", 1, FAIL, R, 100, 0,
     FAIL, NOSIG, 0, 0, 0, 0, "level=fail; from=fwd.example", 0, NULL},
    {"unlisted, dmarc fail p=reject, warn_on_enforcing", 1, "fwd.example", 1, FAIL, R, 100, 0, FAIL,
     NOSIG, 0, 0, 0, 1, "level=fail; from=fwd.example", 1, NULL},
    {"unlisted, dmarc fail p=quarantine pct=10, warn_on_enforcing", 1, "fwd.example", 1, FAIL, Q,
     10, 0, FAIL, NOSIG, 0, 0, 0, 1, "level=fail; from=fwd.example", 1, NULL},
    {"unlisted, dmarc fail p=none, warn_on_enforcing", 1, "fwd.example", 1, FAIL, NONE_P, 100, 0,
     FAIL, NOSIG, 0, 0, 0, 1, "level=fail; from=fwd.example", 0, NULL},
    {"listed for warnings, dmarc pass: no warning", 1, "bank.example", 1, PASS, NONE_P, 100, 0,
     PASS, NOSIG, 0, 1, 0, 0, "level=dmarc-monitor; from=bank.example", 0, NULL},
    {"listed, no dmarc, spf fail: no warning (not dmarc=fail)", 1, "bank.example", 1, NO, P_NO, 100,
     0, FAIL, NOSIG, 0, 1, 0, 0, "level=fail; from=bank.example", 0, NULL},
    {"from anomaly, first From listed: warning", 0, "bank.example", 1, AUTH_PERMERROR, P_NO, 100, 0,
     PASS, NOSIG, 0, 1, 1, 0, "level=fail", 1, NULL},
    {"from anomaly, nothing parsed", 0, "", 1, AUTH_PERMERROR, P_NO, 100, 0, PASS, NOSIG, 0, 1, 1,
     0, "level=fail", 0, NULL},
    {"from anomaly, NULL domain", 0, NULL, 0, NO, P_NO, 100, 0, PASS, NOSIG, 0, 0, 0, 0,
     "level=fail", 0, NULL},
    /* trust mark */
    {"trust-listed, dmarc pass p=none", 1, "bank.example", 1, PASS, NONE_P, 100, 0, PASS, NOSIG, 0,
     0, 1, 0, "level=listed; from=bank.example", 0, "from=bank.example; basis=dmarc"},
    {"trust-listed, no dmarc, author signature",
     1,
     "bank.example",
     1,
     NO,
     P_NO,
     100,
     0,
     NO,
     {SIG(PASS, "BANK.example.", 1)},
     1,
     0,
     1,
     0,
     "level=listed; from=bank.example",
     0,
     "from=bank.example; basis=author-signature"},
    {"trust-listed, no dmarc, second signature is the author's",
     1,
     "bank.example",
     1,
     NO,
     P_NO,
     100,
     0,
     NO,
     {SIG(FAIL, "bank.example", 1), SIG(PASS, "bank.example", 1)},
     2,
     0,
     1,
     0,
     "level=listed; from=bank.example",
     0,
     "from=bank.example; basis=author-signature"},
    {"trust-listed, no dmarc, parent-domain signature",
     1,
     "mail.bank.example",
     1,
     NO,
     P_NO,
     100,
     0,
     PASS,
     {SIG(PASS, "bank.example", 1)},
     1,
     0,
     1,
     0,
     "level=none; from=mail.bank.example",
     0,
     NULL},
    {"trust-listed, no dmarc, author signature with l= short",
     1,
     "bank.example",
     1,
     NO,
     P_NO,
     100,
     0,
     PASS,
     {SIG(PASS, "bank.example", 0)},
     1,
     0,
     1,
     0,
     "level=none; from=bank.example",
     0,
     NULL},
    {"trust-listed, no dmarc, author signature failed",
     1,
     "bank.example",
     1,
     NO,
     P_NO,
     100,
     0,
     PASS,
     {SIG(FAIL, "bank.example", 1)},
     1,
     0,
     1,
     0,
     "level=none; from=bank.example",
     0,
     NULL},
    {"trust-listed, dmarc temperror, author signature",
     1,
     "bank.example",
     1,
     AUTH_TEMPERROR,
     P_NO,
     100,
     0,
     PASS,
     {SIG(PASS, "bank.example", 1)},
     1,
     0,
     1,
     0,
     "level=none; from=bank.example",
     0,
     NULL},
    {"trust-listed, a record exists (result none): no author-signature mark",
     1,
     "bank.example",
     1,
     NO,
     NONE_P,
     100,
     0,
     PASS,
     {SIG(PASS, "bank.example", 1)},
     1,
     0,
     1,
     0,
     "level=none; from=bank.example",
     0,
     NULL},
    {"trust-listed, dmarc disabled, author signature: no mark",
     1,
     "bank.example",
     0,
     NO,
     P_NO,
     100,
     0,
     PASS,
     {SIG(PASS, "bank.example", 1)},
     1,
     0,
     1,
     0,
     "level=none; from=bank.example",
     0,
     NULL},
    {"trust-listed, dmarc fail: no mark", 1, "bank.example", 1, FAIL, R, 100, 0, FAIL, NOSIG, 0, 0,
     1, 0, "level=fail; from=bank.example", 0, NULL},
    {"unlisted pass p=reject never listed",
     1,
     "spam.example",
     1,
     PASS,
     R,
     100,
     0,
     PASS,
     {SIG(PASS, "spam.example", 1)},
     1,
     0,
     0,
     0,
     "level=dmarc-enforced; from=spam.example",
     0,
     NULL},
    /* hostile domains never reach a header */
    {"domain with ';' is an anomaly", 1, "a.example; level=listed", 1, PASS, R, 100, 0, PASS, NOSIG,
     0, 1, 1, 0, "level=fail", 0, NULL},
    {"8-bit domain is an anomaly", 1, "b\xc3\xa4nk.example", 1, PASS, R, 100, 0, PASS, NOSIG, 0, 0,
     0, 0, "level=fail", 0, NULL},
    {"upper case is lowered", 1, "Bank.EXAMPLE", 1, PASS, NONE_P, 100, 0, PASS, NOSIG, 0, 0, 0, 0,
     "level=dmarc-monitor; from=bank.example", 0, NULL},
};

static void test_rules(void **state)
{
    int bad = 0;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct dmarc_res d;
        struct dmarc_dkim_in sigs[2];
        struct summary_in in;
        struct summary s;
        char trust[SUMMARY_MAX_VALUE], mark[SUMMARY_MAX_VALUE];
        const char *got_mark;

        memset(&d, 0, sizeof(d));
        d.result = r->dmarc;
        d.has_record = r->policy != P_NO;
        d.policy = r->policy == P_NO ? U : (enum dmarc_policy)r->policy;
        d.rec.p = d.policy;
        d.rec.pct = r->pct;
        d.rec.testing = r->testing;
        for (int k = 0; k < r->nsig; k++) {
            sigs[k].result = r->sig[k].result;
            sigs[k].domain = r->sig[k].d;
            sigs[k].full_body = r->sig[k].full;
        }
        memset(&in, 0, sizeof(in));
        in.from_ok = r->from_ok;
        in.from_domain = r->from;
        in.dmarc_ran = r->dmarc_ran;
        in.dmarc = &d;
        in.spf = r->spf;
        in.dkim = sigs;
        in.ndkim = r->nsig;
        in.warn_listed = r->warn_listed;
        in.trust_listed = r->trust_listed;
        in.warn_on_enforcing = r->warn_enforcing;
        summary_eval(&in, &s);
        if (summary_format_trust(&s, trust, sizeof(trust)) < 0)
            snprintf(trust, sizeof(trust), "(format failed)");
        got_mark = summary_format_trustmark(&s, mark, sizeof(mark)) == 0 ? mark : NULL;
        if (strcmp(trust, r->trust) != 0 || s.warning != r->warning ||
            (got_mark == NULL) != (r->trustmark == NULL) ||
            (got_mark && strcmp(got_mark, r->trustmark) != 0)) {
            print_error("%s: got trust \"%s\" warning %d mark %s, want \"%s\" %d %s\n", r->name,
                        trust, s.warning, got_mark ? got_mark : "(none)", r->trust, r->warning,
                        r->trustmark ? r->trustmark : "(none)");
            bad++;
        }
        /* The level and the mark agree, always. */
        if ((s.level == SUMMARY_LISTED) != (s.mark != SUMMARY_MARK_NONE)) {
            print_error("%s: level %s with mark %d\n", r->name, summary_level_name(s.level),
                        s.mark);
            bad++;
        }
    }
    if (bad)
        fail_msg("%d rule rows failed", bad);
}

static void test_sanitize(void **state)
{
    static const struct {
        const char *in, *want; /* want NULL: rejected */
    } rows2[] = {
        {"example.com", "example.com"},
        {"Example.COM.", "example.com"},
        {"xn--bcher-kva.example", "xn--bcher-kva.example"},
        {"a-b.c1.example", "a-b.c1.example"},
        {"", NULL},
        {".", NULL},
        {"a..example", NULL},
        {".a.example", NULL},
        {"-a.example", NULL},
        {"a-.example", NULL},
        {"a.example-", NULL},
        {"a_b.example", NULL},
        {"a b.example", NULL},
        {"a.example;x", NULL},
        {"a.example\r\nX-Senderauth-Trust: level=listed", NULL},
        {"b\xc3\xa4nk.example", NULL},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", NULL},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example"},
    };
    char out[300];

    for (size_t i = 0; i < sizeof(rows2) / sizeof(rows2[0]); i++) {
        int rc = summary_sanitize_domain(rows2[i].in, out, sizeof(out));
        const char *got = rc == 0 ? out : NULL;
        if ((got == NULL) != (rows2[i].want == NULL) || (got && strcmp(got, rows2[i].want) != 0))
            fail_msg("summary_sanitize_domain(\"%s\"): got %s, want %s", rows2[i].in,
                     got ? got : "(rejected)", rows2[i].want ? rows2[i].want : "(rejected)");
        if (rc != 0 && out[0] != '\0')
            fail_msg("summary_sanitize_domain(\"%s\"): rejected but out = \"%s\"", rows2[i].in,
                     out);
    }
    /* 254 octets is too long; a too-small buffer is an error, never a cut name */
    memset(out, 'a', 254);
    for (int k = 63; k < 254; k += 64)
        out[k] = '.';
    out[254] = '\0';
    {
        char o[300];
        if (summary_sanitize_domain(out, o, sizeof(o)) == 0)
            fail_msg("254-octet name accepted");
        if (summary_sanitize_domain("example.com", o, 5) == 0)
            fail_msg("short buffer accepted");
    }
}

static void test_names(void **state)
{
    static const struct {
        const char *s;
        int name_ok, token_ok;
    } rows3[] = {
        {"X-Senderauth-Result", 1, 1},
        {"x-cnci-warning", 1, 1},
        {"Subject", 0, 1},
        {"X-", 0, 1},
        {"X-A", 1, 1},
        {"X-Sender auth", 0, 0},
        {"X-Senderauth:Result", 0, 0},
        {"fail", 0, 1},
        {"spoofed.v1_x", 0, 1},
        {"", 0, 0},
        {"a;b", 0, 0},
    };
    static const char *const extra[] = {"X-Cnci-Warning", NULL, ""};

    for (size_t i = 0; i < sizeof(rows3) / sizeof(rows3[0]); i++) {
        if (summary_name_ok(rows3[i].s) != rows3[i].name_ok)
            fail_msg("summary_name_ok(\"%s\"): got %d, want %d", rows3[i].s,
                     summary_name_ok(rows3[i].s), rows3[i].name_ok);
        if (summary_token_ok(rows3[i].s) != rows3[i].token_ok)
            fail_msg("summary_token_ok(\"%s\"): got %d, want %d", rows3[i].s,
                     summary_token_ok(rows3[i].s), rows3[i].token_ok);
    }
    assert_int_equal(summary_is_ours("x-senderauth-trust", extra, 3), 1);
    assert_int_equal(summary_is_ours("X-SENDERAUTH-anything", extra, 3), 1);
    assert_int_equal(summary_is_ours("X-Senderauth", extra, 3), 0);
    assert_int_equal(summary_is_ours("x-cnci-warning", extra, 3), 1);
    assert_int_equal(summary_is_ours("X-Cnci-Warnings", extra, 3), 0);
    assert_int_equal(summary_is_ours("Subject", extra, 3), 0);
    assert_int_equal(summary_is_ours("", extra, 3), 0);
    assert_int_equal(summary_is_ours(NULL, extra, 3), 0);
    assert_string_equal(summary_level_name(SUMMARY_BIMI), "bimi");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rules),
                                       cmocka_unit_test(test_sanitize),
                                       cmocka_unit_test(test_names)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
