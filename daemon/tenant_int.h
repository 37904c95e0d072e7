/* SPDX-License-Identifier: MIT
 *
 * tenant_int: internal to the per-tenant runtime, included by tenant.c
 * (cycles, start and close) and tenant_sweep.c (the sweep) and by nothing
 * else: the tenant's record and the steps both use.  Other modules use
 * tenant.h only.
 */
#ifndef QD_TENANT_INT_H
#define QD_TENANT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "cfg.h"
#include "classify.h"
#include "conflict_set.h"
#include "outbox.h"
#include "selfalert.h"
#include "statesave.h"
#include "store.h"
#include "suggest.h"
#include "sweep.h"
#include "tenant.h"

/* What a cycle or a sweep tells after its state is saved. */
struct tenant_saved {
  struct conflict_diff_stats ds;   /* a cycle's diff */
  size_t checked, failed, changes; /* a sweep's figures */
};

struct tenant {
  uv_loop_t *loop;
  char *name;
  char *state_dir;
  char *suggest_path;     /* <state_dir>/<tenant>.suggestions.csv */
  unsigned anchor_length; /* bytes an anchor decodes to; 0 = any */
  struct http_client *hc;
  struct token *tok;
  struct graph *g;
  struct inventory *inv;
  struct holder *holder;
  struct classify_opts copts;
  struct conflict_set *pending; /* complete inventory awaiting its lookup,
                                   the check of gone conflicts or the next
                                   stage of its commit */
  struct holder_answer *answer; /* the finished lookup being applied to
                                   pending, a slice per loop iteration */
  size_t answer_pos;            /* its next result to apply */
  struct conflict_iter walk;    /* where the stage run a slice per loop
                                   iteration is in its set */
  const struct conflict **need; /* conflicts of pending to look up, as the
                                   pairing finds them (borrowed) */
  size_t nneed;
  struct conflict **kept; /* conflicts kept believed, for commit */
  size_t nkept;
  time_t commit_now;              /* the time a cycle's commit or a sweep's
                                     steps run as of */
  uv_idle_t step_idle;            /* runs the next stage of a commit */
  struct suggest_run *suggesting; /* the suggestions' update under way */
  void (*step)(struct tenant *t);
  struct apply *apply;    /* the guarded anchor writer (off by default) */
  struct schedule *sched; /* when cycles and sweeps run */
  uint64_t cycle_start;   /* uv_now() when the running cycle began */
  time_t cycle_now;       /* wall time the running cycle's inventory began */
  /* the sweep */
  struct sweep_opts sweep;
  unsigned long aging[CFG_MAX_DURATIONS];
  unsigned interval;         /* seconds between cycles, for the endpoint */
  struct store_state state;  /* the inventory believed now, delta links */
  struct outbox outbox;      /* alerts spooled, held until the state is saved */
  struct statesave save;     /* writes the state file off the loop */
  struct tenant_saved saved; /* what the save under way is for */
  struct selfalert self;     /* tenant.failing, credential.* self-alerts */
  char *cert_path;           /* the certificate file, for credential.expiring */
  struct tenant_stats stats;
  void (*changed)(void *arg);
  void *changed_arg;
  /* inventory = delta, and delta_full_resync in seconds (0 = never) */
  bool delta;
  unsigned full_resync;
  /* shutdown */
  bool closing;
  unsigned open_parts; /* parts whose close has not called back yet */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* tenant_commit_classify() stores the class of every conflict of set as of
 * now. */
void tenant_commit_classify(struct tenant *t, struct conflict_set *set,
                            time_t now);

/* tenant_commit_advance() runs the sweep's state machine as of t->commit_now
 * over a slice (about TENANT_SLICE_MS) of the conflicts of the set that
 * t->walk goes through (conflict_iter_init() first; the set must not
 * change until the walk ends) and queues an alert per change and per
 * aging threshold passed, adding the number of state changes to
 * *changes.  Returns true once the walk has ended, false when a later
 * loop iteration must go on. */
bool tenant_commit_advance(struct tenant *t, size_t *changes);

/* How long one loop iteration may spend on a stage of a cycle or a sweep
 * that is cut into slices. */
#define TENANT_SLICE_MS 10ULL

/* tenant_alert() queues one alert about c, as it is now, until the cycle
 * or sweep ends (outbox_release()); sw carries the sweep's figures, or is
 * NULL.  The outbox copies c. */
void tenant_alert(struct tenant *t, enum alert_type type,
                  const struct conflict *c, const struct alert_sweep *sw);

/* tenant_slice_end() is when a slice starting now must stop (uv_hrtime()
 * units). */
uint64_t tenant_slice_end(void);

/* tenant_commit_cycle() ends a cycle with its complete, paired inventory
 * set (taken over): the stages of tenant_commit.c, then the apply pass,
 * the cycle's log line and the next cycle.  The n conflicts at kept (a
 * malloc'd array or NULL, taken over) join set, still believed. */
void tenant_commit_cycle(struct tenant *t, struct conflict_set *set,
                         struct conflict **kept, size_t n);

/* tenant_apply_holders() records in the conflicts of set a slice (about
 * TENANT_SLICE_MS) of the results of t->answer, counting the FAILED ones
 * in *failed.  Returns true when every result is recorded (t->answer is
 * then freed and NULL), false when a later loop iteration must go on. */
bool tenant_apply_holders(struct tenant *t, struct conflict_set *set,
                          size_t *failed);

/* tenant_later() runs fn(t) on a following loop iteration (not once t
 * is closing), so that the stages of a large cycle or sweep each take a
 * loop iteration of their own. */
void tenant_later(struct tenant *t, void (*fn)(struct tenant *t));

/* tenant_commit_save() starts saving the state, stamped with now, and calls
 * done(rc, t) once it is durable or failed.  When the save cannot start
 * (logged) done is called at once. */
void tenant_commit_save(struct tenant *t, time_t now, statesave_done_cb done);

/* tenant_commit_alerts() lets the tenant's alerts spooled so far go out, their
 * state being saved (or its save failed, logged). */
void tenant_commit_alerts(struct tenant *t);

/* tenant_sweep_start() looks up the holders of every conflict believed
 * now and steps the sweep with them (the schedule's sweep start function;
 * tenant_sweep.c). */
int tenant_sweep_start(void *arg);

#endif
