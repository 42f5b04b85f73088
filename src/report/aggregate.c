/* aggregate.c - one reporting run (senderauth-report run): for each domain with
 * reportable history in the interval, one RFC 9990 report with one record per group of
 * rows (source IP and exact header-from are never merged), gzipped and mailed to each
 * mailto: destination of its rua, or written to a directory.
 * Per destination, in order: loop suppression (never to our own report.email), the
 * dead-destination backoff (report.max_failures consecutive failures, retried after
 * report.dead_retry_days), external verification (RFC 9990 3), the !size limit, then
 * sendmail. Every outcome is one report_log row and one line on r->out.
 * Owns the run; not the SQL (store_history.c), the XML (rua_xml.c) or the mail
 * (deliver.c).
 * Threads: one run, one thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "report/report.h"
#include "util/xalloc.h"

struct pol {
    char *domain, *p, *sp, *np, *adkim, *aspf, *discovery, *rua;
    int pct, testing;
    long long rows;
};

struct pols {
    struct pol *v;
    int n, cap;
};

struct one {
    const struct report_run *r;
    struct report_summary *sum;
    const struct pol *pol;
    const char *receiver;
    char id[REPORT_ID_MAX];
    char name[REPORT_NAME_MAX];
    unsigned char *gz;
    size_t gzlen;
};

static int keep_policy(const struct store_hist_policy *p, void *arg);
static int write_record(const struct store_hist_group *g, void *arg);
static int build(struct one *o, FILE *xml, char *err, size_t errlen);
static void deliver_one(struct one *o, const struct report_dest *d);
static void outcome(struct one *o, const char *dest, const char *status, const char *detail,
                    long long bytes);
static int write_file(const char *dir, const char *name, const unsigned char *p, size_t n,
                      char *why, size_t whylen);

/* keep_policy - copy one policy row (the store's strings are borrowed) */
static int keep_policy(const struct store_hist_policy *p, void *arg)
{
    struct pols *ps = arg;
    struct pol *q;

    if (ps->n == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 64;
        struct pol *v = realloc(ps->v, (size_t)cap * sizeof(*v));

        if (v == NULL)
            return -1;
        ps->v = v;
        ps->cap = cap;
    }
    q = &ps->v[ps->n++];
    q->domain = xstrdup(p->policy_domain);
    q->p = xstrdup(p->p);
    q->sp = xstrdup(p->sp);
    q->np = xstrdup(p->np);
    q->adkim = xstrdup(p->adkim);
    q->aspf = xstrdup(p->aspf);
    q->discovery = xstrdup(p->discovery);
    q->rua = xstrdup(p->rua);
    q->pct = p->pct;
    q->testing = p->testing;
    q->rows = p->rows;
    return 0;
}

/* write_record - one <record> */
static int write_record(const struct store_hist_group *g, void *arg)
{
    void **a = arg;
    FILE *fp = a[0];
    struct report_summary *sum = a[1];

    sum->records++;
    return rua_xml_record(fp, g);
}

/* outcome - the report_log row (unless dry run) and the line on out */
static void outcome(struct one *o, const char *dest, const char *status, const char *detail,
                    long long bytes)
{
    const struct report_run *r = o->r;
    struct store_report_event ev = {r->now, r->from, r->to - 1, o->pol->domain, dest,
                                    o->id,  status,  detail,    bytes};

    if (strcmp(status, "sent") == 0)
        o->sum->sent++;
    else if (strcmp(status, "failed") == 0)
        o->sum->failed++;
    else if (strcmp(status, "written") == 0)
        o->sum->written++;
    else
        o->sum->skipped++;
    if (r->out != NULL)
        fprintf(r->out, "%s %s %s %s%s%s\n", status, o->pol->domain, dest, o->name,
                detail[0] ? ": " : "", detail);
    if (!r->dry_run)
        store_report_log(r->st, &ev); /* bookkeeping only: a failure here changes nothing */
}

/* build - the XML of one domain, gzipped into o->gz */
static int build(struct one *o, FILE *xml, char *err, size_t errlen)
{
    const struct report_run *r = o->r;
    const struct pol *p = o->pol;
    struct store_hist_policy hp = {p->domain,    p->p,   p->sp,  p->np,      p->adkim, p->aspf,
                                   p->discovery, p->rua, p->pct, p->testing, p->rows};
    struct report_meta meta = {r->conf->report_org_name,
                               r->conf->report_email,
                               o->id,
                               "senderauth " SA_VERSION,
                               r->from,
                               r->to - 1};
    void *arg[2] = {xml, o->sum};

    if (rua_xml_begin(xml, &meta, &hp) < 0)
        return -1;
    if (store_history_groups(r->st, p->domain, r->from, r->to, write_record, arg) < 0) {
        snprintf(err, errlen, "%s: %s", p->domain, store_strerror());
        return -2;
    }
    return rua_xml_end(xml);
}

/* write_file - DIR/name, created new (0644) */
static int write_file(const char *dir, const char *name, const unsigned char *p, size_t n,
                      char *why, size_t whylen)
{
    char path[4096 + REPORT_NAME_MAX];
    int fd;
    size_t off = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        snprintf(why, whylen, "%.300s: %.150s", path, strerror(errno));
        return -1;
    }
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(why, whylen, "%.300s: %.150s", path, strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) < 0) {
        snprintf(why, whylen, "%.300s: %.150s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* deliver_one - one destination: the checks in order, then sendmail */
static void deliver_one(struct one *o, const struct report_dest *d)
{
    const struct report_run *r = o->r;
    const struct sa_conf *conf = r->conf;
    struct report_mail mail = {
        conf->report_email, d->addr, o->pol->domain, o->receiver, o->id, o->name, r->from,
        r->to - 1,          r->now};
    char *msg = NULL, why[512];
    size_t len = 0;
    int failures = 0;
    long long last = 0;

    if (strcasecmp(d->addr, conf->report_email) == 0) {
        outcome(o, d->uri, "skipped", "loop: our own report address", 0);
        return;
    }
    if (store_report_dest_get(r->st, d->uri, &failures, &last) == 0 &&
        failures >= conf->report_max_failures &&
        (conf->report_dead_retry_days == 0 ||
         r->now - last < (long long)conf->report_dead_retry_days * 86400)) {
        snprintf(why, sizeof(why), "dead: %d consecutive failures", failures);
        outcome(o, d->uri, "skipped", why, 0);
        return;
    }
    if (conf->report_verify_external &&
        (r->same_org == NULL || !r->same_org(r->same_org_arg, o->pol->domain, d->domain))) {
        enum report_verify v = report_verify_external(r->dns, o->pol->domain, d->domain);

        if (v == REPORT_VERIFY_DENIED) {
            snprintf(why, sizeof(why), "external destination not authorized (%s._report._dmarc.%s)",
                     o->pol->domain, d->domain);
            outcome(o, d->uri, "skipped", why, 0);
            return;
        }
        if (v == REPORT_VERIFY_TEMP) {
            outcome(o, d->uri, "failed", "external destination: DNS temporary failure", 0);
            return;
        }
    }
    if (report_mime(&mail, o->gz, o->gzlen, &msg, &len) < 0) {
        outcome(o, d->uri, "failed", "cannot build the mail", 0);
        return;
    }
    if (d->max_bytes > 0 && len > d->max_bytes) {
        snprintf(why, sizeof(why), "too big: %zu bytes, limit %llu", len, d->max_bytes);
        outcome(o, d->uri, "skipped", why, (long long)len);
    } else if (r->dry_run) {
        outcome(o, d->uri, "skipped", "dry run", (long long)len);
    } else if (report_sendmail(conf->report_sendmail_path, conf->report_email, d->addr, msg, len,
                               why, sizeof(why)) < 0) {
        store_report_dest_set(r->st, d->uri, 0, r->now, why);
        outcome(o, d->uri, "failed", why, (long long)len);
    } else {
        store_report_dest_set(r->st, d->uri, 1, r->now, NULL);
        outcome(o, d->uri, "sent", "", (long long)len);
    }
    free(msg);
}

/* report_run - see report.h */
int report_run(const struct report_run *r, struct report_summary *sum, char *err, size_t errlen)
{
    struct pols ps = {NULL, 0, 0};
    const char *at = strrchr(r->conf->report_email, '@');
    int rc = 0;

    memset(sum, 0, sizeof(*sum));
    err[0] = '\0';
    if (store_history_policies(r->st, r->from, r->to, keep_policy, &ps) < 0) {
        snprintf(err, errlen, "%s", store_strerror());
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < ps.n; i++) {
        struct one o;
        struct report_dest dest[REPORT_MAX_DESTS];
        char *xml = NULL;
        size_t xlen = 0;
        FILE *fp;
        int nd, b;

        memset(&o, 0, sizeof(o));
        o.r = r;
        o.sum = sum;
        o.pol = &ps.v[i];
        o.receiver = at != NULL ? at + 1 : "";
        sum->domains++;
        sum->rows += o.pol->rows;
        report_new_id(o.id, sizeof(o.id), r->from);
        if (report_file_name(o.name, sizeof(o.name), o.receiver, o.pol->domain, r->from, r->to - 1,
                             o.id) < 0) {
            outcome(&o, "-", "failed", "bad file name", 0);
            continue;
        }
        if ((fp = open_memstream(&xml, &xlen)) == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        b = build(&o, fp, err, errlen);
        if (fclose(fp) != 0 && b == 0)
            b = -1;
        if (b == -2) { /* the store failed: stop the run */
            free(xml);
            rc = -1;
            break;
        }
        if (b < 0 || report_gzip(xml, xlen, o.name, &o.gz, &o.gzlen) < 0) {
            free(xml);
            outcome(&o, "-", "failed", "cannot build the report", 0);
            continue;
        }
        free(xml);
        if (r->xml_only_dir != NULL) {
            char why[512];

            if (r->dry_run)
                outcome(&o, r->xml_only_dir, "skipped", "dry run", (long long)o.gzlen);
            else if (write_file(r->xml_only_dir, o.name, o.gz, o.gzlen, why, sizeof(why)) < 0)
                outcome(&o, r->xml_only_dir, "failed", why, (long long)o.gzlen);
            else
                outcome(&o, r->xml_only_dir, "written", "", (long long)o.gzlen);
        } else {
            nd = report_parse_rua(o.pol->rua, dest, REPORT_MAX_DESTS, NULL);
            if (nd == 0)
                outcome(&o, o.pol->rua, "skipped", "no usable mailto: destination", 0);
            for (int k = 0; k < nd; k++)
                deliver_one(&o, &dest[k]);
        }
        free(o.gz);
    }
    for (int i = 0; i < ps.n; i++) {
        struct pol *q = &ps.v[i];

        free(q->domain), free(q->p), free(q->sp), free(q->np), free(q->adkim);
        free(q->aspf), free(q->discovery), free(q->rua);
    }
    free(ps.v);
    return rc;
}
