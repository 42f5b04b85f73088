/* main.c - senderauthd: options, configuration, the process-wide objects (resolver,
 * shared DNS cache, public suffix list, DKIM library), metrics, then the milter with
 * SIGHUP reloads (reload.c).
 *   senderauthd -c FILE [-f] [-t] [-d]
 * Owns start-up and shutdown order; not the per-connection work (milter.c, msg.c).
 * Threads: runs before libmilter starts its threads and after they stop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "daemon/hist.h"
#include "daemon/milter.h"
#include "daemon/msg.h"
#include "daemon/reload.h"
#include "daemon/stats.h"
#include "metrics/metrics.h"
#include "policy/lists.h"
#include "util/log.h"

static void usage(void) __attribute__((noreturn));
static int check_conf(const char *path);
static int proc_new(struct sa_proc *p, const struct sa_conf *conf);
static void proc_free(struct sa_proc *p);
static int load_list(const char *path, int interval, struct lists_file **out);
static void on_usr1(int sig);

/* on_usr1 - SIGUSR1: re-read the domain lists at the next message (async-signal-safe) */
static void on_usr1(int sig)
{
    lists_request_reload();
}

/* load_list - a domain list file ("" = none); -1 when it cannot be read */
static int load_list(const char *path, int interval, struct lists_file **out)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return 0;
    return (*out = lists_file_new(path, interval, NULL)) != NULL ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: senderauthd -c FILE [-f] [-t] [-d]\n"
                    "  -c FILE  configuration file\n"
                    "  -f       stay in the foreground and log to stderr\n"
                    "  -t       check the configuration, print every error, exit\n"
                    "  -d       debug logging\n");
    exit(2);
}

/* check_conf - -t: every error "FILE:LINE: key: what"; 0 when the file is good */
static int check_conf(const char *path)
{
    static struct conf_errors errs;
    struct sa_conf *c = conf_load_file(path, &errs);

    conf_errors_print(&errs, stderr);
    if (c == NULL)
        return 1;
    conf_free(c);
    return 0;
}

/* proc_new - the process-wide objects: resolver -> shared cache, PSL, DKIM library */
static int proc_new(struct sa_proc *p, const struct sa_conf *conf)
{
    struct dns_res_conf rc;
    struct dkim_eval_conf dc;

    memset(p, 0, sizeof(*p));
    memset(&rc, 0, sizeof(rc));
    rc.nservers = conf->dns_nameservers.n;
    for (int i = 0; i < rc.nservers && i < DNS_RES_MAX_SERVERS; i++) {
        sa_strlcpy(rc.server[i].addr, conf->dns_nameservers.v[i].addr, sizeof(rc.server[i].addr));
        rc.server[i].port = conf->dns_nameservers.v[i].port;
    }
    rc.timeout = conf->dns_timeout;
    rc.retries = conf->dns_retries;
    if ((p->res = dns_res_new(&rc)) == NULL) {
        log_warn("cannot start the DNS resolver");
        return -1;
    }
    if ((p->counted = stats_dns_new(p->res)) == NULL) {
        log_warn("out of memory");
        return -1;
    }
    p->shared = p->counted;
    if (conf->dns_cache_size > 0) {
        p->shared = dns_cache_new(p->counted, (size_t)conf->dns_cache_size,
                                  (uint32_t)conf->dns_cache_max_ttl,
                                  (uint32_t)conf->dns_negative_ttl, NULL);
        if (p->shared == NULL) {
            log_warn("cannot create the DNS cache");
            return -1;
        }
    }
    if ((p->org = orgdomain_new(conf->psl_path)) == NULL && !conf->dmarc_tree_walk) {
        log_warn("cannot load the public suffix list");
        return -1;
    }
    memset(&dc, 0, sizeof(dc));
    dc.max_sigs = conf->dkim_max_signatures;
    dc.min_rsa_bits = conf->dkim_min_rsa_bits;
    if ((p->dkim_lib = dkim_eval_lib_new(&dc)) == NULL) {
        log_warn("cannot start the DKIM library");
        return -1;
    }
    if ((p->enforce = enforce_proc_new(conf)) == NULL) {
        log_warn("cannot start the consent cache");
        return -1;
    }
    if (load_list(conf->lists_warning_file, conf->lists_reload_interval, &p->warn_list) < 0 ||
        load_list(conf->lists_trustmark_file, conf->lists_reload_interval, &p->trust_list) < 0)
        return -1;
    if (gethostname(p->hostname, sizeof(p->hostname)) < 0)
        p->hostname[0] = '\0';
    p->hostname[sizeof(p->hostname) - 1] = '\0';
    return 0;
}

static void proc_free(struct sa_proc *p)
{
    enforce_proc_free(p->enforce);
    lists_file_free(p->warn_list);
    lists_file_free(p->trust_list);
    dkim_eval_lib_free(p->dkim_lib);
    orgdomain_free(p->org);
    if (p->shared != p->counted)
        dns_free(p->shared);
    dns_free(p->counted);
    dns_free(p->res);
    memset(p, 0, sizeof(*p));
}

int main(int argc, char **argv)
{
    static struct conf_errors errs;
    static struct sa_proc proc;
    const char *path = NULL;
    int fg = 0, test = 0, debug = 0, ch, rc, busy = 0;
    struct sa_conf *conf;

    while ((ch = getopt(argc, argv, "c:ftdh")) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'f':
            fg = 1;
            break;
        case 't':
            test = 1;
            break;
        case 'd':
            debug = 1;
            break;
        default:
            usage();
        }
    }
    if (path == NULL || optind != argc)
        usage();
    if (test)
        return check_conf(path);
    log_init("senderauthd", fg, debug);
    if ((conf = conf_load_file(path, &errs)) == NULL) {
        conf_errors_print(&errs, stderr);
        log_fatal("%s: configuration errors, not starting", path);
    }
    if (errs.nwarn > 0)
        conf_errors_print(&errs, stderr);
    if (conf->log_level == CONF_LOG_DEBUG && !debug)
        log_init("senderauthd", fg, 1);
    signal(SIGPIPE, SIG_IGN);
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
    }
    if (proc_new(&proc, conf) < 0)
        log_fatal("cannot start");
    if (!fg && daemon(0, 0) < 0)
        log_fatal("cannot go to the background");
    /* Before any thread: HUP is this thread's (reload), TERM/INT libmilter's. */
    if (reload_signals_init() < 0)
        log_fatal("cannot set up signal handling");
    if (metrics_start(conf->metrics_listen) < 0)
        log_fatal("cannot serve metrics on %s", conf->metrics_listen);
    stats_init(proc.shared != proc.counted ? proc.shared : NULL);
    if (hist_start(conf) < 0) /* DMARC history writer (report.enable) */
        log_fatal("cannot start");
    conf_set_current(conf_ref(conf)); /* the published reference; conf keeps ours */
    rc = reload_run(&proc, conf, path, &busy);
    if (busy)
        _exit(1); /* sessions may still use the process objects: do not free them */
    metrics_stop();
    hist_stop();
    conf_set_current(NULL);
    proc_free(&proc);
    conf_unref(conf);
    return rc == 0 ? 0 : 1;
}
