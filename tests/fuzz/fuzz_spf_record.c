/* fuzz_spf_record.c - libFuzzer target for the SPF record grammar (src/spf/spf_record.c)
 * and, through the DNS stub, libspf2's compiler and macro expander behind it (the
 * libspf2 CVEs CVE-2021-20314, -33912, -33913 and CVE-2023-42118 are macro expansion
 * overflows reached by a published record).
 * Input: byte 0 picks the client address (IPv4, IPv6, IPv4-mapped) and the sender's
 * local part (plain, long, dotted, full of macro delimiters); the rest is one TXT record,
 * which the stub publishes at example.com and at r.example.com (so include: and
 * redirect= recurse into it).
 * Checks the contract, not just "does not crash":
 *   - spf_record_check answers 0 or -1, the same twice; -1 comes with a reason, 0 with
 *     none; 0 only for printable ASCII within SPF_MAX_RECORD beginning "v=spf1";
 *   - a checked record rewrites (both address families) into a record that checks
 *     (when it fits our bound; one that grows past it is a permerror, never temperror);
 *   - evaluation at example.com: a string that is not "v=spf1" gives none, a v=spf1
 *     string that fails the check gives permerror, anything else one of the SPF words;
 *     strings NUL-terminated, the checked domain example.com;
 *   - the DNS queries of one evaluation stay within RFC 7208 4.6.4 (10 terms, 10 names
 *     each, plus the record fetches);
 *   - spf_macro_expand of the whole input as a domain-spec answers -2, -1 or a length of
 *     at most SPF_MACRO_MAX_NAME that matches its NUL-terminated output; a checked
 *     record rewrites with the macros expanded (0, or -1 when it does not fit), and
 *     every "%" left in that rewrite starts "%%", "%_", "%-" or "%{" (what libspf2 reads).
 * The evaluation reaches spf_macro.c too, through spf_dns.c. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "spf/spf_eval.h"
#include "spf/spf_int.h"

#define MAX_QUERIES (1 + SPF_MAX_DNS_MECH * (1 + SPF_MAX_MX_NAMES) + 2)

static const char *const clients[] = {"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.7"};
static const char *const senders[] = {
    "user@example.com",
    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z@example.com",
    "x-y+z=w/v_u,t@example.com",
    "%{d}%%%_%-@example.com",
};

static int looks_spf1(const char *s, size_t n);
static int nul_in(const char *s, size_t size);
static void check_macros(const char *rec, size_t n, int checked, uint8_t pick);

/* check_macros - the spf_macro_expand and expanding-rewrite contracts (see above) */
static void check_macros(const char *rec, size_t n, int checked, uint8_t pick)
{
    static char big[2 * SPF_MAX_RECORD + 1];
    char mout[SPF_MACRO_MAX_NAME + 1];
    struct spf_macro_env env;
    int rc;

    memset(&env, 0, sizeof(env));
    env.sender = senders[(pick >> 2) % 4];
    env.domain = "example.com";
    env.helo = (pick & 0x40) ? "mail.example.com" : NULL;
    env.af = pick % 3 == 1 ? AF_INET6 : AF_INET;
    env.v4.s_addr = htonl(0xc0000201);
    env.v6.s6_addr[0] = 0x20;
    env.v6.s6_addr[15] = 1;
    memset(mout, 'X', sizeof(mout));
    rc = spf_macro_expand(&env, rec, n, mout, sizeof(mout));
    if (rc < SPF_MACRO_UNKNOWN || rc > SPF_MACRO_MAX_NAME)
        abort();
    if (rc >= 0 && (!nul_in(mout, sizeof(mout)) || strlen(mout) != (size_t)rc))
        abort();
    if (!checked)
        return;
    rc = spf_record_rewrite(rec, n, env.af, &env, big, sizeof(big));
    if (rc != 0 && rc != -1)
        abort();
    if (rc == 0) {
        if (!nul_in(big, sizeof(big)))
            abort();
        for (const char *p = strchr(big, '%'); p != NULL; p = strchr(p + 2, '%'))
            if (p[1] == '\0' || strchr("%_-{", p[1]) == NULL)
                abort();
    }
}

static int looks_spf1(const char *s, size_t n)
{
    return n >= 6 && strncasecmp(s, "v=spf1", 6) == 0 && (n == 6 || s[6] == ' ');
}

static int nul_in(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A rewrite grows at most 8-fold ("a/0" becomes "a:%{d}.cidr0.senderauth.invalid"). */
    static char out[12 * SPF_MAX_RECORD], again[12 * SPF_MAX_RECORD];
    char why[128], why2[128];
    struct spf_in in;
    struct spf_res res;
    struct dns *d;
    char *rec;
    size_t n;
    int rc, q, grew = 0;

    if (size < 1 || size > SPF_MAX_RECORD + 64)
        return 0;
    n = size - 1;
    if ((rec = malloc(n ? n : 1)) == NULL)
        return 0;
    memcpy(rec, data + 1, n);

    memset(why, 'X', sizeof(why));
    rc = spf_record_check(rec, n, why, sizeof(why));
    if ((rc != 0 && rc != -1) || !nul_in(why, sizeof(why)))
        abort();
    if (spf_record_check(rec, n, why2, sizeof(why2)) != rc || strcmp(why, why2) != 0)
        abort();
    if (rc == -1 && why[0] == '\0')
        abort();
    if (rc == 0) {
        if (why[0] != '\0' || n > SPF_MAX_RECORD || !looks_spf1(rec, n))
            abort();
        for (size_t i = 0; i < n; i++)
            if (rec[i] < 0x20 || rec[i] > 0x7e)
                abort();
        for (int af = 0; af < 2; af++) {
            size_t olen;
            /* With spf_dns.c's buffer it may not fit (a/0 terms grow): that is -1, and
             * the evaluation below must then be a permerror. */
            if (spf_record_rewrite(rec, n, af ? AF_INET6 : AF_INET, NULL, out, SPF_MAX_RECORD + 1) != 0 &&
                af == (data[0] % 3 == 1))
                grew = 1; /* for the client's address family */
            if (spf_record_rewrite(rec, n, af ? AF_INET6 : AF_INET, NULL, out, sizeof(out)) != 0 ||
                !nul_in(out, sizeof(out)))
                abort();
            olen = strlen(out);
            if (olen <= SPF_MAX_RECORD && spf_record_check(out, olen, why2, sizeof(why2)) != 0)
                abort();
            if (olen <= SPF_MAX_RECORD &&
                spf_record_rewrite(out, olen, af ? AF_INET6 : AF_INET, NULL, again, sizeof(again)) != 0)
                abort();
        }
    }

    check_macros(rec, n, rc == 0, data[0]);
    if ((d = dns_stub_new()) == NULL)
        abort();
    if (dns_stub_add_txt_len(d, "example.com", rec, n) < 0 ||
        dns_stub_add_txt_len(d, "r.example.com", rec, n) < 0 ||
        dns_stub_add(d, "example.com", DNS_T_A, "192.0.2.1") < 0 ||
        dns_stub_add(d, "example.com", DNS_T_AAAA, "2001:db8::1") < 0 ||
        dns_stub_add(d, "example.com", DNS_T_MX, "10 mx.example.com") < 0 ||
        dns_stub_add(d, "mx.example.com", DNS_T_A, "192.0.2.2") < 0 ||
        dns_stub_add(d, "1.2.0.192.in-addr.arpa", DNS_T_PTR, "mx.example.com") < 0 ||
        dns_stub_fail(d, "tf.example.com", 0, DNS_TEMPFAIL) < 0)
        abort();
    memset(&in, 0, sizeof(in));
    in.client_ip = clients[data[0] % 3];
    in.mailfrom = senders[(data[0] >> 2) % 4];
    in.helo = "mail.example.com";
    in.identity = SPF_ID_MAILFROM;
    in.receiver = "mx.test.example";
    memset(&res, 'X', sizeof(res));
    q = dns_stub_queries(d);
    if (spf_eval(&in, d, &res) != 0 && res.result != AUTH_TEMPERROR)
        abort();
    q = dns_stub_queries(d) - q;
    if (!nul_in(res.domain, sizeof(res.domain)) || !nul_in(res.sender, sizeof(res.sender)) ||
        !nul_in(res.reason, sizeof(res.reason)) || strcmp(res.domain, "example.com") != 0)
        abort();
    switch (res.result) {
    case AUTH_NONE:
        if (looks_spf1(rec, n))
            abort();
        break;
    case AUTH_PASS:
    case AUTH_FAIL:
    case AUTH_SOFTFAIL:
    case AUTH_NEUTRAL:
    case AUTH_TEMPERROR:
        if (!looks_spf1(rec, n) || rc != 0)
            abort();
        break;
    case AUTH_PERMERROR:
        if (!looks_spf1(rec, n))
            abort();
        break;
    default:
        abort();
    }
    if (grew && res.result != AUTH_PERMERROR)
        abort(); /* a record that grows too long is its publisher's permerror */
    if (q > MAX_QUERIES)
        abort();
    dns_free(d);
    free(rec);
    return 0;
}
