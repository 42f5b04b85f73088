/* dkim_result.c - one libopendkim signature handle, plus what we noted about it, turned
 * into a struct dkim_sig_res: the RFC 8601 result word, the reason, and the properties
 * (d=, s=, a=, b=, key size, l= coverage) that A-R and DMARC need. The key checks and
 * the signature check are made here with the cached key (dkim_key.c) over the header
 * hash libopendkim computed, since libopendkim is never handed a key; bh= is compared
 * with our body hash (dkim_bodyhash.c), since libopendkim is never handed the body.
 * Local key policy lives here: RFC 8301 (no rsa-sha1, RSA >= min_rsa_bits), the key
 * type against a=, and l= that stops short of the body is never a pass.
 * Owns no state. Threads: called on the message's thread only. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim/dkim_int.h"
#include "util/base64.h"
#include "util/xalloc.h"

static void set(struct dkim_sig_res *r, enum auth_res res, const char *reason);
static void copy_tags(DKIM_SIGINFO *sig, struct dkim_sig_res *r);
static int map_sig_error(int err, struct dkim_sig_res *r);
static int map_lookup(int note, struct dkim_sig_res *r);
static int map_key_error(int err, struct dkim_sig_res *r);
static int tag_u64(DKIM_SIGINFO *sig, const char *tag, uint64_t *out);
static void map_key(const struct dkim_key *k, struct dkim_sig_res *r);
static int subdomain_ok(DKIM_SIGINFO *sig);
static int decode_b(const char *b, unsigned char *out, size_t outsize, size_t *outlen);
static int check_crypto(struct dkim_eval *v, DKIM_SIGINFO *sig, int index, const struct dkim_key *k,
                        int sha1, struct dkim_sig_res *r);
static int check_key(struct dkim_eval *v, DKIM_SIGINFO *sig, int index, const struct dkim_key *k,
                     int err, struct dkim_sig_res *r);

/* set - result word and reason */
static void set(struct dkim_sig_res *r, enum auth_res res, const char *reason)
{
    r->result = res;
    sa_strlcpy(r->reason, reason, sizeof(r->reason));
}

/* copy_tags - d= (lower-case), s=, a=, the first 8 characters of b= without FWS */
static void copy_tags(DKIM_SIGINFO *sig, struct dkim_sig_res *r)
{
    const char *d = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"d");
    const char *s = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"s");
    const char *a = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"a");
    const char *b = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"b");
    size_t k = 0;

    if (d != NULL) {
        sa_strlcpy(r->domain, d, sizeof(r->domain));
        for (char *p = r->domain; *p != '\0'; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    if (s != NULL)
        sa_strlcpy(r->selector, s, sizeof(r->selector));
    if (a != NULL)
        sa_strlcpy(r->algo, a, sizeof(r->algo));
    for (; b != NULL && *b != '\0' && k < sizeof(r->b8) - 1; b++)
        if (*b != ' ' && *b != '\t' && *b != '\r' && *b != '\n')
            r->b8[k++] = *b;
    r->b8[k] = '\0';
}

/* tag_u64 - a decimal tag value; 0 when present and numeric */
static int tag_u64(DKIM_SIGINFO *sig, const char *tag, uint64_t *out)
{
    const char *v = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)tag);
    char *end;

    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    *out = strtoull(v, &end, 10);
    return *end == '\0' ? 0 : -1;
}

/* map_sig_error - errors found in the signature's own tags, before any key lookup */
static int map_sig_error(int err, struct dkim_sig_res *r)
{
    switch (err) {
    case DKIM_SIGERROR_EXPIRED:
        set(r, AUTH_FAIL, DKIM_REASON_EXPIRED);
        return 1;
    case DKIM_SIGERROR_FUTURE:
        set(r, AUTH_FAIL, DKIM_REASON_FUTURE);
        return 1;
    case DKIM_SIGERROR_INVALID_A:
        set(r, AUTH_PERMERROR, DKIM_REASON_BAD_ALGO);
        return 1;
    case DKIM_SIGERROR_INVALID_H:
        set(r, AUTH_PERMERROR, DKIM_REASON_FROM_UNSIGNED);
        return 1;
    case DKIM_SIGERROR_DOMAIN:
        set(r, AUTH_PERMERROR, DKIM_REASON_BAD_IDENTITY);
        return 1;
    case DKIM_SIGERROR_VERSION:
    case DKIM_SIGERROR_TIMESTAMPS:
    case DKIM_SIGERROR_INVALID_HC:
    case DKIM_SIGERROR_INVALID_BC:
    case DKIM_SIGERROR_MISSING_A:
    case DKIM_SIGERROR_MISSING_H:
    case DKIM_SIGERROR_INVALID_L:
    case DKIM_SIGERROR_INVALID_Q:
    case DKIM_SIGERROR_INVALID_QO:
    case DKIM_SIGERROR_MISSING_D:
    case DKIM_SIGERROR_EMPTY_D:
    case DKIM_SIGERROR_MISSING_S:
    case DKIM_SIGERROR_EMPTY_S:
    case DKIM_SIGERROR_MISSING_B:
    case DKIM_SIGERROR_EMPTY_B:
    case DKIM_SIGERROR_CORRUPT_B:
    case DKIM_SIGERROR_MISSING_BH:
    case DKIM_SIGERROR_EMPTY_BH:
    case DKIM_SIGERROR_CORRUPT_BH:
    case DKIM_SIGERROR_EMPTY_H:
    case DKIM_SIGERROR_MISSING_V:
    case DKIM_SIGERROR_EMPTY_V:
        set(r, AUTH_PERMERROR, DKIM_REASON_SYNTAX);
        return 1;
    default:
        return 0;
    }
}

/* map_lookup - what our key lookup noted (libopendkim saw only "no key") */
static int map_lookup(int note, struct dkim_sig_res *r)
{
    switch (note) {
    case LOOKUP_TEMPFAIL:
        set(r, AUTH_TEMPERROR, DKIM_REASON_DNS_TEMP);
        return 1;
    case LOOKUP_BADNAME:
        set(r, AUTH_PERMERROR, DKIM_REASON_SYNTAX);
        return 1;
    case LOOKUP_TOOLARGE:
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_LARGE);
        return 1;
    case LOOKUP_MULTI:
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_MULTI);
        return 1;
    case LOOKUP_BADDATA:
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX);
        return 1;
    case LOOKUP_NOMEM:
        set(r, AUTH_TEMPERROR, DKIM_REASON_INTERNAL);
        return 1;
    default:
        return 0;
    }
}

/* map_key_error - errors of the key record (RFC 6376 6.1.2) */
static int map_key_error(int err, struct dkim_sig_res *r)
{
    switch (err) {
    case DKIM_SIGERROR_NOKEY:
        set(r, AUTH_PERMERROR, DKIM_REASON_NO_KEY);
        return 1;
    case DKIM_SIGERROR_KEYFAIL:
        set(r, AUTH_TEMPERROR, DKIM_REASON_DNS_TEMP);
        return 1;
    case DKIM_SIGERROR_KEYREVOKED:
        set(r, AUTH_FAIL, DKIM_REASON_REVOKED);
        return 1;
    case DKIM_SIGERROR_MULTIREPLY:
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_MULTI);
        return 1;
    case DKIM_SIGERROR_KEYHASHMISMATCH:
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_HASH);
        return 1;
    case DKIM_SIGERROR_NOTEMAILKEY:
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_SERVICE);
        return 1;
    case DKIM_SIGERROR_DNSSYNTAX:
    case DKIM_SIGERROR_KEYVERSION:
    case DKIM_SIGERROR_KEYUNKNOWNHASH:
    case DKIM_SIGERROR_KEYTYPEMISSING:
    case DKIM_SIGERROR_KEYTYPEUNKNOWN:
    case DKIM_SIGERROR_KEYDECODE:
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX);
        return 1;
    default:
        return 0;
    }
}

/* map_key - what our key cache found wrong with the record (RFC 6376 6.1.2) */
static void map_key(const struct dkim_key *k, struct dkim_sig_res *r)
{
    switch (k->err) {
    case DKIM_KEY_ERR_REVOKED:
        set(r, AUTH_FAIL, DKIM_REASON_REVOKED);
        break;
    case DKIM_KEY_ERR_SERVICE:
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_SERVICE);
        break;
    default:
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_SYNTAX);
        break;
    }
}

/* subdomain_ok - t=s: the domain of i= (after the '@') is d= itself */
static int subdomain_ok(DKIM_SIGINFO *sig)
{
    const char *d = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"d");
    const char *i = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"i");
    const char *at;

    if (i == NULL || d == NULL)
        return 1;
    at = strchr(i, '@');
    return strcasecmp(at != NULL ? at + 1 : i, d) == 0;
}

/* decode_b - b= as libopendkim reads it: characters outside the base64 alphabet are
 * skipped and the first '=' ends it (its own tag check accepted the value) */
static int decode_b(const char *b, unsigned char *out, size_t outsize, size_t *outlen)
{
    char tmp[DKIM_EVAL_MAX_SIGLEN * 4 / 3 + 4];
    size_t n = 0;

    for (; *b != '\0' && *b != '='; b++) {
        if (!((*b >= 'A' && *b <= 'Z') || (*b >= 'a' && *b <= 'z') || (*b >= '0' && *b <= '9') ||
              *b == '+' || *b == '/'))
            continue;
        if (n >= sizeof(tmp))
            return -1;
        tmp[n++] = *b;
    }
    if (base64_decode(tmp, n, out, outsize, outlen, BASE64_LENIENT) < 0 || *outlen == 0)
        return -1;
    return 0;
}

/* check_crypto - the signature over libopendkim's header hash with our key, then our
 * body hash against bh= (compared in base64, as libopendkim does). 0 when both hold,
 * else -1 with the result set. */
static int check_crypto(struct dkim_eval *v, DKIM_SIGINFO *sig, int index, const struct dkim_key *k,
                        int sha1, struct dkim_sig_res *r)
{
    const char *b = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"b");
    const char *bh = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"bh");
    unsigned char sigbuf[DKIM_EVAL_MAX_SIGLEN];
    char bh64[EVP_MAX_MD_SIZE * 2];
    void *hh = NULL, *lbd = NULL;
    const unsigned char *bd;
    size_t hhlen = 0, lbdlen = 0, bdlen = 0, slen = 0;
    int rc;

    /* libopendkim's body hash is of an empty body: only the header hash is used. */
    bd = dkim_bodyhash_get(&v->bh, v->body[index].digest, &bdlen);
    if (dkim_sig_gethashes(sig, &hh, &hhlen, &lbd, &lbdlen) != DKIM_STAT_OK || hh == NULL ||
        bd == NULL || bdlen > EVP_MAX_MD_SIZE) {
        set(r, AUTH_TEMPERROR, DKIM_REASON_INTERNAL);
        return -1;
    }
    if (b == NULL || decode_b(b, sigbuf, sizeof(sigbuf), &slen) < 0) {
        set(r, AUTH_FAIL, DKIM_REASON_SIG_MISMATCH);
        return -1;
    }
    rc = dkim_key_verify(v->lib->keys, k, sha1, hh, hhlen, sigbuf, slen);
    if (rc < 0) {
        set(r, AUTH_TEMPERROR, DKIM_REASON_INTERNAL);
        return -1;
    }
    if (rc == 0) {
        set(r, AUTH_FAIL, DKIM_REASON_SIG_MISMATCH);
        return -1;
    }
    EVP_EncodeBlock((unsigned char *)bh64, bd, (int)bdlen);
    if (bh == NULL || strcmp(bh, bh64) != 0) {
        set(r, AUTH_FAIL, DKIM_REASON_BH_MISMATCH);
        return -1;
    }
    return 0;
}

/* check_key - RFC 6376 6.1.2 with our key: the record, the signature's hash in h=,
 * the key type against a=, RFC 8301 key size, then l= and t=s. 0 when usable, else -1
 * with the result set. */
static int check_key(struct dkim_eval *v, DKIM_SIGINFO *sig, int index, const struct dkim_key *k,
                     int err, struct dkim_sig_res *r)
{
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    int ed, hash;

    (void)dkim_sig_getsignalg(sig, &alg);
    ed = alg == DKIM_SIGN_ED25519SHA256;
    hash = alg == DKIM_SIGN_RSASHA1 ? DKIM_KEY_HASH_SHA1 : DKIM_KEY_HASH_SHA256;
    if (k->err != DKIM_KEY_OK && !k->late) {
        map_key(k, r);
        return -1;
    }
    if ((k->hashes & hash) == 0) {
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_HASH);
        return -1;
    }
    if (k->err != DKIM_KEY_OK) {
        map_key(k, r);
        return -1;
    }
    if (ed != (k->type == DKIM_KEY_ED25519)) {
        set(r, AUTH_PERMERROR, DKIM_REASON_KEY_TYPE);
        return -1;
    }
    r->testing = k->testing;
    r->key_bits = k->bits;
    if (!ed && k->bits < v->lib->conf.min_rsa_bits) {
        set(r, AUTH_FAIL, DKIM_REASON_KEY_SMALL); /* RFC 8301 section 3.2 */
        return -1;
    }
    if (err == DKIM_SIGERROR_TOOLARGE_L) {
        set(r, AUTH_FAIL, DKIM_REASON_L_TOO_LARGE);
        return -1;
    }
    if (k->nosubdomain && !subdomain_ok(sig)) {
        set(r, AUTH_FAIL, DKIM_REASON_SUBDOMAIN);
        return -1;
    }
    return check_crypto(v, sig, index, k, alg == DKIM_SIGN_RSASHA1, r);
}

/* dkim_result_fill - the checks in order: what we refused before libopendkim ran, the
 * signature's tags, the key lookup, the key record and key policy (ours), the
 * cryptography (ours, on libopendkim's hashes), l= */
void dkim_result_fill(struct dkim_eval *v, DKIM_SIGINFO *sig, const struct dkim_slot *slot,
                      int index, struct dkim_sig_res *r)
{
    const struct dkim_eval_conf *conf = &v->lib->conf;
    const struct dkim_bodysig *b;
    uint64_t x;
    int err;

    memset(r, 0, sizeof(*r));
    r->full_body = 1;
    if (sig != NULL)
        copy_tags(sig, r);
    if (!slot->fed) {
        set(r, AUTH_PERMERROR, DKIM_REASON_HDR_LONG);
        return;
    }
    if (index >= conf->max_sigs) {
        set(r, AUTH_POLICY, DKIM_REASON_TOO_MANY);
        return;
    }
    if (slot->bad) {
        set(r, AUTH_PERMERROR, DKIM_REASON_SYNTAX);
        return;
    }
    if (sig == NULL) {
        set(r, AUTH_TEMPERROR, DKIM_REASON_INTERNAL);
        return;
    }
    if (strcasecmp(r->algo, "rsa-sha1") == 0) {
        set(r, AUTH_FAIL, DKIM_REASON_SHA1); /* RFC 8301 section 3.1 */
        return;
    }
    /* Not dkim_sig_geterror: libopendkim judged l= on the empty body it was given. */
    err = index < DKIM_EVAL_MAX_TRACK && v->body[index].known ? v->body[index].err
                                                              : dkim_sig_geterror(sig);
    if (map_sig_error(err, r))
        return;
    /* x= against our clock (fixed_time in tests), with libopendkim's drift. */
    if (tag_u64(sig, "x", &x) == 0 && (uint64_t)v->now >= x + DKIM_EVAL_CLOCK_DRIFT) {
        set(r, AUTH_FAIL, DKIM_REASON_EXPIRED);
        return;
    }
    if (map_lookup(slot->lookup, r))
        return;
    if (slot->lookup != LOOKUP_KEY || slot->key == NULL) {
        /* No record: libopendkim's "no key", which an l= past the body overwrites. */
        if (err == DKIM_SIGERROR_TOOLARGE_L)
            set(r, AUTH_FAIL, DKIM_REASON_L_TOO_LARGE);
        else if (!map_key_error(err, r))
            set(r, AUTH_PERMERROR, DKIM_REASON_NO_KEY);
        return;
    }
    if (check_key(v, sig, index, slot->key, err, r) < 0)
        return;
    b = &v->body[index];
    if (b->has_l && b->l < dkim_bodyhash_total(&v->bh, b->relaxed)) {
        r->full_body = 0;
        set(r, AUTH_POLICY, DKIM_REASON_PARTIAL);
        return;
    }
    set(r, AUTH_PASS, "");
}
