/* mlt_wire.c - milter packets: framing, argument decoding, reply encoding (mlt_wire.h).
 * Every read is bounded by the packet's length; nothing here trusts a length or a
 * string terminator it has not checked. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfdef.h>

#include "milter/mlt_wire.h"

#define OUT_MIN 512 /* first allocation of a reply buffer */

static uint32_t get32(const char *p);
static void put32(char *p, uint32_t v);
static int name_eq(const char *have, size_t hlen, const char *want);

static uint32_t get32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;

    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static void put32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

/* mlt_wire_need - see mlt_wire.h */
size_t mlt_wire_need(const char *buf, size_t n)
{
    if (n < MILTER_LEN_BYTES + 1)
        return MILTER_LEN_BYTES + 1;
    return MILTER_LEN_BYTES + (size_t)get32(buf);
}

/* mlt_wire_next - see mlt_wire.h */
int mlt_wire_next(const char *buf, size_t n, size_t max, struct mlt_pkt *pkt, size_t *used)
{
    uint32_t len;

    if (n < MILTER_LEN_BYTES)
        return 0;
    len = get32(buf);
    if (len == 0 || len - 1 > max)
        return -1;
    if (n - MILTER_LEN_BYTES < len)
        return 0;
    pkt->cmd = buf[MILTER_LEN_BYTES];
    pkt->data = buf + MILTER_LEN_BYTES + 1;
    pkt->len = len - 1;
    *used = MILTER_LEN_BYTES + (size_t)len;
    return 1;
}

/* mlt_wire_strings - see mlt_wire.h */
int mlt_wire_strings(const char *data, size_t len, const char **out, int max)
{
    size_t i = 0;
    int k = 0;

    if (len == 0 || data[len - 1] != '\0')
        return -1;
    while (i < len && k < max) {
        out[k++] = data + i;
        i += strlen(data + i) + 1; /* stops at a NUL inside data: the last byte is one */
    }
    out[k] = NULL;
    return k;
}

/* mlt_wire_optneg - see mlt_wire.h */
int mlt_wire_optneg(const struct mlt_pkt *p, uint32_t *version, uint32_t *actions,
                    uint32_t *proto)
{
    if (p->len < MILTER_OPTLEN)
        return -1;
    *version = get32(p->data);
    *actions = get32(p->data + 4);
    *proto = get32(p->data + 8);
    return 0;
}

/* mlt_wire_connect - see mlt_wire.h. Layout: host\0 family [port(2) address\0]. */
int mlt_wire_connect(const struct mlt_pkt *p, const char **host, struct sockaddr_storage *ss,
                     int *has_addr)
{
    const char *d = p->data, *addr;
    size_t hl, rest;
    char family;
    uint16_t port;

    memset(ss, 0, sizeof(*ss));
    *has_addr = 0;
    if ((hl = strnlen(d, p->len)) >= p->len)
        return -1;
    *host = d;
    rest = p->len - hl - 1;
    if (rest < 1)
        return -1;
    family = d[hl + 1];
    if (family == SMFIA_UNKNOWN)
        return 0;
    if (rest < 4 || d[p->len - 1] != '\0')
        return -1; /* family, port, an address string ending in NUL */
    memcpy(&port, d + hl + 2, 2); /* network order, kept so */
    addr = d + hl + 4;
    if (family == SMFIA_UNIX)
        return 0;
    if (family == SMFIA_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
            return -1;
        sin->sin_family = AF_INET;
        sin->sin_port = port;
    } else if (family == SMFIA_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        if (strncasecmp(addr, "IPv6:", 5) == 0)
            addr += 5;
        if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
            return -1;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = port;
    } else {
        return -1;
    }
    *has_addr = 1;
    return 0;
}

/* name_eq - have[0..hlen) names the macro want ("x" and "{x}" alike) */
static int name_eq(const char *have, size_t hlen, const char *want)
{
    size_t wl = strlen(want);

    if (hlen == wl && memcmp(have, want, wl) == 0)
        return 1;
    if (hlen == wl + 2 && have[0] == '{' && have[hlen - 1] == '}' &&
        memcmp(have + 1, want, wl) == 0)
        return 1;
    return wl == hlen + 2 && want[0] == '{' && want[wl - 1] == '}' &&
           memcmp(have, want + 1, hlen) == 0;
}

/* mlt_wire_macro_find - see mlt_wire.h */
const char *mlt_wire_macro_find(const char *data, size_t len, const char *name)
{
    size_t i = 0;

    while (i < len) {
        size_t nl = strnlen(data + i, len - i), vl;

        if (i + nl >= len)
            return NULL; /* a name without its NUL */
        vl = strnlen(data + i + nl + 1, len - i - nl - 1);
        if (i + nl + 1 + vl >= len)
            return NULL; /* a value without its NUL */
        if (name_eq(data + i, nl, name))
            return data + i + nl + 1;
        i += nl + 1 + vl + 1;
    }
    return NULL;
}

/* mlt_wire_put - see mlt_wire.h */
int mlt_wire_put(struct mlt_out *o, char cmd, int has_index, uint32_t index, const char *s1,
                 const char *s2, const void *raw, size_t rawlen)
{
    size_t l1 = s1 ? strlen(s1) + 1 : 0, l2 = s2 ? strlen(s2) + 1 : 0;
    size_t body = 1 + (has_index ? 4 : 0) + l1 + l2 + rawlen;
    char *p;

    if (o->overflow || body > MLT_WIRE_MAX_DATA + 1 ||
        o->len + MILTER_LEN_BYTES + body > MLT_WIRE_MAX_OUT) {
        o->overflow = 1;
        return -1;
    }
    if (o->len + MILTER_LEN_BYTES + body > o->cap) {
        size_t cap = o->cap ? o->cap : OUT_MIN;
        char *nb;

        while (cap < o->len + MILTER_LEN_BYTES + body)
            cap *= 2;
        if ((nb = realloc(o->buf, cap)) == NULL) {
            o->overflow = 1;
            return -1;
        }
        o->buf = nb;
        o->cap = cap;
    }
    p = o->buf + o->len;
    put32(p, (uint32_t)body);
    p[4] = cmd;
    p += 5;
    if (has_index) {
        put32(p, index);
        p += 4;
    }
    if (l1) {
        memcpy(p, s1, l1);
        p += l1;
    }
    if (l2) {
        memcpy(p, s2, l2);
        p += l2;
    }
    if (rawlen)
        memcpy(p, raw, rawlen);
    o->len += MILTER_LEN_BYTES + body;
    return 0;
}

/* mlt_wire_put_optneg - see mlt_wire.h */
int mlt_wire_put_optneg(struct mlt_out *o, uint32_t version, uint32_t actions, uint32_t proto)
{
    char b[MILTER_OPTLEN];

    put32(b, version);
    put32(b + 4, actions);
    put32(b + 8, proto);
    return mlt_wire_put(o, SMFIC_OPTNEG, 0, 0, NULL, NULL, b, sizeof(b));
}

void mlt_out_reset(struct mlt_out *o)
{
    o->len = 0;
    o->overflow = 0;
}

void mlt_out_free(struct mlt_out *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
    o->overflow = 0;
}
