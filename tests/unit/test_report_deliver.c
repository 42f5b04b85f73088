/* test_report_deliver.c - rua parsing (table: URIs, !size units, %-escapes, other schemes,
 * duplicates, malformed), file names, report ids, XML escaping, gzip round trip and the
 * MIME frame of a report mail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "report/report.h"

static void test_parse_rua(void **state)
{
    static const struct {
        const char *rua;
        int n, skipped;
        const char *addr0;
        unsigned long long max0;
        const char *addr1;
    } cases[] = {
        {"mailto:a@example.com", 1, 0, "a@example.com", 0, NULL},
        {"mailto:a@Example.COM!10m", 1, 0, "a@example.com", 10ULL << 20, NULL},
        {"mailto:a@x.example!500, mailto:b@y.example!2k", 2, 0, "a@x.example", 500, "b@y.example"},
        {"mailto:a%40b@x.example", 1, 0, "a@b@x.example", 0, NULL},
        {"https://x.example/r, mailto:r@x.example", 1, 1, "r@x.example", 0, NULL},
        {"mailto:r@x.example,mailto:R@X.example", 1, 0, "r@x.example", 0, NULL},
        {"mailto:r@x.example!0", 0, 1, NULL, 0, NULL},
        {"mailto:r@x.example!10q", 0, 1, NULL, 0, NULL},
        {"mailto:nodomain", 0, 1, NULL, 0, NULL},
        {"mailto:r@x.example?subject=hi", 0, 1, NULL, 0, NULL},
        {"mailto:a b@x.example", 0, 1, NULL, 0, NULL},
        {"mailto:<r@x.example>", 0, 1, NULL, 0, NULL},
        {"", 0, 0, NULL, 0, NULL},
        {" , ,", 0, 0, NULL, 0, NULL},
        {"mailto:r@x.example!1g", 1, 0, "r@x.example", 1ULL << 30, NULL},
    };
    struct report_dest d[REPORT_MAX_DESTS];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int skipped = -1;
        int n = report_parse_rua(cases[i].rua, d, REPORT_MAX_DESTS, &skipped);

        if (n != cases[i].n || skipped != cases[i].skipped)
            fail_msg("report_parse_rua(\"%s\"): got n=%d skipped=%d, want n=%d skipped=%d",
                     cases[i].rua, n, skipped, cases[i].n, cases[i].skipped);
        if (cases[i].addr0 != NULL &&
            (strcmp(d[0].addr, cases[i].addr0) != 0 || d[0].max_bytes != cases[i].max0))
            fail_msg("report_parse_rua(\"%s\"): got %s/%llu, want %s/%llu", cases[i].rua, d[0].addr,
                     d[0].max_bytes, cases[i].addr0, cases[i].max0);
        if (cases[i].addr1 != NULL && strcmp(d[1].addr, cases[i].addr1) != 0)
            fail_msg("report_parse_rua(\"%s\"): second got %s, want %s", cases[i].rua, d[1].addr,
                     cases[i].addr1);
    }
}

static void test_names(void **state)
{
    char name[REPORT_NAME_MAX], id[REPORT_ID_MAX], id2[REPORT_ID_MAX];

    assert_int_equal(
        report_file_name(name, sizeof(name), "isp.example", "d.example", 100, 199, "100.abc"), 0);
    assert_string_equal(name, "isp.example!d.example!100!199!100.abc.xml.gz");
    assert_int_equal(report_file_name(name, sizeof(name), "isp.example", "../etc", 1, 2, "x"), -1);
    report_new_id(id, sizeof(id), 1700006400);
    report_new_id(id2, sizeof(id2), 1700006400);
    assert_int_equal(strlen(id), strlen("1700006400.") + 16);
    if (strcmp(id, id2) == 0)
        fail_msg("report_new_id: got the same id twice: %s", id);
}

static void test_xml_text(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "plain"},
        {"a<b>&\"c'", "a&lt;b&gt;&amp;&quot;c&apos;"},
        {"ctl\x01\x1f\tend", "ctl\tend"},
        {"", ""},
    };
    char *buf = NULL;
    size_t len = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FILE *fp = open_memstream(&buf, &len);

        assert_int_equal(rua_xml_text(fp, cases[i].in), 0);
        fclose(fp);
        if (strcmp(buf, cases[i].want) != 0)
            fail_msg("rua_xml_text(\"%s\"): got \"%s\", want \"%s\"", cases[i].in, buf,
                     cases[i].want);
        free(buf);
        buf = NULL;
    }
}

static void test_gzip_and_mime(void **state)
{
    static const char xml[] = "<feedback>report</feedback>\n";
    unsigned char *gz = NULL, back[128];
    size_t gzlen = 0;
    z_stream z;
    char *msg = NULL;
    size_t len = 0;
    struct report_mail m = {"reports@isp.example",
                            "agg@d.example",
                            "d.example",
                            "isp.example",
                            "100.abc",
                            "isp.example!d.example!100!199!100.abc.xml.gz",
                            100,
                            199,
                            1700000000};

    assert_int_equal(report_gzip(xml, strlen(xml), "f.xml", &gz, &gzlen), 0);
    assert_true(gzlen > 18 && gz[0] == 0x1f && gz[1] == 0x8b);
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = gz;
    z.avail_in = (uInt)gzlen;
    z.next_out = back;
    z.avail_out = sizeof(back);
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, strlen(xml));
    assert_memory_equal(back, xml, strlen(xml));
    inflateEnd(&z);

    assert_int_equal(report_mime(&m, gz, gzlen, &msg, &len), 0);
    assert_non_null(strstr(msg, "\nSubject: Report Domain: d.example Submitter: isp.example "
                                "Report-ID: <100.abc>\n"));
    assert_non_null(strstr(msg, "Content-Type: application/gzip; name=\""));
    assert_non_null(strstr(msg, "filename=\"isp.example!d.example!100!199!100.abc.xml.gz\""));
    assert_non_null(strstr(msg, "Date: Tue, 14 Nov 2023 22:13:20 +0000\n"));
    assert_int_equal(strncmp(msg, "From: reports@isp.example\nTo: agg@d.example\n", 44), 0);
    free(msg);
    free(gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_rua),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_xml_text),
        cmocka_unit_test(test_gzip_and_mime),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
