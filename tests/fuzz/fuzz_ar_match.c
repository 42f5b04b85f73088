/* fuzz_ar_match.c - libFuzzer target for forged Authentication-Results recognition
 * (src/mail/ar_match.c): does an inbound A-R value claim our authserv-id? A false "no"
 * lets a forged header through (CVE-2022-48521 in OpenDKIM), a crash loses mail.
 * Input: byte 0 selects our authserv-id from a small table; the rest is the A-R value.
 * Checks the contract, not just "does not crash" (every value is an exact-size heap copy,
 * so ASan sees any read past len):
 *   - the answer is 0 or 1, the same for ours in another case or with a trailing dot;
 *   - a NUL ends the value: the answer for the bytes before it is the same;
 *   - leading CFWS (white space, a fold, a comment without ours in it) never changes
 *     the answer;
 *   - ours followed by ';', a version, "/1" or a comment, or as a quoted-string, then any
 *     bytes at all, is ours; ours followed by more name characters is not;
 *   - a "yes" is backed by the value: with quoted-pair backslashes and line breaks taken
 *     out, it holds ours (ignoring case). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/ar_match.h"

static const char *const ids[][3] = {
    /* ours, the same in other case, with a trailing dot */
    {"mx.test.example", "MX.TEST.Example", "mx.test.example."},
    {"mail.example.co.jp", "Mail.Example.CO.JP", "MAIL.example.co.jp."},
    {"a", "A", "a."},
    {"x-1.y", "X-1.Y", "x-1.y."},
};

static int call(const char *pre, const uint8_t *v, size_t n, const char *post, const char *ours);
static int backed(const uint8_t *v, size_t n, const char *ours);

/* call - ar_match_ours on pre + v + post, as an exact-size heap copy */
static int call(const char *pre, const uint8_t *v, size_t n, const char *post, const char *ours)
{
    size_t a = strlen(pre), b = strlen(post), len = a + n + b;
    char *buf = malloc(len ? len : 1);
    int r;

    if (buf == NULL)
        abort();
    memcpy(buf, pre, a);
    if (n)
        memcpy(buf + a, v, n);
    memcpy(buf + a + n, post, b);
    r = ar_match_ours(buf, len, ours);
    free(buf);
    if (r != 0 && r != 1)
        abort();
    return r;
}

/* backed - ours (without a trailing dot) occurs in v once '\', CR and LF are removed */
static int backed(const uint8_t *v, size_t n, const char *ours)
{
    char *flat = malloc(n + 1);
    size_t o = 0, want = strlen(ours);
    int hit = 0;

    if (flat == NULL)
        abort();
    for (size_t i = 0; i < n && v[i] != '\0'; i++)
        if (v[i] != '\\' && v[i] != '\r' && v[i] != '\n')
            flat[o++] = (char)v[i];
    if (want > 0 && ours[want - 1] == '.')
        want--;
    for (size_t i = 0; !hit && i + want <= o; i++)
        hit = strncasecmp(flat + i, ours, want) == 0;
    free(flat);
    return hit;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *const *id;
    const uint8_t *v;
    const uint8_t *nul;
    char pre[AR_MATCH_MAX_ID + 16];
    size_t n;
    int r;

    if (size < 1)
        return 0;
    id = ids[data[0] % (sizeof(ids) / sizeof(ids[0]))];
    v = data + 1;
    n = size - 1;

    r = call("", v, n, "", id[0]);
    if (call("", v, n, "", id[1]) != r || call("", v, n, "", id[2]) != r)
        abort();
    if ((nul = memchr(v, '\0', n)) != NULL && call("", v, (size_t)(nul - v), "", id[0]) != r)
        abort();
    if (call(" (#) \n\t", v, n, "", id[0]) != r || call("\r\n (! (#) \\) !) ", v, n, "", id[0]) != r)
        abort();
    if (r == 1 && !backed(v, n, id[0]))
        abort();

    /* Ours first, anything after it. */
    snprintf(pre, sizeof(pre), "%s;", id[1]);
    if (call(pre, v, n, "", id[0]) != 1)
        abort();
    snprintf(pre, sizeof(pre), "%s 1;", id[2]);
    if (call(pre, v, n, "", id[0]) != 1)
        abort();
    snprintf(pre, sizeof(pre), "%s/1", id[0]);
    if (call(pre, v, n, "", id[0]) != 1)
        abort();
    snprintf(pre, sizeof(pre), "%s(c)", id[0]);
    if (call(pre, v, n, "", id[0]) != 1)
        abort();
    snprintf(pre, sizeof(pre), "\"%s\"", id[1]);
    if (call(pre, v, n, "", id[0]) != 1)
        abort();
    /* A longer name is someone else's (the ".evil" near miss). */
    snprintf(pre, sizeof(pre), "%s.evil", id[0]);
    if (call(pre, v, n, "", id[0]) != 0)
        abort();
    return 0;
}
