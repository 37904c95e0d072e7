/* SPDX-License-Identifier: MIT
 *
 * graph_batch: JSON batching
 * (https://learn.microsoft.com/graph/json-batching): up to
 * GRAPH_BATCH_MAX requests per POST /v1.0/$batch, each item answered on
 * its own; an item refused with 429/503 is sent again in a later batch
 * after its Retry-After.  Up to g->max_batches POSTs of a run are in
 * flight at once (the HTTP client caps the tenant's transfers as a
 * whole); each waits for the resource units of its items in the tenant's
 * budget.  Requests, retries and paging are graph.c's.
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

struct batch_item {
  char *method, *url;
  unsigned attempts;   /* answers received so far */
  uint64_t not_before; /* uv_now() before which it is not sent again */
  bool done;
  const struct batch_post *post; /* the POST carrying it, or NULL */
};

struct graph_batch_op {
  struct graph *g;
  size_t n, remaining;
  struct batch_item *items;
  struct graph_batch_result *res;
  cJSON **bodies;  /* owned bodies of res[] */
  size_t inflight; /* POSTs out */
  int failed;      /* error of a POST that ends the run, or 0 */
  struct graph_error fail_err;
  graph_batch_cb cb;
  void *arg;
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

  for(i = 0; i < op->n; i++) {
    free(op->items[i].method);
    free(op->items[i].url);
    cJSON_Delete(op->bodies[i]);
  }
  free(op->items);
  free(op->res);
  free(op->bodies);
  free(op);
}

/* batch_finish() ends the run: items without a final answer get result
 * and err, the callback runs, and op is freed. */
static void batch_finish(struct graph_batch_op *op, int result,
                         const struct graph_error *err)
{
  size_t i;

  for(i = 0; result && i < op->n; i++) {
    if(op->items[i].done)
      continue;
    op->res[i].result = result;
    if(err)
      op->res[i].err = *err;
  }
  op->cb(result, op->res, op->n, op->arg);
  batch_free(op);
}

/* item_done() records the final outcome of item i. */
static void item_done(struct graph_batch_op *op, size_t i, int result,
                      long status, cJSON *body, const struct graph_error *err)
{
  op->items[i].done = true;
  op->remaining--;
  op->res[i].result = result;
  op->res[i].status = status;
  op->bodies[i] = body;
  op->res[i].body = body;
  if(err)
    op->res[i].err = *err;
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
  log_info("graph: tenant %s: batch item %s %s: %s; attempt %u of %u in a "
           "later batch after %.1f s",
           g->tenant, it->method, it->url, why, it->attempts + 1,
           g->max_attempts, (double)delay_ms / 1000.0);
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
 * POST p, owned by the caller) into op: each item p carried gets its
 * final answer or is put back for a later POST.  Returns 0, or -EBADMSG
 * (no "responses" array) or -ENOMEM with err set; then nothing is taken
 * and p's items are only released. */
static int batch_read(struct graph_batch_op *op, struct batch_post *p,
                      const cJSON *body, struct graph_error *err)
{
  cJSON *resps, *e, *copy;
  size_t i;

  /* The answers are detached into op, so work on a copy of the body. */
  copy = body ? cJSON_Duplicate(body, true) : NULL;
  resps = copy ? cJSON_GetObjectItemCaseSensitive(copy, "responses") : NULL;
  if(!cJSON_IsArray(resps)) {
    memset(err, 0, sizeof(*err));
    snprintf(err->code, sizeof(err->code), "MalformedBatchResponse");
    snprintf(err->message, sizeof(err->message), "no \"responses\" array");
    cJSON_Delete(copy);
    for(i = 0; i < p->np; i++)
      op->items[p->picked[i]].post = NULL;
    return copy || !body ? -EBADMSG : -ENOMEM;
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
  cJSON_Delete(copy);
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

static void on_batch_done(int result, long status, const cJSON *body,
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
  free(p);
  batch_next(op);
}

/* batch_send() sends the next POST: up to GRAPH_BATCH_MAX items not out
 * yet, due at the earliest time any of them is due (now, or after a
 * delay).  Returns 0, 1 when no item is left to send, or a negative errno
 * code (nothing sent). */
static int batch_send(struct graph_batch_op *op)
{
  uint64_t now = uv_now(op->g->loop), due = UINT64_MAX;
  struct batch_post *p;
  cJSON *doc, *reqs;
  char *text = NULL;
  unsigned units = 0;
  size_t i;
  int rc = -ENOMEM;

  for(i = 0; i < op->n; i++)
    if(!op->items[i].done && !op->items[i].post &&
       op->items[i].not_before < due)
      due = op->items[i].not_before;
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
  for(i = 0; i < op->n && p->np < GRAPH_BATCH_MAX; i++) {
    struct batch_item *it = &op->items[i];
    cJSON *o;
    char id[24];

    if(it->done || it->post || it->not_before > due)
      continue;
    snprintf(id, sizeof(id), "%zu", i);
    o = cJSON_CreateObject();
    if(!o || jsonx_add_str(o, "id", id) ||
       jsonx_add_str(o, "method", it->method) ||
       jsonx_add_str(o, "url", it->url) || !cJSON_AddItemToArray(reqs, o)) {
      cJSON_Delete(o);
      goto out;
    }
    units += budget_cost(it->method, it->url);
    p->picked[p->np++] = i;
  }
  text = cJSON_PrintUnformatted(doc);
  if(!text)
    goto out;
  /* Every item is a GET (graph_batch() checked), so the POST is a read. */
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

  while(!op->failed && op->remaining && op->inflight < op->g->max_batches) {
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
  else if(!op->remaining)
    batch_finish(op, 0, NULL);
}

int graph_batch(struct graph *g, const struct graph_batch_item *items, size_t n,
                graph_batch_cb cb, void *arg)
{
  return graph_batch_after(g, items, n, 0, cb, arg);
}

/* batch_new() makes the run of n items (copied), none sent yet, the
 * first due after delay_ms.  Returns it, or NULL with *rc set: -EINVAL (n
 * is 0, or an item is not a GET) or -ENOMEM. */
static struct graph_batch_op *batch_new(struct graph *g,
                                        const struct graph_batch_item *items,
                                        size_t n, uint64_t delay_ms,
                                        graph_batch_cb cb, void *arg, int *rc)
{
  struct graph_batch_op *op;
  uint64_t start = uv_now(g->loop) + delay_ms;
  size_t i;

  *rc = -EINVAL;
  if(!n)
    return NULL;
  for(i = 0; i < n; i++)
    if(strcmp(items[i].method, "GET"))
      return NULL; /* a write is never batched: see graph.h */
  *rc = -ENOMEM;
  op = calloc(1, sizeof(*op));
  if(!op)
    return NULL;
  op->g = g;
  op->n = op->remaining = n;
  op->cb = cb;
  op->arg = arg;
  op->items = calloc(n, sizeof(*op->items));
  op->res = calloc(n, sizeof(*op->res));
  op->bodies = calloc(n, sizeof(*op->bodies));
  if(!op->items || !op->res || !op->bodies) {
    op->n = 0;
    batch_free(op);
    return NULL;
  }
  for(i = 0; i < n; i++) {
    op->items[i].method = strdup(items[i].method);
    op->items[i].url = strdup(items[i].url);
    op->items[i].not_before = start;
    if(!op->items[i].method || !op->items[i].url) {
      batch_free(op);
      return NULL;
    }
  }
  *rc = 0;
  return op;
}

int graph_batch_after(struct graph *g, const struct graph_batch_item *items,
                      size_t n, uint64_t delay_ms, graph_batch_cb cb, void *arg)
{
  int rc;
  struct graph_batch_op *op = batch_new(g, items, n, delay_ms, cb, arg, &rc);

  if(!op)
    return rc;
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

int graph__batch_answer(struct graph *g, const struct graph_batch_item *items,
                        size_t n, const cJSON *body, graph_batch_cb cb,
                        void *arg)
{
  struct batch_post post;
  struct graph_error err;
  size_t i;
  int rc;
  struct graph_batch_op *op;

  if(n > GRAPH_BATCH_MAX)
    return -EINVAL; /* one POST carries at most that many */
  op = batch_new(g, items, n, 0, cb, arg, &rc);
  if(!op)
    return rc;
  memset(&post, 0, sizeof(post));
  post.op = op;
  for(i = 0; i < n; i++) {
    post.picked[post.np++] = i;
    op->items[i].post = &post;
  }
  rc = batch_read(op, &post, body, &err);
  /* Items put back for a later batch end here as the run would end when
   * that batch could not be sent. */
  batch_finish(op, rc ? rc : op->remaining ? -EAGAIN : 0, rc ? &err : NULL);
  return 0;
}
