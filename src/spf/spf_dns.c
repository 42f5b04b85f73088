/* spf_dns.c - libspf2 DNS layer (SPF_dns_server_t) that asks our struct dns.
 * Owns the translation of our answers into SPF_dns_rr_t, the RFC 7208 4.6.4 counters
 * libspf2 lacks or resets inside include: (DNS-querying terms over the whole evaluation,
 * void lookups, PTR names), and record selection (4.5) + check + rewrite (with the
 * macros expanded by spf_macro.c) before libspf2 compiles a record. Not the evaluation itself (libspf2) or the grammar
 * (spf_record.c).
 * Threads: one layer per thread (spf_eval.c keeps it with the thread's server); its
 * state (hook) is bound by spf_eval() for one call and unbound after; nothing is shared. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spf/spf_eval.h"
#include "spf/spf_int.h"
#include "util/xalloc.h"

static SPF_dns_rr_t *layer_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type,
                                  int should_cache);
static SPF_errcode_t layer_get_spf(SPF_server_t *server, SPF_request_t *req, SPF_response_t *resp,
                                   SPF_record_t **recp);
static SPF_errcode_t layer_get_exp(SPF_server_t *server, const char *domain, char **bufp,
                                   size_t *buflenp);
static void layer_destroy(SPF_dns_server_t *srv);
static int herrno_of(enum dns_status s);
static SPF_dns_rr_t *rr_from_answer(SPF_dns_server_t *srv, const char *domain, ns_type type,
                                    const struct dns_answer *a, int max);
static int take_pending(struct spf_dns_state *st, const char *name);
static void set_pending(struct spf_dns_state *st, const struct dns_answer *a);
static void set_abort(struct spf_dns_state *st, int temp, const char *reason);
static int count_mechs(const char *text);
static size_t name_len(const char *s);
static SPF_errcode_t compile_text(SPF_server_t *server, SPF_response_t *resp, SPF_record_t **recp,
                                  const char *text);
static SPF_errcode_t compile_expanded(SPF_server_t *server, SPF_request_t *req,
                                      SPF_record_t **recp, const struct spf_dns_state *st,
                                      const char *domain, const struct dns_rr *found,
                                      int transformed_only);

/* Room for a record whose domain-specs were expanded (each at most 253 bytes, doubled
 * by "%%"/"%_"); libspf2's compiler refuses anything near this long anyway. */
#define SPF_MAX_EXPANDED (2 * SPF_MAX_RECORD)

void spf_dns_state_init(struct spf_dns_state *st, struct dns *dns, int client_af,
                        const struct in_addr *v4, const struct in6_addr *v6)
{
    memset(st, 0, sizeof(*st));
    st->dns = dns;
    st->client_af = client_af;
    if (v4 != NULL)
        st->client4 = *v4;
    if (v6 != NULL)
        st->client6 = *v6;
}

/* strip_cidr0 - if domain ends in "." SPF_CIDR0_LABEL, copy the rest into out; 1 if so */
static int strip_cidr0(const char *domain, char *out, size_t outlen)
{
    size_t n = strlen(domain), l = sizeof(SPF_CIDR0_LABEL) - 1;

    if (n > 0 && domain[n - 1] == '.')
        n--;
    if (n <= l + 1 || domain[n - l - 1] != '.' ||
        strncasecmp(domain + n - l, SPF_CIDR0_LABEL, l) != 0 || n - l - 1 >= outlen)
        return 0;
    memcpy(out, domain, n - l - 1);
    out[n - l - 1] = '\0';
    return 1;
}

/* client_rr - the answer "the client's own address" for a name that has addresses */
static SPF_dns_rr_t *client_rr(SPF_dns_server_t *srv, struct spf_dns_state *st,
                               const char *domain, ns_type type)
{
    SPF_dns_rr_t *rr = SPF_dns_rr_new_init(srv, domain, type, 0, NETDB_SUCCESS);
    size_t len = type == ns_t_a ? sizeof(struct in_addr) : sizeof(struct in6_addr);

    if (rr == NULL)
        return NULL;
    if (SPF_dns_rr_buf_realloc(rr, 0, len) != SPF_E_SUCCESS) {
        SPF_dns_rr_free(rr);
        return NULL;
    }
    if (type == ns_t_a)
        rr->rr[0]->a = st->client4;
    else
        rr->rr[0]->aaaa = st->client6;
    rr->num_rr = 1;
    return rr;
}

SPF_dns_server_t *spf_dns_new(struct spf_dns_state *st)
{
    SPF_dns_server_t *srv = calloc(1, sizeof(*srv));

    if (srv == NULL)
        return NULL;
    srv->destroy = layer_destroy;
    srv->lookup = layer_lookup;
    srv->get_spf = layer_get_spf;
    srv->get_exp = layer_get_exp;
    srv->add_cache = NULL;
    srv->layer_below = NULL;
    srv->name = "senderauth";
    srv->debug = 0;
    srv->hook = st;
    return srv;
}

static void layer_destroy(SPF_dns_server_t *srv)
{
    free(srv);
}

/* set_abort - remember why the evaluation must end; the first reason wins */
static void set_abort(struct spf_dns_state *st, int temp, const char *reason)
{
    if (st->abort)
        return;
    st->abort = 1;
    st->abort_temp = temp;
    sa_strlcpy(st->reason, reason, sizeof(st->reason));
}

static int herrno_of(enum dns_status s)
{
    switch (s) {
    case DNS_OK:
        return NETDB_SUCCESS;
    case DNS_NXDOMAIN:
        return HOST_NOT_FOUND;
    case DNS_NODATA:
        return NO_DATA;
    case DNS_TEMPFAIL:
    case DNS_BADREPLY:
        break;
    }
    return TRY_AGAIN;
}

/* rr_from_answer - build libspf2's RR set from our answer, at most max records */
static SPF_dns_rr_t *rr_from_answer(SPF_dns_server_t *srv, const char *domain, ns_type type,
                                    const struct dns_answer *a, int max)
{
    SPF_dns_rr_t *rr = SPF_dns_rr_new_init(srv, domain, type, (int)a->ttl, NETDB_SUCCESS);
    int n = 0;

    if (rr == NULL)
        return NULL;
    for (int i = 0; i < a->nrr && n < max; i++) {
        const struct dns_rr *r = &a->rr[i];
        const char *s = NULL;

        if (r->type != (uint16_t)type)
            continue;
        switch (r->type) {
        case DNS_T_A:
            if (SPF_dns_rr_buf_realloc(rr, n, sizeof(struct in_addr)) != SPF_E_SUCCESS)
                goto oom;
            rr->rr[n]->a = r->u.a;
            break;
        case DNS_T_AAAA:
            if (SPF_dns_rr_buf_realloc(rr, n, sizeof(struct in6_addr)) != SPF_E_SUCCESS)
                goto oom;
            rr->rr[n]->aaaa = r->u.aaaa;
            break;
        case DNS_T_MX:
            s = r->u.mx.exchange;
            break;
        case DNS_T_PTR:
            s = r->u.name;
            break;
        case DNS_T_TXT:
            s = r->u.txt.data;
            break;
        default:
            continue;
        }
        if (s != NULL) {
            size_t len = strlen(s);

            if (SPF_dns_rr_buf_realloc(rr, n, len + 1) != SPF_E_SUCCESS)
                goto oom;
            memcpy(rr->rr[n]->txt, s, len + 1);
        }
        n++;
    }
    rr->num_rr = n;
    if (n == 0)
        rr->herrno = NO_DATA;
    return rr;
oom:
    rr->num_rr = n;
    SPF_dns_rr_free(rr);
    return NULL;
}

/* take_pending - is name one of the names the last MX/PTR answer asked us to resolve?
 * (then its address lookup belongs to that term and is not a term of its own) */
static int take_pending(struct spf_dns_state *st, const char *name)
{
    for (int i = 0; i < st->npending; i++) {
        if (strcasecmp(st->pending[i], name) == 0) {
            st->npending--;
            if (i != st->npending)
                memcpy(st->pending[i], st->pending[st->npending], sizeof(st->pending[i]));
            return 1;
        }
    }
    return 0;
}

static void set_pending(struct spf_dns_state *st, const struct dns_answer *a)
{
    st->npending = 0;
    for (int i = 0; i < a->nrr && st->npending < SPF_MAX_MX_NAMES; i++) {
        const char *s = a->rr[i].type == DNS_T_MX ? a->rr[i].u.mx.exchange : a->rr[i].u.name;

        if (s != NULL)
            sa_strlcpy(st->pending[st->npending++], s, sizeof(st->pending[0]));
    }
}

/* layer_lookup - one libspf2 query through our dns, counted per RFC 7208 4.6.4 */
static SPF_dns_rr_t *layer_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type,
                                  int should_cache)
{
    struct spf_dns_state *st = srv->hook;
    struct dns_answer *ans = NULL;
    enum dns_status s;
    SPF_dns_rr_t *rr;
    char name[DNS_MAX_NAME + 1], real[DNS_MAX_NAME + 8];
    int sub = 0, ptr_sub = 0, cidr0 = 0, max = DNS_MAX_RRS;

    if (st->abort)
        return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
    if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx && type != ns_t_ptr &&
        type != ns_t_txt)
        return SPF_dns_rr_new_init(srv, domain, type, 0, NO_DATA);
    if (domain != NULL && strip_cidr0(domain, real, sizeof(real)))
        cidr0 = 1;
    if ((type == ns_t_a || type == ns_t_aaaa) && domain != NULL && take_pending(st, domain)) {
        sub = 1;
        ptr_sub = st->pending_ptr;
        cidr0 = st->pending_cidr0;
    }
    if (!sub && type != ns_t_txt) {
        st->npending = 0;
        if (++st->terms > SPF_MAX_DNS_MECH) {
            set_abort(st, 0, "too many DNS lookups");
            return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
        }
    }
    if (domain == NULL || dns_name_check(cidr0 && !sub ? real : domain, name) < 0) {
        s = DNS_NXDOMAIN;   /* RFC 7208 4.3: a name that cannot exist does not */
    } else {
        s = dns_query(st->dns, name, (uint16_t)type, &ans);
        if (s == DNS_OK && ans == NULL)
            s = DNS_BADREPLY;
    }
    if (s == DNS_TEMPFAIL || s == DNS_BADREPLY) {
        st->tempfail = 1;
        /* RFC 7208 5.5: a PTR name whose address lookup fails is skipped. */
        if (ptr_sub)
            s = DNS_NXDOMAIN;
    }
    if ((s == DNS_NXDOMAIN || s == DNS_NODATA) && !sub && ++st->voids > SPF_MAX_VOID_LOOKUPS) {
        set_abort(st, 0, "too many void lookups");
        dns_answer_free(ans);
        return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
    }
    if (s != DNS_OK)
        return SPF_dns_rr_new_init(srv, domain, type, 0, herrno_of(s));
    if (type == ns_t_ptr)
        max = SPF_MAX_PTR_NAMES;   /* RFC 7208 4.6.4: extra PTR names are ignored */
    if (cidr0 && (type == ns_t_a || type == ns_t_aaaa))
        rr = client_rr(srv, st, domain, type);   /* CIDR /0: any address matches */
    else
        rr = rr_from_answer(srv, domain, type, ans, max);
    if (type == ns_t_mx || type == ns_t_ptr) {
        set_pending(st, ans);
        st->pending_ptr = type == ns_t_ptr;
        st->pending_cidr0 = cidr0 && type == ns_t_mx;
    }
    dns_answer_free(ans);
    if (rr == NULL)
        set_abort(st, 1, "out of memory");
    return rr != NULL ? rr : SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
}

/* name_len - the length of the leading run of ALPHA / DIGIT / "-" / "_" / "." (a
 * modifier name, RFC 7208 12); a loop, as strspn with this set costs ~450 instructions */
static size_t name_len(const char *s)
{
    size_t n = 0;

    for (;; n++) {
        unsigned char c = (unsigned char)s[n];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return n;
    }
}

/* count_mechs - the terms libspf2 compiles as mechanisms (directives and redirect=)
 * of a rewritten record: "v=spf1" and single-space-separated terms (spf_record_check) */
static int count_mechs(const char *text)
{
    int n = 0;

    for (const char *p = strchr(text, ' '); p != NULL; p = strchr(p + 1, ' ')) {
        size_t len = strcspn(p + 1, " "), nl = name_len(p + 1);

        if (len > 0 && (!(nl > 0 && nl < len && p[1 + nl] == '=') ||
                        (nl == 8 && strncasecmp(p + 1, "redirect", 8) == 0)))
            n++; /* libspf2 keeps redirect= with the mechanisms */
    }
    return n;
}

/* is_spf1 - does this TXT string begin with the version section "v=spf1"? (4.5) */
static int is_spf1(const char *s, size_t len)
{
    return len >= 6 && strncasecmp(s, "v=spf1", 6) == 0 && (len == 6 || s[6] == ' ');
}

/* layer_get_spf - fetch, select (4.5), check (12) and rewrite the record of cur_dom */
static SPF_errcode_t layer_get_spf(SPF_server_t *server, SPF_request_t *req, SPF_response_t *resp,
                                   SPF_record_t **recp)
{
    struct spf_dns_state *st = server->resolver->hook;
    const char *domain = req->cur_dom;
    struct dns_answer *ans = NULL;
    const struct dns_rr *found = NULL;
    enum dns_status s;
    char name[DNS_MAX_NAME + 1], why[96];
    char *text;
    int top = st->records++ == 0, nfound = 0;
    SPF_errcode_t err;

    *recp = NULL;
    if (st->abort) {
        resp->result = SPF_RESULT_TEMPERROR;
        return SPF_E_DNS_ERROR;
    }
    if (!top) {
        st->npending = 0;
        if (++st->terms > SPF_MAX_DNS_MECH) {
            set_abort(st, 0, "too many DNS lookups");
            resp->result = SPF_RESULT_PERMERROR;
            return SPF_E_BIG_DNS;
        }
    }
    if (domain == NULL || dns_name_check(domain, name) < 0) {
        s = DNS_NXDOMAIN;
    } else {
        s = dns_query(st->dns, name, DNS_T_TXT, &ans);
        if (s == DNS_OK && ans == NULL)
            s = DNS_BADREPLY;
    }
    if (s == DNS_TEMPFAIL || s == DNS_BADREPLY) {
        st->tempfail = 1;
        snprintf(st->reason, sizeof(st->reason), "DNS failure looking up %s",
                 top ? "the SPF record" : "an included record");
        resp->result = SPF_RESULT_TEMPERROR;
        resp->reason = SPF_REASON_FAILURE;
        return SPF_E_DNS_ERROR;
    }
    if ((s == DNS_NXDOMAIN || s == DNS_NODATA) && !top && ++st->voids > SPF_MAX_VOID_LOOKUPS) {
        set_abort(st, 0, "too many void lookups");
        resp->result = SPF_RESULT_PERMERROR;
        return SPF_E_NOT_SPF;
    }
    if (s == DNS_OK) {
        for (int i = 0; i < ans->nrr; i++) {
            const struct dns_rr *r = &ans->rr[i];

            if (r->type == DNS_T_TXT && is_spf1(r->u.txt.data, r->u.txt.len)) {
                nfound++;
                found = r;
            }
        }
    }
    if (nfound == 0) {
        dns_answer_free(ans);
        if (top) {
            st->top_none = 1;
            sa_strlcpy(st->reason, "no SPF record", sizeof(st->reason));
        } else if (!st->abort) {
            set_abort(st, 0, "included domain has no SPF record");
        }
        resp->result = SPF_RESULT_NONE;
        resp->reason = SPF_REASON_FAILURE;
        return SPF_E_NOT_SPF;
    }
    if (nfound > 1) {
        dns_answer_free(ans);
        set_abort(st, 0, "multiple SPF records");
        resp->result = SPF_RESULT_PERMERROR;
        resp->reason = SPF_REASON_FAILURE;
        return SPF_E_MULTIPLE_RECORDS;
    }
    if (spf_record_check(found->u.txt.data, found->u.txt.len, why, sizeof(why)) < 0) {
        char msg[128];

        snprintf(msg, sizeof(msg), "bad record: %s", why);
        dns_answer_free(ans);
        set_abort(st, 0, msg);
        resp->result = SPF_RESULT_PERMERROR;
        resp->reason = SPF_REASON_FAILURE;
        return SPF_E_SYNTAX;
    }
    if ((text = malloc(SPF_MAX_RECORD + 1)) == NULL) {
        dns_answer_free(ans);
        set_abort(st, 1, "out of memory");
        resp->result = SPF_RESULT_TEMPERROR;
        return SPF_E_NO_MEMORY;
    }
    if (spf_record_rewrite(found->u.txt.data, found->u.txt.len, st->client_af, NULL, text,
                           SPF_MAX_RECORD + 1) < 0) {
        /* The rewrite (a/0 and mx/0 terms grow) passed our bound: the record's fault. */
        free(text);
        dns_answer_free(ans);
        set_abort(st, 0, "record too long once rewritten");
        resp->result = SPF_RESULT_PERMERROR;
        resp->reason = SPF_REASON_FAILURE;
        return SPF_E_SYNTAX;
    }
    /* Macros expanded by us (RFC 7208 7.3, spf_macro.c): libspf2's expander gets
     * transformers wrong. When the expanded record does not fit libspf2's compiler, only
     * the domain-specs with transformers are expanded; failing that, the record as it
     * stands is compiled (libspf2 expands). */
    err = compile_expanded(server, req, recp, st, domain, found, 0);
    if (err != SPF_E_SUCCESS && err != SPF_E_NOT_CONFIG)
        err = compile_expanded(server, req, recp, st, domain, found, 1);
    dns_answer_free(ans);
    if (err != SPF_E_SUCCESS)
        err = compile_text(server, resp, recp, text);
    free(text);
    if (err != SPF_E_SUCCESS) {
        /* Our grammar accepted what libspf2's compiler refused. */
        set_abort(st, 0, "record rejected by libspf2");
        resp->result = SPF_RESULT_PERMERROR;
        return SPF_E_SYNTAX;
    }
    return SPF_E_SUCCESS;
}

/* compile_text - libspf2's compile of a rewritten record; on failure *recp is NULL.
 * libspf2 stops compiling, without an error, once the mechanisms fill its buffer
 * (about 512 bytes: some 60 ip4 or 25 ip6 terms): the rest of the record would be
 * silently ignored (a trailing -all or redirect= lost). Refuse it instead. */
static SPF_errcode_t compile_text(SPF_server_t *server, SPF_response_t *resp, SPF_record_t **recp,
                                  const char *text)
{
    SPF_errcode_t err = SPF_record_compile(server, resp, recp, text);

    if (err == SPF_E_SUCCESS && *recp != NULL && (*recp)->num_mech != count_mechs(text))
        err = SPF_E_BIG_MECH;
    if (err == SPF_E_SUCCESS && *recp == NULL)
        err = SPF_E_INTERNAL_ERROR;
    if (err != SPF_E_SUCCESS && *recp != NULL) {
        SPF_record_free(*recp);
        *recp = NULL;
    }
    return err;
}

/* compile_expanded - the record (found) with its macros expanded for this evaluation
 * (with transformed_only, only the domain-specs libspf2 would get wrong), compiled with
 * a scratch response (a refusal must leave no error behind). SPF_E_NOT_CONFIG when
 * there is nothing to expand; another error when the result does not fit. */
static SPF_errcode_t compile_expanded(SPF_server_t *server, SPF_request_t *req,
                                      SPF_record_t **recp, const struct spf_dns_state *st,
                                      const char *domain, const struct dns_rr *found,
                                      int transformed_only)
{
    const char *rec = found->u.txt.data;
    size_t len = found->u.txt.len;
    struct spf_macro_env env;
    SPF_response_t *scratch;
    SPF_errcode_t err;
    char *text;

    if (memchr(rec, '%', len) == NULL || st->sender == NULL || domain == NULL)
        return SPF_E_NOT_CONFIG;
    memset(&env, 0, sizeof(env));
    env.sender = st->sender;
    env.domain = domain;
    env.helo = st->helo;
    env.af = st->client_af;
    env.v4 = st->client4;
    env.v6 = st->client6;
    env.transformed_only = transformed_only;
    if ((text = malloc(SPF_MAX_EXPANDED + 1)) == NULL)
        return SPF_E_NO_MEMORY;
    if (spf_record_rewrite(rec, len, st->client_af, &env, text, SPF_MAX_EXPANDED + 1) < 0) {
        free(text);
        return SPF_E_BIG_STRING;
    }
    if ((scratch = SPF_response_new(req)) == NULL) {
        free(text);
        return SPF_E_NO_MEMORY;
    }
    err = compile_text(server, scratch, recp, text);
    SPF_response_free(scratch);
    free(text);
    return err;
}

/* layer_get_exp - explanations are not supported (docs/spf.md): no query, fixed text */
static SPF_errcode_t layer_get_exp(SPF_server_t *server, const char *domain, char **bufp,
                                   size_t *buflenp)
{
    static const char text[] = "SPF";
    char *p;

    if (*bufp == NULL || *buflenp < sizeof(text)) {
        if ((p = realloc(*bufp, sizeof(text))) == NULL)
            return SPF_E_NO_MEMORY;
        *bufp = p;
        *buflenp = sizeof(text);
    }
    memcpy(*bufp, text, sizeof(text));
    return SPF_E_SUCCESS;
}
