/* log.h - logging to stderr (foreground) or syslog.
 * log_fatal is for start-up only (before the milter runs); log_panic is for broken
 * invariants. Per-message problems use log_warn/log_info. Threads: safe. */
#ifndef SA_LOG_H
#define SA_LOG_H

#define PRINTFLIKE(a, b) __attribute__((format(printf, a, b)))

/* log_init - ident for syslog; to_stderr != 0 logs to stderr instead. */
void log_init(const char *ident, int to_stderr, int debug);
int log_debug_enabled(void);
void log_debug(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_info(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_fatal(const char *fmt, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));
void log_panic(const char *fmt, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));

#endif
