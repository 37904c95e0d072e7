/* SPDX-License-Identifier: MIT
 *
 * tenant_commit: the end of a cycle or a sweep, where what the daemon
 * believes changes.  The complete, paired inventory of a cycle is
 * classified, the suggestions updated, compared with the one believed
 * (a conflict.detected alert queued for each new conflict), swapped in,
 * and the sweep's state machine stepped; then the alerts are spooled,
 * held (outbox.h), the state file is written off the loop (statesave.h),
 * and only once it is durable do the alerts go out (tenant_commit_alerts()).
 * Each stage runs a loop iteration of its own, the long ones in slices of
 * TENANT_SLICE_MS.  The helpers shared with the sweep (tenant_sweep.c)
 * are here too: the classes, the sweep's steps and the save.
 */
#include "tenant_int.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "apply.h"
#include "classify.h"
#include "conflict.h"
#include "inventory.h"
#include "log.h"
#include "outbox.h"
#include "schedule.h"
#include "selfalert.h"
#include "statesave.h"
#include "suggest.h"
#include "sweep.h"
#include "token.h"

static void commit_suggest(struct tenant *t);
static void commit_suggest_more(struct tenant *t);
static void commit_diff_start(struct tenant *t);
static void commit_diff(struct tenant *t);
static void commit_swap(struct tenant *t);
static void commit_advance(struct tenant *t);
static void commit_finish(struct tenant *t);
static void on_cycle_spooled(void *arg);
static void on_cycle_saved(int rc, void *arg);

/* ===== Alerts and the sweep's steps, for cycles and sweeps ===== */

static void on_detected(const struct conflict *c, void *arg)
{
  tenant_alert(arg, ALERT_CONFLICT_DETECTED, c, NULL);
}

/* tenant_commit_classify() stores the class of every conflict of set as of now.
 */
void tenant_commit_classify(struct tenant *t, struct conflict_set *set,
                            time_t now)
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

bool tenant_commit_advance(struct tenant *t, size_t *changes)
{
  static const enum alert_type types[] = {
      [SWEEP_FREED] = ALERT_CONFLICT_FREED,
      [SWEEP_HELD] = ALERT_CONFLICT_HELD,
      [SWEEP_STUCK] = ALERT_CONFLICT_STUCK,
  };
  const uint64_t end = tenant_slice_end();
  const time_t now = t->commit_now;
  struct conflict *c;
  size_t done = 0;

  while((c = conflict_iter_next(&t->walk))) {
    enum sweep_change ch = sweep_assess(c, now, &t->sweep);
    struct alert_sweep sw;

    if(ch == SWEEP_FREED || ch == SWEEP_HELD || ch == SWEEP_STUCK) {
      log_info("tenant %s: %s: %s; now %s", t->name, c->key,
               sweep_change_name(ch), conflict_state_name(c->state));
      tenant_alert(t, types[ch], c, NULL);
      (*changes)++;
    }
    memset(&sw, 0, sizeof(sw));
    sw.threshold = sweep_aging_due(c, now, &t->sweep);
    if(sw.threshold) {
      sw.age = sweep_age(c, now);
      tenant_alert(t, ALERT_CONFLICT_AGING, c, &sw);
    }
    if(!(++done % 64) && t->walk.next && uv_hrtime() >= end)
      return false;
  }
  return true;
}

/* tenant_commit_save() starts saving the state, stamped with now, and calls
 * done(rc, t) once it is durable or failed.  When the save cannot start
 * (logged) done is called at once. */
void tenant_commit_save(struct tenant *t, time_t now, statesave_done_cb done)
{
  int rc = statesave_start(&t->save, &t->state, now, done, t);

  if(rc)
    done(rc, t);
}

/* ===== The end of a cycle ===== */

/* tenant_commit_cycle() makes the complete, paired inventory set the one
 * believed: classes, suggestions, diff, the sweep's steps and the state file,
 * then the alerts of all that, the apply pass and the next cycle, in stages a
 * loop iteration apart (set waits in t->pending), the suggestions, the
 * diff and the sweep's steps a slice per iteration:
 * commit_suggest -> commit_suggest_more -> commit_diff -> commit_swap ->
 * commit_advance -> commit_finish.
 * The n conflicts at kept (taken from the inventory believed so far,
 * whose objects could not be checked; the array is malloc'd or NULL and
 * taken over) join set, still believed. */
void tenant_commit_cycle(struct tenant *t, struct conflict_set *set,
                         struct conflict **kept, size_t n)
{
  t->pending = set;
  t->kept = kept;
  t->nkept = n;
  t->commit_now = time(NULL);
  tenant_commit_classify(t, set, t->commit_now);
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
    commit_diff_start(t);
    return;
  }
  tenant_later(t, commit_suggest_more);
}

/* commit_suggest_more() runs a slice of the suggestions' update. */
static void commit_suggest_more(struct tenant *t)
{
  int added = 0;

  if(!suggest_step(t->suggesting, tenant_slice_end(), &added)) {
    tenant_later(t, commit_suggest_more);
    return;
  }
  t->suggesting = NULL; /* ended and freed, failure logged */
  commit_diff_start(t);
}

/* commit_diff_start() has t->pending compared with the inventory believed
 * so far from the next loop iteration on. */
static void commit_diff_start(struct tenant *t)
{
  memset(&t->saved.ds, 0, sizeof(t->saved.ds));
  conflict_iter_init(&t->walk, t->pending);
  tenant_later(t, commit_diff);
}

/* commit_diff() compares a slice of t->pending with the inventory
 * believed so far: a conflict.detected alert queued for each new one. */
static void commit_diff(struct tenant *t)
{
  const struct conflict_diff_cb cb = {on_detected, NULL, t};
  const uint64_t end = tenant_slice_end();

  while(!conflict_set_diff_some(t->state.conflicts, &t->walk, 64, &cb,
                                &t->saved.ds))
    if(uv_hrtime() >= end) {
      tenant_later(t, commit_diff);
      return;
    }
  tenant_later(t, commit_swap);
}

/* commit_swap() makes t->pending, with the conflicts kept, the inventory
 * believed, and frees the one it replaces. */
static void commit_swap(struct tenant *t)
{
  struct conflict_set *set = t->pending;
  struct conflict **kept = t->kept;
  size_t i, n = t->nkept;

  t->pending = NULL;
  t->kept = NULL;
  t->nkept = 0;
  for(i = 0; i < n; i++)
    if(conflict_set_add(set, kept[i])) {
      log_errx("tenant %s: out of memory keeping %s", t->name, kept[i]->key);
      conflict_free(kept[i]);
    }
  free(kept);
  conflict_set_free(t->state.conflicts);
  t->state.conflicts = set;
  conflict_iter_init(&t->walk, set);
  tenant_later(t, commit_advance);
}

/* commit_advance() steps the sweep's state machine over a slice of the
 * inventory believed. */
static void commit_advance(struct tenant *t)
{
  size_t changes = 0;

  tenant_later(t, tenant_commit_advance(t, &changes) ? commit_finish
                                                     : commit_advance);
}

/* commit_finish() records the cycle's success and saves the state. */
static void commit_finish(struct tenant *t)
{
  time_t now = t->commit_now;

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
  /* Spooled, held, on the next loop iterations; flood control counts
   * them as one cycle's (alert.h). */
  outbox_release(&t->outbox, true, on_cycle_spooled, t);
}

/* on_cycle_spooled() saves the state once the cycle's alerts are on disk
 * in the spools. */
static void on_cycle_spooled(void *arg)
{
  struct tenant *t = arg;

  if(!t->closing)
    tenant_commit_save(t, t->commit_now, on_cycle_saved);
}

/* tenant_commit_alerts() lets the alerts spooled so far go out once their state
 * is saved.  A failed save (logged by statesave) lets them go all the
 * same: the next cycle saves again, and an alert repeated after a crash
 * while the disk fails beats one held for ever. */
void tenant_commit_alerts(struct tenant *t)
{
  alert_commit(t->outbox.alert, t->name, t->state.alert_seq);
}

/* on_cycle_saved() ends a cycle once its state is saved: its alerts go
 * out, then the apply pass, the cycle's line and the next cycle. */
static void on_cycle_saved(int rc, void *arg)
{
  struct tenant *t = arg;
  const struct conflict_diff_stats *ds = &t->saved.ds;
  size_t count = conflict_set_count(t->state.conflicts);

  (void)rc;
  tenant_commit_alerts(t);
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
