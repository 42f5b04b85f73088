/* test_metrics_render.c - the Prometheus exposition: counters, results per method and
 * result, actions, the latency histogram (le buckets are cumulative, +Inf = count), the
 * collect hook, the listen address parser, a scrape over HTTP on 127.0.0.1, and the
 * families and pages other modules register. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "metrics/metrics.h"

/* value - the number on the line that starts with "series " in text; -1 when absent */
static double value(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static void collect(void)
{
    metrics_set(METRICS_DNS_CACHE_HITS, 77);
}

static void test_render(void **state)
{
    static const struct {
        const char *series;
        double want;
    } rows[] = {
        {"senderauth_messages_total", 3},
        {"senderauth_results_total{method=\"spf\",result=\"pass\"}", 2},
        {"senderauth_results_total{method=\"spf\",result=\"fail\"}", 1},
        {"senderauth_results_total{method=\"dkim\",result=\"permerror\"}", 1},
        {"senderauth_results_total{method=\"dmarc\",result=\"none\"}", 0},
        {"senderauth_results_total{method=\"iprev\",result=\"temperror\"}", 0},
        {"senderauth_actions_total{action=\"accept\"}", 2},
        {"senderauth_actions_total{action=\"split\"}", 1},
        {"senderauth_actions_total{action=\"reject\"}", 0},
        {"senderauth_dns_queries_total", 10},
        {"senderauth_dns_cache_hits_total", 77},
        {"senderauth_reloads_total{result=\"failed\"}", 1},
        {"senderauth_eom_seconds_bucket{le=\"0.001\"}", 1},
        {"senderauth_eom_seconds_bucket{le=\"0.01\"}", 2},
        {"senderauth_eom_seconds_bucket{le=\"10\"}", 3},
        {"senderauth_eom_seconds_bucket{le=\"+Inf\"}", 4},
        {"senderauth_eom_seconds_count", 4},
    };
    size_t len;
    char *text;

    metrics_count(METRICS_MESSAGES, 3);
    metrics_count_result(METRICS_SPF, AUTH_PASS);
    metrics_count_result(METRICS_SPF, AUTH_PASS);
    metrics_count_result(METRICS_SPF, AUTH_FAIL);
    metrics_count_result(METRICS_DKIM, AUTH_PERMERROR);
    metrics_count_result(METRICS_NMETHODS, AUTH_PASS);  /* ignored */
    metrics_count_result(METRICS_DKIM, (enum auth_res)99); /* ignored */
    metrics_count(METRICS_ACTION_ACCEPT, 2);
    metrics_count(METRICS_ACTION_SPLIT, 1);
    metrics_count(METRICS_DNS_QUERIES, 10);
    metrics_count(METRICS_RELOAD_FAILED, 1);
    metrics_observe_eom(0.0005);
    metrics_observe_eom(0.004);
    metrics_observe_eom(3.0);
    metrics_observe_eom(60.0);
    metrics_set_collect(collect);
    text = metrics_render(&len);
    metrics_set_collect(NULL);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        double got = value(text, rows[i].series);
        if (got != rows[i].want)
            fail_msg("%s: got %g, want %g", rows[i].series, got, rows[i].want);
    }
    if (value(text, "senderauth_eom_seconds_sum") < 63.0 ||
        value(text, "senderauth_eom_seconds_sum") > 63.01)
        fail_msg("eom sum: got %g, want 63.0045", value(text, "senderauth_eom_seconds_sum"));
    assert_non_null(strstr(text, "# TYPE senderauth_eom_seconds histogram\n"));
    assert_non_null(strstr(text, "# TYPE senderauth_messages_total counter\n"));
    free(text);
}

static void test_parse_listen(void **state)
{
    static const struct {
        const char *in;
        int want; /* 0 ok, -1 error */
        int family;
        int port;
    } rows[] = {
        {"127.0.0.1:9712", 0, AF_INET, 9712},
        {"[::1]:9712", 0, AF_INET6, 9712},
        {"0.0.0.0:0", 0, AF_INET, 0},
        {"localhost:9712", -1, 0, 0},
        {"127.0.0.1", -1, 0, 0},
        {"127.0.0.1:", -1, 0, 0},
        {"127.0.0.1:65536", -1, 0, 0},
        {"127.0.0.1:-1", -1, 0, 0},
        {"::1:9712", -1, 0, 0},
        {"[::1]9712", -1, 0, 0},
        {":9712", -1, 0, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct sockaddr_storage ss;
        char why[128];
        int got = metrics_parse_listen(rows[i].in, &ss, why, sizeof(why));
        int port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                   : ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                              : 0;
        if (got != rows[i].want || (got == 0 && (ss.ss_family != rows[i].family ||
                                                 port != rows[i].port)))
            fail_msg("metrics_parse_listen(\"%s\"): got %d family %d port %d, want %d %d %d",
                     rows[i].in, got, ss.ss_family, port, rows[i].want, rows[i].family,
                     rows[i].port);
    }
}

/* http_get - one GET over loopback; the whole reply into out */
static int http_get(int port, const char *path, char *out, size_t outlen)
{
    struct sockaddr_in sin;
    char req[256];
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        return -1;
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
        return -1;
    while (got + 1 < outlen && (n = read(fd, out + got, outlen - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
    return 0;
}

static void test_http(void **state)
{
    static char reply[65536];

    assert_int_equal(metrics_start(""), 0); /* off */
    assert_int_equal(metrics_port(), 0);
    assert_int_equal(metrics_start("localhost:1"), -1);
    assert_int_equal(metrics_start("127.0.0.1:0"), 0);
    assert_true(metrics_port() > 0);
    assert_int_equal(http_get(metrics_port(), "/metrics", reply, sizeof(reply)), 0);
    if (strncmp(reply, "HTTP/1.", 7) != 0 || strstr(reply, " 200 ") == NULL)
        fail_msg("GET /metrics: got \"%.60s\", want 200", reply);
    assert_non_null(strstr(reply, "text/plain; version=0.0.4"));
    assert_non_null(strstr(reply, "\nsenderauth_messages_total "));
    assert_int_equal(http_get(metrics_port(), "/other", reply, sizeof(reply)), 0);
    if (strstr(reply, " 404 ") == NULL)
        fail_msg("GET /other: got \"%.60s\", want 404", reply);
    metrics_stop();
    assert_int_equal(metrics_port(), 0);
}

static const char *const colors[] = {"red", "blue"};
static atomic_uint_fast64_t color_counts[2];
static const struct metrics_family color_family = {"test_colors_total", "Colors seen.", "color",
                                                   colors, 2, color_counts};

/* test_family - a registered family is rendered after the fixed metrics, one line per
 * value; registrations beyond METRICS_MAX_FAMILIES are refused */
static void test_family(void **state)
{
    static const struct {
        const char *series;
        double want;
    } rows[] = {
        {"test_colors_total{color=\"red\"}", 3},
        {"test_colors_total{color=\"blue\"}", 0},
    };
    size_t len;
    char *text;
    int refused = 0;

    (void)state;
    assert_int_equal(metrics_add_family(&color_family), 0);
    atomic_fetch_add(&color_counts[0], 3);
    text = metrics_render(&len);
    assert_non_null(text);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (value(text, rows[i].series) != rows[i].want)
            fail_msg("%s: got %g, want %g", rows[i].series, value(text, rows[i].series),
                     rows[i].want);
    if (strstr(text, "# TYPE test_colors_total counter\n") == NULL ||
        strstr(text, "senderauth_eom_seconds_count") > strstr(text, "test_colors_total"))
        fail_msg("family: got no TYPE line or not after the fixed metrics");
    free(text);
    for (int i = 1; i <= METRICS_MAX_FAMILIES; i++)
        refused += metrics_add_family(&color_family) < 0;
    if (refused != 1)
        fail_msg("%d more registrations: got %d refused, want 1", METRICS_MAX_FAMILIES, refused);
}

static char *page_text(size_t *len)
{
    char *t = strdup("{\"ok\":1}\n");

    *len = t ? strlen(t) : 0;
    return t;
}

static char *page_fails(size_t *len)
{
    *len = 0;
    return NULL;
}

/* test_pages - GET of a registered page: its body and Content-Type; a renderer that
 * fails gives 500; pages beyond METRICS_MAX_PAGES are refused */
static void test_pages(void **state)
{
    static char reply[65536];
    int refused = 0;

    (void)state;
    assert_int_equal(metrics_add_page("/page", "application/json", page_text), 0);
    assert_int_equal(metrics_add_page("/broken", "application/json", page_fails), 0);
    assert_int_equal(metrics_start("127.0.0.1:0"), 0);
    assert_int_equal(http_get(metrics_port(), "/page", reply, sizeof(reply)), 0);
    if (strstr(reply, " 200 ") == NULL || strstr(reply, "application/json") == NULL ||
        strstr(reply, "\r\n\r\n{\"ok\":1}\n") == NULL)
        fail_msg("GET /page: got \"%.200s\", want 200 application/json {\"ok\":1}", reply);
    assert_int_equal(http_get(metrics_port(), "/broken", reply, sizeof(reply)), 0);
    if (strstr(reply, " 500 ") == NULL)
        fail_msg("GET /broken: got \"%.60s\", want 500", reply);
    assert_int_equal(http_get(metrics_port(), "/metrics", reply, sizeof(reply)), 0);
    if (strstr(reply, " 200 ") == NULL || strstr(reply, "version=0.0.4") == NULL)
        fail_msg("GET /metrics with pages: got \"%.60s\", want 200", reply);
    metrics_stop();
    for (int i = 0; i < METRICS_MAX_PAGES; i++)
        refused += metrics_add_page("/more", "text/plain", page_text) < 0;
    if (refused != 2)
        fail_msg("%d more pages: got %d refused, want 2", METRICS_MAX_PAGES, refused);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_family),
        cmocka_unit_test(test_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
