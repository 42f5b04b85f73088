/* arc_int.h - what the files of src/arc share and nobody else sees: the per-message key
 * cache (arc_key.c) and which header fields are ARC fields (arc_tags.c).
 * Threads: as arc_eval.h. */
#ifndef SA_ARC_INT_H
#define SA_ARC_INT_H

#include <stdio.h>

#include <openssl/evp.h>

#include "arc/arc_eval.h"

/* The three ARC header fields (RFC 8617 4.1). */
#define ARC_KIND_AAR 1 /* ARC-Authentication-Results */
#define ARC_KIND_AMS 2 /* ARC-Message-Signature */
#define ARC_KIND_AS 3  /* ARC-Seal */
/* arc_field_kind - ARC_KIND_* for a header field name (any case), else 0. */
int arc_field_kind(const char *name);

enum arc_key_status {
    ARC_KEY_OK = 1,
    ARC_KEY_BAD,  /* not found, revoked, syntax: the signature fails */
    ARC_KEY_TEMP, /* DNS could not find out */
};

struct arc_key {
    char selector[256];
    char domain[256];
    enum arc_key_status status;
    int ed25519;
    int bits;
    EVP_PKEY *pkey;
    char reason[64];
};

struct arc_keys {
    struct dns *dns; /* borrowed */
    int n;
    struct arc_key k[ARC_MAX_KEYS];
    struct arc_key overflow; /* handed out once the cache is full */
};

/* arc_keys_get - the key for (selector, domain), fetched once per message; never NULL. */
struct arc_key *arc_keys_get(struct arc_keys *ks, const char *selector, const char *domain);
void arc_keys_release(struct arc_keys *ks);
/* arc_key_error - mark k unusable with reason; returns -1. */
int arc_key_error(struct arc_key *k, const char *reason);
/* arc_key_verify - 1 good signature of the SHA-256 digest, 0 bad, -1 internal error. */
int arc_key_verify(const struct arc_key *k, const unsigned char *digest, const unsigned char *sig,
                   size_t siglen);

#endif
