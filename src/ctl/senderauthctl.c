/* senderauthctl.c - the operator's tool for the consent store: set, show and delete
 * per-address and per-domain consent, bulk import and export as CSV, counts, and the
 * schema (init / migrate). It reads the same configuration file as senderauthd.
 * Owns the command line and the output texts; not the store (src/store) or the config.
 * Exit codes: 0 done, 1 not found (get, del), 2 usage or configuration error,
 * 3 store error.
 * Threads: single-threaded. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf/conf.h"
#include "senderauth/store.h"

#define CTL_DEFAULT_CONF "/etc/senderauth/senderauth.conf"

enum { EX_OK_ = 0, EX_NOTFOUND = 1, EX_USAGE_ = 2, EX_STORE = 3 };

struct ctl {
    struct sa_conf *conf;
    struct store *st;
    struct store_evidence ev;
    struct store_addr_rules rules;
};

static const char usage_text[] =
    "usage: senderauthctl [-c FILE] COMMAND [ARGS] [EVIDENCE]\n"
    "\n"
    "Commands:\n"
    "  init                         create the consent store schema (or migrate it)\n"
    "  migrate                      bring the schema to this version\n"
    "  user get ADDRESS             show the address's row and the effective decision\n"
    "  user set ADDRESS on|off      record consent (on) or its withdrawal (off)\n"
    "  user del ADDRESS             remove the row (the domain/global default applies)\n"
    "  domain get|set|del DOMAIN [on|off]   the same for a whole domain\n"
    "  import FILE                  CSV lines subject,on|off[,source[,note]]; all or nothing\n"
    "  export                       every row as CSV on standard output\n"
    "  stats                        counts of rows and events\n"
    "\n"
    "Options:\n"
    "  -c FILE                      configuration (default " CTL_DEFAULT_CONF ")\n"
    "  --actor A                    who made the change (evidence)\n"
    "  --channel C                  how it was made: portal, phone, ctl, import...\n"
    "  --explanation-version V      the explanation text the user was shown\n"
    "  --scope-version S            the scope the user consented to\n"
    "  --note N                     free text kept with the row and the event\n"
    "  -h, --help                   this text\n"
    "\n"
    "Exit: 0 done, 1 not found, 2 usage or configuration error, 3 store error.\n";

static int usage(const char *why);
static const char *kind_name(enum store_kind kind);
static int parse_flag(const char *s, int *on);
static int cmd_init(struct ctl *x, int migrate_only);
static int cmd_get(struct ctl *x, enum store_kind kind, const char *subject);
static int cmd_set(struct ctl *x, enum store_kind kind, const char *subject, const char *flag);
static int cmd_del(struct ctl *x, enum store_kind kind, const char *subject);
static int cmd_import(struct ctl *x, const char *path);
static int cmd_export(struct ctl *x);
static int cmd_stats(struct ctl *x);
static int key_of(struct ctl *x, enum store_kind kind, const char *in, char *out, size_t outlen);

/* usage - the reason, the short usage line; exit code 2 */
static int usage(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "senderauthctl: %s\n", why);
    fprintf(stderr, "usage: senderauthctl [-c FILE] init | migrate | user|domain get|set|del "
                    "SUBJECT [on|off] | import FILE | export | stats   (--help for more)\n");
    return EX_USAGE_;
}

/* parse_flag - on or off */
static int parse_flag(const char *s, int *on)
{
    if (strcasecmp(s, "on") == 0)
        *on = 1;
    else if (strcasecmp(s, "off") == 0)
        *on = 0;
    else
        return -1;
    return 0;
}

/* key_of - the normalized key of a command-line subject, or a message */
static int key_of(struct ctl *x, enum store_kind kind, const char *in, char *out, size_t outlen)
{
    int rc = kind == STORE_KIND_USER
                 ? store_normalize_address(in, x->rules.local_case_sensitive, out, outlen)
                 : store_normalize_domain(in, out, outlen);

    if (rc < 0)
        fprintf(stderr, "senderauthctl: %s\n", store_strerror());
    return rc;
}

/* cmd_init - init and migrate */
static int cmd_init(struct ctl *x, int migrate_only)
{
    int from = 0, to = 0;

    if (migrate_only && store_schema_version(x->st) == 0) {
        fprintf(stderr, "senderauthctl: no schema yet: run \"senderauthctl init\"\n");
        return EX_STORE;
    }
    if (store_migrate(x->st, &from, &to) < 0) {
        fprintf(stderr, "senderauthctl: %s store: %s\n", store_backend_name(x->st),
                store_strerror());
        return EX_STORE;
    }
    if (from == to)
        printf("schema version %d: up to date\n", to);
    else
        printf("schema version %d -> %d\n", from, to);
    return EX_OK_;
}

/* cmd_get - the row and the effective decision */
static int cmd_get(struct ctl *x, enum store_kind kind, const char *subject)
{
    char key[STORE_ADDR_MAX];
    enum store_lookup r;
    enum store_match via;
    int on = 0, eff = 0;

    if (key_of(x, kind, subject, key, sizeof(key)) < 0)
        return EX_USAGE_;
    r = kind == STORE_KIND_USER ? store_get_user(x->st, key, &on)
                                : store_get_domain(x->st, key, &on);
    if (r == STORE_ERROR) {
        fprintf(stderr, "senderauthctl: %s\n", store_strerror());
        return EX_STORE;
    }
    if (r == STORE_FOUND)
        printf("%s %s %s\n", kind_name(kind), key, on ? "on" : "off");
    else
        printf("%s %s not set\n", kind_name(kind), key);
    if (kind == STORE_KIND_USER) {
        if (store_resolve(x->st, key, &x->rules, x->conf->policy_default_enforce, &eff, &via) ==
            STORE_ERROR) {
            fprintf(stderr, "senderauthctl: %s\n", store_strerror());
            return EX_STORE;
        }
        printf("effective %s (by %s)\n", eff ? "on" : "off", store_match_name(via));
    }
    return r == STORE_FOUND ? EX_OK_ : EX_NOTFOUND;
}

/* kind_name - "user" or "domain" */
static const char *kind_name(enum store_kind kind)
{
    return kind == STORE_KIND_USER ? "user" : "domain";
}

/* cmd_set - one change with the evidence options */
static int cmd_set(struct ctl *x, enum store_kind kind, const char *subject, const char *flag)
{
    char key[STORE_ADDR_MAX];
    int on, rc;

    if (parse_flag(flag, &on) < 0)
        return usage("want on or off");
    if (key_of(x, kind, subject, key, sizeof(key)) < 0)
        return EX_USAGE_;
    rc = kind == STORE_KIND_USER ? store_set_user(x->st, key, on, &x->ev)
                                 : store_set_domain(x->st, key, on, &x->ev);
    if (rc < 0) {
        fprintf(stderr, "senderauthctl: %s\n", store_strerror());
        return EX_STORE;
    }
    printf("%s %s %s\n", kind_name(kind), key, on ? "on" : "off");
    return EX_OK_;
}

/* cmd_del - remove a row with the evidence options */
static int cmd_del(struct ctl *x, enum store_kind kind, const char *subject)
{
    char key[STORE_ADDR_MAX];
    enum store_lookup r;

    if (key_of(x, kind, subject, key, sizeof(key)) < 0)
        return EX_USAGE_;
    r = kind == STORE_KIND_USER ? store_del_user(x->st, key, &x->ev)
                                : store_del_domain(x->st, key, &x->ev);
    if (r == STORE_ERROR) {
        fprintf(stderr, "senderauthctl: %s\n", store_strerror());
        return EX_STORE;
    }
    if (r == STORE_NOTFOUND) {
        printf("%s %s not set\n", kind_name(kind), key);
        return EX_NOTFOUND;
    }
    printf("%s %s deleted\n", kind_name(kind), key);
    return EX_OK_;
}

/* cmd_import - a CSV file or stdin, all or nothing */
static int cmd_import(struct ctl *x, const char *path)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char err[1024];
    long n = 0;
    int rc;

    if (fp == NULL) {
        fprintf(stderr, "senderauthctl: %s: %m\n", path);
        return EX_USAGE_;
    }
    if (x->ev.channel == NULL)
        x->ev.channel = "import";
    rc = store_import_csv(x->st, fp, strcmp(path, "-") == 0 ? "(stdin)" : path,
                          x->rules.local_case_sensitive, &x->ev, &n, err, sizeof(err));
    if (fp != stdin)
        fclose(fp);
    if (rc < 0) {
        fprintf(stderr, "senderauthctl: %s\nsenderauthctl: nothing imported\n", err);
        return EX_STORE;
    }
    printf("imported %ld rows\n", n);
    return EX_OK_;
}

/* cmd_export - CSV on stdout */
static int cmd_export(struct ctl *x)
{
    if (store_export_csv(x->st, stdout) < 0) {
        fprintf(stderr, "senderauthctl: export: %s\n", store_strerror());
        return EX_STORE;
    }
    return EX_OK_;
}

/* cmd_stats - counts, one "key: value" per line */
static int cmd_stats(struct ctl *x)
{
    struct store_stats s;
    char when[64] = "never";
    struct tm tm;
    time_t t;

    if (store_get_stats(x->st, &s) < 0) {
        fprintf(stderr, "senderauthctl: stats: %s\n", store_strerror());
        return EX_STORE;
    }
    if (s.last_change > 0) {
        t = (time_t)s.last_change;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    printf("backend: %s\n", s.backend);
    printf("schema_version: %d\n", s.schema_version);
    printf("users: %lld\nusers_on: %lld\nusers_off: %lld\n", s.users, s.users_on,
           s.users - s.users_on);
    printf("domains: %lld\ndomains_on: %lld\ndomains_off: %lld\n", s.domains, s.domains_on,
           s.domains - s.domains_on);
    printf("events: %lld\nlast_change: %s\n", s.events, when);
    printf("default_enforce: %s\n", x->conf->policy_default_enforce ? "on" : "off");
    return EX_OK_;
}

/* main - options, command, store, exit code */
int main(int argc, char **argv)
{
    enum { O_ACTOR = 256, O_CHANNEL, O_EXPL, O_SCOPE, O_NOTE };
    static const struct option longopts[] = {
        {"actor", required_argument, NULL, O_ACTOR},
        {"channel", required_argument, NULL, O_CHANNEL},
        {"explanation-version", required_argument, NULL, O_EXPL},
        {"scope-version", required_argument, NULL, O_SCOPE},
        {"note", required_argument, NULL, O_NOTE},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct conf_errors errs;
    struct ctl x;
    const char *path = CTL_DEFAULT_CONF, *cmd, *sub = NULL;
    enum store_kind kind = STORE_KIND_USER;
    char err[1024];
    int ch, rc, nargs, flags = STORE_OPEN_WRITE;

    memset(&x, 0, sizeof(x));
    while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        const char **slot = NULL;

        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return EX_OK_;
        case O_ACTOR:
            slot = &x.ev.actor;
            break;
        case O_CHANNEL:
            slot = &x.ev.channel;
            break;
        case O_EXPL:
            slot = &x.ev.explanation_version;
            break;
        case O_SCOPE:
            slot = &x.ev.scope_version;
            break;
        case O_NOTE:
            slot = &x.ev.note;
            break;
        default:
            return usage(NULL);
        }
        if (slot != NULL) {
            if (strlen(optarg) > STORE_TEXT_MAX)
                return usage("evidence text too long");
            *slot = optarg;
        }
    }
    argv += optind;
    argc -= optind;
    if (argc < 1)
        return usage("no command");
    cmd = argv[0];
    if (strcmp(cmd, "user") == 0 || strcmp(cmd, "domain") == 0) {
        kind = strcmp(cmd, "user") == 0 ? STORE_KIND_USER : STORE_KIND_DOMAIN;
        if (argc < 2)
            return usage("want get, set or del");
        sub = argv[1];
        nargs = strcmp(sub, "set") == 0 ? 4 : 3;
        if (strcmp(sub, "get") != 0 && strcmp(sub, "set") != 0 && strcmp(sub, "del") != 0)
            return usage("want get, set or del");
        if (argc != nargs)
            return usage(strcmp(sub, "set") == 0 ? "want SUBJECT on|off" : "want one SUBJECT");
        if (strcmp(sub, "get") == 0)
            flags = STORE_OPEN_READ;
    } else if (strcmp(cmd, "import") == 0) {
        if (argc != 2)
            return usage("want one FILE");
    } else if (strcmp(cmd, "export") == 0 || strcmp(cmd, "stats") == 0) {
        if (argc != 1)
            return usage("too many arguments");
        flags = STORE_OPEN_READ | STORE_OPEN_BULK;
    } else if (strcmp(cmd, "init") == 0 || strcmp(cmd, "migrate") == 0) {
        if (argc != 1)
            return usage("too many arguments");
        flags = STORE_OPEN_WRITE | STORE_OPEN_INIT;
    } else {
        snprintf(err, sizeof(err), "unknown command \"%.100s\"", cmd);
        return usage(err);
    }
    if (x.ev.channel == NULL && strcmp(cmd, "import") != 0)
        x.ev.channel = "ctl";

    if ((x.conf = conf_load_file(path, &errs)) == NULL) {
        conf_errors_print(&errs, stderr);
        fprintf(stderr, "senderauthctl: %s: configuration errors\n", path);
        return EX_USAGE_;
    }
    store_addr_rules_from_conf(x.conf, &x.rules);
    if ((x.st = store_open(x.conf, flags, err, sizeof(err))) == NULL) {
        fprintf(stderr, "senderauthctl: %s\n", err);
        conf_unref(x.conf);
        return EX_STORE;
    }
    if (strcmp(cmd, "init") == 0 || strcmp(cmd, "migrate") == 0)
        rc = cmd_init(&x, strcmp(cmd, "migrate") == 0);
    else if (strcmp(cmd, "import") == 0)
        rc = cmd_import(&x, argv[1]);
    else if (strcmp(cmd, "export") == 0)
        rc = cmd_export(&x);
    else if (strcmp(cmd, "stats") == 0)
        rc = cmd_stats(&x);
    else if (strcmp(sub, "get") == 0)
        rc = cmd_get(&x, kind, argv[2]);
    else if (strcmp(sub, "set") == 0)
        rc = cmd_set(&x, kind, argv[2], argv[3]);
    else
        rc = cmd_del(&x, kind, argv[2]);
    store_close(x.st);
    conf_unref(x.conf);
    if (fflush(stdout) == EOF && rc == EX_OK_) {
        fprintf(stderr, "senderauthctl: write error\n");
        rc = EX_STORE;
    }
    return rc;
}
