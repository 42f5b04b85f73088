/* conf_parse.c - parsers for the structured string values of the config: milter
 * sockets, DNS server addresses and octal modes.
 * Owns the syntax of those values; not the key table or the libconfig walk. The
 * reasons they give complete "FILE:LINE: key: " (they name the value, not the key).
 * Threads: reentrant, no allocation. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "conf_keys.h"

static int parse_port(const char *s, size_t n, uint16_t *port);
static int host_ok(const char *s);

/* parse_port - decimal 1..65535, exactly n characters */
static int parse_port(const char *s, size_t n, uint16_t *port)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* host_ok - IPv4 literal or host name (letters, digits, '-', '.'; labels 1..63) */
static int host_ok(const char *s)
{
    size_t label = 0, n = strlen(s);

    if (n == 0 || n > 253)
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)*p) || *p == '-') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return label > 0;
}

/* conf_parse_socket - "inet:PORT[@ADDR]", "inet6:PORT[@ADDR]", "unix:/PATH", "local:/PATH" */
int conf_parse_socket(const char *s, struct conf_socket *out, char *why, size_t whylen)
{
    const char *rest, *at;
    struct in6_addr a6;

    memset(out, 0, sizeof(*out));
    if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
        rest = strchr(s, ':') + 1;
        out->kind = CONF_SOCK_UNIX;
        if (rest[0] != '/') {
            snprintf(why, whylen, "bad socket \"%s\": the path must be absolute", s);
            return -1;
        }
        if (sa_strlcpy(out->path, rest, sizeof(out->path)) >= sizeof(out->path)) {
            snprintf(why, whylen, "bad socket \"%s\": the path is longer than %zu bytes", s,
                     sizeof(out->path) - 1);
            return -1;
        }
        return 0;
    }
    if (strncmp(s, "inet:", 5) == 0) {
        out->kind = CONF_SOCK_INET;
        rest = s + 5;
    } else if (strncmp(s, "inet6:", 6) == 0) {
        out->kind = CONF_SOCK_INET6;
        rest = s + 6;
    } else {
        snprintf(why, whylen,
                 "bad socket \"%s\": want \"inet:PORT@ADDR\", \"inet6:PORT@ADDR\" or "
                 "\"unix:/PATH\"",
                 s);
        return -1;
    }
    at = strchr(rest, '@');
    if (parse_port(rest, at ? (size_t)(at - rest) : strlen(rest), &out->port) < 0) {
        snprintf(why, whylen, "bad socket \"%s\": the port must be 1..65535", s);
        return -1;
    }
    if (at == NULL)
        return 0; /* any address */
    if (out->kind == CONF_SOCK_INET6 ? inet_pton(AF_INET6, at + 1, &a6) != 1 : !host_ok(at + 1)) {
        snprintf(why, whylen, "bad socket \"%s\": \"%s\" is not %s", s, at + 1,
                 out->kind == CONF_SOCK_INET6 ? "an IPv6 address" : "an IPv4 address or host name");
        return -1;
    }
    sa_strlcpy(out->host, at + 1, sizeof(out->host));
    return 0;
}

/* conf_parse_nameserver - "V4", "V4:PORT", "V6", "[V6]", "[V6]:PORT" */
int conf_parse_nameserver(const char *s, struct conf_nameserver *out, char *why, size_t whylen)
{
    char addr[sizeof(out->addr)];
    const char *orig = s, *port = NULL, *end;
    size_t n;
    unsigned char bin[16];

    memset(out, 0, sizeof(*out));
    out->port = 53;
    if (s[0] == '[') {
        end = strchr(s, ']');
        if (end == NULL || (end[1] != '\0' && end[1] != ':'))
            goto bad;
        n = (size_t)(end - s - 1);
        if (end[1] == ':')
            port = end + 2;
        s++;
        out->family = AF_INET6;
    } else if (strchr(s, ':') != NULL && strchr(s, ':') == strrchr(s, ':')) {
        end = strchr(s, ':'); /* one colon: IPv4:PORT */
        n = (size_t)(end - s);
        port = end + 1;
        out->family = AF_INET;
    } else {
        n = strlen(s);
        out->family = strchr(s, ':') ? AF_INET6 : AF_INET;
    }
    if (n == 0 || n >= sizeof(addr))
        goto bad;
    memcpy(addr, s, n);
    addr[n] = '\0';
    if (inet_pton(out->family, addr, bin) != 1)
        goto bad;
    if (port != NULL && parse_port(port, strlen(port), &out->port) < 0)
        goto bad;
    memcpy(out->addr, addr, n + 1);
    return 0;
bad:
    snprintf(why, whylen,
             "bad nameserver \"%s\": want \"ADDR\", \"ADDR:PORT\" or \"[IPv6]:PORT\" with a "
             "numeric address and port 1..65535",
             orig);
    return -1;
}

/* conf_parse_mode - octal digits only, at most 4, value at most 07777 */
int conf_parse_mode(const char *s, unsigned int *out, char *why, size_t whylen)
{
    unsigned int v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 4)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '7')
            goto bad;
        v = v * 8 + (unsigned int)(s[i] - '0');
    }
    *out = v;
    return 0;
bad:
    snprintf(why, whylen, "\"%s\" must be an octal mode such as \"0660\"", s);
    return -1;
}
