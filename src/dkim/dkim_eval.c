/* dkim_eval.c - one message's DKIM verification on libopendkim: the process-wide
 * library handle, the per-message handle, and feeding headers and body as they stream.
 * Owns struct dkim_eval_lib and struct dkim_eval; not the key lookup (dkim_dns.c), the
 * mapping to results (dkim_result.c) or the struct dns it is given.
 * Threads: one DKIM_LIB per process, shared by every milter thread (with the key cache
 * of dkim_key.c, locked inside). It is written only in dkim_eval_lib_new (options,
 * callbacks) and only read afterwards; the
 * callbacks find their message through dkim_get_user_context and never touch the
 * library handle. Our key lookup never answers DKIM_CBSTAT_DEFAULT, so libopendkim's
 * lazily created shared resolver is never created. A struct dkim_eval belongs to one
 * message, driven by one thread at a time. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dkim/dkim_int.h"
#include "util/xalloc.h"

#define DKIM_SIGNATURE "DKIM-Signature"

static DKIM_CBSTAT prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs);
static int build_field(struct dkim_eval *v, const char *name, const char *value);
static int is_sha1(DKIM_SIGINFO *sig);
static void body_setup(struct dkim_eval *v);
static void body_sig(struct dkim_eval *v, int slot, DKIM_SIGINFO *sig);
static void body_error(struct dkim_eval *v, int slot);

/* dkim_eval_lib_new - dkim_init plus our options and callbacks */
struct dkim_eval_lib *dkim_eval_lib_new(const struct dkim_eval_conf *conf)
{
    struct dkim_eval_lib *l;
    uint32_t flags = DKIM_LIBFLAGS_BADSIGHANDLES;
    unsigned int minbits;
    uint64_t drift = DKIM_EVAL_CLOCK_DRIFT;
    time_t now = time(NULL);

    if ((l = calloc(1, sizeof(*l))) == NULL)
        return NULL;
    if (conf != NULL)
        l->conf = *conf;
    if (l->conf.max_sigs <= 0)
        l->conf.max_sigs = DKIM_EVAL_MAX_SIGS_DEFAULT;
    if (l->conf.max_sigs > DKIM_EVAL_MAX_TRACK)
        l->conf.max_sigs = DKIM_EVAL_MAX_TRACK;
    if (l->conf.min_rsa_bits <= 0)
        l->conf.min_rsa_bits = DKIM_EVAL_MIN_RSA_BITS;
    minbits = (unsigned int)l->conf.min_rsa_bits;
    /* libopendkim checks x= against time(), not DKIM_OPTS_FIXEDTIME (which only dates
     * new signatures). A fixed time in the past becomes extra clock drift, so its
     * "expired" means "expired at fixed_time"; dkim_result.c checks x= against
     * fixed_time itself as well, which covers a fixed time in the future. */
    if (l->conf.fixed_time > 0 && l->conf.fixed_time < now)
        drift += (uint64_t)(now - l->conf.fixed_time);
    if ((l->keys = dkim_key_cache_new()) == NULL || (l->lib = dkim_init(NULL, NULL)) == NULL)
        goto fail;
    if (dkim_options(l->lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
            DKIM_STAT_OK ||
        dkim_options(l->lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits, sizeof(minbits)) !=
            DKIM_STAT_OK ||
        dkim_options(l->lib, DKIM_OP_SETOPT, DKIM_OPTS_CLOCKDRIFT, &drift, sizeof(drift)) !=
            DKIM_STAT_OK)
        goto fail;
    if (l->conf.fixed_time > 0) {
        uint64_t ft = (uint64_t)l->conf.fixed_time;

        if (dkim_options(l->lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &ft, sizeof(ft)) !=
            DKIM_STAT_OK)
            goto fail;
    }
    if (dkim_set_key_lookup(l->lib, dkim_dns_key_lookup) != DKIM_STAT_OK ||
        dkim_set_prescreen(l->lib, prescreen) != DKIM_STAT_OK)
        goto fail;
    return l;
fail:
    dkim_eval_lib_free(l);
    errno = EINVAL;
    return NULL;
}

void dkim_eval_lib_free(struct dkim_eval_lib *l)
{
    if (l == NULL)
        return;
    if (l->lib != NULL)
        dkim_close(l->lib);
    dkim_key_cache_free(l->keys);
    free(l);
}

/* dkim_eval_new - one verification handle; the message struct is its user context */
struct dkim_eval *dkim_eval_new(struct dkim_eval_lib *lib, struct dns *dns, const char *qid)
{
    struct dkim_eval *v;
    DKIM_STAT st;

    if (lib == NULL || dns == NULL)
        return NULL;
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return NULL;
    v->lib = lib;
    v->dns = dns;
    v->now = lib->conf.fixed_time > 0 ? lib->conf.fixed_time : time(NULL);
    buf_init(&v->hdr, DKIM_EVAL_MAX_HEADER);
    v->dkim = dkim_verify(lib->lib, (const unsigned char *)(qid != NULL ? qid : "-"), NULL, &st);
    if (v->dkim == NULL) {
        dkim_eval_free(v);
        return NULL;
    }
    dkim_set_user_context(v->dkim, v);
    dkim_bodyhash_init(&v->bh);
    return v;
}

void dkim_eval_set_leadspace(struct dkim_eval *v, int on)
{
    v->leadspace = on != 0;
}

void dkim_eval_free(struct dkim_eval *v)
{
    if (v == NULL)
        return;
    if (v->dkim != NULL)
        dkim_free(v->dkim);
    for (int i = 0; i < DKIM_EVAL_MAX_TRACK; i++)
        dkim_key_release(v->slot[i].key);
    dkim_bodyhash_free(&v->bh);
    buf_release(&v->hdr);
    free(v);
}

/* build_field - "Name:" [" "] value into v->hdr, every line ending made CRLF */
static int build_field(struct dkim_eval *v, const char *name, const char *value)
{
    const char *p, *start;

    buf_reset(&v->hdr);
    if (buf_append_str(&v->hdr, name) < 0 || buf_append(&v->hdr, ":", 1) < 0)
        return -1;
    if (!v->leadspace && buf_append(&v->hdr, " ", 1) < 0)
        return -1;
    /* Folded lines: libmilter hands them over as received, Postfix with bare LF.
     * libopendkim's own DKIM_LIBFLAGS_FIXCRLF keeps the old length, so fix them here. */
    for (p = start = value; *p != '\0'; p++) {
        if (*p != '\n' || (p > value && p[-1] == '\r'))
            continue;
        if (buf_append(&v->hdr, start, (size_t)(p - start)) < 0 ||
            buf_append(&v->hdr, "\r\n", 2) < 0)
            return -1;
        start = p + 1;
    }
    return buf_append(&v->hdr, start, (size_t)(p - start));
}

/* dkim_eval_header - feed one field; DKIM-Signature fields are tracked in header order */
int dkim_eval_header(struct dkim_eval *v, const char *name, const char *value)
{
    int issig, rc = 0;
    struct dkim_slot *slot = NULL;
    DKIM_STAT st;

    if (v->failed || v->eoh || name == NULL || value == NULL || name[0] == '\0')
        return -1;
    issig = strcasecmp(name, DKIM_SIGNATURE) == 0;
    if (issig) {
        if (v->nsighdr < DKIM_EVAL_MAX_TRACK)
            slot = &v->slot[v->nsighdr];
        v->nsighdr++;
    }
    if (build_field(v, name, value) < 0) {
        if (slot != NULL)
            slot->toolong = 1;
        return -1;
    }
    st = dkim_header(v->dkim, (unsigned char *)v->hdr.data, v->hdr.len);
    if (issig) {
        /* The field is kept even when its tag list is refused; with
         * DKIM_LIBFLAGS_BADSIGHANDLES the refused set still gets a signature handle,
         * so libopendkim's list stays in header order with ours. */
        v->nfed++;
        if (slot != NULL) {
            slot->fed = 1;
            slot->bad = st != DKIM_STAT_OK;
        }
    } else if (st != DKIM_STAT_OK) {
        rc = -1;
    }
    return rc;
}

/* is_sha1 - a=rsa-sha1 (RFC 8301 section 3.1: verifiers MUST NOT accept it) */
static int is_sha1(DKIM_SIGINFO *sig)
{
    const unsigned char *a = dkim_sig_gettagvalue(sig, 0, (unsigned char *)"a");

    return a != NULL && strcasecmp((const char *)a, "rsa-sha1") == 0;
}

/* prescreen - before any key lookup: keep the signature list, and have libopendkim
 * ignore what we will not evaluate (past max_sigs, refused tag lists, rsa-sha1), so
 * they cost no DNS query. */
static DKIM_CBSTAT prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
    struct dkim_eval *v = dkim_get_user_context(dkim);
    int slotidx = 0;

    if (v == NULL)
        return DKIM_CBSTAT_ERROR;
    if (nsigs != v->nfed) {
        /* A set was lost inside libopendkim (out of memory): the order is unknown. */
        v->failed = 1;
        return DKIM_CBSTAT_ERROR;
    }
    v->sigs = sigs;
    v->nsigs = nsigs;
    for (int i = 0; i < nsigs; i++) {
        const struct dkim_slot *slot = NULL;

        /* Find the i-th fed field's slot (unfed over-long fields are skipped). */
        while (slotidx < v->nsighdr && slotidx < DKIM_EVAL_MAX_TRACK && !v->slot[slotidx].fed)
            slotidx++;
        if (slotidx < DKIM_EVAL_MAX_TRACK && slotidx < v->nsighdr)
            slot = &v->slot[slotidx];
        if (slot == NULL || slotidx >= v->lib->conf.max_sigs || slot->bad || is_sha1(sigs[i]))
            dkim_sig_ignore(sigs[i]);
        slotidx++;
    }
    return DKIM_CBSTAT_CONTINUE;
}

/* dkim_eval_slot_of - which tracked field sig came from (the list is the one the
 * prescreen callback saw: dkim_getsiglist answers only after end of header) */
int dkim_eval_slot_of(struct dkim_eval *v, DKIM_SIGINFO *sig)
{
    int fed = 0;

    for (int i = 0; i < v->nsighdr && i < DKIM_EVAL_MAX_TRACK; i++) {
        if (!v->slot[i].fed)
            continue;
        if (fed < v->nsigs && v->sigs[fed] == sig)
            return i;
        fed++;
    }
    return -1;
}

int dkim_eval_eoh(struct dkim_eval *v)
{
    DKIM_STAT st;

    if (v->eoh)
        return v->failed ? -1 : 0;
    v->eoh = 1;
    buf_release(&v->hdr); /* serves header fields only: a message in its body holds none */
    if (v->failed)
        return -1;
    st = dkim_eoh(v->dkim);
    switch (st) {
    case DKIM_STAT_OK:
    case DKIM_STAT_NOSIG:    /* unsigned, or every signature ignored */
    case DKIM_STAT_CANTVRFY: /* no usable signature: per-signature errors tell why */
    case DKIM_STAT_SYNTAX:
        return 0;
    default:
        v->failed = 1;
        return -1;
    }
}

/* The body goes to our body hashes (dkim_bodyhash.c), never to libopendkim, which then
 * hashes an empty body: the error it gives a signature with l= past that empty body is
 * replaced with ours after dkim_eom (body_error). */

/* body_sig - what the body must give signature sig (tracked field slot): its
 * canonicalization's length when it has l=, and a body hash when its key is usable
 * (only those reach the bh= comparison in dkim_result.c) */
static void body_sig(struct dkim_eval *v, int slot, DKIM_SIGINFO *sig)
{
    struct dkim_bodysig *b = &v->body[slot];
    const struct dkim_slot *s = &v->slot[slot];
    const char *l = (const char *)dkim_sig_gettagvalue(sig, 0, (unsigned char *)"l");
    dkim_canon_t hc = DKIM_CANON_SIMPLE, bc = DKIM_CANON_SIMPLE;
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;

    b->eoh_err = (short)dkim_sig_geterror(sig);
    b->known = 1;
    if ((dkim_sig_getflags(sig) & DKIM_SIGFLAG_IGNORE) != 0)
        return;
    (void)dkim_sig_getcanons(sig, &hc, &bc);
    b->relaxed = bc == DKIM_CANON_RELAXED;
    if (l != NULL && *l >= '0' && *l <= '9') {
        char *end;

        errno = 0;
        b->l = strtoull(l, &end, 10);
        if (*end == '\0') {
            b->has_l = 1;
            if (errno == ERANGE || b->l > (uint64_t)LLONG_MAX)
                b->l = (uint64_t)LLONG_MAX;
            dkim_bodyhash_count(&v->bh, b->relaxed);
        }
    }
    if (s->lookup != LOOKUP_KEY || s->key == NULL || s->key->err != DKIM_KEY_OK)
        return;
    (void)dkim_sig_getsignalg(sig, &alg);
    b->digest = (signed char)dkim_bodyhash_want(&v->bh, b->relaxed, alg == DKIM_SIGN_RSASHA1,
                                                b->has_l ? (long long)b->l : -1);
}

/* body_setup - before the first body byte (or at the end for an empty body): which
 * canonicalizations and digests the evaluated signatures need */
static void body_setup(struct dkim_eval *v)
{
    int fed = 0;

    v->body_ready = 1;
    for (int i = 0; i < DKIM_EVAL_MAX_TRACK; i++)
        v->body[i].digest = -1; /* the rest is zero (calloc) */
    for (int i = 0; i < v->nsighdr && i < DKIM_EVAL_MAX_TRACK; i++) {
        if (!v->slot[i].fed)
            continue;
        if (fed < v->nsigs && i < v->lib->conf.max_sigs)
            body_sig(v, i, v->sigs[fed]);
        fed++;
    }
}

/* body_error - the error dkim_eom would have given the signature had it seen the body:
 * the one it had at end of header (dkim_eom finds no other, as every evaluated
 * signature was processed then), or "l= too large", which dkim_eom sets over any other
 * when l= is past the canonical body. dkim_eom itself, on its empty body, would set it
 * for any l= > 2 (simple) or > 0 (relaxed), and dkim_sig_seterror cannot undo that. */
static void body_error(struct dkim_eval *v, int slot)
{
    struct dkim_bodysig *b = &v->body[slot];

    b->err = b->eoh_err;
    if (b->has_l && b->l > dkim_bodyhash_total(&v->bh, b->relaxed))
        b->err = DKIM_SIGERROR_TOOLARGE_L;
}

int dkim_eval_body(struct dkim_eval *v, const unsigned char *p, size_t n)
{
    if (!v->eoh && dkim_eval_eoh(v) < 0)
        return -1;
    if (v->failed || n == 0)
        return v->failed ? -1 : 0;
    if (!v->body_ready)
        body_setup(v);
    dkim_bodyhash_add(&v->bh, p, n);
    return 0;
}

/* dkim_eval_finish - end of message, then one result per DKIM-Signature field */
int dkim_eval_finish(struct dkim_eval *v, struct dkim_sig_res *out, int max, int *nout)
{
    DKIM_SIGINFO **sigs = NULL;
    int nsigs = 0, fed = 0, n;

    *nout = 0;
    if (!v->eoh)
        (void)dkim_eval_eoh(v);
    if (!v->failed && v->nsighdr > 0) {
        DKIM_STAT st;

        if (!v->body_ready)
            body_setup(v);
        (void)dkim_bodyhash_end(&v->bh); /* a failed digest is an internal error there */
        st = dkim_eom(v->dkim, NULL);

        v->eom_status = st;
        if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL || st == DKIM_STAT_CBERROR ||
            st == DKIM_STAT_CBINVALID)
            v->failed = 1;
        else if (v->nfed > 0 && dkim_getsiglist(v->dkim, &sigs, &nsigs) != DKIM_STAT_OK)
            v->failed = 1;
        else if (nsigs != v->nfed)
            v->failed = 1;
    }
    n = v->nsighdr < max ? v->nsighdr : max;
    for (int i = 0; i < n; i++) {
        struct dkim_sig_res *r = &out[i];
        struct dkim_slot none = {0, 0, 0, 0, NULL};
        const struct dkim_slot *slot = i < DKIM_EVAL_MAX_TRACK ? &v->slot[i] : &none;
        DKIM_SIGINFO *sig = NULL;

        if (i >= DKIM_EVAL_MAX_TRACK)
            none.fed = 1; /* beyond tracking: fed, reported as "too many" below */
        if (slot->fed && !v->failed && fed < nsigs)
            sig = sigs[fed];
        if (sig != NULL && i < DKIM_EVAL_MAX_TRACK && v->body[i].known)
            body_error(v, i);
        if (slot->fed)
            fed++;
        if (v->failed) {
            memset(r, 0, sizeof(*r));
            r->result = AUTH_TEMPERROR;
            r->full_body = 1;
            sa_strlcpy(r->reason, DKIM_REASON_INTERNAL, sizeof(r->reason));
            continue;
        }
        dkim_result_fill(v, sig, slot, i, r);
    }
    *nout = n;
    return v->failed ? -1 : 0;
}
