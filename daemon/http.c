/* SPDX-License-Identifier: MIT
 *
 * http: HTTP clients over the process's one libcurl multi handle
 * (http_pool.c, which drives it from the uv loop).  Each client has its own
 * options and a FIFO: requests beyond its max_concurrency wait there.
 * This module never logs above debug: transport errors are returned in
 * struct http_response and the caller (the graph layer) logs them once.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "http_pool.h"
#include "log.h"
#include "uuid.h"

#ifndef QD_VERSION
#define QD_VERSION "0"
#endif

#define container_of(ptr, type, member)                                        \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define DEFAULT_CONCURRENCY 4
#define DEFAULT_CONNECT_MS 10000
#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_MAX_RESPONSE ((size_t)64 << 20)

/* One request, from http_request() until its callback has returned.  It is
 * on exactly one of the client's lists (queued or active) until it
 * completes.  The easy handle is made and configured up front, so that
 * every option error is reported by http_request() itself. */
struct xfer {
  TAILQ_ENTRY(xfer) entry;
  struct http_client *c;
  CURL *easy;
  struct curl_slist *headers;
  char *method;
  char *url;
  http_done_cb cb;
  void *arg;
  char *body;      /* our copy of the request body, curl reads it there */
  size_t body_len; /* (so it can be wiped: a token request holds a secret) */
  struct buf resp; /* response body, NUL-terminated once allocated */
  int too_big;     /* the write callback hit max_response_size */
  int sock_errno;  /* errno of a socket() that failed, or 0 */
  char *content_type;
  char *retry_after;
  char *request_id;
  char *location;
  char *throttle_scope;
  char crid[37];
  char errbuf[CURL_ERROR_SIZE];
};

TAILQ_HEAD(xfer_list, xfer);

struct http_client {
  uv_loop_t *loop;
  struct http_pool *pool; /* NULL once http_client_close() let it go */
  uv_timer_t timer;       /* never started: its close callback frees the client,
                             so closed_cb runs from the loop, never from
                             http_client_close() */
  char *user_agent;
  char *ca_file;
  bool url_secret;
  unsigned max_concurrency;
  long connect_timeout_ms;
  long timeout_ms;
  size_t max_response_size;
  struct xfer_list queued;
  struct xfer_list active;
  unsigned nactive;
  int closing;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

static void pump(struct http_client *c);

/* xfer_errno() is the one place a CURLcode becomes a negative
 * errno code.  -EMSGSIZE needs the transfer, since curl reports our own
 * write-callback abort as a plain CURLE_WRITE_ERROR.  TLS failures
 * (handshake, certificate, verification) and a server speaking broken or
 * truncated HTTP are all -EPROTO: the caller may retry either, but neither
 * is a network outage.  Running out of descriptors is found apart, by
 * fd_shortage(). */
static int xfer_errno(CURLcode rc, const struct xfer *x)
{
  switch(rc) {
  case CURLE_OK:
    return 0;
  case CURLE_OPERATION_TIMEDOUT:
    return -ETIMEDOUT;
  case CURLE_COULDNT_CONNECT:
    return -ECONNREFUSED;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return -EHOSTUNREACH;
  case CURLE_WRITE_ERROR:
    return x->too_big ? -EMSGSIZE : -EIO;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_UNSUPPORTED_PROTOCOL:
    return -EPROTO;
  default:
    return -EIO;
  }
}

/* Free descriptors a transfer may need at once: its socket, the CA
 * bundle, hashed CA files looked up in CAPATH. */
#define FD_HEADROOM 8

/* fd_shortage() tells whether a failed transfer ran out of file
 * descriptors in the process (-EMFILE) or the system (-ENFILE): the
 * socket() curl asked for failed so, or fewer than FD_HEADROOM can be
 * opened now.  The second test is needed because curl closes the socket
 * before it reports a CA bundle that could not be opened as "error
 * setting certificate file", or a failed socket() as "Failed to connect",
 * which send an admin the wrong way.  Returns 0 when descriptors are
 * available. */
static int fd_shortage(const struct xfer *x)
{
  int fds[FD_HEADROOM], n, rc = 0;

  if(x->sock_errno == EMFILE || x->sock_errno == ENFILE)
    return -x->sock_errno;
  for(n = 0; n < FD_HEADROOM; n++) {
    fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if(fds[n] < 0) {
      if(errno == EMFILE || errno == ENFILE)
        rc = -errno;
      break;
    }
  }
  while(n > 0)
    close(fds[--n]);
  return rc;
}

/* on_open_socket() is curl's socket(): it keeps the errno of a failure. */
static curl_socket_t on_open_socket(void *userp, curlsocktype purpose,
                                    struct curl_sockaddr *a)
{
  struct xfer *x = userp;
  curl_socket_t fd;

  (void)purpose;
  fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if(fd == CURL_SOCKET_BAD)
    x->sock_errno = errno;
  return fd;
}

/* xfer_free() releases a transfer and everything it owns.  The easy handle
 * must no longer be in the multi handle.  The request headers (one may
 * carry the bearer token), the request body (a token request carries the
 * client secret or assertion) and the response (a token response carries
 * the access token) are wiped before they are freed; what curl keeps in
 * buffers of its own is beyond reach. */
static void xfer_free(struct xfer *x)
{
  struct curl_slist *l;

  if(x->easy)
    curl_easy_cleanup(x->easy);
  for(l = x->headers; l; l = l->next)
    explicit_bzero(l->data, strlen(l->data));
  curl_slist_free_all(x->headers);
  if(x->body) {
    explicit_bzero(x->body, x->body_len);
    free(x->body);
  }
  if(x->resp.data)
    explicit_bzero(x->resp.data, x->resp.len);
  free(x->method);
  free(x->url);
  free(x->resp.data);
  free(x->content_type);
  free(x->retry_after);
  free(x->request_id);
  free(x->location);
  free(x->throttle_scope);
  free(x);
}

/* xfer_clear_headers() forgets the captured response headers, when a new
 * status line starts another (interim or final) response. */
static void xfer_clear_headers(struct xfer *x)
{
  char **f[] = {&x->content_type, &x->retry_after, &x->request_id, &x->location,
                &x->throttle_scope};
  size_t i;

  for(i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    free(*f[i]);
    *f[i] = NULL;
  }
}

/* url_loggable() returns how many bytes of url to log: everything up to
 * the query string, which may hold opaque delta/skip tokens, or only
 * scheme://host when the client's URLs are secrets. */
static int url_loggable(const struct http_client *c, const char *url)
{
  const char *p = strstr(url, "://");

  if(c->url_secret && p)
    return (int)(p + 3 - url) + (int)strcspn(p + 3, "/?#");
  return (int)strcspn(url, "?#");
}

/* complete() ends a transfer that is on no list any more and whose easy
 * handle is out of the multi handle: it builds the response, runs the
 * callback and frees x.  result overrides rc when non-zero (cancellation
 * and start-up failures have no CURLcode of their own). */
static void complete(struct xfer *x, CURLcode rc, int result)
{
  struct http_response resp;
  double secs = 0;
  long status = 0;

  memset(&resp, 0, sizeof(resp));
  if(!result) {
    result = xfer_errno(rc, x);
    if(result && result != -EMSGSIZE) {
      int shortage = fd_shortage(x);

      if(shortage) {
        char why[CURL_ERROR_SIZE];

        snprintf(why, sizeof(why), "%.200s",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        snprintf(x->errbuf, sizeof(x->errbuf), "%s (curl: %.200s)",
                 shortage == -EMFILE ? "EMFILE, out of file descriptors"
                                     : "ENFILE, system file table full",
                 why);
        result = shortage;
      }
    }
  }
  if(!result)
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &secs);
  resp.result = result;
  resp.status = result ? 0 : status;
  resp.body = "";
  resp.client_request_id = x->crid;
  resp.seconds = secs;
  resp.error = "";
  if(!result) {
    if(x->resp.data) {
      resp.body = x->resp.data;
      resp.body_len = x->resp.len;
    }
    resp.content_type = x->content_type;
    resp.retry_after = x->retry_after;
    resp.request_id = x->request_id;
    resp.location = x->location;
    resp.throttle_scope = x->throttle_scope;
    log_debug("http: %s %.*s: %ld in %.3f s (client-request-id %s)", x->method,
              url_loggable(x->c, x->url), x->url, status, secs, x->crid);
  }
  else {
    if(result == -ECANCELED)
      resp.error = "canceled";
    else if(result == -EMSGSIZE)
      resp.error = "response body too large";
    else if(x->errbuf[0])
      resp.error = x->errbuf;
    else
      resp.error = curl_easy_strerror(rc);
    log_debug("http: %s %.*s: %s (client-request-id %s)", x->method,
              url_loggable(x->c, x->url), x->url, resp.error, x->crid);
  }
  x->cb(&resp, x->arg);
  xfer_free(x);
}

/* on_done() is the pool's completion callback: it completes the
 * transfer of easy and starts its client's next queued one.  A callback
 * may close the client; pump() then starts nothing. */
static void on_done(CURL *easy, CURLcode rc)
{
  struct http_client *c;
  struct xfer *x;
  char *priv = NULL;

  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
  x = (struct xfer *)(void *)priv;
  c = x->c;
  TAILQ_REMOVE(&c->active, x, entry);
  c->nactive--;
  complete(x, rc, 0);
  pump(c);
}

/* start() hands x to curl.  Returns 0, or a negative errno code with x
 * untouched (the caller still owns it). */
static int start(struct http_client *c, struct xfer *x)
{
  int rc = http_pool_add(c->pool, x->easy);

  if(rc)
    return rc;
  TAILQ_INSERT_TAIL(&c->active, x, entry);
  c->nactive++;
  log_debug("http: %s %.*s (client-request-id %s)", x->method,
            url_loggable(x->c, x->url), x->url, x->crid);
  return 0;
}

/* pump() starts queued transfers, oldest first, while there is room.  It
 * runs from loop callbacks only, so a transfer that cannot start is
 * completed (with its callback) right here. */
static void pump(struct http_client *c)
{
  while(!c->closing && c->nactive < c->max_concurrency) {
    struct xfer *x = TAILQ_FIRST(&c->queued);
    int rc;

    if(!x)
      break;
    TAILQ_REMOVE(&c->queued, x, entry);
    rc = start(c, x);
    if(rc)
      complete(x, CURLE_OK, rc);
  }
}

/* on_client_closed() frees c once http_client_close() has closed its
 * timer, then calls closed_cb, which may close the loop. */
static void on_client_closed(uv_handle_t *h)
{
  struct http_client *c = container_of(h, struct http_client, timer);
  void (*cb)(void *) = c->closed_cb;
  void *arg = c->closed_arg;

  free(c);
  if(cb)
    cb(arg);
}

/* ===== easy-handle callbacks ===== */

/* on_body() is CURLOPT_WRITEFUNCTION: append to the body buffer.  Returns
 * 0 (curl then fails with CURLE_WRITE_ERROR) past max_response_size or
 * when memory runs out. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
  struct xfer *x = userp;
  size_t n = size * nmemb, max = x->c->max_response_size;

  if(n > max - x->resp.len) {
    x->too_big = 1;
    return 0;
  }
  return buf_append(&x->resp, data, n) ? 0 : n;
}

/* on_header() is CURLOPT_HEADERFUNCTION: keep the few response headers
 * the caller needs, names matched without case and values trimmed.  A
 * status line starts a new response (after a 1xx), so only the final
 * response's headers remain.  Returns 0 (failing the transfer) when memory
 * runs out. */
static size_t on_header(char *line, size_t size, size_t nitems, void *userp)
{
  static const struct {
    const char *name;
    size_t off;
  } want[] = {
      {"content-type", offsetof(struct xfer, content_type)},
      {"retry-after", offsetof(struct xfer, retry_after)},
      {"request-id", offsetof(struct xfer, request_id)},
      {"location", offsetof(struct xfer, location)},
      {"x-ms-throttle-scope", offsetof(struct xfer, throttle_scope)},
  };
  struct xfer *x = userp;
  size_t n = size * nitems, nlen, i;
  const char *colon, *v, *end;

  if(n >= 5 && !strncmp(line, "HTTP/", 5)) {
    xfer_clear_headers(x);
    return n;
  }
  colon = memchr(line, ':', n);
  if(!colon)
    return n;
  nlen = (size_t)(colon - line);
  v = colon + 1;
  end = line + n;
  while(v < end && (*v == ' ' || *v == '\t'))
    v++;
  while(end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
                    end[-1] == '\n'))
    end--;
  for(i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    char **field;

    if(strlen(want[i].name) != nlen || strncasecmp(line, want[i].name, nlen))
      continue;
    field = (char **)(void *)((char *)x + want[i].off);
    free(*field);
    *field = strndup(v, (size_t)(end - v));
    if(!*field)
      return 0;
    break;
  }
  return n;
}

/* ===== public API ===== */

/* http_client_new(): see http.h.  curl_global_init() runs on the first
 * call; it is not thread-safe, which is fine since the daemon has no
 * threads (tests may run servers in threads, but never call this from
 * them).  opts may be NULL for all defaults.  On failure nothing is left
 * allocated. */
int http_client_new(uv_loop_t *loop, const struct http_client_opts *opts,
                    struct http_client **out)
{
  static const struct http_client_opts defaults;
  static int curl_ready;
  struct http_client *c;
  int rc = -ENOMEM;

  *out = NULL;
  if(!opts)
    opts = &defaults;
  if(!curl_ready) {
    if(curl_global_init(CURL_GLOBAL_DEFAULT))
      return -EIO;
    curl_ready = 1;
  }
  c = calloc(1, sizeof(*c));
  if(!c)
    return -ENOMEM;
  c->loop = loop;
  TAILQ_INIT(&c->queued);
  TAILQ_INIT(&c->active);
  c->max_concurrency =
      opts->max_concurrency ? opts->max_concurrency : DEFAULT_CONCURRENCY;
  c->connect_timeout_ms = opts->connect_timeout_ms
                              ? (long)opts->connect_timeout_ms
                              : DEFAULT_CONNECT_MS;
  c->timeout_ms =
      opts->timeout_ms ? (long)opts->timeout_ms : DEFAULT_TIMEOUT_MS;
  c->max_response_size =
      opts->max_response_size ? opts->max_response_size : DEFAULT_MAX_RESPONSE;
  c->user_agent =
      strdup(opts->user_agent ? opts->user_agent : "quarantined/" QD_VERSION);
  if(!c->user_agent)
    goto fail;
  c->url_secret = opts->url_secret;
  if(opts->ca_file) {
    c->ca_file = strdup(opts->ca_file);
    if(!c->ca_file)
      goto fail;
  }
  rc = uv_timer_init(loop, &c->timer);
  if(rc)
    goto fail;
  c->pool = http_pool_get(loop, on_done);
  if(!c->pool) {
    /* The timer is open: free c in its close callback. */
    free(c->user_agent);
    free(c->ca_file);
    uv_close((uv_handle_t *)&c->timer, on_client_closed);
    return -ENOMEM;
  }
  *out = c;
  return 0;

fail:
  free(c->user_agent);
  free(c->ca_file);
  free(c);
  return rc;
}

/* valid_method() tells whether s is a non-empty HTTP method token. */
static int valid_method(const char *s)
{
  if(!*s)
    return 0;
  for(; *s; s++)
    if(!strchr("!#$%&'*+-.^_`|~", *s) && !(*s >= '0' && *s <= '9') &&
       !(*s >= 'A' && *s <= 'Z') && !(*s >= 'a' && *s <= 'z'))
      return 0;
  return 1;
}

/* check_url() returns 0 when url parses as an absolute http or https URL,
 * so that a bad URL fails in http_request() rather than in a callback;
 * -EINVAL otherwise, or -ENOMEM. */
static int check_url(const char *url)
{
  CURLU *u = curl_url();
  char *scheme = NULL;
  int rc = -EINVAL;

  if(!u)
    return -ENOMEM;
  if(!curl_url_set(u, CURLUPART_URL, url, 0) &&
     !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
     (!strcmp(scheme, "http") || !strcmp(scheme, "https")))
    rc = 0;
  curl_free(scheme);
  curl_url_cleanup(u);
  return rc;
}

/* setup_easy() makes x's easy handle with every option set.  Returns 0 or
 * a negative errno code; on failure x keeps what it got, and xfer_free()
 * releases it. */
static int setup_easy(struct http_client *c, struct xfer *x,
                      const char *const *headers, const char *body,
                      size_t body_len)
{
  char line[64];
  CURL *e;
  CURLcode rc = CURLE_OK;
  struct curl_slist *l;

  x->easy = curl_easy_init();
  if(!x->easy)
    return -ENOMEM;
  e = x->easy;

  for(; headers && *headers; headers++) {
    if(strpbrk(*headers, "\r\n") || !strchr(*headers, ':'))
      return -EINVAL;
    /* The caller's own client-request-id replaces the fresh one. */
    if(!strncasecmp(*headers, "client-request-id:", 18)) {
      const char *v = *headers + 18;

      while(*v == ' ')
        v++;
      if(!*v || strlen(v) >= sizeof(x->crid))
        return -EINVAL;
      snprintf(x->crid, sizeof(x->crid), "%s", v);
      continue;
    }
    l = curl_slist_append(x->headers, *headers);
    if(!l)
      return -ENOMEM;
    x->headers = l;
  }
  snprintf(line, sizeof(line), "client-request-id: %s", x->crid);
  l = curl_slist_append(x->headers, line);
  if(!l)
    return -ENOMEM;
  x->headers = l;
  /* No "Expect: 100-continue" round trip for large bodies. */
  l = curl_slist_append(x->headers, "Expect:");
  if(!l)
    return -ENOMEM;
  x->headers = l;

#define SET(opt, val)                                                          \
  do {                                                                         \
    if(!rc)                                                                    \
      rc = curl_easy_setopt(e, opt, val);                                      \
  } while(0)
  /* A preference this libcurl may not have been built with (HTTP/2
   * without nghttp2, a CA directory with Schannel): left unset. */
#define PREFER(opt, val)                                                       \
  do {                                                                         \
    CURLcode r_ = rc ? rc : curl_easy_setopt(e, opt, val);                     \
    if(r_ != CURLE_NOT_BUILT_IN && r_ != CURLE_UNSUPPORTED_PROTOCOL)           \
      rc = r_;                                                                 \
  } while(0)
  SET(CURLOPT_URL, x->url);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_PRIVATE, (void *)x);
  SET(CURLOPT_ERRORBUFFER, x->errbuf);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  PREFER(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  /* Rather wait for a connection that is being set up to the same host
   * and multiplex on it than open another (HTTP/2).  Only over TLS: HTTP/2
   * is asked for there alone, and over cleartext the wait would queue a
   * request behind a busy HTTP/1.1 connection instead of opening one. */
  SET(CURLOPT_PIPEWAIT, strncasecmp(x->url, "https:", 6) ? 0L : 1L);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_USERAGENT, c->user_agent);
  SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
  SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  SET(CURLOPT_OPENSOCKETDATA, (void *)x);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, (void *)x);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, (void *)x);
  SET(CURLOPT_HTTPHEADER, x->headers);
  if(c->ca_file) {
    /* The extra bundle adds to the system store rather than replacing it:
     * CAPATH keeps the distribution's hashed certificates in play.
     * Schannel has no CAPATH: there, CAINFO's roots are all that is
     * trusted (https://curl.se/libcurl/c/CURLOPT_CAPATH.html). */
    SET(CURLOPT_CAINFO, c->ca_file);
    PREFER(CURLOPT_CAPATH, "/etc/ssl/certs");
  }
  /* libcurl sends a request again, on a new connection, when the reused
   * connection it went out on dies before any answer
   * (https://curl.se/libcurl/c/CURLOPT_FRESH_CONNECT.html: a fresh
   * connection is never reused, so never retried that way).  Graph may
   * have processed a PATCH before the connection died, and the daemon's
   * one write is never sent twice: a PATCH always goes out on a new
   * connection, so its fate is the caller's to settle. */
  if(!strcmp(x->method, "PATCH"))
    SET(CURLOPT_FRESH_CONNECT, 1L);
  if(!strcmp(x->method, "HEAD"))
    SET(CURLOPT_NOBODY, 1L);
  else if(strcmp(x->method, "GET") || body) {
    /* POST is curl's method for a body; any other method only replaces
     * its name.  curl reads the body from our copy (CURLOPT_POSTFIELDS
     * does not copy), which xfer_free() wipes.  Without a Content-Type
     * header from the caller, curl sends application/x-www-form-urlencoded.
     */
    if(strcmp(x->method, "POST"))
      SET(CURLOPT_CUSTOMREQUEST, x->method);
    if(body || !strcmp(x->method, "POST")) {
      x->body = malloc(body_len + 1);
      if(!x->body)
        return -ENOMEM;
      if(body_len)
        memcpy(x->body, body, body_len);
      x->body[body_len] = '\0';
      x->body_len = body_len;
      SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
      SET(CURLOPT_POSTFIELDS, x->body);
    }
  }
#undef SET
#undef PREFER
  if(rc == CURLE_OUT_OF_MEMORY)
    return -ENOMEM;
  return rc ? -EINVAL : 0;
}

/* http_request(): see http.h.  Besides the errors there, returns -EINVAL
 * for a method that is not a token, a URL that is not http(s) or a header
 * line without a colon or with CR/LF, and -ESHUTDOWN once
 * http_client_close() has been called (also from inside a callback it
 * runs). */
int http_request(struct http_client *c, const char *method, const char *url,
                 const char *const *headers, const char *body, size_t body_len,
                 http_done_cb cb, void *arg)
{
  struct xfer *x;
  int rc;

  if(c->closing)
    return -ESHUTDOWN;
  if(!method || !valid_method(method) || !url || !cb)
    return -EINVAL;
  rc = check_url(url);
  if(rc)
    return rc;
  x = calloc(1, sizeof(*x));
  if(!x)
    return -ENOMEM;
  x->c = c;
  x->cb = cb;
  x->arg = arg;
  uuid_v4(x->crid);
  x->method = strdup(method);
  x->url = strdup(url);
  if(!x->method || !x->url) {
    xfer_free(x);
    return -ENOMEM;
  }
  rc = setup_easy(c, x, headers, body, body_len);
  if(rc) {
    xfer_free(x);
    return rc;
  }
  /* Start at once when there is room: nothing is queued then, since the
   * queue only fills while max_concurrency transfers are in flight. */
  if(c->nactive < c->max_concurrency && TAILQ_EMPTY(&c->queued)) {
    rc = start(c, x);
    if(rc) {
      xfer_free(x);
      return rc;
    }
  }
  else
    TAILQ_INSERT_TAIL(&c->queued, x, entry);
  return 0;
}

/* http_client_close(): see http.h.  Cancels in-flight transfers, then
 * queued ones, in the order they were made, and lets the shared pool go
 * (the last client closes it).  The client is freed by its timer's close
 * callback, which then calls closed_cb.  A second call (e.g. from a
 * callback run here) does nothing. */
void http_client_close(struct http_client *c, void (*closed_cb)(void *arg),
                       void *arg)
{
  struct xfer *x;

  if(c->closing)
    return;
  c->closing = 1;
  c->closed_cb = closed_cb;
  c->closed_arg = arg;
  while(!TAILQ_EMPTY(&c->active)) {
    x = TAILQ_FIRST(&c->active);
    TAILQ_REMOVE(&c->active, x, entry);
    c->nactive--;
    http_pool_remove(c->pool, x->easy);
    complete(x, CURLE_OK, -ECANCELED);
  }
  while(!TAILQ_EMPTY(&c->queued)) {
    x = TAILQ_FIRST(&c->queued);
    TAILQ_REMOVE(&c->queued, x, entry);
    complete(x, CURLE_OK, -ECANCELED);
  }
  http_pool_put(c->pool);
  c->pool = NULL;
  free(c->user_agent);
  free(c->ca_file);
  uv_close((uv_handle_t *)&c->timer, on_client_closed);
}
