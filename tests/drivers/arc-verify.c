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
#include "arc_msgfile.h"

static void feed(void *arg, const char *name, const char *value);
static int verify(struct dns *dns, int minbits, const char *path);

/* feed - one header field into the evaluator */
static void feed(void *arg, const char *name, const char *value)
{
    arc_eval_header(arg, name, value);
}

/* verify - one message file */
static int verify(struct dns *dns, int minbits, const char *path)
{
    struct arc_conf conf = {minbits};
    struct arc_eval *v;
    struct arc_res *r;
    size_t len, i;
    char *m = msgfile_slurp_crlf(path, &len);

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
    i = msgfile_fields(m, len, feed, v);
    arc_eval_eoh(v);
    if (i < len)
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
        if (strcmp(argv[a], "-m") == 0) {
            minbits = atoi(argv[a + 1]);
        } else if (strcmp(argv[a], "-s") == 0 || strcmp(argv[a], "-z") == 0) {
            if ((dns = msgfile_dns(argv[a], argv[a + 1])) == NULL)
                return 2;
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
