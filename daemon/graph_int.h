/* SPDX-License-Identifier: MIT */
/* graph_int.h: what graph.c (requests, retries, paging) shares with
 * graph_batch.c (JSON batching); tests/fuzz/fuzz_graph_batch.c also
 * uses graph__batch_answer().  Nothing else includes it. */
#ifndef QD_GRAPH_INT_H
#define QD_GRAPH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "budget.h"
#include "graph.h"

struct http_client;
struct token;

/* One tenant's Graph client (graph_new()); owned by its creator, freed
 * by graph_close(). */
struct graph {
  uv_loop_t *loop;
  struct http_client *hc;
  struct token *tok;
  char *tenant;
  char *root;
  unsigned max_attempts, backoff_ms, backoff_max_ms;
  unsigned max_batches; /* POSTs of one graph_batch() run in flight */
  /* Resource units of the application + tenant pair
   * (https://learn.microsoft.com/graph/throttling-limits): every attempt
   * takes its cost from here first, or waits until it is there. */
  struct budget budget;
  uint64_t rng;
  struct graph_req *reqs; /* every live request */
  /* Graph throttles per application and tenant
   * (https://learn.microsoft.com/graph/throttling-limits): after a
   * 429 or 503 with Retry-After no request of this tenant is sent before
   * uv_now() reaches this, not only the one that was refused. */
  uint64_t throttled_until;
  struct graph_stats stats; /* for /metrics */
  bool closing;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* Done callback of a request whose answer the caller takes over: as
 * graph_done_cb, but body (NULL or the parsed 2xx answer) is the
 * callback's to free, so it can keep or detach parts of it without a
 * copy. */
typedef void (*graph__take_cb)(int result, long status, cJSON *body,
                               const struct graph_error *err, void *arg);

/* graph__request_after() is graph_request() whose first attempt starts
 * after delay_ms (0: now), answered to a graph__take_cb; replay says whether
 * the request may be sent again after a failure that leaves open whether Graph
 * processed it (see graph_request(): true for reads, false for writes); units
 * is what each attempt takes from the budget, 0 for budget_cost() of its URL (a
 * $batch POST passes the sum of its items' costs: each counts on its own,
 * https://learn.microsoft.com/graph/json-batching). */
int graph__request_after(struct graph *g, const char *method, const char *path,
                         const char *const *headers, const char *body,
                         bool replay, unsigned units, uint64_t delay_ms,
                         graph__take_cb cb, void *arg);

/* graph__backoff() is the capped, jittered backoff before attempt + 1. */
long graph__backoff(struct graph *g, unsigned attempt);

/* graph__throttled_why() writes the log reason of a 429 or 503 into buf
 * and returns it (or a static string).  A 429 names its
 * x-ms-throttle-scope, <Scope>/<Limit>/<ApplicationId>/<TenantId> with
 * Limit Read, Write or ReadWrite
 * (https://learn.microsoft.com/graph/throttling-limits): the first two
 * parts tell an admin which quota ran out. */
const char *graph__throttled_why(char *buf, size_t len, long status,
                                 const char *scope);

/* graph__throttle() holds back every request of g for delay_ms (a 429 or
 * 503 with Retry-After). */
void graph__throttle(struct graph *g, long delay_ms);

/* graph__errno_name() names a negative errno code for an error code field
 * ("ETIMEDOUT"); a static string. */
const char *graph__errno_name(int result);

/* graph__batch_answer() reads body as the 200 answer to one $batch POST
 * that sent all n items at once, as graph_batch() reads it, then ends
 * the run at once: cb gets each item's final answer, and -EAGAIN for an
 * item that would go into a later batch (a retry, which the run would
 * send after its delay).  For tests/fuzz/fuzz_graph_batch.c: it sends
 * nothing, so g needs only its loop, tenant and retry settings.  body
 * stays the caller's, less the item bodies detached from it for cb.  Returns 0
 * (cb has run) or a negative errno code (n is 0 or over GRAPH_BATCH_MAX, an
 * item is not a GET, or out of memory; cb has not run). */
int graph__batch_answer(struct graph *g, const struct graph_batch_item *items,
                        size_t n, cJSON *body, graph_batch_cb cb, void *arg);

#endif
