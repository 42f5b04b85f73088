/* test_arc_parse.c - the small ARC pieces as tables: header canonicalization (RFC 6376
 * 3.4.1/3.4.2), body canonicalization with l= (3.4.3/3.4.4), tag lists (3.2), the AAR
 * "i=N;" prefix and the results read from its payload; plus arc_eval on messages
 * without ARC and with broken structure (no DNS needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "arc/arc_eval.h"

static const struct {
    const char *in;
    int relaxed;
    const char *want;
} hdr_cases[] = {
    {"Subject: Hello  World ", 0, "Subject: Hello  World \r\n"},
    {"SUBJect \t:  Hello \t World  ", 1, "subject:Hello World\r\n"},
    {"To: a@b.example,\r\n\tc@d.example", 1, "to:a@b.example, c@d.example\r\n"},
    {"To: a@b.example,\r\n\tc@d.example", 0, "To: a@b.example,\r\n\tc@d.example\r\n"},
    {"X-Empty:", 1, "x-empty:\r\n"},
    {"X-Empty:   \r\n  ", 1, "x-empty:\r\n"},
};

static void test_canon_header(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
        char out[256];
        size_t len = 0;
        int rc = arc_canon_header(hdr_cases[i].in, strlen(hdr_cases[i].in), hdr_cases[i].relaxed, 1,
                                  out, sizeof(out) - 1, &len);
        out[len] = '\0';
        if (rc != 0 || strcmp(out, hdr_cases[i].want) != 0)
            fail_msg("arc_canon_header(\"%s\", relaxed=%d): got \"%s\" (rc %d), want \"%s\"",
                     hdr_cases[i].in, hdr_cases[i].relaxed, out, rc, hdr_cases[i].want);
    }
    {
        char small[4];
        size_t len = 0;
        if (arc_canon_header("Subject: long", 13, 1, 1, small, sizeof(small), &len) != -1 ||
            len != 0)
            fail_msg("arc_canon_header into 4 bytes: got len %zu, want -1 and 0", len);
    }
}

struct sink {
    char buf[512];
    size_t n;
};

static void sink_out(void *arg, const void *p, size_t n)
{
    struct sink *s = arg;
    memcpy(s->buf + s->n, p, n);
    s->n += n;
}

static const struct {
    const char *in;
    int relaxed;
    long long limit;
    const char *want;
    unsigned long long total;
} body_cases[] = {
    /* RFC 6376 3.4.5 example */
    {" C \r\nD \t E\r\n\r\n\r\n", 0, -1, " C \r\nD \t E\r\n", 12},
    {" C \r\nD \t E\r\n\r\n\r\n", 1, -1, " C\r\nD E\r\n", 9},
    {"", 0, -1, "\r\n", 2},
    {"", 1, -1, "", 0},
    {"\r\n\r\n", 0, -1, "\r\n", 2},
    {"\r\n\r\n", 1, -1, "", 0},
    {"abc", 0, -1, "abc\r\n", 5},
    {"a\r\n\r\nb", 1, -1, "a\r\n\r\nb\r\n", 8},
    {"a\rb\r\n", 0, -1, "a\rb\r\n", 5},
    {"  \r\nx\r\n", 1, -1, "\r\nx\r\n", 5},
    {"  ", 1, -1, "", 0},
    {"hello world\r\n", 0, 5, "hello", 13},
    {"hello world\r\n", 0, 0, "", 13},
};

static void test_canon_body(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
        struct sink s = {{0}, 0};
        struct arc_body b;
        const char *in = body_cases[i].in;

        arc_body_init(&b, body_cases[i].relaxed, body_cases[i].limit, sink_out, &s);
        for (size_t k = 0; in[k]; k++) /* one byte at a time: chunk borders anywhere */
            arc_body_add(&b, (const unsigned char *)in + k, 1);
        arc_body_end(&b);
        s.buf[s.n] = '\0';
        if (strcmp(s.buf, body_cases[i].want) != 0 || b.total != body_cases[i].total)
            fail_msg("body #%zu relaxed=%d l=%lld: got \"%s\" total %llu, want \"%s\" %llu", i,
                     body_cases[i].relaxed, body_cases[i].limit, s.buf, b.total, body_cases[i].want,
                     body_cases[i].total);
    }
}

static const struct {
    const char *in;
    int ok;
    int n;
    const char *name; /* a tag to look up */
    const char *value;
} tag_cases[] = {
    {"a=rsa-sha256; b=abc; cv=none", 1, 3, "cv", "none"},
    {" a = rsa-sha256 ;\r\n\tb=ab\r\n c ;", 1, 2, "b", "ab\r\n c"},
    {"a=1;", 1, 1, "a", "1"},
    {"", 1, 0, "a", NULL},
    {"a=1;;b=2", 0, 0, NULL, NULL},
    {"a=1; a=2", 0, 0, NULL, NULL},
    {"1a=x", 0, 0, NULL, NULL},
    {"a", 0, 0, NULL, NULL},
    {"a=x\x01y", 0, 0, NULL, NULL},
    {"A=1; a=2", 1, 2, "A", "1"},
    {"h=", 1, 1, "h", ""},
    {"x_y=1", 1, 1, "x_y", "1"},
};

static void test_tags(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
        struct arc_tags t;
        const char *in = tag_cases[i].in;
        int rc = arc_tags_parse(in, strlen(in), &t), ix;

        if ((rc == 0) != tag_cases[i].ok)
            fail_msg("arc_tags_parse(\"%s\"): got %d, want %s", in, rc,
                     tag_cases[i].ok ? "0" : "-1");
        if (rc != 0)
            continue;
        if (t.n != tag_cases[i].n)
            fail_msg("arc_tags_parse(\"%s\"): got %d tags, want %d", in, t.n, tag_cases[i].n);
        ix = arc_tags_get(&t, tag_cases[i].name);
        if (tag_cases[i].value == NULL) {
            if (ix >= 0)
                fail_msg("arc_tags_parse(\"%s\"): tag %s found", in, tag_cases[i].name);
            continue;
        }
        if (ix < 0 || t.t[ix].vlen != strlen(tag_cases[i].value) ||
            memcmp(in + t.t[ix].voff, tag_cases[i].value, t.t[ix].vlen) != 0)
            fail_msg("arc_tags_parse(\"%s\"): %s got \"%.*s\", want \"%s\"", in, tag_cases[i].name,
                     ix < 0 ? 0 : (int)t.t[ix].vlen, ix < 0 ? "" : in + t.t[ix].voff,
                     tag_cases[i].value);
    }
}

static const struct {
    const char *in;
    int ok, instance, dmarc_pass;
    const char *from, *ip;
} aar_cases[] = {
    {"i=1; mx.example; dmarc=pass header.from=Bank.Example; spf=pass smtp.remote-ip=192.0.2.1", 1,
     1, 1, "bank.example", "192.0.2.1"},
    {" i = 12 ;mx.example 1; dmarc=fail (p=reject) header.from=x.example", 1, 12, 0, "", ""},
    {"i=2; mx.example; dkim=pass header.d=dmarc.example (dmarc=pass); dmarc=none", 1, 2, 0, "", ""},
    {"i=3; dmarc=pass header.from=x.example", 1, 3, 0, "", ""}, /* dmarc= is the authserv-id */
    {"i=1; mx.example; arc=none smtp.remote-ip=\"2001:db8::1\"; dmarc=pass", 1, 1, 1, "",
     "2001:db8::1"},
    {"mx.example; i=1; dmarc=pass", 0, 0, 0, "", ""},
    {"i=1 mx.example; dmarc=pass", 0, 0, 0, "", ""},
    {"i=; mx.example", 0, 0, 0, "", ""},
    {"i=1234; mx.example", 0, 0, 0, "", ""},
    {"i=x; mx.example", 0, 0, 0, "", ""},
};

static void test_aar(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(aar_cases) / sizeof(aar_cases[0]); i++) {
        struct arc_set_res s;
        int inst = 0, rc = arc_aar_parse(aar_cases[i].in, strlen(aar_cases[i].in), &inst, &s);

        if ((rc == 0) != aar_cases[i].ok)
            fail_msg("arc_aar_parse(\"%s\"): got %d, want %s", aar_cases[i].in, rc,
                     aar_cases[i].ok ? "0" : "-1");
        if (rc != 0)
            continue;
        if (inst != aar_cases[i].instance || s.aar_dmarc_pass != aar_cases[i].dmarc_pass ||
            strcmp(s.aar_dmarc_from, aar_cases[i].from) != 0 ||
            strcmp(s.aar_remote_ip, aar_cases[i].ip) != 0)
            fail_msg("arc_aar_parse(\"%s\"): got i=%d dmarc_pass=%d from='%s' ip='%s', want "
                     "i=%d %d '%s' '%s'",
                     aar_cases[i].in, inst, s.aar_dmarc_pass, s.aar_dmarc_from, s.aar_remote_ip,
                     aar_cases[i].instance, aar_cases[i].dmarc_pass, aar_cases[i].from,
                     aar_cases[i].ip);
    }
}

/* Whole messages that fail (or are none) before any key is needed. */
static const struct {
    const char *hdrs[6][2];
    enum auth_res want;
    const char *reason_prefix;
} msg_cases[] = {
    {{{"From", " a@b.example"}, {NULL, NULL}}, AUTH_NONE, ""},
    {{{"ARC-Authentication-Results", " i=1; mx.example; dmarc=pass"}, {NULL, NULL}},
     AUTH_FAIL,
     ARC_REASON_STRUCTURE},
    {{{"ARC-Seal", " i=51; a=rsa-sha256; cv=none; d=x.example; s=s; b=AAAA"}, {NULL, NULL}},
     AUTH_FAIL,
     ARC_REASON_INSTANCE},
    {{{"ARC-Seal", " i=1; a=rsa-sha256; cv=none; d=x.example; s=s; b=AAAA"},
      {"ARC-Seal", " i=1; a=rsa-sha256; cv=none; d=x.example; s=s; b=AAAA"},
      {NULL, NULL}},
     AUTH_FAIL,
     ARC_REASON_STRUCTURE},
    {{{"ARC-Seal", " i=1; a=rsa-sha256; cv=fail; d=x.example; s=s; b=AAAA"},
      {"ARC-Message-Signature",
       " i=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3"
       "hSuFU=; b=AAAA"},
      {"ARC-Authentication-Results", " i=1; mx.example; dmarc=pass"},
      {NULL, NULL}},
     AUTH_FAIL,
     ARC_REASON_CV_FAIL},
    {{{"ARC-Seal", " i=1; a=rsa-sha1; cv=none; d=x.example; s=s; b=AAAA"},
      {"ARC-Message-Signature",
       " i=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3"
       "hSuFU=; b=AAAA"},
      {"ARC-Authentication-Results", " i=1; mx.example; dmarc=pass"},
      {NULL, NULL}},
     AUTH_FAIL,
     ARC_REASON_SYNTAX},
};

static void test_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(msg_cases) / sizeof(msg_cases[0]); i++) {
        struct dns *d = dns_stub_new();
        struct arc_eval *v = arc_eval_new(NULL, d);
        static struct arc_res r;

        arc_eval_set_leadspace(v, 1);
        for (int k = 0; msg_cases[i].hdrs[k][0] != NULL; k++)
            arc_eval_header(v, msg_cases[i].hdrs[k][0], msg_cases[i].hdrs[k][1]);
        arc_eval_eoh(v);
        arc_eval_body(v, (const unsigned char *)"body\r\n", 6);
        arc_eval_finish(v, &r);
        if (r.result != msg_cases[i].want ||
            strncmp(r.reason, msg_cases[i].reason_prefix, strlen(msg_cases[i].reason_prefix)) != 0)
            fail_msg("message #%zu: got %s \"%s\", want %s \"%s...\"", i, auth_res_name(r.result),
                     r.reason, auth_res_name(msg_cases[i].want), msg_cases[i].reason_prefix);
        if (dns_stub_queries(d) != 0)
            fail_msg("message #%zu: %d DNS queries, want 0", i, dns_stub_queries(d));
        arc_eval_free(v);
        dns_free(d);
    }
}

/* A header section past ARC_MAX_HEADER_BYTES with an ARC field fails, never crashes. */
static void test_too_big(void **state)
{
    static char big[60000];
    struct dns *d = dns_stub_new();
    struct arc_eval *v = arc_eval_new(NULL, d);
    static struct arc_res r;

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    arc_eval_header(v, "ARC-Seal", " i=1; a=rsa-sha256; cv=none; d=x.example; s=s; b=AAAA");
    for (int k = 0; k < 6; k++)
        arc_eval_header(v, "X-Filler", big);
    arc_eval_eoh(v);
    arc_eval_finish(v, &r);
    if (r.result != AUTH_FAIL || strcmp(r.reason, ARC_REASON_TOO_BIG) != 0)
        fail_msg("too big: got %s \"%s\", want fail \"%s\"", auth_res_name(r.result), r.reason,
                 ARC_REASON_TOO_BIG);
    arc_eval_free(v);
    dns_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon_header), cmocka_unit_test(test_canon_body),
        cmocka_unit_test(test_tags),         cmocka_unit_test(test_aar),
        cmocka_unit_test(test_messages),     cmocka_unit_test(test_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
