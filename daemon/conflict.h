/* SPDX-License-Identifier: MIT
 *
 * conflict: the conflict model and a tenant's inventory.  A conflict is
 * one quarantined UPN or SMTP proxy address on one user, group or contact,
 * taken from its onPremisesProvisioningErrors.  A conflict_set holds one
 * tenant's conflicts in a hash table keyed by conflict_key(); two sets are
 * compared with conflict_set_diff() to find new and cleared conflicts.
 */
#ifndef QD_CONFLICT_H
#define QD_CONFLICT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

enum conflict_objtype { CONFLICT_USER, CONFLICT_GROUP, CONFLICT_CONTACT };

/* Duplicate Attribute Resiliency quarantines only these two properties.
 * Provisioning errors on any other property are skipped by the parser (a
 * debug line is logged): they are not quarantines, and the service does
 * not release them. */
enum conflict_property { CONFLICT_UPN, CONFLICT_PROXY };

/* Lifecycle of a conflict, driven by sweep.c: ACTIVE (another object
 * holds the value), FREED (a complete lookup found no holder any more:
 * the service should release it at its next hourly sweep), STUCK (still
 * quarantined one sweep period plus a grace after it was freed).  A
 * released conflict is not a state: it leaves the inventory with its
 * alert.  Add new states at the end and give each a name in conflict.c. */
enum conflict_state { CONFLICT_ACTIVE, CONFLICT_FREED, CONFLICT_STUCK };

/* onPremisesSyncEnabled: true, false, or null/absent (cloud-only object or
 * never synced). */
enum conflict_tristate {
  CONFLICT_TRI_UNKNOWN = -1,
  CONFLICT_TRI_FALSE = 0,
  CONFLICT_TRI_TRUE = 1
};

/* What kind of conflict it is, from the pairing with its holder(s); see
 * classify.h for the rules.  Names ("cloud_account", ...) are stable:
 * they appear in the state file and in alerts. */
enum conflict_class {
  CONFLICT_CLASS_UNKNOWN,
  CONFLICT_CLASS_CLOUD_ACCOUNT,
  CONFLICT_CLASS_TWO_SYNCED,
  CONFLICT_CLASS_ORPHANED,
  CONFLICT_CLASS_GROUP_OR_CONTACT,
  CONFLICT_CLASS_NOT_HELD,
  CONFLICT_CLASS_RECYCLE_BIN
};

/* One object that holds a conflict's value (holder.c finds them).  The
 * strings are owned by the holder and may be NULL except id. */
struct conflict_holder {
  char *id; /* never NULL */
  enum conflict_objtype type;
  char *display_name;
  char *upn; /* users only */
  char *mail;
  enum conflict_tristate sync_enabled;
  char *immutable_id; /* users only */
  char *on_prem_dn;   /* users only */
  char *sam_account;  /* users and groups */
  time_t last_sync;   /* onPremisesLastSyncDateTime; 0 = none */
  /* In the recycle bin (/directory/deletedItems, up to 30 days): it still
   * holds the value.  deleted_at is its deletedDateTime, 0 = unknown. */
  bool recycled;
  time_t deleted_at;
};

/* One conflict.  Every string is owned by the conflict (malloc'd) and may
 * be NULL unless marked "never NULL".  Times are UTC seconds; 0 means
 * unknown. */
struct conflict {
  char *key;       /* conflict_key() of the next fields; never NULL */
  char *tenant;    /* tenant name from the configuration; never NULL */
  char *object_id; /* Graph id of the object; never NULL */
  enum conflict_objtype objtype;
  enum conflict_property property;
  char *value;     /* quarantined value, smtp: prefix removed; never NULL */
  char *value_raw; /* the value exactly as Graph sent it; never NULL */
  char *value_lc;  /* value in ASCII lower case, for comparing; never NULL */
  char *display_name;
  char *upn; /* userPrincipalName now shown (maybe the placeholder) */
  char *mail;
  enum conflict_tristate sync_enabled;
  char *immutable_id;   /* onPremisesImmutableId */
  char *on_prem_dn;     /* onPremisesDistinguishedName */
  char *sam_account;    /* onPremisesSamAccountName */
  bool placeholder;     /* upn is the service's placeholder for this value */
  char *original_value; /* the UPN behind the placeholder, or NULL */
  time_t occurred;      /* occurredDateTime */
  time_t first_seen;    /* first cycle that saw this conflict */
  time_t last_seen;     /* latest cycle that read the object with it */
  time_t last_sync;     /* onPremisesLastSyncDateTime; 0 = none */
  enum conflict_state state;
  /* The sweep's record (sweep.c), saved with the conflict; 0 = none. */
  time_t freed_at;          /* when a complete lookup found it free */
  time_t release_by;        /* predicted release: freed_at + sweep period */
  time_t stuck_at;          /* when it was found stuck */
  unsigned long aging_done; /* largest conflict.aging threshold passed (s) */
  /* Pairing, filled by holder_apply() and classify: the objects holding
   * the value as of the last complete lookup. */
  struct conflict_holder *holders;
  size_t nholders;
  time_t looked_up;   /* last complete holder lookup; 0 = never */
  char *lookup_error; /* Graph code of a later failed lookup, or NULL */
  enum conflict_class cls;
  bool recheck; /* look up again next cycle even if unchanged; not saved */
  struct conflict *hnext; /* hash chain: private to conflict.c */
  struct conflict *onext; /* object-id chain: private to conflict.c */
};

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

/* Names used in JSON, alerts and logs: "user", "group", "contact";
 * "upn", "proxy"; "active", "freed", "stuck".  The _parse functions take those
 * names and return the enum value, or -EINVAL. */
const char *conflict_objtype_name(enum conflict_objtype t);
int conflict_objtype_parse(const char *s);
const char *conflict_property_name(enum conflict_property p);
int conflict_property_parse(const char *s);
const char *conflict_state_name(enum conflict_state s);
int conflict_state_parse(const char *s);
const char *conflict_class_name(enum conflict_class c);
int conflict_class_parse(const char *s);

/* conflict_parse_time() parses an ISO 8601 / RFC 3339 date-time such as
 * 2022-06-27T10:29:29.0922053Z: 0 to 7 fractional digits (dropped), then
 * Z or +hh:mm / -hh:mm; with no zone at all the time is taken as UTC.
 * Returns 0 and sets *out, or -EINVAL (*out untouched). */
int conflict_parse_time(const char *s, time_t *out);

/* conflict_format_time() writes t as "2022-06-27T10:29:29Z" into buf
 * (at least CONFLICT_TIME_LEN bytes). */
#define CONFLICT_TIME_LEN 32
void conflict_format_time(time_t t, char *buf, size_t len);

/* conflict_key() returns the malloc'd inventory key of a conflict,
 * "<object id>|<property>|<value>", where value has any smtp: prefix
 * removed (proxy addresses) and is lower-cased (ASCII only: Entra
 * compares both properties without regard to case).  value may be the raw
 * Graph value.  Returns NULL when out of memory.  The caller frees it. */
char *conflict_key(const char *object_id, enum conflict_property prop,
                   const char *value);

/* conflict_new() makes a conflict with its identity filled in: tenant,
 * object id, type, property, and the value in all three forms, plus key.
 * Other fields are zero/NULL, sync_enabled is unknown and state ACTIVE.
 * Returns NULL when out of memory or when value is empty once its prefix
 * is removed.  Free it with conflict_free(). */
struct conflict *conflict_new(const char *tenant, const char *object_id,
                              enum conflict_objtype type,
                              enum conflict_property prop,
                              const char *raw_value);

/* conflict_dup() returns a deep copy of c (not in any set), or NULL when
 * out of memory. */
struct conflict *conflict_dup(const struct conflict *c);

/* conflict_free() frees c and its strings.  c must not be in a set.
 * NULL is a no-op. */
void conflict_free(struct conflict *c);

/* conflict_parse_object() reads one user, group or contact as Graph
 * returns it and adds one conflict to into for each entry of its
 * onPremisesProvisioningErrors whose category is PropertyConflict (any
 * case) and whose propertyCausingError is UserPrincipalName, ProxyAddress
 * or ProxyAddresses (any case).  Unknown members are ignored, and null
 * members are taken as absent; an entry with no value is skipped.
 * first_seen and last_seen are set to now.  A conflict already in the set
 * under the same key is replaced; its first_seen is kept.
 *
 * A placeholder UPN (prefix + 4 digits @ label.onmicrosoft.com) is
 * flagged only when the object's own UPN conflict has a value whose local
 * part is that prefix; original_value then holds that value.
 *
 * Returns the number of conflicts added (0 for an object without errors).
 * A member of the wrong type (errors not an array, a value that is a
 * number, ...) gives -EBADMSG with one warning logged here; -ENOMEM when
 * out of memory.  On any error the set is unchanged. */
int conflict_parse_object(const cJSON *obj, enum conflict_objtype type,
                          const char *tenant, time_t now,
                          struct conflict_set *into);

/* conflict_holder_from_graph() reads one user, group or contact as Graph
 * returns it (the members of struct conflict_holder under their Graph
 * names) into *out, which the caller clears with conflict_holder_clear().
 * Returns 0; -EBADMSG (a member of the wrong type, no id) with *why set
 * and *out zeroed; or -ENOMEM.  Nothing is logged. */
int conflict_holder_from_graph(const cJSON *obj, enum conflict_objtype type,
                               struct conflict_holder *out, const char **why);

/* conflict_holder_clear() frees the strings of h and zeroes it. */
void conflict_holder_clear(struct conflict_holder *h);

/* conflict_set_holders() replaces c's holders with a deep copy of the n
 * holders at h (n may be 0).  Returns 0, or -ENOMEM with c unchanged. */
int conflict_set_holders(struct conflict *c, const struct conflict_holder *h,
                         size_t n);

/* conflict_copy_pairing() copies the pairing of src (holders,
 * looked_up, lookup_error, cls, recheck) into dst, replacing dst's.
 * Returns 0, or -ENOMEM with dst unchanged. */
int conflict_copy_pairing(struct conflict *dst, const struct conflict *src);

/* conflict_same_object() tells whether a and b have the same identity
 * (key) and the same object data as far as pairing is concerned: names,
 * UPN, mail, sync state, anchor, DN, sAMAccountName, placeholder.  Times
 * are not compared. */
bool conflict_same_object(const struct conflict *a, const struct conflict *b);

/* conflict_holder_to_json() returns h as a new cJSON object (Graph
 * member names plus "objectType"), or NULL when out of memory. */
cJSON *conflict_holder_to_json(const struct conflict_holder *h);

/* conflict_to_json() returns c as a new cJSON object (the state file
 * form; the tenant is not included), or NULL when out of memory.  The
 * caller frees it with cJSON_Delete(). */
cJSON *conflict_to_json(const struct conflict *c);

/* conflict_from_json() reads what conflict_to_json() wrote, and the
 * schema-1 and schema-2 forms: the pairing members
 * (onPremisesLastSyncDateTime, class, holders, holdersLookedUp,
 * lookupError; schema 2) and the sweep's (freedAt, predictedRelease,
 * stuckAt, agingDone; schema 3) are optional.  Every member
 * is checked: a missing required member, a wrong type, an unknown name
 * or a bad time gives -EBADMSG.  Returns 0 with *out set to a new
 * conflict (free with conflict_free()), or -EBADMSG / -ENOMEM with *out
 * untouched.  Nothing is logged. */
int conflict_from_json(const cJSON *j, const char *tenant,
                       struct conflict **out);

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

/* conflict_set_to_json() returns the set as a new cJSON array sorted by
 * key (so the state file is stable), or NULL when out of memory. */
cJSON *conflict_set_to_json(const struct conflict_set *s);

/* conflict_set_from_json() reads such an array into a new set for tenant.
 * Returns 0 with *out set, or -EBADMSG (not an array, a bad entry, two
 * entries with one key) / -ENOMEM with *out untouched.  Nothing is
 * logged. */
int conflict_set_from_json(const cJSON *arr, const char *tenant,
                           struct conflict_set **out);

#endif
