/* SPDX-License-Identifier: MIT
 *
 * log: levelled logging to the journal, syslog(3) or a terminal.  The
 * target is chosen once at start-up; errno is preserved across calls so a
 * caller may log and then still inspect it.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "plat.h"
#include "timex.h"

int log_level = LOG_INFO;

static enum log_target target = LOG_TO_STDERR;
static const char *log_ident = "quarantined";

/* The name of every syslog priority.  log_level may be set to error
 * through debug (log_level_parse()); the ones above error are only used
 * by fatal() and by alerts. */
static const char *const prio_names[] = {
    [LOG_EMERG] = "emergency", [LOG_ALERT] = "alert",
    [LOG_CRIT] = "critical",   [LOG_ERR] = "error",
    [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
    [LOG_INFO] = "info",       [LOG_DEBUG] = "debug",
};

void log_init(const char *ident, int foreground)
{
  log_ident = ident;
  if(foreground)
    target = LOG_TO_STDERR;
  else if(plat_stderr_is_journal())
    target = LOG_TO_JOURNAL;
  else if(plat_stderr_is_tty())
    target = LOG_TO_STDERR;
  else {
    target = LOG_TO_SYSLOG;
    plat_log_open(ident);
  }
}

void log_set_level(int level)
{
  log_level = level;
}

enum log_target log_get_target(void)
{
  return target;
}

int log_level_parse(const char *name)
{
  int prio;

  for(prio = LOG_ERR; prio <= LOG_DEBUG; prio++)
    if(!strcasecmp(name, prio_names[prio]))
      return prio;
  return -EINVAL;
}

const char *log_level_name(int level)
{
  if(level < 0 || (size_t)level >= sizeof(prio_names) / sizeof(prio_names[0]))
    return "unknown";
  return prio_names[level];
}

void log_vemit(int prio, int with_errno, const char *fmt, va_list ap)
{
  int saved_errno = errno;
  char msg[2048];
  int n;

  n = vsnprintf(msg, sizeof(msg), fmt, ap);
  if(n < 0)
    n = 0;
  if(with_errno && (size_t)n < sizeof(msg))
    snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved_errno));

  switch(target) {
  case LOG_TO_SYSLOG:
    plat_log_system(prio, msg);
    break;
  case LOG_TO_JOURNAL:
    fprintf(stderr, "<%d>%s\n", prio, msg);
    break;
  case LOG_TO_STDERR: {
    char ts[TIMEX_ISO_LEN];
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    timex_format_iso_ms(&now, ts, sizeof(ts));
    fprintf(stderr, "%s %s[%ld]: %s: %s\n", ts, log_ident, (long)getpid(),
            log_level_name(prio), msg);
    break;
  }
  }
  errno = saved_errno;
}

void log_emit(int prio, int with_errno, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  log_vemit(prio, with_errno, fmt, ap);
  va_end(ap);
}

void fatal(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  log_vemit(LOG_CRIT, 1, fmt, ap);
  va_end(ap);
  exit(1);
}

void fatalx(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  log_vemit(LOG_CRIT, 0, fmt, ap);
  va_end(ap);
  exit(1);
}
