/* log.c - stderr or syslog sink for all programs.
 * Owns the sink choice; not message content. Threads: syslog and stdio are
 * thread-safe; the settings are written once in log_init before threads start. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int use_stderr = 1;
static int debug_on;

static void vlog(int prio, const char *tag, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

void log_init(const char *ident, int to_stderr, int debug)
{
    use_stderr = to_stderr;
    debug_on = debug;
    if (!use_stderr)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int log_debug_enabled(void)
{
    return debug_on;
}

/* vlog - one line to the chosen sink */
static void vlog(int prio, const char *tag, const char *fmt, va_list ap)
{
    char line[4096];

    vsnprintf(line, sizeof(line), fmt, ap);
    if (use_stderr) {
        fprintf(stderr, "%s%s\n", tag, line);
        fflush(stderr);
    } else {
        syslog(prio, "%s%s", tag, line);
    }
}

void log_debug(const char *fmt, ...)
{
    va_list ap;

    if (!debug_on)
        return;
    va_start(ap, fmt);
    vlog(LOG_DEBUG, "debug: ", fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_INFO, "", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_WARNING, "warning: ", fmt, ap);
    va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_ERR, "fatal: ", fmt, ap);
    va_end(ap);
    exit(1);
}

void log_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_CRIT, "panic: ", fmt, ap);
    va_end(ap);
    abort();
}
