/* test_milter_wire.c - the milter wire functions (src/milter/mlt_wire.c) as tables:
 * framing (mlt_wire_next), NUL-separated strings, option negotiation, connect
 * information, macro lookup, and reply encoding read back through the framer. Every
 * input is copied to an exact-size heap buffer so ASan sees a read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include <libmilter/mfdef.h>

#include "milter/mlt_wire.h"

/* dup - an exact-size heap copy of b[0..n) (1 byte when n is 0, never read) */
static char *dup(const char *b, size_t n)
{
    char *p = malloc(n ? n : 1);

    assert_non_null(p);
    if (n)
        memcpy(p, b, n);
    return p;
}

static void test_next_table(void **state)
{
    /* bytes, their count, max data, want rc, cmd, data length, used */
    static const struct {
        const char *in;
        size_t n, max;
        int rc;
        char cmd;
        size_t dlen, used;
    } cases[] = {
        {"", 0, 100, 0, 0, 0, 0},              /* nothing yet */
        {"\0\0\0", 3, 100, 0, 0, 0, 0},        /* short length */
        {"\0\0\0\1", 4, 100, 0, 0, 0, 0},      /* length, no command */
        {"\0\0\0\1Q", 5, 100, 1, 'Q', 0, 5},   /* exact */
        {"\0\0\0\3Da", 6, 100, 0, 0, 0, 0},    /* one byte short */
        {"\0\0\0\3Dab", 7, 100, 1, 'D', 2, 7}, /* exact with data */
        {"\0\0\0\0", 4, 100, -1, 0, 0, 0},     /* zero length */
        {"\0\0\0\0Q", 5, 100, -1, 0, 0, 0},    /* zero length, more */
        {"\0\0\0\4Babc", 8, 3, 1, 'B', 3, 8},  /* data of max bytes */
        {"\0\0\0\5Babcd", 9, 3, -1, 0, 0, 0},  /* max + 1 */
        {"\0\0\0\x65"
         "B",
         5, 100, 0, 0, 0, 0}, /* max: waits for it */
        {"\0\0\0\x66"
         "B",
         5, 100, -1, 0, 0, 0}, /* max + 1: at once */
        {"\xff\xff\xff\xff"
         "B",
         5, MLT_WIRE_MAX_DATA, -1, 0, 0, 0}, /* 4 GB */
        {"\0\x04\0\0"
         "B",
         5, MLT_WIRE_MAX_DATA, 0, 0, 0, 0}, /* 256 KB - 1 data: waits */
        {"\0\x04\0\1"
         "B",
         5, MLT_WIRE_MAX_DATA, -1, 0, 0, 0},           /* 256 KB data + cmd */
        {"\0\0\0\1Q\0\0\0\1A", 10, 100, 1, 'Q', 0, 5}, /* two back to back */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *b = dup(cases[i].in, cases[i].n);
        struct mlt_pkt p = {0, NULL, 0};
        size_t used = 0;
        int rc = mlt_wire_next(b, cases[i].n, cases[i].max, &p, &used);

        if (rc != cases[i].rc)
            fail_msg("case %zu: got rc %d, want %d", i, rc, cases[i].rc);
        if (rc == 1 && (p.cmd != cases[i].cmd || p.len != cases[i].dlen || used != cases[i].used ||
                        p.data != b + 5))
            fail_msg("case %zu: got cmd %c len %zu used %zu, want %c %zu %zu", i, p.cmd, p.len,
                     used, cases[i].cmd, cases[i].dlen, cases[i].used);
        if (rc == 1 && mlt_wire_need(b, cases[i].n) != used)
            fail_msg("case %zu: mlt_wire_need %zu, used %zu", i, mlt_wire_need(b, cases[i].n),
                     used);
        if (cases[i].n < 5 && mlt_wire_need(b, cases[i].n) != 5)
            fail_msg("case %zu: mlt_wire_need of a short buffer is not 5", i);
        free(b);
    }
    (void)state;
}

/* Two packets in one buffer are taken one after the other. */
static void test_next_back_to_back(void **state)
{
    static const char in[] = "\0\0\0\3Lab\0\0\0\1N";
    size_t n = sizeof(in) - 1, off = 0, used = 0;
    char *b = dup(in, n);
    struct mlt_pkt p;
    char got[3] = {0};
    int k = 0;

    while (mlt_wire_next(b + off, n - off, 100, &p, &used) == 1 && k < 2) {
        got[k++] = p.cmd;
        off += used;
    }
    assert_string_equal(got, "LN");
    assert_int_equal(off, n);
    assert_int_equal(mlt_wire_need(b, n), 7);
    free(b);
    (void)state;
}

static void test_strings_table(void **state)
{
    static const struct {
        const char *in;
        size_t n;
        int max, rc;
        const char *want; /* the strings joined with '|' */
    } cases[] = {
        {"", 0, 8, -1, ""},
        {"a", 1, 8, -1, ""},    /* no trailing NUL */
        {"a\0b", 3, 8, -1, ""}, /* the last string has none */
        {"\0", 1, 8, 1, ""},    /* one empty string */
        {"<a@b>\0", 6, 8, 1, "<a@b>"},
        {"<a@b>\0SIZE=10\0BODY=8BITMIME\0", 28, 8, 3, "<a@b>|SIZE=10|BODY=8BITMIME"},
        {"a\0b\0c\0", 6, 2, 2, "a|b"}, /* max: the rest ignored */
        {"a\0\0c\0", 5, 8, 3, "a||c"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out[9];
        char *b = dup(cases[i].in, cases[i].n);
        char joined[128] = "";
        int rc = mlt_wire_strings(b, cases[i].n, out, cases[i].max);

        if (rc != cases[i].rc)
            fail_msg("case %zu: got %d strings, want %d", i, rc, cases[i].rc);
        for (int k = 0; k < rc; k++) {
            if (k)
                strcat(joined, "|");
            strcat(joined, out[k]);
        }
        if (rc >= 0 && (out[rc] != NULL || strcmp(joined, cases[i].want) != 0))
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, joined, cases[i].want);
        free(b);
    }
    (void)state;
}

static void test_optneg_table(void **state)
{
    static const struct {
        const char *in;
        size_t n;
        int rc;
        uint32_t ver, act, proto;
    } cases[] = {
        {"\0\0\0\6\0\0\0\x3f\0\x1f\xff\xff", 12, 0, 6, 0x3f, 0x1fffff},
        {"\0\0\0\2\0\0\0\1\0\0\0\0extra", 17, 0, 2, 1, 0},
        {"\0\0\0\6\0\0\0\x3f\0\x1f\xff", 11, -1, 0, 0, 0},
        {"", 0, -1, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *b = dup(cases[i].in, cases[i].n);
        struct mlt_pkt p = {SMFIC_OPTNEG, b, cases[i].n};
        uint32_t v = 0, a = 0, pr = 0;
        int rc = mlt_wire_optneg(&p, &v, &a, &pr);

        if (rc != cases[i].rc)
            fail_msg("case %zu: got %d, want %d", i, rc, cases[i].rc);
        if (rc == 0 && (v != cases[i].ver || a != cases[i].act || pr != cases[i].proto))
            fail_msg("case %zu: got %u/%x/%x, want %u/%x/%x", i, v, a, pr, cases[i].ver,
                     cases[i].act, cases[i].proto);
        free(b);
    }
    (void)state;
}

static void test_connect_table(void **state)
{
    static const struct {
        const char *in;
        size_t n;
        int rc, has_addr, family;
        const char *host, *addr; /* addr as inet_ntop gives it */
        unsigned port;
    } cases[] = {
        {"mx.example\0U", 12, 0, 0, 0, "mx.example", NULL, 0},
        {"local\0L\0\0/var/run/x\0", 20, 0, 0, 0, "local", NULL, 0},
        {"mx\0"
         "4\x01\xbb"
         "192.0.2.7\0",
         16, 0, 1, AF_INET, "mx", "192.0.2.7", 443},
        {"mx\0"
         "6\0\x19"
         "2001:db8::5\0",
         18, 0, 1, AF_INET6, "mx", "2001:db8::5", 25},
        {"mx\0"
         "6\0\x19"
         "IPv6:2001:db8::6\0",
         23, 0, 1, AF_INET6, "mx", "2001:db8::6", 25},
        {"mx\0"
         "6\0\x19"
         "ipv6:::1\0",
         15, 0, 1, AF_INET6, "mx", "::1", 25},
        {"mx\0"
         "4\0\x19"
         "192.0.2.300\0",
         18, -1, 0, 0, NULL, NULL, 0}, /* bad address */
        {"mx\0"
         "4\0\x19"
         "2001:db8::1\0",
         18, -1, 0, 0, NULL, NULL, 0}, /* v6 as v4 */
        {"mx\0"
         "6\0\x19"
         "192.0.2.1\0",
         16, -1, 0, 0, NULL, NULL, 0}, /* v4 as v6 */
        {"mx\0"
         "4\0\x19"
         "192.0.2.1",
         15, -1, 0, 0, NULL, NULL, 0}, /* missing NUL */
        {"mx\0"
         "X\0\x19"
         "192.0.2.1\0",
         16, -1, 0, 0, NULL, NULL, 0}, /* unknown family */
        {"mx\0"
         "4\0",
         5, -1, 0, 0, NULL, NULL, 0}, /* truncated port */
        {"mx\0"
         "4\0\x19",
         6, -1, 0, 0, NULL, NULL, 0},         /* no address */
        {"mx\0", 3, -1, 0, 0, NULL, NULL, 0}, /* no family */
        {"mx", 2, -1, 0, 0, NULL, NULL, 0},   /* host no NUL */
        {"", 0, -1, 0, 0, NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *b = dup(cases[i].in, cases[i].n);
        struct mlt_pkt p = {SMFIC_CONNECT, b, cases[i].n};
        struct sockaddr_storage ss;
        const char *host = NULL;
        int has = -1, rc = mlt_wire_connect(&p, &host, &ss, &has);
        char txt[INET6_ADDRSTRLEN] = "";
        unsigned port = 0;

        if (rc != cases[i].rc)
            fail_msg("case %zu: got %d, want %d", i, rc, cases[i].rc);
        if (rc < 0) {
            free(b);
            continue;
        }
        if (strcmp(host, cases[i].host) != 0 || has != cases[i].has_addr)
            fail_msg("case %zu: got host %s addr %d, want %s %d", i, host, has, cases[i].host,
                     cases[i].has_addr);
        if (has && ss.ss_family != cases[i].family)
            fail_msg("case %zu: family %d, want %d", i, ss.ss_family, cases[i].family);
        if (has && ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, txt, sizeof(txt));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (has) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, txt, sizeof(txt));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        if (has && (strcmp(txt, cases[i].addr) != 0 || port != cases[i].port))
            fail_msg("case %zu: got %s port %u, want %s %u", i, txt, port, cases[i].addr,
                     cases[i].port);
        free(b);
    }
    (void)state;
}

static void test_macro_find_table(void **state)
{
    static const char set[] = "i\0QID1\0{auth_authen}\0alice\0{j}\0mx.local\0{}\0empty\0";
    static const struct {
        const char *data;
        size_t n;
        const char *name, *want;
    } cases[] = {
        {set, sizeof(set) - 1, "i", "QID1"},
        {set, sizeof(set) - 1, "{i}", "QID1"},   /* sent "i", asked "{i}" */
        {set, sizeof(set) - 1, "j", "mx.local"}, /* sent "{j}", asked "j" */
        {set, sizeof(set) - 1, "{j}", "mx.local"},
        {set, sizeof(set) - 1, "auth_authen", "alice"},
        {set, sizeof(set) - 1, "{auth_authen}", "alice"},
        {set, sizeof(set) - 1, "{auth_author}", NULL},
        {set, sizeof(set) - 1, "{i", NULL},
        {set, sizeof(set) - 1, "QID1", NULL}, /* a value is not a name */
        {set, sizeof(set) - 1, "x", NULL},
        {"i\0QID1", 6, "i", NULL},        /* value without its NUL */
        {"i\0QID1\0j", 8, "j", NULL},     /* name without its NUL */
        {"i\0QID1\0j\0", 9, "j", NULL},   /* name without a value */
        {"i\0QID1\0j\0", 9, "i", "QID1"}, /* earlier pair still found */
        {"i", 1, "i", NULL},
        {"", 0, "i", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *b = dup(cases[i].data, cases[i].n);
        const char *v = mlt_wire_macro_find(b, cases[i].n, cases[i].name);

        if ((v == NULL) != (cases[i].want == NULL) || (v != NULL && strcmp(v, cases[i].want) != 0))
            fail_msg("case %zu (%s): got %s, want %s", i, cases[i].name, v ? v : "(null)",
                     cases[i].want ? cases[i].want : "(null)");
        free(b);
    }
    (void)state;
}

/* Each put, read back with mlt_wire_next: command, data bytes, the whole buffer used. */
static void test_put_roundtrip(void **state)
{
    static const struct {
        char cmd;
        int has_index;
        uint32_t index;
        const char *s1, *s2, *raw;
        size_t rawlen;
        const char *want; /* data */
        size_t wlen;
    } cases[] = {
        {SMFIR_CONTINUE, 0, 0, NULL, NULL, NULL, 0, "", 0},
        {SMFIR_ADDHEADER, 0, 0, "X-A", "v", NULL, 0, "X-A\0v\0", 6},
        {SMFIR_INSHEADER, 1, 0, "X-A", " v", NULL, 0, "\0\0\0\0X-A\0 v\0", 11},
        {SMFIR_CHGHEADER, 1, 0x01020304, "X-B", "", NULL, 0, "\1\2\3\4X-B\0\0", 9},
        {SMFIR_REPLYCODE, 0, 0, "550 5.7.1 no", NULL, NULL, 0, "550 5.7.1 no\0", 13},
        {SMFIR_QUARANTINE, 0, 0, "held", NULL, NULL, 0, "held\0", 5},
        {SMFIR_REPLBODY, 0, 0, NULL, NULL, "a\0b", 3, "a\0b", 3},
    };
    struct mlt_out o = {NULL, 0, 0, 0};
    size_t off = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(mlt_wire_put(&o, cases[i].cmd, cases[i].has_index, cases[i].index,
                                      cases[i].s1, cases[i].s2, cases[i].raw, cases[i].rawlen),
                         0);
    assert_int_equal(mlt_wire_put_optneg(&o, 6, 0x31, 0x80), 0);
    for (size_t i = 0; i <= sizeof(cases) / sizeof(cases[0]); i++) {
        struct mlt_pkt p;
        size_t used;

        if (mlt_wire_next(o.buf + off, o.len - off, MLT_WIRE_MAX_DATA, &p, &used) != 1)
            fail_msg("packet %zu: not read back", i);
        off += used;
        if (i == sizeof(cases) / sizeof(cases[0])) {
            uint32_t v, a, pr;

            assert_int_equal(p.cmd, SMFIC_OPTNEG);
            assert_int_equal(mlt_wire_optneg(&p, &v, &a, &pr), 0);
            assert_true(v == 6 && a == 0x31 && pr == 0x80 && p.len == MILTER_OPTLEN);
            continue;
        }
        if (p.cmd != cases[i].cmd || p.len != cases[i].wlen ||
            memcmp(p.data, cases[i].want, p.len) != 0)
            fail_msg("packet %zu: got cmd %c len %zu, want %c %zu", i, p.cmd, p.len, cases[i].cmd,
                     cases[i].wlen);
    }
    assert_int_equal(off, o.len);
    assert_int_equal(o.overflow, 0);
    mlt_out_reset(&o);
    assert_int_equal(o.len, 0);
    mlt_out_free(&o);
    assert_null(o.buf);
    (void)state;
}

/* A packet past MLT_WIRE_MAX_DATA, or queued bytes past MLT_WIRE_MAX_OUT, is refused and
 * marks the buffer overflowed (the connection then ends); until reset, nothing more goes. */
static void test_put_bounds(void **state)
{
    struct mlt_out o = {NULL, 0, 0, 0};
    size_t big = MLT_WIRE_MAX_DATA; /* the most data a packet carries */
    char *raw = calloc(1, big + 1);
    int k = 0;

    assert_non_null(raw);
    assert_int_equal(mlt_wire_put(&o, SMFIR_REPLBODY, 0, 0, NULL, NULL, raw, big), 0);
    assert_int_equal(o.len, 4 + 1 + big);
    mlt_out_reset(&o);
    assert_int_equal(mlt_wire_put(&o, SMFIR_REPLBODY, 0, 0, NULL, NULL, raw, big + 1), -1);
    assert_int_equal(o.overflow, 1);
    assert_int_equal(mlt_wire_put(&o, SMFIR_CONTINUE, 0, 0, NULL, NULL, NULL, 0), -1);
    mlt_out_reset(&o);
    /* maximal packets up to the 1 MB bound: the one that would pass it is refused */
    while (mlt_wire_put(&o, SMFIR_REPLBODY, 0, 0, NULL, NULL, raw, big) == 0)
        k++;
    assert_int_equal(k, MLT_WIRE_MAX_OUT / (4 + MLT_WIRE_MAX_DATA + 1));
    assert_true(o.len <= MLT_WIRE_MAX_OUT);
    assert_int_equal(o.overflow, 1);
    mlt_out_free(&o);
    free(raw);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_table),    cmocka_unit_test(test_next_back_to_back),
        cmocka_unit_test(test_strings_table), cmocka_unit_test(test_optneg_table),
        cmocka_unit_test(test_connect_table), cmocka_unit_test(test_macro_find_table),
        cmocka_unit_test(test_put_roundtrip), cmocka_unit_test(test_put_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
