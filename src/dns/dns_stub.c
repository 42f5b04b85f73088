/* dns_stub.c - in-process DNS for unit tests of every evaluator: records and failure
 * rules added by the test, answered with the same NXDOMAIN/NODATA/CNAME semantics as
 * a recursive server behind dns_res.
 * Owns its record list; not the answers it hands out (the caller frees those).
 * Threads: one mutex around everything, so cache tests may share it between threads. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

#define STUB_MAX_CNAME 8 /* links followed, as a recursive server bounds chains */

struct stub_rec {
    struct stub_rec *next;
    char name[DNS_MAX_NAME + 1];
    struct dns_rr rr;
    char *str; /* name or TXT data, NUL-terminated */
    size_t len;
};

struct stub_fail {
    struct stub_fail *next;
    char name[DNS_MAX_NAME + 1];
    uint16_t type;
    enum dns_status status;
};

struct stub {
    struct dns dns;
    pthread_mutex_t lock;
    struct stub_rec *recs, *recs_tail; /* in insertion order */
    struct stub_fail *fails;
    uint32_t ttl, neg_ttl;
    int queries;
};

static enum dns_status stub_query(struct dns *d, const char *name, uint16_t type,
                                  struct dns_answer **ans);
static enum dns_status stub_query_ttl(struct dns *d, const char *name, uint16_t type,
                                      struct dns_answer **ans, uint32_t *neg_ttl);
static void stub_free(struct dns *d);
static int stub_insert(struct stub *s, const char *name, const struct dns_rr *rr, const char *str,
                       size_t len);
static int name_exists(struct stub *s, const char *name);
static void clear_locked(struct stub *s);

struct dns *dns_stub_new(void)
{
    struct stub *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->ttl = 300;
    s->dns.query = stub_query;
    s->dns.query_ttl = stub_query_ttl;
    s->dns.free = stub_free;
    s->dns.ctx = s;
    return &s->dns;
}

/* stub_insert - append one record (str copied) */
static int stub_insert(struct stub *s, const char *name, const struct dns_rr *rr, const char *str,
                       size_t len)
{
    struct stub_rec *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return -1;
    if (dns_name_check(name, r->name) < 0) {
        free(r);
        errno = EINVAL;
        return -1;
    }
    r->rr = *rr;
    if (str != NULL) {
        if ((r->str = malloc(len + 1)) == NULL) {
            free(r);
            return -1;
        }
        memcpy(r->str, str, len);
        r->str[len] = '\0';
        r->len = len;
    }
    pthread_mutex_lock(&s->lock);
    r->rr.ttl = s->ttl;
    if (s->recs_tail != NULL)
        s->recs_tail->next = r;
    else
        s->recs = r;
    s->recs_tail = r;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* dns_stub_add - parse presentation text for type and add the record */
int dns_stub_add(struct dns *d, const char *name, uint16_t type, const char *value)
{
    struct stub *s = d->ctx;
    struct dns_rr rr;
    const char *str = NULL;
    char *end;
    unsigned long pref;

    memset(&rr, 0, sizeof(rr));
    rr.type = type;
    switch (type) {
    case DNS_T_A:
        if (inet_pton(AF_INET, value, &rr.u.a) != 1)
            goto bad;
        break;
    case DNS_T_AAAA:
        if (inet_pton(AF_INET6, value, &rr.u.aaaa) != 1)
            goto bad;
        break;
    case DNS_T_MX:
        errno = 0;
        pref = strtoul(value, &end, 10);
        if (errno != 0 || end == value || pref > 65535 || *end != ' ')
            goto bad;
        while (*end == ' ')
            end++;
        rr.u.mx.pref = (uint16_t)pref;
        str = end;
        break;
    case DNS_T_PTR:
    case DNS_T_CNAME:
    case DNS_T_NS:
    case DNS_T_TXT:
        str = value;
        break;
    default:
        goto bad;
    }
    if (str != NULL) {
        size_t len = strlen(str);

        if (type != DNS_T_TXT) {
            char tmp[DNS_MAX_NAME + 1];

            if (dns_name_check(str, tmp) < 0)
                goto bad;
            return stub_insert(s, name, &rr, tmp, strlen(tmp));
        }
        return stub_insert(s, name, &rr, str, len);
    }
    return stub_insert(s, name, &rr, NULL, 0);
bad:
    errno = EINVAL;
    return -1;
}

int dns_stub_add_txt_len(struct dns *d, const char *name, const char *data, size_t len)
{
    struct dns_rr rr;

    memset(&rr, 0, sizeof(rr));
    rr.type = DNS_T_TXT;
    return stub_insert(d->ctx, name, &rr, data, len);
}

int dns_stub_fail(struct dns *d, const char *name, uint16_t type, enum dns_status status)
{
    struct stub *s = d->ctx;
    struct stub_fail *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    if (dns_name_check(name, f->name) < 0) {
        free(f);
        errno = EINVAL;
        return -1;
    }
    f->type = type;
    f->status = status;
    pthread_mutex_lock(&s->lock);
    f->next = s->fails;
    s->fails = f;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int dns_stub_queries(struct dns *d)
{
    struct stub *s = d->ctx;
    int n;

    pthread_mutex_lock(&s->lock);
    n = s->queries;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void dns_stub_set_ttl(struct dns *d, uint32_t ttl, uint32_t neg_ttl)
{
    struct stub *s = d->ctx;

    pthread_mutex_lock(&s->lock);
    s->ttl = ttl;
    s->neg_ttl = neg_ttl;
    pthread_mutex_unlock(&s->lock);
}

/* clear_locked - free records and rules; caller holds the lock */
static void clear_locked(struct stub *s)
{
    struct stub_rec *r, *rn;
    struct stub_fail *f, *fn;

    for (r = s->recs; r != NULL; r = rn) {
        rn = r->next;
        free(r->str);
        free(r);
    }
    for (f = s->fails; f != NULL; f = fn) {
        fn = f->next;
        free(f);
    }
    s->recs = s->recs_tail = NULL;
    s->fails = NULL;
}

void dns_stub_clear(struct dns *d)
{
    struct stub *s = d->ctx;

    pthread_mutex_lock(&s->lock);
    clear_locked(s);
    pthread_mutex_unlock(&s->lock);
}

/* name_exists - the name owns a record or is an ancestor of one (empty non-terminal) */
static int name_exists(struct stub *s, const char *name)
{
    size_t n = strlen(name);

    for (struct stub_rec *r = s->recs; r != NULL; r = r->next) {
        size_t rn = strlen(r->name);

        if (strcmp(r->name, name) == 0)
            return 1;
        if (rn > n && r->name[rn - n - 1] == '.' && strcmp(r->name + rn - n, name) == 0)
            return 1;
    }
    return 0;
}

/* stub_query_ttl - answer like a recursive server would (see dns.h) */
static enum dns_status stub_query_ttl(struct dns *d, const char *name, uint16_t type,
                                      struct dns_answer **ans, uint32_t *neg_ttl)
{
    struct stub *s = d->ctx;
    char cur[DNS_MAX_NAME + 1];
    struct dns_abuild *b;
    enum dns_status st = DNS_NXDOMAIN;

    *ans = NULL;
    *neg_ttl = 0;
    pthread_mutex_lock(&s->lock);
    s->queries++;
    if (dns_name_check(name, cur) < 0) {
        pthread_mutex_unlock(&s->lock);
        return DNS_NXDOMAIN;
    }
    if ((b = malloc(sizeof(*b))) == NULL) {
        pthread_mutex_unlock(&s->lock);
        return DNS_TEMPFAIL;
    }
    for (int link = 0; link <= STUB_MAX_CNAME; link++) {
        const struct stub_rec *cname = NULL;

        for (struct stub_fail *f = s->fails; f != NULL; f = f->next)
            if (strcmp(f->name, cur) == 0 && (f->type == 0 || f->type == type)) {
                st = f->status;
                goto done;
            }
        dns_abuild_init(b, type);
        for (struct stub_rec *r = s->recs; r != NULL; r = r->next) {
            if (strcmp(r->name, cur) != 0)
                continue;
            if (r->rr.type == type)
                dns_abuild_add(b, &r->rr, r->str, r->len);
            else if (r->rr.type == DNS_T_CNAME && cname == NULL)
                cname = r;
        }
        if (b->nrr > 0) {
            *ans = dns_abuild_finish(b);
            st = *ans != NULL ? DNS_OK : DNS_TEMPFAIL;
            goto done;
        }
        dns_abuild_release(b);
        if (cname == NULL) {
            st = name_exists(s, cur) ? DNS_NODATA : DNS_NXDOMAIN;
            goto done;
        }
        memcpy(cur, cname->str, cname->len + 1);
        st = DNS_TEMPFAIL; /* a chain longer than STUB_MAX_CNAME */
    }
done:
    if (st == DNS_NXDOMAIN || st == DNS_NODATA)
        *neg_ttl = s->neg_ttl;
    pthread_mutex_unlock(&s->lock);
    free(b);
    return st;
}

static enum dns_status stub_query(struct dns *d, const char *name, uint16_t type,
                                  struct dns_answer **ans)
{
    uint32_t neg_ttl;

    return stub_query_ttl(d, name, type, ans, &neg_ttl);
}

static void stub_free(struct dns *d)
{
    struct stub *s = d->ctx;

    clear_locked(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
