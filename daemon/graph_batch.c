/* SPDX-License-Identifier: MIT
 *
 * graph_batch: JSON batching
 * (https://learn.microsoft.com/graph/json-batching): up to
 * GRAPH_BATCH_MAX requests per POST /v1.0/$batch, each item answered on
 * its own; an item refused with 429/503 is sent again in a later batch
 * after its Retry-After.  Up to g->max_batches POSTs of a run are in
 * flight at once (the HTTP client caps the tenant's transfers as a
 * whole); each waits for the resource units of its items in the tenant's
 * budget.  A run takes its items from its caller only when a POST has
 * room for them, and hands each final answer over as it arrives
 * (graph_batch_stream()); graph_batch() is such a run over an array,
 * answered at its end.  Requests, retries and paging are graph.c's.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "graph_int.h"
#include "jsonx.h"
#include "log.h"

/* ===== JSON batching ===== */

struct batch_post;

/* One item the source has produced.  Its URL is freed once it is done. */
struct batch_item {
  char *url;
  unsigned attempts;   /* answers received so far */
  uint64_t not_before; /* uv_now() before which it is not sent again */
  bool done;
  const struct batch_post *post; /* the POST carrying it, or NULL */
};

/* A run.  Items are taken from src only when a POST has room for them,
 * and each final answer goes to src as it arrives: the run holds the
 * URLs of the items not done yet, never an answer. */
struct graph_batch_op {
  struct graph *g;
  const struct graph_batch_source *src;
  void *arg;
  struct batch_item *items; /* the n produced so far */
  size_t n, cap;
  size_t remaining;  /* produced and not done */
  size_t first_open; /* every item before it is done */
  bool exhausted;    /* src has no more items */
  uint64_t start;    /* uv_now() before which no item is sent */
  size_t inflight;   /* POSTs out */
  int failed;        /* error of a POST that ends the run, or 0 */
  struct graph_error fail_err;
};

/* One POST in flight: the items it carries.  Owned by its op, freed when
 * its answer has been handled. */
struct batch_post {
  struct graph_batch_op *op;
  size_t picked[GRAPH_BATCH_MAX], np;
};

static void batch_free(struct graph_batch_op *op)
{
  size_t i;

  for(i = 0; i < op->n; i++)
    free(op->items[i].url);
  free(op->items);
  free(op);
}

/* item_done() records the final outcome of item i and hands it, with
 * body (taken over; may be NULL), to the source. */
static void item_done(struct graph_batch_op *op, size_t i, int result,
                      long status, cJSON *body, const struct graph_error *err)
{
  struct graph_batch_result r;

  memset(&r, 0, sizeof(r));
  op->items[i].done = true;
  free(op->items[i].url);
  op->items[i].url = NULL;
  op->remaining--;
  while(op->first_open < op->n && op->items[op->first_open].done)
    op->first_open++;
  r.result = result;
  r.status = status;
  r.body = body;
  if(err)
    r.err = *err;
  op->src->answer(op->arg, i, &r, body);
}

/* batch_finish() ends the run: items without a final answer get result
 * and err, the source's done() runs, and op is freed. */
static void batch_finish(struct graph_batch_op *op, int result,
                         const struct graph_error *err)
{
  size_t i;

  for(i = op->first_open; result && i < op->n; i++)
    if(!op->items[i].done)
      item_done(op, i, result, 0, NULL, err);
  op->src->done(op->arg, result, result ? err : NULL);
  batch_free(op);
}

/* item_retry() puts item i back for a later batch after delay_ms (< 0:
 * backoff), or fails it when its attempts are used up. */
static void item_retry(struct graph_batch_op *op, size_t i, long delay_ms,
                       int result, long status, const struct graph_error *err,
                       const char *why)
{
  struct graph *g = op->g;
  struct batch_item *it = &op->items[i];

  if(it->attempts >= g->max_attempts) {
    item_done(op, i, result, status, NULL, err);
    return;
  }
  g->stats.retried++;
  if(status == 429 || status == 503)
    g->stats.throttled++;
  if(delay_ms < 0)
    delay_ms = graph__backoff(g, it->attempts);
  else if(status == 429 || status == 503)
    graph__throttle(g, delay_ms);
  it->not_before = uv_now(g->loop) + (uint64_t)delay_ms;
  log_info("graph: tenant %s: batch item GET %s: %s; attempt %u of %u in a "
           "later batch after %.1f s",
           g->tenant, it->url, why, it->attempts + 1, g->max_attempts,
           (double)delay_ms / 1000.0);
}

/* header_value() returns a response header of a batch item (names are
 * compared without case), or NULL. */
static const char *header_value(const cJSON *headers, const char *name)
{
  const cJSON *h;

  cJSON_ArrayForEach(h, headers)
  {
    if(h->string && !strcasecmp(h->string, name))
      return cJSON_GetStringValue(h);
  }
  return NULL;
}

/* batch_item_answer() handles one entry of "responses". */
static void batch_item_answer(struct graph_batch_op *op, size_t i, cJSON *entry)
{
  const cJSON *headers = cJSON_GetObjectItemCaseSensitive(entry, "headers");
  cJSON *body = cJSON_GetObjectItemCaseSensitive(entry, "body");
  struct graph_error err;
  char why[96];
  long long st;
  long status;

  memset(&err, 0, sizeof(err));
  op->items[i].attempts++;
  /* A status that is not a whole number a long holds (1e300) counts as
   * none: 0. */
  status =
      jsonx_get_int(entry, "status", LONG_MIN, LONG_MAX, &st) ? 0 : (long)st;
  err.status = status;
  if(cJSON_IsObject(headers)) {
    const char *rid = header_value(headers, "request-id");

    if(rid)
      snprintf(err.request_id, sizeof(err.request_id), "%s", rid);
  }
  if(status >= 200 && status < 300) {
    if(body && !cJSON_IsNull(body) && !cJSON_IsObject(body)) {
      snprintf(err.code, sizeof(err.code), "MalformedJson");
      snprintf(err.message, sizeof(err.message),
               "batch item body is not a JSON object");
      item_retry(op, i, -1, -EBADMSG, status, &err, "malformed body");
      return;
    }
    if(body && cJSON_IsObject(body))
      body = cJSON_DetachItemViaPointer(entry, body);
    else
      body = NULL;
    item_done(op, i, 0, status, body, NULL);
    return;
  }
  if(cJSON_IsObject(body))
    graph_parse_error_json(body, &err);
  if(!err.code[0])
    snprintf(err.code, sizeof(err.code), "HTTP%ld", status);
  switch(status) {
  case 429:
  case 503:
    item_retry(
        op, i,
        graph_retry_after_ms(header_value(headers, "Retry-After"), time(NULL)),
        -ETIMEDOUT, status, &err,
        graph__throttled_why(why, sizeof(why), status,
                             header_value(headers, "x-ms-throttle-scope")));
    return;
  case 0:
    snprintf(err.code, sizeof(err.code), "MalformedBatchResponse");
    item_retry(op, i, -1, -EBADMSG, status, &err, "no status");
    return;
  case 500:
  case 502:
  case 504:
    item_retry(op, i, -1, -EIO, status, &err, "server error");
    return;
  case 401:
  case 403:
    item_done(op, i, -EACCES, status, NULL, &err);
    return;
  case 404:
    item_done(op, i, -ENOENT, status, NULL, &err);
    return;
  default:
    item_done(op, i, status >= 500 ? -EIO : -EINVAL, status, NULL, &err);
    return;
  }
}

static void batch_next(struct graph_batch_op *op);

/* post_failed() records that a POST of op failed with result: the run
 * sends nothing more and ends when no POST is out. */
static void post_failed(struct graph_batch_op *op, int result,
                        const struct graph_error *err)
{
  if(op->failed)
    return;
  op->failed = result;
  memset(&op->fail_err, 0, sizeof(op->fail_err));
  if(err)
    op->fail_err = *err;
}

/* batch_read() takes the answers of body (the 200 answer to the $batch
 * POST p, or NULL; the caller's, items detached from it) into op: each
 * item p carried gets its final answer or is put back for a later POST.
 * Returns 0, or -EBADMSG (no "responses" array) with err set; then
 * nothing is taken and p's items are only released. */
static int batch_read(struct graph_batch_op *op, struct batch_post *p,
                      cJSON *body, struct graph_error *err)
{
  cJSON *resps, *e;
  size_t i;

  resps = body ? cJSON_GetObjectItemCaseSensitive(body, "responses") : NULL;
  if(!cJSON_IsArray(resps)) {
    memset(err, 0, sizeof(*err));
    snprintf(err->code, sizeof(err->code), "MalformedBatchResponse");
    snprintf(err->message, sizeof(err->message), "no \"responses\" array");
    for(i = 0; i < p->np; i++)
      op->items[p->picked[i]].post = NULL;
    return -EBADMSG;
  }
  /* Responses "might appear in a different order than the requests". */
  cJSON_ArrayForEach(e, resps)
  {
    const char *id = jsonx_str(e, "id");
    char *end;
    unsigned long idx;

    if(!id || !*id)
      continue;
    idx = strtoul(id, &end, 10);
    if(*end || idx >= op->n || op->items[idx].post != p || op->items[idx].done)
      continue;
    op->items[idx].post = NULL;
    batch_item_answer(op, idx, e);
  }
  memset(err, 0, sizeof(*err));
  snprintf(err->code, sizeof(err->code), "MissingBatchResponse");
  for(i = 0; i < p->np; i++) {
    struct batch_item *it = &op->items[p->picked[i]];

    if(it->post != p)
      continue;
    it->post = NULL;
    it->attempts++;
    item_retry(op, p->picked[i], -1, -EBADMSG, 0, err,
               "no answer in the batch");
  }
  return 0;
}

/* on_batch_done() takes the answer to the $batch POST p (arg); body is
 * its own (graph__take_cb): the item bodies are detached from it, not
 * copied. */
static void on_batch_done(int result, long status, cJSON *body,
                          const struct graph_error *err, void *arg)
{
  struct batch_post *p = arg;
  struct graph_batch_op *op = p->op;
  struct graph_error miss;
  size_t i;
  int rc;

  (void)status;
  op->inflight--;
  if(result) {
    for(i = 0; i < p->np; i++)
      op->items[p->picked[i]].post = NULL;
    post_failed(op, result, err);
  }
  else if((rc = batch_read(op, p, body, &miss)))
    post_failed(op, rc, &miss);
  cJSON_Delete(body);
  free(p);
  batch_next(op);
}

/* produce() asks the source for the next item.  Returns 0 (it is
 * op->items[op->n - 1]), 1 when the source has no more, or a negative
 * errno code. */
static int produce(struct graph_batch_op *op)
{
  char *url = NULL;
  int rc;

  if(op->n == op->cap) {
    size_t cap = op->cap ? 2 * op->cap : 64;
    struct batch_item *grown = realloc(op->items, cap * sizeof(*grown));

    if(!grown)
      return -ENOMEM;
    op->items = grown;
    op->cap = cap;
  }
  rc = op->src->next(op->arg, op->n, &url);
  if(rc == 1)
    op->exhausted = true;
  if(rc)
    return rc < 0 ? rc : 1;
  memset(&op->items[op->n], 0, sizeof(op->items[op->n]));
  op->items[op->n].url = url;
  op->items[op->n].not_before = op->start;
  op->n++;
  op->remaining++;
  return 0;
}

/* add_item() adds item i to the requests of POST p. */
static int add_item(struct batch_post *p, cJSON *reqs, size_t i,
                    unsigned *units)
{
  const struct batch_item *it = &p->op->items[i];
  cJSON *o = cJSON_CreateObject();
  char id[24];

  snprintf(id, sizeof(id), "%zu", i);
  if(!o || jsonx_add_str(o, "id", id) || jsonx_add_str(o, "method", "GET") ||
     jsonx_add_str(o, "url", it->url) || !cJSON_AddItemToArray(reqs, o)) {
    cJSON_Delete(o);
    return -ENOMEM;
  }
  *units += budget_cost("GET", it->url);
  p->picked[p->np++] = i;
  return 0;
}

/* batch_send() sends the next POST: up to GRAPH_BATCH_MAX items not out
 * yet, due at the earliest time any of them is due (now, or after a
 * delay); items put back for a later batch go first, then new items from
 * the source.  Returns 0, 1 when no item is left to send, or a negative
 * errno code (nothing sent). */
static int batch_send(struct graph_batch_op *op)
{
  uint64_t now = uv_now(op->g->loop), due = UINT64_MAX;
  struct batch_post *p;
  cJSON *doc, *reqs;
  char *text = NULL;
  unsigned units = 0;
  size_t i;
  int rc = -ENOMEM;

  for(i = op->first_open; i < op->n; i++)
    if(!op->items[i].done && !op->items[i].post &&
       op->items[i].not_before < due)
      due = op->items[i].not_before;
  if(!op->exhausted && op->start < due)
    due = op->start;
  if(due == UINT64_MAX)
    return 1;
  if(due < now)
    due = now;
  p = calloc(1, sizeof(*p));
  doc = cJSON_CreateObject();
  reqs = doc ? cJSON_AddArrayToObject(doc, "requests") : NULL;
  if(!p || !reqs)
    goto out;
  p->op = op;
  for(i = op->first_open; i < op->n && p->np < GRAPH_BATCH_MAX; i++) {
    const struct batch_item *it = &op->items[i];

    if(!it->done && !it->post && it->not_before <= due &&
       add_item(p, reqs, i, &units))
      goto out;
  }
  while(p->np < GRAPH_BATCH_MAX && !op->exhausted && op->start <= due) {
    rc = produce(op);
    if(rc < 0)
      goto out;
    if(rc == 0 && (rc = add_item(p, reqs, op->n - 1, &units)))
      goto out;
  }
  rc = 1;
  if(!p->np)
    goto out;
  rc = -ENOMEM;
  text = cJSON_PrintUnformatted(doc);
  if(!text)
    goto out;
  /* Every item is a GET, so the POST is a read. */
  rc = graph__request_after(op->g, "POST", "/v1.0/$batch", NULL, text, true,
                            units, due - now, on_batch_done, p);
  if(!rc) {
    for(i = 0; i < p->np; i++)
      op->items[p->picked[i]].post = p;
    op->inflight++;
    p = NULL;
  }
out:
  free(p);
  cJSON_free(text);
  cJSON_Delete(doc);
  return rc;
}

/* batch_next() fills op's free POST slots, or ends the run when nothing is
 * left out: with its first POST error, or 0 once every item is done. */
static void batch_next(struct graph_batch_op *op)
{
  struct graph_error err;
  int rc = 0;

  while(!op->failed && (op->remaining || !op->exhausted) &&
        op->inflight < op->g->max_batches) {
    rc = batch_send(op);
    if(rc == 1)
      break;
    if(rc) {
      memset(&err, 0, sizeof(err));
      snprintf(err.code, sizeof(err.code), "%s", graph__errno_name(rc));
      post_failed(op, rc, &err);
    }
  }
  if(op->inflight)
    return;
  if(op->failed)
    batch_finish(op, op->failed, &op->fail_err);
  else if(!op->remaining && op->exhausted)
    batch_finish(op, 0, NULL);
}

/* batch_new() makes a run over src, nothing produced yet, the first item
 * due after delay_ms.  Returns it, or NULL when out of memory. */
static struct graph_batch_op *batch_new(struct graph *g,
                                        const struct graph_batch_source *src,
                                        uint64_t delay_ms, void *arg)
{
  struct graph_batch_op *op = calloc(1, sizeof(*op));

  if(!op)
    return NULL;
  op->g = g;
  op->src = src;
  op->arg = arg;
  op->start = uv_now(g->loop) + delay_ms;
  return op;
}

int graph_batch_stream(struct graph *g, const struct graph_batch_source *src,
                       uint64_t delay_ms, void *arg)
{
  struct graph_batch_op *op = batch_new(g, src, delay_ms, arg);
  int rc;

  if(!op)
    return -ENOMEM;
  /* The first POST goes now or the run is not started; batch_next()
   * fills the other slots. */
  rc = batch_send(op);
  if(rc) {
    batch_free(op);
    return rc < 0 ? rc : -EINVAL;
  }
  while(op->inflight < g->max_batches && !batch_send(op))
    ;
  return 0;
}

/* ===== A run over an array of items, answered at its end ===== */

struct batch_array {
  char **urls; /* owned until produced */
  struct graph_batch_result *res;
  cJSON **bodies; /* owned bodies of res[] */
  bool *answered;
  size_t n;
  graph_batch_cb cb;
  void *arg;
};

static void array_free(struct batch_array *a)
{
  size_t i;

  for(i = 0; i < a->n; i++) {
    free(a->urls[i]);
    cJSON_Delete(a->bodies[i]);
  }
  free(a->urls);
  free(a->res);
  free(a->bodies);
  free(a->answered);
  free(a);
}

static int array_next(void *arg, size_t i, char **url)
{
  struct batch_array *a = arg;

  if(i >= a->n)
    return 1;
  *url = a->urls[i];
  a->urls[i] = NULL;
  return 0;
}

static void array_answer(void *arg, size_t i,
                         const struct graph_batch_result *r, cJSON *body)
{
  struct batch_array *a = arg;

  a->res[i] = *r;
  a->bodies[i] = body;
  a->answered[i] = true;
}

static void array_done(void *arg, int result, const struct graph_error *err)
{
  struct batch_array *a = arg;
  size_t i;

  /* Items the run never took carry its error. */
  for(i = 0; result && i < a->n; i++) {
    if(a->answered[i])
      continue;
    a->res[i].result = result;
    if(err)
      a->res[i].err = *err;
  }
  a->cb(result, a->res, a->n, a->arg);
  array_free(a);
}

static const struct graph_batch_source array_source = {array_next, array_answer,
                                                       array_done};

/* array_new() copies the n items into a source for array_source.
 * Returns it, or NULL with *rc set: -EINVAL (n is 0, or an item is not a
 * GET) or -ENOMEM. */
static struct batch_array *array_new(const struct graph_batch_item *items,
                                     size_t n, graph_batch_cb cb, void *arg,
                                     int *rc)
{
  struct batch_array *a;
  size_t i;

  *rc = -EINVAL;
  if(!n)
    return NULL;
  for(i = 0; i < n; i++)
    if(strcmp(items[i].method, "GET"))
      return NULL; /* a write is never batched: see graph.h */
  *rc = -ENOMEM;
  a = calloc(1, sizeof(*a));
  if(!a)
    return NULL;
  a->cb = cb;
  a->arg = arg;
  a->urls = calloc(n, sizeof(*a->urls));
  a->res = calloc(n, sizeof(*a->res));
  a->bodies = calloc(n, sizeof(*a->bodies));
  a->answered = calloc(n, sizeof(*a->answered));
  if(!a->urls || !a->res || !a->bodies || !a->answered) {
    array_free(a);
    return NULL;
  }
  a->n = n;
  for(i = 0; i < n; i++)
    if(!(a->urls[i] = strdup(items[i].url))) {
      array_free(a);
      return NULL;
    }
  *rc = 0;
  return a;
}

int graph_batch(struct graph *g, const struct graph_batch_item *items, size_t n,
                graph_batch_cb cb, void *arg)
{
  return graph_batch_after(g, items, n, 0, cb, arg);
}

int graph_batch_after(struct graph *g, const struct graph_batch_item *items,
                      size_t n, uint64_t delay_ms, graph_batch_cb cb, void *arg)
{
  int rc;
  struct batch_array *a = array_new(items, n, cb, arg, &rc);

  if(!a)
    return rc;
  rc = graph_batch_stream(g, &array_source, delay_ms, a);
  if(rc)
    array_free(a);
  return rc;
}

int graph__batch_answer(struct graph *g, const struct graph_batch_item *items,
                        size_t n, cJSON *body, graph_batch_cb cb, void *arg)
{
  struct batch_post post;
  struct graph_error err;
  struct graph_batch_op *op;
  struct batch_array *a;
  int rc;

  if(n > GRAPH_BATCH_MAX)
    return -EINVAL; /* one POST carries at most that many */
  a = array_new(items, n, cb, arg, &rc);
  if(!a)
    return rc;
  op = batch_new(g, &array_source, 0, a);
  if(!op) {
    array_free(a);
    return -ENOMEM;
  }
  memset(&post, 0, sizeof(post));
  post.op = op;
  while(!(rc = produce(op))) {
    post.picked[post.np++] = op->n - 1;
    op->items[op->n - 1].post = &post;
  }
  if(rc < 0) {
    batch_free(op);
    array_free(a);
    return rc;
  }
  rc = batch_read(op, &post, body, &err);
  /* Items put back for a later batch end here as the run would end when
   * that batch could not be sent. */
  batch_finish(op, rc ? rc : op->remaining ? -EAGAIN : 0, rc ? &err : NULL);
  return 0;
}
