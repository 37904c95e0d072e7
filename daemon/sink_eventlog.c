/* SPDX-License-Identifier: MIT
 *
 * sink_eventlog: the Windows Event Log as a sink ([sink NAME] type =
 * eventlog).  Each alert becomes one event of the source "quarantined" in
 * the Application log, through plat_event_report(): the Event ID is 100
 * plus the alert type's place in enum alert_type (120 for a type this
 * build does not know), each with its message in daemon/win32/messages.mc;
 * the event type is error for an alert of severity err or worse, warning
 * for warning, information otherwise; the insertion strings are the
 * alert in words (its message and remediation steps) and its JSON record.
 * The spool holds the JSON records; an event the Event Log refuses stays
 * in it.  The configuration refuses this type where plat_event_report()
 * says there is no Event Log (POSIX).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "log.h"
#include "sink.h"

/* The first alert message id in daemon/win32/messages.mc. */
#define EVENT_ID_BASE 100

int sink_eventlog_event(const char *json, struct plat_event *ev,
                        struct fmt_buf *text)
{
  cJSON *o = cJSON_Parse(json);
  const char *msg, *event;
  struct fmt_buf steps = {0};

  if(!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return -EINVAL;
  }
  msg = fmt_str(o, "message");
  event = fmt_str(o, "event");
  ev->severity = fmt_syslog_severity(o);
  ev->id = EVENT_ID_BASE + (unsigned)alert_type_parse(event ? event : "");
  fmt_puts(text, msg ? msg : ""); /* a string even when empty */
  if(fmt_steps(o, &steps))
    fmt_printf(text, "\n\nRemediation:\n%s", steps.p);
  free(steps.p);
  cJSON_Delete(o);
  ev->text = text->p;
  ev->json = json;
  return text->oom || steps.oom ? -ENOMEM : 0;
}

/* report() writes one spooled record (a NUL-terminated JSON object) as an
 * event.  Returns 0, or a negative errno code with why set. */
static int report(const struct spool_rec *r, char *why, size_t len)
{
  struct plat_event ev;
  struct fmt_buf text = {0};
  int rc = sink_eventlog_event(r->data, &ev, &text);

  if(rc == -EINVAL) {
    /* Not an alert record: nothing the Event Log could take later. */
    log_warnx("eventlog: a spooled record is not a JSON object; dropped");
    rc = 0;
  }
  else if(!rc && (rc = plat_event_report(&ev)) < 0)
    snprintf(why, len, "ReportEventW: %s", strerror(-rc));
  else if(rc)
    snprintf(why, len, "%s", strerror(-rc));
  free(text.p);
  return rc;
}

static void eventlog_deliver(struct sink *s, const struct spool_rec *r,
                             size_t n)
{
  char why[200] = "";
  size_t i;
  int rc = 0;

  for(i = 0; i < n && r && !rc; r = r->next) {
    rc = report(r, why, sizeof(why));
    if(!rc)
      i++;
  }
  sink_done(s, i, rc, rc ? why : NULL, 0);
}

static int eventlog_open(struct sink *s, const struct cfg_sink *c)
{
  (void)c;
  s->impl = NULL;
  return 0;
}

static void eventlog_close(struct sink *s)
{
  sink_type_closed(s);
}

const struct sink_type sink_eventlog_type = {
    .default_format = FMT_JSON,
    .max_batch = 64,
    .open = eventlog_open,
    .deliver = eventlog_deliver,
    .close = eventlog_close,
};
