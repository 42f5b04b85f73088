/* test_conf_iprev.c - the iprev.* policy keys: the values each loads to, the defaults,
 * and the reply strings the checks accept or refuse (with the message). Configs are read
 * as strings named "t.conf". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "conf/conf.h"

static const struct {
    const char *text;
    const char *err; /* the one error, or NULL: loads */
    int policy, on, stage, temp;
} cases[] = {
    {"", NULL, CONF_IPREV_OFF, CONF_IPREV_ON_NO_PTR, CONF_IPREV_STAGE_RCPT, CONF_ON_ERROR_ACCEPT},
    {"iprev = { policy = \"reject\"; policy_on = \"fail\"; stage = \"connect\"; "
     "on_temperror = \"tempfail\"; };",
     NULL, CONF_IPREV_REJECT, CONF_IPREV_ON_FAIL, CONF_IPREV_STAGE_CONNECT, CONF_ON_ERROR_TEMPFAIL},
    {"iprev = { policy = \"tempfail\"; };", NULL, CONF_IPREV_TEMPFAIL, CONF_IPREV_ON_NO_PTR,
     CONF_IPREV_STAGE_RCPT, CONF_ON_ERROR_ACCEPT},
    {"iprev = { policy = \"block\"; };",
     "t.conf:1: iprev.policy: \"block\" must be one of \"off\", \"measure\", \"tag\", "
     "\"tempfail\", \"reject\"",
     0, 0, 0, 0},
    {"iprev = { policy_on = \"any\"; };",
     "t.conf:1: iprev.policy_on: \"any\" must be one of \"no_ptr\", \"fail\"", 0, 0, 0, 0},
    {"iprev = { stage = \"data\"; };",
     "t.conf:1: iprev.stage: \"data\" must be one of \"rcpt\", \"connect\"", 0, 0, 0, 0},
    {"iprev = { reject_reply = \"554 5.7.1 No PTR, go away\"; };", NULL, CONF_IPREV_OFF,
     CONF_IPREV_ON_NO_PTR, CONF_IPREV_STAGE_RCPT, CONF_ON_ERROR_ACCEPT},
    {"iprev = { tempfail_reply = \"421 4.7.25 later\"; };", NULL, CONF_IPREV_OFF,
     CONF_IPREV_ON_NO_PTR, CONF_IPREV_STAGE_RCPT, CONF_ON_ERROR_ACCEPT},
    {"iprev = { reject_reply = \"450 4.7.25 wrong class\"; };",
     "t.conf:1: iprev.reject_reply: must be \"5XX 5.X.X text\" (printable, no %)", 0, 0, 0, 0},
    {"iprev = { tempfail_reply = \"450 5.7.25 mixed\"; };",
     "t.conf:1: iprev.tempfail_reply: must be \"4XX 4.X.X text\" (printable, no %)", 0, 0, 0, 0},
    {"iprev = { reject_reply = \"550 5.7.25\"; };",
     "t.conf:1: iprev.reject_reply: must be \"5XX 5.X.X text\" (printable, no %)", 0, 0, 0, 0},
    {"iprev = { reject_reply = \"550 5.7.2500 too long a detail\"; };",
     "t.conf:1: iprev.reject_reply: must be \"5XX 5.X.X text\" (printable, no %)", 0, 0, 0, 0},
    {"iprev = { reject_reply = \"550 5.7.25 100% spam\"; };",
     "t.conf:1: iprev.reject_reply: must be \"5XX 5.X.X text\" (printable, no %)", 0, 0, 0, 0},
    {"iprev = { temperror_reply = \"451 4.4.3 \\ttab\"; };",
     "t.conf:1: iprev.temperror_reply: must be \"4XX 4.X.X text\" (printable, no %)", 0, 0, 0, 0},
    {"iprev = { temperror_reply = \"45 4.4.3 short code\"; };",
     "t.conf:1: iprev.temperror_reply: must be \"4XX 4.X.X text\" (printable, no %)", 0, 0, 0, 0},
};

static void test_keys(void **state)
{
    static struct conf_errors errs;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sa_conf *c = conf_load_string(cases[i].text, "t.conf", &errs);

        if (cases[i].err != NULL) {
            if (c != NULL || errs.n != 1 || strcmp(errs.item[0].text, cases[i].err) != 0)
                fail_msg("%s: got %d messages (%s), want \"%s\"", cases[i].text, errs.n,
                         errs.n > 0 ? errs.item[0].text : "none", cases[i].err);
            continue;
        }
        if (c == NULL)
            fail_msg("%s: got error \"%s\", want a conf", cases[i].text,
                     errs.n > 0 ? errs.item[0].text : "?");
        if ((int)c->iprev_policy != cases[i].policy || (int)c->iprev_policy_on != cases[i].on ||
            (int)c->iprev_stage != cases[i].stage || (int)c->iprev_on_temperror != cases[i].temp)
            fail_msg("%s: got policy %d on %d stage %d temp %d, want %d %d %d %d", cases[i].text,
                     c->iprev_policy, c->iprev_policy_on, c->iprev_stage, c->iprev_on_temperror,
                     cases[i].policy, cases[i].on, cases[i].stage, cases[i].temp);
        conf_unref(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
