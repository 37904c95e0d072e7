/* SPDX-License-Identifier: MIT
 *
 * token: the client-credentials grant for one tenant.  Callers queue as
 * waiters; a zero-delay uv timer answers them from the cache, or one POST
 * to the token endpoint answers them all.  Secret, key, assertion, form
 * body and token are wiped before their memory is freed.
 */
#include "token.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "jsonx.h"
#include "jwt.h"
#include "log.h"
#include "secret.h"
#include "timex.h"

/* A caller waiting for a token. */
struct waiter {
  token_cb cb;
  void *arg;
  struct waiter *next;
};

/* A FIFO of waiters. */
struct waitq {
  struct waiter *head;
  struct waiter **tail;
};

struct token {
  uv_loop_t *loop;
  struct http_client *http; /* not owned */
  uv_timer_t timer;         /* zero-delay: answers from the cache */
  char *tenant;             /* the tenant's name, for log lines */
  char *url;                /* token endpoint; also the assertion's aud */
  char *scope;              /* <graph_url>/.default */
  char *client_id;
  char *secret; /* client secret, or NULL with signer set */
  size_t secret_len;
  struct jwt_signer *signer;
  char *access; /* the cached bearer token, or NULL */
  size_t access_len;
  uint64_t fresh_until; /* uv_now() ms until which access is handed out */
  uint64_t sent_at;     /* uv_now() when the POST in flight was sent */
  struct waitq ready;   /* to be answered by the timer */
  struct waitq pending; /* waiting for the POST in flight */
  unsigned dispatching; /* callbacks running: access must stay put */
  int last_result;      /* of the last token request: 1 ok, 0 none yet, or a
                           negative errno (token_status()) */
  bool in_flight;
  unsigned failing; /* token requests failed in a row */
  bool stale;       /* invalidated while dispatching: wipe afterwards */
  bool closing;
  bool timer_closed;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* ===== Helpers ===== */

static void waitq_init(struct waitq *q)
{
  q->head = NULL;
  q->tail = &q->head;
}

static void waitq_push(struct waitq *q, struct waiter *w)
{
  w->next = NULL;
  *q->tail = w;
  q->tail = &w->next;
}

/* waitq_take() moves every waiter of q into a new list it returns. */
static struct waiter *waitq_take(struct waitq *q)
{
  struct waiter *w = q->head;

  waitq_init(q);
  return w;
}

/* copy_clean() copies src (or its first line) into dst, replacing control
 * characters so a hostile reply cannot forge log lines. */
static void copy_clean(char *dst, size_t size, const char *src, bool first_line)
{
  size_t i;

  if(!size)
    return;
  for(i = 0; src && src[i] && i + 1 < size; i++) {
    unsigned char c = (unsigned char)src[i];

    if(first_line && (c == '\r' || c == '\n'))
      break;
    dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  dst[i] = '\0';
}

static void wipe_access(struct token *tk)
{
  secret_free(tk->access, tk->access_len);
  tk->access = NULL;
  tk->access_len = 0;
  tk->fresh_until = 0;
  tk->stale = false;
}

/* dispatch() calls back and frees every waiter of list.  Callbacks may
 * call token_get(), token_invalidate() or token_close(); the token stays
 * allocated meanwhile because it is only freed from a close callback. */
static void dispatch(struct token *tk, struct waiter *list, int result,
                     const char *bearer, const struct token_error *err)
{
  tk->dispatching++;
  while(list) {
    struct waiter *w = list;

    list = w->next;
    w->cb(result, bearer, err, w->arg);
    free(w);
  }
  tk->dispatching--;
  if(!tk->dispatching && tk->stale)
    wipe_access(tk);
}

/* ===== Form body and reply ===== */

int token_form_body(const char *client_id, const char *scope,
                    const char *secret, size_t secret_len,
                    const char *assertion, char **out, size_t *len)
{
  static const char assertion_type[] =
      "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
  char *id = NULL, *sc = NULL, *cred = NULL, *type = NULL, *body;
  size_t cred_len = 0;
  int rc = 0, n;

  if(!secret && !assertion)
    return -EINVAL;
  if(secret_len > INT_MAX)
    return -EINVAL;
  id = curl_easy_escape(NULL, client_id, 0);
  sc = curl_easy_escape(NULL, scope, 0);
  if(secret)
    cred = curl_easy_escape(NULL, secret, (int)secret_len);
  else {
    cred = curl_easy_escape(NULL, assertion, 0);
    type = curl_easy_escape(NULL, assertion_type, 0);
  }
  if(!id || !sc || !cred || (!secret && !type)) {
    rc = -ENOMEM;
    goto out;
  }
  cred_len = strlen(cred);
  if(secret)
    n = asprintf(&body,
                 "client_id=%s&scope=%s&grant_type=client_credentials"
                 "&client_secret=%s",
                 id, sc, cred);
  else
    n = asprintf(&body,
                 "client_id=%s&scope=%s&grant_type=client_credentials"
                 "&client_assertion_type=%s&client_assertion=%s",
                 id, sc, type, cred);
  if(n < 0) {
    rc = -ENOMEM;
    goto out;
  }
  *out = body;
  *len = (size_t)n;

out:
  if(cred)
    explicit_bzero(cred, cred_len);
  curl_free(cred);
  curl_free(id);
  curl_free(sc);
  curl_free(type);
  return rc;
}

/* classify() maps a refusal to the result token_cb documents. */
static int classify(long status, const char *error)
{
  if(status >= 500 || status == 429 || status == 408)
    return -EAGAIN;
  if(!strcmp(error, "invalid_client") ||
     !strcmp(error, "unauthorized_client") || !strcmp(error, "invalid_grant"))
    return -EACCES;
  if(!strcmp(error, "temporarily_unavailable"))
    return -EAGAIN;
  if(!*error && (status == 401 || status == 403))
    return -EACCES;
  if(status >= 400)
    return -EINVAL;
  return -EAGAIN;
}

/* parse_error() fills err from an AAD error body (root may be NULL). */
static void parse_error(const cJSON *root, struct token_error *err)
{
  const cJSON *codes = cJSON_GetObjectItemCaseSensitive(root, "error_codes");
  const cJSON *code0 = cJSON_GetArrayItem(codes, 0);
  const char *desc = jsonx_str(root, "error_description");
  long long code;

  copy_clean(err->error, sizeof(err->error), jsonx_str(root, "error"), true);
  copy_clean(err->trace_id, sizeof(err->trace_id), jsonx_str(root, "trace_id"),
             true);
  copy_clean(err->correlation_id, sizeof(err->correlation_id),
             jsonx_str(root, "correlation_id"), true);
  if(cJSON_IsNumber(code0) && !jsonx_int_value(code0, 0, 999999999999LL, &code))
    snprintf(err->aadsts, sizeof(err->aadsts), "AADSTS%lld", code);
  if(!desc)
    return;
  /* "AADSTS7000215: Invalid client secret provided. ...\r\nTrace ID: ..."
   * The code goes to aadsts (if error_codes lacked it), the rest of the
   * first line to description. */
  if(!strncmp(desc, "AADSTS", 6)) {
    size_t n = 6;

    while(desc[n] >= '0' && desc[n] <= '9')
      n++;
    if(n > 6 && !err->aadsts[0] && n < sizeof(err->aadsts)) {
      memcpy(err->aadsts, desc, n);
      err->aadsts[n] = '\0';
    }
    if(n > 6 && desc[n] == ':') {
      desc += n + 1;
      while(*desc == ' ')
        desc++;
    }
  }
  copy_clean(err->description, sizeof(err->description), desc, true);
}

/* parse_expires() reads expires_in: a positive number or numeric string
 * of at most a year.  Returns the seconds, or 0 if unusable. */
static long parse_expires(const cJSON *v)
{
  double d = 0;

  if(cJSON_IsNumber(v))
    d = v->valuedouble;
  else if(cJSON_IsString(v) && v->valuestring[0]) {
    char *end;

    d = strtod(v->valuestring, &end);
    if(*end)
      return 0;
  }
  if(!(d >= 1 && d <= 366.0 * 86400))
    return 0;
  return (long)d;
}

int token_parse_response(long status, const char *body, size_t len,
                         char **access, long *expires_in,
                         struct token_error *err)
{
  cJSON *root, *tok;
  const char *type;
  char *copy;
  long exp;
  int rc;

  memset(err, 0, sizeof(*err));
  err->http_status = (int)status;
  root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
  if(root && !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    root = NULL;
  }
  if(status != 200) {
    if(root)
      parse_error(root, err);
    rc = classify(status, err->error);
    cJSON_Delete(root);
    return rc;
  }
  tok = cJSON_GetObjectItemCaseSensitive(root, "access_token");
  type = jsonx_str(root, "token_type");
  exp = parse_expires(cJSON_GetObjectItemCaseSensitive(root, "expires_in"));
  if(!root)
    snprintf(err->description, sizeof(err->description),
             "the token service's reply is not a JSON object");
  else if(!cJSON_IsString(tok) || !tok->valuestring[0])
    snprintf(err->description, sizeof(err->description),
             "the token service's reply has no access_token");
  else if(type && strcasecmp(type, "Bearer"))
    snprintf(err->description, sizeof(err->description),
             "the token service sent a token of type '%.64s', not Bearer",
             type);
  else if(!exp)
    snprintf(err->description, sizeof(err->description),
             "the token service's reply has no usable expires_in");
  else {
    copy = strdup(tok->valuestring);
    explicit_bzero(tok->valuestring, strlen(tok->valuestring));
    cJSON_Delete(root);
    if(!copy)
      return -ENOMEM;
    *access = copy;
    *expires_in = exp;
    return 0;
  }
  copy_clean(err->error, sizeof(err->error), "invalid_response", true);
  if(cJSON_IsString(tok))
    explicit_bzero(tok->valuestring, strlen(tok->valuestring));
  cJSON_Delete(root);
  return -EAGAIN;
}

/* ===== Requests ===== */

static void on_http_done(const struct http_response *resp, void *arg);

/* log_failure() writes the one log line for a failed token request. */
static void log_failure(const struct token *tk, int rc,
                        const struct token_error *e)
{
  int prio = rc == -EAGAIN ? LOG_WARNING : LOG_ERR;

  /* Loud once per episode of failures; the rest at the info level. */
  if(tk->failing > 1)
    prio = LOG_INFO;

  if(e->error[0] || e->aadsts[0])
    LOG_AT(prio, 0,
           "token: tenant %s: %s%s%s (%s) trace_id=%s correlation_id=%s "
           "http_status=%d",
           tk->tenant, e->error, e->aadsts[0] ? " " : "", e->aadsts,
           e->description[0] ? e->description : "no description",
           e->trace_id[0] ? e->trace_id : "-",
           e->correlation_id[0] ? e->correlation_id : "-", e->http_status);
  else
    LOG_AT(prio, 0, "token: tenant %s: HTTP %d from %s without an error body",
           tk->tenant, e->http_status, tk->url);
}

/* start_request() sends one POST for a new token.  Returns 0 (on_http_done
 * will run) or a negative errno code after logging why. */
static int start_request(struct token *tk)
{
  static const char *const headers[] = {
      "Content-Type: application/x-www-form-urlencoded",
      "Accept: application/json", NULL};
  char *assertion = NULL, *body = NULL;
  char why[256] = "";
  size_t len = 0;
  int rc;

  if(tk->signer) {
    rc = jwt_sign_assertion(tk->signer, tk->url, tk->client_id, time(NULL),
                            JWT_PS256, &assertion, why, sizeof(why));
    if(rc) {
      log_errx("token: tenant %s: cannot make the client assertion: %s",
               tk->tenant, why);
      return rc;
    }
  }
  rc = token_form_body(tk->client_id, tk->scope, tk->secret, tk->secret_len,
                       assertion, &body, &len);
  if(assertion)
    secret_free(assertion, strlen(assertion));
  if(rc) {
    log_errx("token: tenant %s: cannot build the request: %s", tk->tenant,
             strerror(-rc));
    return rc;
  }
  log_debug("token: tenant %s: requesting a token from %s", tk->tenant,
            tk->url);
  tk->sent_at = uv_now(tk->loop);
  rc = http_request(tk->http, "POST", tk->url, headers, body, len, on_http_done,
                    tk);
  secret_free(body, len);
  if(rc) {
    log_errx("token: tenant %s: POST %s: %s", tk->tenant, tk->url,
             strerror(-rc));
    return rc;
  }
  tk->in_flight = true;
  return 0;
}

/* maybe_free() frees tk once it is closing, its timer is closed and no
 * HTTP callback is owed to it, then tells the owner. */
static void maybe_free(struct token *tk)
{
  void (*cb)(void *arg) = tk->closed_cb;
  void *arg = tk->closed_arg;

  if(!tk->closing || !tk->timer_closed || tk->in_flight || tk->dispatching)
    return;
  wipe_access(tk);
  secret_free(tk->secret, tk->secret_len);
  jwt_signer_free(tk->signer);
  free(tk->tenant);
  free(tk->url);
  free(tk->scope);
  free(tk->client_id);
  free(tk);
  if(cb)
    cb(arg);
}

static void on_http_done(const struct http_response *resp, void *arg)
{
  struct token *tk = arg;
  struct token_error e;
  char *access = NULL;
  long expires_in = 0;
  int rc;

  tk->in_flight = false;
  if(tk->closing) {
    /* The timer's close callback answers the waiters. */
    maybe_free(tk);
    return;
  }
  if(resp->result) {
    memset(&e, 0, sizeof(e));
    rc = resp->result;
    if(rc != -ECANCELED && rc != -EMFILE && rc != -ENFILE)
      rc = -EAGAIN;
    copy_clean(e.description, sizeof(e.description), resp->error, true);
    if(rc == -ECANCELED)
      log_debug("token: tenant %s: token request cancelled", tk->tenant);
    else {
      /* Loud once per episode of failures. */
      int prio = tk->failing++ ? LOG_INFO : LOG_WARNING;

      tk->last_result = rc;
      LOG_AT(prio, 0, "token: tenant %s: POST %s: %s (%s)", tk->tenant, tk->url,
             resp->error && resp->error[0] ? resp->error : "failed",
             strerror(-resp->result));
    }
    dispatch(tk, waitq_take(&tk->pending), rc, NULL, &e);
    return;
  }
  rc = token_parse_response(resp->status, resp->body, resp->body_len, &access,
                            &expires_in, &e);
  if(rc) {
    /* The caller decides how long to wait; the token service asks for
     * Retry-After on 429 and 503 as Graph does. */
    if(rc == -EAGAIN)
      copy_clean(e.retry_after, sizeof(e.retry_after), resp->retry_after, true);
    tk->failing++;
    tk->last_result = rc;
    log_failure(tk, rc, &e);
    dispatch(tk, waitq_take(&tk->pending), rc, NULL, &e);
    return;
  }
  {
    uint64_t life = (uint64_t)expires_in * 1000;
    uint64_t margin = life / 5 < 300000 ? life / 5 : 300000;

    wipe_access(tk);
    tk->access = access;
    tk->access_len = strlen(access);
    tk->fresh_until = tk->sent_at + life - margin;
    tk->last_result = 1;
  }
  if(tk->failing)
    log_info("token: tenant %s: the token service answers again after %u "
             "failed request%s",
             tk->tenant, tk->failing, tk->failing == 1 ? "" : "s");
  tk->failing = 0;
  log_info("token: tenant %s: new access token, expires in %ld s", tk->tenant,
           expires_in);
  dispatch(tk, waitq_take(&tk->pending), 0, tk->access, NULL);
}

int token_status(const struct token *tk)
{
  return tk->last_result;
}

static bool is_fresh(const struct token *tk)
{
  return tk->access && uv_now(tk->loop) < tk->fresh_until;
}

/* on_timer() answers the ready waiters: from the cache if the token is
 * still fresh, else they join the next request. */
static void on_timer(uv_timer_t *timer)
{
  struct token *tk = timer->data;
  struct waiter *list = waitq_take(&tk->ready), *w;
  int rc;

  if(is_fresh(tk)) {
    dispatch(tk, list, 0, tk->access, NULL);
    return;
  }
  while(list) {
    w = list;
    list = w->next;
    waitq_push(&tk->pending, w);
  }
  if(tk->in_flight || !tk->pending.head)
    return;
  rc = start_request(tk);
  if(rc)
    dispatch(tk, waitq_take(&tk->pending), rc, NULL, NULL);
}

static void on_timer_closed(uv_handle_t *h)
{
  struct token *tk = h->data;

  tk->timer_closed = true;
  dispatch(tk, waitq_take(&tk->ready), -ECANCELED, NULL, NULL);
  dispatch(tk, waitq_take(&tk->pending), -ECANCELED, NULL, NULL);
  maybe_free(tk);
}

/* ===== Public API ===== */

/* load_credential() reads the secret, or the key and certificate, of t
 * into tk.  Returns 0 or a negative errno code after logging one line. */
static int load_credential(struct token *tk, const struct cfg_tenant *t)
{
  const char *keysrc =
      t->private_key_file ? t->private_key_file : t->private_key_credential;
  char why[512] = "";
  char *key = NULL;
  size_t key_len = 0;
  time_t nb = 0, na = 0, now = time(NULL);
  int rc;

  if(t->client_secret_file || t->client_secret_credential) {
    if(t->client_secret_file)
      rc = secret_read_file(t->client_secret_file, SECRET_MAX_SECRET,
                            &tk->secret, &tk->secret_len, why, sizeof(why));
    else
      rc = secret_read_credential(t->client_secret_credential,
                                  SECRET_MAX_SECRET, &tk->secret,
                                  &tk->secret_len, why, sizeof(why));
    if(rc)
      log_errx("token: tenant %s: client secret: %s", tk->tenant, why);
    return rc;
  }
  if(!t->certificate_file || !keysrc) {
    log_errx("token: tenant %s: no client secret and no certificate with "
             "a private key",
             tk->tenant);
    return -EINVAL;
  }
  if(t->private_key_file)
    rc = secret_read_file(t->private_key_file, SECRET_MAX_KEY, &key, &key_len,
                          why, sizeof(why));
  else
    rc = secret_read_credential(t->private_key_credential, SECRET_MAX_KEY, &key,
                                &key_len, why, sizeof(why));
  if(!rc) {
    rc = jwt_signer_new(t->certificate_file, key, key_len, &tk->signer, why,
                        sizeof(why));
    secret_free(key, key_len);
  }
  if(rc) {
    log_errx("token: tenant %s: certificate %s, private key %s: %s", tk->tenant,
             t->certificate_file, keysrc, why);
    return rc;
  }
  jwt_signer_validity(tk->signer, &nb, &na);
  if(na && now > na) {
    char when[TIMEX_ISO_LEN];

    timex_format_iso(na, when, sizeof(when));
    log_warnx("token: tenant %s: certificate %s expired at %s (notAfter); "
              "the token service will refuse it: renew it and upload the "
              "new one to the app registration",
              tk->tenant, t->certificate_file, when);
  }
  else if(nb && now < nb) {
    char when[TIMEX_ISO_LEN];

    timex_format_iso(nb, when, sizeof(when));
    log_warnx("token: tenant %s: certificate %s is not valid before %s "
              "(notBefore); check the clock",
              tk->tenant, t->certificate_file, when);
  }
  return 0;
}

time_t token_not_after(const struct token *tk)
{
  time_t nb = 0, na = 0;

  if(tk->signer)
    jwt_signer_validity(tk->signer, &nb, &na);
  return na;
}

int token_new(uv_loop_t *loop, struct http_client *http,
              const struct cfg_tenant *t, struct token **out)
{
  return token_new_scoped(loop, http, t, NULL, out);
}

int token_new_scoped(uv_loop_t *loop, struct http_client *http,
                     const struct cfg_tenant *t, const char *scope,
                     struct token **out)
{
  struct token *tk;
  int rc;

  if(!t->tenant_id || !t->client_id || !t->login_url ||
     (!scope && !t->graph_url)) {
    log_errx("token: tenant %s: tenant_id, client_id, login_url and "
             "graph_url are required",
             t->name ? t->name : "?");
    return -EINVAL;
  }
  tk = calloc(1, sizeof(*tk));
  if(!tk)
    return -ENOMEM;
  tk->loop = loop;
  tk->http = http;
  waitq_init(&tk->ready);
  waitq_init(&tk->pending);
  tk->tenant = strdup(t->name ? t->name : t->tenant_id);
  tk->client_id = strdup(t->client_id);
  if(asprintf(&tk->url, "%s/%s/oauth2/v2.0/token", t->login_url,
              t->tenant_id) == -1)
    tk->url = NULL;
  if(scope)
    tk->scope = strdup(scope);
  else if(asprintf(&tk->scope, "%s/.default", t->graph_url) == -1)
    tk->scope = NULL;
  rc = (!tk->tenant || !tk->client_id || !tk->url || !tk->scope) ? -ENOMEM : 0;
  if(rc)
    log_errx("token: tenant %s: out of memory", t->name ? t->name : "?");
  else
    rc = load_credential(tk, t);
  if(!rc) {
    rc = uv_timer_init(loop, &tk->timer);
    if(rc)
      log_errx("token: tenant %s: uv_timer_init: %s", tk->tenant,
               uv_strerror(rc));
  }
  if(rc) {
    /* No handle was opened: free directly. */
    tk->closing = true;
    tk->timer_closed = true;
    maybe_free(tk);
    return rc;
  }
  tk->timer.data = tk;
  *out = tk;
  return 0;
}

int token_get(struct token *tk, token_cb cb, void *arg)
{
  struct waiter *w;
  int rc;

  if(tk->closing)
    return -ECANCELED;
  w = malloc(sizeof(*w));
  if(!w)
    return -ENOMEM;
  w->cb = cb;
  w->arg = arg;
  if(is_fresh(tk) || tk->ready.head) {
    /* Answered by the timer, which re-checks freshness then. */
    waitq_push(&tk->ready, w);
    rc = uv_timer_start(&tk->timer, on_timer, 0, 0);
    if(rc) {
      /* Only possible for a closing handle; keep the waiter queued: the
       * close callback answers it. */
      log_errx("token: tenant %s: uv_timer_start: %s", tk->tenant,
               uv_strerror(rc));
    }
    return 0;
  }
  waitq_push(&tk->pending, w);
  if(tk->in_flight)
    return 0;
  rc = start_request(tk);
  if(rc) {
    /* Not in flight, so w is the only pending waiter. */
    waitq_init(&tk->pending);
    free(w);
    return rc;
  }
  return 0;
}

void token_invalidate(struct token *tk)
{
  if(tk->dispatching) {
    /* A callback is using tk->access as its bearer; wipe it afterwards. */
    tk->fresh_until = 0;
    tk->stale = true;
    return;
  }
  wipe_access(tk);
}

void token_close(struct token *tk, void (*closed_cb)(void *arg), void *arg)
{
  if(tk->closing)
    return;
  tk->closing = true;
  tk->closed_cb = closed_cb;
  tk->closed_arg = arg;
  uv_timer_stop(&tk->timer);
  uv_close((uv_handle_t *)&tk->timer, on_timer_closed);
}
