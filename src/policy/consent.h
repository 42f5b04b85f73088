/* consent.h - per-recipient consent, resolved through an in-process cache.
 * The lookup order itself (exact address -> address without its subaddress tag ->
 * domain default -> policy.default_enforce) is the store's store_resolve; this module
 * puts a shared, bounded TTL cache in front of it, turns every store failure into
 * "not consenting" (never cached, counted, logged at most once per
 * CONSENT_LOG_INTERVAL seconds) and keeps the counters.
 *
 * Ownership: consent_new returns a cache the caller frees with consent_free after
 * every other call has returned. The resolver argument is borrowed.
 * Threads: consent_get and consent_stats may be called from any number of threads;
 * the cache is split into CONSENT_SHARDS shards, one mutex each, and no lock is held
 * while the resolver runs. */
#ifndef SA_POLICY_CONSENT_H
#define SA_POLICY_CONSENT_H

#include <stddef.h>

#include "senderauth/store.h"

#define CONSENT_SHARDS 16
#define CONSENT_KEY_MAX STORE_ADDR_MAX /* longer recipients are not cached */
#define CONSENT_LOG_INTERVAL 60        /* seconds between two store-failure warnings */

/* consent_resolve_fn - the lookup order for rcpt as given: STORE_FOUND (a row decided)
 * or STORE_NOTFOUND (the default did) with *enforce and *via set, or STORE_ERROR with
 * a reason in why. In senderauthd it calls store_resolve; tests pass their own. */
typedef enum store_lookup (*consent_resolve_fn)(void *arg, const char *rcpt, int *enforce,
                                                enum store_match *via, char *why, size_t whylen);

struct consent_conf {
    int ttl;                  /* seconds; 0 = no cache */
    int max_entries;          /* answers kept over all shards (at least CONSENT_SHARDS) */
    int local_case_sensitive; /* cache keys keep the local part's case */
};

struct consent_answer {
    int enforce;          /* 1: the recipient consented; 0 otherwise (also on error) */
    int error;            /* the store could not answer */
    enum store_match via; /* which rule decided (not set on error) */
    int cached;           /* the answer came from the cache */
};

struct consent_stats {
    unsigned long long lookups, hits, errors, evictions;
    long entries;
};

struct consent;

/* consent_new - NULL when out of memory. */
struct consent *consent_new(const struct consent_conf *conf, consent_resolve_fn fn, void *arg);
/* consent_free - NULL is a no-op; returns NULL. */
struct consent *consent_free(struct consent *c);
/* consent_get - the answer for rcpt ("<a@b>" or "a@b") at monotonic time now
 * (seconds). 0, or -1 when the store failed (out->enforce 0, out->error 1). */
int consent_get(struct consent *c, const char *rcpt, double now, struct consent_answer *out);
/* consent_stats - counters since consent_new. */
void consent_stats(struct consent *c, struct consent_stats *out);

#endif
