/* test_dkim_eval.c - DKIM verification against dns_stub with messages signed at test
 * time: keys are made with the openssl command (RSA 1024/512, Ed25519) in a temporary
 * directory, messages are signed with libopendkim's signer, then fed to dkim_eval the
 * way the milter does (name and value apart, body in small CRLF chunks).
 * One table of cases; each row builds a message, a DNS view and the expected results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>
#include <opendkim/dkim.h>

#include "dkim/dkim_eval.h"
#include "dkim/dkim_int.h"
#include "dns/dns.h"

#define MAXH 32
#define T0 1700000000 /* signing time of the x= cases */

struct key {
    char *pem;       /* private key, PEM */
    char rec[2048];  /* "v=DKIM1; k=...; p=..." */
    char rec1[2048]; /* RSA only: p= as a bare PKCS#1 RSAPublicKey */
    char p1[1024];   /* that p= value alone */
};

struct tmsg {
    int n;
    char *name[MAXH];
    char *value[MAXH];
    char body[16384];
};

enum keyid { K_RSA, K_RSA512, K_ED, K_RSA2, NKEYS };
static struct key keys[NKEYS];
static char tmpdir[64];

/* The signer (test-only) leaks one key object per Ed25519 signature inside libopendkim's
 * dkim_privkey_load; tell LeakSanitizer in the SANITIZE build (full stacks, so the
 * frames under libcrypto are seen). No effect otherwise. */
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}
const char *__lsan_default_suppressions(void)
{
    return "leak:dkim_privkey_load\n";
}

/* ---------- helpers: keys ---------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = calloc(1, (size_t)n + 1);
    if (p != NULL && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return p;
}

static void b64(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;

        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* make_key - openssl genpkey, then the DKIM record from the DER public key (and for
 * RSA a second record holding the PKCS#1 form, as some signers publish it) */
static int make_key(const char *name, const char *genopts, int ed, struct key *k)
{
    char cmd[2048], pem[256], der[256], der1[256], p[1024];
    unsigned char *d;
    size_t n;

    snprintf(pem, sizeof(pem), "%s/%s.pem", tmpdir, name);
    snprintf(der, sizeof(der), "%s/%s.der", tmpdir, name);
    snprintf(der1, sizeof(der1), "%s/%s.pkcs1.der", tmpdir, name);
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey %s -out %s 2>/dev/null && "
             "openssl pkey -in %s -pubout -outform DER -out %s 2>/dev/null && "
             "{ test %d = 1 || openssl rsa -in %s -RSAPublicKey_out -outform DER -out %s "
             "2>/dev/null; }",
             genopts, pem, pem, der, ed, pem, der1);
    if (system(cmd) != 0)
        return -1;
    if ((k->pem = read_file(pem, NULL)) == NULL ||
        (d = (unsigned char *)read_file(der, &n)) == NULL)
        return -1;
    if (ed) { /* RFC 8463: p= is the raw 32-byte key, the tail of the SPKI */
        b64(d + n - 32, 32, p);
        snprintf(k->rec, sizeof(k->rec), "v=DKIM1; k=ed25519; p=%s", p);
    } else {
        b64(d, n, p);
        snprintf(k->rec, sizeof(k->rec), "v=DKIM1; k=rsa; p=%s", p);
        free(d);
        if ((d = (unsigned char *)read_file(der1, &n)) == NULL)
            return -1;
        b64(d, n, k->p1);
        snprintf(k->rec1, sizeof(k->rec1), "v=DKIM1; k=rsa; p=%s", k->p1);
    }
    free(d);
    return 0;
}

static int setup(void **state)
{
    char cmd[128];

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sa-dkim-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    if (make_key("rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:1024", 0, &keys[K_RSA]) < 0 ||
        make_key("rsa2", "-algorithm RSA -pkeyopt rsa_keygen_bits:1024", 0, &keys[K_RSA2]) < 0 ||
        make_key("rsa512", "-algorithm RSA -pkeyopt rsa_keygen_bits:512", 0, &keys[K_RSA512]) < 0 ||
        make_key("ed", "-algorithm ed25519", 1, &keys[K_ED]) < 0) {
        fprintf(stderr, "openssl key generation failed\n");
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    for (int i = 0; i < NKEYS; i++)
        free(keys[i].pem);
    return 0;
}

/* ---------- helpers: messages ---------- */

static void msg_init(struct tmsg *m)
{
    static const char *h[][2] = {
        {"Received", "from mx.example.net by mx.example.org; Tue, 1 Nov 2022 10:00:00 +0000"},
        {"From", "Alice <alice@example.com>"},
        {"To", "bob@example.org"},
        {"Subject", "quarterly\r\n report"},
        {"Date", "Tue, 1 Nov 2022 09:59:00 +0000"},
        {"Message-ID", "<1@example.com>"},
    };

    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
        m->name[m->n] = strdup(h[i][0]);
        m->value[m->n] = strdup(h[i][1]);
        m->n++;
    }
    snprintf(m->body, sizeof(m->body),
             "Hello Bob,\r\n\r\nthe  report is attached.\t \r\n-- \r\nAlice\r\n\r\n\r\n");
}

static void msg_free(struct tmsg *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->name[i]);
        free(m->value[i]);
    }
    m->n = 0;
}

/* msg_prepend - add a header field on top (as a signer or relay does) */
static void msg_prepend(struct tmsg *m, const char *name, const char *value)
{
    assert_true(m->n < MAXH);
    memmove(&m->name[1], &m->name[0], sizeof(m->name[0]) * (size_t)m->n);
    memmove(&m->value[1], &m->value[0], sizeof(m->value[0]) * (size_t)m->n);
    m->name[0] = strdup(name);
    m->value[0] = strdup(value);
    m->n++;
}

static void msg_set(struct tmsg *m, const char *name, const char *value)
{
    for (int i = 0; i < m->n; i++)
        if (strcasecmp(m->name[i], name) == 0) {
            free(m->value[i]);
            m->value[i] = strdup(value);
            return;
        }
}

struct signopts {
    enum keyid key;
    const char *d, *s;
    dkim_alg_t alg;
    ssize_t len;  /* -1: no l=; -2: l= set to the whole body (SIGNLEN) */
    int ztags;    /* z= with copies of the signed fields */
    uint64_t ttl; /* x= = t= + ttl (signed at T0) */
    const char *i; /* i= (NULL: none) */
};

/* sign - sign m with libopendkim and put the DKIM-Signature field on top */
static void sign(struct tmsg *m, const struct signopts *o)
{
    DKIM_LIB *lib = dkim_init(NULL, NULL);
    DKIM *dk;
    DKIM_STAT st;
    uint32_t flags = 0;
    unsigned char hdr[8192];
    char sig[65536];
    uint64_t t0 = T0;
    unsigned int minbits = 512;

    assert_non_null(lib);
    if (o->len == -2)
        flags |= DKIM_LIBFLAGS_SIGNLEN;
    if (o->ztags)
        flags |= DKIM_LIBFLAGS_ZTAGS;
    assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)), 0);
    assert_int_equal(
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits, sizeof(minbits)), 0);
    if (o->ttl > 0) {
        assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &t0, sizeof(t0)),
                         0);
        assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNATURETTL, (void *)&o->ttl,
                                      sizeof(o->ttl)),
                         0);
    }
    dk = dkim_sign(lib, (const unsigned char *)"test", NULL, (dkim_sigkey_t)keys[o->key].pem,
                   (const unsigned char *)o->s, (const unsigned char *)o->d, DKIM_CANON_RELAXED,
                   DKIM_CANON_RELAXED, o->alg, o->len >= 0 ? o->len : -1, &st);
    if (dk == NULL)
        fail_msg("dkim_sign: %s", dkim_getresultstr(st));
    if (o->i != NULL)
        assert_int_equal(dkim_set_signer(dk, (const unsigned char *)o->i), DKIM_STAT_OK);
    for (int i = 0; i < m->n; i++) {
        int n = snprintf((char *)hdr, sizeof(hdr), "%s: %s", m->name[i], m->value[i]);

        assert_int_equal(dkim_header(dk, hdr, (size_t)n), DKIM_STAT_OK);
    }
    assert_int_equal(dkim_eoh(dk), DKIM_STAT_OK);
    assert_int_equal(dkim_body(dk, (unsigned char *)m->body, strlen(m->body)), DKIM_STAT_OK);
    st = dkim_eom(dk, NULL);
    if (st != DKIM_STAT_OK)
        fail_msg("dkim_eom (sign): %s: %s", dkim_getresultstr(st), dkim_geterror(dk));
    assert_int_equal(
        dkim_getsighdr(dk, (unsigned char *)sig, sizeof(sig), strlen("DKIM-Signature: ")),
        DKIM_STAT_OK);
    msg_prepend(m, "DKIM-Signature", sig);
    dkim_free(dk);
    dkim_close(lib);
}

/* verify - feed m as libmilter would, body in 7-byte chunks */
static int verify(struct dkim_eval_lib *lib, struct dns *dns, const struct tmsg *m, int leadspace,
                  struct dkim_sig_res *out, int max, int *nout)
{
    struct dkim_eval *v = dkim_eval_new(lib, dns, "QID1");
    size_t blen = strlen(m->body);
    char tmp[200000];
    int rc;

    assert_non_null(v);
    dkim_eval_set_leadspace(v, leadspace);
    for (int i = 0; i < m->n; i++) {
        if (leadspace) {
            snprintf(tmp, sizeof(tmp), " %s", m->value[i]);
            (void)dkim_eval_header(v, m->name[i], tmp);
        } else {
            (void)dkim_eval_header(v, m->name[i], m->value[i]);
        }
    }
    (void)dkim_eval_eoh(v);
    for (size_t off = 0; off < blen; off += 7)
        (void)dkim_eval_body(v, (const unsigned char *)m->body + off,
                             blen - off < 7 ? blen - off : 7);
    rc = dkim_eval_finish(v, out, max, nout);
    dkim_eval_free(v);
    return rc;
}

static struct dkim_eval_lib *lib_with(int max_sigs, time_t fixed)
{
    struct dkim_eval_conf c = {max_sigs, 1024, fixed};
    struct dkim_eval_lib *l = dkim_eval_lib_new(&c);

    assert_non_null(l);
    return l;
}

/* ---------- the table ---------- */

enum mutate {
    M_NONE,
    M_FOOTER,    /* body gets a list footer after signing */
    M_SUBJECT,   /* Subject changed after signing */
    M_LEADSPACE, /* verify with SMFIP_HDR_LEADSPC values */
    M_BARE_LF,   /* folded Subject delivered with bare LF */
    M_TRAILING,  /* empty lines appended after signing (canonically the same body) */
    M_NO_CRLF,   /* a last line without CRLF appended after signing */
    M_CUT,       /* the body cut to one short line after signing (shorter than l=) */
};

enum dnsmode {
    D_KEY,       /* the right record */
    D_NXDOMAIN,  /* nothing published */
    D_TEMPFAIL,  /* the key name answers TEMPFAIL */
    D_REVOKED,   /* p= empty */
    D_BIG,       /* one 9000-byte record */
    D_MANY,      /* the RRset holds 40 records (well over 8 KB in total) */
    D_PKCS1,     /* p= is the bare PKCS#1 RSAPublicKey */
    D_PKCS1_FWS, /* ... folded with spaces, no k= */
    D_PKCS1_ED,  /* ... under k=ed25519: not a key of that type */
    D_PKCS1_BIG, /* ... with a filler tag: fits as PKCS#1, not as SPKI */
    D_GARBAGE,   /* p= is base64 of no key at all */
};

struct want {
    enum auth_res res;
    const char *reason;
    int key_bits; /* -1: do not check */
    int full_body;
};

static const struct tcase {
    const char *name;
    struct signopts sign;
    int nsign; /* signatures made (same options, s= sel, sel1, sel2...) */
    enum mutate mut;
    enum dnsmode dns;
    int max_sigs;
    time_t fixed;
    int nwant;
    struct want want[8];
    int max_queries; /* -1: do not check */
} cases[] = {
    {"rsa pass",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_PASS, "", 1024, 1}},
     1},
    {"footer appended",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_FOOTER,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_FAIL, DKIM_REASON_BH_MISMATCH, 1024, 1}},
     -1},
    {"subject changed",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_SUBJECT,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_FAIL, DKIM_REASON_SIG_MISMATCH, 1024, 1}},
     -1},
    {"leading space kept",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_LEADSPACE,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_PASS, "", 1024, 1}},
     -1},
    {"bare LF folding",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_BARE_LF,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_PASS, "", 1024, 1}},
     -1},
    {"key NXDOMAIN",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_NXDOMAIN,
     5,
     0,
     1,
     {{AUTH_PERMERROR, DKIM_REASON_NO_KEY, -1, 1}},
     -1},
    {"key TEMPFAIL",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_TEMPFAIL,
     5,
     0,
     1,
     {{AUTH_TEMPERROR, DKIM_REASON_DNS_TEMP, -1, 1}},
     -1},
    {"key revoked",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_REVOKED,
     5,
     0,
     1,
     {{AUTH_FAIL, DKIM_REASON_REVOKED, -1, 1}},
     -1},
    {"rsa-sha1, no query",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA1, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_FAIL, DKIM_REASON_SHA1, -1, 1}},
     0},
    {"512-bit rsa",
     {K_RSA512, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_FAIL, DKIM_REASON_KEY_SMALL, 512, 1}},
     -1},
    {"ed25519 pass",
     {K_ED, "example.com", "sel", DKIM_SIGN_ED25519SHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_PASS, "", 256, 1}},
     -1},
    {"l= partial",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, 12, 0, 0, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_POLICY, DKIM_REASON_PARTIAL, 1024, 0}},
     -1},
    {"l= partial, footer",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, 12, 0, 0, NULL},
     1,
     M_FOOTER,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_POLICY, DKIM_REASON_PARTIAL, 1024, 0}},
     -1},
    {"l= past the body",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, 12, 0, 0, NULL},
     1,
     M_CUT,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_FAIL, DKIM_REASON_L_TOO_LARGE, -1, 1}},
     -1},
    {"l= partial, no key",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, 12, 0, 0, NULL},
     1,
     M_NONE,
     D_NXDOMAIN,
     5,
     0,
     1,
     {{AUTH_PERMERROR, DKIM_REASON_NO_KEY, -1, 1}},
     -1},
    {"l= past the body, no key",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, 12, 0, 0, NULL},
     1,
     M_CUT,
     D_NXDOMAIN,
     5,
     0,
     1,
     {{AUTH_FAIL, DKIM_REASON_L_TOO_LARGE, -1, 1}},
     -1},
    {"body without a final CRLF",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NO_CRLF,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_FAIL, DKIM_REASON_BH_MISMATCH, -1, 1}},
     -1},
    {"l= whole body",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -2, 0, 0, NULL},
     1,
     M_TRAILING,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_PASS, "", 1024, 1}},
     -1},
    {"l= whole body, footer",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -2, 0, 0, NULL},
     1,
     M_FOOTER,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_POLICY, DKIM_REASON_PARTIAL, 1024, 0}},
     -1},
    {"7 signatures, max 5",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     7,
     M_NONE,
     D_KEY,
     5,
     0,
     7,
     {{AUTH_PASS, "", 1024, 1},
      {AUTH_PASS, "", 1024, 1},
      {AUTH_PASS, "", 1024, 1},
      {AUTH_PASS, "", 1024, 1},
      {AUTH_PASS, "", 1024, 1},
      {AUTH_POLICY, DKIM_REASON_TOO_MANY, -1, 1},
      {AUTH_POLICY, DKIM_REASON_TOO_MANY, -1, 1}},
     5},
    {"z= copies of a long Subject",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 1, 0, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_PASS, "", 1024, 1}},
     -1},
    {"key record 9000 bytes",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_BIG,
     5,
     0,
     1,
     {{AUTH_PERMERROR, DKIM_REASON_KEY_LARGE, -1, 1}},
     -1},
    {"key RRset of 40 records",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_MANY,
     5,
     0,
     1,
     {{AUTH_PERMERROR, DKIM_REASON_KEY_MULTI, -1, 1}},
     -1},
    {"bad d= never queried",
     {K_RSA, "legitimate.com(.attacker.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_PERMERROR, DKIM_REASON_SYNTAX, -1, 1}},
     0},
    {"PKCS#1 key in p=",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_PKCS1,
     5,
     0,
     1,
     {{AUTH_PASS, "", 1024, 1}},
     1},
    {"PKCS#1 key in p=, folded, no k=",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_PKCS1_FWS,
     5,
     0,
     1,
     {{AUTH_PASS, "", 1024, 1}},
     1},
    {"PKCS#1 key under k=ed25519",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_PKCS1_ED,
     5,
     0,
     1,
     {{AUTH_NONE, NULL, -1, 1}},
     1},
    {"PKCS#1 key in a 1010-byte record",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_PKCS1_BIG,
     5,
     0,
     1,
     {{AUTH_PASS, "", 1024, 1}},
     1},
    {"p= holds no key",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL},
     1,
     M_NONE,
     D_GARBAGE,
     5,
     0,
     1,
     {{AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, -1, 1}},
     1},
    {"x= not reached at fixed time",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 3600, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     T0 + 60,
     1,
     {{AUTH_PASS, "", 1024, 1}},
     -1},
    {"x= passed at fixed time",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 3600, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     T0 + 86400,
     1,
     {{AUTH_FAIL, DKIM_REASON_EXPIRED, -1, 1}},
     -1},
    {"x= passed now",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 3600, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     0,
     1,
     {{AUTH_FAIL, DKIM_REASON_EXPIRED, -1, 1}},
     -1},
    {"x= far after now (fixed in the future)",
     {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 3600, NULL},
     1,
     M_NONE,
     D_KEY,
     5,
     4000000000,
     1,
     {{AUTH_FAIL, DKIM_REASON_EXPIRED, -1, 1}},
     -1},
};

static void publish(struct dns *stub, const struct tcase *c, int nsel)
{
    char name[512], sel[64];

    for (int k = 0; k < nsel; k++) {
        if (k == 0)
            snprintf(sel, sizeof(sel), "%s", c->sign.s);
        else
            snprintf(sel, sizeof(sel), "%s%d", c->sign.s, k);
        snprintf(name, sizeof(name), "%s._domainkey.%s", sel, c->sign.d);
        switch (c->dns) {
        case D_KEY:
            assert_int_equal(dns_stub_add(stub, name, DNS_T_TXT, keys[c->sign.key].rec), 0);
            break;
        case D_NXDOMAIN:
            break;
        case D_TEMPFAIL:
            assert_int_equal(dns_stub_fail(stub, name, DNS_T_TXT, DNS_TEMPFAIL), 0);
            break;
        case D_REVOKED:
            assert_int_equal(dns_stub_add(stub, name, DNS_T_TXT, "v=DKIM1; k=rsa; p="), 0);
            break;
        case D_BIG: {
            static char big[9100];

            snprintf(big, sizeof(big), "%s; n=", keys[c->sign.key].rec);
            memset(big + strlen(big), 'x', 9000 - strlen(big));
            big[9000] = '\0';
            assert_int_equal(dns_stub_add(stub, name, DNS_T_TXT, big), 0);
            break;
        }
        case D_MANY:
            for (int i = 0; i < 40; i++)
                assert_int_equal(dns_stub_add(stub, name, DNS_T_TXT, keys[c->sign.key].rec), 0);
            break;
        case D_PKCS1:
            assert_int_equal(dns_stub_add(stub, name, DNS_T_TXT, keys[c->sign.key].rec1), 0);
            break;
        case D_PKCS1_FWS: {
            char rec[4096];
            size_t o = (size_t)snprintf(rec, sizeof(rec), "v=DKIM1; p = ");
            const char *p = keys[c->sign.key].p1;

            for (size_t i = 0; p[i] != '\0' && o + 4 < sizeof(rec); i++) {
                rec[o++] = p[i];
                if (i % 40 == 39)
                    rec[o++] = ' ';
            }
            snprintf(rec + o, sizeof(rec) - o, " ; t=s");
            assert_int_equal(dns_stub_add(stub, name, DNS_T_TXT, rec), 0);
            break;
        }
        case D_PKCS1_ED: {
            char rec[4096];

            snprintf(rec, sizeof(rec), "v=DKIM1; k=ed25519; p=%s", keys[c->sign.key].p1);
            assert_int_equal(dns_stub_add(stub, name, DNS_T_TXT, rec), 0);
            break;
        }
        case D_PKCS1_BIG: {
            /* Once the limit of libopendkim's 1024-byte key buffer (the re-wrapped SPKI
             * no longer fitted); our own key parser takes records up to 4 KB. */
            char rec[1100];
            size_t o = (size_t)snprintf(rec, sizeof(rec), "%s; n=", keys[c->sign.key].rec1);

            memset(rec + o, 'x', 1010 - o);
            rec[1010] = '\0';
            assert_int_equal(dns_stub_add(stub, name, DNS_T_TXT, rec), 0);
            break;
        }
        case D_GARBAGE:
            assert_int_equal(dns_stub_add(stub, name, DNS_T_TXT, "v=DKIM1; k=rsa; p=AAAAAAAA"), 0);
            break;
        }
    }
}

static void test_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct tcase *c = &cases[i];
        struct tmsg m;
        struct dkim_sig_res out[16];
        struct dns *stub = dns_stub_new();
        struct dkim_eval_lib *lib = lib_with(c->max_sigs, c->fixed);
        int nout = -1, leadspace = c->mut == M_LEADSPACE;

        msg_init(&m);
        if (c->sign.ztags) {
            char subj[6000];

            memset(subj, 'S', sizeof(subj) - 1);
            subj[sizeof(subj) - 1] = '\0';
            msg_set(&m, "Subject", subj);
        }
        for (int k = c->nsign - 1; k >= 0; k--) {
            struct signopts o = c->sign;
            char sel[64];

            if (k > 0) {
                snprintf(sel, sizeof(sel), "%s%d", c->sign.s, k);
                o.s = sel;
            }
            sign(&m, &o);
        }
        publish(stub, c, c->nsign);
        switch (c->mut) {
        case M_FOOTER:
            strncat(m.body, "_______________\r\nlist footer\r\n",
                    sizeof(m.body) - strlen(m.body) - 1);
            break;
        case M_SUBJECT:
            msg_set(&m, "Subject", "quarterly\r\n report (edited)");
            break;
        case M_BARE_LF:
            msg_set(&m, "Subject", "quarterly\n report");
            break;
        case M_NO_CRLF:
            strncat(m.body, "P.S.", sizeof(m.body) - strlen(m.body) - 1);
            break;
        case M_TRAILING:
            strncat(m.body, "\r\n\r\n", sizeof(m.body) - strlen(m.body) - 1);
            break;
        case M_CUT:
            snprintf(m.body, sizeof(m.body), "Hi\r\n");
            break;
        default:
            break;
        }
        assert_int_equal(verify(lib, stub, &m, leadspace, out, 16, &nout), 0);
        if (nout != c->nwant)
            fail_msg("%s: got %d results, want %d", c->name, nout, c->nwant);
        for (int k = 0; k < nout; k++) {
            const struct want *w = &c->want[k];

            if (w->reason == NULL) { /* any non-pass */
                if (out[k].result == AUTH_PASS)
                    fail_msg("%s: sig %d: got pass, want a non-pass result", c->name, k);
                continue;
            }
            if (out[k].result != w->res || strcmp(out[k].reason, w->reason) != 0)
                fail_msg("%s: sig %d: got %s (%s), want %s (%s)", c->name, k,
                         auth_res_name(out[k].result), out[k].reason, auth_res_name(w->res),
                         w->reason);
            if (w->key_bits >= 0 && out[k].key_bits != w->key_bits)
                fail_msg("%s: sig %d: got %d key bits, want %d", c->name, k, out[k].key_bits,
                         w->key_bits);
            if (out[k].full_body != w->full_body)
                fail_msg("%s: sig %d: got full_body=%d, want %d", c->name, k, out[k].full_body,
                         w->full_body);
            if (strcmp(out[k].domain, c->sign.d) != 0 && w->res == AUTH_PASS)
                fail_msg("%s: sig %d: got d=%s, want %s", c->name, k, out[k].domain, c->sign.d);
            if (w->res == AUTH_PASS && (strlen(out[k].b8) != 8 || out[k].selector[0] == '\0'))
                fail_msg("%s: sig %d: got b8='%s' s='%s', want 8 characters and a selector",
                         c->name, k, out[k].b8, out[k].selector);
        }
        if (c->max_queries >= 0 && dns_stub_queries(stub) > c->max_queries)
            fail_msg("%s: got %d DNS queries, want at most %d", c->name, dns_stub_queries(stub),
                     c->max_queries);
        msg_free(&m);
        dkim_eval_lib_free(lib);
        dns_free(stub);
    }
}

/* test_malformed - hostile DKIM-Signature fields above a good signature: each gets a
 * non-pass result in its own position, the good one still passes, nothing crashes. */
static void test_malformed(void **state)
{
    static char longz[210000], midz[20000], eightbit[300];
    static const struct {
        const char *value;
        enum auth_res res;  /* AUTH_NONE: any non-pass */
        const char *reason; /* NULL: any */
    } bad[] = {
        {"", AUTH_PERMERROR, DKIM_REASON_SYNTAX},
        {"v=1", AUTH_PERMERROR, DKIM_REASON_SYNTAX},
        {"garbage without tags", AUTH_PERMERROR, DKIM_REASON_SYNTAX},
        {";;;==;", AUTH_PERMERROR, DKIM_REASON_SYNTAX},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=; b=", AUTH_PERMERROR,
         DKIM_REASON_SYNTAX},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=to; bh=AAAA; b=AAAA", AUTH_PERMERROR,
         DKIM_REASON_FROM_UNSIGNED},
        {"v=1; a=rsa-sha512; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA", AUTH_PERMERROR,
         DKIM_REASON_BAD_ALGO},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA; l=-5", AUTH_PERMERROR,
         DKIM_REASON_SYNTAX},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA; t=200; x=100",
         AUTH_FAIL, DKIM_REASON_EXPIRED}, /* libopendkim checks expiry before x= < t= */
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA; i=@evil.example",
         AUTH_PERMERROR, DKIM_REASON_BAD_IDENTITY},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA; a=rsa-sha256",
         AUTH_NONE, NULL},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA; tag", AUTH_PERMERROR,
         DKIM_REASON_SYNTAX},
        {"v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA", AUTH_FAIL,
         DKIM_REASON_SIG_MISMATCH},
        {midz, AUTH_FAIL, DKIM_REASON_SIG_MISMATCH},
        {longz, AUTH_PERMERROR, DKIM_REASON_HDR_LONG},
        {eightbit, AUTH_PERMERROR, DKIM_REASON_SYNTAX},
    };
    struct signopts o = {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL};

    snprintf(midz, sizeof(midz),
             "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA; z=");
    memset(midz + strlen(midz), 'Z', sizeof(midz) - strlen(midz) - 1);
    snprintf(longz, sizeof(longz),
             "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA; z=");
    memset(longz + strlen(longz), 'Z', sizeof(longz) - strlen(longz) - 1);
    snprintf(eightbit, sizeof(eightbit),
             "v=1; a=rsa-sha256; d=ex\xc3\xa4mple.com; s=sel; h=from; bh=AAAA; b=AAAA");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tmsg m;
        struct dkim_sig_res out[4];
        struct dns *stub = dns_stub_new();
        struct dkim_eval_lib *lib = lib_with(5, 0);
        int nout = -1;

        msg_init(&m);
        sign(&m, &o);
        msg_prepend(&m, "DKIM-Signature", bad[i].value);
        assert_int_equal(
            dns_stub_add(stub, "sel._domainkey.example.com", DNS_T_TXT, keys[K_RSA].rec), 0);
        assert_int_equal(verify(lib, stub, &m, 0, out, 4, &nout), 0);
        if (nout != 2)
            fail_msg("bad[%zu]: got %d results, want 2", i, nout);
        if (out[0].result == AUTH_PASS ||
            (bad[i].res != AUTH_NONE && out[0].result != bad[i].res) ||
            (bad[i].reason != NULL && strcmp(out[0].reason, bad[i].reason) != 0))
            fail_msg("bad[%zu] '%.60s': got %s (%s), want %s (%s)", i, bad[i].value,
                     auth_res_name(out[0].result), out[0].reason, auth_res_name(bad[i].res),
                     bad[i].reason ? bad[i].reason : "any");
        if (out[1].result != AUTH_PASS)
            fail_msg("bad[%zu]: good signature below it: got %s (%s), want pass", i,
                     auth_res_name(out[1].result), out[1].reason);
        msg_free(&m);
        dkim_eval_lib_free(lib);
        dns_free(stub);
    }
}

/* test_threads - one library handle shared by 4 threads, as milter threads share it:
 * every verification of the same signed message passes (ASan/TSan find the races). */
struct thr {
    struct dkim_eval_lib *lib;
    struct dns *dns;
    const struct tmsg *m;
    int bad;
};

static void *thr_run(void *arg)
{
    struct thr *t = arg;

    for (int i = 0; i < 25; i++) {
        struct dkim_sig_res out[2];
        int nout = 0;

        if (verify(t->lib, t->dns, t->m, i & 1, out, 2, &nout) != 0 || nout != 2 ||
            out[0].result != AUTH_PASS || out[1].result != AUTH_PASS)
            t->bad++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct signopts o1 = {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL};
    struct signopts o2 = {K_ED, "example.net", "ed", DKIM_SIGN_ED25519SHA256, -1, 0, 0, NULL};
    struct dns *stub = dns_stub_new();
    struct dkim_eval_lib *lib = lib_with(5, 0);
    struct thr t[4];
    pthread_t tid[4];
    struct tmsg m;

    msg_init(&m);
    sign(&m, &o1);
    sign(&m, &o2);
    assert_int_equal(dns_stub_add(stub, "sel._domainkey.example.com", DNS_T_TXT, keys[K_RSA].rec),
                     0);
    assert_int_equal(dns_stub_add(stub, "ed._domainkey.example.net", DNS_T_TXT, keys[K_ED].rec), 0);
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){lib, stub, &m, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, thr_run, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        if (t[i].bad != 0)
            fail_msg("thread %d: got %d failed verifications, want 0", i, t[i].bad);
    }
    msg_free(&m);
    dkim_eval_lib_free(lib);
    dns_free(stub);
}

/* test_unsigned - no DKIM-Signature: no results, no queries */
static void test_unsigned(void **state)
{
    struct tmsg m;
    struct dkim_sig_res out[2];
    struct dns *stub = dns_stub_new();
    struct dkim_eval_lib *lib = lib_with(5, 0);
    int nout = -1;

    msg_init(&m);
    assert_int_equal(verify(lib, stub, &m, 0, out, 2, &nout), 0);
    assert_int_equal(nout, 0);
    assert_int_equal(dns_stub_queries(stub), 0);
    msg_free(&m);
    dkim_eval_lib_free(lib);
    dns_free(stub);
    assert_null(dkim_eval_new(NULL, NULL, NULL));
    dkim_eval_free(NULL);
    dkim_eval_lib_free(NULL);
}

/* subst - tmpl with every "%P" replaced by p and every "%O" by other */
static void subst(const char *tmpl, const char *p, const char *other, char *out, size_t size)
{
    size_t o = 0;

    for (; *tmpl != '\0' && o + 1 < size; tmpl++) {
        if (tmpl[0] == '%' && (tmpl[1] == 'P' || tmpl[1] == 'O')) {
            o += (size_t)snprintf(out + o, size - o, "%s", tmpl[1] == 'P' ? p : other);
            tmpl++;
        } else {
            out[o++] = *tmpl;
        }
    }
    out[o < size ? o : size - 1] = '\0';
}

/* test_key_records - the key record rules (RFC 6376 3.6.1, libopendkim's reading of
 * them) end to end: one signed message per row, the record built from a template
 * whose %P is the signing key's p= (RSA SPKI, or the raw Ed25519 key for ed rows) and
 * %O the other type's. */
static void test_key_records(void **state)
{
    static const struct {
        const char *rec;
        int ed;        /* signed with K_ED (ed25519-sha256), else K_RSA (rsa-sha256) */
        const char *i; /* i= of the signature */
        enum auth_res res;
        const char *reason;
        int testing;
    } rows[] = {
        {"v=DKIM1; k=rsa; p=%P", 0, NULL, AUTH_PASS, "", 0},
        {"p=%P", 0, NULL, AUTH_PASS, "", 0},
        {"v=DKIM1; k=RSA; p=%P", 0, NULL, AUTH_PASS, "", 0},
        {"V=DKIM1; K=rsa; P=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; p=%P; P=", 0, NULL, AUTH_PASS, "", 0}, /* P= is another tag */
        {"v=DKIM1; h=sha1:sha256; s=email:x; p=%P", 0, NULL, AUTH_PASS, "", 0},
        {"v=DKIM1; s=*; p=%P; n=note with spaces", 0, NULL, AUTH_PASS, "", 0},
        {"v=DKIM1; p=AAAA; p=%P", 0, NULL, AUTH_PASS, "", 0}, /* the last one wins */
        {" v = DKIM1 ;\tp = %P ; ", 0, NULL, AUTH_PASS, "", 0},
        {"v=DKIM1; t=y; p=%P", 0, NULL, AUTH_PASS, "", 1},
        {"v=DKIM1; t=Y:s; p=%P", 0, NULL, AUTH_PASS, "", 1},
        {"v=DKIM1; t=s; p=%P", 0, "@example.com", AUTH_PASS, "", 0},
        {"v=DKIM1; t=s; p=%P", 0, "user@mail.example.com", AUTH_FAIL, DKIM_REASON_SUBDOMAIN, 0},
        {"v=DKIM1; p=%P", 0, "user@mail.example.com", AUTH_PASS, "", 0},
        {"v=DKIM1; k=ed25519; p=%P", 1, NULL, AUTH_PASS, "", 0},
        {"v=DKIM1; k=ed25519; h=sha256; p=%P", 1, NULL, AUTH_PASS, "", 0},
        {"v=DKIM2; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; h=sha512; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; h=sha1; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_HASH, 0},
        {"v=DKIM1; h=sha1; s=x; p=", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_HASH, 0},
        {"v=DKIM1; s=other; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SERVICE, 0},
        {"v=DKIM1; s=; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SERVICE, 0},
        {"v=DKIM1; s=other; p=", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SERVICE, 0},
        {"v=DKIM1; k=dsa; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; k=rsa; p=", 0, NULL, AUTH_FAIL, DKIM_REASON_REVOKED, 0},
        {"v=DKIM1; k=rsa; p= ; t=y", 0, NULL, AUTH_FAIL, DKIM_REASON_REVOKED, 0},
        {"v=DKIM1; k=rsa", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; p=%P; x", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1;; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; p q=1; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; _x=1; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; n=caf\xc3\xa9; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; p=%P!", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; p=AAAAAAAA", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; k=ed25519; p=%P", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; k=rsa; p=%P", 1, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
        {"v=DKIM1; k=ed25519; p=%O", 0, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_TYPE, 0},
        {"v=DKIM1; k=rsa; p=%O", 1, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_TYPE, 0},
        {"v=DKIM1; k=ed25519; p=AAAA", 1, NULL, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct signopts o = {rows[i].ed ? K_ED : K_RSA,
                             "example.com",
                             "sel",
                             rows[i].ed ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256,
                             -1,
                             0,
                             0,
                             rows[i].i};
        const char *p = strstr(keys[o.key].rec, "p=") + 2;
        const char *other = strstr(keys[rows[i].ed ? K_RSA : K_ED].rec, "p=") + 2;
        struct dns *stub = dns_stub_new();
        struct dkim_eval_lib *lib = lib_with(5, 0);
        struct dkim_sig_res out[2];
        char rec[4096];
        struct tmsg m;
        int nout = -1;

        msg_init(&m);
        sign(&m, &o);
        subst(rows[i].rec, p, other, rec, sizeof(rec));
        assert_int_equal(dns_stub_add(stub, "sel._domainkey.example.com", DNS_T_TXT, rec), 0);
        assert_int_equal(verify(lib, stub, &m, 0, out, 2, &nout), 0);
        if (nout != 1 || out[0].result != rows[i].res || strcmp(out[0].reason, rows[i].reason) != 0)
            fail_msg("record \"%.60s\" (%s): got %d results, %s (%s), want %s (%s)", rows[i].rec,
                     rows[i].ed ? "ed25519" : "rsa", nout, auth_res_name(out[0].result),
                     out[0].reason, auth_res_name(rows[i].res), rows[i].reason);
        if (rows[i].res == AUTH_PASS && out[0].testing != rows[i].testing)
            fail_msg("record \"%.60s\": got testing=%d, want %d", rows[i].rec, out[0].testing,
                     rows[i].testing);
        msg_free(&m);
        dkim_eval_lib_free(lib);
        dns_free(stub);
    }
}

/* test_key_cache - a record is decoded once per library handle: the same text from
 * another message (and another selector) is a cache hit; a changed record is not. */
static void test_key_cache(void **state)
{
    struct signopts o = {K_RSA, "example.com", "sel", DKIM_SIGN_RSASHA256, -1, 0, 0, NULL};
    struct dkim_eval_lib *lib = lib_with(5, 0);
    struct dns *stub = dns_stub_new();
    struct dkim_sig_res out[2];
    unsigned long hits, misses;
    char rec[sizeof(keys[K_RSA].rec) + 8];
    struct tmsg m;
    int nout;

    msg_init(&m);
    sign(&m, &o);
    assert_int_equal(dns_stub_add(stub, "sel._domainkey.example.com", DNS_T_TXT, keys[K_RSA].rec),
                     0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(verify(lib, stub, &m, 0, out, 2, &nout), 0);
        if (nout != 1 || out[0].result != AUTH_PASS)
            fail_msg("round %d: got %s (%s), want pass", i, auth_res_name(out[0].result),
                     out[0].reason);
    }
    dkim_key_cache_stats(lib->keys, &hits, &misses);
    if (hits != 2 || misses != 1)
        fail_msg("same record 3 times: got %lu hits %lu misses, want 2 and 1", hits, misses);
    dns_free(stub);
    /* The same key under a changed text (t=y added): decoded anew, and it says so. */
    stub = dns_stub_new();
    snprintf(rec, sizeof(rec), "%s; t=y", keys[K_RSA].rec);
    assert_int_equal(dns_stub_add(stub, "sel._domainkey.example.com", DNS_T_TXT, rec), 0);
    assert_int_equal(verify(lib, stub, &m, 0, out, 2, &nout), 0);
    dkim_key_cache_stats(lib->keys, &hits, &misses);
    if (nout != 1 || out[0].result != AUTH_PASS || out[0].testing != 1 || misses != 2)
        fail_msg("changed record: got %s testing=%d misses=%lu, want pass testing=1 misses=2",
                 auth_res_name(out[0].result), out[0].testing, misses);
    msg_free(&m);
    dkim_eval_lib_free(lib);
    dns_free(stub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),    cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unsigned), cmocka_unit_test(test_key_records),
        cmocka_unit_test(test_key_cache),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
