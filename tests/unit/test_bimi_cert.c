/* test_bimi_cert.c - the mark certificate check against certificates generated at test
 * time (tests/lib/satest/bimi_ca.py: a test root and issuing CA, VMC-like and CMC-like
 * certificates and broken ones). One table: certificate, logo, domain, time -> result,
 * reason and authority. Skipped (with the reason) when python3-cryptography is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bimi/bimi.h"

static char dir[] = "/tmp/test_bimi_cert.XXXXXX";
static int made;

static char *slurp(const char *name, size_t *len)
{
    char path[256];
    FILE *f;
    char *buf = malloc(BIMI_CERT_LIMIT + 1);

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(buf);
    if ((f = fopen(path, "rb")) == NULL)
        fail_msg("cannot read %s", path);
    *len = fread(buf, 1, BIMI_CERT_LIMIT, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    char cmd[512];

    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 ../lib/satest/bimi_ca.py %s brand.example mail.brand.example "
             ">/dev/null",
             dir);
    made = system(cmd) == 0;
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const struct {
    const char *cert, *svg, *domain;
    long shift; /* seconds added to now */
    int rc;
    const char *reason; /* prefix */
    enum bimi_authority authority;
} cases[] = {
    {"vmc.pem", "logo.svg", "brand.example", 0, 0, "", BIMI_AUTH_VMC},
    {"vmc.pem", "logo.svg", "mail.brand.example", 0, 0, "", BIMI_AUTH_VMC},
    {"gov.pem", "logo.svg", "brand.example", 0, 0, "", BIMI_AUTH_VMC},
    {"cmc.pem", "logo.svg", "brand.example", 0, 0, "", BIMI_AUTH_CMC},
    {"vmc.pem", "logo.svg", "Brand.Example", 0, 0, "", BIMI_AUTH_VMC},
    {"vmc.pem", "logo.svg", "brand.example", 400L * 86400, -1, "certificate expired",
     BIMI_AUTH_NONE},
    {"vmc.pem", "logo.svg", "brand.example", -10L * 86400, -1, "certificate not yet valid",
     BIMI_AUTH_NONE},
    {"expired.pem", "logo.svg", "brand.example", 0, -1, "certificate expired", BIMI_AUTH_NONE},
    {"wrongsan.pem", "logo.svg", "brand.example", 0, -1, "certificate does not name",
     BIMI_AUTH_NONE},
    {"vmc.pem", "logo.svg", "other.example", 0, -1, "certificate does not name", BIMI_AUTH_NONE},
    {"mismatch.pem", "logo.svg", "brand.example", 0, -1, "logo does not match", BIMI_AUTH_NONE},
    {"vmc.pem", "other.svg", "brand.example", 0, -1, "logo does not match", BIMI_AUTH_NONE},
    {"noeku.pem", "logo.svg", "brand.example", 0, -1, "certificate lacks the BIMI", BIMI_AUTH_NONE},
    {"badtype.pem", "logo.svg", "brand.example", 0, -1, "unknown mark type Imaginary",
     BIMI_AUTH_NONE},
    {"untrusted.pem", "logo.svg", "brand.example", 0, -1, "certificate chain:", BIMI_AUTH_NONE},
    {"logo.svg", "logo.svg", "brand.example", 0, -1, "no certificate", BIMI_AUTH_NONE},
};

static void test_table(void **state)
{
    char path[256], why[128];
    struct bimi_trust *t;

    (void)state;
    if (!made)
        skip(); /* bimi_ca.py needs python3-cryptography */
    snprintf(path, sizeof(path), "%s/mark-ca.pem", dir);
    t = bimi_trust_new(path, why, sizeof(why));
    if (t == NULL)
        fail_msg("bimi_trust_new(%s): %s", path, why);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t plen, slen;
        char *pem = slurp(cases[i].cert, &plen), *svg = slurp(cases[i].svg, &slen);
        struct bimi_cert_in in = {
            pem, plen, {cases[i].domain, NULL}, time(NULL) + cases[i].shift, t, svg, slen};
        struct bimi_cert_res out;
        int rc = bimi_cert_verify(&in, &out);

        if (rc != cases[i].rc || strncmp(out.reason, cases[i].reason, strlen(cases[i].reason)) ||
            (rc == 0 && out.authority != cases[i].authority))
            fail_msg("%s with %s for %s: got %d (%s) %s, want %d (%s) %s", cases[i].cert,
                     cases[i].svg, cases[i].domain, rc, out.reason,
                     bimi_authority_name(out.authority), cases[i].rc, cases[i].reason,
                     bimi_authority_name(cases[i].authority));
        free(pem);
        free(svg);
    }
    /* No trust store: nothing passes. */
    {
        size_t plen, slen;
        char *pem = slurp("vmc.pem", &plen), *svg = slurp("logo.svg", &slen);
        struct bimi_cert_in in = {pem, plen, {"brand.example", NULL}, time(NULL), NULL, svg, slen};
        struct bimi_cert_res out;
        if (bimi_cert_verify(&in, &out) == 0)
            fail_msg("no trust store: got 0, want -1");
        free(pem);
        free(svg);
    }
    bimi_trust_free(t);
    assert_null(bimi_trust_new("/nonexistent/ca.pem", why, sizeof(why)));
    assert_null(bimi_trust_new("", why, sizeof(why)));
}

/* The logotype walker on hostile DER: truncated, over-long lengths, no URI. */
static void test_logo_der(void **state)
{
    static const unsigned char bad[][8] = {
        {0x30, 0x84, 0xff, 0xff, 0xff, 0xff},
        {0x30, 0x05, 0x16, 0x03},
        {0x30, 0x00},
        {0x1f, 0x01, 0x00},
        {0x30, 0x80},
    };
    static const unsigned char plain[] = "\x30\x24\x16\x22"
                                         "data:image/svg+xml;base64,PHN2Zy8+";
    size_t n;
    unsigned char *logo;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (bimi_cert_logo(bad[i], sizeof(bad[i]), 1000, &n) != NULL)
            fail_msg("bad DER #%zu: got a logo, want none", i);
    logo = bimi_cert_logo(plain, sizeof(plain) - 1, 1000, &n);
    if (logo == NULL || n != 6 || memcmp(logo, "<svg/>", 6) != 0)
        fail_msg("plain data: URI: got %s, want <svg/>", logo ? (char *)logo : "NULL");
    free(logo);
    if ((logo = bimi_cert_logo(plain, sizeof(plain) - 1, 5, &n)) != NULL)
        fail_msg("plain data: URI over max 5: got a logo, want none");
    free(logo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_logo_der),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
