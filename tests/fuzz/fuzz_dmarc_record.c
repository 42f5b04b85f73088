/* fuzz_dmarc_record.c - libFuzzer target for the DMARC record parser (src/dmarc/dmarc_record.c)
 * and, through the DNS stub, the discovery and tree walk that consume it.
 * Checks the contract, not just "does not crash": a parsed record has a valid p, pct in
 * 0..100, psd in -1..1, NUL-terminated bounded strings; dmarc_is_record agrees with the
 * parser's first step; the input bytes are never read past size (ASan). The same input
 * served as TXT at _dmarc.example.com gives an evaluation whose result is one of the
 * DMARC words and whose record, when one applies, equals the parser's.
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc -D_GNU_SOURCE with this
 *   file, every .c of src/dmarc and src/util, src/dns/dns_util.c, src/dns/dns_stub.c,
 *   and -lpsl -lpthread (docs/dmarc.md has the command line).
 * Seeds in tests/fuzz/corpus/dmarc; dictionary tests/fuzz/fuzz_dmarc_record.dict. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc/dmarc.h"

static void check_record(const struct dmarc_record *r)
{
    if (r->p < DMARC_POLICY_NONE || r->p > DMARC_POLICY_REJECT)
        abort();
    if (r->sp < DMARC_POLICY_UNSPEC || r->sp > DMARC_POLICY_REJECT)
        abort();
    if (r->np < DMARC_POLICY_UNSPEC || r->np > DMARC_POLICY_REJECT)
        abort();
    if (r->pct < 0 || r->pct > 100 || r->psd < -1 || r->psd > 1)
        abort();
    if (memchr(r->rua, '\0', sizeof(r->rua)) == NULL ||
        memchr(r->ruf, '\0', sizeof(r->ruf)) == NULL ||
        memchr(r->fo, '\0', sizeof(r->fo)) == NULL || r->fo[0] == '\0')
        abort();
    /* p=none implied by rua: the list is kept, or was too long to keep (flagged). */
    if (r->p_implied && (r->p != DMARC_POLICY_NONE || (r->rua[0] == '\0' && !r->rua_truncated)))
        abort();
    if (r->rua_truncated && strlen(r->rua) >= sizeof(r->rua))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan catches any read past the end. */
    char *txt = malloc(size ? size : 1);
    struct dmarc_record rec, rec2;
    struct dmarc_res res;
    struct dmarc_in in;
    struct dns *d;
    char why[64];
    int rc;

    if (txt == NULL)
        return 0;
    memcpy(txt, data, size);
    rc = dmarc_parse_record(txt, size, &rec, why, sizeof(why));
    if (memchr(why, '\0', sizeof(why)) == NULL)
        abort();
    if (rc == 0) {
        check_record(&rec);
        if (!dmarc_is_record(txt, size))
            abort();
    } else if (rc != -1 || why[0] == '\0') {
        abort();
    }
    /* Deterministic: a second parse gives the same answer. */
    if (dmarc_parse_record(txt, size, &rec2, why, sizeof(why)) != rc ||
        (rc == 0 && memcmp(&rec, &rec2, sizeof(rec)) != 0))
        abort();

    if (size <= 4096 && (d = dns_stub_new()) != NULL) {
        if (dns_stub_add_txt_len(d, "_dmarc.example.com", txt, size) == 0) {
            memset(&in, 0, sizeof(in));
            in.from_domain = "mail.example.com";
            in.spf = AUTH_PASS;
            in.spf_domain = "bounce.example.com";
            in.tree_walk = 1;
            if (dmarc_eval(&in, d, &res) != 0)
                abort();
            if (res.result != AUTH_NONE && res.result != AUTH_PASS && res.result != AUTH_FAIL)
                abort();
            if (res.has_record != (rc == 0 && memchr(txt, '\0', size) == NULL))
                abort();
            if (res.has_record && memcmp(&res.rec, &rec, sizeof(rec)) != 0)
                abort();
        }
        dns_free(d);
    }
    free(txt);
    return 0;
}
