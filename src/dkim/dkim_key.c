/* dkim_key.c - DKIM public keys: a key record (RFC 6376 3.6.1; RFC 8463 3 for Ed25519)
 * parsed and its p= decoded into an EVP_PKEY once per distinct record text, kept in a
 * process-wide cache, and the signature check of one signature's header hash with it.
 * libopendkim canonicalizes and hashes; it never sees a key (our lookup callback tells
 * it "no key"), because it would decode p= again for every signature of every message
 * (OpenSSL 3's d2i_PUBKEY costs about 0.9 M instructions, half of a message's CPU).
 * The record rules are libopendkim's, so results stay as they were: tag names case-
 * sensitive, white space removed from values, a later duplicate wins; v= must be
 * DKIM1; h= must name a known hash, and the signature's; s= must allow email; k=
 * (default rsa) rsa or ed25519; p= missing is a syntax error, empty is a revoked key;
 * t= flags y (testing) and s (no subdomains in i=). Keys of another type than a= asks
 * for, and RSA keys published as a bare PKCS#1 RSAPublicKey, are our additions.
 * Owns struct dkim_key and struct dkim_key_cache; not the DNS lookup (dkim_dns.c).
 * Threads: a struct dkim_key is immutable once made and shared by reference count
 * (atomic); its EVP_PKEY and the RSA verification template are only read after that
 * (EVP_PKEY_CTX_dup and EVP_PKEY_CTX_new_from_pkey take their own references). The
 * cache is an array of 4-way sets under DKIM_KEY_LOCKS mutexes (set i under lock
 * i % DKIM_KEY_LOCKS); a lock is held only to compare, take a reference or swap an
 * entry, never while parsing or decoding. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dkim/dkim_int.h"
#include "util/base64.h"

#define KEY_MAX_DER 4096    /* decoded p=: RSA 16384 SPKI is about 2.1 KB */
#define KEY_TAGS "vhkstp"   /* the key record tags we read (RFC 6376 3.6.1) */
#define ED25519_KEY_LEN 32  /* RFC 8463 4 */
#define ED25519_BITS 256
#define DKIM_KEY_SETS 128   /* 512 cached records: 128 sets of 4 */
#define DKIM_KEY_WAYS 4     /* a new record replaces the least recently used of its set */
#define DKIM_KEY_LOCKS 16

struct entry {
    uint64_t hash;
    uint64_t used; /* the set's clock when last found or stored */
    size_t len;
    char *text; /* the record, as fetched */
    struct dkim_key *key;
};

struct set {
    uint64_t clock;
    struct entry way[DKIM_KEY_WAYS];
};

struct dkim_key_cache {
    pthread_mutex_t lock[DKIM_KEY_LOCKS];
    struct set set[DKIM_KEY_SETS];
    EVP_MD *md[2]; /* [0] SHA-1, [1] SHA-256: fetched once, not per verification */
    atomic_ulong hits, misses; /* counted under different locks: atomic */
};

/* One parsed record: each tag's value with white space removed (NULL: absent). */
struct rec {
    char *val[sizeof(KEY_TAGS) - 1];
};

static uint64_t fnv1a(const char *s, size_t n);
static int parse_tags(char *work, struct rec *r);
static char *collapse(char *s);
static int list_has(const char *list, const char *word);
static int hash_code(const char *name);
static struct dkim_key *key_new(const struct dkim_key_cache *c, const char *text, size_t len);
static int key_decode(struct dkim_key *k, const struct dkim_key_cache *c, const char *b64);
static EVP_PKEY *decode_rsa(const unsigned char *der, size_t n);
static int rsa_template(struct dkim_key *k, EVP_MD *md);

/* fnv1a - 64-bit FNV-1a of the record text (slot choice only; texts are compared) */
static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* collapse - remove every white space character in place (libopendkim's dkim_collapse) */
static char *collapse(char *s)
{
    char *o = s;

    for (char *p = s; *p != '\0'; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\v' && *p != '\f')
            *o++ = *p;
    *o = '\0';
    return s;
}

/* parse_tags - tag-list of a key record (RFC 6376 3.2) in work (NUL-terminated, cut
 * up in place): printable ASCII and white space only; a tag name starts with a letter
 * or digit and holds no white space; "name=" with nothing after it is an empty value.
 * The tags of KEY_TAGS are kept (names are case-sensitive, RFC 6376 3.2; the last
 * one wins). 0, or -1 on a syntax error. */
static int parse_tags(char *work, struct rec *r)
{
    char *p = work;

    memset(r, 0, sizeof(*r));
    for (char *q = work; *q != '\0'; q++) {
        unsigned char c = (unsigned char)*q;

        if (c > 126 || (c < 32 && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f'))
            return -1;
    }
    while (*p != '\0') {
        char *name, *value, *end;
        const char *t;

        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\v' || *p == '\f')
            p++;
        if (*p == '\0')
            break;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return -1;
        name = p;
        while (*p != '\0' && *p != '=' && *p != ';' && *p != ' ' && *p != '\t' && *p != '\r' &&
               *p != '\n' && *p != '\v' && *p != '\f')
            p++;
        end = p;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\v' || *p == '\f')
            p++;
        if (*p != '=')
            return -1; /* tag without value, space inside a name, or "name;" */
        *end = '\0';
        value = ++p;
        while (*p != '\0' && *p != ';')
            p++;
        if (*p == ';')
            *p++ = '\0';
        if (name[1] == '\0' && (t = strchr(KEY_TAGS, name[0])) != NULL)
            r->val[t - KEY_TAGS] = collapse(value);
    }
    return 0;
}

/* list_has - word (case-insensitive) is one of the ':'-separated entries of list */
static int list_has(const char *list, const char *word)
{
    size_t wl = strlen(word);

    for (const char *p = list;;) {
        const char *e = strchr(p, ':');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

        if (n == wl && strncasecmp(p, word, wl) == 0)
            return 1;
        if (e == NULL)
            return 0;
        p = e + 1;
    }
}

/* hash_code - DKIM_KEY_HASH_* bit of a hash name, 0 unknown */
static int hash_code(const char *name)
{
    if (strcasecmp(name, "sha1") == 0)
        return DKIM_KEY_HASH_SHA1;
    if (strcasecmp(name, "sha256") == 0)
        return DKIM_KEY_HASH_SHA256;
    return 0;
}

/* decode_rsa - SubjectPublicKeyInfo (RFC 6376 3.6.1), or a bare PKCS#1 RSAPublicKey
 * (RFC 8017 A.1.1, published by some signers; must fill der exactly), as a provider
 * key (the PKCS#1 form is re-read through its SubjectPublicKeyInfo encoding, so the
 * shared key is never a legacy one) */
static EVP_PKEY *decode_rsa(const unsigned char *der, size_t n)
{
    const unsigned char *q = der;
    unsigned char spki[KEY_MAX_DER + 64], *sp = spki;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &q, (long)n), *rsa;
    int ns;

    if (pk != NULL)
        return pk;
    q = der;
    rsa = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)n);
    if (rsa == NULL || q != der + n || (ns = i2d_PUBKEY(rsa, NULL)) <= 0 ||
        (size_t)ns > sizeof(spki) || i2d_PUBKEY(rsa, &sp) != ns) {
        EVP_PKEY_free(rsa);
        return NULL;
    }
    EVP_PKEY_free(rsa);
    q = spki;
    return d2i_PUBKEY(NULL, &q, (long)ns);
}

/* rsa_template - a verification context for RSA PKCS#1 v1.5 with SHA-256, set up once:
 * each verification duplicates it instead of fetching the algorithms again */
static int rsa_template(struct dkim_key *k, EVP_MD *md)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);

    if (pc == NULL || EVP_PKEY_verify_init(pc) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_CTX_set_signature_md(pc, md) != 1) {
        EVP_PKEY_CTX_free(pc);
        return -1;
    }
    k->verify256 = pc;
    return 0;
}

/* key_decode - p= (base64, white space already removed) into k->pkey, by k= */
static int key_decode(struct dkim_key *k, const struct dkim_key_cache *c, const char *b64)
{
    unsigned char der[KEY_MAX_DER];
    size_t n;

    if (base64_decode(b64, strlen(b64), der, sizeof(der), &n, BASE64_LENIENT) < 0 || n == 0)
        return -1;
    if (k->type == DKIM_KEY_ED25519) {
        if (n != ED25519_KEY_LEN)
            return -1;
        k->pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, der, n);
        k->bits = ED25519_BITS;
        return k->pkey != NULL ? 0 : -1;
    }
    if ((k->pkey = decode_rsa(der, n)) == NULL || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA)
        return -1;
    /* The modulus length in bits (RFC 8301 3.2 counts bits: a 1020-bit modulus is
     * below 1024, though it fills 128 bytes as libopendkim counts) */
    k->bits = EVP_PKEY_get_bits(k->pkey);
    return rsa_template(k, c->md[1]);
}

/* key_new - parse one record (the checks in libopendkim's order) and decode its key.
 * NULL only when out of memory; a bad record is a key with err set. */
static struct dkim_key *key_new(const struct dkim_key_cache *c, const char *text, size_t len)
{
    struct dkim_key *k = calloc(1, sizeof(*k));
    char *work = malloc(len + 1);
    struct rec r;
    const char *v;

    if (k == NULL || work == NULL) {
        free(k);
        free(work);
        return NULL;
    }
    atomic_init(&k->refs, 1);
    memcpy(work, text, len);
    work[len] = '\0';
    if (parse_tags(work, &r) < 0) {
        k->err = DKIM_KEY_ERR_SYNTAX;
        goto out;
    }
    if ((v = r.val[0]) != NULL && strcmp(v, "DKIM1") != 0) {
        k->err = DKIM_KEY_ERR_SYNTAX; /* v= other than DKIM1 */
        goto out;
    }
    if ((v = r.val[1]) != NULL) { /* h= */
        char *list = strdup(v), *save = NULL;

        if (list == NULL) {
            free(work);
            free(k);
            return NULL;
        }
        for (char *t = strtok_r(list, ":", &save); t != NULL; t = strtok_r(NULL, ":", &save))
            k->hashes |= (unsigned char)hash_code(t);
        free(list);
        if (k->hashes == 0) {
            k->err = DKIM_KEY_ERR_SYNTAX; /* names no hash we know */
            goto out;
        }
    } else {
        k->hashes = DKIM_KEY_HASH_SHA1 | DKIM_KEY_HASH_SHA256;
    }
    /* From here on an error comes after the signature's own h= check (dkim_key_usable). */
    k->late = 1;
    if ((v = r.val[3]) != NULL && !list_has(v, "*") && !list_has(v, "email")) {
        k->err = DKIM_KEY_ERR_SERVICE;
        goto out;
    }
    if ((v = r.val[2]) == NULL || strcasecmp(v, "rsa") == 0) {
        k->type = DKIM_KEY_RSA;
    } else if (strcasecmp(v, "ed25519") == 0) {
        k->type = DKIM_KEY_ED25519;
    } else {
        k->err = DKIM_KEY_ERR_SYNTAX; /* unknown k= */
        goto out;
    }
    if ((v = r.val[5]) == NULL) {
        k->err = DKIM_KEY_ERR_SYNTAX;
        goto out;
    }
    if (v[0] == '\0') {
        k->err = DKIM_KEY_ERR_REVOKED;
        goto out;
    }
    if ((v = r.val[4]) != NULL) { /* t= */
        k->testing = list_has(v, "y");
        k->nosubdomain = list_has(v, "s");
    }
    if (key_decode(k, c, r.val[5]) < 0) {
        ERR_clear_error();
        EVP_PKEY_free(k->pkey);
        k->pkey = NULL;
        k->bits = 0;
        k->err = DKIM_KEY_ERR_SYNTAX;
    }
out:
    free(work);
    return k;
}

struct dkim_key_cache *dkim_key_cache_new(void)
{
    struct dkim_key_cache *c = calloc(1, sizeof(*c));
    int i;

    if (c == NULL)
        return NULL;
    for (i = 0; i < DKIM_KEY_LOCKS; i++)
        if (pthread_mutex_init(&c->lock[i], NULL) != 0)
            break;
    if (i < DKIM_KEY_LOCKS || (c->md[0] = EVP_MD_fetch(NULL, "SHA1", NULL)) == NULL ||
        (c->md[1] = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        while (i-- > 0)
            pthread_mutex_destroy(&c->lock[i]);
        EVP_MD_free(c->md[0]);
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    return c;
}

void dkim_key_cache_free(struct dkim_key_cache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < DKIM_KEY_SETS; i++)
        for (int w = 0; w < DKIM_KEY_WAYS; w++) {
            free(c->set[i].way[w].text);
            dkim_key_release(c->set[i].way[w].key);
        }
    for (int i = 0; i < DKIM_KEY_LOCKS; i++)
        pthread_mutex_destroy(&c->lock[i]);
    EVP_MD_free(c->md[0]);
    EVP_MD_free(c->md[1]);
    free(c);
}

/* dkim_key_get - the key of this record text: a new reference from the cache, or
 * parsed and decoded now (outside any lock) and then cached in place of the least
 * recently used entry of its set. NULL only when out of memory. */
struct dkim_key *dkim_key_get(struct dkim_key_cache *c, const char *text, size_t len)
{
    uint64_t h = fnv1a(text, len);
    size_t i = (size_t)(h % DKIM_KEY_SETS);
    pthread_mutex_t *lk = &c->lock[i % DKIM_KEY_LOCKS];
    struct set *set = &c->set[i];
    struct dkim_key *k = NULL, *old;
    struct entry *e;
    char *copy, *oldtext;

    pthread_mutex_lock(lk);
    for (int w = 0; w < DKIM_KEY_WAYS; w++) {
        e = &set->way[w];
        if (e->key != NULL && e->hash == h && e->len == len && memcmp(e->text, text, len) == 0) {
            k = e->key;
            atomic_fetch_add(&k->refs, 1);
            e->used = ++set->clock;
            break;
        }
    }
    pthread_mutex_unlock(lk);
    atomic_fetch_add(k != NULL ? &c->hits : &c->misses, 1);
    if (k != NULL)
        return k;
    if ((k = key_new(c, text, len)) == NULL)
        return NULL;
    if ((copy = malloc(len + 1)) == NULL)
        return k; /* usable, just not cached */
    memcpy(copy, text, len);
    copy[len] = '\0';
    atomic_fetch_add(&k->refs, 1); /* the cache's reference */
    pthread_mutex_lock(lk);
    e = &set->way[0];
    for (int w = 1; w < DKIM_KEY_WAYS; w++)
        if (set->way[w].key == NULL || (e->key != NULL && set->way[w].used < e->used))
            e = &set->way[w];
    old = e->key;
    oldtext = e->text;
    e->key = k;
    e->text = copy;
    e->len = len;
    e->hash = h;
    e->used = ++set->clock;
    pthread_mutex_unlock(lk);
    free(oldtext);
    dkim_key_release(old);
    return k;
}

/* dkim_key_release - drop one reference; the last one frees the key. NULL is a no-op. */
void dkim_key_release(struct dkim_key *k)
{
    if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    EVP_PKEY_CTX_free(k->verify256);
    EVP_PKEY_free(k->pkey);
    free(k);
}

/* dkim_key_cache_stats - lookups answered from the cache and decoded anew (tests) */
void dkim_key_cache_stats(struct dkim_key_cache *c, unsigned long *hits, unsigned long *misses)
{
    *hits = atomic_load(&c->hits);
    *misses = atomic_load(&c->misses);
}

/* dkim_key_verify - 1 when sig is k's signature over the header hash hh (RSA PKCS#1
 * v1.5 with SHA-256 or SHA-1 named in the DigestInfo; Ed25519 over the SHA-256 hash
 * itself, RFC 8463 3), 0 when it is not, -1 on an internal error */
int dkim_key_verify(const struct dkim_key_cache *c, const struct dkim_key *k, int sha1,
                    const unsigned char *hh, size_t hhlen, const unsigned char *sig, size_t siglen)
{
    int ok;

    if (k->pkey == NULL)
        return -1;
    if (k->type == DKIM_KEY_ED25519) {
        EVP_MD_CTX *mc = EVP_MD_CTX_new();

        if (mc == NULL)
            return -1;
        ok = EVP_DigestVerifyInit_ex(mc, NULL, NULL, NULL, NULL, k->pkey, NULL) == 1 &&
             EVP_DigestVerify(mc, sig, siglen, hh, hhlen) == 1;
        EVP_MD_CTX_free(mc);
    } else {
        EVP_PKEY_CTX *pc;

        if (!sha1 && k->verify256 != NULL) {
            pc = EVP_PKEY_CTX_dup(k->verify256);
            if (pc == NULL)
                return -1;
        } else {
            pc = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
            if (pc == NULL || EVP_PKEY_verify_init(pc) != 1 ||
                EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1 ||
                EVP_PKEY_CTX_set_signature_md(pc, c->md[sha1 ? 0 : 1]) != 1) {
                EVP_PKEY_CTX_free(pc);
                ERR_clear_error();
                return -1;
            }
        }
        ok = EVP_PKEY_verify(pc, sig, siglen, hh, hhlen) == 1;
        EVP_PKEY_CTX_free(pc);
    }
    if (!ok)
        ERR_clear_error();
    return ok ? 1 : 0;
}
