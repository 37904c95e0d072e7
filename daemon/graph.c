/* SPDX-License-Identifier: MIT
 *
 * graph: Microsoft Graph requests with the tenant's bearer token, retries
 * and paging.  Each request is a struct graph_req with its own backoff
 * timer; it lives until its timer is closed and no token or HTTP callback
 * is still owed to it.  Final failures are not logged here: the caller
 * gets a struct graph_error and logs once, with its own context.
 */
#include "graph.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "graph_int.h"
#include "http.h"
#include "jsonx.h"
#include "log.h"
#include "plat.h"
#include "timex.h"
#include "token.h"

#define MAX_HEADERS 16

struct graph_req {
  struct graph *g;
  struct graph_req *next, **pprev;
  char *method;
  char *url; /* absolute */
  char *body;
  char *headers[MAX_HEADERS + 1];
  unsigned attempt;
  bool refreshed;   /* the token was renewed once after a 401 */
  bool replay;      /* may be sent again after an ambiguous failure */
  bool ext_pending; /* a token or HTTP callback is still owed to us */
  bool done;        /* the user callback has been called */
  unsigned units;   /* resource units of an attempt; 0: from the URL */
  uv_timer_t timer;
  /* single request: one of the two */
  graph_done_cb done_cb;
  graph__take_cb take_cb;
  /* list */
  graph_page_cb page_cb;
  graph_list_cb list_cb;
  void *arg;
};

static void start_attempt(struct graph_req *r);

static char *xstrdup(const char *s)
{
  return s ? strdup(s) : NULL;
}

/* rnd() is a xorshift64* generator for backoff jitter; it needs no
 * cryptographic quality. */
static uint64_t rnd(struct graph *g)
{
  g->rng ^= g->rng >> 12;
  g->rng ^= g->rng << 25;
  g->rng ^= g->rng >> 27;
  return g->rng * 2685821657736338717ULL;
}

char *graph_filter_path(const char *base, const char *filter,
                        const char *select, const char *extra)
{
  char *esc = curl_easy_escape(NULL, filter, 0), *path;
  int n;

  if(!esc)
    return NULL;
  n = asprintf(&path, "%s?$filter=%s%s%s%s", base, esc,
               select ? "&$select=" : "", select ? select : "",
               extra ? extra : "");
  curl_free(esc);
  return n < 0 ? NULL : path;
}

size_t graph_filter_path_len(const char *base, const char *filter,
                             const char *select, const char *extra)
{
  size_t n = strlen(base) + strlen("?$filter=");

  /* curl_easy_escape() keeps RFC 3986's unreserved characters and writes
   * every other byte as %XX. */
  for(; *filter; filter++)
    n += (isalnum((unsigned char)*filter) && (unsigned char)*filter < 0x80) ||
                 strchr("-._~", *filter)
             ? 1
             : 3;
  if(select)
    n += strlen("&$select=") + strlen(select);
  return n + (extra ? strlen(extra) : 0);
}

int graph_same_origin(const char *root, const char *url)
{
  size_t n = strlen(root);

  if(strncmp(root, url, n))
    return 0;
  return url[n] == '/' || url[n] == '?' || url[n] == '\0';
}

long graph_retry_after_ms(const char *value, time_t now)
{
  double secs;
  char *end;
  time_t t;

  if(!value || !*value)
    return -1;
  if(isdigit((unsigned char)*value)) {
    secs = strtod(value, &end);
    while(*end == ' ')
      end++;
    if(*end || secs < 0 || secs > 86400.0)
      return -1;
    return (long)(secs * 1000.0 + 0.5);
  }
  /* RFC 9110 HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT". */
  if(timex_parse_http_date(value, &t))
    return -1;
  secs = difftime(t, now);
  if(secs < 0)
    return 0;
  if(secs > 86400.0)
    return -1;
  return (long)(secs * 1000.0);
}

/* copy_field() copies a JSON string member into dst, truncated to the
 * first line. */
static void copy_field(char *dst, size_t len, const cJSON *obj,
                       const char *name)
{
  const char *s = jsonx_str(obj, name);
  size_t n;

  if(!s)
    return;
  n = strcspn(s, "\r\n");
  if(n >= len)
    n = len - 1;
  memcpy(dst, s, n);
  dst[n] = '\0';
}

void graph_parse_error(const char *body, size_t len, struct graph_error *err)
{
  cJSON *root;

  if(!body || !len)
    return;
  root = cJSON_ParseWithLength(body, len);
  if(!root)
    return;
  graph_parse_error_json(root, err);
  cJSON_Delete(root);
}

void graph_parse_error_json(const cJSON *root, struct graph_error *err)
{
  const cJSON *e, *inner = NULL, *it;

  e = cJSON_GetObjectItemCaseSensitive(root, "error");
  if(cJSON_IsObject(e)) {
    copy_field(err->code, sizeof(err->code), e, "code");
    copy_field(err->message, sizeof(err->message), e, "message");
    /* The schema says innererror, every real example innerError. */
    cJSON_ArrayForEach(it, e)
    {
      if(it->string && !strcasecmp(it->string, "innererror") &&
         cJSON_IsObject(it))
        inner = it;
    }
    if(inner && !err->request_id[0])
      copy_field(err->request_id, sizeof(err->request_id), inner, "request-id");
  }
}

int graph_new(uv_loop_t *loop, struct http_client *hc, struct token *tok,
              const struct graph_opts *opts, struct graph **out)
{
  struct graph *g = calloc(1, sizeof(*g));

  if(!g)
    return -ENOMEM;
  g->loop = loop;
  g->hc = hc;
  g->tok = tok;
  g->tenant = strdup(opts->tenant);
  g->root = strdup(opts->graph_url);
  if(!g->tenant || !g->root) {
    free(g->tenant);
    free(g->root);
    free(g);
    return -ENOMEM;
  }
  g->max_attempts = opts->max_attempts ? opts->max_attempts : 6;
  g->backoff_ms = opts->backoff_ms ? opts->backoff_ms : 1000;
  g->backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : 60000;
  g->max_batches = opts->max_batches ? opts->max_batches : 1;
  budget_init(&g->budget,
              opts->budget_units ? opts->budget_units
                                 : budget_quota(BUDGET_SMALL),
              uv_now(loop));
  if(plat_random(&g->rng, sizeof(g->rng)) || !g->rng)
    g->rng = uv_hrtime() | 1;
  *out = g;
  return 0;
}

/* graph_free() frees g once graph_close() has released every request,
 * then calls the close callback. */
static void graph_free(struct graph *g)
{
  void (*cb)(void *arg) = g->closed_cb;
  void *arg = g->closed_arg;

  free(g->tenant);
  free(g->root);
  free(g);
  if(cb)
    cb(arg);
}

static void on_req_closed(uv_handle_t *h)
{
  struct graph_req *r = h->data;
  struct graph *g = r->g;
  size_t i;

  if(r->next)
    r->next->pprev = r->pprev;
  *r->pprev = r->next;
  free(r->method);
  free(r->url);
  free(r->body);
  for(i = 0; r->headers[i]; i++)
    free(r->headers[i]);
  free(r);
  if(g->closing && !g->reqs)
    graph_free(g);
}

/* release() closes the request's timer, which frees it, unless a token
 * or HTTP callback is still owed; that callback then calls release(). */
static void release(struct graph_req *r)
{
  if(r->ext_pending || uv_is_closing((uv_handle_t *)&r->timer))
    return;
  uv_close((uv_handle_t *)&r->timer, on_req_closed);
}

/* finish() calls the user's callback once and releases the request.
 * body (or NULL) is finish()'s: handed to a take_cb, else freed after the
 * callback. */
static void finish(struct graph_req *r, int result, long status, cJSON *body,
                   const struct graph_error *err, const char *delta_link)
{
  if(!r->done) {
    r->done = true;
    if(r->list_cb)
      r->list_cb(result, delta_link, err, r->arg);
    else if(r->take_cb) {
      r->take_cb(result, status, body, err, r->arg);
      body = NULL;
    }
    else
      r->done_cb(result, status, body, err, r->arg);
  }
  cJSON_Delete(body);
  release(r);
}

static void fail(struct graph_req *r, int result, struct graph_error *err)
{
  finish(r, result, err ? err->status : 0, NULL, err, NULL);
}

/* graph__backoff() is the delay before attempt + 1: capped exponential, with
 * "equal jitter" (half fixed, half random). */
long graph__backoff(struct graph *g, unsigned attempt)
{
  unsigned long base = g->backoff_ms;
  unsigned i;

  for(i = 1; i < attempt && base < g->backoff_max_ms; i++)
    base *= 2;
  if(base > g->backoff_max_ms)
    base = g->backoff_max_ms;
  return (long)(base / 2 + rnd(g) % (base / 2 + 1));
}

/* graph__throttle() closes the tenant's gate for delay_ms after a Retry-After.
 */
void graph__throttle(struct graph *g, long delay_ms)
{
  uint64_t until = uv_now(g->loop) + (uint64_t)delay_ms;

  if(delay_ms > 0 && until > g->throttled_until)
    g->throttled_until = until;
}

static void on_retry_timer(uv_timer_t *t)
{
  struct graph_req *r = t->data;

  start_attempt(r);
}

const char *graph__throttled_why(char *buf, size_t len, long status,
                                 const char *scope)
{
  const char *slash = scope ? strchr(scope, '/') : NULL;
  const char *end = slash ? strchr(slash + 1, '/') : NULL;
  int n = scope ? (int)(end ? (size_t)(end - scope) : strlen(scope)) : 0;

  if(status != 429)
    return "service unavailable (503)";
  if(!n || n > 64)
    return "throttled (429)";
  snprintf(buf, len, "throttled (429, %.*s)", n, scope);
  return buf;
}

/* retry_or_fail() schedules another attempt after delay_ms, or fails with
 * result when the attempts are used up. */
static void retry_or_fail(struct graph_req *r, long delay_ms, int result,
                          struct graph_error *err, const char *why)
{
  struct graph *g = r->g;

  if(r->attempt >= g->max_attempts) {
    fail(r, result, err);
    return;
  }
  if(delay_ms < 0)
    delay_ms = graph__backoff(g, r->attempt);
  g->stats.retried++;
  log_info("graph: tenant %s: %s %s: %s; attempt %u of %u in %.1f s "
           "(client-request-id %s)",
           g->tenant, r->method, r->url, why, r->attempt + 1, g->max_attempts,
           (double)delay_ms / 1000.0,
           err && err->client_request_id[0] ? err->client_request_id : "-");
  uv_timer_start(&r->timer, on_retry_timer, (uint64_t)delay_ms, 0);
}

const char *graph__errno_name(int result)
{
  switch(result) {
  case -ETIMEDOUT:
    return "timeout";
  case -ECONNREFUSED:
    return "connection refused";
  case -EHOSTUNREACH:
    return "host unreachable";
  case -EPROTO:
    return "TLS or protocol error";
  case -EMSGSIZE:
    return "response too large";
  case -EBADMSG:
    return "malformed response";
  case -ECANCELED:
    return "cancelled";
  case -EMFILE:
    return "out of file descriptors";
  case -ENFILE:
    return "system file table full";
  default:
    return "transport error";
  }
}

/* handle_ok() deals with a 2xx response: parse, deliver, next page. */
static void handle_ok(struct graph_req *r, const struct http_response *resp,
                      struct graph_error *err)
{
  struct graph *g = r->g;
  const char *next, *delta;
  cJSON *json;
  int rc;

  if(resp->status == 204 || !resp->body_len) {
    if(r->list_cb) {
      snprintf(err->code, sizeof(err->code), "EmptyPage");
      fail(r, -EBADMSG, err);
    }
    else
      finish(r, 0, resp->status, NULL, err, NULL);
    return;
  }
  if(!resp->content_type || !strstr(resp->content_type, "json")) {
    snprintf(err->code, sizeof(err->code), "UnexpectedContentType");
    snprintf(err->message, sizeof(err->message), "content type %s",
             resp->content_type ? resp->content_type : "(none)");
    retry_or_fail(r, -1, -EBADMSG, err, "response is not JSON");
    return;
  }
  json = cJSON_ParseWithLength(resp->body, resp->body_len);
  if(!json || !cJSON_IsObject(json)) {
    cJSON_Delete(json);
    snprintf(err->code, sizeof(err->code), "MalformedJson");
    snprintf(err->message, sizeof(err->message),
             "%zu-byte body is not a JSON object", resp->body_len);
    retry_or_fail(r, -1, -EBADMSG, err, "malformed JSON");
    return;
  }
  if(!r->list_cb) {
    finish(r, 0, resp->status, json, err, NULL);
    return;
  }
  rc = r->page_cb(json, r->arg);
  if(rc) {
    cJSON_Delete(json);
    snprintf(err->code, sizeof(err->code), "PageRejected");
    fail(r, rc, err);
    return;
  }
  next = jsonx_str(json, "@odata.nextLink");
  if(next) {
    char *copy;

    if(!graph_same_origin(g->root, next)) {
      snprintf(err->code, sizeof(err->code), "ForeignNextLink");
      snprintf(err->message, sizeof(err->message),
               "@odata.nextLink leaves %s; not followed, the token is only "
               "sent there",
               g->root);
      cJSON_Delete(json);
      fail(r, -EPERM, err);
      return;
    }
    copy = strdup(next);
    cJSON_Delete(json);
    if(!copy) {
      fail(r, -ENOMEM, err);
      return;
    }
    free(r->url);
    r->url = copy;
    r->attempt = 0;
    r->refreshed = false;
    start_attempt(r);
    return;
  }
  delta = jsonx_str(json, "@odata.deltaLink");
  finish(r, 0, resp->status, NULL, NULL, delta);
  cJSON_Delete(json);
}

/* never_sent() tells whether a transport error proves the request never
 * reached Graph: no connection was made. */
static bool never_sent(int result)
{
  return result == -ECONNREFUSED || result == -EHOSTUNREACH;
}

static void on_http_done(const struct http_response *resp, void *arg)
{
  struct graph_req *r = arg;
  struct graph_error err;
  char why[96];
  long ra;

  r->ext_pending = false;
  if(r->done) {
    release(r);
    return;
  }
  memset(&err, 0, sizeof(err));
  err.status = resp->status;
  if(resp->client_request_id)
    snprintf(err.client_request_id, sizeof(err.client_request_id), "%s",
             resp->client_request_id);
  if(resp->request_id)
    snprintf(err.request_id, sizeof(err.request_id), "%s", resp->request_id);

  if(resp->result) {
    snprintf(err.code, sizeof(err.code), "%s", graph__errno_name(resp->result));
    snprintf(err.message, sizeof(err.message), "%s", resp->error);
    /* Out of descriptors: retrying this request soon only adds to the
     * shortage; the cycle fails now and is retried with backoff. */
    if(resp->result == -ECANCELED || resp->result == -EMSGSIZE ||
       resp->result == -EMFILE || resp->result == -ENFILE ||
       (!r->replay && !never_sent(resp->result)))
      fail(r, resp->result, &err);
    else
      retry_or_fail(r, -1, resp->result, &err, graph__errno_name(resp->result));
    return;
  }
  if(resp->status >= 200 && resp->status < 300) {
    if(!r->replay) {
      /* A write was done: what its body says cannot undo it. */
      finish(r, 0, resp->status, NULL, &err, NULL);
      return;
    }
    handle_ok(r, resp, &err);
    return;
  }
  graph_parse_error(resp->body, resp->body_len, &err);
  if(!err.code[0])
    snprintf(err.code, sizeof(err.code), "HTTP%ld", resp->status);
  switch(resp->status) {
  case 401:
    if(!r->refreshed) {
      /* The token expired or was revoked mid-run: renew it once. */
      r->refreshed = true;
      token_invalidate(r->g->tok);
      log_info("graph: tenant %s: 401 %s; renewing the token", r->g->tenant,
               err.code);
      start_attempt(r);
      return;
    }
    fail(r, -EACCES, &err);
    return;
  case 429:
  case 503:
    ra = graph_retry_after_ms(resp->retry_after, time(NULL));
    r->g->stats.throttled++;
    graph__throttle(r->g, ra);
    if(resp->status == 503 && !r->replay) {
      /* Unlike 429, a 503 does not say the write was left undone. */
      fail(r, -ETIMEDOUT, &err);
      return;
    }
    retry_or_fail(r, ra, -ETIMEDOUT, &err,
                  graph__throttled_why(why, sizeof(why), resp->status,
                                       resp->throttle_scope));
    return;
  case 500:
  case 502:
  case 504:
    if(!r->replay) {
      fail(r, -EIO, &err);
      return;
    }
    retry_or_fail(r, -1, -EIO, &err, "server error");
    return;
  case 403:
    fail(r, -EACCES, &err);
    return;
  case 404:
    fail(r, -ENOENT, &err);
    return;
  default:
    fail(r, resp->status >= 500 ? -EIO : -EINVAL, &err);
    return;
  }
}

static void on_token(int result, const char *bearer,
                     const struct token_error *terr, void *arg)
{
  struct graph_req *r = arg;
  const char *hdrs[MAX_HEADERS + 4];
  struct graph_error err;
  char *auth = NULL;
  size_t i, n = 0;
  int rc;

  r->ext_pending = false;
  if(r->done) {
    release(r);
    return;
  }
  memset(&err, 0, sizeof(err));
  if(result) {
    if(terr) {
      err.status = terr->http_status;
      snprintf(err.code, sizeof(err.code), "%s%s%s", terr->error,
               terr->aadsts[0] ? " " : "", terr->aadsts);
      snprintf(err.message, sizeof(err.message), "%s", terr->description);
      snprintf(err.request_id, sizeof(err.request_id), "%s", terr->trace_id);
    }
    if(!err.code[0])
      snprintf(err.code, sizeof(err.code), "%s",
               result == -EAGAIN ? "token unavailable"
                                 : graph__errno_name(result));
    if(result == -EAGAIN) {
      /* A token that could not be had counts as an attempt, so a token
       * service that keeps failing ends the request instead of being
       * asked again forever. */
      r->attempt++;
      retry_or_fail(
          r, terr ? graph_retry_after_ms(terr->retry_after, time(NULL)) : -1,
          -EAGAIN, &err, "no token yet");
    }
    else
      fail(r, result, &err);
    return;
  }
  if(asprintf(&auth, "Authorization: Bearer %s", bearer) < 0) {
    fail(r, -ENOMEM, &err);
    return;
  }
  hdrs[n++] = auth;
  hdrs[n++] = "Accept: application/json";
  if(r->body)
    hdrs[n++] = "Content-Type: application/json";
  for(i = 0; r->headers[i]; i++)
    hdrs[n++] = r->headers[i];
  hdrs[n] = NULL;
  r->attempt++;
  r->g->stats.requests++;
  rc = http_request(r->g->hc, r->method, r->url, hdrs, r->body,
                    r->body ? strlen(r->body) : 0, on_http_done, r);
  explicit_bzero(auth, strlen(auth));
  free(auth);
  if(rc) {
    snprintf(err.code, sizeof(err.code), "%s", graph__errno_name(rc));
    fail(r, rc, &err);
    return;
  }
  r->ext_pending = true;
}

/* start_attempt() gets a token and then sends the request. */
static void start_attempt(struct graph_req *r)
{
  uint64_t now = uv_now(r->g->loop);
  int rc;

  uint64_t wait;

  if(now < r->g->throttled_until) {
    /* Waiting at the gate is not an attempt. */
    uv_timer_start(&r->timer, on_retry_timer, r->g->throttled_until - now, 0);
    return;
  }
  /* Every attempt is charged, a retry too. */
  wait = budget_take(&r->g->budget, now,
                     r->units ? r->units : budget_cost(r->method, r->url));
  if(wait) {
    log_debug("graph: tenant %s: %s %s waits %.3f s for resource units",
              r->g->tenant, r->method, r->url, (double)wait / 1000.0);
    uv_timer_start(&r->timer, on_retry_timer, wait, 0);
    return;
  }
  r->ext_pending = true;
  rc = token_get(r->g->tok, on_token, r);
  if(rc) {
    struct graph_error err;

    r->ext_pending = false;
    memset(&err, 0, sizeof(err));
    snprintf(err.code, sizeof(err.code), "token unavailable");
    fail(r, rc, &err);
  }
}

/* new_req() builds a request; on failure nothing is left allocated. */
static int new_req(struct graph *g, const char *method, const char *path,
                   const char *const *headers, const char *body,
                   struct graph_req **out)
{
  struct graph_req *r;
  size_t i;
  int rc;

  if(g->closing)
    return -ECANCELED;
  if(!strncmp(path, "https://", 8) || !strncmp(path, "http://", 7)) {
    if(!graph_same_origin(g->root, path))
      return -EPERM;
  }
  else if(path[0] != '/')
    return -EINVAL;
  r = calloc(1, sizeof(*r));
  if(!r)
    return -ENOMEM;
  r->g = g;
  r->method = strdup(method);
  if(path[0] == '/')
    rc = asprintf(&r->url, "%s%s", g->root, path) < 0 ? -ENOMEM : 0;
  else {
    r->url = strdup(path);
    rc = r->url ? 0 : -ENOMEM;
  }
  if(rc)
    r->url = NULL;
  r->body = xstrdup(body);
  for(i = 0; headers && headers[i] && i < MAX_HEADERS; i++)
    r->headers[i] = strdup(headers[i]);
  if(rc || !r->method || (body && !r->body) || (headers && headers[i])) {
    rc = rc ? rc : -ENOMEM;
    goto bad;
  }
  for(i = 0; headers && headers[i]; i++)
    if(!r->headers[i]) {
      rc = -ENOMEM;
      goto bad;
    }
  rc = uv_timer_init(g->loop, &r->timer);
  if(rc)
    goto bad;
  r->timer.data = r;
  r->next = g->reqs;
  if(g->reqs)
    g->reqs->pprev = &r->next;
  r->pprev = &g->reqs;
  g->reqs = r;
  *out = r;
  return 0;

bad:
  free(r->method);
  free(r->url);
  free(r->body);
  for(i = 0; i < MAX_HEADERS; i++)
    free(r->headers[i]);
  free(r);
  return rc;
}

/* request_after() starts a single request whose first attempt starts
 * after delay_ms (0: now), answered to done_cb or take_cb (one is NULL). */
static int request_after(struct graph *g, const char *method, const char *path,
                         const char *const *headers, const char *body,
                         bool replay, unsigned units, uint64_t delay_ms,
                         graph_done_cb done_cb, graph__take_cb take_cb,
                         void *arg)
{
  struct graph_req *r;
  int rc;

  rc = new_req(g, method, path, headers, body, &r);
  if(rc)
    return rc;
  r->replay = replay;
  r->units = units;
  r->done_cb = done_cb;
  r->take_cb = take_cb;
  r->arg = arg;
  if(delay_ms)
    uv_timer_start(&r->timer, on_retry_timer, delay_ms, 0);
  else
    start_attempt(r);
  return 0;
}

int graph__request_after(struct graph *g, const char *method, const char *path,
                         const char *const *headers, const char *body,
                         bool replay, unsigned units, uint64_t delay_ms,
                         graph__take_cb cb, void *arg)
{
  return request_after(g, method, path, headers, body, replay, units, delay_ms,
                       NULL, cb, arg);
}

int graph_request_after(struct graph *g, const char *method, const char *path,
                        const char *const *headers, const char *body,
                        uint64_t delay_ms, graph_done_cb cb, void *arg)
{
  return request_after(g, method, path, headers, body, !strcmp(method, "GET"),
                       0, delay_ms, cb, NULL, arg);
}

int graph_request(struct graph *g, const char *method, const char *path,
                  const char *const *headers, const char *body,
                  graph_done_cb cb, void *arg)
{
  return graph_request_after(g, method, path, headers, body, 0, cb, arg);
}

int graph_list_after(struct graph *g, const char *path,
                     const char *const *headers, uint64_t delay_ms,
                     graph_page_cb page_cb, graph_list_cb done_cb, void *arg)
{
  struct graph_req *r;
  int rc;

  rc = new_req(g, "GET", path, headers, NULL, &r);
  if(rc)
    return rc;
  r->replay = true;
  r->page_cb = page_cb;
  r->list_cb = done_cb;
  r->arg = arg;
  if(delay_ms)
    uv_timer_start(&r->timer, on_retry_timer, delay_ms, 0);
  else
    start_attempt(r);
  return 0;
}

int graph_list(struct graph *g, const char *path, const char *const *headers,
               graph_page_cb page_cb, graph_list_cb done_cb, void *arg)
{
  return graph_list_after(g, path, headers, 0, page_cb, done_cb, arg);
}

long graph_backoff_ms(struct graph *g, unsigned attempt)
{
  return graph__backoff(g, attempt);
}

void graph_get_stats(const struct graph *g, struct graph_stats *st)
{
  *st = g->stats;
}

void graph_close(struct graph *g, void (*closed_cb)(void *arg), void *arg)
{
  struct graph_req *r, *next;
  struct graph_error err;

  if(g->closing)
    return;
  g->closing = true;
  g->closed_cb = closed_cb;
  g->closed_arg = arg;
  memset(&err, 0, sizeof(err));
  snprintf(err.code, sizeof(err.code), "cancelled");
  for(r = g->reqs; r; r = next) {
    next = r->next;
    uv_timer_stop(&r->timer);
    fail(r, -ECANCELED, &err);
  }
  if(!g->reqs)
    graph_free(g);
}
