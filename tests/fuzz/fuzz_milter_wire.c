/* fuzz_milter_wire.c - libFuzzer target for the milter wire functions alone
 * (src/milter/mlt_wire.c), without sockets or threads, so it runs many times faster
 * than fuzz_milter_session and checks what a session cannot see: every packet of the
 * input is decoded as each command would be (strings, option negotiation, connect
 * information, macro data looked up with a name taken from the input), and the decoded
 * strings encoded again with mlt_wire_put read back equal through mlt_wire_next.
 * Seeds: tests/fuzz/corpus/milter_wire/ (the conversations of the session seeds,
 * without their 6-byte script). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfdef.h>

#include "milter/mlt_wire.h"

/* roundtrip - s1 and s2 put as one packet come back as s1\0s2\0 */
static void roundtrip(const char *s1, const char *s2)
{
    struct mlt_out o = {NULL, 0, 0, 0};
    struct mlt_pkt p;
    size_t used, l1 = strlen(s1), l2 = s2 ? strlen(s2) : 0;

    if (mlt_wire_put(&o, SMFIR_CHGHEADER, 1, 7, s1, s2, NULL, 0) < 0) {
        if (!o.overflow)
            abort();
        mlt_out_free(&o);
        return;
    }
    if (mlt_wire_next(o.buf, o.len, MLT_WIRE_MAX_DATA, &p, &used) != 1 || used != o.len ||
        p.cmd != SMFIR_CHGHEADER || p.len != 4 + l1 + 1 + (s2 ? l2 + 1 : 0) ||
        memcmp(p.data + 4, s1, l1 + 1) != 0 || (s2 && memcmp(p.data + 5 + l1, s2, l2 + 1) != 0))
        abort();
    mlt_out_free(&o);
}

static void packet(const struct mlt_pkt *p, const char *name)
{
    const char *argv[MLT_WIRE_MAX_ARGS + 1], *host, *v;
    struct sockaddr_storage ss;
    uint32_t ver, act, proto;
    int n, has;

    n = mlt_wire_strings(p->data, p->len, argv, MLT_WIRE_MAX_ARGS);
    if (n > MLT_WIRE_MAX_ARGS || (n >= 0 && argv[n] != NULL))
        abort();
    for (int i = 0; i < n; i++)
        if (argv[i] < p->data || argv[i] + strlen(argv[i]) >= p->data + p->len)
            abort();
    if (n >= 2)
        roundtrip(argv[0], argv[1]);
    else if (n == 1)
        roundtrip(argv[0], NULL);
    if (mlt_wire_optneg(p, &ver, &act, &proto) == 0 && p->len < MILTER_OPTLEN)
        abort();
    if (mlt_wire_connect(p, &host, &ss, &has) == 0) {
        if (host != p->data || strlen(host) >= p->len)
            abort();
        if (has && ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
            abort();
    }
    if (p->len > 0 && (v = mlt_wire_macro_find(p->data + 1, p->len - 1, name)) != NULL &&
        (v < p->data + 1 || v + strlen(v) >= p->data + p->len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *b = malloc(size ? size : 1), name[32] = "i";
    struct mlt_pkt p;
    size_t off = 0, used;

    if (b == NULL)
        return 0;
    memcpy(b, data, size);
    /* the macro name looked up: the first string of the input when it is short */
    if (size > 0 && memchr(b, '\0', size < sizeof(name) ? size : sizeof(name)) != NULL)
        memcpy(name, b, strlen(b) + 1);
    while (mlt_wire_next(b + off, size - off, MLT_WIRE_MAX_DATA, &p, &used) == 1) {
        if (used < 5 || used > size - off || p.data != b + off + 5 || p.len != used - 5)
            abort();
        packet(&p, name);
        off += used;
    }
    free(b);
    return 0;
}
