/* bimi_eval.c - one BIMI check: record discovery (<selector>._bimi at the author domain,
 * then at its organizational domain), the logo and mark certificate fetches, the SVG
 * and certificate checks, and the acceptance of VMC and CMC by configuration. A valid
 * certificate's verdict is remembered in the fetch cache under a digest of everything
 * it depends on (certificate file, logo, both domains), until the cache TTL or the
 * chain's earliest notAfter, whichever comes first; a new trust store comes with a new
 * cache (src/daemon/bimi_hook.c).
 * Owns the order of those steps and the verdict; not eligibility (bimi_policy.c).
 * Threads: reentrant; the fetcher and trust store it is given are shared objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bimi/bimi.h"
#include "util/xalloc.h"

static int verdict(struct bimi_res *out, enum bimi_result r, const char *reason);
static int fetch_status(struct bimi_res *out, enum bimi_fetch_status st, const char *what,
                        const char *why);
static int memo_key(const struct bimi_cert_in *ci, char *key, size_t keylen);
static int check_cert(const struct bimi_in *in, const struct bimi_cert_in *ci,
                      struct bimi_cert_res *cr);

static int verdict(struct bimi_res *out, enum bimi_result r, const char *reason)
{
    out->result = r;
    if (reason != NULL)
        snprintf(out->reason, sizeof(out->reason), "%s", reason);
    if (r != BIMI_PASS) {
        free(out->svg);
        out->svg = NULL;
        out->svg_len = 0;
        out->authority = r == BIMI_FAIL ? out->authority : BIMI_AUTH_NONE;
    }
    return 0;
}

/* fetch_status - temperror or fail for a failed fetch, naming the document */
static int fetch_status(struct bimi_res *out, enum bimi_fetch_status st, const char *what,
                        const char *why)
{
    char r[sizeof(out->reason)];

    snprintf(r, sizeof(r), "%s: %s", what, why);
    return verdict(out, st == BIMI_FETCH_TEMP ? BIMI_TEMPERROR : BIMI_FAIL, r);
}

/* memo_key - "bimi-verdict:" and the SHA-256 of the certificate file, the logo and the
 * domains, in hex; 0, or -1 when the digest cannot be made */
static int memo_key(const struct bimi_cert_in *ci, char *key, size_t keylen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    int ok;
    size_t n;

    ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(md, ci->pem, ci->len) == 1 && EVP_DigestUpdate(md, "\n", 1) == 1 &&
         EVP_DigestUpdate(md, ci->svg, ci->svg_len) == 1;
    for (int k = 0; k < 2 && ok; k++)
        ok = EVP_DigestUpdate(md, "\n", 1) == 1 &&
             EVP_DigestUpdate(md, ci->domain[k] ? ci->domain[k] : "",
                              strlen(ci->domain[k] ? ci->domain[k] : "")) == 1;
    ok = ok && EVP_DigestFinal_ex(md, h, &hl) == 1;
    EVP_MD_CTX_free(md);
    if (!ok || keylen < sizeof("bimi-verdict:") + 2 * (size_t)hl)
        return -1;
    n = (size_t)snprintf(key, keylen, "bimi-verdict:");
    for (unsigned int i = 0; i < hl; i++, n += 2)
        snprintf(key + n, keylen - n, "%02x", h[i]);
    return 0;
}

/* check_cert - bimi_cert_verify, or its remembered verdict for the same inputs */
static int check_cert(const struct bimi_in *in, const struct bimi_cert_in *ci,
                      struct bimi_cert_res *cr)
{
    char key[96] = "", memo[64], kind[4];
    long long until;

    if (memo_key(ci, key, sizeof(key)) == 0 &&
        bimi_fetch_memo_get(in->fetch, key, in->cache_now, memo, sizeof(memo)) == 0 &&
        sscanf(memo, "%3s %lld", kind, &until) == 2 && (long long)in->now < until) {
        memset(cr, 0, sizeof(*cr));
        cr->authority = strcmp(kind, "vmc") == 0 ? BIMI_AUTH_VMC : BIMI_AUTH_CMC;
        cr->not_after = (time_t)until;
        return 0;
    }
    if (bimi_cert_verify(ci, cr) < 0)
        return -1;
    if (key[0] != '\0' &&
        snprintf(memo, sizeof(memo), "%s %lld", bimi_authority_name(cr->authority),
                 (long long)cr->not_after) < (int)sizeof(memo))
        bimi_fetch_memo_put(in->fetch, key, in->cache_now, memo);
    return 0;
}

/* bimi_eval - see bimi.h */
int bimi_eval(const struct bimi_in *in, struct dns *dns, struct bimi_res *out)
{
    const char *sel = in->selector != NULL && in->selector[0] ? in->selector : "default";
    const char *domains[2] = {in->from_domain, in->org_domain};
    enum bimi_lookup lk = BIMI_LOOKUP_NONE;
    struct bimi_cert_in ci;
    struct bimi_cert_res cr;
    enum bimi_fetch_status st;
    char why[128] = "", *pem = NULL;
    size_t pem_len = 0;

    memset(out, 0, sizeof(*out));
    sa_strlcpy(out->selector, sel, sizeof(out->selector));
    for (int i = 0; i < 2 && lk == BIMI_LOOKUP_NONE; i++) {
        if (domains[i] == NULL || domains[i][0] == '\0' ||
            (i == 1 && dmarc_domain_equal(domains[0], domains[1])))
            continue;
        sa_strlcpy(out->domain, domains[i], sizeof(out->domain));
        lk = bimi_lookup_name(dns, sel, domains[i], &out->rec, why, sizeof(why));
    }
    if (lk == BIMI_LOOKUP_TEMP)
        return verdict(out, BIMI_TEMPERROR, why);
    if (lk == BIMI_LOOKUP_INVALID)
        return verdict(out, BIMI_FAIL, why);
    if (lk == BIMI_LOOKUP_NONE)
        return verdict(out, BIMI_NONE, why);
    if (out->rec.declined)
        return verdict(out, BIMI_NONE, "declined");
    if (out->rec.a[0] == '\0')
        return verdict(out, BIMI_FAIL, "no mark certificate (a=)");
    if (in->trust == NULL)
        return verdict(out, BIMI_TEMPERROR, "no trust store");
    st = bimi_fetch_get(in->fetch, out->rec.l, in->conf->max_svg, in->deadline, in->cache_now,
                        &out->svg, &out->svg_len, why, sizeof(why));
    if (st != BIMI_FETCH_OK)
        return fetch_status(out, st, "logo", why);
    if (bimi_svg_check(out->svg, out->svg_len, in->conf->max_svg, why, sizeof(why)) < 0)
        return fetch_status(out, BIMI_FETCH_FAIL, "logo", why);
    st = bimi_fetch_get(in->fetch, out->rec.a, in->conf->max_cert, in->deadline, in->cache_now,
                        &pem, &pem_len, why, sizeof(why));
    if (st != BIMI_FETCH_OK)
        return fetch_status(out, st, "certificate", why);
    memset(&ci, 0, sizeof(ci));
    ci.pem = pem;
    ci.len = pem_len;
    ci.domain[0] = in->from_domain;
    ci.domain[1] = out->domain;
    ci.now = in->now;
    ci.trust = in->trust;
    ci.svg = out->svg;
    ci.svg_len = out->svg_len;
    if (check_cert(in, &ci, &cr) < 0) {
        free(pem);
        return verdict(out, BIMI_FAIL, cr.reason);
    }
    free(pem);
    out->authority = cr.authority;
    if ((cr.authority == BIMI_AUTH_VMC && !in->conf->accept_vmc) ||
        (cr.authority == BIMI_AUTH_CMC && !in->conf->accept_cmc)) {
        snprintf(why, sizeof(why), "%s not accepted here",
                 cr.authority == BIMI_AUTH_VMC ? "VMC" : "CMC");
        return verdict(out, BIMI_FAIL, why);
    }
    return verdict(out, BIMI_PASS, NULL);
}

/* bimi_res_clear - see bimi.h */
void bimi_res_clear(struct bimi_res *out)
{
    free(out->svg);
    out->svg = NULL;
    out->svg_len = 0;
}
