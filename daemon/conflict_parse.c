/* SPDX-License-Identifier: MIT
 *
 * conflict_parse: Graph's users, groups and contacts into conflicts (one
 * per PropertyConflict entry of onPremisesProvisioningErrors, with the
 * placeholder UPN recognised) and into holder records.  Every member's
 * type is checked before anything is allocated, so a bad object changes
 * nothing; the members conflicts and holders share are read from one
 * table into either struct.
 */
#include "conflict_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonx.h"
#include "log.h"
#include "timex.h"

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
  /* jsonx's booleans are the tristate's values (asserted in
   * conflict_json.c). */
  f->sync = (enum conflict_tristate)sync;
  return 0;
}

/* copy_members() copies the members[] of obj, whose types read_object()
 * checked, into the struct at base: a struct conflict_holder when holder
 * is true, else a struct conflict.  The copies belong to that struct;
 * returns 0, or -ENOMEM with some copied (the caller frees the struct). */
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

int conflict_parse_holder(const cJSON *obj, enum conflict_objtype type,
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
