/* dkim_dns.c - libopendkim's key lookup callback, answered through our struct dns, so
 * DKIM keys share the cache and the per-message query budget with SPF and DMARC.
 * Owns the mapping from DNS answers to the notes it leaves in the message's slots;
 * the record itself goes to the key cache (dkim_key.c), which parses and decodes it
 * once per distinct text. libopendkim is told "no key" every time: it then does no
 * key decoding and no signature check of its own (dkim_result.c does both with the
 * hashes libopendkim computed).
 * Threads: runs inside dkim_eoh on the message's thread; touches only the message
 * found through dkim_get_user_context and the (internally locked) key cache. */
#include <stdio.h>
#include <string.h>

#include "dkim/dkim_int.h"

#define DKIM_KEY_NAME "_domainkey" /* RFC 6376 3.6.2.1 */
#define DKIM_KEY_MAX_RECORD 4096   /* one key record (RSA 8192 SPKI in p= is ~1.4 KB) */

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

/* dkim_dns_key_lookup - fetch the TXT key record of one signature and put its key
 * (from the key cache) in the signature's slot. Always NOTFOUND for libopendkim (its
 * "no key" is never reported: the slot's note says what happened); ERROR only when
 * the message is not ours. TRYAGAIN or ERROR would abort every other signature of the
 * message inside dkim_eoh, so a per-signature problem never returns them. */
DKIM_CBSTAT dkim_dns_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen)
{
    struct dkim_eval *v = dkim_get_user_context(dkim);
    const char *d = (const char *)dkim_sig_getdomain(sig);
    const char *s = (const char *)dkim_sig_getselector(sig);
    char qname[DNS_MAX_NAME + 2];
    struct dns_answer *ans = NULL;
    enum dkim_lookup note = LOOKUP_NONE;
    struct dkim_key *key = NULL;
    int idx, n;

    if (v == NULL)
        return DKIM_CBSTAT_ERROR;
    if (buf != NULL && buflen > 0)
        buf[0] = '\0';
    if ((idx = dkim_eval_slot_of(v, sig)) < 0)
        return DKIM_CBSTAT_NOTFOUND; /* untracked: never evaluated */
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
    } else if (ans->rr[0].u.txt.len >= DKIM_KEY_MAX_RECORD) {
        note = LOOKUP_TOOLARGE;
    } else if (memchr(ans->rr[0].u.txt.data, '\0', ans->rr[0].u.txt.len) != NULL) {
        note = LOOKUP_BADDATA;
    } else if ((key = dkim_key_get(v->lib->keys, ans->rr[0].u.txt.data,
                                   ans->rr[0].u.txt.len)) == NULL) {
        note = LOOKUP_NOMEM;
    } else {
        note = LOOKUP_KEY;
    }
out:
    dns_answer_free(ans);
    dkim_key_release(v->slot[idx].key); /* a signature is looked up once; be safe */
    v->slot[idx].key = key;
    v->slot[idx].lookup = (unsigned char)note;
    return DKIM_CBSTAT_NOTFOUND;
}
