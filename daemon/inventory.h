/* SPDX-License-Identifier: MIT
 *
 * inventory: one polling cycle of one tenant.  Lists users, groups and
 * contacts that carry a PropertyConflict provisioning error, following
 * every page, and builds a complete conflict_set.  When a tenant refuses
 * the provisioning-error $filter (Request_UnsupportedQuery) the cycle
 * falls back to a $select scan of the collection, filtered here, and
 * remembers that for later cycles.  In delta mode each collection either
 * reads all of /delta (a full round) or applies the changes behind a
 * stored deltaLink to a copy of the inventory believed so far; an expired
 * token turns into a full round of that collection within the cycle.  A
 * cycle either completes or fails as a whole: a partial inventory is
 * never handed out.
 */
#ifndef QD_INVENTORY_H
#define QD_INVENTORY_H

#include <time.h>

#include "conflict.h"
#include "conflict_set.h"
#include "graph.h"

enum inventory_mode {
  INVENTORY_FILTER, /* server-side $filter, scan if the tenant refuses it */
  INVENTORY_SCAN,   /* always scan every object with $select */
  INVENTORY_DELTA   /* /delta rounds from stored deltaLinks */
};

/* Collections, in the order of store.h's enum store_collection. */
#define INVENTORY_NCOLL 3

/* Where a delta cycle starts.  Everything is borrowed and must stay
 * unchanged until the done callback has run. */
struct inventory_delta {
  const struct conflict_set *believed; /* the inventory the links lead on
                                          from; NULL = empty */
  const char *link[INVENTORY_NCOLL];   /* stored @odata.deltaLink, NULL =
                                          full round */
  int full; /* full rounds for all three, whatever the links */
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

/* inventory_run() starts a cycle stamped now.  delta is required in
 * delta mode and ignored otherwise.  Returns 0 (cb will be called once)
 * or a negative errno code: -EBUSY while a cycle runs. */
int inventory_run(struct inventory *inv, time_t now,
                  const struct inventory_delta *delta, inventory_done_cb cb,
                  void *arg);

/* After a successful delta cycle (inside or after its done callback, and
 * before the next inventory_run()): inventory_take_links() hands the new
 * @odata.deltaLink of each collection to the caller, replacing (and
 * freeing) what links[] held; the caller owns them.  Not calling it
 * keeps the links with the inventory until the next cycle frees them. */
void inventory_take_links(struct inventory *inv, char *links[INVENTORY_NCOLL]);

/* inventory_all_full() tells whether the last cycle read every collection
 * in a full delta round (0 in filter and scan mode). */
int inventory_all_full(const struct inventory *inv);

/* inventory_rounds() describes the last cycle's delta rounds for a log
 * line: "delta full", "delta incremental", or per collection such as
 * "delta: users full, groups incremental, contacts incremental"; "" in
 * filter and scan mode.  Valid until the next inventory_run(). */
const char *inventory_rounds(const struct inventory *inv);

/* inventory_running() tells whether a cycle is under way. */
int inventory_running(const struct inventory *inv);

/* inventory_free() frees inv.  No cycle may be running: close the graph
 * client first, which ends a running cycle with -ECANCELED. */
void inventory_free(struct inventory *inv);

#endif
