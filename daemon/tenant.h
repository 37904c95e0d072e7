/* SPDX-License-Identifier: MIT
 *
 * tenant: everything the daemon runs for one [tenant NAME] section: its
 * HTTP client, token source, Graph client, inventory and schedule, and
 * the conflict inventory it believes in (loaded from and saved to the
 * state directory).  Cycles never overlap, and each tenant has its own
 * timer and connections, so a slow tenant delays no other.
 */
#ifndef QD_TENANT_H
#define QD_TENANT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <uv.h>

#include "apply.h"
#include "cfg.h"
#include "graph.h"

struct alert;
struct tenant;

/* What the daemon reports about a tenant (STATUS=, health). */
struct tenant_stats {
  size_t conflicts;    /* in the inventory believed now */
  time_t last_success; /* end of the last complete cycle; 0 = never */
  time_t last_failure; /* end of the last failed cycle; 0 = never */
  unsigned failures;   /* consecutive failed cycles */
  int last_result;     /* of the last cycle: 0, or a negative errno code */
  unsigned long cycles_ok, cycles_failed;
  unsigned interval;     /* seconds between cycles */
  time_t next_cycle;     /* when the next cycle is due; 0 while one runs */
  time_t busy_since;     /* start of the running cycle or sweep; 0 = idle */
  int token;             /* token_status() */
  bool state_unwritable; /* the last save of the state file failed */
  struct graph_stats graph;
  struct apply_stats apply;
};

/* tenant_start() sets up tenant tc of cfg (both copied as needed) on
 * loop: reads its credential, loads its state from state_dir, and
 * schedules the first cycle within a few seconds.  alert is borrowed and
 * must outlive the tenant.  changed(arg) is called after every cycle.
 * Returns 0 with *out set, or a negative errno code (logged here with
 * the tenant's name). */
int tenant_start(uv_loop_t *loop, const struct cfg *cfg,
                 const struct cfg_tenant *tc, const char *state_dir,
                 struct alert *alert, void (*changed)(void *arg), void *arg,
                 struct tenant **out);

/* tenant_close() cancels a running cycle (which then changes nothing),
 * closes every handle, and frees t once they are closed; then
 * closed_cb(arg) runs if given. */
void tenant_close(struct tenant *t, void (*closed_cb)(void *arg), void *arg);

const char *tenant_name(const struct tenant *t);

/* tenant_conflicts() is the inventory believed now, or NULL when empty;
 * borrowed until the tenant's next cycle or sweep ends (read it within
 * one loop callback). */
const struct conflict_set *tenant_conflicts(const struct tenant *t);

void tenant_get_stats(const struct tenant *t, struct tenant_stats *st);

/* tenant_saving() is true while t's state file is being written (from
 * the end of a cycle or sweep until the file is durable).  A tenant for
 * the same name started meanwhile would read the old file: a reload waits
 * until no tenant is saving. */
bool tenant_saving(const struct tenant *t);

#endif
