/* SPDX-License-Identifier: MIT
 *
 * outbox: conflict alerts held until their state is saved, then sent a
 * slice per loop iteration; see outbox.h.
 */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sweep.h"

struct outbox_item {
  enum alert_type type;
  struct conflict *c;    /* the conflict as it was when queued */
  struct alert_sweep sw; /* valid when has_sw */
  bool has_sw;
  struct timespec when; /* the event's time */
  time_t classified_at; /* the time its class is worked out for */
};

static void on_idle(uv_idle_t *h);

/* Released batches up to this size are sent in one go. */
#define OUTBOX_AT_ONCE 64

void outbox_init(struct outbox *ob, uv_loop_t *loop, struct alert *a,
                 const char *tenant, const struct classify_opts *opts)
{
  memset(ob, 0, sizeof(*ob));
  ob->alert = a;
  ob->tenant = tenant;
  ob->opts = opts;
  uv_idle_init(loop, &ob->idle);
  ob->idle.data = ob;
}

/* emit_one() sends one alert about c, counted in flood when not NULL; sw
 * may be NULL.  Failures are logged by the alert module. */
static void emit_one(struct outbox *ob, enum alert_type type,
                     const struct conflict *c, const struct alert_sweep *sw,
                     const struct timespec *when, time_t classified_at,
                     struct alert_flood *flood)
{
  struct classify_result cr;
  struct alert_event ev;

  classify_conflict(c, ob->opts, classified_at, &cr);
  alert_event_init(&ev, type, ob->tenant, c);
  if(when)
    ev.time = *when;
  ev.classification = &cr;
  ev.sweep = sw;
  alert_emit_flood(ob->alert, &ev, flood);
}

/* grow() makes room for one more item.  Returns false when out of
 * memory. */
static bool grow(struct outbox *ob)
{
  size_t cap = ob->cap ? ob->cap * 2 : 16;
  struct outbox_item *v;

  if(ob->n < ob->cap)
    return true;
  v = realloc(ob->v, cap * sizeof(*v));
  if(!v)
    return false;
  ob->v = v;
  ob->cap = cap;
  return true;
}

void outbox_add(struct outbox *ob, enum alert_type type,
                const struct conflict *c, const struct alert_sweep *sw,
                time_t now)
{
  struct outbox_item *it;

  if(!grow(ob) || !(ob->v[ob->n].c = conflict_dup(c))) {
    log_errx("tenant %s: out of memory holding a %s alert about %s until "
             "the state is saved; sending it now",
             ob->tenant, alert_type_name(type), c->key);
    emit_one(ob, type, c, sw, NULL, now, NULL);
    return;
  }
  it = &ob->v[ob->n++];
  sweep_carry(it->c, c);
  it->type = type;
  it->has_sw = sw != NULL;
  if(sw)
    it->sw = *sw;
  clock_gettime(CLOCK_REALTIME, &it->when);
  it->classified_at = now;
}

/* send_next() sends and frees the oldest released item. */
static void send_next(struct outbox *ob)
{
  struct outbox_item *it = &ob->v[ob->next++];

  emit_one(ob, it->type, it->c, it->has_sw ? &it->sw : NULL, &it->when,
           it->classified_at, ob->flood_on ? &ob->flood : NULL);
  conflict_free(it->c);
  it->c = NULL;
}

/* finish() ends the released batch once all of it is sent: the flood
 * summary, the items still waiting moved to the front. */
static void finish(struct outbox *ob)
{
  if(ob->flood_on)
    alert_flood_end(ob->alert, &ob->flood);
  ob->flood_on = false;
  memmove(ob->v, ob->v + ob->next, (ob->n - ob->next) * sizeof(*ob->v));
  ob->n -= ob->next;
  ob->next = ob->ready = 0;
  uv_idle_stop(&ob->idle);
}

/* send_all() sends the rest of the released batch at once. */
static void send_all(struct outbox *ob)
{
  while(ob->next < ob->ready)
    send_next(ob);
  if(ob->ready)
    finish(ob);
}

/* on_idle() sends released alerts for at most OUTBOX_SLICE_MS (at least
 * one), then lets the loop poll again. */
static void on_idle(uv_idle_t *h)
{
  struct outbox *ob = h->data;
  uint64_t until = uv_hrtime() + (uint64_t)OUTBOX_SLICE_MS * 1000000;

  do
    send_next(ob);
  while(ob->next < ob->ready && uv_hrtime() < until);
  if(ob->next == ob->ready)
    finish(ob);
}

void outbox_release(struct outbox *ob, bool flood)
{
  send_all(ob);
  if(!ob->n)
    return;
  ob->ready = ob->n;
  ob->flood_on = flood;
  if(flood)
    alert_flood_begin(&ob->flood, ob->tenant);
  /* A usual cycle's few alerts go out at once, before the cycle's log
   * line; only a larger batch is spread over loop iterations. */
  if(ob->n <= OUTBOX_AT_ONCE) {
    send_all(ob);
    return;
  }
  uv_idle_start(&ob->idle, on_idle);
}

size_t outbox_pending(const struct outbox *ob)
{
  return ob->ready - ob->next;
}

static void on_idle_closed(uv_handle_t *h)
{
  struct outbox *ob = h->data;
  size_t i;

  for(i = 0; i < ob->n; i++)
    conflict_free(ob->v[i].c);
  free(ob->v);
  ob->v = NULL;
  ob->n = ob->cap = 0;
  if(ob->closed_cb)
    ob->closed_cb(ob->closed_arg);
}

void outbox_close(struct outbox *ob, void (*closed_cb)(void *arg), void *arg)
{
  send_all(ob);
  ob->closed_cb = closed_cb;
  ob->closed_arg = arg;
  uv_close((uv_handle_t *)&ob->idle, on_idle_closed);
}
