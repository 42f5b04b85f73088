/* deliver.c - getting one report to one destination: rua parsing (mailto: URIs with
 * the !size suffix), external-destination verification (RFC 9990 3), the file name
 * (RFC 9990 6.1), gzip (zlib), the report mail (RFC 9990 6.3: multipart/mixed with a
 * text part and the application/gzip attachment) and the hand-over to sendmail.
 * Owns those formats and the child process; not what goes into a report (aggregate.c).
 * Threads: reentrant; report_sendmail forks and waits for its child. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "report/report.h"
#include "util/xalloc.h"

#define B64_LINE 76 /* RFC 2045 6.8 */

static int parse_one(const char *uri, size_t n, struct report_dest *d);
static int hexval(int c);
static int b64_append(FILE *fp, const unsigned char *p, size_t n);

/* hexval - one hex digit, -1 if not */
static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* parse_one - "mailto:addr[!size]" (n bytes, trimmed) into d; 0 or -1 */
static int parse_one(const char *uri, size_t n, struct report_dest *d)
{
    char raw[STORE_HIST_RUA_MAX];
    size_t o = 0, i;
    const char *bang, *at;
    unsigned long long mult = 1;

    memset(d, 0, sizeof(*d));
    if (n >= sizeof(raw) || n < 8 || strncasecmp(uri, "mailto:", 7) != 0)
        return -1;
    memcpy(d->uri, uri, n);
    d->uri[n] = '\0';
    memcpy(raw, uri + 7, n - 7);
    raw[n - 7] = '\0';
    if ((bang = strrchr(raw, '!')) != NULL) { /* !size: digits and an optional unit */
        char *end;
        unsigned long long v = strtoull(bang + 1, &end, 10);

        if (end == bang + 1)
            return -1;
        switch (tolower((unsigned char)*end)) {
        case 'k':
            mult = 1ULL << 10, end++;
            break;
        case 'm':
            mult = 1ULL << 20, end++;
            break;
        case 'g':
            mult = 1ULL << 30, end++;
            break;
        case 't':
            mult = 1ULL << 40, end++;
            break;
        default:
            break;
        }
        if (*end != '\0' || v == 0)
            return -1;
        d->max_bytes = v * mult;
        raw[bang - raw] = '\0';
    }
    for (i = 0; raw[i] != '\0'; i++) { /* %-decoding (RFC 3986 2.1) */
        int c = (unsigned char)raw[i];

        if (c == '%' && hexval(raw[i + 1]) >= 0 && hexval(raw[i + 2]) >= 0) {
            c = hexval(raw[i + 1]) * 16 + hexval(raw[i + 2]);
            i += 2;
        }
        if (c <= ' ' || c >= 0x7f || strchr("<>\"(),;:\\[]?", c) != NULL)
            return -1; /* also refuses mailto: headers (?subject=) */
        if (o + 1 >= sizeof(d->addr))
            return -1;
        d->addr[o++] = (char)c;
    }
    d->addr[o] = '\0';
    if ((at = strrchr(d->addr, '@')) == NULL || at == d->addr || at[1] == '\0' ||
        strchr(at + 1, '.') == NULL || at[strlen(at) - 1] == '.')
        return -1;
    for (char *p = (char *)at + 1; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    sa_strlcpy(d->domain, at + 1, sizeof(d->domain));
    return 0;
}

/* report_parse_rua - see report.h */
int report_parse_rua(const char *rua, struct report_dest *out, int max, int *skipped)
{
    const char *p = rua, *e;
    int n = 0, dup;

    if (skipped != NULL)
        *skipped = 0;
    while (p != NULL && *p) {
        const char *b, *t;

        e = strchr(p, ',');
        b = p;
        t = e != NULL ? e : p + strlen(p);
        while (b < t && isspace((unsigned char)*b))
            b++;
        while (t > b && isspace((unsigned char)t[-1]))
            t--;
        if (t > b) {
            if (n < max && parse_one(b, (size_t)(t - b), &out[n]) == 0) {
                dup = 0;
                for (int i = 0; i < n; i++)
                    dup |= strcasecmp(out[i].addr, out[n].addr) == 0;
                if (!dup)
                    n++;
            } else if (skipped != NULL) {
                (*skipped)++;
            }
        }
        p = e != NULL ? e + 1 : NULL;
    }
    return n;
}

/* report_verify_external - see report.h */
enum report_verify report_verify_external(struct dns *dns, const char *policy_domain,
                                          const char *dest_domain)
{
    char name[DNS_MAX_NAME + 2];
    struct dns_answer *a = NULL;
    enum dns_status s;
    enum report_verify v = REPORT_VERIFY_DENIED;
    int n = snprintf(name, sizeof(name), "%s._report._dmarc.%s", policy_domain, dest_domain);

    if (n < 0 || (size_t)n >= sizeof(name) || n > 253)
        return REPORT_VERIFY_DENIED;
    s = dns_query(dns, name, DNS_T_TXT, &a);
    if (s == DNS_TEMPFAIL || s == DNS_BADREPLY)
        return REPORT_VERIFY_TEMP;
    for (int i = 0; s == DNS_OK && a != NULL && i < a->nrr; i++) {
        const char *t = a->rr[i].u.txt.data;

        while (*t == ' ' || *t == '\t')
            t++;
        if (strncmp(t, "v=DMARC1", 8) == 0 &&
            (t[8] == '\0' || t[8] == ';' || t[8] == ' ' || t[8] == '\t'))
            v = REPORT_VERIFY_OK;
    }
    dns_answer_free(a);
    return v;
}

/* report_file_name - see report.h */
int report_file_name(char *out, size_t outlen, const char *receiver, const char *domain,
                     long long begin, long long end, const char *id)
{
    int n = snprintf(out, outlen, "%s!%s!%lld!%lld!%s.xml.gz", receiver, domain, begin, end, id);

    if (n < 0 || (size_t)n >= outlen || strchr(receiver, '/') != NULL ||
        strchr(domain, '/') != NULL || strchr(id, '/') != NULL)
        return -1;
    return 0;
}

/* report_new_id - see report.h */
void report_new_id(char *out, size_t outlen, long long begin)
{
    unsigned char r[8];
    size_t got = 0;

    while (got < sizeof(r)) {
        ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* no entropy source: time and pid still make it unique per run */
            unsigned long long x =
                (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
            memcpy(r, &x, sizeof(r));
            break;
        }
        got += (size_t)n;
    }
    snprintf(out, outlen, "%lld.%02x%02x%02x%02x%02x%02x%02x%02x", begin, r[0], r[1], r[2], r[3],
             r[4], r[5], r[6], r[7]);
}

/* report_gzip - see report.h */
int report_gzip(const char *data, size_t len, const char *name, unsigned char **out, size_t *outlen)
{
    z_stream z;
    gz_header hd;
    size_t cap;
    unsigned char *buf;
    int rc;

    memset(&z, 0, sizeof(z));
    memset(&hd, 0, sizeof(hd));
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    hd.name = (Bytef *)name;
    hd.os = 3; /* Unix */
    deflateSetHeader(&z, &hd);
    cap = deflateBound(&z, (uLong)len) + strlen(name) + 64;
    if ((buf = malloc(cap)) == NULL) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH);
    *outlen = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* b64_append - base64 in lines of B64_LINE characters, CRLF-free (sendmail adds them) */
static int b64_append(FILE *fp, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int col = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        char q[4];

        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        if (fwrite(q, 1, 4, fp) != 4)
            return -1;
        if ((col += 4) >= B64_LINE) {
            putc('\n', fp);
            col = 0;
        }
    }
    if (col > 0)
        putc('\n', fp);
    return ferror(fp) ? -1 : 0;
}

/* report_mime - see report.h */
int report_mime(const struct report_mail *m, const unsigned char *gz, size_t gzlen, char **out,
                size_t *outlen)
{
    char date[64], b[16], begin[32], end[32], boundary[64];
    struct tm tm;
    time_t t = (time_t)m->now;
    FILE *fp;
    int rc = 0;

    *out = NULL;
    *outlen = 0;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    t = (time_t)m->begin;
    gmtime_r(&t, &tm);
    strftime(begin, sizeof(begin), "%Y-%m-%dT%H:%M:%SZ", &tm);
    t = (time_t)m->end;
    gmtime_r(&t, &tm);
    strftime(end, sizeof(end), "%Y-%m-%dT%H:%M:%SZ", &tm);
    report_new_id(b, sizeof(b), 0);
    snprintf(boundary, sizeof(boundary), "=_senderauth_%s", b + 2);
    if ((fp = open_memstream(out, outlen)) == NULL)
        return -1;
    rc |= fprintf(fp,
                  "From: %s\n"
                  "To: %s\n"
                  "Date: %s\n"
                  "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\n"
                  "Message-ID: <%s@%s>\n"
                  "MIME-Version: 1.0\n"
                  "Auto-Submitted: auto-generated\n"
                  "Content-Type: multipart/mixed; boundary=\"%s\"\n"
                  "\n"
                  "This is a MIME-formatted message.\n"
                  "\n"
                  "--%s\n"
                  "Content-Type: text/plain; charset=us-ascii\n"
                  "Content-Transfer-Encoding: 7bit\n"
                  "\n"
                  "This is a DMARC aggregate report (RFC 9990) from %s.\n"
                  "Report Domain: %s\n"
                  "Submitter: %s\n"
                  "Report-ID: %s\n"
                  "Period: %s to %s\n"
                  "\n"
                  "--%s\n"
                  "Content-Type: application/gzip; name=\"%s\"\n"
                  "Content-Transfer-Encoding: base64\n"
                  "Content-Disposition: attachment; filename=\"%s\"\n"
                  "\n",
                  m->from, m->to, date, m->domain, m->submitter, m->report_id, m->report_id,
                  m->submitter, boundary, boundary, m->submitter, m->domain, m->submitter,
                  m->report_id, begin, end, boundary, m->file_name, m->file_name) < 0;
    rc |= b64_append(fp, gz, gzlen);
    rc |= fprintf(fp, "\n--%s--\n", boundary) < 0;
    if (fclose(fp) != 0 || rc) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* report_sendmail - see report.h */
int report_sendmail(const char *path, const char *from, const char *to, const char *msg, size_t len,
                    char *why, size_t whylen)
{
    int fd[2], status;
    pid_t pid;
    size_t off = 0;
    void (*old)(int);

    if (pipe(fd) < 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    if ((pid = fork()) < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[0], 0);
        close(fd[0]);
        close(fd[1]);
        execl(path, path, "-i", "-f", from, "--", to, (char *)NULL);
        _exit(127);
    }
    close(fd[0]);
    old = signal(SIGPIPE, SIG_IGN);
    while (off < len) {
        ssize_t n = write(fd[1], msg + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd[1]);
    signal(SIGPIPE, old);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(why, whylen, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && off == len)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        snprintf(why, whylen, "cannot run %s", path);
    else if (WIFEXITED(status))
        snprintf(why, whylen, "%s exit %d", path, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(why, whylen, "%s killed by signal %d", path, WTERMSIG(status));
    else
        snprintf(why, whylen, "%s took %zu of %zu bytes", path, off, len);
    return -1;
}
