/* test_spf_eval.c - spf_eval() over dns_stub: one table row per case (zone, envelope,
 * wanted result and reason), covering every result word, the 4.6.4 limits (10 DNS terms
 * across include:, 2 void lookups, 10 PTR names), HELO fallback, IPv4-mapped clients,
 * malformed domains, and the inputs of libspf2's CVEs (must end safely). The table also
 * runs in two threads at once, and one call's limits must not reach the next call (each
 * thread reuses one libspf2 server). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dns/dns.h"
#include "spf/spf_eval.h"

#define MAX_RR 24

struct rr {
    const char *name;
    uint16_t type;    /* 0 ends the list; DNS_T_* or FAIL */
    const char *value;
};
#define FAIL 0xffff   /* value "tempfail"/"nxdomain"/...: dns_stub_fail for any type */

struct row {
    const char *id;
    struct rr zone[MAX_RR];
    const char *ip, *helo, *mailfrom;
    enum spf_identity identity;
    enum auth_res want;
    const char *want_reason;   /* substring of out.reason, or NULL */
};

/* Long inputs for the CVE rows, built once. */
static char long_local[300], delim_local[200], long_macro_rec[700], long_lit_rec[700],
    many_labels[260], sender_fits[512], sender_over[513];

static void build_inputs(void)
{
    size_t n = 0;

    memset(long_local, 'x', sizeof(long_local) - 1);
    long_local[sizeof(long_local) - 1] = '\0';
    long_local[sizeof(long_local) - 20] = '@';
    memcpy(long_local + sizeof(long_local) - 19, "cve.example.com", 16);
    /* Local part made only of macro delimiters (CVE-2021-33913: reversed splitting). */
    for (n = 0; n + 1 < 160; n++)
        delim_local[n] = ".-+,/_="[n % 7];
    memcpy(delim_local + n, "@cve.example.com", 17);
    /* CVE-2023-42118 / CVE-2021-20314: a term that fills libspf2's 511-byte buffer. */
    n = (size_t)snprintf(long_macro_rec, sizeof(long_macro_rec), "v=spf1 exists:");
    while (n + 8 < 600)
        n += (size_t)snprintf(long_macro_rec + n, sizeof(long_macro_rec) - n, "%%{l}x");
    snprintf(long_macro_rec + n, sizeof(long_macro_rec) - n, ".example.com -all");
    n = (size_t)snprintf(long_lit_rec, sizeof(long_lit_rec), "v=spf1 a:");
    while (n < 560)
        long_lit_rec[n++] = 'a';
    snprintf(long_lit_rec + n, sizeof(long_lit_rec) - n, ".example.com -all");
    /* A domain of 120 one-letter labels (CVE-2021-33913: %{d25r} over many labels). */
    for (n = 0; n < 240; n += 2) {
        many_labels[n] = 'a';
        many_labels[n + 1] = '.';
    }
    memcpy(many_labels + n, "example.com", 12);
    /* struct spf_res.sender holds 511 characters: one that fits, one over by one. */
    memset(sender_fits, 'x', sizeof(sender_fits) - 1);
    memcpy(sender_fits + sizeof(sender_fits) - 17, "@cve.example.com", 17);
    memset(sender_over, 'x', sizeof(sender_over) - 1);
    memcpy(sender_over + sizeof(sender_over) - 17, "@cve.example.com", 17);
}

static const struct row rows[] = {
    /* ---- every result word ---- */
    {"pass ip4", {{"p.example", DNS_T_TXT, "v=spf1 ip4:192.0.2.0/24 -all"}},
     "192.0.2.7", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, "matched"},
    {"fail", {{"p.example", DNS_T_TXT, "v=spf1 ip4:192.0.2.0/24 -all"}},
     "198.51.100.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    {"softfail", {{"p.example", DNS_T_TXT, "v=spf1 ~all"}},
     "198.51.100.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_SOFTFAIL, NULL},
    {"neutral", {{"p.example", DNS_T_TXT, "v=spf1 ?all"}},
     "198.51.100.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_NEUTRAL, NULL},
    {"neutral default", {{"p.example", DNS_T_TXT, "v=spf1 ip4:192.0.2.1"}},
     "198.51.100.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_NEUTRAL, "no mechanism"},
    {"none nxdomain", {{0}}, "192.0.2.1", "h.example", "a@nx.example", SPF_ID_MAILFROM,
     AUTH_NONE, "no SPF record"},
    {"none other txt", {{"p.example", DNS_T_TXT, "google-site-verification=x"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_NONE, NULL},
    {"temperror txt", {{"p.example", FAIL, "tempfail"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_TEMPERROR, NULL},
    {"temperror badreply", {{"p.example", FAIL, "badreply"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_TEMPERROR, NULL},
    {"temperror in a", {{"p.example", DNS_T_TXT, "v=spf1 a:t.example -all"},
                        {"t.example", FAIL, "tempfail"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_TEMPERROR, NULL},
    {"temperror in include", {{"p.example", DNS_T_TXT, "v=spf1 include:t.example -all"},
                              {"t.example", FAIL, "tempfail"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_TEMPERROR, NULL},
    {"permerror syntax", {{"p.example", DNS_T_TXT, "v=spf1 ip4:192.0.2.300 -all"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR, "bad record"},
    {"permerror two records", {{"p.example", DNS_T_TXT, "v=spf1 -all"},
                               {"p.example", DNS_T_TXT, "v=spf1 +all"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR, "multiple"},
    {"permerror include none", {{"p.example", DNS_T_TXT, "v=spf1 include:n.example -all"},
                                {"n.example", DNS_T_A, "192.0.2.9"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR, NULL},
    {"permerror redirect none", {{"p.example", DNS_T_TXT, "v=spf1 redirect=n.example"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR, NULL},
    {"permerror bad included record", {{"p.example", DNS_T_TXT, "v=spf1 include:b.example"},
                                       {"b.example", DNS_T_TXT, "v=spf1 a:%{q}.example"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR, "bad record"},
    {"non-spf txt ignored", {{"p.example", DNS_T_TXT, "v=spf10 +all"},
                             {"p.example", DNS_T_TXT, "v=spf1 -all"},
                             {"p.example", DNS_T_TXT, "\xe2\x80\x9chello"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    /* ---- mechanisms through libspf2 ---- */
    {"a mx include", {{"p.example", DNS_T_TXT, "v=spf1 a mx include:i.example -all"},
                      {"p.example", DNS_T_A, "192.0.2.1"},
                      {"p.example", DNS_T_MX, "10 mx.p.example"},
                      {"mx.p.example", DNS_T_A, "192.0.2.2"},
                      {"i.example", DNS_T_TXT, "v=spf1 ip4:192.0.2.3 -all"}},
     "192.0.2.3", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"mx match", {{"p.example", DNS_T_TXT, "v=spf1 mx -all"},
                  {"p.example", DNS_T_MX, "10 mx.p.example"},
                  {"mx.p.example", DNS_T_A, "192.0.2.2"}},
     "192.0.2.2", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"redirect after mechanisms", {{"p.example", DNS_T_TXT, "v=spf1 redirect=r.example ip4:192.0.2.1"},
                                   {"r.example", DNS_T_TXT, "v=spf1 -all"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"unknown modifier ignored", {{"p.example", DNS_T_TXT, "v=spf1 a.b-c_d=x -all"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    {"ip4 /0", {{"p.example", DNS_T_TXT, "v=spf1 ip4:1.1.1.1/0 -all"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"a/0 any address", {{"p.example", DNS_T_TXT, "v=spf1 a:o.example/0 -all"},
                         {"o.example", DNS_T_A, "10.9.9.9"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"a/0 no address", {{"p.example", DNS_T_TXT, "v=spf1 a:o.example/0 -all"},
                        {"o.example", DNS_T_AAAA, "2001:db8::1"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    {"mx//0 ipv6", {{"p.example", DNS_T_TXT, "v=spf1 mx//0 -all"},
                    {"p.example", DNS_T_MX, "10 m.example"},
                    {"m.example", DNS_T_AAAA, "2001:db8::1"}},
     "2001:db8:ffff::9", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"mx//0 ipv4 client", {{"p.example", DNS_T_TXT, "v=spf1 mx//0 -all"},
                           {"p.example", DNS_T_MX, "10 m.example"},
                           {"m.example", DNS_T_A, "192.0.2.9"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    /* ---- 4.6.4: ten DNS-querying terms, counted across include: ---- */
    {"10 lookups ok", {{"p.example", DNS_T_TXT,
                        "v=spf1 a:a1.example a:a2.example a:a3.example a:a4.example a:a5.example "
                        "a:a6.example a:a7.example a:a8.example a:a9.example a:a10.example -all"},
                       {"a1.example", DNS_T_A, "10.0.0.1"}, {"a2.example", DNS_T_A, "10.0.0.1"},
                       {"a3.example", DNS_T_A, "10.0.0.1"}, {"a4.example", DNS_T_A, "10.0.0.1"},
                       {"a5.example", DNS_T_A, "10.0.0.1"}, {"a6.example", DNS_T_A, "10.0.0.1"},
                       {"a7.example", DNS_T_A, "10.0.0.1"}, {"a8.example", DNS_T_A, "10.0.0.1"},
                       {"a9.example", DNS_T_A, "10.0.0.1"}, {"a10.example", DNS_T_A, "192.0.2.1"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"11 lookups", {{"p.example", DNS_T_TXT,
                     "v=spf1 a:a1.example a:a2.example a:a3.example a:a4.example a:a5.example "
                     "a:a6.example a:a7.example a:a8.example a:a9.example a:a10.example "
                     "a:a11.example -all"},
                    {"a1.example", DNS_T_A, "10.0.0.1"}, {"a2.example", DNS_T_A, "10.0.0.1"},
                    {"a3.example", DNS_T_A, "10.0.0.1"}, {"a4.example", DNS_T_A, "10.0.0.1"},
                    {"a5.example", DNS_T_A, "10.0.0.1"}, {"a6.example", DNS_T_A, "10.0.0.1"},
                    {"a7.example", DNS_T_A, "10.0.0.1"}, {"a8.example", DNS_T_A, "10.0.0.1"},
                    {"a9.example", DNS_T_A, "10.0.0.1"}, {"a10.example", DNS_T_A, "10.0.0.1"},
                    {"a11.example", DNS_T_A, "192.0.2.1"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR,
     "too many DNS lookups"},
    {"11 lookups across include", {{"p.example", DNS_T_TXT,
                                    "v=spf1 a:a1.example a:a2.example a:a3.example a:a4.example "
                                    "a:a5.example include:i.example -all"},
                                   {"i.example", DNS_T_TXT,
                                    "v=spf1 a:a6.example a:a7.example a:a8.example a:a9.example "
                                    "a:a10.example -all"},
                                   {"a1.example", DNS_T_A, "10.0.0.1"},
                                   {"a2.example", DNS_T_A, "10.0.0.1"},
                                   {"a3.example", DNS_T_A, "10.0.0.1"},
                                   {"a4.example", DNS_T_A, "10.0.0.1"},
                                   {"a5.example", DNS_T_A, "10.0.0.1"},
                                   {"a6.example", DNS_T_A, "10.0.0.1"},
                                   {"a7.example", DNS_T_A, "10.0.0.1"},
                                   {"a8.example", DNS_T_A, "10.0.0.1"},
                                   {"a9.example", DNS_T_A, "10.0.0.1"},
                                   {"a10.example", DNS_T_A, "192.0.2.1"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR,
     "too many DNS lookups"},
    {"mx names are not terms", {{"p.example", DNS_T_TXT,
                                 "v=spf1 mx a:a1.example a:a2.example a:a3.example a:a4.example "
                                 "a:a5.example a:a6.example a:a7.example a:a8.example a:a9.example"},
                                {"p.example", DNS_T_MX, "10 m1.example"},
                                {"p.example", DNS_T_MX, "20 m2.example"},
                                {"p.example", DNS_T_MX, "30 m3.example"},
                                {"m1.example", DNS_T_A, "10.0.0.1"},
                                {"m2.example", DNS_T_A, "10.0.0.1"},
                                {"m3.example", DNS_T_A, "10.0.0.1"},
                                {"a1.example", DNS_T_A, "10.0.0.1"}, {"a2.example", DNS_T_A, "10.0.0.1"},
                                {"a3.example", DNS_T_A, "10.0.0.1"}, {"a4.example", DNS_T_A, "10.0.0.1"},
                                {"a5.example", DNS_T_A, "10.0.0.1"}, {"a6.example", DNS_T_A, "10.0.0.1"},
                                {"a7.example", DNS_T_A, "10.0.0.1"}, {"a8.example", DNS_T_A, "10.0.0.1"},
                                {"a9.example", DNS_T_A, "192.0.2.1"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    /* ---- 4.6.4: two void lookups ---- */
    {"2 voids ok", {{"p.example", DNS_T_TXT, "v=spf1 a:v1.example a:v2.example ip4:192.0.2.1 -all"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"3 voids", {{"p.example", DNS_T_TXT,
                  "v=spf1 a:v1.example a:v2.example a:v3.example ip4:192.0.2.1 -all"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR,
     "too many void lookups"},
    {"3 voids nodata", {{"p.example", DNS_T_TXT,
                         "v=spf1 mx:v1.example exists:v2.example a:v3.example ip4:192.0.2.1 -all"},
                        {"v1.example", DNS_T_A, "10.0.0.1"},
                        {"v2.example", DNS_T_MX, "10 v1.example"},
                        {"v3.example", DNS_T_MX, "10 v1.example"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR,
     "too many void lookups"},
    {"voids across include", {{"p.example", DNS_T_TXT, "v=spf1 a:v1.example include:i.example -all"},
                              {"i.example", DNS_T_TXT, "v=spf1 a:v2.example a:v3.example -all"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PERMERROR,
     "too many void lookups"},
    /* ---- 4.6.4: PTR answers over 10 names are cut to 10, not an error ---- */
    {"12 ptr names", {{"p.example", DNS_T_TXT, "v=spf1 ptr -all"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n1.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n2.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n3.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n4.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n5.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n6.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n7.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n8.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n9.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n10.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n11.p.example"},
                      {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "n12.p.example"},
                      {"n1.p.example", DNS_T_A, "192.0.2.1"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"ptr name tempfail skipped", {{"p.example", DNS_T_TXT, "v=spf1 ptr -all"},
                                   {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "bad.p.example"},
                                   {"1.2.0.192.in-addr.arpa", DNS_T_PTR, "good.p.example"},
                                   {"bad.p.example", FAIL, "tempfail"},
                                   {"good.p.example", DNS_T_A, "192.0.2.1"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    /* ---- identities ---- */
    {"null sender uses helo", {{"h.example", DNS_T_TXT, "v=spf1 ip4:192.0.2.1 -all"}},
     "192.0.2.1", "h.example", "", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"null sender, no helo", {{0}}, "192.0.2.1", NULL, NULL, SPF_ID_MAILFROM, AUTH_NONE, "HELO"},
    {"helo identity", {{"h.example", DNS_T_TXT, "v=spf1 -all"},
                       {"p.example", DNS_T_TXT, "v=spf1 +all"}},
     "192.0.2.1", "h.example", "a@p.example", SPF_ID_HELO, AUTH_FAIL, NULL},
    {"sender without local part", {{"p.example", DNS_T_TXT, "v=spf1 exists:%{l}.l.example -all"},
                                    {"postmaster.l.example", DNS_T_A, "127.0.0.2"}},
     "192.0.2.1", "h.example", "p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"mapped ipv6 is ipv4", {{"p.example", DNS_T_TXT, "v=spf1 ip4:192.0.2.1 -all"}},
     "::ffff:192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"ipv6 client", {{"p.example", DNS_T_TXT, "v=spf1 ip6:2001:db8::/32 -all"}},
     "2001:db8::5", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_PASS, NULL},
    {"loopback gets no free ride", {{"p.example", DNS_T_TXT, "v=spf1 -all"}},
     "127.0.0.1", "h.example", "a@p.example", SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    /* ---- malformed domains: none without a query ---- */
    {"empty label", {{0}}, "192.0.2.1", "h.example", "a@p..example", SPF_ID_MAILFROM, AUTH_NONE,
     "malformed"},
    {"single label", {{"localhost", DNS_T_TXT, "v=spf1 -all"}},
     "192.0.2.1", "h.example", "a@localhost", SPF_ID_MAILFROM, AUTH_NONE, "malformed"},
    {"label over 63", {{0}}, "192.0.2.1", "h.example",
     "a@a1234567890123456789012345678901234567890123456789012345678901234.example",
     SPF_ID_MAILFROM, AUTH_NONE, "malformed"},
    {"helo literal", {{0}}, "192.0.2.1", "[192.0.2.1]", "", SPF_ID_MAILFROM, AUTH_NONE, NULL},
    /* ---- libspf2 CVE inputs: must end with a result, never a crash ---- */
    {"CVE-2023-42118 macro-filled term", {{"cve.example.com", DNS_T_TXT, long_macro_rec}},
     "192.0.2.1", "h.example", "a@cve.example.com", SPF_ID_MAILFROM, AUTH_PERMERROR, "too long"},
    {"CVE-2021-20314 long literal", {{"cve.example.com", DNS_T_TXT, long_lit_rec}},
     "192.0.2.1", "h.example", "a@cve.example.com", SPF_ID_MAILFROM, AUTH_PERMERROR, "too long"},
    {"CVE-2021-33912 url-escaped high bytes", {{"cve.example.com", DNS_T_TXT,
                                                "v=spf1 exists:%{L}.%{S}.x.example.com -all"}},
     "192.0.2.1", "h.example", "\xff\xfe\x80\x81\xc3\xa9@cve.example.com", SPF_ID_MAILFROM,
     AUTH_FAIL, NULL},
    {"CVE-2021-33913 reversed delimiters", {{"cve.example.com", DNS_T_TXT,
                                             "v=spf1 exists:%{l1r+-=_.}.%{l25r}.x.example.com -all"}},
     "192.0.2.1", "h.example", delim_local, SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    /* libspf2 knows no ',' or '/' delimiter; spf_macro.c expands them (RFC 7208 7.1). */
    {"delimiter libspf2 lacks", {{"cve.example.com", DNS_T_TXT,
                                  "v=spf1 exists:%{l1r,/}.x.example.com -all"}},
     "192.0.2.1", "h.example", delim_local, SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    {"CVE-2021-33913 %{d25r} many labels", {{"cve.example.com", DNS_T_TXT,
                                             "v=spf1 include:%{d25r}.%{d128}.x.example.com -all"}},
     "192.0.2.1", "h.example", "a@cve.example.com", SPF_ID_MAILFROM, AUTH_PERMERROR, NULL},
    {"long %{l}", {{"cve.example.com", DNS_T_TXT,
                    "v=spf1 exists:%{l}.%{l}.%{l}.x.example.com exists:%{L}.x.example.com -all"}},
     "192.0.2.1", "h.example", long_local, SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    {"sender of 511 characters", {{"cve.example.com", DNS_T_TXT, "v=spf1 -all"}},
     "192.0.2.1", "h.example", sender_fits, SPF_ID_MAILFROM, AUTH_FAIL, NULL},
    {"sender of 512 characters", {{"cve.example.com", DNS_T_TXT, "v=spf1 -all"}},
     "192.0.2.1", "h.example", sender_over, SPF_ID_MAILFROM, AUTH_NONE, "sender too long"},
    {"many labels helo", {{0}}, "192.0.2.1", many_labels, "", SPF_ID_MAILFROM, AUTH_NONE, NULL},
};

static int fill_zone(struct dns *stub, const struct row *r)
{
    for (int i = 0; i < MAX_RR && r->zone[i].name != NULL; i++) {
        const struct rr *z = &r->zone[i];

        if (z->type == FAIL) {
            enum dns_status s = strcmp(z->value, "badreply") == 0   ? DNS_BADREPLY
                                : strcmp(z->value, "nxdomain") == 0 ? DNS_NXDOMAIN
                                                                    : DNS_TEMPFAIL;
            if (dns_stub_fail(stub, z->name, 0, s) < 0)
                return -1;
        } else if (z->type == DNS_T_TXT) {
            if (dns_stub_add_txt_len(stub, z->name, z->value, strlen(z->value)) < 0)
                return -1;
        } else if (dns_stub_add(stub, z->name, z->type, z->value) < 0) {
            return -1;
        }
    }
    return 0;
}

/* run_table - every row once; the number of rows that failed */
static int run_table(void)
{
    int bad = 0;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct dns *stub = dns_stub_new();
        struct spf_in in = {r->ip, r->helo, r->mailfrom, r->identity, "mx.receiver.example"};
        struct spf_res out;
        int rc;

        if (stub == NULL || fill_zone(stub, r) < 0) {
            print_error("%s: zone setup failed\n", r->id);
            dns_free(stub);
            bad++;
            continue;
        }
        rc = spf_eval(&in, stub, &out);
        if (rc != 0 || out.result != r->want ||
            (r->want_reason != NULL && strstr(out.reason, r->want_reason) == NULL))
        {
            print_error("%s: got rc=%d %s (%s), want %s%s%s\n", r->id, rc,
                        auth_res_name(out.result), out.reason, auth_res_name(r->want),
                        r->want_reason ? " with " : "", r->want_reason ? r->want_reason : "");
            bad++;
        }
        if (out.identity != r->identity) {
            print_error("%s: got identity %d, want %d\n", r->id, out.identity, r->identity);
            bad++;
        }
        dns_free(stub);
    }
    return bad;
}

static void test_eval_table(void **state)
{
    int bad;

    build_inputs();
    bad = run_table();
    if (bad > 0)
        fail_msg("%d of %zu rows failed", bad, sizeof(rows) / sizeof(rows[0]));
}

static void *table_thread(void *arg)
{
    *(int *)arg = run_table();
    return NULL;
}

/* Two threads run the table at the same time: each has its own libspf2 server, and the
 * server of a thread that ended is freed (the sanitizer build reports it otherwise). */
static void test_eval_threads(void **state)
{
    pthread_t t[2];
    int bad[2] = {0, 0};

    build_inputs();
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, table_thread, &bad[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    if (bad[0] + bad[1] > 0)
        fail_msg("threads: %d and %d rows failed", bad[0], bad[1]);
}

/* What one call used up, and its DNS, stay with it: a call that ends on the 4.6.4
 * limits, then one that needs the whole budget, on the same thread with another dns
 * (the first one freed), then one whose only lookup fails. */
static void test_eval_isolated(void **state)
{
    static const char rec_a[] =   /* 11 terms, all void: ends on the void-lookup limit */
        "v=spf1 a:v1.example a:v2.example a:v3.example a:v4.example a:v5.example "
        "a:v6.example a:v7.example a:v8.example a:v9.example a:v10.example a:v11.example -all";
    static const char rec_b[] =   /* 10 terms, 2 of them void: just within both limits */
        "v=spf1 a:v1.example a:v2.example a:n3.example a:n4.example a:n5.example "
        "a:n6.example a:n7.example a:n8.example a:n9.example a:ok.example -all";
    struct spf_in in = {"192.0.2.1", "h.example", "a@p.example", SPF_ID_MAILFROM, "mx.example"};
    struct spf_res out;
    struct dns *a = dns_stub_new(), *b, *c;
    char name[32];

    assert_non_null(a);
    assert_int_equal(dns_stub_add_txt_len(a, "p.example", rec_a, sizeof(rec_a) - 1), 0);
    assert_int_equal(spf_eval(&in, a, &out), 0);
    assert_int_equal(out.result, AUTH_PERMERROR);
    dns_free(a);

    b = dns_stub_new();
    assert_non_null(b);
    assert_int_equal(dns_stub_add_txt_len(b, "p.example", rec_b, sizeof(rec_b) - 1), 0);
    for (int i = 3; i <= 9; i++) {
        snprintf(name, sizeof(name), "n%d.example", i);
        assert_int_equal(dns_stub_add(b, name, DNS_T_A, "198.51.100.1"), 0);
    }
    assert_int_equal(dns_stub_add(b, "ok.example", DNS_T_A, "192.0.2.1"), 0);
    in.receiver = "other.example";
    assert_int_equal(spf_eval(&in, b, &out), 0);
    if (out.result != AUTH_PASS)
        fail_msg("after a call over the limits: got %s (%s), want pass",
                 auth_res_name(out.result), out.reason);
    dns_free(b);

    c = dns_stub_new();
    assert_non_null(c);
    assert_int_equal(dns_stub_fail(c, "p.example", 0, DNS_TEMPFAIL), 0);
    in.receiver = NULL;
    assert_int_equal(spf_eval(&in, c, &out), 0);
    assert_int_equal(out.result, AUTH_TEMPERROR);
    dns_free(c);
}

/* The domain and sender reported back, and the null-sender form. */
static void test_eval_fields(void **state)
{
    struct dns *stub = dns_stub_new();
    struct spf_in in = {"192.0.2.1", "H.Example", "", SPF_ID_MAILFROM, NULL};
    struct spf_res out;

    assert_non_null(stub);
    assert_int_equal(dns_stub_add_txt_len(stub, "h.example", "v=spf1 +all", 11), 0);
    assert_int_equal(spf_eval(&in, stub, &out), 0);
    assert_string_equal(out.domain, "h.example");
    assert_string_equal(out.sender, "postmaster@H.Example");
    assert_int_equal(out.result, AUTH_PASS);
    in.client_ip = "not-an-ip";
    assert_int_equal(spf_eval(&in, stub, &out), -1);
    assert_int_equal(out.result, AUTH_TEMPERROR);
    dns_free(stub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_table),
        cmocka_unit_test(test_eval_fields),
        cmocka_unit_test(test_eval_threads),
        cmocka_unit_test(test_eval_isolated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
