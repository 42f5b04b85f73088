/* test_dns_cache.c - shared cache over the stub: a table of (clock, query, want status,
 * want upstream queries so far) steps for hits, TTL expiry, negative caching, TEMPFAIL
 * not cached and the max_ttl cap; eviction bound; 4 threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "dns/dns.h"

static long fake_now = 1000;

static long fake_clock(void)
{
    return fake_now;
}

struct step {
    long now;
    const char *name;
    uint16_t type;
    enum dns_status want;
    int want_up;       /* upstream queries after this step */
    uint32_t want_ttl; /* answer TTL (OK) or negative TTL (NXDOMAIN/NODATA); 0: skip */
};

static void run_steps(const char *title, struct dns *stub, struct dns *cache,
                      const struct step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct dns_answer *a;
        uint32_t neg = 0, ttl;
        enum dns_status st;

        fake_now = steps[i].now;
        st = dns_query_ttl(cache, steps[i].name, steps[i].type, &a, &neg);
        if (st != steps[i].want)
            fail_msg("%s step %zu (t=%ld %s): got %s, want %s", title, i, steps[i].now,
                     steps[i].name, dns_status_name(st), dns_status_name(steps[i].want));
        if (dns_stub_queries(stub) != steps[i].want_up)
            fail_msg("%s step %zu (t=%ld %s): got %d upstream queries, want %d", title, i,
                     steps[i].now, steps[i].name, dns_stub_queries(stub), steps[i].want_up);
        ttl = st == DNS_OK ? a->ttl : neg;
        if (steps[i].want_ttl != 0 && ttl != steps[i].want_ttl)
            fail_msg("%s step %zu (t=%ld %s): got ttl %u, want %u", title, i, steps[i].now,
                     steps[i].name, ttl, steps[i].want_ttl);
        if ((st == DNS_OK) != (a != NULL))
            fail_msg("%s step %zu: status %s with answer %p", title, i, dns_status_name(st),
                     (void *)a);
        dns_answer_free(a);
    }
}

static void test_cache_steps(void **state)
{
    static const struct step steps[] = {
        /* positive, TTL 100 */
        {1000, "example.com", DNS_T_A, DNS_OK, 1, 100},
        {1000, "EXAMPLE.com.", DNS_T_A, DNS_OK, 1, 100}, /* key is case-insensitive */
        {1060, "example.com", DNS_T_A, DNS_OK, 1, 40},   /* time left */
        {1099, "example.com", DNS_T_A, DNS_OK, 1, 1},
        {1100, "example.com", DNS_T_A, DNS_OK, 2, 100},   /* expired: asked again */
        {1100, "example.com", DNS_T_TXT, DNS_OK, 3, 100}, /* type is part of the key */
        /* negative, upstream negative TTL 30 */
        {1100, "none.example", DNS_T_A, DNS_NXDOMAIN, 4, 30},
        {1129, "none.example", DNS_T_A, DNS_NXDOMAIN, 4, 1},
        {1130, "none.example", DNS_T_A, DNS_NXDOMAIN, 5, 30},
        {1130, "example.com", DNS_T_MX, DNS_NODATA, 6, 30},
        {1131, "example.com", DNS_T_MX, DNS_NODATA, 6, 29},
        /* TEMPFAIL and BADREPLY are never cached */
        {1131, "broken.example", DNS_T_A, DNS_TEMPFAIL, 7, 0},
        {1131, "broken.example", DNS_T_A, DNS_TEMPFAIL, 8, 0},
        {1131, "bad.example", DNS_T_A, DNS_BADREPLY, 9, 0},
        {1131, "bad.example", DNS_T_A, DNS_BADREPLY, 10, 0},
        /* max_ttl (600) caps a one-day TTL */
        {2000, "long.example", DNS_T_A, DNS_OK, 11, 86400},
        {2599, "long.example", DNS_T_A, DNS_OK, 11, 1},
        {2600, "long.example", DNS_T_A, DNS_OK, 12, 86400},
        /* invalid names never reach upstream */
        {2600, "a..example", DNS_T_A, DNS_NXDOMAIN, 12, 0},
    };
    struct dns *stub = dns_stub_new(), *cache;
    struct dns_cache_stats cs;

    dns_stub_set_ttl(stub, 100, 30);
    assert_int_equal(dns_stub_add(stub, "example.com", DNS_T_A, "192.0.2.1"), 0);
    assert_int_equal(dns_stub_add(stub, "example.com", DNS_T_TXT, "v=spf1 -all"), 0);
    assert_int_equal(dns_stub_fail(stub, "broken.example", 0, DNS_TEMPFAIL), 0);
    assert_int_equal(dns_stub_fail(stub, "bad.example", 0, DNS_BADREPLY), 0);
    dns_stub_set_ttl(stub, 86400, 30);
    assert_int_equal(dns_stub_add(stub, "long.example", DNS_T_A, "192.0.2.2"), 0);
    cache = dns_cache_new(stub, 100, 600, 5, fake_clock);
    assert_non_null(cache);
    run_steps("ttl", stub, cache, steps, sizeof(steps) / sizeof(steps[0]));

    dns_cache_get_stats(cache, &cs);
    /* 19 steps: 6 answered from the table (2 of them negative), 12 upstream, 1 invalid. */
    if (cs.hits != 6 || cs.negative_hits != 2 || cs.misses != 12 || cs.inserts != 8 ||
        cs.evictions != 0)
        fail_msg("stats: got hits=%lu neg=%lu misses=%lu inserts=%lu evictions=%lu, want "
                 "6 2 12 8 0",
                 cs.hits, cs.negative_hits, cs.misses, cs.inserts, cs.evictions);
    dns_free(cache);
    dns_free(stub);
}

static void test_cache_neg_default_and_copy(void **state)
{
    /* Upstream gives no negative TTL: the configured neg_ttl (5) applies. */
    static const struct step steps[] = {
        {0, "none.example", DNS_T_TXT, DNS_NXDOMAIN, 1, 5},
        {4, "none.example", DNS_T_TXT, DNS_NXDOMAIN, 1, 1},
        {5, "none.example", DNS_T_TXT, DNS_NXDOMAIN, 2, 5},
    };
    struct dns *stub = dns_stub_new(), *cache = dns_cache_new(stub, 10, 600, 5, fake_clock);
    struct dns_answer *a, *b;

    run_steps("neg", stub, cache, steps, sizeof(steps) / sizeof(steps[0]));

    /* Each caller gets its own copy; the table survives the upstream forgetting. */
    assert_int_equal(dns_stub_add_txt_len(stub, "t.example", "x\0y", 3), 0);
    assert_int_equal(dns_query(cache, "t.example", DNS_T_TXT, &a), DNS_OK);
    dns_stub_clear(stub);
    assert_int_equal(dns_query(cache, "t.example", DNS_T_TXT, &b), DNS_OK);
    assert_ptr_not_equal(a, b);
    assert_int_equal(b->rr[0].u.txt.len, 3);
    assert_memory_equal(b->rr[0].u.txt.data, "x\0y", 4);
    dns_answer_free(a);
    dns_answer_free(b);
    dns_free(cache);

    assert_null(dns_cache_new(stub, 0, 600, 5, fake_clock));
    dns_free(stub);
}

static void test_cache_eviction(void **state)
{
    static const size_t sizes[] = {1, 5, 16, 40};
    struct dns *stub = dns_stub_new();
    char name[64];

    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "h%d.example", i);
        assert_int_equal(dns_stub_add(stub, name, DNS_T_A, "192.0.2.1"), 0);
    }
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct dns *cache = dns_cache_new(stub, sizes[k], 600, 5, fake_clock);
        struct dns_cache_stats cs;
        struct dns_answer *a;

        fake_now = 0;
        for (int i = 0; i < 200; i++) {
            snprintf(name, sizeof(name), "h%d.example", i);
            assert_int_equal(dns_query(cache, name, DNS_T_A, &a), DNS_OK);
            dns_answer_free(a);
            dns_cache_get_stats(cache, &cs);
            if (cs.entries > sizes[k])
                fail_msg("max_entries %zu after %d inserts: got %lu entries", sizes[k], i + 1,
                         cs.entries);
        }
        if (cs.inserts != 200 || cs.evictions != 200 - cs.entries)
            fail_msg("max_entries %zu: got inserts=%lu evictions=%lu entries=%lu", sizes[k],
                     cs.inserts, cs.evictions, cs.entries);
        /* The most recent name is still there. */
        assert_int_equal(dns_query(cache, "h199.example", DNS_T_A, &a), DNS_OK);
        dns_answer_free(a);
        dns_cache_get_stats(cache, &cs);
        assert_int_equal(cs.hits, 1);
        dns_free(cache);
    }
    dns_free(stub);
}

#define THREADS 4
#define ROUNDS 3000
#define NAMES 60

struct worker {
    struct dns *cache;
    int seed;
    int errors;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    unsigned x = (unsigned)w->seed * 2654435761u + 1;
    char name[64];

    for (int i = 0; i < ROUNDS; i++) {
        struct dns_answer *a;
        enum dns_status st, want;
        int k;

        x = x * 1103515245u + 12345u;
        k = (int)((x >> 8) % NAMES);
        snprintf(name, sizeof(name), "n%d.example", k);
        want = k % 3 == 0 ? DNS_NXDOMAIN : DNS_OK;
        st = dns_query(w->cache, name, DNS_T_A, &a);
        if (st != want || (st == DNS_OK && (a == NULL || a->nrr != 1)))
            w->errors++;
        dns_answer_free(a);
    }
    return NULL;
}

static void test_cache_threads(void **state)
{
    struct dns *stub = dns_stub_new(), *cache;
    struct worker w[THREADS];
    pthread_t t[THREADS];
    struct dns_cache_stats cs;
    char name[64];

    for (int k = 0; k < NAMES; k++) {
        snprintf(name, sizeof(name), "n%d.example", k);
        if (k % 3 != 0)
            assert_int_equal(dns_stub_add(stub, name, DNS_T_A, "192.0.2.7"), 0);
    }
    cache = dns_cache_new(stub, 24, 600, 60, NULL);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){cache, i + 1, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].errors != 0)
            fail_msg("thread %d: got %d wrong answers, want 0", i, w[i].errors);
    }
    dns_cache_get_stats(cache, &cs);
    if (cs.hits + cs.misses != THREADS * ROUNDS ||
        cs.misses != (unsigned long)dns_stub_queries(stub) || cs.entries > 24 ||
        cs.inserts != cs.misses || cs.inserts - cs.evictions < cs.entries)
        fail_msg("threads: got hits=%lu misses=%lu upstream=%d inserts=%lu evictions=%lu "
                 "entries=%lu",
                 cs.hits, cs.misses, dns_stub_queries(stub), cs.inserts, cs.evictions, cs.entries);
    dns_free(cache);
    dns_free(stub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_steps),
        cmocka_unit_test(test_cache_neg_default_and_copy),
        cmocka_unit_test(test_cache_eviction),
        cmocka_unit_test(test_cache_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
