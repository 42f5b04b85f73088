/* arc_eval.c - ARC chain validation of one message (RFC 8617 5.2): keeps the header
 * fields (bounded, one buffer), parses the ARC sets at end of header, streams the body
 * into one hash per distinct (canonicalization, l=) of the AMSs, and at the end checks
 * the newest AMS, the oldest-pass, and every ARC-Seal from the newest down.
 * Owns struct arc_eval and its chain state; not the keys' DNS (arc_key.c) nor the trust
 * decision (the daemon's arc_hook.c).
 * Threads: one message, one thread at a time. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "arc/arc_int.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define KIND_AAR ARC_KIND_AAR
#define KIND_AMS ARC_KIND_AMS
#define KIND_AS ARC_KIND_AS
#define MAX_SIG 2048 /* decoded b= bytes (16384-bit RSA) */
#define CV_NONE 0
#define CV_PASS 1
#define CV_FAIL 2

struct field {
    size_t off, len; /* the raw field "Name:value" in hdr */
    size_t nlen;     /* length of Name */
    int kind;        /* KIND_* or 0 */
};

struct hasher {
    int relaxed;
    long long limit;
    EVP_MD_CTX *md;
    struct arc_body body;
    unsigned char digest[32];
};

/* One parsed AMS or AS. */
struct sig {
    int field; /* index in fields, -1 = absent */
    struct arc_tags tags;
    const char *bad; /* why its tags are unusable, NULL = fine */
    int hrelaxed, brelaxed;
    long long l;
    int hasher;
    int cv;
    char d[256], s[256];
};

/* Chain state, allocated at end of header only when ARC fields exist. */
struct chain {
    int aar[ARC_MAX_INSTANCES + 1];
    struct sig ams[ARC_MAX_INSTANCES + 1], as[ARC_MAX_INSTANCES + 1];
    struct arc_set_res sets[ARC_MAX_INSTANCES + 1];
    int nhash;
    struct hasher h[ARC_MAX_INSTANCES];
    char scratch[ARC_MAX_FIELD + 4]; /* one canonical field */
    char copy[ARC_MAX_FIELD];        /* one field without its b= value */
    unsigned char used[ARC_MAX_FIELDS];
};

struct arc_eval {
    struct arc_conf conf;
    struct dns *dns;        /* borrowed: where the keys come from */
    struct arc_keys *keys;  /* made at the first key lookup (end of message): 5 KB that an
                             * evaluator freed at end of header (no ARC fields) never zeroes */
    int leadspace;
    struct buf hdr;
    struct field *f;
    int nfields, fcap;
    int has_arc, overflow, finished;
    const char *fail_reason; /* found at end of header */
    const char *fail_detail; /* the tag problem behind ARC_REASON_SYNTAX, or NULL */
    int fail_instance;
    int nsets;
    struct chain *c;
};

static void set_reason(char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *value_of(const struct arc_eval *v, int fi, size_t *n);
static int chain_fail(struct arc_eval *v, const char *reason, int instance);
static int set_slot(struct arc_eval *v, int fi);
static int parse_instance(const char *s, size_t n);
static int tag_is(const char *val, const struct arc_tags *t, const char *name, const char *want);
static const char *check_common(struct arc_eval *v, int fi, struct sig *s);
static const char *check_as(struct arc_eval *v, int i);
static const char *check_ams(struct arc_eval *v, int i);
static int valid_domain(const char *s, size_t n, int selector);
static int get_hasher(struct chain *c, int relaxed, long long limit);
static void hash_out(void *arg, const void *p, size_t n);
static int hash_field(struct arc_eval *v, EVP_MD_CTX *md, int fi, int relaxed, int crlf,
                      const struct sig *strip);
static int check_sig(struct arc_eval *v, const struct sig *s, EVP_MD_CTX *md, char *reason,
                     size_t reasonlen, int *temp);
static int verify_ams(struct arc_eval *v, int i, char *reason, size_t reasonlen, int *temp);
static int verify_as(struct arc_eval *v, int i, char *reason, size_t reasonlen, int *temp);

/* arc_eval_new - see arc_eval.h */
struct arc_eval *arc_eval_new(const struct arc_conf *conf, struct dns *dns)
{
    struct arc_eval *v = calloc(1, sizeof(*v));

    if (v == NULL)
        return NULL;
    if (conf != NULL)
        v->conf = *conf;
    if (v->conf.min_rsa_bits <= 0)
        v->conf.min_rsa_bits = ARC_MIN_RSA_BITS;
    v->dns = dns;
    buf_init(&v->hdr, ARC_MAX_HEADER_BYTES);
    return v;
}

/* arc_eval_free - see arc_eval.h */
void arc_eval_free(struct arc_eval *v)
{
    if (v == NULL)
        return;
    if (v->c != NULL)
        for (int k = 0; k < v->c->nhash; k++)
            EVP_MD_CTX_free(v->c->h[k].md);
    if (v->keys != NULL)
        arc_keys_release(v->keys);
    free(v->keys);
    buf_release(&v->hdr);
    free(v->f);
    free(v->c);
    free(v);
}

void arc_eval_set_dns(struct arc_eval *v, struct dns *dns)
{
    v->dns = dns;
    if (v->keys != NULL)
        v->keys->dns = dns;
}

void arc_eval_set_leadspace(struct arc_eval *v, int on)
{
    v->leadspace = on;
}

int arc_eval_has_arc(const struct arc_eval *v)
{
    return v->has_arc;
}

/* set_reason - a reason comment; long parts are cut (it is text for logs and the A-R) */
static void set_reason(char *reason, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, len, fmt, ap);
    va_end(ap);
}

/* arc_eval_header - see arc_eval.h */
int arc_eval_header(struct arc_eval *v, const char *name, const char *value)
{
    size_t start = v->hdr.len, nlen = strlen(name), vlen = strlen(value);
    int kind = arc_field_kind(name);
    const char *p = value, *end = value + vlen;

    if (kind != 0)
        v->has_arc = 1;
    if (v->overflow)
        return -1;
    if (v->nfields == v->fcap) {
        int cap = v->fcap ? v->fcap * 2 : 32;
        struct field *n;
        if (v->fcap >= ARC_MAX_FIELDS || (n = realloc(v->f, sizeof(*n) * (size_t)cap)) == NULL) {
            v->overflow = 1;
            return -1;
        }
        v->f = n;
        v->fcap = cap;
    }
    if (nlen + vlen + 2 > ARC_MAX_FIELD || buf_append(&v->hdr, name, nlen) < 0 ||
        buf_append(&v->hdr, v->leadspace ? ":" : ": ", v->leadspace ? 1 : 2) < 0)
        goto over;
    while (p < end) { /* bare LF -> CRLF */
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        size_t run = lf ? (size_t)(lf - p) : (size_t)(end - p);
        if (buf_append(&v->hdr, p, run) < 0)
            goto over;
        if (lf == NULL)
            break;
        if ((lf == value || lf[-1] != '\r') && buf_append(&v->hdr, "\r", 1) < 0)
            goto over;
        if (buf_append(&v->hdr, "\n", 1) < 0)
            goto over;
        p = lf + 1;
    }
    if (v->hdr.len - start > ARC_MAX_FIELD)
        goto over;
    v->f[v->nfields].off = start;
    v->f[v->nfields].len = v->hdr.len - start;
    v->f[v->nfields].nlen = nlen;
    v->f[v->nfields].kind = kind;
    v->nfields++;
    return 0;
over:
    v->hdr.len = start;
    if (v->hdr.data != NULL)
        v->hdr.data[start] = '\0';
    v->overflow = 1;
    return -1;
}

/* value_of - the value of field fi (after the colon) and its length */
static const char *value_of(const struct arc_eval *v, int fi, size_t *n)
{
    const struct field *f = &v->f[fi];

    *n = f->len - f->nlen - 1;
    return v->hdr.data + f->off + f->nlen + 1;
}

/* chain_fail - note the first failure found at end of header; returns 0 */
static int chain_fail(struct arc_eval *v, const char *reason, int instance)
{
    if (v->fail_reason == NULL) {
        v->fail_reason = reason;
        v->fail_instance = instance;
    }
    return 0;
}

/* parse_instance - 1..ARC_MAX_INSTANCES from exactly the digits in s, else -1 */
static int parse_instance(const char *s, size_t n)
{
    int x = 0;

    if (n == 0 || n > 2)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    return x >= 1 && x <= ARC_MAX_INSTANCES ? x : -1;
}

/* set_slot - put field fi into its instance's slot; a duplicate or a bad i= fails */
static int set_slot(struct arc_eval *v, int fi)
{
    struct chain *c = v->c;
    size_t n;
    const char *val = value_of(v, fi, &n);
    int inst = -1, ix;

    if (v->f[fi].kind == KIND_AAR) {
        struct arc_set_res tmp;
        if (arc_aar_parse(val, n, &inst, &tmp) < 0 || inst < 1 || inst > ARC_MAX_INSTANCES)
            return chain_fail(v, ARC_REASON_INSTANCE, 0);
        if (c->aar[inst] >= 0)
            return chain_fail(v, ARC_REASON_STRUCTURE, inst);
        c->aar[inst] = fi;
        c->sets[inst].aar_dmarc_pass = tmp.aar_dmarc_pass;
        memcpy(c->sets[inst].aar_dmarc_from, tmp.aar_dmarc_from, sizeof(tmp.aar_dmarc_from));
        memcpy(c->sets[inst].aar_remote_ip, tmp.aar_remote_ip, sizeof(tmp.aar_remote_ip));
    } else {
        struct arc_tags t;
        struct sig *s;
        if (arc_tags_parse(val, n, &t) < 0)
            return chain_fail(v, ARC_REASON_SYNTAX, 0);
        if ((ix = arc_tags_get(&t, "i")) < 0 ||
            (inst = parse_instance(val + t.t[ix].voff, t.t[ix].vlen)) < 0)
            return chain_fail(v, ARC_REASON_INSTANCE, 0);
        s = v->f[fi].kind == KIND_AMS ? &c->ams[inst] : &c->as[inst];
        if (s->field >= 0)
            return chain_fail(v, ARC_REASON_STRUCTURE, inst);
        s->field = fi;
        s->tags = t;
    }
    if (inst > v->nsets)
        v->nsets = inst;
    return 0;
}

/* tag_is - tag name is present with exactly the value want */
static int tag_is(const char *val, const struct arc_tags *t, const char *name, const char *want)
{
    int ix = arc_tags_get(t, name);

    return ix >= 0 && t->t[ix].vlen == strlen(want) &&
           memcmp(val + t->t[ix].voff, want, t->t[ix].vlen) == 0;
}

/* valid_domain - LDH labels (selectors may also hold '_'), no empty label, <= 253 */
static int valid_domain(const char *s, size_t n, int selector)
{
    size_t label = 0;

    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || (selector && c == '_')))
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0;
}

/* check_common - a=, b=, d=, s=, t= of an AMS or AS: NULL, or why they are unusable */
static const char *check_common(struct arc_eval *v, int fi, struct sig *s)
{
    size_t n, blen;
    const char *val = value_of(v, fi, &n);
    const struct arc_tags *t = &s->tags;
    unsigned char sig[MAX_SIG];
    int ix;

    if (arc_tags_get(t, "a") < 0)
        return "a= missing";
    if (!tag_is(val, t, "a", "rsa-sha256") && !tag_is(val, t, "a", "ed25519-sha256"))
        return tag_is(val, t, "a", "rsa-sha1") ? "rsa-sha1 not allowed" : "unknown algorithm";
    if ((ix = arc_tags_get(t, "b")) < 0 || t->t[ix].vlen == 0 ||
        base64_decode(val + t->t[ix].voff, t->t[ix].vlen, sig, sizeof(sig), &blen, BASE64_LENIENT) <
            0 ||
        blen == 0)
        return "b= missing or not base64";
    if ((ix = arc_tags_get(t, "d")) < 0 || !valid_domain(val + t->t[ix].voff, t->t[ix].vlen, 0))
        return "d= missing or invalid";
    memcpy(s->d, val + t->t[ix].voff, t->t[ix].vlen);
    s->d[t->t[ix].vlen] = '\0';
    for (char *p = s->d; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if ((ix = arc_tags_get(t, "s")) < 0 || !valid_domain(val + t->t[ix].voff, t->t[ix].vlen, 1))
        return "s= missing or invalid";
    memcpy(s->s, val + t->t[ix].voff, t->t[ix].vlen);
    s->s[t->t[ix].vlen] = '\0';
    if ((ix = arc_tags_get(t, "t")) >= 0) {
        if (t->t[ix].vlen == 0 || t->t[ix].vlen > 12)
            return "t= invalid";
        for (size_t k = 0; k < t->t[ix].vlen; k++)
            if (val[t->t[ix].voff + k] < '0' || val[t->t[ix].voff + k] > '9')
                return "t= invalid";
    }
    return NULL;
}

/* check_as - the tags of AS(i) (RFC 8617 4.1.3): common ones, cv=, no h= */
static const char *check_as(struct arc_eval *v, int i)
{
    struct sig *s = &v->c->as[i];
    size_t n;
    const char *val = value_of(v, s->field, &n), *why;

    if ((why = check_common(v, s->field, s)) != NULL)
        return why;
    if (arc_tags_get(&s->tags, "h") >= 0)
        return "h= not allowed in ARC-Seal";
    if (tag_is(val, &s->tags, "cv", "none"))
        s->cv = CV_NONE;
    else if (tag_is(val, &s->tags, "cv", "pass"))
        s->cv = CV_PASS;
    else if (tag_is(val, &s->tags, "cv", "fail"))
        s->cv = CV_FAIL;
    else
        return "cv= missing or invalid";
    return NULL;
}

/* check_ams - the tags of AMS(i) (RFC 8617 4.1.2): common ones, bh=, c=, h=, l= */
static const char *check_ams(struct arc_eval *v, int i)
{
    struct sig *s = &v->c->ams[i];
    const struct arc_tags *t = &s->tags;
    size_t n, blen;
    const char *val = value_of(v, s->field, &n), *why;
    unsigned char bh[64];
    int ix;

    if ((why = check_common(v, s->field, s)) != NULL)
        return why;
    if ((ix = arc_tags_get(t, "bh")) < 0 ||
        base64_decode(val + t->t[ix].voff, t->t[ix].vlen, bh, sizeof(bh), &blen, BASE64_LENIENT) <
            0 ||
        blen != 32)
        return "bh= missing or invalid";
    /* No c=: relaxed/relaxed, as dkimpy and the ValiMail suite (ams_fields_c_na) do; every
     * ARC signer we know of writes c= anyway. With c= the DKIM default body (simple) holds. */
    s->hrelaxed = s->brelaxed = 1;
    if ((ix = arc_tags_get(t, "c")) >= 0) {
        s->hrelaxed = s->brelaxed = 0;
        const char *c = val + t->t[ix].voff, *slash = memchr(c, '/', t->t[ix].vlen);
        size_t hl = slash ? (size_t)(slash - c) : t->t[ix].vlen;
        size_t bl = slash ? t->t[ix].vlen - hl - 1 : 0;

        if (hl == 7 && memcmp(c, "relaxed", 7) == 0)
            s->hrelaxed = 1;
        else if (!(hl == 6 && memcmp(c, "simple", 6) == 0))
            return "c= invalid";
        if (slash != NULL) {
            if (bl == 7 && memcmp(slash + 1, "relaxed", 7) == 0)
                s->brelaxed = 1;
            else if (!(bl == 6 && memcmp(slash + 1, "simple", 6) == 0))
                return "c= invalid";
        }
    }
    if ((ix = arc_tags_get(t, "h")) < 0)
        return "h= missing";
    {
        const char *h = val + t->t[ix].voff, *e = h + t->t[ix].vlen;
        while (h < e) {
            const char *colon = memchr(h, ':', (size_t)(e - h));
            const char *we = colon ? colon : e;
            while (h < we && strchr(" \t\r\n", *h))
                h++;
            while (we > h && strchr(" \t\r\n", we[-1]))
                we--;
            if (we - h == 8 && strncasecmp(h, "arc-seal", 8) == 0)
                return "h= names ARC-Seal";
            h = colon ? colon + 1 : e;
        }
    }
    s->l = -1;
    if ((ix = arc_tags_get(t, "l")) >= 0) {
        if (t->t[ix].vlen == 0 || t->t[ix].vlen > 15)
            return "l= invalid";
        s->l = 0;
        for (size_t k = 0; k < t->t[ix].vlen; k++) {
            char d = val[t->t[ix].voff + k];
            if (d < '0' || d > '9')
                return "l= invalid";
            s->l = s->l * 10 + (d - '0');
        }
    }
    return NULL;
}

/* hash_out - arc_body output into a hasher's digest */
static void hash_out(void *arg, const void *p, size_t n)
{
    EVP_DigestUpdate(((struct hasher *)arg)->md, p, n);
}

/* get_hasher - index of the body hasher for (relaxed, limit), made when new; -1 on error */
static int get_hasher(struct chain *c, int relaxed, long long limit)
{
    struct hasher *h;

    for (int k = 0; k < c->nhash; k++)
        if (c->h[k].relaxed == relaxed && c->h[k].limit == limit)
            return k;
    if (c->nhash >= ARC_MAX_INSTANCES)
        return -1;
    h = &c->h[c->nhash];
    h->relaxed = relaxed;
    h->limit = limit;
    if ((h->md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->md);
        h->md = NULL;
        return -1;
    }
    arc_body_init(&h->body, relaxed, limit, hash_out, h);
    return c->nhash++;
}

/* arc_eval_eoh - see arc_eval.h */
int arc_eval_eoh(struct arc_eval *v)
{
    struct chain *c;
    const char *why;

    if (!v->has_arc || v->c != NULL)
        return 0;
    if ((c = v->c = calloc(1, sizeof(*c))) == NULL) {
        chain_fail(v, ARC_REASON_INTERNAL, 0);
        return -1;
    }
    for (int i = 0; i <= ARC_MAX_INSTANCES; i++)
        c->aar[i] = c->ams[i].field = c->as[i].field = -1;
    if (v->overflow)
        return chain_fail(v, ARC_REASON_TOO_BIG, 0);
    for (int fi = 0; fi < v->nfields; fi++)
        if (v->f[fi].kind != 0)
            set_slot(v, fi);
    if (v->fail_reason != NULL)
        return 0;
    /* RFC 8617 5.2 step 2: the newest seal says the chain already failed */
    if (c->as[v->nsets].field >= 0 && check_as(v, v->nsets) == NULL &&
        c->as[v->nsets].cv == CV_FAIL)
        return chain_fail(v, ARC_REASON_CV_FAIL, v->nsets);
    for (int i = 1; i <= v->nsets; i++) /* step 3: structure */
        if (c->aar[i] < 0 || c->ams[i].field < 0 || c->as[i].field < 0)
            return chain_fail(v, ARC_REASON_STRUCTURE, i);
    for (int i = v->nsets; i >= 1; i--) {
        if ((why = check_as(v, i)) != NULL) {
            c->as[i].bad = v->fail_detail = why;
            return chain_fail(v, ARC_REASON_SYNTAX, i);
        }
        if (c->as[i].cv == CV_FAIL)
            return chain_fail(v, ARC_REASON_CV_FAIL, i);
        if (c->as[i].cv != (i == 1 ? CV_NONE : CV_PASS))
            return chain_fail(v, ARC_REASON_CV_BAD, i);
        sa_strlcpy(c->sets[i].sealer, c->as[i].d, sizeof(c->sets[i].sealer));
        if ((why = check_ams(v, i)) != NULL) {
            c->ams[i].bad = why;
            if (i == v->nsets) {
                v->fail_detail = why;
                return chain_fail(v, ARC_REASON_SYNTAX, i);
            }
            continue;
        }
        sa_strlcpy(c->sets[i].ams_domain, c->ams[i].d, sizeof(c->sets[i].ams_domain));
        if ((c->ams[i].hasher = get_hasher(c, c->ams[i].brelaxed, c->ams[i].l)) < 0) {
            chain_fail(v, ARC_REASON_INTERNAL, i);
            return -1;
        }
    }
    return 0;
}

/* arc_eval_body - see arc_eval.h */
int arc_eval_body(struct arc_eval *v, const unsigned char *p, size_t n)
{
    if (v->c == NULL || v->fail_reason != NULL)
        return 0;
    for (int k = 0; k < v->c->nhash; k++)
        arc_body_add(&v->c->h[k].body, p, n);
    return 0;
}

/* hash_field - canonicalize field fi into md; with strip, the b= value of that
 * signature's tags is left out (RFC 6376 3.7) */
static int hash_field(struct arc_eval *v, EVP_MD_CTX *md, int fi, int relaxed, int crlf,
                      const struct sig *strip)
{
    const struct field *f = &v->f[fi];
    const char *raw = v->hdr.data + f->off;
    char *tmp = v->c->scratch;
    char *copy = v->c->copy;
    size_t len = 0;

    if (strip != NULL) {
        int ix = arc_tags_get(&strip->tags, "b");
        size_t vo = f->nlen + 1, a = vo + strip->tags.t[ix].roff, b = vo + strip->tags.t[ix].rend;

        memcpy(copy, raw, a);
        memcpy(copy + a, raw + b, f->len - b);
        if (arc_canon_header(copy, f->len - (b - a), relaxed, crlf, tmp, sizeof(v->c->scratch),
                             &len) < 0)
            return -1;
    } else if (arc_canon_header(raw, f->len, relaxed, crlf, tmp, sizeof(v->c->scratch), &len) < 0) {
        return -1;
    }
    return EVP_DigestUpdate(md, tmp, len) == 1 ? 0 : -1;
}

/* check_sig - finish the header hash in md and check s's b= with its key: 1 good,
 * 0 bad (reason set), -1 internal error */
static int check_sig(struct arc_eval *v, const struct sig *s, EVP_MD_CTX *md, char *reason,
                     size_t reasonlen, int *temp)
{
    unsigned char digest[32], sig[MAX_SIG];
    unsigned int dlen = 0;
    size_t slen, n;
    const char *val = value_of(v, s->field, &n);
    int ix = arc_tags_get(&s->tags, "b"), ed = tag_is(val, &s->tags, "a", "ed25519-sha256"), ok;
    struct arc_key *k;

    if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != 32)
        return -1;
    if (base64_decode(val + s->tags.t[ix].voff, s->tags.t[ix].vlen, sig, sizeof(sig), &slen,
                      BASE64_LENIENT) < 0)
        return -1; /* checked at end of header */
    if (v->keys == NULL) {
        if ((v->keys = calloc(1, sizeof(*v->keys))) == NULL)
            return -1;
        v->keys->dns = v->dns;
    }
    k = arc_keys_get(v->keys, s->s, s->d);
    if (k->status != ARC_KEY_OK) {
        if (k->status == ARC_KEY_TEMP)
            *temp = 1;
        sa_strlcpy(reason, k->reason, reasonlen);
        return 0;
    }
    if (k->ed25519 != ed) {
        sa_strlcpy(reason, "key type does not match a=", reasonlen);
        return 0;
    }
    if (!k->ed25519 && k->bits < v->conf.min_rsa_bits) {
        sa_strlcpy(reason, "key too small", reasonlen);
        return 0;
    }
    if ((ok = arc_key_verify(k, digest, sig, slen)) == 0)
        sa_strlcpy(reason, "signature mismatch", reasonlen);
    return ok;
}

/* verify_ams - AMS(i) against the message: 1 good, 0 bad (reason), -1 internal */
static int verify_ams(struct arc_eval *v, int i, char *reason, size_t reasonlen, int *temp)
{
    struct chain *c = v->c;
    const struct sig *s = &c->ams[i];
    const struct hasher *hs;
    unsigned char bh[64];
    size_t n, blen;
    const char *val = value_of(v, s->field, &n), *h, *e;
    EVP_MD_CTX *md;
    int ix, rc;

    if (s->bad != NULL) {
        sa_strlcpy(reason, s->bad, reasonlen);
        return 0;
    }
    hs = &c->h[s->hasher];
    ix = arc_tags_get(&s->tags, "bh");
    base64_decode(val + s->tags.t[ix].voff, s->tags.t[ix].vlen, bh, sizeof(bh), &blen,
                  BASE64_LENIENT);
    if (s->l >= 0 && hs->body.total < (unsigned long long)s->l) {
        sa_strlcpy(reason, "l= exceeds body length", reasonlen);
        return 0;
    }
    if (memcmp(bh, hs->digest, 32) != 0) {
        sa_strlcpy(reason, "body hash mismatch", reasonlen);
        return 0;
    }
    if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    memset(c->used, 0, sizeof(c->used));
    ix = arc_tags_get(&s->tags, "h");
    h = val + s->tags.t[ix].voff;
    e = h + s->tags.t[ix].vlen;
    rc = 0;
    while (h < e && rc == 0) { /* RFC 6376 5.4.2: each name picks the next field upwards */
        const char *colon = memchr(h, ':', (size_t)(e - h)), *we = colon ? colon : e;
        while (h < we && strchr(" \t\r\n", *h))
            h++;
        while (we > h && strchr(" \t\r\n", we[-1]))
            we--;
        for (int fi = v->nfields - 1; fi >= 0 && we > h; fi--) {
            if (c->used[fi] || v->f[fi].nlen != (size_t)(we - h) ||
                strncasecmp(v->hdr.data + v->f[fi].off, h, v->f[fi].nlen) != 0)
                continue;
            c->used[fi] = 1;
            rc = hash_field(v, md, fi, s->hrelaxed, 1, NULL);
            break;
        }
        h = colon ? colon + 1 : e;
    }
    if (rc == 0)
        rc = hash_field(v, md, s->field, s->hrelaxed, 0, s);
    rc = rc < 0 ? -1 : check_sig(v, s, md, reason, reasonlen, temp);
    EVP_MD_CTX_free(md);
    return rc;
}

/* verify_as - AS(i) over the ARC sets 1..i (RFC 8617 5.1.1): 1, 0 (reason), -1 */
static int verify_as(struct arc_eval *v, int i, char *reason, size_t reasonlen, int *temp)
{
    struct chain *c = v->c;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = 0;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    for (int j = 1; j <= i && rc == 0; j++) {
        rc = hash_field(v, md, c->aar[j], 1, 1, NULL);
        if (rc == 0)
            rc = hash_field(v, md, c->ams[j].field, 1, 1, NULL);
        if (rc == 0)
            rc = j < i ? hash_field(v, md, c->as[j].field, 1, 1, NULL)
                       : hash_field(v, md, c->as[j].field, 1, 0, &c->as[j]);
    }
    rc = rc < 0 ? -1 : check_sig(v, &c->as[i], md, reason, reasonlen, temp);
    EVP_MD_CTX_free(md);
    return rc;
}

/* arc_eval_finish - see arc_eval.h */
int arc_eval_finish(struct arc_eval *v, struct arc_res *out)
{
    struct chain *c = v->c;
    char why[64];
    int rc, temp = 0, n = v->nsets;

    memset(out, 0, sizeof(*out));
    out->result = AUTH_NONE;
    if (!v->has_arc || v->finished)
        return 0;
    v->finished = 1;
    if (c == NULL && arc_eval_eoh(v) < 0 && v->c == NULL)
        goto internal;
    c = v->c;
    out->result = AUTH_FAIL;
    out->nsets = n;
    memcpy(out->set, c->sets, sizeof(out->set));
    if (v->fail_reason != NULL) {
        if (v->fail_detail != NULL)
            set_reason(out->reason, sizeof(out->reason), "%s (i=%d: %s)", v->fail_reason,
                       v->fail_instance, v->fail_detail);
        else
            sa_strlcpy(out->reason, v->fail_reason, sizeof(out->reason));
        out->fail_instance = v->fail_instance;
        return strcmp(v->fail_reason, ARC_REASON_INTERNAL) == 0 ? -1 : 0;
    }
    for (int k = 0; k < c->nhash; k++) {
        unsigned int dl = 0;
        arc_body_end(&c->h[k].body);
        if (EVP_DigestFinal_ex(c->h[k].md, c->h[k].digest, &dl) != 1)
            goto internal;
    }
    /* step 4: the newest AMS; step 5: the oldest-pass */
    for (int i = n; i >= 1; i--) {
        why[0] = '\0';
        if ((rc = verify_ams(v, i, why, sizeof(why), &temp)) < 0)
            goto internal;
        out->set[i].ams_valid = rc;
        sa_strlcpy(out->set[i].ams_reason, why, sizeof(out->set[i].ams_reason));
        if (rc == 0 && i == n) {
            out->dns_temp = temp;
            out->fail_instance = n;
            sa_strlcpy(out->reason, temp ? ARC_REASON_DNS_TEMP : ARC_REASON_AMS,
                       sizeof(out->reason));
            return 0;
        }
        if (rc == 0) {
            out->oldest_pass = i + 1;
            break;
        }
    }
    /* step 6: every seal, newest first */
    for (int i = n; i >= 1; i--) {
        why[0] = '\0';
        if ((rc = verify_as(v, i, why, sizeof(why), &temp)) < 0)
            goto internal;
        if (rc == 0) {
            out->dns_temp = temp;
            out->fail_instance = i;
            set_reason(out->reason, sizeof(out->reason), "%s (i=%d: %s)",
                       temp ? ARC_REASON_DNS_TEMP : ARC_REASON_AS, i, why);
            return 0;
        }
    }
    out->result = AUTH_PASS;
    return 0;
internal:
    out->result = AUTH_FAIL;
    sa_strlcpy(out->reason, ARC_REASON_INTERNAL, sizeof(out->reason));
    return -1;
}
