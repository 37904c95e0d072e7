/* SPDX-License-Identifier: MIT
 *
 * sink_http: alerts POSTed over HTTPS with the loop's libcurl client
 * (http.h): TLS always verified, ca_file replacing the system's store.
 *
 * - webhook: one alert per request, in the body fmt_hook.c builds
 *   (generic JSON, a Slack incoming-webhook message, or a Teams
 *   Workflows Adaptive Card).  The URL carries the receiver's secret
 *   (Slack's path, the Workflows sig= parameter), so only its scheme and
 *   host are ever logged.
 * - sentinel: the Azure Monitor Logs Ingestion API.  Records are sent in
 *   batches as one JSON array, POST
 *   {dce_url}/dataCollectionRules/{dcr_id}/streams/{stream}?api-version=2023-01-01
 *   with a bearer token for https://monitor.azure.com/.default obtained
 *   with the named tenant's app registration; 204 means accepted, and a
 *   call carries at most 1 MB
 *   (https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview).
 *
 * Both send at most rate_limit requests a minute (Slack allows about one
 * message a second per webhook:
 * https://api.slack.com/apis/rate-limits#incoming-webhooks).  A 2xx
 * accepts the batch; 429 and 5xx are retried after Retry-After (or the
 * sink's backoff); any other answer is retried with backoff too, since
 * an alert leaves the spool only when a receiver took it, and the log
 * says why once per outage.  401 and 403 also drop the cached token.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph.h"
#include "log.h"
#include "sink.h"
#include "token.h"

/* Below the API's 1 MB a call, with room for the brackets and commas. */
#define SENTINEL_MAX_BODY (1000u * 1000u - 4096u)
#define SENTINEL_MAX_BATCH 500

struct http_sink {
  struct sink *s;
  bool sentinel;
  char *url;       /* where to POST; a secret for webhooks */
  char origin[96]; /* scheme://host of url, for the log */
  struct http_client *http;
  struct token *token;  /* sentinel */
  unsigned interval_ms; /* 60000 / rate_limit */
  uint64_t next_ms;     /* uv_now() when the next request may go */
  uv_timer_t rate;      /* waits for next_ms */
  char *body;           /* the request in flight */
  size_t body_len, n;
  bool in_flight, closing;
  int parts; /* handles and clients still closing */
};

static int http_open(struct sink *s, const struct cfg_sink *c)
{
  struct http_sink *hs = calloc(1, sizeof(*hs));
  struct http_client_opts ho = {0};
  const char *p;
  int rc;

  if(!hs)
    return -ENOMEM;
  hs->s = s;
  hs->sentinel = c->type == CFG_SINK_SENTINEL;
  if(hs->sentinel) {
    if(asprintf(&hs->url,
                "%s/dataCollectionRules/%s/streams/%s?api-version=2023-01-01",
                c->dce_url, c->dcr_id, c->stream) == -1)
      hs->url = NULL;
  }
  else
    hs->url = strdup(c->url);
  if(!hs->url) {
    free(hs);
    return -ENOMEM;
  }
  p = strstr(hs->url, "://");
  p = p ? p + 3 + strcspn(p + 3, "/?") : hs->url;
  snprintf(hs->origin, sizeof(hs->origin), "%.*s", (int)(p - hs->url), hs->url);
  hs->interval_ms = 60000u / (c->rate_limit ? c->rate_limit : 60);
  ho.user_agent = "quarantined/" QD_VERSION;
  ho.ca_file = c->ca_file;
  ho.max_concurrency = 1;
  ho.max_response_size = 1u << 20;
  ho.url_secret = !hs->sentinel;
  rc = http_client_new(s->loop, &ho, &hs->http);
  if(!rc && hs->sentinel) {
    struct cfg_tenant t = *c->cred;

    if(c->login_url)
      t.login_url = c->login_url;
    rc = token_new_scoped(s->loop, hs->http, &t, c->scope, &hs->token);
    if(rc) {
      http_client_close(hs->http, NULL, NULL);
      hs->http = NULL;
    }
  }
  if(rc) {
    free(hs->url);
    free(hs);
    return rc;
  }
  uv_timer_init(s->loop, &hs->rate);
  hs->rate.data = hs;
  s->impl = hs;
  return 0;
}

/* finish() reports the batch to the sink. */
static void finish(struct http_sink *hs, size_t accepted, int err,
                   const char *why, unsigned retry_ms)
{
  free(hs->body);
  hs->body = NULL;
  hs->in_flight = false;
  hs->next_ms = uv_now(hs->s->loop) + hs->interval_ms;
  sink_done(hs->s, accepted, err, why, retry_ms);
}

static void on_response(const struct http_response *r, void *arg)
{
  struct http_sink *hs = arg;
  char why[300];
  long ra;

  if(hs->closing) {
    hs->in_flight = false;
    return;
  }
  if(r->result) {
    snprintf(why, sizeof(why), "POST %s: %s", hs->origin,
             r->error && r->error[0] ? r->error : strerror(-r->result));
    finish(hs, 0, r->result, why, 0);
    return;
  }
  if(r->status >= 200 && r->status < 300) {
    finish(hs, hs->n, 0, NULL, 0);
    return;
  }
  if(hs->token && (r->status == 401 || r->status == 403))
    token_invalidate(hs->token);
  ra = r->status == 429 || r->status >= 500
           ? graph_retry_after_ms(r->retry_after, time(NULL))
           : -1;
  /* The body names the problem (a wrong DCR, a missing column); only its
   * first line, and never the request. */
  snprintf(why, sizeof(why), "POST %s: HTTP %ld%s%.*s", hs->origin, r->status,
           r->body_len ? ": " : "", (int)strcspn(r->body, "\r\n"), r->body);
  finish(hs, 0, r->status == 429 || r->status >= 500 ? -EAGAIN : -EPROTO, why,
         ra > 0 ? (unsigned)(ra > 3600000 ? 3600000 : ra) : 0);
}

static void post(struct http_sink *hs, const char *bearer)
{
  const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
  char *auth = NULL;
  int rc;

  if(bearer) {
    if(asprintf(&auth, "Authorization: Bearer %s", bearer) == -1) {
      finish(hs, 0, -ENOMEM, "out of memory", 0);
      return;
    }
    headers[1] = auth;
  }
  rc = http_request(hs->http, "POST", hs->url, headers, hs->body, hs->body_len,
                    on_response, hs);
  if(auth) {
    explicit_bzero(auth, strlen(auth));
    free(auth);
  }
  if(rc) {
    char why[160];

    snprintf(why, sizeof(why), "POST %s: %s", hs->origin, strerror(-rc));
    finish(hs, 0, rc, why, 0);
  }
}

static void on_token(int result, const char *bearer,
                     const struct token_error *err, void *arg)
{
  struct http_sink *hs = arg;
  char why[300];

  if(hs->closing) {
    hs->in_flight = false;
    return;
  }
  if(result) {
    snprintf(why, sizeof(why), "token: %s%s%.200s",
             err && err->aadsts[0] ? err->aadsts : "",
             err && err->aadsts[0] ? " " : "",
             err && err->description[0] ? err->description : strerror(-result));
    finish(hs, 0, result, why, 0);
    return;
  }
  post(hs, bearer);
}

static void send_now(struct http_sink *hs)
{
  int rc;

  if(!hs->token) {
    post(hs, NULL);
    return;
  }
  rc = token_get(hs->token, on_token, hs);
  if(rc)
    finish(hs, 0, rc, "token request could not start", 0);
}

static void on_rate(uv_timer_t *t)
{
  send_now(t->data);
}

static void http_deliver(struct sink *s, const struct spool_rec *r, size_t n)
{
  struct http_sink *hs = s->impl;
  struct fmt_buf b = {0};
  uint64_t now = uv_now(s->loop);
  size_t i = 0;

  if(hs->sentinel) {
    fmt_putc(&b, '[');
    for(; i < n && r; i++, r = r->next) {
      if(i && b.len + r->len + 2 > SENTINEL_MAX_BODY)
        break;
      if(i)
        fmt_putc(&b, ',');
      fmt_put(&b, r->data, r->len);
    }
    fmt_putc(&b, ']');
  }
  else {
    fmt_put(&b, r->data, r->len);
    i = 1;
  }
  if(b.oom) {
    free(b.p);
    sink_done(s, 0, -ENOMEM, "out of memory", 0);
    return;
  }
  hs->body = b.p;
  hs->body_len = b.len;
  hs->n = i;
  hs->in_flight = true;
  if(now < hs->next_ms) {
    uv_timer_start(&hs->rate, on_rate, hs->next_ms - now, 0);
    return;
  }
  send_now(hs);
}

static void part_closed(struct http_sink *hs)
{
  struct sink *s = hs->s;

  if(--hs->parts)
    return;
  free(hs->body);
  free(hs->url);
  free(hs);
  sink_type_closed(s);
}

static void on_client_closed(void *arg)
{
  part_closed(arg);
}

static void on_token_closed(void *arg)
{
  part_closed(arg);
}

static void on_rate_closed(uv_handle_t *h)
{
  part_closed(h->data);
}

static void http_close(struct sink *s)
{
  struct http_sink *hs = s->impl;

  hs->closing = true;
  hs->parts = 2 + (hs->token != NULL);
  uv_close((uv_handle_t *)&hs->rate, on_rate_closed);
  /* The client first: it cancels a request (and a token request) in
   * flight, whose callbacks see closing. */
  if(hs->token)
    token_close(hs->token, on_token_closed, hs);
  http_client_close(hs->http, on_client_closed, hs);
}

const struct sink_type sink_http_webhook = {
    .default_format = FMT_GENERIC,
    .max_batch = 1,
    .open = http_open,
    .deliver = http_deliver,
    .close = http_close,
};

const struct sink_type sink_http_sentinel = {
    .default_format = FMT_SENTINEL,
    .max_batch = SENTINEL_MAX_BATCH,
    .open = http_open,
    .deliver = http_deliver,
    .close = http_close,
};
