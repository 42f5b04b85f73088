/* arc-sign.c - test driver: ARC sealing of one message file, as the ValiMail signing suite
 * runs a signer: validate the chain (arc_eval, keys through the DNS), then add our set
 * (arc_seal) with the suite's fixed key, domain, selector, h= list and timestamp.
 * Usage: arc-sign (-s ADDR:PORT | -z ZONEFILE) -k KEY.pem -d DOMAIN -S SELECTOR
 *                 -a AUTHSERV-ID -H HEADERS -t TIME FILE
 * The AAR payload is what the suite's README prescribes ("AR consolidation"): every
 * Authentication-Results field of AUTHSERV-ID in message order, each result once, as
 * "AUTHSERV-ID; result; result ...". (senderauthd puts its own A-R there instead.)
 * Prints the three fields "Name: value" (folded with LF + space) separated by an empty
 * line, ARC-Authentication-Results first, or nothing when no set is to be added (the
 * reason then goes to stderr). Exit 0, or 2 on a usage, file or key error.
 * Threads: single-threaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pem.h>

#include "arc/arc_eval.h"
#include "arc/arc_seal.h"
#include "arc_msgfile.h"
#include "util/buf.h"

#define AAR_MAX 8192

struct feed {
    struct arc_eval *v;
    struct arc_seal *s;
    const char *srvid;
    struct buf aar; /* "srvid; r1; r2" */
};

static void feed(void *arg, const char *name, const char *value);
static void consolidate(struct feed *f, const char *value);
static void add_result(struct feed *f, const char *p, size_t n);

/* add_result - one result of an A-R field (white space at its ends trimmed) */
static void add_result(struct feed *f, const char *p, size_t n)
{
    while (n > 0 && strchr(" \t\r\n", *p)) {
        p++;
        n--;
    }
    while (n > 0 && strchr(" \t\r\n", p[n - 1]))
        n--;
    if (n == 0)
        return;
    buf_append(&f->aar, "; ", 2);
    buf_append(&f->aar, p, n);
}

/* consolidate - the results of one A-R field whose authserv-id is ours: split at ';'
 * outside comments and quoted strings; the first part is the authserv-id */
static void consolidate(struct feed *f, const char *value)
{
    const char *p = value, *start = value;
    int depth = 0, quoted = 0, first = 1;

    for (;; p++) {
        if (*p == '\\' && (depth > 0 || quoted) && p[1] != '\0') {
            p++;
            continue;
        }
        if (*p == '"' && depth == 0)
            quoted = !quoted;
        else if (*p == '(' && !quoted)
            depth++;
        else if (*p == ')' && !quoted && depth > 0)
            depth--;
        if (*p == '\0' || (*p == ';' && depth == 0 && !quoted)) {
            if (!first)
                add_result(f, start, (size_t)(p - start));
            first = 0;
            start = p + 1;
        }
        if (*p == '\0')
            break;
    }
}

/* feed - one header field into the verifier and the sealer; A-R fields of ours are
 * also collected for the AAR */
static void feed(void *arg, const char *name, const char *value)
{
    struct feed *f = arg;
    size_t idl = strlen(f->srvid);
    const char *v = value + strspn(value, " \t\r\n");

    arc_eval_header(f->v, name, value);
    arc_seal_header(f->s, name, value);
    if (strcasecmp(name, "Authentication-Results") == 0 && strncasecmp(v, f->srvid, idl) == 0 &&
        strchr("; \t\r\n", v[idl]) != NULL)
        consolidate(f, v);
}

int main(int argc, char **argv)
{
    struct dns *dns = NULL;
    const char *keyfile = NULL, *domain = NULL, *sel = NULL, *headers = NULL, *path;
    struct arc_seal_conf sc;
    struct arc_seal_in in;
    struct arc_seal_out out;
    struct arc_res *r = calloc(1, sizeof(*r));
    struct feed f;
    EVP_PKEY *key = NULL;
    FILE *fp;
    char *m;
    size_t len, i;
    int a = 1;

    memset(&f, 0, sizeof(f));
    memset(&in, 0, sizeof(in));
    for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
        const char *o = argv[a], *val = argv[a + 1];
        if (strcmp(o, "-s") == 0 || strcmp(o, "-z") == 0)
            dns = msgfile_dns(o, val);
        else if (strcmp(o, "-k") == 0)
            keyfile = val;
        else if (strcmp(o, "-d") == 0)
            domain = val;
        else if (strcmp(o, "-S") == 0)
            sel = val;
        else if (strcmp(o, "-a") == 0)
            f.srvid = val;
        else if (strcmp(o, "-H") == 0)
            headers = val;
        else if (strcmp(o, "-t") == 0)
            in.now = atoll(val);
        else
            break;
    }
    if (dns == NULL || r == NULL || keyfile == NULL || domain == NULL || sel == NULL ||
        f.srvid == NULL || a + 1 != argc) {
        fprintf(stderr, "usage: arc-sign (-s ADDR:PORT | -z ZONEFILE) -k KEY.pem -d DOMAIN "
                        "-S SELECTOR -a AUTHSERV-ID -H HEADERS -t TIME FILE\n");
        return 2;
    }
    path = argv[a];
    if ((fp = fopen(keyfile, "r")) == NULL ||
        (key = PEM_read_PrivateKey(fp, NULL, NULL, NULL)) == NULL) {
        fprintf(stderr, "arc-sign: %s: cannot read a private key\n", keyfile);
        return 2;
    }
    fclose(fp);
    if ((m = msgfile_slurp_crlf(path, &len)) == NULL) {
        fprintf(stderr, "arc-sign: cannot read %s\n", path);
        return 2;
    }
    sc = (struct arc_seal_conf){key, domain, sel, headers};
    f.v = arc_eval_new(NULL, dns);
    f.s = arc_seal_new(&sc);
    if (f.v == NULL || f.s == NULL) {
        fprintf(stderr, "arc-sign: out of memory\n");
        return 2;
    }
    arc_eval_set_leadspace(f.v, 1);
    buf_init(&f.aar, AAR_MAX);
    buf_append_str(&f.aar, f.srvid);
    i = msgfile_fields(m, len, feed, &f);
    arc_eval_eoh(f.v);
    if (i < len) {
        arc_eval_body(f.v, (const unsigned char *)m + i, len - i);
        arc_seal_body(f.s, (const unsigned char *)m + i, len - i);
    }
    arc_eval_finish(f.v, r);
    in.chain = r->result;
    in.ar = f.aar.data;
    in.fold = "\n ";
    if (arc_seal_finish(f.s, &in, &out) == 0 && out.sealed)
        printf("ARC-Authentication-Results: %s\n\nARC-Message-Signature: %s\n\nARC-Seal: %s\n",
               out.aar, out.ams, out.as);
    else
        fprintf(stderr, "arc-sign: no set added (chain %s%s%s): %s\n", auth_res_name(r->result),
                r->reason[0] ? ": " : "", r->reason, out.reason);
    buf_release(&f.aar);
    arc_seal_free(f.s);
    arc_eval_free(f.v);
    EVP_PKEY_free(key);
    dns_free(dns);
    free(r);
    free(m);
    return 0;
}
