/* store_csv.c - the CSV form of the consent store: import (store_import_csv) and
 * export (store_export_csv). One line is "subject,on|off[,source[,note]]"; a subject
 * with '@' is an address, otherwise a domain. Fields may be quoted as in RFC 4180
 * ("" inside quotes is one "), but a record is one line. Blank lines and lines starting
 * with '#' are skipped; a first line "subject,enforce..." (or "address,...") is a header.
 * Owns the CSV syntax; not the transaction (store.c).
 * Threads: reentrant; the state lives on the caller's stack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_int.h"
#include "util/xalloc.h"

#define CSV_LINE_MAX 4096
#define CSV_FIELDS 4

struct csv_in {
    FILE *fp;
    const char *name;
    int lcs;
    long line;
    char buf[CSV_LINE_MAX + 2];
    char field[CSV_FIELDS][CSV_LINE_MAX + 1];
};

static int csv_split(struct csv_in *in, int *nf, char *err, size_t errlen);
static int csv_next(void *arg, struct store_import_row *row, char *err, size_t errlen);
static int parse_flag(const char *s, int *out);
static int put_field(FILE *fp, const char *s, int comma);
static int export_row(const struct store_row *row, void *arg);

/* parse_flag - on/off and the usual synonyms */
static int parse_flag(const char *s, int *out)
{
    static const char *const on[] = {"on", "1", "yes", "true", "enforce"};
    static const char *const off[] = {"off", "0", "no", "false"};

    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++)
        if (strcasecmp(s, on[i]) == 0)
            return *out = 1, 0;
    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
        if (strcasecmp(s, off[i]) == 0)
            return *out = 0, 0;
    return -1;
}

/* csv_split - in->buf (no newline) into in->field[]; -1 with "NAME:LINE: what" */
static int csv_split(struct csv_in *in, int *nf, char *err, size_t errlen)
{
    const char *p = in->buf;
    int n = 0;

    for (;;) {
        char *o;
        size_t len = 0;

        if (n == CSV_FIELDS) {
            snprintf(err, errlen, "%s:%ld: more than %d fields", in->name, in->line, CSV_FIELDS);
            return -1;
        }
        o = in->field[n];
        if (*p == '"') {
            for (p++;; p++) {
                if (*p == '\0') {
                    snprintf(err, errlen, "%s:%ld: unterminated quoted field %d", in->name,
                             in->line, n + 1);
                    return -1;
                }
                if (*p == '"' && p[1] == '"')
                    p++;
                else if (*p == '"')
                    break;
                o[len++] = *p;
            }
            p++;
            if (*p != ',' && *p != '\0') {
                snprintf(err, errlen, "%s:%ld: text after the closing quote of field %d", in->name,
                         in->line, n + 1);
                return -1;
            }
        } else {
            while (*p != ',' && *p != '\0') {
                if (*p == '"') {
                    snprintf(err, errlen, "%s:%ld: quote inside unquoted field %d", in->name,
                             in->line, n + 1);
                    return -1;
                }
                o[len++] = *p++;
            }
        }
        o[len] = '\0';
        n++;
        if (*p == '\0')
            break;
        p++; /* the comma */
    }
    *nf = n;
    return 0;
}

/* csv_next - store_import_next_fn over the lines of in->fp */
static int csv_next(void *arg, struct store_import_row *row, char *err, size_t errlen)
{
    struct csv_in *in = arg;
    char key[STORE_ADDR_MAX];
    size_t len;
    int nf, rc;

    for (;;) {
        if (fgets(in->buf, sizeof(in->buf), in->fp) == NULL) {
            if (ferror(in->fp)) {
                snprintf(err, errlen, "%s:%ld: read error", in->name, in->line + 1);
                return -1;
            }
            return 0;
        }
        in->line++;
        len = strlen(in->buf);
        if (len > 0 && in->buf[len - 1] == '\n')
            in->buf[--len] = '\0';
        else if (!feof(in->fp)) {
            snprintf(err, errlen, "%s:%ld: line longer than %d characters", in->name, in->line,
                     CSV_LINE_MAX);
            return -1;
        }
        if (len > 0 && in->buf[len - 1] == '\r')
            in->buf[--len] = '\0';
        if (strlen(in->buf) != len) {
            snprintf(err, errlen, "%s:%ld: NUL character", in->name, in->line);
            return -1;
        }
        if (len == 0 || in->buf[0] == '#')
            continue;
        if (csv_split(in, &nf, err, errlen) < 0)
            return -1;
        if (in->line == 1 && nf >= 2 &&
            (strcasecmp(in->field[0], "subject") == 0 ||
             strcasecmp(in->field[0], "address") == 0) &&
            strcasecmp(in->field[1], "enforce") == 0)
            continue;
        break;
    }
    if (nf < 2) {
        snprintf(err, errlen, "%s:%ld: want \"subject,on|off[,source[,note]]\"", in->name,
                 in->line);
        return -1;
    }
    if (parse_flag(in->field[1], &row->enforce) < 0) {
        snprintf(err, errlen, "%s:%ld: \"%.100s\": want on or off", in->name, in->line,
                 in->field[1]);
        return -1;
    }
    rc = strchr(in->field[0], '@') != NULL
             ? store_normalize_address(in->field[0], in->lcs, key, sizeof(key))
             : store_normalize_domain(in->field[0], key, sizeof(key));
    if (rc < 0) {
        snprintf(err, errlen, "%s:%ld: %s", in->name, in->line, store_strerror());
        return -1;
    }
    for (int i = 2; i < nf; i++) {
        if (strlen(in->field[i]) > STORE_TEXT_MAX) {
            snprintf(err, errlen, "%s:%ld: field %d longer than %d", in->name, in->line, i + 1,
                     STORE_TEXT_MAX);
            return -1;
        }
    }
    row->subject = in->field[0];
    row->source = nf > 2 && in->field[2][0] != '\0' ? in->field[2] : NULL;
    row->note = nf > 3 && in->field[3][0] != '\0' ? in->field[3] : NULL;
    row->line = in->line;
    return 1;
}

/* store_import_csv - the lines of fp, all or nothing */
int store_import_csv(struct store *st, FILE *fp, const char *name, int local_case_sensitive,
                     const struct store_evidence *ev, long *count, char *err, size_t errlen)
{
    struct csv_in *in = xcalloc(1, sizeof(*in));
    char why[512];
    int rc;

    in->fp = fp;
    in->name = name;
    in->lcs = local_case_sensitive;
    rc = store_import(st, csv_next, in, local_case_sensitive, ev, count, why, sizeof(why));
    if (rc < 0) {
        /* csv_next's messages carry NAME:LINE already; store_import's say "line N: " */
        if (strncmp(why, "line ", 5) == 0)
            snprintf(err, errlen, "%s:%s", name, why + 5);
        else
            snprintf(err, errlen, "%s", why);
    }
    free(in);
    return rc;
}

/* put_field - one field, quoted when it must be. CR and LF are written as spaces (a
 * record is one line) and count as spaces when deciding, so that what is written reads
 * back to the same text and exports again byte for byte. */
static int put_field(FILE *fp, const char *s, int comma)
{
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"") != NULL || s[0] == '#' ||
                (n > 0 && (strchr(" \r\n", s[0]) != NULL || strchr(" \r\n", s[n - 1]) != NULL));

    if (comma && putc(',', fp) == EOF)
        return -1;
    if (quote && putc('"', fp) == EOF)
        return -1;
    for (; *s; s++) {
        char c = *s == '\n' || *s == '\r' ? ' ' : *s;

        if ((c == '"' && putc('"', fp) == EOF) || putc(c, fp) == EOF)
            return -1;
    }
    return quote && putc('"', fp) == EOF ? -1 : 0;
}

/* export_row - one CSV record */
static int export_row(const struct store_row *row, void *arg)
{
    FILE *fp = arg;

    if (put_field(fp, row->subject, 0) < 0 || put_field(fp, row->enforce ? "on" : "off", 1) < 0 ||
        put_field(fp, row->source, 1) < 0 || put_field(fp, row->note, 1) < 0 ||
        putc('\n', fp) == EOF) {
        store_seterr("write error");
        return -1;
    }
    return 0;
}

/* store_export_csv - header, users, domains */
int store_export_csv(struct store *st, FILE *fp)
{
    if (fputs("subject,enforce,source,note\n", fp) == EOF) {
        store_seterr("write error");
        return -1;
    }
    if (store_foreach(st, STORE_KIND_USER, export_row, fp) < 0 ||
        store_foreach(st, STORE_KIND_DOMAIN, export_row, fp) < 0)
        return -1;
    if (fflush(fp) == EOF) {
        store_seterr("write error");
        return -1;
    }
    return 0;
}
