/* test_policy_decide.c - the enforcement decision table (src/policy/decide.c): mode,
 * consent, overrides, DMARC result, published policy, pct with a fixed seed, t=y,
 * reject-as-quarantine and on_temperror; the seeded random source; and the quarantine
 * subaddress of a recipient. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy/decide.h"

#define OFF DECIDE_MODE_OFF
#define MEA DECIDE_MODE_MEASURE
#define ENF DECIDE_MODE_ENFORCE
#define U DMARC_POLICY_UNSPEC
#define N DMARC_POLICY_NONE
#define Q DMARC_POLICY_QUARANTINE
#define R DMARC_POLICY_REJECT
#define ACC DECIDE_ACCEPT
#define QUA DECIDE_QUARANTINE
#define REJ DECIDE_REJECT
#define TMP DECIDE_TEMPFAIL
#define PASS AUTH_PASS
#define FAIL AUTH_FAIL
#define NONE AUTH_NONE
#define TERR AUTH_TEMPERROR
#define PERR AUTH_PERMERROR

struct row {
    const char *name;
    enum decide_mode mode;
    int consent;
    const char *override;
    int ran; /* DMARC ran */
    enum auth_res result;
    int has_record;
    enum dmarc_policy policy;
    int pct, testing, raq, on_temp_tempfail;
    enum decide_act want_action, want_would;
    enum dmarc_policy want_applied;
    const char *want_why;
};

/* clang-format off */
static const struct row rows[] = {
    /* name                      mode cons override      ran result rec pol pct t raq tf  action would applied why */
    {"enforce reject",           ENF, 1, NULL,           1, FAIL, 1, R, 100, 0, 0, 0, REJ, REJ, R, "policy-reject"},
    {"enforce quarantine",       ENF, 1, NULL,           1, FAIL, 1, Q, 100, 0, 0, 0, QUA, QUA, Q, "policy-quarantine"},
    {"enforce p=none",           ENF, 1, NULL,           1, FAIL, 1, N, 100, 0, 0, 0, ACC, ACC, N, "policy-none"},
    {"enforce pass reject",      ENF, 1, NULL,           1, PASS, 1, R, 100, 0, 0, 0, ACC, ACC, U, "dmarc-pass"},
    {"enforce dmarc=none",       ENF, 1, NULL,           1, NONE, 0, U, 100, 0, 0, 0, ACC, ACC, U, "dmarc-not-fail"},
    {"enforce permerror",        ENF, 1, NULL,           1, PERR, 1, R, 100, 0, 0, 0, ACC, ACC, U, "dmarc-not-fail"},
    {"fail without record",      ENF, 1, NULL,           1, FAIL, 0, R, 100, 0, 0, 0, ACC, ACC, U, "policy-none"},
    {"no consent reject",        ENF, 0, NULL,           1, FAIL, 1, R, 100, 0, 0, 0, ACC, ACC, U, "no-consent"},
    {"no consent quarantine",    ENF, 0, NULL,           1, FAIL, 1, Q, 100, 0, 0, 0, ACC, ACC, U, "no-consent"},
    {"no consent temperror",     ENF, 0, NULL,           1, TERR, 0, U, 100, 0, 0, 1, ACC, ACC, U, "no-consent"},
    {"mode off",                 OFF, 1, NULL,           1, FAIL, 1, R, 100, 0, 0, 0, ACC, ACC, U, "mode-off"},
    {"no dmarc",                 ENF, 1, NULL,           0, FAIL, 1, R, 100, 0, 0, 0, ACC, ACC, U, "no-dmarc"},
    /* measure: never acts, says what it would do */
    {"measure reject",           MEA, 1, NULL,           1, FAIL, 1, R, 100, 0, 0, 0, ACC, REJ, R, "policy-reject"},
    {"measure quarantine",       MEA, 1, NULL,           1, FAIL, 1, Q, 100, 0, 0, 0, ACC, QUA, Q, "policy-quarantine"},
    {"measure pass",             MEA, 1, NULL,           1, PASS, 1, R, 100, 0, 0, 0, ACC, ACC, U, "dmarc-pass"},
    {"measure temperror tf",     MEA, 1, NULL,           1, TERR, 0, U, 100, 0, 0, 1, ACC, TMP, U, "dmarc-temperror"},
    {"measure no consent",       MEA, 0, NULL,           1, FAIL, 1, R, 100, 0, 0, 0, ACC, ACC, U, "no-consent"},
    /* overrides skip enforcement and keep their reason */
    {"override forwarder",       ENF, 1, "forwarder",    1, FAIL, 1, R, 100, 0, 0, 0, ACC, ACC, U, "forwarder"},
    {"override list-id",         ENF, 1, "list-id",      1, FAIL, 1, Q, 100, 0, 0, 0, ACC, ACC, U, "list-id"},
    {"override allow-from",      MEA, 1, "allow-from",   1, FAIL, 1, R, 100, 0, 0, 0, ACC, ACC, U, "allow-from"},
    /* temperror */
    {"temperror accept",         ENF, 1, NULL,           1, TERR, 0, U, 100, 0, 0, 0, ACC, ACC, U, "dmarc-temperror"},
    {"temperror tempfail",       ENF, 1, NULL,           1, TERR, 0, U, 100, 0, 0, 1, TMP, TMP, U, "dmarc-temperror"},
    /* pct=0: always sampled out, one step less strict */
    {"pct=0 reject",             ENF, 1, NULL,           1, FAIL, 1, R,   0, 0, 0, 0, QUA, QUA, Q, "pct-sampled-out"},
    {"pct=0 quarantine",         ENF, 1, NULL,           1, FAIL, 1, Q,   0, 0, 0, 0, ACC, ACC, N, "pct-sampled-out"},
    {"pct=0 measure reject",     MEA, 1, NULL,           1, FAIL, 1, R,   0, 0, 0, 0, ACC, QUA, Q, "pct-sampled-out"},
    /* t=y (RFC 9989): one step less strict */
    {"t=y reject",               ENF, 1, NULL,           1, FAIL, 1, R, 100, 1, 0, 0, QUA, QUA, Q, "testing"},
    {"t=y quarantine",           ENF, 1, NULL,           1, FAIL, 1, Q, 100, 1, 0, 0, ACC, ACC, N, "testing"},
    {"t=y and pct=0 one step",   ENF, 1, NULL,           1, FAIL, 1, R,   0, 1, 0, 0, QUA, QUA, Q, "pct-sampled-out"},
    /* reject-as-quarantine */
    {"raq reject",               ENF, 1, NULL,           1, FAIL, 1, R, 100, 0, 1, 0, QUA, QUA, Q, "as-quarantine"},
    {"raq quarantine",           ENF, 1, NULL,           1, FAIL, 1, Q, 100, 0, 1, 0, QUA, QUA, Q, "policy-quarantine"},
    {"raq t=y reject",           ENF, 1, NULL,           1, FAIL, 1, R, 100, 1, 1, 0, QUA, QUA, Q, "testing"},
    {"raq p=none",               ENF, 1, NULL,           1, FAIL, 1, N, 100, 0, 1, 0, ACC, ACC, N, "policy-none"},
};
/* clang-format on */

static void fill(const struct row *r, struct dmarc_res *d, struct decide_in *in,
                 struct decide_conf *c)
{
    memset(d, 0, sizeof(*d));
    d->result = r->result;
    d->has_record = r->has_record;
    d->policy = r->policy;
    d->rec.p = r->policy;
    d->rec.pct = r->pct;
    d->rec.testing = r->testing;
    memset(in, 0, sizeof(*in));
    in->dmarc = r->ran ? d : NULL;
    in->mode = r->mode;
    in->consent = r->consent;
    in->override = r->override;
    c->reject_as_quarantine = r->raq;
    c->on_temperror_tempfail = r->on_temp_tempfail;
}

static void test_table(void **state)
{
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct dmarc_res d;
        struct decide_in in;
        struct decide_conf c;
        struct decide_rng rng;
        struct decide_out out;

        fill(r, &d, &in, &c);
        decide_rng_init(&rng, 42);
        if (decide_action(&c, &in, &rng, &out) != 0) {
            print_error("%s: decide_action returned -1\n", r->name);
            bad++;
            continue;
        }
        if (out.action != r->want_action || out.would != r->want_would ||
            out.applied != r->want_applied || strcmp(out.why, r->want_why) != 0) {
            print_error("%s: got action=%s would=%s applied=%s why=%s, "
                        "want action=%s would=%s applied=%s why=%s\n",
                        r->name, decide_act_name(out.action), decide_act_name(out.would),
                        dmarc_policy_name(out.applied), out.why, decide_act_name(r->want_action),
                        decide_act_name(r->want_would), dmarc_policy_name(r->want_applied),
                        r->want_why);
            bad++;
        }
        /* A draw happens only when pct < 100 applies to a failing message with a policy. */
        if ((out.draw >= 0) !=
            (r->pct < 100 && r->ran && r->consent && r->mode != OFF && !r->override &&
             r->result == FAIL && r->has_record && (r->policy == Q || r->policy == R))) {
            print_error("%s: got draw=%d, want a draw only when pct applies\n", r->name, out.draw);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* pct=50 with a fixed seed: each decision follows the draw the same seed gives, and
 * over many messages about half are sampled in. */
static void test_pct50_seeded(void **state)
{
    struct dmarc_res d;
    struct decide_in in;
    struct decide_conf c = {0, 0};
    struct decide_rng rng, twin;
    struct decide_out out;
    int in_sample = 0, n = 10000, bad = 0;

    (void)state;
    memset(&d, 0, sizeof(d));
    d.result = AUTH_FAIL;
    d.has_record = 1;
    d.policy = d.rec.p = R;
    d.rec.pct = 50;
    in.dmarc = &d;
    in.mode = ENF;
    in.consent = 1;
    in.override = NULL;
    decide_rng_init(&rng, 7);
    decide_rng_init(&twin, 7);
    for (int i = 0; i < n; i++) {
        int want = decide_rng_draw(&twin);
        decide_action(&c, &in, &rng, &out);
        if (out.draw != want || out.action != (want < 50 ? REJ : QUA)) {
            if (bad++ < 5)
                print_error("message %d: got draw=%d action=%s, want draw=%d action=%s\n", i,
                            out.draw, decide_act_name(out.action), want,
                            want < 50 ? "reject" : "quarantine");
        }
        in_sample += out.action == REJ;
    }
    assert_int_equal(bad, 0);
    if (in_sample < n * 45 / 100 || in_sample > n * 55 / 100)
        fail_msg("pct=50 over %d messages: got %d rejects, want 45%%..55%%", n, in_sample);
}

/* The seeded source: same seed, same sequence; another seed, another sequence; every
 * value 0..99 and all of them reached. */
static void test_rng(void **state)
{
    struct decide_rng a, b, c;
    int same = 1, differ = 0, seen[100] = {0}, missing = 0;

    (void)state;
    decide_rng_init(&a, 12345);
    decide_rng_init(&b, 12345);
    decide_rng_init(&c, 12346);
    for (int i = 0; i < 5000; i++) {
        int x = decide_rng_draw(&a), y = decide_rng_draw(&b), z = decide_rng_draw(&c);
        if (x < 0 || x > 99)
            fail_msg("draw %d: got %d, want 0..99", i, x);
        same &= x == y;
        differ |= x != z;
        seen[x] = 1;
    }
    for (int i = 0; i < 100; i++)
        missing += !seen[i];
    if (!same)
        fail_msg("seed 12345 twice: got different sequences, want the same");
    if (!differ)
        fail_msg("seeds 12345 and 12346: got the same sequence, want different ones");
    if (missing)
        fail_msg("5000 draws: got %d of 0..99 never drawn, want all", missing);
}

/* The quarantine subaddress of a recipient (quarantine.action = subaddress). */
static void test_tag_rcpt(void **state)
{
    static const struct {
        const char *rcpt, *delims, *tag;
        size_t outlen;
        int want_rc;
        const char *want;
    } tags[] = {
        {"<alice@example.jp>", "+", "quarantine", 128, 0, "<alice+quarantine@example.jp>"},
        {"alice@example.jp", "+", "quarantine", 128, 0, "<alice+quarantine@example.jp>"},
        /* a tag the address already has is replaced, never nested */
        {"<alice+news@example.jp>", "+", "quarantine", 128, 0, "<alice+quarantine@example.jp>"},
        {"<alice+a+b@example.jp>", "+", "q", 128, 0, "<alice+q@example.jp>"},
        /* several delimiters: any of them ends the local part, the first one is written */
        {"<alice-news@example.jp>", "+-", "spam", 128, 0, "<alice+spam@example.jp>"},
        {"<alice@my-domain.jp>", "+-", "spam", 128, 0, "<alice+spam@my-domain.jp>"},
        {"<Alice.Smith@Example.JP>", "+", "quarantine", 128, 0,
         "<Alice.Smith+quarantine@Example.JP>"},
        /* the last '@' separates the domain */
        {"<a@b@example.jp>", "+", "q", 128, 0, "<a@b+q@example.jp>"},
        /* exactly fits: 27 bytes and the NUL */
        {"<bob@example.jp>", "+", "quarantine", 28, 0, "<bob+quarantine@example.jp>"},
        /* cannot be tagged */
        {"<>", "+", "quarantine", 128, -1, ""},
        {"", "+", "quarantine", 128, -1, ""},
        {"<postmaster>", "+", "quarantine", 128, -1, ""},
        {"<alice@>", "+", "quarantine", 128, -1, ""},
        {"<@example.jp>", "+", "quarantine", 128, -1, ""},
        {"<+news@example.jp>", "+", "quarantine", 128, -1, ""},
        {"<\"a b\"@example.jp>", "+", "quarantine", 128, -1, ""},
        {"<@relay.example:alice@example.jp>", "+", "quarantine", 128, -1, ""},
        {"<alice@example.jp>", "", "quarantine", 128, -1, ""},
        {"<alice@example.jp>", "+", "", 128, -1, ""},
        {"<alice@example.jp>", "+", "quarantine", 29, -1, ""}, /* needs 30 */
        {NULL, "+", "quarantine", 128, -1, ""},
    };
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        char out[128];
        size_t outlen = tags[i].outlen;
        int rc;

        memset(out, 'x', sizeof(out));
        rc = decide_tag_rcpt(tags[i].rcpt, tags[i].delims, tags[i].tag, out, outlen);
        if (rc != tags[i].want_rc || strcmp(out, tags[i].want) != 0) {
            print_error("decide_tag_rcpt(\"%s\", \"%s\", \"%s\", %zu): got %d \"%s\", want %d "
                        "\"%s\"\n",
                        tags[i].rcpt ? tags[i].rcpt : "(null)", tags[i].delims, tags[i].tag, outlen,
                        rc, out, tags[i].want_rc, tags[i].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_null_args(void **state)
{
    struct decide_out out;
    struct decide_in in = {NULL, ENF, 1, NULL};

    (void)state;
    assert_int_equal(decide_action(NULL, &in, NULL, &out), -1);
    assert_int_equal(out.action, DECIDE_ACCEPT);
    assert_int_equal(decide_action(NULL, NULL, NULL, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),     cmocka_unit_test(test_pct50_seeded),
        cmocka_unit_test(test_rng),       cmocka_unit_test(test_tag_rcpt),
        cmocka_unit_test(test_null_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
