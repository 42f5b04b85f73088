/* conf.c - load a libconfig file into an immutable struct sa_conf, collecting every error.
 * Owns the libconfig walk (unknown keys), type checks, defaults, the error list, the
 * reference count and the process-wide "current" pointer; not the key table
 * (conf_keys.c), value syntax (conf_parse.c, cidr.c) or the writers (conf_write.c).
 * Threads: loading is reentrant (libconfig keeps no global state); a loaded conf is
 * read-only. The reference count is atomic; the current pointer is guarded by
 * cur_lock, held only to copy the pointer and take a reference. */
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "conf_keys.h"

/* What is being loaded: the name in messages and the directory of relative @includes. */
struct src {
    const char *name;
    const char *dir;  /* NULL: included names are shown as libconfig gives them */
    const char *text; /* the text itself when it was not read from a file */
};

/* Where a message points: the file and line of a setting, or of the load itself. */
struct loc {
    const char *file;
    int line;        /* 0 = no line */
    const char *dir; /* shown before file: an included file, relative to src->dir */
    const struct src *src;
};

static struct sa_conf *load_config(config_t *cf, const struct src *src, struct conf_errors *errs);
static void err_add(struct conf_errors *errs, int warning, struct loc where, const char *key,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void errs_sort(struct conf_errors *errs);
static struct loc setting_loc(const config_setting_t *s, const struct src *src);
static struct loc file_loc(const char *file, int line, const struct src *src);
static int include_name(struct loc l, char *out, size_t outlen);
static int source_line(struct loc l, char *out, size_t outlen);
static int int_literal_ok(const config_setting_t *s, struct loc l, long long v);
static void walk_unknown(const config_setting_t *g, const char *prefix, const struct src *src,
                         struct conf_errors *errs);
static const char *suggest(const char *path);
static int apply_key(const struct conf_key *k, const config_setting_t *s, struct sa_conf *c,
                     struct loc where, struct conf_errors *errs);
static int apply_list(const struct conf_key *k, const config_setting_t *s, struct sa_conf *c,
                      struct loc where, struct conf_errors *errs);
static int finish(struct sa_conf *c, config_t *cf, const struct src *src, struct conf_errors *errs);
static void defaults_config(config_t *dc);
static int load_errors_syntax(config_t *cf, const struct src *src, struct conf_errors *errs);

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sa_conf *cur;

/* err_add - keep one formatted message, or count it as dropped */
static void err_add(struct conf_errors *errs, int warning, struct loc where, const char *key,
                    const char *fmt, ...)
{
    char what[CONF_MAX_ERRLEN - 128];
    struct conf_error_item *item;
    va_list ap;
    int n;

    if (errs == NULL)
        return;
    if (warning)
        errs->nwarn++;
    else
        errs->nerr++;
    if (errs->n >= CONF_MAX_ERRORS) {
        errs->dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    item = &errs->item[errs->n++];
    item->warning = warning;
    item->line = where.line;
    n = snprintf(item->text, sizeof(item->text), "%s%s%s", where.dir ? where.dir : "",
                 where.dir ? "/" : "", where.file);
    if (n < 0 || (size_t)n >= sizeof(item->text) - 1)
        n = (int)sizeof(item->text) - 2;
    item->filelen = (size_t)n;
    if (where.line > 0)
        snprintf(item->text + n, sizeof(item->text) - (size_t)n, ":%d: %s%s%s", where.line,
                 key ? key : "", key ? ": " : "", what);
    else
        snprintf(item->text + n, sizeof(item->text) - (size_t)n, ": %s%s%s", key ? key : "",
                 key ? ": " : "", what);
}

/* errs_sort - stable: files in order of their first message, lines ascending within one */
static void errs_sort(struct conf_errors *errs)
{
    int rank[CONF_MAX_ERRORS];

    for (int i = 0; i < errs->n; i++) {
        rank[i] = i;
        for (int j = 0; j < i; j++) {
            if (errs->item[j].filelen == errs->item[i].filelen &&
                memcmp(errs->item[j].text, errs->item[i].text, errs->item[i].filelen) == 0) {
                rank[i] = rank[j];
                break;
            }
        }
    }
    for (int i = 1; i < errs->n; i++) {
        for (int j = i; j > 0; j--) {
            struct conf_error_item tmp;
            int r;

            if (rank[j - 1] < rank[j] ||
                (rank[j - 1] == rank[j] && errs->item[j - 1].line <= errs->item[j].line))
                break;
            tmp = errs->item[j - 1];
            errs->item[j - 1] = errs->item[j];
            errs->item[j] = tmp;
            r = rank[j - 1];
            rank[j - 1] = rank[j];
            rank[j] = r;
        }
    }
}

/* conf_errors_print - one line each; warnings marked after the location */
void conf_errors_print(const struct conf_errors *errs, FILE *fp)
{
    if (errs == NULL)
        return;
    for (int i = 0; i < errs->n; i++)
        fprintf(fp, "%s%s\n", errs->item[i].warning ? "warning: " : "", errs->item[i].text);
    if (errs->dropped > 0)
        fprintf(fp, "(%d more not shown)\n", errs->dropped);
}

/* file_loc - a place named by libconfig (file may be NULL: text read from a string) */
static struct loc file_loc(const char *file, int line, const struct src *src)
{
    struct loc l = {src->name, line, NULL, src};

    if (file != NULL) {
        l.file = file;
        /* libconfig names an included file as written in @include, relative to dir. */
        if (strcmp(file, src->name) != 0 && file[0] != '/')
            l.dir = src->dir;
    }
    return l;
}

/* setting_loc - file and line of a setting */
static struct loc setting_loc(const config_setting_t *s, const struct src *src)
{
    if (s == NULL)
        return file_loc(NULL, 0, src);
    return file_loc(config_setting_source_file(s), (int)config_setting_source_line(s), src);
}

/* source_line - line l.line of the file (or text) at l, newline included; 0 or -1 */
static int source_line(struct loc l, char *out, size_t outlen)
{
    char path[4096];
    FILE *fp;
    int n = 0;

    if (l.line <= 0 || l.file == NULL || l.src == NULL)
        return -1;
    if (l.src->text != NULL && l.dir == NULL && strcmp(l.file, l.src->name) == 0) {
        const char *p = l.src->text, *nl;

        while (++n < l.line && (p = strchr(p, '\n')) != NULL)
            p++;
        if (p == NULL)
            return -1;
        nl = strchr(p, '\n');
        snprintf(out, outlen, "%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
        return 0;
    }
    snprintf(path, sizeof(path), "%s%s%s", l.dir ? l.dir : "", l.dir ? "/" : "", l.file);
    if ((fp = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(out, (int)outlen, fp) != NULL && ++n < l.line)
        ;
    fclose(fp);
    return n == l.line ? 0 : -1;
}

/* include_name - the name in the @include at l (libconfig does not say which failed) */
static int include_name(struct loc l, char *out, size_t outlen)
{
    char line[1024];
    const char *p, *q;

    if (source_line(l, line, sizeof(line)) < 0 || (p = strstr(line, "@include")) == NULL ||
        (p = strchr(p, '"')) == NULL || (q = strchr(p + 1, '"')) == NULL)
        return -1;
    snprintf(out, outlen, "%.*s", (int)(q - p - 1), p + 1);
    return 0;
}

/* int_literal_ok - libconfig 1.5 reads a plain integer with atoi(), so a literal beyond
 * the int range wraps silently (4294967301 becomes 5). Read the literal back from the
 * source line and compare; 1 when it agrees with v or cannot be found, else 0. */
static int int_literal_ok(const config_setting_t *s, struct loc l, long long v)
{
    const char *name = config_setting_name(s), *p;
    char line[1024], *end;
    size_t n;

    if (name == NULL || config_setting_type(s) != CONFIG_TYPE_INT ||
        source_line(l, line, sizeof(line)) < 0)
        return 1;
    n = strlen(name);
    for (p = strstr(line, name); p != NULL; p = strstr(p + 1, name)) {
        const char *q = p + n;
        long long lit;
        int neg = 0;

        if (p > line && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        q += strspn(q, " \t");
        if (*q != '=' && *q != ':')
            continue;
        q += 1 + strspn(q + 1, " \t");
        if (*q == '-' || *q == '+')
            neg = *q++ == '-';
        if (!isdigit((unsigned char)*q))
            continue;
        errno = 0;
        if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
            lit = (long long)strtoull(q + 2, &end, 16);
        else
            lit = strtoll(q, &end, 10);
        if (errno == ERANGE)
            return 0;
        return (neg ? -lit : lit) == v;
    }
    return 1;
}

/* load_errors_syntax - libconfig stops at its first syntax error: report that one */
static int load_errors_syntax(config_t *cf, const struct src *src, struct conf_errors *errs)
{
    struct loc l = file_loc(config_error_file(cf), config_error_line(cf), src);
    const char *text = config_error_text(cf) ? config_error_text(cf) : "unreadable";
    char inc[1024];

    if (strcmp(text, "cannot open include file") == 0 && include_name(l, inc, sizeof(inc)) == 0)
        err_add(errs, 0, l, NULL, "cannot open include file \"%s%s%s\"", src->dir ? src->dir : "",
                src->dir && inc[0] != '/' ? "/" : "", inc);
    else
        err_add(errs, 0, l, NULL, "%s", text);
    return -1;
}

/* conf_load_file - read path (relative @include from its directory) */
struct sa_conf *conf_load_file(const char *path, struct conf_errors *errs)
{
    config_t cf;
    struct sa_conf *c;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    struct src src;
    FILE *fp;

    if (errs)
        memset(errs, 0, sizeof(*errs));
    if ((fp = fopen(path, "r")) == NULL) {
        err_add(errs, 0, (struct loc){path, 0, NULL, NULL}, NULL, "cannot open: %s",
                strerror(errno));
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
    if (config_read_file(&cf, path) != CONFIG_TRUE) {
        load_errors_syntax(&cf, &src, errs);
        config_destroy(&cf);
        return NULL;
    }
    c = load_config(&cf, &src, errs);
    config_destroy(&cf);
    return c;
}

/* conf_load_string - text in place of a file; name appears in messages */
struct sa_conf *conf_load_string(const char *text, const char *name, struct conf_errors *errs)
{
    config_t cf;
    struct sa_conf *c;
    struct src src = {name, NULL, text};

    if (errs)
        memset(errs, 0, sizeof(*errs));
    config_init(&cf);
    if (config_read_string(&cf, text) != CONFIG_TRUE) {
        load_errors_syntax(&cf, &src, errs);
        config_destroy(&cf);
        return NULL;
    }
    c = load_config(&cf, &src, errs);
    config_destroy(&cf);
    return c;
}

/* conf_defaults - the generated default file, loaded */
struct sa_conf *conf_defaults(void)
{
    struct conf_errors *errs = xcalloc(1, sizeof(*errs));
    config_t dc;
    struct sa_conf *c;
    static const struct src src = {"(defaults)", NULL, NULL};

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
static struct sa_conf *load_config(config_t *cf, const struct src *src, struct conf_errors *errs)
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
        apply_key(k, s, c, setting_loc(s, src), errs);
    }
    finish(c, cf, src, errs);
    if (!is_defaults)
        config_destroy(&dc);
    errs_sort(errs);
    if (errs->nerr > 0)
        c = conf_free(c);
    free(local);
    return c;
}

/* walk_unknown - every named setting must be a key or a group that holds keys */
static void walk_unknown(const config_setting_t *g, const char *prefix, const struct src *src,
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
                err_add(errs, 0, setting_loc(s, src), path, "must be a group: %s = { ... };", path);
            continue;
        }
        hint = suggest(path);
        if (hint)
            err_add(errs, 0, setting_loc(s, src), path, "unknown key (did you mean %s?)", hint);
        else
            err_add(errs, 0, setting_loc(s, src), path, "unknown key");
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
                     struct loc where, struct conf_errors *errs)
{
    char *field = (char *)c + k->off;
    char why[CONF_MAX_ERRLEN];
    int t = config_setting_type(s);
    const char *str = t == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
    long long v;

    switch (k->type) {
    case CONF_T_BOOL:
        if (t != CONFIG_TYPE_BOOL) {
            err_add(errs, 0, where, k->path, "must be true or false");
            return -1;
        }
        *(int *)(void *)field = config_setting_get_bool(s) ? 1 : 0;
        return 0;
    case CONF_T_INT:
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
            err_add(errs, 0, where, k->path, "must be an integer");
            return -1;
        }
        v = config_setting_get_int64(s);
        if (v < k->min || v > k->max || !int_literal_ok(s, where, v)) {
            err_add(errs, 0, where, k->path, "must be %ld..%ld", k->min, k->max);
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
        err_add(errs, 0, where, k->path, "must be a string in double quotes");
        return -1;
    }
    switch (k->type) {
    case CONF_T_STRING:
        if ((long)strlen(str) > k->max) {
            err_add(errs, 0, where, k->path, "must be at most %ld characters", k->max);
            return -1;
        }
        if (k->check && k->check(str, why, sizeof(why)) < 0) {
            err_add(errs, 0, where, k->path, "%s", why);
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
        err_add(errs, 0, where, k->path, "\"%s\" must be one of %s", str, why);
        return -1;
    case CONF_T_MODE: {
        unsigned int mode = 0;

        if (conf_parse_mode(str, &mode, why, sizeof(why)) < 0) {
            err_add(errs, 0, where, k->path, "%s", why);
            return -1;
        }
        if (mode > (unsigned long)k->max) {
            err_add(errs, 0, where, k->path, "\"%s\" must be at most \"%04lo\"", str, k->max);
            return -1;
        }
        *(unsigned int *)(void *)field = mode;
        return 0;
    }
    case CONF_T_SOCKET: {
        struct conf_socket *sock = (struct conf_socket *)(void *)field;

        if (conf_parse_socket(str, sock, why, sizeof(why)) < 0) {
            err_add(errs, 0, where, k->path, "%s", why);
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
                      struct loc where, struct conf_errors *errs)
{
    char *field = (char *)c + k->off;
    int t = config_setting_type(s), n, bad = 0;
    char why[CONF_MAX_ERRLEN];

    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
        err_add(errs, 0, where, k->path, "must be a list of strings: [ \"...\", \"...\" ]");
        return -1;
    }
    n = config_setting_length(s);
    if (n > k->max) {
        err_add(errs, 0, where, k->path, "at most %ld entries, not %d", k->max, n);
        return -1;
    }
    if (k->type == CONF_T_CIDRLIST) {
        struct conf_cidr_list *l = (struct conf_cidr_list *)(void *)field;

        l->v = n ? xcalloc((size_t)n, sizeof(*l->v)) : NULL;
        l->n = 0;
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
            const char *str = config_setting_get_string(e);

            if (str == NULL) {
                err_add(errs, 0, setting_loc(e, where.src), k->path,
                        "entry %d must be a string in double quotes", i + 1);
                bad = 1;
            } else if (conf_parse_cidr(str, &l->v[l->n], why, sizeof(why)) < 0) {
                err_add(errs, 0, setting_loc(e, where.src), k->path, "%s", why);
                bad = 1;
            } else {
                l->n++;
            }
        }
    } else {
        struct conf_addr_list *l = (struct conf_addr_list *)(void *)field;

        l->n = 0;
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
            const char *str = config_setting_get_string(e);

            if (str == NULL) {
                err_add(errs, 0, setting_loc(e, where.src), k->path,
                        "entry %d must be a string in double quotes", i + 1);
                bad = 1;
            } else if (conf_parse_nameserver(str, &l->v[l->n], why, sizeof(why)) < 0) {
                err_add(errs, 0, setting_loc(e, where.src), k->path, "%s", why);
                bad = 1;
            } else {
                l->n++;
            }
        }
    }
    return bad ? -1 : 0;
}

/* finish - values derived at load time and checks that span keys */
static int finish(struct sa_conf *c, config_t *cf, const struct src *src, struct conf_errors *errs)
{
    const config_setting_t *s;
    struct stat st;

    if (c->authserv_id != NULL && c->authserv_id[0] == '\0') {
        char host[256];

        if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0') {
            s = config_lookup(cf, "authserv_id");
            err_add(errs, 0, setting_loc(s, src), "authserv_id",
                    "empty and the host name is unknown; set it");
            return -1;
        }
        host[sizeof(host) - 1] = '\0';
        free(c->authserv_id);
        c->authserv_id = xstrdup(host);
    }
    if (c->psl_path != NULL && stat(c->psl_path, &st) != 0) {
        s = config_lookup(cf, "psl.path");
        err_add(errs, 1, setting_loc(s, src), "psl.path",
                "%s: %s; libpsl's built-in list will be used", c->psl_path, strerror(errno));
    }
    return 0;
}

/* conf_free - release everything the conf owns */
struct sa_conf *conf_free(struct sa_conf *c)
{
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < conf_nkeys; i++) {
        char *field = (char *)c + conf_keys[i].off;

        if (conf_keys[i].type == CONF_T_STRING)
            free(*(char **)(void *)field);
        else if (conf_keys[i].type == CONF_T_SOCKET)
            free(((struct conf_socket *)(void *)field)->spec);
        else if (conf_keys[i].type == CONF_T_CIDRLIST)
            free(((struct conf_cidr_list *)(void *)field)->v);
    }
    free(c->source);
    free(c);
    return NULL;
}

/* conf_ref - one more holder */
struct sa_conf *conf_ref(struct sa_conf *c)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->refcnt, 1, memory_order_relaxed);
    return c;
}

/* conf_unref - one holder fewer; the last one frees */
struct sa_conf *conf_unref(struct sa_conf *c)
{
    if (c == NULL)
        return NULL;
    if (atomic_fetch_sub_explicit(&c->refcnt, 1, memory_order_acq_rel) == 1)
        conf_free(c);
    return NULL;
}

/* conf_set_current - swap the published conf; the old one lives on while referenced */
void conf_set_current(struct sa_conf *c)
{
    struct sa_conf *old;

    pthread_mutex_lock(&cur_lock);
    old = cur;
    cur = c;
    pthread_mutex_unlock(&cur_lock);
    conf_unref(old);
}

/* conf_get_current - a reference to the published conf */
struct sa_conf *conf_get_current(void)
{
    struct sa_conf *c;

    pthread_mutex_lock(&cur_lock);
    c = conf_ref(cur);
    pthread_mutex_unlock(&cur_lock);
    return c;
}
