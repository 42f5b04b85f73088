/* fuzz_message.c - libFuzzer target for a whole message: SPF (both identities), DKIM,
 * the From parser, forged A-R recognition, DMARC and the A-R writer, called directly as
 * the daemon's msg.c/act.c call them (no libmilter), over a DNS stub that answers from
 * the fuzz input.
 * Input: byte 0 = flags (bit 0 IPv6 client, bit 1 values keep their leading space as
 * with SMFIP_HDR_LEADSPC, bits 2-3 body chunk size 1/7/64/all, bit 4 PSL instead of the
 * RFC 9989 tree walk, bit 5 null reverse-path); then the zone up to the first NUL, one
 * record a line: "name TYPE value" with TYPE A, AAAA, MX, PTR, CNAME or TXT (the value is
 * the rest of the line), or "name FAIL" for a SERVFAIL-like tempfail; then the message:
 * header fields (LF or CRLF, continuation lines start with white space) up to an empty
 * line, then the body as is. The envelope is bounce@example.com from mail.example.com.
 * Checks the contract, not just "does not crash":
 *   - every result is one of its method's words, with NUL-terminated strings;
 *   - SPF pass needs a v=spf1 record in the zone; a DKIM pass needs a key record and
 *     the whole body covered; one result per DKIM-Signature field (up to the cap);
 *   - DMARC runs only for one From field with one author domain (as the daemon does);
 *     a pass needs a DMARC record in the zone and an aligned passing identifier, and
 *     the aligned DKIM domain is one that passed;
 *   - the A-R built from the results parses (ar_check.h), names us, carries one resinfo
 *     per result, and ar_match_ours takes it for ours;
 *   - DNS queries stay bounded.
 * SA_FUZZ_VERBOSE=1 prints the A-R of each input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ar_check.h"
#include "dkim/dkim_eval.h"
#include "dmarc/dmarc.h"
#include "dns/dns.h"
#include "mail/ar_match.h"
#include "mail/from.h"
#include "out/ar_format.h"
#include "spf/spf_eval.h"

#define OUR_ID "mx.test.example"
#define T0 1700000060    /* verification time: seeds are signed at t=1700000000 */
#define MAX_SIGS 5       /* dkim max_sigs, as the daemon's default */
#define MAX_OUT 8        /* results asked for */
#define MAX_FIELDS 400   /* header fields fed */
#define MAX_VALUE 65536  /* one value */
#define MAX_QUERIES 400  /* 2 SPF evaluations, MAX_SIGS keys, DMARC discovery */

static struct dkim_eval_lib *lib;
static struct orgdomain *org;

static int setup(void);
static void load_zone(struct dns *d, const char *z, size_t n);
static int has_ci(const char *hay, size_t n, const char *needle);
static int valid_str(const char *s, size_t size);
static void check_spf(const struct spf_res *r, const char *zone, size_t zn);

static int setup(void)
{
    struct dkim_eval_conf conf = {MAX_SIGS, DKIM_EVAL_MIN_RSA_BITS, T0};

    lib = dkim_eval_lib_new(&conf);
    org = orgdomain_new(NULL);
    return lib != NULL && org != NULL ? 0 : -1;
}

/* has_ci - needle occurs in hay (n bytes) ignoring case */
static int has_ci(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; k > 0 && i + k <= n; i++)
        if (strncasecmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

static int valid_str(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

/* load_zone - one record a line into the stub; malformed lines are skipped */
static void load_zone(struct dns *d, const char *z, size_t n)
{
    static const struct {
        const char *name;
        uint16_t type;
    } types[] = {{"A", DNS_T_A},     {"AAAA", DNS_T_AAAA},   {"MX", DNS_T_MX},
                 {"PTR", DNS_T_PTR}, {"CNAME", DNS_T_CNAME}, {"TXT", DNS_T_TXT}};
    const char *end = z + n;

    for (const char *line = z; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end, *sp1, *sp2;
        char name[DNS_MAX_NAME + 1], type[8], value[512];
        size_t nn, tn, vn;

        sp1 = memchr(line, ' ', (size_t)(le - line));
        if (sp1 != NULL && (nn = (size_t)(sp1 - line)) > 0 && nn <= DNS_MAX_NAME) {
            memcpy(name, line, nn);
            name[nn] = '\0';
            sp2 = memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1));
            tn = (size_t)((sp2 ? sp2 : le) - sp1 - 1);
            if (tn > 0 && tn < sizeof(type)) {
                memcpy(type, sp1 + 1, tn);
                type[tn] = '\0';
                if (strcmp(type, "FAIL") == 0)
                    (void)dns_stub_fail(d, name, 0, DNS_TEMPFAIL);
                for (size_t i = 0; sp2 != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
                    if (strcmp(type, types[i].name) != 0)
                        continue;
                    vn = (size_t)(le - sp2 - 1);
                    if (vn > 0 && le[-1] == '\r')
                        vn--;
                    if (types[i].type == DNS_T_TXT) {
                        (void)dns_stub_add_txt_len(d, name, sp2 + 1, vn);
                    } else if (vn < sizeof(value)) {
                        memcpy(value, sp2 + 1, vn);
                        value[vn] = '\0';
                        (void)dns_stub_add(d, name, types[i].type, value);
                    }
                }
            }
        }
        line = le + 1;
    }
}

/* check_spf - one SPF result against the contract */
static void check_spf(const struct spf_res *r, const char *zone, size_t zn)
{
    if (!valid_str(r->domain, sizeof(r->domain)) || !valid_str(r->sender, sizeof(r->sender)) ||
        !valid_str(r->reason, sizeof(r->reason)))
        abort();
    switch (r->result) {
    case AUTH_PASS:
        if (!has_ci(zone, zn, "v=spf1"))
            abort();
        break;
    case AUTH_NONE:
    case AUTH_FAIL:
    case AUTH_SOFTFAIL:
    case AUTH_NEUTRAL:
    case AUTH_TEMPERROR:
    case AUTH_PERMERROR:
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t chunks[4] = {1, 7, 64, 0};
    static struct dkim_sig_res dk[MAX_OUT];
    static char value[MAX_VALUE + 2], arv[AR_MAX_HEADER + 1];
    static struct arc_header parsed;
    struct spf_in sin;
    struct spf_res spf, spf_helo;
    struct from_res from;
    struct dmarc_in din;
    struct dmarc_res dm;
    struct dmarc_dkim_in dkin[MAX_OUT];
    struct ar_header h;
    struct ar_resinfo *ri;
    struct dkim_eval *v;
    struct dns *d;
    const char *p, *end, *zone, *body;
    size_t zn, chunk, blen;
    int flags, leadspace, nfields = 0, nsig = 0, nfrom = 0, nours = 0, nout = -1, q0, nwant = 0;
    int dmarc_ran = 0;
    char why[128], comment[160];

    if (lib == NULL && setup() < 0)
        abort();
    if (size < 1)
        return 0;
    flags = data[0];
    leadspace = (flags >> 1) & 1;
    chunk = chunks[(flags >> 2) & 3];
    p = (const char *)data + 1;
    end = (const char *)data + size;
    zone = p;
    p = memchr(p, '\0', (size_t)(end - p));
    if (p == NULL)
        return 0;
    zn = (size_t)(p - zone);
    p++;
    if ((d = dns_stub_new()) == NULL)
        abort();
    load_zone(d, zone, zn);
    q0 = dns_stub_queries(d);

    /* MAIL FROM: both SPF identities, as msg.c runs them. */
    memset(&sin, 0, sizeof(sin));
    sin.client_ip = (flags & 1) ? "2001:db8::25" : "192.0.2.25";
    sin.helo = "mail.example.com";
    sin.mailfrom = (flags & 0x20) ? "" : "bounce@example.com";
    sin.identity = SPF_ID_MAILFROM;
    sin.receiver = OUR_ID;
    if (spf_eval(&sin, d, &spf) != 0 && spf.result != AUTH_TEMPERROR)
        abort();
    check_spf(&spf, zone, zn);
    sin.identity = SPF_ID_HELO;
    if (spf_eval(&sin, d, &spf_helo) != 0 && spf_helo.result != AUTH_TEMPERROR)
        abort();
    check_spf(&spf_helo, zone, zn);

    /* Header fields, as libmilter hands them over. */
    if ((v = dkim_eval_new(lib, d, "FUZZ")) == NULL)
        abort();
    dkim_eval_set_leadspace(v, leadspace);
    memset(&from, 0, sizeof(from));
    while (p < end && nfields < MAX_FIELDS) {
        const char *le = memchr(p, '\n', (size_t)(end - p)), *colon, *vs;
        size_t vn = 0;
        char name[256];

        if (le == NULL)
            le = end;
        if (le == p || (le == p + 1 && *p == '\r')) { /* the empty line */
            p = le + 1;
            break;
        }
        colon = memchr(p, ':', (size_t)(le - p));
        if (colon == NULL || colon == p || (size_t)(colon - p) >= sizeof(name) ||
            memchr(p, '\0', (size_t)(colon - p)) != NULL) {
            p = le + 1; /* not a field: the MTA would not pass it as one */
            continue;
        }
        memcpy(name, p, (size_t)(colon - p));
        name[colon - p] = '\0';
        vs = colon + 1;
        if (!leadspace)
            while (vs < le && (*vs == ' ' || *vs == '\t'))
                vs++;
        /* The value with its continuation lines, line breaks as LF (as Postfix sends). */
        for (;;) {
            size_t ln = (size_t)(le - vs);
            if (ln > 0 && vs[ln - 1] == '\r')
                ln--;
            if (vn + ln + 1 > MAX_VALUE)
                ln = MAX_VALUE - vn - 1;
            memcpy(value + vn, vs, ln);
            vn += ln;
            if (le >= end || le + 1 >= end || (le[1] != ' ' && le[1] != '\t'))
                break;
            value[vn++] = '\n';
            vs = le + 1;
            le = memchr(vs, '\n', (size_t)(end - vs));
            if (le == NULL)
                le = end;
        }
        value[vn] = '\0';
        p = le + 1;
        nfields++;
        if (strcasecmp(name, "Authentication-Results") == 0)
            nours += ar_match_ours(value, vn, OUR_ID);
        if (strcasecmp(name, "From") == 0 && ++nfrom == 1)
            from_parse(value, strlen(value), &from);
        if (strcasecmp(name, "DKIM-Signature") == 0)
            nsig++;
        (void)dkim_eval_header(v, name, value);
    }
    (void)dkim_eval_eoh(v);
    body = p < end ? p : end;
    blen = (size_t)(end - body);
    if (chunk == 0)
        chunk = blen > 0 ? blen : 1;
    for (size_t off = 0; off < blen; off += chunk)
        (void)dkim_eval_body(v, (const unsigned char *)body + off,
                             blen - off < chunk ? blen - off : chunk);
    if (dkim_eval_finish(v, dk, MAX_OUT, &nout) < -1)
        abort();
    dkim_eval_free(v);
    if (nout != (nsig < MAX_OUT ? nsig : MAX_OUT))
        abort();
    for (int i = 0; i < nout; i++) {
        if (!valid_str(dk[i].domain, sizeof(dk[i].domain)) ||
            !valid_str(dk[i].selector, sizeof(dk[i].selector)) ||
            !valid_str(dk[i].b8, sizeof(dk[i].b8)) || !valid_str(dk[i].reason, sizeof(dk[i].reason)))
            abort();
        if (dk[i].result == AUTH_PASS &&
            (!dk[i].full_body || i >= MAX_SIGS || dk[i].domain[0] == '\0' || !has_ci(zone, zn, "p=")))
            abort();
        if (dk[i].result != AUTH_PASS && dk[i].reason[0] == '\0')
            abort();
        dkin[i].result = dk[i].result;
        dkin[i].domain = dk[i].domain;
        dkin[i].full_body = dk[i].full_body;
    }

    /* From and DMARC, as msg.c's run_dmarc. */
    memset(&dm, 0, sizeof(dm));
    if (nfrom == 1 && from.status == FROM_OK) {
        memset(&din, 0, sizeof(din));
        din.from_domain = from.domain;
        din.spf = spf.result;
        din.spf_domain = spf.domain;
        din.dkim = dkin;
        din.ndkim = nout;
        din.org = org;
        din.tree_walk = !(flags & 0x10);
        if (dmarc_eval(&din, d, &dm) != 0 && dm.result != AUTH_TEMPERROR)
            abort();
        dmarc_ran = 1;
        if (!valid_str(dm.reason, sizeof(dm.reason)) ||
            !valid_str(dm.record_domain, sizeof(dm.record_domain)) ||
            !valid_str(dm.dkim_aligned_domain, sizeof(dm.dkim_aligned_domain)))
            abort();
        if (dm.result != AUTH_NONE && dm.result != AUTH_PASS && dm.result != AUTH_FAIL &&
            dm.result != AUTH_TEMPERROR && dm.result != AUTH_PERMERROR)
            abort();
        if (dm.has_record && (!has_ci(zone, zn, "_dmarc.") || !has_ci(zone, zn, "v=DMARC1")))
            abort();
        if (dm.spf_aligned && spf.result != AUTH_PASS)
            abort();
        if (dm.dkim_aligned) {
            int ok = 0;
            for (int i = 0; i < nout && !ok; i++)
                ok = dk[i].result == AUTH_PASS && dk[i].full_body &&
                     strcasecmp(dk[i].domain, dm.dkim_aligned_domain) == 0;
            if (!ok)
                abort();
        }
        if (dm.result == AUTH_PASS && (!dm.has_record || (!dm.spf_aligned && !dm.dkim_aligned)))
            abort();
    } else if (nfrom == 1 && from.domain[0] != '\0') {
        abort(); /* an anomaly never carries a domain */
    }
    if (dns_stub_queries(d) - q0 > MAX_QUERIES)
        abort();

    /* The header we would write, as act.c builds it. */
    ar_header_init(&h, OUR_ID);
    ri = ar_header_add(&h, "spf", spf.result, spf.reason);
    ar_resinfo_prop(ri, sin.mailfrom[0] ? "smtp.mailfrom" : "smtp.helo", spf.domain);
    ri = ar_header_add(&h, "spf", spf_helo.result, spf_helo.reason);
    ar_resinfo_prop(ri, "smtp.helo", spf_helo.domain);
    nwant = 2;
    for (int i = 0; i < nout && h.nres < AR_MAX_RESINFO - 1; i++, nwant++) {
        ri = ar_header_add(&h, "dkim", dk[i].result, dk[i].reason);
        ar_resinfo_prop(ri, "header.d", dk[i].domain);
        ar_resinfo_prop(ri, "header.s", dk[i].selector);
        ar_resinfo_prop(ri, "header.a", dk[i].algo);
        ar_resinfo_prop(ri, "header.b", dk[i].b8);
    }
    snprintf(comment, sizeof(comment), "%s", dmarc_ran ? dm.reason : "From anomaly");
    ri = ar_header_add(&h, "dmarc", dmarc_ran ? dm.result : AUTH_PERMERROR, comment);
    nwant++;
    if (dmarc_ran)
        ar_resinfo_prop(ri, "header.from", from.domain);
    if (ar_format_header(&h, "\n\t", arv, sizeof(arv)) < 0)
        abort();
    if (arc_parse(arv, strlen(arv), &parsed, why, sizeof(why)) < 0) {
        fprintf(stderr, "A-R does not parse (%s): %s\n", why, arv);
        abort();
    }
    if (strcmp(parsed.id, OUR_ID) != 0 || parsed.nres != nwant ||
        ar_match_ours(arv, strlen(arv), OUR_ID) != 1)
        abort();
    if (nours < 0 || nours > nfields)
        abort();
    if (getenv("SA_FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "forged=%d A-R: %s\n", nours, arv);
    dns_free(d);
    return 0;
}
