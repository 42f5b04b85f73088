/* store_addr.c - the key forms of the consent store: normalized addresses and domains,
 * and the address without its subaddress tag.
 * Owns the normalization rules (so senderauthd, senderauthctl and imports agree on the
 * key of a recipient); not the lookups (store.c).
 * Threads: pure functions. */
#include <string.h>

#include "conf/conf.h"
#include "store_int.h"
#include "util/xalloc.h"

#define DOMAIN_MAX_LEN 253 /* RFC 1035 2.3.4, without the trailing dot */
#define LABEL_MAX_LEN 63   /* RFC 1035 2.3.4 */
#define LOCAL_MAX_LEN 64   /* RFC 5321 4.5.3.1.1 */

static char lower(char ch);

/* lower - ASCII lower case only: non-ASCII (EAI) octets compare exactly */
static char lower(char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* store_addr_rules_from_conf - policy.subaddress_delimiter, policy.local_part_case_sensitive */
void store_addr_rules_from_conf(const struct sa_conf *conf, struct store_addr_rules *r)
{
    memset(r, 0, sizeof(*r));
    if (conf->policy_subaddress_delimiter != NULL)
        sa_strlcpy(r->delimiters, conf->policy_subaddress_delimiter, sizeof(r->delimiters));
    r->local_case_sensitive = conf->policy_local_part_case_sensitive;
}

/* store_normalize_domain - lower case, one trailing dot dropped, shape checked */
int store_normalize_domain(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in), label = 0;

    if (outlen > 0)
        out[0] = '\0';
    if (n > 0 && in[n - 1] == '.')
        n--;
    if (n == 0 || n > DOMAIN_MAX_LEN || n + 1 > outlen || in[0] == '.' || in[n - 1] == '.') {
        store_seterr("\"%.300s\": not a domain name", in);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];

        if (ch <= ' ' || ch == 0x7f || ch == '@' || ch == '<' || ch == '>' || ch == ',' ||
            ch == '"' || ch == '\\' || (ch == '.' && label == 0) ||
            (ch != '.' && ++label > LABEL_MAX_LEN)) {
            out[0] = '\0';
            store_seterr("\"%.300s\": not a domain name", in);
            return -1;
        }
        if (ch == '.')
            label = 0;
        out[i] = lower((char)ch);
    }
    out[n] = '\0';
    return 0;
}

/* store_normalize_address - local@domain key form; one pair of <> may surround it */
int store_normalize_address(const char *in, int local_case_sensitive, char *out, size_t outlen)
{
    size_t n = strlen(in), local;
    const char *at;
    char dom[STORE_DOMAIN_MAX];

    if (outlen > 0)
        out[0] = '\0';
    if (n >= 2 && in[0] == '<' && in[n - 1] == '>') {
        in++;
        n -= 2;
    }
    at = memrchr(in, '@', n);
    if (at == NULL || at == in) {
        store_seterr("\"%.300s\": not an address (local@domain)", in);
        return -1;
    }
    local = (size_t)(at - in);
    if (local > LOCAL_MAX_LEN) {
        store_seterr("\"%.300s\": local part longer than %d", in, LOCAL_MAX_LEN);
        return -1;
    }
    for (size_t i = 0; i < local; i++) {
        unsigned char ch = (unsigned char)in[i];

        if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>') {
            store_seterr("\"%.300s\": not an address (local@domain)", in);
            return -1;
        }
    }
    {
        char dbuf[STORE_DOMAIN_MAX + 2];
        size_t dn = n - local - 1;

        if (dn >= sizeof(dbuf)) {
            store_seterr("\"%.300s\": domain too long", in);
            return -1;
        }
        memcpy(dbuf, at + 1, dn);
        dbuf[dn] = '\0';
        if (store_normalize_domain(dbuf, dom, sizeof(dom)) < 0) {
            store_seterr("\"%.300s\": not an address (bad domain)", in);
            return -1;
        }
    }
    if (local + 1 + strlen(dom) + 1 > outlen) {
        store_seterr("\"%.300s\": address too long", in);
        return -1;
    }
    for (size_t i = 0; i < local; i++)
        out[i] = local_case_sensitive ? in[i] : lower(in[i]);
    out[local] = '@';
    memcpy(out + local + 1, dom, strlen(dom) + 1);
    return 0;
}

/* store_strip_subaddress - cut the local part at its first delimiter */
int store_strip_subaddress(const char *addr, const char *delims, char *out, size_t outlen)
{
    const char *at = strrchr(addr, '@');
    size_t cut, n = strlen(addr);

    if (at == NULL || n + 1 > outlen) {
        if (outlen > 0)
            out[0] = '\0';
        store_seterr("\"%.300s\": not an address", addr);
        return -1;
    }
    cut = (size_t)(at - addr);
    if (delims != NULL && delims[0] != '\0') {
        size_t span = strcspn(addr, delims);

        if (span > 0 && span < cut)
            cut = span;
    }
    memcpy(out, addr, cut);
    memcpy(out + cut, at, strlen(at) + 1);
    return addr + cut != at;
}
