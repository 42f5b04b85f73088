/* arc_seal.c - ARC sealing of one message (RFC 8617 5.1): keeps the header fields named in
 * h= and the ARC fields (bounded, one buffer), hashes the body (relaxed), and at the end
 * decides whether a set may be added (no set after a newest cv=fail, none past i=50),
 * then writes and signs the ARC-Authentication-Results, ARC-Message-Signature (RFC 8617
 * 4.1.2, as a DKIM signature over the h= fields) and ARC-Seal (5.1.1: every set 1..N in
 * order; only our own set when cv=fail, 5.1.2).
 * Owns struct arc_seal and the three values it writes; not the chain status (arc_eval.c),
 * canonicalization (arc_canon.c), the private key (loaded with the configuration) nor
 * where the fields go in the message (the daemon's arc_hook.c).
 * Threads: one message, one thread at a time; the key is shared read-only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "arc/arc_int.h"
#include "arc/arc_seal.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define KIND_AAR ARC_KIND_AAR
#define KIND_AMS ARC_KIND_AMS
#define KIND_AS ARC_KIND_AS
#define MAX_NAMES 64  /* names in arc.seal.headers */
#define MAX_SIG 2048  /* a 16384-bit RSA signature */
#define NO_INSTANCE 0 /* an ARC field whose i= cannot be read */

struct sfield {
    size_t off, len, nlen; /* "Name:value" in hdr */
    int kind;              /* KIND_* or 0 */
    int inst;              /* ARC fields: i=, NO_INSTANCE when unreadable */
    int cv_fail;           /* ARC-Seal with cv=fail */
};

struct arc_seal {
    struct arc_seal_conf conf;
    struct {
        const char *p;
        size_t n;
    } name[MAX_NAMES];
    int nnames;
    struct buf hdr;
    struct sfield f[ARC_SEAL_MAX_FIELDS];
    int nf, overflow, finished;
    EVP_MD_CTX *bmd;
    struct arc_body body;
    char hlist[ARC_SEAL_MAX_HLIST];
    char aar[ARC_SEAL_MAX_VALUE], ams[ARC_SEAL_MAX_VALUE], as[ARC_SEAL_MAX_VALUE];
    char canon[ARC_SEAL_MAX_VALUE + ARC_MAX_FIELD + 64]; /* one canonical field */
};

static int wanted(const struct arc_seal *s, const char *name, size_t n);
static void body_out(void *arg, const void *p, size_t n);
static int read_instance(struct arc_seal *s, struct sfield *f);
static int hash_raw(struct arc_seal *s, EVP_MD_CTX *md, const char *field, size_t n, int crlf);
static int hash_value(struct arc_seal *s, EVP_MD_CTX *md, const char *name, const char *value,
                      int crlf);
static int hash_set(struct arc_seal *s, EVP_MD_CTX *md, int inst);
static int sign(EVP_PKEY *key, EVP_MD_CTX *md, char *b64, size_t b64len);
static int put_b(char *value, size_t len, size_t boff, const char *b64);
static int hash_signed_fields(struct arc_seal *s, EVP_MD_CTX *md);
static int not_sealed(struct arc_seal_out *out, const char *reason, int rc);

/* arc_seal_new - see arc_seal.h */
struct arc_seal *arc_seal_new(const struct arc_seal_conf *conf)
{
    struct arc_seal *s = calloc(1, sizeof(*s));
    const char *p;

    if (s == NULL)
        return NULL;
    s->conf = *conf;
    p = s->conf.headers != NULL ? s->conf.headers : ARC_SEAL_DEFAULT_HEADERS;
    while (*p && s->nnames < MAX_NAMES) {
        size_t n;
        p += strspn(p, ": \t");
        n = strcspn(p, ": \t");
        if (n > 0) {
            s->name[s->nnames].p = p;
            s->name[s->nnames++].n = n;
        }
        p += n;
    }
    buf_init(&s->hdr, ARC_MAX_HEADER_BYTES);
    if ((s->bmd = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(s->bmd, EVP_sha256(), NULL) != 1) {
        arc_seal_free(s);
        return NULL;
    }
    arc_body_init(&s->body, 1, -1, body_out, s->bmd);
    return s;
}

/* arc_seal_free - see arc_seal.h */
void arc_seal_free(struct arc_seal *s)
{
    if (s == NULL)
        return;
    EVP_MD_CTX_free(s->bmd);
    buf_release(&s->hdr);
    free(s);
}

/* wanted - name (n bytes) is one of the h= candidates */
static int wanted(const struct arc_seal *s, const char *name, size_t n)
{
    for (int k = 0; k < s->nnames; k++)
        if (s->name[k].n == n && strncasecmp(s->name[k].p, name, n) == 0)
            return 1;
    return 0;
}

/* arc_seal_header - see arc_seal.h */
int arc_seal_header(struct arc_seal *s, const char *name, const char *value)
{
    size_t start = s->hdr.len, nlen = strlen(name), vlen = strlen(value);
    int kind = arc_field_kind(name);

    if (s->overflow)
        return -1;
    if (kind == 0 && !wanted(s, name, nlen))
        return 0;
    if (s->nf >= ARC_SEAL_MAX_FIELDS || nlen + vlen + 1 > ARC_MAX_FIELD ||
        buf_append(&s->hdr, name, nlen) < 0 || buf_append(&s->hdr, ":", 1) < 0 ||
        buf_append(&s->hdr, value, vlen) < 0) {
        s->overflow = 1;
        return -1;
    }
    s->f[s->nf] = (struct sfield){start, s->hdr.len - start, nlen, kind, NO_INSTANCE, 0};
    s->nf++;
    return 0;
}

/* body_out - canonical body bytes into the body hash */
static void body_out(void *arg, const void *p, size_t n)
{
    EVP_DigestUpdate((EVP_MD_CTX *)arg, p, n);
}

/* arc_seal_body - see arc_seal.h */
int arc_seal_body(struct arc_seal *s, const unsigned char *p, size_t n)
{
    arc_body_add(&s->body, p, n);
    return 0;
}

/* read_instance - f's i= (any number of digits: above 50 counts too) and, for an
 * ARC-Seal, whether it says cv=fail; NO_INSTANCE when i= cannot be read */
static int read_instance(struct arc_seal *s, struct sfield *f)
{
    const char *val = s->hdr.data + f->off + f->nlen + 1;
    size_t n = f->len - f->nlen - 1, k;
    struct arc_tags t;
    struct arc_set_res tmp;
    int ix, inst = 0;

    if (f->kind == KIND_AAR)
        return arc_aar_parse(val, n, &inst, &tmp) == 0 ? inst : NO_INSTANCE;
    if (arc_tags_parse(val, n, &t) < 0 || (ix = arc_tags_get(&t, "i")) < 0 || t.t[ix].vlen == 0)
        return NO_INSTANCE;
    for (k = 0; k < t.t[ix].vlen && k < 4; k++) {
        char d = val[t.t[ix].voff + k];
        if (d < '0' || d > '9')
            return NO_INSTANCE;
        inst = inst * 10 + (d - '0');
    }
    if (k < t.t[ix].vlen)
        inst = 9999; /* more digits than any instance */
    if (f->kind == KIND_AS && (ix = arc_tags_get(&t, "cv")) >= 0 && t.t[ix].vlen == 4 &&
        strncasecmp(val + t.t[ix].voff, "fail", 4) == 0)
        f->cv_fail = 1;
    return inst;
}

/* hash_raw - the relaxed canonical form of one raw field "Name:value" into md */
static int hash_raw(struct arc_seal *s, EVP_MD_CTX *md, const char *field, size_t n, int crlf)
{
    size_t len = 0;

    if (arc_canon_header(field, n, 1, crlf, s->canon, sizeof(s->canon), &len) < 0)
        return -1;
    return EVP_DigestUpdate(md, s->canon, len) == 1 ? 0 : -1;
}

/* hash_value - as hash_raw for a field we write: name and value apart */
static int hash_value(struct arc_seal *s, EVP_MD_CTX *md, const char *name, const char *value,
                      int crlf)
{
    char field[ARC_SEAL_MAX_VALUE + 64];
    int n = snprintf(field, sizeof(field), "%s:%s", name, value);

    if (n < 0 || (size_t)n >= sizeof(field))
        return -1;
    return hash_raw(s, md, field, (size_t)n, crlf);
}

/* hash_set - the AAR, AMS and AS of an earlier instance, in that order (RFC 8617 5.1.1) */
static int hash_set(struct arc_seal *s, EVP_MD_CTX *md, int inst)
{
    for (int kind = KIND_AAR; kind <= KIND_AS; kind++) {
        int fi;
        for (fi = 0; fi < s->nf; fi++)
            if (s->f[fi].kind == kind && s->f[fi].inst == inst)
                break;
        if (fi == s->nf || hash_raw(s, md, s->hdr.data + s->f[fi].off, s->f[fi].len, 1) < 0)
            return -1;
    }
    return 0;
}

/* hash_signed_fields - the h= fields, each name's newest ones first (RFC 6376 5.4.2),
 * into md, and their names into s->hlist; 0, or -1 when none is present or h= is full */
static int hash_signed_fields(struct arc_seal *s, EVP_MD_CTX *md)
{
    size_t hl = 0;

    s->hlist[0] = '\0';
    for (int k = 0; k < s->nnames; k++) {
        int idx[ARC_SEAL_MAX_FIELDS], cnt = 0;

        for (int fi = 0; fi < s->nf; fi++)
            if (s->f[fi].kind == 0 && s->f[fi].nlen == s->name[k].n &&
                strncasecmp(s->hdr.data + s->f[fi].off, s->name[k].p, s->name[k].n) == 0)
                idx[cnt++] = fi;
        for (int j = 0; j < cnt && j < ARC_SEAL_MAX_SAME; j++) {
            const struct sfield *f = &s->f[idx[cnt - 1 - j]];
            if (hl + s->name[k].n + 2 > sizeof(s->hlist) ||
                hash_raw(s, md, s->hdr.data + f->off, f->len, 1) < 0)
                return -1;
            if (hl > 0)
                s->hlist[hl++] = ':';
            for (size_t c = 0; c < s->name[k].n; c++) /* lower case, as the suite writes it */
                s->hlist[hl++] = (char)((s->name[k].p[c] >= 'A' && s->name[k].p[c] <= 'Z')
                                            ? s->name[k].p[c] - 'A' + 'a'
                                            : s->name[k].p[c]);
            s->hlist[hl] = '\0';
        }
    }
    return hl > 0 ? 0 : -1;
}

/* sign - finish md and sign the SHA-256 digest with key (RSA PKCS#1 v1.5, or Ed25519 over
 * the digest as RFC 8463 3 says); the signature in base64 into b64. 0 or -1. */
static int sign(EVP_PKEY *key, EVP_MD_CTX *md, char *b64, size_t b64len)
{
    unsigned char digest[32], sig[MAX_SIG];
    unsigned int dlen = 0;
    size_t slen = sizeof(sig);
    int ok;

    if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != 32)
        return -1;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        ok = mc != NULL && EVP_DigestSignInit(mc, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestSign(mc, sig, &slen, digest, sizeof(digest)) == 1;
        EVP_MD_CTX_free(mc);
    } else {
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);
        ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
             EVP_PKEY_sign(pc, sig, &slen, digest, sizeof(digest)) == 1;
        EVP_PKEY_CTX_free(pc);
    }
    if (!ok || b64len < (slen + 2) / 3 * 4 + 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)slen);
    return 0;
}

/* put_b - insert b64 at boff (just after "b=") of value (len bytes of room) */
static int put_b(char *value, size_t len, size_t boff, const char *b64)
{
    size_t vl = strlen(value), bl = strlen(b64);

    if (vl + bl + 1 > len)
        return -1;
    memmove(value + boff + bl, value + boff, vl - boff + 1);
    memcpy(value + boff, b64, bl);
    return 0;
}

/* not_sealed - out says nothing is added, and why; returns rc */
static int not_sealed(struct arc_seal_out *out, const char *reason, int rc)
{
    out->sealed = 0;
    sa_strlcpy(out->reason, reason, sizeof(out->reason));
    return rc;
}

/* arc_seal_finish - see arc_seal.h */
int arc_seal_finish(struct arc_seal *s, const struct arc_seal_in *in, struct arc_seal_out *out)
{
    const char *sep = in->fold != NULL ? in->fold : " ", *alg;
    char bh[64], b64[MAX_SIG * 4 / 3 + 8], when[24];
    unsigned char digest[32];
    unsigned int dlen = 0;
    int newest = 0, newest_fail = 0, n, rc = -1;
    size_t boff;
    EVP_MD_CTX *md = NULL;

    memset(out, 0, sizeof(*out));
    if (s->finished)
        return not_sealed(out, ARC_SEAL_NOT_INTERNAL, -1);
    s->finished = 1;
    if (s->overflow)
        return not_sealed(out, ARC_SEAL_NOT_TOO_BIG, 0);
    for (int fi = 0; fi < s->nf; fi++) { /* steps 2 and 3: the newest set */
        struct sfield *f = &s->f[fi];
        if (f->kind == 0)
            continue;
        f->inst = read_instance(s, f);
        if (f->inst > newest) {
            newest = f->inst;
            newest_fail = 0;
        }
        if (f->inst == newest && f->cv_fail)
            newest_fail = 1;
    }
    if (newest_fail)
        return not_sealed(out, ARC_SEAL_NOT_FAILED_CHAIN, 0);
    if (newest >= ARC_MAX_INSTANCES)
        return not_sealed(out, ARC_SEAL_NOT_LIMIT, 0);
    out->instance = newest + 1;
    if (in->chain == AUTH_PASS && newest > 0)
        out->cv = "pass";
    else if (newest == 0 && in->chain != AUTH_FAIL)
        out->cv = "none";
    else
        out->cv = "fail"; /* a broken chain: sealed once with cv=fail (RFC 8617 5.1.2) */
    switch (EVP_PKEY_get_base_id(s->conf.key)) {
    case EVP_PKEY_RSA:
        alg = "rsa-sha256";
        break;
    case EVP_PKEY_ED25519:
        alg = "ed25519-sha256";
        break;
    default:
        return not_sealed(out, ARC_SEAL_NOT_INTERNAL, -1);
    }
    snprintf(when, sizeof(when), "%lld", in->now);
    arc_body_end(&s->body);
    if (EVP_DigestFinal_ex(s->bmd, digest, &dlen) != 1 || dlen != 32)
        return not_sealed(out, ARC_SEAL_NOT_INTERNAL, -1);
    EVP_EncodeBlock((unsigned char *)bh, digest, 32);

    /* ARC-Authentication-Results: i=N; our A-R */
    n = snprintf(s->aar, sizeof(s->aar), "i=%d; %s", out->instance, in->ar);
    if (n < 0 || (size_t)n >= sizeof(s->aar))
        return not_sealed(out, ARC_SEAL_NOT_TOO_BIG, 0);

    /* ARC-Message-Signature: the h= fields, then itself with b= empty */
    if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto internal;
    if (hash_signed_fields(s, md) < 0) {
        EVP_MD_CTX_free(md);
        return not_sealed(out, ARC_SEAL_NOT_TOO_BIG, 0);
    }
    n = snprintf(s->ams, sizeof(s->ams),
                 "a=%s;%sb=;%sbh=%s;%sc=relaxed/relaxed;%sd=%s;%sh=%s;%si=%d;%ss=%s;%st=%s", alg,
                 sep, sep, bh, sep, sep, s->conf.domain, sep, s->hlist, sep, out->instance, sep,
                 s->conf.selector, sep, when);
    if (n < 0 || (size_t)n >= sizeof(s->ams))
        goto internal;
    boff = strlen(alg) + 2 + 1 + strlen(sep) + 2;
    if (hash_value(s, md, "ARC-Message-Signature", s->ams, 0) < 0 ||
        sign(s->conf.key, md, b64, sizeof(b64)) < 0 || put_b(s->ams, sizeof(s->ams), boff, b64) < 0)
        goto internal;
    EVP_MD_CTX_free(md);

    /* ARC-Seal: every set in order (only ours after a failure), itself with b= empty */
    if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto internal;
    for (int i = 1; out->cv[0] == 'p' && i < out->instance; i++)
        if (hash_set(s, md, i) < 0)
            goto internal;
    n = snprintf(s->as, sizeof(s->as), "a=%s;%sb=;%scv=%s;%sd=%s;%si=%d;%ss=%s;%st=%s", alg, sep,
                 sep, out->cv, sep, s->conf.domain, sep, out->instance, sep, s->conf.selector, sep,
                 when);
    if (n < 0 || (size_t)n >= sizeof(s->as))
        goto internal;
    if (hash_value(s, md, "ARC-Authentication-Results", s->aar, 1) < 0 ||
        hash_value(s, md, "ARC-Message-Signature", s->ams, 1) < 0 ||
        hash_value(s, md, "ARC-Seal", s->as, 0) < 0 ||
        sign(s->conf.key, md, b64, sizeof(b64)) < 0 || put_b(s->as, sizeof(s->as), boff, b64) < 0)
        goto internal;
    out->sealed = 1;
    out->aar = s->aar;
    out->ams = s->ams;
    out->as = s->as;
    rc = 0;
internal:
    EVP_MD_CTX_free(md);
    return rc == 0 ? 0 : not_sealed(out, ARC_SEAL_NOT_INTERNAL, -1);
}
