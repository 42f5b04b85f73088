/* arc-verify.c - test driver: ARC chain validation of message files through arc_eval.
 * Usage: arc-verify [-s ADDR:PORT] [-z ZONEFILE] [-m MINBITS] FILE...
 *   -s  ask this DNS server (libresolv, TCP fallback) for the keys
 *   -z  or answer from an in-process stub loaded from ZONEFILE: "NAME<TAB>TXT" per line
 * Each FILE is a message (LF or CRLF line endings; LF is taken as CRLF). One line per
 * file: "FILE cv=pass|fail|none oldest-pass=N sets=N [reason]". Exit 0 unless a file
 * cannot be read or the DNS cannot be set up.
 * Threads: single-threaded. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arc/arc_eval.h"
#include "dns/dns.h"
#include "util/xalloc.h"

#define MAX_MSG (16 * 1024 * 1024)

static char *slurp_crlf(const char *path, size_t *len);
static int load_zone(struct dns *stub, const char *path);
static int verify(struct dns *dns, int minbits, const char *path);

/* slurp_crlf - the file with every bare LF made CRLF */
static char *slurp_crlf(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *raw, *out;
    size_t n, o = 0;

    if (fp == NULL)
        return NULL;
    raw = malloc(MAX_MSG);
    n = raw ? fread(raw, 1, MAX_MSG, fp) : 0;
    fclose(fp);
    if (raw == NULL || (out = malloc(n * 2 + 1)) == NULL) {
        free(raw);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
            out[o++] = '\r';
        out[o++] = raw[i];
    }
    out[o] = '\0';
    free(raw);
    *len = o;
    return out;
}

/* load_zone - NAME<TAB>TXT lines into the stub */
static int load_zone(struct dns *stub, const char *path)
{
    FILE *fp = fopen(path, "r");
    static char line[65536];

    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp)) {
        char *tab = strchr(line, '\t');
        line[strcspn(line, "\r\n")] = '\0';
        if (tab == NULL)
            continue;
        *tab = '\0';
        dns_stub_add(stub, line, DNS_T_TXT, tab + 1);
    }
    fclose(fp);
    return 0;
}

/* verify - one message file */
static int verify(struct dns *dns, int minbits, const char *path)
{
    struct arc_conf conf = {minbits};
    struct arc_eval *v;
    struct arc_res *r;
    size_t len, i = 0;
    int body = 0;
    char *m = slurp_crlf(path, &len);
    static char name[1024];

    if (m == NULL) {
        fprintf(stderr, "arc-verify: cannot read %s\n", path);
        return -1;
    }
    v = arc_eval_new(&conf, dns);
    r = calloc(1, sizeof(*r));
    if (v == NULL || r == NULL) {
        fprintf(stderr, "arc-verify: out of memory\n");
        exit(2);
    }
    arc_eval_set_leadspace(v, 1);
    while (i < len) {
        size_t s = i, e = i, colon;
        if (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n') {
            i += 2; /* the empty line: the body follows */
            body = 1;
            break;
        }
        for (;;) { /* the field ends at a CRLF not followed by WSP */
            char *crlf = memmem(m + e, len - e, "\r\n", 2);
            if (crlf == NULL) {
                e = len;
                break;
            }
            e = (size_t)(crlf - m);
            if (e + 2 < len && (m[e + 2] == ' ' || m[e + 2] == '\t')) {
                e += 2;
                continue;
            }
            break;
        }
        for (colon = s; colon < e && m[colon] != ':';)
            colon++;
        if (colon < e && colon - s < sizeof(name)) {
            char save = m[e];
            memcpy(name, m + s, colon - s);
            name[colon - s] = '\0';
            m[e] = '\0';
            arc_eval_header(v, name, m + colon + 1);
            m[e] = save;
        }
        i = e < len ? e + 2 : len;
    }
    arc_eval_eoh(v);
    if (body && i < len)
        arc_eval_body(v, (const unsigned char *)m + i, len - i);
    arc_eval_finish(v, r);
    printf("%s cv=%s oldest-pass=%d sets=%d%s%s\n", path, auth_res_name(r->result), r->oldest_pass,
           r->nsets, r->reason[0] ? " " : "", r->reason);
    arc_eval_free(v);
    free(r);
    free(m);
    return 0;
}

int main(int argc, char **argv)
{
    struct dns *dns = NULL;
    int minbits = 0, rc = 0, a = 1;

    for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
        if (strcmp(argv[a], "-s") == 0) {
            struct dns_res_conf rc0;
            char *colon;
            memset(&rc0, 0, sizeof(rc0));
            rc0.nservers = 1;
            sa_strlcpy(rc0.server[0].addr, argv[a + 1], sizeof(rc0.server[0].addr));
            rc0.server[0].port = 53;
            if ((colon = strrchr(rc0.server[0].addr, ':')) != NULL) {
                *colon = '\0';
                rc0.server[0].port = (uint16_t)atoi(colon + 1);
            }
            rc0.timeout = 2;
            rc0.retries = 1;
            dns = dns_res_new(&rc0);
        } else if (strcmp(argv[a], "-z") == 0) {
            dns = dns_stub_new();
            if (dns != NULL && load_zone(dns, argv[a + 1]) < 0) {
                fprintf(stderr, "arc-verify: cannot read %s\n", argv[a + 1]);
                return 2;
            }
        } else if (strcmp(argv[a], "-m") == 0) {
            minbits = atoi(argv[a + 1]);
        } else {
            break;
        }
    }
    if (dns == NULL) {
        fprintf(stderr, "usage: arc-verify [-s ADDR:PORT | -z ZONEFILE] [-m MINBITS] FILE...\n");
        return 2;
    }
    for (; a < argc; a++)
        if (verify(dns, minbits, argv[a]) < 0)
            rc = 1;
    dns_free(dns);
    return rc;
}
