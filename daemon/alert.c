/* SPDX-License-Identifier: MIT
 *
 * alert: renders an event once, then hands it to the sinks.  journald
 * gets native structured fields via sd_journal_sendv(); syslog(3) gets
 * one key=value line.  The JSON lines file gets one write(2) and one
 * fsync per line, in order, with a bounded in-memory queue for lines
 * that could not be written yet.
 */
#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/evp.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "conflict_json.h"
#include "jsonx.h"
#include "log.h"
#include "timex.h"

/* Above this many queued bytes the oldest lines are dropped, so a disk
 * that stays full cannot exhaust memory. */
#define ALERT_QUEUE_MAX_BYTES (64UL * 1024 * 1024)

static const struct {
  const char *name;
  const char *message_id; /* made once with python3 uuid4().hex */
  int severity;
} types[ALERT_NTYPES] = {
    {"conflict.detected", "c0a3882bb77148cbabf99b280e2e3c90", LOG_WARNING},
    {"conflict.cleared", "22980eb6c36f43a0adf0cdb91ccb04b6", LOG_NOTICE},
    {"conflict.freed", "50d58db9011d4de597a0f85295005174", LOG_NOTICE},
    {"conflict.released", "af66519b09df49d68dfb9c37b3d889ec", LOG_NOTICE},
    {"conflict.stuck", "0560a0f8d4ab4c8585f86fb0922a3d06", LOG_ERR},
    {"conflict.aging", "2217a1b113404c52a4651f8a0a4e7d8c", LOG_WARNING},
    {"conflict.held", "122e40ceccb84c689cc2162677359fb8", LOG_WARNING},
    {"anchor.applied", "bb013a4a4dcb43c4aabd9767ffedc2c7", LOG_NOTICE},
    {"anchor.refused", "7b512631c3914166a7e7c79fa50f35a4", LOG_WARNING},
    {"anchor.failed", "ebb079b873884e7b981d7b5fbeca56cd", LOG_ERR},
    {"anchor.dry-run", "f6e67239e7ea49af8342f50bba122678", LOG_NOTICE},
    {"anchor.halted", "1605a3e90a5845af9ccad01ccf928e4a", LOG_CRIT},
    {"daemon.fd-exhausted", "d01168f02ba64dee99b43c6c70bf4e25", LOG_ERR},
};

struct line {
  char *text; /* one JSON object and '\n' */
  size_t len;
  struct line *next;
};

struct alert {
  bool syslog;
  int facility;
  char *jsonl_path; /* or NULL */
  int fd;           /* the JSON lines file, or -1 */
  struct line *head, *tail;
  size_t pending, bytes;
  bool failing;      /* the last write failed (logged once) */
  bool journal_down; /* sd_journal_sendv failed once (logged once) */
  unsigned long delivered_log, delivered_jsonl, dropped; /* for /metrics */
};

const char *alert_type_name(enum alert_type t)
{
  return (unsigned)t < ALERT_NTYPES ? types[t].name : "unknown";
}

const char *alert_message_id(enum alert_type t)
{
  return (unsigned)t < ALERT_NTYPES ? types[t].message_id
                                    : "00000000000000000000000000000000";
}

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

char *alert_format_message(const struct alert_event *ev, char *buf, size_t len)
{
  const struct conflict *c = ev->conflict;
  const char *what, *name;
  char upn[320] = "", obj[480];

  if(!c) {
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
                                         ? types[ev->type].severity
                                         : LOG_NOTICE);
  timex_format_iso_ms(&ts, r->time, sizeof(r->time));
  if(ev->message)
    snprintf(r->message, sizeof(r->message), "%s", ev->message);
  else
    alert_format_message(ev, r->message, sizeof(r->message));
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

/* json_line() returns the malloc'd JSON line of an event, ending in '\n',
 * or NULL when out of memory. */
static char *json_line(const struct alert_event *ev, const struct rendered *r,
                       size_t *len)
{
  cJSON *o = cJSON_CreateObject();
  char *line;
  int rc;

  if(!o)
    return NULL;
  rc = jsonx_add_str(o, "time", r->time) || jsonx_add_str(o, "id", r->id) ||
       jsonx_add_str(o, "event", alert_type_name(ev->type)) ||
       jsonx_add_str(o, "severity", log_level_name(r->severity)) ||
       jsonx_add_str(o, "tenant", ev->tenant) ||
       (ev->conflict && add_conflict(o, ev)) ||
       (ev->anchor && add_anchor(o, ev->anchor)) ||
       jsonx_add_str(o, "message", r->message);
  line = rc ? NULL : jsonx_print_line(o, len);
  cJSON_Delete(o);
  return line;
}

/* ===== Sink 1: journald, or syslog(3) ===== */

/* kv() appends " key=value" to buf at *pos, quoting value when it holds
 * a space, '"', '=' or '\\' (or is empty); control characters become
 * '?'.  Nothing is appended for a NULL value. */
static void kv(char *buf, size_t len, size_t *pos, const char *key,
               const char *value)
{
  const char *p;
  bool quote;
  int n;

  if(!value)
    return;
  quote = !*value || strpbrk(value, " \"=\\") != NULL;
  n = snprintf(buf + *pos, len - *pos, "%s%s=%s", *pos ? " " : "", key,
               quote ? "\"" : "");
  if(n < 0 || *pos + (size_t)n >= len) {
    *pos = len - 1;
    buf[*pos] = '\0';
    return;
  }
  *pos += (size_t)n;
  for(p = value; *p && *pos + 3 < len; p++) {
    if(*p == '"' || *p == '\\')
      buf[(*pos)++] = '\\';
    buf[(*pos)++] = (unsigned char)*p < 0x20 ? '?' : *p;
  }
  if(quote && *pos + 2 < len)
    buf[(*pos)++] = '"';
  buf[*pos] = '\0';
}

/* to_syslog() writes the event as one key=value line to syslog(3). */
static void to_syslog(struct alert *a, const struct alert_event *ev,
                      const struct rendered *r)
{
  const struct conflict *c = ev->conflict;
  const struct classify_result *cr = ev->classification;
  char line[8192];
  size_t pos = 0;

  line[0] = '\0';
  kv(line, sizeof(line), &pos, "event", alert_type_name(ev->type));
  kv(line, sizeof(line), &pos, "tenant", ev->tenant);
  if(c) {
    kv(line, sizeof(line), &pos, "object_type",
       conflict_objtype_name(c->objtype));
    kv(line, sizeof(line), &pos, "object_id", c->object_id);
    kv(line, sizeof(line), &pos, "property",
       conflict_property_name(c->property));
    kv(line, sizeof(line), &pos, "value", c->value);
    kv(line, sizeof(line), &pos, "display_name", c->display_name);
    kv(line, sizeof(line), &pos, "upn", c->upn);
    kv(line, sizeof(line), &pos, "placeholder", c->placeholder ? "yes" : "no");
    kv(line, sizeof(line), &pos, "original_value", c->original_value);
    kv(line, sizeof(line), &pos, "state", conflict_state_name(c->state));
  }
  if(ev->sweep) {
    char n[2][24];

    snprintf(n[0], sizeof(n[0]), "%ld", ev->sweep->time_to_release);
    snprintf(n[1], sizeof(n[1]), "%lu", ev->sweep->threshold);
    kv(line, sizeof(line), &pos, "time_to_release",
       ev->sweep->released_at ? n[0] : NULL);
    kv(line, sizeof(line), &pos, "threshold",
       ev->sweep->threshold ? n[1] : NULL);
  }
  if(cr) {
    const struct conflict_holder *h = cr->holder;

    kv(line, sizeof(line), &pos, "class", conflict_class_name(cr->cls));
    kv(line, sizeof(line), &pos, "holder_id", h ? h->id : NULL);
    kv(line, sizeof(line), &pos, "holder_type",
       h ? conflict_objtype_name(h->type) : NULL);
    kv(line, sizeof(line), &pos, "holder_display_name",
       h ? h->display_name : NULL);
    kv(line, sizeof(line), &pos, "holder_upn", h ? h->upn : NULL);
  }
  if(ev->anchor) {
    const struct alert_anchor *an = ev->anchor;

    kv(line, sizeof(line), &pos, "user_id", an->user_id);
    kv(line, sizeof(line), &pos, "upn", an->upn);
    kv(line, sizeof(line), &pos, "anchor", an->anchor);
    kv(line, sizeof(line), &pos, "reason", an->reason);
    kv(line, sizeof(line), &pos, "reference", an->reference);
  }
  kv(line, sizeof(line), &pos, "id", r->id);
  kv(line, sizeof(line), &pos, "msg", r->message);
  if(cr) {
    char steps[sizeof(r->remediation)], *p;

    /* Last, so a long remediation truncates nothing else; one line. */
    snprintf(steps, sizeof(steps), "%s", r->remediation);
    for(p = steps; (p = strchr(p, '\n'));)
      *p = ' ';
    kv(line, sizeof(line), &pos, "explanation", cr->explanation);
    kv(line, sizeof(line), &pos, "remediation", steps);
  }
  syslog(a->facility | r->severity, "%s", line);
}

#ifdef HAVE_LIBSYSTEMD
/* to_journal() sends the event with native fields.  Returns 0 or the
 * negative errno of sd_journal_sendv(). */
static int to_journal(const struct alert_event *ev, const struct rendered *r)
{
  const struct conflict *c = ev->conflict;
  const struct classify_result *cr = ev->classification;
  const struct conflict_holder *h = cr ? cr->holder : NULL;
  const struct alert_sweep *sw = ev->sweep;
  char nholders[24], freed[TIMEX_ISO_LEN], by[TIMEX_ISO_LEN],
      stuck[TIMEX_ISO_LEN], rel[TIMEX_ISO_LEN], ttr[24], age[24], thr[24];
  struct {
    const char *name, *value;
  } f[] = {
      {"MESSAGE", r->message},
      {"PRIORITY", NULL},
      {"SYSLOG_IDENTIFIER", "quarantined"},
      {"MESSAGE_ID", alert_message_id(ev->type)},
      {"QD_EVENT", alert_type_name(ev->type)},
      {"QD_ALERT_ID", r->id},
      {"QD_TENANT", ev->tenant},
      {"QD_OBJECT_ID", c ? c->object_id : NULL},
      {"QD_OBJECT_TYPE", c ? conflict_objtype_name(c->objtype) : NULL},
      {"QD_PROPERTY", c ? conflict_property_name(c->property) : NULL},
      {"QD_VALUE", c ? c->value : NULL},
      {"QD_DISPLAY_NAME", c ? c->display_name : NULL},
      {"QD_UPN", c ? c->upn : NULL},
      {"QD_PLACEHOLDER", c ? (c->placeholder ? "1" : "0") : NULL},
      {"QD_ORIGINAL_VALUE", c ? c->original_value : NULL},
      {"QD_IMMUTABLE_ID", c ? c->immutable_id : NULL},
      {"QD_ONPREM_DN", c ? c->on_prem_dn : NULL},
      {"QD_SAM_ACCOUNT", c ? c->sam_account : NULL},
      {"QD_CLASS", cr ? conflict_class_name(cr->cls) : NULL},
      {"QD_EXPLANATION", cr ? cr->explanation : NULL},
      {"QD_REMEDIATION", cr && cr->nsteps ? r->remediation : NULL},
      {"QD_HOLDER_COUNT", cr && c ? nholders : NULL},
      {"QD_HOLDER_ID", h ? h->id : NULL},
      {"QD_HOLDER_TYPE", h ? conflict_objtype_name(h->type) : NULL},
      {"QD_HOLDER_DISPLAY_NAME", h ? h->display_name : NULL},
      {"QD_HOLDER_UPN", h ? h->upn : NULL},
      {"QD_HOLDER_MAIL", h ? h->mail : NULL},
      {"QD_HOLDER_IMMUTABLE_ID", h ? h->immutable_id : NULL},
      {"QD_HOLDER_ONPREM_DN", h ? h->on_prem_dn : NULL},
      {"QD_HOLDER_SAM_ACCOUNT", h ? h->sam_account : NULL},
      {"QD_STATE", c ? conflict_state_name(c->state) : NULL},
      {"QD_FREED_AT", c && c->freed_at ? freed : NULL},
      {"QD_PREDICTED_RELEASE", c && c->release_by ? by : NULL},
      {"QD_STUCK_AT", c && c->stuck_at ? stuck : NULL},
      {"QD_RELEASED_AT", sw && sw->released_at ? rel : NULL},
      {"QD_TIME_TO_RELEASE", sw && sw->released_at ? ttr : NULL},
      {"QD_AGE", sw && sw->threshold ? age : NULL},
      {"QD_THRESHOLD", sw && sw->threshold ? thr : NULL},
      {"QD_USER_ID", ev->anchor ? ev->anchor->user_id : NULL},
      {"QD_UPN", ev->anchor ? ev->anchor->upn : NULL},
      {"QD_ANCHOR", ev->anchor ? ev->anchor->anchor : NULL},
      {"QD_OLD_VALUE", ev->anchor ? ev->anchor->old_value : NULL},
      {"QD_SOURCE", ev->anchor ? ev->anchor->source : NULL},
      {"QD_REFERENCE", ev->anchor ? ev->anchor->reference : NULL},
      {"QD_REASON", ev->anchor ? ev->anchor->reason : NULL},
      {"QD_CLIENT_REQUEST_ID",
       ev->anchor ? ev->anchor->client_request_id : NULL},
      {"QD_PATCH_REQUEST_ID", ev->anchor ? ev->anchor->patch_request_id : NULL},
      {"QD_GET_REQUEST_ID", ev->anchor ? ev->anchor->get_request_id : NULL},
  };
  struct iovec iov[sizeof(f) / sizeof(f[0])];
  char *bufs[sizeof(f) / sizeof(f[0])];
  char prio[4];
  size_t i, n = 0;
  int rc;

  snprintf(prio, sizeof(prio), "%d", r->severity);
  f[1].value = prio;
  snprintf(nholders, sizeof(nholders), "%zu", c ? c->nholders : 0);
  if(c) {
    timex_format_iso(c->freed_at, freed, sizeof(freed));
    timex_format_iso(c->release_by, by, sizeof(by));
    timex_format_iso(c->stuck_at, stuck, sizeof(stuck));
  }
  if(sw) {
    timex_format_iso(sw->released_at, rel, sizeof(rel));
    snprintf(ttr, sizeof(ttr), "%ld", sw->time_to_release);
    snprintf(age, sizeof(age), "%ld", sw->age);
    snprintf(thr, sizeof(thr), "%lu", sw->threshold);
  }
  for(i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    if(!f[i].value)
      continue;
    if(asprintf(&bufs[n], "%s=%s", f[i].name, f[i].value) < 0) {
      rc = -ENOMEM;
      goto done;
    }
    iov[n].iov_base = bufs[n];
    iov[n].iov_len = strlen(bufs[n]);
    n++;
  }
  rc = sd_journal_sendv(iov, (int)n);
done:
  for(i = 0; i < n; i++)
    free(bufs[i]);
  return rc;
}
#endif

/* to_log_sink() sends the event to journald, or to syslog(3) when that
 * fails or libsystemd is not built in.  sd_journal_sendv() reports
 * success when journald's socket does not exist (it drops the entry), so
 * a missing socket is checked for here: without journald, syslog. */
static void to_log_sink(struct alert *a, const struct alert_event *ev,
                        const struct rendered *r)
{
#ifdef HAVE_LIBSYSTEMD
  int rc = access("/run/systemd/journal/socket", W_OK) == 0 ? to_journal(ev, r)
                                                            : -ENOENT;

  if(!rc) {
    a->journal_down = false;
    return;
  }
  if(!a->journal_down)
    log_debug("alert: sd_journal_sendv: %s; using syslog", strerror(-rc));
  a->journal_down = true;
#endif
  to_syslog(a, ev, r);
}

/* ===== Sink 2: JSON lines ===== */

/* ensure_open() opens the JSON lines file when it is closed, or when the
 * path now names another file (rotated away).  Returns 0 or -errno. */
static int ensure_open(struct alert *a)
{
  struct stat path_st, fd_st;

  if(a->fd >= 0) {
    if(stat(a->jsonl_path, &path_st) == 0 && fstat(a->fd, &fd_st) == 0 &&
       path_st.st_dev == fd_st.st_dev && path_st.st_ino == fd_st.st_ino)
      return 0;
    close(a->fd);
    a->fd = -1;
  }
  a->fd = open(a->jsonl_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if(a->fd < 0)
    return -errno;
  return 0;
}

/* write_line() appends one line with one write(2) and syncs it.  A short
 * write is cut off again so the file never holds half a line.  Returns 0
 * or -errno. */
static int write_line(struct alert *a, const struct line *l)
{
  struct stat st;
  off_t size = -1;
  ssize_t n;
  int rc;

  if(fstat(a->fd, &st) == 0 && S_ISREG(st.st_mode))
    size = st.st_size;
  do
    n = write(a->fd, l->text, l->len);
  while(n < 0 && errno == EINTR);
  if(n < 0)
    return -errno;
  if((size_t)n != l->len) {
    if(size >= 0 && ftruncate(a->fd, size) < 0)
      log_debug("alert: %s: ftruncate: %s", a->jsonl_path, strerror(errno));
    return -ENOSPC;
  }
  if(fdatasync(a->fd) < 0 && errno != EINVAL && errno != EROFS) {
    rc = -errno;
    return rc;
  }
  return 0;
}

int alert_flush(struct alert *a)
{
  size_t done = 0;
  int rc = 0;

  if(!a->head)
    return 0;
  rc = ensure_open(a);
  while(!rc && a->head) {
    struct line *l = a->head;

    rc = write_line(a, l);
    if(rc)
      break;
    a->head = l->next;
    if(!a->head)
      a->tail = NULL;
    a->pending--;
    a->bytes -= l->len;
    free(l->text);
    free(l);
    done++;
    a->delivered_jsonl++;
  }
  if(rc) {
    if(!a->failing)
      log_warnx("alert: %s: %s; %zu alert(s) kept in memory and retried",
                a->jsonl_path, strerror(-rc), a->pending);
    a->failing = true;
    /* Reopen next time: the file may have been replaced meanwhile. */
    if(a->fd >= 0) {
      close(a->fd);
      a->fd = -1;
    }
    return rc;
  }
  if(a->failing)
    log_notice("alert: %s: writable again; %zu queued alert(s) delivered",
               a->jsonl_path, done);
  a->failing = false;
  return 0;
}

/* enqueue() puts a line at the tail, dropping the oldest lines when the
 * queue is over its bound.  Takes text.  Returns 0 or -ENOMEM. */
static int enqueue(struct alert *a, char *text, size_t len)
{
  struct line *l = malloc(sizeof(*l));
  size_t dropped = 0;

  if(!l) {
    free(text);
    return -ENOMEM;
  }
  l->text = text;
  l->len = len;
  l->next = NULL;
  if(a->tail)
    a->tail->next = l;
  else
    a->head = l;
  a->tail = l;
  a->pending++;
  a->bytes += len;
  while(a->bytes > ALERT_QUEUE_MAX_BYTES && a->head != a->tail) {
    struct line *old = a->head;

    a->head = old->next;
    a->pending--;
    a->bytes -= old->len;
    free(old->text);
    free(old);
    dropped++;
    a->dropped++;
  }
  if(dropped)
    log_errx("alert: %s: queue full; %zu oldest alert(s) dropped",
             a->jsonl_path, dropped);
  return 0;
}

/* ===== Public ===== */

int alert_open(const struct alert_opts *opts, struct alert **out)
{
  struct alert *a = calloc(1, sizeof(*a));

  if(!a)
    return -ENOMEM;
  a->fd = -1;
  a->syslog = opts->syslog;
  a->facility = opts->syslog_facility ? opts->syslog_facility : LOG_DAEMON;
  if(opts->jsonl_path) {
    a->jsonl_path = strdup(opts->jsonl_path);
    if(!a->jsonl_path) {
      free(a);
      return -ENOMEM;
    }
  }
  *out = a;
  return 0;
}

void alert_close(struct alert *a, void (*closed_cb)(void *arg), void *arg)
{
  struct line *l, *next;

  if(!a) {
    if(closed_cb)
      closed_cb(arg);
    return;
  }
  if(a->pending)
    log_errx("alert: %s: %zu alert(s) never written are lost", a->jsonl_path,
             a->pending);
  for(l = a->head; l; l = next) {
    next = l->next;
    free(l->text);
    free(l);
  }
  if(a->fd >= 0)
    close(a->fd);
  free(a->jsonl_path);
  free(a);
  if(closed_cb)
    closed_cb(arg);
}

int alert_emit(struct alert *a, const struct alert_event *ev)
{
  struct rendered r;
  char *line;
  size_t len = 0;
  int rc;

  render(ev, &r);
  if(a->syslog) {
    to_log_sink(a, ev, &r);
    a->delivered_log++;
  }
  if(!a->jsonl_path)
    return 0;
  line = json_line(ev, &r, &len);
  if(!line) {
    log_errx("alert: out of memory; %s alert lost", alert_type_name(ev->type));
    return -ENOMEM;
  }
  rc = enqueue(a, line, len);
  if(rc) {
    log_errx("alert: out of memory; %s alert lost", alert_type_name(ev->type));
    return rc;
  }
  return alert_flush(a);
}

int alert_reopen(struct alert *a)
{
  if(a->fd >= 0) {
    close(a->fd);
    a->fd = -1;
  }
  return 0;
}

void alert_get_stats(const struct alert *a, struct alert_stats *st)
{
  memset(st, 0, sizeof(*st));
  if(a->syslog) {
    st->sink[st->nsinks].name = "journal";
    st->sink[st->nsinks++].delivered = a->delivered_log;
  }
  if(a->jsonl_path) {
    st->sink[st->nsinks].name = "jsonl";
    st->sink[st->nsinks].delivered = a->delivered_jsonl;
    st->sink[st->nsinks].pending = a->pending;
    st->sink[st->nsinks].dropped = a->dropped;
    /* Full: the next line pushes the oldest out. */
    st->sink[st->nsinks++].full = a->bytes >= ALERT_QUEUE_MAX_BYTES / 10 * 9;
  }
}

size_t alert_pending_count(const struct alert *a)
{
  return a->pending;
}
