/* SPDX-License-Identifier: MIT
 *
 * fmt_hook: the bodies of one alert for the HTTP sinks, built with cJSON
 * so every value is escaped by the JSON printer:
 *
 * - generic: {"text": message, "alert": <the alert object>}.
 * - slack: a Slack incoming-webhook message, {"text": ...} in Slack's
 *   mrkdwn with '&', '<' and '>' escaped as Slack requires
 *   (https://api.slack.com/messaging/webhooks,
 *   https://api.slack.com/reference/surfaces/formatting#escaping).
 * - teams: a message with one Adaptive Card attachment, the only format a
 *   Teams Workflows "When a Teams webhook request is received" trigger
 *   takes
 * (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using,
 *   https://learn.microsoft.com/connectors/teams/?tabs=text1#microsoft-teams-webhook).
 * - sentinel: one record of a Logs Ingestion API upload: the alert's
 *   members with TimeGenerated added, for a DCR stream whose columns are
 *   declared in docs/sentinel-dcr.json
 *   (https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview).
 */
#include "fmt.h"

#include <stdlib.h>
#include <string.h>

/* slack_escape() appends s with Slack's three control characters
 * escaped. */
static void slack_escape(struct fmt_buf *b, const char *s)
{
  for(; s && *s; s++) {
    if(*s == '&')
      fmt_puts(b, "&amp;");
    else if(*s == '<')
      fmt_puts(b, "&lt;");
    else if(*s == '>')
      fmt_puts(b, "&gt;");
    else
      fmt_putc(b, *s);
  }
}

/* title() appends "[severity] event (tenant)". */
static void title(struct fmt_buf *b, const cJSON *ev)
{
  const char *sev = fmt_str(ev, "severity"), *event = fmt_str(ev, "event");
  const char *tenant = fmt_str(ev, "tenant");

  fmt_printf(b, "[%s] %s (%s)", sev ? sev : "notice", event ? event : "alert",
             tenant ? tenant : "-");
}

/* card() builds the Teams message around an Adaptive Card 1.4. */
static cJSON *card(const cJSON *ev, const char *head)
{
  static const struct {
    const char *title, *key;
  } facts[] = {
      {"Tenant", "tenant"},         {"Object", "displayName"},
      {"UPN", "userPrincipalName"}, {"Value", "value"},
      {"Class", "class"},           {"State", "state"},
      {"Cause", "cause"},           {"Alert id", "id"},
  };
  cJSON *msg = cJSON_CreateObject(), *att, *a, *c, *body, *tb, *fs, *f;
  struct fmt_buf steps = {0};
  size_t i;

  if(!msg)
    return NULL;
  cJSON_AddStringToObject(msg, "type", "message");
  att = cJSON_AddArrayToObject(msg, "attachments");
  a = cJSON_CreateObject();
  cJSON_AddItemToArray(att, a);
  cJSON_AddStringToObject(a, "contentType",
                          "application/vnd.microsoft.card.adaptive");
  cJSON_AddNullToObject(a, "contentUrl");
  c = cJSON_AddObjectToObject(a, "content");
  cJSON_AddStringToObject(c, "$schema",
                          "http://adaptivecards.io/schemas/adaptive-card.json");
  cJSON_AddStringToObject(c, "type", "AdaptiveCard");
  cJSON_AddStringToObject(c, "version", "1.4");
  body = cJSON_AddArrayToObject(c, "body");
  tb = cJSON_CreateObject();
  cJSON_AddItemToArray(body, tb);
  cJSON_AddStringToObject(tb, "type", "TextBlock");
  cJSON_AddStringToObject(tb, "text", head);
  cJSON_AddStringToObject(tb, "weight", "Bolder");
  cJSON_AddBoolToObject(tb, "wrap", 1);
  tb = cJSON_CreateObject();
  cJSON_AddItemToArray(body, tb);
  cJSON_AddStringToObject(tb, "type", "TextBlock");
  cJSON_AddStringToObject(tb, "text",
                          fmt_str(ev, "message") ? fmt_str(ev, "message") : "");
  cJSON_AddBoolToObject(tb, "wrap", 1);
  fs = cJSON_CreateObject();
  cJSON_AddItemToArray(body, fs);
  cJSON_AddStringToObject(fs, "type", "FactSet");
  f = cJSON_AddArrayToObject(fs, "facts");
  for(i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
    const char *v = fmt_str(ev, facts[i].key);
    cJSON *fact;

    if(!v)
      continue;
    fact = cJSON_CreateObject();
    cJSON_AddItemToArray(f, fact);
    cJSON_AddStringToObject(fact, "title", facts[i].title);
    cJSON_AddStringToObject(fact, "value", v);
  }
  if(fmt_steps(ev, &steps)) {
    tb = cJSON_CreateObject();
    cJSON_AddItemToArray(body, tb);
    cJSON_AddStringToObject(tb, "type", "TextBlock");
    cJSON_AddStringToObject(tb, "text", steps.p);
    cJSON_AddBoolToObject(tb, "wrap", 1);
  }
  free(steps.p);
  return msg;
}

void fmt_hook(enum fmt_kind k, const cJSON *ev, struct fmt_buf *b)
{
  struct fmt_buf head = {0};
  cJSON *o = NULL;
  char *text;

  title(&head, ev);
  switch(k) {
  case FMT_SLACK: {
    struct fmt_buf t = {0};

    fmt_putc(&t, '*');
    slack_escape(&t, head.p);
    fmt_puts(&t, "*\n");
    slack_escape(&t, fmt_str(ev, "message"));
    o = cJSON_CreateObject();
    if(o && !t.oom)
      cJSON_AddStringToObject(o, "text", t.p);
    free(t.p);
    break;
  }
  case FMT_TEAMS:
    o = card(ev, head.p ? head.p : "");
    break;
  case FMT_SENTINEL:
    o = cJSON_Duplicate(ev, 1);
    if(o && fmt_str(ev, "time"))
      cJSON_AddStringToObject(o, "TimeGenerated", fmt_str(ev, "time"));
    break;
  default:
    o = cJSON_CreateObject();
    if(o) {
      cJSON_AddStringToObject(o, "text", head.p ? head.p : "");
      cJSON_AddItemToObject(o, "alert", cJSON_Duplicate(ev, 1));
    }
    break;
  }
  free(head.p);
  text = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if(!text) {
    b->oom = true;
    return;
  }
  fmt_puts(b, text);
  cJSON_free(text);
}
