/* SPDX-License-Identifier: MIT
 *
 * status: readiness, the wedged-loop verdict, STATUS= and the JSON
 * documents of the health endpoint, from a struct status_view.
 */
#include "status.h"
#include "timex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "log.h"
#include "conflict_json.h"
#include "jsonx.h"
#include "tenant.h"

#ifndef QD_VERSION
#define QD_VERSION "0.0.0"
#endif

time_t status_conflict_since(const struct conflict *c)
{
  return c->occurred ? c->occurred : c->first_seen;
}

void status_count(const struct conflict_set *set, time_t now,
                  struct status_counts *out)
{
  struct conflict_iter it;
  const struct conflict *c;

  memset(out, 0, sizeof(*out));
  if(!set)
    return;
  conflict_iter_init(&it, set);
  while((c = conflict_iter_next(&it))) {
    time_t since = status_conflict_since(c);

    out->total++;
    if((unsigned)c->state <= CONFLICT_STUCK)
      out->by_state[c->state]++;
    if(since && now - since > out->oldest)
      out->oldest = (long)(now - since);
  }
}

static void add_reason(char *why, size_t len, const char *fmt, ...)
    QD_PRINTF(3, 4);

/* add_reason() appends one reason to why, "; " separated. */
static void add_reason(char *why, size_t len, const char *fmt, ...)
{
  size_t used = strlen(why);
  va_list ap;

  if(used && used + 2 < len) {
    memcpy(why + used, "; ", 3);
    used += 2;
  }
  if(used + 1 >= len)
    return;
  va_start(ap, fmt);
  vsnprintf(why + used, len - used, fmt, ap);
  va_end(ap);
}

bool status_ready(const struct status_view *v, time_t now, char *why,
                  size_t len)
{
  struct tenant_stats st;
  struct alert_stats as;
  size_t i;

  why[0] = '\0';
  for(i = 0; i < v->ntenants; i++) {
    const char *name = tenant_name(v->tenants[i]);
    time_t ref;

    tenant_get_stats(v->tenants[i], &st);
    ref = st.last_success > v->started ? st.last_success : v->started;
    if(now - ref > 2 * (time_t)st.interval) {
      if(st.last_success)
        add_reason(why, len,
                   "tenant %s: last good cycle %lds ago, over two poll "
                   "intervals (%us)",
                   name, (long)(now - st.last_success), 2 * st.interval);
      else
        add_reason(why, len,
                   "tenant %s: no good cycle in two poll intervals (%us)", name,
                   2 * st.interval);
    }
    if(st.state_unwritable)
      add_reason(why, len, "tenant %s: its state file cannot be written", name);
    if(st.token == -EACCES || st.token == -EINVAL)
      add_reason(why, len, "tenant %s: the token service refused its %s", name,
                 st.token == -EACCES ? "credentials" : "request");
  }
  if(v->alert) {
    alert_get_stats(v->alert, &as);
    for(i = 0; i < as.nsinks; i++) {
      if(as.sink[i].full)
        add_reason(why, len, "alerts: the %s queue is full (%zu waiting)",
                   as.sink[i].name, as.sink[i].pending);
      if(as.sink[i].unwritable)
        add_reason(why, len,
                   "alerts: the %s spool cannot be written (%zu held in "
                   "memory)",
                   as.sink[i].name, as.sink[i].pending);
    }
  }
  return !why[0];
}

bool status_wedged(const struct status_view *v, time_t now, char *why,
                   size_t len)
{
  struct tenant_stats st;
  size_t i;

  why[0] = '\0';
  for(i = 0; i < v->ntenants; i++) {
    time_t limit;

    tenant_get_stats(v->tenants[i], &st);
    limit = (time_t)st.interval * STATUS_WEDGED_INTERVALS;
    if(limit < STATUS_WEDGED_MIN)
      limit = STATUS_WEDGED_MIN;
    if(st.busy_since && now - st.busy_since > limit)
      add_reason(why, len, "tenant %s: a cycle or sweep has run for %lds",
                 tenant_name(v->tenants[i]), (long)(now - st.busy_since));
  }
  return why[0] != '\0';
}

void status_line(const struct status_view *v, time_t now, char *buf, size_t len)
{
  struct tenant_stats st;
  struct status_counts sc;
  size_t i, conflicts = 0, stuck = 0, failing = 0;
  time_t last = 0;
  char when[32], extra[64] = "";

  for(i = 0; i < v->ntenants; i++) {
    tenant_get_stats(v->tenants[i], &st);
    status_count(tenant_conflicts(v->tenants[i]), now, &sc);
    conflicts += sc.total;
    stuck += sc.by_state[CONFLICT_STUCK];
    failing += st.failures > 0;
    if(st.last_success > last)
      last = st.last_success;
    if(st.last_failure > last)
      last = st.last_failure;
  }
  if(last) {
    timex_format_age((long)(now - last), when, sizeof(when));
    snprintf(extra, sizeof(extra), ", last cycle %s ago", when);
  }
  else
    snprintf(extra, sizeof(extra), ", no cycle yet");
  snprintf(buf, len, "%zu tenant%s, %zu conflict%s (%zu stuck)%s%s",
           v->ntenants, v->ntenants == 1 ? "" : "s", conflicts,
           conflicts == 1 ? "" : "s", stuck, extra, failing ? ", " : "");
  if(failing) {
    size_t used = strlen(buf);

    snprintf(buf + used, len - used, "%zu failing", failing);
  }
}

static const char *token_word(int token)
{
  if(token > 0)
    return "valid";
  if(!token)
    return "unknown";
  return token == -EACCES || token == -EINVAL ? "refused" : "failing";
}

/* tenant_json() returns tenant t's object of /status.json, or NULL when
 * out of memory. */
static cJSON *tenant_json(struct tenant *t, time_t now)
{
  struct tenant_stats st;
  struct status_counts sc;
  cJSON *o = cJSON_CreateObject(), *states;
  const char *result = NULL;
  time_t last;
  int s, rc = 0;

  if(!o)
    return NULL;
  tenant_get_stats(t, &st);
  status_count(tenant_conflicts(t), now, &sc);
  last = st.last_success > st.last_failure ? st.last_success : st.last_failure;
  if(last)
    result =
        st.failures && st.last_failure >= st.last_success ? "failed" : "ok";
  rc |= jsonx_add_str(o, "name", tenant_name(t));
  rc |= jsonx_add_number(o, "conflicts", (double)sc.total);
  states = cJSON_AddObjectToObject(o, "states");
  rc |= states ? 0 : -ENOMEM;
  for(s = CONFLICT_ACTIVE; s <= CONFLICT_STUCK && states; s++)
    rc |= jsonx_add_number(states, conflict_state_name(s),
                           (double)sc.by_state[s]);
  rc |= jsonx_add_number(o, "oldestSeconds", (double)sc.oldest);
  rc |= jsonx_add_time(o, "lastCycle", last);
  rc |= jsonx_add_str(o, "lastResult", result);
  rc |= jsonx_add_time(o, "lastGoodCycle", st.last_success);
  rc |= jsonx_add_time(o, "nextCycle", st.next_cycle);
  rc |= jsonx_add_bool(o, "running", st.busy_since != 0);
  rc |= jsonx_add_number(o, "consecutiveFailures", st.failures);
  rc |= jsonx_add_number(o, "cyclesOk", (double)st.cycles_ok);
  rc |= jsonx_add_number(o, "cyclesFailed", (double)st.cycles_failed);
  rc |= jsonx_add_number(o, "intervalSeconds", st.interval);
  rc |= jsonx_add_str(o, "token", token_word(st.token));
  if(rc) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* sink_json() returns the object of alert sink i of as, or NULL when out
 * of memory. */
static cJSON *sink_json(const struct alert_stats *as, size_t i)
{
  cJSON *o = cJSON_CreateObject();
  int rc;

  if(!o)
    return NULL;
  rc = jsonx_add_str(o, "sink", as->sink[i].name) |
       jsonx_add_number(o, "delivered", (double)as->sink[i].delivered) |
       jsonx_add_number(o, "pending", (double)as->sink[i].pending) |
       jsonx_add_number(o, "dropped", (double)as->sink[i].dropped) |
       jsonx_add_bool(o, "full", as->sink[i].full);
  if(rc) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* add_item() appends item (NULL: creation failed) to arr.  Returns 0 or
 * -ENOMEM (item freed). */
static int add_item(cJSON *arr, cJSON *item)
{
  if(!arr || !item || !cJSON_AddItemToArray(arr, item)) {
    cJSON_Delete(item);
    return -ENOMEM;
  }
  return 0;
}

cJSON *status_json(const struct status_view *v, time_t now)
{
  cJSON *root = cJSON_CreateObject(), *arr, *reasons;
  struct alert_stats as;
  char why[1024];
  size_t i;
  bool ready;
  int rc = 0;

  if(!root)
    return NULL;
  ready = status_ready(v, now, why, sizeof(why));
  rc |= jsonx_add_str(root, "version", QD_VERSION);
  rc |= jsonx_add_number(root, "pid", (double)getpid());
  rc |= jsonx_add_time(root, "started", v->started);
  rc |= jsonx_add_time(root, "now", now);
  rc |= jsonx_add_bool(root, "ready", ready);
  reasons = cJSON_AddArrayToObject(root, "reasons");
  if(!ready)
    rc |= add_item(reasons, cJSON_CreateString(why));
  arr = cJSON_AddArrayToObject(root, "tenants");
  rc |= arr ? 0 : -ENOMEM;
  for(i = 0; !rc && i < v->ntenants; i++)
    rc |= add_item(arr, tenant_json(v->tenants[i], now));
  arr = cJSON_AddArrayToObject(root, "alerts");
  rc |= arr ? 0 : -ENOMEM;
  if(v->alert && !rc) {
    alert_get_stats(v->alert, &as);
    for(i = 0; !rc && i < as.nsinks; i++)
      rc |= add_item(arr, sink_json(&as, i));
  }
  if(rc || !reasons) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

cJSON *status_conflicts_json(const struct status_view *v, const char *tenant,
                             bool *found)
{
  cJSON *root = cJSON_CreateObject(), *arr;
  size_t i;
  int rc = 0;

  *found = !tenant;
  if(!root)
    return NULL;
  arr = cJSON_AddArrayToObject(root, "tenants");
  rc |= arr ? 0 : -ENOMEM;
  for(i = 0; !rc && i < v->ntenants; i++) {
    const struct conflict_set *set = tenant_conflicts(v->tenants[i]);
    const char *name = tenant_name(v->tenants[i]);
    cJSON *o, *list;

    if(tenant && strcmp(tenant, name))
      continue;
    *found = true;
    o = cJSON_CreateObject();
    rc |= add_item(arr, o);
    if(rc)
      break;
    rc |= jsonx_add_str(o, "name", name);
    list = set ? conflict_json_encode_set(set) : cJSON_CreateArray();
    if(!list || !cJSON_AddItemToObject(o, "conflicts", list)) {
      cJSON_Delete(list);
      rc = -ENOMEM;
    }
  }
  if(rc) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}
