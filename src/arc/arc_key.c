/* arc_key.c - public keys for ARC signatures (the DKIM key record, RFC 6376 3.6.1, at
 * selector._domainkey.domain, fetched through our struct dns) and the signature check of
 * one SHA-256 digest on OpenSSL EVP: RSA PKCS#1 v1.5 (rsa-sha256) or Ed25519 over the
 * digest (ed25519-sha256, RFC 8463 3).
 * Owns the per-message key cache (struct arc_keys); not the DNS layer.
 * Threads: a struct arc_keys belongs to one message. */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "arc/arc_int.h"
#include "util/base64.h"
#include "util/xalloc.h"

#define KEY_MAX_DER 4096 /* 16384-bit RSA keys fit */

static int fetch(struct arc_keys *ks, struct arc_key *k, const char *selector, const char *domain);
static int parse_record(struct arc_key *k, const char *txt, size_t len);
static int word_in_list(const char *list, size_t n, const char *word);

/* word_in_list - word is one of the ':'-separated entries of list (FWS trimmed) */
static int word_in_list(const char *list, size_t n, const char *word)
{
    size_t i = 0, wl = strlen(word);

    while (i <= n) {
        size_t s, e;
        while (i < n && strchr(" \t\r\n", list[i]))
            i++;
        s = i;
        while (i < n && list[i] != ':')
            i++;
        e = i;
        while (e > s && strchr(" \t\r\n", list[e - 1]))
            e--;
        if (e - s == wl && strncasecmp(list + s, word, wl) == 0)
            return 1;
        i++;
    }
    return 0;
}

/* parse_record - one key record into k (pkey, or error with reason) */
static int parse_record(struct arc_key *k, const char *txt, size_t len)
{
    struct arc_tags t;
    unsigned char der[KEY_MAX_DER];
    const unsigned char *p = der;
    size_t dlen;
    int ix, ed = 0;

    if (arc_tags_parse(txt, len, &t) < 0)
        return arc_key_error(k, "key syntax error");
    if ((ix = arc_tags_get(&t, "v")) >= 0 &&
        (ix != 0 || t.t[ix].vlen != 5 || memcmp(txt + t.t[ix].voff, "DKIM1", 5) != 0))
        return arc_key_error(k, "key syntax error");
    if ((ix = arc_tags_get(&t, "k")) >= 0) {
        if (t.t[ix].vlen == 7 && memcmp(txt + t.t[ix].voff, "ed25519", 7) == 0)
            ed = 1;
        else if (t.t[ix].vlen != 3 || memcmp(txt + t.t[ix].voff, "rsa", 3) != 0)
            return arc_key_error(k, "unknown key type");
    }
    if ((ix = arc_tags_get(&t, "h")) >= 0 &&
        !word_in_list(txt + t.t[ix].voff, t.t[ix].vlen, "sha256"))
        return arc_key_error(k, "key does not allow sha256 (h=)");
    if ((ix = arc_tags_get(&t, "s")) >= 0 && !word_in_list(txt + t.t[ix].voff, t.t[ix].vlen, "*") &&
        !word_in_list(txt + t.t[ix].voff, t.t[ix].vlen, "email"))
        return arc_key_error(k, "key not for e-mail (s=)");
    if ((ix = arc_tags_get(&t, "p")) < 0)
        return arc_key_error(k, "key syntax error");
    if (t.t[ix].vlen == 0)
        return arc_key_error(k, "key revoked");
    if (base64_decode(txt + t.t[ix].voff, t.t[ix].vlen, der, sizeof(der), &dlen, BASE64_LENIENT) <
        0)
        return arc_key_error(k, "key syntax error");
    k->ed25519 = ed;
    if (ed) {
        if (dlen != 32)
            return arc_key_error(k, "key syntax error");
        k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
        k->bits = 256;
    } else {
        k->pkey = d2i_PUBKEY(NULL, &p, (long)dlen);
        if (k->pkey == NULL) { /* some publish a bare PKCS#1 RSAPublicKey */
            p = der;
            k->pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)dlen);
        }
        if (k->pkey != NULL && EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA) {
            EVP_PKEY_free(k->pkey);
            k->pkey = NULL;
        }
        if (k->pkey != NULL)
            k->bits = EVP_PKEY_get_bits(k->pkey);
    }
    if (k->pkey == NULL)
        return arc_key_error(k, "key syntax error");
    return 0;
}

/* arc_key_error - record why k is unusable; returns -1 */
int arc_key_error(struct arc_key *k, const char *reason)
{
    sa_strlcpy(k->reason, reason, sizeof(k->reason));
    k->status = ARC_KEY_BAD;
    return -1;
}

/* fetch - query and parse the key record for (selector, domain) into k */
static int fetch(struct arc_keys *ks, struct arc_key *k, const char *selector, const char *domain)
{
    char name[DNS_MAX_NAME + 2];
    struct dns_answer *ans = NULL;
    enum dns_status st;
    int n = snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain);

    if (n < 0 || (size_t)n >= sizeof(name))
        return arc_key_error(k, "key not found");
    if (ks->dns == NULL) {
        sa_strlcpy(k->reason, ARC_REASON_DNS_TEMP, sizeof(k->reason));
        k->status = ARC_KEY_TEMP;
        return -1;
    }
    st = dns_query(ks->dns, name, DNS_T_TXT, &ans);
    if (st == DNS_TEMPFAIL || st == DNS_BADREPLY) {
        sa_strlcpy(k->reason, ARC_REASON_DNS_TEMP, sizeof(k->reason));
        k->status = ARC_KEY_TEMP;
        return -1;
    }
    if (st != DNS_OK || ans == NULL || ans->nrr == 0) {
        dns_answer_free(ans);
        return arc_key_error(k, "key not found");
    }
    if (ans->nrr > 1) {
        dns_answer_free(ans);
        return arc_key_error(k, "multiple key records");
    }
    n = parse_record(k, ans->rr[0].u.txt.data, ans->rr[0].u.txt.len);
    dns_answer_free(ans);
    if (n == 0)
        k->status = ARC_KEY_OK;
    return n;
}

/* arc_keys_get - the key for (selector, domain), fetched once per message; never NULL
 * (a key whose status says why it cannot be used when the cache is full) */
struct arc_key *arc_keys_get(struct arc_keys *ks, const char *selector, const char *domain)
{
    struct arc_key *k;

    for (int i = 0; i < ks->n; i++)
        if (strcasecmp(ks->k[i].selector, selector) == 0 &&
            strcasecmp(ks->k[i].domain, domain) == 0)
            return &ks->k[i];
    if (ks->n >= ARC_MAX_KEYS) {
        k = &ks->overflow;
        memset(k, 0, sizeof(*k));
        arc_key_error(k, "too many keys");
        return k;
    }
    k = &ks->k[ks->n++];
    memset(k, 0, sizeof(*k));
    sa_strlcpy(k->selector, selector, sizeof(k->selector));
    sa_strlcpy(k->domain, domain, sizeof(k->domain));
    fetch(ks, k, selector, domain);
    return k;
}

/* arc_keys_release - free the cached keys */
void arc_keys_release(struct arc_keys *ks)
{
    for (int i = 0; i < ks->n; i++)
        EVP_PKEY_free(ks->k[i].pkey);
    ks->n = 0;
}

/* arc_key_verify - 1 when sig is k's signature of the SHA-256 digest, 0 when not,
 * -1 on an internal error */
int arc_key_verify(const struct arc_key *k, const unsigned char *digest, const unsigned char *sig,
                   size_t siglen)
{
    int ok;

    if (k->ed25519) {
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        if (mc == NULL)
            return -1;
        ok = EVP_DigestVerifyInit(mc, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestVerify(mc, sig, siglen, digest, 32) == 1;
        EVP_MD_CTX_free(mc);
    } else {
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k->pkey, NULL);
        if (pc == NULL)
            return -1;
        ok = EVP_PKEY_verify_init(pc) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
             EVP_PKEY_verify(pc, sig, siglen, digest, 32) == 1;
        EVP_PKEY_CTX_free(pc);
    }
    return ok ? 1 : 0;
}
