/* SPDX-License-Identifier: MIT
 *
 * inventory: lists the three directory collections for one cycle and
 * parses every object into one conflict_set.  The three listings run at
 * once (the HTTP client caps the concurrency); each collection parses
 * into its own set, so a collection restarted in scan mode (or in a full
 * delta round) starts clean, and the sets are merged only when all three
 * completed.
 *
 * Delta rounds (docs/graph-facts.md#delta-query): a full round reads
 * /{collection}/delta?$select=... to its @odata.deltaLink and is parsed
 * like a scan.  An incremental round starts from a copy of the believed
 * conflicts of its collection and, for each object the deltaLink returns,
 * drops that object's conflicts and parses it again; "@removed" objects
 * only lose theirs.  Applying an object's current state twice gives the
 * same set, so replays are harmless.  No "Prefer: return=minimal" is sent:
 * every returned object carries all selected properties, and one that
 * comes without an onPremisesProvisioningErrors array keeps its
 * conflicts rather than losing them to missing data.
 *
 * Large tenants get "400 Directory_ExpiredPageToken" part-way through
 * paging, notably with default-mode lambda filters such as ours
 * (https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/2254,
 * https://github.com/microsoftgraph/msgraph-sdk-java/issues/368).  The
 * page token cannot be renewed, so that collection's listing starts again
 * from its first page with an empty set, after the client's backoff, at
 * most INVENTORY_PAGE_RESTARTS times per cycle; past that the cycle fails
 * and, like every failed cycle, changes no state.
 */
#include "inventory.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conflict_parse.h"
#include "jsonx.h"
#include "log.h"

#define NCOLL INVENTORY_NCOLL

/* How often one collection's listing may start again after an expired
 * page token within one cycle. */
#define INVENTORY_PAGE_RESTARTS 3

/* The documented filter, "Default" for eq on all three collections, so
 * no ConsistencyLevel header is needed
 * (https://learn.microsoft.com/graph/aad-advanced-queries). */
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
  /* delta mode */
  const char *from_link;        /* incremental round from this; NULL = full */
  bool incremental;             /* this cycle's round was incremental */
  bool restarted;               /* a full round replaced the incremental one */
  unsigned page_restarts;       /* after Directory_ExpiredPageToken */
  struct conflict_set *scratch; /* one object's conflicts while parsing */
  char *link;                   /* the new @odata.deltaLink */
};

struct inventory {
  struct graph *g;
  char *tenant;
  enum inventory_mode mode;
  unsigned page_size;
  bool filter_refused[NCOLL]; /* remembered across cycles */
  bool running;
  time_t now;
  const struct conflict_set *believed; /* delta mode, during a cycle */
  char rounds[96];                     /* see inventory_rounds() */
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
  for(i = 0; i < NCOLL; i++) {
    conflict_set_free(inv->lists[i].set);
    conflict_set_free(inv->lists[i].scratch);
    free(inv->lists[i].link);
  }
  free(inv->tenant);
  free(inv);
}

int inventory_running(const struct inventory *inv)
{
  return inv->running;
}

/* Delta pages take no $top; the page size is asked with the OData
 * preference instead, on every page (Graph does not carry headers over to
 * the nextLink): https://learn.microsoft.com/graph/delta-query-overview
 * (optional request headers) and https://learn.microsoft.com/graph/paging.
 * 999 is the largest directory page; Graph may serve smaller ones, which
 * only costs more pages. */
static const char *const delta_headers[] = {"Prefer: odata.maxpagesize=999",
                                            NULL};

/* build_path() returns the malloc'd first-page path of a listing, with
 * the $filter value URL-escaped by libcurl. */
static char *build_path(const struct listing *l, unsigned top)
{
  char *path = NULL, *base, extra[24];
  int n;

  if(l->inv->mode == INVENTORY_DELTA) {
    /* $top is not supported on delta (docs/graph-facts.md#delta-query):
     * Graph pages. */
    if(l->from_link)
      return strdup(l->from_link);
    n = asprintf(&path, "/v1.0/%s/delta?$select=%s", l->coll->name,
                 l->coll->select);
    return n < 0 ? NULL : path;
  }
  if(l->scan) {
    n = asprintf(&path, "/v1.0/%s?$select=%s&$top=%u", l->coll->name,
                 l->coll->select, top);
    return n < 0 ? NULL : path;
  }
  if(asprintf(&base, "/v1.0/%s", l->coll->name) < 0)
    return NULL;
  snprintf(extra, sizeof(extra), "&$top=%u", top);
  path = graph_filter_path(base, PC_FILTER, l->coll->select, extra);
  free(base);
  return path;
}

/* apply_delta() applies one object of a delta page to the listing's set:
 * its conflicts are replaced by those it carries now, or dropped when it
 * was "@removed".  An object without an onPremisesProvisioningErrors
 * array, or one the parser rejects, keeps the conflicts it had.  Returns
 * 0 or -ENOMEM. */
static int apply_delta(struct listing *l, const cJSON *obj)
{
  const char *id = jsonx_str(obj, "id");
  const cJSON *errs;
  int rc;

  if(!id) {
    log_warnx("inventory: tenant %s: a %s delta entry has no id; skipped",
              l->inv->tenant, l->coll->name);
    return 0;
  }
  if(cJSON_GetObjectItemCaseSensitive(obj, "@removed")) {
    /* "changed" (soft-deleted) or "deleted": either way it is no longer
     * in the collection, as a $filter listing would not show it. */
    conflict_set_remove_object(l->set, id);
    return 0;
  }
  errs = cJSON_GetObjectItemCaseSensitive(obj, "onPremisesProvisioningErrors");
  if(!cJSON_IsArray(errs)) {
    log_debug("inventory: tenant %s: %s %s came without "
              "onPremisesProvisioningErrors; its conflicts are kept",
              l->inv->tenant, l->coll->name, id);
    return 0;
  }
  rc = conflict_parse_object(obj, l->coll->type, l->inv->tenant, l->inv->now,
                             l->scratch);
  if(rc < 0) /* scratch is unchanged (empty); -EBADMSG was logged */
    return rc == -ENOMEM ? rc : 0;
  conflict_set_remove_object(l->set, id);
  return conflict_set_move(l->set, l->scratch);
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
    if(l->scratch) {
      rc = apply_delta(l, obj);
      if(rc)
        return rc;
      continue;
    }
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

/* start_listing() starts (or restarts) one collection's listing.  An
 * incremental delta round starts from a copy of the believed conflicts of
 * its collection; a stored link that graph refuses (not under graph_url,
 * e.g. after graph_url changed) gives way to a full round. */
static int start_listing_after(struct listing *l, uint64_t delay_ms)
{
  struct inventory *inv = l->inv;
  char *path;
  int rc;

  conflict_set_free(l->set);
  l->set = conflict_set_new(inv->tenant);
  path = build_path(l, inv->page_size);
  if(!l->set || !path) {
    free(path);
    return -ENOMEM;
  }
  if(inv->mode == INVENTORY_DELTA && !l->scratch) {
    l->scratch = conflict_set_new(inv->tenant);
    if(!l->scratch) {
      free(path);
      return -ENOMEM;
    }
  }
  if(l->from_link && inv->believed) {
    rc = conflict_set_copy_type(l->set, inv->believed, l->coll->type);
    if(rc) {
      free(path);
      return rc == -ENOMEM ? rc : -EBADMSG;
    }
  }
  l->objects = 0;
  l->incremental = l->from_link != NULL;
  rc = graph_list_after(inv->g, path,
                        inv->mode == INVENTORY_DELTA ? delta_headers : NULL,
                        delay_ms, on_page, on_list_done, l);
  free(path);
  if(l->from_link && (rc == -EPERM || rc == -EINVAL)) {
    log_info("inventory: tenant %s: the stored delta link for %s is not "
             "under graph_url; full round",
             inv->tenant, l->coll->name);
    l->from_link = NULL;
    return start_listing_after(l, delay_ms);
  }
  if(!rc)
    l->running = true;
  return rc;
}

static int start_listing(struct listing *l)
{
  return start_listing_after(l, 0);
}

/* page_token_expired() tells whether a listing failed because Graph no
 * longer accepts its page token (see the comment at the top). */
static bool page_token_expired(const struct graph_error *err)
{
  return err && err->status == 400 &&
         !strcasecmp(err->code, "Directory_ExpiredPageToken");
}

/* delta_expired() tells whether a failed delta request means that the
 * token has expired and the client must start over: a 4xx error with a
 * code such as syncStateNotFound or resyncRequired, or 410 Gone with a
 * Location header (https://learn.microsoft.com/graph/delta-query-overview,
 * https://learn.microsoft.com/graph/errors).  The
 * Location of a 410 is not needed: it is the first-round query again. */
static bool delta_expired(const struct graph_error *err)
{
  if(!err)
    return false;
  if(err->status == 410)
    return true;
  return (err->status == 400 || err->status == 404) &&
         (!strcasecmp(err->code, "syncStateNotFound") ||
          !strcasecmp(err->code, "resyncRequired"));
}

/* describe_rounds() fills inv->rounds for inventory_rounds(). */
static void describe_rounds(struct inventory *inv)
{
  size_t i, full = 0, len = 0;

  inv->rounds[0] = '\0';
  if(inv->mode != INVENTORY_DELTA)
    return;
  for(i = 0; i < NCOLL; i++)
    full += !inv->lists[i].incremental;
  if(full == 0 || full == NCOLL) {
    snprintf(inv->rounds, sizeof(inv->rounds), "delta %s",
             full ? "full" : "incremental");
    return;
  }
  for(i = 0; i < NCOLL; i++) {
    int n = snprintf(inv->rounds + len, sizeof(inv->rounds) - len, "%s%s %s",
                     i ? ", " : "delta: ", inv->lists[i].coll->name,
                     inv->lists[i].incremental ? "incremental" : "full");

    if(n < 0 || (size_t)n >= sizeof(inv->rounds) - len)
      break;
    len += (size_t)n;
  }
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
    /* Keys hold object ids, which differ across collections. */
    for(i = 0; !result && i < NCOLL; i++)
      result = conflict_set_move(all, inv->lists[i].set);
    if(result) {
      conflict_set_free(all);
      all = NULL;
    }
  }
  for(i = 0; i < NCOLL; i++) {
    struct listing *l = &inv->lists[i];

    conflict_set_free(l->set);
    conflict_set_free(l->scratch);
    l->set = l->scratch = NULL;
    if(result) {
      free(l->link);
      l->link = NULL;
    }
  }
  describe_rounds(inv);
  inv->running = false;
  inv->believed = NULL;
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

  l->running = false;
  if(result && page_token_expired(err)) {
    if(l->page_restarts < INVENTORY_PAGE_RESTARTS) {
      long delay = graph_backoff_ms(inv->g, ++l->page_restarts);

      log_info("inventory: tenant %s: the page token of %s expired after %zu "
               "objects; listing %s again in %ld ms (%u of %d)",
               inv->tenant, l->coll->name, l->objects, l->coll->name, delay,
               l->page_restarts, INVENTORY_PAGE_RESTARTS);
      result = start_listing_after(l, (uint64_t)delay);
      if(!result)
        return;
    }
    else {
      log_warnx("inventory: tenant %s: the page token of %s expired %d "
                "times in this cycle; the cycle fails and keeps the state",
                inv->tenant, l->coll->name, INVENTORY_PAGE_RESTARTS + 1);
    }
  }
  if(result && inv->mode == INVENTORY_DELTA && !l->restarted &&
     delta_expired(err)) {
    log_info("inventory: tenant %s: delta token for %s expired (HTTP %ld "
             "%s); full resync",
             inv->tenant, l->coll->name, err->status, err->code);
    l->restarted = true;
    l->from_link = NULL;
    result = start_listing(l);
    if(!result)
      return;
  }
  if(!result && inv->mode == INVENTORY_DELTA) {
    /* A delta round ends with a deltaLink
     * (docs/graph-facts.md#delta-query). */
    l->link = delta_link ? strdup(delta_link) : NULL;
    if(!l->link) {
      result = delta_link ? -ENOMEM : -EBADMSG;
      memset(&l->err, 0, sizeof(l->err));
      if(!delta_link)
        snprintf(l->err.code, sizeof(l->err.code), "NoDeltaLink");
    }
  }
  if(result == -EINVAL && inv->mode == INVENTORY_FILTER && !l->scan && err &&
     !strcmp(err->code, "Request_UnsupportedQuery")) {
    /* Some tenants refuse the filter: scan instead
     * (docs/graph-facts.md#provisioning-error-filter). */
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

int inventory_run(struct inventory *inv, time_t now,
                  const struct inventory_delta *delta, inventory_done_cb cb,
                  void *arg)
{
  size_t i;
  int rc;

  if(inv->running)
    return -EBUSY;
  if(inv->mode == INVENTORY_DELTA && !delta)
    return -EINVAL;
  for(i = 0; i < NCOLL; i++) {
    free(inv->lists[i].link); /* not taken after the last cycle */
    inv->lists[i].link = NULL;
  }
  inv->believed = inv->mode == INVENTORY_DELTA ? delta->believed : NULL;
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
    if(inv->mode == INVENTORY_DELTA && !delta->full)
      l->from_link = delta->link[i];
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
        inv->believed = NULL;
        for(i = 0; i < NCOLL; i++) {
          conflict_set_free(inv->lists[i].set);
          conflict_set_free(inv->lists[i].scratch);
          inv->lists[i].set = inv->lists[i].scratch = NULL;
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

void inventory_take_links(struct inventory *inv, char *links[INVENTORY_NCOLL])
{
  size_t i;

  for(i = 0; i < NCOLL; i++) {
    if(!inv->lists[i].link)
      continue;
    free(links[i]);
    links[i] = inv->lists[i].link;
    inv->lists[i].link = NULL;
  }
}

int inventory_all_full(const struct inventory *inv)
{
  size_t i;

  if(inv->mode != INVENTORY_DELTA)
    return 0;
  for(i = 0; i < NCOLL; i++)
    if(inv->lists[i].incremental)
      return 0;
  return 1;
}

const char *inventory_rounds(const struct inventory *inv)
{
  return inv->rounds;
}
