/* conf_source.c - where config text came from: the file and line of settings, the
 * list of error messages, and reading a source line back (for the name of a missing
 * @include and for integer literals libconfig 1.5 mangles).
 * Owns struct conf_errors filling, sorting and printing; not what is an error (conf.c).
 * Threads: reentrant; a struct conf_errors belongs to one load. */
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_keys.h"

static int include_name(struct conf_loc l, char *out, size_t outlen);
static int source_line(struct conf_loc l, char *out, size_t outlen);

/* conf_err_add - keep one formatted message, or count it as dropped */
void conf_err_add(struct conf_errors *errs, int warning, struct conf_loc where, const char *key,
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
    for (char *p = what; *p; p++) /* values are echoed: keep the line one printable line */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
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

/* conf_errs_sort - stable: files in order of their first message, lines ascending within one */
void conf_errs_sort(struct conf_errors *errs)
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

/* conf_file_loc - a place named by libconfig (file may be NULL: text read from a string) */
struct conf_loc conf_file_loc(const char *file, int line, const struct conf_src *src)
{
    struct conf_loc l = {src->name, line, NULL, src};

    if (file != NULL) {
        l.file = file;
        /* libconfig names an included file as written in @include, relative to dir. */
        if (strcmp(file, src->name) != 0 && file[0] != '/')
            l.dir = src->dir;
    }
    return l;
}

/* conf_setting_loc - file and line of a setting */
struct conf_loc conf_setting_loc(const config_setting_t *s, const struct conf_src *src)
{
    if (s == NULL)
        return conf_file_loc(NULL, 0, src);
    return conf_file_loc(config_setting_source_file(s), (int)config_setting_source_line(s), src);
}

/* source_line - line l.line of the file (or text) at l, newline included; 0 or -1 */
static int source_line(struct conf_loc l, char *out, size_t outlen)
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
static int include_name(struct conf_loc l, char *out, size_t outlen)
{
    char line[1024];
    const char *p, *q;

    if (source_line(l, line, sizeof(line)) < 0 || (p = strstr(line, "@include")) == NULL ||
        (p = strchr(p, '"')) == NULL || (q = strchr(p + 1, '"')) == NULL)
        return -1;
    snprintf(out, outlen, "%.*s", (int)(q - p - 1), p + 1);
    return 0;
}

/* conf_int_literal_ok - libconfig 1.5 reads a plain integer with atoi(), so a literal beyond
 * the int range wraps silently (4294967301 becomes 5). Read the literal back from the
 * source line and compare; 1 when it agrees with v or cannot be found, else 0. */
int conf_int_literal_ok(const config_setting_t *s, struct conf_loc l, long long v)
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

/* conf_syntax_error - libconfig stops at its first syntax error: report that one */
int conf_syntax_error(config_t *cf, const struct conf_src *src, struct conf_errors *errs)
{
    struct conf_loc l = conf_file_loc(config_error_file(cf), config_error_line(cf), src);
    const char *text = config_error_text(cf) ? config_error_text(cf) : "unreadable";
    char inc[1024];

    if (strcmp(text, "cannot open include file") == 0 && include_name(l, inc, sizeof(inc)) == 0)
        conf_err_add(errs, 0, l, NULL, "cannot open include file \"%s%s%s\"",
                     src->dir ? src->dir : "", src->dir && inc[0] != '/' ? "/" : "", inc);
    else
        conf_err_add(errs, 0, l, NULL, "%s", text);
    return -1;
}
