/* conf_keys.h - the key table and the value parsers shared by the files of src/conf.
 * Private to src/conf: the rest of the program uses conf.h only.
 * Threads: the table is constant; the parsers are reentrant. */
#ifndef SA_CONF_KEYS_H
#define SA_CONF_KEYS_H

#include <libconfig.h>
#include <stddef.h>

#include "conf.h"

enum conf_type {
    CONF_T_BOOL = 0, /* int field, 0/1 */
    CONF_T_INT,      /* int field, min..max */
    CONF_T_STRING,   /* char * field; max = longest length; check = extra validation */
    CONF_T_ENUM,     /* int-sized enum field; value = index in names[] */
    CONF_T_MODE,     /* unsigned int field from an octal string, min..max */
    CONF_T_SOCKET,   /* struct conf_socket field */
    CONF_T_ADDRLIST, /* struct conf_addr_list field; max = most entries */
    CONF_T_CIDRLIST, /* struct conf_cidr_list field; max = most entries */
};

/* check - 0 when s is acceptable, else -1 with a reason ("must be ...") in why. */
typedef int (*conf_check_fn)(const char *s, char *why, size_t whylen);

struct conf_key {
    const char *path; /* "dns.timeout": group.name, or name at top level */
    enum conf_type type;
    const char *def; /* default, in libconfig syntax ("5", "true", "\"x\"", "[ ]") */
    long min, max;
    size_t off;               /* offsetof(struct sa_conf, field) */
    const char *const *names; /* CONF_T_ENUM: the accepted words, index = value */
    conf_check_fn check;      /* CONF_T_STRING: optional */
    const char *doc;          /* one line for the config file and the docs */
};

extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys;

/* conf_key_find - the entry for path, or NULL. */
const struct conf_key *conf_key_find(const char *path);
/* conf_key_is_group - 1 when some key lives under group (e.g. "dns"). */
int conf_key_is_group(const char *group);

/* Value parsers (cidr.c, conf_parse.c). Each returns 0, or -1 with a reason in why. */
int conf_parse_socket(const char *s, struct conf_socket *out, char *why, size_t whylen);
int conf_parse_nameserver(const char *s, struct conf_nameserver *out, char *why, size_t whylen);
int conf_parse_cidr(const char *s, struct conf_cidr *out, char *why, size_t whylen);
int conf_parse_mode(const char *s, unsigned int *out, char *why, size_t whylen);
/* ---- message locations and the error list (conf_source.c) ---- */

/* What is being loaded: the name in messages and the directory of relative @includes. */
struct conf_src {
    const char *name;
    const char *dir;  /* NULL: included names are shown as libconfig gives them */
    const char *text; /* the text itself when it was not read from a file */
};

/* Where a message points: the file and line of a setting, or of the load itself. */
struct conf_loc {
    const char *file;
    int line;        /* 0 = no line */
    const char *dir; /* shown before file: an included file, relative to src->dir */
    const struct conf_src *src;
};

/* conf_err_add - one message "FILE:LINE: key: what" (key may be NULL); warning != 0
 * does not fail the load. Past CONF_MAX_ERRORS messages are only counted. */
void conf_err_add(struct conf_errors *errs, int warning, struct conf_loc where, const char *key,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* conf_errs_sort - files in order of their first message, lines ascending within one. */
void conf_errs_sort(struct conf_errors *errs);
/* conf_file_loc - the place libconfig names (file NULL: text read from a string). */
struct conf_loc conf_file_loc(const char *file, int line, const struct conf_src *src);
/* conf_setting_loc - file and line of a setting (NULL: the load itself). */
struct conf_loc conf_setting_loc(const config_setting_t *s, const struct conf_src *src);
/* conf_syntax_error - libconfig's one syntax error as a message; returns -1. */
int conf_syntax_error(config_t *cf, const struct conf_src *src, struct conf_errors *errs);
/* conf_int_literal_ok - 0 when the literal written for integer setting s is not v
 * (libconfig 1.5 wraps out-of-range literals silently), else 1. */
int conf_int_literal_ok(const config_setting_t *s, struct conf_loc l, long long v);

/* conf_seal_load - arc.seal_*: the keys that must be set together, and the private key
 * file read into c->arc_seal_key (conf_seal.c). 0, or -1 with the errors added. */
int conf_seal_load(struct sa_conf *c, config_t *cf, const struct conf_src *src,
                   struct conf_errors *errs);
/* conf_seal_free - free c->arc_seal_key (conf_free). */
void conf_seal_free(struct sa_conf *c);

/* conf_cidr_list_match - 1 when the family/address bytes fall in one of the list. */
int conf_cidr_list_match(const struct conf_cidr_list *l, int family, const uint8_t *addr);

#endif
