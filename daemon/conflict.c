/* SPDX-License-Identifier: MIT
 *
 * conflict: parsing onPremisesProvisioningErrors into conflicts, the
 * per-tenant inventory (a chained hash table keyed by object id, property
 * and normalised value, with a second chain per object id so that delta
 * rounds can drop an object's conflicts without a scan), the diff between
 * two cycles, and the JSON form used by the state file.
 */
#include "conflict.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonx.h"
#include "log.h"
#include "timex.h"

struct conflict_set {
  char *tenant;
  struct conflict **buckets;  /* by key, chained through hnext */
  struct conflict **obuckets; /* by object id, chained through onext */
  size_t
      nbuckets; /* of each array: a power of two, or 0 before the first add */
  size_t count;
};

static const char *const objtype_names[] = {"user", "group", "contact"};
static const char *const property_names[] = {"upn", "proxy"};
static const char *const state_names[] = {"active", "freed", "stuck"};
static const char *const class_names[] = {"unknown",          "cloud_account",
                                          "two_synced",       "orphaned",
                                          "group_or_contact", "not_held"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ===== Names ===== */

/* name_parse() returns the index of s in names[n], or -EINVAL. */
static int name_parse(const char *const *names, size_t n, const char *s)
{
  size_t i;

  if(!s)
    return -EINVAL;
  for(i = 0; i < n; i++)
    if(!strcmp(names[i], s))
      return (int)i;
  return -EINVAL;
}

const char *conflict_objtype_name(enum conflict_objtype t)
{
  return (size_t)t < NELEM(objtype_names) ? objtype_names[t] : "unknown";
}

int conflict_objtype_parse(const char *s)
{
  return name_parse(objtype_names, NELEM(objtype_names), s);
}

const char *conflict_property_name(enum conflict_property p)
{
  return (size_t)p < NELEM(property_names) ? property_names[p] : "unknown";
}

int conflict_property_parse(const char *s)
{
  return name_parse(property_names, NELEM(property_names), s);
}

const char *conflict_state_name(enum conflict_state s)
{
  return (size_t)s < NELEM(state_names) ? state_names[s] : "unknown";
}

int conflict_state_parse(const char *s)
{
  return name_parse(state_names, NELEM(state_names), s);
}

const char *conflict_class_name(enum conflict_class c)
{
  return (size_t)c < NELEM(class_names) ? class_names[c] : "unknown";
}

int conflict_class_parse(const char *s)
{
  return name_parse(class_names, NELEM(class_names), s);
}

/* ===== Conflicts ===== */

/* dup_opt() sets *dst to a copy of src (NULL stays NULL).  Returns 0 or
 * -ENOMEM. */
static int dup_opt(char **dst, const char *src)
{
  *dst = NULL;
  if(!src)
    return 0;
  *dst = strdup(src);
  return *dst ? 0 : -ENOMEM;
}

const char *conflict_strip_smtp(const char *value)
{
  return strncasecmp(value, "smtp:", 5) ? value : value + 5;
}

/* lower_dup() returns a malloc'd ASCII lower-case copy of s, or NULL. */
static char *lower_dup(const char *s)
{
  char *r = strdup(s), *p;

  if(!r)
    return NULL;
  for(p = r; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return r;
}

char *conflict_key(const char *object_id, enum conflict_property prop,
                   const char *value)
{
  const char *v = prop == CONFLICT_PROXY ? conflict_strip_smtp(value) : value;
  const char *pn = conflict_property_name(prop);
  size_t il = strlen(object_id), pl = strlen(pn), vl = strlen(v), i;
  char *key = malloc(il + pl + vl + 3), *p;

  if(!key)
    return NULL;
  p = key;
  memcpy(p, object_id, il);
  p += il;
  *p++ = '|';
  memcpy(p, pn, pl);
  p += pl;
  *p++ = '|';
  for(i = 0; i < vl; i++)
    *p++ = (char)tolower((unsigned char)v[i]);
  *p = '\0';
  return key;
}

struct conflict *conflict_new(const char *tenant, const char *object_id,
                              enum conflict_objtype type,
                              enum conflict_property prop,
                              const char *raw_value)
{
  const char *v =
      prop == CONFLICT_PROXY ? conflict_strip_smtp(raw_value) : raw_value;
  struct conflict *c;

  if(!*v)
    return NULL;
  c = calloc(1, sizeof(*c));
  if(!c)
    return NULL;
  c->objtype = type;
  c->property = prop;
  c->sync_enabled = CONFLICT_TRI_UNKNOWN;
  c->state = CONFLICT_ACTIVE;
  c->tenant = strdup(tenant);
  c->object_id = strdup(object_id);
  c->value = strdup(v);
  c->value_raw = strdup(raw_value);
  c->value_lc = lower_dup(v);
  c->key = conflict_key(object_id, prop, raw_value);
  if(!c->tenant || !c->object_id || !c->value || !c->value_raw ||
     !c->value_lc || !c->key) {
    conflict_free(c);
    return NULL;
  }
  return c;
}

void conflict_holder_clear(struct conflict_holder *h)
{
  free(h->id);
  free(h->display_name);
  free(h->upn);
  free(h->mail);
  free(h->immutable_id);
  free(h->on_prem_dn);
  free(h->sam_account);
  memset(h, 0, sizeof(*h));
}

/* holders_free() frees an array of n holders. */
static void holders_free(struct conflict_holder *h, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++)
    conflict_holder_clear(&h[i]);
  free(h);
}

struct conflict *conflict_dup(const struct conflict *c)
{
  struct conflict *d = conflict_new(c->tenant, c->object_id, c->objtype,
                                    c->property, c->value_raw);

  if(!d)
    return NULL;
  d->sync_enabled = c->sync_enabled;
  d->placeholder = c->placeholder;
  d->occurred = c->occurred;
  d->first_seen = c->first_seen;
  d->last_seen = c->last_seen;
  d->last_sync = c->last_sync;
  d->state = c->state;
  if(dup_opt(&d->display_name, c->display_name) || dup_opt(&d->upn, c->upn) ||
     dup_opt(&d->mail, c->mail) || dup_opt(&d->immutable_id, c->immutable_id) ||
     dup_opt(&d->on_prem_dn, c->on_prem_dn) ||
     dup_opt(&d->sam_account, c->sam_account) ||
     dup_opt(&d->original_value, c->original_value) ||
     conflict_copy_pairing(d, c)) {
    conflict_free(d);
    return NULL;
  }
  return d;
}

void conflict_free(struct conflict *c)
{
  if(!c)
    return;
  free(c->key);
  free(c->tenant);
  free(c->object_id);
  free(c->value);
  free(c->value_raw);
  free(c->value_lc);
  free(c->display_name);
  free(c->upn);
  free(c->mail);
  free(c->immutable_id);
  free(c->on_prem_dn);
  free(c->sam_account);
  free(c->original_value);
  free(c->lookup_error);
  holders_free(c->holders, c->nholders);
  free(c);
}

/* ===== The hash table ===== */

/* hash() is 64-bit FNV-1a over the key. */
static uint64_t hash(const char *s)
{
  uint64_t h = 14695981039346656037ULL;

  for(; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

struct conflict_set *conflict_set_new(const char *tenant)
{
  struct conflict_set *s = calloc(1, sizeof(*s));

  if(!s)
    return NULL;
  s->tenant = strdup(tenant);
  if(!s->tenant) {
    free(s);
    return NULL;
  }
  return s;
}

void conflict_set_free(struct conflict_set *s)
{
  size_t i;

  if(!s)
    return;
  for(i = 0; i < s->nbuckets; i++) {
    struct conflict *c = s->buckets[i], *next;

    for(; c; c = next) {
      next = c->hnext;
      conflict_free(c);
    }
  }
  free(s->buckets);
  free(s->obuckets);
  free(s->tenant);
  free(s);
}

const char *conflict_set_tenant(const struct conflict_set *s)
{
  return s->tenant;
}

size_t conflict_set_count(const struct conflict_set *s)
{
  return s->count;
}

/* rehash() moves every conflict into new tables of n buckets (a power of
 * two).  Returns 0, or -ENOMEM with the tables unchanged. */
static int rehash(struct conflict_set *s, size_t n)
{
  struct conflict **nb = calloc(n, sizeof(*nb));
  struct conflict **ob = calloc(n, sizeof(*ob));
  size_t i;

  if(!nb || !ob) {
    free(nb);
    free(ob);
    return -ENOMEM;
  }
  for(i = 0; i < s->nbuckets; i++) {
    struct conflict *c = s->buckets[i], *next;

    for(; c; c = next) {
      size_t b = (size_t)(hash(c->key) & (n - 1));
      size_t o = (size_t)(hash(c->object_id) & (n - 1));

      next = c->hnext;
      c->hnext = nb[b];
      nb[b] = c;
      c->onext = ob[o];
      ob[o] = c;
    }
  }
  free(s->buckets);
  free(s->obuckets);
  s->buckets = nb;
  s->obuckets = ob;
  s->nbuckets = n;
  return 0;
}

int conflict_set_reserve(struct conflict_set *s, size_t n)
{
  size_t want = s->nbuckets ? s->nbuckets : 64;

  /* Keep the load factor at or below 1. */
  while(want < n) {
    if(want > SIZE_MAX / 2)
      return -ENOMEM;
    want *= 2;
  }
  if(want == s->nbuckets)
    return 0;
  return rehash(s, want);
}

struct conflict *conflict_set_find(const struct conflict_set *s,
                                   const char *key)
{
  struct conflict *c;

  if(!s->nbuckets)
    return NULL;
  for(c = s->buckets[hash(key) & (s->nbuckets - 1)]; c; c = c->hnext)
    if(!strcmp(c->key, key))
      return c;
  return NULL;
}

int conflict_set_add(struct conflict_set *s, struct conflict *c)
{
  size_t b;
  int rc;

  if(conflict_set_find(s, c->key))
    return -EEXIST;
  rc = conflict_set_reserve(s, s->count + 1);
  if(rc)
    return rc;
  b = (size_t)(hash(c->key) & (s->nbuckets - 1));
  c->hnext = s->buckets[b];
  s->buckets[b] = c;
  b = (size_t)(hash(c->object_id) & (s->nbuckets - 1));
  c->onext = s->obuckets[b];
  s->obuckets[b] = c;
  s->count++;
  return 0;
}

/* unlink_chain() takes c out of the chain starting at *pp, whose link
 * field sits at offset off in each conflict. */
static void unlink_chain(struct conflict **pp, struct conflict *c, size_t off)
{
  while(*pp && *pp != c)
    pp = (struct conflict **)(void *)((char *)*pp + off);
  if(*pp)
    *pp = *(struct conflict **)(void *)((char *)c + off);
  *(struct conflict **)(void *)((char *)c + off) = NULL;
}

struct conflict *conflict_set_remove(struct conflict_set *s, const char *key)
{
  struct conflict *c = conflict_set_find(s, key);

  if(!c)
    return NULL;
  unlink_chain(&s->buckets[hash(key) & (s->nbuckets - 1)], c,
               offsetof(struct conflict, hnext));
  unlink_chain(&s->obuckets[hash(c->object_id) & (s->nbuckets - 1)], c,
               offsetof(struct conflict, onext));
  s->count--;
  return c;
}

size_t conflict_set_remove_object(struct conflict_set *s, const char *object_id)
{
  struct conflict *c, *next, *gone = NULL;
  size_t n = 0;

  if(!s->nbuckets)
    return 0;
  c = s->obuckets[hash(object_id) & (s->nbuckets - 1)];
  for(; c; c = next) {
    next = c->onext;
    if(strcmp(c->object_id, object_id))
      continue;
    conflict_set_remove(s, c->key);
    c->hnext = gone; /* freed at the end: object_id may be c's own */
    gone = c;
    n++;
  }
  for(; gone; gone = next) {
    next = gone->hnext;
    conflict_free(gone);
  }
  return n;
}

void conflict_set_put(struct conflict_set *s, struct conflict *c)
{
  struct conflict *old = conflict_set_remove(s, c->key);

  if(old) {
    if(old->first_seen && old->first_seen < c->first_seen)
      c->first_seen = old->first_seen;
    conflict_free(old);
  }
  conflict_set_add(s, c);
}

int conflict_set_move(struct conflict_set *into, struct conflict_set *from)
{
  struct conflict_iter it;
  struct conflict *c;
  int rc;

  if(!from->count)
    return 0;
  rc = conflict_set_reserve(into, into->count + from->count);
  if(rc)
    return rc;
  conflict_iter_init(&it, from);
  while((c = conflict_iter_next(&it)))
    conflict_set_put(into, conflict_set_remove(from, c->key));
  return 0;
}

int conflict_set_copy_type(struct conflict_set *into,
                           const struct conflict_set *from,
                           enum conflict_objtype type)
{
  struct conflict_iter it;
  struct conflict *c, *d;
  int rc;

  conflict_iter_init(&it, from);
  while((c = conflict_iter_next(&it))) {
    if(c->objtype != type)
      continue;
    d = conflict_dup(c);
    if(!d)
      return -ENOMEM;
    rc = conflict_set_add(into, d);
    if(rc) {
      conflict_free(d);
      return rc;
    }
  }
  return 0;
}

/* iter_advance() points it->next at the first conflict in a bucket at or
 * after it->bucket, or NULL at the end. */
static void iter_advance(struct conflict_iter *it)
{
  const struct conflict_set *s = it->set;

  it->next = NULL;
  while(it->bucket < s->nbuckets && !it->next)
    it->next = s->buckets[it->bucket++];
}

void conflict_iter_init(struct conflict_iter *it, const struct conflict_set *s)
{
  it->set = s;
  it->bucket = 0;
  iter_advance(it);
}

struct conflict *conflict_iter_next(struct conflict_iter *it)
{
  struct conflict *c = it->next;

  if(!c)
    return NULL;
  if(c->hnext)
    it->next = c->hnext;
  else
    iter_advance(it);
  return c;
}

void conflict_set_diff(const struct conflict_set *old, struct conflict_set *cur,
                       const struct conflict_diff_cb *cb,
                       struct conflict_diff_stats *stats)
{
  struct conflict_diff_stats st = {0, 0, 0};
  struct conflict_iter it;
  struct conflict *c, *o;

  conflict_iter_init(&it, cur);
  for(c = conflict_iter_next(&it); c; c = conflict_iter_next(&it)) {
    o = old ? conflict_set_find(old, c->key) : NULL;
    if(o) {
      c->first_seen = o->first_seen;
      st.unchanged++;
    }
    else {
      st.detected++;
      if(cb && cb->detected)
        cb->detected(c, cb->arg);
    }
  }
  if(old) {
    conflict_iter_init(&it, old);
    for(c = conflict_iter_next(&it); c; c = conflict_iter_next(&it)) {
      if(conflict_set_find(cur, c->key))
        continue;
      st.cleared++;
      if(cb && cb->cleared)
        cb->cleared(c, cb->arg);
    }
  }
  if(stats)
    *stats = st;
}

/* ===== Parsing Graph objects ===== */

/* is_placeholder_for() tells whether upn is the placeholder the service
 * makes for value: upn is "<prefix><4 digits>@<label>.onmicrosoft.com"
 * and prefix is the local part of value (compared without case). */
static bool is_placeholder_for(const char *upn, const char *value)
{
  static const char sfx[] = ".onmicrosoft.com";
  const char *at = strchr(upn, '@'), *vat = strchr(value, '@');
  size_t dlen, plen, i;

  if(!at || !vat || strchr(at + 1, '@'))
    return false;
  dlen = strlen(at + 1);
  if(dlen <= sizeof(sfx) - 1 ||
     strcasecmp(at + 1 + dlen - (sizeof(sfx) - 1), sfx))
    return false;
  /* The label before .onmicrosoft.com must have no dot. */
  if(memchr(at + 1, '.', dlen - (sizeof(sfx) - 1)))
    return false;
  if(at - upn < 5)
    return false;
  for(i = 1; i <= 4; i++)
    if(!isdigit((unsigned char)at[-(ptrdiff_t)i]))
      return false;
  plen = (size_t)(at - upn) - 4;
  return plen == (size_t)(vat - value) && !strncasecmp(upn, value, plen);
}

/* The string members of a Graph object that its conflicts and its holder
 * records carry, and where each goes in struct conflict and in struct
 * conflict_holder. */
static const struct {
  const char *name, *why;
  size_t in_conflict, in_holder;
} members[] = {
    {"displayName", "displayName is not a string",
     offsetof(struct conflict, display_name),
     offsetof(struct conflict_holder, display_name)},
    {"userPrincipalName", "userPrincipalName is not a string",
     offsetof(struct conflict, upn), offsetof(struct conflict_holder, upn)},
    {"mail", "mail is not a string", offsetof(struct conflict, mail),
     offsetof(struct conflict_holder, mail)},
    {"onPremisesImmutableId", "onPremisesImmutableId is not a string",
     offsetof(struct conflict, immutable_id),
     offsetof(struct conflict_holder, immutable_id)},
    {"onPremisesDistinguishedName",
     "onPremisesDistinguishedName is not a string",
     offsetof(struct conflict, on_prem_dn),
     offsetof(struct conflict_holder, on_prem_dn)},
    {"onPremisesSamAccountName", "onPremisesSamAccountName is not a string",
     offsetof(struct conflict, sam_account),
     offsetof(struct conflict_holder, sam_account)},
};

#define NMEMBERS (sizeof(members) / sizeof(members[0]))

/* A Graph object's members that are not copied by members[]: borrowed
 * from the object. */
struct object_fields {
  const char *id, *upn, *last_sync;
  enum conflict_tristate sync;
};

/* read_object() checks the types of every member a conflict or a holder
 * uses, and fills f.  Returns 0, or -EBADMSG with *why naming the bad
 * member. */
static int read_object(const cJSON *obj, struct object_fields *f,
                       const char **why)
{
  const char *s;
  size_t i;
  int sync;

  memset(f, 0, sizeof(*f));
  f->sync = CONFLICT_TRI_UNKNOWN;
  if(jsonx_get_str(obj, "id", &f->id)) {
    *why = "id is not a string";
    return -EBADMSG;
  }
  for(i = 0; i < NMEMBERS; i++)
    if(jsonx_get_str(obj, members[i].name, &s)) {
      *why = members[i].why;
      return -EBADMSG;
    }
  (void)jsonx_get_str(obj, "userPrincipalName", &f->upn);
  if(jsonx_get_str(obj, "onPremisesLastSyncDateTime", &f->last_sync)) {
    *why = "onPremisesLastSyncDateTime is not a string";
    return -EBADMSG;
  }
  if(jsonx_get_bool(obj, "onPremisesSyncEnabled", &sync)) {
    *why = "onPremisesSyncEnabled is not a boolean";
    return -EBADMSG;
  }
  f->sync = (enum conflict_tristate)sync;
  return 0;
}

/* copy_members() copies the members[] of obj, whose types read_object()
 * checked, into the struct at base, each at the offset that off() picks
 * from its row.  Returns 0 or -ENOMEM (some may be copied). */
static int copy_members(const cJSON *obj, void *base, bool holder)
{
  size_t i;

  for(i = 0; i < NMEMBERS; i++) {
    size_t off = holder ? members[i].in_holder : members[i].in_conflict;

    if(jsonx_get_strdup(obj, members[i].name,
                        (char **)(void *)((char *)base + off)))
      return -ENOMEM;
  }
  return 0;
}

/* sync_time() returns the object's onPremisesLastSyncDateTime, or 0 when
 * it is absent or unreadable (tolerated: it only refines a class). */
static time_t sync_time(const struct object_fields *f)
{
  time_t t = 0;

  if(f->last_sync && timex_parse_iso(f->last_sync, &t))
    t = 0;
  return t;
}

/* fill_object() copies the object's shared members into c.  Returns 0 or
 * -ENOMEM. */
static int fill_object(struct conflict *c, const cJSON *obj,
                       const struct object_fields *f, time_t now)
{
  c->sync_enabled = f->sync;
  c->last_sync = sync_time(f);
  c->first_seen = now;
  c->last_seen = now;
  return copy_members(obj, c, false);
}

/* property_of() maps propertyCausingError to a property, or returns -1
 * for a property Duplicate Attribute Resiliency does not quarantine. */
static int property_of(const char *name)
{
  if(!strcasecmp(name, "UserPrincipalName"))
    return CONFLICT_UPN;
  if(!strcasecmp(name, "ProxyAddress") || !strcasecmp(name, "ProxyAddresses"))
    return CONFLICT_PROXY;
  return -1;
}

/* free_list() frees n staged conflicts. */
static void free_list(struct conflict **list, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++)
    conflict_free(list[i]);
  free(list);
}

/* stage_errors() turns the errors array of obj into new conflicts in
 * *list (*n of them), checking every entry first.  Returns 0, -EBADMSG
 * with *why set, or -ENOMEM; on error nothing is left allocated. */
static int stage_errors(const cJSON *obj, const cJSON *errs,
                        enum conflict_objtype type, const char *tenant,
                        const struct object_fields *f, time_t now,
                        struct conflict ***list, size_t *n, const char **why)
{
  const cJSON *e;
  struct conflict **l;
  size_t cnt = 0, i;

  l = calloc((size_t)cJSON_GetArraySize(errs) + 1, sizeof(*l));
  if(!l)
    return -ENOMEM;
  cJSON_ArrayForEach(e, errs)
  {
    const char *cat, *prop, *value, *when;
    struct conflict *c;
    time_t occurred = 0;
    int p;
    bool dup = false;

    if(!cJSON_IsObject(e) || jsonx_get_str(e, "category", &cat) ||
       jsonx_get_str(e, "propertyCausingError", &prop) ||
       jsonx_get_str(e, "value", &value) ||
       jsonx_get_str(e, "occurredDateTime", &when)) {
      *why = "an onPremisesProvisioningErrors entry has the wrong type";
      free_list(l, cnt);
      return -EBADMSG;
    }
    if(!cat || strcasecmp(cat, "PropertyConflict"))
      continue;
    p = prop ? property_of(prop) : -1;
    if(p < 0) {
      log_debug("conflict: %s %s: skipping a conflict on property %s",
                conflict_objtype_name(type), f->id, prop ? prop : "(null)");
      continue;
    }
    if(!value || !*conflict_strip_smtp(value)) {
      log_debug("conflict: %s %s: skipping a %s conflict with no value",
                conflict_objtype_name(type), f->id, prop);
      continue;
    }
    if(when && timex_parse_iso(when, &occurred)) {
      /* Tolerated: the conflict matters more than its date. */
      log_debug("conflict: %s %s: bad occurredDateTime '%s'",
                conflict_objtype_name(type), f->id, when);
      occurred = 0;
    }
    c = conflict_new(tenant, f->id, type, (enum conflict_property)p, value);
    if(!c || fill_object(c, obj, f, now)) {
      conflict_free(c);
      free_list(l, cnt);
      return -ENOMEM;
    }
    c->occurred = occurred;
    /* The same error listed twice counts once. */
    for(i = 0; i < cnt && !dup; i++)
      dup = !strcmp(l[i]->key, c->key);
    if(dup) {
      conflict_free(c);
      continue;
    }
    l[cnt++] = c;
  }
  /* Placeholder UPN: confirmed only by the object's own UPN error. */
  for(i = 0; f->upn && i < cnt; i++) {
    struct conflict *c = l[i];

    if(c->property != CONFLICT_UPN || !is_placeholder_for(f->upn, c->value))
      continue;
    c->placeholder = true;
    c->original_value = strdup(c->value);
    if(!c->original_value) {
      free_list(l, cnt);
      return -ENOMEM;
    }
  }
  *list = l;
  *n = cnt;
  return 0;
}

int conflict_parse_object(const cJSON *obj, enum conflict_objtype type,
                          const char *tenant, time_t now,
                          struct conflict_set *into)
{
  struct object_fields f;
  const cJSON *errs = NULL;
  struct conflict **list = NULL;
  const char *why = NULL;
  size_t n = 0, i;
  int rc;

  if(!cJSON_IsObject(obj)) {
    log_warnx("conflict: tenant %s: a %s is not a JSON object; skipped", tenant,
              conflict_objtype_name(type));
    return -EBADMSG;
  }
  rc = read_object(obj, &f, &why);
  if(!rc && !f.id) {
    why = "it has no id";
    rc = -EBADMSG;
  }
  if(!rc && jsonx_get_array(obj, "onPremisesProvisioningErrors", &errs)) {
    why = "onPremisesProvisioningErrors is not an array";
    rc = -EBADMSG;
  }
  if(!rc && errs)
    rc = stage_errors(obj, errs, type, tenant, &f, now, &list, &n, &why);
  if(rc == -EBADMSG) {
    log_warnx("conflict: tenant %s: %s %s: %s; object skipped", tenant,
              conflict_objtype_name(type), f.id ? f.id : "(no id)", why);
    return rc;
  }
  if(rc)
    return rc;
  if(!n) {
    free(list);
    return 0;
  }
  /* Reserve first, so that no add below can fail half-way. */
  rc = conflict_set_reserve(into, conflict_set_count(into) + n);
  if(rc) {
    free_list(list, n);
    return rc;
  }
  for(i = 0; i < n; i++)
    conflict_set_put(into, list[i]);
  free(list);
  return (int)n;
}

int conflict_holder_from_graph(const cJSON *obj, enum conflict_objtype type,
                               struct conflict_holder *out, const char **why)
{
  struct object_fields f;
  int rc;

  memset(out, 0, sizeof(*out));
  if(!cJSON_IsObject(obj)) {
    *why = "not a JSON object";
    return -EBADMSG;
  }
  rc = read_object(obj, &f, why);
  if(rc)
    return rc;
  if(!f.id || !*f.id) {
    *why = "it has no id";
    return -EBADMSG;
  }
  out->type = type;
  out->sync_enabled = f.sync;
  out->last_sync = sync_time(&f);
  out->id = strdup(f.id);
  if(!out->id || copy_members(obj, out, true)) {
    conflict_holder_clear(out);
    return -ENOMEM;
  }
  return 0;
}

/* ===== Holders ===== */

/* holder_copy() deep-copies src into dst (zeroed).  Returns 0 or
 * -ENOMEM. */
static int holder_copy(struct conflict_holder *dst,
                       const struct conflict_holder *src)
{
  dst->type = src->type;
  dst->sync_enabled = src->sync_enabled;
  dst->last_sync = src->last_sync;
  if(dup_opt(&dst->id, src->id) ||
     dup_opt(&dst->display_name, src->display_name) ||
     dup_opt(&dst->upn, src->upn) || dup_opt(&dst->mail, src->mail) ||
     dup_opt(&dst->immutable_id, src->immutable_id) ||
     dup_opt(&dst->on_prem_dn, src->on_prem_dn) ||
     dup_opt(&dst->sam_account, src->sam_account)) {
    conflict_holder_clear(dst);
    return -ENOMEM;
  }
  return 0;
}

/* holders_dup() returns a deep copy of n holders in *out (NULL for 0).
 * Returns 0 or -ENOMEM. */
static int holders_dup(const struct conflict_holder *h, size_t n,
                       struct conflict_holder **out)
{
  struct conflict_holder *v;
  size_t i;

  *out = NULL;
  if(!n)
    return 0;
  v = calloc(n, sizeof(*v));
  if(!v)
    return -ENOMEM;
  for(i = 0; i < n; i++)
    if(holder_copy(&v[i], &h[i])) {
      holders_free(v, i);
      return -ENOMEM;
    }
  *out = v;
  return 0;
}

int conflict_set_holders(struct conflict *c, const struct conflict_holder *h,
                         size_t n)
{
  struct conflict_holder *v;

  if(holders_dup(h, n, &v))
    return -ENOMEM;
  holders_free(c->holders, c->nholders);
  c->holders = v;
  c->nholders = n;
  return 0;
}

int conflict_copy_pairing(struct conflict *dst, const struct conflict *src)
{
  char *err = NULL;

  if(dup_opt(&err, src->lookup_error))
    return -ENOMEM;
  if(conflict_set_holders(dst, src->holders, src->nholders)) {
    free(err);
    return -ENOMEM;
  }
  free(dst->lookup_error);
  dst->lookup_error = err;
  dst->looked_up = src->looked_up;
  dst->cls = src->cls;
  dst->recheck = src->recheck;
  return 0;
}

/* same_str() compares two optional strings. */
static bool same_str(const char *a, const char *b)
{
  return a == b || (a && b && !strcmp(a, b));
}

bool conflict_same_object(const struct conflict *a, const struct conflict *b)
{
  return !strcmp(a->key, b->key) && a->objtype == b->objtype &&
         a->sync_enabled == b->sync_enabled &&
         a->placeholder == b->placeholder &&
         same_str(a->display_name, b->display_name) &&
         same_str(a->upn, b->upn) && same_str(a->mail, b->mail) &&
         same_str(a->immutable_id, b->immutable_id) &&
         same_str(a->on_prem_dn, b->on_prem_dn) &&
         same_str(a->sam_account, b->sam_account);
}

/* ===== JSON form ===== */

/* The tristate is written and read as jsonx's boolean. */
_Static_assert(CONFLICT_TRI_UNKNOWN == JSONX_UNSET && CONFLICT_TRI_FALSE == 0 &&
                   CONFLICT_TRI_TRUE == 1,
               "enum conflict_tristate must match jsonx's booleans");

cJSON *conflict_holder_to_json(const struct conflict_holder *h)
{
  cJSON *o = cJSON_CreateObject();

  if(!o)
    return NULL;
  if(jsonx_add_str(o, "id", h->id) ||
     jsonx_add_str(o, "objectType", conflict_objtype_name(h->type)) ||
     jsonx_add_str(o, "displayName", h->display_name) ||
     jsonx_add_str(o, "userPrincipalName", h->upn) ||
     jsonx_add_str(o, "mail", h->mail) ||
     jsonx_add_bool(o, "onPremisesSyncEnabled", h->sync_enabled) ||
     jsonx_add_str(o, "onPremisesImmutableId", h->immutable_id) ||
     jsonx_add_str(o, "onPremisesDistinguishedName", h->on_prem_dn) ||
     jsonx_add_str(o, "onPremisesSamAccountName", h->sam_account) ||
     jsonx_add_time(o, "onPremisesLastSyncDateTime", h->last_sync)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* add_holders() adds "holders": [...].  Returns 0 or -ENOMEM. */
static int add_holders(cJSON *o, const struct conflict *c)
{
  cJSON *arr = cJSON_AddArrayToObject(o, "holders");
  size_t i;

  if(!arr)
    return -ENOMEM;
  for(i = 0; i < c->nholders; i++) {
    cJSON *h = conflict_holder_to_json(&c->holders[i]);

    if(!h || !cJSON_AddItemToArray(arr, h)) {
      cJSON_Delete(h);
      return -ENOMEM;
    }
  }
  return 0;
}

cJSON *conflict_to_json(const struct conflict *c)
{
  cJSON *o = cJSON_CreateObject();

  if(!o)
    return NULL;
  if(jsonx_add_str(o, "objectId", c->object_id) ||
     jsonx_add_str(o, "objectType", conflict_objtype_name(c->objtype)) ||
     jsonx_add_str(o, "property", conflict_property_name(c->property)) ||
     jsonx_add_str(o, "value", c->value) ||
     jsonx_add_str(o, "rawValue", c->value_raw) ||
     jsonx_add_str(o, "displayName", c->display_name) ||
     jsonx_add_str(o, "userPrincipalName", c->upn) ||
     jsonx_add_str(o, "mail", c->mail) ||
     jsonx_add_bool(o, "onPremisesSyncEnabled", c->sync_enabled) ||
     jsonx_add_str(o, "onPremisesImmutableId", c->immutable_id) ||
     jsonx_add_str(o, "onPremisesDistinguishedName", c->on_prem_dn) ||
     jsonx_add_str(o, "onPremisesSamAccountName", c->sam_account) ||
     jsonx_add_bool(o, "placeholder", c->placeholder) ||
     jsonx_add_str(o, "originalValue", c->original_value) ||
     jsonx_add_time(o, "occurredDateTime", c->occurred) ||
     jsonx_add_time(o, "firstSeen", c->first_seen) ||
     jsonx_add_time(o, "lastSeen", c->last_seen) ||
     jsonx_add_time(o, "onPremisesLastSyncDateTime", c->last_sync) ||
     jsonx_add_str(o, "state", conflict_state_name(c->state)) ||
     jsonx_add_time(o, "freedAt", c->freed_at) ||
     jsonx_add_time(o, "predictedRelease", c->release_by) ||
     jsonx_add_time(o, "stuckAt", c->stuck_at) ||
     jsonx_add_number(o, "agingDone", (double)c->aging_done) ||
     jsonx_add_str(o, "class", conflict_class_name(c->cls)) ||
     jsonx_add_time(o, "holdersLookedUp", c->looked_up) ||
     jsonx_add_str(o, "lookupError", c->lookup_error) || add_holders(o, c)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* holders_from_json() reads the optional "holders" array into c.
 * Returns 0, -ENOMEM, or another negative code for a bad entry. */
static int holders_from_json(const cJSON *j, struct conflict *c)
{
  const cJSON *arr, *e;
  size_t n = 0;
  int rc = jsonx_get_array(j, "holders", &arr);

  if(rc || !cJSON_GetArraySize(arr))
    return rc;
  c->holders = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*c->holders));
  if(!c->holders)
    return -ENOMEM;
  cJSON_ArrayForEach(e, arr)
  {
    struct conflict_holder *h = &c->holders[n];
    const char *why, *ot;
    int type;

    if(jsonx_get_str(e, "objectType", &ot) ||
       (type = conflict_objtype_parse(ot)) < 0) {
      rc = -EBADMSG;
      break;
    }
    rc = conflict_holder_from_graph(e, (enum conflict_objtype)type, h, &why);
    /* Graph's form tolerates a bad time; the state file's does not. */
    if(!rc)
      rc = jsonx_get_time(e, "onPremisesLastSyncDateTime", &h->last_sync);
    if(rc) {
      conflict_holder_clear(h);
      break;
    }
    c->nholders = ++n;
  }
  return rc;
}

/* The optional members of the state file's form, read straight into the
 * conflict: strings, and times (absent or null: 0).  Schema 1 files have
 * no onPremisesLastSyncDateTime, holdersLookedUp, lookupError or class,
 * schema 2 files none of the sweep's members. */
static const struct {
  const char *name;
  size_t off;
} opt_strs[] =
    {
        {"displayName", offsetof(struct conflict, display_name)},
        {"userPrincipalName", offsetof(struct conflict, upn)},
        {"mail", offsetof(struct conflict, mail)},
        {"onPremisesImmutableId", offsetof(struct conflict, immutable_id)},
        {"onPremisesDistinguishedName", offsetof(struct conflict, on_prem_dn)},
        {"onPremisesSamAccountName", offsetof(struct conflict, sam_account)},
        {"originalValue", offsetof(struct conflict, original_value)},
        {"lookupError", offsetof(struct conflict, lookup_error)},
},
  opt_times[] = {
      {"occurredDateTime", offsetof(struct conflict, occurred)},
      {"firstSeen", offsetof(struct conflict, first_seen)},
      {"lastSeen", offsetof(struct conflict, last_seen)},
      {"onPremisesLastSyncDateTime", offsetof(struct conflict, last_sync)},
      {"freedAt", offsetof(struct conflict, freed_at)},
      {"predictedRelease", offsetof(struct conflict, release_by)},
      {"stuckAt", offsetof(struct conflict, stuck_at)},
      {"holdersLookedUp", offsetof(struct conflict, looked_up)},
};

/* read_optional() reads the optional members of j into c.  Returns 0,
 * -ENOMEM, or another negative code for a bad member. */
static int read_optional(const cJSON *j, struct conflict *c)
{
  long long aging;
  int sync, ph, rc = 0;
  size_t i;

  for(i = 0; !rc && i < NELEM(opt_strs); i++)
    rc = jsonx_get_strdup(j, opt_strs[i].name,
                          (char **)(void *)((char *)c + opt_strs[i].off));
  for(i = 0; !rc && i < NELEM(opt_times); i++)
    rc = jsonx_get_time(j, opt_times[i].name,
                        (time_t *)(void *)((char *)c + opt_times[i].off));
  if(!rc)
    rc = jsonx_get_bool(j, "onPremisesSyncEnabled", &sync);
  if(!rc)
    rc = jsonx_get_bool(j, "placeholder", &ph);
  if(!rc)
    rc = jsonx_get_int(j, "agingDone", 0, 999999999999LL, &aging);
  if(!rc)
    rc = holders_from_json(j, c);
  if(rc)
    return rc;
  c->sync_enabled = (enum conflict_tristate)sync;
  c->placeholder = ph == 1;
  c->aging_done = (unsigned long)aging;
  return 0;
}

int conflict_from_json(const cJSON *j, const char *tenant,
                       struct conflict **out)
{
  const char *id, *ot, *pr, *val, *raw, *st, *cls;
  struct conflict *c;
  int type, prop, state, klass = CONFLICT_CLASS_UNKNOWN, rc;

  if(!cJSON_IsObject(j) || jsonx_get_str(j, "objectId", &id) ||
     jsonx_get_str(j, "objectType", &ot) || jsonx_get_str(j, "property", &pr) ||
     jsonx_get_str(j, "value", &val) || jsonx_get_str(j, "rawValue", &raw) ||
     jsonx_get_str(j, "state", &st) || jsonx_get_str(j, "class", &cls))
    return -EBADMSG;
  type = conflict_objtype_parse(ot);
  prop = conflict_property_parse(pr);
  state = conflict_state_parse(st);
  if(cls)
    klass = conflict_class_parse(cls);
  if(!id || !*id || !val || type < 0 || prop < 0 || state < 0 || klass < 0)
    return -EBADMSG;
  c = conflict_new(tenant, id, (enum conflict_objtype)type,
                   (enum conflict_property)prop, raw ? raw : val);
  if(!c)
    return *val ? -ENOMEM : -EBADMSG;
  c->state = (enum conflict_state)state;
  c->cls = (enum conflict_class)klass;
  rc = read_optional(j, c);
  if(rc) {
    conflict_free(c);
    return rc == -ENOMEM ? rc : -EBADMSG;
  }
  *out = c;
  return 0;
}

/* by_key() orders conflicts by key, for qsort(). */
static int by_key(const void *a, const void *b)
{
  const struct conflict *x = *(const struct conflict *const *)a;
  const struct conflict *y = *(const struct conflict *const *)b;

  return strcmp(x->key, y->key);
}

cJSON *conflict_set_to_json(const struct conflict_set *s)
{
  struct conflict **v = NULL;
  struct conflict_iter it;
  struct conflict *c;
  cJSON *arr;
  size_t n = 0, i;

  arr = cJSON_CreateArray();
  if(!arr)
    return NULL;
  if(!s->count)
    return arr;
  v = malloc(s->count * sizeof(*v));
  if(!v)
    goto nomem;
  conflict_iter_init(&it, s);
  for(c = conflict_iter_next(&it); c; c = conflict_iter_next(&it))
    v[n++] = c;
  qsort(v, n, sizeof(*v), by_key);
  for(i = 0; i < n; i++) {
    cJSON *o = conflict_to_json(v[i]);

    if(!o || !cJSON_AddItemToArray(arr, o)) {
      cJSON_Delete(o);
      goto nomem;
    }
  }
  free(v);
  return arr;

nomem:
  free(v);
  cJSON_Delete(arr);
  return NULL;
}

int conflict_set_from_json(const cJSON *arr, const char *tenant,
                           struct conflict_set **out)
{
  struct conflict_set *s;
  const cJSON *e;
  int rc;

  if(!cJSON_IsArray(arr))
    return -EBADMSG;
  s = conflict_set_new(tenant);
  if(!s)
    return -ENOMEM;
  rc = conflict_set_reserve(s, (size_t)cJSON_GetArraySize(arr));
  cJSON_ArrayForEach(e, arr)
  {
    struct conflict *c;

    if(rc)
      break;
    rc = conflict_from_json(e, tenant, &c);
    if(rc)
      break;
    rc = conflict_set_add(s, c);
    if(rc) {
      conflict_free(c);
      if(rc == -EEXIST)
        rc = -EBADMSG;
    }
  }
  if(rc) {
    conflict_set_free(s);
    return rc;
  }
  *out = s;
  return 0;
}
