/* from_idn.c - one mail domain -> the lower-case LDH / A-label form DMARC looks up.
 * Owns the LDH rules (RFC 1035 2.3.4, RFC 1123 2.1), strict UTF-8 decoding, the table of
 * non-ASCII letters we accept with their UTS 46 lower-case forms, and a bounded RFC 3492
 * Punycode encoder. Does not own mailbox syntax (from.c) or public-suffix logic (dmarc/).
 * Fail-closed: a code point whose case folding or NFC form we cannot compute exactly is
 * refused instead of guessed, so no spelling of a domain maps to a different DNS name.
 * Allocation: none (labels are at most 63 code points). Threads: reentrant, tables const. */
#include <stdint.h>
#include <string.h>

#include "mail/from.h"

static int label_normalize(const unsigned char *s, size_t n, char *dst, size_t *dlen, size_t dstsz,
                           const char **why);

enum fold_op { F_SAME, F_ADD, F_EVEN, F_ODD, F_TO };

/* Non-ASCII code points we accept in a U-label, with the lower-casing UTS 46 applies.
 * Only scripts where this table plus "no combining marks" gives the NFC, case-folded
 * form exactly; anything else is rejected rather than guessed (see docs/from-parsing.md). */
static const struct {
    uint32_t lo, hi;
    enum fold_op op;
    uint32_t arg;
} fold_tab[] = {
    {0x00C0, 0x00D6, F_ADD, 0x20},  {0x00D8, 0x00DE, F_ADD, 0x20},  {0x00DF, 0x00F6, F_SAME, 0},
    {0x00F8, 0x00FF, F_SAME, 0},    {0x0100, 0x012F, F_EVEN, 0},    {0x0131, 0x0131, F_SAME, 0},
    {0x0134, 0x0137, F_EVEN, 0},    {0x0138, 0x0138, F_SAME, 0},    {0x0139, 0x013E, F_ODD, 0},
    {0x0141, 0x0148, F_ODD, 0},     {0x014A, 0x0177, F_EVEN, 0},    {0x0178, 0x0178, F_TO, 0x00FF},
    {0x0179, 0x017E, F_ODD, 0},     {0x0386, 0x0386, F_TO, 0x03AC}, {0x0388, 0x038A, F_ADD, 0x25},
    {0x038C, 0x038C, F_TO, 0x03CC}, {0x038E, 0x038F, F_ADD, 0x3F},  {0x0390, 0x0390, F_SAME, 0},
    {0x0391, 0x03A1, F_ADD, 0x20},  {0x03A3, 0x03AB, F_ADD, 0x20},  {0x03AC, 0x03CE, F_SAME, 0},
    {0x0400, 0x040F, F_ADD, 0x50},  {0x0410, 0x042F, F_ADD, 0x20},  {0x0430, 0x045F, F_SAME, 0},
    {0x0460, 0x0481, F_EVEN, 0},    {0x048A, 0x04BF, F_EVEN, 0},    {0x04C1, 0x04CE, F_ODD, 0},
    {0x04CF, 0x04CF, F_SAME, 0},    {0x04D0, 0x052F, F_EVEN, 0},    {0x0531, 0x0556, F_ADD, 0x30},
    {0x0561, 0x0586, F_SAME, 0},    {0x05D0, 0x05EA, F_SAME, 0},    {0x0620, 0x063F, F_SAME, 0},
    {0x0641, 0x064A, F_SAME, 0},    {0x0660, 0x0669, F_SAME, 0},    {0x066E, 0x066F, F_SAME, 0},
    {0x0671, 0x0674, F_SAME, 0},    {0x0679, 0x06D3, F_SAME, 0},    {0x06D5, 0x06D5, F_SAME, 0},
    {0x06F0, 0x06F9, F_SAME, 0},    {0x1E00, 0x1E95, F_EVEN, 0},    {0x1EA0, 0x1EFF, F_EVEN, 0},
    {0x3005, 0x3007, F_SAME, 0},    {0x3041, 0x3096, F_SAME, 0},    {0x309D, 0x309E, F_SAME, 0},
    {0x30A1, 0x30FA, F_SAME, 0},    {0x30FC, 0x30FE, F_SAME, 0},    {0x3400, 0x4DBF, F_SAME, 0},
    {0x4E00, 0x9FFF, F_SAME, 0},    {0xAC00, 0xD7A3, F_SAME, 0},
};

/* fold_cp - lower-case form of a non-ASCII code point, or 0 if we do not accept it. */
static uint32_t fold_cp(uint32_t c)
{
    size_t lo = 0, hi = sizeof(fold_tab) / sizeof(fold_tab[0]);

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < fold_tab[mid].lo) {
            hi = mid;
        } else if (c > fold_tab[mid].hi) {
            lo = mid + 1;
        } else {
            switch (fold_tab[mid].op) {
            case F_SAME:
                return c;
            case F_ADD:
                return c + fold_tab[mid].arg;
            case F_EVEN:
                return (c & 1) == 0 ? c + 1 : c;
            case F_ODD:
                return (c & 1) == 1 ? c + 1 : c;
            case F_TO:
                return fold_tab[mid].arg;
            }
        }
    }
    return 0;
}

/* utf8_next - decode one strict UTF-8 sequence (no overlongs, surrogates or > U+10FFFF);
 * returns its length or 0. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        c = s[0] & 0x1F;
        len = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        c = s[0] & 0x0F;
        len = 3;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        c = s[0] & 0x07;
        len = 4;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

#define PUNY_BASE 36 /* RFC 3492 5 */
#define PUNY_TMIN 1
#define PUNY_TMAX 26
#define PUNY_SKEW 38
#define PUNY_DAMP 700
#define PUNY_BIAS 72
#define PUNY_N 128

static uint32_t puny_adapt(uint32_t delta, uint32_t numpoints, int first)
{
    uint32_t k = 0;

    delta = first ? delta / PUNY_DAMP : delta / 2;
    delta += delta / numpoints;
    while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
        delta /= PUNY_BASE - PUNY_TMIN;
        k += PUNY_BASE;
    }
    return k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW);
}

/* puny_encode - RFC 3492 6.3 encoder for n code points (n <= FROM_MAX_LABEL) into dst
 * (NUL-terminated); returns the length or -1 if it does not fit. */
static int puny_encode(const uint32_t *cp, size_t n, char *dst, size_t dstsz)
{
    size_t out = 0, h, b = 0;
    uint32_t m, cur = PUNY_N, delta = 0, bias = PUNY_BIAS;

    for (size_t j = 0; j < n; j++) {
        if (cp[j] < 0x80) {
            if (out + 1 >= dstsz)
                return -1;
            dst[out++] = (char)cp[j];
            b++;
        }
    }
    h = b;
    if (b > 0) {
        if (out + 1 >= dstsz)
            return -1;
        dst[out++] = '-';
    }
    while (h < n) {
        m = UINT32_MAX;
        for (size_t j = 0; j < n; j++)
            if (cp[j] >= cur && cp[j] < m)
                m = cp[j];
        /* n <= 63 and m <= 0x10FFFF keep delta far below 2^32: no overflow checks needed. */
        delta += (m - cur) * (uint32_t)(h + 1);
        cur = m;
        for (size_t j = 0; j < n; j++) {
            if (cp[j] < cur) {
                delta++;
            } else if (cp[j] == cur) {
                uint32_t q = delta;
                for (uint32_t k = PUNY_BASE;; k += PUNY_BASE) {
                    uint32_t t = k <= bias               ? PUNY_TMIN
                                 : k >= bias + PUNY_TMAX ? PUNY_TMAX
                                                         : k - bias;
                    uint32_t d;
                    if (q < t)
                        break;
                    d = t + (q - t) % (PUNY_BASE - t);
                    if (out + 1 >= dstsz)
                        return -1;
                    dst[out++] = (char)(d < 26 ? 'a' + d : '0' + d - 26);
                    q = (q - t) / (PUNY_BASE - t);
                }
                if (out + 1 >= dstsz)
                    return -1;
                dst[out++] = (char)(q < 26 ? 'a' + q : '0' + q - 26);
                bias = puny_adapt(delta, (uint32_t)(h + 1), h == b);
                delta = 0;
                h++;
            }
        }
        delta++;
        cur++;
    }
    dst[out] = '\0';
    return (int)out;
}

/* label_normalize - one label -> lower-case LDH (A-label for non-ASCII) appended to dst. */
static int label_normalize(const unsigned char *s, size_t n, char *dst, size_t *dlen, size_t dstsz,
                           const char **why)
{
    uint32_t cp[FROM_MAX_LABEL];
    size_t ncp = 0, ascii = 1;
    char lab[FROM_MAX_LABEL + 1];
    size_t llen;

    if (n == 0) {
        *why = "empty label in From domain";
        return -1;
    }
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t k = utf8_next(s + i, n - i, &c);
        if (k == 0) {
            *why = "From domain is not valid UTF-8";
            return -1;
        }
        i += k;
        if (c >= 'A' && c <= 'Z') {
            c += 'a' - 'A';
        } else if (c >= 0x80) {
            ascii = 0;
            if ((c = fold_cp(c)) == 0) {
                *why = "From domain has a character we do not accept in an IDN";
                return -1;
            }
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            *why = "From domain is not letters, digits and hyphens";
            return -1;
        }
        if (ncp == FROM_MAX_LABEL) {
            *why = "label longer than 63 in From domain";
            return -1;
        }
        cp[ncp++] = c;
    }
    if (cp[0] == '-' || cp[ncp - 1] == '-') {
        *why = "label starts or ends with a hyphen in From domain";
        return -1;
    }
    if (ascii) {
        for (size_t i = 0; i < ncp; i++)
            lab[i] = (char)cp[i];
        llen = ncp;
    } else {
        int r;
        if (ncp >= 4 && cp[2] == '-' && cp[3] == '-') {
            *why = "U-label with '--' in positions 3 and 4";
            return -1;
        }
        memcpy(lab, "xn--", 4);
        r = puny_encode(cp, ncp, lab + 4, sizeof(lab) - 4);
        if (r < 0) {
            *why = "label longer than 63 in From domain";
            return -1;
        }
        llen = 4 + (size_t)r;
    }
    if (*dlen + (*dlen > 0) + llen >= dstsz) {
        *why = "From domain longer than 253";
        return -1;
    }
    if (*dlen > 0)
        dst[(*dlen)++] = '.';
    memcpy(dst + *dlen, lab, llen);
    *dlen += llen;
    dst[*dlen] = '\0';
    return 0;
}

/* from_normalize_domain - see from.h. */
int from_normalize_domain(const char *raw, size_t n, char *dst, size_t dstsz, const char **why)
{
    size_t dlen = 0, start = 0, last = 0;
    int numeric = 1;

    dst[0] = '\0';
    for (size_t i = 0; i <= n; i++) {
        if (i < n && raw[i] != '.')
            continue;
        last = dlen + (dlen > 0);
        if (label_normalize((const unsigned char *)raw + start, i - start, dst, &dlen, dstsz, why) <
            0)
            return -1;
        start = i + 1;
    }
    for (size_t i = last; i < dlen; i++)
        if (dst[i] < '0' || dst[i] > '9')
            numeric = 0;
    if (numeric) {
        *why = "From domain has an all-numeric top-level label";
        return -1;
    }
    return 0;
}
