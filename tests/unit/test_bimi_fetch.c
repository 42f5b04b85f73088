/* test_bimi_fetch.c - the fetcher without the network: the memo entries kept in its
 * cache (the certificate verdicts), their expiry by the cache clock, no cache at all,
 * eviction when full, and a URL that is not https refused before any connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "bimi/bimi.h"

static void test_memo(void **state)
{
    struct bimi_fetch_conf fc = {NULL, 60, 2, NULL};
    struct bimi_fetcher *f = bimi_fetch_new(&fc);
    char out[32];

    (void)state;
    assert_non_null(f);
    assert_int_equal(bimi_fetch_memo_get(f, "k1", 100, out, sizeof(out)), -1);
    bimi_fetch_memo_put(f, "k1", 100, "vmc 1900000000");
    if (bimi_fetch_memo_get(f, "k1", 159, out, sizeof(out)) != 0 || strcmp(out, "vmc 1900000000"))
        fail_msg("memo at 159: got \"%s\", want \"vmc 1900000000\"", out);
    if (bimi_fetch_memo_get(f, "k1", 160, out, sizeof(out)) == 0)
        fail_msg("memo at 160 (TTL 60 from 100): got a hit, want expired");
    /* Two slots: a third key evicts the entry closest to expiry (k2, older). */
    bimi_fetch_memo_put(f, "k2", 200, "cmc 1");
    bimi_fetch_memo_put(f, "k3", 210, "vmc 2");
    bimi_fetch_memo_put(f, "k4", 220, "vmc 3");
    if (bimi_fetch_memo_get(f, "k2", 221, out, sizeof(out)) == 0)
        fail_msg("k2 after two newer keys in two slots: got a hit, want evicted");
    if (bimi_fetch_memo_get(f, "k3", 221, out, sizeof(out)) != 0 || strcmp(out, "vmc 2"))
        fail_msg("k3: got \"%s\", want \"vmc 2\"", out);
    if (bimi_fetch_memo_get(f, "k4", 221, out, sizeof(out)) != 0 || strcmp(out, "vmc 3"))
        fail_msg("k4: got \"%s\", want \"vmc 3\"", out);
    /* The same key replaces its value. */
    bimi_fetch_memo_put(f, "k4", 222, "cmc 4");
    if (bimi_fetch_memo_get(f, "k4", 223, out, sizeof(out)) != 0 || strcmp(out, "cmc 4"))
        fail_msg("k4 replaced: got \"%s\", want \"cmc 4\"", out);
    bimi_fetch_free(f);
}

static void test_no_cache(void **state)
{
    struct bimi_fetch_conf fc = {NULL, 60, 0, NULL};
    struct bimi_fetcher *f = bimi_fetch_new(&fc);
    char out[32];

    (void)state;
    assert_non_null(f);
    bimi_fetch_memo_put(f, "k1", 100, "vmc 1");
    assert_int_equal(bimi_fetch_memo_get(f, "k1", 100, out, sizeof(out)), -1);
    assert_null(bimi_fetch_free(f));
    assert_null(bimi_fetch_free(NULL));
}

static void test_not_https(void **state)
{
    static const char *const urls[] = {"http://127.0.0.1:1/logo.svg", "ftp://127.0.0.1/x",
                                       "file:///etc/passwd"};
    struct bimi_fetch_conf fc = {NULL, 60, 8, NULL};
    struct bimi_fetcher *f = bimi_fetch_new(&fc);

    (void)state;
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char *data = NULL, why[96];
        size_t len = 0;
        struct timespec ts;
        enum bimi_fetch_status st;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        st = bimi_fetch_get(f, urls[i], 1000, (double)ts.tv_sec + 5, 1, &data, &len, why,
                            sizeof(why));
        if (st != BIMI_FETCH_FAIL || data != NULL)
            fail_msg("bimi_fetch_get(%s): got %d (%s), want %d (refused)", urls[i], st, why,
                     BIMI_FETCH_FAIL);
    }
    bimi_fetch_free(f);
}

/* test_counters - each bimi_fetch_get adds one to exactly one outcome counter: a refused
 * URL is a failure, asking again is a cache hit (permanent failures are kept), a deadline
 * already past is a timeout (never cached) */
static void test_counters(void **state)
{
    static const struct {
        const char *url;
        double after; /* deadline, seconds from now */
        enum bimi_fetch_count want;
    } rows[] = {
        {"http://127.0.0.1:1/logo.svg", 5, BIMI_COUNT_FAILED},
        {"http://127.0.0.1:1/logo.svg", 5, BIMI_COUNT_CACHED},
        {"https://127.0.0.1:1/slow.svg", -1, BIMI_COUNT_TIMEOUT},
        {"https://127.0.0.1:1/slow.svg", -1, BIMI_COUNT_TIMEOUT},
    };
    atomic_uint_fast64_t c[BIMI_NCOUNTS];
    struct bimi_fetch_conf fc = {NULL, 60, 8, c};
    struct bimi_fetcher *f;

    (void)state;
    for (int k = 0; k < BIMI_NCOUNTS; k++)
        atomic_init(&c[k], 0);
    f = bimi_fetch_new(&fc);
    assert_non_null(f);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t before[BIMI_NCOUNTS];
        char *data = NULL, why[96];
        size_t len = 0;
        struct timespec ts;

        for (int k = 0; k < BIMI_NCOUNTS; k++)
            before[k] = atomic_load(&c[k]);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        (void)bimi_fetch_get(f, rows[i].url, 1000, (double)ts.tv_sec + rows[i].after, 1, &data,
                             &len, why, sizeof(why));
        free(data);
        for (int k = 0; k < BIMI_NCOUNTS; k++) {
            uint64_t got = atomic_load(&c[k]) - before[k], want = k == (int)rows[i].want;

            if (got != want)
                fail_msg("row %zu %s: counter %d got +%llu, want +%llu", i, rows[i].url, k,
                         (unsigned long long)got, (unsigned long long)want);
        }
    }
    bimi_fetch_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memo),
        cmocka_unit_test(test_no_cache),
        cmocka_unit_test(test_not_https),
        cmocka_unit_test(test_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
