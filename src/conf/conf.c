/* conf.c - load a libconfig file into an immutable struct sa_conf, collecting every error.
 * Owns the libconfig walk (unknown keys), type checks, defaults and values derived at
 * load; not the key table (conf_keys.c), value syntax (conf_parse.c, cidr.c), message
 * locations (conf_source.c), lifetime (conf_ref.c) or the writers (conf_write.c).
 * Threads: loading is reentrant (libconfig keeps no global state); a loaded conf is
 * read-only. */
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "conf_keys.h"

static struct sa_conf *load_read(config_t *cf, int read_ok, const struct conf_src *src,
                                 struct conf_errors *errs);
static struct sa_conf *load_config(config_t *cf, const struct conf_src *src,
                                   struct conf_errors *errs);
static void walk_unknown(const config_setting_t *g, const char *prefix, const struct conf_src *src,
                         struct conf_errors *errs);
static const char *suggest(const char *path);
static int apply_key(const struct conf_key *k, const config_setting_t *s, struct sa_conf *c,
                     struct conf_loc where, struct conf_errors *errs);
static int apply_list(const struct conf_key *k, const config_setting_t *s, struct sa_conf *c,
                      struct conf_loc where, struct conf_errors *errs);
typedef int (*elem_parse_fn)(const char *str, void *out, char *why, size_t whylen);
static int apply_elems(const struct conf_key *k, const config_setting_t *s, int n,
                       struct conf_loc where, struct conf_errors *errs, elem_parse_fn parse,
                       void *v, size_t size, int *count);
static int parse_cidr(const char *str, void *out, char *why, size_t whylen);
static int parse_nameserver(const char *str, void *out, char *why, size_t whylen);
static int finish(struct sa_conf *c, config_t *cf, const struct conf_src *src,
                  struct conf_errors *errs);
static void defaults_config(config_t *dc);

/* conf_load_file - read path (relative @include from its directory) */
struct sa_conf *conf_load_file(const char *path, struct conf_errors *errs)
{
    config_t cf;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    struct conf_src src;
    struct stat st;
    FILE *fp;

    if (errs)
        memset(errs, 0, sizeof(*errs));
    if ((fp = fopen(path, "r")) == NULL || fstat(fileno(fp), &st) != 0 || S_ISDIR(st.st_mode)) {
        conf_err_add(errs, 0, (struct conf_loc){path, 0, NULL, NULL}, NULL, "cannot open: %s",
                     fp == NULL ? strerror(errno) : strerror(EISDIR));
        if (fp != NULL)
            fclose(fp);
        return NULL;
    }
    fclose(fp);
    if (slash == NULL)
        sa_strlcpy(dir, ".", sizeof(dir));
    else if (slash == path)
        sa_strlcpy(dir, "/", sizeof(dir));
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    src.name = path;
    src.dir = strcmp(dir, ".") == 0 ? NULL : dir;
    src.text = NULL;
    config_init(&cf);
    config_set_include_dir(&cf, dir);
    return load_read(&cf, config_read_file(&cf, path) == CONFIG_TRUE, &src, errs);
}

/* conf_load_string - text in place of a file; name appears in messages */
struct sa_conf *conf_load_string(const char *text, const char *name, struct conf_errors *errs)
{
    config_t cf;
    struct conf_src src = {name, NULL, text};

    if (errs)
        memset(errs, 0, sizeof(*errs));
    config_init(&cf);
    return load_read(&cf, config_read_string(&cf, text) == CONFIG_TRUE, &src, errs);
}

/* load_read - after libconfig read cf (read_ok: without a syntax error): the loaded
 * config, or NULL with the errors in errs; cf is destroyed either way */
static struct sa_conf *load_read(config_t *cf, int read_ok, const struct conf_src *src,
                                 struct conf_errors *errs)
{
    struct sa_conf *c = NULL;

    if (!read_ok)
        conf_syntax_error(cf, src, errs);
    else
        c = load_config(cf, src, errs);
    config_destroy(cf);
    return c;
}

/* conf_defaults - the generated default file, loaded */
struct sa_conf *conf_defaults(void)
{
    struct conf_errors *errs = xcalloc(1, sizeof(*errs));
    config_t dc;
    struct sa_conf *c;
    static const struct conf_src src = {"(defaults)", NULL, NULL};

    defaults_config(&dc);
    c = load_config(&dc, &src, errs);
    config_destroy(&dc);
    if (c == NULL) {
        conf_errors_print(errs, stderr);
        log_panic("conf: the built-in defaults do not load");
    }
    free(errs);
    return c;
}

/* defaults_config - parse conf_write_default's text; a failure is a bug in the table */
static void defaults_config(config_t *dc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    if (fp == NULL || conf_write_default(fp) < 0 || fclose(fp) != 0)
        log_panic("conf: cannot build the default configuration");
    config_init(dc);
    if (config_read_string(dc, text) != CONFIG_TRUE)
        log_panic("conf: default configuration line %d: %s", config_error_line(dc),
                  config_error_text(dc));
    free(text);
}

/* load_config - unknown keys, then every key from cf or from the defaults */
static struct sa_conf *load_config(config_t *cf, const struct conf_src *src,
                                   struct conf_errors *errs)
{
    struct sa_conf *c = xcalloc(1, sizeof(*c));
    struct conf_errors *local = NULL;
    config_t dc;
    int is_defaults = strcmp(src->name, "(defaults)") == 0;

    if (errs == NULL)
        errs = local = xcalloc(1, sizeof(*local));
    atomic_init(&c->refcnt, 1);
    c->source = xstrdup(src->name);
    walk_unknown(config_root_setting(cf), "", src, errs);
    if (!is_defaults)
        defaults_config(&dc);
    for (size_t i = 0; i < conf_nkeys; i++) {
        const struct conf_key *k = &conf_keys[i];
        const config_setting_t *s = config_lookup(cf, k->path);

        if (s == NULL && !is_defaults)
            s = config_lookup(&dc, k->path);
        if (s == NULL)
            log_panic("conf: key %s has no default", k->path);
        apply_key(k, s, c, conf_setting_loc(s, src), errs);
    }
    finish(c, cf, src, errs);
    if (!is_defaults)
        config_destroy(&dc);
    conf_errs_sort(errs);
    if (errs->nerr > 0)
        c = conf_free(c);
    free(local);
    return c;
}

/* walk_unknown - every named setting must be a key or a group that holds keys */
static void walk_unknown(const config_setting_t *g, const char *prefix, const struct conf_src *src,
                         struct conf_errors *errs)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
        const char *sname = config_setting_name(s);
        char path[512];
        const char *hint;

        if (sname == NULL)
            continue;
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", sname);
        if (conf_key_find(path) != NULL)
            continue; /* its type is checked by apply_key */
        if (conf_key_is_group(path)) {
            if (config_setting_is_group(s))
                walk_unknown(s, path, src, errs);
            else
                conf_err_add(errs, 0, conf_setting_loc(s, src), path,
                             "must be a group: %s = { ... };", path);
            continue;
        }
        hint = suggest(path);
        if (hint)
            conf_err_add(errs, 0, conf_setting_loc(s, src), path, "unknown key (did you mean %s?)",
                         hint);
        else
            conf_err_add(errs, 0, conf_setting_loc(s, src), path, "unknown key");
    }
}

/* suggest - the key nearest to path by edit distance, if within 2 */
static const char *suggest(const char *path)
{
    const char *best = NULL;
    size_t bestd = 3, n = strlen(path);
    size_t row[64];

    if (n >= sizeof(row) / sizeof(row[0]))
        return NULL;
    for (size_t i = 0; i < conf_nkeys; i++) {
        const char *k = conf_keys[i].path;
        size_t m = strlen(k), diag;

        for (size_t j = 0; j <= n; j++)
            row[j] = j;
        for (size_t a = 1; a <= m; a++) {
            diag = row[0];
            row[0] = a;
            for (size_t j = 1; j <= n; j++) {
                size_t up = row[j], v = diag + (k[a - 1] != path[j - 1]);

                if (up + 1 < v)
                    v = up + 1;
                if (row[j - 1] + 1 < v)
                    v = row[j - 1] + 1;
                diag = up;
                row[j] = v;
            }
        }
        if (row[n] < bestd) {
            bestd = row[n];
            best = k;
        }
    }
    return best;
}

/* apply_key - type-check one setting and store it in its field */
static int apply_key(const struct conf_key *k, const config_setting_t *s, struct sa_conf *c,
                     struct conf_loc where, struct conf_errors *errs)
{
    char *field = (char *)c + k->off;
    char why[CONF_MAX_ERRLEN];
    int t = config_setting_type(s);
    const char *str = t == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
    long long v;

    switch (k->type) {
    case CONF_T_BOOL:
        if (t != CONFIG_TYPE_BOOL) {
            conf_err_add(errs, 0, where, k->path, "must be true or false");
            return -1;
        }
        *(int *)(void *)field = config_setting_get_bool(s) ? 1 : 0;
        return 0;
    case CONF_T_INT:
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
            conf_err_add(errs, 0, where, k->path, "must be an integer");
            return -1;
        }
        v = config_setting_get_int64(s);
        if (v < k->min || v > k->max || !conf_int_literal_ok(s, where, v)) {
            conf_err_add(errs, 0, where, k->path, "must be %ld..%ld", k->min, k->max);
            return -1;
        }
        *(int *)(void *)field = (int)v;
        return 0;
    case CONF_T_ADDRLIST:
    case CONF_T_CIDRLIST:
        return apply_list(k, s, c, where, errs);
    default:
        break;
    }
    /* The rest are strings. */
    if (str == NULL) {
        conf_err_add(errs, 0, where, k->path, "must be a string in double quotes");
        return -1;
    }
    switch (k->type) {
    case CONF_T_STRING:
        if ((long)strlen(str) > k->max) {
            conf_err_add(errs, 0, where, k->path, "must be at most %ld characters", k->max);
            return -1;
        }
        if (k->check && k->check(str, why, sizeof(why)) < 0) {
            conf_err_add(errs, 0, where, k->path, "%s", why);
            return -1;
        }
        *(char **)(void *)field = xstrdup(str);
        return 0;
    case CONF_T_ENUM:
        for (int i = 0; k->names[i]; i++) {
            if (strcasecmp(str, k->names[i]) == 0) {
                *(int *)(void *)field = i;
                return 0;
            }
        }
        why[0] = '\0';
        for (int i = 0; k->names[i]; i++) {
            sa_strlcat(why, i ? ", \"" : "\"", sizeof(why));
            sa_strlcat(why, k->names[i], sizeof(why));
            sa_strlcat(why, "\"", sizeof(why));
        }
        conf_err_add(errs, 0, where, k->path, "\"%s\" must be one of %s", str, why);
        return -1;
    case CONF_T_MODE: {
        unsigned int mode = 0;

        if (conf_parse_mode(str, &mode, why, sizeof(why)) < 0) {
            conf_err_add(errs, 0, where, k->path, "%s", why);
            return -1;
        }
        if (mode > (unsigned long)k->max) {
            conf_err_add(errs, 0, where, k->path, "\"%s\" must be at most \"%04lo\"", str, k->max);
            return -1;
        }
        *(unsigned int *)(void *)field = mode;
        return 0;
    }
    case CONF_T_SOCKET: {
        struct conf_socket *sock = (struct conf_socket *)(void *)field;

        if (conf_parse_socket(str, sock, why, sizeof(why)) < 0) {
            conf_err_add(errs, 0, where, k->path, "%s", why);
            return -1;
        }
        sock->spec = xstrdup(str);
        return 0;
    }
    default:
        log_panic("conf: key %s has no parser for its type", k->path);
    }
}

/* apply_list - a list/array of strings into an address or network list */
static int apply_list(const struct conf_key *k, const config_setting_t *s, struct sa_conf *c,
                      struct conf_loc where, struct conf_errors *errs)
{
    char *field = (char *)c + k->off;
    int t = config_setting_type(s), n;

    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
        conf_err_add(errs, 0, where, k->path, "must be a list of strings: [ \"...\", \"...\" ]");
        return -1;
    }
    n = config_setting_length(s);
    if (n > k->max) {
        conf_err_add(errs, 0, where, k->path, "at most %ld entries, not %d", k->max, n);
        return -1;
    }
    if (k->type == CONF_T_CIDRLIST) {
        struct conf_cidr_list *l = (struct conf_cidr_list *)(void *)field;

        l->v = n ? xcalloc((size_t)n, sizeof(*l->v)) : NULL;
        return apply_elems(k, s, n, where, errs, parse_cidr, l->v, sizeof(*l->v), &l->n);
    } else {
        struct conf_addr_list *l = (struct conf_addr_list *)(void *)field;

        return apply_elems(k, s, n, where, errs, parse_nameserver, l->v, sizeof(*l->v), &l->n);
    }
}

/* apply_elems - the n strings of list s, each parsed by parse into the next free slot of
 * v (elements of size bytes, room for n); *count: how many parsed. Every bad entry is
 * reported, not only the first. */
static int apply_elems(const struct conf_key *k, const config_setting_t *s, int n,
                       struct conf_loc where, struct conf_errors *errs, elem_parse_fn parse,
                       void *v, size_t size, int *count)
{
    char why[CONF_MAX_ERRLEN];
    int bad = 0;

    *count = 0;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
        const char *str = config_setting_get_string(e);

        if (str == NULL) {
            conf_err_add(errs, 0, conf_setting_loc(e, where.src), k->path,
                         "entry %d must be a string in double quotes", i + 1);
            bad = 1;
        } else if (parse(str, (char *)v + (size_t)*count * size, why, sizeof(why)) < 0) {
            conf_err_add(errs, 0, conf_setting_loc(e, where.src), k->path, "%s", why);
            bad = 1;
        } else {
            (*count)++;
        }
    }
    return bad ? -1 : 0;
}

/* parse_cidr, parse_nameserver - the element parsers of apply_elems */
static int parse_cidr(const char *str, void *out, char *why, size_t whylen)
{
    return conf_parse_cidr(str, out, why, whylen);
}

static int parse_nameserver(const char *str, void *out, char *why, size_t whylen)
{
    return conf_parse_nameserver(str, out, why, whylen);
}

/* finish - values derived at load time and checks that span keys */
static int finish(struct sa_conf *c, config_t *cf, const struct conf_src *src,
                  struct conf_errors *errs)
{
    const config_setting_t *s;
    struct stat st;

    if (c->authserv_id != NULL && c->authserv_id[0] == '\0') {
        char host[256];

        if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0') {
            s = config_lookup(cf, "authserv_id");
            conf_err_add(errs, 0, conf_setting_loc(s, src), "authserv_id",
                         "empty and the host name is unknown; set it");
            return -1;
        }
        host[sizeof(host) - 1] = '\0';
        free(c->authserv_id);
        c->authserv_id = xstrdup(host);
    }
    if (c->dmarc_discovery == CONF_DISCOVERY_TREEWALK)
        c->dmarc_tree_walk = 1; /* dmarc.discovery is the newer spelling of dmarc.tree_walk */
    if (c->quarantine_action == CONF_QUARANTINE_SUBADDRESS) {
        s = config_lookup(cf, "quarantine.action");
        if (c->policy_subaddress_delimiter == NULL || c->policy_subaddress_delimiter[0] == '\0' ||
            strpbrk(c->quarantine_tag, c->policy_subaddress_delimiter) != NULL) {
            conf_err_add(errs, 0, conf_setting_loc(s, src), "quarantine.action",
                         "\"subaddress\" needs a policy.subaddress_delimiter that "
                         "quarantine.tag does not contain");
            return -1;
        }
        if (!c->policy_reject_as_quarantine || c->policy_on_temperror != CONF_ON_ERROR_ACCEPT)
            conf_err_add(errs, 1, conf_setting_loc(s, src), "quarantine.action",
                         "\"subaddress\": mixed transactions are still split, because "
                         "policy.reject_as_quarantine is false or policy.on_temperror is "
                         "\"tempfail\" (docs/enforcement.md)");
    }
    if (conf_seal_load(c, cf, src, errs) < 0)
        return -1;
    if (c->psl_path != NULL && stat(c->psl_path, &st) != 0) {
        s = config_lookup(cf, "psl.path");
        conf_err_add(errs, 1, conf_setting_loc(s, src), "psl.path",
                     "%s: %s; libpsl's built-in list will be used", c->psl_path, strerror(errno));
    }
    return 0;
}
