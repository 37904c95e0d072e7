/* SPDX-License-Identifier: MIT
 *
 * status: readiness, the wedged-loop verdict, STATUS= and the JSON
 * documents of the health endpoint, from a struct status_view.
 */
#include "status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "log.h"
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
    if(st.token == -EACCES || st.token == -EINVAL)
      add_reason(why, len, "tenant %s: the token service refused its %s", name,
                 st.token == -EACCES ? "credentials" : "request");
  }
  if(v->alert) {
    alert_get_stats(v->alert, &as);
    for(i = 0; i < as.nsinks; i++)
      if(as.sink[i].full)
        add_reason(why, len, "alerts: the %s queue is full (%zu waiting)",
                   as.sink[i].name, as.sink[i].pending);
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

void status_age(long s, char *buf, size_t len)
{
  if(s < 0)
    s = 0;
  if(s < 120)
    snprintf(buf, len, "%lds", s);
  else if(s < 7200)
    snprintf(buf, len, "%ldm", s / 60);
  else if(s < 172800)
    snprintf(buf, len, "%ldh", s / 3600);
  else
    snprintf(buf, len, "%ldd", s / 86400);
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
    status_age((long)(now - last), when, sizeof(when));
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

/* add_time() adds member name as an RFC 3339 time, or null for 0. */
static void add_time(cJSON *obj, const char *name, time_t t)
{
  char buf[CONFLICT_TIME_LEN];

  if(!t) {
    cJSON_AddNullToObject(obj, name);
    return;
  }
  conflict_format_time(t, buf, sizeof(buf));
  cJSON_AddStringToObject(obj, name, buf);
}

static const char *token_word(int token)
{
  if(token > 0)
    return "valid";
  if(!token)
    return "unknown";
  return token == -EACCES || token == -EINVAL ? "refused" : "failing";
}

static cJSON *tenant_json(struct tenant *t, time_t now)
{
  struct tenant_stats st;
  struct status_counts sc;
  cJSON *o = cJSON_CreateObject(), *states;
  time_t last;
  int s;

  if(!o)
    return NULL;
  tenant_get_stats(t, &st);
  status_count(tenant_conflicts(t), now, &sc);
  last = st.last_success > st.last_failure ? st.last_success : st.last_failure;
  cJSON_AddStringToObject(o, "name", tenant_name(t));
  cJSON_AddNumberToObject(o, "conflicts", (double)sc.total);
  states = cJSON_AddObjectToObject(o, "states");
  for(s = CONFLICT_ACTIVE; s <= CONFLICT_STUCK && states; s++)
    cJSON_AddNumberToObject(states, conflict_state_name(s),
                            (double)sc.by_state[s]);
  cJSON_AddNumberToObject(o, "oldestSeconds", (double)sc.oldest);
  add_time(o, "lastCycle", last);
  if(last)
    cJSON_AddStringToObject(
        o, "lastResult",
        st.failures && st.last_failure >= st.last_success ? "failed" : "ok");
  else
    cJSON_AddNullToObject(o, "lastResult");
  add_time(o, "lastGoodCycle", st.last_success);
  add_time(o, "nextCycle", st.next_cycle);
  cJSON_AddBoolToObject(o, "running", st.busy_since != 0);
  cJSON_AddNumberToObject(o, "consecutiveFailures", st.failures);
  cJSON_AddNumberToObject(o, "cyclesOk", (double)st.cycles_ok);
  cJSON_AddNumberToObject(o, "cyclesFailed", (double)st.cycles_failed);
  cJSON_AddNumberToObject(o, "intervalSeconds", st.interval);
  cJSON_AddStringToObject(o, "token", token_word(st.token));
  return o;
}

cJSON *status_json(const struct status_view *v, time_t now)
{
  cJSON *root = cJSON_CreateObject(), *arr, *reasons;
  struct alert_stats as;
  char why[1024];
  size_t i;
  bool ready;

  if(!root)
    return NULL;
  cJSON_AddStringToObject(root, "version", QD_VERSION);
  cJSON_AddNumberToObject(root, "pid", (double)getpid());
  add_time(root, "started", v->started);
  add_time(root, "now", now);
  ready = status_ready(v, now, why, sizeof(why));
  cJSON_AddBoolToObject(root, "ready", ready);
  reasons = cJSON_AddArrayToObject(root, "reasons");
  if(!ready && reasons)
    cJSON_AddItemToArray(reasons, cJSON_CreateString(why));
  arr = cJSON_AddArrayToObject(root, "tenants");
  for(i = 0; arr && i < v->ntenants; i++)
    cJSON_AddItemToArray(arr, tenant_json(v->tenants[i], now));
  arr = cJSON_AddArrayToObject(root, "alerts");
  if(v->alert && arr) {
    alert_get_stats(v->alert, &as);
    for(i = 0; i < as.nsinks; i++) {
      cJSON *o = cJSON_CreateObject();

      if(!o)
        break;
      cJSON_AddStringToObject(o, "sink", as.sink[i].name);
      cJSON_AddNumberToObject(o, "delivered", (double)as.sink[i].delivered);
      cJSON_AddNumberToObject(o, "pending", (double)as.sink[i].pending);
      cJSON_AddNumberToObject(o, "dropped", (double)as.sink[i].dropped);
      cJSON_AddBoolToObject(o, "full", as.sink[i].full);
      cJSON_AddItemToArray(arr, o);
    }
  }
  return root;
}

cJSON *status_conflicts_json(const struct status_view *v, const char *tenant,
                             bool *found)
{
  cJSON *root = cJSON_CreateObject(), *arr;
  size_t i;

  *found = !tenant;
  if(!root)
    return NULL;
  arr = cJSON_AddArrayToObject(root, "tenants");
  for(i = 0; arr && i < v->ntenants; i++) {
    const struct conflict_set *set = tenant_conflicts(v->tenants[i]);
    const char *name = tenant_name(v->tenants[i]);
    cJSON *o, *list;

    if(tenant && strcmp(tenant, name))
      continue;
    *found = true;
    o = cJSON_CreateObject();
    if(!o)
      goto oom;
    cJSON_AddItemToArray(arr, o);
    cJSON_AddStringToObject(o, "name", name);
    list = set ? conflict_set_to_json(set) : cJSON_CreateArray();
    if(!list)
      goto oom;
    cJSON_AddItemToObject(o, "conflicts", list);
  }
  if(arr)
    return root;
oom:
  cJSON_Delete(root);
  return NULL;
}
