/* SPDX-License-Identifier: MIT
 *
 * outbox: a tenant's conflict alerts held back until the state that
 * records them is saved.  A cycle or a sweep queues each event as it
 * finds it, with a copy of the conflict as it was then; the tenant
 * writes its state file (atomically, fsync'd), and only then releases
 * the queue.  So whoever sees an alert finds the state file already
 * saying so, and a crash between the two repeats an alert rather than
 * losing one.
 *
 * A release of a few alerts (up to 64) is sent at once, before the
 * cycle's log line.  A larger one is sent on the following loop
 * iterations, in order, for at most OUTBOX_SLICE_MS at a time, so that a
 * cycle with thousands of alerts never holds the loop for long: each
 * alert is rendered,
 * formatted for every sink and appended to the sinks' spools, whose
 * group commit writes them off the loop.
 */
#ifndef QD_OUTBOX_H
#define QD_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <uv.h>

#include "alert.h"
#include "classify.h"
#include "conflict.h"

/* How long one loop iteration may spend sending released alerts. */
#define OUTBOX_SLICE_MS 10

struct outbox_item;

/* The queue of one tenant, embedded in it.  alert, tenant and opts are
 * borrowed; the items (copies) are owned.  Items [0, next) are sent,
 * [next, ready) released and being sent, [ready, n) waiting for the
 * state to be saved. */
struct outbox {
  struct alert *alert;
  const char *tenant;
  const struct classify_opts *opts;
  struct outbox_item *v;
  size_t n, cap, next, ready;
  bool flood_on;            /* flood counts what is being sent */
  struct alert_flood flood; /* the count of the cycle being sent */
  uv_idle_t idle;           /* sends a slice per loop iteration */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* outbox_init() makes ob an empty queue on loop for tenant's alerts to a,
 * each classified with opts; all three must outlive ob, which is ended
 * by outbox_close(). */
void outbox_init(struct outbox *ob, uv_loop_t *loop, struct alert *a,
                 const char *tenant, const struct classify_opts *opts);

/* outbox_add() queues an alert of type about c (copied, with its pairing
 * and the sweep's record, as it is now), to be classified as of now; sw
 * (the sweep's figures) is copied too and may be NULL.  Out of memory
 * the alert is sent at once instead (and that is logged): an alert ahead
 * of its state beats none. */
void outbox_add(struct outbox *ob, enum alert_type type,
                const struct conflict *c, const struct alert_sweep *sw,
                time_t now);

/* outbox_release() releases what is queued, once its state is saved: it
 * is sent on the next loop iterations, in the order queued.  With flood
 * true the alerts are one cycle's and flood control applies to them
 * (alert.h).  Alerts released earlier and not yet sent are sent first,
 * at once. */
void outbox_release(struct outbox *ob, bool flood);

/* outbox_pending() is the number of alerts released and not yet sent. */
size_t outbox_pending(const struct outbox *ob);

/* outbox_close() sends at once what was released (its state is saved),
 * drops what was not, and closes the handle; then it calls
 * closed_cb(arg) if not NULL.  The memory (embedded) is the caller's. */
void outbox_close(struct outbox *ob, void (*closed_cb)(void *arg), void *arg);

#endif
