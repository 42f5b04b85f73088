/* test_policy_consent.c - the consent cache (src/policy/consent.c) over a fake store:
 * sequences of lookups as tables (hit, miss, TTL expiry, toggles seen after the TTL,
 * case folding, store errors never cached), the size bound, and many threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "policy/consent.h"

/* The fake store: a few rows, a call counter and a "down" switch. */
struct fake {
    int calls;
    int down;
    int flip; /* 1: every row answers the opposite (a toggle in the store) */
};

static const struct {
    const char *key; /* compared case-insensitively */
    int enforce;
} rows[] = {
    {"alice@example.jp", 1},
    {"bob@example.jp", 0},
    {"Carol@example.jp", 1},
};

static enum store_lookup fake_resolve(void *arg, const char *rcpt, int *enforce,
                                      enum store_match *via, char *why, size_t whylen)
{
    struct fake *f = arg;
    char k[256];
    size_t n;

    f->calls++;
    if (f->down) {
        snprintf(why, whylen, "database is locked");
        return STORE_ERROR;
    }
    if (*rcpt == '<')
        rcpt++;
    n = strcspn(rcpt, ">");
    snprintf(k, sizeof(k), "%.*s", (int)n, rcpt);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (strcasecmp(rows[i].key, k) == 0) {
            *enforce = rows[i].enforce ^ f->flip;
            *via = STORE_MATCH_ADDRESS;
            return STORE_FOUND;
        }
    }
    *enforce = 0;
    *via = STORE_MATCH_DEFAULT;
    return STORE_NOTFOUND;
}

/* One step of a sequence: set the store state, look up, check. */
struct step {
    double now;
    int down, flip;
    const char *rcpt;
    int want_rc, want_enforce, want_cached, want_calls; /* calls so far */
};

struct seq {
    const char *name;
    int ttl, case_sensitive;
    struct step steps[12];
};

/* clang-format off */
static const struct seq seqs[] = {
    {"miss then hit", 60, 0, {
        {0.0,  0, 0, "<alice@example.jp>", 0, 1, 0, 1},
        {1.0,  0, 0, "<alice@example.jp>", 0, 1, 1, 1},
        {1.0,  0, 0, "bob@example.jp",     0, 0, 0, 2},
        {2.0,  0, 0, "bob@example.jp",     0, 0, 1, 2},
        {0, 0, 0, NULL, 0, 0, 0, 0}}},
    {"toggle seen only after the ttl", 60, 0, {
        {0.0,  0, 0, "alice@example.jp", 0, 1, 0, 1},
        {59.9, 0, 1, "alice@example.jp", 0, 1, 1, 1},
        {60.0, 0, 1, "alice@example.jp", 0, 0, 0, 2},
        {61.0, 0, 0, "alice@example.jp", 0, 0, 1, 2},
        {0, 0, 0, NULL, 0, 0, 0, 0}}},
    {"ttl 0 asks every time", 0, 0, {
        {0.0,  0, 0, "alice@example.jp", 0, 1, 0, 1},
        {0.0,  0, 1, "alice@example.jp", 0, 0, 0, 2},
        {0.0,  0, 0, "alice@example.jp", 0, 1, 0, 3},
        {0, 0, 0, NULL, 0, 0, 0, 0}}},
    {"case-insensitive keys share an entry", 60, 0, {
        {0.0,  0, 0, "<ALICE@Example.JP>", 0, 1, 0, 1},
        {0.0,  0, 0, "alice@example.jp",   0, 1, 1, 1},
        {0.0,  0, 0, "carol@EXAMPLE.jp",   0, 1, 0, 2},
        {0.0,  0, 0, "CAROL@example.JP",   0, 1, 1, 2},
        {0, 0, 0, NULL, 0, 0, 0, 0}}},
    {"case-sensitive local parts", 60, 1, {
        {0.0,  0, 0, "Carol@example.jp",   0, 1, 0, 1},
        {0.0,  0, 0, "carol@example.jp",   0, 1, 0, 2},
        {0.0,  0, 0, "Carol@EXAMPLE.JP",   0, 1, 1, 2},
        {0, 0, 0, NULL, 0, 0, 0, 0}}},
    {"store down: not consenting, not cached", 60, 0, {
        {0.0,  1, 0, "alice@example.jp", -1, 0, 0, 1},
        {0.0,  1, 0, "alice@example.jp", -1, 0, 0, 2},
        {0.0,  0, 0, "alice@example.jp",  0, 1, 0, 3},
        {0.0,  1, 0, "alice@example.jp",  0, 1, 1, 3},
        {0, 0, 0, NULL, 0, 0, 0, 0}}},
    {"empty and odd recipients", 60, 0, {
        {0.0,  0, 0, "",      0, 0, 0, 1},
        {0.0,  0, 0, "<>",    0, 0, 0, 2},
        {0.0,  0, 0, "nobody", 0, 0, 0, 3},
        {0.0,  0, 0, "nobody", 0, 0, 1, 3},
        {0, 0, 0, NULL, 0, 0, 0, 0}}},
};
/* clang-format on */

static void test_sequences(void **state)
{
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        const struct seq *q = &seqs[i];
        struct consent_conf cc = {q->ttl, 1000, q->case_sensitive};
        struct fake f = {0, 0, 0};
        struct consent *c = consent_new(&cc, fake_resolve, &f);

        assert_non_null(c);
        for (int j = 0; q->steps[j].rcpt != NULL; j++) {
            const struct step *s = &q->steps[j];
            struct consent_answer a;
            int rc;

            f.down = s->down;
            f.flip = s->flip;
            rc = consent_get(c, s->rcpt, s->now, &a);
            if (rc != s->want_rc || a.enforce != s->want_enforce || a.cached != s->want_cached ||
                f.calls != s->want_calls || a.error != (s->want_rc < 0)) {
                print_error("%s step %d consent_get(\"%s\"): got rc=%d enforce=%d cached=%d "
                            "error=%d calls=%d, want rc=%d enforce=%d cached=%d error=%d "
                            "calls=%d\n",
                            q->name, j, s->rcpt, rc, a.enforce, a.cached, a.error, f.calls,
                            s->want_rc, s->want_enforce, s->want_cached, s->want_rc < 0,
                            s->want_calls);
                bad++;
            }
        }
        consent_free(c);
    }
    assert_int_equal(bad, 0);
}

static void test_counters(void **state)
{
    struct consent_conf cc = {60, 1000, 0};
    struct fake f = {0, 0, 0};
    struct consent *c = consent_new(&cc, fake_resolve, &f);
    struct consent_answer a;
    struct consent_stats st;

    (void)state;
    consent_get(c, "alice@example.jp", 0, &a);
    consent_get(c, "alice@example.jp", 0, &a);
    f.down = 1;
    consent_get(c, "bob@example.jp", 0, &a);
    consent_get(c, "bob@example.jp", 0, &a);
    consent_stats(c, &st);
    if (st.lookups != 4 || st.hits != 1 || st.errors != 2 || st.entries != 1)
        fail_msg("counters: got lookups=%llu hits=%llu errors=%llu entries=%ld, want 4 1 2 1",
                 st.lookups, st.hits, st.errors, st.entries);
    consent_free(c);
}

/* The bound: 1000 distinct recipients into a cache of 32 keep at most 32. */
static void test_bound(void **state)
{
    struct consent_conf cc = {60, 32, 0};
    struct fake f = {0, 0, 0};
    struct consent *c = consent_new(&cc, fake_resolve, &f);
    struct consent_answer a;
    struct consent_stats st;
    char rcpt[64];

    (void)state;
    for (int i = 0; i < 1000; i++) {
        snprintf(rcpt, sizeof(rcpt), "user%d@example.jp", i);
        consent_get(c, rcpt, 0, &a);
    }
    consent_stats(c, &st);
    if (st.entries > 32 || st.entries < 16 || st.evictions != 1000 - (unsigned long long)st.entries)
        fail_msg("bound 32: got entries=%ld evictions=%llu, want 16..32 and the rest evicted",
                 st.entries, st.evictions);
    /* The most recent one is still there. */
    consent_get(c, rcpt, 0, &a);
    if (!a.cached)
        fail_msg("%s: got a miss right after inserting it, want a hit", rcpt);
    consent_free(c);
}

/* Many threads on a small cache: every answer is the store's, the bound holds. */
struct worker {
    struct consent *c;
    int wrong;
};

static enum store_lookup parity_resolve(void *arg, const char *rcpt, int *enforce,
                                        enum store_match *via, char *why, size_t whylen)
{
    (void)arg;
    (void)why;
    (void)whylen;
    *enforce = (int)(strlen(rcpt) & 1);
    *via = STORE_MATCH_ADDRESS;
    return STORE_FOUND;
}

static void *work(void *p)
{
    struct worker *w = p;
    char rcpt[64];
    struct consent_answer a;

    for (int i = 0; i < 20000; i++) {
        int n = (i * 7919) % 300;
        snprintf(rcpt, sizeof(rcpt), "u%d@%s.example", n, n % 2 ? "odd" : "even-domain");
        if (consent_get(w->c, rcpt, i / 1000.0, &a) != 0 || a.enforce != (int)(strlen(rcpt) & 1))
            w->wrong++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct consent_conf cc = {1, 128, 0};
    struct consent *c = consent_new(&cc, parity_resolve, NULL);
    struct worker w[8];
    pthread_t t[8];
    struct consent_stats st;

    (void)state;
    for (int i = 0; i < 8; i++) {
        w[i].c = c;
        w[i].wrong = 0;
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        if (w[i].wrong)
            fail_msg("thread %d: got %d wrong answers, want 0", i, w[i].wrong);
    }
    consent_stats(c, &st);
    if (st.entries > 128 || st.lookups != 160000 || st.hits == 0)
        fail_msg("threads: got entries=%ld lookups=%llu hits=%llu, want <=128, 160000, >0",
                 st.entries, st.lookups, st.hits);
    consent_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
