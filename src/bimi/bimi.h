/* bimi.h - BIMI on the receiving side (draft-brand-indicators-for-message-identification):
 * the assertion record (<selector>._bimi.<domain> TXT), the DMARC enforcement rule that
 * makes a message eligible, the SVG Tiny PS safety check (libxml2), the mark certificate
 * check (OpenSSL: chain, validity, BIMI EKU, SAN, embedded logotype, VMC or CMC) and
 * the HTTPS fetcher with its URL cache (libcurl).
 * Evaluators are functions of (input, dns): no libmilter, no config struct, no clock but
 * in->now and in->deadline. Threads: struct bimi_trust and struct bimi_fetcher are
 * shared by all threads (the trust store is read-only after bimi_trust_new, the fetch
 * cache has its own mutex); everything else is reentrant. */
#ifndef SA_BIMI_H
#define SA_BIMI_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "dmarc/dmarc.h"
#include "dns/dns.h"

#define BIMI_MAX_URI 1024                 /* longest l= / a= URI we keep */
#define BIMI_MAX_SELECTOR 63              /* one DNS label */
#define BIMI_SVG_LIMIT 32768              /* draft 5.1: SVG documents SHOULD NOT exceed 32 KB */
#define BIMI_CERT_LIMIT 262144            /* largest mark certificate file ever fetched */
#define BIMI_MAX_CHAIN 8                  /* certificates read from one PEM file */
#define BIMI_EKU_OID "1.3.6.1.5.5.7.3.31" /* id-kp-BrandIndicatorforMessageIdentification */
#define BIMI_LOGOTYPE_OID "1.3.6.1.5.5.7.1.12"     /* RFC 3709 id-pe-logotype */
#define BIMI_MARKTYPE_OID "1.3.6.1.4.1.53087.1.13" /* markType subject attribute */
#define BIMI_TMREG_OID "1.3.6.1.4.1.53087.1.4"     /* trademarkRegistration (older VMCs) */

enum bimi_result {
    BIMI_NONE = 0, /* no usable assertion record, or the domain declined */
    BIMI_PASS,
    BIMI_FAIL,
    BIMI_TEMPERROR,
    BIMI_SKIPPED, /* not eligible: DMARC did not pass or is not enforced */
};

enum bimi_authority {
    BIMI_AUTH_NONE = 0,
    BIMI_AUTH_VMC, /* Verified Mark Certificate: registered or government mark */
    BIMI_AUTH_CMC, /* Common Mark Certificate: prior use or modified registered mark */
};

/* bimi_result_name - "none" "pass" "fail" "temperror" "skipped"; never NULL. */
const char *bimi_result_name(enum bimi_result r);
/* bimi_authority_name - "vmc", "cmc", or "" for none. */
const char *bimi_authority_name(enum bimi_authority a);

/* ---- assertion record (bimi_record.c) ---- */
struct bimi_record {
    char l[BIMI_MAX_URI + 1]; /* logo URI, "" = none */
    char a[BIMI_MAX_URI + 1]; /* authority evidence (mark certificate) URI, "" = none */
    int declined;             /* l= empty: the domain asks for no logo */
};

/* bimi_parse_record - strict parse of one TXT string: "v=BIMI1" first, then ';'-separated
 * tags; l= and a= must be https: URIs without spaces or control characters; a tag
 * given twice is an error; unknown tags are ignored. 0 and *out filled, or -1 with
 * reason. */
int bimi_parse_record(const char *txt, size_t len, struct bimi_record *out, char *reason,
                      size_t reasonlen);
/* bimi_parse_selector - the s= of a BIMI-Selector field value ("v=BIMI1; s=brand") into
 * out (lower case). 0, or -1 when the value is not a BIMI-Selector or s= is not one
 * DNS label (the caller then uses "default"). */
int bimi_parse_selector(const char *value, char *out, size_t outlen);

enum bimi_lookup {
    BIMI_LOOKUP_NONE = 0, /* no v=BIMI1 record (or more than one: all discarded) */
    BIMI_LOOKUP_FOUND,
    BIMI_LOOKUP_INVALID, /* exactly one v=BIMI1 record that does not parse */
    BIMI_LOOKUP_TEMP,
};
/* bimi_lookup_name - TXT at <selector>._bimi.<domain>. reason says why on NONE/INVALID/TEMP. */
enum bimi_lookup bimi_lookup_name(struct dns *dns, const char *selector, const char *domain,
                                  struct bimi_record *rec, char *reason, size_t reasonlen);

/* ---- eligibility (bimi_policy.c) ---- */
enum bimi_eligible {
    BIMI_ELIGIBLE = 0,
    BIMI_NOT_ELIGIBLE, /* reason says why: the message gets bimi=skipped */
    BIMI_ELIGIBLE_TEMP,
};
/* bimi_dmarc_eligible - DMARC passed and the author domain's applied policy is
 * quarantine or reject at pct=100 without t=y; the organizational domain enforces too
 * (its p is not none, its sp is not none; no record there is not enforcement). The
 * organizational domain's record is looked up through dns when the author domain has
 * its own record. */
enum bimi_eligible bimi_dmarc_eligible(const struct dmarc_res *d, const char *from_domain,
                                       struct dns *dns, char *reason, size_t reasonlen);

/* ---- SVG Tiny PS safety (bimi_svg.c) ---- */
/* bimi_svg_check - 0 when svg (len bytes, at most max) is a well-formed SVG Tiny PS
 * document without scripts, event attributes, animation, foreignObject, images,
 * external references (href/url() other than "#fragment", processing instructions,
 * entity declarations) and with baseProfile="tiny-ps", version 1.2, a <title> and no
 * x/y on the root; else -1 with reason. Never reads the network or the file system. */
int bimi_svg_check(const char *svg, size_t len, size_t max, char *reason, size_t reasonlen);

/* ---- mark certificate (bimi_cert.c) ---- */
struct bimi_trust;
/* bimi_trust_new - the trust store for mark certificates from a PEM bundle (CA
 * certificates). NULL with reason when the file cannot be read or holds none. */
struct bimi_trust *bimi_trust_new(const char *path, char *reason, size_t reasonlen);
/* bimi_trust_free - NULL is a no-op; returns NULL. */
struct bimi_trust *bimi_trust_free(struct bimi_trust *t);

struct bimi_cert_in {
    const char *pem; /* the a= document: the mark certificate first, then intermediates */
    size_t len;
    const char *domain[2]; /* the SAN must name one of these (NULL entries skipped) */
    time_t now;            /* validity is checked at this time */
    const struct bimi_trust *trust;
    const char *svg; /* the published logo, compared with the embedded one */
    size_t svg_len;
};
struct bimi_cert_res {
    enum bimi_authority authority; /* set when the certificate itself is valid */
    time_t not_after;              /* on success: the earliest notAfter of the chain */
    char reason[128];
};
/* bimi_cert_verify - 0 when the chain leads to the trust store and is valid at now, the
 * mark certificate has the BIMI EKU, a SAN dNSName equal to one of in->domain, a
 * logotype extension whose data: URI (gzip or plain SVG, base64) is byte-for-byte the
 * published logo, and a known mark type; -1 with out->reason otherwise. */
int bimi_cert_verify(const struct bimi_cert_in *in, struct bimi_cert_res *out);
/* bimi_cert_logo - the SVG embedded in the certificate's logotype extension (DER in
 * der/derlen), base64-decoded and gunzipped, into a malloc'd buffer (caller frees) of
 * at most max bytes. NULL when there is none or it is too large. For tests and
 * bimi_cert_verify. */
unsigned char *bimi_cert_logo(const unsigned char *der, size_t derlen, size_t max, size_t *outlen);

/* ---- HTTPS fetch and cache (bimi_fetch.c) ---- */
/* What became of one bimi_fetch_get: the index of the counter it adds one to. */
enum bimi_fetch_count {
    BIMI_COUNT_FETCHED = 0, /* a transfer brought the document */
    BIMI_COUNT_CACHED,      /* the cache answered (a document or a permanent failure) */
    BIMI_COUNT_TIMEOUT,     /* the deadline passed before the transfer ended */
    BIMI_COUNT_FAILED,      /* any other failure (HTTP status, TLS, size, refused) */
    BIMI_NCOUNTS
};
struct bimi_fetch_conf {
    const char *ca_file; /* CA bundle for the HTTPS servers; NULL or "" = system default */
    int cache_ttl;       /* seconds a fetched document (or a permanent failure) is kept */
    int cache_entries;   /* 0 = no cache */
    /* NULL, or BIMI_NCOUNTS counters (the caller's, living longer than the fetcher)
     * that bimi_fetch_get adds to with relaxed atomic adds */
    atomic_uint_fast64_t *counters;
};
enum bimi_fetch_status {
    BIMI_FETCH_OK = 0,
    BIMI_FETCH_FAIL, /* permanent: HTTP 4xx, not https, too large, TLS verification */
    BIMI_FETCH_TEMP, /* timeout, connection refused, HTTP 5xx */
};
struct bimi_fetcher;
/* bimi_fetch_new - a fetcher with its cache (copies conf). NULL when out of memory. */
struct bimi_fetcher *bimi_fetch_new(const struct bimi_fetch_conf *conf);
/* bimi_fetch_free - NULL is a no-op; returns NULL. */
struct bimi_fetcher *bimi_fetch_free(struct bimi_fetcher *f);
/* bimi_fetch_get - GET url (https only, redirects only to https, at most 3) with at most
 * max bytes of body, finished before deadline (CLOCK_MONOTONIC seconds). On OK, *data
 * (malloc'd, NUL-terminated, caller frees) and *len; otherwise reason. now is the
 * cache clock (seconds). */
enum bimi_fetch_status bimi_fetch_get(struct bimi_fetcher *f, const char *url, size_t max,
                                      double deadline, long now, char **data, size_t *len,
                                      char *reason, size_t reasonlen);
/* bimi_fetch_memo_put - keep a short text under key (not a URL: callers use a prefix
 * that no URL has) in the same cache, for the cache TTL; no-op without a cache.
 * bimi_fetch_memo_get - copy it into out (outlen bytes): 0, or -1 when absent or expired. */
void bimi_fetch_memo_put(struct bimi_fetcher *f, const char *key, long now, const char *value);
int bimi_fetch_memo_get(struct bimi_fetcher *f, const char *key, long now, char *out,
                        size_t outlen);

/* ---- the whole check (bimi_eval.c) ---- */
struct bimi_conf {
    int accept_vmc, accept_cmc;
    size_t max_svg;  /* <= BIMI_SVG_LIMIT */
    size_t max_cert; /* <= BIMI_CERT_LIMIT */
};
struct bimi_in {
    const char *from_domain; /* lower-case A-label (DMARC's) */
    const char *org_domain;  /* its organizational domain (DMARC's) */
    const char *selector;    /* from BIMI-Selector, or NULL = "default" */
    time_t now;              /* certificate validity */
    double deadline;         /* CLOCK_MONOTONIC seconds: both fetches end before it */
    long cache_now;          /* the fetch cache clock */
    const struct bimi_conf *conf;
    const struct bimi_trust *trust; /* NULL: nothing can pass (reason says so) */
    struct bimi_fetcher *fetch;
};
struct bimi_res {
    enum bimi_result result;
    enum bimi_authority authority;
    char domain[DNS_MAX_NAME + 1]; /* where the record was found (header.d) */
    char selector[BIMI_MAX_SELECTOR + 1];
    struct bimi_record rec;
    char *svg; /* pass only: the validated logo (malloc'd; bimi_res_clear frees) */
    size_t svg_len;
    char reason[128];
};
/* bimi_eval - record discovery (author domain, then the organizational domain), the
 * fetches, the SVG and certificate checks; always fills *out (the caller has checked
 * eligibility). Returns 0, or -1 on an internal error (out->result temperror). */
int bimi_eval(const struct bimi_in *in, struct dns *dns, struct bimi_res *out);
/* bimi_res_clear - free out->svg; the struct may be reused. */
void bimi_res_clear(struct bimi_res *out);

/* ---- header values for the delivery agent (bimi_header.c) ---- */
#define BIMI_LOCATION_NAME "BIMI-Location"
#define BIMI_INDICATOR_NAME "BIMI-Indicator"
#define BIMI_SELECTOR_NAME "BIMI-Selector"
#define BIMI_INDICATOR_LINE 76 /* base64 characters per folded line */
/* bimi_format_location - "v=BIMI1; l=<l>[; a=<a>]" into out. 0, or -1 when too small. */
int bimi_format_location(const struct bimi_record *rec, char *out, size_t outlen);
/* bimi_indicator_size - bytes bimi_format_indicator needs for n bytes of SVG (with NUL). */
size_t bimi_indicator_size(size_t n, const char *fold);
/* bimi_format_indicator - base64 of svg in lines of BIMI_INDICATOR_LINE characters
 * joined by fold ("\n\t" for libmilter). 0, or -1 when out is too small. */
int bimi_format_indicator(const char *svg, size_t n, const char *fold, char *out, size_t outlen);
/* bimi_dkim_signs_selector - 1 when the DKIM-Signature field value sig has an h= tag
 * that lists BIMI-Selector (names compared without case, FWS around them ignored), else
 * 0 (no h=, or a tag list too broken to find it). Which signature passed is the
 * caller's business (draft section 4.3: an unsigned BIMI-Selector is ignored). */
int bimi_dkim_signs_selector(const char *sig);

#endif
