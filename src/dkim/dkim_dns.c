/* dkim_dns.c - libopendkim's key lookup callback, answered through our struct dns, so
 * DKIM keys share the cache and the per-message query budget with SPF and DMARC.
 * Owns the mapping from DNS answers to DKIM_CBSTAT_* and the notes it leaves in the
 * message's slots; not the key record's parsing (libopendkim does that).
 * Threads: runs inside dkim_eoh/dkim_eom on the message's thread; touches only the
 * message found through dkim_get_user_context. */
#include <stdio.h>
#include <string.h>

#include "dkim/dkim_int.h"

#define DKIM_KEY_NAME "_domainkey" /* RFC 6376 3.6.2.1 */

static int label_char(int c);

/* label_char - letters, digits, hyphen; underscore too (seen in real selectors) */
static int label_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* dkim_dns_name_ok - RFC 6376 3.5 domain-name / selector: dot-separated labels of
 * 1..63 label characters, at least min_labels of them, at most 253 characters. */
int dkim_dns_name_ok(const char *name, int min_labels)
{
    size_t len = 0, label = 0;
    int labels = 0;

    for (const char *p = name; *p != '\0'; p++, len++) {
        if (*p == '.') {
            if (label == 0)
                return 0;
            labels++;
            label = 0;
        } else if (!label_char((unsigned char)*p) || ++label > 63) {
            return 0;
        }
    }
    if (label == 0 || len > 253)
        return 0;
    return labels + 1 >= min_labels;
}

/* dkim_dns_key_lookup - fetch the TXT key record of one signature into buf.
 * CONTINUE: buf holds the record (NUL-terminated). NOTFOUND: libopendkim records "no
 * key"; when the real reason is something else (DNS could not find out, a bad name, a
 * record too big for libopendkim's buffer), the slot's note says so and dkim_result.c
 * reports that instead. TRYAGAIN or ERROR would abort every other signature of the
 * message inside dkim_eoh, so a per-signature problem never returns them. */
DKIM_CBSTAT dkim_dns_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen)
{
    struct dkim_eval *v = dkim_get_user_context(dkim);
    const char *d = (const char *)dkim_sig_getdomain(sig);
    const char *s = (const char *)dkim_sig_getselector(sig);
    char qname[DNS_MAX_NAME + 2];
    struct dns_answer *ans = NULL;
    enum dkim_lookup note = LOOKUP_NONE;
    DKIM_CBSTAT rc = DKIM_CBSTAT_NOTFOUND;
    int idx, n;

    if (v == NULL || buf == NULL || buflen == 0)
        return DKIM_CBSTAT_ERROR;
    buf[0] = '\0';
    idx = dkim_eval_slot_of(v, sig);
    if (d == NULL || s == NULL || !dkim_dns_name_ok(d, 2) || !dkim_dns_name_ok(s, 1)) {
        note = LOOKUP_BADNAME; /* never queried (dkimpy's d=legitimate.com(.attacker.com) */
        goto out;
    }
    n = snprintf(qname, sizeof(qname), "%s.%s.%s", s, DKIM_KEY_NAME, d);
    if (n < 0 || (size_t)n >= sizeof(qname))
        goto out; /* cannot exist on the wire: no key */
    switch (dns_query(v->dns, qname, DNS_T_TXT, &ans)) {
    case DNS_OK:
        break;
    case DNS_NXDOMAIN:
    case DNS_NODATA:
        goto out;
    case DNS_TEMPFAIL:
    case DNS_BADREPLY:
    default:
        note = LOOKUP_TEMPFAIL;
        goto out;
    }
    if (ans == NULL || ans->nrr < 1) {
        note = LOOKUP_TEMPFAIL;
    } else if (ans->nrr > 1 || ans->truncated) {
        note = LOOKUP_MULTI; /* RFC 6376 3.6.2.2: results undefined; refuse */
    } else if (ans->rr[0].type != DNS_T_TXT) {
        note = LOOKUP_TEMPFAIL;
    } else if (ans->rr[0].u.txt.len >= buflen) {
        note = LOOKUP_TOOLARGE;
    } else if (memchr(ans->rr[0].u.txt.data, '\0', ans->rr[0].u.txt.len) != NULL) {
        note = LOOKUP_BADDATA;
    } else {
        memcpy(buf, ans->rr[0].u.txt.data, ans->rr[0].u.txt.len);
        buf[ans->rr[0].u.txt.len] = '\0';
        rc = DKIM_CBSTAT_CONTINUE;
    }
out:
    dns_answer_free(ans);
    if (idx >= 0)
        v->slot[idx].lookup = (unsigned char)note;
    return rc;
}
