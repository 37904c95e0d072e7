/* SPDX-License-Identifier: MIT
 *
 * timex: date-times and durations as text.  The parsers read digits by
 * hand rather than with strptime(3), whose %z and fractions vary between
 * C libraries (and which Windows lacks), and turn the fields into a time with
 * timegm(3).
 */
#include "timex.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ===== Date-times ===== */

/* digits() reads exactly n decimal digits at *p into *v and advances *p.
 * Returns 0, or -EINVAL when a digit is missing. */
static int digits(const char **p, int n, int *v)
{
  int i, r = 0;

  for(i = 0; i < n; i++) {
    if(!isdigit((unsigned char)(*p)[i]))
      return -EINVAL;
    r = r * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *v = r;
  return 0;
}

/* days_in() is the number of days of month mo (1 to 12) of year y in the
 * proleptic Gregorian calendar. */
static int days_in(int y, int mo)
{
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

  return mo == 2 && leap ? 29 : days[mo - 1];
}

/* read_date() reads YYYY-MM-DD at *p into tm (date fields only) and
 * advances *p.  Returns 0, or -EINVAL for a malformed or impossible
 * date: timegm(3) would quietly turn 2023-02-29 into March 1st. */
static int read_date(const char **p, struct tm *tm)
{
  int y, mo, d;

  if(digits(p, 4, &y) || *(*p)++ != '-' || digits(p, 2, &mo) ||
     *(*p)++ != '-' || digits(p, 2, &d))
    return -EINVAL;
  if(mo < 1 || mo > 12 || d < 1 || d > days_in(y, mo))
    return -EINVAL;
  tm->tm_year = y - 1900;
  tm->tm_mon = mo - 1;
  tm->tm_mday = d;
  return 0;
}

/* utc_time() converts tm (UTC) with timegm(3).  Returns 0 and sets *out,
 * or -EINVAL when it cannot be represented. */
static int utc_time(struct tm *tm, time_t *out)
{
  bool last_second_1969 = tm->tm_year == 69 && tm->tm_mon == 11 &&
                          tm->tm_mday == 31 && tm->tm_hour == 23 &&
                          tm->tm_min == 59 && tm->tm_sec == 59;
  time_t t = timegm(tm);

  /* (time_t)-1 is both the error and 1969-12-31T23:59:59Z. */
  if(t == (time_t)-1 && !last_second_1969)
    return -EINVAL;
  *out = t;
  return 0;
}

int timex_parse_iso(const char *s, time_t *out)
{
  int h, mi, sec, oh = 0, om = 0, n;
  long off = 0;
  struct tm tm;
  time_t t;

  memset(&tm, 0, sizeof(tm));
  if(!s || read_date(&s, &tm))
    return -EINVAL;
  if(*s != 'T' && *s != 't')
    return -EINVAL;
  s++;
  if(digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' ||
     digits(&s, 2, &sec))
    return -EINVAL;
  if(*s == '.') {
    s++;
    for(n = 0; isdigit((unsigned char)*s); n++)
      s++;
    if(n < 1 || n > 7)
      return -EINVAL;
  }
  if(*s == 'Z' || *s == 'z')
    s++;
  else if(*s == '+' || *s == '-') {
    int sign = *s++ == '-' ? -1 : 1;

    if(digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 ||
       om > 59)
      return -EINVAL;
    off = sign * (oh * 3600L + om * 60L);
  }
  if(*s || h > 23 || mi > 59 || sec > 60)
    return -EINVAL;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  if(utc_time(&tm, &t))
    return -EINVAL;
  *out = t - off;
  return 0;
}

int timex_parse_date(const char *s, time_t *out)
{
  struct tm tm;

  memset(&tm, 0, sizeof(tm));
  if(!s || read_date(&s, &tm) || *s)
    return -EINVAL;
  return utc_time(&tm, out);
}

/* name_index() is the index of the three letters at *p in names (n
 * entries), advancing *p; -1 when they are none of them. */
static int name_index(const char **p, const char *const *names, int n)
{
  int i;

  for(i = 0; i < n; i++)
    if(!strncmp(*p, names[i], 3)) {
      *p += 3;
      return i;
    }
  return -1;
}

/* An HTTP-date as senders must write it, the IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110, section 5.6.7), read by hand
 * like the ISO dates, so the parser is the same on every C library. */
int timex_parse_http_date(const char *s, time_t *out)
{
  static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed",
                                      "Thu", "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
  int d, mo, y, h, mi, sec;
  struct tm tm;

  memset(&tm, 0, sizeof(tm));
  if(!s || name_index(&s, wdays, 7) < 0 || strncmp(s, ", ", 2))
    return -EINVAL;
  s += 2;
  if(digits(&s, 2, &d) || *s++ != ' ' ||
     (mo = name_index(&s, months, 12)) < 0 || *s++ != ' ' ||
     digits(&s, 4, &y) || *s++ != ' ' || digits(&s, 2, &h) || *s++ != ':' ||
     digits(&s, 2, &mi) || *s++ != ':' || digits(&s, 2, &sec) ||
     strcmp(s, " GMT"))
    return -EINVAL;
  if(d < 1 || d > days_in(y, mo + 1) || h > 23 || mi > 59 || sec > 60)
    return -EINVAL;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return utc_time(&tm, out);
}

/* format() writes t with strftime(3) format fmt.  Returns 0, or -EINVAL
 * with "invalid" written instead. */
static int format(time_t t, const char *fmt, char *buf, size_t len)
{
  struct tm tm;

  if(!gmtime_r(&t, &tm) || !strftime(buf, len, fmt, &tm)) {
    snprintf(buf, len, "invalid");
    return -EINVAL;
  }
  return 0;
}

void timex_format_iso(time_t t, char *buf, size_t len)
{
  (void)format(t, "%Y-%m-%dT%H:%M:%SZ", buf, len);
}

void timex_format_iso_ms(const struct timespec *ts, char *buf, size_t len)
{
  size_t n;

  if(format(ts->tv_sec, "%Y-%m-%dT%H:%M:%S", buf, len))
    return;
  n = strlen(buf);
  snprintf(buf + n, len - n, ".%03ldZ", ts->tv_nsec / 1000000);
}

void timex_format_iso_basic(time_t t, char *buf, size_t len)
{
  (void)format(t, "%Y%m%dT%H%M%SZ", buf, len);
}

/* ===== Durations ===== */

static const struct {
  char suffix;
  unsigned long long secs;
} units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

#define NUNITS (sizeof(units) / sizeof(units[0]))

int timex_parse_duration(const char *s, unsigned long long *secs)
{
  unsigned long long v = 0, mul = 1;
  size_t i;

  if(!s || !isdigit((unsigned char)*s))
    return -EINVAL;
  for(; isdigit((unsigned char)*s); s++) {
    unsigned d = (unsigned)(*s - '0');

    if(v > (ULLONG_MAX - d) / 10)
      return -ERANGE;
    v = v * 10 + d;
  }
  if(*s) {
    for(i = 0; i < NUNITS && units[i].suffix != *s; i++)
      ;
    if(i == NUNITS || s[1])
      return -EINVAL;
    mul = units[i].secs;
  }
  if(v > ULLONG_MAX / mul)
    return -ERANGE;
  *secs = v * mul;
  return 0;
}

void timex_format_duration(unsigned long long secs, char *buf, size_t len)
{
  size_t i;

  for(i = 0; i < NUNITS - 1 && !(secs && secs % units[i].secs == 0); i++)
    ;
  snprintf(buf, len, "%llu%c", secs / units[i].secs, units[i].suffix);
}

char *timex_format_span(long secs, char *buf, size_t len)
{
  size_t i, pos = 0, used = 0;

  buf[0] = '\0';
  for(i = 0; i < NUNITS && used < 2 && pos + 1 < len; i++) {
    long unit = (long)units[i].secs, n = secs / unit;
    int w;

    if(!n && (used || unit > 1))
      continue;
    secs -= n * unit;
    w = snprintf(buf + pos, len - pos, "%s%ld%c", pos ? " " : "", n,
                 units[i].suffix);
    if(w < 0)
      break;
    pos += (size_t)w;
    used++;
  }
  return buf;
}

char *timex_format_age(long secs, char *buf, size_t len)
{
  size_t i;

  if(secs < 0)
    secs = 0;
  for(i = 0; i < NUNITS - 1 && secs < 2 * (long)units[i].secs; i++)
    ;
  snprintf(buf, len, "%ld%c", secs / (long)units[i].secs, units[i].suffix);
  return buf;
}
