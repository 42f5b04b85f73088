/* test_dmarc_record.c - DMARC record parser: one table of TXT strings with the verdict
 * and the fields expected (RFC 7489 6.3/6.4/6.6.3, RFC 9989 4.7/4.8/4.10.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dmarc/dmarc.h"

#define U DMARC_POLICY_UNSPEC
#define N DMARC_POLICY_NONE
#define Q DMARC_POLICY_QUARANTINE
#define R DMARC_POLICY_REJECT
/* The fields of a row whose record is rejected are not checked. */
#define BAD U, U, U, 0, 0, 0, 0, 0, 0, NULL, NULL

/* want fields: policy p/sp/np, pct, adkim_strict, aspf_strict, testing, psd, p_implied */
struct row {
    const char *txt;
    int rc;
    enum dmarc_policy p, sp, np;
    int pct, adkim, aspf, t, psd, implied;
    const char *rua; /* NULL: not checked */
    const char *fo;  /* NULL: not checked */
};

/* clang-format off */
static const struct row rows[] = {
    /* Valid forms. */
    {"v=DMARC1; p=none", 0, N, U, U, 100, 0, 0, 0, -1, 0, "", "0"},
    {"v=DMARC1;p=reject", 0, R, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=quarantine;", 0, Q, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=reject; sp=none; np=quarantine", 0, R, N, Q, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; adkim=s; aspf=s", 0, N, U, U, 100, 1, 1, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; adkim=r; aspf=r", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; pct=50", 0, N, U, U, 50, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; pct=0", 0, N, U, U, 0, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; t=y; psd=y", 0, N, U, U, 100, 0, 0, 1, 1, 0, NULL, NULL},
    {"v=DMARC1; p=none; t=n; psd=n", 0, N, U, U, 100, 0, 0, 0, 0, 0, NULL, NULL},
    {"v=DMARC1; p=none; psd=u", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; rua=mailto:a@example.com, mailto:b@example.net!10m; fo=1:d:s", 0, N, U,
     U, 100, 0, 0, 0, -1, 0, "mailto:a@example.com, mailto:b@example.net!10m", "1:d:s"},
    /* Whitespace around tags and values; tag names and keywords case-insensitive. */
    {"  v = DMARC1 ;  p = reject ; sp\t=\tquarantine  ", 0, R, Q, U, 100, 0, 0, 0, -1, 0, NULL,
     NULL},
    {"V=DMARC1; P=Reject; ADKIM=S", 0, R, U, U, 100, 1, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=REJECT; Sp=NONE", 0, R, N, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    /* Unknown tags and RFC 7489 ri/rf ignored; empty segments ignored. */
    {"v=DMARC1; p=none; foo=bar; ri=86400; rf=afrf", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1;; p=none;;", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; x-tag", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    /* Invalid optional values fall back to defaults (RFC 9989 4.8). */
    {"v=DMARC1; p=none; pct=101", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; pct=-1", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; pct=abc", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; pct=1000", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
    {"v=DMARC1; p=none; adkim=x; aspf=strict; t=maybe; psd=q", 0, N, U, U, 100, 0, 0, 0, -1, 0,
     NULL, NULL},
    {"v=DMARC1; p=none; fo=0:1", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, "0"},
    {"v=DMARC1; p=none; fo=d:d", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, "0"},
    {"v=DMARC1; p=none; fo=x", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, "0"},
    /* Missing or invalid p: p=none when rua has a valid URI, else unusable (6.6.3 step 6). */
    {"v=DMARC1; rua=mailto:r@example.com", 0, N, U, U, 100, 0, 0, 0, -1, 1,
     "mailto:r@example.com", NULL},
    {"v=DMARC1; p=bogus; rua=mailto:r@example.com", 0, N, U, U, 100, 0, 0, 0, -1, 1, NULL, NULL},
    {"v=DMARC1; p=reject; sp=bogus; rua=mailto:r@example.com", 0, N, U, U, 100, 0, 0, 0, -1, 1,
     NULL, NULL},
    {"v=DMARC1; p=reject; np=x; rua=mailto:r@example.com", 0, N, U, U, 100, 0, 0, 0, -1, 1, NULL,
     NULL},
    {"v=DMARC1", -1, BAD},
    {"v=DMARC1;", -1, BAD},
    {"v=DMARC1; p=bogus", -1, BAD},
    {"v=DMARC1; sp=reject", -1, BAD},
    {"v=DMARC1; p=reject; sp=bogus", -1, BAD},
    {"v=DMARC1; p=none; np=", -1, BAD},
    {"v=DMARC1; p=", -1, BAD},
    {"v=DMARC1; p=re ject", -1, BAD},
    {"v=DMARC1; rua=not a uri", -1, BAD},
    {"v=DMARC1; rua=mailto:", -1, BAD},
    {"v=DMARC1; p=bogus; rua=:nothing", -1, BAD},
    /* Not a DMARC record: v must be first and exactly DMARC1. */
    {"p=none; v=DMARC1", -1, BAD},
    {"v=dmarc1; p=none", -1, BAD},
    {"v=DMARC2; p=none", -1, BAD},
    {"v=DMARC10; p=none", -1, BAD},
    {"v=DMARC1 p=none", -1, BAD},
    {"v=spf1 -all", -1, BAD},
    {"", -1, BAD},
    {"x v=DMARC1; p=none", -1, BAD},
    /* Duplicate tags: the whole record is invalid (RFC 6376 3.2 via RFC 7489 6.3). */
    {"v=DMARC1; p=none; p=reject", -1, BAD},
    {"v=DMARC1; p=none; P=none", -1, BAD},
    {"v=DMARC1; v=DMARC1; p=none", -1, BAD},
    {"v=DMARC1; p=none; rua=mailto:a@x.example; rua=mailto:b@x.example", -1, BAD},
    /* Non-ASCII and control characters make a value invalid. */
    {"v=DMARC1; p=n\xc3\xb6ne", -1, BAD},
    {"v=DMARC1; p=none; adkim=s\x01", 0, N, U, U, 100, 0, 0, 0, -1, 0, NULL, NULL},
};
/* clang-format on */

static void test_parse_table(void **state)
{
    int failed = 0;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *w = &rows[i];
        struct dmarc_record r;
        char why[128];
        int rc = dmarc_parse_record(w->txt, strlen(w->txt), &r, why, sizeof(why));

        if (rc != w->rc) {
            print_error("dmarc_parse_record(\"%s\"): got rc %d (%s), want %d\n", w->txt, rc, why,
                        w->rc);
            failed++;
            continue;
        }
        if (rc != 0)
            continue;
        if (r.p != w->p || r.sp != w->sp || r.np != w->np || r.pct != w->pct ||
            r.adkim_strict != w->adkim || r.aspf_strict != w->aspf || r.testing != w->t ||
            r.psd != w->psd || r.p_implied != w->implied ||
            (w->rua != NULL && strcmp(r.rua, w->rua) != 0) ||
            (w->fo != NULL && strcmp(r.fo, w->fo) != 0)) {
            print_error("dmarc_parse_record(\"%s\"): got p=%d sp=%d np=%d pct=%d adkim=%d "
                        "aspf=%d t=%d psd=%d implied=%d rua='%s' fo='%s', want p=%d sp=%d np=%d "
                        "pct=%d adkim=%d aspf=%d t=%d psd=%d implied=%d rua='%s' fo='%s'\n",
                        w->txt, r.p, r.sp, r.np, r.pct, r.adkim_strict, r.aspf_strict, r.testing,
                        r.psd, r.p_implied, r.rua, r.fo, w->p, w->sp, w->np, w->pct, w->adkim,
                        w->aspf, w->t, w->psd, w->implied, w->rua ? w->rua : "-",
                        w->fo ? w->fo : "-");
            failed++;
        }
    }
    if (failed)
        fail_msg("%d of %zu rows failed", failed, sizeof(rows) / sizeof(rows[0]));
}

/* test_is_record - the step-2 filter agrees with the parser's first check */
static void test_is_record(void **state)
{
    static const struct {
        const char *txt;
        int want;
    } cases[] = {
        {"v=DMARC1; p=none", 1},
        {"v=DMARC1", 1},
        {" v =DMARC1;", 1},
        {"v=DMARC1x", 0},
        {"v=DMARC", 0},
        {"v=spf1", 0},
        {"", 0},
        {"DMARC1", 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = dmarc_is_record(cases[i].txt, strlen(cases[i].txt));

        if (got != cases[i].want)
            fail_msg("dmarc_is_record(\"%s\"): got %d, want %d", cases[i].txt, got, cases[i].want);
    }
    assert_int_equal(dmarc_is_record(NULL, 0), 0);
}

/* test_embedded_nul - a NUL inside the joined TXT data makes the record invalid */
static void test_embedded_nul(void **state)
{
    static const char txt[] = "v=DMARC1; p=none\0; p=reject";
    struct dmarc_record r;
    char why[64];

    assert_int_equal(dmarc_parse_record(txt, sizeof(txt) - 1, &r, why, sizeof(why)), -1);
    /* Length bounds the parse: the same bytes cut before the NUL are fine. */
    assert_int_equal(dmarc_parse_record(txt, 16, &r, why, sizeof(why)), 0);
    assert_int_equal(r.p, DMARC_POLICY_NONE);
}

/* test_huge - a 60000-byte record parses in bounded buffers; a long rua is cut at the last
 * whole URI, and junk tags are ignored */
static void test_huge(void **state)
{
    static char txt[60000];
    struct dmarc_record r;
    char why[64];
    size_t n = 0;

    n += (size_t)snprintf(txt + n, sizeof(txt) - n, "v=DMARC1; p=reject; rua=");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(txt + n, sizeof(txt) - n, "%smailto:dmarc-%03d@example.com",
                              i ? "," : "", i);
    while (n < sizeof(txt) - 16)
        n += (size_t)snprintf(txt + n, sizeof(txt) - n, "; x%d=y", (int)n);
    assert_int_equal(dmarc_parse_record(txt, n, &r, why, sizeof(why)), 0);
    assert_int_equal(r.p, DMARC_POLICY_REJECT);
    assert_int_equal(r.rua_truncated, 1);
    assert_true(strlen(r.rua) < sizeof(r.rua));
    assert_true(strlen(r.rua) > 400);
    /* Ends on a whole URI. */
    assert_string_equal(r.rua + strlen(r.rua) - strlen("@example.com"), "@example.com");
    assert_string_equal(dmarc_policy_name(r.p), "reject");
    assert_string_equal(dmarc_policy_name(DMARC_POLICY_UNSPEC), "");
}

/* test_long_single_uri - fuzzer find: one rua URI longer than the buffer still makes a
 * missing p into p=none; nothing of it is kept and the cut is flagged */
static void test_long_single_uri(void **state)
{
    char txt[700];
    struct dmarc_record r;
    char why[64];
    int n = snprintf(txt, sizeof(txt), "v=DMARC1; rua=mailto:");

    memset(txt + n, 'a', 600);
    memcpy(txt + n + 600, "@example.com", 13);
    assert_int_equal(dmarc_parse_record(txt, strlen(txt), &r, why, sizeof(why)), 0);
    assert_int_equal(r.p, DMARC_POLICY_NONE);
    assert_int_equal(r.p_implied, 1);
    assert_int_equal(r.rua_truncated, 1);
    assert_string_equal(r.rua, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),     cmocka_unit_test(test_is_record),
        cmocka_unit_test(test_embedded_nul),    cmocka_unit_test(test_huge),
        cmocka_unit_test(test_long_single_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
