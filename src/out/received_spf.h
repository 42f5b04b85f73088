/* received_spf.h - the Received-SPF trace field (RFC 7208 section 9.1), optional
 * (spf.received_spf_header). Like ar_format.h: borrowed strings in, one sanitized,
 * folded value out; a value that is neither a dot-atom nor a safe quoted-string is
 * left out. Threads: reentrant. */
#ifndef SA_RECEIVED_SPF_H
#define SA_RECEIVED_SPF_H

#include <stddef.h>

#include "senderauth/result.h"

#define RECEIVED_SPF_NAME "Received-SPF"

struct received_spf {
    enum auth_res result; /* pass fail softfail neutral none temperror permerror */
    const char *receiver; /* our authserv-id; also starts the comment */
    const char *client_ip;
    const char *envelope_from; /* reverse-path, "" when null */
    const char *helo;
    const char *identity; /* "mailfrom" or "helo" */
    const char *domain;   /* domain whose policy was checked, for the comment */
    const char *problem;  /* reason for temperror/permerror; NULL = none */
};

/* received_spf_format - the value (no field name, no leading space) into out; fold as
 * in ar_format_header (NULL = "\n\t"). Returns the length, or -1 when out is too small
 * or the result is not an SPF result (out is then ""). */
int received_spf_format(const struct received_spf *in, const char *fold, char *out, size_t outlen);

#endif
