/* dmarc_align.c - identifier alignment (RFC 7489 3.1, RFC 9989 3.2.10/4.4) with the PSL,
 * and the domain-name comparisons the module shares.
 * Owns the comparison rules; not the organizational domain lookup (orgdomain.c,
 * dmarc_walk.c) or which identifiers count (dmarc_eval.c).
 * Threads: reentrant; no allocation. */
#include <stddef.h>
#include <string.h>

#include "dmarc/dmarc.h"

static size_t name_len(const char *s);
static int lower(int c);

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* name_len - length without one trailing dot */
static size_t name_len(const char *s)
{
    size_t n = strlen(s);

    return (n > 0 && s[n - 1] == '.') ? n - 1 : n;
}

/* dmarc_domain_equal - case-insensitive (RFC 4343), trailing-dot-insensitive */
int dmarc_domain_equal(const char *a, const char *b)
{
    size_t na, nb;

    if (a == NULL || b == NULL)
        return 0;
    na = name_len(a);
    nb = name_len(b);
    if (na != nb || na == 0)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* dmarc_domain_under - name is parent or a subdomain of it (label boundary) */
int dmarc_domain_under(const char *name, const char *parent)
{
    size_t nn, np;

    if (name == NULL || parent == NULL)
        return 0;
    nn = name_len(name);
    np = name_len(parent);
    if (np == 0 || nn < np)
        return 0;
    if (nn > np && name[nn - np - 1] != '.')
        return 0;
    for (size_t i = 0; i < np; i++)
        if (lower((unsigned char)name[nn - np + i]) != lower((unsigned char)parent[i]))
            return 0;
    return 1;
}

/* dmarc_aligned - strict: identical names; relaxed: same PSL organizational domain.
 * A name without a registrable domain (a public suffix) is its own organizational
 * domain, so it aligns only with itself. */
int dmarc_aligned(const struct orgdomain *o, const char *a, const char *b, int strict)
{
    char oa[DNS_MAX_NAME + 1], ob[DNS_MAX_NAME + 1];
    const char *pa = oa, *pb = ob;

    if (a == NULL || b == NULL || name_len(a) == 0 || name_len(b) == 0)
        return 0;
    if (dmarc_domain_equal(a, b))
        return 1;
    if (strict || o == NULL)
        return 0;
    if (orgdomain_get(o, a, oa, sizeof(oa)) < 0)
        pa = a;
    if (orgdomain_get(o, b, ob, sizeof(ob)) < 0)
        pb = b;
    return dmarc_domain_equal(pa, pb);
}
