/* test_iprev_policy.c - the iprev policy decision (every mode x result x policy_on x
 * temperror setting) and the per-hour counter ring with an injected clock: events land in
 * their hour, hours read back newest first, a bucket reused after 48 hours starts from
 * zero, late events for a reused bucket are dropped, concurrent adds lose nothing, the
 * JSON lists what was read. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "iprev/iprev_policy.h"
#include "util/buf.h"

#define H IPREV_STATS_SECONDS
#define T0 1700002400LL /* second 3200 of an hour: 1700002400 % 3600 = 3200 */

enum kind { PASS, NOPTR, NOMATCH, TEMP, PERM };

static struct iprev_res res_of(enum kind k)
{
    struct iprev_res r;

    memset(&r, 0, sizeof(r));
    r.result = k == PASS   ? AUTH_PASS
               : k == TEMP ? AUTH_TEMPERROR
               : k == PERM ? AUTH_PERMERROR
                           : AUTH_FAIL;
    r.no_ptr = k == NOPTR;
    return r;
}

static const char *const kind_names[] = {"pass", "no_ptr", "no_match", "temperror", "permerror"};

static const struct {
    enum iprev_mode mode;
    int on_fail, temp_tempfail;
    enum kind k;
    enum iprev_action want;
} decide_cases[] = {
    {IPREV_MODE_OFF, 1, 1, NOPTR, IPREV_ACT_NONE},
    {IPREV_MODE_MEASURE, 1, 1, NOPTR, IPREV_ACT_NONE},
    {IPREV_MODE_TAG, 0, 0, NOPTR, IPREV_ACT_TAG},
    {IPREV_MODE_TAG, 0, 0, NOMATCH, IPREV_ACT_NONE},
    {IPREV_MODE_TAG, 1, 0, NOMATCH, IPREV_ACT_TAG},
    {IPREV_MODE_TAG, 1, 1, TEMP, IPREV_ACT_NONE},
    {IPREV_MODE_TEMPFAIL, 0, 0, NOPTR, IPREV_ACT_TEMPFAIL},
    {IPREV_MODE_TEMPFAIL, 0, 0, NOMATCH, IPREV_ACT_NONE},
    {IPREV_MODE_TEMPFAIL, 0, 0, TEMP, IPREV_ACT_NONE},
    {IPREV_MODE_TEMPFAIL, 0, 1, TEMP, IPREV_ACT_TEMPFAIL},
    {IPREV_MODE_REJECT, 0, 0, NOPTR, IPREV_ACT_REJECT},
    {IPREV_MODE_REJECT, 0, 0, NOMATCH, IPREV_ACT_NONE},
    {IPREV_MODE_REJECT, 1, 0, NOMATCH, IPREV_ACT_REJECT},
    {IPREV_MODE_REJECT, 1, 0, TEMP, IPREV_ACT_NONE},
    {IPREV_MODE_REJECT, 1, 1, TEMP, IPREV_ACT_TEMPFAIL}, /* never a reject for temperror */
    {IPREV_MODE_REJECT, 1, 1, PERM, IPREV_ACT_NONE},
    {IPREV_MODE_REJECT, 1, 1, PASS, IPREV_ACT_NONE},
    {IPREV_MODE_TEMPFAIL, 1, 1, PASS, IPREV_ACT_NONE},
};

static void test_decide(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
        struct iprev_policy p = {decide_cases[i].mode, decide_cases[i].on_fail,
                                 decide_cases[i].temp_tempfail};
        struct iprev_res r = res_of(decide_cases[i].k);
        enum iprev_action got = iprev_policy_decide(&r, &p);

        if (got != decide_cases[i].want)
            fail_msg("case %zu decide(mode %d on_fail %d temp %d, %s): got %s, want %s", i,
                     (int)p.mode, p.on_fail, p.temperror_tempfail, kind_names[decide_cases[i].k],
                     iprev_action_name(got), iprev_action_name(decide_cases[i].want));
    }
}

/* One step of a ring scenario: add ev at t, or (ev < 0) read at t and compare. */
struct step {
    long long t;
    int ev; /* enum iprev_event, or -1 = check */
    int nrows;
    long long start[3]; /* of the first rows */
    uint64_t seen[3];   /* IPREV_EV_SEEN of the first rows */
    uint64_t no_ptr[3]; /* IPREV_EV_NO_PTR of the first rows */
};

#define ADD(t, ev)                                                                                 \
    {                                                                                              \
        (t), (ev), 0, {0}, {0},                                                                    \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

static const struct {
    const char *name;
    struct step steps[12];
    int nsteps;
} ring_cases[] = {
    {"empty ring reads nothing", {{T0, -1, 0, {0}, {0}, {0}}}, 1},
    {"two events in one hour",
     {ADD(T0, IPREV_EV_SEEN),
      ADD(T0 + 399, IPREV_EV_SEEN),
      ADD(T0 + 1, IPREV_EV_NO_PTR),
      {T0 + 399, -1, 1, {T0 - 3200}, {2}, {1}}},
     4},
    {"the next hour is its own bucket, newest first",
     {ADD(T0, IPREV_EV_SEEN),
      ADD(T0 + 400, IPREV_EV_SEEN),
      ADD(T0 + 400, IPREV_EV_SEEN),
      {T0 + 400, -1, 2, {T0 + 400, T0 - 3200}, {2, 1}, {0, 0}}},
     4},
    {"an hour with no events is not listed",
     {ADD(T0, IPREV_EV_SEEN),
      ADD(T0 + 400 + 2 * H, IPREV_EV_NO_PTR),
      {T0 + 400 + 2 * H, -1, 2, {T0 + 400 + 2 * H, T0 - 3200}, {0, 1}, {1, 0}}},
     3},
    {"48 hours later the bucket starts from zero",
     {ADD(T0, IPREV_EV_SEEN),
      ADD(T0, IPREV_EV_SEEN),
      ADD(T0 + (long long)IPREV_STATS_BUCKETS * H, IPREV_EV_SEEN),
      {T0 + (long long)IPREV_STATS_BUCKETS * H,
       -1,
       1,
       {T0 - 3200 + (long long)IPREV_STATS_BUCKETS * H},
       {1},
       {0}}},
     4},
    {"an event for an hour whose bucket was reused is dropped",
     {ADD(T0 + (long long)IPREV_STATS_BUCKETS * H, IPREV_EV_SEEN),
      ADD(T0, IPREV_EV_SEEN),
      {T0 + (long long)IPREV_STATS_BUCKETS * H,
       -1,
       1,
       {T0 - 3200 + (long long)IPREV_STATS_BUCKETS * H},
       {1},
       {0}}},
     3},
    {"hours older than the ring are not read",
     {ADD(T0, IPREV_EV_SEEN),
      ADD(T0 + 47 * H, IPREV_EV_SEEN),
      {T0 + 47 * H, -1, 2, {T0 - 3200 + 47 * H, T0 - 3200}, {1, 1}, {0}},
      {T0 + 48 * H, -1, 1, {T0 - 3200 + 47 * H}, {1}, {0}}},
     4},
    {"out-of-range event ignored", {ADD(T0, IPREV_NEVENTS), {T0, -1, 0, {0}, {0}, {0}}}, 2},
};

static void check_rows(const char *name, int si, const struct step *st,
                       const struct iprev_stats_row *rows, int n)
{
    if (n != st->nrows)
        fail_msg("%s, step %d: rows got %d, want %d", name, si, n, st->nrows);
    for (int r = 0; r < n && r < 3; r++) {
        if (rows[r].start != st->start[r])
            fail_msg("%s, step %d, row %d: start got %lld, want %lld", name, si, r, rows[r].start,
                     st->start[r]);
        if (rows[r].n[IPREV_EV_SEEN] != st->seen[r])
            fail_msg("%s, step %d, row %d: seen got %llu, want %llu", name, si, r,
                     (unsigned long long)rows[r].n[IPREV_EV_SEEN], (unsigned long long)st->seen[r]);
        if (rows[r].n[IPREV_EV_NO_PTR] != st->no_ptr[r])
            fail_msg("%s, step %d, row %d: no_ptr got %llu, want %llu", name, si, r,
                     (unsigned long long)rows[r].n[IPREV_EV_NO_PTR],
                     (unsigned long long)st->no_ptr[r]);
    }
}

static void test_ring(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(ring_cases) / sizeof(ring_cases[0]); c++) {
        static struct iprev_stats s; /* large: not on the stack */

        iprev_stats_init(&s);
        for (int i = 0; i < ring_cases[c].nsteps; i++) {
            const struct step *st = &ring_cases[c].steps[i];
            struct iprev_stats_row rows[IPREV_STATS_BUCKETS];

            if (st->ev >= 0) {
                iprev_stats_add(&s, (time_t)st->t, (enum iprev_event)st->ev);
                continue;
            }
            check_rows(ring_cases[c].name, i, st, rows,
                       iprev_stats_read(&s, (time_t)st->t, rows, IPREV_STATS_BUCKETS));
        }
        pthread_mutex_destroy(&s.roll);
    }
}

static void test_json(void **state)
{
    static struct iprev_stats s;
    struct buf b;
    char want[512];

    (void)state;
    iprev_stats_init(&s);
    iprev_stats_add(&s, (time_t)T0, IPREV_EV_SEEN);
    iprev_stats_add(&s, (time_t)T0, IPREV_EV_REJECTED);
    buf_init(&b, 4096);
    assert_int_equal(iprev_stats_json(&s, (time_t)T0, &b), 0);
    snprintf(want, sizeof(want),
             "{\"bucket_seconds\":3600,\"now\":%lld,\"hours\":[\n{\"start\":%lld,\"seen\":1,"
             "\"exempt\":0,\"pass\":0,\"no_ptr\":0,\"fail\":0,\"temperror\":0,\"matched\":0,"
             "\"tagged\":0,\"tempfailed\":0,\"rejected\":1}]}\n",
             T0, T0 - 3200);
    if (strcmp(b.data, want) != 0)
        fail_msg("iprev_stats_json: got\n%s\nwant\n%s", b.data, want);
    buf_release(&b);
    buf_init(&b, 16);
    if (iprev_stats_json(&s, (time_t)T0, &b) != -1)
        fail_msg("iprev_stats_json into 16 bytes: got 0, want -1");
    buf_release(&b);
    for (int i = 0; i < IPREV_NEVENTS; i++)
        if (iprev_event_names[i] == NULL || iprev_event_names[i][0] == '\0')
            fail_msg("iprev_event_names[%d]: got none, want a name", i);
}

#define NTHREADS 4
#define NADDS 20000
static struct iprev_stats shared_ring;

/* add_many - NADDS events alternating between two hours (the second hour's bucket is
 * first used while other threads add to the first) */
static void *add_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < NADDS; i++)
        iprev_stats_add(&shared_ring, (time_t)(T0 + (i % 2) * H), IPREV_EV_SEEN);
    return NULL;
}

/* test_ring_threads - concurrent adds lose nothing and land in their hour */
static void test_ring_threads(void **state)
{
    pthread_t t[NTHREADS];
    struct iprev_stats_row rows[IPREV_STATS_BUCKETS];
    int n;

    (void)state;
    iprev_stats_init(&shared_ring);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, add_many, NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    n = iprev_stats_read(&shared_ring, (time_t)(T0 + H), rows, IPREV_STATS_BUCKETS);
    if (n != 2)
        fail_msg("rows after concurrent adds: got %d, want 2", n);
    for (int r = 0; r < n; r++)
        if (rows[r].n[IPREV_EV_SEEN] != (uint64_t)NTHREADS * NADDS / 2)
            fail_msg("row %d seen: got %llu, want %d", r,
                     (unsigned long long)rows[r].n[IPREV_EV_SEEN], NTHREADS * NADDS / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_ring_threads),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
