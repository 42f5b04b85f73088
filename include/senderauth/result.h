/* result.h - verdict words shared by every evaluator and writer.
 * Owns the enum auth_res and its RFC 8601 spelling; nothing else.
 * Threads: constants only. */
#ifndef SENDERAUTH_RESULT_H
#define SENDERAUTH_RESULT_H

/* The result words of RFC 8601 section 2.7 (SPF, DKIM and DMARC share them). */
enum auth_res {
    AUTH_NONE = 0,
    AUTH_PASS,
    AUTH_FAIL,
    AUTH_SOFTFAIL,  /* SPF only */
    AUTH_NEUTRAL,   /* SPF, DKIM */
    AUTH_POLICY,    /* DKIM: valid but refused by local policy (l=, rsa-sha1, cap) */
    AUTH_TEMPERROR,
    AUTH_PERMERROR,
};

/* auth_res_name - RFC 8601 word for r ("pass", "temperror", ...); never NULL. */
const char *auth_res_name(enum auth_res r);

#endif
