/* test_conf_files.c - configs read from files: the shipped conf/senderauth.conf (every
 * key present, loads cleanly, identical to the text generated from the key table),
 * docs/configuration.md in sync with the table, and @include (values and errors name
 * the included file). Runs in tests/unit; files are under tests/unit/conf/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libconfig.h>
#include <cmocka.h>

#include "conf/conf.h"
#include "conf/conf_keys.h"

#define SHIPPED "../../conf/senderauth.conf"
#define DOCS "../../docs/configuration.md"
#define BEGIN_KEYS "<!-- BEGIN KEYS -->\n"
#define END_KEYS "<!-- END KEYS -->\n"

/* slurp - whole file as a string; NULL when unreadable */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    FILE *out;
    int ch;

    if (fp == NULL)
        return NULL;
    out = open_memstream(&text, &len);
    while ((ch = fgetc(fp)) != EOF)
        fputc(ch, out);
    fclose(out);
    fclose(fp);
    return text;
}

/* generated - output of one writer as a string */
static char *generated(int (*writer)(FILE *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    assert_int_equal(writer(fp), 0);
    fclose(fp);
    return text;
}

static void test_shipped_loads(void **state)
{
    static struct conf_errors errs;
    struct sa_conf *c = conf_load_file(SHIPPED, &errs);

    if (c == NULL || errs.nerr != 0) {
        conf_errors_print(&errs, stderr);
        fail_msg("%s: got %d errors, want 0", SHIPPED, errs.nerr);
    }
    conf_free(c);
}

static void test_shipped_has_every_key(void **state)
{
    config_t cf;
    int missing = 0;

    config_init(&cf);
    assert_int_equal(config_read_file(&cf, SHIPPED), CONFIG_TRUE);
    for (size_t i = 0; i < conf_nkeys; i++) {
        if (config_lookup(&cf, conf_keys[i].path) == NULL) {
            print_error("%s: key %s is missing\n", SHIPPED, conf_keys[i].path);
            missing++;
        }
    }
    config_destroy(&cf);
    assert_int_equal(missing, 0);
}

static void test_shipped_is_generated(void **state)
{
    char *want = generated(conf_write_default), *got = slurp(SHIPPED);

    assert_non_null(got);
    if (strcmp(got, want) != 0)
        fail_msg("%s differs from the key table; regenerate it with "
                 "`conf-gen config > conf/senderauth.conf`",
                 SHIPPED);
    free(want);
    free(got);
}

static void test_docs_in_sync(void **state)
{
    char *want = generated(conf_write_docs), *doc = slurp(DOCS), *begin, *end;

    assert_non_null(doc);
    begin = strstr(doc, BEGIN_KEYS);
    end = begin ? strstr(begin, END_KEYS) : NULL;
    if (begin == NULL || end == NULL)
        fail_msg("%s: markers %s/%s not found", DOCS, BEGIN_KEYS, END_KEYS);
    begin += strlen(BEGIN_KEYS);
    *end = '\0';
    if (strcmp(begin, want) != 0)
        fail_msg("%s: the key table section differs from the key table; regenerate it with "
                 "`conf-gen docs`",
                 DOCS);
    for (size_t i = 0; i < conf_nkeys; i++) {
        char needle[128];

        snprintf(needle, sizeof(needle), "| `%s` |", conf_keys[i].path);
        if (strstr(begin, needle) == NULL)
            fail_msg("%s: key %s is not documented", DOCS, conf_keys[i].path);
    }
    free(want);
    free(doc);
}

/* Files under tests/unit/conf and the exact messages they give. */
static const struct file_case {
    const char *path;
    const char *want[6];
} file_cases[] = {
    {"conf/group_include.conf", {"conf/group_include_body.conf:2: dns.retries: must be 1..10"}},
    {"conf/bad_include.conf",
     {"conf/bad_include.conf:1: dns.timeout: must be 1..60",
      "conf/bad_include.conf:3: bogus: unknown key",
      "conf/bad_include_inc.conf:2: spf.enable: must be true or false",
      "conf/bad_include_inc.conf:4: trusted_networks: bad network \"300.0.0.0/8\": want an IPv4 "
      "or IPv6 address, optionally /PREFIX"}},
    {"conf/syntax_include.conf", {"conf/syntax_include_inc.conf:2: syntax error"}},
    {"conf/missing_include.conf",
     {"conf/missing_include.conf:2: cannot open include file \"conf/does_not_exist.conf\""}},
    {"conf/nonexistent.conf", {"conf/nonexistent.conf: cannot open: No such file or directory"}},
    {"conf", {"conf: cannot open: Is a directory"}},
};

static void test_file_errors(void **state)
{
    static struct conf_errors errs;
    int failed = 0;

    for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
        const struct file_case *fc = &file_cases[i];
        struct sa_conf *c = conf_load_file(fc->path, &errs);
        int nwant = 0;

        while (nwant < 6 && fc->want[nwant])
            nwant++;
        if (c != NULL || errs.n != nwant) {
            print_error("%s: got %s and %d messages, want NULL and %d:\n", fc->path,
                        c ? "a conf" : "NULL", errs.n, nwant);
            conf_errors_print(&errs, stderr);
            conf_free(c);
            failed++;
            continue;
        }
        for (int k = 0; k < nwant; k++) {
            if (strcmp(errs.item[k].text, fc->want[k]) != 0) {
                print_error("%s message %d:\n got  %s\n want %s\n", fc->path, k, errs.item[k].text,
                            fc->want[k]);
                failed++;
            }
        }
    }
    if (failed)
        fail_msg("%d file cases failed", failed);
}

static void test_include_values(void **state)
{
    static struct conf_errors errs;
    struct sa_conf *c = conf_load_file("conf/good_include.conf", &errs);

    if (c == NULL) {
        conf_errors_print(&errs, stderr);
        fail_msg("conf/good_include.conf: got errors, want none");
    }
    assert_string_equal(c->authserv_id, "mx.example.net");
    assert_int_equal(c->dns_timeout, 7);
    assert_int_equal(c->dns_nameservers.n, 1);
    assert_int_equal(c->dns_nameservers.v[0].port, 5353);
    assert_int_equal(c->log_level, CONF_LOG_DEBUG);
    assert_string_equal(c->source, "conf/good_include.conf");
    conf_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_loads),        cmocka_unit_test(test_shipped_has_every_key),
        cmocka_unit_test(test_shipped_is_generated), cmocka_unit_test(test_docs_in_sync),
        cmocka_unit_test(test_file_errors),          cmocka_unit_test(test_include_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
