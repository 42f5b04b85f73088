/* test_dmarc_walk.c - RFC 9989 DNS tree walk (4.10), policy discovery (4.10.1) and
 * organizational-domain selection (4.10.2).
 * The 15 cases are the shared test suites' dmarcbis-tree-walk/tree-walk-cases.yml,
 * transcribed by hand into the table below (C has no YAML parser here); that file holds
 * the worked examples of draft-ietf-dmarc-dmarcbis-41 (published as RFC 9989), sections
 * 4.7, 4.10, 4.10.1, 4.10.2 and Appendix B.4. Each row keeps the case id of the file.
 * A recording layer over the DNS stub captures the _dmarc TXT queries in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dmarc/dmarc.h"

#define MAXQ 16
#define MAXW 3

/* ---- recording layer: remembers the TXT names asked, passes everything down ---- */
struct rec_dns {
    struct dns base;
    struct dns *inner;
    int n;
    char q[MAXQ][DNS_MAX_NAME + 1];
};

static enum dns_status rec_query(struct dns *d, const char *name, uint16_t type,
                                 struct dns_answer **ans)
{
    struct rec_dns *r = d->ctx;

    if (type == DNS_T_TXT && r->n < MAXQ)
        snprintf(r->q[r->n++], sizeof(r->q[0]), "%s", name);
    return dns_query(r->inner, name, type, ans);
}

static void rec_free(struct dns *d)
{
    (void)d;
}

static void rec_init(struct rec_dns *r, struct dns *inner)
{
    memset(r, 0, sizeof(*r));
    r->base.query = rec_query;
    r->base.free = rec_free;
    r->base.ctx = r;
    r->inner = inner;
}

/* ---- the cases ---- */
enum kind { DISCOVERY, ORGDOMAIN, EVALUATION };

struct twcase {
    const char *id;
    enum kind kind;
    const char *records[3][2]; /* owner name -> TXT */
    const char *domain;        /* author_domain or start_domain */
    int exists;                /* author_domain_exists: 1, 0 (-1: not given = exists) */
    const char *spf, *dkim;    /* evaluation identifiers */
    /* walks[k] = { start, query1, query2, ..., NULL } ({NULL}: queries not given) */
    const char *walks[MAXW][10];
    const char *orgs[MAXW][2]; /* { domain, expected organizational domain } */
    const char *policy_record; /* "_dmarc.<name>" or "none"; NULL not checked */
    const char *tag;           /* applied tag; NULL not checked */
    enum dmarc_policy policy;
    int spf_aligned, dkim_aligned; /* evaluation */
};

#define P_NONE DMARC_POLICY_NONE
#define P_QUAR DMARC_POLICY_QUARANTINE
#define P_REJ DMARC_POLICY_REJECT

/* clang-format off */
static const struct twcase cases[] = {
    {"discovery-13-labels-no-records", DISCOVERY, {{NULL}},
     "a.b.c.d.e.f.g.h.i.j.mail.example.com", -1, NULL, NULL,
     {{"a.b.c.d.e.f.g.h.i.j.mail.example.com", "_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com",
       "_dmarc.g.h.i.j.mail.example.com", "_dmarc.h.i.j.mail.example.com",
       "_dmarc.i.j.mail.example.com", "_dmarc.j.mail.example.com", "_dmarc.mail.example.com",
       "_dmarc.example.com", "_dmarc.com", NULL}},
     {{NULL}}, "none", NULL, 0, 0, 0},
    {"orgdomain-two-records-no-psd", ORGDOMAIN,
     {{"_dmarc.mail.example.com", "v=DMARC1; p=none"}, {"_dmarc.example.com", "v=DMARC1; p=none"}},
     "a.mail.example.com", -1, NULL, NULL,
     {{"a.mail.example.com", "_dmarc.a.mail.example.com", "_dmarc.mail.example.com",
       "_dmarc.example.com", "_dmarc.com", NULL}},
     {{"a.mail.example.com", "example.com"}}, NULL, NULL, 0, 0, 0},
    {"orgdomain-psd-n-stops", ORGDOMAIN, {{"_dmarc.mail.example.com", "v=DMARC1; p=none; psd=n"}},
     "a.mail.example.com", -1, NULL, NULL,
     {{"a.mail.example.com", "_dmarc.a.mail.example.com", "_dmarc.mail.example.com", NULL}},
     {{"a.mail.example.com", "mail.example.com"}}, NULL, NULL, 0, 0, 0},
    {"orgdomain-psd-y-at-tld", ORGDOMAIN, {{"_dmarc.com", "v=DMARC1; p=none; psd=y"}},
     "a.mail.example.com", -1, NULL, NULL,
     {{"a.mail.example.com", "_dmarc.a.mail.example.com", "_dmarc.mail.example.com",
       "_dmarc.example.com", "_dmarc.com", NULL}},
     {{"a.mail.example.com", "example.com"}}, NULL, NULL, 0, 0, 0},
    {"orgdomain-psd-y-one-label-below", ORGDOMAIN,
     {{"_dmarc.example.com", "v=DMARC1; p=none; psd=y"}}, "mail.example.com", -1, NULL, NULL,
     {{"mail.example.com", "_dmarc.mail.example.com", "_dmarc.example.com", NULL}},
     {{"mail.example.com", "mail.example.com"}}, NULL, NULL, 0, 0, 0},
    /* tree_walk_needed: false - checked below: evaluation with every identifier equal to
     * the Author Domain makes no query beyond the Author Domain's own walk. */
    {"orgdomain-all-identifiers-same", ORGDOMAIN, {{"_dmarc.mail.example.com", "v=DMARC1; p=none"}},
     "mail.example.com", -1, "mail.example.com", "mail.example.com", {{NULL}},
     {{"mail.example.com", "mail.example.com"}}, NULL, NULL, 0, 1, 1},
    {"appendix-B.4.1-simple", EVALUATION,
     {{"_dmarc.example.com", "v=DMARC1; p=none"}, {"_dmarc.signing.example.com", "v=DMARC1; p=none"}},
     "example.com", -1, "example.com", "signing.example.com",
     {{"example.com", "_dmarc.example.com", "_dmarc.com", NULL},
      {"signing.example.com", "_dmarc.signing.example.com", "_dmarc.example.com", "_dmarc.com",
       NULL}},
     {{"example.com", "example.com"}, {"signing.example.com", "example.com"}},
     "_dmarc.example.com", NULL, 0, 1, 1},
    {"appendix-B.4.2-deep", EVALUATION,
     {{"_dmarc.example.com", "v=DMARC1; p=none"}, {"_dmarc.signing.example.com", "v=DMARC1; p=none"}},
     "a.b.c.d.e.f.g.h.i.j.k.example.com", -1, "example.com", "signing.example.com",
     {{"a.b.c.d.e.f.g.h.i.j.k.example.com", "_dmarc.a.b.c.d.e.f.g.h.i.j.k.example.com",
       "_dmarc.g.h.i.j.k.example.com", "_dmarc.h.i.j.k.example.com", "_dmarc.i.j.k.example.com",
       "_dmarc.j.k.example.com", "_dmarc.k.example.com", "_dmarc.example.com", "_dmarc.com"},
      {"signing.example.com", "_dmarc.signing.example.com", "_dmarc.example.com", "_dmarc.com",
       NULL}},
     {{"a.b.c.d.e.f.g.h.i.j.k.example.com", "example.com"}, {"example.com", "example.com"},
      {"signing.example.com", "example.com"}},
     "_dmarc.example.com", NULL, 0, 1, 1},
    {"appendix-B.4.3-psd", EVALUATION,
     {{"_dmarc.bank.example", "v=DMARC1; p=none; psd=y"},
      {"_dmarc.giant.bank.example", "v=DMARC1; p=none"}},
     "giant.bank.example", -1, "mail.giant.bank.example", "mail.mega.bank.example", {{NULL}},
     {{"giant.bank.example", "giant.bank.example"},
      {"mail.giant.bank.example", "giant.bank.example"},
      {"mail.mega.bank.example", "mega.bank.example"}},
     "_dmarc.giant.bank.example", NULL, 0, 1, 0},
    {"policy-author-has-record", DISCOVERY,
     {{"_dmarc.example.com", "v=DMARC1; p=reject; sp=none; np=quarantine"}}, "example.com", 1,
     NULL, NULL, {{NULL}}, {{NULL}}, "_dmarc.example.com", "p", P_REJ, 0, 0},
    {"policy-existing-subdomain-sp", DISCOVERY,
     {{"_dmarc.example.com", "v=DMARC1; p=reject; sp=none; np=quarantine"}}, "sub.example.com", 1,
     NULL, NULL, {{NULL}}, {{NULL}}, "_dmarc.example.com", "sp", P_NONE, 0, 0},
    {"policy-existing-subdomain-no-sp", DISCOVERY,
     {{"_dmarc.example.com", "v=DMARC1; p=reject; np=none"}}, "sub.example.com", 1, NULL, NULL,
     {{NULL}}, {{NULL}}, "_dmarc.example.com", "p", P_REJ, 0, 0},
    {"policy-nonexistent-subdomain-np", DISCOVERY,
     {{"_dmarc.example.com", "v=DMARC1; p=none; sp=none; np=reject"}}, "nx.example.com", 0, NULL,
     NULL, {{NULL}}, {{NULL}}, "_dmarc.example.com", "np", P_REJ, 0, 0},
    {"policy-nonexistent-subdomain-no-np-uses-sp", DISCOVERY,
     {{"_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine"}}, "nx.example.com", 0, NULL,
     NULL, {{NULL}}, {{NULL}}, "_dmarc.example.com", "sp", P_QUAR, 0, 0},
    {"policy-nonexistent-subdomain-no-np-no-sp-uses-p", DISCOVERY,
     {{"_dmarc.example.com", "v=DMARC1; p=reject"}}, "nx.example.com", 0, NULL, NULL, {{NULL}},
     {{NULL}}, "_dmarc.example.com", "p", P_REJ, 0, 0},
};
/* clang-format on */

static struct dns *zone(const struct twcase *c)
{
    struct dns *d = dns_stub_new();

    assert_non_null(d);
    for (int i = 0; i < 3 && c->records[i][0] != NULL; i++)
        assert_int_equal(dns_stub_add(d, c->records[i][0], DNS_T_TXT, c->records[i][1]), 0);
    if (c->exists != 0) /* exists unless the case says it does not */
        assert_int_equal(dns_stub_add(d, c->domain, DNS_T_A, "192.0.2.1"), 0);
    return d;
}

/* check_queries - the recorded TXT names against want (NULL-terminated) */
static int check_queries(const char *id, const char *start, const struct rec_dns *r,
                         const char *const *want)
{
    int n = 0;

    while (n < 9 && want[n] != NULL)
        n++;
    for (int i = 0; i < n || i < r->n; i++) {
        const char *g = i < r->n ? r->q[i] : "(none)";
        const char *w = i < n ? want[i] : "(none)";

        if (strcmp(g, w) != 0) {
            print_error("%s: walk from %s, query %d: got %s, want %s (%d queries, want %d)\n", id,
                        start, i + 1, g, w, r->n, n);
            return 1;
        }
    }
    return 0;
}

/* check_walks - each listed start: the query sequence, then the organizational domain */
static int check_walks(const struct twcase *c, struct dns *stub)
{
    int failed = 0;

    for (int k = 0; k < MAXW && c->walks[k][0] != NULL; k++) {
        struct rec_dns r;
        struct dmarc_walk w;

        rec_init(&r, stub);
        assert_int_equal(dmarc_walk_run(&r.base, c->walks[k][0], &w), 0);
        failed += check_queries(c->id, c->walks[k][0], &r, &c->walks[k][1]);
        assert_true(w.nqueries <= DMARC_TREE_WALK_MAX);
    }
    for (int k = 0; k < MAXW && c->orgs[k][0] != NULL; k++) {
        struct rec_dns r;
        struct dmarc_walk w;
        char org[DNS_MAX_NAME + 1];

        rec_init(&r, stub);
        assert_int_equal(dmarc_walk_run(&r.base, c->orgs[k][0], &w), 0);
        assert_int_equal(dmarc_walk_orgdomain(&w, c->orgs[k][0], org, sizeof(org)), 0);
        if (strcmp(org, c->orgs[k][1]) != 0) {
            print_error("%s: organizational domain of %s: got %s, want %s\n", c->id, c->orgs[k][0],
                        org, c->orgs[k][1]);
            failed++;
        }
    }
    return failed;
}

/* check_eval - dmarc_eval in tree-walk mode: policy record, tag, policy, alignment */
static int check_eval(const struct twcase *c, struct dns *stub)
{
    struct rec_dns r;
    struct dmarc_dkim_in sig = {AUTH_PASS, c->dkim, 1};
    struct dmarc_in in;
    struct dmarc_res res;
    char rd[DNS_MAX_NAME + 16];
    int failed = 0;

    rec_init(&r, stub);
    memset(&in, 0, sizeof(in));
    in.from_domain = c->domain;
    in.spf = c->spf != NULL ? AUTH_PASS : AUTH_NONE;
    in.spf_domain = c->spf;
    in.dkim = c->dkim != NULL ? &sig : NULL;
    in.ndkim = c->dkim != NULL ? 1 : 0;
    in.tree_walk = 1;
    assert_int_equal(dmarc_eval(&in, &r.base, &res), 0);
    if (res.has_record)
        snprintf(rd, sizeof(rd), "_dmarc.%s", res.record_domain);
    else
        snprintf(rd, sizeof(rd), "none");
    if (c->policy_record != NULL && strcmp(rd, c->policy_record) != 0) {
        print_error("%s: policy record: got %s (%s), want %s\n", c->id, rd, res.reason,
                    c->policy_record);
        failed++;
    }
    if (c->policy_record != NULL && strcmp(c->policy_record, "none") == 0 &&
        res.result != AUTH_NONE) {
        print_error("%s: got dmarc=%s, want none (DMARC does not apply)\n", c->id,
                    auth_res_name(res.result));
        failed++;
    }
    if (c->tag != NULL && (strcmp(res.policy_tag, c->tag) != 0 || res.policy != c->policy)) {
        print_error("%s: policy: got %s=%s, want %s=%s\n", c->id, res.policy_tag,
                    dmarc_policy_name(res.policy), c->tag, dmarc_policy_name(c->policy));
        failed++;
    }
    if (c->spf != NULL &&
        (res.spf_aligned != c->spf_aligned || res.dkim_aligned != c->dkim_aligned)) {
        print_error("%s: alignment: got spf=%d dkim=%d, want spf=%d dkim=%d\n", c->id,
                    res.spf_aligned, res.dkim_aligned, c->spf_aligned, c->dkim_aligned);
        failed++;
    }
    if (c->kind == DISCOVERY && c->walks[0][0] != NULL)
        failed += check_queries(c->id, c->domain, &r, &c->walks[0][1]);
    /* orgdomain-all-identifiers-same: no walk beyond the Author Domain's. */
    if (c->kind == ORGDOMAIN && c->spf != NULL) {
        static const char *const own[] = {"_dmarc.mail.example.com", "_dmarc.example.com",
                                          "_dmarc.com", NULL};

        failed += check_queries(c->id, c->domain, &r, own);
    }
    return failed;
}

static void test_tree_walk_cases(void **state)
{
    int failed = 0, n = (int)(sizeof(cases) / sizeof(cases[0]));

    for (int i = 0; i < n; i++) {
        struct dns *stub = zone(&cases[i]);
        int f = check_walks(&cases[i], stub);

        if (cases[i].kind != ORGDOMAIN || cases[i].spf != NULL)
            f += check_eval(&cases[i], stub);
        if (f)
            failed++;
        dns_free(stub);
    }
    print_message("tree walk: %d passed, %d failed\n", n - failed, failed);
    assert_int_equal(n, 15);
    assert_int_equal(failed, 0);
}

/* test_walk_limits - label counts around the 8-query limit, and bad starts */
static void test_walk_limits(void **state)
{
    static const struct {
        const char *start;
        int want_queries;
    } rows[] = {
        {"com", 1},
        {"a.b.c.d.e.f.g", 7},
        {"a.b.c.d.e.f.g.h", 8},
        {"a.b.c.d.e.f.g.h.i", 8},
        {"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z", 8},
    };
    struct dns *stub = dns_stub_new();
    struct dmarc_walk w;
    char org[DNS_MAX_NAME + 1];

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int before = dns_stub_queries(stub);

        assert_int_equal(dmarc_walk_run(stub, rows[i].start, &w), 0);
        if (w.nqueries != rows[i].want_queries ||
            dns_stub_queries(stub) - before != rows[i].want_queries)
            fail_msg("walk from %s: got %d queries, want %d", rows[i].start, w.nqueries,
                     rows[i].want_queries);
        assert_int_equal(dmarc_walk_orgdomain(&w, rows[i].start, org, sizeof(org)), 0);
        assert_string_equal(org, rows[i].start); /* no records: the start itself */
    }
    assert_int_equal(dmarc_walk_run(stub, "", &w), -1);
    assert_int_equal(dmarc_walk_run(stub, NULL, &w), -1);
    /* A DNS failure stops the walk and is reported. */
    assert_int_equal(dns_stub_fail(stub, "_dmarc.example.com", DNS_T_TXT, DNS_TEMPFAIL), 0);
    assert_int_equal(dmarc_walk_run(stub, "a.example.com", &w), 0);
    assert_int_equal(w.tempfail, 1);
    assert_int_equal(w.nqueries, 2);
    dns_free(stub);
}

/* The _dmarc name is at most 253 characters: a 246-character domain is queried, a
 * 247-character one is not (no record can exist there). */
static void test_lookup_name_length(void **state)
{
    static const struct {
        size_t len;
        int want_queries;
    } rows[] = {{10, 1}, {246, 1}, {247, 0}, {253, 0}};
    struct dns *stub = dns_stub_new();

    assert_non_null(stub);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char name[DNS_MAX_NAME + 1], why[64];
        struct dmarc_record rec;
        int before = dns_stub_queries(stub), got;

        for (size_t k = 0; k < rows[i].len; k++)
            name[k] = k % 2 == 1 && k + 1 < rows[i].len ? '.' : 'a';
        name[rows[i].len] = '\0';
        assert_int_equal(dmarc_lookup_name(stub, name, &rec, why, sizeof(why)), DMARC_LOOKUP_NONE);
        got = dns_stub_queries(stub) - before;
        if (got != rows[i].want_queries)
            fail_msg("_dmarc lookup for a %zu-character name: got %d queries, want %d",
                     rows[i].len, got, rows[i].want_queries);
        if (rows[i].want_queries == 0 && strstr(why, "too long") == NULL)
            fail_msg("%zu characters: got reason \"%s\", want \"too long\"", rows[i].len, why);
    }
    dns_free(stub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_walk_cases),
        cmocka_unit_test(test_walk_limits),
        cmocka_unit_test(test_lookup_name_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
