/* SPDX-License-Identifier: MIT
 *
 * fmt_cef: ArcSight Common Event Format, as specified in "Implementing
 * ArcSight Common Event Format (CEF)", version 25 (Micro Focus, 2017):
 *
 *   CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension
 *
 * In the header '\' and '|' are escaped with '\'; in extension values
 * '\' and '=' are, and CR/LF are written as \r and \n.  Severity is
 * 0..10.  Standard keys are used where one fits (rt, dvchost, externalId,
 * cat, msg, suser, suid, reason); the rest go to cs1..cs6 with their
 * csNLabel.
 */
#include "fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* header() appends s as a header field: '\' and '|' escaped, line
 * breaks (not allowed in the header) as spaces. */
static void header(struct fmt_buf *b, const char *s)
{
  size_t i, n = fmt_value_len(s);

  for(i = 0; i < n; i++) {
    if(s[i] == '\\' || s[i] == '|')
      fmt_putc(b, '\\');
    fmt_putc(b, s[i] == '\n' || s[i] == '\r' ? ' ' : s[i]);
  }
  fmt_putc(b, '|');
}

/* ext() appends " key=value" with the extension escapes; nothing for a
 * NULL value. */
static void ext(struct fmt_buf *b, const char *key, const char *s)
{
  if(!s)
    return;
  fmt_printf(b, " %s=", key);
  fmt_escape(b, s, fmt_value_len(s), "\\\\==\nn\rr");
}

/* epoch_ms() turns the alert's "2023-11-14T22:13:20.123Z" into
 * milliseconds since the epoch (CEF's rt), in buf; NULL if malformed. */
static const char *epoch_ms(const char *iso, char *buf, size_t len)
{
  struct tm tm = {0};
  int ms = 0;

  if(!iso ||
     sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
    return NULL;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  snprintf(buf, len, "%lld%03d", (long long)timegm(&tm), ms);
  return buf;
}

void fmt_cef(const cJSON *ev, struct fmt_buf *b)
{
  static const struct {
    const char *label, *key;
  } custom[6] = {
      {"tenant", "tenant"},
      {"value", "value"},
      {"class", "class"},
      {"holderId", "holderId"},
      {"explanation", "explanation"},
      {"remediation", NULL},
  };
  const char *version = fmt_str(ev, "version"), *event = fmt_str(ev, "event");
  const char *message = fmt_str(ev, "message");
  struct fmt_buf steps = {0};
  char rt[32], key[16];
  size_t i;

  fmt_puts(b, "CEF:0|");
  header(b, "quarantined");
  header(b, "quarantined");
  header(b, version ? version : "");
  header(b, event ? event : "");
  header(b, message ? message : (event ? event : ""));
  fmt_printf(b, "%d|", fmt_scale10(fmt_syslog_severity(ev)));
  /* The first key has no leading space. */
  fmt_printf(b, "rt=%s",
             epoch_ms(fmt_str(ev, "time"), rt, sizeof(rt)) ? rt : "0");
  ext(b, "dvchost", fmt_str(ev, "host"));
  ext(b, "externalId", fmt_str(ev, "id"));
  ext(b, "cat", event);
  ext(b, "suser", fmt_str(ev, "userPrincipalName"));
  ext(b, "suid",
      fmt_str(ev, "objectId") ? fmt_str(ev, "objectId")
                              : fmt_str(ev, "userId"));
  ext(b, "reason", fmt_str(ev, "reason"));
  for(i = 0; i < 6; i++) {
    const char *v =
        custom[i].key ? fmt_str(ev, custom[i].key) : fmt_steps(ev, &steps);

    if(!v)
      continue;
    snprintf(key, sizeof(key), "cs%zu", i + 1);
    ext(b, key, v);
    snprintf(key, sizeof(key), "cs%zuLabel", i + 1);
    ext(b, key, custom[i].label);
  }
  ext(b, "msg", message);
  b->oom |= steps.oom;
  free(steps.p);
}
