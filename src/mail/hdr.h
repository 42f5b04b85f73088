/* hdr.h - small helpers for header fields as libmilter hands them over: name
 * comparison, unfolding into a bounded buffer, and making a wire value safe for a log
 * line. Pure functions. Threads: reentrant. */
#ifndef SA_HDR_H
#define SA_HDR_H

#include <stddef.h>

/* hdr_name_is - 1 when the field name equals want, ignoring ASCII case; else 0. */
int hdr_name_is(const char *name, const char *want);

/* hdr_unfold - copy value (len bytes; a NUL ends it) into out (outlen bytes, always
 * NUL-terminated) with line breaks (CRLF, LF, CR) removed, runs of white space turned
 * into one space and leading/trailing white space dropped. Returns the length, or -1
 * when it did not fit (out then holds the unfolded prefix). */
int hdr_unfold(const char *value, size_t len, char *out, size_t outlen);

/* hdr_log_value - copy s (may be NULL: "-") for a key=value log line into out: bytes
 * outside printable ASCII, spaces and '=' become '?', and the text is cut at outlen-1
 * bytes. An empty s gives "-". Returns out. */
char *hdr_log_value(const char *s, char *out, size_t outlen);

#endif
