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

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

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
 * Returns the number of suggestions added (>= 0) or a negative errno; a
 * failure is logged once here, with the path and the tenant.  failing
 * (the caller's, may be NULL) makes a failure to lock or write the file
 * logged once per episode: not again while *failing is true; *failing is
 * then set to whether this update failed. */
int suggest_update(const char *path, const struct conflict_set *set,
                   const struct classify_opts *opts, size_t anchor_len,
                   time_t now, bool *failing);

#endif
