/* dkim_dns.c - libopendkim's key lookup callback, answered through our struct dns, so
 * DKIM keys share the cache and the per-message query budget with SPF and DMARC.
 * Owns the mapping from DNS answers to DKIM_CBSTAT_* and the notes it leaves in the
 * message's slots, and the one repair made to a key record before libopendkim sees
 * it: a bare PKCS#1 RSAPublicKey in p= is re-wrapped as SubjectPublicKeyInfo (what
 * libopendkim's d2i_PUBKEY reads). Not the key record's parsing otherwise (libopendkim
 * does that).
 * Threads: runs inside dkim_eoh/dkim_eom on the message's thread; touches only the
 * message found through dkim_get_user_context. The libcrypto calls keep no shared
 * state of ours (each thread's error queue is cleared after a failed decode). */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dkim/dkim_int.h"
#include "util/base64.h"

#define DKIM_KEY_NAME "_domainkey" /* RFC 6376 3.6.2.1 */
#define KEY_MAX_DER 2048           /* decoded p= we look at (RSA 8192 SPKI is ~1.1 KB) */
#define KEY_MAX_B64 (((KEY_MAX_DER + 64) / 3 + 1) * 4 + 1)

static int label_char(int c);
static int is_fws(int c);
static int find_tag(const char *rec, size_t len, char name, size_t *vstart, size_t *vend);

/* label_char - letters, digits, hyphen; underscore too (seen in real selectors) */
static int label_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* dkim_dns_name_ok - RFC 6376 3.5 domain-name / selector: dot-separated labels of
 * 1..63 label characters, at least min_labels of them, at most 253 characters. */
int dkim_dns_name_ok(const char *name, int min_labels)
{
    size_t len = 0, label = 0;
    int labels = 0;

    for (const char *p = name; *p != '\0'; p++, len++) {
        if (*p == '.') {
            if (label == 0)
                return 0;
            labels++;
            label = 0;
        } else if (!label_char((unsigned char)*p) || ++label > 63) {
            return 0;
        }
    }
    if (label == 0 || len > 253)
        return 0;
    return labels + 1 >= min_labels;
}

/* is_fws - whitespace a tag-list may hold around and inside values (RFC 6376 3.2) */
static int is_fws(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* find_tag - value of the first one-letter tag name in a tag-list: its bounds without
 * surrounding FWS. 0 when found, -1 otherwise. */
static int find_tag(const char *rec, size_t len, char name, size_t *vstart, size_t *vend)
{
    size_t i = 0;

    while (i < len) {
        size_t spec_end = i, n0, n1;

        while (spec_end < len && rec[spec_end] != ';')
            spec_end++;
        while (i < spec_end && is_fws((unsigned char)rec[i]))
            i++;
        n0 = i;
        while (i < spec_end && rec[i] != '=' && !is_fws((unsigned char)rec[i]))
            i++;
        n1 = i;
        while (i < spec_end && is_fws((unsigned char)rec[i]))
            i++;
        if (n1 - n0 == 1 && rec[n0] == name && i < spec_end && rec[i] == '=') {
            size_t e = spec_end;

            i++;
            while (i < e && is_fws((unsigned char)rec[i]))
                i++;
            while (e > i && is_fws((unsigned char)rec[e - 1]))
                e--;
            *vstart = i;
            *vend = e;
            return 0;
        }
        i = spec_end + 1;
    }
    return -1;
}

/* seq_of_integer - der is a DER SEQUENCE (X.690 8.9) whose first element is an INTEGER */
static int seq_of_integer(const unsigned char *der, size_t n)
{
    size_t hdr = 2;

    if (n < 3 || der[0] != 0x30)
        return 0;
    if (der[1] & 0x80) {
        hdr += der[1] & 0x7f; /* long form: that many length octets follow */
        if ((der[1] & 0x7f) == 0 || hdr >= n)
            return 0;
    }
    return der[hdr] == 0x02;
}

/* dkim_dns_key_rewrap - when rec's p= holds a bare PKCS#1 RSAPublicKey (RFC 8017 A.1.1)
 * rather than the SubjectPublicKeyInfo RFC 6376 3.6.1 asks for, write rec with p= re-
 * encoded as SubjectPublicKeyInfo into out (NUL-terminated). Keys of another k= than
 * rsa, an empty p= (revoked), SubjectPublicKeyInfo keys and undecodable data are left
 * alone. 1 rewritten, 0 nothing to do (out untouched), -1 the rewritten record would
 * not fit in outsize. */
int dkim_dns_key_rewrap(const char *rec, size_t len, char *out, size_t outsize)
{
    unsigned char der[KEY_MAX_DER], spki[KEY_MAX_DER + 64], *sp = spki;
    char b64[KEY_MAX_B64];
    const unsigned char *q;
    size_t pv0, pv1, kv0, kv1, nder, need;
    EVP_PKEY *pk;
    int nspki, nb64;

    if (find_tag(rec, len, 'p', &pv0, &pv1) < 0 || pv0 == pv1)
        return 0;
    if (find_tag(rec, len, 'k', &kv0, &kv1) == 0 &&
        (kv1 - kv0 != 3 || strncmp(rec + kv0, "rsa", 3) != 0))
        return 0;
    if (base64_decode(rec + pv0, pv1 - pv0, der, sizeof(der), &nder, BASE64_PADDED) < 0 ||
        nder == 0)
        return 0;
    /* SubjectPublicKeyInfo opens with SEQUENCE { SEQUENCE (the algorithm) ...; an
     * RSAPublicKey with SEQUENCE { INTEGER (the modulus) .... Anything but the latter
     * goes to libopendkim as published, and costs no libcrypto decoder here (OpenSSL 3's
     * d2i_PUBKEY is slow, and libopendkim runs it once anyway). */
    if (!seq_of_integer(der, nder))
        return 0;
    q = der;
    pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)nder);
    if (pk == NULL || q != der + nder) {
        EVP_PKEY_free(pk);
        ERR_clear_error();
        return 0;
    }
    nspki = i2d_PUBKEY(pk, NULL);
    if (nspki <= 0 || (size_t)nspki > sizeof(spki) || i2d_PUBKEY(pk, &sp) != nspki) {
        EVP_PKEY_free(pk);
        ERR_clear_error();
        return 0;
    }
    EVP_PKEY_free(pk);
    nb64 = EVP_EncodeBlock((unsigned char *)b64, spki, nspki);
    if (nb64 <= 0 || (size_t)nb64 >= sizeof(b64))
        return 0;
    need = pv0 + (size_t)nb64 + (len - pv1);
    if (need >= outsize)
        return -1;
    memcpy(out, rec, pv0);
    memcpy(out + pv0, b64, (size_t)nb64);
    memcpy(out + pv0 + (size_t)nb64, rec + pv1, len - pv1);
    out[need] = '\0';
    return 1;
}

/* dkim_dns_key_lookup - fetch the TXT key record of one signature into buf.
 * CONTINUE: buf holds the record (NUL-terminated). NOTFOUND: libopendkim records "no
 * key"; when the real reason is something else (DNS could not find out, a bad name, a
 * record too big for libopendkim's buffer), the slot's note says so and dkim_result.c
 * reports that instead. TRYAGAIN or ERROR would abort every other signature of the
 * message inside dkim_eoh, so a per-signature problem never returns them. */
DKIM_CBSTAT dkim_dns_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen)
{
    struct dkim_eval *v = dkim_get_user_context(dkim);
    const char *d = (const char *)dkim_sig_getdomain(sig);
    const char *s = (const char *)dkim_sig_getselector(sig);
    char qname[DNS_MAX_NAME + 2];
    struct dns_answer *ans = NULL;
    enum dkim_lookup note = LOOKUP_NONE;
    DKIM_CBSTAT rc = DKIM_CBSTAT_NOTFOUND;
    int idx, n;

    if (v == NULL || buf == NULL || buflen == 0)
        return DKIM_CBSTAT_ERROR;
    buf[0] = '\0';
    idx = dkim_eval_slot_of(v, sig);
    if (d == NULL || s == NULL || !dkim_dns_name_ok(d, 2) || !dkim_dns_name_ok(s, 1)) {
        note = LOOKUP_BADNAME; /* never queried (dkimpy's d=legitimate.com(.attacker.com) */
        goto out;
    }
    n = snprintf(qname, sizeof(qname), "%s.%s.%s", s, DKIM_KEY_NAME, d);
    if (n < 0 || (size_t)n >= sizeof(qname))
        goto out; /* cannot exist on the wire: no key */
    switch (dns_query(v->dns, qname, DNS_T_TXT, &ans)) {
    case DNS_OK:
        break;
    case DNS_NXDOMAIN:
    case DNS_NODATA:
        goto out;
    case DNS_TEMPFAIL:
    case DNS_BADREPLY:
    default:
        note = LOOKUP_TEMPFAIL;
        goto out;
    }
    if (ans == NULL || ans->nrr < 1) {
        note = LOOKUP_TEMPFAIL;
    } else if (ans->nrr > 1 || ans->truncated) {
        note = LOOKUP_MULTI; /* RFC 6376 3.6.2.2: results undefined; refuse */
    } else if (ans->rr[0].type != DNS_T_TXT) {
        note = LOOKUP_TEMPFAIL;
    } else if (ans->rr[0].u.txt.len >= buflen) {
        note = LOOKUP_TOOLARGE;
    } else if (memchr(ans->rr[0].u.txt.data, '\0', ans->rr[0].u.txt.len) != NULL) {
        note = LOOKUP_BADDATA;
    } else {
        const char *rec = ans->rr[0].u.txt.data;
        size_t len = ans->rr[0].u.txt.len;
        int rw = dkim_dns_key_rewrap(rec, len, (char *)buf, buflen);

        if (rw < 0) {
            note = LOOKUP_TOOLARGE;
        } else {
            if (rw == 0) {
                memcpy(buf, rec, len);
                buf[len] = '\0';
            }
            rc = DKIM_CBSTAT_CONTINUE;
        }
    }
out:
    dns_answer_free(ans);
    if (idx >= 0)
        v->slot[idx].lookup = (unsigned char)note;
    return rc;
}
