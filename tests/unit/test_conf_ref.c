/* test_conf_ref.c - reference counting and the published "current" conf: a reload
 * swaps the pointer while holders keep the old conf alive; threads taking and
 * dropping references while another swaps must neither leak nor free early
 * (run under ASan to catch the latter). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <cmocka.h>

#include "conf/conf.h"

static struct sa_conf *load_id(const char *id)
{
    static struct conf_errors errs;
    char text[128];

    snprintf(text, sizeof(text), "authserv_id = \"%s\";\n", id);
    return conf_load_string(text, "t.conf", &errs);
}

static void test_refcount(void **state)
{
    struct sa_conf *c = load_id("a.example");

    assert_non_null(c);
    assert_int_equal(atomic_load(&c->refcnt), 1);
    assert_ptr_equal(conf_ref(c), c);
    assert_int_equal(atomic_load(&c->refcnt), 2);
    assert_null(conf_unref(c));
    assert_int_equal(atomic_load(&c->refcnt), 1);
    assert_null(conf_unref(c)); /* freed here; ASan reports a leak otherwise */
    assert_null(conf_unref(NULL));
    assert_null(conf_ref(NULL));
    assert_null(conf_free(NULL));
}

static void test_current_swap(void **state)
{
    struct sa_conf *a = load_id("a.example"), *b = load_id("b.example"), *held, *now;

    conf_set_current(a);       /* the holder owns a's only reference */
    held = conf_get_current(); /* an in-flight message */
    assert_ptr_equal(held, a);
    assert_int_equal(atomic_load(&a->refcnt), 2);
    conf_set_current(b); /* reload */
    assert_int_equal(atomic_load(&a->refcnt), 1);
    assert_string_equal(held->authserv_id, "a.example"); /* still valid */
    now = conf_get_current();
    assert_string_equal(now->authserv_id, "b.example");
    conf_unref(now);
    conf_unref(held);       /* a is freed here */
    conf_set_current(NULL); /* b is freed here */
    assert_null(conf_get_current());
}

struct worker {
    int iterations;
    int bad;
};

/* worker - a message thread: take the current conf, read it, drop it */
static void *worker(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < w->iterations; i++) {
        struct sa_conf *c = conf_get_current();

        if (c == NULL || strncmp(c->authserv_id, "gen", 3) != 0)
            w->bad++;
        conf_unref(c);
    }
    return NULL;
}

static void test_current_threads(void **state)
{
    pthread_t t[4];
    struct worker w[4];
    char id[32];

    conf_set_current(load_id("gen0"));
    for (int i = 0; i < 4; i++) {
        w[i].iterations = 20000;
        w[i].bad = 0;
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (int g = 1; g <= 200; g++) {
        snprintf(id, sizeof(id), "gen%d", g);
        conf_set_current(load_id(id));
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    conf_set_current(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_current_swap),
        cmocka_unit_test(test_current_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
