/* SPDX-License-Identifier: MIT
 *
 * fmt: the shared part of the alert formats (see fmt.h): the growing
 * buffer, scalar values as text, the severity scales and the dispatch.
 */
#include "fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* grow() makes room for n more bytes and the NUL.  Returns false (and
 * sets oom) when out of memory. */
static bool grow(struct fmt_buf *b, size_t n)
{
  size_t cap;
  char *p;

  if(b->oom)
    return false;
  if(b->len + n + 1 <= b->cap)
    return true;
  cap = b->cap ? b->cap : 256;
  while(cap < b->len + n + 1)
    cap *= 2;
  p = realloc(b->p, cap);
  if(!p) {
    b->oom = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

void fmt_put(struct fmt_buf *b, const char *s, size_t n)
{
  if(!grow(b, n))
    return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void fmt_puts(struct fmt_buf *b, const char *s)
{
  fmt_put(b, s, strlen(s));
}

void fmt_putc(struct fmt_buf *b, char c)
{
  fmt_put(b, &c, 1);
}

void fmt_printf(struct fmt_buf *b, const char *f, ...)
{
  char small[256];
  va_list ap;
  int n;

  va_start(ap, f);
  n = vsnprintf(small, sizeof(small), f, ap);
  va_end(ap);
  if(n < 0)
    return;
  if((size_t)n < sizeof(small)) {
    fmt_put(b, small, (size_t)n);
    return;
  }
  if(!grow(b, (size_t)n))
    return;
  va_start(ap, f);
  vsnprintf(b->p + b->len, (size_t)n + 1, f, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void fmt_escape(struct fmt_buf *b, const char *s, size_t n, const char *pairs)
{
  size_t i, start = 0;

  for(i = 0; i < n; i++) {
    const char *p;

    for(p = pairs; *p && *p != s[i]; p += 2)
      ;
    if(!*p)
      continue;
    fmt_put(b, s + start, i - start);
    fmt_putc(b, '\\');
    fmt_putc(b, p[1]);
    start = i + 1;
  }
  fmt_put(b, s + start, n - start);
}

size_t fmt_value_len(const char *s)
{
  size_t n = strlen(s);

  if(n <= FMT_MAX_VALUE)
    return n;
  n = FMT_MAX_VALUE;
  /* Back up over continuation bytes to the start of a character. */
  while(n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

const char *fmt_scalar(const cJSON *item, char *buf, size_t len)
{
  if(cJSON_IsString(item))
    return item->valuestring;
  if(cJSON_IsBool(item))
    return cJSON_IsTrue(item) ? "true" : "false";
  if(cJSON_IsNumber(item)) {
    double d = item->valuedouble;

    if(d == (double)(long long)d)
      snprintf(buf, len, "%lld", (long long)d);
    else
      snprintf(buf, len, "%.17g", d);
    return buf;
  }
  return NULL;
}

const char *fmt_str(const cJSON *ev, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, key);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *fmt_steps(const cJSON *ev, struct fmt_buf *b)
{
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ev, "remediation");
  const cJSON *s;

  if(!cJSON_IsArray(arr) || !cJSON_GetArraySize(arr))
    return NULL;
  cJSON_ArrayForEach(s, arr)
  {
    if(!cJSON_IsString(s))
      continue;
    if(b->len)
      fmt_putc(b, '\n');
    fmt_puts(b, s->valuestring);
  }
  return b->p;
}

int fmt_syslog_severity(const cJSON *ev)
{
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(ev, "syslogSeverity");
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(ev, "severity");
  int v;

  if(cJSON_IsNumber(n) && n->valueint >= 0 && n->valueint <= 7)
    return n->valueint;
  v = cJSON_IsString(s) ? log_level_parse(s->valuestring) : -1;
  return v >= 0 ? v : LOG_NOTICE;
}

int fmt_scale10(int sev)
{
  /* emerg alert crit err warning notice info debug */
  static const int scale[8] = {10, 10, 9, 8, 6, 4, 3, 1};

  return sev >= 0 && sev < 8 ? scale[sev] : 4;
}

const char *const fmt_kind_names[] = {"default",  "json",    "cef",   "leef",
                                      "rfc5424",  "generic", "slack", "teams",
                                      "sentinel", NULL};

int fmt_render(enum fmt_kind k, const cJSON *ev, const struct fmt_opts *o,
               struct fmt_buf *b)
{
  char *text;

  if(k != FMT_RFC5424 && o->frame == FMT_FRAME_5424) {
    fmt_5424_head(ev, o, b);
    fmt_puts(b, "- ");
  }
  else if(k != FMT_RFC5424 && o->frame == FMT_FRAME_3164) {
    char mon[16], hms[16];
    time_t now = time(NULL);
    struct tm tm;

    /* RFC 3164's "Mmm dd hh:mm:ss", the day padded with a space (strftime's
     * %e, which not every C library has). */
    localtime_r(&now, &tm);
    strftime(mon, sizeof(mon), "%b", &tm);
    strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
    fmt_printf(b, "<%d>%s %2d %s quarantined[%d]: ",
               o->facility * 8 + fmt_syslog_severity(ev), mon, tm.tm_mday, hms,
               o->pid);
  }
  switch(k) {
  case FMT_CEF:
    fmt_cef(ev, b);
    break;
  case FMT_LEEF:
    fmt_leef(ev, b);
    break;
  case FMT_RFC5424:
    fmt_5424(ev, o, b);
    break;
  case FMT_GENERIC:
  case FMT_SLACK:
  case FMT_TEAMS:
  case FMT_SENTINEL:
    fmt_hook(k, ev, b);
    break;
  default:
    text = cJSON_PrintUnformatted(ev);
    if(!text)
      return -ENOMEM;
    fmt_puts(b, text);
    cJSON_free(text);
    break;
  }
  return b->oom ? -ENOMEM : 0;
}
