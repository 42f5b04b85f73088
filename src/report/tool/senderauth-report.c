/* senderauth-report.c - DMARC aggregate reports and operator statistics from the history
 * that senderauthd records (docs/reports.md):
 *   senderauth-report [-c FILE] run [--from DATE] [--to DATE] [--xml-only DIR] [--dry-run]
 *                                   [--metrics FILE]
 *   senderauth-report [-c FILE] stats --from DATE --to DATE [--format csv|json]
 * DATE is YYYY-MM-DD (UTC; as --to it includes that whole day), YYYY-MM-DDTHH:MM:SSZ or
 * seconds since the epoch (as --to: exclusive). run defaults to the previous UTC day.
 * Exit: 0 done, 1 some report failed, 2 usage or configuration, 3 store error.
 * --metrics FILE: the run's figures in the Prometheus text format, replaced atomically
 * (for node_exporter's textfile collector).
 * Owns the command line, the run summary and the statistics output; not the reports
 * (src/report) nor the SQL (src/store).
 * Threads: one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "dmarc/dmarc.h"
#include "report/report.h"
#include "senderauth/store.h"
#include "util/xalloc.h"

#define DEFAULT_CONF "/etc/senderauth/senderauth.conf"

struct stat_row {
    char section[32];
    char key[STORE_DOMAIN_MAX];
    long long n;
};

struct stat_list {
    struct stat_row *v;
    int n, cap;
    const char *section;
};

struct dom_count {
    char domain[STORE_DOMAIN_MAX];
    long long on, all;
};

struct dom_list {
    struct dom_count *v;
    int n, cap;
};

static void usage(void) __attribute__((noreturn));
static int parse_date(const char *s, int is_to, long long *out);
static int same_org(void *arg, const char *a, const char *b);
static int cmd_run(struct sa_conf *conf, int argc, char **argv);
static int cmd_stats(struct sa_conf *conf, int argc, char **argv);
static int add_stat(const char *key, long long n, void *arg);
static int count_user(const struct store_row *row, void *arg);
static void put_json_string(const char *s);
static int write_metrics(const char *path, const struct report_run *r,
                         const struct report_summary *sum, long long purged, int status);

static void usage(void)
{
    fprintf(stderr,
            "usage: senderauth-report [-c FILE] run [--from DATE] [--to DATE] [--xml-only DIR] "
            "[--dry-run] [--metrics FILE]\n"
            "       senderauth-report [-c FILE] stats --from DATE --to DATE [--format csv|json]\n"
            "  DATE: YYYY-MM-DD (UTC, --to includes the day), YYYY-MM-DDTHH:MM:SSZ or epoch "
            "seconds\n");
    exit(2);
}

/* parse_date - see the header comment; 0 or -1 */
static int parse_date(const char *s, int is_to, long long *out)
{
    struct tm tm;
    const char *e;
    char *end;
    long long v;

    memset(&tm, 0, sizeof(tm));
    if ((e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL && *e == '\0') {
        *out = (long long)timegm(&tm);
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    if ((e = strptime(s, "%Y-%m-%d", &tm)) != NULL && *e == '\0') {
        *out = (long long)timegm(&tm) + (is_to ? 86400 : 0);
        return 0;
    }
    v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* same_org - a and b share an organizational domain (PSL), or one is under the other */
static int same_org(void *arg, const char *a, const char *b)
{
    const struct orgdomain *org = arg;
    char oa[256], ob[256];

    if (dmarc_domain_under(a, b) || dmarc_domain_under(b, a))
        return 1;
    if (org == NULL || orgdomain_get(org, a, oa, sizeof(oa)) < 0 ||
        orgdomain_get(org, b, ob, sizeof(ob)) < 0)
        return 0;
    return strcasecmp(oa, ob) == 0;
}

/* cmd_run - the reports of one interval */
static int cmd_run(struct sa_conf *conf, int argc, char **argv)
{
    struct report_run r;
    struct report_summary sum;
    struct dns_res_conf rc;
    struct orgdomain *org = NULL;
    char err[512];
    long long now = (long long)time(NULL), purged = 0;
    int have_from = 0, have_to = 0, status;
    const char *metrics = NULL;

    memset(&r, 0, sizeof(r));
    r.conf = conf;
    r.now = now;
    r.out = stdout;
    r.to = now - now % 86400;
    r.from = r.to - 86400;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            if (parse_date(argv[++i], 0, &r.from) < 0)
                usage();
            have_from = 1;
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            if (parse_date(argv[++i], 1, &r.to) < 0)
                usage();
            have_to = 1;
        } else if (strcmp(argv[i], "--xml-only") == 0 && i + 1 < argc) {
            r.xml_only_dir = argv[++i];
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            r.dry_run = 1;
        } else if (strcmp(argv[i], "--metrics") == 0 && i + 1 < argc) {
            metrics = argv[++i];
        } else {
            usage();
        }
    }
    if (have_from && !have_to)
        r.to = r.from + 86400;
    if (have_to && !have_from)
        r.from = r.to - 86400;
    if (r.to <= r.from) {
        fprintf(stderr, "senderauth-report: --to must be after --from\n");
        return 2;
    }
    if (conf->report_org_name[0] == '\0' || conf->report_email[0] == '\0') {
        fprintf(stderr, "senderauth-report: %s: report.org_name and report.email must be set\n",
                conf->source);
        return 2;
    }
    if ((r.st = store_history_open(conf, err, sizeof(err))) == NULL) {
        fprintf(stderr, "senderauth-report: %s\n", err);
        return 3;
    }
    memset(&rc, 0, sizeof(rc));
    rc.nservers = conf->dns_nameservers.n;
    for (int i = 0; i < rc.nservers && i < DNS_RES_MAX_SERVERS; i++) {
        sa_strlcpy(rc.server[i].addr, conf->dns_nameservers.v[i].addr, sizeof(rc.server[i].addr));
        rc.server[i].port = conf->dns_nameservers.v[i].port;
    }
    rc.timeout = conf->dns_timeout;
    rc.retries = conf->dns_retries;
    if ((r.dns = dns_res_new(&rc)) == NULL) {
        fprintf(stderr, "senderauth-report: cannot start the DNS resolver\n");
        store_history_close(r.st);
        return 2;
    }
    org = orgdomain_new(conf->psl_path);
    r.same_org = same_org;
    r.same_org_arg = org;
    status = report_run(&r, &sum, err, sizeof(err)) < 0 ? 3 : sum.failed > 0 ? 1 : 0;
    if (status == 3)
        fprintf(stderr, "senderauth-report: store: %s\n", err);
    if (status != 3 && !r.dry_run && conf->report_retention_days > 0 &&
        store_history_purge(r.st, now - (long long)conf->report_retention_days * 86400, &purged) <
            0)
        fprintf(stderr, "senderauth-report: purge: %s\n", store_strerror());
    printf("summary: from=%lld to=%lld domains=%ld rows=%lld records=%ld sent=%ld failed=%ld "
           "skipped=%ld written=%ld purged=%lld\n",
           r.from, r.to, sum.domains, sum.rows, sum.records, sum.sent, sum.failed, sum.skipped,
           sum.written, purged);
    if (metrics != NULL && write_metrics(metrics, &r, &sum, purged, status) < 0) {
        fprintf(stderr, "senderauth-report: %s: cannot write the metrics\n", metrics);
        if (status == 0)
            status = 1;
    }
    orgdomain_free(org);
    dns_free(r.dns);
    store_history_close(r.st);
    return status;
}

/* write_metrics - the run's figures as Prometheus text (gauges of the last run) into
 * path, through path.tmp and rename(2) so a collector never reads half a file; 0 or -1 */
static int write_metrics(const char *path, const struct report_run *r,
                         const struct report_summary *sum, long long purged, int status)
{
    static const char *const dest[] = {"sent", "failed", "skipped", "written"};
    const long n[] = {sum->sent, sum->failed, sum->skipped, sum->written};
    char tmp[4096];
    FILE *fp;
    int bad;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp) ||
        (fp = fopen(tmp, "w")) == NULL)
        return -1;
    fprintf(fp,
            "# HELP senderauth_report_last_run_timestamp_seconds When senderauth-report last "
            "ran.\n# TYPE senderauth_report_last_run_timestamp_seconds gauge\n"
            "senderauth_report_last_run_timestamp_seconds %lld\n"
            "# HELP senderauth_report_last_run_status Exit status of that run (0 done, 1 some "
            "report failed, 3 store error).\n# TYPE senderauth_report_last_run_status gauge\n"
            "senderauth_report_last_run_status %d\n"
            "# HELP senderauth_report_interval_end_seconds End of the interval it reported.\n"
            "# TYPE senderauth_report_interval_end_seconds gauge\n"
            "senderauth_report_interval_end_seconds %lld\n"
            "# HELP senderauth_report_domains Domains reported in that run.\n"
            "# TYPE senderauth_report_domains gauge\nsenderauth_report_domains %ld\n"
            "# HELP senderauth_report_rows History rows in those reports.\n"
            "# TYPE senderauth_report_rows gauge\nsenderauth_report_rows %lld\n"
            "# HELP senderauth_report_records Report records written.\n"
            "# TYPE senderauth_report_records gauge\nsenderauth_report_records %ld\n"
            "# HELP senderauth_report_purged_rows History rows deleted (retention).\n"
            "# TYPE senderauth_report_purged_rows gauge\nsenderauth_report_purged_rows %lld\n"
            "# HELP senderauth_report_destinations Report destinations by outcome.\n"
            "# TYPE senderauth_report_destinations gauge\n",
            r->now, status, r->to, sum->domains, sum->rows, sum->records, purged);
    for (size_t i = 0; i < sizeof(dest) / sizeof(dest[0]); i++)
        fprintf(fp, "senderauth_report_destinations{status=\"%s\"} %ld\n", dest[i], n[i]);
    bad = ferror(fp);
    if (fclose(fp) != 0 || bad || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* add_stat - one (section, key, count) */
static int add_stat(const char *key, long long n, void *arg)
{
    struct stat_list *l = arg;

    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        struct stat_row *v = realloc(l->v, (size_t)cap * sizeof(*v));

        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    sa_strlcpy(l->v[l->n].section, l->section, sizeof(l->v[l->n].section));
    sa_strlcpy(l->v[l->n].key, key, sizeof(l->v[l->n].key));
    l->v[l->n].n = n;
    l->n++;
    return 0;
}

/* count_user - consent rows per recipient domain (rows come in address order, so one
 * domain's rows are not necessarily together: search the list) */
static int count_user(const struct store_row *row, void *arg)
{
    struct dom_list *l = arg;
    const char *d = strrchr(row->subject, '@');
    int i;

    d = d != NULL ? d + 1 : row->subject;
    for (i = l->n - 1; i >= 0; i--)
        if (strcmp(l->v[i].domain, d) == 0)
            break;
    if (i < 0) {
        if (l->n == l->cap) {
            int cap = l->cap ? l->cap * 2 : 64;
            struct dom_count *v = realloc(l->v, (size_t)cap * sizeof(*v));

            if (v == NULL)
                return -1;
            l->v = v;
            l->cap = cap;
        }
        i = l->n++;
        memset(&l->v[i], 0, sizeof(l->v[i]));
        sa_strlcpy(l->v[i].domain, d, sizeof(l->v[i].domain));
    }
    l->v[i].all++;
    l->v[i].on += row->enforce != 0;
    return 0;
}

/* put_json_string - s as a JSON string */
static void put_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

/* cmd_stats - the figures of an interval, CSV (section,key,count) or JSON */
static int cmd_stats(struct sa_conf *conf, int argc, char **argv)
{
    static const struct {
        const char *section, *column;
    } q[] = {
        {"messages", "all"},
        {"spf", "spf_result"},
        {"dkim", "dkim_pass"},
        {"dmarc", "dmarc_result"},
        {"action", "action"},
        {"would", "would"},
        {"disposition", "disposition"},
        {"override", "reason"},
        {"recipients", "consent"},
        {"reports", "report_status"},
    };
    struct stat_list l = {NULL, 0, 0, NULL};
    struct dom_list dl = {NULL, 0, 0};
    struct store_history *h;
    struct store *st;
    char err[512];
    long long from = -1, to = -1;
    const char *fmt = "csv", *last = "";
    int rc = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            if (parse_date(argv[++i], 0, &from) < 0)
                usage();
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            if (parse_date(argv[++i], 1, &to) < 0)
                usage();
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            fmt = argv[++i];
            if (strcmp(fmt, "csv") != 0 && strcmp(fmt, "json") != 0)
                usage();
        } else {
            usage();
        }
    }
    if (from < 0 || to < 0 || to <= from)
        usage();
    if ((h = store_history_open(conf, err, sizeof(err))) == NULL) {
        fprintf(stderr, "senderauth-report: %s\n", err);
        return 3;
    }
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]) && rc == 0; i++) {
        l.section = q[i].section;
        rc = store_history_count(h, q[i].column, from, to, add_stat, &l);
    }
    store_history_close(h);
    if (rc == 0) { /* consent uptake now, per recipient domain, from the consent tables */
        if ((st = store_open(conf, STORE_OPEN_READ | STORE_OPEN_BULK, err, sizeof(err))) == NULL)
            rc = -1;
        else {
            rc = store_foreach(st, STORE_KIND_USER, count_user, &dl);
            store_close(st);
        }
    }
    if (rc < 0) {
        fprintf(stderr, "senderauth-report: store: %s\n", err[0] ? err : store_strerror());
        free(l.v);
        free(dl.v);
        return 3;
    }
    for (int i = 0; i < dl.n; i++) {
        char key[STORE_DOMAIN_MAX + 8];

        l.section = "consent_on";
        add_stat(dl.v[i].domain, dl.v[i].on, &l);
        l.section = "consent_users";
        snprintf(key, sizeof(key), "%s", dl.v[i].domain);
        add_stat(key, dl.v[i].all, &l);
    }
    if (strcmp(fmt, "csv") == 0) {
        printf("section,key,count\n");
        printf("period,from,%lld\nperiod,to,%lld\n", from, to);
        for (int i = 0; i < l.n; i++)
            printf("%s,%s,%lld\n", l.v[i].section, l.v[i].key, l.v[i].n);
    } else {
        printf("{\"from\": %lld, \"to\": %lld", from, to);
        for (int i = 0; i < l.n; i++) {
            if (strcmp(last, l.v[i].section) != 0) {
                printf("%s, ", last[0] ? "}" : "");
                put_json_string(l.v[i].section);
                printf(": {");
            } else {
                printf(", ");
            }
            put_json_string(l.v[i].key);
            printf(": %lld", l.v[i].n);
            last = l.v[i].section;
        }
        printf("%s}\n", last[0] ? "}" : "");
    }
    free(l.v);
    free(dl.v);
    return 0;
}

int main(int argc, char **argv)
{
    static struct conf_errors errs;
    const char *path = DEFAULT_CONF;
    struct sa_conf *conf;
    int i = 1, rc;

    if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
        path = argv[i + 1];
        i += 2;
    }
    if (i >= argc)
        usage();
    if ((conf = conf_load_file(path, &errs)) == NULL) {
        conf_errors_print(&errs, stderr);
        return 2;
    }
    if (strcmp(argv[i], "run") == 0)
        rc = cmd_run(conf, argc - i - 1, argv + i + 1);
    else if (strcmp(argv[i], "stats") == 0)
        rc = cmd_stats(conf, argc - i - 1, argv + i + 1);
    else
        usage();
    conf_free(conf);
    return rc;
}
