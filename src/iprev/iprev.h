/* iprev.h - the "iprev" check of RFC 8601 section 3 (RFC 5451 3): the client address has
 * a PTR name whose A/AAAA records lead back to the address. Lookups go through our struct
 * dns (cached in production), at most IPREV_MAX_PTR names.
 * Threads: reentrant; a result belongs to its caller. */
#ifndef SA_IPREV_H
#define SA_IPREV_H

#include "dns/dns.h"
#include "senderauth/result.h"

#define IPREV_MAX_PTR 10 /* PTR names checked forward (as SPF's ptr, RFC 7208 5.5) */

struct iprev_res {
    enum auth_res result;        /* pass fail temperror permerror (none only when not run) */
    char ip[64];                 /* the address as checked (IPv4-mapped IPv6 written as IPv4) */
    char name[DNS_MAX_NAME + 1]; /* on pass: the PTR name that led back; else "" */
    int nptr;                    /* PTR names returned (before the cap) */
    int no_ptr;                  /* the address has no PTR record at all */
    char reason[96];             /* "" on pass */
};

/* iprev_eval - check ip (an IPv4 or IPv6 literal). Always fills *out. Returns 0, or -1
 * when ip is not an address (out->result AUTH_PERMERROR). DNS: one PTR query, then one
 * A or AAAA query per PTR name until one matches. */
int iprev_eval(const char *ip, struct dns *dns, struct iprev_res *out);

#endif
