/* SPDX-License-Identifier: MIT
 *
 * graph: Microsoft Graph requests for one tenant.  Adds the bearer token,
 * retries what is worth retrying (429/503 after Retry-After, other 5xx and
 * transport errors with capped exponential backoff and jitter, one token
 * refresh after a 401), parses Graph error bodies, and follows
 * @odata.nextLink pages whole.  The token is only ever sent to the
 * configured Graph root.  Every attempt first waits for its resource units
 * in the tenant's budget (budget.h), so that the daemon stays within the
 * documented quota instead of being throttled; after a 429 the whole
 * tenant waits for its Retry-After as well.
 */
#ifndef QD_GRAPH_H
#define QD_GRAPH_H

#include <cjson/cJSON.h>
#include <uv.h>

struct http_client;
struct token;
struct graph;

struct graph_opts {
  const char *tenant;      /* tenant name, for log lines */
  const char *graph_url;   /* root, e.g. https://graph.microsoft.com */
  unsigned max_attempts;   /* per request; 0 means 6 */
  unsigned backoff_ms;     /* first backoff; 0 means 1000 */
  unsigned backoff_max_ms; /* cap; 0 means 60000 */
  unsigned max_batches;    /* $batch POSTs of one graph_batch() run in
                              flight; 0 means 1 */
  unsigned budget_units;   /* resource units per 10 s every request is
                              paced by (budget.h); 0 means the quota of a
                              small tenant */
};

/* Why a request failed, for log lines and alerts.  Never holds secrets. */
struct graph_error {
  long status;         /* HTTP status, 0 for transport errors */
  char code[96];       /* Graph error code, e.g. Request_UnsupportedQuery,
                          or the token error, or a transport error name */
  char message[512];   /* first line of the service's message */
  char request_id[64]; /* request-id (header or innerError) */
  char client_request_id[40];
};

/* Done callback of one request.  body is the parsed JSON of a 2xx
 * response (NULL for 204 or on failure) and is freed by graph after the
 * callback returns; err is set when result != 0, and on success it
 * carries just the status and the request ids (code and message empty).
 * result is 0 or a
 * negative errno code: -EACCES (401/403 or token refused), -ENOENT (404),
 * -EINVAL (other 4xx), -EBADMSG (unparsable body), -ECANCELED (graph
 * closed), -ETIMEDOUT/-EIO (retries exhausted), -EPERM (nextLink to a
 * foreign host). */
typedef void (*graph_done_cb)(int result, long status, const cJSON *body,
                              const struct graph_error *err, void *arg);

/* One page of a list.  Return 0 to go on, or a negative errno code to
 * stop the listing (graph_list_cb then gets that code). */
typedef int (*graph_page_cb)(const cJSON *page, void *arg);

/* End of a list.  delta_link is the @odata.deltaLink of the last page or
 * NULL; it is only valid during the callback. */
typedef void (*graph_list_cb)(int result, const char *delta_link,
                              const struct graph_error *err, void *arg);

/* graph_new() makes a Graph client using hc and tok, which the caller
 * owns and must keep open until graph_close() has returned.  opts is
 * copied.  Returns 0 or a negative errno code. */
int graph_new(uv_loop_t *loop, struct http_client *hc, struct token *tok,
              const struct graph_opts *opts, struct graph **out);

/* graph_request() sends method to path (relative to the Graph root, e.g.
 * "/v1.0/users?$top=1", or an absolute URL under the root).  headers is a
 * NULL-terminated list of extra "Name: value" lines or NULL; body may be
 * NULL.  Arguments are copied.  Returns 0 (cb will be called, never from
 * inside this call) or a negative errno code (cb will not be called).
 *
 * A GET is retried on every transient failure.  Any other method is a
 * write and is sent again only when the answer proves Graph did not
 * process it: 429 (a throttled request fails as a whole,
 * https://learn.microsoft.com/graph/throttling), a 401 before the one
 * token renewal, or no connection made (refused, name not resolved).  A
 * timeout, a reset, a 5xx or an unreadable answer ends a write at once
 * with its error: the caller reads to learn what happened, since sending
 * it again could apply it twice. */
int graph_request(struct graph *g, const char *method, const char *path,
                  const char *const *headers, const char *body,
                  graph_done_cb cb, void *arg);

/* graph_request_after() is graph_request() whose first attempt starts
 * after delay_ms (0: now), on the request's own timer: e.g. a read again
 * after a backoff, because directory reads lag writes. */
int graph_request_after(struct graph *g, const char *method, const char *path,
                        const char *const *headers, const char *body,
                        uint64_t delay_ms, graph_done_cb cb, void *arg);

/* graph_list() GETs path and every @odata.nextLink after it, handing each
 * page to page_cb, then calls done_cb once.  The extra headers are sent
 * with every page (Graph does not carry them over).  Same return rule as
 * graph_request(). */
int graph_list(struct graph *g, const char *path, const char *const *headers,
               graph_page_cb page_cb, graph_list_cb done_cb, void *arg);

/* graph_list_after() is graph_list() whose first page is requested after
 * delay_ms (0: now), on the request's own timer, so a caller that starts a
 * listing again after a backoff owns no handle. */
int graph_list_after(struct graph *g, const char *path,
                     const char *const *headers, uint64_t delay_ms,
                     graph_page_cb page_cb, graph_list_cb done_cb, void *arg);

/* graph_backoff_ms() is the client's backoff before attempt + 1 (capped
 * exponential with jitter, from the graph_opts it was made with). */
long graph_backoff_ms(struct graph *g, unsigned attempt);

/* JSON batching (https://learn.microsoft.com/graph/json-batching): at most
 * GRAPH_BATCH_MAX requests per POST /v1.0/$batch. */
#define GRAPH_BATCH_MAX 20

/* One request of a batch: method and url relative to /v1.0 (e.g.
 * "/users?$filter=..."), already URL-escaped.  Borrowed by
 * graph_batch(), which copies them.  Only reads (GET) may be batched: a
 * batch and its items are retried as reads are (see graph_request()). */
struct graph_batch_item {
  const char *method;
  const char *url;
};

/* The final outcome of one item.  result is 0 for a 2xx answer (body is
 * its JSON object, or NULL for an empty body) or a negative errno code as
 * for graph_done_cb, with err set: -EACCES (401/403), -ENOENT (404),
 * -EINVAL (other 4xx; err.code is the item's Graph error code), -EIO /
 * -ETIMEDOUT (5xx or 429 on every attempt), -EBADMSG (no usable answer),
 * or the error of the whole batch request. */
struct graph_batch_result {
  int result;
  long status; /* the item's own HTTP status; 0 if it never got one */
  const cJSON *body;
  struct graph_error err;
};

/* Done callback of graph_batch().  res[i] belongs to items[i]; res and
 * the bodies are freed by graph when the callback returns.  result is 0
 * when every item got a final answer of its own (each may still have
 * failed), or the negative errno of the batch request that ended the run
 * (-ECANCELED when graph was closed); items without an answer then carry
 * that error. */
typedef void (*graph_batch_cb)(int result, const struct graph_batch_result *res,
                               size_t n, void *arg);

/* graph_batch() runs n (>= 1) requests through JSON batching: up to
 * GRAPH_BATCH_MAX per POST, up to the client's max_batches POSTs in flight
 * (each paced by the budget for the sum of its items' costs).  A transport
 * error or a 429/5xx of the POST itself is retried by graph_request()'s rules;
 * if the POST still fails, the run ends.  Items answered 429/503 (after their
 * own Retry-After, else backoff) or 500/502/504 (backoff) go into a later
 * batch, up to the client's max_attempts each.  Items are copied.
 * Returns 0 (cb will be called once, never from inside this call) or a
 * negative errno code (cb will not be called). */
int graph_batch(struct graph *g, const struct graph_batch_item *items, size_t n,
                graph_batch_cb cb, void *arg);

/* graph_batch_after() is graph_batch() whose first POST is sent after
 * delay_ms (0: now). */
int graph_batch_after(struct graph *g, const struct graph_batch_item *items,
                      size_t n, uint64_t delay_ms, graph_batch_cb cb,
                      void *arg);

/* The caller's side of graph_batch_stream().  Items are asked for only
 * when a POST has room for them, so that a run of thousands of GETs never
 * builds them all at once; each final answer is handed over as it
 * arrives, so that no answer waits for the end of the run. */
struct graph_batch_source {
  /* next() gives the URL of item number i (0, 1, ... in turn), a GET as
   * in graph_batch_item, malloc'd and taken over by the run: returns 0
   * with *url set, 1 when there are no more items, or a negative errno
   * code (the run ends with it). */
  int (*next)(void *arg, size_t i, char **url);
  /* answer() gets the final outcome of item i, once, as graph_batch_cb
   * describes res[i]; body (r->body, or NULL) is taken over by answer().
   * r is valid only during the call. */
  void (*answer)(void *arg, size_t i, const struct graph_batch_result *r,
                 cJSON *body);
  /* done() ends the run, result as for graph_batch_cb (err: the error of
   * the run, or NULL when result is 0); every item produced and not
   * answered has been answered with it first. */
  void (*done)(void *arg, int result, const struct graph_error *err);
};

/* graph_batch_stream() is graph_batch() over the items of src (borrowed;
 * it must outlive the run), the first POST sent after delay_ms.  Returns
 * 0 (done() will be called once, never from inside this call) or a
 * negative errno code: -EINVAL when src has no item, or next()'s error
 * (no callback of src but next() runs). */
int graph_batch_stream(struct graph *g, const struct graph_batch_source *src,
                       uint64_t delay_ms, void *arg);

/* What a client has done since it was made, for /metrics: HTTP requests
 * sent (a $batch POST is one), 429/503 answers (of requests or batch
 * items), and retries scheduled. */
struct graph_stats {
  unsigned long requests, throttled, retried;
};

void graph_get_stats(const struct graph *g, struct graph_stats *st);

/* graph_close() cancels every pending request: each callback still owed
 * runs with -ECANCELED from within this call.  g is freed once every
 * request has let go of it (a request whose transfer or token is still
 * out waits for http_client_close() or token_close() to cancel that),
 * then closed_cb(arg) runs if not NULL; with no request out that is
 * before graph_close() returns.  Call it before closing the http client
 * and the token. */
void graph_close(struct graph *g, void (*closed_cb)(void *arg), void *arg);

/* graph_retry_after_ms() parses a Retry-After value: decimal seconds
 * ("10", "2.128") or an HTTP-date.  Returns milliseconds (>= 0), or -1
 * when the value is missing or unusable. */
long graph_retry_after_ms(const char *value, time_t now);

/* graph_parse_error() fills err from a Graph error body ({"error":
 * {"code", "message", "innerError" or "innererror"}}); fields not present
 * are left as they are. */
void graph_parse_error(const char *body, size_t len, struct graph_error *err);

/* graph_parse_error_json() does the same for a parsed body (a batch
 * item's "body"). */
void graph_parse_error_json(const cJSON *body, struct graph_error *err);

/* graph_filter_path() returns the malloc'd request path
 * "<base>?$filter=<filter>[&$select=<select>][<extra>]", with filter
 * URL-escaped by libcurl (string literals in it must already have their
 * single quotes doubled, as OData asks).  select and extra (e.g.
 * "&$top=999") may be NULL.  Returns NULL when out of memory; the caller
 * frees the path. */
char *graph_filter_path(const char *base, const char *filter,
                        const char *select, const char *extra);

/* graph_filter_path_len() is strlen() of what graph_filter_path() returns
 * for the same arguments, found without making it. */
size_t graph_filter_path_len(const char *base, const char *filter,
                             const char *select, const char *extra);

/* graph_same_origin() tells whether url lies under root (same scheme,
 * host and port, and a path below root's). */
int graph_same_origin(const char *root, const char *url);

#endif
