/* arc_msgfile.h - what the ARC test drivers (arc-verify.c, arc-sign.c) share: read a
 * message file with LF made CRLF, split it into header fields and body, and set up the
 * DNS for the keys from "-s ADDR:PORT" (a real server) or "-z ZONEFILE" (the stub).
 * Header-only: each driver is one program built from one .c file.
 * Threads: single-threaded drivers. */
#ifndef SA_TESTS_ARC_MSGFILE_H
#define SA_TESTS_ARC_MSGFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "util/xalloc.h"

#define MSGFILE_MAX (16 * 1024 * 1024)

typedef void (*msgfile_field_fn)(void *arg, const char *name, const char *value);

/* msgfile_slurp_crlf - the file with every bare LF made CRLF (malloc), NULL on error */
static char *msgfile_slurp_crlf(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *raw, *out;
    size_t n, o = 0;

    if (fp == NULL)
        return NULL;
    raw = malloc(MSGFILE_MAX);
    n = raw ? fread(raw, 1, MSGFILE_MAX, fp) : 0;
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

/* msgfile_fields - each header field of m (len bytes, CRLF) to fn as name and the value
 * after the colon (folds kept); returns the offset of the body, or len when none */
static size_t msgfile_fields(char *m, size_t len, msgfile_field_fn fn, void *arg)
{
    static char name[1024];
    size_t i = 0;

    while (i < len) {
        size_t s = i, e = i, colon;
        if (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n')
            return i + 2; /* the empty line: the body follows */
        for (;;) {        /* the field ends at a CRLF not followed by WSP */
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
            fn(arg, name, m + colon + 1);
            m[e] = save;
        }
        i = e < len ? e + 2 : len;
    }
    return len;
}

/* msgfile_load_zone - NAME<TAB>TXT lines into the stub */
static int msgfile_load_zone(struct dns *stub, const char *path)
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

/* msgfile_dns - the DNS for option opt ("-s" ADDR:PORT, "-z" ZONEFILE) with argument
 * val; NULL (with a message) when it cannot be set up or opt is neither */
static struct dns *msgfile_dns(const char *opt, const char *val)
{
    struct dns *dns = NULL;

    if (strcmp(opt, "-s") == 0) {
        struct dns_res_conf rc0;
        char *colon;
        memset(&rc0, 0, sizeof(rc0));
        rc0.nservers = 1;
        sa_strlcpy(rc0.server[0].addr, val, sizeof(rc0.server[0].addr));
        rc0.server[0].port = 53;
        if ((colon = strrchr(rc0.server[0].addr, ':')) != NULL) {
            *colon = '\0';
            rc0.server[0].port = (uint16_t)atoi(colon + 1);
        }
        rc0.timeout = 2;
        rc0.retries = 1;
        dns = dns_res_new(&rc0);
    } else if (strcmp(opt, "-z") == 0) {
        dns = dns_stub_new();
        if (dns != NULL && msgfile_load_zone(dns, val) < 0) {
            fprintf(stderr, "cannot read %s\n", val);
            dns_free(dns);
            dns = NULL;
        }
    }
    return dns;
}

#endif
