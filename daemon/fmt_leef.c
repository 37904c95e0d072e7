/* SPDX-License-Identifier: MIT
 *
 * fmt_leef: IBM QRadar Log Event Extended Format 2.0, as specified in
 * "Log Event Extended Format (LEEF) Version 2" (IBM QRadar DSM
 * documentation, "LEEF event components"):
 *
 *   LEEF:2.0|Vendor|Product|Version|EventID|x09|key=value<TAB>key=value
 *
 * The delimiter is named in the header (x09, a tab).  LEEF defines no
 * escape of its own, so the delimiter cannot appear in a value: a tab,
 * CR and LF in a value are written as \t, \r and \n, and '\' as \\.  In
 * the header '|' and '\' are escaped with '\'.  Predefined attributes are
 * used where one fits (devTime with devTimeFormat, sev 0..10, cat,
 * usrName, identHostName); every other scalar member of the alert follows
 * under its own name, and the remediation steps as one value.
 */
#include "fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void header(struct fmt_buf *b, const char *s)
{
  for(; *s; s++) {
    if(*s == '\\' || *s == '|')
      fmt_putc(b, '\\');
    fmt_putc(b, *s == '\n' || *s == '\r' ? ' ' : *s);
  }
  fmt_putc(b, '|');
}

/* attr() appends "key=value" with a tab before all but the first. */
static void attr(struct fmt_buf *b, bool *first, const char *key, const char *s)
{
  if(!s)
    return;
  if(!*first)
    fmt_putc(b, '	');
  *first = false;
  fmt_printf(b, "%s=", key);
  fmt_escape(b, s, fmt_value_len(s), "\\\\\tt\nn\rr");
}

void fmt_leef(const cJSON *ev, struct fmt_buf *b)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, "version");
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(ev, "event");
  const cJSON *item;
  struct fmt_buf steps = {0};
  bool first = true;
  char num[32];

  fmt_puts(b, "LEEF:2.0|");
  header(b, "quarantined");
  header(b, "quarantined");
  header(b, cJSON_IsString(v) ? v->valuestring : "");
  header(b, cJSON_IsString(e) ? e->valuestring : "");
  fmt_puts(b, "x09|");
  item = cJSON_GetObjectItemCaseSensitive(ev, "time");
  attr(b, &first, "devTime", cJSON_IsString(item) ? item->valuestring : NULL);
  attr(b, &first, "devTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSX");
  snprintf(num, sizeof(num), "%d", fmt_scale10(fmt_syslog_severity(ev)));
  attr(b, &first, "sev", num);
  attr(b, &first, "cat", cJSON_IsString(e) ? e->valuestring : NULL);
  item = cJSON_GetObjectItemCaseSensitive(ev, "userPrincipalName");
  attr(b, &first, "usrName", cJSON_IsString(item) ? item->valuestring : NULL);
  item = cJSON_GetObjectItemCaseSensitive(ev, "host");
  attr(b, &first, "identHostName",
       cJSON_IsString(item) ? item->valuestring : NULL);
  cJSON_ArrayForEach(item, ev)
  {
    if(!strcmp(item->string, "time") || !strcmp(item->string, "event"))
      continue;
    attr(b, &first, item->string, fmt_scalar(item, num, sizeof(num)));
  }
  attr(b, &first, "remediation", fmt_steps(ev, &steps));
  b->oom |= steps.oom;
  free(steps.p);
}
