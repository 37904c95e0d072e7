/* SPDX-License-Identifier: MIT
 *
 * apply_guard: the guards of the apply engine, called by apply.c only.
 * They decide, in a fixed order, whether the pass may go on and whether a
 * known anchor may be written, and refuse with a reason code (alerted
 * once through the refusal memory) when not.  The order and the codes
 * are listed at the top of apply_guard.c.
 */
#ifndef QD_APPLY_GUARD_H
#define QD_APPLY_GUARD_H

#include <stdbool.h>

struct pass;

/* apply_guard_kill_switch() is guards 1 and 15: when the kill switch file
 * exists it halts (said once), ends the pass (p is freed) and returns
 * true; otherwise it returns false and the pass goes on. */
bool apply_guard_kill_switch(struct pass *p);

/* apply_guard_anchors() runs guards 3 to 5 once the journal is settled:
 * it loads the known anchors into p->set, prunes the refusal memory to
 * them, checks the threshold and the tenant feature, then walks the
 * entries with apply_guard_next().  Any refusal ends the pass. */
void apply_guard_anchors(struct pass *p);

/* apply_guard_next() takes the next known anchor that is not yet applied
 * or parked and runs guards 6 to 15 on it, each refusal going on with
 * the next one; an entry that passes them all goes to apply_write().
 * With no entry left, the pass ends (apply_end_pass()). */
void apply_guard_next(struct pass *p);

#endif
