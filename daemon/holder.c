/* SPDX-License-Identifier: MIT
 *
 * holder: one lookup = one graph_batch() run.  The conflicts' values are
 * deduplicated (ASCII case-insensitively, as Entra compares them), each
 * distinct value gets one query per collection, and when the batch run
 * ends each value's holders are parsed once and handed to every conflict
 * that has that value, minus the conflict's own object.
 *
 * A value nobody seems to hold is asked about once more before it is
 * concluded free, after the client's backoff, for two reasons:
 *  - directory reads are eventually consistent: "$filter" results can lag
 *    a write, so an object just created or changed to hold the value may
 *    not be found yet
 *    (https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/);
 *  - a deleted user or group keeps its UPN and proxy addresses while it is
 *    in the recycle bin (up to 30 days), and only
 *    /directory/deletedItems/microsoft.graph.user (.group) lists it
 *    (https://learn.microsoft.com/graph/api/directory-deleteditems-list).
 * The second round repeats the three collection queries and adds the two
 * deleted-items queries.  Only when that round also finds nobody is the
 * value NOT_HELD; a failure in it leaves the value FAILED (looked up again
 * next cycle), never a false "freed".
 */
#include "holder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "conflict_parse.h"
#include "jsonx.h"
#include "log.h"

#define NCOLL 3
/* Queries per value in the second round: the collections, then deleted
 * users and deleted groups. */
#define NRECHECK (NCOLL + 2)

/* proxyAddresses is unique across users, groups and orgContacts
 * (docs/graph-facts.md#who-holds-a-value); select exactly what struct
 * conflict_holder keeps (groups and contacts have no userPrincipalName,
 * onPremisesImmutableId or DN; contacts no sAMAccountName). */
static const struct {
  const char *name;
  enum conflict_objtype type;
  bool upn; /* the collection has userPrincipalName */
  const char *select;
} colls[NCOLL] = {
    {"users", CONFLICT_USER, true,
     "id,displayName,userPrincipalName,mail,onPremisesSyncEnabled,"
     "onPremisesImmutableId,onPremisesDistinguishedName,"
     "onPremisesSamAccountName,onPremisesLastSyncDateTime"},
    {"groups", CONFLICT_GROUP, false,
     "id,displayName,mail,onPremisesSyncEnabled,onPremisesSamAccountName,"
     "onPremisesLastSyncDateTime"},
    {"contacts", CONFLICT_CONTACT, false,
     "id,displayName,mail,onPremisesSyncEnabled,onPremisesLastSyncDateTime"},
};

struct holder {
  struct graph *g;
  char *tenant;
  size_t running;
};

/* One distinct value: its queries are items 3*i .. 3*i+2. */
struct value {
  char *lc;     /* lower case, the dedup key */
  size_t first; /* the first query with this value */
  struct conflict_holder *holders;
  size_t nholders;
  bool failed;
  struct graph_error err;
};

/* One conflict asked about. */
struct query {
  char *key, *object_id;
  size_t value; /* index into values */
};

struct lookup {
  struct holder *h;
  struct value *values;
  size_t nvalues;
  struct query *queries;
  size_t nqueries;
  size_t *recheck; /* second round: indexes into values */
  size_t nrecheck;
  bool rechecking;
  holder_done_cb cb;
  void *arg;
};

int holder_new(struct graph *g, const char *tenant, struct holder **out)
{
  struct holder *h = calloc(1, sizeof(*h));

  if(!h)
    return -ENOMEM;
  h->tenant = strdup(tenant);
  if(!h->tenant) {
    free(h);
    return -ENOMEM;
  }
  h->g = g;
  *out = h;
  return 0;
}

void holder_free(struct holder *h)
{
  if(!h)
    return;
  free(h->tenant);
  free(h);
}

size_t holder_running(const struct holder *h)
{
  return h->running;
}

/* put_literal() appends the OData string literal 'prefix + value' at
 * *pos, doubling single quotes.  Returns 0 or -ENAMETOOLONG. */
static int put_literal(char *buf, size_t len, size_t *pos, const char *prefix,
                       const char *value)
{
  const char *parts[2] = {prefix, value}, *p;
  size_t i;

  if(*pos + 1 >= len)
    return -ENAMETOOLONG;
  buf[(*pos)++] = '\'';
  for(i = 0; i < 2; i++)
    for(p = parts[i]; *p; p++) {
      if(*pos + 3 >= len)
        return -ENAMETOOLONG;
      if(*p == '\'')
        buf[(*pos)++] = '\'';
      buf[(*pos)++] = *p;
    }
  buf[(*pos)++] = '\'';
  buf[*pos] = '\0';
  return 0;
}

/* put_text() appends s at *pos.  Returns 0 or -ENAMETOOLONG. */
static int put_text(char *buf, size_t len, size_t *pos, const char *s)
{
  size_t n = strlen(s);

  if(*pos + n + 1 > len)
    return -ENAMETOOLONG;
  memcpy(buf + *pos, s, n + 1);
  *pos += n;
  return 0;
}

int holder_filter(const char *collection, const char *value, char *buf,
                  size_t len)
{
  static const char *const prefixes[] = {"SMTP:", "smtp:"};
  bool users = !strcmp(collection, "users");
  size_t pos = 0, i;
  int rc = 0;

  if(!len)
    return -ENAMETOOLONG;
  buf[0] = '\0';
  if(users) {
    rc |= put_text(buf, len, &pos, "userPrincipalName eq ");
    rc |= put_literal(buf, len, &pos, "", value);
    rc |= put_text(buf, len, &pos, " or ");
  }
  rc |= put_text(buf, len, &pos, "mail eq ");
  rc |= put_literal(buf, len, &pos, "", value);
  for(i = 0; i < 2; i++) {
    rc |= put_text(buf, len, &pos, " or proxyAddresses/any(x:x eq ");
    rc |= put_literal(buf, len, &pos, prefixes[i], value);
    rc |= put_text(buf, len, &pos, ")");
  }
  return rc ? -ENAMETOOLONG : 0;
}

static void lookup_free(struct lookup *l)
{
  size_t i, j;

  for(i = 0; i < l->nvalues; i++) {
    for(j = 0; j < l->values[i].nholders; j++)
      conflict_holder_clear(&l->values[i].holders[j]);
    free(l->values[i].holders);
    free(l->values[i].lc);
  }
  for(i = 0; i < l->nqueries; i++) {
    free(l->queries[i].key);
    free(l->queries[i].object_id);
  }
  free(l->values);
  free(l->queries);
  free(l->recheck);
  free(l);
}

/* add_page() parses one answer's "value" array, from collection coll
 * (deleted users and groups parse as users and groups), into v's holders.
 * Returns 0, or -EBADMSG / -ENOMEM with v->err set. */
static int add_page(struct lookup *l, struct value *v, size_t coll,
                    const cJSON *body)
{
  const cJSON *arr, *o;
  struct conflict_holder *grown;
  size_t n;

  coll = coll < NCOLL ? coll : coll - NCOLL;
  if(jsonx_get_array(body, "value", &arr) || !arr ||
     cJSON_GetObjectItemCaseSensitive(body, "@odata.nextLink")) {
    /* A unique value held by a page-full of objects is not an answer we
     * can use: treat it as incomplete. */
    snprintf(v->err.code, sizeof(v->err.code), "%s",
             arr ? "TooManyHolders" : "MalformedResponse");
    return -EBADMSG;
  }
  n = (size_t)cJSON_GetArraySize(arr);
  if(!n)
    return 0;
  grown = realloc(v->holders, (v->nholders + n) * sizeof(*grown));
  if(!grown) {
    snprintf(v->err.code, sizeof(v->err.code), "OutOfMemory");
    return -ENOMEM;
  }
  v->holders = grown;
  cJSON_ArrayForEach(o, arr)
  {
    const char *why = NULL;
    int rc = conflict_parse_holder(o, colls[coll].type,
                                   &v->holders[v->nholders], &why);

    if(rc) {
      snprintf(v->err.code, sizeof(v->err.code), "%s",
               rc == -ENOMEM ? "OutOfMemory" : "MalformedObject");
      if(rc == -EBADMSG)
        log_warnx("holder: tenant %s: a %s answer for '%s': %s", l->h->tenant,
                  colls[coll].name, v->lc, why);
      return rc;
    }
    v->nholders++;
  }
  return 0;
}

/* fill_result() makes the result of query q, borrowing from its value;
 * own holds the holders minus the conflict's own object (allocated). */
static int fill_result(const struct lookup *l, const struct query *q,
                       struct holder_result *r, struct conflict_holder **own)
{
  const struct value *v = &l->values[q->value];
  size_t i, n = 0;

  memset(r, 0, sizeof(*r));
  *own = NULL;
  r->key = q->key;
  if(v->failed) {
    r->outcome = HOLDER_FAILED;
    r->err = v->err;
    return 0;
  }
  if(v->nholders) {
    *own = calloc(v->nholders, sizeof(**own));
    if(!*own) {
      r->outcome = HOLDER_FAILED;
      snprintf(r->err.code, sizeof(r->err.code), "OutOfMemory");
      return -ENOMEM;
    }
  }
  /* Shallow copies: the strings stay owned by the value. */
  for(i = 0; i < v->nholders; i++)
    if(strcmp(v->holders[i].id, q->object_id))
      (*own)[n++] = v->holders[i];
  r->holders = *own;
  r->nholders = n;
  r->outcome = n ? HOLDER_HELD : HOLDER_NOT_HELD;
  return 0;
}

/* take_answers() adds the k answers at res to v. */
static void take_answers(struct lookup *l, struct value *v,
                         const struct graph_batch_result *res, size_t k)
{
  size_t c;

  for(c = 0; c < k && !v->failed; c++) {
    const struct graph_batch_result *r = &res[c];

    if(r->result) {
      v->failed = true;
      v->err = r->err;
      if(!v->err.code[0])
        snprintf(v->err.code, sizeof(v->err.code), "%s", strerror(-r->result));
    }
    else if(add_page(l, v, c, r->body))
      v->failed = true;
  }
}

static void on_batch(int result, const struct graph_batch_result *res, size_t n,
                     void *arg);

/* own_only() tells whether a conflict on object_id would find no holder
 * of value v but its own object. */
static bool own_only(const struct value *v, const char *object_id)
{
  size_t j;

  for(j = 0; j < v->nholders; j++)
    if(strcmp(v->holders[j].id, object_id))
      return false;
  return true;
}

/* start_recheck() starts the second round for the values nobody holds
 * (see the comment at the top).  Returns 1 when it started (on_batch runs
 * again), 0 when no value needs it, or a negative errno code. */
static int start_recheck(struct lookup *l)
{
  static const char *const deleted[2] = {
      "/directory/deletedItems/microsoft.graph.user",
      "/directory/deletedItems/microsoft.graph.group"};
  struct graph_batch_item *items = NULL;
  char **urls = NULL, sel[512];
  size_t i, c, k = 0;
  int rc = -ENOMEM;

  bool *unheld;

  /* A value is asked again when some conflict with it would find no
   * holder but its own object: one pass over the queries. */
  l->recheck = calloc(l->nvalues, sizeof(*l->recheck));
  unheld = calloc(l->nvalues, sizeof(*unheld));
  if(!l->recheck || !unheld) {
    free(unheld);
    return -ENOMEM;
  }
  for(i = 0; i < l->nqueries; i++) {
    const struct query *q = &l->queries[i];

    if(!unheld[q->value] && !l->values[q->value].failed &&
       own_only(&l->values[q->value], q->object_id))
      unheld[q->value] = true;
  }
  for(i = 0; i < l->nvalues; i++)
    if(unheld[i])
      l->recheck[l->nrecheck++] = i;
  free(unheld);
  if(!l->nrecheck)
    return 0;
  items = calloc(l->nrecheck * NRECHECK, sizeof(*items));
  urls = calloc(l->nrecheck * NRECHECK, sizeof(*urls));
  if(!items || !urls)
    goto out;
  for(k = 0; k < l->nrecheck; k++)
    for(c = 0; c < NRECHECK; c++) {
      const size_t coll = c < NCOLL ? c : c - NCOLL;
      char filter[2048], base[64];
      size_t at = k * NRECHECK + c;

      if(holder_filter(colls[coll].name, l->values[l->recheck[k]].lc, filter,
                       sizeof(filter))) {
        rc = -ENAMETOOLONG;
        goto out;
      }
      if(c < NCOLL)
        snprintf(base, sizeof(base), "/%s", colls[c].name);
      else
        snprintf(base, sizeof(base), "%s", deleted[c - NCOLL]);
      snprintf(sel, sizeof(sel), "%s%s", colls[coll].select,
               c < NCOLL ? "" : ",deletedDateTime");
      urls[at] = graph_filter_path(base, filter, sel, NULL);
      if(!urls[at])
        goto out;
      items[at].method = "GET";
      items[at].url = urls[at];
    }
  rc = 0;
out:
  if(!rc) {
    rc = graph_batch_after(l->h->g, items, l->nrecheck * NRECHECK,
                           (uint64_t)graph_backoff_ms(l->h->g, 1), on_batch, l);
    if(!rc)
      l->h->running++;
  }
  for(i = 0; urls && i < l->nrecheck * NRECHECK; i++)
    free(urls[i]);
  free(urls);
  free(items);
  return rc ? rc : 1;
}

static void on_batch(int result, const struct graph_batch_result *res, size_t n,
                     void *arg)
{
  struct lookup *l = arg;
  struct holder_result *out;
  struct conflict_holder **own;
  const struct value *first = NULL;
  size_t i, failed = 0;
  int rc;

  (void)n;
  if(!l->rechecking) {
    for(i = 0; i < l->nvalues; i++)
      take_answers(l, &l->values[i], &res[i * NCOLL], NCOLL);
    if(result != -ECANCELED) {
      l->rechecking = true;
      rc = start_recheck(l);
      if(rc > 0) {
        l->h->running--; /* this run ended; the second one counts */
        return;
      }
      for(i = 0; rc < 0 && i < l->nrecheck; i++) {
        struct value *v = &l->values[l->recheck[i]];

        v->failed = true;
        snprintf(v->err.code, sizeof(v->err.code), "RecheckNotStarted");
      }
    }
  }
  else
    for(i = 0; i < l->nrecheck; i++) {
      struct value *v = &l->values[l->recheck[i]];
      size_t j;

      /* The second round asks every collection again: it replaces the
       * first round's answers. */
      for(j = 0; j < v->nholders; j++)
        conflict_holder_clear(&v->holders[j]);
      v->nholders = 0;
      take_answers(l, v, &res[i * NRECHECK], NRECHECK);
    }
  for(i = 0; i < l->nvalues; i++)
    if(l->values[i].failed && !failed++)
      first = &l->values[i];
  out = calloc(l->nqueries, sizeof(*out));
  own = calloc(l->nqueries, sizeof(*own));
  if(!out || !own) {
    /* Cannot even report: tell the caller the run failed. */
    free(out);
    free(own);
    l->h->running--;
    log_errx("holder: tenant %s: out of memory", l->h->tenant);
    l->cb(-ENOMEM, NULL, 0, l->arg);
    lookup_free(l);
    return;
  }
  for(i = 0; i < l->nqueries; i++)
    fill_result(l, &l->queries[i], &out[i], &own[i]);
  if(first && result != -ECANCELED)
    log_warnx("holder: tenant %s: holder lookup failed for %zu of %zu "
              "value%s (%s: %s, HTTP %ld, request-id %s); retried next cycle",
              l->h->tenant, failed, l->nvalues, l->nvalues == 1 ? "" : "s",
              first->lc, first->err.code, first->err.status,
              first->err.request_id[0] ? first->err.request_id : "-");
  else
    log_debug("holder: tenant %s: %zu value%s of %zu conflict%s looked up",
              l->h->tenant, l->nvalues, l->nvalues == 1 ? "" : "s", l->nqueries,
              l->nqueries == 1 ? "" : "s");
  l->h->running--;
  l->cb(result, out, l->nqueries, l->arg);
  for(i = 0; i < l->nqueries; i++)
    free(own[i]);
  free(own);
  free(out);
  lookup_free(l);
}

/* Sorting the conflicts of a lookup by value: the index of each, so that
 * equal values keep the order the conflicts came in. */
struct by_value_ctx {
  const struct conflict *const *cs;
  size_t i;
};

static int by_value(const void *a, const void *b)
{
  const struct by_value_ctx *x = a, *y = b;
  int r = strcmp(x->cs[x->i]->value_lc, y->cs[y->i]->value_lc);

  return r ? r : (x->i > y->i) - (x->i < y->i);
}

/* add_values() gives each of the n conflicts at cs its query in l, which
 * points at its value; each distinct value (lower case) is asked about
 * once, the values numbered in the order they first come.  Sorting makes
 * this O(n log n): a large first cycle has as many values as conflicts.
 * Returns 0 or -ENOMEM. */
static int add_values(struct lookup *l, const struct conflict *const *cs,
                      size_t n)
{
  struct by_value_ctx *v = malloc(n * sizeof(*v));
  size_t *first = malloc(n * sizeof(*first)), i;

  if(!v || !first) {
    free(v);
    free(first);
    return -ENOMEM;
  }
  for(i = 0; i < n; i++)
    v[i] = (struct by_value_ctx){cs, i};
  qsort(v, n, sizeof(*v), by_value);
  /* first[i]: the first conflict with the value of conflict i. */
  for(i = 0; i < n; i++)
    first[v[i].i] = i && !strcmp(cs[v[i].i]->value_lc, cs[v[i - 1].i]->value_lc)
                        ? first[v[i - 1].i]
                        : v[i].i;
  free(v);
  for(i = 0; i < n; i++) {
    struct query *q = &l->queries[i];

    if(first[i] == i) {
      l->values[l->nvalues].lc = strdup(cs[i]->value_lc);
      l->values[l->nvalues].first = i;
      if(!l->values[l->nvalues].lc) {
        free(first);
        return -ENOMEM;
      }
      q->value = l->nvalues++;
    }
    else
      q->value = l->queries[first[i]].value;
    q->key = strdup(cs[i]->key);
    q->object_id = strdup(cs[i]->object_id);
    l->nqueries++;
    if(!q->key || !q->object_id) {
      free(first);
      return -ENOMEM;
    }
  }
  free(first);
  return 0;
}

/* build_items() makes the three queries of every value. */
static int build_items(const struct lookup *l, const struct conflict *const *cs,
                       struct graph_batch_item *items, char **urls)
{
  size_t i, c;

  for(i = 0; i < l->nvalues; i++) {
    /* Ask with a conflict's own spelling of the value. */
    const char *value = cs[l->values[i].first]->value;

    for(c = 0; c < NCOLL; c++) {
      char filter[2048], base[16];

      if(holder_filter(colls[c].name, value, filter, sizeof(filter)))
        return -ENAMETOOLONG;
      snprintf(base, sizeof(base), "/%s", colls[c].name);
      urls[i * NCOLL + c] =
          graph_filter_path(base, filter, colls[c].select, NULL);
      if(!urls[i * NCOLL + c])
        return -ENOMEM;
      items[i * NCOLL + c].method = "GET";
      items[i * NCOLL + c].url = urls[i * NCOLL + c];
    }
  }
  return 0;
}

/* start_batch() runs the n items at items (urls their owned URLs, either
 * may be NULL) through graph_batch() when rc is 0, and frees both.
 * Returns rc, or graph_batch()'s error; a started run counts in
 * h->running. */
static int start_batch(struct holder *h, int rc, struct graph_batch_item *items,
                       char **urls, size_t n, graph_batch_cb cb, void *arg)
{
  size_t i;

  if(!rc)
    rc = graph_batch(h->g, items, n, cb, arg);
  if(!rc)
    h->running++;
  for(i = 0; urls && i < n; i++)
    free(urls[i]);
  free(urls);
  free(items);
  return rc;
}

int holder_lookup(struct holder *h, const struct conflict *const *cs, size_t n,
                  holder_done_cb cb, void *arg)
{
  struct graph_batch_item *items = NULL;
  char **urls = NULL;
  struct lookup *l;
  int rc = -ENOMEM;

  if(!n)
    return -EINVAL;
  l = calloc(1, sizeof(*l));
  if(!l)
    return -ENOMEM;
  l->h = h;
  l->cb = cb;
  l->arg = arg;
  l->values = calloc(n, sizeof(*l->values));
  l->queries = calloc(n, sizeof(*l->queries));
  if(!l->values || !l->queries)
    goto out;
  if(add_values(l, cs, n))
    goto out;
  items = calloc(l->nvalues * NCOLL, sizeof(*items));
  urls = calloc(l->nvalues * NCOLL, sizeof(*urls));
  if(!items || !urls)
    goto out;
  rc = build_items(l, cs, items, urls);
out:
  rc = start_batch(h, rc, items, urls, l->nvalues * NCOLL, on_batch, l);
  if(rc)
    lookup_free(l);
  return rc;
}

int holder_apply(struct conflict *c, const struct holder_result *r, time_t now)
{
  char *err;

  if(r->outcome == HOLDER_FAILED) {
    err = strdup(r->err.code[0] ? r->err.code : "unknown error");
    if(!err)
      return -ENOMEM;
    free(c->lookup_error);
    c->lookup_error = err;
    return 0;
  }
  if(conflict_replace_holders(c, r->holders, r->nholders))
    return -ENOMEM;
  free(c->lookup_error);
  c->lookup_error = NULL;
  c->looked_up = now;
  c->recheck = false;
  return 0;
}

bool holder_needs_lookup(const struct conflict *prev,
                         const struct conflict *cur)
{
  return !prev || !prev->looked_up || prev->recheck ||
         !conflict_same_object(prev, cur);
}

/* ===== The objects of conflicts gone from the inventory ===== */

/* What each collection's GET selects: what sweep_carries() reads. */
static const char *const fetch_select[NCOLL] = {
    "id,userPrincipalName,mail,proxyAddresses", "id,mail,proxyAddresses",
    "id,mail,proxyAddresses"};

struct fetch {
  struct holder *h;
  char **keys;
  size_t *item; /* the batch item that reads keys[i]'s object */
  size_t n;
  holder_fetch_cb cb;
  void *arg;
};

static void fetch_free(struct fetch *f)
{
  size_t i;

  for(i = 0; i < f->n; i++)
    free(f->keys[i]);
  free(f->keys);
  free(f->item);
  free(f);
}

/* fetch_parse() fills r (FOUND) from an object's body, with *proxies
 * allocated to hold the strings' pointers.  Returns 0, or -EBADMSG /
 * -ENOMEM with r->err.code set. */
static int fetch_parse(const cJSON *body, struct holder_object *r,
                       const char ***proxies)
{
  const cJSON *arr, *e;
  const char *upn;
  size_t n = 0;

  if(!cJSON_IsObject(body) || jsonx_get_str(body, "userPrincipalName", &upn) ||
     jsonx_get_array(body, "proxyAddresses", &arr)) {
    snprintf(r->err.code, sizeof(r->err.code), "MalformedObject");
    return -EBADMSG;
  }
  if(cJSON_GetArraySize(arr) > 0) {
    *proxies = calloc((size_t)cJSON_GetArraySize(arr), sizeof(**proxies));
    if(!*proxies) {
      snprintf(r->err.code, sizeof(r->err.code), "OutOfMemory");
      return -ENOMEM;
    }
  }
  cJSON_ArrayForEach(e, arr)
  {
    if(!cJSON_IsString(e)) {
      snprintf(r->err.code, sizeof(r->err.code), "MalformedObject");
      return -EBADMSG;
    }
    (*proxies)[n++] = e->valuestring;
  }
  r->outcome = HOLDER_FOUND;
  r->upn = upn;
  r->proxies = *proxies;
  r->nproxies = n;
  return 0;
}

static void on_fetch(int result, const struct graph_batch_result *res, size_t n,
                     void *arg)
{
  struct fetch *f = arg;
  struct holder_object *out = calloc(f->n, sizeof(*out));
  const char ***proxies = calloc(f->n, sizeof(*proxies));
  size_t i, failed = 0, first = 0;

  (void)n;
  f->h->running--;
  if(!out || !proxies) {
    free(out);
    free(proxies);
    log_errx("holder: tenant %s: out of memory", f->h->tenant);
    f->cb(-ENOMEM, NULL, 0, f->arg);
    fetch_free(f);
    return;
  }
  for(i = 0; i < f->n; i++) {
    const struct graph_batch_result *b = &res[f->item[i]];
    struct holder_object *r = &out[i];

    r->key = f->keys[i];
    r->outcome = HOLDER_FETCH_FAILED;
    if(b->result == -ENOENT)
      r->outcome = HOLDER_GONE;
    else if(b->result) {
      r->err = b->err;
      if(!r->err.code[0])
        snprintf(r->err.code, sizeof(r->err.code), "%s", strerror(-b->result));
    }
    else
      fetch_parse(b->body, r, &proxies[i]);
    if(r->outcome == HOLDER_FETCH_FAILED && !failed++)
      first = i;
  }
  if(failed && result != -ECANCELED)
    log_warnx("holder: tenant %s: object check failed for %zu of %zu "
              "conflict%s (%s: %s, HTTP %ld); retried next cycle",
              f->h->tenant, failed, f->n, f->n == 1 ? "" : "s", f->keys[first],
              out[first].err.code, out[first].err.status);
  f->cb(result, out, f->n, f->arg);
  for(i = 0; i < f->n; i++)
    free(proxies[i]);
  free(proxies);
  free(out);
  fetch_free(f);
}

int holder_fetch(struct holder *h, const struct conflict *const *cs, size_t n,
                 holder_fetch_cb cb, void *arg)
{
  struct graph_batch_item *items = NULL;
  char **urls = NULL;
  struct fetch *f;
  size_t i, j, nitems = 0;
  int rc = -ENOMEM;

  if(!n)
    return -EINVAL;
  f = calloc(1, sizeof(*f));
  if(!f)
    return -ENOMEM;
  f->h = h;
  f->cb = cb;
  f->arg = arg;
  f->keys = calloc(n, sizeof(*f->keys));
  f->item = calloc(n, sizeof(*f->item));
  items = calloc(n, sizeof(*items));
  urls = calloc(n, sizeof(*urls));
  if(!f->keys || !f->item || !items || !urls)
    goto out;
  for(i = 0; i < n; i++) {
    const unsigned c = (unsigned)cs[i]->objtype < NCOLL ? cs[i]->objtype : 0;
    char *esc;
    int len;

    f->keys[i] = strdup(cs[i]->key);
    f->n++;
    if(!f->keys[i])
      goto out;
    /* A UPN and an address of one object: its object is read once. */
    for(j = 0; j < i && strcmp(cs[j]->object_id, cs[i]->object_id); j++)
      ;
    if(j < i) {
      f->item[i] = f->item[j];
      continue;
    }
    esc = curl_easy_escape(NULL, cs[i]->object_id, 0);
    if(!esc)
      goto out;
    len = asprintf(&urls[nitems], "/%s/%s?$select=%s", colls[c].name, esc,
                   fetch_select[c]);
    curl_free(esc);
    if(len < 0) {
      urls[nitems] = NULL;
      goto out;
    }
    items[nitems].method = "GET";
    items[nitems].url = urls[nitems];
    f->item[i] = nitems++;
  }
  rc = 0;
out:
  rc = start_batch(h, rc, items, urls, nitems, on_fetch, f);
  if(rc)
    fetch_free(f);
  return rc;
}
