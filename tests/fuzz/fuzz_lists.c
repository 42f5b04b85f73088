/* fuzz_lists.c - libFuzzer target for the operator list loaders: the warning / trust-mark
 * domain lists (lists_parse, src/policy/lists.c; the file reader lists_file_new hands the
 * file's bytes to the same function) and the CIDR network lists (conf_parse_cidr,
 * src/conf/cidr.c; trusted_networks and policy.forwarders, one entry per array element).
 * Checks the contract, not just "does not crash":
 *   - lists: a set always comes back; every bad line is counted and at most
 *     LISTS_MAX_REPORT messages are kept, none saying "internal error"; the set has no
 *     more entries than good lines; every good exact line matches itself (any case, with
 *     a trailing dot), every good ".parent" line matches a name below it; a name that is
 *     not LDH never matches; parsing the set's own good lines alone gives the same count.
 *   - cidr: each line either parses (prefix in range, host bits clear, the network
 *     address and the last address of the network match it, the address just past it
 *     does not) or fails with a reason; never both.
 * The first input byte chooses the loader (even: domain list, odd: CIDR lines).
 * Seeds in tests/fuzz/corpus/lists; dictionary tests/fuzz/fuzz_lists.dict. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_keys.h"
#include "policy/lists.h"

#define NAME_MAX_LEN 253

static int ldh(const char *s, size_t n);
static size_t trim(const char *b, size_t n, const char **out);
static void fuzz_domains(const char *text, size_t len);
static void fuzz_cidrs(const char *text, size_t len);
static void check_cidr(const char *line);

/* LLVMFuzzerInitialize - every bad line is logged (log_warn to stderr); send those to
 * /dev/null. libFuzzer and the sanitizers keep writing to descriptor 2. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FILE *null = getenv("SA_FUZZ_VERBOSE") == NULL ? fopen("/dev/null", "w") : NULL;

    if (null != NULL)
        stderr = null;
    return 0;
}

/* ldh - n bytes are letters, digits, '-' and '.' only */
static int ldh(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* trim - the line as lists_parse reads it: comment cut, blanks and CR stripped */
static size_t trim(const char *b, size_t n, const char **out)
{
    const char *hash = memchr(b, '#', n);

    if (hash != NULL)
        n = (size_t)(hash - b);
    while (n > 0 && (*b == ' ' || *b == '\t'))
        b++, n--;
    while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\r'))
        n--;
    *out = b;
    return n;
}

/* fuzz_domains - the domain-list contract over one text */
static void fuzz_domains(const char *text, size_t len)
{
    struct lists_report rep, one;
    struct lists_set *s = lists_parse(text, len, "fuzz", &rep), *again;
    char *good = malloc(len + 1);
    size_t ngood = 0, glen = 0, pos = 0;

    if (s == NULL || good == NULL)
        abort();
    if (rep.nbad < rep.nmsg || rep.nmsg > LISTS_MAX_REPORT || (rep.nbad > 0) != (rep.nmsg > 0))
        abort();
    for (int i = 0; i < rep.nmsg; i++)
        if (memchr(rep.msg[i], '\0', LISTS_MAX_MSG) == NULL ||
            strstr(rep.msg[i], "internal error") != NULL || strncmp(rep.msg[i], "fuzz:", 5) != 0)
            abort();
    while (pos < len) {
        const char *b = text + pos, *nl = memchr(b, '\n', len - pos), *w;
        size_t n = nl ? (size_t)(nl - b) : len - pos, k;
        struct lists_set *l;

        pos += n + (nl != NULL);
        k = trim(b, n, &w);
        if (k == 0 || n > LISTS_MAX_LINE)
            continue;
        l = lists_parse(w, k, "line", &one);
        if ((one.nbad == 0) != (lists_set_count(l) == 1))
            abort();
        if (one.nbad == 0) {
            char name[NAME_MAX_LEN + 8];
            size_t m = w[0] == '.' ? k - 1 : k;
            const char *d = w[0] == '.' ? w + 1 : w;

            if (m > NAME_MAX_LEN + 1 || !ldh(d, m))
                abort();
            /* exact: the name itself; ".parent": one label below it (when that fits) */
            snprintf(name, sizeof(name), "%s%.*s", w[0] == '.' ? "x." : "", (int)m, d);
            if (strlen(name) <= NAME_MAX_LEN + (name[strlen(name) - 1] == '.') &&
                (lists_set_match(s, name, NULL) != 1 || lists_set_match(l, name, NULL) != 1))
                abort();
            ngood++;
            memcpy(good + glen, w, k);
            glen += k;
            good[glen++] = '\n';
        }
        lists_set_unref(l);
    }
    if (lists_set_count(s) > ngood)
        abort();
    again = lists_parse(good, glen, "good", &one);
    if (one.nbad != 0 || lists_set_count(again) != lists_set_count(s))
        abort();
    lists_set_unref(again);
    /* A name that is not LDH never matches, whatever the list says. */
    {
        char probe[64];
        size_t n = len < sizeof(probe) - 1 ? len : sizeof(probe) - 1;

        memcpy(probe, text, n);
        probe[n] = '\0';
        if (!ldh(probe, strlen(probe)) && lists_set_match(s, probe, NULL) != 0)
            abort();
    }
    free(good);
    lists_set_unref(s);
}

/* check_cidr - one CIDR entry */
static void check_cidr(const char *line)
{
    struct conf_cidr c;
    struct conf_cidr_list l = {1, &c};
    char why[256] = "";
    uint8_t last[16], next[16];
    int max, rc = conf_parse_cidr(line, &c, why, sizeof(why)), bytes, carry = 1;

    if (rc < 0) {
        if (why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL)
            abort();
        return;
    }
    if (rc != 0 || why[0] != '\0' || (c.family != AF_INET && c.family != AF_INET6))
        abort();
    max = c.family == AF_INET ? 32 : 128;
    bytes = max / 8;
    if (c.prefix < 0 || c.prefix > max)
        abort();
    memcpy(last, c.addr, sizeof(last));
    for (int b = c.prefix; b < max; b++) {
        if (c.addr[b / 8] & (0x80 >> (b % 8)))
            abort(); /* host bits must be clear */
        last[b / 8] |= (uint8_t)(0x80 >> (b % 8));
    }
    if (conf_cidr_list_match(&l, c.family, c.addr) != 1 ||
        conf_cidr_list_match(&l, c.family, last) != 1 ||
        conf_cidr_list_match(&l, c.family == AF_INET ? AF_INET6 : AF_INET, c.addr) != 0)
        abort();
    /* The address after the last one is outside (unless the network ends the space). */
    memcpy(next, last, sizeof(next));
    for (int i = bytes - 1; i >= 0 && carry; i--)
        carry = ++next[i] == 0;
    if (!carry && conf_cidr_list_match(&l, c.family, next) != 0)
        abort();
}

/* fuzz_cidrs - every line of text as one CIDR entry */
static void fuzz_cidrs(const char *text, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        const char *b = text + pos, *nl = memchr(b, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - b) : len - pos;
        char *line = malloc(n + 1);

        pos += n + (nl != NULL);
        if (line == NULL)
            abort();
        memcpy(line, b, n);
        line[n] = '\0';
        check_cidr(line);
        free(line);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v;

    if (size == 0)
        return 0;
    /* Exact-size heap copy so ASan sees any read past the end. */
    if ((v = malloc(size - 1 ? size - 1 : 1)) == NULL)
        return 0;
    memcpy(v, data + 1, size - 1);
    if ((data[0] & 1) == 0)
        fuzz_domains(v, size - 1);
    else
        fuzz_cidrs(v, size - 1);
    free(v);
    return 0;
}
