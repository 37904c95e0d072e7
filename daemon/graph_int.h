/* SPDX-License-Identifier: MIT */
/* graph_int.h: what graph.c (requests, retries, paging) shares with
 * graph_batch.c (JSON batching).  Nothing else includes it. */
#ifndef QD_GRAPH_INT_H
#define QD_GRAPH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

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
  uint64_t rng;
  struct graph_req *reqs; /* every live request */
  /* Graph throttles per application and tenant
   * (https://learn.microsoft.com/graph/throttling-limits): after a
   * 429 or 503 with Retry-After no request of this tenant is sent before
   * uv_now() reaches this, not only the one that was refused. */
  uint64_t throttled_until;
  bool closing;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* graph__request_after() is graph_request() whose first attempt starts
 * after delay_ms (0: now). */
int graph__request_after(struct graph *g, const char *method, const char *path,
                         const char *const *headers, const char *body,
                         uint64_t delay_ms, graph_done_cb cb, void *arg);

/* graph__backoff() is the capped, jittered backoff before attempt + 1. */
long graph__backoff(struct graph *g, unsigned attempt);

/* graph__throttle() holds back every request of g for delay_ms (a 429 or
 * 503 with Retry-After). */
void graph__throttle(struct graph *g, long delay_ms);

/* graph__errno_name() names a negative errno code for an error code field
 * ("ETIMEDOUT"); a static string. */
const char *graph__errno_name(int result);

#endif
