/* SPDX-License-Identifier: MIT
 *
 * conflict_json: conflicts, holders and sets to and from the state file's
 * JSON form, through jsonx.  Sets are written sorted by key, so the file
 * is stable; reading accepts schema 1 and 2 members as optional.
 */
#include "conflict_json.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conflict_parse.h"
#include "jsonx.h"
#include "timex.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The tristate is written and read as jsonx's boolean. */
_Static_assert(CONFLICT_TRI_UNKNOWN == JSONX_UNSET && CONFLICT_TRI_FALSE == 0 &&
                   CONFLICT_TRI_TRUE == 1,
               "enum conflict_tristate must match jsonx's booleans");

/* add_deleted() adds a recycle-bin holder's "deletedDateTime": its time,
 * or "" when unknown (any string reads back as deleted).  Returns 0 or
 * -ENOMEM. */
static int add_deleted(cJSON *o, time_t deleted_at)
{
  char buf[TIMEX_ISO_LEN] = "";

  if(deleted_at)
    timex_format_iso(deleted_at, buf, sizeof(buf));
  return jsonx_add_str(o, "deletedDateTime", buf);
}

cJSON *conflict_json_encode_holder(const struct conflict_holder *h)
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
     jsonx_add_time(o, "onPremisesLastSyncDateTime", h->last_sync) ||
     (h->recycled && add_deleted(o, h->deleted_at))) {
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
    cJSON *h = conflict_json_encode_holder(&c->holders[i]);

    if(!h || !cJSON_AddItemToArray(arr, h)) {
      cJSON_Delete(h);
      return -ENOMEM;
    }
  }
  return 0;
}

cJSON *conflict_json_encode(const struct conflict *c)
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
    rc = conflict_parse_holder(e, (enum conflict_objtype)type, h, &why);
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

int conflict_json_decode(const cJSON *j, const char *tenant,
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

int conflict_json_sorted(const struct conflict_set *s, struct conflict ***out,
                         size_t *n)
{
  struct conflict **v = NULL;
  struct conflict_iter it;
  struct conflict *c;
  size_t i = 0;

  *out = NULL;
  *n = 0;
  if(!conflict_set_count(s))
    return 0;
  v = malloc(conflict_set_count(s) * sizeof(*v));
  if(!v)
    return -ENOMEM;
  conflict_iter_init(&it, s);
  for(c = conflict_iter_next(&it); c; c = conflict_iter_next(&it))
    v[i++] = c;
  qsort(v, i, sizeof(*v), by_key);
  *out = v;
  *n = i;
  return 0;
}

cJSON *conflict_json_encode_set(const struct conflict_set *s)
{
  struct conflict **v = NULL;
  cJSON *arr;
  size_t n = 0, i;

  arr = cJSON_CreateArray();
  if(!arr)
    return NULL;
  if(conflict_json_sorted(s, &v, &n))
    goto nomem;
  for(i = 0; i < n; i++) {
    cJSON *o = conflict_json_encode(v[i]);

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

int conflict_json_decode_set(const cJSON *arr, const char *tenant,
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
    rc = conflict_json_decode(e, tenant, &c);
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
