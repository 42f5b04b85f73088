/* conn.c - the per-connection context (struct sa_conn): client address, HELO, negotiated protocol flags, and the one open transaction.
 * Owns those fields and the lifetime of the open sa_msg; not the checks (msg.c).
 * Threads: a conn is used by one libmilter thread at a time. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/msg.h"
#include "util/xalloc.h"

struct sa_conn *conn_new(void)
{
    return calloc(1, sizeof(struct sa_conn));
}

struct sa_conn *conn_free(struct sa_conn *c)
{
    if (c == NULL)
        return NULL;
    conn_end_msg(c);
    free(c->iprev);
    free(c);
    return NULL;
}

void conn_end_msg(struct sa_conn *c)
{
    if (c != NULL && c->msg != NULL)
        c->msg = msg_free(c->msg);
}

/* conn_set_client - copy the address (and its text form for SPF and logs). An
 * IPv4-mapped IPv6 address is written as IPv4. A client without an address or with
 * port 0 is local submission (Postfix non_smtpd_milters, Sendmail's -bs/-bm), which
 * has no SMTP client to take a per-recipient reply. */
void conn_set_client(struct sa_conn *c, const struct sockaddr *sa)
{
    c->ip[0] = '\0';
    c->has_addr = 0;
    c->nonsmtp = 1;
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        memcpy(&c->addr, sin, sizeof(*sin));
        c->nonsmtp = sin->sin_port == 0;
        c->has_addr = inet_ntop(AF_INET, &sin->sin_addr, c->ip, sizeof(c->ip)) != NULL;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        memcpy(&c->addr, sin6, sizeof(*sin6));
        c->nonsmtp = sin6->sin6_port == 0;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
            c->has_addr =
                inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], c->ip, sizeof(c->ip)) != NULL;
        else
            c->has_addr = inet_ntop(AF_INET6, &sin6->sin6_addr, c->ip, sizeof(c->ip)) != NULL;
    }
    if (!c->has_addr)
        c->ip[0] = '\0';
}

void conn_set_helo(struct sa_conn *c, const char *helo)
{
    sa_strlcpy(c->helo, helo ? helo : "", sizeof(c->helo));
}
