/* test_arc_seal.c - ARC sealing as tables: a set we add must verify with our own verifier
 * (arc_eval, keys from the DNS stub), for RSA and Ed25519 keys, on top of our own earlier
 * sets; the cv= we write follows the chain status; no set after a newest cv=fail, none
 * past i=50, none when the header is too large; h= lists each present field once per
 * occurrence, newest first; the standard form (sorted tags, no white space in b=). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "arc/arc_eval.h"
#include "arc/arc_seal.h"
#include "dns/dns.h"

#define MAX_FIELDS 64

struct msg {
    int n;
    char *name[MAX_FIELDS];
    char *value[MAX_FIELDS];
    const char *body;
};

static const char *const base_fields[][2] = {
    {"Received", " from a.example by b.example; Mon, 30 Nov 2026 10:00:00 +0000"},
    {"From", " Alice <alice@a.example>"},
    {"To", " bob@b.example"},
    {"Subject", " Hello\n\tthere"},
    {"Date", " Mon, 30 Nov 2026 10:00:00 +0000"},
    {"X-List", " one"},
    {"X-List", " two"},
};
static const char body[] = "Hello  Bob,\r\n\r\nsee you.  \r\n\r\n\r\n";

/* msg_add - append a field (copied) at the bottom, or at the top when top */
static void msg_add(struct msg *m, const char *name, const char *value, int top)
{
    assert_true(m->n < MAX_FIELDS);
    if (top) {
        memmove(m->name + 1, m->name, sizeof(m->name[0]) * (size_t)m->n);
        memmove(m->value + 1, m->value, sizeof(m->value[0]) * (size_t)m->n);
    }
    m->name[top ? 0 : m->n] = strdup(name);
    m->value[top ? 0 : m->n] = strdup(value);
    m->n++;
}

static void msg_base(struct msg *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < sizeof(base_fields) / sizeof(base_fields[0]); i++)
        msg_add(m, base_fields[i][0], base_fields[i][1], 0);
    m->body = body;
}

static void msg_clear(struct msg *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->name[i]);
        free(m->value[i]);
    }
    m->n = 0;
}

/* publish - the key's public half as a DKIM key record at sel._domainkey.example.org */
static void publish(struct dns *dns, EVP_PKEY *k, const char *sel)
{
    unsigned char der[4096], *p = der;
    char b64[6000], txt[6100], name[256];
    size_t len = sizeof(der);
    int n;

    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
        assert_int_equal(EVP_PKEY_get_raw_public_key(k, der, &len), 1);
        n = (int)len;
    } else {
        n = i2d_PUBKEY(k, &p);
    }
    assert_true(n > 0);
    EVP_EncodeBlock((unsigned char *)b64, der, n);
    snprintf(txt, sizeof(txt), "v=DKIM1; k=%s; p=%s",
             EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? "ed25519" : "rsa", b64);
    snprintf(name, sizeof(name), "%s._domainkey.example.org", sel);
    assert_int_equal(dns_stub_add(dns, name, DNS_T_TXT, txt), 0);
}

/* verify - arc_eval over m */
static void verify(struct dns *dns, const struct msg *m, struct arc_res *r)
{
    struct arc_eval *v = arc_eval_new(NULL, dns);

    assert_non_null(v);
    for (int i = 0; i < m->n; i++)
        arc_eval_header(v, m->name[i], m->value[i]);
    arc_eval_eoh(v);
    arc_eval_body(v, (const unsigned char *)m->body, strlen(m->body));
    assert_int_equal(arc_eval_finish(v, r), 0);
    arc_eval_free(v);
}

/* seal - run arc_seal over m with chain status chain; the set goes on top of m */
static int seal(EVP_PKEY *k, const char *sel, const char *headers, struct msg *m,
                enum auth_res chain, struct arc_seal_out *out)
{
    struct arc_seal_conf conf = {k, "example.org", sel, headers};
    struct arc_seal_in in = {chain, "mx.example.org; spf=pass smtp.mailfrom=a.example", 1700000000,
                             "\n "};
    struct arc_seal *s = arc_seal_new(&conf);
    int rc;

    assert_non_null(s);
    for (int i = 0; i < m->n; i++)
        arc_seal_header(s, m->name[i], m->value[i]);
    arc_seal_body(s, (const unsigned char *)m->body, 7); /* in two chunks */
    arc_seal_body(s, (const unsigned char *)m->body + 7, strlen(m->body) - 7);
    rc = arc_seal_finish(s, &in, out);
    if (out->sealed) {
        msg_add(m, "ARC-Authentication-Results", out->aar, 1);
        msg_add(m, "ARC-Message-Signature", out->ams, 1);
        msg_add(m, "ARC-Seal", out->as, 1);
        out->as = m->value[0]; /* the copies: the sealer's own go with arc_seal_free */
        out->ams = m->value[1];
        out->aar = m->value[2];
    }
    arc_seal_free(s);
    return rc;
}

/* One round trip per row: seal rounds times (each on the verifier's result), then verify. */
static const struct {
    const char *keytype; /* "RSA" or "ED25519" */
    int rounds;
    enum auth_res want;
    int want_sets;
} trip_cases[] = {
    {"RSA", 1, AUTH_PASS, 1},
    {"ED25519", 1, AUTH_PASS, 1},
    {"RSA", 3, AUTH_PASS, 3},
    {"ED25519", 2, AUTH_PASS, 2},
};

static EVP_PKEY *keygen(const char *type)
{
    EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024)
                                           : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    return k;
}

static void test_round_trip(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(trip_cases) / sizeof(trip_cases[0]); c++) {
        struct dns *dns = dns_stub_new();
        EVP_PKEY *k = keygen(trip_cases[c].keytype);
        struct arc_res r;
        struct arc_seal_out out;
        struct msg m;
        char want_cv[8];

        publish(dns, k, "s1");
        msg_base(&m);
        memset(&r, 0, sizeof(r));
        r.result = AUTH_NONE;
        for (int i = 1; i <= trip_cases[c].rounds; i++) {
            assert_int_equal(seal(k, "s1", NULL, &m, r.result, &out), 0);
            snprintf(want_cv, sizeof(want_cv), "%s", i == 1 ? "none" : "pass");
            if (!out.sealed || out.instance != i || strcmp(out.cv, want_cv) != 0)
                fail_msg("%s round %d: got sealed=%d i=%d cv=%s (%s), want i=%d cv=%s",
                         trip_cases[c].keytype, i, out.sealed, out.instance, out.cv ? out.cv : "-",
                         out.reason, i, want_cv);
            verify(dns, &m, &r);
        }
        if (r.result != trip_cases[c].want || r.nsets != trip_cases[c].want_sets)
            fail_msg("%s x%d: got arc=%s sets=%d (%s), want %s sets=%d", trip_cases[c].keytype,
                     trip_cases[c].rounds, auth_res_name(r.result), r.nsets, r.reason,
                     auth_res_name(trip_cases[c].want), trip_cases[c].want_sets);
        msg_clear(&m);
        EVP_PKEY_free(k);
        dns_free(dns);
    }
}

/* The h= list and the standard form. */
static void test_form(void **state)
{
    EVP_PKEY *k = keygen("RSA");
    struct arc_seal_out out;
    struct msg m;
    static const struct {
        const char *headers;
        const char *want_h; /* "" = not sealed */
    } rows[] = {
        {"From:To:Subject", "h=from:to:subject;"},
        {"x-list:from:cc", "h=x-list:x-list:from;"},
        {"cc:reply-to", ""}, /* none present: nothing to sign */
        {NULL, "h=from:to:subject:date;"},
    };

    (void)state;
    for (size_t c = 0; c < sizeof(rows) / sizeof(rows[0]); c++) {
        msg_base(&m);
        seal(k, "s1", rows[c].headers, &m, AUTH_NONE, &out);
        if (rows[c].want_h[0] == '\0') {
            if (out.sealed)
                fail_msg("headers \"%s\": got a seal, want none", rows[c].headers);
        } else if (!out.sealed || strstr(out.ams, rows[c].want_h) == NULL) {
            fail_msg("headers \"%s\": got %s, want %s", rows[c].headers,
                     out.sealed ? out.ams : out.reason, rows[c].want_h);
        }
        msg_clear(&m);
    }
    /* tags in order, one fold after each ';', nothing inside b= */
    msg_base(&m);
    seal(k, "s1", "from", &m, AUTH_NONE, &out);
    assert_true(out.sealed);
    if (strncmp(out.as, "a=rsa-sha256;\n b=", 17) != 0 ||
        strstr(out.as, ";\n cv=none;\n d=") == NULL ||
        strstr(out.as, ";\n i=1;\n s=s1;\n t=1700000000") == NULL)
        fail_msg("ARC-Seal form: got \"%s\"", out.as);
    {
        const char *b = out.ams + 17, *e = strchr(b, ';');
        if (e == NULL || strcspn(b, " \t\r\n") < (size_t)(e - b) || e - b != 172)
            fail_msg("AMS b=: got \"%.*s\", want 172 base64 characters", (int)(e ? e - b : 20), b);
    }
    if (strncmp(out.aar, "i=1; mx.example.org; spf=pass", 29) != 0)
        fail_msg("AAR: got \"%s\"", out.aar);
    msg_clear(&m);
    EVP_PKEY_free(k);
}

/* When no set is added, or cv=fail is written. */
static void test_decisions(void **state)
{
    EVP_PKEY *k = keygen("RSA");
    struct dns *dns = dns_stub_new();
    struct arc_seal_out out;
    struct arc_res r;
    struct msg m;
    char as[256];

    (void)state;
    publish(dns, k, "s1");
    /* a newest ARC-Seal with cv=fail: nothing */
    msg_base(&m);
    msg_add(&m, "ARC-Seal", " a=rsa-sha256; b=AAAA; cv=fail; d=x.example; i=2; s=s; t=1", 1);
    msg_add(&m, "ARC-Seal", " a=rsa-sha256; b=AAAA; cv=none; d=x.example; i=1; s=s; t=1", 0);
    assert_int_equal(seal(k, "s1", NULL, &m, AUTH_FAIL, &out), 0);
    if (out.sealed || strcmp(out.reason, ARC_SEAL_NOT_FAILED_CHAIN) != 0)
        fail_msg("newest cv=fail: got sealed=%d (%s), want not sealed", out.sealed, out.reason);
    msg_clear(&m);
    /* 50 sets already: nothing (RFC 8617 4.2.1) */
    msg_base(&m);
    snprintf(as, sizeof(as), " a=rsa-sha256; b=AAAA; cv=pass; d=x.example; i=%d; s=s; t=1",
             ARC_MAX_INSTANCES);
    msg_add(&m, "ARC-Seal", as, 1);
    assert_int_equal(seal(k, "s1", NULL, &m, AUTH_PASS, &out), 0);
    if (out.sealed || strcmp(out.reason, ARC_SEAL_NOT_LIMIT) != 0)
        fail_msg("i=50: got sealed=%d (%s), want not sealed", out.sealed, out.reason);
    msg_clear(&m);
    /* a broken chain (our i=1, then the body changed): sealed once, cv=fail, and the
     * verifier then reports the failure; a further seal adds nothing */
    msg_base(&m);
    seal(k, "s1", NULL, &m, AUTH_NONE, &out);
    m.body = "changed\r\n";
    verify(dns, &m, &r);
    assert_int_equal(r.result, AUTH_FAIL);
    assert_int_equal(seal(k, "s1", NULL, &m, r.result, &out), 0);
    if (!out.sealed || out.instance != 2 || strcmp(out.cv, "fail") != 0)
        fail_msg("broken chain: got sealed=%d i=%d cv=%s, want i=2 cv=fail", out.sealed,
                 out.instance, out.cv ? out.cv : "-");
    verify(dns, &m, &r);
    if (r.result != AUTH_FAIL || strstr(r.reason, "cv=fail") == NULL)
        fail_msg("after our cv=fail: got %s (%s), want fail (cv=fail)", auth_res_name(r.result),
                 r.reason);
    assert_int_equal(seal(k, "s1", NULL, &m, r.result, &out), 0);
    if (out.sealed)
        fail_msg("after our cv=fail: got another set (i=%d), want none", out.instance);
    msg_clear(&m);
    /* more header fields than kept: nothing */
    msg_base(&m);
    {
        struct arc_seal_conf conf = {k, "example.org", "s1", "x-many"};
        struct arc_seal_in in = {AUTH_NONE, "mx.example.org; none", 1, NULL};
        struct arc_seal *s = arc_seal_new(&conf);
        for (int i = 0; i <= ARC_SEAL_MAX_FIELDS; i++)
            arc_seal_header(s, "X-Many", "v");
        assert_int_equal(arc_seal_finish(s, &in, &out), 0);
        if (out.sealed || strcmp(out.reason, ARC_SEAL_NOT_TOO_BIG) != 0)
            fail_msg("%d fields: got sealed=%d (%s), want not sealed (too big)",
                     ARC_SEAL_MAX_FIELDS + 1, out.sealed, out.reason);
        arc_seal_free(s);
    }
    msg_clear(&m);
    dns_free(dns);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
