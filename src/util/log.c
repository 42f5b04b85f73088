/* log.c - stderr or syslog sink for all programs.
 * Owns the sink choice; not message content. Threads: a stderr line is one write(2) of
 * the whole line (no stdio lock: the daemon logs a line per message from every worker,
 * and a shared FILE lock made them queue on a futex); syslog is thread-safe; the
 * settings are written once in log_init before threads start. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

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

    if (use_stderr) {
        size_t tl = 0, n, off = 0;
        int r;

        while (tag[tl] != '\0' && tl < 16)
            line[tl] = tag[tl], tl++;
        r = vsnprintf(line + tl, sizeof(line) - tl - 1, fmt, ap);
        n = r < 0 ? tl : tl + ((size_t)r < sizeof(line) - tl - 1 ? (size_t)r
                                                                : sizeof(line) - tl - 2);
        line[n++] = '\n';
        while (off < n) {
            ssize_t w = write(STDERR_FILENO, line + off, n - off);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    } else {
        vsnprintf(line, sizeof(line), fmt, ap);
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
