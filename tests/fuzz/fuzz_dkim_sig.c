/* fuzz_dkim_sig.c - libFuzzer target for DKIM verification (src/dkim): hostile
 * DKIM-Signature tag lists and bodies through dkim_eval_new/header/eoh/body/finish on
 * libopendkim, keys from dns_stub (including a bare PKCS#1 key, which dkim_key.c
 * decodes too, a TEMPFAIL and an NXDOMAIN selector).
 * Input: byte 0 selects the mode (bit 0: values arrive with their leading space, as
 * with SMFIP_HDR_LEADSPC; bits 1-2: body chunk size 1, 7, 64 or all), the rest is split
 * at NUL bytes: every piece but the last is one DKIM-Signature value (up to MAX_SIGS),
 * the last piece is the body. Fixed From/To/Subject/Date/Message-ID fields follow the
 * signatures.
 * Checks the contract, not just "does not crash":
 *   - dkim_eval_finish returns 0 or -1 and gives min(signatures, MAX_OUT) results,
 *     all temperror when it returns -1;
 *   - every result is one of the DKIM words, with NUL-terminated strings; a pass has
 *     no reason, covers the whole body, names example.com and a published selector,
 *     and sits within the first max_sigs signatures; anything else has a reason;
 *   - a pass needs a real signature: the input, reduced to the base64 alphabet, holds
 *     the b= of one of the seed signatures (libopendkim skips other characters in b=;
 *     the last two characters may carry unused bits and are not compared);
 *   - at most one DNS query per evaluated signature.
 * The body is also handed to the key cache as a key record (dkim_key.c parses DNS
 * data): a decoded key or an error, and the same text twice is one cached key.
 * Seeds (tests/fuzz/corpus/dkim_sig) were signed with python3-dkim at t=1700000000
 * with the private halves of the keys below and in tests/common/dkim_testkeys.h, which
 * are not kept; a new seed that must pass needs its b= added to real_b[].
 * SA_FUZZ_VERBOSE=1 prints each result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim_eval.h"
#include "dkim/dkim_int.h"
#include "dns/dns.h"
#include "dkim_testkeys.h"

#define T0 1700000000 /* t= of the seed signatures */
#define MAX_SIGS 80   /* DKIM-Signature fields fed (beyond DKIM_EVAL_MAX_TRACK) */
#define MAX_OUT 8     /* results asked for */
#define EVAL_SIGS 5   /* conf.max_sigs */

/* The Ed25519 key of the seeds; the RSA key (sel, pk1) is in dkim_testkeys.h. */
static const char *const ed_pub = "U68uyD65A1vllhYTMKVEjxlGtDpaCUv8e2bC9ZZJdJ4=";

/* b= of the seed signatures that verify (without FWS). */
static const char *const real_b[] = {
    "CkPRQI7wnkXlEDnBTugZ4zaB/0Ww1XgwKu9jCeLQXJmaE6yvlMcxUb/tw6EaRS0tbCFafPcFha4kf9zUpFRymcD0w"
    "B24oP+BqAxmx855g71WXKsr6BJdG+CL24Zuh5TlKdKlqFhB9F6rsOUrK3RlYL3dEXnwthUss0Eu/n2iFuQ=",
    "GQiA3RgWLPMKDbIz7O1M1j3MOkdHgndqaANXUAIN9LE+aNWp/Pq/6GnRAWArSja3I4lBv5HMQ6RjioQhE7nCTz76C"
    "J/I9hBpOjy95CoLqteWfh50Ni4eOv6NimgABDn/g99g0UyLiIwUOpt5xSaPAZ7KLhahVB6XDYFP9/10sFI=",
    "8an+4tsKNsZfQJEyxeTSsLYOmg6wOQbiyIAReT4w9IheABOj7mVp7ayyP81QcLgIcDl3kL47b4V01KUXjZ8oBg==",
    "AR+qrVD0BcUmiCaxwbOOGU/KUuD7yG/XtnaMRhsxisDW6EHSnR2pKuQvTJ2H9M7ZE3ouzl1xY7wvzxszVPncysK6X"
    "J0Vahq87ljTwSYEOzIyL3t/ZHSijyQNBoEY0YjEZSamDc1F4nY+/qK8AWay4OGXequ1YXmAqP0ry246sik=",
    "ounHRzjwE4boHEJBCQpp0mzir+g5QO4Q6NyBY/SRdXRKFEBe2XatgZDgwBa/iP6R1D7qJsetI5PxOIHLWPN9vtPR3"
    "fjWHGOIbby2ZQilfwCXlxv6+KSAIBvXQyIzxVO+DPss4xu+cT3yMUOuYlixTeTCBhOA87SSo4H+/juX/JM=",
    "Nmx1+At1tutHy5PEWlKRhXGnIS8Tb7FrzfAuBG6phO2h2AaZy6DMpCu+9O5xEX570RQFf9kNSpq3DBv8gFZv+DLK8"
    "UZaRVX17yGjBPeRx2H1kgUiLzDjC0Bux25N5b6h9QCy+t555CpUCTsAbZcMriApbwRdIXzpXGGEPi5zKtk=",
};

static const char *const fixed_hdr[][2] = {
    {"From", "Alice <alice@example.com>"},
    {"To", "bob@example.org"},
    {"Subject", "fuzz"},
    {"Date", "Tue, 1 Nov 2022 09:59:00 +0000"},
    {"Message-ID", "<fuzz@example.com>"},
};

static struct dkim_eval_lib *lib;
static struct dns *stub;
static int verbose;

static int setup(void);
static int is_b64(int c);
static size_t b64_only(const char *in, size_t n, char *out);
static int has_real_b(const char *alpha, size_t n);
static int valid_str(const char *s, size_t size);
static void check(const struct dkim_sig_res *r, int i, int rc, const char *alpha, size_t nalpha);
static void check_key(const char *rec, size_t len);

/* setup - one library handle and one DNS view for the whole run (as in the daemon) */
static int setup(void)
{
    struct dkim_eval_conf conf = {EVAL_SIGS, DKIM_EVAL_MIN_RSA_BITS, T0 + 60};
    char rec[1024];

    if ((lib = dkim_eval_lib_new(&conf)) == NULL || (stub = dns_stub_new()) == NULL)
        return -1;
    snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", rsa_spki);
    if (dns_stub_add(stub, "sel._domainkey.example.com", DNS_T_TXT, rec) < 0)
        return -1;
    snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", rsa_pkcs1);
    if (dns_stub_add(stub, "pk1._domainkey.example.com", DNS_T_TXT, rec) < 0)
        return -1;
    snprintf(rec, sizeof(rec), "v=DKIM1; k=ed25519; p=%s", ed_pub);
    if (dns_stub_add(stub, "ed._domainkey.example.com", DNS_T_TXT, rec) < 0)
        return -1;
    if (dns_stub_fail(stub, "tf._domainkey.example.com", DNS_T_TXT, DNS_TEMPFAIL) < 0)
        return -1;
    verbose = getenv("SA_FUZZ_VERBOSE") != NULL;
    return 0;
}

static int is_b64(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* b64_only - the base64 alphabet characters of in, in order */
static size_t b64_only(const char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++)
        if (is_b64((unsigned char)in[i]))
            out[o++] = in[i];
    return o;
}

/* has_real_b - alpha holds one of the real signatures (all but its last two characters) */
static int has_real_b(const char *alpha, size_t n)
{
    char want[256];

    for (size_t k = 0; k < sizeof(real_b) / sizeof(real_b[0]); k++) {
        size_t w = b64_only(real_b[k], strlen(real_b[k]), want) - 2;

        if (n >= w && memmem(alpha, n, want, w) != NULL)
            return 1;
    }
    return 0;
}

static int valid_str(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

/* check - one result against the contract; abort() on a breach */
static void check(const struct dkim_sig_res *r, int i, int rc, const char *alpha, size_t nalpha)
{
    if (!valid_str(r->domain, sizeof(r->domain)) || !valid_str(r->selector, sizeof(r->selector)) ||
        !valid_str(r->algo, sizeof(r->algo)) || !valid_str(r->b8, sizeof(r->b8)) ||
        !valid_str(r->reason, sizeof(r->reason)))
        abort();
    if (rc != 0 && r->result != AUTH_TEMPERROR)
        abort();
    switch (r->result) {
    case AUTH_PASS:
        if (r->reason[0] != '\0' || !r->full_body || i >= EVAL_SIGS ||
            strcmp(r->domain, "example.com") != 0 ||
            (strcmp(r->selector, "sel") != 0 && strcmp(r->selector, "pk1") != 0 &&
             strcmp(r->selector, "ed") != 0) ||
            strlen(r->b8) != 8 || !has_real_b(alpha, nalpha))
            abort();
        return;
    case AUTH_FAIL:
    case AUTH_NEUTRAL:
    case AUTH_POLICY:
    case AUTH_TEMPERROR:
    case AUTH_PERMERROR:
        if (r->reason[0] == '\0')
            abort();
        if (i >= EVAL_SIGS && rc == 0 && r->result != AUTH_POLICY && r->result != AUTH_PERMERROR)
            abort(); /* too many, or never fed (too long) */
        return;
    default:
        abort();
    }
}

/* check_key - the body as a hostile key record through the key cache (dkim_key.c
 * parses DNS data): a key or an error, never both; the same text again is the same
 * cached key */
static void check_key(const char *rec, size_t len)
{
    struct dkim_key *k, *again;

    if (memchr(rec, '\0', len) != NULL)
        return; /* dkim_dns.c never hands those over */
    if ((k = dkim_key_get(lib->keys, rec, len)) == NULL)
        abort();
    if (verbose)
        fprintf(stderr, "body as key record: err %d bits %d\n", (int)k->err, k->bits);
    if ((k->err == DKIM_KEY_OK) != (k->pkey != NULL) || (k->pkey != NULL && k->bits <= 0))
        abort();
    if ((again = dkim_key_get(lib->keys, rec, len)) != k)
        abort();
    dkim_key_release(again);
    dkim_key_release(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t chunks[4] = {1, 7, 64, 0};
    struct dkim_sig_res out[MAX_OUT];
    struct dkim_eval *v;
    const char *p, *end, *body;
    char *alpha, val[200];
    size_t nalpha, chunk, blen;
    int leadspace, nsig = 0, nout = -1, rc, q0, want;

    if (lib == NULL && setup() < 0)
        abort();
    if (size < 1)
        return 0;
    leadspace = data[0] & 1;
    chunk = chunks[(data[0] >> 1) & 3];
    p = (const char *)data + 1;
    end = (const char *)data + size;
    if ((alpha = malloc(size)) == NULL)
        return 0;
    nalpha = b64_only(p, (size_t)(end - p), alpha);
    q0 = dns_stub_queries(stub);
    if ((v = dkim_eval_new(lib, stub, "FUZZ")) == NULL)
        abort();
    dkim_eval_set_leadspace(v, leadspace);
    /* The signatures: each value a copy of exactly its bytes plus NUL (ASan sees over-reads). */
    for (const char *nul; nsig < MAX_SIGS && (nul = memchr(p, '\0', (size_t)(end - p))) != NULL;
         p = nul + 1) {
        char *sv = malloc((size_t)(nul - p) + 1);

        if (sv == NULL)
            abort();
        memcpy(sv, p, (size_t)(nul - p));
        sv[nul - p] = '\0';
        (void)dkim_eval_header(v, "DKIM-Signature", sv);
        free(sv);
        nsig++;
    }
    for (size_t i = 0; i < sizeof(fixed_hdr) / sizeof(fixed_hdr[0]); i++) {
        snprintf(val, sizeof(val), "%s%s", leadspace ? " " : "", fixed_hdr[i][1]);
        if (dkim_eval_header(v, fixed_hdr[i][0], val) != 0)
            abort();
    }
    (void)dkim_eval_eoh(v);
    body = p;
    blen = (size_t)(end - p);
    if (chunk == 0)
        chunk = blen > 0 ? blen : 1;
    for (size_t off = 0; off < blen; off += chunk) {
        size_t n = blen - off < chunk ? blen - off : chunk;

        (void)dkim_eval_body(v, (const unsigned char *)body + off, n);
    }
    check_key(body, blen);
    rc = dkim_eval_finish(v, out, MAX_OUT, &nout);
    dkim_eval_free(v);
    want = nsig < MAX_OUT ? nsig : MAX_OUT;
    if ((rc != 0 && rc != -1) || nout != want)
        abort();
    for (int i = 0; i < nout; i++) {
        if (verbose)
            fprintf(stderr, "sig %d: %s reason=\"%s\" d=%s s=%s b=%s\n", i,
                    auth_res_name(out[i].result), out[i].reason, out[i].domain, out[i].selector,
                    out[i].b8);
        check(&out[i], i, rc, alpha, nalpha);
    }
    if (dns_stub_queries(stub) - q0 > (nsig < EVAL_SIGS ? nsig : EVAL_SIGS))
        abort();
    free(alpha);
    return 0;
}
