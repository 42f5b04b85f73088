/* metrics.c - the counters of senderauthd and their Prometheus text exposition.
 * Owns the counter storage, the text format and the HTTP server (libmicrohttpd, one
 * internal polling thread); not what is counted when (src/daemon/stats.c decides that).
 * Threads: counters are lock-free atomics (relaxed: each is an independent total); the
 * HTTP thread only reads them. metrics_start/metrics_stop run in main(). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "metrics/metrics.h"
#include "util/buf.h"
#include "util/log.h"

#define RENDER_CAP (64 * 1024) /* the whole exposition; it is about 6 kB */

const double metrics_buckets[METRICS_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1.0,  2.5,   10.0};

static atomic_uint_fast64_t counters[METRICS_NCOUNTERS];
static atomic_uint_fast64_t results[METRICS_NMETHODS][METRICS_NRESULTS];
static atomic_uint_fast64_t buckets[METRICS_NBUCKETS + 1]; /* not cumulative; last = +Inf */
static atomic_uint_fast64_t eom_sum_ns;
static void (*_Atomic collect_fn)(void);

static struct MHD_Daemon *httpd;
static int bound_port;

/* Registered families and pages: a slot is written under reg_lock, then published by
 * the release store of the count; readers load the count (acquire) and take no lock. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct metrics_family *families[METRICS_MAX_FAMILIES];
static atomic_int nfamilies;
static struct {
    const char *path, *type;
    metrics_page_fn fn;
} pages[METRICS_MAX_PAGES];
static atomic_int npages;

static const char *const method_names[METRICS_NMETHODS] = {"spf", "spf_helo", "dkim", "dmarc",
                                                           "arc", "iprev",    "bimi"};
static const char *const action_names[] = {"accept", "reject", "quarantine", "tempfail", "split"};

static void counter_line(struct buf *b, const char *name, const char *help, uint64_t v);
static void render_families(struct buf *b);
static int find_page(const char *url);
static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *data,
                             size_t *data_len, void **state);

void metrics_count(enum metrics_counter c, uint64_t n)
{
    if ((unsigned)c < METRICS_NCOUNTERS)
        atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

void metrics_set(enum metrics_counter c, uint64_t v)
{
    if ((unsigned)c < METRICS_NCOUNTERS)
        atomic_store_explicit(&counters[c], v, memory_order_relaxed);
}

uint64_t metrics_get(enum metrics_counter c)
{
    if ((unsigned)c >= METRICS_NCOUNTERS)
        return 0;
    return atomic_load_explicit(&counters[c], memory_order_relaxed);
}

void metrics_count_result(enum metrics_method m, enum auth_res r)
{
    if ((unsigned)m < METRICS_NMETHODS && (unsigned)r < METRICS_NRESULTS)
        atomic_fetch_add_explicit(&results[m][r], 1, memory_order_relaxed);
}

/* metrics_observe_eom - the bucket is the first upper bound >= seconds (le semantics) */
void metrics_observe_eom(double seconds)
{
    int i = 0;

    if (!(seconds >= 0)) /* NaN or negative: a clock problem, count it as 0 */
        seconds = 0;
    while (i < METRICS_NBUCKETS && seconds > metrics_buckets[i])
        i++;
    atomic_fetch_add_explicit(&buckets[i], 1, memory_order_relaxed);
    if (seconds > 1e6)
        seconds = 1e6;
    atomic_fetch_add_explicit(&eom_sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

void metrics_set_collect(void (*fn)(void))
{
    atomic_store(&collect_fn, fn);
}

/* counter_line - HELP, TYPE and the value of one unlabelled counter */
static void counter_line(struct buf *b, const char *name, const char *help, uint64_t v)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
               (unsigned long long)v);
}

/* metrics_render - see metrics.h */
char *metrics_render(size_t *len)
{
    struct buf b;
    void (*fn)(void) = atomic_load(&collect_fn);
    uint64_t cum = 0;

    if (fn != NULL)
        fn();
    buf_init(&b, RENDER_CAP);
    counter_line(&b, "senderauth_messages_total", "Messages that reached end of message.",
                 metrics_get(METRICS_MESSAGES));
    buf_printf(&b, "# HELP senderauth_results_total Authentication results by method and "
                   "result (one per DKIM signature).\n"
                   "# TYPE senderauth_results_total counter\n");
    for (int m = 0; m < METRICS_NMETHODS; m++)
        for (int r = 0; r < METRICS_NRESULTS; r++)
            buf_printf(&b, "senderauth_results_total{method=\"%s\",result=\"%s\"} %llu\n",
                       method_names[m], auth_res_name((enum auth_res)r),
                       (unsigned long long)atomic_load_explicit(&results[m][r],
                                                                memory_order_relaxed));
    buf_printf(&b, "# HELP senderauth_actions_total Final actions on messages; split counts "
                   "messages with recipients deferred by 452 4.5.3.\n"
                   "# TYPE senderauth_actions_total counter\n");
    for (int a = 0; a < 5; a++)
        buf_printf(&b, "senderauth_actions_total{action=\"%s\"} %llu\n", action_names[a],
                   (unsigned long long)metrics_get((enum metrics_counter)(METRICS_ACTION_ACCEPT + a)));
    counter_line(&b, "senderauth_dns_queries_total", "DNS queries sent to the resolvers.",
                 metrics_get(METRICS_DNS_QUERIES));
    counter_line(&b, "senderauth_dns_cache_hits_total", "DNS answers from the shared cache.",
                 metrics_get(METRICS_DNS_CACHE_HITS));
    counter_line(&b, "senderauth_dns_timeouts_total",
                 "DNS queries without a usable answer (timeout, SERVFAIL, REFUSED).",
                 metrics_get(METRICS_DNS_TIMEOUTS));
    counter_line(&b, "senderauth_store_errors_total", "Consent store lookups that failed.",
                 metrics_get(METRICS_STORE_ERRORS));
    buf_printf(&b, "# HELP senderauth_reloads_total Configuration reloads (SIGHUP).\n"
                   "# TYPE senderauth_reloads_total counter\n"
                   "senderauth_reloads_total{result=\"ok\"} %llu\n"
                   "senderauth_reloads_total{result=\"failed\"} %llu\n",
               (unsigned long long)metrics_get(METRICS_RELOAD_OK),
               (unsigned long long)metrics_get(METRICS_RELOAD_FAILED));
    buf_printf(&b, "# HELP senderauth_history_rows_total DMARC history rows written to the "
                   "store, or dropped (queue full, store failed).\n"
                   "# TYPE senderauth_history_rows_total counter\n"
                   "senderauth_history_rows_total{result=\"written\"} %llu\n"
                   "senderauth_history_rows_total{result=\"dropped_queue_full\"} %llu\n"
                   "senderauth_history_rows_total{result=\"dropped_store\"} %llu\n"
                   "# HELP senderauth_history_queue_rows DMARC history rows waiting in the "
                   "queue.\n"
                   "# TYPE senderauth_history_queue_rows gauge\n"
                   "senderauth_history_queue_rows %llu\n",
               (unsigned long long)metrics_get(METRICS_HISTORY_WRITTEN),
               (unsigned long long)metrics_get(METRICS_HISTORY_DROPPED_FULL),
               (unsigned long long)metrics_get(METRICS_HISTORY_DROPPED_STORE),
               (unsigned long long)metrics_get(METRICS_HISTORY_QUEUED));
    buf_printf(&b, "# HELP senderauth_eom_seconds End-of-message processing time.\n"
                   "# TYPE senderauth_eom_seconds histogram\n");
    for (int i = 0; i <= METRICS_NBUCKETS; i++) {
        cum += atomic_load_explicit(&buckets[i], memory_order_relaxed);
        if (i < METRICS_NBUCKETS)
            buf_printf(&b, "senderauth_eom_seconds_bucket{le=\"%g\"} %llu\n", metrics_buckets[i],
                       (unsigned long long)cum);
        else
            buf_printf(&b, "senderauth_eom_seconds_bucket{le=\"+Inf\"} %llu\n",
                       (unsigned long long)cum);
    }
    buf_printf(&b, "senderauth_eom_seconds_sum %.9f\nsenderauth_eom_seconds_count %llu\n",
               (double)atomic_load_explicit(&eom_sum_ns, memory_order_relaxed) / 1e9,
               (unsigned long long)cum);
    render_families(&b);
    if (b.data == NULL) {
        buf_release(&b);
        return NULL;
    }
    *len = b.len;
    return b.data; /* the caller frees it */
}

/* render_families - the registered families, in registration order */
static void render_families(struct buf *b)
{
    int n = atomic_load_explicit(&nfamilies, memory_order_acquire);

    for (int i = 0; i < n; i++) {
        const struct metrics_family *f = families[i];

        buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", f->name, f->help, f->name);
        for (int v = 0; v < f->n; v++)
            buf_printf(b, "%s{%s=\"%s\"} %llu\n", f->name, f->label, f->values[v],
                       (unsigned long long)atomic_load_explicit(&f->counters[v],
                                                                memory_order_relaxed));
    }
}

/* metrics_add_family - see metrics.h */
int metrics_add_family(const struct metrics_family *f)
{
    int n, rc = -1;

    pthread_mutex_lock(&reg_lock);
    n = atomic_load_explicit(&nfamilies, memory_order_relaxed);
    if (n < METRICS_MAX_FAMILIES) {
        families[n] = f;
        atomic_store_explicit(&nfamilies, n + 1, memory_order_release);
        rc = 0;
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

/* metrics_add_page - see metrics.h */
int metrics_add_page(const char *path, const char *content_type, metrics_page_fn fn)
{
    int n, rc = -1;

    pthread_mutex_lock(&reg_lock);
    n = atomic_load_explicit(&npages, memory_order_relaxed);
    if (n < METRICS_MAX_PAGES) {
        pages[n].path = path;
        pages[n].type = content_type;
        pages[n].fn = fn;
        atomic_store_explicit(&npages, n + 1, memory_order_release);
        rc = 0;
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

/* find_page - the index of the registered page for url, or -1 */
static int find_page(const char *url)
{
    int n = atomic_load_explicit(&npages, memory_order_acquire);

    for (int i = 0; i < n; i++)
        if (strcmp(url, pages[i].path) == 0)
            return i;
    return -1;
}

/* metrics_parse_listen - see metrics.h */
int metrics_parse_listen(const char *s, struct sockaddr_storage *ss, char *why, size_t whylen)
{
    char host[METRICS_LISTEN_MAX];
    const char *colon, *port;
    char *end;
    long p;
    size_t n;

    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        n = (size_t)(close - s - 1);
        port = close + 2;
        s++;
    } else {
        if ((colon = strrchr(s, ':')) == NULL || strchr(s, ':') != colon)
            goto bad;
        n = (size_t)(colon - s);
        port = colon + 1;
    }
    if (n == 0 || n >= sizeof(host))
        goto bad;
    memcpy(host, s, n);
    host[n] = '\0';
    errno = 0;
    p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535)
        goto bad;
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
        return 0;
    }
bad:
    snprintf(why, whylen, "must be \"ADDR:PORT\" or \"[IPv6]:PORT\" with a numeric address");
    return -1;
}

/* serve - GET /metrics and the registered pages; everything else 404 or 405 */
static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *data,
                             size_t *data_len, void **state)
{
    static const char notfound[] = "not found: try /metrics\n";
    struct MHD_Response *resp;
    enum MHD_Result ret;
    unsigned int code = MHD_HTTP_OK;
    char *text = NULL;
    size_t len = 0;
    int page = -1;
    const char *type = "text/plain; version=0.0.4; charset=utf-8";

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return MHD_NO; /* closes the connection */
    if ((page = find_page(url)) >= 0) {
        type = pages[page].type;
        text = pages[page].fn(&len);
    } else if (strcmp(url, "/metrics") == 0) {
        text = metrics_render(&len);
    }
    if (text != NULL) {
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    } else {
        code = page >= 0 || strcmp(url, "/metrics") == 0 ? MHD_HTTP_INTERNAL_SERVER_ERROR
                                                         : MHD_HTTP_NOT_FOUND;
        resp = MHD_create_response_from_buffer(sizeof(notfound) - 1, (void *)notfound,
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            code == MHD_HTTP_OK ? type : "text/plain; charset=utf-8");
    ret = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* metrics_start - see metrics.h */
int metrics_start(const char *listen)
{
    struct sockaddr_storage ss;
    char why[128];
    const union MHD_DaemonInfo *info;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

    if (listen == NULL || listen[0] == '\0' || httpd != NULL)
        return 0;
    if (metrics_parse_listen(listen, &ss, why, sizeof(why)) < 0) {
        log_warn("metrics.listen \"%s\": %s", listen, why);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    httpd = MHD_start_daemon(flags, 0, NULL, NULL, serve, NULL, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16U,
                             MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
    if (httpd == NULL) {
        log_warn("metrics: cannot listen on %s", listen);
        return -1;
    }
    info = MHD_get_daemon_info(httpd, MHD_DAEMON_INFO_BIND_PORT);
    bound_port = info != NULL ? info->port : 0;
    log_info("metrics on http://%s/metrics", listen);
    return 0;
}

void metrics_stop(void)
{
    if (httpd != NULL) {
        MHD_stop_daemon(httpd);
        httpd = NULL;
        bound_port = 0;
    }
}

int metrics_port(void)
{
    return bound_port;
}
