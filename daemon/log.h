/* SPDX-License-Identifier: MIT
 *
 * log: the daemon's logging API.  One line per event, levelled as
 * syslog(3) priorities, written to the journal (stderr with <N> prefixes),
 * to syslog(3), or to stderr for humans in foreground/debug mode.
 * The level test is in the macros, so arguments below the current level
 * are never evaluated.  Secrets must never be passed to these functions.
 */
#ifndef QD_LOG_H
#define QD_LOG_H

#include <stdarg.h>
#include <syslog.h>

/* QD_PRINTF_STYLE is the format archetype: printf, or gnu_printf where the
 * C library's own printf is not C99's (mingw-w64, see win32/compat.h). */
#ifndef QD_PRINTF_STYLE
#define QD_PRINTF_STYLE __printf__
#endif
#define QD_PRINTF(f, a) __attribute__((__format__(QD_PRINTF_STYLE, f, a)))

/* Where log lines go; chosen by log_init(). */
enum log_target {
  LOG_TO_STDERR,  /* human-readable lines for a terminal or -d */
  LOG_TO_JOURNAL, /* stderr connected to journald: "<N>message" */
  LOG_TO_SYSLOG   /* syslog(3) */
};

/* The current level, a syslog priority (LOG_ERR .. LOG_DEBUG).  Read by the
 * macros below; set with log_set_level(). */
extern int log_level;

/* log_init() picks the target.  With foreground set, lines go to stderr in
 * human form.  Otherwise stderr is used with journald prefixes when
 * $JOURNAL_STREAM names stderr, and syslog(3) with facility LOG_DAEMON in
 * every other case.  ident must outlive the program (a string literal). */
void log_init(const char *ident, int foreground);
void log_set_level(int level);
enum log_target log_get_target(void);

/* Parse a level name ("debug", "info", "notice", "warning", "error");
 * returns the syslog priority or -EINVAL.  log_level_name() names any
 * syslog priority, those above error too ("critical" for fatal()), and
 * returns "unknown" for anything else. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

void log_emit(int prio, int with_errno, const char *fmt, ...) QD_PRINTF(3, 4);
void log_vemit(int prio, int with_errno, const char *fmt, va_list ap)
    QD_PRINTF(3, 0);
_Noreturn void fatal(const char *fmt, ...) QD_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) QD_PRINTF(1, 2);

/* The _warn/_err forms append ": strerror(errno)"; the x forms do not. */
#define LOG_AT(prio, e, ...)                                                   \
  do {                                                                         \
    if((prio) <= log_level)                                                    \
      log_emit((prio), (e), __VA_ARGS__);                                      \
  } while(0)
#define log_debug(...) LOG_AT(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) LOG_AT(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARNING, 1, __VA_ARGS__)
#define log_warnx(...) LOG_AT(LOG_WARNING, 0, __VA_ARGS__)
#define log_err(...) LOG_AT(LOG_ERR, 1, __VA_ARGS__)
#define log_errx(...) LOG_AT(LOG_ERR, 0, __VA_ARGS__)

#endif
