/* SPDX-License-Identifier: MIT
 *
 * cfg_sink: the [sink NAME] sections of the configuration (cfg_int.h):
 * a section's start, its keys checked against the sink's type when it
 * ends (what the type needs, what only another type takes, a format the
 * type can send, event names that exist, a CA file that loads), and the
 * sentinel sink's [tenant] reference once the whole file is read; and
 * whether two sections configure the same sink (a reload keeps it).
 */
#include "cfg_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "fmt.h"
#include "plat.h"
#include "tls.h"

/* key_line() is the line of the [sink] key given in the section being
 * closed, or 0. */
static unsigned key_line(const struct parse_ctx *c, const char *key)
{
  return c->seen_line[cfg__option_index(cfg__find_option(SEC_SINK, key))];
}

void cfg_sink_open(struct parse_ctx *c, const char *name)
{
  struct cfg_sink *k;
  const char *n = name;

  while(*n == ' ' || *n == '\t')
    n++;
  if(!cfg__valid_name(n)) {
    cfg__perr(c, c->line,
              "sink name '%s' may use only letters, digits, '.', '-' and "
              "'_' (at most 64)",
              n);
    return;
  }
  for(k = c->cfg->sinks; k; k = k->next)
    if(!strcmp(k->name, n)) {
      cfg__perr(c, c->line, "duplicate section [sink %s] (first on line %u)", n,
                k->line);
      return;
    }
  k = calloc(1, sizeof(*k));
  if(!k)
    fatal("cfg: calloc");
  k->name = cfg__xstrdup(n);
  k->line = c->line;
  *c->sink_tail = k;
  c->sink_tail = &k->next;
  c->cfg->nsinks++;
  c->sink = k;
  c->sec = SEC_SINK;
  c->bad_section = false;
}

void cfg_sink_check(struct parse_ctx *c, struct cfg_sink *k)
{
  static const unsigned formats[] = {
      /* journal: the native fields; syslog, udp, tcp, file: a record */
      [CFG_SINK_JOURNAL] = 1u << FMT_DEFAULT,
      [CFG_SINK_SYSLOG] = 1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF |
                          1u << FMT_LEEF | 1u << FMT_RFC5424,
      [CFG_SINK_UDP] = 1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF |
                       1u << FMT_LEEF | 1u << FMT_RFC5424,
      [CFG_SINK_TCP] = 1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF |
                       1u << FMT_LEEF | 1u << FMT_RFC5424,
      [CFG_SINK_FILE] =
          1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF | 1u << FMT_LEEF,
      [CFG_SINK_TLS] = 1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF |
                       1u << FMT_LEEF | 1u << FMT_RFC5424,
      [CFG_SINK_WEBHOOK] = 1u << FMT_DEFAULT | 1u << FMT_GENERIC |
                           1u << FMT_SLACK | 1u << FMT_TEAMS,
      [CFG_SINK_SENTINEL] = 1u << FMT_DEFAULT | 1u << FMT_SENTINEL,
      /* eventlog: the record is the event's second string */
      [CFG_SINK_EVENTLOG] = 1u << FMT_DEFAULT | 1u << FMT_JSON,
  };
  static const char *const sentinel_keys[] = {"tenant", "dce_url", "dcr_id",
                                              "stream"};
  size_t i;
  const char *bad;
  char why[200];

  if(k->type < 0)
    return;
  if((k->type == CFG_SINK_UDP || k->type == CFG_SINK_TCP ||
      k->type == CFG_SINK_TLS) &&
     !k->host)
    cfg__perr(c, k->line, "[sink %s]: type %s needs host", k->name,
              cfg__enum_names("type")[k->type]);
  if((k->type == CFG_SINK_JOURNAL || k->type == CFG_SINK_SYSLOG) &&
     plat_lacks(PLAT_LOCAL_LOG))
    cfg__perr(c, key_line(c, "type"), "type: %s", plat_lacks(PLAT_LOCAL_LOG));
  if(k->type == CFG_SINK_EVENTLOG && plat_event_report(NULL) == -ENOTSUP)
    cfg__perr(c, key_line(c, "type"),
              "type: eventlog sinks exist only on Windows (the Event Log)");
  if(k->type == CFG_SINK_FILE && !k->path)
    cfg__perr(c, k->line, "[sink %s]: type file needs path", k->name);
  if(!(formats[k->type] & (1u << k->format))) {
    const char *type = cfg__enum_names("type")[k->type];

    cfg__perr(c, key_line(c, "format"), "format: %s %s sink cannot send '%s'",
              strchr("aeiou", type[0]) ? "an" : "a", type,
              cfg__enum_names("format")[k->format]);
  }
  if(k->type == CFG_SINK_WEBHOOK && !key_line(c, "url"))
    cfg__perr(c, k->line, "[sink %s]: type webhook needs url", k->name);
  for(i = 0; k->type == CFG_SINK_SENTINEL && i < 4; i++)
    if(!key_line(c, sentinel_keys[i]))
      cfg__perr(c, k->line, "[sink %s]: type sentinel needs %s", k->name,
                sentinel_keys[i]);
  /* The immutable id of a DCR is "dcr-" and 32 hex digits
   * (https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview).
   */
  if(k->dcr_id && (strncmp(k->dcr_id, "dcr-", 4) || strlen(k->dcr_id) != 36 ||
                   strspn(k->dcr_id + 4, "0123456789abcdefABCDEF") != 32))
    cfg__perr(c, key_line(c, "dcr_id"),
              "dcr_id: '%s' is not a DCR immutable id (dcr- and 32 hex digits)",
              k->dcr_id);
  if(k->stream &&
     (!k->stream[0] || k->stream[strspn(k->stream, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                   "abcdefghijklmnopqrstuvwxyz"
                                                   "0123456789_-")]))
    cfg__perr(c, key_line(c, "stream"),
              "stream: '%s' is not a stream name such as Custom-Quarantined_CL",
              k->stream);
  k->tenant_line = key_line(c, "tenant");
  if(k->ca_file && k->type != CFG_SINK_TLS && k->type != CFG_SINK_WEBHOOK &&
     k->type != CFG_SINK_SENTINEL)
    cfg__perr(c, key_line(c, "ca_file"),
              "ca_file: only tls, webhook and sentinel sinks take a CA file");
  else if(k->ca_file && tls_check_ca(k->ca_file, why, sizeof(why)) < 0)
    cfg__perr(c, key_line(c, "ca_file"), "ca_file: %s: %s", k->ca_file, why);
  if(k->events && (bad = alert_filter_check(k->events)) != NULL)
    cfg__perr(c, key_line(c, "events"),
              "events: '%s' is not an alert type (see quarantined(8))", bad);
}

void cfg_sink_resolve(struct parse_ctx *c)
{
  struct cfg_sink *k;

  for(k = c->cfg->sinks; k; k = k->next) {
    if(k->type != CFG_SINK_SENTINEL || !k->tenant)
      continue;
    k->cred = cfg_tenant_find(c->cfg, k->tenant);
    if(!k->cred)
      cfg__perr(c, k->tenant_line, "tenant: no [tenant %s] section", k->tenant);
  }
}

/* same_str() compares two strings either of which may be NULL. */
static int same_str(const char *a, const char *b)
{
  return a == b || (a && b && !strcmp(a, b));
}

/* same_cred() compares what a sentinel sink takes from its [tenant]. */
static int same_cred(const struct cfg_tenant *a, const struct cfg_tenant *b)
{
  if(!a || !b)
    return a == b;
  return same_str(a->tenant_id, b->tenant_id) &&
         same_str(a->client_id, b->client_id) &&
         same_str(a->client_secret_file, b->client_secret_file) &&
         same_str(a->client_secret_credential, b->client_secret_credential) &&
         same_str(a->certificate_file, b->certificate_file) &&
         same_str(a->private_key_file, b->private_key_file) &&
         same_str(a->private_key_credential, b->private_key_credential) &&
         same_str(a->login_url, b->login_url) &&
         same_str(a->ca_file, b->ca_file);
}

int cfg_sink_same(const struct cfg_sink *a, const struct cfg_sink *b)
{
  return a->type == b->type && a->format == b->format &&
         a->min_severity == b->min_severity && a->port == b->port &&
         a->rate_limit == b->rate_limit && a->facility == b->facility &&
         a->spool_max == b->spool_max && same_str(a->events, b->events) &&
         same_str(a->host, b->host) && same_str(a->ca_file, b->ca_file) &&
         same_str(a->url, b->url) && same_str(a->tenant, b->tenant) &&
         same_str(a->login_url, b->login_url) &&
         same_str(a->dce_url, b->dce_url) && same_str(a->dcr_id, b->dcr_id) &&
         same_str(a->stream, b->stream) && same_str(a->scope, b->scope) &&
         same_str(a->socket, b->socket) && same_str(a->path, b->path) &&
         same_str(a->sd_id, b->sd_id) && same_cred(a->cred, b->cred);
}
