/* log.c: stderr logging. One fprintf per line with a stack buffer keeps
 * lines from different threads whole (stdio locks the stream). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "allot/log.h"

static enum allot_log_level current_level = ALLOT_LOG_INFO;

void allot_log_set_level(enum allot_log_level level)
{
    current_level = level;
}

void allot_log(enum allot_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    char line[2048], ts[32];
    struct tm tm;
    time_t now;
    va_list ap;

    if (level > current_level)
        return;
    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s allot %s: %s\n", ts, names[level], line);
}
