/* bimi_policy.c - which messages BIMI looks at: DMARC passed and both the author domain
 * and its organizational domain enforce DMARC (draft section 7.1 and the operators'
 * lesson that a parent domain's p=none weakens the child: a logo is shown only when a
 * spoof of the domain would be refused or quarantined everywhere along the way).
 * Owns that rule; not the DMARC evaluation (src/dmarc) nor the record discovery.
 * Threads: reentrant; uses only the dns it is given. */
#include <stdio.h>
#include <string.h>

#include "bimi/bimi.h"

static int enforcing(enum dmarc_policy p);
static enum bimi_eligible not_eligible(char *reason, size_t reasonlen, const char *why);

static int enforcing(enum dmarc_policy p)
{
    return p == DMARC_POLICY_QUARANTINE || p == DMARC_POLICY_REJECT;
}

static enum bimi_eligible not_eligible(char *reason, size_t reasonlen, const char *why)
{
    snprintf(reason, reasonlen, "%s", why);
    return BIMI_NOT_ELIGIBLE;
}

/* bimi_dmarc_eligible - see bimi.h */
enum bimi_eligible bimi_dmarc_eligible(const struct dmarc_res *d, const char *from_domain,
                                       struct dns *dns, char *reason, size_t reasonlen)
{
    struct dmarc_record org;
    const struct dmarc_record *r = &d->rec;
    char why[96];

    reason[0] = '\0';
    if (d->result != AUTH_PASS)
        return not_eligible(reason, reasonlen, "dmarc did not pass");
    if (!d->has_record || !enforcing(d->policy))
        return not_eligible(reason, reasonlen, "dmarc policy not enforcing");
    if (r->pct < 100 || r->testing)
        return not_eligible(reason, reasonlen, "dmarc policy not fully enforced");
    if (d->org_domain[0] == '\0' || dmarc_domain_equal(d->org_domain, from_domain))
        return r->sp == DMARC_POLICY_NONE ? not_eligible(reason, reasonlen, "dmarc sp=none")
                                          : BIMI_ELIGIBLE;
    /* A subdomain: the organizational domain's own record must enforce as well. */
    if (dmarc_domain_equal(d->record_domain, d->org_domain)) {
        org = *r;
    } else {
        switch (dmarc_lookup_name(dns, d->org_domain, &org, why, sizeof(why))) {
        case DMARC_LOOKUP_FOUND:
            break;
        case DMARC_LOOKUP_TEMP:
            snprintf(reason, reasonlen, "organizational domain: %s", why);
            return BIMI_ELIGIBLE_TEMP;
        default:
            return not_eligible(reason, reasonlen, "organizational domain has no dmarc policy");
        }
    }
    if (!enforcing(org.p) || org.pct < 100 || org.testing)
        return not_eligible(reason, reasonlen, "organizational domain dmarc not enforcing");
    if (org.sp == DMARC_POLICY_NONE)
        return not_eligible(reason, reasonlen, "organizational domain dmarc sp=none");
    return BIMI_ELIGIBLE;
}
