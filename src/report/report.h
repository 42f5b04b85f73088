/* report.h - DMARC aggregate reports (RFC 9990) from the history in the store:
 * the XML writer (rua_xml.c), rua parsing, external-destination verification, gzip,
 * file names, the report mail and its hand-over to sendmail (deliver.c), and one run
 * over an interval (aggregate.c). senderauth-report (src/report/tool) drives them.
 * Threads: reentrant; a run uses one store_history handle and one thread. */
#ifndef SA_REPORT_REPORT_H
#define SA_REPORT_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"
#include "dns/dns.h"
#include "senderauth/store.h"

#define REPORT_NS "urn:ietf:params:xml:ns:dmarc-2.0" /* RFC 9990 */
#define REPORT_MAX_DESTS 8 /* rua URIs used per domain; more are ignored */
#define REPORT_ID_MAX 64
#define REPORT_NAME_MAX 700 /* receiver!domain!begin!end!id.xml.gz */

/* ---- rua_xml.c ---- */
struct report_meta {
    const char *org_name, *email, *report_id, *generator;
    long long begin, end; /* seconds since the epoch, both inclusive */
};
/* rua_xml_begin - the XML declaration, <feedback>, version, report_metadata and
 * policy_published. rua_xml_record - one <record>. rua_xml_end - </feedback>.
 * Each returns 0, or -1 on a write error. Text is escaped; control characters are
 * dropped (XML 1.0 cannot carry them). */
int rua_xml_begin(FILE *fp, const struct report_meta *m, const struct store_hist_policy *p);
int rua_xml_record(FILE *fp, const struct store_hist_group *g);
int rua_xml_end(FILE *fp);
/* rua_xml_text - s escaped for XML text or attribute values. */
int rua_xml_text(FILE *fp, const char *s);

/* ---- deliver.c ---- */
struct report_dest {
    char uri[STORE_HIST_RUA_MAX]; /* as published, e.g. "mailto:rua@example.com!10m" */
    char addr[256];               /* the address, e.g. "rua@example.com" (lower-case domain) */
    char domain[256];             /* its domain */
    unsigned long long max_bytes; /* from the !size suffix; 0 = no limit */
};
/* report_parse_rua - the mailto: URIs of a rua tag value (comma separated, RFC 9990 /
 * RFC 3986 %-escapes decoded, !size with k/m/g/t suffixes) into out; other schemes and
 * malformed URIs are skipped and counted in *skipped (may be NULL). Returns the number
 * of destinations (at most max; duplicates kept once). */
int report_parse_rua(const char *rua, struct report_dest *out, int max, int *skipped);

enum report_verify {
    REPORT_VERIFY_OK = 0, /* authorized (a v=DMARC1 TXT record at the name) */
    REPORT_VERIFY_DENIED, /* no such record: do not send */
    REPORT_VERIFY_TEMP,   /* could not find out */
};
/* report_verify_external - RFC 9990 3: look up TXT at
 * <policy_domain>._report._dmarc.<dest_domain> through dns. */
enum report_verify report_verify_external(struct dns *dns, const char *policy_domain,
                                          const char *dest_domain);

/* report_file_name - "receiver!domain!begin!end!id.xml.gz" (RFC 9990 6.1). 0 or -1. */
int report_file_name(char *out, size_t outlen, const char *receiver, const char *domain,
                     long long begin, long long end, const char *id);
/* report_new_id - a unique report id: "<begin>.<16 hex digits from getrandom>". */
void report_new_id(char *out, size_t outlen, long long begin);

/* report_gzip - gzip (RFC 1952) of data with name as the stored file name; *out is
 * malloc'd (caller frees). 0 or -1. */
int report_gzip(const char *data, size_t len, const char *name, unsigned char **out,
                size_t *outlen);

/* The mail around one report (RFC 9990 6.3). */
struct report_mail {
    const char *from;      /* report.email */
    const char *to;        /* destination address */
    const char *domain;    /* the policy domain */
    const char *submitter; /* the receiver (domain of report.email) */
    const char *report_id;
    const char *file_name; /* the attachment's name */
    long long begin, end;
    long long now; /* Date: */
};
/* report_mime - the whole message (headers, a text part, the gzip attachment in
 * base64) into a malloc'd buffer *out (caller frees). 0 or -1. */
int report_mime(const struct report_mail *m, const unsigned char *gz, size_t gzlen, char **out,
                size_t *outlen);
/* report_sendmail - run path -i -f from -- to with msg on stdin; 0 when it exits 0,
 * else -1 with why ("exit 75", "signal 9", "cannot run: ..."). */
int report_sendmail(const char *path, const char *from, const char *to, const char *msg, size_t len,
                    char *why, size_t whylen);

/* ---- aggregate.c ---- */
/* report_same_org_fn - 1 when a and b share an organizational domain (the caller's PSL). */
typedef int (*report_same_org_fn)(void *arg, const char *a, const char *b);

struct report_run {
    const struct sa_conf *conf;
    struct store_history *st;
    struct dns *dns; /* for external-destination verification */
    report_same_org_fn same_org;
    void *same_org_arg;
    long long from, to; /* [from, to) */
    long long now;
    const char *xml_only_dir; /* write DIR/<name>.xml.gz instead of mailing; NULL = mail */
    int dry_run;              /* build and verify, send nothing, log nothing in the store */
    FILE *out;                /* one line per report and destination (may be NULL) */
};

struct report_summary {
    long domains;   /* domains with reportable rows */
    long long rows; /* rows in those reports */
    long records;   /* <record> elements written */
    long sent, failed, skipped, written;
};

/* report_run - one report per domain with reportable rows in [from, to), to every mailto:
 * destination of its rua (or into xml_only_dir). A failure for one destination does not
 * stop the others. Returns 0, or -1 when the store could not be read (err set). */
int report_run(const struct report_run *r, struct report_summary *sum, char *err, size_t errlen);

#endif
