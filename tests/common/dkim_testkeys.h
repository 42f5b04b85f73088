/* dkim_testkeys.h - the RSA-1024 public key the DKIM tests publish, in both encodings a
 * DKIM key record's p= may carry: a SubjectPublicKeyInfo (RFC 6376 3.6.1) and the same
 * key as a bare PKCS#1 RSAPublicKey, which dkim_key.c decodes too.
 * Shared by tests/unit/test_dkim_key.c (parsing and caching records) and
 * tests/fuzz/fuzz_dkim_sig.c (whose seed signatures were made with this key's private
 * half, which is not kept: a changed key no longer verifies the seeds).
 * Owns the key texts only; each test keeps its own Ed25519 key and records.
 * Header-only (static constants) so that each program stays one file; not a library.
 * Threads: read-only data. */
#ifndef SA_TEST_DKIM_TESTKEYS_H
#define SA_TEST_DKIM_TESTKEYS_H

/* An RSA-1024 SubjectPublicKeyInfo, base64. */
static const char *const rsa_spki =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDuJU4P1WOO/ENijrEluPsEu0Ammux8UW8equ3PD7+UBwrIi765"
    "FGARyfH0G1hYnipN9Af5VLNGyBWzmkFZMMW4leW3m68G7yMWugPitqz5O9/kZ7CzH0Z4RT4POBHC7DVgoVYw3hWt"
    "CTtdavlgiaCoPwkMeBtjN9g7WQN+hvfe9QIDAQAB";

/* The same key as a PKCS#1 RSAPublicKey, base64. */
static const char *const rsa_pkcs1 =
    "MIGJAoGBAO4lTg/VY478Q2KOsSW4+wS7QCaa7HxRbx6q7c8Pv5QHCsiLvrkUYBHJ8fQbWFieKk30B/lUs0bIFbOa"
    "QVkwxbiV5bebrwbvIxa6A+K2rPk73+RnsLMfRnhFPg84EcLsNWChVjDeFa0JO11q+WCJoKg/CQx4G2M32DtZA36G"
    "9971AgMBAAE=";

#endif
