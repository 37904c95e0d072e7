/* SPDX-License-Identifier: MIT
 *
 * conflict_json: the JSON form of conflicts, their holders and whole
 * sets, as the state file keeps them (store.c) and alerts show holders
 * (alert.c).  Writing is total; reading checks every member and accepts
 * the older schemas' forms.  Nothing is logged here.
 */
#ifndef QD_CONFLICT_JSON_H
#define QD_CONFLICT_JSON_H

#include <cjson/cJSON.h>

#include "conflict.h"
#include "conflict_set.h"

/* conflict_json_encode_holder() returns h as a new cJSON object (Graph
 * member names plus "objectType"), or NULL when out of memory.  The
 * caller frees it with cJSON_Delete(). */
cJSON *conflict_json_encode_holder(const struct conflict_holder *h);

/* conflict_json_encode() returns c as a new cJSON object (the state file
 * form; the tenant is not included), or NULL when out of memory.  The
 * caller frees it with cJSON_Delete(). */
cJSON *conflict_json_encode(const struct conflict *c);

/* conflict_json_decode() reads what conflict_json_encode() wrote, and the
 * schema-1 and schema-2 forms: the pairing members
 * (onPremisesLastSyncDateTime, class, holders, holdersLookedUp,
 * lookupError; schema 2) and the sweep's (freedAt, predictedRelease,
 * stuckAt, agingDone; schema 3) are optional.  Every member
 * is checked: a missing required member, a wrong type, an unknown name
 * or a bad time gives -EBADMSG.  Returns 0 with *out set to a new
 * conflict (free with conflict_free()), or -EBADMSG / -ENOMEM with *out
 * untouched.  Nothing is logged. */
int conflict_json_decode(const cJSON *j, const char *tenant,
                         struct conflict **out);

/* conflict_json_sorted() sets *out to a new array (the caller frees it;
 * NULL when s is empty) of the *n conflicts of s, borrowed, sorted by
 * key.  Returns 0 or -ENOMEM. */
int conflict_json_sorted(const struct conflict_set *s, struct conflict ***out,
                         size_t *n);

/* conflict_json_encode_set() returns the set as a new cJSON array sorted
 * by key (so the state file is stable), or NULL when out of memory. */
cJSON *conflict_json_encode_set(const struct conflict_set *s);

/* conflict_json_decode_set() reads such an array into a new set for tenant.
 * Returns 0 with *out set, or -EBADMSG (not an array, a bad entry, two
 * entries with one key) / -ENOMEM with *out untouched.  Nothing is
 * logged. */
int conflict_json_decode_set(const cJSON *arr, const char *tenant,
                             struct conflict_set **out);

#endif
