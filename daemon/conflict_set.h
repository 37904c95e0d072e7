/* SPDX-License-Identifier: MIT
 *
 * conflict_set: a tenant's inventory of conflicts.  A set owns its
 * conflicts and finds them by conflict_key() in a hash table, and by
 * object id through a second chain, so that a delta round can drop one
 * object's conflicts without a scan.  Sets are iterated in no particular
 * order (conflict_iter_*), and two cycles' sets are compared with
 * conflict_set_diff() to find new and cleared conflicts.
 */
#ifndef QD_CONFLICT_SET_H
#define QD_CONFLICT_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "conflict.h"

/* A tenant's inventory; opaque.  It owns the conflicts it holds. */
struct conflict_set;

/* An iterator over a set.  The conflict last returned may be removed (and
 * freed) before the next call; no other change to the set is allowed
 * while iterating. */
struct conflict_iter {
  const struct conflict_set *set;
  size_t bucket;
  struct conflict *next;
};

/* Callbacks of conflict_set_diff().  Either may be NULL.  The conflict is
 * borrowed: a detected one belongs to cur, a cleared one to old.  The
 * callbacks must not change either set. */
struct conflict_diff_cb {
  void (*detected)(const struct conflict *c, void *arg);
  void (*cleared)(const struct conflict *c, void *arg);
  void *arg;
};

struct conflict_diff_stats {
  size_t detected, cleared, unchanged;
};

/* conflict_set_new() returns an empty set for tenant (copied), or NULL
 * when out of memory.  Free it with conflict_set_free(). */
struct conflict_set *conflict_set_new(const char *tenant);

/* conflict_set_free() frees the set and every conflict in it.  NULL is a
 * no-op. */
void conflict_set_free(struct conflict_set *s);

const char *conflict_set_tenant(const struct conflict_set *s);
size_t conflict_set_count(const struct conflict_set *s);

/* conflict_set_reserve() makes room for n conflicts in all, so that the
 * next adds up to that count cannot fail.  Returns 0 or -ENOMEM. */
int conflict_set_reserve(struct conflict_set *s, size_t n);

/* conflict_set_add() puts c into the set, which then owns it.  Returns 0;
 * -EEXIST if a conflict with the same key is there already, or -ENOMEM;
 * on error c still belongs to the caller. */
int conflict_set_add(struct conflict_set *s, struct conflict *c);

/* conflict_set_put() adds c to s, which has room for it (see
 * conflict_set_reserve(); nothing can fail), replacing (and freeing) a
 * conflict under the same key and keeping its first_seen when that is
 * earlier.  The set owns c. */
void conflict_set_put(struct conflict_set *s, struct conflict *c);

/* conflict_set_find() returns the conflict stored under key (see
 * conflict_key()), or NULL.  The set keeps ownership. */
struct conflict *conflict_set_find(const struct conflict_set *s,
                                   const char *key);

/* conflict_set_remove() takes the conflict stored under key out of the
 * set and returns it (the caller now frees it), or returns NULL. */
struct conflict *conflict_set_remove(struct conflict_set *s, const char *key);

/* conflict_set_remove_object() removes and frees every conflict of the
 * object with Graph id object_id (a second index keyed by object id makes
 * this independent of the set's size); object_id may be a conflict's
 * own string.  Returns how many were removed. */
size_t conflict_set_remove_object(struct conflict_set *s,
                                  const char *object_id);

/* conflict_set_copy_type() adds to into a copy of every conflict of from
 * whose object type is type.  Returns 0, or -ENOMEM (into may then hold
 * some of the copies), or -EEXIST when a key is in into already. */
int conflict_set_copy_type(struct conflict_set *into,
                           const struct conflict_set *from,
                           enum conflict_objtype type);

/* conflict_set_move() moves every conflict of from into into; from ends
 * empty.  A conflict already in into under the same key is replaced (and
 * freed), keeping the earlier first_seen.  Returns 0, or -ENOMEM with
 * both sets unchanged. */
int conflict_set_move(struct conflict_set *into, struct conflict_set *from);

/* Iteration, in no particular order:
 *   conflict_iter_init(&it, s);
 *   for(c = conflict_iter_next(&it); c; c = conflict_iter_next(&it))
 *     ...  */
void conflict_iter_init(struct conflict_iter *it, const struct conflict_set *s);
struct conflict *conflict_iter_next(struct conflict_iter *it);

/* conflict_set_diff() compares this cycle's inventory cur with the
 * previous one, old (which may be NULL: everything is new).  For each
 * conflict in cur but not in old it calls cb->detected; for each in both
 * it copies first_seen from old into cur; for each in old but not in cur
 * it calls cb->cleared.  Neither set gains or loses entries, and nothing
 * is freed: the caller usually frees old afterwards and keeps cur.  stats
 * may be NULL. */
void conflict_set_diff(const struct conflict_set *old, struct conflict_set *cur,
                       const struct conflict_diff_cb *cb,
                       struct conflict_diff_stats *stats);

/* conflict_set_diff_some() is conflict_set_diff() a part at a time, for a
 * caller that spreads a large diff over loop iterations: it goes on with
 * the next max conflicts of cur from it (conflict_iter_init(it, cur)
 * first; neither set may change until the diff ends), calling
 * cb->detected and carrying first_seen as conflict_set_diff() does, and
 * adds to *stats (zeroed by the caller before the first part).  Returns
 * true once every conflict of cur is done; stats->cleared then counts
 * those of old missing from cur (cb->cleared is not called). */
bool conflict_set_diff_some(const struct conflict_set *old,
                            struct conflict_iter *it, size_t max,
                            const struct conflict_diff_cb *cb,
                            struct conflict_diff_stats *stats);

#endif
