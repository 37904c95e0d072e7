/* SPDX-License-Identifier: MIT
 *
 * fuzz_graph_batch: the answer to a $batch POST
 * (https://learn.microsoft.com/graph/json-batching) as graph_batch.c
 * reads it: "responses" in any order, each with an id, a status,
 * headers (Retry-After, request-id) and a body.  The first byte picks
 * how many items were sent (1 to GRAPH_BATCH_MAX) and how many attempts
 * each has, so that both final answers and retries are read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "../../daemon/graph_int.h"
#include "fuzz.h"

struct seen {
  size_t n;
  int called;
};

static void on_done(int result, const struct graph_batch_result *res, size_t n,
                    void *arg)
{
  struct seen *seen = arg;
  size_t i;

  (void)result;
  seen->called++;
  if(n != seen->n)
    __builtin_trap();
  for(i = 0; i < n; i++) {
    /* A success has a status; a body, when there is one, is an object
     * (res[] and its bodies are freed after this returns). */
    if(!res[i].result && res[i].body && !cJSON_IsObject(res[i].body))
      __builtin_trap();
    if(!memchr(res[i].err.code, '\0', sizeof(res[i].err.code)) ||
       !memchr(res[i].err.message, '\0', sizeof(res[i].err.message)) ||
       !memchr(res[i].err.request_id, '\0', sizeof(res[i].err.request_id)))
      __builtin_trap();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static uv_loop_t loop;
  static int ready;
  static char tenant[] = "contoso";
  struct graph_batch_item items[GRAPH_BATCH_MAX];
  char urls[GRAPH_BATCH_MAX][32];
  struct graph g;
  struct seen seen = {0, 0};
  cJSON *body;
  size_t i;

  if(!ready) {
    if(uv_loop_init(&loop))
      abort();
    ready = 1;
  }
  if(size < 1)
    return 0;
  memset(&g, 0, sizeof(g));
  g.loop = &loop;
  g.tenant = tenant;
  g.max_attempts = 1 + (data[0] >> 4) % 4;
  g.backoff_ms = 1000;
  g.backoff_max_ms = 60000;
  g.rng = 1;
  seen.n = 1 + (data[0] & 0x0f) % GRAPH_BATCH_MAX;
  for(i = 0; i < seen.n; i++) {
    snprintf(urls[i], sizeof(urls[i]), "/users/%zu", i);
    items[i].method = "GET";
    items[i].url = urls[i];
  }
  body = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  if(graph__batch_answer(&g, items, seen.n, body, on_done, &seen) ||
     seen.called != 1)
    __builtin_trap();
  cJSON_Delete(body);
  return 0;
}
