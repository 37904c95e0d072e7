/* SPDX-License-Identifier: MIT
 *
 * outbox: conflict alerts sent a slice per loop iteration into the
 * spools, held there until their state is saved; see outbox.h.
 */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#include "alert_event.h"
#include "log.h"

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

/* A larger batch is sent this many alerts at a time, each group once the
 * spools have the one before on disk: a spooled record's bytes leave
 * memory once on disk (spool.h), so at most this many rendered alerts
 * (about 3 KB each, per sink) wait in memory, not the whole release. */
#define OUTBOX_WINDOW 128

void outbox_init(struct outbox *ob, uv_loop_t *loop, struct alert *a,
                 const char *tenant, const struct classify_opts *opts,
                 uint64_t *seq)
{
  memset(ob, 0, sizeof(*ob));
  ob->alert = a;
  ob->tenant = tenant;
  ob->opts = opts;
  ob->seq = seq;
  uv_idle_init(loop, &ob->idle);
  ob->idle.data = ob;
}

/* emit_one() sends one alert about c, counted in flood when not NULL; sw
 * may be NULL.  With seq > 0 it is held until its state is saved.
 * Failures are logged by the alert module. */
static void emit_one(struct outbox *ob, enum alert_type type,
                     const struct conflict *c, const struct alert_sweep *sw,
                     const struct timespec *when, time_t classified_at,
                     uint64_t seq, struct alert_flood *flood)
{
  struct classify_result cr;
  struct alert_event ev;

  classify_conflict(c, ob->opts, classified_at, &cr);
  alert_event_init(&ev, type, ob->tenant, c);
  if(when)
    ev.time = *when;
  ev.classification = &cr;
  ev.sweep = sw;
  ev.seq = seq;
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

  if(!grow(ob) || !(ob->v[ob->n].c = conflict_snapshot(c))) {
    log_errx("tenant %s: out of memory holding a %s alert about %s until "
             "the state is saved; sending it now",
             ob->tenant, alert_type_name(type), c->key);
    emit_one(ob, type, c, sw, NULL, now, 0, NULL);
    return;
  }
  it = &ob->v[ob->n++];
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
           it->classified_at, ++*ob->seq, ob->flood_on ? &ob->flood : NULL);
  conflict_free(it->c);
  it->c = NULL;
}

static void maybe_closed(struct outbox *ob);

/* on_synced() tells the owner its release is on disk. */
static void on_synced(void *arg)
{
  struct outbox *ob = arg;

  ob->syncing = false;
  ob->spooled(ob->spooled_arg);
  maybe_closed(ob);
}

/* finish() ends the released batch once all of it is sent: the flood
 * summary (numbered after the batch), the items still waiting moved to
 * the front; then it waits for the spools. */
static void finish(struct outbox *ob)
{
  if(ob->flood_on) {
    ob->flood.seq = ++*ob->seq;
    alert_flood_end(ob->alert, &ob->flood);
  }
  ob->flood_on = false;
  memmove(ob->v, ob->v + ob->next, (ob->n - ob->next) * sizeof(*ob->v));
  ob->n -= ob->next;
  ob->next = ob->ready = 0;
  uv_idle_stop(&ob->idle);
  ob->syncing = true;
  if(alert_sync(ob->alert, on_synced, ob)) {
    log_errx("tenant %s: out of memory waiting for the spools; saving the "
             "state now",
             ob->tenant);
    on_synced(ob);
  }
}

/* send_all() sends the rest of the released batch at once. */
static void send_all(struct outbox *ob)
{
  while(ob->next < ob->ready)
    send_next(ob);
  if(ob->ready)
    finish(ob);
}

/* on_window_synced() sends the next group of the release, now that the
 * spools have the last one on disk. */
static void on_window_synced(void *arg)
{
  struct outbox *ob = arg;

  ob->window_wait = false;
  if(ob->closing)
    maybe_closed(ob);
  else if(ob->next < ob->ready)
    uv_idle_start(&ob->idle, on_idle);
}

/* on_idle() sends released alerts for at most OUTBOX_SLICE_MS (at least
 * one), then lets the loop poll again; after OUTBOX_WINDOW of them it
 * waits for the spools to have them on disk. */
static void on_idle(uv_idle_t *h)
{
  struct outbox *ob = h->data;
  uint64_t until = uv_hrtime() + (uint64_t)OUTBOX_SLICE_MS * 1000000;

  do
    send_next(ob);
  while(ob->next < ob->ready && ++ob->window < OUTBOX_WINDOW &&
        uv_hrtime() < until);
  if(ob->next == ob->ready) {
    ob->window = 0;
    finish(ob);
    return;
  }
  if(ob->window < OUTBOX_WINDOW)
    return;
  ob->window = 0;
  uv_idle_stop(&ob->idle);
  ob->window_wait = true;
  /* Out of memory to wait, the next group goes at once: more alerts in
   * memory for a while beat alerts held up. */
  if(alert_sync(ob->alert, on_window_synced, ob))
    on_window_synced(ob);
}

void outbox_release(struct outbox *ob, bool flood, outbox_spooled_cb spooled,
                    void *arg)
{
  ob->spooled = spooled;
  ob->spooled_arg = arg;
  ob->ready = ob->n;
  ob->flood_on = flood;
  if(flood)
    alert_flood_begin(&ob->flood, ob->tenant);
  if(!ob->n) {
    /* Nothing to spool: the save may start at once. */
    ob->flood_on = false;
    ob->syncing = true;
    on_synced(ob);
    return;
  }
  /* A usual cycle's few alerts go out at once; only a larger batch is
   * spread over loop iterations. */
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

/* maybe_closed() frees the items and tells the owner once a close was
 * asked for, the handle is closed and no wait for the spools is left. */
static void maybe_closed(struct outbox *ob)
{
  size_t i;

  if(!ob->closing || !ob->idle_closed || ob->syncing || ob->window_wait)
    return;
  ob->closing = false;
  for(i = 0; i < ob->n; i++)
    conflict_free(ob->v[i].c);
  free(ob->v);
  ob->v = NULL;
  ob->n = ob->cap = 0;
  if(ob->closed_cb)
    ob->closed_cb(ob->closed_arg);
}

static void on_idle_closed(uv_handle_t *h)
{
  struct outbox *ob = h->data;

  ob->idle_closed = true;
  maybe_closed(ob);
}

void outbox_close(struct outbox *ob, void (*closed_cb)(void *arg), void *arg)
{
  send_all(ob);
  ob->closing = true;
  ob->closed_cb = closed_cb;
  ob->closed_arg = arg;
  uv_close((uv_handle_t *)&ob->idle, on_idle_closed);
}
