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

#include "log.h"

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
static const char *const class_names[] = {
    "unknown",          "cloud_account", "two_synced", "orphaned",
    "group_or_contact", "not_held",      "recycle_bin"};

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

/* ===== Times ===== */

/* digits() reads exactly n decimal digits at *p into *v and advances *p.
 * Returns 0, or -EINVAL when a digit is missing. */
static int digits(const char **p, int n, int *v)
{
  int i, r = 0;

  for(i = 0; i < n; i++) {
    if(!isdigit((unsigned char)(*p)[i]))
      return -EINVAL;
    r = r * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *v = r;
  return 0;
}

int conflict_parse_time(const char *s, time_t *out)
{
  int y, mo, d, h, mi, sec, oh = 0, om = 0, n;
  long off = 0;
  struct tm tm;
  time_t t;

  if(!s || digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) ||
     *s++ != '-' || digits(&s, 2, &d))
    return -EINVAL;
  if(*s != 'T' && *s != 't')
    return -EINVAL;
  s++;
  if(digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' ||
     digits(&s, 2, &sec))
    return -EINVAL;
  if(*s == '.') {
    s++;
    for(n = 0; isdigit((unsigned char)*s); n++)
      s++;
    if(n < 1 || n > 7)
      return -EINVAL;
  }
  if(*s == 'Z' || *s == 'z')
    s++;
  else if(*s == '+' || *s == '-') {
    int sign = *s++ == '-' ? -1 : 1;

    if(digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 ||
       om > 59)
      return -EINVAL;
    off = sign * (oh * 3600L + om * 60L);
  }
  if(*s)
    return -EINVAL;
  if(mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return -EINVAL;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  t = timegm(&tm);
  if(t == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31))
    return -EINVAL;
  *out = t - off;
  return 0;
}

void conflict_format_time(time_t t, char *buf, size_t len)
{
  struct tm tm;

  if(!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, len, "invalid");
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

/* strip_smtp() returns value without a leading "smtp:" in any case. */
static const char *strip_smtp(const char *value)
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
  const char *v = prop == CONFLICT_PROXY ? strip_smtp(value) : value;
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
  const char *v = prop == CONFLICT_PROXY ? strip_smtp(raw_value) : raw_value;
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

/* put_replacing() adds c to s, which has room for it (see
 * conflict_set_reserve()), replacing a conflict under the same key and
 * keeping its first_seen when earlier. */
static void put_replacing(struct conflict_set *s, struct conflict *c)
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
    put_replacing(into, conflict_set_remove(from, c->key));
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

/* get_str() reads the string member name of obj into *out (borrowed).
 * An absent or null member gives NULL.  Returns 0, or -EBADMSG when the
 * member has another type. */
static int get_str(const cJSON *obj, const char *name, const char **out)
{
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);

  *out = NULL;
  if(!m || cJSON_IsNull(m))
    return 0;
  if(!cJSON_IsString(m) || !m->valuestring)
    return -EBADMSG;
  *out = m->valuestring;
  return 0;
}

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

/* Members of a Graph object shared by each of its conflicts. */
struct object_fields {
  const char *id, *display_name, *upn, *mail, *immutable_id, *dn, *sam,
      *last_sync;
  enum conflict_tristate sync;
};

/* read_object() checks the types of the members a conflict uses.
 * Returns 0, or -EBADMSG with *why naming the bad member. */
static int read_object(const cJSON *obj, struct object_fields *f,
                       const char **why)
{
  static const struct {
    const char *name, *why;
    size_t off;
  } strs[] = {
      {"id", "id is not a string", offsetof(struct object_fields, id)},
      {"displayName", "displayName is not a string",
       offsetof(struct object_fields, display_name)},
      {"userPrincipalName", "userPrincipalName is not a string",
       offsetof(struct object_fields, upn)},
      {"mail", "mail is not a string", offsetof(struct object_fields, mail)},
      {"onPremisesImmutableId", "onPremisesImmutableId is not a string",
       offsetof(struct object_fields, immutable_id)},
      {"onPremisesDistinguishedName",
       "onPremisesDistinguishedName is not a string",
       offsetof(struct object_fields, dn)},
      {"onPremisesSamAccountName", "onPremisesSamAccountName is not a string",
       offsetof(struct object_fields, sam)},
      {"onPremisesLastSyncDateTime",
       "onPremisesLastSyncDateTime is not a string",
       offsetof(struct object_fields, last_sync)},
  };
  const cJSON *m;
  size_t i;

  memset(f, 0, sizeof(*f));
  for(i = 0; i < NELEM(strs); i++) {
    const char **dst = (const char **)(void *)((char *)f + strs[i].off);

    if(get_str(obj, strs[i].name, dst)) {
      *why = strs[i].why;
      return -EBADMSG;
    }
  }
  f->sync = CONFLICT_TRI_UNKNOWN;
  m = cJSON_GetObjectItemCaseSensitive(obj, "onPremisesSyncEnabled");
  if(cJSON_IsBool(m))
    f->sync = cJSON_IsTrue(m) ? CONFLICT_TRI_TRUE : CONFLICT_TRI_FALSE;
  else if(m && !cJSON_IsNull(m)) {
    *why = "onPremisesSyncEnabled is not a boolean";
    return -EBADMSG;
  }
  return 0;
}

/* sync_time() returns the object's onPremisesLastSyncDateTime, or 0 when
 * it is absent or unreadable (tolerated: it only refines a class). */
static time_t sync_time(const struct object_fields *f)
{
  time_t t = 0;

  if(f->last_sync && conflict_parse_time(f->last_sync, &t))
    t = 0;
  return t;
}

/* fill_object() copies the object's shared members into c.  Returns 0 or
 * -ENOMEM. */
static int fill_object(struct conflict *c, const struct object_fields *f,
                       time_t now)
{
  c->sync_enabled = f->sync;
  c->last_sync = sync_time(f);
  c->first_seen = now;
  c->last_seen = now;
  if(dup_opt(&c->display_name, f->display_name) || dup_opt(&c->upn, f->upn) ||
     dup_opt(&c->mail, f->mail) || dup_opt(&c->immutable_id, f->immutable_id) ||
     dup_opt(&c->on_prem_dn, f->dn) || dup_opt(&c->sam_account, f->sam))
    return -ENOMEM;
  return 0;
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

/* stage_errors() turns the errors array into new conflicts in *list
 * (*n of them), checking every entry first.  Returns 0, -EBADMSG with
 * *why set, or -ENOMEM; on error nothing is left allocated. */
static int stage_errors(const cJSON *errs, enum conflict_objtype type,
                        const char *tenant, const struct object_fields *f,
                        time_t now, struct conflict ***list, size_t *n,
                        const char **why)
{
  const cJSON *e;
  struct conflict **l;
  size_t cnt = 0, i;
  int rc;

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

    if(!cJSON_IsObject(e) || get_str(e, "category", &cat) ||
       get_str(e, "propertyCausingError", &prop) ||
       get_str(e, "value", &value) || get_str(e, "occurredDateTime", &when)) {
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
    if(!value || !*strip_smtp(value)) {
      log_debug("conflict: %s %s: skipping a %s conflict with no value",
                conflict_objtype_name(type), f->id, prop);
      continue;
    }
    if(when && conflict_parse_time(when, &occurred)) {
      /* Tolerated: the conflict matters more than its date. */
      log_debug("conflict: %s %s: bad occurredDateTime '%s'",
                conflict_objtype_name(type), f->id, when);
      occurred = 0;
    }
    c = conflict_new(tenant, f->id, type, (enum conflict_property)p, value);
    if(!c || fill_object(c, f, now)) {
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
    rc = dup_opt(&c->original_value, c->value);
    if(rc) {
      free_list(l, cnt);
      return rc;
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
  const cJSON *errs;
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
  errs = cJSON_GetObjectItemCaseSensitive(obj, "onPremisesProvisioningErrors");
  if(!rc && errs && !cJSON_IsNull(errs) && !cJSON_IsArray(errs)) {
    why = "onPremisesProvisioningErrors is not an array";
    rc = -EBADMSG;
  }
  if(!rc && cJSON_IsArray(errs))
    rc = stage_errors(errs, type, tenant, &f, now, &list, &n, &why);
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
    put_replacing(into, list[i]);
  free(list);
  return (int)n;
}

/* ===== Holders ===== */

/* holder_fill() copies f into h (zeroed).  Returns 0 or -ENOMEM. */
static int holder_fill(struct conflict_holder *h, enum conflict_objtype type,
                       const struct object_fields *f)
{
  h->type = type;
  h->sync_enabled = f->sync;
  h->last_sync = sync_time(f);
  if(dup_opt(&h->id, f->id) || dup_opt(&h->display_name, f->display_name) ||
     dup_opt(&h->upn, f->upn) || dup_opt(&h->mail, f->mail) ||
     dup_opt(&h->immutable_id, f->immutable_id) ||
     dup_opt(&h->on_prem_dn, f->dn) || dup_opt(&h->sam_account, f->sam)) {
    conflict_holder_clear(h);
    return -ENOMEM;
  }
  return 0;
}

int conflict_holder_from_graph(const cJSON *obj, enum conflict_objtype type,
                               struct conflict_holder *out, const char **why)
{
  struct object_fields f;
  const cJSON *del;
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
  rc = holder_fill(out, type, &f);
  /* A deleted item carries its deletedDateTime (directory-deleteditems-list,
   * https://learn.microsoft.com/graph/api/directory-deleteditems-list); a
   * live object has none, or null. */
  del = cJSON_GetObjectItemCaseSensitive(obj, "deletedDateTime");
  if(!rc && cJSON_IsString(del)) {
    out->recycled = true;
    if(conflict_parse_time(del->valuestring, &out->deleted_at))
      out->deleted_at = 0;
  }
  return rc;
}

/* holder_copy() deep-copies src into dst (zeroed).  Returns 0 or
 * -ENOMEM. */
static int holder_copy(struct conflict_holder *dst,
                       const struct conflict_holder *src)
{
  const struct object_fields f = {
      .id = src->id,
      .display_name = src->display_name,
      .upn = src->upn,
      .mail = src->mail,
      .immutable_id = src->immutable_id,
      .dn = src->on_prem_dn,
      .sam = src->sam_account,
      .sync = src->sync_enabled,
  };
  int rc = holder_fill(dst, src->type, &f);

  dst->last_sync = src->last_sync;
  dst->recycled = src->recycled;
  dst->deleted_at = src->deleted_at;
  return rc;
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

/* add_str() adds name: s, or name: null when s is NULL.  Returns 0 or
 * -ENOMEM. */
static int add_str(cJSON *o, const char *name, const char *s)
{
  cJSON *v = s ? cJSON_CreateString(s) : cJSON_CreateNull();

  if(!v || !cJSON_AddItemToObject(o, name, v)) {
    cJSON_Delete(v);
    return -ENOMEM;
  }
  return 0;
}

/* add_time() adds name: "ISO time", or null for 0. */
static int add_time(cJSON *o, const char *name, time_t t)
{
  char buf[CONFLICT_TIME_LEN];

  if(!t)
    return add_str(o, name, NULL);
  conflict_format_time(t, buf, sizeof(buf));
  return add_str(o, name, buf);
}

/* add_sync() adds name: true/false/null. */
static int add_sync(cJSON *o, const char *name, enum conflict_tristate t)
{
  cJSON *v = t == CONFLICT_TRI_UNKNOWN
                 ? cJSON_AddNullToObject(o, name)
                 : cJSON_AddBoolToObject(o, name, t == CONFLICT_TRI_TRUE);

  return v ? 0 : -ENOMEM;
}

cJSON *conflict_holder_to_json(const struct conflict_holder *h)
{
  cJSON *o = cJSON_CreateObject();
  int rc = 0;

  if(!o)
    return NULL;
  rc |= add_str(o, "id", h->id);
  rc |= add_str(o, "objectType", conflict_objtype_name(h->type));
  rc |= add_str(o, "displayName", h->display_name);
  rc |= add_str(o, "userPrincipalName", h->upn);
  rc |= add_str(o, "mail", h->mail);
  rc |= add_sync(o, "onPremisesSyncEnabled", h->sync_enabled);
  rc |= add_str(o, "onPremisesImmutableId", h->immutable_id);
  rc |= add_str(o, "onPremisesDistinguishedName", h->on_prem_dn);
  rc |= add_str(o, "onPremisesSamAccountName", h->sam_account);
  rc |= add_time(o, "onPremisesLastSyncDateTime", h->last_sync);
  if(h->recycled) {
    char buf[CONFLICT_TIME_LEN] = "";

    if(h->deleted_at)
      conflict_format_time(h->deleted_at, buf, sizeof(buf));
    /* Any string marks it as deleted when read back. */
    rc |= add_str(o, "deletedDateTime", buf);
  }
  if(rc) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* add_holders() adds "holders": [...]. */
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
  int rc = 0;

  if(!o)
    return NULL;
  rc |= add_str(o, "objectId", c->object_id);
  rc |= add_str(o, "objectType", conflict_objtype_name(c->objtype));
  rc |= add_str(o, "property", conflict_property_name(c->property));
  rc |= add_str(o, "value", c->value);
  rc |= add_str(o, "rawValue", c->value_raw);
  rc |= add_str(o, "displayName", c->display_name);
  rc |= add_str(o, "userPrincipalName", c->upn);
  rc |= add_str(o, "mail", c->mail);
  rc |= add_sync(o, "onPremisesSyncEnabled", c->sync_enabled);
  rc |= add_str(o, "onPremisesImmutableId", c->immutable_id);
  rc |= add_str(o, "onPremisesDistinguishedName", c->on_prem_dn);
  rc |= add_str(o, "onPremisesSamAccountName", c->sam_account);
  if(!cJSON_AddBoolToObject(o, "placeholder", c->placeholder))
    rc = -ENOMEM;
  rc |= add_str(o, "originalValue", c->original_value);
  rc |= add_time(o, "occurredDateTime", c->occurred);
  rc |= add_time(o, "firstSeen", c->first_seen);
  rc |= add_time(o, "lastSeen", c->last_seen);
  rc |= add_time(o, "onPremisesLastSyncDateTime", c->last_sync);
  rc |= add_str(o, "state", conflict_state_name(c->state));
  rc |= add_time(o, "freedAt", c->freed_at);
  rc |= add_time(o, "predictedRelease", c->release_by);
  rc |= add_time(o, "stuckAt", c->stuck_at);
  if(!cJSON_AddNumberToObject(o, "agingDone", (double)c->aging_done))
    rc = -ENOMEM;
  rc |= add_str(o, "class", conflict_class_name(c->cls));
  rc |= add_time(o, "holdersLookedUp", c->looked_up);
  rc |= add_str(o, "lookupError", c->lookup_error);
  rc |= add_holders(o, c);
  if(rc) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* get_time() reads an ISO time member (null/absent gives 0).  Returns 0
 * or -EBADMSG. */
static int get_time(const cJSON *o, const char *name, time_t *t)
{
  const char *s;

  *t = 0;
  if(get_str(o, name, &s))
    return -EBADMSG;
  if(s && conflict_parse_time(s, t))
    return -EBADMSG;
  return 0;
}

/* get_sync() reads an onPremisesSyncEnabled-like member (bool, null or
 * absent).  Returns 0 or -EBADMSG. */
static int get_sync(const cJSON *o, const char *name, enum conflict_tristate *t)
{
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

  *t = CONFLICT_TRI_UNKNOWN;
  if(cJSON_IsBool(m))
    *t = cJSON_IsTrue(m) ? CONFLICT_TRI_TRUE : CONFLICT_TRI_FALSE;
  else if(m && !cJSON_IsNull(m))
    return -EBADMSG;
  return 0;
}

/* holders_from_json() reads the optional "holders" array into c.
 * Returns 0, -EBADMSG or -ENOMEM. */
static int holders_from_json(const cJSON *j, struct conflict *c)
{
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "holders"), *e;
  size_t n = 0;
  int rc = 0;

  if(!arr || cJSON_IsNull(arr))
    return 0;
  if(!cJSON_IsArray(arr))
    return -EBADMSG;
  if(!cJSON_GetArraySize(arr))
    return 0;
  c->holders = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*c->holders));
  if(!c->holders)
    return -ENOMEM;
  cJSON_ArrayForEach(e, arr)
  {
    struct conflict_holder *h = &c->holders[n];
    const char *why, *ot;
    int type;

    if(get_str(e, "objectType", &ot) ||
       (type = conflict_objtype_parse(ot)) < 0) {
      rc = -EBADMSG;
      break;
    }
    rc = conflict_holder_from_graph(e, (enum conflict_objtype)type, h, &why);
    if(!rc && get_time(e, "onPremisesLastSyncDateTime", &h->last_sync))
      rc = -EBADMSG;
    if(rc) {
      conflict_holder_clear(h);
      break;
    }
    c->nholders = ++n;
  }
  return rc;
}

int conflict_from_json(const cJSON *j, const char *tenant,
                       struct conflict **out)
{
  const char *id, *ot, *pr, *val, *raw, *st, *dn, *upn, *mail, *imm, *odn, *sam,
      *orig, *cls, *lerr;
  const cJSON *m;
  struct conflict *c;
  int type, prop, state, klass = CONFLICT_CLASS_UNKNOWN, rc;

  if(!cJSON_IsObject(j) || get_str(j, "objectId", &id) ||
     get_str(j, "objectType", &ot) || get_str(j, "property", &pr) ||
     get_str(j, "value", &val) || get_str(j, "rawValue", &raw) ||
     get_str(j, "state", &st) || get_str(j, "displayName", &dn) ||
     get_str(j, "userPrincipalName", &upn) || get_str(j, "mail", &mail) ||
     get_str(j, "onPremisesImmutableId", &imm) ||
     get_str(j, "onPremisesDistinguishedName", &odn) ||
     get_str(j, "onPremisesSamAccountName", &sam) ||
     get_str(j, "originalValue", &orig) || get_str(j, "class", &cls) ||
     get_str(j, "lookupError", &lerr))
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
  /* Schema 1 files have no onPremisesLastSyncDateTime, holders,
   * holdersLookedUp, lookupError or class, schema 2 files none of the
   * sweep's members: all optional. */
  if(get_time(j, "occurredDateTime", &c->occurred) ||
     get_time(j, "freedAt", &c->freed_at) ||
     get_time(j, "predictedRelease", &c->release_by) ||
     get_time(j, "stuckAt", &c->stuck_at) ||
     get_time(j, "firstSeen", &c->first_seen) ||
     get_time(j, "lastSeen", &c->last_seen) ||
     get_time(j, "onPremisesLastSyncDateTime", &c->last_sync) ||
     get_time(j, "holdersLookedUp", &c->looked_up) ||
     get_sync(j, "onPremisesSyncEnabled", &c->sync_enabled))
    goto bad;
  m = cJSON_GetObjectItemCaseSensitive(j, "agingDone");
  if(cJSON_IsNumber(m) && m->valuedouble >= 0 && m->valuedouble < 1e12 &&
     m->valuedouble == (double)(unsigned long)m->valuedouble)
    c->aging_done = (unsigned long)m->valuedouble;
  else if(m && !cJSON_IsNull(m))
    goto bad;
  m = cJSON_GetObjectItemCaseSensitive(j, "placeholder");
  if(cJSON_IsBool(m))
    c->placeholder = cJSON_IsTrue(m);
  else if(m && !cJSON_IsNull(m))
    goto bad;
  rc = holders_from_json(j, c);
  if(rc == -EBADMSG)
    goto bad;
  if(rc || dup_opt(&c->display_name, dn) || dup_opt(&c->upn, upn) ||
     dup_opt(&c->mail, mail) || dup_opt(&c->immutable_id, imm) ||
     dup_opt(&c->on_prem_dn, odn) || dup_opt(&c->sam_account, sam) ||
     dup_opt(&c->original_value, orig) || dup_opt(&c->lookup_error, lerr)) {
    conflict_free(c);
    return -ENOMEM;
  }
  *out = c;
  return 0;

bad:
  conflict_free(c);
  return -EBADMSG;
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
