/* lists.h - operator domain lists (warning list, trust-mark list): one domain a line,
 * '#' comments, a leading '.' matches names below the domain (not the domain itself).
 * The format and the rules that use the lists are in docs/webmail-headers.md.
 *
 * struct lists_set is one parsed file: immutable after lists_parse, reference-counted,
 * so a message keeps using the set it got even when the file is reloaded meanwhile.
 * struct lists_file owns a path and its current set; lists_file_get checks the file
 * (modification time, size, inode) at most once per interval, or at once after
 * lists_request_reload, and swaps in the new set without holding the lock while reading.
 *
 * Threads: a set may be read by any number of threads; lists_set_ref/unref are atomic.
 * A lists_file is shared: one mutex, held only to look at and swap the pointer, never
 * while the file is read or parsed. lists_request_reload is async-signal-safe. */
#ifndef SA_POLICY_LISTS_H
#define SA_POLICY_LISTS_H

#include <stddef.h>
#include <time.h>

#include "dmarc/dmarc.h"

#define LISTS_MAX_LINE 1024               /* longer lines are bad lines */
#define LISTS_MAX_FILE (64 * 1024 * 1024) /* bigger files are refused */
#define LISTS_MAX_REPORT 8                /* bad-line messages kept in a report */
#define LISTS_MAX_MSG 300

/* What a load found wrong; every message is also logged (log_warn). */
struct lists_report {
    int nbad; /* bad lines (each skipped; the rest loads) */
    int nmsg; /* messages kept in msg[] (the first LISTS_MAX_REPORT) */
    char msg[LISTS_MAX_REPORT][LISTS_MAX_MSG]; /* "NAME:LINE: what is wrong" */
};

struct lists_set;

/* lists_parse - len bytes of list text -> a new set (one reference). name stands for
 * the file in messages. Bad lines are skipped and reported in rep (may be NULL).
 * NULL only when out of memory. */
struct lists_set *lists_parse(const char *text, size_t len, const char *name,
                              struct lists_report *rep);
/* lists_set_ref - one more reference; returns s (NULL is passed through). */
struct lists_set *lists_set_ref(struct lists_set *s);
/* lists_set_unref - drop one, freeing at zero; NULL is a no-op; returns NULL. */
struct lists_set *lists_set_unref(struct lists_set *s);
/* lists_set_count - distinct entries (exact and subdomain ones). */
size_t lists_set_count(const struct lists_set *s);
/* lists_set_match - 1 when domain is on the list: an exact entry, or a ".parent" entry
 * for one of its proper parents; with org != NULL also when its organizational domain
 * is an exact entry. Case-insensitive; one trailing dot ignored; a name that is not an
 * LDH domain never matches. s NULL: 0. */
int lists_set_match(const struct lists_set *s, const char *domain, const struct orgdomain *org);

struct lists_file;

/* lists_file_new - load path now. interval: seconds between checks of the file (0: at
 * every lists_file_get). NULL when the file cannot be read (errno set, logged) or out
 * of memory; rep (may be NULL) receives the bad lines of this first load. */
struct lists_file *lists_file_new(const char *path, int interval, struct lists_report *rep);
/* lists_file_free - NULL is a no-op; returns NULL. Sets still referenced stay valid. */
struct lists_file *lists_file_free(struct lists_file *f);
/* lists_file_get - the current set (a new reference: lists_set_unref it). now is the
 * caller's clock in seconds; when interval has passed since the last check (or a reload
 * was requested) the file is checked and, if it changed, reloaded first. A file that
 * cannot be read keeps the previous set (one warning per change). f NULL: NULL. */
struct lists_set *lists_file_get(struct lists_file *f, time_t now);
/* lists_file_path - the path given to lists_file_new (borrowed). */
const char *lists_file_path(const struct lists_file *f);
/* lists_request_reload - make the next lists_file_get of every list re-read its file
 * whatever the interval and modification time. Async-signal-safe (SIGUSR1). */
void lists_request_reload(void);

#endif
