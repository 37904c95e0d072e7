/* SPDX-License-Identifier: MIT
 *
 * tenant_sweep: the release sweep of a tenant.  It looks up the holders
 * of every conflict believed now, steps the sweep's state machine
 * (sweep.c) with the complete results (a slice per loop iteration),
 * spools the alerts of the changes, held (outbox.h), saves the state
 * (statesave.h) and only then lets them go (alert_commit()).  When sweeps
 * run, and that they never run during a cycle, is schedule.c's business.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "holder.h"
#include "log.h"
#include "schedule.h"
#include "tenant_int.h"

static void on_sweep_done(int result, struct holder_answer *a, void *arg);
static void sweep_apply(struct tenant *t);
static void on_sweep_spooled(void *arg);
static void sweep_advance(struct tenant *t);
static void on_sweep_saved(int rc, void *arg);

/* tenant_sweep_start() looks up the holders of every conflict believed now (the
 * schedule's sweep start function). */
int tenant_sweep_start(void *arg)
{
  struct tenant *t = arg;
  const struct conflict **all;
  struct conflict_iter it;
  struct conflict *c;
  size_t n = 0;
  int rc;

  if(!t->state.conflicts || !conflict_set_count(t->state.conflicts)) {
    log_debug("tenant %s: sweep: no conflicts", t->name);
    return -ENOENT;
  }
  all = calloc(conflict_set_count(t->state.conflicts), sizeof(*all));
  if(!all) {
    log_warnx("tenant %s: sweep: out of memory; next sweep retries", t->name);
    return -ENOMEM;
  }
  conflict_iter_init(&it, t->state.conflicts);
  while((c = conflict_iter_next(&it)))
    all[n++] = c;
  rc = holder_lookup_answer(t->holder, all, n, on_sweep_done, t);
  free(all);
  if(rc)
    log_warnx("tenant %s: cannot start the sweep: %s; next sweep retries",
              t->name, strerror(-rc));
  return rc;
}

/* on_sweep_done() takes the finished lookup of the sweep; its results
 * are recorded a slice per loop iteration (sweep_apply()). */
static void on_sweep_done(int result, struct holder_answer *a, void *arg)
{
  struct tenant *t = arg;

  if(t->closing || result == -ECANCELED) {
    holder_answer_free(a);
    return;
  }
  t->answer = a;
  t->answer_pos = 0;
  t->saved.checked = holder_answer_count(a);
  t->saved.failed = 0;
  sweep_apply(t);
}

/* sweep_apply() records a slice of the sweep's results; once all are,
 * it classifies the conflicts and steps the state machine with them. */
static void sweep_apply(struct tenant *t)
{
  /* No cycle runs during a sweep: the inventory the sweep started on. */
  struct conflict_set *set = t->state.conflicts;

  if(!tenant_apply_holders(t, set, &t->saved.failed)) {
    tenant_later(t, sweep_apply);
    return;
  }
  t->commit_now = time(NULL);
  tenant_commit_classify(t, set, t->commit_now);
  t->saved.changes = 0;
  conflict_iter_init(&t->walk, set);
  tenant_later(t, sweep_advance);
}

/* sweep_advance() steps the state machine over a slice of the
 * conflicts; once over all, it spools the alerts of the changes. */
static void sweep_advance(struct tenant *t)
{
  if(!tenant_commit_advance(t, &t->saved.changes)) {
    tenant_later(t, sweep_advance);
    return;
  }
  outbox_release(&t->outbox, false, on_sweep_spooled, t);
}

/* on_sweep_spooled() saves the state once the sweep's alerts are on disk
 * in the spools, held. */
static void on_sweep_spooled(void *arg)
{
  struct tenant *t = arg;

  if(!t->closing)
    tenant_commit_save(t, t->commit_now, on_sweep_saved);
}

/* on_sweep_saved() ends a sweep once its state is saved (or failed to
 * be, logged): its alerts go out and the schedule hears it ended. */
static void on_sweep_saved(int rc, void *arg)
{
  struct tenant *t = arg;
  const struct tenant_saved *sv = &t->saved;

  (void)rc;
  tenant_commit_alerts(t);
  if(t->closing)
    return;
  log_info("tenant %s: sweep re-checked %zu conflict%s (%zu failed), %zu "
           "change%s",
           t->name, sv->checked, sv->checked == 1 ? "" : "s", sv->failed,
           sv->changes, sv->changes == 1 ? "" : "s");
  if(t->changed)
    t->changed(t->changed_arg);
  schedule_sweep_done(t->sched);
}
