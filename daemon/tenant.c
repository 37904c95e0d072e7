/* SPDX-License-Identifier: MIT
 *
 * tenant: the per-tenant runtime.  A cycle runs the inventory; only a
 * complete cycle changes what the daemon believes.  The new inventory
 * keeps the pairing and sweep record of every conflict seen before, the
 * others get their holders looked up (holder.c), every conflict is
 * classified (classify.c); the objects of conflicts missing from the
 * inventory are read (holder_fetch()) to tell a release from a clearing;
 * only then is the inventory compared with the old one: each difference
 * becomes an alert (conflict.detected, conflict.released /
 * conflict.cleared), the sweep's state machine (sweep.c) is stepped, and
 * the state file is rewritten.  A failed lookup never hides a conflict: it
 * is alerted as class unknown and looked up again next cycle; a failed
 * object check keeps the conflict believed until a later cycle decides.
 * A failed cycle is logged once and retried sooner, with backoff.
 *
 * The sweep has its own timer, aligned to multiples of sweep_interval
 * (UTC) plus an offset and jitter: it looks up the holders of every
 * conflict again and steps the state machine.  A sweep and a cycle never
 * run at once: whichever timer fires while the other runs waits for it.
 */
#include "tenant.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alert.h"
#include "apply.h"
#include "classify.h"
#include "conflict.h"
#include "graph.h"
#include "health.h"
#include "holder.h"
#include "http.h"
#include "inventory.h"
#include "log.h"
#include "store.h"
#include "suggest.h"
#include "sweep.h"
#include "token.h"

_Static_assert(STORE_NCOLL == INVENTORY_NCOLL,
               "store and inventory list the same collections");

#ifndef QD_VERSION
#define QD_VERSION "0.0.0"
#endif

struct tenant {
  uv_loop_t *loop;
  char *name;
  char *state_dir;
  char *suggest_path;     /* <state_dir>/<tenant>.suggestions.csv */
  unsigned anchor_length; /* bytes an anchor decodes to; 0 = any */
  unsigned interval;      /* seconds between cycles */
  struct alert *alert;
  struct http_client *hc;
  struct token *tok;
  struct graph *g;
  struct inventory *inv;
  struct holder *holder;
  struct classify_opts copts;
  struct conflict_set *pending; /* complete inventory awaiting its lookup
                                   or the check of gone conflicts */
  struct apply *apply;          /* the guarded anchor writer (off by default) */
  uv_timer_t timer;
  uint64_t cycle_start; /* uv_now() when the running cycle began */
  time_t cycle_now;     /* wall time the running cycle's inventory began */
  /* the sweep */
  struct sweep_opts sweep;
  unsigned long aging[CFG_MAX_DURATIONS];
  uv_timer_t sweep_timer;
  bool busy;                /* a cycle or a sweep is running */
  bool cycle_due;           /* the poll timer fired during a sweep */
  bool sweep_due;           /* the sweep timer fired during a cycle */
  struct store_state state; /* the inventory believed now, delta links */
  struct tenant_stats stats;
  struct health health; /* tenant.failing, credential.* self-alerts */
  char *cert_path;      /* the certificate file, for credential.expiring */
  void (*changed)(void *arg);
  void *changed_arg;
  /* inventory = delta, and delta_full_resync in seconds (0 = never) */
  bool delta;
  unsigned full_resync;
  /* shutdown */
  bool closing;
  unsigned open_parts; /* apply, http client, token, timers still closing */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

static void on_cycle_done(int result, struct conflict_set *set,
                          const char *what, const struct graph_error *err,
                          void *arg);
static void start_sweep(struct tenant *t);
static void on_sweep_timer(uv_timer_t *h);

static uint32_t random_below(uint32_t n)
{
  uint32_t r = 0;

  if(!n)
    return 0;
  if(getrandom(&r, sizeof(r), 0) != sizeof(r))
    r = (uint32_t)uv_hrtime();
  return r % n;
}

const char *tenant_name(const struct tenant *t)
{
  return t->name;
}

void tenant_get_stats(const struct tenant *t, struct tenant_stats *st)
{
  *st = t->stats;
  st->conflicts =
      t->state.conflicts ? conflict_set_count(t->state.conflicts) : 0;
}

static void idle(struct tenant *t);

static void on_timer(uv_timer_t *h)
{
  struct tenant *t = h->data;
  struct inventory_delta d;
  size_t i;
  int rc;

  if(t->busy) {
    t->cycle_due = true; /* after the sweep */
    return;
  }
  t->busy = true;
  t->cycle_start = uv_now(t->loop);
  t->cycle_now = time(NULL);
  memset(&d, 0, sizeof(d));
  d.believed = t->state.conflicts;
  for(i = 0; i < INVENTORY_NCOLL; i++)
    d.link[i] = t->state.delta_link[i];
  /* The periodic full round catches what delta may not track
   * (graph-facts §11.1: onPremisesProvisioningErrors is unconfirmed); a
   * clock set back makes it due rather than postponing it. */
  d.full = t->full_resync &&
           (t->cycle_now - t->state.delta_full_sync >= (time_t)t->full_resync ||
            t->cycle_now < t->state.delta_full_sync);
  rc = inventory_run(t->inv, t->cycle_now, t->delta ? &d : NULL, on_cycle_done,
                     t);
  if(rc) {
    log_warnx("tenant %s: cannot start a cycle: %s", t->name, strerror(-rc));
    uv_timer_start(&t->timer, on_timer, 30000, 0);
    idle(t);
  }
}

/* idle() ends a cycle or a sweep and starts what waited for it: a cycle
 * first, so a slow sweep cannot starve polling. */
static void idle(struct tenant *t)
{
  t->busy = false;
  if(t->cycle_due) {
    t->cycle_due = false;
    on_timer(&t->timer);
  }
  else if(t->sweep_due) {
    t->sweep_due = false;
    start_sweep(t);
  }
}

/* schedule() arms the timer for the next cycle: the interval with 10%
 * jitter after a success, a capped backoff after failures. */
static void schedule(struct tenant *t)
{
  uint64_t ms = (uint64_t)t->interval * 1000;

  if(t->stats.failures) {
    uint64_t backoff = 15000;
    unsigned i;

    for(i = 1; i < t->stats.failures && backoff < ms; i++)
      backoff *= 2;
    if(backoff < ms)
      ms = backoff;
  }
  /* interval +- 5%, so tenants polled at one interval spread out. */
  ms = ms - ms / 20 + random_below((uint32_t)(ms / 10 + 1));
  uv_timer_start(&t->timer, on_timer, ms, 0);
}

/* alert_conflict() raises one alert about c; sw carries the sweep's
 * figures, or is NULL. */
static void alert_conflict(struct tenant *t, enum alert_type type,
                           const struct conflict *c,
                           const struct alert_sweep *sw)
{
  struct classify_result cr;
  struct alert_event ev;

  classify_conflict(c, &t->copts, time(NULL), &cr);
  alert_event_init(&ev, type, t->name, c);
  ev.classification = &cr;
  ev.sweep = sw;
  /* Failures are logged and the event queued by the alert module. */
  alert_emit(t->alert, &ev);
}

static void on_detected(const struct conflict *c, void *arg)
{
  alert_conflict(arg, ALERT_CONFLICT_DETECTED, c, NULL);
}

/* classify_all() stores the class of every conflict of set as of now. */
static void classify_all(struct tenant *t, struct conflict_set *set, time_t now)
{
  struct classify_result cr;
  struct conflict_iter it;
  struct conflict *c;

  conflict_iter_init(&it, set);
  while((c = conflict_iter_next(&it))) {
    classify_conflict(c, &t->copts, now, &cr);
    c->cls = cr.cls;
  }
}

/* advance() runs the sweep's state machine over every conflict of set as of
 * now and raises an alert per change and per aging threshold passed.
 * Returns the number of state changes. */
static size_t advance(struct tenant *t, struct conflict_set *set, time_t now)
{
  static const enum alert_type types[] = {
      [SWEEP_FREED] = ALERT_CONFLICT_FREED,
      [SWEEP_HELD] = ALERT_CONFLICT_HELD,
      [SWEEP_STUCK] = ALERT_CONFLICT_STUCK,
  };
  struct conflict_iter it;
  struct conflict *c;
  size_t changes = 0;

  conflict_iter_init(&it, set);
  while((c = conflict_iter_next(&it))) {
    enum sweep_change ch = sweep_assess(c, now, &t->sweep);
    struct alert_sweep sw;

    if(ch == SWEEP_FREED || ch == SWEEP_HELD || ch == SWEEP_STUCK) {
      log_info("tenant %s: %s: %s; now %s", t->name, c->key,
               sweep_change_name(ch), conflict_state_name(c->state));
      alert_conflict(t, types[ch], c, NULL);
      changes++;
    }
    memset(&sw, 0, sizeof(sw));
    sw.threshold = sweep_aging_due(c, now, &t->sweep);
    if(sw.threshold) {
      sw.age = sweep_age(c, now);
      alert_conflict(t, ALERT_CONFLICT_AGING, c, &sw);
    }
  }
  return changes;
}

/* commit() makes the complete, paired inventory set the one believed:
 * classes, diff and alerts, the sweep's steps, state file, next cycle.
 * The n conflicts at kept (taken from the inventory believed so far,
 * whose objects could not be checked) join set, still believed. */
static void commit(struct tenant *t, struct conflict_set *set,
                   struct conflict **kept, size_t n)
{
  const struct conflict_diff_cb cb = {on_detected, NULL, t};
  struct conflict_diff_stats ds;
  time_t now = time(NULL);
  size_t i;

  classify_all(t, set, now);
  /* Logged there; a failure only delays the suggestion to the next cycle. */
  suggest_update(t->suggest_path, set, &t->copts, t->anchor_length, now);
  memset(&ds, 0, sizeof(ds));
  /* Flood control counts the alerts of this cycle (alert.h). */
  alert_cycle_begin(t->alert, t->name);
  conflict_set_diff(t->state.conflicts, set, &cb, &ds);
  for(i = 0; i < n; i++)
    if(conflict_set_add(set, kept[i])) {
      log_errx("tenant %s: out of memory keeping %s", t->name, kept[i]->key);
      conflict_free(kept[i]);
    }
  conflict_set_free(t->state.conflicts);
  t->state.conflicts = set;
  advance(t, set, now);
  alert_cycle_end(t->alert);
  t->state.last_success = now;
  if(t->delta) {
    /* The new links go with the inventory they lead on from, in memory
     * and in the one atomically written state file. */
    inventory_take_links(t->inv, t->state.delta_link);
    if(inventory_all_full(t->inv))
      t->state.delta_full_sync = now;
  }
  if(t->stats.failures)
    log_info("tenant %s: polling works again after %u failed cycle%s", t->name,
             t->stats.failures, t->stats.failures == 1 ? "" : "s");
  t->stats.failures = 0;
  health_ok(&t->health, now);
  health_certificate(&t->health, t->cert_path, token_not_after(t->tok), now);
  t->stats.cycles_ok++;
  t->stats.last_success = now;
  /* Failure is logged by the store; the next cycle saves again. */
  store_save(t->state_dir, t->name, &t->state, now);
  apply_cycle(t->apply);
  uv_update_time(t->loop);
  log_info("tenant %s: %zu conflict%s (%zu new, %zu cleared) in %.2f s%s%s%s",
           t->name, conflict_set_count(set),
           conflict_set_count(set) == 1 ? "" : "s", ds.detected, ds.cleared,
           (double)(uv_now(t->loop) - t->cycle_start) / 1000.0,
           t->delta ? " (" : "", inventory_rounds(t->inv), t->delta ? ")" : "");
  schedule(t);
  if(t->changed)
    t->changed(t->changed_arg);
  idle(t);
}

/* on_fetch_done() gets the objects of the conflicts gone from the new
 * inventory t->pending: each is released or cleared (an alert; it stays
 * in the old inventory, which is dropped), or, when its object could not
 * be read, kept believed. */
static void on_fetch_done(int result, const struct holder_object *res, size_t n,
                          void *arg)
{
  struct tenant *t = arg;
  struct conflict_set *set = t->pending;
  struct conflict **kept = NULL;
  size_t i, nkept = 0;

  t->pending = NULL;
  if(t->closing || result == -ECANCELED) {
    conflict_set_free(set);
    return;
  }
  if(n)
    kept = calloc(n, sizeof(*kept));
  for(i = 0; i < n; i++) {
    struct conflict *c = conflict_set_find(t->state.conflicts, res[i].key);
    struct alert_sweep sw;
    enum sweep_change ch;

    if(!c)
      continue;
    if(res[i].outcome == HOLDER_FETCH_FAILED) {
      if(kept)
        kept[nkept++] = conflict_set_remove(t->state.conflicts, c->key);
      continue;
    }
    ch = sweep_gone(
        res[i].outcome == HOLDER_FOUND &&
        sweep_carries(c, res[i].upn, res[i].proxies, res[i].nproxies));
    memset(&sw, 0, sizeof(sw));
    if(ch == SWEEP_RELEASED) {
      sw.released_at = t->cycle_now;
      sw.time_to_release = sweep_time_to_release(c, t->cycle_now);
      log_info("tenant %s: %s: %s -> released after %ld s", t->name, c->key,
               conflict_state_name(c->state), sw.time_to_release);
    }
    alert_conflict(t,
                   ch == SWEEP_RELEASED ? ALERT_CONFLICT_RELEASED
                                        : ALERT_CONFLICT_CLEARED,
                   c, ch == SWEEP_RELEASED ? &sw : NULL);
  }
  if(n && !kept)
    log_errx("tenant %s: out of memory; gone conflicts not kept", t->name);
  commit(t, set, kept, nkept);
  free(kept);
}

/* check_gone() reads the objects of the conflicts believed so far that
 * are missing from set, then commits set; when that cannot start, they
 * are kept believed and checked again next cycle. */
static void check_gone(struct tenant *t, struct conflict_set *set)
{
  struct conflict **gone = NULL;
  struct conflict_iter it;
  struct conflict *c;
  size_t n = 0, i;
  int rc = 0;

  if(t->state.conflicts && conflict_set_count(t->state.conflicts)) {
    gone = calloc(conflict_set_count(t->state.conflicts), sizeof(*gone));
    if(!gone)
      rc = -ENOMEM;
    conflict_iter_init(&it, t->state.conflicts);
    while(gone && (c = conflict_iter_next(&it)))
      if(!conflict_set_find(set, c->key))
        gone[n++] = c;
  }
  if(!rc && n) {
    t->pending = set;
    rc = holder_fetch(t->holder, (const struct conflict *const *)gone, n,
                      on_fetch_done, t);
    if(!rc) {
      free(gone);
      return;
    }
    t->pending = NULL;
    log_warnx("tenant %s: cannot check the objects of %zu conflict%s gone "
              "from the inventory: %s; kept until the next cycle",
              t->name, n, n == 1 ? "" : "s", strerror(-rc));
  }
  /* Each is taken out of the old inventory into the new one. */
  for(i = 0; rc && i < n; i++)
    gone[i] = conflict_set_remove(t->state.conflicts, gone[i]->key);
  commit(t, set, gone, rc ? n : 0);
  free(gone);
}

static void on_lookup_done(int result, const struct holder_result *res,
                           size_t n, void *arg)
{
  struct tenant *t = arg;
  struct conflict_set *set = t->pending;
  time_t now = time(NULL);
  size_t i;

  t->pending = NULL;
  if(t->closing || result == -ECANCELED) {
    conflict_set_free(set);
    return;
  }
  /* A failed lookup only records its error: the pairing carried over
   * from the last complete lookup stays as it was. */
  for(i = 0; i < n; i++) {
    struct conflict *c = conflict_set_find(set, res[i].key);

    if(c && holder_apply(c, &res[i], now))
      log_warnx("tenant %s: out of memory recording the holders of %s", t->name,
                res[i].key);
  }
  check_gone(t, set);
}

/* pair() carries the pairing of every conflict over from the inventory
 * believed so far, starts the holder lookup of those that need one, and
 * commits set when there are none (or the lookup cannot start). */
static void pair(struct tenant *t, struct conflict_set *set)
{
  const struct conflict **need = NULL;
  struct conflict_iter it;
  struct conflict *c;
  size_t n = 0;
  int rc = 0;

  if(conflict_set_count(set)) {
    need = calloc(conflict_set_count(set), sizeof(*need));
    if(!need)
      rc = -ENOMEM;
  }
  conflict_iter_init(&it, set);
  while(!rc && (c = conflict_iter_next(&it))) {
    const struct conflict *o =
        t->state.conflicts ? conflict_set_find(t->state.conflicts, c->key)
                           : NULL;

    if(o)
      sweep_carry(c, o);
    else
      sweep_aging_skip(c, t->cycle_now, &t->sweep);
    if(o && conflict_copy_pairing(c, o))
      rc = -ENOMEM;
    else if(holder_needs_lookup(o, c))
      need[n++] = c;
  }
  if(!rc && n) {
    t->pending = set;
    rc = holder_lookup(t->holder, need, n, on_lookup_done, t);
    if(!rc) {
      free(need);
      return;
    }
    t->pending = NULL;
  }
  if(rc) {
    /* The conflicts are still alerted, as unknown; next cycle retries. */
    log_warnx("tenant %s: cannot look up holders: %s", t->name, strerror(-rc));
    conflict_iter_init(&it, set);
    while((c = conflict_iter_next(&it)))
      if(!c->looked_up && !c->lookup_error)
        c->lookup_error = strdup(rc == -ENOMEM ? "OutOfMemory" : "NotStarted");
  }
  free(need);
  check_gone(t, set);
}

static void on_cycle_done(int result, struct conflict_set *set,
                          const char *what, const struct graph_error *err,
                          void *arg)
{
  struct tenant *t = arg;
  time_t now = time(NULL);

  if(t->closing || result == -ECANCELED) {
    conflict_set_free(set);
    return;
  }
  if(result) {
    t->stats.failures++;
    t->stats.cycles_failed++;
    t->stats.last_failure = now;
    log_warnx("tenant %s: cycle failed on %s: %s%s%s (HTTP %ld, request-id "
              "%s, client-request-id %s); conflicts unchanged",
              t->name, what ? what : "?", err && err->code[0] ? err->code : "",
              err && err->message[0] ? ": " : "",
              err && err->message[0] ? err->message : strerror(-result),
              err ? err->status : 0L,
              err && err->request_id[0] ? err->request_id : "-",
              err && err->client_request_id[0] ? err->client_request_id : "-");
    health_failed(&t->health, result, what, err, now);
    schedule(t);
    if(t->changed)
      t->changed(t->changed_arg);
    idle(t);
    return;
  }
  pair(t, set);
}

/* ===== The sweep ===== */

/* schedule_sweep() arms the sweep timer for the next aligned time. */
static void schedule_sweep(struct tenant *t)
{
  struct timespec ts;
  uint64_t now_ms;

  clock_gettime(CLOCK_REALTIME, &ts);
  now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  uv_timer_start(
      &t->sweep_timer, on_sweep_timer,
      sweep_next_delay_ms(now_ms, t->sweep.period, random_below(UINT32_MAX)),
      0);
}

static void on_sweep_done(int result, const struct holder_result *res, size_t n,
                          void *arg)
{
  struct tenant *t = arg;
  struct conflict_set *set = t->state.conflicts;
  time_t now = time(NULL);
  size_t i, failed = 0, changes;

  if(t->closing || result == -ECANCELED)
    return;
  /* No cycle ran meanwhile: set is the inventory the sweep started on. */
  for(i = 0; i < n; i++) {
    struct conflict *c = conflict_set_find(set, res[i].key);

    if(res[i].outcome == HOLDER_FAILED)
      failed++;
    if(c && holder_apply(c, &res[i], now))
      log_warnx("tenant %s: out of memory recording the holders of %s", t->name,
                res[i].key);
  }
  classify_all(t, set, now);
  changes = advance(t, set, now);
  store_save(t->state_dir, t->name, &t->state, now);
  log_info("tenant %s: sweep re-checked %zu conflict%s (%zu failed), %zu "
           "change%s",
           t->name, n, n == 1 ? "" : "s", failed, changes,
           changes == 1 ? "" : "s");
  if(t->changed)
    t->changed(t->changed_arg);
  idle(t);
}

/* start_sweep() looks up the holders of every conflict believed now;
 * on_sweep_done() steps the state machine with the complete results. */
static void start_sweep(struct tenant *t)
{
  const struct conflict **all;
  struct conflict_iter it;
  struct conflict *c;
  size_t n = 0;
  int rc;

  if(!t->state.conflicts || !conflict_set_count(t->state.conflicts)) {
    log_debug("tenant %s: sweep: no conflicts", t->name);
    return;
  }
  all = calloc(conflict_set_count(t->state.conflicts), sizeof(*all));
  if(!all) {
    log_warnx("tenant %s: sweep: out of memory; next sweep retries", t->name);
    return;
  }
  conflict_iter_init(&it, t->state.conflicts);
  while((c = conflict_iter_next(&it)))
    all[n++] = c;
  t->busy = true;
  rc = holder_lookup(t->holder, all, n, on_sweep_done, t);
  free(all);
  if(rc) {
    log_warnx("tenant %s: cannot start the sweep: %s; next sweep retries",
              t->name, strerror(-rc));
    idle(t);
  }
}

static void on_sweep_timer(uv_timer_t *h)
{
  struct tenant *t = h->data;

  schedule_sweep(t);
  if(t->busy)
    t->sweep_due = true; /* after the cycle */
  else
    start_sweep(t);
}

/* The five parts (apply engine, HTTP client, token, two timers) close
 * independently; the last one frees the tenant. */
static void part_closed(struct tenant *t)
{
  if(--t->open_parts)
    return;
  inventory_free(t->inv);
  holder_free(t->holder);
  conflict_set_free(t->pending);
  apply_free(t->apply);
  store_state_clear(&t->state);
  if(t->closed_cb)
    t->closed_cb(t->closed_arg);
  free(t->name);
  free(t->state_dir);
  free(t->suggest_path);
  free(t->cert_path);
  free(t);
}

static void on_part_closed(void *arg)
{
  part_closed(arg);
}

static void on_apply_abandoned(void *arg)
{
  apply_free(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
  part_closed(h->data);
}

void tenant_close(struct tenant *t, void (*closed_cb)(void *arg), void *arg)
{
  t->closing = true;
  t->closed_cb = closed_cb;
  t->closed_arg = arg;
  t->open_parts = 5;
  uv_timer_stop(&t->timer);
  uv_timer_stop(&t->sweep_timer);
  apply_close(t->apply, on_part_closed, t);
  graph_close(t->g);
  token_close(t->tok, on_part_closed, t);
  http_client_close(t->hc, on_part_closed, t);
  uv_close((uv_handle_t *)&t->timer, on_timer_closed);
  uv_close((uv_handle_t *)&t->sweep_timer, on_timer_closed);
}

static enum inventory_mode inventory_mode(int cfg_mode)
{
  if(cfg_mode == CFG_INVENTORY_SCAN)
    return INVENTORY_SCAN;
  return cfg_mode == CFG_INVENTORY_DELTA ? INVENTORY_DELTA : INVENTORY_FILTER;
}

/* drop_delta_links() forgets stored delta links when the inventory mode
 * is not delta: a later switch back must not resume from links that the
 * inventory saved since then no longer matches. */
static void drop_delta_links(struct tenant *t)
{
  size_t i, n = 0;

  for(i = 0; i < STORE_NCOLL; i++) {
    n += t->state.delta_link[i] != NULL;
    free(t->state.delta_link[i]);
    t->state.delta_link[i] = NULL;
  }
  t->state.delta_full_sync = 0;
  if(n)
    log_info("tenant %s: inventory is not delta; dropping %zu stored delta "
             "link%s",
             t->name, n, n == 1 ? "" : "s");
}

int tenant_start(uv_loop_t *loop, const struct cfg *cfg,
                 const struct cfg_tenant *tc, const char *state_dir,
                 struct alert *alert, void (*changed)(void *arg), void *arg,
                 struct tenant **out)
{
  struct http_client_opts ho;
  struct graph_opts go;
  struct tenant *t;
  int rc;

  t = calloc(1, sizeof(*t));
  if(!t)
    return -ENOMEM;
  t->loop = loop;
  t->name = strdup(tc->name);
  t->state_dir = strdup(state_dir);
  t->suggest_path = suggest_path(state_dir, tc->name);
  if(!t->name || !t->state_dir || !t->suggest_path) {
    rc = -ENOMEM;
    goto fail;
  }
  t->interval = tc->poll_interval ? tc->poll_interval : cfg->poll_interval;
  t->alert = alert;
  health_init(&t->health, t->name, alert, cfg->failing_cycles,
              cfg->failing_after);
  if(tc->certificate_file && !(t->cert_path = strdup(tc->certificate_file))) {
    rc = -ENOMEM;
    goto fail;
  }
  t->changed = changed;
  t->changed_arg = arg;

  rc = store_load(state_dir, t->name, &t->state);
  if(rc == -ENOENT)
    log_info("tenant %s: no saved state; starting with an empty inventory",
             t->name);
  else if(rc == -EPROTONOSUPPORT)
    goto fail; /* logged by the store: refuse to overwrite newer state */
  else if(rc)
    log_info("tenant %s: starting with an empty inventory", t->name);
  else
    log_info("tenant %s: loaded %zu conflict%s from saved state", t->name,
             t->state.conflicts ? conflict_set_count(t->state.conflicts) : 0,
             t->state.conflicts && conflict_set_count(t->state.conflicts) == 1
                 ? ""
                 : "s");
  t->stats.last_success = t->state.last_success;
  t->delta = cfg->inventory_mode == CFG_INVENTORY_DELTA;
  t->full_resync = cfg->delta_resync;
  if(!t->delta)
    drop_delta_links(t);

  memset(&ho, 0, sizeof(ho));
  ho.user_agent = "quarantined/" QD_VERSION;
  ho.ca_file = tc->ca_file;
  ho.max_concurrency = cfg->max_concurrency;
  ho.connect_timeout_ms = cfg->connect_timeout * 1000;
  ho.timeout_ms = cfg->http_timeout * 1000;
  ho.max_response_size = cfg->max_response_size;
  rc = http_client_new(loop, &ho, &t->hc);
  if(rc) {
    log_warnx("tenant %s: cannot create the HTTP client: %s", t->name,
              strerror(-rc));
    goto fail;
  }
  rc = token_new(loop, t->hc, tc, &t->tok);
  if(rc)
    goto fail_http; /* logged by token_new with the path */
  health_certificate(&t->health, t->cert_path, token_not_after(t->tok),
                     time(NULL));
  memset(&go, 0, sizeof(go));
  go.tenant = t->name;
  go.graph_url = tc->graph_url;
  rc = graph_new(loop, t->hc, t->tok, &go, &t->g);
  if(rc)
    goto fail_token;
  rc = inventory_new(t->g, t->name, inventory_mode(cfg->inventory_mode),
                     cfg->page_size, &t->inv);
  if(rc)
    goto fail_graph;
  rc = holder_new(t->g, t->name, &t->holder);
  if(rc)
    goto fail_inv;
  t->copts.stale_after = cfg->orphan_after;
  t->sweep.period = cfg->sweep_interval;
  t->sweep.grace = cfg->sweep_grace;
  memcpy(t->aging, cfg->aging.v, cfg->aging.n * sizeof(t->aging[0]));
  t->sweep.aging = t->aging;
  t->sweep.naging = cfg->aging.n;
  t->anchor_length = tc->anchor_length;
  rc = apply_new(loop, t->g, alert, tc, state_dir, &t->apply);
  if(rc)
    goto fail_inv; /* logged by apply_new */
  /* uv_timer_init() only fills the handle in and cannot fail (libuv
   * returns 0), so no half-initialised pair needs closing here. */
  rc = uv_timer_init(loop, &t->timer);
  if(!rc)
    rc = uv_timer_init(loop, &t->sweep_timer);
  if(rc)
    goto fail_apply;
  t->timer.data = t;
  t->sweep_timer.data = t;
  /* The first cycle soon, spread over a few seconds across tenants. */
  uv_timer_start(&t->timer, on_timer, 100 + random_below(2000), 0);
  schedule_sweep(t);
  log_info("tenant %s: polling %s every %u s; release sweep every %lu s "
           "(grace %lu s)",
           t->name, tc->graph_url, t->interval, t->sweep.period,
           t->sweep.grace);
  *out = t;
  return 0;

fail_apply:
  /* No Graph request was made yet: freed once its timer is closed. */
  apply_close(t->apply, on_apply_abandoned, t->apply);
fail_inv:
  holder_free(t->holder);
  t->holder = NULL;
  inventory_free(t->inv);
  t->inv = NULL;
fail_graph:
  graph_close(t->g);
fail_token:
  token_close(t->tok, NULL, NULL);
fail_http:
  http_client_close(t->hc, NULL, NULL);
fail:
  if(rc == -ENOMEM)
    log_warnx("tenant %s: out of memory", tc->name);
  store_state_clear(&t->state);
  free(t->name);
  free(t->state_dir);
  free(t->suggest_path);
  free(t->cert_path);
  free(t);
  return rc;
}
