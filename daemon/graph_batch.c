/* SPDX-License-Identifier: MIT
 *
 * graph_batch: JSON batching
 * (https://learn.microsoft.com/graph/json-batching): up to
 * GRAPH_BATCH_MAX requests per POST /v1.0/$batch, each item answered on
 * its own; an item refused with 429/503 is sent again in a later batch
 * after its Retry-After.  Requests, retries and paging are graph.c's.
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

struct batch_item {
  char *method, *url;
  unsigned attempts;   /* answers received so far */
  uint64_t not_before; /* uv_now() before which it is not sent again */
  bool done, sent;
};

struct graph_batch_op {
  struct graph *g;
  size_t n, remaining;
  struct batch_item *items;
  struct graph_batch_result *res;
  cJSON **bodies; /* owned bodies of res[] */
  graph_batch_cb cb;
  void *arg;
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

static int batch_send(struct graph_batch_op *op);

/* batch_read() takes the answers of body (the 200 answer to a $batch
 * POST, owned by the caller) into op: each item sent gets its final
 * answer or is put back for a later batch.  Returns 0, or -EBADMSG (no
 * "responses" array) or -ENOMEM with err set; then nothing is taken. */
static int batch_read(struct graph_batch_op *op, const cJSON *body,
                      struct graph_error *err)
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
    if(*end || idx >= op->n || !op->items[idx].sent || op->items[idx].done)
      continue;
    op->items[idx].sent = false;
    batch_item_answer(op, idx, e);
  }
  cJSON_Delete(copy);
  memset(err, 0, sizeof(*err));
  snprintf(err->code, sizeof(err->code), "MissingBatchResponse");
  for(i = 0; i < op->n; i++) {
    if(!op->items[i].sent)
      continue;
    op->items[i].sent = false;
    op->items[i].attempts++;
    item_retry(op, i, -1, -EBADMSG, 0, err, "no answer in the batch");
  }
  return 0;
}

static void on_batch_done(int result, long status, const cJSON *body,
                          const struct graph_error *err, void *arg)
{
  struct graph_batch_op *op = arg;
  struct graph_error miss;
  int rc;

  (void)status;
  if(result) {
    batch_finish(op, result, err);
    return;
  }
  rc = batch_read(op, body, &miss);
  if(rc) {
    batch_finish(op, rc, &miss);
    return;
  }
  if(!op->remaining) {
    batch_finish(op, 0, NULL);
    return;
  }
  rc = batch_send(op);
  if(rc) {
    memset(&miss, 0, sizeof(miss));
    snprintf(miss.code, sizeof(miss.code), "%s", graph__errno_name(rc));
    batch_finish(op, rc, &miss);
  }
}

/* batch_send() sends the next batch: up to GRAPH_BATCH_MAX items due at
 * the earliest time any pending item is due (now, or after a delay).
 * Returns 0 or a negative errno code (nothing sent). */
static int batch_send(struct graph_batch_op *op)
{
  uint64_t now = uv_now(op->g->loop), due = UINT64_MAX;
  cJSON *doc = cJSON_CreateObject(), *reqs;
  size_t i, picked[GRAPH_BATCH_MAX], np = 0;
  char *text = NULL;
  int rc = -ENOMEM;

  for(i = 0; i < op->n; i++)
    if(!op->items[i].done && op->items[i].not_before < due)
      due = op->items[i].not_before;
  if(due < now)
    due = now;
  reqs = doc ? cJSON_AddArrayToObject(doc, "requests") : NULL;
  for(i = 0; reqs && i < op->n && np < GRAPH_BATCH_MAX; i++) {
    struct batch_item *it = &op->items[i];
    cJSON *o;
    char id[24];

    if(it->done || it->not_before > due)
      continue;
    snprintf(id, sizeof(id), "%zu", i);
    o = cJSON_CreateObject();
    if(!o || jsonx_add_str(o, "id", id) ||
       jsonx_add_str(o, "method", it->method) ||
       jsonx_add_str(o, "url", it->url) || !cJSON_AddItemToArray(reqs, o)) {
      cJSON_Delete(o);
      goto out;
    }
    picked[np++] = i;
  }
  text = reqs ? cJSON_PrintUnformatted(doc) : NULL;
  if(!text)
    goto out;
  /* Every item is a GET (graph_batch() checked), so the POST is a read. */
  rc = graph__request_after(op->g, "POST", "/v1.0/$batch", NULL, text, true,
                            due - now, on_batch_done, op);
  if(!rc)
    for(i = 0; i < np; i++)
      op->items[picked[i]].sent = true;
out:
  cJSON_free(text);
  cJSON_Delete(doc);
  return rc;
}

int graph_batch(struct graph *g, const struct graph_batch_item *items, size_t n,
                graph_batch_cb cb, void *arg)
{
  return graph_batch_after(g, items, n, 0, cb, arg);
}

/* batch_new() makes the run of n GETs (nothing sent), first due after
 * delay_ms; NULL when out of memory or an item is not a GET (*rc says
 * which). */
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
  rc = batch_send(op);
  if(rc)
    batch_free(op);
  return rc;
}

int graph__batch_answer(struct graph *g, const struct graph_batch_item *items,
                        size_t n, const cJSON *body, graph_batch_cb cb,
                        void *arg)
{
  struct graph_error err;
  size_t i;
  int rc;
  struct graph_batch_op *op = batch_new(g, items, n, 0, cb, arg, &rc);

  if(!op)
    return rc;
  for(i = 0; i < n; i++)
    op->items[i].sent = true;
  rc = batch_read(op, body, &err);
  /* Items put back for a later batch end here as the run would end when
   * that batch could not be sent. */
  batch_finish(op, rc ? rc : op->remaining ? -EAGAIN : 0, rc ? &err : NULL);
  return 0;
}
