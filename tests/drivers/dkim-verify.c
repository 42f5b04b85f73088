/* dkim-verify.c - test driver: verify the DKIM signatures of one message file the way
 * the milter feeds dkim_eval (header name and value apart, the value exactly as after
 * the colon, body in CRLF chunks), and print one line per signature.
 * Keys come from a real DNS server (-s ADDR:PORT, through dns_res) or from a keys file
 * (-k FILE: "owner-name record text" per line, through dns_stub).
 * Owns nothing beyond main(). Threads: one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dkim/dkim_eval.h"
#include "dns/dns.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define MAX_MESSAGE (8 * 1024 * 1024)
#define CHUNK 4096
#define MAX_OUT 64

static int usage(void);
static char *read_crlf(const char *path, size_t *len);
static struct dns *stub_from_file(const char *path);
static struct dns *res_from_addr(const char *addr);
static int feed(struct dkim_eval *v, const char *msg, size_t len);

static int usage(void)
{
    fprintf(stderr, "usage: dkim-verify [-t unixtime] [-m max_sigs] [-b min_rsa_bits] "
                    "(-s addr:port | -k keysfile) message\n");
    return 2;
}

/* read_crlf - the file with every bare LF made CRLF, as an MTA hands it to milters */
static char *read_crlf(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    int c, prev = 0;

    if (f == NULL)
        return NULL;
    buf_init(&b, MAX_MESSAGE);
    while ((c = getc(f)) != EOF) {
        char ch = (char)c;

        if (c == '\n' && prev != '\r' && buf_append(&b, "\r", 1) < 0)
            break;
        if (buf_append(&b, &ch, 1) < 0)
            break;
        prev = c;
    }
    fclose(f);
    *len = b.len;
    return b.data != NULL ? b.data : xstrdup("");
}

/* stub_from_file - "name text..." lines; '#' comments and blank lines skipped */
static struct dns *stub_from_file(const char *path)
{
    FILE *f = fopen(path, "r");
    struct dns *d = dns_stub_new();
    char line[65536];

    if (f == NULL || d == NULL) {
        if (f != NULL)
            fclose(f);
        dns_free(d);
        return NULL;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *sp, *end = line + strlen(line);

        while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
            *--end = '\0';
        if (line[0] == '\0' || line[0] == '#' || (sp = strchr(line, ' ')) == NULL)
            continue;
        *sp++ = '\0';
        if (dns_stub_add(d, line, DNS_T_TXT, sp) < 0)
            fprintf(stderr, "dkim-verify: cannot add %s\n", line);
    }
    fclose(f);
    return d;
}

/* res_from_addr - libresolv pointed at one server, short timeouts */
static struct dns *res_from_addr(const char *addr)
{
    struct dns_res_conf c;
    const char *colon = strrchr(addr, ':');

    memset(&c, 0, sizeof(c));
    if (colon == NULL || (size_t)(colon - addr) >= sizeof(c.server[0].addr))
        return NULL;
    c.nservers = 1;
    memcpy(c.server[0].addr, addr, (size_t)(colon - addr));
    c.server[0].port = (uint16_t)atoi(colon + 1);
    c.timeout = 2;
    c.retries = 1;
    return dns_res_new(&c);
}

/* feed - split header fields (name, value with its folding), then the body in chunks */
static int feed(struct dkim_eval *v, const char *msg, size_t len)
{
    size_t i = 0;
    char *field;

    dkim_eval_set_leadspace(v, 1);
    while (i < len) {
        size_t start = i, end;
        char *colon;

        if (len - i >= 2 && msg[i] == '\r' && msg[i + 1] == '\n') {
            i += 2;
            break; /* end of header */
        }
        /* A field runs to the CRLF not followed by WSP. */
        for (end = i;; end++) {
            if (end + 1 >= len) {
                end = len;
                break;
            }
            if (msg[end] == '\r' && msg[end + 1] == '\n' &&
                (end + 2 >= len || (msg[end + 2] != ' ' && msg[end + 2] != '\t')))
                break;
        }
        if ((field = malloc(end - start + 1)) == NULL)
            return -1;
        memcpy(field, msg + start, end - start);
        field[end - start] = '\0';
        i = end + 2 > len ? len : end + 2;
        if ((colon = strchr(field, ':')) == NULL) {
            free(field);
            continue; /* not a header field: the milter would never see it */
        }
        *colon = '\0';
        (void)dkim_eval_header(v, field, colon + 1);
        free(field);
    }
    (void)dkim_eval_eoh(v);
    for (; i < len; i += CHUNK)
        (void)dkim_eval_body(v, (const unsigned char *)msg + i, len - i < CHUNK ? len - i : CHUNK);
    return 0;
}

int main(int argc, char **argv)
{
    struct dkim_eval_conf conf = {DKIM_EVAL_MAX_SIGS_DEFAULT, DKIM_EVAL_MIN_RSA_BITS, 0};
    const char *server = NULL, *keys = NULL;
    struct dkim_sig_res out[MAX_OUT];
    struct dkim_eval_lib *lib;
    struct dkim_eval *v;
    struct dns *dns;
    char *msg;
    size_t len;
    int c, nout = 0, rc;

    while ((c = getopt(argc, argv, "t:m:b:s:k:")) != -1) {
        switch (c) {
        case 't':
            conf.fixed_time = (time_t)strtoll(optarg, NULL, 10);
            break;
        case 'm':
            conf.max_sigs = atoi(optarg);
            break;
        case 'b':
            conf.min_rsa_bits = atoi(optarg);
            break;
        case 's':
            server = optarg;
            break;
        case 'k':
            keys = optarg;
            break;
        default:
            return usage();
        }
    }
    if (optind + 1 != argc || (server == NULL) == (keys == NULL))
        return usage();
    if ((msg = read_crlf(argv[optind], &len)) == NULL) {
        perror(argv[optind]);
        return 2;
    }
    dns = server != NULL ? res_from_addr(server) : stub_from_file(keys);
    if (dns == NULL || (lib = dkim_eval_lib_new(&conf)) == NULL) {
        fprintf(stderr, "dkim-verify: cannot set up DNS or libopendkim\n");
        return 2;
    }
    if ((v = dkim_eval_new(lib, dns, "driver")) == NULL) {
        fprintf(stderr, "dkim-verify: dkim_eval_new failed\n");
        return 2;
    }
    feed(v, msg, len);
    rc = dkim_eval_finish(v, out, MAX_OUT, &nout);
    for (int i = 0; i < nout; i++)
        printf("sig %d: %s reason=\"%s\" d=%s s=%s a=%s b=%s bits=%d full_body=%d\n", i,
               auth_res_name(out[i].result), out[i].reason, out[i].domain, out[i].selector,
               out[i].algo, out[i].b8, out[i].key_bits, out[i].full_body);
    if (nout == 0)
        printf("unsigned\n");
    dkim_eval_free(v);
    dkim_eval_lib_free(lib);
    dns_free(dns);
    free(msg);
    return rc == 0 ? 0 : 1;
}
