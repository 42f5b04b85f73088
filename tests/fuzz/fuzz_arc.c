/* fuzz_arc.c - libFuzzer target for ARC: the verifier (arc_eval) and the sealer (arc_seal)
 * on one message, then the verifier again on the message with our set on top.
 * Input: byte 0 = flags (bit 0: values keep their leading space, bits 1-2: body chunk size
 * 1/7/64/all); then header fields (LF or CRLF; a line starting with white space continues
 * the field) up to an empty line, then the body as is. Keys: our Ed25519 sealing key at
 * s._domainkey.d.example (made once), nothing else (other keys are "not found").
 * Checks the contract, not just "does not crash":
 *   - the verifier says none exactly when there are no ARC fields, else pass or fail;
 *   - the sealer adds a set only with i = (newest instance) + 1 <= 50 and a cv= that
 *     follows the chain status (none only without ARC fields, pass only on a pass);
 *   - a set we add to a message without ARC fields verifies: arc=pass with 1 set.
 * SA_FUZZ_VERBOSE=1 prints the three values of each input's set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "arc/arc_eval.h"
#include "arc/arc_seal.h"
#include "dns/dns.h"

#define MAX_FIELDS 300 /* header fields fed (the message is re-fed with our 3 on top) */
#define MAX_NAME 256

static EVP_PKEY *key;
static struct dns *dns;

struct field {
    char name[MAX_NAME];
    char *value;
};

static int setup(void);
static int split(const char *p, const char *end, int lead, struct field *f, int *n,
                 const char **body);
static void verify(struct field *f, int n, const char *body, size_t blen, size_t chunk,
                   struct arc_res *r);

/* setup - the sealing key and its record */
static int setup(void)
{
    unsigned char pub[32];
    char b64[64], txt[128];
    size_t len = sizeof(pub);

    if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL ||
        EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || (dns = dns_stub_new()) == NULL)
        return -1;
    EVP_EncodeBlock((unsigned char *)b64, pub, (int)len);
    snprintf(txt, sizeof(txt), "v=DKIM1; k=ed25519; p=%s", b64);
    return dns_stub_add(dns, "s._domainkey.d.example", DNS_T_TXT, txt);
}

/* split - header fields (values malloc'ed) and where the body starts; 0 or -1 */
static int split(const char *p, const char *end, int lead, struct field *f, int *n,
                 const char **body)
{
    *n = 0;
    *body = end;
    while (p < end) {
        const char *le = memchr(p, '\n', (size_t)(end - p)), *colon, *ve;
        size_t nl;

        if (le == NULL)
            le = end;
        if (le == p || (le == p + 1 && *p == '\r')) { /* the empty line */
            *body = le < end ? le + 1 : end;
            return 0;
        }
        ve = le;
        while (ve + 1 < end && (ve[1] == ' ' || ve[1] == '\t')) { /* continuation lines */
            const char *nx = memchr(ve + 1, '\n', (size_t)(end - ve - 1));
            ve = nx ? nx : end;
        }
        colon = memchr(p, ':', (size_t)(le - p));
        if (colon != NULL && colon > p && (size_t)(colon - p) < MAX_NAME &&
            memchr(p, '\0', (size_t)(ve - p)) == NULL && *n < MAX_FIELDS) {
            const char *vs = colon + 1;
            size_t vl;
            if (!lead)
                while (vs < ve && (*vs == ' ' || *vs == '\t'))
                    vs++;
            vl = (size_t)(ve - vs);
            if (vl > 0 && vs[vl - 1] == '\r')
                vl--;
            nl = (size_t)(colon - p);
            memcpy(f[*n].name, p, nl);
            f[*n].name[nl] = '\0';
            if ((f[*n].value = malloc(vl + 1)) == NULL)
                return -1;
            memcpy(f[*n].value, vs, vl);
            f[*n].value[vl] = '\0';
            (*n)++;
        }
        p = ve < end ? ve + 1 : end;
    }
    return 0;
}

/* verify - arc_eval over the fields and body, the body in chunks */
static void verify(struct field *f, int n, const char *body, size_t blen, size_t chunk,
                   struct arc_res *r)
{
    struct arc_eval *v = arc_eval_new(NULL, dns);

    if (v == NULL)
        abort();
    for (int i = 0; i < n; i++)
        arc_eval_header(v, f[i].name, f[i].value);
    arc_eval_eoh(v);
    for (size_t o = 0; o < blen; o += chunk)
        arc_eval_body(v, (const unsigned char *)body + o, blen - o < chunk ? blen - o : chunk);
    arc_eval_finish(v, r);
    arc_eval_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t chunks[] = {1, 7, 64, (size_t)-1};
    static struct field f[MAX_FIELDS + 3];
    static struct arc_res r, r2;
    struct arc_seal_conf sc;
    struct arc_seal_in in = {AUTH_NONE, "mx.test.example; spf=pass smtp.mailfrom=a.example",
                             1700000000, "\n "};
    struct arc_seal_out out;
    struct arc_seal *s;
    const char *body;
    size_t blen, chunk;
    int n = 0, has_arc = 0, rc;

    if (key == NULL && setup() < 0)
        abort();
    if (size < 1)
        return 0;
    chunk = chunks[(data[0] >> 1) & 3];
    if (split((const char *)data + 1, (const char *)data + size, data[0] & 1, f + 3, &n, &body) < 0)
        abort();
    blen = (size_t)((const char *)data + size - body);
    if (chunk > blen)
        chunk = blen > 0 ? blen : 1;
    for (int i = 3; i < n + 3; i++)
        has_arc |= strncasecmp(f[i].name, "ARC-", 4) == 0 &&
                   (strcasecmp(f[i].name, "ARC-Seal") == 0 ||
                    strcasecmp(f[i].name, "ARC-Message-Signature") == 0 ||
                    strcasecmp(f[i].name, "ARC-Authentication-Results") == 0);

    verify(f + 3, n, body, blen, chunk, &r);
    if ((r.result == AUTH_NONE) != !has_arc ||
        (r.result != AUTH_NONE && r.result != AUTH_PASS && r.result != AUTH_FAIL))
        abort();

    sc = (struct arc_seal_conf){key, "d.example", "s", "from:to:subject:date:x-a"};
    if ((s = arc_seal_new(&sc)) == NULL)
        abort();
    for (int i = 3; i < n + 3; i++)
        arc_seal_header(s, f[i].name, f[i].value);
    for (size_t o = 0; o < blen; o += chunk)
        arc_seal_body(s, (const unsigned char *)body + o, blen - o < chunk ? blen - o : chunk);
    in.chain = r.result;
    rc = arc_seal_finish(s, &in, &out);
    if (rc == 0 && out.sealed) {
        if (out.instance < 1 || out.instance > ARC_MAX_INSTANCES ||
            (strcmp(out.cv, "none") == 0) != (out.instance == 1 && r.result == AUTH_NONE) ||
            (strcmp(out.cv, "pass") == 0 && r.result != AUTH_PASS))
            abort();
        if (getenv("SA_FUZZ_VERBOSE"))
            printf("ARC-Seal: %s\nARC-Message-Signature: %s\nARC-Authentication-Results: %s\n",
                   out.as, out.ams, out.aar);
        if (!has_arc) { /* our set alone must verify */
            snprintf(f[0].name, MAX_NAME, "ARC-Seal");
            snprintf(f[1].name, MAX_NAME, "ARC-Message-Signature");
            snprintf(f[2].name, MAX_NAME, "ARC-Authentication-Results");
            f[0].value = (char *)out.as;
            f[1].value = (char *)out.ams;
            f[2].value = (char *)out.aar;
            verify(f, n + 3, body, blen, chunk, &r2);
            if (r2.result != AUTH_PASS || r2.nsets != 1) {
                fprintf(stderr, "our set does not verify: %s (%s)\n", auth_res_name(r2.result),
                        r2.reason);
                abort();
            }
        }
    }
    arc_seal_free(s);
    for (int i = 3; i < n + 3; i++)
        free(f[i].value);
    return 0;
}
