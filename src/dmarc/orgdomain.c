/* orgdomain.c - RFC 7489 3.2 Organizational Domain from the Public Suffix List (libpsl).
 * Owns the loaded PSL context; not the RFC 9989 tree walk (dmarc_walk.c) or alignment.
 * Threads: the context is immutable after orgdomain_new; orgdomain_get is reentrant
 * (libpsl lookups on a const context do not allocate or write shared state). */
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>

#include "dmarc/dmarc.h"
#include "util/xalloc.h"

struct orgdomain {
    psl_ctx_t *loaded;    /* from psl_load_file, freed by us */
    const psl_ctx_t *psl; /* loaded, or libpsl's built-in list (not ours to free) */
};

/* orgdomain_new - load the PSL file, falling back to the built-in list */
struct orgdomain *orgdomain_new(const char *psl_path)
{
    struct orgdomain *o = calloc(1, sizeof(*o));

    if (o == NULL)
        return NULL;
    if (psl_path != NULL && psl_path[0] != '\0')
        o->loaded = psl_load_file(psl_path);
    o->psl = o->loaded != NULL ? o->loaded : psl_builtin();
    return o;
}

struct orgdomain *orgdomain_free(struct orgdomain *o)
{
    if (o != NULL) {
        psl_free(o->loaded);
        free(o);
    }
    return NULL;
}

/* orgdomain_get - registrable domain: public suffix plus one label (RFC 7489 3.2) */
int orgdomain_get(const struct orgdomain *o, const char *name, char *out, size_t outlen)
{
    char low[DNS_MAX_NAME + 2];
    const char *reg;
    size_t len;

    if (o == NULL || o->psl == NULL || name == NULL || outlen == 0)
        return -1;
    len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len >= sizeof(low) || name[0] == '.')
        return -1;
    /* libpsl compares as given: lower-case first (ASCII; UTF-8 bytes pass unchanged). */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        low[i] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    low[len] = '\0';
    reg = psl_registrable_domain(o->psl, low);
    if (reg == NULL || reg[0] == '\0')
        return -1;
    if (sa_strlcpy(out, reg, outlen) >= outlen)
        return -1;
    return 0;
}
