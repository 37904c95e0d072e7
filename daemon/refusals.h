/* SPDX-License-Identifier: MIT
 *
 * refusals: the apply engine's refusal memory of one tenant, the file
 * <state_dir>/<tenant>.apply.json.  It remembers which (reason, target,
 * anchor, reference) was already alerted, so that each refusal, dry-run
 * line or halt is said once and not again every cycle, across restarts.
 * A change of reason for the same entry, or a new reference, is news.
 */
#ifndef QD_REFUSALS_H
#define QD_REFUSALS_H

#include <stdbool.h>

struct anchors_entry;
struct anchors_set;
struct refusals;

/* refusals_open() loads the memory at path (copied) for tenant (copied,
 * for log lines).  A missing file is an empty memory; an unreadable one
 * is logged and treated as empty; one that is not a refusal memory is
 * logged, moved aside to "<path>.bad" and treated as empty.  Returns 0
 * with *out set, or -ENOMEM.  Free with refusals_free(). */
int refusals_open(const char *path, const char *tenant, struct refusals **out);

/* refusals_free() frees m (NULL is accepted); the file stays. */
void refusals_free(struct refusals *m);

/* refusals_note() records that reason was said about entry e (NULL: a
 * reason about the whole tenant, e.g. a halt).  Any other reason noted
 * about the same entry is forgotten, so a change of reason is news.
 * Returns true when this is news (the caller alerts it), false when it
 * was said already or memory ran out.  The file is rewritten atomically
 * on every change; a failed write is logged (refusals may then be alerted
 * again after a restart).  e stays the caller's. */
bool refusals_note(struct refusals *m, const char *reason,
                   const struct anchors_entry *e);

/* refusals_has() tells whether reason is noted about e (NULL: global). */
bool refusals_has(const struct refusals *m, const char *reason,
                  const struct anchors_entry *e);

/* refusals_forget() drops reason about e (NULL: the global one), so it is
 * news again the next time; nothing happens when it was not noted. */
void refusals_forget(struct refusals *m, const char *reason,
                     const struct anchors_entry *e);

/* refusals_prune() forgets everything said about entries that are not in
 * set (the known anchors just loaded); global reasons are kept. */
void refusals_prune(struct refusals *m, const struct anchors_set *set);

#endif
