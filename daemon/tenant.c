/* SPDX-License-Identifier: MIT
 *
 * tenant: the per-tenant runtime.  A cycle runs the inventory; only a
 * complete cycle changes what the daemon believes.  The new inventory
 * keeps the pairing and sweep record of every conflict seen before, the
 * others get their holders looked up (holder.c); the objects of conflicts
 * missing from the inventory are read (holder_fetch()) to tell a release
 * from a clearing; then every conflict is classified (classify.c), and
 * only then is the inventory compared with the old one: each difference
 * becomes an alert (conflict.detected, conflict.released /
 * conflict.cleared), the sweep's state machine (sweep.c) is stepped, the
 * state file is rewritten off the loop (statesave.h), and only once it is
 * durable are the alerts sent (outbox.h): whoever reads an alert finds
 * the state that records it already saved.
 * A failed lookup never hides a conflict: it
 * is alerted as class unknown and looked up again next cycle; a failed
 * object check keeps the conflict believed until a later cycle decides.
 * A failed cycle is logged once and retried sooner, with backoff.
 *
 * The sweep looks up the holders of every conflict again and steps the
 * state machine.  When cycles and sweeps run, and that they never run at
 * once, is schedule.c's business: it calls start_cycle() and
 * tenant_sweep_start() (tenant_sweep.c) and is told when each has ended.
 *
 * The functions of a cycle come in the order they run, each stage's
 * callback starting the next: start_cycle -> on_cycle_done -> pair ->
 * on_lookup_done -> check_gone -> on_fetch_done -> commit ->
 * on_cycle_saved.
 */
#include "tenant.h"
#include "tenant_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "apply.h"
#include "classify.h"
#include "conflict.h"
#include "graph.h"
#include "holder.h"
#include "holder_query.h"
#include "http.h"
#include "inventory.h"
#include "log.h"
#include "outbox.h"
#include "schedule.h"
#include "selfalert.h"
#include "statesave.h"
#include "store.h"
#include "suggest.h"
#include "sweep.h"
#include "tfiles.h"
#include "token.h"

_Static_assert(STORE_NCOLL == INVENTORY_NCOLL,
               "store and inventory list the same collections");

/* How long one loop iteration may spend on a stage of a commit that is
 * cut into slices. */
#define TENANT_SLICE_MS 10ULL

#ifndef QD_VERSION
#define QD_VERSION "0.0.0"
#endif

/* A cycle, stage by stage. */
static int start_cycle(void *arg);
static void on_cycle_done(int result, struct conflict_set *set,
                          const char *what, const struct graph_error *err,
                          void *arg);
static void pair(struct tenant *t, struct conflict_set *set);
static void on_lookup_done(int result, struct holder_answer *a, void *arg);
static void apply_holders(struct tenant *t);
static void check_gone(struct tenant *t, struct conflict_set *set);
static void check_gone_next(struct tenant *t);
static void on_fetch_done(int result, const struct holder_object *res, size_t n,
                          void *arg);
static void commit(struct tenant *t, struct conflict_set *set,
                   struct conflict **kept, size_t n);
static void commit_suggest(struct tenant *t);
static void commit_suggest_more(struct tenant *t);
static void commit_finish(struct tenant *t);
static void on_step(uv_idle_t *h);
static void on_cycle_saved(int rc, void *arg);

const char *tenant_name(const struct tenant *t)
{
  return t->name;
}

void tenant_get_stats(const struct tenant *t, struct tenant_stats *st)
{
  *st = t->stats;
  st->conflicts =
      t->state.conflicts ? conflict_set_count(t->state.conflicts) : 0;
  st->interval = t->interval;
  schedule_get_times(t->sched, &st->busy_since, &st->next_cycle);
  st->token = token_status(t->tok);
  st->state_unwritable = t->save.failing;
  graph_get_stats(t->g, &st->graph);
  apply_get_stats(t->apply, &st->apply);
}

bool tenant_saving(const struct tenant *t)
{
  return statesave_busy(&t->save);
}

const struct conflict_set *tenant_conflicts(const struct tenant *t)
{
  return t->state.conflicts;
}

/* ===== Alerts and the sweep's steps, for cycles and sweeps ===== */

/* alert_conflict() queues one alert about c, as it is now, until the
 * state is saved (outbox_release()); sw carries the sweep's figures, or is
 * NULL. */
static void alert_conflict(struct tenant *t, enum alert_type type,
                           const struct conflict *c,
                           const struct alert_sweep *sw)
{
  outbox_add(&t->outbox, type, c, sw, time(NULL));
}

static void on_detected(const struct conflict *c, void *arg)
{
  alert_conflict(arg, ALERT_CONFLICT_DETECTED, c, NULL);
}

/* tenant_classify_all() stores the class of every conflict of set as of now. */
void tenant_classify_all(struct tenant *t, struct conflict_set *set, time_t now)
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

/* tenant_advance() runs the sweep's state machine over every conflict of set as
 * of now and queues an alert per change and per aging threshold passed. Returns
 * the number of state changes. */
size_t tenant_advance(struct tenant *t, struct conflict_set *set, time_t now)
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

/* tenant_save() starts saving the state, stamped with now, and calls done(rc,
 * t) once it is durable or failed.  When the save cannot start (logged)
 * done is called at once. */
void tenant_save(struct tenant *t, time_t now, statesave_done_cb done)
{
  int rc = statesave_start(&t->save, &t->state, now, done, t);

  if(rc)
    done(rc, t);
}

/* ===== A cycle ===== */

/* start_cycle() starts the inventory of a cycle (the schedule's cycle
 * start function). */
static int start_cycle(void *arg)
{
  struct tenant *t = arg;
  struct inventory_delta d;
  size_t i;
  int rc;

  t->cycle_start = uv_now(t->loop);
  t->cycle_now = time(NULL);
  memset(&d, 0, sizeof(d));
  d.believed = t->state.conflicts;
  for(i = 0; i < INVENTORY_NCOLL; i++)
    d.link[i] = t->state.delta_link[i];
  /* The periodic full round catches what delta may not track
   * (docs/graph-facts.md#does-delta-track-provisioning-errors); a
   * clock set back makes it due rather than postponing it. */
  d.full = t->full_resync &&
           (t->cycle_now - t->state.delta_full_sync >= (time_t)t->full_resync ||
            t->cycle_now < t->state.delta_full_sync);
  rc = inventory_run(t->inv, t->cycle_now, t->delta ? &d : NULL, on_cycle_done,
                     t);
  if(rc)
    log_warnx("tenant %s: cannot start a cycle: %s", t->name, strerror(-rc));
  return rc;
}

/* on_cycle_done() gets the inventory: a failed cycle changes nothing and
 * is retried sooner; a complete one is paired. */
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
    t->stats.last_result = result;
    t->stats.failures++;
    t->stats.cycles_failed++;
    t->stats.last_failure = now;
    /* One warning per episode; the next failures of the same episode go
     * to the info level (the first success says when it ends). */
    LOG_AT(t->stats.failures == 1 ? LOG_WARNING : LOG_INFO, 0,
           "tenant %s: cycle failed on %s: %s%s%s (HTTP %ld, request-id "
           "%s, client-request-id %s); conflicts unchanged",
           t->name, what ? what : "?", err && err->code[0] ? err->code : "",
           err && err->message[0] ? ": " : "",
           err && err->message[0] ? err->message : strerror(-result),
           err ? err->status : 0L,
           err && err->request_id[0] ? err->request_id : "-",
           err && err->client_request_id[0] ? err->client_request_id : "-");
    selfalert_failed(&t->self, result, what, err, now);
    if(t->changed)
      t->changed(t->changed_arg);
    schedule_cycle_done(t->sched, t->stats.failures);
    return;
  }
  pair(t, set);
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
    rc = holder_lookup_answer(t->holder, need, n, on_lookup_done, t);
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

/* on_lookup_done() takes the finished holder lookup of the new inventory
 * t->pending; its results are recorded a slice per loop iteration. */
static void on_lookup_done(int result, struct holder_answer *a, void *arg)
{
  struct tenant *t = arg;

  if(t->closing || result == -ECANCELED) {
    holder_answer_free(a);
    conflict_set_free(t->pending);
    t->pending = NULL;
    return;
  }
  t->answer = a;
  t->answer_pos = 0;
  tenant_later(t, apply_holders);
}

bool tenant_apply_holders(struct tenant *t, struct conflict_set *set,
                          size_t *failed)
{
  const uint64_t end = uv_hrtime() + TENANT_SLICE_MS * 1000000;
  const size_t n = holder_answer_count(t->answer);
  time_t now = time(NULL);
  struct holder_result r;

  /* A failed lookup only records its error: the pairing carried over
   * from the last complete lookup stays as it was. */
  while(t->answer_pos < n) {
    struct conflict *c;

    holder_answer_get(t->answer, t->answer_pos++, &r);
    if(r.outcome == HOLDER_FAILED)
      (*failed)++;
    c = conflict_set_find(set, r.key);
    if(c && holder_apply(c, &r, now))
      log_warnx("tenant %s: out of memory recording the holders of %s", t->name,
                r.key);
    if(!(t->answer_pos % 64) && t->answer_pos < n && uv_hrtime() >= end)
      return false;
  }
  holder_answer_free(t->answer);
  t->answer = NULL;
  return true;
}

/* apply_holders() records a slice of the holders looked up for
 * t->pending, then, once all are, checks the conflicts gone from it on
 * the next loop iteration. */
static void apply_holders(struct tenant *t)
{
  size_t failed = 0;

  tenant_later(t, tenant_apply_holders(t, t->pending, &failed) ? check_gone_next
                                                               : apply_holders);
}

/* check_gone_next() is check_gone() on t->pending. */
static void check_gone_next(struct tenant *t)
{
  struct conflict_set *set = t->pending;

  t->pending = NULL;
  check_gone(t, set);
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
}

void tenant_later(struct tenant *t, void (*fn)(struct tenant *t))
{
  t->step = fn;
  uv_idle_start(&t->step_idle, on_step);
}

static void on_step(uv_idle_t *h)
{
  struct tenant *t = h->data;
  void (*fn)(struct tenant * t) = t->step;

  uv_idle_stop(h);
  t->step = NULL;
  if(fn && !t->closing)
    fn(t);
}

/* commit() makes the complete, paired inventory set the one believed:
 * classes, suggestions, diff, the sweep's steps and the state file, then
 * the alerts of all that, the apply pass and the next cycle, in stages a
 * loop iteration apart (set waits in t->pending).
 * The n conflicts at kept (taken from the inventory believed so far,
 * whose objects could not be checked; the array is malloc'd or NULL and
 * taken over) join set, still believed. */
static void commit(struct tenant *t, struct conflict_set *set,
                   struct conflict **kept, size_t n)
{
  t->pending = set;
  t->kept = kept;
  t->nkept = n;
  t->commit_now = time(NULL);
  tenant_classify_all(t, set, t->commit_now);
  tenant_later(t, commit_suggest);
}

/* commit_suggest() starts updating the suggestions file from the
 * classes; the update runs a slice per loop iteration. */
static void commit_suggest(struct tenant *t)
{
  /* Logged there; a failure only delays the suggestion to the next cycle. */
  if(suggest_begin(t->loop, t->suggest_path, t->pending, &t->copts,
                   t->anchor_length, t->commit_now, &t->suggesting) ||
     !t->suggesting) {
    tenant_later(t, commit_finish);
    return;
  }
  tenant_later(t, commit_suggest_more);
}

/* commit_suggest_more() runs a slice of the suggestions' update. */
static void commit_suggest_more(struct tenant *t)
{
  int added = 0;

  if(!suggest_step(t->suggesting, uv_hrtime() + TENANT_SLICE_MS * 1000000,
                   &added)) {
    tenant_later(t, commit_suggest_more);
    return;
  }
  t->suggesting = NULL; /* ended and freed, failure logged */
  tenant_later(t, commit_finish);
}

/* commit_finish() compares set with the inventory believed so far, which
 * it replaces, steps the sweep and saves the state. */
static void commit_finish(struct tenant *t)
{
  const struct conflict_diff_cb cb = {on_detected, NULL, t};
  struct conflict_set *set = t->pending;
  struct conflict **kept = t->kept;
  struct conflict_diff_stats ds;
  time_t now = t->commit_now;
  size_t i, n = t->nkept;

  t->pending = NULL;
  t->kept = NULL;
  t->nkept = 0;
  memset(&ds, 0, sizeof(ds));
  conflict_set_diff(t->state.conflicts, set, &cb, &ds);
  for(i = 0; i < n; i++)
    if(conflict_set_add(set, kept[i])) {
      log_errx("tenant %s: out of memory keeping %s", t->name, kept[i]->key);
      conflict_free(kept[i]);
    }
  free(kept);
  conflict_set_free(t->state.conflicts);
  t->state.conflicts = set;
  tenant_advance(t, set, now);
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
  t->stats.last_result = 0;
  selfalert_ok(&t->self, now);
  selfalert_certificate(&t->self, t->cert_path, token_not_after(t->tok), now);
  t->stats.cycles_ok++;
  t->stats.last_success = now;
  t->saved.ds = ds;
  tenant_save(t, now, on_cycle_saved);
}

/* on_cycle_saved() ends a cycle once its state is saved: its alerts go
 * out, then the apply pass, the cycle's line and the next cycle.  A failed
 * save was logged by statesave; the next cycle saves again, and the
 * alerts go out either way: one repeated after a restart beats one lost. */
static void on_cycle_saved(int rc, void *arg)
{
  struct tenant *t = arg;
  const struct conflict_diff_stats *ds = &t->saved.ds;
  size_t count = conflict_set_count(t->state.conflicts);

  (void)rc;
  /* Sent on the next loop iterations; flood control counts them as one
   * cycle's (alert.h). */
  outbox_release(&t->outbox, true);
  if(t->closing)
    return;
  apply_cycle(t->apply);
  uv_update_time(t->loop);
  log_info("tenant %s: %zu conflict%s (%zu new, %zu cleared) in %.2f s%s%s%s",
           t->name, count, count == 1 ? "" : "s", ds->detected, ds->cleared,
           (double)(uv_now(t->loop) - t->cycle_start) / 1000.0,
           t->delta ? " (" : "", inventory_rounds(t->inv), t->delta ? ")" : "");
  if(t->changed)
    t->changed(t->changed_arg);
  schedule_cycle_done(t->sched, t->stats.failures);
}

/* ===== Start and close ===== */

/* The parts close independently; the last one frees the tenant, after
 * the inventory and holder, whose Graph callbacks have all run by then. */
static void part_closed(struct tenant *t)
{
  if(--t->open_parts)
    return;
  inventory_free(t->inv);
  holder_answer_free(t->answer);
  holder_free(t->holder);
  conflict_set_free(t->pending);
  for(size_t i = 0; i < t->nkept; i++)
    conflict_free(t->kept[i]);
  free(t->kept);
  suggest_abort(t->suggesting);
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

static void close_schedule(struct tenant *t)
{
  schedule_close(t->sched, on_part_closed, t);
}

static void close_outbox(struct tenant *t)
{
  outbox_close(&t->outbox, on_part_closed, t);
}

static void on_step_closed(uv_handle_t *h)
{
  part_closed(h->data);
}

static void close_step(struct tenant *t)
{
  uv_close((uv_handle_t *)&t->step_idle, on_step_closed);
}

static void close_apply(struct tenant *t)
{
  apply_close(t->apply, on_part_closed, t);
}

static void close_graph(struct tenant *t)
{
  graph_close(t->g, on_part_closed, t);
}

static void close_token(struct tenant *t)
{
  token_close(t->tok, on_part_closed, t);
}

static void close_http(struct tenant *t)
{
  http_client_close(t->hc, on_part_closed, t);
}

/* A tenant's parts, closed in this order: the schedule (no cycle or sweep
 * starts), the outbox (what a saved state released is sent), the apply
 * engine before graph (whose cancelled callbacks then
 * drop its pass), graph before the token and the HTTP client it uses.
 * Each calls part_closed() once. */
static void (*const parts[])(struct tenant *t) = {
    close_schedule, close_step,  close_outbox, close_apply,
    close_graph,    close_token, close_http,
};

/* on_save_closed() closes the parts once the saver has closed: a save
 * under way is finished first, so that what it records is on disk and its
 * alerts are released before the outbox closes. */
static void on_save_closed(void *arg)
{
  struct tenant *t = arg;
  size_t i;

  /* Every part is counted before any close starts: a part with nothing
   * left to close may call back before its close function returns. */
  t->open_parts = sizeof(parts) / sizeof(parts[0]);
  for(i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
    parts[i](t);
}

void tenant_close(struct tenant *t, void (*closed_cb)(void *arg), void *arg)
{
  t->closing = true;
  t->closed_cb = closed_cb;
  t->closed_arg = arg;
  statesave_close(&t->save, on_save_closed, t);
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
  struct schedule_opts so;
  struct graph_opts go;
  struct tenant *t;
  int rc;

  t = calloc(1, sizeof(*t));
  if(!t)
    return -ENOMEM;
  t->loop = loop;
  t->name = strdup(tc->name);
  t->state_dir = strdup(state_dir);
  t->suggest_path = tfiles_path(state_dir, tc->name, TFILES_SUGGESTIONS);
  if(!t->name || !t->state_dir || !t->suggest_path) {
    rc = -ENOMEM;
    goto fail;
  }
  selfalert_init(&t->self, t->name, alert, cfg->failing_cycles,
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
  selfalert_certificate(&t->self, t->cert_path, token_not_after(t->tok),
                        time(NULL));
  memset(&go, 0, sizeof(go));
  go.tenant = t->name;
  go.graph_url = tc->graph_url;
  go.max_batches = cfg->max_concurrency;
  go.tenant_size = tc->tenant_size;
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
  holder_set_terms(
      t->holder, holder_query_terms(cfg->lookup_case == CFG_LOOKUP_INSENSITIVE,
                                    cfg->lookup_mail));
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
  memset(&so, 0, sizeof(so));
  so.interval = tc->poll_interval ? tc->poll_interval : cfg->poll_interval;
  t->interval = so.interval;
  so.sweep_period = t->sweep.period;
  so.cycle = start_cycle;
  so.sweep = tenant_sweep_start;
  so.arg = t;
  so.spread_ms = cfg->ntenants > 1 ? SCHEDULE_SPREAD_MS : 0;
  rc = schedule_new(loop, &so, &t->sched);
  if(rc)
    goto fail_apply;
  /* Last: nothing that can fail comes after its handle. */
  outbox_init(&t->outbox, loop, alert, t->name, &t->copts);
  statesave_init(&t->save, loop, t->state_dir, t->name);
  uv_idle_init(loop, &t->step_idle);
  t->step_idle.data = t;
  log_info("tenant %s: polling %s every %u s; release sweep every %lu s "
           "(grace %lu s)",
           t->name, tc->graph_url, so.interval, t->sweep.period,
           t->sweep.grace);
  *out = t;
  return 0;

fail_apply:
  /* No Graph request was made yet: freed once its timer is closed. */
  apply_close(t->apply, NULL, NULL);
fail_inv:
  holder_free(t->holder);
  t->holder = NULL;
  inventory_free(t->inv);
  t->inv = NULL;
fail_graph:
  graph_close(t->g, NULL, NULL);
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
