/* SPDX-License-Identifier: MIT
 *
 * alert: renders an event once into the alert object, then offers it
 * to every sink whose filter takes it (sink.c formats and spools it);
 * flood control per cycle.
 */
#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "alertseq.h"
#include "conflict_json.h"
#include "jsonx.h"
#include "log.h"
#include "sink.h"
#include "timex.h"

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
    {"tenant.failing", "aeff25c1ae474470b0b00ec93d598200", LOG_ERR},
    {"tenant.recovered", "18b12b18f1e84fcfade8b67dd58d88cc", LOG_NOTICE},
    {"credential.expiring", "e5b5ede415bf4b81ba3c3b8019095f06", LOG_WARNING},
    {"credential.expired", "c633390eb965404aab92d8ce060d01d0", LOG_ERR},
    {"file.unreadable", "421161d933f74cccad37ec54f72ec08f", LOG_ERR},
    {"spool.full", "6dd5fdd5627e4fdba06b3c03e970ca5c", LOG_CRIT},
    {"alert.flood", "3978ad141d0349788818e1fadfb3cd25", LOG_WARNING},
};

struct alert {
  struct sink **sinks;
  size_t nsinks;
  unsigned flood_limit;
  struct alertseq seq; /* what the tenants' state files committed */
  int outstanding;     /* sinks closing or draining (+1 in alert_close()) */
  bool closing;        /* alert_close() was called */
  void (*close_cb)(void *arg);
  void *close_arg;
};

enum alert_type alert_type_parse(const char *name)
{
  size_t i;

  for(i = 0; i < ALERT_NTYPES; i++)
    if(!strcmp(types[i].name, name))
      return (enum alert_type)i;
  return ALERT_NTYPES;
}

const char *alert_filter_check(const char *events)
{
  static char bad[64];
  const char *p = events;

  while(*p) {
    size_t n = strcspn(p, " ,\t"), i;
    bool ok = false;

    for(i = 0; i < ALERT_NTYPES && n && !ok; i++)
      ok = (strlen(types[i].name) == n && !strncmp(types[i].name, p, n)) ||
           (n >= 2 && p[n - 1] == '*' && !strncmp(types[i].name, p, n - 1));
    if(n && !ok) {
      snprintf(bad, sizeof(bad), "%.*s", (int)(n < 60 ? n : 60), p);
      return bad;
    }
    p += n;
    while(*p == ' ' || *p == ',' || *p == '\t')
      p++;
  }
  return NULL;
}

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
                                         ? types[ev->type].severity
                                         : LOG_NOTICE);
  if(gethostname(r->host, sizeof(r->host) - 1) < 0)
    r->host[0] = '\0';
  r->host[sizeof(r->host) - 1] = '\0';
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

/* ===== Routing ===== */

/* deliver() hands the alert object to every sink that wants it; with
 * files_only, only to file sinks (flood control keeps the details
 * there). */
static int deliver(struct alert *a, const cJSON *o,
                   const struct alert_event *ev, int severity, bool files_only)
{
  enum alert_type type = ev->type;
  size_t i;
  int rc = 0, r;

  for(i = 0; i < a->nsinks; i++) {
    struct sink *s = a->sinks[i];

    if(files_only && s->type != &sink_file_type)
      continue;
    if(!sink_wants(s, alert_type_name(type), severity))
      continue;
    r = sink_offer(s, o, ev->tenant, ev->seq);
    if(r && !rc)
      rc = r;
  }
  return rc;
}

/* count() records an alert of fl's cycle; returns true when it is past
 * the flood limit and goes to the files only. */
static bool count(struct alert *a, const struct alert_event *ev,
                  struct alert_flood *fl)
{
  if(!fl || !a->flood_limit || ev->daemon)
    return false;
  fl->count++;
  if((unsigned)ev->type < ALERT_NTYPES)
    fl->by_type[ev->type]++;
  if(fl->count <= a->flood_limit)
    return false;
  if(fl->nkeys < ALERT_FLOOD_KEYS && ev->conflict) {
    char *k = strdup(ev->conflict->key);

    if(k)
      fl->keys[fl->nkeys++] = k;
  }
  fl->withheld++;
  return true;
}

int alert_emit_flood(struct alert *a, const struct alert_event *ev,
                     struct alert_flood *fl)
{
  struct rendered r;
  cJSON *o;
  bool withheld;
  int rc;

  if(!a)
    return 0;
  render(ev, &r);
  o = canonical(ev, &r);
  if(!o) {
    log_errx("alert: out of memory; %s alert lost", alert_type_name(ev->type));
    return -ENOMEM;
  }
  withheld = count(a, ev, fl);
  rc = deliver(a, o, ev, r.severity, withheld);
  cJSON_Delete(o);
  return rc;
}

int alert_emit(struct alert *a, const struct alert_event *ev)
{
  return alert_emit_flood(a, ev, NULL);
}

void alert_flood_begin(struct alert_flood *fl, const char *tenant)
{
  memset(fl, 0, sizeof(*fl));
  fl->tenant = tenant;
}

void alert_flood_end(struct alert *a, struct alert_flood *fl)
{
  struct alert_daemon dm = {0};
  struct alert_event ev;
  char cause[512];
  size_t i, pos = 0;

  if(a && fl->withheld) {
    pos = (size_t)snprintf(cause, sizeof(cause),
                           "%zu alerts in one cycle, over the limit of %u; "
                           "%zu sent to file sinks only:",
                           fl->count, a->flood_limit, fl->withheld);
    for(i = 0; i < ALERT_NTYPES && pos < sizeof(cause); i++)
      if(fl->by_type[i])
        pos += (size_t)snprintf(cause + pos, sizeof(cause) - pos, " %s %zu",
                                types[i].name, fl->by_type[i]);
    dm.cause = cause;
    dm.count = (long)fl->withheld;
    dm.keys = (const char *const *)fl->keys;
    dm.nkeys = fl->nkeys;
    alert_event_init(&ev, ALERT_FLOOD, fl->tenant ? fl->tenant : "-", NULL);
    ev.daemon = &dm;
    ev.seq = fl->tenant ? fl->seq : 0;
    alert_emit(a, &ev);
  }
  for(i = 0; i < fl->nkeys; i++)
    free(fl->keys[i]);
  memset(fl, 0, sizeof(*fl));
}

/* on_full() raises spool.full once per episode of a sink. */
static void on_full(struct sink *s, void *arg)
{
  struct alert *a = arg;
  struct alert_daemon dm = {0};
  struct alert_event ev;
  char cause[256];

  snprintf(cause, sizeof(cause),
           "the spool of sink %s is full; new alerts to it are dropped "
           "(%llu so far)",
           s->name, (unsigned long long)spool_dropped(s->spool));
  dm.cause = cause;
  dm.sink = s->name;
  dm.count = (long)spool_dropped(s->spool);
  alert_event_init(&ev, ALERT_SPOOL_FULL, "-", NULL);
  ev.daemon = &dm;
  alert_emit(a, &ev);
}

int alert_emit_daemon(struct alert *a, enum alert_type type, const char *tenant,
                      const struct alert_daemon *dm)
{
  struct alert_event ev;

  alert_event_init(&ev, type, tenant, NULL);
  ev.daemon = dm;
  return alert_emit(a, &ev);
}

/* The sections of opts in order, the implicit sinks of [alerts] syslog
 * and jsonl_file first; those two are built in legacy, which must
 * outlive the list. */
struct sections {
  struct cfg_sink legacy[2];
  const struct cfg_sink **list;
  size_t n;
};

/* collect() fills sc from opts.  Returns 0 or -ENOMEM. */
static int collect(const struct alert_opts *opts, struct sections *sc)
{
  const struct cfg_sink *c;
  size_t nl = 0, n = 0;

  memset(sc, 0, sizeof(*sc));
  if(opts->syslog) {
    sc->legacy[nl].name = (char *)(uintptr_t) "journal";
    sc->legacy[nl].type = CFG_SINK_JOURNAL;
    sc->legacy[nl].min_severity = LOG_DEBUG;
    sc->legacy[nl].facility =
        opts->syslog_facility ? opts->syslog_facility / 8 : 3;
    sc->legacy[nl].spool_max = 64UL << 20;
    nl++;
  }
  if(opts->jsonl_path) {
    sc->legacy[nl].name = (char *)(uintptr_t) "jsonl";
    sc->legacy[nl].type = CFG_SINK_FILE;
    sc->legacy[nl].path = (char *)(uintptr_t)opts->jsonl_path;
    sc->legacy[nl].min_severity = LOG_DEBUG;
    sc->legacy[nl].spool_max = 64UL << 20;
    nl++;
  }
  for(c = opts->sinks; c; c = c->next)
    n++;
  sc->list = calloc(nl + n ? nl + n : 1, sizeof(*sc->list));
  if(!sc->list)
    return -ENOMEM;
  for(n = 0; n < nl; n++)
    sc->list[n] = &sc->legacy[n];
  for(c = opts->sinks; c; c = c->next)
    sc->list[n++] = c;
  sc->n = n;
  return 0;
}

int alert_open(uv_loop_t *loop, const struct alert_opts *opts,
               struct alert **out)
{
  struct alert *a = calloc(1, sizeof(*a));
  struct sections sc;
  size_t i;
  int rc;

  if(!a)
    return -ENOMEM;
  a->flood_limit = opts->flood_limit;
  rc = collect(opts, &sc);
  a->sinks = rc ? NULL : calloc(sc.n ? sc.n : 1, sizeof(*a->sinks));
  if(!a->sinks) {
    free(sc.list);
    free(a);
    return -ENOMEM;
  }
  for(i = 0; !rc && i < sc.n; i++) {
    rc = sink_open(loop, sc.list[i], opts->spool_dir, on_full, a, &a->sinks[i]);
    if(!rc)
      a->nsinks++;
  }
  free(sc.list);
  if(rc) {
    alert_close(a, NULL, NULL);
    return rc;
  }
  for(i = 0; i < a->nsinks; i++)
    spool_set_gate(a->sinks[i]->spool, alertseq_gate, &a->seq);
  *out = a;
  return 0;
}

static void sink_closed(void *arg)
{
  struct alert *a = arg;
  void (*cb)(void *) = a->close_cb;
  void *cb_arg = a->close_arg;

  if(--a->outstanding || !a->closing)
    return;
  free(a->sinks);
  alertseq_free(&a->seq);
  free(a);
  if(cb)
    cb(cb_arg);
}

void alert_close(struct alert *a, void (*cb)(void *arg), void *arg)
{
  size_t i;

  if(!a) {
    if(cb)
      cb(arg);
    return;
  }
  a->close_cb = cb;
  a->close_arg = arg;
  a->closing = true;
  a->outstanding += (int)a->nsinks + 1;
  for(i = 0; i < a->nsinks; i++)
    sink_close(a->sinks[i], sink_closed, a);
  sink_closed(a);
}

bool alert_busy(const struct alert *a)
{
  return a && a->outstanding > 0;
}

/* find() is the index of the section called name in sc, or sc->n. */
static size_t find(const struct sections *sc, const char *name)
{
  size_t i;

  for(i = 0; i < sc->n && strcmp(sc->list[i]->name, name); i++)
    ;
  return i;
}

/* retire() closes s, a sink no longer configured; its spool file stays
 * and is named in the log while it holds alerts. */
static void retire(struct alert *a, struct sink *s)
{
  size_t pending = spool_pending(s->spool);

  if(pending)
    log_warnx("reload: sink %s removed; %zu undelivered alert%s stay in %s "
              "until a sink of that name is configured again",
              s->name, pending, pending == 1 ? "" : "s", spool_path(s->spool));
  else
    log_info("reload: sink %s removed", s->name);
  a->outstanding++;
  sink_close(s, sink_closed, a);
}

int alert_reload(struct alert *a, uv_loop_t *loop, const struct alert_opts *old,
                 const struct alert_opts *opts)
{
  struct sections oc, nc;
  struct sink **sinks = NULL;
  size_t i, j;
  int rc;

  if(alert_busy(a))
    return -EBUSY;
  rc = collect(old, &oc);
  if(!rc && (rc = collect(opts, &nc)) != 0)
    free(oc.list);
  if(rc)
    return rc;
  /* a->sinks[i] was opened from oc.list[i]. */
  sinks = calloc(nc.n ? nc.n : 1, sizeof(*sinks));
  rc = !sinks ? -ENOMEM : oc.n != a->nsinks ? -EINVAL : 0;
  /* Open what is new or changed; a changed sink has no spool yet. */
  for(i = 0; !rc && i < nc.n; i++) {
    j = find(&oc, nc.list[i]->name);
    if(j < oc.n && cfg_sink_same(oc.list[j], nc.list[i]))
      sinks[i] = a->sinks[j];
    else
      rc = sink_open(loop, nc.list[i], j < oc.n ? NULL : opts->spool_dir,
                     on_full, a, &sinks[i]);
  }
  for(j = 0; !rc && j < nc.n; j++)
    if(sinks[j]->spool)
      spool_set_gate(sinks[j]->spool, alertseq_gate, &a->seq);
  if(rc) {
    /* Undo: close what was opened for the new file, keep the rest. */
    while(i-- > 0) {
      j = find(&oc, nc.list[i]->name);
      if(sinks[i] && (j == oc.n || sinks[i] != a->sinks[j])) {
        a->outstanding++;
        sink_close(sinks[i], sink_closed, a);
      }
    }
    goto out;
  }
  for(j = 0; j < oc.n; j++) {
    i = find(&nc, oc.list[j]->name);
    if(i == nc.n)
      retire(a, a->sinks[j]);
    else if(sinks[i] != a->sinks[j]) {
      log_info("reload: sink %s changed; alerts it holds carry over",
               a->sinks[j]->name);
      a->outstanding++;
      sink_hand_over(a->sinks[j], sinks[i], sink_closed, a);
    }
  }
  for(i = 0; i < nc.n; i++)
    if(find(&oc, nc.list[i]->name) == oc.n)
      log_info("reload: sink %s added", nc.list[i]->name);
  free(a->sinks);
  a->sinks = sinks;
  a->nsinks = nc.n;
  a->flood_limit = opts->flood_limit;
  sinks = NULL;
out:
  free(sinks);
  free(oc.list);
  free(nc.list);
  return rc;
}

void alert_reopen(struct alert *a)
{
  size_t i;

  for(i = 0; a && i < a->nsinks; i++)
    sink_reopen(a->sinks[i]);
}

void alert_get_stats(const struct alert *a, struct alert_stats *st)
{
  size_t i;

  memset(st, 0, sizeof(*st));
  for(i = 0; a && i < a->nsinks && i < ALERT_MAX_SINKS; i++) {
    const struct sink *k = a->sinks[i];
    struct alert_sink_stats *ss = &st->sink[st->nsinks++];

    ss->name = k->name;
    ss->delivered = (unsigned long)k->delivered;
    ss->pending = spool_pending(k->spool);
    ss->dropped = (unsigned long)spool_dropped(k->spool);
    ss->full = k->full;
    ss->unwritable = spool_failing(k->spool);
  }
}

size_t alert_pending_count(const struct alert *a)
{
  size_t i, n = 0;

  for(i = 0; a && i < a->nsinks; i++)
    n += spool_pending(a->sinks[i]->spool);
  return n;
}

/* ===== Alerts committed by the state files ===== */

/* One alert_sync(): the spools still to report. */
struct sync {
  void (*cb)(void *arg);
  void *arg;
  size_t remaining;
};

static void synced_one(void *arg)
{
  struct sync *sy = arg;

  if(--sy->remaining)
    return;
  sy->cb(sy->arg);
  free(sy);
}

int alert_sync(struct alert *a, void (*cb)(void *arg), void *arg)
{
  struct sync *sy;
  size_t i;

  if(!a || !a->nsinks) {
    cb(arg);
    return 0;
  }
  sy = calloc(1, sizeof(*sy));
  if(!sy)
    return -ENOMEM;
  sy->cb = cb;
  sy->arg = arg;
  sy->remaining = a->nsinks + 1;
  for(i = 0; i < a->nsinks; i++)
    if(!a->sinks[i]->spool ||
       spool_when_synced(a->sinks[i]->spool, synced_one, sy))
      sy->remaining--; /* nothing to wait for, or no memory to wait */
  synced_one(sy);
  return 0;
}

/* kick_all() starts the deliveries the gate may have opened. */
static void kick_all(struct alert *a)
{
  size_t i;

  for(i = 0; i < a->nsinks; i++)
    sink_kick(a->sinks[i]);
}

void alert_commit(struct alert *a, const char *tenant, uint64_t seq)
{
  if(!a)
    return;
  if(alertseq_set(&a->seq, tenant, seq))
    log_errx("alert: out of memory recording the alerts of tenant %s as "
             "saved; they wait in the spools",
             tenant);
  kick_all(a);
}

int alert_recover(struct alert *a, const char *tenant, uint64_t seq)
{
  size_t i;
  long n;
  int rc = 0;

  if(!a)
    return 0;
  if(alertseq_set(&a->seq, tenant, seq))
    return -ENOMEM;
  for(i = 0; i < a->nsinks; i++) {
    if(!a->sinks[i]->spool)
      continue;
    n = spool_void(a->sinks[i]->spool, tenant, seq);
    if(n < 0 && !rc)
      rc = (int)n;
    else if(n > 0)
      log_notice("sink %s: %ld alert%s of tenant %s dropped: spooled after "
                 "its last saved state, whose cycle is done again",
                 a->sinks[i]->name, n, n == 1 ? "" : "s", tenant);
  }
  kick_all(a);
  return rc;
}

void alert_started(struct alert *a)
{
  if(!a)
    return;
  alertseq_started(&a->seq);
  kick_all(a);
}
