/* conf_write.c - text written from the key table: the documented default config
 * (conf/senderauth.conf), the effective config (conf_dump, for -t -v) and the key
 * reference of docs/configuration.md.
 * Owns the layout of those texts; not parsing (conf.c). Both configs use the same
 * layout, so conf_dump's output loads back to the same values.
 * Threads: reentrant. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conf_keys.h"
#include "util/xalloc.h"

/* value - print one key's value; NULL conf = the key's default text */
typedef int (*value_fn)(FILE *fp, const struct conf_key *k, const struct sa_conf *c);

static int write_tree(FILE *fp, const struct sa_conf *c, int docs, value_fn value);
static int value_default(FILE *fp, const struct conf_key *k, const struct sa_conf *c);
static int value_current(FILE *fp, const struct conf_key *k, const struct sa_conf *c);
static int write_string(FILE *fp, const char *s);
static int write_comment(FILE *fp, const char *indent, const char *text);
static size_t group_len(const char *path);
static const char *type_doc(const struct conf_key *k, char *buf, size_t len);
static int man_text(FILE *fp, const char *s);

#define WRAP 78

static const char header[] =
    "# senderauth.conf - configuration of senderauthd (libconfig syntax).\n"
    "#\n"
    "# Every key is shown with its default value; a key left out keeps its default and\n"
    "# an unknown key is an error. Check a change with: senderauthd -t -c FILE\n"
    "# Another file can be read with @include \"FILE\" (relative to this file's directory).\n"
    "# SIGHUP (systemctl reload senderauthd) reads it again; a bad file is refused and the\n"
    "# running configuration stays. Socket, user, resolver, cache, store and metrics keys\n"
    "# take effect at the next start (the reload names them in the log).\n"
    "# This file is generated from the key table; docs/configuration.md explains each key.\n";

/* group_len - length of the group prefix of path ("dns.timeout" -> 3), 0 at top level */
static size_t group_len(const char *path)
{
    const char *dot = strchr(path, '.');

    return dot ? (size_t)(dot - path) : 0;
}

/* write_comment - text as "# " lines wrapped at WRAP columns */
static int write_comment(FILE *fp, const char *indent, const char *text)
{
    size_t width = WRAP - strlen(indent) - 2;

    while (*text) {
        size_t n = strlen(text);

        if (n > width) {
            n = width;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = strcspn(text, " ");
        }
        if (fprintf(fp, "%s# %.*s\n", indent, (int)n, text) < 0)
            return -1;
        text += n;
        while (*text == ' ')
            text++;
    }
    return 0;
}

/* write_tree - top-level keys, then one group block per prefix, in table order */
static int write_tree(FILE *fp, const struct sa_conf *c, int docs, value_fn value)
{
    const char *open = NULL; /* path of the first key of the open group */
    size_t openlen = 0;

    for (size_t i = 0; i < conf_nkeys; i++) {
        const struct conf_key *k = &conf_keys[i];
        size_t g = group_len(k->path);
        const char *indent = g ? "    " : "";

        if (open && (g != openlen || strncmp(k->path, open, g) != 0)) {
            if (fputs("};\n", fp) < 0)
                return -1;
            open = NULL;
        }
        if (g && open == NULL) {
            if (fprintf(fp, "\n%.*s = {\n", (int)g, k->path) < 0)
                return -1;
            open = k->path;
            openlen = g;
        } else if (docs || !g) {
            if (fputs(g ? "\n" : (i ? "\n" : ""), fp) < 0)
                return -1;
        }
        if (docs && write_comment(fp, indent, k->doc) < 0)
            return -1;
        if (fprintf(fp, "%s%s = ", indent, k->path + (g ? g + 1 : 0)) < 0 || value(fp, k, c) < 0 ||
            fputs(";\n", fp) < 0)
            return -1;
    }
    if (open && fputs("};\n", fp) < 0)
        return -1;
    return 0;
}

/* value_default - the default exactly as written in the table */
static int value_default(FILE *fp, const struct conf_key *k, const struct sa_conf *c)
{
    return fputs(k->def, fp) < 0 ? -1 : 0;
}

/* write_string - libconfig string literal */
static int write_string(FILE *fp, const char *s)
{
    if (fputc('"', fp) == EOF)
        return -1;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        int rc;

        if (*p == '"' || *p == '\\')
            rc = fprintf(fp, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            rc = fprintf(fp, "\\x%02x", *p);
        else
            rc = fputc(*p, fp) == EOF ? -1 : 1;
        if (rc < 0)
            return -1;
    }
    return fputc('"', fp) == EOF ? -1 : 0;
}

/* value_current - the loaded value of k in c */
static int value_current(FILE *fp, const struct conf_key *k, const struct sa_conf *c)
{
    const char *field = (const char *)c + k->off;
    char text[sizeof(((struct conf_nameserver *)0)->addr) + 16]; /* "[addr]:port" */

    switch (k->type) {
    case CONF_T_BOOL:
        return fputs(*(const int *)(const void *)field ? "true" : "false", fp) < 0 ? -1 : 0;
    case CONF_T_INT:
        return fprintf(fp, "%d", *(const int *)(const void *)field) < 0 ? -1 : 0;
    case CONF_T_STRING:
        return write_string(fp, *(char *const *)(const void *)field);
    case CONF_T_ENUM:
        return write_string(fp, k->names[*(const int *)(const void *)field]);
    case CONF_T_MODE:
        snprintf(text, sizeof(text), "%04o", *(const unsigned int *)(const void *)field);
        return write_string(fp, text);
    case CONF_T_SOCKET:
        return write_string(fp, ((const struct conf_socket *)(const void *)field)->spec);
    case CONF_T_ADDRLIST: {
        const struct conf_addr_list *l = (const void *)field;

        if (fputs("[", fp) < 0)
            return -1;
        for (int i = 0; i < l->n; i++) {
            const struct conf_nameserver *ns = &l->v[i];

            if (ns->port == 53)
                snprintf(text, sizeof(text), "%s", ns->addr);
            else if (ns->family == AF_INET6)
                snprintf(text, sizeof(text), "[%s]:%u", ns->addr, ns->port);
            else
                snprintf(text, sizeof(text), "%s:%u", ns->addr, ns->port);
            if (fputs(i ? ", " : " ", fp) < 0 || write_string(fp, text) < 0)
                return -1;
        }
        return fputs(" ]", fp) < 0 ? -1 : 0;
    }
    case CONF_T_CIDRLIST: {
        const struct conf_cidr_list *l = (const void *)field;

        if (fputs("[", fp) < 0)
            return -1;
        for (int i = 0; i < l->n; i++) {
            size_t n;

            inet_ntop(l->v[i].family, l->v[i].addr, text, sizeof(text));
            n = strlen(text);
            snprintf(text + n, sizeof(text) - n, "/%d", l->v[i].prefix);
            if (fputs(i ? ", " : " ", fp) < 0 || write_string(fp, text) < 0)
                return -1;
        }
        return fputs(" ]", fp) < 0 ? -1 : 0;
    }
    }
    return -1;
}

/* conf_write_default - header comment, then every key documented at its default */
int conf_write_default(FILE *fp)
{
    if (fputs(header, fp) < 0 || fputc('\n', fp) == EOF)
        return -1;
    return write_tree(fp, NULL, 1, value_default);
}

/* conf_dump - the effective values, in loadable form */
int conf_dump(const struct sa_conf *c, FILE *fp)
{
    if (fprintf(fp, "# effective configuration (from %s)\n", c->source ? c->source : "?") < 0)
        return -1;
    if (write_tree(fp, c, 0, value_current) < 0)
        return -1;
    return fflush(fp) == 0 ? 0 : -1;
}

/* type_doc - the type line of the docs ("integer, 1..60") */
static const char *type_doc(const struct conf_key *k, char *buf, size_t len)
{
    size_t n;

    switch (k->type) {
    case CONF_T_BOOL:
        return "boolean (`true` or `false`)";
    case CONF_T_INT:
        snprintf(buf, len, "integer, %ld..%ld", k->min, k->max);
        return buf;
    case CONF_T_STRING:
        return "string";
    case CONF_T_ENUM:
        snprintf(buf, len, "one of");
        for (int i = 0; k->names[i]; i++) {
            n = strlen(buf);
            snprintf(buf + n, len - n, "%s `\"%s\"`", i ? "," : "", k->names[i]);
        }
        return buf;
    case CONF_T_MODE:
        return "octal mode as a string";
    case CONF_T_SOCKET:
        return "milter socket as a string";
    case CONF_T_ADDRLIST:
        snprintf(buf, len, "list of at most %ld server addresses", k->max);
        return buf;
    case CONF_T_CIDRLIST:
        snprintf(buf, len, "list of at most %ld IPv4/IPv6 networks", k->max);
        return buf;
    }
    return "?";
}

/* conf_write_docs - one Markdown entry per key, in table order */
int conf_write_docs(FILE *fp)
{
    char buf[256];

    if (fputs("| Key | Type | Default | Meaning |\n|---|---|---|---|\n", fp) < 0)
        return -1;
    for (size_t i = 0; i < conf_nkeys; i++) {
        const struct conf_key *k = &conf_keys[i];

        if (fprintf(fp, "| `%s` | %s | `%s` | %s |\n", k->path, type_doc(k, buf, sizeof(buf)),
                    k->def, k->doc) < 0)
            return -1;
    }
    return 0;
}

/* man_text - s as one roff text line: backslashes escaped, Markdown backticks dropped,
 * a leading '.' or '\'' protected, a break point (\:) after each ':' so that long
 * colon lists (header names) can be broken at 80 columns */
static int man_text(FILE *fp, const char *s)
{
    if ((*s == '.' || *s == '\'') && fputs("\\&", fp) < 0)
        return -1;
    for (; *s; s++) {
        if (*s == '`')
            continue;
        if (*s == '\\' ? fputs("\\e", fp) < 0 : *s == '-' ? fputs("\\-", fp) < 0 : fputc(*s, fp) == EOF)
            return -1;
        if (*s == ':' && s[1] != ' ' && s[1] != '\0' && fputs("\\:", fp) < 0)
            return -1;
    }
    return fputc('\n', fp) == EOF ? -1 : 0;
}

static const char man_head[] =
    ".\\\" senderauth.conf.5 - generated from the key table (conf-gen man); do not edit.\n"
    ".TH SENDERAUTH.CONF 5 \"\" \"senderauth\" \"File Formats\"\n"
    ".\\\" left-aligned: key defaults such as header-name lists are long unbroken words\n"
    ".ad l\n"
    ".SH NAME\n"
    "senderauth.conf \\- configuration file of senderauthd\n"
    ".SH SYNOPSIS\n"
    ".I /etc/senderauth/senderauth.conf\n"
    ".SH DESCRIPTION\n"
    "The file is in libconfig syntax: \n"
    ".I key\n"
    "= \n"
    ".IR value ;\n"
    "at the top level, and \n"
    ".I group\n"
    "= { \n"
    ".I key\n"
    "= \n"
    ".IR value ; \n"
    "}; for the grouped keys (a key written \n"
    ".B dns.timeout\n"
    "below is \n"
    ".B timeout\n"
    "inside \n"
    ".BR \"dns = { ... };\" ).\n"
    "Strings are in double quotes, lists in square brackets. Another file can be read with\n"
    ".BR \"@include \\(dqFILE\\(dq\" ,\n"
    "relative to the directory of the including file.\n"
    ".PP\n"
    "A key left out keeps its default; an unknown key is an error. Every error is reported\n"
    "as FILE:LINE: key: what is wrong, and\n"
    ".B senderauthd \\-t \\-c\n"
    ".I FILE\n"
    "prints all of them.\n"
    ".PP\n"
    "SIGHUP makes senderauthd read the file again, with the Public Suffix List and the domain\n"
    "lists; a file with errors is refused and the running configuration stays in force.\n"
    "The keys of the socket, the user, the resolver, the DNS cache, the consent store and\n"
    "metrics take effect at the next start; a reload names each one that changed.\n"
    ".SH KEYS\n";

static const char man_tail[] =
    ".SH FILES\n"
    ".TP\n"
    ".I /etc/senderauth/senderauth.conf\n"
    "The configuration; the shipped file lists every key at its default.\n"
    ".SH SEE ALSO\n"
    ".BR senderauthd (8),\n"
    ".BR senderauthctl (8)\n";

/* conf_write_man - senderauth.conf(5): a fixed introduction, then one .TP entry per key
 * in table order with its type, default and doc line */
int conf_write_man(FILE *fp)
{
    char buf[256], group[64] = "";

    if (fputs(man_head, fp) < 0)
        return -1;
    for (size_t i = 0; i < conf_nkeys; i++) {
        const struct conf_key *k = &conf_keys[i];
        size_t g = group_len(k->path);
        char name[64], line[512];

        snprintf(name, sizeof(name), "%.*s", (int)(g ? g : 0), k->path);
        if (strcmp(name, group) != 0 || i == 0) {
            sa_strlcpy(group, name, sizeof(group));
            if (fprintf(fp, ".SS %s\n", g ? group : "Top level") < 0)
                return -1;
        }
        snprintf(line, sizeof(line), "(%s; default %s)", type_doc(k, buf, sizeof(buf)), k->def);
        if (fprintf(fp, ".TP\n.B %s\n", k->path) < 0 || man_text(fp, line) < 0 ||
            man_text(fp, k->doc) < 0)
            return -1;
    }
    return fputs(man_tail, fp) < 0 ? -1 : 0;
}
