/* SPDX-License-Identifier: MIT
 *
 * holder_list: the first round of a holder lookup.  Each collection that
 * holder_scan_choose() picks is listed whole (GET with $select and
 * $top=999, every @odata.nextLink after it) beside the searches of the
 * others, and each listed object is given to the values it holds,
 * matched locally as a search's answer is: its userPrincipalName, its
 * mail and its SMTP proxy addresses, without case.  A listing that fails
 * (a "400 Directory_ExpiredPageToken" part-way through, as large tenants
 * get: https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/2254)
 * is searched in the next round instead.
 */
#include "holder_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "holder_scan.h"
#include "jsonx.h"
#include "log.h"

/* list_match() gives obj, listed from collection type, to the value
 * that s is (any case), if any. */
static void list_match(struct holder_answer *l, enum conflict_objtype type,
                       const cJSON *obj, const char *s)
{
  size_t *slot = s ? holder__value_slot(l, s) : NULL;

  if(slot && *slot) /* failing fails the value */
    (void)holder__add_holder(l, &l->values[*slot - 1], type, obj);
}

/* list_page() gives each object of a listed page to the values it holds,
 * as holder_query_holds() reads them: its userPrincipalName, its mail and
 * its SMTP proxy addresses. */
static int list_page(const cJSON *page, void *arg)
{
  struct listing *ls = arg;
  enum conflict_objtype type = holder_query_bases[ls->base].type;
  const cJSON *arr, *o, *e;

  if(jsonx_get_array(page, "value", &arr) || !arr)
    return -EBADMSG;
  cJSON_ArrayForEach(o, arr)
  {
    const char *s;

    ls->seen++;
    list_match(ls->l, type, o, jsonx_str(o, "userPrincipalName"));
    list_match(ls->l, type, o, jsonx_str(o, "mail"));
    e = cJSON_GetObjectItemCaseSensitive(o, "proxyAddresses");
    for(e = cJSON_IsArray(e) ? e->child : NULL; e; e = e->next)
      if((s = cJSON_GetStringValue(e)) && !strncasecmp(s, "smtp:", 5))
        list_match(ls->l, type, o, s + 5);
  }
  return 0;
}

/* list_done() ends a listing: its count is kept for the next choice; a
 * failed one (an expired page token, say) is searched instead. */
static void list_done(int result, const char *delta_link,
                      const struct graph_error *err, void *arg)
{
  struct listing *ls = arg;
  struct holder_answer *l = ls->l;

  (void)delta_link;
  l->h->running--;
  if(!result) {
    holder_scan_listed(&l->h->scan, ls->base, ls->seen, time(NULL));
  }
  else if(result == -ECANCELED) {
    l->canceled = true;
  }
  else {
    log_info("holder: tenant %s: listing %s failed (%s, HTTP %ld); "
             "searched value by value",
             l->h->tenant, holder__coll_name(ls->base), err ? err->code : "-",
             err ? err->status : 0L);
    l->fallback |= 1u << ls->base;
  }
  holder__round_end(l);
}

/* estimate() sets est[b] to the GETs a search of collection b would take
 * for l's values (holder_query_estimate()). */
static void estimate(const struct holder_answer *l, size_t est[NCOLL])
{
  unsigned b;

  for(b = 0; b < NCOLL; b++)
    est[b] = holder_query_estimate(b, l->h->terms, l->nrvals);
}

/* start_first() starts the first round: each collection listed that
 * holder_scan_choose() picks, the others searched.  Returns 0 when some
 * part started (holder__round_end() runs), or a negative errno code. */
static int start_first(struct holder_answer *l)
{
  size_t est[NCOLL];
  unsigned b, listing, searched = (1u << NCOLL) - 1;
  int rc;

  estimate(l, est);
  listing = holder_scan_choose(&l->h->scan, est, time(NULL));
  for(b = 0; b < NCOLL; b++) {
    char *path;

    if(!(listing & (1u << b)))
      continue;
    l->lists[b].l = l;
    l->lists[b].base = b;
    l->lists[b].seen = 0;
    path = holder_scan_path(b);
    rc = path ? graph_list(l->h->g, path, NULL, list_page, list_done,
                           &l->lists[b])
              : -ENOMEM;
    free(path);
    if(rc)
      continue; /* searched instead */
    l->h->running++;
    l->parts++;
    searched &= ~(1u << b);
  }
  rc = searched ? holder__send_round(l, 0, searched) : 0;
  if(rc && l->parts) {
    /* The listings run on; the values they do not cover fail. */
    for(b = 0; b < l->nrvals; b++)
      holder__fail_value(&l->values[l->rvals[b]], NULL, "NotAsked");
    l->round_result = rc;
    return 0;
  }
  return rc;
}

/* counted() starts the first round once the counts it needs are in. */
static void counted(int result, void *arg)
{
  struct holder_answer *l = arg;
  size_t i;
  int rc;

  l->h->running--;
  rc = result ? result : start_first(l);
  if(!rc)
    return;
  for(i = 0; i < l->nvalues; i++)
    holder__fail_value(&l->values[i], NULL,
                       rc == -ECANCELED ? "Canceled" : "NotAsked");
  holder__finish(l, rc);
}

int holder_list_begin(struct holder_answer *l)
{
  size_t est[NCOLL];
  unsigned mask;

  estimate(l, est);
  mask = holder_scan_to_count(&l->h->scan, est, time(NULL));
  if(mask &&
     !holder_scan_count(l->h->g, l->h->tenant, &l->h->scan, mask, counted, l)) {
    l->h->running++;
    return 0;
  }
  return start_first(l);
}
