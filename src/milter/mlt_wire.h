/* mlt_wire.h - the milter wire protocol as data: split a byte stream into commands,
 * decode the arguments of the commands senderauthd reads, encode replies. Pure
 * functions over caller buffers (no I/O, no allocation but mlt_out's bounded growth),
 * so they are unit-tested and fuzzed alone (tests/unit/test_milter_wire.c,
 * tests/fuzz/fuzz_milter_wire.c). A packet is a 4-byte big-endian length (command
 * byte + data), the command byte, then the data. */
#ifndef SA_MILTER_MLT_WIRE_H
#define SA_MILTER_MLT_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Largest command accepted: libmilter's 256 KB data size (SMFIP_MDS_256K). A Postfix
 * header field (header_size_limit 102400) or body chunk (64 KB) fits; a longer packet
 * ends the connection (the MTA applies its milter default action). */
#define MLT_WIRE_MAX_DATA (256 * 1024 - 1)
#define MLT_WIRE_MAX_ARGS 64 /* MAIL/RCPT arguments kept: the address + ESMTP parameters */
#define MLT_WIRE_MAX_OUT (1024 * 1024) /* bytes of replies queued before one write */

struct mlt_pkt {
    char cmd;
    const char *data; /* into the caller's buffer */
    size_t len;
};

/* mlt_wire_next - the first packet of buf[0..n): 1 with *pkt and *used (bytes it
 * takes), 0 when more bytes are needed, -1 when its length is 0 or past max. */
int mlt_wire_next(const char *buf, size_t n, size_t max, struct mlt_pkt *pkt, size_t *used);

/* mlt_wire_need - total bytes the first packet of buf[0..n) takes (5 when n < 5) */
size_t mlt_wire_need(const char *buf, size_t n);

/* mlt_wire_strings - the NUL-terminated strings data[0..len) is made of, up to max
 * (more are ignored), NULL after the last; their count, or -1 when the data does not end
 * in a NUL (a truncated argument is never passed on). */
int mlt_wire_strings(const char *data, size_t len, const char **out, int max);

/* mlt_wire_optneg - version, actions, protocol flags of SMFIC_OPTNEG; 0 or -1 */
int mlt_wire_optneg(const struct mlt_pkt *p, uint32_t *version, uint32_t *actions,
                    uint32_t *proto);

/* mlt_wire_connect - SMFIC_CONNECT: *host (borrowed) and the client address in *ss;
 * *has_addr 0 for an unknown or unix-socket client. 0, or -1 when malformed (an inet
 * family with an address that does not parse included). */
int mlt_wire_connect(const struct mlt_pkt *p, const char **host, struct sockaddr_storage *ss,
                     int *has_addr);

/* mlt_wire_macro_find - the value of name in SMFIC_MACRO data (after its command byte:
 * name\0value\0 pairs); "x" and "{x}" are the same name. Borrowed from data; NULL. */
const char *mlt_wire_macro_find(const char *data, size_t len, const char *name);

/* Replies are queued in a growing buffer and written at once. */
struct mlt_out {
    char *buf;
    size_t len, cap;
    int overflow; /* a reply did not fit MLT_WIRE_MAX_OUT or memory: the connection ends */
};

/* mlt_wire_put - queue one packet: cmd, then [index as 4 bytes when has_index], then
 * each of s1, s2 that is not NULL with its NUL; then raw[0..rawlen). 0 or -1. */
int mlt_wire_put(struct mlt_out *o, char cmd, int has_index, uint32_t index, const char *s1,
                 const char *s2, const void *raw, size_t rawlen);

/* mlt_wire_put_optneg - queue the SMFIC_OPTNEG answer */
int mlt_wire_put_optneg(struct mlt_out *o, uint32_t version, uint32_t actions, uint32_t proto);

void mlt_out_reset(struct mlt_out *o);
void mlt_out_free(struct mlt_out *o);

#endif
