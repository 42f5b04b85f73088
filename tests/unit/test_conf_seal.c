/* test_conf_seal.c - the ARC sealing keys (arc.seal_*, conf_seal.c and the key checks in
 * conf_keys.c) as a table: configs read as "t.conf" with the exact messages they must
 * produce, and good ones whose key must be loaded (RSA 2048, Ed25519) or absent (sealing
 * off). Key files are made here (OpenSSL) in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "conf/conf.h"

#define MAXWANT 4

static char dir[64];
static char rsa2048[128], rsa512[128], ed25519[128], notkey[128];

/* %K in a config text stands for the key file path chosen by the row */
static const struct {
    const char *text;
    const char *key; /* which file %K is: "rsa2048", "rsa512", "ed25519", "notkey", "none" */
    const char *want[MAXWANT];
} rows[] = {
    /* good: off needs nothing; on with RSA or Ed25519 */
    {"arc = { seal_enable = false; seal_key_file = \"%K\"; };\n", "none", {NULL}},
    {"arc = { seal_enable = true; seal_domain = \"mx.isp.example\";\n"
     "  seal_selector = \"arc2026\"; seal_key_file = \"%K\"; };\n",
     "rsa2048",
     {NULL}},
    {"arc = { seal_enable = true; seal_domain = \"mx.isp.example\";\n"
     "  seal_selector = \"ed\"; seal_key_file = \"%K\"; };\n",
     "ed25519",
     {NULL}},
    /* what must be set, and together */
    {"arc = {\n  seal_enable = true;\n};\n",
     "none",
     {"t.conf: arc.seal_domain: must be set when arc.seal_enable is true",
      "t.conf: arc.seal_selector: must be set when arc.seal_enable is true",
      "t.conf: arc.seal_key_file: must be set when arc.seal_enable is true"}},
    {"arc = {\n  enable = false;\n  seal_enable = true;\n  seal_domain = \"d.example\";\n"
     "  seal_selector = \"s\";\n  seal_key_file = \"%K\";\n};\n",
     "rsa2048",
     {"t.conf:3: arc.seal_enable: needs arc.enable = true (the seal states the chain status)"}},
    /* the key file */
    {"arc = { seal_enable = true; seal_domain = \"d.example\"; seal_selector = \"s\";\n"
     "  seal_key_file = \"%K\"; };\n",
     "rsa512",
     {"t.conf:2: arc.seal_key_file: %K: RSA key of 512 bits, at least 1024 needed (RFC 8301)"}},
    {"arc = { seal_enable = true; seal_domain = \"d.example\"; seal_selector = \"s\";\n"
     "  seal_key_file = \"%K\"; };\n",
     "notkey",
     {"t.conf:2: arc.seal_key_file: %K: not a PEM private key"}},
    {"arc = { seal_enable = true; seal_domain = \"d.example\"; seal_selector = \"s\";\n"
     "  seal_key_file = \"%K/none.pem\"; };\n",
     "dir",
     {"t.conf:2: arc.seal_key_file: %K/none.pem: No such file or directory"}},
    {"arc = { seal_key_file = \"key.pem\"; };\n",
     "none",
     {"t.conf:1: arc.seal_key_file: \"key.pem\" must be an absolute path"}},
    /* syntax of domain, selector and h= */
    {"arc = { seal_domain = \"bad domain\"; };\n",
     "none",
     {"t.conf:1: arc.seal_domain: \"bad domain\" must be a domain name like mx.isp.example"}},
    {"arc = { seal_selector = \"a..b\"; };\n",
     "none",
     {"t.conf:1: arc.seal_selector: \"a..b\" must be a domain name like mx.isp.example"}},
    {"arc = { seal_headers = \"from::to\"; };\n",
     "none",
     {"t.conf:1: arc.seal_headers: must be header field names separated by ':'"}},
    {"arc = { seal_headers = \"from:to:\"; };\n",
     "none",
     {"t.conf:1: arc.seal_headers: must not end with ':'"}},
    {"arc = { seal_headers = \"from:Authentication-Results\"; };\n",
     "none",
     {"t.conf:1: arc.seal_headers: Authentication-Results: senderauthd changes this field "
      "after signing"}},
    {"arc = { seal_headers = \"from:ARC-Seal\"; };\n",
     "none",
     {"t.conf:1: arc.seal_headers: ARC-Seal: senderauthd changes this field after signing"}},
    {"arc = { seal_headers = \"x-senderauth-trust:from\"; };\n",
     "none",
     {"t.conf:1: arc.seal_headers: x-senderauth-trust: senderauthd changes this field after "
      "signing"}},
    {"quarantine = { header_name = \"X-Spam-Quarantine\"; };\n"
     "arc = { seal_enable = true; seal_domain = \"d.example\"; seal_selector = \"s\";\n"
     "  seal_key_file = \"%K\";\n  seal_headers = \"from:x-spam-quarantine\"; };\n",
     "rsa2048",
     {"t.conf:4: arc.seal_headers: X-Spam-Quarantine: senderauthd changes this field after "
      "signing"}},
};

/* subst - text with every %K replaced by key */
static void subst(const char *text, const char *key, char *out, size_t outlen)
{
    size_t o = 0;

    for (const char *p = text; *p && o + 1 < outlen; p++) {
        if (p[0] == '%' && p[1] == 'K') {
            o += (size_t)snprintf(out + o, outlen - o, "%s", key);
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o < outlen ? o : outlen - 1] = '\0';
}

static void write_key(const char *path, EVP_PKEY *k)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_non_null(k);
    assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(fp);
    EVP_PKEY_free(k);
}

static int setup(void **state)
{
    FILE *fp;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sa-confseal-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(rsa2048, sizeof(rsa2048), "%s/rsa2048.pem", dir);
    snprintf(rsa512, sizeof(rsa512), "%s/rsa512.pem", dir);
    snprintf(ed25519, sizeof(ed25519), "%s/ed25519.pem", dir);
    snprintf(notkey, sizeof(notkey), "%s/notkey.pem", dir);
    write_key(rsa2048, EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
    write_key(rsa512, EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512));
    write_key(ed25519, EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
    if ((fp = fopen(notkey, "w")) == NULL)
        return -1;
    fputs("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", fp);
    fclose(fp);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(rsa2048);
    unlink(rsa512);
    unlink(ed25519);
    unlink(notkey);
    rmdir(dir);
    return 0;
}

static const char *key_path(const char *which)
{
    if (strcmp(which, "rsa2048") == 0)
        return rsa2048;
    if (strcmp(which, "rsa512") == 0)
        return rsa512;
    if (strcmp(which, "ed25519") == 0)
        return ed25519;
    if (strcmp(which, "notkey") == 0)
        return notkey;
    if (strcmp(which, "dir") == 0)
        return dir;
    return "/nonexistent/key.pem";
}

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char text[2048], want[512];
        const char *key = key_path(rows[i].key);
        struct conf_errors errs;
        struct sa_conf *c;
        int nwant = 0;

        subst(rows[i].text, key, text, sizeof(text));
        c = conf_load_string(text, "t.conf", &errs);
        while (nwant < MAXWANT && rows[i].want[nwant] != NULL)
            nwant++;
        if (nwant == 0) {
            if (c == NULL)
                fail_msg("row %zu: got errors (first: %s), want a load", i,
                         errs.n ? errs.item[0].text : "-");
            if (c->arc_seal_enable && c->arc_seal_key == NULL)
                fail_msg("row %zu: got no key loaded, want one", i);
            if (!c->arc_seal_enable && c->arc_seal_key != NULL)
                fail_msg("row %zu: got a key loaded with sealing off, want none", i);
            conf_free(c);
            continue;
        }
        if (c != NULL)
            fail_msg("row %zu: got a load, want %d errors (first: %s)", i, nwant, rows[i].want[0]);
        if (errs.nerr != nwant)
            fail_msg("row %zu: got %d errors (first: %s), want %d", i, errs.nerr,
                     errs.n ? errs.item[0].text : "-", nwant);
        for (int k = 0; k < nwant; k++) {
            subst(rows[i].want[k], key, want, sizeof(want));
            if (strcmp(errs.item[k].text, want) != 0)
                fail_msg("row %zu error %d: got \"%s\", want \"%s\"", i, k, errs.item[k].text,
                         want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
