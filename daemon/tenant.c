/* SPDX-License-Identifier: MIT
 *
 * tenant: the per-tenant runtime.  A cycle runs the inventory; only a
 * complete cycle changes what the daemon believes.  The new inventory
 * keeps the pairing of every conflict seen before unchanged, the others
 * get their holders looked up (holder.c), every conflict is classified
 * (classify.c), and only then is the inventory compared with the old one:
 * each difference becomes an alert (conflict.detected / conflict.cleared)
 * and the state file is rewritten.  A failed lookup never hides a
 * conflict: it is alerted as class unknown and looked up again next
 * cycle.  A failed cycle is logged once and retried sooner, with backoff.
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
#include "classify.h"
#include "apply.h"
#include "conflict.h"
#include "graph.h"
#include "holder.h"
#include "http.h"
#include "inventory.h"
#include "log.h"
#include "store.h"
#include "suggest.h"
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
  struct conflict_set *pending; /* complete inventory awaiting its lookup */
  struct apply *apply;          /* the guarded anchor writer (off by default) */
  uv_timer_t timer;
  uint64_t cycle_start;     /* uv_now() when the running cycle began */
  struct store_state state; /* the inventory believed now, delta links */
  struct tenant_stats stats;
  void (*changed)(void *arg);
  void *changed_arg;
  /* inventory = delta, and delta_full_resync in seconds (0 = never) */
  bool delta;
  unsigned full_resync;
  /* shutdown */
  bool closing;
  unsigned open_parts; /* http client, token, timer still closing */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

static void on_cycle_done(int result, struct conflict_set *set,
                          const char *what, const struct graph_error *err,
                          void *arg);

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

static void on_timer(uv_timer_t *h)
{
  struct tenant *t = h->data;
  struct inventory_delta d;
  time_t now = time(NULL);
  size_t i;
  int rc;

  memset(&d, 0, sizeof(d));
  d.believed = t->state.conflicts;
  for(i = 0; i < INVENTORY_NCOLL; i++)
    d.link[i] = t->state.delta_link[i];
  /* The periodic full round catches what delta may not track
   * (graph-facts §11.1: onPremisesProvisioningErrors is unconfirmed); a
   * clock set back makes it due rather than postponing it. */
  d.full = t->full_resync &&
           (now - t->state.delta_full_sync >= (time_t)t->full_resync ||
            now < t->state.delta_full_sync);
  t->cycle_start = uv_now(t->loop);
  rc = inventory_run(t->inv, now, t->delta ? &d : NULL, on_cycle_done, t);
  if(rc) {
    log_warnx("tenant %s: cannot start a cycle: %s", t->name, strerror(-rc));
    uv_timer_start(&t->timer, on_timer, 30000, 0);
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

static void alert_conflict(struct tenant *t, enum alert_type type,
                           const struct conflict *c)
{
  struct classify_result cr;
  struct alert_event ev;

  classify_conflict(c, &t->copts, time(NULL), &cr);
  alert_event_init(&ev, type, t->name, c);
  ev.classification = &cr;
  /* Failures are logged and the event queued by the alert module. */
  alert_emit(t->alert, &ev);
}

static void on_detected(const struct conflict *c, void *arg)
{
  alert_conflict(arg, ALERT_CONFLICT_DETECTED, c);
}

static void on_cleared(const struct conflict *c, void *arg)
{
  alert_conflict(arg, ALERT_CONFLICT_CLEARED, c);
}

/* commit() makes the complete, paired inventory set the one believed:
 * classes, diff and alerts, state file, next cycle. */
static void commit(struct tenant *t, struct conflict_set *set)
{
  const struct conflict_diff_cb cb = {on_detected, on_cleared, t};
  struct conflict_diff_stats ds;
  struct classify_result cr;
  struct conflict_iter it;
  struct conflict *c;
  time_t now = time(NULL);

  conflict_iter_init(&it, set);
  while((c = conflict_iter_next(&it))) {
    classify_conflict(c, &t->copts, now, &cr);
    c->cls = cr.cls;
  }
  /* Logged there; a failure only delays the suggestion to the next cycle. */
  suggest_update(t->suggest_path, set, &t->copts, t->anchor_length, now);
  memset(&ds, 0, sizeof(ds));
  conflict_set_diff(t->state.conflicts, set, &cb, &ds);
  conflict_set_free(t->state.conflicts);
  t->state.conflicts = set;
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
  commit(t, set);
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
  commit(t, set);
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
    schedule(t);
    if(t->changed)
      t->changed(t->changed_arg);
    return;
  }
  pair(t, set);
}

/* The four parts (apply engine, HTTP client, token, timer) close
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
  t->open_parts = 4;
  uv_timer_stop(&t->timer);
  apply_close(t->apply, on_part_closed, t);
  graph_close(t->g);
  token_close(t->tok, on_part_closed, t);
  http_client_close(t->hc, on_part_closed, t);
  uv_close((uv_handle_t *)&t->timer, on_timer_closed);
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
  t->anchor_length = tc->anchor_length;
  rc = apply_new(loop, t->g, alert, tc, state_dir, &t->apply);
  if(rc)
    goto fail_inv; /* logged by apply_new */
  rc = uv_timer_init(loop, &t->timer);
  if(rc)
    goto fail_apply;
  t->timer.data = t;
  /* The first cycle soon, spread over a few seconds across tenants. */
  uv_timer_start(&t->timer, on_timer, 100 + random_below(2000), 0);
  log_info("tenant %s: polling %s every %u s", t->name, tc->graph_url,
           t->interval);
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
  free(t);
  return rc;
}
