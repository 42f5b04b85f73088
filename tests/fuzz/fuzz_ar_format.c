/* fuzz_ar_format.c - libFuzzer target for the Authentication-Results writer
 * (src/out/ar_format.c): hostile authserv-ids, reasons and property values (from the
 * message or DNS in real life) must never break RFC 8601 syntax or inject a line.
 * Input: byte 0 picks the fold ("\n\t" or "\r\n\t") and the output buffer size (full,
 * or a small one to exercise the "does not fit" path); byte 1 the number of resinfos
 * (up to 19, beyond AR_MAX_RESINFO); the rest is split at NUL bytes into pieces that are
 * used in turn: the authserv-id, then per resinfo a method selector/result/prop-count
 * byte string, a reason, and for each property a name and a value.
 * Checks the contract, not just "does not crash":
 *   - the return is -1 with out "" or the length of the NUL-terminated out, < outlen;
 *   - with the full buffer it is -1 only for a bad authserv-id or when the estimated
 *     size could pass AR_MAX_HEADER;
 *   - the value parses with the independent reader in ar_check.h (printable ASCII,
 *     folds followed by a tab, balanced comments, lines <= 998);
 *   - it names exactly the authserv-id given; the resinfos are exactly the added ones
 *     with a token method of at most 32 characters (regress-long-method), in order,
 *     with their results ("none" when there are none);
 *   - the comment is ar_clean_comment(reason); each property written is exactly one
 *     the writer may write (name has a ptype, value a token or quotable) with its value
 *     unchanged, and every such property is written;
 *   - ar_match_ours recognizes the written header as ours (the deletion side and the
 *     writer agree) for any id with a letter or digit; an id of dots only is a token
 *     the matcher never calls ours (regress-dot-id). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ar_check.h"
#include "mail/ar_match.h"
#include "out/ar_format.h"

#define MAX_PIECES 512

static const char *const methods[] = {"spf", "dkim", "dmarc", "arc", "iprev", "auth"};
static const char *const props[] = {"smtp.mailfrom", "smtp.helo", "header.d", "header.s",
                                    "header.b",      "header.from", "policy.dmarc", "header.a"};

struct pieces {
    char *v[MAX_PIECES];
    int n, next;
};

static const char *take(struct pieces *p);
static int writable_prop(const struct ar_prop *pr);
static int quotable(const char *s);

/* take - the next piece, or NULL once used up */
static const char *take(struct pieces *p)
{
    return p->next < p->n ? p->v[p->next++] : NULL;
}

/* quotable - the writer's rule for a quoted-string value, restated */
static int quotable(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr(";()\"\\", c) != NULL)
            return 0;
    }
    return 1;
}

/* writable_prop - a property the writer must write (see ar_format.h) */
static int writable_prop(const struct ar_prop *pr)
{
    size_t vlen;

    if (pr->name == NULL || pr->value == NULL || strchr(pr->name, '.') == NULL ||
        !ar_value_is_token(pr->name) || strlen(pr->name) > 32)
        return 0;
    vlen = strlen(pr->value);
    return vlen > 0 && vlen <= AR_MAX_VALUE && (ar_value_is_token(pr->value) || quotable(pr->value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[AR_MAX_HEADER + 64];
    struct pieces pc = {{0}, 0, 0};
    struct ar_header h;
    struct arc_header got;
    char *copy, why[128];
    const char *fold;
    size_t outlen, est;
    int nres, rc, idok, want_res = 0;

    if (size < 2)
        return 0;
    fold = (data[0] & 1) ? "\r\n\t" : "\n\t";
    outlen = (data[0] & 2) ? (size_t)(data[0] >> 2) * 4 + 1 : AR_MAX_HEADER + 1;
    nres = data[1] % 20;
    if ((copy = malloc(size - 1)) == NULL)
        return 0;
    memcpy(copy, data + 2, size - 2);
    copy[size - 2] = '\0';
    for (char *p = copy; pc.n < MAX_PIECES; p += strlen(p) + 1) {
        pc.v[pc.n++] = p;
        if (p + strlen(p) >= copy + size - 2)
            break;
    }

    ar_header_init(&h, take(&pc));
    idok = h.authserv_id != NULL && ar_value_is_token(h.authserv_id) &&
           strlen(h.authserv_id) <= AR_MAX_VALUE;
    est = h.authserv_id ? strlen(h.authserv_id) + 8 : 8;
    for (int i = 0; i < nres; i++) {
        const char *sel = take(&pc), *reason = take(&pc);
        unsigned s0 = sel && sel[0] ? (unsigned char)sel[0] : 0;
        unsigned s1 = sel && sel[0] && sel[1] ? (unsigned char)sel[1] : 0;
        const char *method = (s0 & 0x80) ? sel + 1 : methods[s0 % 6];
        struct ar_resinfo *ri = ar_header_add(&h, method, (enum auth_res)(s1 % 8), reason);

        if (i >= AR_MAX_RESINFO) {
            if (ri != NULL)
                abort(); /* the 17th must be refused */
            continue;
        }
        if (ri == NULL)
            abort();
        est += strlen(method) + 16 + AR_MAX_REASON + 8;
        for (unsigned k = 0; k < (s1 >> 3) % 9; k++) {
            const char *nm = take(&pc), *val = take(&pc);
            const char *name = nm && nm[0] == '\x01' ? nm + 1 : props[(nm ? strlen(nm) : 0) % 8];
            int prc = ar_resinfo_prop(ri, name, val);

            if ((k < AR_MAX_PROPS) != (prc == 0))
                abort();
            if (prc == 0 && val != NULL)
                est += strlen(name) + strlen(val) + 8;
        }
        if (ar_value_is_token(method) && strlen(method) <= 32)
            want_res++;
    }

    memset(out, 'X', sizeof(out));
    rc = ar_format_header(&h, fold, out, outlen);
    if (rc < 0) {
        if (rc != -1 || out[0] != '\0')
            abort();
        if (outlen > AR_MAX_HEADER && idok && est < AR_MAX_HEADER)
            abort(); /* it fit: only a bad authserv-id may fail */
        free(copy);
        return 0;
    }
    if (!idok || (size_t)rc >= outlen || strlen(out) != (size_t)rc || out[rc + 1] != 'X')
        abort();
    if (arc_parse(out, (size_t)rc, &got, why, sizeof(why)) < 0) {
        fprintf(stderr, "written A-R does not parse (%s): %s\n", why, out);
        abort();
    }
    if (strcmp(got.id, h.authserv_id) != 0)
        abort();
    /* A host name has a letter or digit ("." alone is a token, but names nobody). */
    if (strpbrk(h.authserv_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") &&
        ar_match_ours(out, (size_t)rc, h.authserv_id) != 1)
        abort();
    if (want_res == 0 ? !got.none || got.nres != 0 : got.none || got.nres != want_res)
        abort();
    for (int i = 0, g = 0; i < h.nres; i++) {
        const struct ar_resinfo *ri = &h.res[i];
        const struct arc_res *gr;
        char clean[AR_MAX_REASON + 1];
        int np = 0;

        if (!ar_value_is_token(ri->method) || strlen(ri->method) > 32)
            continue;
        gr = &got.res[g++];
        if (strcmp(gr->method, ri->method) != 0 || strcmp(gr->result, auth_res_name(ri->result)) != 0)
            abort();
        ar_clean_comment(ri->reason, clean, sizeof(clean));
        if (strcmp(gr->comment, clean) != 0)
            abort();
        for (int k = 0; k < ri->nprop; k++) {
            if (!writable_prop(&ri->prop[k]))
                continue;
            if (np >= gr->nprop || strcmp(gr->prop[np].name, ri->prop[k].name) != 0 ||
                strcmp(gr->prop[np].value, ri->prop[k].value) != 0)
                abort();
            np++;
        }
        if (np != gr->nprop)
            abort();
    }
    free(copy);
    return 0;
}
