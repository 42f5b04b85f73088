/* bimi_cert.c - the mark certificate (VMC or CMC) behind a BIMI record: chain to the
 * configured trust store at a given time, the BIMI extended key usage, a subjectAltName
 * naming the domain, the logo embedded in the RFC 3709 logotype extension (a data: URI,
 * base64 of a gzipped or plain SVG) equal to the published one, and the mark type
 * subject attribute that tells a VMC from a CMC.
 * Owns those checks and the trust store object; not the fetch nor the SVG rules.
 * Threads: struct bimi_trust is read-only after bimi_trust_new (OpenSSL's X509_STORE
 * locks its own lookups); everything else works on its arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include "bimi/bimi.h"
#include "util/base64.h"
#include "util/xalloc.h"

#define DER_MAX_DEPTH 16
#define DATA_URI_SVG "data:image/svg+xml"

struct bimi_trust {
    X509_STORE *store;
};

/* The mark types of the BIMI Group's certificate profile. */
static const struct {
    const char *name;
    enum bimi_authority authority;
} mark_types[] = {
    {"Registered Mark", BIMI_AUTH_VMC},
    {"Government Mark", BIMI_AUTH_VMC},
    {"Prior Use Mark", BIMI_AUTH_CMC},
    {"Modified Registered Mark", BIMI_AUTH_CMC},
};

static int der_find_uri(const unsigned char *p, size_t n, int depth, const unsigned char **uri,
                        size_t *urilen);
static unsigned char *gunzip(const unsigned char *in, size_t n, size_t max, size_t *outlen);
static int load_chain(const char *pem, size_t len, X509 **leaf, STACK_OF(X509) * *rest);
static int has_eku(X509 *x);
static int san_matches(X509 *x, const char *const *domain);
static enum bimi_authority mark_type(X509 *x, char *name, size_t namelen);
static int logo_matches(X509 *x, const char *svg, size_t svg_len);
static time_t chain_not_after(X509_STORE_CTX *ctx, time_t now);

/* bimi_trust_new - see bimi.h */
struct bimi_trust *bimi_trust_new(const char *path, char *reason, size_t reasonlen)
{
    struct bimi_trust *t;
    STACK_OF(X509_OBJECT) * objs;

    if (path == NULL || path[0] == '\0') {
        snprintf(reason, reasonlen, "no trust store configured");
        return NULL;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL || (t->store = X509_STORE_new()) == NULL) {
        snprintf(reason, reasonlen, "out of memory");
        free(t);
        return NULL;
    }
    if (X509_STORE_load_file(t->store, path) != 1 ||
        (objs = X509_STORE_get0_objects(t->store)) == NULL || sk_X509_OBJECT_num(objs) == 0) {
        snprintf(reason, reasonlen, "cannot load trust store %.200s", path);
        ERR_clear_error();
        return bimi_trust_free(t);
    }
    return t;
}

/* bimi_trust_free - see bimi.h */
struct bimi_trust *bimi_trust_free(struct bimi_trust *t)
{
    if (t != NULL) {
        X509_STORE_free(t->store);
        free(t);
    }
    return NULL;
}

/* load_chain - the first certificate of pem and the ones after it (at most
 * BIMI_MAX_CHAIN in all); 0, or -1 when there is none */
static int load_chain(const char *pem, size_t len, X509 **leaf, STACK_OF(X509) * *rest)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *x;
    int n = 0;

    *leaf = NULL;
    *rest = sk_X509_new_null();
    if (bio == NULL || *rest == NULL) {
        BIO_free(bio);
        return -1;
    }
    while (n < BIMI_MAX_CHAIN && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (n++ == 0)
            *leaf = x;
        else if (!sk_X509_push(*rest, x))
            X509_free(x);
    }
    ERR_clear_error(); /* the end of the input ends the loop with a "no start line" */
    BIO_free(bio);
    return *leaf != NULL ? 0 : -1;
}

/* has_eku - the certificate's extended key usage lists the BIMI purpose */
static int has_eku(X509 *x)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    ASN1_OBJECT *want = OBJ_txt2obj(BIMI_EKU_OID, 1);
    int found = 0;

    for (int i = 0; eku != NULL && want != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
        found |= OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0;
    ASN1_OBJECT_free(want);
    EXTENDED_KEY_USAGE_free(eku);
    return found;
}

/* san_matches - a dNSName equal (case-insensitive) to one of domain[0..1] */
static int san_matches(X509 *x, const char *const *domain)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int found = 0;

    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && !found; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const unsigned char *s;
        int n;

        if (g->type != GEN_DNS)
            continue;
        s = ASN1_STRING_get0_data(g->d.dNSName);
        n = ASN1_STRING_length(g->d.dNSName);
        for (int k = 0; k < 2 && !found; k++)
            found = domain[k] != NULL && (size_t)n == strlen(domain[k]) &&
                    memchr(s, '\0', (size_t)n) == NULL &&
                    strncasecmp((const char *)s, domain[k], (size_t)n) == 0;
    }
    GENERAL_NAMES_free(gens);
    return found;
}

/* mark_type - VMC or CMC from the markType subject attribute; a certificate without
 * one is a VMC when it names a trademark registration (certificates issued before the
 * attribute existed), else none. name gets the attribute's text for the reason. */
static enum bimi_authority mark_type(X509 *x, char *name, size_t namelen)
{
    X509_NAME *subj = X509_get_subject_name(x);
    ASN1_OBJECT *mt = OBJ_txt2obj(BIMI_MARKTYPE_OID, 1), *tm = OBJ_txt2obj(BIMI_TMREG_OID, 1);
    enum bimi_authority a = BIMI_AUTH_NONE;
    int i;

    name[0] = '\0';
    if (mt != NULL && (i = X509_NAME_get_index_by_OBJ(subj, mt, -1)) >= 0) {
        ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
        int n = ASN1_STRING_length(s);
        const unsigned char *d = ASN1_STRING_get0_data(s);

        snprintf(name, namelen, "%.*s", n > 60 ? 60 : n, (const char *)d);
        for (size_t k = 0; k < sizeof(mark_types) / sizeof(mark_types[0]); k++)
            if ((size_t)n == strlen(mark_types[k].name) &&
                strncasecmp((const char *)d, mark_types[k].name, (size_t)n) == 0)
                a = mark_types[k].authority;
    } else if (tm != NULL && X509_NAME_get_index_by_OBJ(subj, tm, -1) >= 0) {
        a = BIMI_AUTH_VMC;
    }
    ASN1_OBJECT_free(mt);
    ASN1_OBJECT_free(tm);
    return a;
}

/* der_find_uri - depth-first, the first IA5String in DER p/n that starts with
 * "data:image/svg+xml"; 0 with the URI in uri and urilen, or -1 (none, or malformed DER) */
static int der_find_uri(const unsigned char *p, size_t n, int depth, const unsigned char **uri,
                        size_t *urilen)
{
    size_t i = 0;

    if (depth > DER_MAX_DEPTH)
        return -1;
    while (i + 2 <= n) {
        unsigned char tag = p[i++];
        size_t len = p[i++];

        if ((tag & 0x1f) == 0x1f)
            return -1; /* high tag numbers do not occur in the logotype syntax */
        if (len & 0x80) {
            size_t k = len & 0x7f;
            if (k == 0 || k > 4 || i + k > n)
                return -1;
            for (len = 0; k > 0; k--)
                len = (len << 8) | p[i++];
        }
        if (len > n - i)
            return -1;
        if (tag == 0x16 && len >= sizeof(DATA_URI_SVG) - 1 &&
            strncasecmp((const char *)p + i, DATA_URI_SVG, sizeof(DATA_URI_SVG) - 1) == 0) {
            *uri = p + i;
            *urilen = len;
            return 0;
        }
        if ((tag & 0x20) && der_find_uri(p + i, len, depth + 1, uri, urilen) == 0)
            return 0;
        i += len;
    }
    return -1;
}

/* gunzip - inflate a gzip stream into a fresh buffer of at most max bytes (plus a NUL) */
static unsigned char *gunzip(const unsigned char *in, size_t n, size_t max, size_t *outlen)
{
    z_stream z;
    unsigned char *out = malloc(max + 1);
    int rc;

    if (out == NULL)
        return NULL;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)max;
    rc = inflate(&z, Z_FINISH);
    *outlen = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) { /* Z_BUF_ERROR: more than max; anything else: corrupt */
        free(out);
        return NULL;
    }
    out[*outlen] = '\0';
    return out;
}

/* bimi_cert_logo - see bimi.h */
unsigned char *bimi_cert_logo(const unsigned char *der, size_t derlen, size_t max, size_t *outlen)
{
    const unsigned char *uri, *comma;
    size_t urilen, b64len, rawlen, rawmax = max + max / 2 + 1024;
    unsigned char *raw, *svg;

    if (der_find_uri(der, derlen, 0, &uri, &urilen) < 0 ||
        (comma = memchr(uri, ',', urilen)) == NULL)
        return NULL;
    /* Only base64 payloads: "data:image/svg+xml;base64,..." (an svgz is gzip inside). */
    if ((size_t)(comma - uri) < 7 || strncasecmp((const char *)comma - 7, ";base64", 7) != 0)
        return NULL;
    b64len = urilen - (size_t)(comma + 1 - uri);
    if ((raw = malloc(rawmax + 1)) == NULL)
        return NULL;
    if (base64_decode((const char *)comma + 1, b64len, raw, rawmax, &rawlen, BASE64_PADDED) < 0) {
        free(raw);
        return NULL;
    }
    if (rawlen >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        svg = gunzip(raw, rawlen, max, outlen);
        free(raw);
        return svg;
    }
    if (rawlen > max) {
        free(raw);
        return NULL;
    }
    raw[rawlen] = '\0';
    *outlen = rawlen;
    return raw;
}

/* logo_matches - the logotype extension's SVG is byte-for-byte the published one */
static int logo_matches(X509 *x, const char *svg, size_t svg_len)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(BIMI_LOGOTYPE_OID, 1);
    int idx = obj != NULL ? X509_get_ext_by_OBJ(x, obj, -1) : -1;
    ASN1_OCTET_STRING *data;
    unsigned char *logo;
    size_t n = 0;
    int same;

    ASN1_OBJECT_free(obj);
    if (idx < 0 || (data = X509_EXTENSION_get_data(X509_get_ext(x, idx))) == NULL)
        return -1;
    logo = bimi_cert_logo(ASN1_STRING_get0_data(data), (size_t)ASN1_STRING_length(data),
                          BIMI_SVG_LIMIT, &n);
    if (logo == NULL)
        return -1;
    same = n == svg_len && memcmp(logo, svg, n) == 0;
    free(logo);
    return same ? 0 : 1;
}

/* chain_not_after - the earliest notAfter of the verified chain (now when unreadable) */
static time_t chain_not_after(X509_STORE_CTX *ctx, time_t now)
{
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    time_t min = 0;

    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
        struct tm tm;
        time_t t;

        if (ASN1_TIME_to_tm(X509_get0_notAfter(sk_X509_value(chain, i)), &tm) != 1)
            return now;
        t = timegm(&tm);
        if (min == 0 || t < min)
            min = t;
    }
    return min != 0 ? min : now;
}

/* bimi_cert_verify - see bimi.h */
int bimi_cert_verify(const struct bimi_cert_in *in, struct bimi_cert_res *out)
{
    X509 *leaf = NULL;
    STACK_OF(X509) *rest = NULL;
    X509_STORE_CTX *ctx = NULL;
    char mark[64];
    int rc = -1, err, lm;

    memset(out, 0, sizeof(*out));
    if (in->trust == NULL)
        return sa_reason(out->reason, sizeof(out->reason), "%s", "no trust store");
    if (load_chain(in->pem, in->len, &leaf, &rest) < 0) {
        sa_reason(out->reason, sizeof(out->reason), "%s",
                  "no certificate in the mark certificate file");
        goto done;
    }
    if ((ctx = X509_STORE_CTX_new()) == NULL ||
        X509_STORE_CTX_init(ctx, in->trust->store, leaf, rest) != 1) {
        sa_reason(out->reason, sizeof(out->reason), "%s", "out of memory");
        goto done;
    }
    X509_STORE_CTX_set_time(ctx, 0, in->now);
    if (X509_verify_cert(ctx) != 1) {
        err = X509_STORE_CTX_get_error(ctx);
        if (err == X509_V_ERR_CERT_HAS_EXPIRED)
            sa_reason(out->reason, sizeof(out->reason), "%s", "certificate expired");
        else if (err == X509_V_ERR_CERT_NOT_YET_VALID)
            sa_reason(out->reason, sizeof(out->reason), "%s", "certificate not yet valid");
        else
            sa_reason(out->reason, sizeof(out->reason), "certificate chain: %s",
                      X509_verify_cert_error_string(err));
        goto done;
    }
    if (!has_eku(leaf)) {
        sa_reason(out->reason, sizeof(out->reason), "%s",
                  "certificate lacks the BIMI extended key usage");
        goto done;
    }
    if (!san_matches(leaf, in->domain)) {
        sa_reason(out->reason, sizeof(out->reason), "certificate does not name %s",
                  in->domain[0] ? in->domain[0] : "");
        goto done;
    }
    if ((lm = logo_matches(leaf, in->svg, in->svg_len)) != 0) {
        sa_reason(out->reason, sizeof(out->reason), "%s",
                  lm < 0 ? "no logo in the certificate" : "logo does not match certificate");
        goto done;
    }
    out->not_after = chain_not_after(ctx, in->now);
    if ((out->authority = mark_type(leaf, mark, sizeof(mark))) == BIMI_AUTH_NONE) {
        sa_reason(out->reason, sizeof(out->reason), "unknown mark type %s",
                  mark[0] ? mark : "(none)");
        goto done;
    }
    rc = 0;
done:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_free(leaf);
    sk_X509_pop_free(rest, X509_free);
    return rc;
}
