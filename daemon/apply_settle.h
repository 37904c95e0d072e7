/* SPDX-License-Identifier: MIT
 *
 * apply_settle: settling apply intents that have no outcome, the part of
 * the apply engine that keeps its promise after a crash or an unclear
 * answer.  Internal to the engine (see apply_int.h).
 */
#ifndef QD_APPLY_SETTLE_H
#define QD_APPLY_SETTLE_H

#include <stdbool.h>

struct apply;
struct pass;

/* apply_settle_pending() is the pass's first step after the journal is
 * read: it settles the intents without an outcome that may be settled
 * now, then hands the pass to the guards (apply_guard_anchors()), or ends
 * it when Graph cannot be read.  p stays the engine's. */
void apply_settle_pending(struct pass *p);

/* apply_settle_blocks() tells whether user_id (an object id, any case)
 * has an intent without an outcome in p's journal: nothing may be
 * written to that user until it is settled. */
bool apply_settle_blocks(const struct pass *p, const char *user_id);

/* apply_settle_free() frees the engine's read counts (a keeps the rest). */
void apply_settle_free(struct apply *a);

#endif
