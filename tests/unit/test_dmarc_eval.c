/* test_dmarc_eval.c - DMARC evaluation against the DNS stub: one table of zones, inputs
 * and expected verdicts (policy discovery RFC 7489 6.6.3 with the PSL, p/sp/np selection
 * RFC 9989 4.7/4.10.1, alignment RFC 7489 3.1, DNS failures), plus record-count cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dmarc/dmarc.h"

#define DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"
#define MAX_ZONE 12
#define MAX_SIGS 3

/* A zone line: "name TYPE value" (TYPE A, MX or TXT; the value is the rest of the line)
 * or "FAIL name TYPE status" (status tempfail, badreply; TYPE ANY for every type). */
struct sig {
    enum auth_res res;
    const char *d;
    int full_body;
};

struct ecase {
    const char *name;
    const char *zone[MAX_ZONE];
    const char *from;
    enum auth_res spf;
    const char *spf_domain;
    struct sig dkim[MAX_SIGS];
    int tree_walk;
    /* expected */
    enum auth_res want;
    enum dmarc_policy want_policy;
    const char *want_tag;    /* "p" "sp" "np" "" */
    const char *want_record; /* record_domain, "" when none */
    const char *want_reason; /* substring of reason */
    int want_nx;
};

#define NONE_P DMARC_POLICY_UNSPEC
#define P_NONE DMARC_POLICY_NONE
#define P_QUAR DMARC_POLICY_QUARANTINE
#define P_REJ DMARC_POLICY_REJECT
#define PASS AUTH_PASS
#define FAIL AUTH_FAIL

/* clang-format off */
static const struct ecase cases[] = {
    {"dkim aligned relaxed",
     {"_dmarc.example.com TXT v=DMARC1; p=reject", "example.com A 192.0.2.1"},
     "example.com", AUTH_NONE, NULL, {{PASS, "mail.example.com", 1}}, 0,
     PASS, P_REJ, "p", "example.com", "DKIM d=mail.example.com aligned", 0},
    {"spf aligned relaxed",
     {"_dmarc.example.com TXT v=DMARC1; p=reject"},
     "example.com", PASS, "bounce.example.com", {{0}}, 0,
     PASS, P_REJ, "p", "example.com", "SPF aligned", 0},
    {"both aligned",
     {"_dmarc.example.com TXT v=DMARC1; p=quarantine"},
     "example.com", PASS, "example.com", {{PASS, "example.com", 1}}, 0,
     PASS, P_QUAR, "p", "example.com", "DKIM d=example.com and SPF aligned", 0},
    {"nothing aligned",
     {"_dmarc.example.com TXT v=DMARC1; p=reject"},
     "example.com", PASS, "evil.example", {{PASS, "evil.example", 1}}, 0,
     FAIL, P_REJ, "p", "example.com", "no aligned identifier", 0},
    {"spf softfail does not align",
     {"_dmarc.example.com TXT v=DMARC1; p=reject"},
     "example.com", AUTH_SOFTFAIL, "example.com", {{0}}, 0,
     FAIL, P_REJ, "p", "example.com", "no aligned identifier", 0},
    {"dkim l= partial body never aligns",
     {"_dmarc.example.com TXT v=DMARC1; p=reject"},
     "example.com", AUTH_NONE, NULL, {{PASS, "example.com", 0}}, 0,
     FAIL, P_REJ, "p", "example.com", "no aligned identifier", 0},
    {"dkim fail does not align, second signature passes",
     {"_dmarc.example.com TXT v=DMARC1; p=reject"},
     "example.com", AUTH_NONE, NULL, {{FAIL, "example.com", 1}, {PASS, "s.example.com", 1}}, 0,
     PASS, P_REJ, "p", "example.com", "DKIM d=s.example.com aligned", 0},
    {"adkim=s rejects a subdomain signature",
     {"_dmarc.example.com TXT v=DMARC1; p=reject; adkim=s"},
     "example.com", AUTH_NONE, NULL, {{PASS, "mail.example.com", 1}}, 0,
     FAIL, P_REJ, "p", "example.com", "no aligned identifier", 0},
    {"adkim=s accepts the exact domain (case, dot)",
     {"_dmarc.example.com TXT v=DMARC1; p=reject; adkim=s"},
     "example.com", AUTH_NONE, NULL, {{PASS, "Example.COM.", 1}}, 0,
     PASS, P_REJ, "p", "example.com", "DKIM d=example.com aligned", 0},
    {"aspf=s rejects a subdomain MAIL FROM",
     {"_dmarc.example.com TXT v=DMARC1; p=reject; aspf=s"},
     "example.com", PASS, "bounce.example.com", {{0}}, 0,
     FAIL, P_REJ, "p", "example.com", "no aligned identifier", 0},
    {"no record anywhere",
     {"example.com A 192.0.2.1"},
     "mail.example.com", PASS, "example.com", {{0}}, 0,
     AUTH_NONE, NONE_P, "", "", "no DMARC record", 0},
    {"org-domain fallback under co.jp uses sp",
     {"_dmarc.example.co.jp TXT v=DMARC1; p=reject; sp=quarantine", "mail.example.co.jp A 192.0.2.1"},
     "mail.example.co.jp", AUTH_NONE, NULL, {{PASS, "example.co.jp", 1}}, 0,
     PASS, P_QUAR, "sp", "example.co.jp", "DKIM d=example.co.jp aligned", 0},
    {"existing subdomain without sp takes p",
     {"_dmarc.example.com TXT v=DMARC1; p=reject; np=none", "sub.example.com MX 10 mx.example.com"},
     "sub.example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_REJ, "p", "example.com", "no aligned identifier", 0},
    {"non-existent subdomain takes np",
     {"_dmarc.example.com TXT v=DMARC1; p=none; sp=none; np=reject", "example.com A 192.0.2.1"},
     "nx.example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_REJ, "np", "example.com", "no aligned identifier", 1},
    {"non-existent subdomain without np takes sp",
     {"_dmarc.example.com TXT v=DMARC1; p=reject; sp=quarantine"},
     "nx.example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_QUAR, "sp", "example.com", "no aligned identifier", 1},
    {"non-existent subdomain without np or sp takes p",
     {"_dmarc.example.com TXT v=DMARC1; p=reject"},
     "nx.example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_REJ, "p", "example.com", "no aligned identifier", 1},
    {"existence check failing counts as existing",
     {"_dmarc.example.com TXT v=DMARC1; p=none; sp=quarantine; np=reject",
      "FAIL x.example.com A tempfail"},
     "x.example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_QUAR, "sp", "example.com", "no aligned identifier", 0},
    {"np at the From domain itself does not apply",
     {"_dmarc.example.com TXT v=DMARC1; p=quarantine; np=reject"},
     "example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_QUAR, "p", "example.com", "no aligned identifier", 0},
    {"record at the From domain wins over the org domain",
     {"_dmarc.mail.example.com TXT v=DMARC1; p=none", "_dmarc.example.com TXT v=DMARC1; p=reject; sp=reject"},
     "mail.example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_NONE, "p", "mail.example.com", "no aligned identifier", 0},
    {"multiple records at the From domain: none",
     {"_dmarc.example.com TXT v=DMARC1; p=reject", "_dmarc.example.com TXT v=DMARC1; p=none"},
     "example.com", PASS, "example.com", {{0}}, 0,
     AUTH_NONE, NONE_P, "", "", "multiple DMARC records", 0},
    {"multiple records at the subdomain: discarded, org record applies",
     {"_dmarc.a.example.com TXT v=DMARC1; p=none", "_dmarc.a.example.com TXT v=DMARC1; p=none",
      "_dmarc.example.com TXT v=DMARC1; p=reject; sp=quarantine", "a.example.com A 192.0.2.1"},
     "a.example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_QUAR, "sp", "example.com", "no aligned identifier", 0},
    {"non-DMARC TXT records at _dmarc are ignored",
     {"_dmarc.example.com TXT v=spf1 -all", "_dmarc.example.com TXT hello world",
      "_dmarc.example.com TXT v=DMARC1; p=reject", "_dmarc.example.com TXT v=DMARC1x; p=none"},
     "example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_REJ, "p", "example.com", "no aligned identifier", 0},
    {"invalid record at the From domain: no DMARC processing",
     {"_dmarc.mail.example.com TXT v=DMARC1; p=bogus", "_dmarc.example.com TXT v=DMARC1; p=reject"},
     "mail.example.com", AUTH_NONE, NULL, {{0}}, 0,
     AUTH_NONE, NONE_P, "", "", "invalid DMARC record", 0},
    {"missing p with rua: p=none",
     {"_dmarc.example.com TXT v=DMARC1; rua=mailto:d@example.com"},
     "example.com", AUTH_NONE, NULL, {{0}}, 0,
     FAIL, P_NONE, "p", "example.com", "no aligned identifier", 0},
    {"SERVFAIL on the From domain's _dmarc: temperror",
     {"FAIL _dmarc.example.com TXT tempfail", "_dmarc.example.com TXT v=DMARC1; p=reject"},
     "example.com", PASS, "example.com", {{0}}, 0,
     AUTH_TEMPERROR, NONE_P, "", "", "tempfail", 0},
    {"bad reply on the org domain's _dmarc: temperror",
     {"FAIL _dmarc.example.com TXT badreply"},
     "mail.example.com", PASS, "example.com", {{0}}, 0,
     AUTH_TEMPERROR, NONE_P, "", "", "badreply", 0},
    {"NULL From domain: permerror", {NULL}, NULL, PASS, "example.com", {{0}}, 0,
     AUTH_PERMERROR, NONE_P, "", "", "From domain", 0},
    {"empty From domain: permerror", {NULL}, "", PASS, "example.com", {{0}}, 0,
     AUTH_PERMERROR, NONE_P, "", "", "From domain", 0},
    {"impossible From domain: permerror", {NULL}, "a..example.com", PASS, "example.com", {{0}}, 0,
     AUTH_PERMERROR, NONE_P, "", "", "From domain", 0},
    {"From domain in upper case with a trailing dot",
     {"_dmarc.example.com TXT v=DMARC1; p=reject"},
     "Mail.Example.COM.", PASS, "example.com", {{0}}, 0,
     PASS, P_REJ, "p", "example.com", "SPF aligned", 1},
    {"From domain is a public suffix: no org lookup",
     {"_dmarc.co.jp TXT v=DMARC1; p=reject"},
     "co.jp", PASS, "co.jp", {{0}}, 0,
     PASS, P_REJ, "p", "co.jp", "SPF aligned", 0},
    {"tree walk: org domain record, relaxed alignment by walk",
     {"_dmarc.example.com TXT v=DMARC1; p=reject", "a.example.com A 192.0.2.1"},
     "a.example.com", PASS, "b.example.com", {{0}}, 1,
     PASS, P_REJ, "p", "example.com", "SPF aligned", 0},
    {"tree walk: psd=y makes siblings unaligned",
     {"_dmarc.bank.example TXT v=DMARC1; p=reject; psd=y",
      "_dmarc.giant.bank.example TXT v=DMARC1; p=quarantine"},
     "giant.bank.example", PASS, "mail.mega.bank.example", {{PASS, "mail.giant.bank.example", 1}}, 1,
     PASS, P_QUAR, "p", "giant.bank.example", "DKIM d=mail.giant.bank.example aligned", 0},
    /* The walk keeps only the records discovery can pick (the start's, the last two). */
    {"tree walk: three records, the organizational domain's is the middle one",
     {"_dmarc.c.d.example TXT v=DMARC1; p=none",
      "_dmarc.d.example TXT v=DMARC1; p=quarantine",
      "_dmarc.example TXT v=DMARC1; p=reject; psd=y"},
     "a.b.c.d.example", PASS, "mail.d.example", {{0}}, 1,
     PASS, P_QUAR, "p", "d.example", "SPF aligned", 1},
    {"tree walk: the start's own record among three",
     {"_dmarc.c.d.example TXT v=DMARC1; p=none",
      "_dmarc.d.example TXT v=DMARC1; p=quarantine",
      "_dmarc.example TXT v=DMARC1; p=reject; psd=y"},
     "c.d.example", PASS, "mail.d.example", {{0}}, 1,
     PASS, P_NONE, "p", "c.d.example", "SPF aligned", 0},
    {"tree walk: no psd anywhere, the shortest name's record",
     {"_dmarc.b.c.example TXT v=DMARC1; p=none",
      "_dmarc.c.example TXT v=DMARC1; p=quarantine",
      "_dmarc.example TXT v=DMARC1; p=reject"},
     "a.b.c.example", PASS, "a.b.c.example", {{0}}, 1,
     PASS, P_REJ, "p", "example", "SPF aligned", 1},
    {"tree walk: SERVFAIL on the From domain: temperror",
     {"FAIL _dmarc.example.com TXT tempfail"},
     "example.com", PASS, "example.com", {{0}}, 1,
     AUTH_TEMPERROR, NONE_P, "", "", "tempfail", 0},
    {"tree walk: SERVFAIL while walking an identifier, nothing else aligns: temperror",
     {"_dmarc.example.com TXT v=DMARC1; p=reject", "FAIL _dmarc.x.example.com TXT tempfail"},
     "example.com", PASS, "x.example.com", {{0}}, 1,
     AUTH_TEMPERROR, P_REJ, "p", "example.com", "DNS failure", 0},
};
/* clang-format on */

/* load_zone - feed the case's lines to the stub */
static void load_zone(struct dns *d, const char *const *zone)
{
    for (int i = 0; i < MAX_ZONE && zone[i] != NULL; i++) {
        char name[300], type[16], rest[300];
        int n = 0;

        if (strncmp(zone[i], "FAIL ", 5) == 0) {
            char st[16];
            enum dns_status s;

            assert_int_equal(sscanf(zone[i] + 5, "%299s %15s %15s", name, type, st), 3);
            s = strcmp(st, "tempfail") == 0 ? DNS_TEMPFAIL : DNS_BADREPLY;
            assert_int_equal(
                dns_stub_fail(d, name, strcmp(type, "ANY") == 0 ? 0 : dns_type_parse(type), s), 0);
            continue;
        }
        assert_int_equal(sscanf(zone[i], "%299s %15s %n", name, type, &n), 2);
        snprintf(rest, sizeof(rest), "%s", zone[i] + n);
        assert_int_equal(dns_stub_add(d, name, dns_type_parse(type), rest), 0);
    }
}

static void test_eval_table(void **state)
{
    const struct orgdomain *o = *state;
    int failed = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct ecase *c = &cases[i];
        struct dns *d = dns_stub_new();
        struct dmarc_dkim_in sigs[MAX_SIGS];
        struct dmarc_in in;
        struct dmarc_res res;
        int nsig = 0;

        assert_non_null(d);
        load_zone(d, c->zone);
        for (int k = 0; k < MAX_SIGS && c->dkim[k].d != NULL; k++) {
            sigs[k].result = c->dkim[k].res;
            sigs[k].domain = c->dkim[k].d;
            sigs[k].full_body = c->dkim[k].full_body;
            nsig++;
        }
        memset(&in, 0, sizeof(in));
        in.from_domain = c->from;
        in.spf = c->spf;
        in.spf_domain = c->spf_domain;
        in.dkim = sigs;
        in.ndkim = nsig;
        in.org = o;
        in.tree_walk = c->tree_walk;
        assert_int_equal(dmarc_eval(&in, d, &res), 0);
        if (res.result != c->want || res.policy != c->want_policy ||
            strcmp(res.policy_tag, c->want_tag) != 0 ||
            strcmp(res.record_domain, c->want_record) != 0 ||
            strstr(res.reason, c->want_reason) == NULL || res.from_nxdomain != c->want_nx ||
            res.has_record != (c->want_record[0] != '\0')) {
            print_error("%s: got %s policy=%s tag=%s record=%s nx=%d reason='%s', "
                        "want %s policy=%s tag=%s record=%s nx=%d reason~'%s'\n",
                        c->name, auth_res_name(res.result), dmarc_policy_name(res.policy),
                        res.policy_tag, res.record_domain, res.from_nxdomain, res.reason,
                        auth_res_name(c->want), dmarc_policy_name(c->want_policy), c->want_tag,
                        c->want_record, c->want_nx, c->want_reason);
            failed++;
        }
        dns_free(d);
    }
    if (failed)
        fail_msg("%d of %zu cases failed", failed, sizeof(cases) / sizeof(cases[0]));
}

/* run_count - n TXT records at _dmarc.example.com, ndmarc of them v=DMARC1 */
static enum auth_res run_count(const struct orgdomain *o, int n, int ndmarc, struct dmarc_res *res)
{
    struct dns *d = dns_stub_new();
    struct dmarc_in in;

    for (int i = 0; i < n; i++) {
        char txt[64];

        if (i < ndmarc)
            snprintf(txt, sizeof(txt), "v=DMARC1; p=reject; rua=mailto:r%d@example.com", i);
        else
            snprintf(txt, sizeof(txt), "unrelated text %d", i);
        assert_int_equal(dns_stub_add(d, "_dmarc.example.com", DNS_T_TXT, txt), 0);
    }
    memset(&in, 0, sizeof(in));
    in.from_domain = "example.com";
    in.spf = AUTH_FAIL;
    in.org = o;
    assert_int_equal(dmarc_eval(&in, d, res), 0);
    dns_free(d);
    return res->result;
}

/* test_record_counts - 30 records at _dmarc, one or many of them DMARC; and an answer
 * larger than the DNS layer keeps */
static void test_record_counts(void **state)
{
    static const struct {
        int n, ndmarc;
        enum auth_res want;
    } rows[] = {
        {30, 1, AUTH_FAIL},  /* one DMARC record among 29 others: it applies */
        {30, 30, AUTH_NONE}, /* 30 DMARC records: multiple, no policy */
        {30, 2, AUTH_NONE},
        {30, 0, AUTH_NONE},
        {DNS_MAX_RRS + 6, 1, AUTH_NONE}, /* truncated: a dropped record may be DMARC too */
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dmarc_res res;
        enum auth_res got = run_count(*state, rows[i].n, rows[i].ndmarc, &res);

        if (got != rows[i].want)
            fail_msg("%d TXT records, %d DMARC: got %s (%s), want %s", rows[i].n, rows[i].ndmarc,
                     auth_res_name(got), res.reason, auth_res_name(rows[i].want));
    }
}

/* test_typed_result - tags a later stage needs are kept in the result */
static void test_typed_result(void **state)
{
    struct dns *d = dns_stub_new();
    struct dmarc_in in;
    struct dmarc_res res;

    assert_int_equal(dns_stub_add(d, "_dmarc.example.com", DNS_T_TXT,
                                  "v=DMARC1; p=reject; pct=25; t=y; fo=1; "
                                  "rua=mailto:agg@example.com; ruf=mailto:f@example.com"),
                     0);
    memset(&in, 0, sizeof(in));
    in.from_domain = "example.com";
    in.org = *state;
    assert_int_equal(dmarc_eval(&in, d, &res), 0);
    assert_int_equal(res.result, AUTH_FAIL);
    assert_int_equal(res.has_record, 1);
    assert_int_equal(res.rec.pct, 25);
    assert_int_equal(res.rec.testing, 1);
    assert_string_equal(res.rec.fo, "1");
    assert_string_equal(res.rec.rua, "mailto:agg@example.com");
    assert_string_equal(res.rec.ruf, "mailto:f@example.com");
    assert_string_equal(res.org_domain, "example.com");
    /* No PSL and no tree walk is an internal error, reported as temperror. */
    in.org = NULL;
    assert_int_equal(dmarc_eval(&in, d, &res), -1);
    assert_int_equal(res.result, AUTH_TEMPERROR);
    dns_free(d);
}

static int setup(void **state)
{
    const char *p = getenv("SA_PSL_FILE");

    *state = orgdomain_new(p != NULL && p[0] != '\0' ? p : DEFAULT_PSL);
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    orgdomain_free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_table),
        cmocka_unit_test(test_record_counts),
        cmocka_unit_test(test_typed_result),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
