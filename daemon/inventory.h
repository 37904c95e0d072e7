/* SPDX-License-Identifier: MIT
 *
 * inventory: one polling cycle of one tenant.  Lists users, groups and
 * contacts that carry a PropertyConflict provisioning error, following
 * every page, and builds a complete conflict_set.  When a tenant refuses
 * the provisioning-error $filter (Request_UnsupportedQuery) the cycle
 * falls back to a $select scan of the collection, filtered here, and
 * remembers that for later cycles.  A cycle either completes or fails as
 * a whole: a partial inventory is never handed out.
 */
#ifndef QD_INVENTORY_H
#define QD_INVENTORY_H

#include <time.h>

#include "conflict.h"
#include "graph.h"

enum inventory_mode {
  INVENTORY_FILTER, /* server-side $filter, scan if the tenant refuses it */
  INVENTORY_SCAN    /* always scan every object with $select */
};

struct inventory;

/* Done callback of a cycle.  On success (result 0) set is a complete
 * inventory that the callee now owns; on failure set is NULL and err says
 * what failed (what names the collection).  result -ECANCELED means the
 * graph client was closed. */
typedef void (*inventory_done_cb)(int result, struct conflict_set *set,
                                  const char *what,
                                  const struct graph_error *err, void *arg);

/* inventory_new() makes the cycle runner of tenant over g (borrowed; it
 * must outlive the inventory).  page_size is $top (1..999).  Returns 0
 * or -ENOMEM. */
int inventory_new(struct graph *g, const char *tenant, enum inventory_mode mode,
                  unsigned page_size, struct inventory **out);

/* inventory_run() starts a cycle stamped now.  Returns 0 (cb will be
 * called once) or a negative errno code: -EBUSY while a cycle runs. */
int inventory_run(struct inventory *inv, time_t now, inventory_done_cb cb,
                  void *arg);

/* inventory_running() tells whether a cycle is under way. */
int inventory_running(const struct inventory *inv);

/* inventory_free() frees inv.  No cycle may be running: close the graph
 * client first, which ends a running cycle with -ECANCELED. */
void inventory_free(struct inventory *inv);

#endif
