/* SPDX-License-Identifier: MIT
 *
 * outbox: a tenant's conflict alerts, sent to the spools before the
 * state that records them is saved, and held there until it is.  A cycle
 * or a sweep queues each event as it finds it, with a copy of the
 * conflict as it was then; at its end the tenant releases the queue: each
 * alert, numbered in the tenant's sequence (store_state.alert_seq), is
 * rendered, formatted for every sink and appended to the sinks' spools as
 * a held record (alert.h).  Once the spools' group commit has them on
 * disk the tenant is told, saves its state (with the last number), and
 * then lets them go (alert_commit()).  So a crash never delivers an alert
 * whose state is not saved, and never loses one whose state is: see
 * ARCHITECTURE.md, "Closing the window".
 *
 * A release of a few alerts (up to 64) is sent at once.  A larger one is
 * sent on the following loop iterations, in order, for at most
 * OUTBOX_SLICE_MS at a time, so that a cycle with thousands of alerts
 * never holds the loop for long; and a group of at most OUTBOX_WINDOW
 * (outbox.c) at a time, each once the spools have the one before on
 * disk, so that its rendered alerts are never all in memory at once.
 */
#ifndef QD_OUTBOX_H
#define QD_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "alert.h"
#include "classify.h"
#include "conflict.h"

/* How long one loop iteration may spend sending released alerts. */
#define OUTBOX_SLICE_MS 10

struct outbox_item;

/* Called once a release is on disk in every spool (or cannot be). */
typedef void (*outbox_spooled_cb)(void *arg);

/* The queue of one tenant, embedded in it.  alert, tenant, opts and seq
 * are borrowed; the items (copies) are owned.  Items [0, next) are sent,
 * [next, ready) released and being sent, [ready, n) queued. */
struct outbox {
  struct alert *alert;
  const char *tenant;
  const struct classify_opts *opts;
  uint64_t *seq; /* the tenant's last alert number */
  struct outbox_item *v;
  size_t n, cap, next, ready;
  bool flood_on;            /* flood counts what is being sent */
  struct alert_flood flood; /* the count of the cycle being sent */
  uv_idle_t idle;           /* sends a slice per loop iteration */
  outbox_spooled_cb spooled;
  void *spooled_arg;
  bool syncing;     /* waiting for the spools (alert_sync()) */
  size_t window;    /* sent since the last wait for the spools */
  bool window_wait; /* waiting for the spools mid-release */
  bool closing, idle_closed;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* outbox_init() makes ob an empty queue on loop for tenant's alerts to a,
 * each classified with opts and numbered from *seq on (the number of the
 * last alert numbered; the tenant's state); all four must outlive ob,
 * which is ended by outbox_close(). */
void outbox_init(struct outbox *ob, uv_loop_t *loop, struct alert *a,
                 const char *tenant, const struct classify_opts *opts,
                 uint64_t *seq);

/* outbox_add() queues an alert of type about c (copied, with its pairing
 * and the sweep's record, as it is now), to be classified as of now; sw
 * (the sweep's figures) is copied too and may be NULL.  Out of memory
 * the alert is sent at once instead (and that is logged): an alert ahead
 * of its state beats none. */
void outbox_add(struct outbox *ob, enum alert_type type,
                const struct conflict *c, const struct alert_sweep *sw,
                time_t now);

/* outbox_release() sends what is queued into the spools, held, in the
 * order queued, and calls spooled(arg) once they have it on disk (from
 * the loop, or before it returns when that is at once); the caller then
 * saves its state and calls alert_commit().  With flood true the alerts
 * are one cycle's and flood control applies to them (alert.h).  One
 * release at a time: the next one comes after spooled was called. */
void outbox_release(struct outbox *ob, bool flood, outbox_spooled_cb spooled,
                    void *arg);

/* outbox_pending() is the number of alerts released and not yet sent. */
size_t outbox_pending(const struct outbox *ob);

/* outbox_close() sends at once what was released, drops what was not,
 * waits for the spools to have what was sent (spooled is called as
 * usual), and closes the handle; then it calls closed_cb(arg) if not
 * NULL.  The memory (embedded) is the caller's. */
void outbox_close(struct outbox *ob, void (*closed_cb)(void *arg), void *arg);

#endif
