/* store.c - the consent store interface: picks the backend named by the config and
 * implements, once for both backends, the lookup order, changes with their evidence,
 * the bulk import transaction and the schema migrations.
 * Owns the dispatch and the per-thread error text; not SQL (store_sqlite.c,
 * store_pgsql.c, store_schema.c), key forms (store_addr.c) or CSV (store_csv.c).
 * Threads: no state of its own besides the thread-local error text; every call
 * borrows one connection from the backend's pool and returns it before returning.
 * A call that finds its connection broken (the database restarted) retries once on a
 * fresh one, so a reconnect costs no lookup. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "store_int.h"
#include "util/xalloc.h"

static _Thread_local char errbuf[512];

static enum store_lookup get_retry(struct store *st, enum store_kind kind, const char *key,
                                   int *enforce);
static int change(struct store *st, enum store_kind kind, const char *subject, int enforce,
                  const struct store_evidence *ev, int *existed);
static int norm_subject(enum store_kind kind, const char *in, int lcs, char *out, size_t outlen);

/* store_seterr - the calling thread's error text */
void store_seterr(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
    va_end(ap);
}

/* store_strerror - the calling thread's last error */
const char *store_strerror(void)
{
    return errbuf;
}

/* store_kind_name - "user" or "domain" */
const char *store_kind_name(enum store_kind k)
{
    return k == STORE_KIND_DOMAIN ? "domain" : "user";
}

/* store_match_name - the rule names of the lookup order */
const char *store_match_name(enum store_match m)
{
    static const char *const names[] = {"address", "base", "domain", "default"};

    return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

/* store_backend_name - the name in the backend table */
const char *store_backend_name(const struct store *st)
{
    return st->ops->name;
}

/* store_open - the backend of conf->store_backend, schema checked unless INIT */
struct store *store_open(const struct sa_conf *conf, int flags, char *err, size_t errlen)
{
    const struct store_ops *ops =
        conf->store_backend == CONF_STORE_POSTGRESQL ? &store_pgsql_ops : &store_sqlite_ops;
    struct store *st;
    int v;

    if ((flags & STORE_OPEN_INIT) != 0)
        flags |= STORE_OPEN_WRITE;
    errbuf[0] = '\0';
    if ((st = ops->open(conf, flags, err, errlen)) == NULL)
        return NULL;
    if ((flags & STORE_OPEN_INIT) != 0)
        return st;
    v = store_schema_version(st);
    if (v < 0) {
        snprintf(err, errlen, "%s store: cannot read the schema version: %s", ops->name,
                 store_strerror());
    } else if (v == 0) {
        snprintf(err, errlen, "%s store: no schema (run \"senderauthctl init\")", ops->name);
    } else if (v < STORE_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "%s store: schema version %d is older than %d (run \"senderauthctl migrate\")",
                 ops->name, v, STORE_SCHEMA_VERSION);
    } else if (v > STORE_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "%s store: schema version %d is newer than this program's %d (upgrade it)",
                 ops->name, v, STORE_SCHEMA_VERSION);
    } else {
        return st;
    }
    ops->close(st);
    return NULL;
}

/* store_close - everything; NULL ok */
struct store *store_close(struct store *st)
{
    if (st != NULL)
        st->ops->close(st);
    return NULL;
}

/* store_schema_version - MAX(version) of schema_version, 0 without the table */
int store_schema_version(struct store *st)
{
    struct store_conn *c;
    int v = -1;

    for (int try = 0; try < 2; try++) {
        if ((c = st->ops->acquire(st)) == NULL)
            return -1;
        v = st->ops->schema_version(c);
        if (v >= 0 || !st->ops->broken(c)) {
            st->ops->release(st, c);
            return v;
        }
        st->ops->release(st, c);
    }
    return v;
}

/* store_migrate - apply every step above the current version, one transaction each */
int store_migrate(struct store *st, int *from, int *to)
{
    struct store_conn *c;
    int v, rc = 0;

    if ((st->flags & STORE_OPEN_WRITE) == 0) {
        store_seterr("store opened read-only");
        return -1;
    }
    if ((c = st->ops->acquire(st)) == NULL)
        return -1;
    if ((v = st->ops->schema_version(c)) < 0) {
        st->ops->release(st, c);
        return -1;
    }
    if (from != NULL)
        *from = v;
    if (v > STORE_SCHEMA_VERSION) {
        store_seterr("schema version %d is newer than this program's %d", v, STORE_SCHEMA_VERSION);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < store_nmigrations; i++) {
        if (store_migrations[i].version <= v)
            continue;
        if (st->ops->migrate_step(c, store_migrations[i].version, (long long)time(NULL)) < 0)
            rc = -1;
        else
            v = store_migrations[i].version;
    }
    st->ops->release(st, c);
    if (to != NULL)
        *to = v;
    return rc;
}

/* get_retry - one lookup, retried once on a fresh connection if this one broke */
static enum store_lookup get_retry(struct store *st, enum store_kind kind, const char *key,
                                   int *enforce)
{
    struct store_conn *c;
    enum store_lookup r = STORE_ERROR;

    for (int try = 0; try < 2; try++) {
        if ((c = st->ops->acquire(st)) == NULL)
            return STORE_ERROR;
        r = st->ops->get(c, kind, key, enforce);
        if (r != STORE_ERROR || !st->ops->broken(c)) {
            st->ops->release(st, c);
            return r;
        }
        st->ops->release(st, c);
    }
    return r;
}

/* store_get_user - exact key, retried once on a broken connection */
enum store_lookup store_get_user(struct store *st, const char *address, int *enforce)
{
    return get_retry(st, STORE_KIND_USER, address, enforce);
}

/* store_get_domain - exact key, retried once on a broken connection */
enum store_lookup store_get_domain(struct store *st, const char *domain, int *enforce)
{
    return get_retry(st, STORE_KIND_DOMAIN, domain, enforce);
}

/* store_resolve - exact address, base address, domain row, configured default */
enum store_lookup store_resolve(struct store *st, const char *rcpt,
                                const struct store_addr_rules *rules, int default_enforce,
                                int *enforce, enum store_match *via)
{
    char addr[STORE_ADDR_MAX], base[STORE_ADDR_MAX];
    enum store_lookup r;
    enum store_match m = STORE_MATCH_ADDRESS;
    int stripped;

    *enforce = 0;
    if (via != NULL)
        *via = STORE_MATCH_DEFAULT;
    if (store_normalize_address(rcpt, rules->local_case_sensitive, addr, sizeof(addr)) < 0)
        return STORE_ERROR;
    r = store_get_user(st, addr, enforce);
    if (r == STORE_NOTFOUND) {
        stripped = store_strip_subaddress(addr, rules->delimiters, base, sizeof(base));
        if (stripped < 0)
            return STORE_ERROR;
        if (stripped == 1) {
            m = STORE_MATCH_BASE;
            r = store_get_user(st, base, enforce);
        }
    }
    if (r == STORE_NOTFOUND) {
        m = STORE_MATCH_DOMAIN;
        r = store_get_domain(st, strrchr(addr, '@') + 1, enforce);
    }
    if (r == STORE_ERROR) {
        *enforce = 0;
        return STORE_ERROR;
    }
    if (r == STORE_NOTFOUND) {
        *enforce = default_enforce != 0;
        m = STORE_MATCH_DEFAULT;
    }
    if (via != NULL)
        *via = m;
    return r;
}

/* change - one upsert or delete with its event; retried once if the connection broke
 * before anything was written (a broken connection rolls back by itself) */
static int change(struct store *st, enum store_kind kind, const char *subject, int enforce,
                  const struct store_evidence *ev, int *existed)
{
    static const struct store_evidence none;
    struct store_change ch = {
        kind, subject, enforce, NULL, NULL, (long long)time(NULL), ev != NULL ? ev : &none};
    struct store_conn *c;
    int rc = -1;

    if ((st->flags & STORE_OPEN_WRITE) == 0) {
        store_seterr("store opened read-only");
        return -1;
    }
    ch.source = ch.ev->channel;
    ch.note = ch.ev->note;
    for (int try = 0; try < 2; try++) {
        if ((c = st->ops->acquire(st)) == NULL)
            return -1;
        rc = st->ops->put(c, &ch, existed);
        if (rc == 0 || !st->ops->broken(c)) {
            st->ops->release(st, c);
            return rc;
        }
        st->ops->release(st, c);
    }
    return rc;
}

/* store_set_user - upsert with its event */
int store_set_user(struct store *st, const char *address, int enforce,
                   const struct store_evidence *ev)
{
    int existed;

    return change(st, STORE_KIND_USER, address, enforce != 0, ev, &existed);
}

/* store_set_domain - upsert with its event */
int store_set_domain(struct store *st, const char *domain, int enforce,
                     const struct store_evidence *ev)
{
    int existed;

    return change(st, STORE_KIND_DOMAIN, domain, enforce != 0, ev, &existed);
}

/* store_del_user - delete with its event */
enum store_lookup store_del_user(struct store *st, const char *address,
                                 const struct store_evidence *ev)
{
    int existed = 0;

    if (change(st, STORE_KIND_USER, address, -1, ev, &existed) < 0)
        return STORE_ERROR;
    return existed ? STORE_FOUND : STORE_NOTFOUND;
}

/* store_del_domain - delete with its event */
enum store_lookup store_del_domain(struct store *st, const char *domain,
                                   const struct store_evidence *ev)
{
    int existed = 0;

    if (change(st, STORE_KIND_DOMAIN, domain, -1, ev, &existed) < 0)
        return STORE_ERROR;
    return existed ? STORE_FOUND : STORE_NOTFOUND;
}

/* norm_subject - the key form of an import subject */
static int norm_subject(enum store_kind kind, const char *in, int lcs, char *out, size_t outlen)
{
    if (kind == STORE_KIND_USER)
        return store_normalize_address(in, lcs, out, outlen);
    return store_normalize_domain(in, out, outlen);
}

/* store_import - every row or none, in one transaction on one connection */
int store_import(struct store *st, store_import_next_fn next, void *arg, int local_case_sensitive,
                 const struct store_evidence *ev, long *count, char *err, size_t errlen)
{
    static const struct store_evidence none;
    struct store_import_row row;
    struct store_change ch;
    struct store_conn *c;
    char key[STORE_ADDR_MAX];
    long n = 0;
    int r;

    if (count != NULL)
        *count = 0;
    err[0] = '\0';
    if ((st->flags & STORE_OPEN_WRITE) == 0) {
        snprintf(err, errlen, "store opened read-only");
        return -1;
    }
    if (ev == NULL)
        ev = &none;
    if ((c = st->ops->acquire(st)) == NULL) {
        snprintf(err, errlen, "%s", store_strerror());
        return -1;
    }
    if (st->ops->import_begin(c) < 0) {
        snprintf(err, errlen, "%s", store_strerror());
        st->ops->release(st, c);
        return -1;
    }
    memset(&ch, 0, sizeof(ch));
    ch.now = (long long)time(NULL);
    ch.ev = ev;
    for (;;) {
        memset(&row, 0, sizeof(row));
        r = next(arg, &row, err, errlen);
        if (r == 0)
            break;
        if (r < 0)
            goto fail;
        ch.kind = strchr(row.subject, '@') != NULL ? STORE_KIND_USER : STORE_KIND_DOMAIN;
        if (norm_subject(ch.kind, row.subject, local_case_sensitive, key, sizeof(key)) < 0) {
            snprintf(err, errlen, "line %ld: %s", row.line, store_strerror());
            goto fail;
        }
        ch.subject = key;
        ch.enforce = row.enforce != 0;
        ch.source = row.source != NULL ? row.source : ev->channel;
        ch.note = row.note != NULL ? row.note : ev->note;
        if (st->ops->import_row(c, &ch, row.line) < 0) {
            snprintf(err, errlen, "line %ld: %s", row.line, store_strerror());
            goto fail;
        }
        n++;
    }
    if (st->ops->import_end(c, 1) < 0) {
        snprintf(err, errlen, "commit: %s", store_strerror());
        st->ops->release(st, c);
        return -1;
    }
    st->ops->release(st, c);
    if (count != NULL)
        *count = n;
    return 0;

fail:
    st->ops->import_end(c, 0);
    st->ops->release(st, c);
    return -1;
}

/* store_foreach - one kind, subject order, one snapshot */
int store_foreach(struct store *st, enum store_kind kind, store_row_fn fn, void *arg)
{
    struct store_conn *c;
    int rc;

    if ((c = st->ops->acquire(st)) == NULL)
        return -1;
    rc = st->ops->foreach (c, kind, fn, arg);
    st->ops->release(st, c);
    return rc;
}

/* store_get_stats - counts and the newest change */
int store_get_stats(struct store *st, struct store_stats *out)
{
    struct store_conn *c;
    int rc;

    memset(out, 0, sizeof(*out));
    out->backend = st->ops->name;
    if ((c = st->ops->acquire(st)) == NULL)
        return -1;
    if ((rc = st->ops->schema_version(c)) >= 0) {
        out->schema_version = rc;
        rc = st->ops->stats(c, out);
    }
    st->ops->release(st, c);
    return rc < 0 ? -1 : 0;
}
