/* test_bimi_record.c - the BIMI assertion record, the BIMI-Selector field, the lookup of
 * one name against the DNS stub, and the DMARC eligibility rule (author domain and
 * organizational domain must both enforce). Tables; failures print got and want. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bimi/bimi.h"

static const struct {
    const char *txt;
    int rc;
    const char *l, *a;
    int declined;
} records[] = {
    {"v=BIMI1; l=https://b.example/logo.svg; a=https://b.example/vmc.pem", 0,
     "https://b.example/logo.svg", "https://b.example/vmc.pem", 0},
    {"v=BIMI1;l=https://b.example/l.svg;a=https://b.example/a.pem;", 0, "https://b.example/l.svg",
     "https://b.example/a.pem", 0},
    {"  v = BIMI1 ; l = https://b.example/l.svg ; x=ignored", 0, "https://b.example/l.svg", "", 0},
    {"v=BIMI1; l=; a=", 0, "", "", 1},
    {"v=BIMI1;", 0, "", "", 1},
    {"v=BIMI1; l=http://b.example/l.svg", -1, "", "", 0},
    {"v=BIMI1; l=https://b.example/a.svg,https://b.example/b.svg", -1, "", "", 0},
    {"v=BIMI1; l=https://b.example/l.svg; l=https://b.example/m.svg", -1, "", "", 0},
    {"v=BIMI1; a=ftp://b.example/a.pem", -1, "", "", 0},
    {"v=BIMI1; l", -1, "", "", 0},
    {"v=BIMI2; l=https://b.example/l.svg", -1, "", "", 0},
    {"l=https://b.example/l.svg; v=BIMI1", -1, "", "", 0},
    {"v=BIMI10; l=https://b.example/l.svg", -1, "", "", 0},
    {"", -1, "", "", 0},
};

static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
        struct bimi_record r;
        char why[96] = "";
        int rc = bimi_parse_record(records[i].txt, strlen(records[i].txt), &r, why, sizeof(why));

        if (rc != records[i].rc)
            fail_msg("bimi_parse_record(\"%s\"): got %d (%s), want %d", records[i].txt, rc, why,
                     records[i].rc);
        if (rc == 0 && (strcmp(r.l, records[i].l) != 0 || strcmp(r.a, records[i].a) != 0 ||
                        r.declined != records[i].declined))
            fail_msg("bimi_parse_record(\"%s\"): got l=%s a=%s declined=%d, want l=%s a=%s %d",
                     records[i].txt, r.l, r.a, r.declined, records[i].l, records[i].a,
                     records[i].declined);
    }
}

static const struct {
    const char *value;
    int rc;
    const char *sel;
} selectors[] = {
    {"v=BIMI1; s=brand", 0, "brand"},
    {" v=BIMI1;\r\n\ts=Spring2026;", 0, "spring2026"},
    {"v=BIMI1; s=", -1, ""},
    {"v=BIMI1; s=a.b", -1, ""},
    {"v=BIMI1", -1, ""},
    {"s=brand", -1, ""},
    {"v=BIMI1; s=x23456789012345678901234567890123456789012345678901234567890123456", -1, ""},
};

static void test_selector(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(selectors) / sizeof(selectors[0]); i++) {
        char out[BIMI_MAX_SELECTOR + 1] = "";
        int rc = bimi_parse_selector(selectors[i].value, out, sizeof(out));

        if (rc != selectors[i].rc || (rc == 0 && strcmp(out, selectors[i].sel) != 0))
            fail_msg("bimi_parse_selector(\"%s\"): got %d \"%s\", want %d \"%s\"",
                     selectors[i].value, rc, out, selectors[i].rc, selectors[i].sel);
    }
}

static void test_lookup(void **state)
{
    static const struct {
        const char *sel, *domain;
        enum bimi_lookup want;
    } cases[] = {
        {"default", "one.example", BIMI_LOOKUP_FOUND},
        {"default", "none.example", BIMI_LOOKUP_NONE},
        {"default", "two.example", BIMI_LOOKUP_NONE},    /* two records: discarded */
        {"default", "bad.example", BIMI_LOOKUP_INVALID}, /* http: logo */
        {"default", "temp.example", BIMI_LOOKUP_TEMP},
        {"default", "other.example", BIMI_LOOKUP_NONE}, /* only a non-BIMI TXT */
        {"brand", "one.example", BIMI_LOOKUP_FOUND},
    };
    struct dns *d = dns_stub_new();

    (void)state;
    dns_stub_add(d, "default._bimi.one.example", DNS_T_TXT,
                 "v=BIMI1; l=https://one.example/l.svg; a=https://one.example/a.pem");
    dns_stub_add(d, "brand._bimi.one.example", DNS_T_TXT, "v=BIMI1; l=https://one.example/b.svg");
    dns_stub_add(d, "default._bimi.two.example", DNS_T_TXT, "v=BIMI1; l=https://x.example/1.svg");
    dns_stub_add(d, "default._bimi.two.example", DNS_T_TXT, "v=BIMI1; l=https://x.example/2.svg");
    dns_stub_add(d, "default._bimi.bad.example", DNS_T_TXT, "v=BIMI1; l=http://x.example/1.svg");
    dns_stub_add(d, "default._bimi.other.example", DNS_T_TXT, "v=spf1 -all");
    dns_stub_fail(d, "default._bimi.temp.example", DNS_T_TXT, DNS_TEMPFAIL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bimi_record r;
        char why[128] = "";
        enum bimi_lookup got =
            bimi_lookup_name(d, cases[i].sel, cases[i].domain, &r, why, sizeof(why));
        if (got != cases[i].want)
            fail_msg("bimi_lookup_name(%s, %s): got %d (%s), want %d", cases[i].sel,
                     cases[i].domain, got, why, cases[i].want);
    }
    dns_free(d);
}

/* A DMARC result as dmarc_eval leaves it for a pass. */
static struct dmarc_res dres(enum auth_res r, const char *rec_domain, const char *org,
                             enum dmarc_policy p, enum dmarc_policy sp, enum dmarc_policy applied,
                             int pct, int testing)
{
    struct dmarc_res d;

    memset(&d, 0, sizeof(d));
    d.result = r;
    d.has_record = 1;
    d.rec.p = p;
    d.rec.sp = sp;
    d.rec.pct = pct;
    d.rec.testing = testing;
    d.policy = applied;
    snprintf(d.record_domain, sizeof(d.record_domain), "%s", rec_domain);
    snprintf(d.org_domain, sizeof(d.org_domain), "%s", org);
    return d;
}

static void test_eligible(void **state)
{
#define Q DMARC_POLICY_QUARANTINE
#define R DMARC_POLICY_REJECT
#define N DMARC_POLICY_NONE
#define U DMARC_POLICY_UNSPEC
    static const struct {
        const char *name, *from, *rec_domain, *org;
        enum auth_res res;
        enum dmarc_policy p, sp, applied;
        int pct, testing;
        enum bimi_eligible want;
    } cases[] = {
        {"org reject", "brand.example", "brand.example", "brand.example", AUTH_PASS, R, U, R, 100,
         0, BIMI_ELIGIBLE},
        {"org quarantine", "brand.example", "brand.example", "brand.example", AUTH_PASS, Q, U, Q,
         100, 0, BIMI_ELIGIBLE},
        {"dmarc fail", "brand.example", "brand.example", "brand.example", AUTH_FAIL, R, U, R, 100,
         0, BIMI_NOT_ELIGIBLE},
        {"p=none", "brand.example", "brand.example", "brand.example", AUTH_PASS, N, U, N, 100, 0,
         BIMI_NOT_ELIGIBLE},
        {"pct=50", "brand.example", "brand.example", "brand.example", AUTH_PASS, R, U, R, 50, 0,
         BIMI_NOT_ELIGIBLE},
        {"t=y", "brand.example", "brand.example", "brand.example", AUTH_PASS, R, U, R, 100, 1,
         BIMI_NOT_ELIGIBLE},
        {"org sp=none", "brand.example", "brand.example", "brand.example", AUTH_PASS, R, N, R, 100,
         0, BIMI_NOT_ELIGIBLE},
        {"sub under org record sp=reject", "mail.brand.example", "brand.example", "brand.example",
         AUTH_PASS, R, R, R, 100, 0, BIMI_ELIGIBLE},
        {"sub under org p=none sp=reject", "mail.brand.example", "brand.example", "brand.example",
         AUTH_PASS, N, R, R, 100, 0, BIMI_NOT_ELIGIBLE},
        {"sub own record, parent p=none", "news.lax.example", "news.lax.example", "lax.example",
         AUTH_PASS, R, U, R, 100, 0, BIMI_NOT_ELIGIBLE},
        {"sub own record, parent reject", "news.strict.example", "news.strict.example",
         "strict.example", AUTH_PASS, R, U, R, 100, 0, BIMI_ELIGIBLE},
        {"sub own record, parent sp=none", "news.spnone.example", "news.spnone.example",
         "spnone.example", AUTH_PASS, R, U, R, 100, 0, BIMI_NOT_ELIGIBLE},
        {"sub own record, parent none", "news.norec.example", "news.norec.example", "norec.example",
         AUTH_PASS, R, U, R, 100, 0, BIMI_NOT_ELIGIBLE},
        {"sub own record, parent tempfail", "news.temp.example", "news.temp.example",
         "temp.example", AUTH_PASS, R, U, R, 100, 0, BIMI_ELIGIBLE_TEMP},
    };
    struct dns *d = dns_stub_new();

    (void)state;
    dns_stub_add(d, "_dmarc.lax.example", DNS_T_TXT, "v=DMARC1; p=none");
    dns_stub_add(d, "_dmarc.strict.example", DNS_T_TXT, "v=DMARC1; p=reject");
    dns_stub_add(d, "_dmarc.spnone.example", DNS_T_TXT, "v=DMARC1; p=reject; sp=none");
    dns_stub_fail(d, "_dmarc.temp.example", DNS_T_TXT, DNS_TEMPFAIL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dmarc_res r = dres(cases[i].res, cases[i].rec_domain, cases[i].org, cases[i].p,
                                  cases[i].sp, cases[i].applied, cases[i].pct, cases[i].testing);
        char why[128] = "";
        enum bimi_eligible got = bimi_dmarc_eligible(&r, cases[i].from, d, why, sizeof(why));

        if (got != cases[i].want)
            fail_msg("%s: bimi_dmarc_eligible: got %d (%s), want %d", cases[i].name, got, why,
                     cases[i].want);
    }
    dns_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_selector),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_eligible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
