/* test_bimi_fetchopt.c - a libcurl that refuses one of the fetcher's options (as one
 * older than 7.85 refuses CURLOPT_PROTOCOLS_STR and CURLOPT_REDIR_PROTOCOLS_STR) must
 * get no transfer: otherwise the fetch would run without the rule the option carries
 * (https only, the size cap, TLS checks). This program defines curl_easy_setopt itself,
 * which takes precedence over libcurl's for the fetcher linked into it; it refuses the
 * option a row names and passes every other one on to libcurl's (dlsym RTLD_NEXT). */
#define CURL_DISABLE_TYPECHECK
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "bimi/bimi.h"

typedef CURLcode (*setopt_fn)(CURL *, CURLoption, ...);

static CURLoption refuse = (CURLoption)-1; /* the option to refuse; -1: none */
static int refused;                        /* times it was asked for */

/* curl_easy_setopt - libcurl's, except for the option in refuse */
CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
    static setopt_fn real;
    va_list ap;
    CURLcode rc;

    if (real == NULL)
        real = (setopt_fn)dlsym(RTLD_NEXT, "curl_easy_setopt");
    if (opt == refuse) {
        refused++;
        return CURLE_UNKNOWN_OPTION;
    }
    va_start(ap, opt);
    if (opt < CURLOPTTYPE_OBJECTPOINT)
        rc = real(c, opt, va_arg(ap, long));
    else if (opt < CURLOPTTYPE_OFF_T)
        rc = real(c, opt, va_arg(ap, void *));
    else
        rc = real(c, opt, va_arg(ap, curl_off_t));
    va_end(ap);
    return rc;
}

/* test_refused - each refused option: no transfer (the reason says why, not "could not
 * connect"), a temporary failure (not cached: the next try refuses again); with
 * nothing refused the same fetch runs and fails to connect */
static void test_refused(void **state)
{
    static const struct {
        CURLoption opt;
        const char *name;
    } rows[] = {
        {CURLOPT_PROTOCOLS_STR, "CURLOPT_PROTOCOLS_STR"},
        {CURLOPT_REDIR_PROTOCOLS_STR, "CURLOPT_REDIR_PROTOCOLS_STR"},
        {CURLOPT_MAXFILESIZE_LARGE, "CURLOPT_MAXFILESIZE_LARGE"},
        {CURLOPT_SSL_VERIFYPEER, "CURLOPT_SSL_VERIFYPEER"},
        {CURLOPT_SSL_VERIFYHOST, "CURLOPT_SSL_VERIFYHOST"},
        {CURLOPT_CAINFO, "CURLOPT_CAINFO"},
        {CURLOPT_TIMEOUT_MS, "CURLOPT_TIMEOUT_MS"},
    };
    static const char want[] = "cannot set up the transfer";
    struct bimi_fetch_conf fc = {"/nonexistent/ca.pem", 60, 8, NULL};
    struct bimi_fetcher *f = bimi_fetch_new(&fc);

    (void)state;
    assert_non_null(f);
    for (size_t i = 0; i <= sizeof(rows) / sizeof(rows[0]); i++) {
        int last = i == sizeof(rows) / sizeof(rows[0]);
        const char *name = last ? "(none)" : rows[i].name;

        refuse = last ? (CURLoption)-1 : rows[i].opt;
        for (int round = 0; round < 2; round++) {
            char *data = NULL, why[96] = "";
            size_t len = 0;
            struct timespec ts;
            enum bimi_fetch_status st;
            int setup;

            refused = 0;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            st = bimi_fetch_get(f, "https://127.0.0.1:1/logo.svg", 1000, (double)ts.tv_sec + 5, 1,
                                &data, &len, why, sizeof(why));
            setup = strncmp(why, want, sizeof(want) - 1) == 0;
            if (st != BIMI_FETCH_TEMP || data != NULL || setup == last || refused != (last ? 0 : 1))
                fail_msg("refused %s, try %d: got %d (%s), asked %d times; want %d (%s)", name,
                         round + 1, st, why, refused, BIMI_FETCH_TEMP,
                         last ? "a failed connection" : want);
            free(data);
        }
    }
    bimi_fetch_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
