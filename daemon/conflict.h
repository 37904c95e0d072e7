/* SPDX-License-Identifier: MIT
 *
 * conflict: the conflict model.  A conflict is one quarantined UPN or
 * SMTP proxy address on one user, group or contact, taken from its
 * onPremisesProvisioningErrors, with its pairing (the objects holding the
 * value, and the class they give it) and the sweep's record.  This header
 * has the structs, their names in text, identity (conflict_key()), and
 * making, copying and freeing them.  The rest of the family:
 *   conflict_set.h    a tenant's inventory: the hash table, iteration, diff
 *   conflict_parse.h  conflicts and holders from Graph's user, group and
 *                     contact objects
 *   conflict_json.h   the state file's JSON form of conflicts and sets
 */
#ifndef QD_CONFLICT_H
#define QD_CONFLICT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

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
#define CONFLICT_NCLASS (CONFLICT_CLASS_RECYCLE_BIN + 1)

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
  bool recheck;  /* look up again next cycle even if unchanged; not saved */
  bool snapshot; /* made by conflict_snapshot(): one allocation */
  struct conflict *hnext; /* hash chain: private to conflict_set.c */
  struct conflict *onext; /* object-id chain: private to conflict_set.c */
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

/* conflict_strip_smtp() returns value without a leading "smtp:" (in any
 * case), pointing into value: the address a proxyAddresses entry holds. */
const char *conflict_strip_smtp(const char *value);

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

/* conflict_snapshot() returns a copy of c as it is now, every member and
 * its holders included (not in any set), made in one allocation: about
 * half the memory of conflict_dup()'s two dozen small ones, for a copy
 * kept only to be read (an alert waiting to be sent).  Its scalars may be
 * changed, its strings and holders may not be replaced.  Returns NULL
 * when out of memory.  Free it with conflict_free(). */
struct conflict *conflict_snapshot(const struct conflict *c);

/* conflict_free() frees c and its strings.  c must not be in a set.
 * NULL is a no-op. */
void conflict_free(struct conflict *c);

/* conflict_holder_clear() frees the strings of h and zeroes it. */
void conflict_holder_clear(struct conflict_holder *h);

/* conflict_replace_holders() replaces c's holders with a deep copy of the
 * n holders at h (n may be 0).  Returns 0, or -ENOMEM with c unchanged. */
int conflict_replace_holders(struct conflict *c,
                             const struct conflict_holder *h, size_t n);

/* conflict_copy_pairing() copies the pairing of src (holders,
 * looked_up, lookup_error, cls, recheck) into dst, replacing dst's.
 * Returns 0, or -ENOMEM with dst unchanged. */
int conflict_copy_pairing(struct conflict *dst, const struct conflict *src);

/* conflict_same_object() tells whether a and b have the same identity
 * (key) and the same object data as far as pairing is concerned: names,
 * UPN, mail, sync state, anchor, DN, sAMAccountName, placeholder.  Times
 * are not compared. */
bool conflict_same_object(const struct conflict *a, const struct conflict *b);

#endif
