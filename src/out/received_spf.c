/* received_spf.c - writes the Received-SPF trace field value (RFC 7208 section 9.1).
 * Owns its syntax and sanitizing; not whether it is written (act.c, config).
 * Threads: reentrant. */
#include <stdio.h>
#include <string.h>

#include "out/ar_format.h"
#include "out/received_spf.h"

#define LINE_COLS 78
#define FIRST_COLS (sizeof(RECEIVED_SPF_NAME ": ") - 1)

static int is_dot_atom(const char *s);
static int is_safe_quoted(const char *s);

/* is_dot_atom - RFC 5322 3.2.3 dot-atom-text */
static int is_dot_atom(const char *s)
{
    const char *p;

    if (s == NULL || *s == '\0' || *s == '.')
        return 0;
    for (p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.') {
            if (p[1] == '.' || p[1] == '\0')
                return 0;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) ||
                   c == 0) {
            return 0;
        }
    }
    return 1;
}

/* is_safe_quoted - printable, and none of the characters that need escapes or that
 * naive field splitters trip on */
static int is_safe_quoted(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || strchr(";()\"\\", c) != NULL)
            return 0;
    }
    return 1;
}

int received_spf_format(const struct received_spf *in, const char *fold, char *out, size_t outlen)
{
    const char *keys[5] = {"receiver", "client-ip", "envelope-from", "helo", "identity"};
    const char *vals[5];
    char comment[600], text[300], item[AR_MAX_VALUE + 40];
    const char *dom, *ip;
    size_t len = 0, col = FIRST_COLS;
    int n;

    if (out == NULL || outlen == 0)
        return -1;
    out[0] = '\0';
    if (in->result == AUTH_POLICY)
        return -1;
    if (fold == NULL)
        fold = "\n\t";
    vals[0] = in->receiver;
    vals[1] = in->client_ip;
    vals[2] = in->envelope_from;
    vals[3] = in->helo;
    vals[4] = in->identity;
    dom = is_dot_atom(in->domain) ? in->domain : "-";
    ip = in->client_ip ? in->client_ip : "-";
    if (in->problem && in->problem[0])
        snprintf(text, sizeof(text), "%s", in->problem);
    else if (in->result == AUTH_PASS)
        snprintf(text, sizeof(text), "domain of %s designates %s as permitted sender", dom, ip);
    else if (in->result == AUTH_FAIL)
        snprintf(text, sizeof(text), "domain of %s does not designate %s as permitted sender", dom,
                 ip);
    else if (in->result == AUTH_SOFTFAIL)
        snprintf(text, sizeof(text),
                 "domain of transitioning %s does not designate %s as "
                 "permitted sender",
                 dom, ip);
    else if (in->result == AUTH_NEUTRAL)
        snprintf(text, sizeof(text), "%s is neither permitted nor denied by domain of %s", ip, dom);
    else
        snprintf(text, sizeof(text), "domain of %s gives %s", dom, auth_res_name(in->result));
    snprintf(comment, sizeof(comment), "%s: %s",
             is_dot_atom(in->receiver) ? in->receiver : "receiver", text);
    ar_clean_comment(comment, text, sizeof(text));
    n = snprintf(out, outlen, "%s (%s)", auth_res_name(in->result), text);
    if (n < 0 || (size_t)n >= outlen)
        goto toosmall;
    len = (size_t)n;
    col += len;
    for (int i = 0; i < 5; i++) {
        const char *v = vals[i];
        if (v == NULL || strlen(v) > AR_MAX_VALUE)
            continue;
        if (i == 2 && v[0] == '\0')
            n = snprintf(item, sizeof(item), "%s=\"\";", keys[i]); /* null reverse-path */
        else if (is_dot_atom(v))
            n = snprintf(item, sizeof(item), "%s=%s;", keys[i], v);
        else if (is_safe_quoted(v))
            n = snprintf(item, sizeof(item), "%s=\"%s\";", keys[i], v);
        else
            continue;
        if (col + 1 + (size_t)n > LINE_COLS) {
            size_t fl = strlen(fold);
            if (len + fl + (size_t)n + 1 > outlen)
                goto toosmall;
            memcpy(out + len, fold, fl);
            len += fl;
            col = 8;
        } else {
            if (len + 1 + (size_t)n + 1 > outlen)
                goto toosmall;
            out[len++] = ' ';
            col++;
        }
        memcpy(out + len, item, (size_t)n + 1);
        len += (size_t)n;
        col += (size_t)n;
    }
    return (int)len;
toosmall:
    out[0] = '\0';
    return -1;
}
