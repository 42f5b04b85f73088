/* fuzz_from.c - libFuzzer target for the From parser (src/mail/from.c).
 * Checks the contract, not just "does not crash": the return code matches the status,
 * the domain is empty unless FROM_OK, and a FROM_OK domain is a lower-case LDH name of
 * at most 253 bytes. Also re-parses with a trailing fold to catch state leaking out of
 * the input bounds. Build with clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc
 * from this file, src/mail/from.c, src/mail/from_idn.c and the src/util sources; seeds in
 * tests/fuzz/corpus/from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/from.h"

static void check(const struct from_res *r, int rc)
{
    size_t n = strlen(r->domain);

    if ((rc == 0) != (r->status == FROM_OK))
        abort();
    if (r->status != FROM_OK) {
        if (n != 0 || r->reason[0] == '\0')
            abort();
        return;
    }
    if (n == 0 || n > 253 || r->naddr < 1 || memchr(r->reason, '\0', sizeof(r->reason)) == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = r->domain[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            abort();
    }
    if (r->domain[0] == '.' || r->domain[n - 1] == '.' || strstr(r->domain, "..") != NULL)
        abort();
    if (memchr(r->local, '\0', sizeof(r->local)) == NULL)
        abort();
    /* The normalised form is a fixed point of the normaliser. */
    {
        char again[FROM_MAX_NAME + 1];
        const char *why = NULL;
        if (from_normalize_domain(r->domain, n, again, sizeof(again), &why) != 0 ||
            strcmp(again, r->domain) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct from_res r;
    int rc;
    /* Exact-size heap copy so ASan sees any read past len. */
    char *v = malloc(size ? size : 1);

    if (v == NULL)
        return 0;
    if (size)
        memcpy(v, data, size);
    rc = from_parse(v, size, &r);
    check(&r, rc);
    /* A value and the same value with a trailing line end must agree. */
    if (size > 0 && size < 4096) {
        char *w = malloc(size + 2);
        struct from_res r2;
        if (w != NULL) {
            memcpy(w, data, size);
            memcpy(w + size, "\r\n", 2);
            rc = from_parse(w, size + 2, &r2);
            check(&r2, rc);
            if (data[size - 1] != '\r' && data[size - 1] != '\n' &&
                (r2.status != r.status || strcmp(r2.domain, r.domain) != 0))
                abort();
            free(w);
        }
    }
    free(v);
    return 0;
}
