/* SPDX-License-Identifier: MIT
 *
 * fmt_5424: The Syslog Protocol, RFC 5424
 * (https://www.rfc-editor.org/rfc/rfc5424):
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v" ...] BOM MSG
 *
 * MSGID is the event type; every scalar member of the alert (and the
 * remediation steps, one per line) is a PARAM of one private SD-ID
 * (section 6.3.2: name@<private enterprise number>; the default
 * quarantined@32473 uses the example number of RFC 5612, so give your
 * own with sd_id).  In PARAM-VALUEs '"', '\' and ']' are escaped with '\'
 * (section 6.3.3).  MSG is the human message in UTF-8, after a BOM
 * (section 6.4).  Framing (RFC 6587 octet counting, one UDP datagram)
 * is the transport's business.
 */
#include "fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ascii() appends s as PRINTUSASCII (33..126), at most max bytes; other
 * bytes become '_'; an empty or NULL s is the NILVALUE "-". */
static void ascii(struct fmt_buf *b, const char *s, size_t max)
{
  size_t i;

  if(!s || !*s) {
    fmt_putc(b, '-');
    return;
  }
  for(i = 0; s[i] && i < max; i++)
    fmt_putc(b, (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 ? s[i]
                                                                      : '_');
}

/* param() appends ' name="value"' with the PARAM-VALUE escapes. */
static void param(struct fmt_buf *b, const char *name, const char *s)
{
  if(!s || strlen(name) > 32)
    return;
  fmt_printf(b, " %s=\"", name);
  fmt_escape(b, s, fmt_value_len(s), "\"\"\\\\]]");
  fmt_putc(b, '"');
}

void fmt_5424_head(const cJSON *ev, const struct fmt_opts *o, struct fmt_buf *b)
{
  fmt_printf(b, "<%d>1 ", o->facility * 8 + fmt_syslog_severity(ev));
  ascii(b, fmt_str(ev, "time"), 64);
  fmt_putc(b, ' ');
  ascii(b, o->host, 255);
  fmt_puts(b, " quarantined ");
  fmt_printf(b, "%d ", o->pid);
  ascii(b, fmt_str(ev, "event"), 32);
  fmt_putc(b, ' ');
}

void fmt_5424(const cJSON *ev, const struct fmt_opts *o, struct fmt_buf *b)
{
  const cJSON *item;
  struct fmt_buf steps = {0};
  char num[32];
  const char *msg = fmt_str(ev, "message");

  fmt_5424_head(ev, o, b);
  fmt_putc(b, '[');
  ascii(b, o->sd_id, 32);
  cJSON_ArrayForEach(item, ev)
  {
    if(strcmp(item->string, "message"))
      param(b, item->string, fmt_scalar(item, num, sizeof(num)));
  }
  param(b, "remediation", fmt_steps(ev, &steps));
  fmt_putc(b, ']');
  if(msg) {
    fmt_puts(b, " \xEF\xBB\xBF");
    fmt_puts(b, msg);
  }
  b->oom |= steps.oom;
  free(steps.p);
}
