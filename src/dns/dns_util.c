/* dns_util.c - what every DNS layer shares: the dns_query wrappers, status and type
 * names, name syntax checks and the answer builder (one allocation per answer).
 * Owns no state; not the resolver, the cache, the budget or the stub.
 * Threads: all functions are reentrant; a builder belongs to its caller. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"

/* Strings of one answer: a reply is at most DNS_MAX_ANSWER bytes, but compressed names
 * expand, so allow every record a full name on top of that. */
#define ABUILD_STR_CAP ((size_t)DNS_MAX_ANSWER + (size_t)DNS_MAX_RRS * (DNS_MAX_NAME + 1))

static int has_string(uint16_t type);
static int lower(int c);

static const struct {
    uint16_t type;
    const char *name;
} types[] = {
    {DNS_T_A, "A"},   {DNS_T_NS, "NS"},   {DNS_T_CNAME, "CNAME"}, {DNS_T_PTR, "PTR"},
    {DNS_T_MX, "MX"}, {DNS_T_TXT, "TXT"}, {DNS_T_AAAA, "AAAA"},
};

enum dns_status dns_query(struct dns *d, const char *name, uint16_t type, struct dns_answer **ans)
{
    *ans = NULL;
    return d->query(d, name, type, ans);
}

enum dns_status dns_query_ttl(struct dns *d, const char *name, uint16_t type,
                              struct dns_answer **ans, uint32_t *neg_ttl)
{
    *ans = NULL;
    *neg_ttl = 0;
    if (d->query_ttl != NULL)
        return d->query_ttl(d, name, type, ans, neg_ttl);
    return d->query(d, name, type, ans);
}

struct dns_answer *dns_answer_free(struct dns_answer *a)
{
    free(a);
    return NULL;
}

struct dns *dns_free(struct dns *d)
{
    if (d != NULL)
        d->free(d);
    return NULL;
}

const char *dns_status_name(enum dns_status s)
{
    switch (s) {
    case DNS_OK:
        return "ok";
    case DNS_NXDOMAIN:
        return "nxdomain";
    case DNS_NODATA:
        return "nodata";
    case DNS_TEMPFAIL:
        return "tempfail";
    case DNS_BADREPLY:
        return "badreply";
    }
    return "unknown";
}

const char *dns_type_name(uint16_t type)
{
    static __thread char other[16];

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].type == type)
            return types[i].name;
    snprintf(other, sizeof(other), "TYPE%u", (unsigned)type);
    return other;
}

uint16_t dns_type_parse(const char *s)
{
    char *end;
    unsigned long v;

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(types[i].name, s) == 0)
            return types[i].type;
    if (strncasecmp(s, "TYPE", 4) != 0 || s[4] < '0' || s[4] > '9')
        return 0;
    errno = 0;
    v = strtoul(s + 4, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > 65535)
        return 0;
    return (uint16_t)v;
}

/* lower - ASCII-only tolower, independent of the locale */
static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* dns_name_check - validate wire syntax, copy lower-cased without a trailing dot */
int dns_name_check(const char *name, char *out)
{
    size_t len, label = 0;

    if (name == NULL)
        return -1;
    len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    /* 253 presentation characters + leading length octet + root = 255 wire octets. */
    if (len == 0 || len > DNS_MAX_NAME - 2)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '.') {
            if (label == 0)
                return -1;
            label = 0;
        } else if (++label > 63) { /* RFC 1035 2.3.4 */
            return -1;
        }
        out[i] = (char)lower((unsigned char)name[i]);
    }
    if (label == 0)
        return -1;
    out[len] = '\0';
    return 0;
}

/* has_string - does a record of this type carry a string (name or text)? */
static int has_string(uint16_t type)
{
    return type == DNS_T_PTR || type == DNS_T_CNAME || type == DNS_T_NS || type == DNS_T_MX ||
           type == DNS_T_TXT;
}

void dns_abuild_init(struct dns_abuild *b, uint16_t type)
{
    memset(b, 0, offsetof(struct dns_abuild, rr));
    b->type = type;
    b->strs = NULL;
    b->slen = b->ssize = 0;
}

void dns_abuild_release(struct dns_abuild *b)
{
    free(b->strs);
    b->strs = NULL;
    b->slen = b->ssize = 0;
}

/* dns_abuild_add - copy one record and its string into the builder */
int dns_abuild_add(struct dns_abuild *b, const struct dns_rr *rr, const char *str, size_t len)
{
    struct dns_rr *r;

    if (b->failed)
        return -1;
    if (b->nrr >= DNS_MAX_RRS) {
        b->truncated = 1;
        return 0;
    }
    r = &b->rr[b->nrr];
    *r = *rr;
    if (has_string(rr->type)) {
        size_t need = b->slen + len + 1;
        char *d;

        if (str == NULL || need > ABUILD_STR_CAP) {
            b->failed = 1;
            return -1;
        }
        if (need > b->ssize) {
            size_t ns = b->ssize ? b->ssize : 1024;
            char *p;

            while (ns < need)
                ns *= 2;
            if ((p = realloc(b->strs, ns)) == NULL) {
                b->failed = 1;
                return -1;
            }
            b->strs = p;
            b->ssize = ns;
        }
        d = b->strs + b->slen;
        memcpy(d, str, len);
        d[len] = '\0';
        if (rr->type != DNS_T_TXT)
            for (size_t i = 0; i < len; i++)
                d[i] = (char)lower((unsigned char)d[i]);
        b->off[b->nrr] = b->slen;
        b->slen = need;
        if (rr->type == DNS_T_TXT)
            r->u.txt.len = len;
    }
    b->nrr++;
    return 0;
}

/* dns_abuild_finish - lay out struct, rr[] and strings in one block */
struct dns_answer *dns_abuild_finish(struct dns_abuild *b)
{
    struct dns_answer *a = NULL;
    size_t head;
    char *s;

    if (b->failed || b->nrr == 0)
        goto out;
    head = sizeof(*a) + (size_t)b->nrr * sizeof(struct dns_rr);
    if ((a = malloc(head + b->slen + 1)) == NULL)
        goto out;
    a->status = DNS_OK;
    a->type = b->type;
    a->truncated = b->truncated;
    a->nrr = b->nrr;
    a->ttl = UINT32_MAX;
    s = (char *)a + head;
    if (b->slen > 0)
        memcpy(s, b->strs, b->slen);
    s[b->slen] = '\0';
    for (int i = 0; i < b->nrr; i++) {
        struct dns_rr *r = &a->rr[i];

        *r = b->rr[i];
        if (r->ttl < a->ttl)
            a->ttl = r->ttl;
        switch (r->type) {
        case DNS_T_MX:
            r->u.mx.exchange = s + b->off[i];
            break;
        case DNS_T_TXT:
            r->u.txt.data = s + b->off[i];
            break;
        case DNS_T_PTR:
        case DNS_T_CNAME:
        case DNS_T_NS:
            r->u.name = s + b->off[i];
            break;
        default:
            break;
        }
    }
out:
    dns_abuild_release(b);
    return a;
}

/* dns_answer_copy - rebuild a through a builder so the copy is one block too */
struct dns_answer *dns_answer_copy(const struct dns_answer *a)
{
    struct dns_abuild *b;
    struct dns_answer *c;

    if ((b = malloc(sizeof(*b))) == NULL)
        return NULL;
    dns_abuild_init(b, a->type);
    for (int i = 0; i < a->nrr; i++) {
        const struct dns_rr *r = &a->rr[i];
        const char *str = NULL;
        size_t len = 0;

        switch (r->type) {
        case DNS_T_MX:
            str = r->u.mx.exchange;
            len = strlen(str);
            break;
        case DNS_T_TXT:
            str = r->u.txt.data;
            len = r->u.txt.len;
            break;
        case DNS_T_PTR:
        case DNS_T_CNAME:
        case DNS_T_NS:
            str = r->u.name;
            len = strlen(str);
            break;
        default:
            break;
        }
        if (dns_abuild_add(b, r, str, len) < 0)
            break;
    }
    c = dns_abuild_finish(b);
    free(b);
    if (c != NULL) {
        c->truncated = a->truncated;
        c->ttl = a->ttl;
    }
    return c;
}
