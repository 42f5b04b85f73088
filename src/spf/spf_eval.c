/* spf_eval.c - RFC 7208 check_host() for one identity: input checks, then libspf2 over
 * our DNS layer (spf_dns.c), then the mapping of libspf2's outcome to enum auth_res.
 * Owns the identity rules (4.3: postmaster@helo, malformed domains -> none) and the
 * result mapping; not the record grammar (spf_record.c) or the DNS layer.
 * Threads: reentrant. Each thread keeps one SPF_server_t with its DNS layer and layer
 * state (built on first use, freed by the key destructor at thread exit): building a
 * server costs a gethostname() and compiles two macros. The server never holds
 * anything of a message: every call rebinds the layer to a fresh state over its own
 * struct dns, sets the receiving host name and debug, and unbinds before returning.
 * Request, response and record are per call. No libspf2 object is shared between
 * threads. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <spf2/spf.h>

#include "spf/spf_eval.h"
#include "spf/spf_int.h"
#include "util/xalloc.h"

/* libspf2's default explanation expands macros of the sender; we keep a plain one. */
#define SPF_PLAIN_EXP "SPF"
#define SPF_DEFAULT_RECEIVER "unknown"

struct spf_thread;

static int parse_client(const char *ip, int *af, struct in_addr *v4, struct in6_addr *v6);
static int split_identity(const struct spf_in *in, struct spf_res *out, char *domain,
                          size_t domainlen);
static int check_domain(const char *d);
static int join2(char *out, size_t outlen, const char *a, const char *b);
static void set_res(struct spf_res *out, enum auth_res r, const char *reason);
static enum auth_res map_result(SPF_result_t r, int tempfail);
static int run_libspf2(const struct spf_in *in, struct spf_thread *t, int af,
                       const struct in_addr *v4, const struct in6_addr *v6, const char *domain,
                       struct spf_res *out);
static struct spf_thread *thread_get(void);
static void thread_free(void *p);
static void key_init(void);
static int bind_server(struct spf_thread *t, const struct spf_in *in);

/* One thread's libspf2 server, its DNS layer and the layer's state (see the header). */
struct spf_thread {
    SPF_server_t *server;
    SPF_dns_server_t *layer;   /* server->resolver; layer->hook is &st during a call */
    struct spf_dns_state st;
};

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static int key_ok;

static void key_init(void)
{
    key_ok = pthread_key_create(&key, thread_free) == 0;
}

/* thread_free - the key destructor: the thread's server and layer */
static void thread_free(void *p)
{
    struct spf_thread *t = p;

    if (t == NULL)
        return;
    if (t->server != NULL)
        SPF_server_free(t->server);   /* does not free a layer it did not create */
    if (t->layer != NULL)
        SPF_dns_free(t->layer);
    free(t);
}

/* thread_get - the calling thread's server, built on first use; NULL when out of memory */
static struct spf_thread *thread_get(void)
{
    struct spf_thread *t;
    SPF_response_t *tmp = NULL;

    if (pthread_once(&key_once, key_init) != 0 || !key_ok)
        return NULL;
    if ((t = pthread_getspecific(key)) != NULL)
        return t;
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    if ((t->layer = spf_dns_new(NULL)) == NULL ||
        (t->server = SPF_server_new_dns(t->layer, 0)) == NULL ||
        SPF_server_set_explanation(t->server, SPF_PLAIN_EXP, &tmp) != SPF_E_SUCCESS ||
        SPF_server_set_rec_dom(t->server, SPF_DEFAULT_RECEIVER) != SPF_E_SUCCESS ||
        pthread_setspecific(key, t) != 0) {
        if (tmp != NULL)
            SPF_response_free(tmp);
        thread_free(t);
        return NULL;
    }
    if (tmp != NULL)
        SPF_response_free(tmp);
    return t;
}

/* bind_server - the per-message settings of the thread's server: receiving host name
 * (strdup'ed by libspf2 only when it changes), debug off, the RFC 7208 limits, and the
 * layer bound to this call's state. The explanation and the (empty) local policy are
 * set once at creation and nothing changes them. 0, or -1 when out of memory. */
static int bind_server(struct spf_thread *t, const struct spf_in *in)
{
    const char *rec_dom = in->receiver != NULL && in->receiver[0] != '\0'
                              ? in->receiver
                              : SPF_DEFAULT_RECEIVER;

    if (t->server->rec_dom == NULL || strcmp(t->server->rec_dom, rec_dom) != 0) {
        if (SPF_server_set_rec_dom(t->server, rec_dom) != SPF_E_SUCCESS)
            return -1;   /* rec_dom is NULL now: set again on the next call */
    }
    t->server->debug = 0;
    t->server->sanitize = 0;
    t->server->max_dns_mech = SPF_MAX_DNS_MECH;
    t->server->max_dns_ptr = SPF_MAX_PTR_NAMES;
    t->server->max_dns_mx = SPF_MAX_MX_NAMES;
    t->server->resolver = t->layer;
    t->layer->debug = 0;
    t->layer->hook = &t->st;
    return 0;
}

static void set_res(struct spf_res *out, enum auth_res r, const char *reason)
{
    out->result = r;
    sa_strlcpy(out->reason, reason, sizeof(out->reason));
}

/* parse_client - textual address; IPv4-mapped IPv6 becomes IPv4 (RFC 7208 5.6) */
static int parse_client(const char *ip, int *af, struct in_addr *v4, struct in6_addr *v6)
{
    if (ip == NULL)
        return -1;
    if (inet_pton(AF_INET, ip, v4) == 1) {
        *af = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, v6) != 1)
        return -1;
    if (IN6_IS_ADDR_V4MAPPED(v6)) {
        memcpy(&v4->s_addr, &v6->s6_addr[12], 4);
        *af = AF_INET;
        return 0;
    }
    *af = AF_INET6;
    return 0;
}

/* check_domain - RFC 7208 4.3: a domain that is malformed (empty or over-long labels,
 * over 253 characters) or not multi-label gives "none" without a query */
static int check_domain(const char *d)
{
    char name[DNS_MAX_NAME + 1];

    if (dns_name_check(d, name) < 0 || strchr(name, '.') == NULL)
        return -1;
    if (name[0] == '[')   /* address literal as HELO */
        return -1;
    return 0;
}

/* join2 - a then b into out (this runs twice per message: no snprintf); the length, or
 * -1 when it does not fit (out then holds a cut copy) */
static int join2(char *out, size_t outlen, const char *a, const char *b)
{
    size_t n = sa_strlcpy(out, a, outlen);

    if (n >= outlen)
        return -1;
    n += sa_strlcpy(out + n, b, outlen - n);
    return n >= outlen ? -1 : (int)n;
}

/* split_identity - sender ("local@domain") and the domain to check, per 2.3/2.4/4.3 */
static int split_identity(const struct spf_in *in, struct spf_res *out, char *domain,
                          size_t domainlen)
{
    const char *helo = in->helo != NULL ? in->helo : "";
    const char *mf = in->mailfrom != NULL ? in->mailfrom : "";
    const char *at, *dom;
    int n;

    if (in->identity == SPF_ID_HELO || mf[0] == '\0') {
        if (helo[0] == '\0') {
            set_res(out, AUTH_NONE, "no HELO name");
            return -1;
        }
        n = join2(out->sender, sizeof(out->sender), "postmaster@", helo);
        dom = helo;
    } else {
        at = strrchr(mf, '@');
        if (at == NULL) {   /* 4.3: no local-part means "postmaster" */
            n = join2(out->sender, sizeof(out->sender), "postmaster@", mf);
            dom = mf;
        } else if (at == mf) {
            n = join2(out->sender, sizeof(out->sender), "postmaster", mf);
            dom = at + 1;
        } else {
            n = join2(out->sender, sizeof(out->sender), "", mf);
            dom = at + 1;
        }
    }
    if (n < 0 || (size_t)n >= sizeof(out->sender)) {
        out->sender[0] = '\0';
        set_res(out, AUTH_NONE, "sender too long");
        return -1;
    }
    if (strlen(dom) >= domainlen || check_domain(dom) < 0) {
        set_res(out, AUTH_NONE, "malformed domain");
        return -1;
    }
    sa_strlcpy(domain, dom, domainlen);
    for (char *p = domain; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    {
        size_t l = strlen(domain);

        if (l > 0 && domain[l - 1] == '.')
            domain[l - 1] = '\0';
    }
    sa_strlcpy(out->domain, domain, sizeof(out->domain));
    return 0;
}

static enum auth_res map_result(SPF_result_t r, int tempfail)
{
    switch (r) {
    case SPF_RESULT_NEUTRAL:
        return AUTH_NEUTRAL;
    case SPF_RESULT_PASS:
        return AUTH_PASS;
    case SPF_RESULT_FAIL:
        return AUTH_FAIL;
    case SPF_RESULT_SOFTFAIL:
        return AUTH_SOFTFAIL;
    case SPF_RESULT_NONE:
        return AUTH_NONE;
    case SPF_RESULT_TEMPERROR:
        return AUTH_TEMPERROR;
    case SPF_RESULT_PERMERROR:
        return AUTH_PERMERROR;
    case SPF_RESULT_INVALID:
        break;
    }
    /* "(invalid)": libspf2 gave up without a word; a DNS failure means temperror. */
    return tempfail ? AUTH_TEMPERROR : AUTH_PERMERROR;
}

/* run_libspf2 - one check_host() on the thread's server, bound to t->st */
static int run_libspf2(const struct spf_in *in, struct spf_thread *t, int af,
                       const struct in_addr *v4, const struct in6_addr *v6, const char *domain,
                       struct spf_res *out)
{
    struct spf_dns_state *st = &t->st;
    SPF_server_t *server = t->server;
    SPF_request_t *req = NULL;
    SPF_response_t *resp = NULL;
    SPF_record_t *rec = NULL;
    SPF_errcode_t err;
    int rc = -1;

    if (bind_server(t, in) < 0)
        goto out;
    if ((req = SPF_request_new(server)) == NULL)
        goto out;
    if (af == AF_INET)
        SPF_request_set_ipv4(req, *v4);
    else
        SPF_request_set_ipv6(req, *v6);
    if (in->helo != NULL && in->helo[0] != '\0' &&
        SPF_request_set_helo_dom(req, in->helo) != SPF_E_SUCCESS)
        goto out;
    if (SPF_request_set_env_from(req, out->sender) != SPF_E_SUCCESS)
        goto out;
    if ((resp = SPF_response_new(req)) == NULL)
        goto out;
    req->cur_dom = domain;
    err = SPF_server_get_record(server, req, resp, &rec);
    if (err == SPF_E_SUCCESS && rec != NULL) {
        resp->spf_record_exp = rec;
        SPF_record_interpret(rec, req, resp, 0);
        resp->spf_record_exp = NULL;
    }
    if (st->abort) {
        set_res(out, st->abort_temp ? AUTH_TEMPERROR : AUTH_PERMERROR, st->reason);
    } else if (err != SPF_E_SUCCESS || rec == NULL) {
        if (st->top_none)
            set_res(out, AUTH_NONE, st->reason);
        else if (err == SPF_E_DNS_ERROR || st->tempfail)
            set_res(out, AUTH_TEMPERROR, st->reason[0] ? st->reason : "DNS failure");
        else
            set_res(out, AUTH_PERMERROR, SPF_strerror(err));
    } else {
        out->result = map_result(resp->result, st->tempfail);
        switch (out->result) {
        case AUTH_PASS:
        case AUTH_FAIL:
        case AUTH_SOFTFAIL:
        case AUTH_NEUTRAL:
            sa_strlcpy(out->reason, resp->reason == SPF_REASON_DEFAULT
                                        ? "no mechanism matched"
                                        : "mechanism matched",
                       sizeof(out->reason));
            break;
        case AUTH_TEMPERROR:
            sa_strlcpy(out->reason, "DNS failure", sizeof(out->reason));
            break;
        default:
            if (resp->err == SPF_E_BIG_DNS)
                sa_strlcpy(out->reason, "too many DNS lookups", sizeof(out->reason));
            else
                sa_strlcpy(out->reason, SPF_strerror(resp->err), sizeof(out->reason));
            break;
        }
    }
    rc = 0;
out:
    if (rec != NULL)
        SPF_record_free(rec);
    if (resp != NULL)
        SPF_response_free(resp);
    if (req != NULL)
        SPF_request_free(req);
    t->layer->hook = NULL;   /* nothing of this call outlives it */
    return rc;
}

/* spf_eval - see spf_eval.h */
int spf_eval(const struct spf_in *in, struct dns *dns, struct spf_res *out)
{
    struct spf_thread *t;
    struct in_addr v4;
    struct in6_addr v6;
    char domain[DNS_MAX_NAME + 1];
    int af = AF_UNSPEC, rc;

    memset(out, 0, sizeof(*out));
    out->result = AUTH_TEMPERROR;
    if (in == NULL || dns == NULL) {
        sa_strlcpy(out->reason, "internal error", sizeof(out->reason));
        return -1;
    }
    out->identity = in->identity;
    if (parse_client(in->client_ip, &af, &v4, &v6) < 0) {
        sa_strlcpy(out->reason, "bad client address", sizeof(out->reason));
        return -1;
    }
    if (split_identity(in, out, domain, sizeof(domain)) < 0)
        return 0;
    if ((t = thread_get()) == NULL) {
        sa_strlcpy(out->reason, "out of memory", sizeof(out->reason));
        return -1;
    }
    spf_dns_state_init(&t->st, dns, af, &v4, &v6);
    t->st.sender = out->sender;   /* for the macros spf_dns.c expands */
    t->st.helo = in->helo != NULL && in->helo[0] != '\0' ? in->helo : NULL;
    rc = run_libspf2(in, t, af, &v4, &v6, domain, out);
    t->st.dns = NULL;   /* the thread's state keeps nothing of this call */
    t->st.sender = NULL;
    t->st.helo = NULL;
    if (rc < 0) {
        set_res(out, AUTH_TEMPERROR, "out of memory");
        return -1;
    }
    return 0;
}
