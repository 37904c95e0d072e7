/* SPDX-License-Identifier: MIT
 *
 * alert_event: an alert event made into what the sinks send: its human
 * message, its stable id (SHA-256 of what makes the event), its
 * remediation, and the alert object (the schema of quarantined(8) and
 * docs/alert.schema.json), rendered once per event.  Routing the object
 * to the sinks is alert.c's business.
 */
#include "alert_event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conflict_json.h"
#include "jsonx.h"
#include "log.h"
#include "timex.h"

#ifndef QD_VERSION
#define QD_VERSION "0.0.0"
#endif

void alert_event_init(struct alert_event *ev, enum alert_type type,
                      const char *tenant, const struct conflict *c)
{
  memset(ev, 0, sizeof(*ev));
  ev->type = type;
  ev->severity = -1;
  ev->tenant = tenant;
  ev->conflict = c;
  clock_gettime(CLOCK_REALTIME, &ev->time);
}

/* sweep_message() formats the message of a sweep event; what is "UPN" or
 * "Proxy address", obj the object in words ("user X (x@y.com)"). */
static void sweep_message(const struct alert_event *ev, const char *what,
                          const char *obj, char *buf, size_t len)
{
  const struct conflict *c = ev->conflict;
  const struct alert_sweep *sw = ev->sweep;
  const struct classify_result *cr = ev->classification;
  char t1[TIMEX_ISO_LEN], t2[TIMEX_ISO_LEN], d1[32], d2[32];
  long within = (long)(c->release_by - c->freed_at);

  timex_format_iso(c->freed_at, t1, sizeof(t1));
  timex_format_iso(c->release_by, t2, sizeof(t2));
  switch(ev->type) {
  case ALERT_CONFLICT_FREED:
    snprintf(buf, len,
             "%s conflict freed on %s: no object holds %s any more; the "
             "service should release it within %s (by %s)",
             what, obj, c->value,
             within == 3600 ? "the hour"
                            : timex_format_span(within, d1, sizeof(d1)),
             t2);
    break;
  case ALERT_CONFLICT_RELEASED:
    snprintf(buf, len, "%s conflict released on %s: %s is back, %s after %s",
             what, obj, c->value,
             timex_format_span(sw ? sw->time_to_release : 0, d1, sizeof(d1)),
             c->freed_at ? "it was freed" : "it was first seen");
    break;
  case ALERT_CONFLICT_STUCK:
    snprintf(buf, len,
             "%s conflict stuck on %s: %s has been free since %s but is "
             "still quarantined after its expected release (by %s); see the "
             "remediation",
             what, obj, c->value, t1, t2);
    break;
  case ALERT_CONFLICT_AGING:
    snprintf(buf, len,
             "%s conflict on %s older than %s: %s quarantined for %s [%s]",
             what, obj,
             timex_format_span(sw ? (long)sw->threshold : 0, d1, sizeof(d1)),
             c->value, timex_format_span(sw ? sw->age : 0, d2, sizeof(d2)),
             conflict_state_name(c->state));
    break;
  default: /* ALERT_CONFLICT_HELD */
    snprintf(buf, len,
             "%s conflict on %s: %s is held again and stays quarantined: %s "
             "[%s]",
             what, obj, c->value, cr ? cr->reason : "held by another object",
             cr ? conflict_class_name(cr->cls) : "unknown");
    break;
  }
}

char *alert_event_message(const struct alert_event *ev, char *buf, size_t len)
{
  const struct conflict *c = ev->conflict;
  const char *what, *name;
  char upn[320] = "", obj[480];

  if(!c) {
    if(ev->daemon && ev->daemon->cause)
      snprintf(buf, len, "%s in tenant %s: %s", alert_type_name(ev->type),
               ev->tenant, ev->daemon->cause);
    else
      snprintf(buf, len, "%s in tenant %s", alert_type_name(ev->type),
               ev->tenant);
    return buf;
  }
  what = c->property == CONFLICT_UPN ? "UPN" : "Proxy address";
  name = c->display_name ? c->display_name : c->object_id;
  if(c->placeholder && c->upn)
    snprintf(upn, sizeof(upn), " (placeholder %s)", c->upn);
  else if(c->upn)
    snprintf(upn, sizeof(upn), " (%s)", c->upn);
  switch(ev->type) {
  case ALERT_CONFLICT_FREED:
  case ALERT_CONFLICT_RELEASED:
  case ALERT_CONFLICT_STUCK:
  case ALERT_CONFLICT_AGING:
  case ALERT_CONFLICT_HELD:
    snprintf(obj, sizeof(obj), "%s %s%s", conflict_objtype_name(c->objtype),
             name, upn);
    sweep_message(ev, what, obj, buf, len);
    break;
  case ALERT_CONFLICT_DETECTED:
    if(ev->classification) {
      snprintf(buf, len, "%s conflict quarantined on %s %s%s: %s: %s [%s]",
               what, conflict_objtype_name(c->objtype), name, upn, c->value,
               ev->classification->reason,
               conflict_class_name(ev->classification->cls));
      break;
    }
    snprintf(buf, len,
             "%s conflict quarantined on %s %s%s: %s is held by another "
             "object",
             what, conflict_objtype_name(c->objtype), name, upn, c->value);
    break;
  case ALERT_CONFLICT_CLEARED:
    snprintf(buf, len,
             "%s conflict cleared on %s %s%s: %s is no longer "
             "quarantined",
             what, conflict_objtype_name(c->objtype), name, upn, c->value);
    break;
  default:
    snprintf(buf, len, "%s on %s %s", alert_type_name(ev->type),
             conflict_objtype_name(c->objtype), name);
    break;
  }
  return buf;
}

/* ===== Rendering ===== */

/* A rendered event: everything the sinks need, owned here. */
struct rendered {
  int severity;
  char time[TIMEX_ISO_LEN]; /* RFC 3339 UTC with milliseconds */
  char id[65];              /* SHA-256 hex */
  char message[1024];
  char host[256];
  char remediation[CLASSIFY_MAX_STEPS * 660]; /* steps, one per line */
};

/* anchor_str() is member m of ev->anchor, or "" when there is none. */
#define anchor_str(ev, m)                                                      \
  ((ev)->anchor && (ev)->anchor->m ? (ev)->anchor->m : "")

/* render() fills r from ev. */
static void render(const struct alert_event *ev, struct rendered *r)
{
  struct timespec ts = ev->time;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0, i;
  char *input = NULL;
  int n;

  if(!ts.tv_sec && !ts.tv_nsec)
    clock_gettime(CLOCK_REALTIME, &ts);
  r->severity = ev->severity >= 0 ? ev->severity
                                  : ((unsigned)ev->type < ALERT_NTYPES
                                         ? alert_type_severity(ev->type)
                                         : LOG_NOTICE);
  if(gethostname(r->host, sizeof(r->host) - 1) < 0)
    r->host[0] = '\0';
  r->host[sizeof(r->host) - 1] = '\0';
  timex_format_iso_ms(&ts, r->time, sizeof(r->time));
  if(ev->message)
    snprintf(r->message, sizeof(r->message), "%s", ev->message);
  else
    alert_event_message(ev, r->message, sizeof(r->message));
  /* The id is stable for the same event, key and time. */
  r->id[0] = '\0';
  if(asprintf(&input, "%s\n%s\n%s\n%s%s%s%s%s%s", alert_type_name(ev->type),
              ev->tenant, ev->conflict ? ev->conflict->key : "", r->time,
              ev->anchor ? "\n" : "", anchor_str(ev, user_id),
              ev->anchor ? "\n" : "", anchor_str(ev, anchor),
              anchor_str(ev, reason)) >= 0 &&
     EVP_Digest(input, strlen(input), md, &mdlen, EVP_sha256(), NULL)) {
    for(i = 0; i < mdlen && i < 32; i++)
      snprintf(r->id + 2 * i, 3, "%02x", md[i]);
  }
  free(input);
  r->remediation[0] = '\0';
  if(ev->classification) {
    const struct classify_result *cr = ev->classification;
    size_t k, pos = 0;

    for(k = 0; k < cr->nsteps && pos < sizeof(r->remediation); k++) {
      n = snprintf(r->remediation + pos, sizeof(r->remediation) - pos,
                   "%s%zu. %s", k ? "\n" : "", k + 1, cr->steps[k]);
      if(n < 0)
        break;
      pos += (size_t)n;
    }
  }
}

/* add_pairing() adds the quarantined object's on-premises side, the
 * class, explanation, remediation steps and holders.  Returns 0 or
 * -ENOMEM. */
static int add_pairing(cJSON *o, const struct conflict *c,
                       const struct classify_result *cr)
{
  cJSON *arr;
  size_t i;

  if(jsonx_add_bool(o, "onPremisesSyncEnabled", c->sync_enabled) ||
     jsonx_add_str(o, "onPremisesImmutableId", c->immutable_id) ||
     jsonx_add_str(o, "onPremisesDistinguishedName", c->on_prem_dn) ||
     jsonx_add_str(o, "onPremisesSamAccountName", c->sam_account))
    return -ENOMEM;
  if(!cr)
    return 0;
  if(jsonx_add_str(o, "class", conflict_class_name(cr->cls)) ||
     jsonx_add_str(o, "reason", cr->reason) ||
     jsonx_add_str(o, "explanation", cr->explanation) ||
     jsonx_add_str(o, "holderId", cr->holder ? cr->holder->id : NULL))
    return -ENOMEM;
  arr = cJSON_AddArrayToObject(o, "remediation");
  for(i = 0; arr && i < cr->nsteps; i++) {
    cJSON *s = cJSON_CreateString(cr->steps[i]);

    if(!s || !cJSON_AddItemToArray(arr, s)) {
      cJSON_Delete(s);
      return -ENOMEM;
    }
  }
  arr = arr ? cJSON_AddArrayToObject(o, "holders") : NULL;
  for(i = 0; arr && i < c->nholders; i++) {
    cJSON *h = conflict_json_encode_holder(&c->holders[i]);

    if(!h || !cJSON_AddItemToArray(arr, h)) {
      cJSON_Delete(h);
      return -ENOMEM;
    }
  }
  return arr ? 0 : -ENOMEM;
}

/* add_sweep() adds the conflict's state and the sweep's times, and the
 * figures of a released or aging event.  Returns 0 or -ENOMEM. */
static int add_sweep(cJSON *o, const struct conflict *c,
                     const struct alert_sweep *sw)
{
  if(jsonx_add_str(o, "state", conflict_state_name(c->state)) ||
     jsonx_add_time(o, "freedAt", c->freed_at) ||
     jsonx_add_time(o, "predictedRelease", c->release_by) ||
     jsonx_add_time(o, "stuckAt", c->stuck_at))
    return -ENOMEM;
  if(sw && sw->released_at &&
     (jsonx_add_time(o, "releasedAt", sw->released_at) ||
      jsonx_add_number(o, "timeToReleaseSeconds", (double)sw->time_to_release)))
    return -ENOMEM;
  if(sw && sw->threshold &&
     (jsonx_add_number(o, "ageSeconds", (double)sw->age) ||
      jsonx_add_number(o, "thresholdSeconds", (double)sw->threshold)))
    return -ENOMEM;
  return 0;
}

/* add_conflict() adds the members that describe the conflict c of an
 * event.  Returns 0 or -ENOMEM. */
static int add_conflict(cJSON *o, const struct alert_event *ev)
{
  const struct conflict *c = ev->conflict;

  if(jsonx_add_str(o, "objectId", c->object_id) ||
     jsonx_add_str(o, "objectType", conflict_objtype_name(c->objtype)) ||
     jsonx_add_str(o, "property", conflict_property_name(c->property)) ||
     jsonx_add_str(o, "value", c->value) ||
     jsonx_add_str(o, "displayName", c->display_name) ||
     jsonx_add_str(o, "userPrincipalName", c->upn) ||
     jsonx_add_bool(o, "placeholder", c->placeholder) ||
     jsonx_add_str(o, "originalValue", c->original_value) ||
     jsonx_add_time(o, "occurredDateTime", c->occurred) ||
     jsonx_add_time(o, "firstSeen", c->first_seen))
    return -ENOMEM;
  return add_pairing(o, c, ev->classification) || add_sweep(o, c, ev->sweep)
             ? -ENOMEM
             : 0;
}

/* add_anchor() adds the members of an anchor.* event.  Returns 0 or
 * -ENOMEM. */
static int add_anchor(cJSON *o, const struct alert_anchor *an)
{
  if(jsonx_add_str(o, "userId", an->user_id) ||
     jsonx_add_str(o, "userPrincipalName", an->upn) ||
     jsonx_add_str(o, "target", an->target) ||
     jsonx_add_str(o, "anchor", an->anchor) ||
     jsonx_add_str(o, "oldValue", an->old_value) ||
     jsonx_add_str(o, "source", an->source) ||
     jsonx_add_str(o, "reference", an->reference) ||
     jsonx_add_str(o, "reason", an->reason) ||
     jsonx_add_str(o, "clientRequestId", an->client_request_id) ||
     jsonx_add_str(o, "patchRequestId", an->patch_request_id) ||
     jsonx_add_str(o, "getRequestId", an->get_request_id))
    return -ENOMEM;
  return 0;
}

/* add_daemon() adds the members of an event about the daemon itself.
 * Returns 0 or -ENOMEM. */
static int add_daemon(cJSON *o, const struct alert_daemon *dm)
{
  cJSON *arr;
  size_t i;

  if(jsonx_add_str(o, "cause", dm->cause) ||
     jsonx_add_str(o, "code", dm->code) || jsonx_add_str(o, "path", dm->path) ||
     jsonx_add_str(o, "sink", dm->sink) ||
     jsonx_add_time(o, "expires", dm->expires) ||
     jsonx_add_number(o, "count", (double)dm->count))
    return -ENOMEM;
  if(!dm->keys)
    return 0;
  arr = cJSON_AddArrayToObject(o, "keys");
  for(i = 0; arr && i < dm->nkeys; i++) {
    cJSON *k = cJSON_CreateString(dm->keys[i]);

    if(!k || !cJSON_AddItemToArray(arr, k)) {
      cJSON_Delete(k);
      return -ENOMEM;
    }
  }
  return arr ? 0 : -ENOMEM;
}

/* canonical() returns the alert object of an event (the schema of
 * docs/alert.schema.json), which the caller deletes, or NULL when out of
 * memory. */
static cJSON *canonical(const struct alert_event *ev, const struct rendered *r)
{
  cJSON *o = cJSON_CreateObject();
  int rc;

  if(!o)
    return NULL;
  rc = jsonx_add_str(o, "time", r->time) || jsonx_add_str(o, "id", r->id) ||
       jsonx_add_str(o, "event", alert_type_name(ev->type)) ||
       jsonx_add_str(o, "severity", log_level_name(r->severity)) ||
       jsonx_add_number(o, "syslogSeverity", r->severity) ||
       jsonx_add_str(o, "tenant", ev->tenant) ||
       jsonx_add_str(o, "host", r->host) ||
       jsonx_add_str(o, "version", QD_VERSION) ||
       jsonx_add_number(o, "schemaVersion", ALERT_SCHEMA_VERSION) ||
       jsonx_add_str(o, "conflictKey",
                     ev->conflict ? ev->conflict->key : NULL) ||
       (ev->conflict && add_conflict(o, ev)) ||
       (ev->anchor && add_anchor(o, ev->anchor)) ||
       (ev->daemon && add_daemon(o, ev->daemon)) ||
       jsonx_add_str(o, "message", r->message);
  if(rc) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

cJSON *alert_event_json(const struct alert_event *ev, int *severity)
{
  struct rendered r;

  render(ev, &r);
  *severity = r.severity;
  return canonical(ev, &r);
}
