/* dns_res.c - the resolver: asks the configured recursive servers through libresolv
 * (res_nmkquery + res_nsend, so the real reply header is seen) and turns the reply
 * into a struct dns_answer: NXDOMAIN vs NODATA vs TEMPFAIL, CNAME chains inside the
 * answer section, the RFC 2308 negative TTL, bounded records.
 * Owns the per-thread libresolv states; not caching (dns_cache.c) or query limits
 * (dns_budget.c).
 * Threads: shared. Each thread gets its own struct __res_state per resolver, made on
 * its first query (res_ninit, then our servers, ports and timers) and kept in a
 * pthread key; the list of all states, used only to free them, has its own mutex.
 * libresolv retries over TCP by itself when a UDP reply has TC set (RES_IGNTC is off). */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "util/xalloc.h"

#define RES_MAX_CNAME 8   /* CNAME links followed inside one answer section */
#define RES_BUFSIZE 65536 /* > DNS_MAX_ANSWER: the largest TCP reply */

struct tstate {
    struct __res_state res;
    unsigned char *buf; /* RES_BUFSIZE bytes for the reply */
    struct resolver *owner;
    struct tstate *prev, *next;
};

struct resolver {
    struct dns dns;
    struct dns_res_conf conf;
    struct sockaddr_in v4[DNS_RES_MAX_SERVERS];
    struct sockaddr_in6 v6[DNS_RES_MAX_SERVERS];
    int is_v6[DNS_RES_MAX_SERVERS];
    pthread_key_t key;
    pthread_mutex_t lock; /* guards states */
    struct tstate *states;
};

static enum dns_status rs_query_ttl(struct dns *d, const char *name, uint16_t type,
                                    struct dns_answer **ans, uint32_t *neg_ttl);
static enum dns_status rs_query(struct dns *d, const char *name, uint16_t type,
                                struct dns_answer **ans);
static void rs_free(struct dns *d);
static struct tstate *thread_state(struct resolver *r);
static void tstate_destroy(void *arg);
static void tstate_release(struct resolver *r, struct tstate *t);
static enum dns_status parse_reply(const unsigned char *msg, int len, const char *qname,
                                   uint16_t type, struct dns_answer **ans, uint32_t *neg_ttl);
static int parse_rr(const ns_msg *h, const ns_rr *rr, uint16_t type, struct dns_abuild *b);
static uint32_t soa_negative_ttl(ns_msg *h);
static int escape_name(const char *name, char *out, size_t size);
static int name_wire(const char *pres, unsigned char *out);
static int same_name(const char *a, const char *b);

struct dns *dns_res_new(const struct dns_res_conf *conf)
{
    struct resolver *r;

    if (conf == NULL || conf->nservers < 0 || conf->nservers > DNS_RES_MAX_SERVERS ||
        conf->timeout < 1 || conf->timeout > 60 || conf->retries < 1 || conf->retries > 10) {
        errno = EINVAL;
        return NULL;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->conf = *conf;
    for (int i = 0; i < conf->nservers; i++) {
        uint16_t port = conf->server[i].port ? conf->server[i].port : NS_DEFAULTPORT;

        if (inet_pton(AF_INET, conf->server[i].addr, &r->v4[i].sin_addr) == 1) {
            r->v4[i].sin_family = AF_INET;
            r->v4[i].sin_port = htons(port);
        } else if (inet_pton(AF_INET6, conf->server[i].addr, &r->v6[i].sin6_addr) == 1) {
            r->v6[i].sin6_family = AF_INET6;
            r->v6[i].sin6_port = htons(port);
            r->is_v6[i] = 1;
        } else {
            free(r);
            errno = EINVAL;
            return NULL;
        }
    }
    if (pthread_key_create(&r->key, tstate_destroy) != 0) {
        free(r);
        errno = EAGAIN;
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->dns.query = rs_query;
    r->dns.query_ttl = rs_query_ttl;
    r->dns.free = rs_free;
    r->dns.ctx = r;
    return &r->dns;
}

/* thread_state - this thread's libresolv state for r, made on first use */
static struct tstate *thread_state(struct resolver *r)
{
    struct tstate *t = pthread_getspecific(r->key);
    res_state st;

    if (t != NULL)
        return t;
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    if ((t->buf = malloc(RES_BUFSIZE)) == NULL) {
        free(t);
        return NULL;
    }
    t->owner = r;
    st = &t->res;
    if (res_ninit(st) != 0) {
        free(t->buf);
        free(t);
        return NULL;
    }
    if (r->conf.nservers > 0) {
        /* Replace whatever resolv.conf said. res_ninit may have malloc'ed IPv6 server
         * addresses into _u._ext.nsaddrs; they are ours to free now. */
        for (int i = 0; i < MAXNS; i++) {
            free(st->_u._ext.nsaddrs[i]);
            st->_u._ext.nsaddrs[i] = NULL;
            st->_u._ext.nssocks[i] = -1; /* no socket yet (0 would be stdin) */
            memset(&st->nsaddr_list[i], 0, sizeof(st->nsaddr_list[i]));
        }
        for (int i = 0; i < r->conf.nservers; i++) {
            if (!r->is_v6[i]) {
                st->nsaddr_list[i] = r->v4[i];
                continue;
            }
            /* glibc's own layout for an IPv6 server: family 0 in nsaddr_list and
             * the address in _ext.nsaddrs (res_nclose frees it). */
            if ((st->_u._ext.nsaddrs[i] = malloc(sizeof(struct sockaddr_in6))) == NULL) {
                res_nclose(st);
                free(t->buf);
                free(t);
                return NULL;
            }
            *st->_u._ext.nsaddrs[i] = r->v6[i];
        }
        st->nscount = r->conf.nservers;
    }
    st->retrans = r->conf.timeout;
    st->retry = r->conf.retries;
    st->options &= ~(RES_IGNTC | RES_USEVC | RES_DNSRCH | RES_DEFNAMES | RES_ROTATE);
    st->options |= RES_RECURSE;
    pthread_mutex_lock(&r->lock);
    t->next = r->states;
    if (r->states != NULL)
        r->states->prev = t;
    r->states = t;
    pthread_mutex_unlock(&r->lock);
    pthread_setspecific(r->key, t);
    return t;
}

/* tstate_release - close sockets and free one state (already unlinked) */
static void tstate_release(struct resolver *r, struct tstate *t)
{
    res_nclose(&t->res);
    free(t->buf);
    free(t);
}

/* tstate_destroy - pthread key destructor at thread exit: unlink and free */
static void tstate_destroy(void *arg)
{
    struct tstate *t = arg;
    struct resolver *r = t->owner;

    pthread_mutex_lock(&r->lock);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        r->states = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&r->lock);
    tstate_release(r, t);
}

/* escape_name - presentation form for res_nmkquery: a literal backslash is escaped */
static int escape_name(const char *name, char *out, size_t size)
{
    size_t o = 0;

    for (const char *p = name; *p; p++) {
        if (o + 3 > size)
            return -1;
        if (*p == '\\')
            out[o++] = '\\';
        out[o++] = *p;
    }
    out[o] = '\0';
    return 0;
}

/* name_wire - presentation name (dn_expand escapes \X and \DDD) to lower-cased wire
 * labels in out (NS_MAXCDNAME bytes); the length, or -1 */
static int name_wire(const char *pres, unsigned char *out)
{
    size_t o = 0, lab = 0; /* lab: index of the current label's length octet */
    const char *p = pres;

    out[0] = 0;
    if (*p == '.' && p[1] == '\0')
        return 1;
    while (*p) {
        int c = (unsigned char)*p++;

        if (c == '.') {
            if (out[lab] == 0)
                return -1;
            lab = ++o;
            if (o >= NS_MAXCDNAME)
                return -1;
            out[lab] = 0;
            continue;
        }
        if (c == '\\') {
            if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
                p[2] <= '9') {
                c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
                if (c > 255)
                    return -1;
                p += 3;
            } else if (*p != '\0') {
                c = (unsigned char)*p++;
            } else {
                return -1;
            }
        }
        if (out[lab] >= 63 || o + 2 >= NS_MAXCDNAME)
            return -1;
        out[lab]++;
        out[++o] = (unsigned char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    if (out[lab] != 0) { /* no trailing dot: add the root label */
        if (++o >= NS_MAXCDNAME)
            return -1;
        out[o] = 0;
    }
    return (int)o + 1;
}

/* same_name - equal as DNS names (case-insensitive ASCII, escapes decoded) */
static int same_name(const char *a, const char *b)
{
    unsigned char wa[NS_MAXCDNAME], wb[NS_MAXCDNAME];
    int la = name_wire(a, wa), lb = name_wire(b, wb);

    return la > 0 && la == lb && memcmp(wa, wb, (size_t)la) == 0;
}

/* rs_query_ttl - one question to the configured servers */
static enum dns_status rs_query_ttl(struct dns *d, const char *name, uint16_t type,
                                    struct dns_answer **ans, uint32_t *neg_ttl)
{
    struct resolver *r = d->ctx;
    char qname[DNS_MAX_NAME + 1], esc[2 * DNS_MAX_NAME + 2];
    unsigned char query[NS_PACKETSZ];
    struct tstate *t;
    int qlen, len;

    *ans = NULL;
    *neg_ttl = 0;
    if (dns_name_check(name, qname) < 0)
        return DNS_NXDOMAIN;
    if (escape_name(qname, esc, sizeof(esc)) < 0)
        return DNS_NXDOMAIN;
    if ((t = thread_state(r)) == NULL)
        return DNS_TEMPFAIL;
    qlen =
        res_nmkquery(&t->res, ns_o_query, esc, ns_c_in, type, NULL, 0, NULL, query, sizeof(query));
    if (qlen < 0)
        return DNS_NXDOMAIN; /* res_nmkquery refuses only names that cannot exist */
    len = res_nsend(&t->res, query, qlen, t->buf, DNS_MAX_ANSWER);
    if (len < 0)
        return DNS_TEMPFAIL; /* timeout, refused, SERVFAIL/REFUSED from every server */
    if (len > DNS_MAX_ANSWER)
        return DNS_BADREPLY;
    return parse_reply(t->buf, len, esc, type, ans, neg_ttl);
}

static enum dns_status rs_query(struct dns *d, const char *name, uint16_t type,
                                struct dns_answer **ans)
{
    uint32_t neg_ttl;

    return rs_query_ttl(d, name, type, ans, &neg_ttl);
}

/* soa_negative_ttl - RFC 2308 5: min(SOA TTL, SOA MINIMUM) from the authority section */
static uint32_t soa_negative_ttl(ns_msg *h)
{
    int n = ns_msg_count(*h, ns_s_ns);

    for (int i = 0; i < n && i < DNS_MAX_RRS; i++) {
        ns_rr rr;
        const unsigned char *p, *end;
        int skip;
        uint32_t minimum;

        if (ns_parserr(h, ns_s_ns, i, &rr) < 0)
            return 0;
        if (ns_rr_type(rr) != ns_t_soa || ns_rr_class(rr) != ns_c_in)
            continue;
        p = ns_rr_rdata(rr);
        end = p + ns_rr_rdlen(rr);
        for (int k = 0; k < 2; k++) { /* MNAME, RNAME */
            if ((skip = dn_skipname(p, end)) < 0)
                return 0;
            p += skip;
        }
        if (end - p < 20)
            return 0;
        minimum = ns_get32(p + 16);
        return minimum < ns_rr_ttl(rr) ? minimum : ns_rr_ttl(rr);
    }
    return 0;
}

/* parse_rr - decode one record of the asked type into the builder; -1 when malformed */
static int parse_rr(const ns_msg *h, const ns_rr *rr, uint16_t type, struct dns_abuild *b)
{
    const unsigned char *p = ns_rr_rdata(*rr), *eom = ns_msg_end(*h);
    size_t rdlen = ns_rr_rdlen(*rr);
    char name[NS_MAXDNAME];
    struct dns_rr out;

    memset(&out, 0, sizeof(out));
    out.type = type;
    out.ttl = ns_rr_ttl(*rr);
    switch (type) {
    case DNS_T_A:
        if (rdlen != 4)
            return -1;
        memcpy(&out.u.a, p, 4);
        return dns_abuild_add(b, &out, NULL, 0) < 0 ? -2 : 0;
    case DNS_T_AAAA:
        if (rdlen != 16)
            return -1;
        memcpy(&out.u.aaaa, p, 16);
        return dns_abuild_add(b, &out, NULL, 0) < 0 ? -2 : 0;
    case DNS_T_MX:
        if (rdlen < 3)
            return -1;
        out.u.mx.pref = ns_get16(p);
        if (dn_expand(ns_msg_base(*h), eom, p + 2, name, sizeof(name)) < 0)
            return -1;
        return dns_abuild_add(b, &out, name, strlen(name)) < 0 ? -2 : 0;
    case DNS_T_PTR:
    case DNS_T_CNAME:
    case DNS_T_NS:
        if (dn_expand(ns_msg_base(*h), eom, p, name, sizeof(name)) < 0)
            return -1;
        return dns_abuild_add(b, &out, name, strlen(name)) < 0 ? -2 : 0;
    case DNS_T_TXT: {
        /* RFC 7208 3.3, RFC 6376 3.6.2.2: character-strings joined with nothing between;
         * the joined text is never longer than rdlen. */
        char *txt = malloc(rdlen + 1);
        size_t o = 0, i = 0;
        int rc;

        if (txt == NULL)
            return -2;
        while (i < rdlen) {
            size_t l = p[i++];

            if (l > rdlen - i) {
                free(txt);
                return -1;
            }
            memcpy(txt + o, p + i, l);
            o += l;
            i += l;
        }
        txt[o] = '\0';
        rc = dns_abuild_add(b, &out, txt, o) < 0 ? -2 : 0;
        free(txt);
        return rc;
    }
    default:
        return -1;
    }
}

/* parse_reply - header rcode, then the records of the asked type at the end of the
 * CNAME chain that starts at qname; records for any other owner are ignored */
static enum dns_status parse_reply(const unsigned char *msg, int len, const char *qname,
                                   uint16_t type, struct dns_answer **ans, uint32_t *neg_ttl)
{
    char cur[NS_MAXDNAME], owner[NS_MAXDNAME], target[NS_MAXDNAME];
    struct dns_abuild *b;
    ns_msg h;
    uint32_t chain_ttl = UINT32_MAX; /* an answer via CNAMEs lives no longer than they do */
    int an, rc;

    if (ns_initparse(msg, len, &h) < 0)
        return DNS_BADREPLY;
    if (ns_msg_getflag(h, ns_f_qr) == 0 || ns_msg_getflag(h, ns_f_opcode) != ns_o_query)
        return DNS_BADREPLY;
    switch (ns_msg_getflag(h, ns_f_rcode)) {
    case ns_r_noerror:
        break;
    case ns_r_nxdomain:
        *neg_ttl = soa_negative_ttl(&h);
        return DNS_NXDOMAIN;
    default:
        return DNS_TEMPFAIL; /* SERVFAIL, REFUSED, FORMERR, NOTIMP, ... */
    }
    if (ns_msg_getflag(h, ns_f_tc))
        return DNS_TEMPFAIL; /* still truncated after TCP: the data is incomplete */
    if ((b = malloc(sizeof(*b))) == NULL)
        return DNS_TEMPFAIL;
    sa_strlcpy(cur, qname, sizeof(cur));
    an = ns_msg_count(h, ns_s_an);
    rc = 0;
    for (int link = 0; rc == 0; link++) {
        int next = 0;

        if (link > RES_MAX_CNAME) {
            rc = -1; /* a longer chain than any sane zone has */
            break;
        }
        dns_abuild_init(b, type);
        for (int i = 0; i < an; i++) {
            ns_rr rr;
            uint16_t t;

            if (ns_parserr(&h, ns_s_an, i, &rr) < 0) {
                rc = -1;
                break;
            }
            t = ns_rr_type(rr);
            if (ns_rr_class(rr) != ns_c_in || (t != type && t != ns_t_cname))
                continue;
            sa_strlcpy(owner, ns_rr_name(rr), sizeof(owner));
            if (!same_name(owner, cur))
                continue;
            if (t == type) {
                if ((rc = parse_rr(&h, &rr, type, b)) < 0)
                    break;
            } else if (!next) {
                if (dn_expand(ns_msg_base(h), ns_msg_end(h), ns_rr_rdata(rr), target,
                              sizeof(target)) < 0) {
                    rc = -1;
                    break;
                }
                next = 1;
                if (ns_rr_ttl(rr) < chain_ttl)
                    chain_ttl = ns_rr_ttl(rr);
            }
        }
        if (rc < 0)
            break;
        if (b->nrr > 0) {
            *ans = dns_abuild_finish(b);
            if (*ans != NULL && chain_ttl < (*ans)->ttl)
                (*ans)->ttl = chain_ttl;
            free(b);
            return *ans != NULL ? DNS_OK : DNS_TEMPFAIL;
        }
        dns_abuild_release(b);
        if (!next)
            break;
        sa_strlcpy(cur, target, sizeof(cur));
    }
    dns_abuild_release(b);
    free(b);
    if (rc == -2)
        return DNS_TEMPFAIL; /* out of memory */
    if (rc < 0)
        return DNS_BADREPLY;
    *neg_ttl = soa_negative_ttl(&h);
    return DNS_NODATA;
}

static void rs_free(struct dns *d)
{
    struct resolver *r = d->ctx;
    struct tstate *t, *n;

    pthread_key_delete(r->key);
    for (t = r->states; t != NULL; t = n) {
        n = t->next;
        tstate_release(r, t);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}
