/* fuzz_bimi_record.c - libFuzzer target for the BIMI assertion record and BIMI-Selector
 * parsers (src/bimi/bimi_record.c) and, through the DNS stub, the lookup that uses them.
 * Checks the contract: a parsed record has NUL-terminated https: URIs (or empty ones) and
 * declined exactly when l= is empty; a parse is deterministic; a selector is one lower-case
 * label; the lookup of the same text served as TXT agrees with the parser.
 * Seeds in tests/fuzz/corpus/bimi_record; dictionary tests/fuzz/fuzz_bimi_record.dict. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bimi/bimi.h"

static void check_uri(const char *u, size_t cap)
{
    if (memchr(u, '\0', cap) == NULL)
        abort();
    if (u[0] != '\0' && strncasecmp(u, "https://", 8) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *txt = malloc(size + 1), why[96], sel[BIMI_MAX_SELECTOR + 1];
    struct bimi_record r, r2;
    struct dns *d;
    int rc;

    if (txt == NULL)
        return 0;
    memcpy(txt, data, size);
    rc = bimi_parse_record(txt, size, &r, why, sizeof(why));
    if (rc == 0) {
        check_uri(r.l, sizeof(r.l));
        check_uri(r.a, sizeof(r.a));
        if (r.declined != (r.l[0] == '\0'))
            abort();
    } else if (rc != -1 || why[0] == '\0') {
        abort();
    }
    if (bimi_parse_record(txt, size, &r2, why, sizeof(why)) != rc ||
        (rc == 0 && memcmp(&r, &r2, sizeof(r)) != 0))
        abort();
    txt[size] = '\0';
    if (bimi_parse_selector(txt, sel, sizeof(sel)) == 0) {
        if (sel[0] == '\0' || strlen(sel) > BIMI_MAX_SELECTOR)
            abort();
        for (const char *p = sel; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                abort();
    }
    if (size <= 4096 && (d = dns_stub_new()) != NULL) {
        if (dns_stub_add_txt_len(d, "default._bimi.example.com", txt, size) == 0) {
            enum bimi_lookup lk =
                bimi_lookup_name(d, "default", "example.com", &r2, why, sizeof(why));
            if (lk == BIMI_LOOKUP_FOUND && (rc != 0 || memcmp(&r, &r2, sizeof(r)) != 0))
                abort();
            if (lk == BIMI_LOOKUP_TEMP)
                abort();
        }
        dns_free(d);
    }
    free(txt);
    return 0;
}
