/* cidr.c - IPv4/IPv6 networks in CIDR notation: parse and match.
 * Owns struct conf_cidr syntax and the membership test used for trusted_networks;
 * not the list storage (conf.c). IPv4-mapped IPv6 clients (::ffff:a.b.c.d) match
 * IPv4 networks, as Postfix mynetworks does.
 * Threads: reentrant; the lists are immutable after load. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "conf_keys.h"

static int prefix_match(const uint8_t *a, const uint8_t *net, int prefix);
static int addr_split(const uint8_t *a16, int *family, const uint8_t **bytes);

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* conf_parse_cidr - "ADDR" (a single host) or "ADDR/PREFIX"; host bits must be zero */
int conf_parse_cidr(const char *s, struct conf_cidr *out, char *why, size_t whylen)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    int max, prefix = -1;

    memset(out, 0, sizeof(*out));
    if (n == 0 || n >= sizeof(addr))
        goto bad;
    memcpy(addr, s, n);
    addr[n] = '\0';
    out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(out->family, addr, out->addr) != 1)
        goto bad;
    max = out->family == AF_INET ? 32 : 128;
    if (slash != NULL) {
        const char *p = slash + 1;

        if (*p == '\0' || strlen(p) > 3)
            goto bad;
        prefix = 0;
        for (; *p; p++) {
            if (!isdigit((unsigned char)*p))
                goto bad;
            prefix = prefix * 10 + (*p - '0');
        }
        if (prefix > max) {
            snprintf(why, whylen, "bad network \"%s\": the prefix length must be 0..%d", s, max);
            return -1;
        }
    }
    out->prefix = prefix < 0 ? max : prefix;
    for (int bit = out->prefix; bit < max; bit++) {
        if (out->addr[bit / 8] & (0x80 >> (bit % 8))) {
            struct conf_cidr net = *out;
            char text[INET6_ADDRSTRLEN];

            for (int b = out->prefix; b < max; b++)
                net.addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
            inet_ntop(net.family, net.addr, text, sizeof(text));
            snprintf(why, whylen, "bad network \"%s\": host bits are set (did you mean %s/%d?)", s,
                     text, out->prefix);
            return -1;
        }
    }
    return 0;
bad:
    snprintf(why, whylen, "bad network \"%s\": want an IPv4 or IPv6 address, optionally /PREFIX",
             s);
    return -1;
}

/* prefix_match - the first prefix bits of a and net agree */
static int prefix_match(const uint8_t *a, const uint8_t *net, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;

    if (memcmp(a, net, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((a[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* conf_cidr_list_match - family is AF_INET (4 bytes) or AF_INET6 (16 bytes) */
int conf_cidr_list_match(const struct conf_cidr_list *l, int family, const uint8_t *addr)
{
    for (int i = 0; i < l->n; i++)
        if (l->v[i].family == family && prefix_match(addr, l->v[i].addr, l->v[i].prefix))
            return 1;
    return 0;
}

/* addr_split - an IPv6 address as IPv4 when it is IPv4-mapped */
static int addr_split(const uint8_t *a16, int *family, const uint8_t **bytes)
{
    if (memcmp(a16, v4mapped, sizeof(v4mapped)) == 0) {
        *family = AF_INET;
        *bytes = a16 + 12;
    } else {
        *family = AF_INET6;
        *bytes = a16;
    }
    return 0;
}

/* conf_cidr_match - client address against trusted_networks */
int conf_cidr_match(const struct sa_conf *c, const struct sockaddr *sa)
{
    int family;
    const uint8_t *bytes;

    if (c == NULL || sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

        return conf_cidr_list_match(&c->trusted_networks, AF_INET, (const uint8_t *)&in->sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        addr_split(in6->sin6_addr.s6_addr, &family, &bytes);
        return conf_cidr_list_match(&c->trusted_networks, family, bytes);
    }
    return 0;
}

/* conf_cidr_match_str - textual client address (IPv4, IPv6, IPv4-mapped IPv6) */
int conf_cidr_match_str(const struct sa_conf *c, const char *ip)
{
    uint8_t a[16];
    int family;
    const uint8_t *bytes;

    if (c == NULL || ip == NULL)
        return 0;
    if (inet_pton(AF_INET, ip, a) == 1)
        return conf_cidr_list_match(&c->trusted_networks, AF_INET, a);
    if (inet_pton(AF_INET6, ip, a) != 1)
        return 0;
    addr_split(a, &family, &bytes);
    return conf_cidr_list_match(&c->trusted_networks, family, bytes);
}
