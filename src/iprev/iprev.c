/* iprev.c - reverse then forward lookup of the client address (RFC 8601 3, "iprev"):
 * pass when a PTR name (at most IPREV_MAX_PTR of them) has an A/AAAA record equal to the
 * address; fail when there is no PTR or none leads back; temperror when a lookup could
 * not find out and nothing passed; permerror when the address cannot be parsed.
 * Owns only its result; DNS answers come from the caller's struct dns.
 * Threads: reentrant. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "iprev/iprev.h"
#include "util/xalloc.h"

static int reverse_name(int fam, const unsigned char *a, char *out, size_t outlen);
static enum dns_status forward_match(struct dns *dns, const char *name, int fam,
                                     const unsigned char *a, int *match);

/* reverse_name - in-addr.arpa / ip6.arpa name of the address */
static int reverse_name(int fam, const unsigned char *a, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (fam == AF_INET)
        return snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]) <
                       (int)outlen
                   ? 0
                   : -1;
    if (outlen < 16 * 4 + sizeof("ip6.arpa"))
        return -1;
    for (int i = 15; i >= 0; i--) {
        out[o++] = hex[a[i] & 0xf];
        out[o++] = '.';
        out[o++] = hex[a[i] >> 4];
        out[o++] = '.';
    }
    sa_strlcpy(out + o, "ip6.arpa", outlen - o);
    return 0;
}

/* forward_match - A (IPv4) or AAAA (IPv6) of name; *match when one equals a */
static enum dns_status forward_match(struct dns *dns, const char *name, int fam,
                                     const unsigned char *a, int *match)
{
    struct dns_answer *ans = NULL;
    enum dns_status st = dns_query(dns, name, fam == AF_INET ? DNS_T_A : DNS_T_AAAA, &ans);

    *match = 0;
    for (int i = 0; st == DNS_OK && ans != NULL && i < ans->nrr && !*match; i++) {
        const struct dns_rr *rr = &ans->rr[i];
        if (fam == AF_INET && rr->type == DNS_T_A)
            *match = memcmp(&rr->u.a, a, 4) == 0;
        else if (fam == AF_INET6 && rr->type == DNS_T_AAAA)
            *match = memcmp(&rr->u.aaaa, a, 16) == 0;
    }
    dns_answer_free(ans);
    return st;
}

/* iprev_eval - see iprev.h */
int iprev_eval(const char *ip, struct dns *dns, struct iprev_res *out)
{
    unsigned char a[16];
    char rev[80];
    struct dns_answer *ans = NULL;
    enum dns_status st;
    int fam = AF_INET, temp = 0;

    memset(out, 0, sizeof(*out));
    sa_strlcpy(out->ip, ip ? ip : "", sizeof(out->ip));
    if (ip != NULL && inet_pton(AF_INET6, ip, a) == 1) {
        fam = AF_INET6;
        if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) { /* IPv4-mapped */
            fam = AF_INET;
            memmove(a, a + 12, 4);
            inet_ntop(AF_INET, a, out->ip, sizeof(out->ip));
        }
    } else if (ip == NULL || inet_pton(AF_INET, ip, a) != 1) {
        out->result = AUTH_PERMERROR;
        sa_strlcpy(out->reason, "not an IP address", sizeof(out->reason));
        return -1;
    }
    reverse_name(fam, a, rev, sizeof(rev));
    st = dns_query(dns, rev, DNS_T_PTR, &ans);
    if (st == DNS_NXDOMAIN || st == DNS_NODATA || (st == DNS_OK && ans->nrr == 0)) {
        dns_answer_free(ans);
        out->result = AUTH_FAIL;
        out->no_ptr = 1;
        sa_strlcpy(out->reason, "no PTR record", sizeof(out->reason));
        return 0;
    }
    if (st != DNS_OK) {
        out->result = AUTH_TEMPERROR;
        snprintf(out->reason, sizeof(out->reason), "PTR lookup: %s", dns_status_name(st));
        return 0;
    }
    out->nptr = ans->nrr;
    for (int i = 0; i < ans->nrr && i < IPREV_MAX_PTR; i++) {
        int match;

        if (ans->rr[i].type != DNS_T_PTR || ans->rr[i].u.name[0] == '\0')
            continue;
        st = forward_match(dns, ans->rr[i].u.name, fam, a, &match);
        if (match) {
            sa_strlcpy(out->name, ans->rr[i].u.name, sizeof(out->name));
            out->result = AUTH_PASS;
            dns_answer_free(ans);
            return 0;
        }
        if (st == DNS_TEMPFAIL || st == DNS_BADREPLY)
            temp = 1;
    }
    dns_answer_free(ans);
    out->result = temp ? AUTH_TEMPERROR : AUTH_FAIL;
    sa_strlcpy(out->reason,
               temp ? "forward lookup failed temporarily" : "PTR names do not lead back",
               sizeof(out->reason));
    return 0;
}
