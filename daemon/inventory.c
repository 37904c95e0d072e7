/* SPDX-License-Identifier: MIT
 *
 * inventory: lists the three directory collections for one cycle and
 * parses every object into one conflict_set.  The three listings run at
 * once (the HTTP client caps the concurrency); each collection parses
 * into its own set, so a collection restarted in scan mode starts clean,
 * and the sets are merged only when all three completed.
 */
#include "inventory.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"

#define NCOLL 3

/* graph-facts §2: the documented filter, "Default" for eq on all three
 * collections, so no ConsistencyLevel header is needed. */
#define PC_FILTER                                                              \
  "onPremisesProvisioningErrors/any(o:o/category eq "                          \
  "'PropertyConflict')"

static const struct collection {
  const char *name; /* Graph collection */
  enum conflict_objtype type;
  const char *select; /* exactly the properties the conflict model uses */
} collections[NCOLL] = {
    {"users", CONFLICT_USER,
     "id,displayName,userPrincipalName,mail,proxyAddresses,"
     "onPremisesSyncEnabled,onPremisesImmutableId,onPremisesProvisioningErrors,"
     "onPremisesDistinguishedName,onPremisesSamAccountName,"
     "onPremisesLastSyncDateTime"},
    /* Groups and orgContacts have no userPrincipalName or
     * onPremisesImmutableId; contacts no onPremisesSamAccountName. */
    {"groups", CONFLICT_GROUP,
     "id,displayName,mail,proxyAddresses,onPremisesSyncEnabled,"
     "onPremisesProvisioningErrors,onPremisesSamAccountName,"
     "onPremisesLastSyncDateTime"},
    {"contacts", CONFLICT_CONTACT,
     "id,displayName,mail,proxyAddresses,onPremisesSyncEnabled,"
     "onPremisesProvisioningErrors,onPremisesLastSyncDateTime"},
};

struct inventory;

struct listing {
  struct inventory *inv;
  const struct collection *coll;
  struct conflict_set *set;
  bool scan; /* this listing scans instead of filtering */
  bool running;
  size_t objects; /* objects seen */
  int result;
  struct graph_error err;
};

struct inventory {
  struct graph *g;
  char *tenant;
  enum inventory_mode mode;
  unsigned page_size;
  bool filter_refused[NCOLL]; /* remembered across cycles */
  bool running;
  time_t now;
  struct listing lists[NCOLL];
  unsigned pending;
  inventory_done_cb cb;
  void *arg;
};

int inventory_new(struct graph *g, const char *tenant, enum inventory_mode mode,
                  unsigned page_size, struct inventory **out)
{
  struct inventory *inv = calloc(1, sizeof(*inv));

  if(!inv)
    return -ENOMEM;
  inv->tenant = strdup(tenant);
  if(!inv->tenant) {
    free(inv);
    return -ENOMEM;
  }
  inv->g = g;
  inv->mode = mode;
  inv->page_size = page_size && page_size <= 999 ? page_size : 999;
  *out = inv;
  return 0;
}

void inventory_free(struct inventory *inv)
{
  size_t i;

  if(!inv)
    return;
  for(i = 0; i < NCOLL; i++)
    conflict_set_free(inv->lists[i].set);
  free(inv->tenant);
  free(inv);
}

int inventory_running(const struct inventory *inv)
{
  return inv->running;
}

/* build_path() returns the malloc'd first-page path of a listing, with
 * the $filter value URL-escaped by libcurl. */
static char *build_path(const struct listing *l, unsigned top)
{
  char *path = NULL, *filter;
  int n;

  if(l->scan) {
    n = asprintf(&path, "/v1.0/%s?$select=%s&$top=%u", l->coll->name,
                 l->coll->select, top);
    return n < 0 ? NULL : path;
  }
  filter = curl_easy_escape(NULL, PC_FILTER, 0);
  if(!filter)
    return NULL;
  n = asprintf(&path, "/v1.0/%s?$filter=%s&$select=%s&$top=%u", l->coll->name,
               filter, l->coll->select, top);
  curl_free(filter);
  return n < 0 ? NULL : path;
}

/* on_page() parses one page's "value" array into the listing's set. */
static int on_page(const cJSON *page, void *arg)
{
  struct listing *l = arg;
  const cJSON *value = cJSON_GetObjectItemCaseSensitive(page, "value");
  const cJSON *obj;
  int rc;

  if(!cJSON_IsArray(value)) {
    log_warnx("inventory: tenant %s: a %s page has no \"value\" array",
              l->inv->tenant, l->coll->name);
    return -EBADMSG;
  }
  cJSON_ArrayForEach(obj, value)
  {
    l->objects++;
    rc = conflict_parse_object(obj, l->coll->type, l->inv->tenant, l->inv->now,
                               l->set);
    /* A malformed object is logged by the parser and skipped: one bad
     * object must not hide every other conflict of the tenant. */
    if(rc == -ENOMEM)
      return rc;
  }
  return 0;
}

static void on_list_done(int result, const char *delta_link,
                         const struct graph_error *err, void *arg);

/* start_listing() starts (or restarts) one collection's listing. */
static int start_listing(struct listing *l)
{
  char *path;
  int rc;

  conflict_set_free(l->set);
  l->set = conflict_set_new(l->inv->tenant);
  path = build_path(l, l->inv->page_size);
  if(!l->set || !path) {
    free(path);
    return -ENOMEM;
  }
  l->objects = 0;
  rc = graph_list(l->inv->g, path, NULL, on_page, on_list_done, l);
  free(path);
  if(!rc)
    l->running = true;
  return rc;
}

/* finish_cycle() runs when every listing has ended. */
static void finish_cycle(struct inventory *inv)
{
  struct conflict_set *all = NULL;
  const struct listing *failed = NULL;
  size_t i, total = 0, objects = 0;
  int result = 0;

  for(i = 0; i < NCOLL; i++) {
    if(inv->lists[i].result) {
      failed = &inv->lists[i];
      result = failed->result;
      break;
    }
    total += conflict_set_count(inv->lists[i].set);
    objects += inv->lists[i].objects;
  }
  if(!result) {
    all = conflict_set_new(inv->tenant);
    if(!all || conflict_set_reserve(all, total))
      result = -ENOMEM;
    for(i = 0; !result && i < NCOLL; i++) {
      struct conflict_iter it;
      struct conflict *c;

      conflict_iter_init(&it, inv->lists[i].set);
      while((c = conflict_iter_next(&it))) {
        c = conflict_set_remove(inv->lists[i].set, c->key);
        if(conflict_set_add(all, c))
          conflict_free(c); /* same key twice: cannot happen across types */
      }
    }
    if(result) {
      conflict_set_free(all);
      all = NULL;
    }
  }
  for(i = 0; i < NCOLL; i++) {
    conflict_set_free(inv->lists[i].set);
    inv->lists[i].set = NULL;
  }
  inv->running = false;
  if(!result)
    log_debug("inventory: tenant %s: %zu objects read, %zu conflicts",
              inv->tenant, objects, total);
  inv->cb(result, all, failed ? failed->coll->name : NULL,
          failed ? &failed->err : NULL, inv->arg);
}

static void on_list_done(int result, const char *delta_link,
                         const struct graph_error *err, void *arg)
{
  struct listing *l = arg;
  struct inventory *inv = l->inv;
  size_t idx = (size_t)(l - inv->lists);

  (void)delta_link;
  l->running = false;
  if(result == -EINVAL && !l->scan && err &&
     !strcmp(err->code, "Request_UnsupportedQuery")) {
    /* Some tenants refuse the filter (graph-facts §2): scan instead. */
    inv->filter_refused[idx] = true;
    l->scan = true;
    log_warnx("inventory: tenant %s: Graph refused the provisioning-error "
              "$filter on %s (%s); scanning every object with $select from "
              "now on",
              inv->tenant, l->coll->name, err->code);
    result = start_listing(l);
    if(!result)
      return;
  }
  l->result = result;
  if(result && err)
    l->err = *err;
  if(--inv->pending == 0)
    finish_cycle(inv);
}

int inventory_run(struct inventory *inv, time_t now, inventory_done_cb cb,
                  void *arg)
{
  size_t i;
  int rc;

  if(inv->running)
    return -EBUSY;
  inv->now = now;
  inv->cb = cb;
  inv->arg = arg;
  inv->pending = 0;
  inv->running = true;
  for(i = 0; i < NCOLL; i++) {
    struct listing *l = &inv->lists[i];

    memset(l, 0, sizeof(*l));
    l->inv = inv;
    l->coll = &collections[i];
    l->scan = inv->mode == INVENTORY_SCAN || inv->filter_refused[i];
  }
  for(i = 0; i < NCOLL; i++) {
    struct listing *l = &inv->lists[i];

    rc = start_listing(l);
    if(rc) {
      /* The listings already started end on their own; the cycle then
       * fails with this error. */
      l->result = rc;
      snprintf(l->err.code, sizeof(l->err.code), "cannot start listing");
      if(!inv->pending) {
        for(; i < NCOLL; i++)
          inv->lists[i].result = rc;
        inv->running = false;
        for(i = 0; i < NCOLL; i++) {
          conflict_set_free(inv->lists[i].set);
          inv->lists[i].set = NULL;
        }
        return rc;
      }
      for(i++; i < NCOLL; i++)
        inv->lists[i].result = rc;
      break;
    }
    inv->pending++;
  }
  return 0;
}
