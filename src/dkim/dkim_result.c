/* dkim_result.c - one libopendkim signature handle, plus what we noted about it, turned
 * into a struct dkim_sig_res: the RFC 8601 result word, the reason, and the properties
 * (d=, s=, a=, b=, key size, l= coverage) that A-R and DMARC need. Local key policy
 * lives here: RFC 8301 (no rsa-sha1, RSA >= min_rsa_bits), RFC 8463 (Ed25519 has no
 * "bits" in libopendkim), and l= that stops short of the body is never a pass.
 * Owns no state. Threads: called on the message's thread only. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim/dkim_int.h"
#include "util/xalloc.h"

#define ED25519_BITS 256 /* RFC 8463 section 3 */

static void set(struct dkim_sig_res *r, enum auth_res res, const char *reason);
static void copy_tags(DKIM_SIGINFO *sig, struct dkim_sig_res *r);
static int map_sig_error(int err, struct dkim_sig_res *r);
static int map_lookup(int note, struct dkim_sig_res *r);
static int map_key_error(int err, struct dkim_sig_res *r);
static int tag_u64(DKIM_SIGINFO *sig, const char *tag, uint64_t *out);

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

/* dkim_result_fill - the checks in order: what we refused before libopendkim ran, the
 * signature's tags, the key lookup, the key record, key policy, the cryptography, l= */
void dkim_result_fill(struct dkim_eval *v, DKIM_SIGINFO *sig, const struct dkim_slot *slot,
                      int index, struct dkim_sig_res *r)
{
    const struct dkim_eval_conf *conf = &v->lib->conf;
    unsigned int flags, bits = 0;
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    uint64_t x, l;
    int err, bh;

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
    err = dkim_sig_geterror(sig);
    if (map_sig_error(err, r))
        return;
    /* x= against our clock (fixed_time in tests), with libopendkim's drift. */
    if (tag_u64(sig, "x", &x) == 0 && (uint64_t)v->now >= x + DKIM_EVAL_CLOCK_DRIFT) {
        set(r, AUTH_FAIL, DKIM_REASON_EXPIRED);
        return;
    }
    if (map_lookup(slot->lookup, r) || map_key_error(err, r))
        return;
    flags = dkim_sig_getflags(sig);
    r->testing = (flags & DKIM_SIGFLAG_TESTKEY) != 0;
    (void)dkim_sig_getsignalg(sig, &alg);
    if (alg == DKIM_SIGN_ED25519SHA256) {
        r->key_bits = ED25519_BITS; /* libopendkim reports 0 bits for Ed25519 */
    } else if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK) {
        r->key_bits = (int)bits;
    }
    if (err == DKIM_SIGERROR_KEYTOOSMALL ||
        (alg != DKIM_SIGN_ED25519SHA256 && r->key_bits > 0 && r->key_bits < conf->min_rsa_bits)) {
        set(r, AUTH_FAIL, DKIM_REASON_KEY_SMALL); /* RFC 8301 section 3.2 */
        return;
    }
    if (err == DKIM_SIGERROR_TOOLARGE_L) {
        set(r, AUTH_FAIL, DKIM_REASON_L_TOO_LARGE);
        return;
    }
    if (err == DKIM_SIGERROR_SUBDOMAIN) {
        set(r, AUTH_FAIL, DKIM_REASON_SUBDOMAIN);
        return;
    }
    bh = dkim_sig_getbh(sig);
    if ((flags & DKIM_SIGFLAG_PROCESSED) == 0) {
        set(r, AUTH_TEMPERROR, DKIM_REASON_INTERNAL);
        return;
    }
    if ((flags & DKIM_SIGFLAG_PASSED) == 0) {
        set(r, AUTH_FAIL, DKIM_REASON_SIG_MISMATCH);
        return;
    }
    if (bh != DKIM_SIGBH_MATCH) {
        set(r, AUTH_FAIL, DKIM_REASON_BH_MISMATCH);
        return;
    }
    if (err != DKIM_SIGERROR_OK && err != DKIM_SIGERROR_UNKNOWN) {
        set(r, AUTH_FAIL,
            dkim_sig_geterrorstr(err) != NULL ? dkim_sig_geterrorstr(err)
                                              : DKIM_REASON_SIG_MISMATCH);
        return;
    }
    if (tag_u64(sig, "l", &l) == 0) {
        const char *c = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"c");
        const char *slash = c != NULL ? strchr(c, '/') : NULL;
        int relaxed = slash != NULL && strcasecmp(slash + 1, "relaxed") == 0;

        if (l < dkim_bodylen_total(&v->blen[relaxed])) {
            r->full_body = 0;
            set(r, AUTH_POLICY, DKIM_REASON_PARTIAL);
            return;
        }
    }
    set(r, AUTH_PASS, "");
}
