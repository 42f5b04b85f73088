/* test_out_summarybimi.c - level=bimi in the trust field (docs/webmail-headers.md): only
 * with dmarc=pass and a known authority, written with authority=vmc|cmc, ranked above
 * listed (the trust mark, when earned, is still written). One table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "out/summary.h"

static const struct {
    const char *name;
    enum auth_res dmarc;
    int bimi_pass;
    const char *authority;
    int listed;
    const char *trust, *mark; /* want; mark NULL = none */
} rows[] = {
    {"vmc", AUTH_PASS, 1, "vmc", 0, "level=bimi; from=brand.example; authority=vmc", NULL},
    {"cmc", AUTH_PASS, 1, "cmc", 0, "level=bimi; from=brand.example; authority=cmc", NULL},
    {"listed too", AUTH_PASS, 1, "vmc", 1, "level=bimi; from=brand.example; authority=vmc",
     "from=brand.example; basis=dmarc"},
    {"no bimi, listed", AUTH_PASS, 0, NULL, 1, "level=listed; from=brand.example",
     "from=brand.example; basis=dmarc"},
    {"dmarc fail wins", AUTH_FAIL, 1, "vmc", 0, "level=fail; from=brand.example", NULL},
    {"unknown authority", AUTH_PASS, 1, "xyz; level=bimi", 0,
     "level=dmarc-enforced; from=brand.example", NULL},
    {"no authority", AUTH_PASS, 1, NULL, 0, "level=dmarc-enforced; from=brand.example", NULL},
};

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dmarc_res d;
        struct summary_in in;
        struct summary s;
        char trust[SUMMARY_MAX_VALUE], mark[SUMMARY_MAX_VALUE];
        const char *got_mark;

        memset(&d, 0, sizeof(d));
        d.result = rows[i].dmarc;
        d.has_record = 1;
        d.policy = d.rec.p = DMARC_POLICY_REJECT;
        d.rec.pct = 100;
        memset(&in, 0, sizeof(in));
        in.from_ok = 1;
        in.from_domain = "brand.example";
        in.dmarc_ran = 1;
        in.dmarc = &d;
        in.spf = AUTH_PASS;
        in.trust_listed = rows[i].listed;
        in.bimi_pass = rows[i].bimi_pass;
        in.bimi_authority = rows[i].authority;
        summary_eval(&in, &s);
        if (summary_format_trust(&s, trust, sizeof(trust)) < 0)
            snprintf(trust, sizeof(trust), "(format failed)");
        got_mark = summary_format_trustmark(&s, mark, sizeof(mark)) == 0 ? mark : NULL;
        if (strcmp(trust, rows[i].trust) != 0 || (got_mark == NULL) != (rows[i].mark == NULL) ||
            (got_mark != NULL && strcmp(got_mark, rows[i].mark) != 0))
            fail_msg("%s: got \"%s\" mark %s, want \"%s\" mark %s", rows[i].name, trust,
                     got_mark ? got_mark : "(none)", rows[i].trust,
                     rows[i].mark ? rows[i].mark : "(none)");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rows)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
