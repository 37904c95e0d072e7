/* SPDX-License-Identifier: MIT
 *
 * holder: one lookup = a few rounds, each a graph_batch_stream() run
 * (and, in the first, the listings of whole collections that
 * holder_list.c starts beside it).  The conflicts' values are
 * deduplicated (ASCII case-insensitively, as Entra compares them) and cut
 * into GETs of up to 15 expressions each, term after term
 * (holder_query.c), planned only as the run has room for them, so that
 * a lookup of thousands of values does not build every URL at once; each
 * answer is matched into its values as it arrives and freed (each
 * returned object given to the values it holds, matched locally), so
 * that no answer waits for the end of the run.  Once the lookup is done,
 * each value's holders are handed to every conflict that has that value,
 * minus the conflict's own object: all at once (holder_lookup()), or one
 * conflict at a time as the caller asks (holder_lookup_answer()).
 *
 * A GET that Graph refuses with 400 or 414 (a limit on the filter that we
 * did not know of) is split in two and asked again in the next round, down
 * to one expression; only a GET that cannot be split fails its value.  A
 * GET of several values whose answer holds an object that matches
 * none of its values locally (Graph compared in a way we do not) is split
 * too, so that a single-value GET attributes that object.
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
 * The second round asks the three collections again and the two
 * deleted-items lists.  Only when that round also finds nobody is the
 * value NOT_HELD; a failure in it leaves the value FAILED (looked up again
 * next cycle), never a false "freed".
 */
#include "holder.h"
#include "holder_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conflict_parse.h"
#include "hashx.h"
#include "holder_query.h"
#include "jsonx.h"
#include "log.h"

static const struct graph_error oom_err = {0, "OutOfMemory", "", "", ""};

/* value_err() is why v failed. */
static const struct graph_error *value_err(const struct value *v)
{
  return v->err ? v->err : &oom_err;
}

static int value_index_init(struct value_index *x, size_t n)
{
  size_t size = 16;

  while(size < 2 * n)
    size *= 2;
  x->slot = calloc(size, sizeof(*x->slot));
  x->mask = size - 1;
  return x->slot ? 0 : -ENOMEM;
}

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
  h->terms = HQ_ALL;
  holder_scan_init(&h->scan);
  *out = h;
  return 0;
}

void holder_set_terms(struct holder *h, unsigned terms)
{
  h->terms = terms;
}

void holder_set_scan(struct holder *h, bool scan, unsigned concurrency)
{
  h->scan.enabled = scan;
  h->scan.concurrency = concurrency;
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

static void clear_holders(struct value *v)
{
  size_t j;

  for(j = 0; j < v->nholders; j++)
    conflict_holder_clear(&v->holders[j]);
  v->nholders = 0;
}

static void lookup_free(struct holder_answer *l)
{
  size_t i;

  for(i = 0; i < l->nvalues; i++) {
    clear_holders(&l->values[i]);
    free(l->values[i].holders);
    free(l->values[i].lc);
    free(l->values[i].spell);
    free(l->values[i].err);
  }
  for(i = 0; i < l->nqueries; i++) {
    free(l->queries[i].key);
    free(l->queries[i].object_id);
  }
  holder_query_list_clear(&l->sent);
  holder_query_list_clear(&l->next);
  free(l->rvals);
  free(l->index.slot);
  free(l->own);
  free(l->values);
  free(l->spell);
  free(l->queries);
  free(l);
}

/* holder__fail_value() marks v failed with code (unless it failed already). */
void holder__fail_value(struct value *v, const struct graph_error *err,
                        const char *code)
{
  if(v->failed)
    return;
  v->failed = true;
  v->err = malloc(sizeof(*v->err));
  if(!v->err)
    return; /* value_err(): OutOfMemory */
  if(err)
    *v->err = *err;
  else
    memset(v->err, 0, sizeof(*v->err));
  if(code || !v->err->code[0])
    snprintf(v->err->code, sizeof(v->err->code), "%s",
             code ? code : "UnknownError");
}

/* holder__add_holder() adds obj, from collection type, to v's holders unless an
 * object with its id is there already (two GETs of one value may both
 * find it).  Returns 0, or -EBADMSG / -ENOMEM with v failed. */
int holder__add_holder(struct holder_answer *l, struct value *v,
                       enum conflict_objtype type, const cJSON *obj)
{
  const char *id = jsonx_str(obj, "id"), *why = NULL;
  struct conflict_holder *grown;
  size_t j;
  int rc;

  for(j = 0; id && j < v->nholders; j++)
    if(!strcmp(v->holders[j].id, id))
      return 0;
  grown = realloc(v->holders, (v->nholders + 1) * sizeof(*grown));
  if(!grown) {
    holder__fail_value(v, NULL, "OutOfMemory");
    return -ENOMEM;
  }
  v->holders = grown;
  rc = conflict_parse_holder(obj, type, &v->holders[v->nholders], &why);
  if(rc) {
    if(rc == -EBADMSG)
      log_warnx("holder: tenant %s: a %s answer for '%s': %s", l->h->tenant,
                holder__coll_name(type < NCOLL ? type : 0), v->lc, why);
    holder__fail_value(v, NULL,
                       rc == -ENOMEM ? "OutOfMemory" : "MalformedObject");
    return rc;
  }
  v->nholders++;
  return 0;
}

/* take_answer() gives the objects of GET q's answer body to the values
 * they hold.  Returns 0, 1 when q must be split (an object matches none
 * of its several values), or a negative errno code with q's values
 * failed. */
static int take_answer(struct holder_answer *l, const struct holder_query *q,
                       const cJSON *body)
{
  const struct holder_query_base *b = &holder_query_bases[q->base];
  const cJSON *arr, *o;
  size_t i;

  if(jsonx_get_array(body, "value", &arr) || !arr ||
     cJSON_GetObjectItemCaseSensitive(body, "@odata.nextLink")) {
    /* More holders than a page of 999 for a few unique values is not an
     * answer we can use: treat it as incomplete. */
    for(i = 0; i < q->nvals; i++)
      holder__fail_value(&l->values[q->vals[i]], NULL,
                         arr ? "TooManyHolders" : "MalformedResponse");
    return -EBADMSG;
  }
  cJSON_ArrayForEach(o, arr)
  {
    bool matched = false;

    for(i = 0; i < q->nvals; i++) {
      struct value *v = &l->values[q->vals[i]];

      if(!holder_query_holds(o, v->spell))
        continue;
      matched = true;
      if(holder__add_holder(l, v, b->type, o))
        return -EBADMSG;
    }
    if(matched || q->prefix)
      continue; /* startswith finds objects that merely share the prefix */
    if(!holder_query_one_value(q))
      return 1;
    /* Graph says the one value's filter matched: trust it (a deleted
     * user's UPN, say, may read back changed). */
    if(holder__add_holder(l, &l->values[q->vals[0]], b->type, o))
      return -EBADMSG;
  }
  return 0;
}

static const struct graph_batch_source lookup_source;

/* holder__send_round() starts a graph_batch_stream() run after delay_ms over
 * the GETs already in l->sent, then those planned for the bases in the mask
 * bases over the values at l->rvals (round_values()).  Returns 0
 * (lookup_done() runs) or a negative errno code. */
int holder__send_round(struct holder_answer *l, uint64_t delay_ms,
                       unsigned bases)
{
  int rc;

  l->given = 0;
  l->base = 0;
  l->bases = bases;
  l->pos = 0;
  rc = graph_batch_stream(l->h->g, &lookup_source, delay_ms, l);
  if(!rc) {
    l->h->running++;
    l->parts++;
  }
  return rc;
}

/* lookup_next() gives the run its next GET, planning more when the
 * planned ones are all given. */
static int lookup_next(void *arg, size_t i, char **url)
{
  struct holder_answer *l = arg;
  int rc;

  (void)i; /* always l->given */
  while(l->given == l->sent.n) {
    if(l->base >= HOLDER_QUERY_NBASE)
      return 1;
    if(!(l->bases & (1u << l->base)) ||
       l->pos >= holder_query_plan_steps(l->base, l->h->terms, l->nrvals)) {
      l->base++;
      l->pos = 0;
      continue;
    }
    rc = holder_query_plan_some(&l->sent, l->base, l->h->terms, l->spell,
                                l->rvals, l->nrvals, &l->pos);
    if(rc)
      return rc;
  }
  *url = holder_query_path(&l->sent.q[l->given], l->spell);
  if(!*url)
    return -ENOMEM;
  l->given++;
  return 0;
}

/* refused() tells whether an item's failure is Graph refusing its filter:
 * 400 (an unsupported or too large filter) or 414 (URI too long). */
static bool refused(const struct graph_batch_result *r)
{
  return r->result == -EINVAL && (r->status == 400 || r->status == 414);
}

/* lookup_answer() takes GET i's answer into the values it asked about at
 * once, and frees it; a GET to split goes to l->next. */
static void lookup_answer(void *arg, size_t i,
                          const struct graph_batch_result *r, cJSON *body)
{
  struct holder_answer *l = arg;
  const struct holder_query *q = &l->sent.q[i];
  size_t j;
  int split = 0, rc;

  if(!r->result)
    split = take_answer(l, q, body);
  else if(refused(r))
    split = 1;
  cJSON_Delete(body);
  if(split == 1) {
    rc = holder_query_split(&l->next, q);
    if(rc > 0) {
      log_info("holder: tenant %s: a GET of %zu expression%s refused or "
               "ambiguous (%s, HTTP %ld); asked again in parts",
               l->h->tenant, q->nvals, q->nvals == 1 ? "" : "s",
               r->err.code[0] ? r->err.code : "-", r->status);
      return;
    }
    if(rc < 0 && !l->result)
      l->result = rc;
  }
  if(r->result || split)
    for(j = 0; j < q->nvals; j++)
      holder__fail_value(&l->values[q->vals[j]], &r->err,
                         r->err.code[0] ? NULL : "RefusedFilter");
}

/* fail_unasked() fails the values the ended run did not ask about in
 * every base it was to ask: the GETs not given, and those not planned. */
static void fail_unasked(struct holder_answer *l, const struct graph_error *err,
                         const char *code)
{
  size_t i, j;

  for(i = l->given; i < l->sent.n; i++)
    for(j = 0; j < l->sent.q[i].nvals; j++)
      holder__fail_value(&l->values[l->sent.q[i].vals[j]], err, code);
  /* A value some term of which is still to be planned in a base. */
  for(i = 0;
      l->base < HOLDER_QUERY_NBASE && (l->bases >> l->base) && i < l->nrvals;
      i++)
    holder__fail_value(&l->values[l->rvals[i]], err, code);
}

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

/* round_values() sets l->rvals to the values (all, or only those
 * marked recheck).  Returns how many, or -ENOMEM. */
static long round_values(struct holder_answer *l, bool only_recheck)
{
  size_t i;

  free(l->rvals);
  l->nrvals = 0;
  l->rvals = calloc(l->nvalues ? l->nvalues : 1, sizeof(*l->rvals));
  if(!l->rvals)
    return -ENOMEM;
  for(i = 0; i < l->nvalues; i++)
    if(!only_recheck || l->values[i].recheck)
      l->rvals[l->nrvals++] = i;
  return (long)l->nrvals;
}

/* start_recheck() starts the second round for the values nobody holds
 * (see the comment at the top); it asks every base again, so its answers
 * replace the first round's.  Returns 1 when it started (on_batch runs
 * again), 0 when no value needs it, or a negative errno code. */
static int start_recheck(struct holder_answer *l)
{
  size_t i;
  long n;
  int rc;

  /* A value is asked again when some conflict with it would find no
   * holder but its own object: one pass over the queries, so that a
   * large first cycle (as many values as conflicts) stays linear. */
  for(i = 0; i < l->nqueries; i++) {
    struct value *v = &l->values[l->queries[i].value];

    if(!v->failed && !v->recheck && own_only(v, l->queries[i].object_id))
      v->recheck = true;
  }
  for(i = 0; i < l->nvalues; i++)
    if(l->values[i].recheck)
      clear_holders(&l->values[i]);
  holder_query_list_clear(&l->sent);
  n = round_values(l, true);
  if(n <= 0)
    return (int)n;
  rc = holder__send_round(l, (uint64_t)graph_backoff_ms(l->h->g, 1),
                          (1u << HOLDER_QUERY_NBASE) - 1);
  return rc ? rc : 1;
}

/* result_of() makes in *r the result of query i of the finished lookup
 * l, the holders in own (room for the value's holders; shallow copies,
 * the strings stay the value's).  With own NULL, a value with holders
 * gives FAILED "OutOfMemory". */
static void result_of(const struct holder_answer *l, size_t i,
                      struct holder_result *r, struct conflict_holder *own)
{
  const struct query *q = &l->queries[i];
  const struct value *v = &l->values[q->value];
  size_t j, k = 0;

  memset(r, 0, sizeof(*r));
  r->key = q->key;
  r->outcome = HOLDER_FAILED;
  if(v->failed) {
    r->err = *value_err(v);
    return;
  }
  if(v->nholders && !own) {
    snprintf(r->err.code, sizeof(r->err.code), "OutOfMemory");
    return;
  }
  for(j = 0; j < v->nholders; j++)
    if(strcmp(v->holders[j].id, q->object_id))
      own[k++] = v->holders[j];
  r->holders = own;
  r->nholders = k;
  r->outcome = k ? HOLDER_HELD : HOLDER_NOT_HELD;
}

/* finish_whole() hands every conflict its result at once (the
 * holder_lookup() callback) and frees l. */
static void finish_whole(struct holder_answer *l, int result)
{
  struct holder_result *out = calloc(l->nqueries, sizeof(*out));
  struct conflict_holder **own = calloc(l->nqueries, sizeof(*own));
  size_t i;

  if(!out || !own) {
    /* Cannot even report: tell the caller the run failed. */
    free(out);
    free(own);
    log_errx("holder: tenant %s: out of memory", l->h->tenant);
    l->cb(-ENOMEM, NULL, 0, l->arg);
    lookup_free(l);
    return;
  }
  for(i = 0; i < l->nqueries; i++) {
    const struct value *v = &l->values[l->queries[i].value];

    if(v->nholders && !v->failed)
      own[i] = calloc(v->nholders, sizeof(**own));
    result_of(l, i, &out[i], own[i]);
  }
  l->cb(result, out, l->nqueries, l->arg);
  for(i = 0; i < l->nqueries; i++)
    free(own[i]);
  free(own);
  free(out);
  lookup_free(l);
}

/* holder__finish() logs how the lookup went and hands its results over: to the
 * answer callback (which takes l over), or all at once. */
void holder__finish(struct holder_answer *l, int result)
{
  const struct value *first = NULL;
  size_t i, failed = 0;

  for(i = 0; i < l->nvalues; i++)
    if(l->values[i].failed && !failed++)
      first = &l->values[i];
  if(first && result != -ECANCELED)
    log_warnx("holder: tenant %s: holder lookup failed for %zu of %zu "
              "value%s (%s: %s, HTTP %ld, request-id %s); retried next cycle",
              l->h->tenant, failed, l->nvalues, l->nvalues == 1 ? "" : "s",
              first->lc, value_err(first)->code, value_err(first)->status,
              value_err(first)->request_id[0] ? value_err(first)->request_id
                                              : "-");
  else
    log_debug("holder: tenant %s: %zu value%s of %zu conflict%s looked up",
              l->h->tenant, l->nvalues, l->nvalues == 1 ? "" : "s", l->nqueries,
              l->nqueries == 1 ? "" : "s");
  if(l->acb)
    l->acb(result, l, l->arg);
  else
    finish_whole(l, result);
}

size_t holder_answer_count(const struct holder_answer *a)
{
  return a->nqueries;
}

int holder_answer_get(struct holder_answer *a, size_t i,
                      struct holder_result *r)
{
  const struct value *v = &a->values[a->queries[i].value];

  if(v->nholders > a->nown) {
    struct conflict_holder *grown =
        realloc(a->own, v->nholders * sizeof(*grown));

    if(!grown) {
      result_of(a, i, r, NULL);
      return -ENOMEM;
    }
    a->own = grown;
    a->nown = v->nholders;
  }
  result_of(a, i, r, a->own);
  return 0;
}

void holder_answer_free(struct holder_answer *a)
{
  if(a)
    lookup_free(a);
}

/* holder__round_end() ends a part of a round (its run, or a listing); the last
 * one ends the round: the GETs split off, and the collections whose
 * listing failed, are asked in a new round, then the values nobody holds
 * in the recheck round, then the conflicts get their results. */
void holder__round_end(struct holder_answer *l)
{
  int result = l->round_result ? l->round_result : l->result, rc;
  unsigned bases = l->fallback;
  size_t i, j;

  if(--l->parts)
    return;
  l->round_result = 0;
  l->fallback = 0;
  holder_query_list_clear(&l->sent);
  l->sent = l->next;
  memset(&l->next, 0, sizeof(l->next));
  if(l->canceled) {
    holder__finish(l, -ECANCELED);
    return;
  }
  if(l->sent.n || bases) {
    rc = holder__send_round(l, 0, bases);
    if(!rc)
      return;
    for(i = 0; i < l->sent.n; i++)
      for(j = 0; j < l->sent.q[i].nvals; j++)
        holder__fail_value(&l->values[l->sent.q[i].vals[j]], NULL,
                           "RetryNotStarted");
    for(i = 0; bases && i < l->nrvals; i++)
      holder__fail_value(&l->values[l->rvals[i]], NULL, "RetryNotStarted");
  }
  if(!l->rechecking) {
    l->rechecking = true;
    rc = start_recheck(l);
    if(rc > 0)
      return;
    for(i = 0; rc < 0 && i < l->nvalues; i++)
      if(l->values[i].recheck)
        holder__fail_value(&l->values[i], NULL, "RecheckNotStarted");
  }
  holder__finish(l, result);
}

/* lookup_done() ends a round's run of searches. */
static void lookup_done(void *arg, int result, const struct graph_error *err)
{
  struct holder_answer *l = arg;

  l->h->running--;
  if(result && result != -ECANCELED)
    fail_unasked(l, err, err && err->code[0] ? NULL : "NotAsked");
  if(result == -ECANCELED)
    l->canceled = true;
  l->round_result = result;
  holder_query_list_clear(&l->sent);
  holder__round_end(l);
}

static const struct graph_batch_source lookup_source = {
    lookup_next, lookup_answer, lookup_done};

size_t *holder__value_slot(const struct holder_answer *l, const char *s)
{
  const struct value_index *x = &l->index;
  size_t at = (size_t)hashx(s, true) & x->mask;

  for(; x->slot[at]; at = (at + 1) & x->mask)
    if(!strcasecmp(l->values[x->slot[at] - 1].lc, s))
      break;
  return &x->slot[at];
}

/* add_value() returns the index of c's value in l, adding it (in the
 * order values first come) if new, or -ENOMEM. */
static long add_value(struct holder_answer *l, const struct conflict *c)
{
  size_t *slot = holder__value_slot(l, c->value_lc);
  struct value *v;

  if(*slot)
    return (long)(*slot - 1);
  v = &l->values[l->nvalues];
  v->lc = strdup(c->value_lc);
  /* Ask with a conflict's own spelling of the value. */
  v->spell = strdup(c->value);
  if(!v->lc || !v->spell)
    return -ENOMEM;
  l->spell[l->nvalues] = v->spell;
  *slot = l->nvalues + 1;
  return (long)l->nvalues++;
}

/* lookup_start() is holder_lookup() (cb) or holder_lookup_answer()
 * (acb). */
static int lookup_start(struct holder *h, const struct conflict *const *cs,
                        size_t n, holder_done_cb cb, holder_answer_cb acb,
                        void *arg)
{
  struct holder_answer *l;
  size_t i;
  long planned;
  int rc = -ENOMEM;

  if(!n)
    return -EINVAL;
  l = calloc(1, sizeof(*l));
  if(!l)
    return -ENOMEM;
  l->h = h;
  l->cb = cb;
  l->acb = acb;
  l->arg = arg;
  l->values = calloc(n, sizeof(*l->values));
  l->spell = calloc(n, sizeof(*l->spell));
  l->queries = calloc(n, sizeof(*l->queries));
  if(!l->values || !l->spell || !l->queries || value_index_init(&l->index, n))
    goto out;
  for(i = 0; i < n; i++) {
    struct query *q = &l->queries[i];
    long v = add_value(l, cs[i]);

    if(v < 0) {
      /* A half-added value is freed with the others. */
      l->nvalues += l->values[l->nvalues].lc || l->values[l->nvalues].spell;
      goto out;
    }
    q->value = (size_t)v;
    q->key = strdup(cs[i]->key);
    q->object_id = strdup(cs[i]->object_id);
    l->nqueries++;
    if(!q->key || !q->object_id)
      goto out;
  }
  planned = round_values(l, false);
  rc = planned < 0 ? (int)planned : holder_list_begin(l);
out:
  if(rc)
    lookup_free(l);
  return rc;
}

int holder_lookup(struct holder *h, const struct conflict *const *cs, size_t n,
                  holder_done_cb cb, void *arg)
{
  return lookup_start(h, cs, n, cb, NULL, arg);
}

int holder_lookup_answer(struct holder *h, const struct conflict *const *cs,
                         size_t n, holder_answer_cb cb, void *arg)
{
  return lookup_start(h, cs, n, NULL, cb, arg);
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
