/* spf-check.c - test driver: spf_eval() over the production DNS stack (dns_res under
 * dns_cache) for the suite scripts.
 * Usage: spf-check [-s ADDR:PORT] [-t TIMEOUT] [-r RECEIVER]
 * Reads lines "ip<TAB>helo<TAB>mailfrom[<TAB>helo]" on stdin (a 4th field "helo" checks
 * the HELO identity) and prints "result<TAB>reason" for each, flushing every line.
 * Owns nothing but its process. Threads: one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "spf/spf_eval.h"
#include "util/xalloc.h"

static int parse_server(const char *arg, struct dns_res_conf *conf);
static char *field(char **p);

/* parse_server - "ADDR:PORT" (the last colon splits, so IPv6 needs brackets-free last ':') */
static int parse_server(const char *arg, struct dns_res_conf *conf)
{
    const char *colon = strrchr(arg, ':');
    size_t n;
    long port;
    char *end;

    if (colon == NULL)
        return -1;
    n = (size_t)(colon - arg);
    if (n == 0 || n >= sizeof(conf->server[0].addr))
        return -1;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        return -1;
    memcpy(conf->server[0].addr, arg, n);
    conf->server[0].addr[n] = '\0';
    conf->server[0].port = (uint16_t)port;
    conf->nservers = 1;
    return 0;
}

/* field - next TAB-separated field of *p (NUL-terminated in place); "" at the end */
static char *field(char **p)
{
    char *s = *p, *t;

    if (s == NULL)
        return "";
    t = strchr(s, '\t');
    if (t != NULL) {
        *t = '\0';
        *p = t + 1;
    } else {
        *p = NULL;
    }
    return s;
}

int main(int argc, char **argv)
{
    struct dns_res_conf conf;
    struct dns *res, *cache;
    const char *receiver = "receiver.test";
    char line[4096];

    memset(&conf, 0, sizeof(conf));
    conf.timeout = 2;
    conf.retries = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            if (parse_server(argv[++i], &conf) < 0) {
                fprintf(stderr, "spf-check: bad server %s\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            conf.timeout = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            receiver = argv[++i];
        } else {
            fprintf(stderr, "usage: spf-check [-s ADDR:PORT] [-t TIMEOUT] [-r RECEIVER]\n");
            return 2;
        }
    }
    if ((res = dns_res_new(&conf)) == NULL) {
        perror("spf-check: dns_res_new");
        return 1;
    }
    if ((cache = dns_cache_new(res, 10000, 3600, 60, NULL)) == NULL) {
        perror("spf-check: dns_cache_new");
        dns_free(res);
        return 1;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        struct spf_in in;
        struct spf_res out;
        char *p = line;
        size_t n = strlen(line);

        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        memset(&in, 0, sizeof(in));
        in.client_ip = field(&p);
        in.helo = field(&p);
        in.mailfrom = field(&p);
        in.identity = strcmp(field(&p), "helo") == 0 ? SPF_ID_HELO : SPF_ID_MAILFROM;
        in.receiver = receiver;
        spf_eval(&in, cache, &out);
        printf("%s\t%s\n", auth_res_name(out.result), out.reason);
        fflush(stdout);
    }
    dns_free(cache);
    dns_free(res);
    return 0;
}
