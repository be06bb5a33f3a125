/* log.h: logging to stderr, one line per event, thread-safe.
 *
 * Never log secrets: API keys and Authorization headers are not passed to
 * these functions anywhere in allot. */
#ifndef ALLOT_LOG_H
#define ALLOT_LOG_H

enum allot_log_level { ALLOT_LOG_ERROR, ALLOT_LOG_WARN, ALLOT_LOG_INFO, ALLOT_LOG_DEBUG };

/* Messages above this level are dropped. Default ALLOT_LOG_INFO. */
void allot_log_set_level(enum allot_log_level level);
void allot_log(enum allot_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define allot_log_error(...) allot_log(ALLOT_LOG_ERROR, __VA_ARGS__)
#define allot_log_warn(...) allot_log(ALLOT_LOG_WARN, __VA_ARGS__)
#define allot_log_info(...) allot_log(ALLOT_LOG_INFO, __VA_ARGS__)
#define allot_log_debug(...) allot_log(ALLOT_LOG_DEBUG, __VA_ARGS__)

#endif
