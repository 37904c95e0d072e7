/* SPDX-License-Identifier: MIT
 *
 * suggest: known-anchor suggestions derived from conflict pairs.  When a
 * cloud-only user holds the UPN or address of a synced user (class
 * cloud_account), the synced duplicate's onPremisesImmutableId is the
 * source anchor that would hard-match the two.  suggest_update() writes
 * such pairs to the tenant's suggestions file (anchors.h), unapproved: an
 * admin approves a line with `quarantinectl suggestions approve`, and
 * only approved lines ever reach the apply engine.
 *
 * The daemon and quarantinectl both rewrite the file; each holds the
 * file's lock (anchors_suggestions_lock()) from reading to renaming, so
 * an approval is never lost to a concurrent update.
 */
#ifndef QD_SUGGEST_H
#define QD_SUGGEST_H

#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "classify.h"
#include "conflict.h"
#include "conflict_set.h"

/* suggest_update() adds a suggestion to the file at path for each
 * conflict of set (borrowed, not changed) whose stored class (c->cls, as
 * classify_conflict() found it with opts) is cloud_account and whose
 * synced side carries a valid anchor of
 * anchor_len bytes (0 = any length) and is not suggested yet (same cloud
 * user and anchor; an existing line keeps its approval).  The file is
 * read and rewritten atomically only when there is something to add; a
 * file with bad lines is left alone (rewriting would drop them).
 * With loop NULL (quarantinectl's way, and the tests') the lock is waited
 * for and the file written before this returns; with a loop (the
 * daemon's) a held lock skips the update until the next call (0), and the
 * new file is written by libuv's file-system requests (afile.h), the lock
 * held until it is in place; a failure of that write is logged then.
 * Returns the number of suggestions added (>= 0) or a negative errno; a
 * failure is logged once here, with the path and the tenant. */
int suggest_update(uv_loop_t *loop, const char *path,
                   const struct conflict_set *set,
                   const struct classify_opts *opts, size_t anchor_len,
                   time_t now);

/* The same update a slice at a time, for the daemon's loop: a cycle with
 * thousands of candidates never holds the loop for long.  A run holds the
 * file's lock from suggest_begin() until it ends; set is borrowed and must
 * not change meanwhile. */
struct suggest_run;

/* suggest_begin() starts the update suggest_update() makes.  Returns 0
 * with *out NULL when there is nothing to do (no candidate, or the lock is
 * held: the next cycle tries again), 0 with *out set (then call
 * suggest_step() until it ends, or suggest_abort()), or a negative errno
 * (logged). */
int suggest_begin(uv_loop_t *loop, const char *path,
                  const struct conflict_set *set,
                  const struct classify_opts *opts, size_t anchor_len,
                  time_t now, struct suggest_run **out);

/* suggest_step() looks at the conflicts of the set, then (on a loop,
 * when something was added) makes the file's text, until uv_hrtime()
 * reaches until_ns (at least one conflict or 64 lines; 0: no limit).  Returns 0
 * when there is more to do; 1 when the run has ended (freed; the file is being
 * written when something was added, and *added says how many); or a negative
 * errno (logged; freed). */
int suggest_step(struct suggest_run *r, uint64_t until_ns, int *added);

/* suggest_abort() ends r without writing (NULL is fine). */
void suggest_abort(struct suggest_run *r);

#endif
