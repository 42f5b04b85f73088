/* test_dkim_key.c - the DKIM key cache (src/dkim/dkim_key.c) on its own: records parsed
 * into keys with the right error, one decode per distinct text, and many threads
 * getting and releasing keys while more records than the cache holds push each other
 * out (ASan/TSan see a key freed while in use; the counts must add up). The rules of
 * the record in a real verification are in test_dkim_eval.c (test_key_records). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "dkim/dkim_int.h"
#include "dkim_testkeys.h"

#define NTHREADS 4
#define ROUNDS 3000
#define NRECORDS 700 /* more than the cache's 512 entries */

/* An RSA key with a 1020-bit modulus: 128 bytes, but below RFC 8301's 1024 bits. */
static const char *const rsa_1020 =
    "MIGeMA0GCSqGSIb3DQEBAQUAA4GMADCBiAKBgAnxM8HWKZeaB/GgRsSpjvEuOP26fWQn7mQ5PBZIDLp3wls3mT8mMo/z"
    "UXJ+Q8IzUcfcDrzro+MTaLeebYhyiVmjianB5Iqe2Gw97+nFc0Qx17QAaOQ1AhAnBEXD22GyVrz0fJL2ySSqXDoj2Feu"
    "38t7mk80TuASNah8LwjeDH6HAgMBAAE=";
/* An Ed25519 public key (RFC 8463 A.2); the RSA key is in dkim_testkeys.h. */
static const char *const ed_pub = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/* test_parse - one record each: the key's error, type, bits and flags */
static void test_parse(void **state)
{
    static const struct {
        const char *fmt; /* %s: the key's p= */
        const char *p;
        enum dkim_key_err err;
        int late;
        enum dkim_key_type type;
        int bits, hashes, testing, nosub;
    } rows[] = {
        {"v=DKIM1; k=rsa; p=%s", NULL, DKIM_KEY_OK, 1, DKIM_KEY_RSA, 1024, 3, 0, 0},
        {"p=%s; t=y:s", NULL, DKIM_KEY_OK, 1, DKIM_KEY_RSA, 1024, 3, 1, 1},
        {"v=DKIM1; h=sha256; p=%s", NULL, DKIM_KEY_OK, 1, DKIM_KEY_RSA, 1024, 2, 0, 0},
        {"v=DKIM1; h=sha1 : foo; p=%s", NULL, DKIM_KEY_OK, 1, DKIM_KEY_RSA, 1024, 1, 0, 0},
        {"v=DKIM1; k=rsa; p=%s", "pkcs1", DKIM_KEY_OK, 1, DKIM_KEY_RSA, 1024, 3, 0, 0},
        {"v=DKIM1; k=rsa; p=%s", "rsa1020", DKIM_KEY_OK, 1, DKIM_KEY_RSA, 1020, 3, 0, 0},
        {"v=DKIM1; k=ed25519; p=%s", "ed", DKIM_KEY_OK, 1, DKIM_KEY_ED25519, 256, 3, 0, 0},
        {"v=DKIM1; k=ed25519; p=%s", NULL, DKIM_KEY_ERR_SYNTAX, 1, DKIM_KEY_ED25519, 0, 3, 0, 0},
        {"v=DKIM1; k=rsa; p=%s", "ed", DKIM_KEY_ERR_SYNTAX, 1, DKIM_KEY_RSA, 0, 3, 0, 0},
        {"v=DKIM1; p=", NULL, DKIM_KEY_ERR_REVOKED, 1, DKIM_KEY_RSA, 0, 3, 0, 0},
        {"v=DKIM1; s=other; p=", NULL, DKIM_KEY_ERR_SERVICE, 1, DKIM_KEY_RSA, 0, 3, 0, 0},
        {"v=DKIM2; p=%s", NULL, DKIM_KEY_ERR_SYNTAX, 0, DKIM_KEY_RSA, 0, 0, 0, 0},
        {"v=DKIM1; h=md5; p=%s", NULL, DKIM_KEY_ERR_SYNTAX, 0, DKIM_KEY_RSA, 0, 0, 0, 0},
        {"v=DKIM1; k=dsa; p=%s", NULL, DKIM_KEY_ERR_SYNTAX, 1, DKIM_KEY_RSA, 0, 3, 0, 0},
        {"v=DKIM1; k=rsa", NULL, DKIM_KEY_ERR_SYNTAX, 1, DKIM_KEY_RSA, 0, 3, 0, 0},
        {"v=DKIM1 p=%s", NULL, DKIM_KEY_ERR_SYNTAX, 0, DKIM_KEY_RSA, 0, 0, 0, 0},
        {"", NULL, DKIM_KEY_ERR_SYNTAX, 1, DKIM_KEY_RSA, 0, 3, 0, 0},
    };
    struct dkim_key_cache *c = dkim_key_cache_new();

    assert_non_null(c);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *p = rows[i].p == NULL                   ? rsa_spki
                        : strcmp(rows[i].p, "ed") == 0      ? ed_pub
                        : strcmp(rows[i].p, "rsa1020") == 0 ? rsa_1020
                                                            : rsa_pkcs1;
        char rec[1024];
        struct dkim_key *k;
        const char *at = strstr(rows[i].fmt, "%s");

        if (at == NULL)
            snprintf(rec, sizeof(rec), "%s", rows[i].fmt);
        else
            snprintf(rec, sizeof(rec), "%.*s%s%s", (int)(at - rows[i].fmt), rows[i].fmt, p,
                     at + 2);
        k = dkim_key_get(c, rec, strlen(rec));
        assert_non_null(k);
        if (k->err != rows[i].err || k->late != rows[i].late ||
            (k->err == DKIM_KEY_OK && (k->type != rows[i].type || k->bits != rows[i].bits)) ||
            k->hashes != rows[i].hashes || k->testing != rows[i].testing ||
            k->nosubdomain != rows[i].nosub || (k->err == DKIM_KEY_OK) != (k->pkey != NULL))
            fail_msg("\"%.40s\": got err %d late %d type %d bits %d hashes %d t=%d/%d, want "
                     "err %d late %d type %d bits %d hashes %d t=%d/%d",
                     rec, k->err, k->late, k->type, k->bits, k->hashes, k->testing,
                     k->nosubdomain, rows[i].err, rows[i].late, rows[i].type, rows[i].bits,
                     rows[i].hashes, rows[i].testing, rows[i].nosub);
        dkim_key_release(k);
    }
    dkim_key_cache_free(c);
    dkim_key_cache_free(NULL);
    dkim_key_release(NULL);
}

struct thr {
    struct dkim_key_cache *c;
    int id;
    int bad;
};

/* churn - get record (id + 7 r) % NRECORDS for r in 0..ROUNDS, hold it while getting
 * the next, check each is the record's key */
static void *churn(void *arg)
{
    struct thr *t = arg;
    struct dkim_key *held = NULL;

    for (int r = 0; r < ROUNDS; r++) {
        int n = (t->id * 131 + r * 7) % NRECORDS;
        char rec[600];
        struct dkim_key *k;

        if (n == 0)
            snprintf(rec, sizeof(rec), "v=DKIM1; p=%s", rsa_spki);
        else
            snprintf(rec, sizeof(rec), "v=DKIM1; n=%d; p=", n);
        if ((k = dkim_key_get(t->c, rec, strlen(rec))) == NULL ||
            k->err != (n == 0 ? DKIM_KEY_OK : DKIM_KEY_ERR_REVOKED) ||
            atomic_load(&k->refs) < 1)
            t->bad++;
        dkim_key_release(held);
        held = k;
    }
    dkim_key_release(held);
    return NULL;
}

/* test_churn - NTHREADS threads over NRECORDS records in a cache of 512 */
static void test_churn(void **state)
{
    struct dkim_key_cache *c = dkim_key_cache_new();
    struct thr t[NTHREADS];
    pthread_t tid[NTHREADS];
    unsigned long hits, misses;

    assert_non_null(c);
    for (int i = 0; i < NTHREADS; i++) {
        t[i] = (struct thr){c, i, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, churn, &t[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(tid[i], NULL);
        if (t[i].bad != 0)
            fail_msg("thread %d: got %d wrong keys, want 0", i, t[i].bad);
    }
    dkim_key_cache_stats(c, &hits, &misses);
    if (hits + misses != NTHREADS * ROUNDS || misses < NRECORDS - 512 || hits == 0)
        fail_msg("got %lu hits + %lu misses, want %d in all, at least %d misses and some hits",
                 hits, misses, NTHREADS * ROUNDS, NRECORDS - 512);
    dkim_key_cache_free(c);
}

/* test_repeat - the same text is one key (same object), a different text another */
static void test_repeat(void **state)
{
    struct dkim_key_cache *c = dkim_key_cache_new();
    char rec[600];
    struct dkim_key *a, *b, *d;
    unsigned long hits, misses;

    assert_non_null(c);
    snprintf(rec, sizeof(rec), "v=DKIM1; p=%s", rsa_spki);
    a = dkim_key_get(c, rec, strlen(rec));
    b = dkim_key_get(c, rec, strlen(rec));
    d = dkim_key_get(c, rec, strlen(rec) - 1); /* a prefix: another text */
    assert_non_null(a);
    assert_non_null(d);
    if (a != b || a == d)
        fail_msg("got a=%p b=%p d=%p, want a == b != d", (void *)a, (void *)b, (void *)d);
    dkim_key_cache_stats(c, &hits, &misses);
    if (hits != 1 || misses != 2)
        fail_msg("got %lu hits %lu misses, want 1 and 2", hits, misses);
    dkim_key_release(a);
    dkim_key_release(b);
    dkim_key_release(d);
    dkim_key_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_repeat),
        cmocka_unit_test(test_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
