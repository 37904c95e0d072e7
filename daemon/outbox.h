/* SPDX-License-Identifier: MIT
 *
 * outbox: a tenant's conflict alerts held back until the state that
 * records them is saved.  A cycle or a sweep queues each event as it
 * finds it, with a copy of the conflict as it was then; the tenant
 * writes its state file (atomically, fsync'd), and only then sends the
 * queue.  So whoever sees an alert finds the state file already saying
 * so, and a crash between the two repeats an alert rather than losing
 * one.
 */
#ifndef QD_OUTBOX_H
#define QD_OUTBOX_H

#include <stddef.h>
#include <time.h>

#include "alert.h"
#include "classify.h"
#include "conflict.h"

struct outbox_item;

/* The queue of one tenant.  alert, tenant and opts are borrowed; the
 * items (copies) are owned. */
struct outbox {
  struct alert *alert;
  const char *tenant;
  const struct classify_opts *opts;
  struct outbox_item *v;
  size_t n, cap;
};

/* outbox_init() makes ob an empty queue for tenant's alerts to a, each
 * classified with opts; all three must outlive ob. */
void outbox_init(struct outbox *ob, struct alert *a, const char *tenant,
                 const struct classify_opts *opts);

/* outbox_add() queues an alert of type about c (copied, with its pairing
 * and the sweep's record, as it is now), to be classified as of now; sw
 * (the sweep's figures) is copied too and may be NULL.  Out of memory
 * the alert is sent at once instead (and that is logged): an alert ahead
 * of its state beats none. */
void outbox_add(struct outbox *ob, enum alert_type type,
                const struct conflict *c, const struct alert_sweep *sw,
                time_t now);

/* outbox_flush() sends the queued alerts in the order they were queued
 * and empties the queue. */
void outbox_flush(struct outbox *ob);

/* outbox_clear() drops what is queued and frees the queue's memory. */
void outbox_clear(struct outbox *ob);

#endif
