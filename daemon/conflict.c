/* SPDX-License-Identifier: MIT
 *
 * conflict: the conflict model: the names of its enums in text, a
 * conflict's identity (its key and the value's three forms), and making,
 * copying and freeing conflicts and their holders.  No JSON, no set: see
 * conflict.h for where those live.
 */
#include "conflict.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const objtype_names[] = {"user", "group", "contact"};
static const char *const property_names[] = {"upn", "proxy"};
static const char *const state_names[] = {"active", "freed", "stuck"};
static const char *const class_names[] = {
    "unknown",          "cloud_account", "two_synced", "orphaned",
    "group_or_contact", "not_held",      "recycle_bin"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(NELEM(class_names) == CONFLICT_NCLASS,
               "every conflict class needs its name in class_names[]");

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

/* The string members of a conflict and of a holder, by address. */
#define CONFLICT_STRS 14
#define HOLDER_STRS 7

static void conflict_strs(struct conflict *c, char **f[CONFLICT_STRS])
{
  char **v[CONFLICT_STRS] = {&c->key,
                             &c->tenant,
                             &c->object_id,
                             &c->value,
                             &c->value_raw,
                             &c->value_lc,
                             &c->display_name,
                             &c->upn,
                             &c->mail,
                             &c->immutable_id,
                             &c->on_prem_dn,
                             &c->sam_account,
                             &c->original_value,
                             &c->lookup_error};

  memcpy(f, v, sizeof(v));
}

static void holder_strs(struct conflict_holder *h, char **f[HOLDER_STRS])
{
  char **v[HOLDER_STRS] = {&h->id,         &h->display_name, &h->upn,
                           &h->mail,       &h->immutable_id, &h->on_prem_dn,
                           &h->sam_account};

  memcpy(f, v, sizeof(v));
}

/* strs_size() is the bytes the n strings at f take with their NULs. */
static size_t strs_size(char **const f[], size_t n)
{
  size_t i, size = 0;

  for(i = 0; i < n; i++)
    size += *f[i] ? strlen(*f[i]) + 1 : 0;
  return size;
}

/* strs_move() copies the n strings at f to *at, moving it on, and points
 * each member at its copy. */
static void strs_move(char **const f[], size_t n, char **at)
{
  size_t i, len;

  for(i = 0; i < n; i++)
    if(*f[i]) {
      len = strlen(*f[i]) + 1;
      *f[i] = memcpy(*at, *f[i], len);
      *at += len;
    }
}

struct conflict *conflict_snapshot(const struct conflict *c)
{
  char **f[CONFLICT_STRS], **hf[HOLDER_STRS];
  struct conflict tmp = *c, *d;
  struct conflict_holder h;
  size_t i, size = sizeof(*d) + c->nholders * sizeof(*c->holders);
  char *at;

  conflict_strs(&tmp, f);
  size += strs_size(f, CONFLICT_STRS);
  for(i = 0; i < c->nholders; i++) {
    h = c->holders[i];
    holder_strs(&h, hf);
    size += strs_size(hf, HOLDER_STRS);
  }
  d = malloc(size);
  if(!d)
    return NULL;
  /* The members first point at c's strings, then at their copies. */
  *d = *c;
  d->hnext = d->onext = NULL;
  d->snapshot = true;
  d->holders = c->nholders ? (struct conflict_holder *)(d + 1) : NULL;
  at = (char *)(d + 1) + c->nholders * sizeof(*c->holders);
  conflict_strs(d, f);
  strs_move(f, CONFLICT_STRS, &at);
  for(i = 0; i < c->nholders; i++) {
    d->holders[i] = c->holders[i];
    holder_strs(&d->holders[i], hf);
    strs_move(hf, HOLDER_STRS, &at);
  }
  return d;
}

void conflict_free(struct conflict *c)
{
  if(!c)
    return;
  if(c->snapshot) {
    free(c);
    return;
  }
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

/* ===== Pairing ===== */

/* holder_copy() deep-copies src into dst (zeroed).  Returns 0 or
 * -ENOMEM. */
static int holder_copy(struct conflict_holder *dst,
                       const struct conflict_holder *src)
{
  dst->type = src->type;
  dst->sync_enabled = src->sync_enabled;
  dst->last_sync = src->last_sync;
  dst->recycled = src->recycled;
  dst->deleted_at = src->deleted_at;
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

int conflict_replace_holders(struct conflict *c,
                             const struct conflict_holder *h, size_t n)
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
  if(conflict_replace_holders(dst, src->holders, src->nholders)) {
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
