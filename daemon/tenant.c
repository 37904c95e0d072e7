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
 * alerts are spooled, held (outbox.h), the state file is rewritten off
 * the loop (statesave.h), and only once it is durable do the alerts go
 * out (alert_commit()): whoever reads an alert finds the state that
 * records it already saved, and a crash loses none the state records.
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
 * on_lookup_done -> check_gone -> on_fetch_done, then the end of the
 * cycle in tenant_commit.c: tenant_commit_cycle -> ... -> on_cycle_saved.
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
#include "budget.h"
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

#ifndef QD_VERSION
#define QD_VERSION "0.0.0"
#endif

/* A cycle, stage by stage. */
static int start_cycle(void *arg);
static void on_cycle_done(int result, struct conflict_set *set,
                          const char *what, const struct graph_error *err,
                          void *arg);
static void pair(struct tenant *t, struct conflict_set *set);
static void pair_some(struct tenant *t);
static void lookup_start(struct tenant *t);
static void pair_failed(struct tenant *t, int rc);
static void on_lookup_done(int result, struct holder_answer *a, void *arg);
static void apply_holders(struct tenant *t);
static void check_gone(struct tenant *t, struct conflict_set *set);
static void check_gone_next(struct tenant *t);
static void on_fetch_done(int result, const struct holder_object *res, size_t n,
                          void *arg);
static void on_step(uv_idle_t *h);

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

/* ===== Shared with the end of a cycle and the sweep ===== */

void tenant_alert(struct tenant *t, enum alert_type type,
                  const struct conflict *c, const struct alert_sweep *sw)
{
  outbox_add(&t->outbox, type, c, sw, time(NULL));
}

uint64_t tenant_slice_end(void)
{
  return uv_hrtime() + TENANT_SLICE_MS * 1000000;
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

/* pair() pairs set, the complete inventory, a slice per loop iteration
 * (pair_some()), then starts the holder lookup of the conflicts that need
 * one (lookup_start()); set waits in t->pending. */
static void pair(struct tenant *t, struct conflict_set *set)
{
  size_t n = conflict_set_count(set);

  t->pending = set;
  t->nneed = 0;
  if(n && !(t->need = calloc(n, sizeof(*t->need)))) {
    pair_failed(t, -ENOMEM);
    return;
  }
  conflict_iter_init(&t->walk, set);
  tenant_later(t, pair_some);
}

/* pair_some() carries the pairing of a slice of the conflicts of
 * t->pending over from the inventory believed so far and notes those
 * that need a lookup in t->need. */
static void pair_some(struct tenant *t)
{
  const uint64_t end = tenant_slice_end();
  struct conflict *c;
  size_t done = 0;

  while((c = conflict_iter_next(&t->walk))) {
    const struct conflict *o =
        t->state.conflicts ? conflict_set_find(t->state.conflicts, c->key)
                           : NULL;

    if(o)
      sweep_carry(c, o);
    else
      sweep_aging_skip(c, t->cycle_now, &t->sweep);
    if(o && conflict_copy_pairing(c, o)) {
      pair_failed(t, -ENOMEM);
      return;
    }
    if(holder_needs_lookup(o, c))
      t->need[t->nneed++] = c;
    if(!(++done % 64) && t->walk.next && uv_hrtime() >= end) {
      tenant_later(t, pair_some);
      return;
    }
  }
  tenant_later(t, lookup_start);
}

/* lookup_start() starts the holder lookup of t->need, or checks the
 * conflicts gone from t->pending at once when none needs one. */
static void lookup_start(struct tenant *t)
{
  int rc = 0;

  if(t->nneed)
    rc = holder_lookup_answer(t->holder, t->need, t->nneed, on_lookup_done, t);
  if(rc) {
    pair_failed(t, rc);
    return;
  }
  free(t->need);
  t->need = NULL;
  if(!t->nneed)
    check_gone_next(t);
}

/* pair_failed() records that the holders of t->pending could not be
 * looked up (rc): the conflicts are still alerted, as unknown, and the
 * next cycle retries; then it checks the conflicts gone. */
static void pair_failed(struct tenant *t, int rc)
{
  struct conflict_iter it;
  struct conflict *c;

  log_warnx("tenant %s: cannot look up holders: %s", t->name, strerror(-rc));
  conflict_iter_init(&it, t->pending);
  while((c = conflict_iter_next(&it)))
    if(!c->looked_up && !c->lookup_error)
      c->lookup_error = strdup(rc == -ENOMEM ? "OutOfMemory" : "NotStarted");
  free(t->need);
  t->need = NULL;
  check_gone_next(t);
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
  const uint64_t end = tenant_slice_end();
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
  tenant_commit_cycle(t, set, gone, rc ? n : 0);
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
    tenant_alert(t,
                 ch == SWEEP_RELEASED ? ALERT_CONFLICT_RELEASED
                                      : ALERT_CONFLICT_CLEARED,
                 c, ch == SWEEP_RELEASED ? &sw : NULL);
  }
  if(n && !kept)
    log_errx("tenant %s: out of memory; gone conflicts not kept", t->name);
  tenant_commit_cycle(t, set, kept, nkept);
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
  free(t->need);
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

/* on_outbox_closed() voids what the outbox spooled and no saved state
 * commits (a cycle that ended as the tenant closed): held, it would keep
 * every later alert of the sinks waiting. */
static void on_outbox_closed(void *arg)
{
  struct tenant *t = arg;

  alert_recover(t->outbox.alert, t->name, t->state.alert_seq);
  part_closed(t);
}

static void close_outbox(struct tenant *t)
{
  outbox_close(&t->outbox, on_outbox_closed, t);
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
 * starts), the outbox (what was released is spooled, held), the apply
 * engine before graph (whose cancelled callbacks then
 * drop its pass), graph before the token and the HTTP client it uses.
 * Each calls part_closed() once. */
static void (*const parts[])(struct tenant *t) = {
    close_schedule, close_step,  close_outbox, close_apply,
    close_graph,    close_token, close_http,
};

/* on_save_closed() closes the parts once the saver has closed: a save
 * under way is finished first, so that what it records is on disk and its
 * alerts are committed before the outbox closes. */
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
  /* What the spools hold beyond the saved state is voided: the cycle
   * that raised it runs again. */
  rc = alert_recover(alert, t->name, t->state.alert_seq);
  if(rc)
    goto fail; /* logged by the spool */
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
  go.budget_units = tc->resource_budget
                        ? tc->resource_budget
                        : budget_quota((enum budget_size)tc->tenant_size);
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
  holder_set_scan(t->holder, cfg->lookup_scan, cfg->max_concurrency);
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
  outbox_init(&t->outbox, loop, alert, t->name, &t->copts, &t->state.alert_seq);
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
