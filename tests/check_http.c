/* SPDX-License-Identifier: MIT
 *
 * check_http: the HTTP client against real servers in this process: a
 * loopback libmicrohttpd (plain and TLS, with a CA made by the openssl
 * CLI), a raw socket server for hand-written replies, and a listener that
 * never answers.  Every test ends with uv_loop_close() == 0.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>
#include <uv.h>

#include "http.h"
#include "log.h"
#include "testutil.h"
#include "uuid.h"

/* "quarantined gzip test line\n" 40 times, gzip-compressed. */
static const unsigned char gz_body[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x2b, 0x2c,
    0x4d, 0x2c, 0x4a, 0xcc, 0x2b, 0xc9, 0xcc, 0x4b, 0x4d, 0x51, 0x48, 0xaf,
    0xca, 0x2c, 0x50, 0x28, 0x49, 0x2d, 0x2e, 0x51, 0xc8, 0x01, 0xf2, 0xb9,
    0x0a, 0x47, 0xa5, 0x46, 0xa5, 0x46, 0xa5, 0x46, 0xa5, 0xb0, 0x49, 0x01,
    0x00, 0x6f, 0x09, 0x7c, 0xa0, 0x38, 0x04, 0x00, 0x00};
#define GZ_LINE "quarantined gzip test line\n"
#define GZ_COUNT 40

#define MAX_SEEN 64

/* What the MHD server saw; written by its threads, read by the test. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t changed; /* cur or narrivals changed */
  int cur, max;           /* concurrent /slow requests */
  int arrivals[MAX_SEEN]; /* /slow?i=N in arrival order */
  int narrivals;
  char crids[MAX_SEEN][40]; /* client-request-id of every request */
  int ncrids;
  int hello_hits;
  int drop_hits; /* /drop closes the connection unanswered on odd hits */
  char accept_encoding[128];
  char user_agent[128];
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static struct MHD_Daemon *mhd;
static char base[64]; /* "http://127.0.0.1:PORT" or https */
static uv_loop_t loop;
static int in_request; /* set around every http_request() call */
static char *tls_dir;

/* One request's outcome, copied out of the callback. */
struct got {
  int called;
  int sync; /* the callback ran inside http_request() */
  int result;
  long status;
  char *body;
  size_t body_len;
  char *content_type;
  char *retry_after;
  char *request_id;
  char *location;
  char *throttle_scope;
  char *crid;
  char *error;
  double seconds;
  int order; /* completion order, from 1 */
  /* Optional follow-up action run inside the callback. */
  struct http_client *reissue_on; /* issue a request on this client */
  struct got *reissue_got;        /* ...completing into this */
  int reissue_rc;
  struct http_client *close_on; /* close this client */
};

static int ncompleted;
static int nclosed;

static char *dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

static void got_free(struct got *g)
{
  free(g->body);
  free(g->content_type);
  free(g->retry_after);
  free(g->request_id);
  free(g->location);
  free(g->throttle_scope);
  free(g->crid);
  free(g->error);
}

/* on_done() copies a response into the struct got that arg points to,
 * then runs the follow-up the test asked for. */
static void on_done(const struct http_response *r, void *arg)
{
  struct got *g = arg;

  g->called++;
  g->sync |= in_request;
  g->order = ++ncompleted;
  g->result = r->result;
  g->status = r->status;
  g->body = malloc(r->body_len + 1);
  memcpy(g->body, r->body, r->body_len + 1);
  g->body_len = r->body_len;
  g->content_type = dup_or_null(r->content_type);
  g->retry_after = dup_or_null(r->retry_after);
  g->request_id = dup_or_null(r->request_id);
  g->location = dup_or_null(r->location);
  g->throttle_scope = dup_or_null(r->throttle_scope);
  g->crid = dup_or_null(r->client_request_id);
  g->error = dup_or_null(r->error);
  g->seconds = r->seconds;
  if(g->reissue_on)
    g->reissue_rc = http_request(g->reissue_on, "GET", base, NULL, NULL, 0,
                                 on_done, g->reissue_got);
  if(g->close_on)
    http_client_close(g->close_on, NULL, NULL);
}

static void on_closed(void *arg)
{
  (void)arg;
  nclosed++;
}

/* req() issues a request to url (a path is appended to base). */
static int req(struct http_client *c, const char *method, const char *url,
               const char *const *hdrs, const char *body, size_t len,
               struct got *g)
{
  char full[256];
  int rc;

  if(url[0] == '/')
    snprintf(full, sizeof(full), "%s%s", base, url);
  else
    snprintf(full, sizeof(full), "%s", url);
  in_request = 1;
  rc = http_request(c, method, full, hdrs, body, len, on_done, g);
  in_request = 0;
  return rc;
}

/* wait_done() runs the loop until n requests have completed. */
static void wait_done(int n)
{
  while(ncompleted < n)
    if(!uv_run(&loop, UV_RUN_ONCE) && ncompleted < n)
      ck_abort_msg("loop went idle with %d of %d requests done", ncompleted, n);
}

/* finish() closes the client and then the loop, which must have no
 * handle left (libuv's MAKE_VALGRIND_HAPPY). */
static void finish(struct http_client *c)
{
  http_client_close(c, on_closed, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nclosed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static struct http_client *client(unsigned conc, unsigned timeout_ms,
                                  size_t max_size, const char *ca)
{
  struct http_client_opts o = {
      .user_agent = "qd-test/1",
      .ca_file = ca,
      .max_concurrency = conc,
      .timeout_ms = timeout_ms,
      .max_response_size = max_size,
  };
  struct http_client *c = NULL;

  ck_assert_int_eq(http_client_new(&loop, &o, &c), 0);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* ===== the MHD server ===== */

/* note() copies request header name (or "") into dst. */
static void note(struct MHD_Connection *conn, const char *name, char *dst,
                 size_t size)
{
  const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

  snprintf(dst, size, "%s", v ? v : "");
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code,
                             const void *body, size_t len,
                             const char *const *hdrs)
{
  struct MHD_Response *r;
  enum MHD_Result ret;

  r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
                                      MHD_RESPMEM_MUST_COPY);
  for(; hdrs && hdrs[0]; hdrs += 2)
    MHD_add_response_header(r, hdrs[0], hdrs[1]);
  ret = MHD_queue_response(conn, code, r);
  MHD_destroy_response(r);
  return ret;
}

static unsigned long arg_ul(struct MHD_Connection *conn, const char *name)
{
  const char *v =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);

  return v ? strtoul(v, NULL, 10) : 0;
}

/* handler() is the MHD access handler, run on the server's threads.  The
 * first call per request records its client-request-id, the next ones
 * collect the upload, and the last one answers by path: /hello (fixed
 * body and headers), /echo ("METHOD:" + body), /gzip, /size?n=N bytes,
 * /slow?i=N&of=T (answered once two have overlapped or all T arrived,
 * counting overlap), /redirect (302), /drop (closes
 * the connection unanswered on every odd hit, answers 200 on the others).
 */
static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *data,
                               size_t *data_size, void **con_cls)
{
  struct tu_upload *up;

  (void)cls;
  (void)version;
  switch(tu_upload_collect(con_cls, data, data_size)) {
  case TU_UPLOAD_FIRST: {
    const char *crid =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "client-request-id");

    pthread_mutex_lock(&srv.mu);
    if(srv.ncrids < MAX_SEEN)
      snprintf(srv.crids[srv.ncrids++], sizeof(srv.crids[0]), "%s",
               crid ? crid : "");
    note(conn, "User-Agent", srv.user_agent, sizeof(srv.user_agent));
    pthread_mutex_unlock(&srv.mu);
    return MHD_YES;
  }
  case TU_UPLOAD_MORE:
    return MHD_YES;
  case TU_UPLOAD_ERROR:
    return MHD_NO;
  case TU_UPLOAD_DONE:
    break;
  }
  up = *con_cls;

  if(!strcmp(url, "/hello")) {
    static const char *const h[] = {"Content-Type",
                                    "text/plain; charset=utf-8",
                                    "Retry-After",
                                    "7",
                                    "request-id",
                                    "5f0c2d4e-0000-4000-8000-000000000001",
                                    "x-ms-throttle-scope",
                                    "Tenant/ApplicationTenant/a/b",
                                    NULL};

    pthread_mutex_lock(&srv.mu);
    srv.hello_hits++;
    pthread_mutex_unlock(&srv.mu);
    return reply(conn, 200, "hello, world\n", 13, h);
  }
  if(!strcmp(url, "/echo")) {
    const char *ct =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *h[] = {"Content-Type", ct, NULL};
    size_t mlen = strlen(method);
    char *out = malloc(mlen + 1 + up->len);
    enum MHD_Result ret;

    memcpy(out, method, mlen);
    out[mlen] = ':';
    if(up->len)
      memcpy(out + mlen + 1, up->buf, up->len);
    ret = reply(conn, 200, out, mlen + 1 + up->len, ct ? h : NULL);
    free(out);
    return ret;
  }
  if(!strcmp(url, "/gzip")) {
    static const char *const h[] = {"Content-Encoding", "gzip", "Content-Type",
                                    "text/plain", NULL};

    pthread_mutex_lock(&srv.mu);
    note(conn, "Accept-Encoding", srv.accept_encoding,
         sizeof(srv.accept_encoding));
    pthread_mutex_unlock(&srv.mu);
    return reply(conn, 200, gz_body, sizeof(gz_body), h);
  }
  if(!strcmp(url, "/size")) {
    size_t n = arg_ul(conn, "n");
    char *out = malloc(n + 1);
    enum MHD_Result ret;

    memset(out, 'x', n);
    ret = reply(conn, 200, out, n, NULL);
    free(out);
    return ret;
  }
  if(!strcmp(url, "/slow")) {
    struct timespec until;

    pthread_mutex_lock(&srv.mu);
    if(srv.narrivals < MAX_SEEN)
      srv.arrivals[srv.narrivals++] = (int)arg_ul(conn, "i");
    if(++srv.cur > srv.max)
      srv.max = srv.cur;
    pthread_cond_broadcast(&srv.changed);
    /* Held until two have overlapped (or the last has come), not for a
     * time: on a loaded machine the second may come late, and the client
     * must not start a third meanwhile.  A client that never sends a
     * second is let go after 10 s, and fails the test's overlap check. */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while(srv.max < 2 && srv.narrivals < (int)arg_ul(conn, "of") &&
          pthread_cond_timedwait(&srv.changed, &srv.mu, &until) == 0)
      ;
    srv.cur--;
    pthread_mutex_unlock(&srv.mu);
    return reply(conn, 200, "ok", 2, NULL);
  }
  if(!strcmp(url, "/drop")) {
    int hit;

    pthread_mutex_lock(&srv.mu);
    hit = ++srv.drop_hits;
    pthread_mutex_unlock(&srv.mu);
    if(hit % 2)
      return MHD_NO; /* the connection closes with no answer */
    return reply(conn, 200, "ok", 2, NULL);
  }
  if(!strcmp(url, "/redirect")) {
    static const char *const h[] = {"Location", "/hello", NULL};

    return reply(conn, 302, "moved", 5, h);
  }
  return reply(conn, 404, "no", 2, NULL);
}

/* server_start() starts the server with one thread per connection (so
 * /slow requests overlap), TLS when key and cert are given. */
static void server_start(const char *key, const char *cert)
{
  mhd = tu_mhd_start(MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_THREAD_PER_CONNECTION,
                     handler, key, cert, base, sizeof(base));
}

static void common_setup(void)
{
  tu_no_proxy();
  pthread_mutex_lock(&srv.mu);
  srv.cur = srv.max = srv.narrivals = srv.ncrids = srv.hello_hits = 0;
  srv.drop_hits = 0;
  srv.accept_encoding[0] = srv.user_agent[0] = '\0';
  pthread_mutex_unlock(&srv.mu);
  ncompleted = nclosed = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
}

static void setup(void)
{
  common_setup();
  server_start(NULL, NULL);
}

static void teardown(void)
{
  if(mhd)
    MHD_stop_daemon(mhd);
  mhd = NULL;
}

/* listener() binds 127.0.0.1 on a free port and returns the socket, which
 * listens (connections complete in the kernel backlog but are never
 * accepted, so no reply ever comes) when do_listen is set.  *port gets the
 * port. */
static int listener(int do_listen, unsigned *port)
{
  struct sockaddr_in sin = {.sin_family = AF_INET};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  ck_assert_int_ge(fd, 0);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  if(do_listen)
    ck_assert_int_eq(listen(fd, 16), 0);
  *port = ntohs(sin.sin_port);
  return fd;
}

/* ===== plain HTTP ===== */

START_TEST(test_get_headers)
{
  struct http_client *c;
  struct got g = {0};

  log_set_level(LOG_DEBUG); /* run the debug lines' formatting too */
  c = client(0, 0, 0, NULL);
  ck_assert_int_eq(req(c, "GET", "/hello?x=1", NULL, NULL, 0, &g), 0);
  ck_assert_int_eq(g.called, 0);
  wait_done(1);
  log_set_level(LOG_INFO);
  ck_assert_int_eq(g.called, 1);
  ck_assert_int_eq(g.sync, 0);
  ck_assert_int_eq(g.result, 0);
  ck_assert_int_eq(g.status, 200);
  ck_assert_uint_eq(g.body_len, 13);
  ck_assert_str_eq(g.body, "hello, world\n");
  ck_assert_str_eq(g.content_type, "text/plain; charset=utf-8");
  ck_assert_str_eq(g.retry_after, "7");
  ck_assert_str_eq(g.request_id, "5f0c2d4e-0000-4000-8000-000000000001");
  ck_assert_str_eq(g.throttle_scope, "Tenant/ApplicationTenant/a/b");
  ck_assert_ptr_null(g.location);
  ck_assert_str_eq(g.error, "");
  ck_assert(g.seconds > 0);
  ck_assert_str_eq(srv.user_agent, "qd-test/1");
  got_free(&g);
  finish(c);
}
END_TEST

START_TEST(test_post_echo)
{
  static const char *const hdrs[] = {"Content-Type: application/json", NULL};
  static const char body[] = "{\"a\":1}\0tail"; /* binary-safe */
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g = {0};

  ck_assert_int_eq(req(c, "POST", "/echo", hdrs, body, sizeof(body) - 1, &g),
                   0);
  wait_done(1);
  ck_assert_int_eq(g.result, 0);
  ck_assert_int_eq(g.status, 200);
  ck_assert_uint_eq(g.body_len, 5 + sizeof(body) - 1);
  ck_assert_mem_eq(g.body, "POST:{\"a\":1}\0tail", g.body_len);
  ck_assert_str_eq(g.content_type, "application/json");
  got_free(&g);
  finish(c);
}
END_TEST

/* A kept-alive connection that dies unanswered: libcurl sends a GET again
 * on a new connection by itself, never a PATCH (http.c sends a PATCH on a
 * new connection), whose failure is left to the caller. */
START_TEST(test_patch_never_resent_by_curl)
{
  struct http_client *c = client(1, 0, 0, NULL);
  struct got g[4] = {{0}};

  ck_assert_int_eq(req(c, "GET", "/hello", NULL, NULL, 0, &g[0]), 0);
  wait_done(1);
  ck_assert_int_eq(req(c, "GET", "/drop", NULL, NULL, 0, &g[1]), 0);
  wait_done(2);
  ck_assert_int_eq(g[1].result, 0); /* answered on the second try */
  ck_assert_int_eq(srv.drop_hits, 2);
  ck_assert_int_eq(req(c, "GET", "/hello", NULL, NULL, 0, &g[2]), 0);
  wait_done(3);
  ck_assert_int_eq(req(c, "PATCH", "/drop", NULL, "{}", 2, &g[3]), 0);
  wait_done(4);
  ck_assert_int_ne(g[3].result, 0);
  ck_assert_int_eq(srv.drop_hits, 3);
  for(int i = 0; i < 4; i++)
    got_free(&g[i]);
  finish(c);
}
END_TEST

START_TEST(test_methods)
{
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g[5] = {{0}};

  ck_assert_int_eq(req(c, "PATCH", "/echo", NULL, "{}", 2, &g[0]), 0);
  ck_assert_int_eq(req(c, "DELETE", "/echo", NULL, NULL, 0, &g[1]), 0);
  ck_assert_int_eq(req(c, "GET", "/echo", NULL, NULL, 0, &g[2]), 0);
  ck_assert_int_eq(req(c, "POST", "/echo", NULL, NULL, 0, &g[3]), 0);
  ck_assert_int_eq(req(c, "HEAD", "/echo", NULL, NULL, 0, &g[4]), 0);
  wait_done(5);
  ck_assert_str_eq(g[0].body, "PATCH:{}");
  ck_assert_str_eq(g[1].body, "DELETE:");
  ck_assert_str_eq(g[2].body, "GET:");
  ck_assert_str_eq(g[3].body, "POST:");
  ck_assert_int_eq(g[4].status, 200);
  ck_assert_uint_eq(g[4].body_len, 0);
  ck_assert_str_eq(g[4].body, "");
  for(int i = 0; i < 5; i++) {
    ck_assert_int_eq(g[i].result, 0);
    ck_assert_int_eq(g[i].sync, 0);
    got_free(&g[i]);
  }
  finish(c);
}
END_TEST

START_TEST(test_gzip)
{
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g = {0};
  char want[sizeof(GZ_LINE) * GZ_COUNT] = "";

  for(int i = 0; i < GZ_COUNT; i++)
    strcat(want, GZ_LINE);
  ck_assert_int_eq(req(c, "GET", "/gzip", NULL, NULL, 0, &g), 0);
  wait_done(1);
  ck_assert_int_eq(g.result, 0);
  ck_assert_int_eq(g.status, 200);
  ck_assert_uint_eq(g.body_len, strlen(want));
  ck_assert_str_eq(g.body, want);
  ck_assert_ptr_nonnull(strstr(srv.accept_encoding, "gzip"));
  got_free(&g);
  finish(c);
}
END_TEST

START_TEST(test_max_response_size)
{
  struct http_client *c = client(0, 0, 1000, NULL);
  struct got g[4] = {{0}};

  ck_assert_int_eq(req(c, "GET", "/size?n=1000", NULL, NULL, 0, &g[0]), 0);
  ck_assert_int_eq(req(c, "GET", "/size?n=1001", NULL, NULL, 0, &g[1]), 0);
  ck_assert_int_eq(req(c, "GET", "/size?n=300000", NULL, NULL, 0, &g[2]), 0);
  ck_assert_int_eq(req(c, "GET", "/size?n=0", NULL, NULL, 0, &g[3]), 0);
  wait_done(4);
  ck_assert_int_eq(g[0].result, 0);
  ck_assert_uint_eq(g[0].body_len, 1000);
  ck_assert_int_eq(g[1].result, -EMSGSIZE);
  ck_assert_int_eq(g[1].status, 0);
  ck_assert_uint_eq(g[1].body_len, 0);
  ck_assert_str_ne(g[1].error, "");
  ck_assert_int_eq(g[2].result, -EMSGSIZE);
  ck_assert_int_eq(g[3].result, 0);
  ck_assert_uint_eq(g[3].body_len, 0);
  ck_assert_str_eq(g[3].body, "");
  for(int i = 0; i < 4; i++)
    got_free(&g[i]);
  finish(c);
}
END_TEST

START_TEST(test_large_body_defaults)
{
  struct http_client *c = NULL;
  struct got g = {0};
  size_t i, n = (1 << 20) + 1; /* past several buffer doublings */
  char path[32];

  /* NULL opts: all defaults (64 MiB cap, built-in User-Agent). */
  ck_assert_int_eq(http_client_new(&loop, NULL, &c), 0);
  snprintf(path, sizeof(path), "/size?n=%zu", n);
  ck_assert_int_eq(req(c, "GET", path, NULL, NULL, 0, &g), 0);
  wait_done(1);
  ck_assert_int_eq(g.result, 0);
  ck_assert_uint_eq(g.body_len, n);
  for(i = 0; i < n && g.body[i] == 'x'; i++)
    ;
  ck_assert_uint_eq(i, n);
  ck_assert_int_eq(g.body[n], '\0');
  ck_assert_ptr_nonnull(strstr(srv.user_agent, "quarantined/"));
  got_free(&g);
  finish(c);
}
END_TEST

START_TEST(test_connection_refused)
{
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g = {0};
  unsigned port;
  char url[64];

  close(listener(0, &port));
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", port);
  ck_assert_int_eq(req(c, "GET", url, NULL, NULL, 0, &g), 0);
  ck_assert_int_eq(g.called, 0);
  wait_done(1);
  ck_assert_int_eq(g.sync, 0);
  ck_assert_int_eq(g.result, -ECONNREFUSED);
  ck_assert_int_eq(g.status, 0);
  ck_assert_str_ne(g.error, "");
  ck_assert_ptr_nonnull(g.crid);
  got_free(&g);
  finish(c);
}
END_TEST

START_TEST(test_timeout)
{
  struct http_client *c = client(0, 200, 0, NULL);
  struct got g = {0};
  unsigned port;
  int fd = listener(1, &port);
  char url[64];

  snprintf(url, sizeof(url), "http://127.0.0.1:%u/never", port);
  ck_assert_int_eq(req(c, "GET", url, NULL, NULL, 0, &g), 0);
  wait_done(1);
  ck_assert_int_eq(g.result, -ETIMEDOUT);
  ck_assert_int_eq(g.status, 0);
  ck_assert(g.seconds >= 0.15);
  got_free(&g);
  finish(c);
  close(fd);
}
END_TEST

START_TEST(test_concurrency_cap)
{
  struct http_client *c = client(2, 0, 0, NULL);
  struct got g[10] = {{0}};
  char path[32];
  int i;

  for(i = 0; i < 10; i++) {
    snprintf(path, sizeof(path), "/slow?i=%d&of=10", i);
    ck_assert_int_eq(req(c, "GET", path, NULL, NULL, 0, &g[i]), 0);
  }
  wait_done(10);
  for(i = 0; i < 10; i++) {
    ck_assert_int_eq(g[i].result, 0);
    ck_assert_int_eq(g[i].status, 200);
    ck_assert_int_eq(g[i].sync, 0);
    got_free(&g[i]);
  }
  pthread_mutex_lock(&srv.mu);
  ck_assert_int_eq(srv.narrivals, 10);
  /* Never more than two at once, and two did overlap. */
  ck_assert_int_eq(srv.max, 2);
  /* FIFO: the third cannot start before one of the first two ended. */
  ck_assert_int_eq(srv.arrivals[0] + srv.arrivals[1], 0 + 1);
  pthread_mutex_unlock(&srv.mu);
  finish(c);
}
END_TEST

static int is_uuid4(const char *s)
{
  static const char hex[] = "0123456789abcdef";

  if(!s || strlen(s) != 36)
    return 0;
  for(int i = 0; i < 36; i++) {
    if(i == 8 || i == 13 || i == 18 || i == 23) {
      if(s[i] != '-')
        return 0;
    }
    else if(!s[i] || !strchr(hex, s[i]))
      return 0;
  }
  return s[14] == '4' && strchr("89ab", s[19]);
}

START_TEST(test_client_request_id)
{
  struct http_client *c = client(3, 0, 0, NULL);
  struct got g[6] = {{0}};
  int i, j;

  for(i = 0; i < 6; i++)
    ck_assert_int_eq(req(c, "GET", "/hello", NULL, NULL, 0, &g[i]), 0);
  wait_done(6);
  pthread_mutex_lock(&srv.mu);
  ck_assert_int_eq(srv.ncrids, 6);
  for(i = 0; i < 6; i++) {
    int seen = 0;

    ck_assert_int_eq(g[i].result, 0);
    ck_assert_msg(is_uuid4(g[i].crid), "not a v4 UUID: %s", g[i].crid);
    for(j = 0; j < 6; j++) {
      if(j != i)
        ck_assert_str_ne(g[i].crid, g[j].crid);
      if(!strcmp(srv.crids[j], g[i].crid))
        seen++;
    }
    ck_assert_int_eq(seen, 1); /* the server got exactly this id once */
  }
  pthread_mutex_unlock(&srv.mu);
  for(i = 0; i < 6; i++)
    got_free(&g[i]);
  finish(c);
}
END_TEST

START_TEST(test_uuid)
{
  char a[37], b[37];

  uuid_v4(a);
  uuid_v4(b);
  ck_assert(is_uuid4(a));
  ck_assert(is_uuid4(b));
  ck_assert_str_ne(a, b);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_redirect_not_followed)
{
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g = {0};

  ck_assert_int_eq(req(c, "GET", "/redirect", NULL, NULL, 0, &g), 0);
  wait_done(1);
  ck_assert_int_eq(g.result, 0);
  ck_assert_int_eq(g.status, 302);
  ck_assert_str_eq(g.location, "/hello");
  ck_assert_str_eq(g.body, "moved");
  pthread_mutex_lock(&srv.mu);
  ck_assert_int_eq(srv.hello_hits, 0);
  pthread_mutex_unlock(&srv.mu);
  got_free(&g);
  finish(c);
}
END_TEST

START_TEST(test_bad_arguments)
{
  static const char *const crlf[] = {"X-A: b\r\nX-Evil: c", NULL};
  static const char *const nocolon[] = {"X-A b", NULL};
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g = {0};

  ck_assert_int_eq(req(c, "GE T", "/hello", NULL, NULL, 0, &g), -EINVAL);
  ck_assert_int_eq(req(c, "", "/hello", NULL, NULL, 0, &g), -EINVAL);
  ck_assert_int_eq(req(c, "GET", "ftp://127.0.0.1/x", NULL, NULL, 0, &g),
                   -EINVAL);
  ck_assert_int_eq(req(c, "GET", "no url", NULL, NULL, 0, &g), -EINVAL);
  ck_assert_int_eq(req(c, "GET", "/hello", crlf, NULL, 0, &g), -EINVAL);
  ck_assert_int_eq(req(c, "GET", "/hello", nocolon, NULL, 0, &g), -EINVAL);
  uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(g.called, 0);
  finish(c);
}
END_TEST

static struct http_client *timer_target;

static void on_close_timer(uv_timer_t *t)
{
  http_client_close(timer_target, on_closed, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

START_TEST(test_close_cancels)
{
  struct http_client *c = client(2, 0, 0, NULL);
  struct got g[3] = {{0}};
  uv_timer_t t;
  unsigned port;
  int fd = listener(1, &port), i;
  char url[64];

  snprintf(url, sizeof(url), "http://127.0.0.1:%u/never", port);
  for(i = 0; i < 3; i++)
    ck_assert_int_eq(req(c, "POST", url, NULL, "x", 1, &g[i]), 0);
  /* The callbacks try to reuse the client while it is closing. */
  g[0].reissue_on = c;
  g[0].reissue_got = &g[0];
  g[2].reissue_on = c;
  g[2].reissue_got = &g[2];
  timer_target = c;
  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  ck_assert_int_eq(uv_timer_start(&t, on_close_timer, 100, 0), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nclosed, 1);
  for(i = 0; i < 3; i++) {
    ck_assert_int_eq(g[i].called, 1);
    ck_assert_int_eq(g[i].result, -ECANCELED);
    ck_assert_int_eq(g[i].status, 0);
    ck_assert_int_eq(g[i].order, i + 1); /* in-flight first, then queued */
    got_free(&g[i]);
  }
  ck_assert_int_eq(g[0].reissue_rc, -ESHUTDOWN);
  ck_assert_int_eq(g[2].reissue_rc, -ESHUTDOWN);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  close(fd);
}
END_TEST

START_TEST(test_close_from_callback)
{
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g[2] = {{0}};
  unsigned port;
  int fd = listener(1, &port);
  char url[64];

  snprintf(url, sizeof(url), "http://127.0.0.1:%u/never", port);
  ck_assert_int_eq(req(c, "GET", url, NULL, NULL, 0, &g[0]), 0);
  ck_assert_int_eq(req(c, "GET", "/hello", NULL, NULL, 0, &g[1]), 0);
  g[1].close_on = c;
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(g[1].result, 0);
  ck_assert_int_eq(g[1].order, 1);
  ck_assert_int_eq(g[0].result, -ECANCELED);
  ck_assert_int_eq(g[0].order, 2);
  got_free(&g[0]);
  got_free(&g[1]);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  close(fd);
}
END_TEST

START_TEST(test_request_from_callback)
{
  struct http_client *c = client(1, 0, 0, NULL);
  struct got g[2] = {{0}};

  /* The callback issues base + "" (the server root, a 404) on the same
   * client, with max_concurrency 1: the slot it just left is reused. */
  g[0].reissue_on = c;
  g[0].reissue_got = &g[1];
  ck_assert_int_eq(req(c, "GET", "/hello", NULL, NULL, 0, &g[0]), 0);
  wait_done(2);
  ck_assert_int_eq(g[0].reissue_rc, 0);
  ck_assert_int_eq(g[0].status, 200);
  ck_assert_int_eq(g[1].called, 1);
  ck_assert_int_eq(g[1].status, 404);
  ck_assert_int_eq(g[1].order, 2);
  got_free(&g[0]);
  got_free(&g[1]);
  finish(c);
}
END_TEST

/* ===== a raw server for replies MHD will not write ===== */

struct raw {
  int fd;
  const char *reply;
  pthread_t th;
};

/* raw_main() accepts one connection, reads the request head and writes
 * the canned reply. */
static void *raw_main(void *arg)
{
  struct raw *r = arg;
  char buf[4096];
  size_t len = 0;
  int fd = accept(r->fd, NULL, NULL);

  if(fd < 0)
    return NULL;
  while(len < sizeof(buf) - 1) {
    ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

    if(n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
    if(strstr(buf, "\r\n\r\n"))
      break;
  }
  if(write(fd, r->reply, strlen(r->reply)) < 0)
    perror("raw_main: write");
  shutdown(fd, SHUT_WR);
  while(read(fd, buf, sizeof(buf)) > 0)
    ;
  close(fd);
  return NULL;
}

/* raw_get() GETs /raw through c from a one-shot server that answers with
 * reply verbatim, and fills *g with what the client saw. */
static void raw_get(struct http_client *c, const char *reply, struct got *g)
{
  struct raw r = {.reply = reply};
  unsigned port;
  char url[64];

  r.fd = listener(1, &port);
  ck_assert_int_eq(pthread_create(&r.th, NULL, raw_main, &r), 0);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/raw", port);
  ck_assert_int_eq(req(c, "GET", url, NULL, NULL, 0, g), 0);
  wait_done(1);
  ck_assert_int_eq(pthread_join(r.th, NULL), 0);
  close(r.fd);
}

START_TEST(test_header_parsing)
{
  const char *reply = "HTTP/1.1 100 Continue\r\n"
                      "Request-Id: interim\r\n"
                      "Retry-After: 99\r\n"
                      "\r\n"
                      "HTTP/1.1 429 Too Many Requests\r\n"
                      "CONTENT-TYPE:  application/json  \r\n"
                      "rEtRy-AfTeR:\t 30 \t\r\n"
                      "x-MS-throttle-SCOPE: Tenant/Application/a/b\r\n"
                      "X-Request-Id: not-this-one\r\n"
                      "Content-Length: 2\r\n"
                      "Connection: close\r\n"
                      "\r\n"
                      "{}";
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g = {0};

  raw_get(c, reply, &g);
  ck_assert_int_eq(g.result, 0);
  ck_assert_int_eq(g.status, 429);
  ck_assert_str_eq(g.body, "{}");
  ck_assert_str_eq(g.content_type, "application/json");
  ck_assert_str_eq(g.retry_after, "30");
  ck_assert_str_eq(g.throttle_scope, "Tenant/Application/a/b");
  ck_assert_ptr_null(g.request_id); /* only on the interim response */
  got_free(&g);
  finish(c);
}
END_TEST

START_TEST(test_garbage_reply)
{
  const char *reply = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g = {0};

  raw_get(c, reply, &g);
  ck_assert_int_eq(g.result, -EPROTO);
  got_free(&g);
  finish(c);
}
END_TEST

/* ===== HTTPS with a CA made by the openssl CLI ===== */

static const char tls_cnf[] = "[req]\n"
                              "distinguished_name = dn\n"
                              "prompt = no\n"
                              "[dn]\n"
                              "CN = quarantined test CA\n"
                              "[ca]\n"
                              "basicConstraints = critical,CA:TRUE\n"
                              "keyUsage = critical,keyCertSign,cRLSign\n"
                              "subjectKeyIdentifier = hash\n"
                              "[srv]\n"
                              "basicConstraints = CA:FALSE\n"
                              "subjectAltName = IP:127.0.0.1\n"
                              "extendedKeyUsage = serverAuth\n";

static void tls_setup(void)
{
  char *cnf, *cmd, *key, *cert, *p;

  common_setup();
  ck_assert_int_eq(MHD_is_feature_supported(MHD_FEATURE_TLS), MHD_YES);
  tls_dir = tu_tmpdir();
  cnf = tu_write(tls_dir, "openssl.cnf", tls_cnf);
  free(cnf);
  ck_assert_int_ne(
      asprintf(
          &cmd,
          "cd '%s' && (openssl req -x509 -config openssl.cnf -extensions ca "
          "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
          "-keyout ca.key -out ca.pem -days 2 && "
          "openssl req -new -config openssl.cnf -subj /CN=127.0.0.1 "
          "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
          "-keyout srv.key -out srv.csr && "
          "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
          "-CAcreateserial -days 2 -extfile openssl.cnf -extensions srv "
          "-out srv.pem) >openssl.log 2>&1",
          tls_dir),
      -1);
  ck_assert_int_eq(system(cmd), 0);
  free(cmd);
  ck_assert_int_ne(asprintf(&p, "%s/srv.key", tls_dir), -1);
  key = tu_slurp(p);
  free(p);
  ck_assert_int_ne(asprintf(&p, "%s/srv.pem", tls_dir), -1);
  cert = tu_slurp(p);
  free(p);
  ck_assert_ptr_nonnull(key);
  ck_assert_ptr_nonnull(cert);
  server_start(key, cert);
  /* MHD copies the key and certificate into its credentials. */
  free(key);
  free(cert);
}

static void tls_teardown(void)
{
  teardown();
  if(tls_dir) {
    tu_rmtree(tls_dir);
    free(tls_dir);
    tls_dir = NULL;
  }
}

START_TEST(test_tls_verified)
{
  struct http_client *c;
  struct got g = {0};
  char *ca;

  ck_assert_int_ne(asprintf(&ca, "%s/ca.pem", tls_dir), -1);
  c = client(0, 0, 0, ca);
  free(ca); /* the client keeps its own copy */
  ck_assert_int_eq(req(c, "GET", "/hello", NULL, NULL, 0, &g), 0);
  wait_done(1);
  ck_assert_msg(g.result == 0, "result %d: %s", g.result, g.error);
  ck_assert_int_eq(g.status, 200);
  ck_assert_str_eq(g.body, "hello, world\n");
  got_free(&g);
  finish(c);
}
END_TEST

START_TEST(test_tls_unknown_ca)
{
  struct http_client *c = client(0, 0, 0, NULL);
  struct got g = {0};

  ck_assert_int_eq(req(c, "GET", "/hello", NULL, NULL, 0, &g), 0);
  wait_done(1);
  ck_assert_int_eq(g.result, -EPROTO);
  ck_assert_int_eq(g.status, 0);
  ck_assert_str_ne(g.error, "");
  pthread_mutex_lock(&srv.mu);
  ck_assert_int_eq(srv.hello_hits, 0);
  pthread_mutex_unlock(&srv.mu);
  got_free(&g);
  finish(c);
}
END_TEST

START_TEST(test_tls_wrong_host)
{
  struct http_client *c;
  struct got g = {0};
  char *ca, url[64];

  /* The certificate names 127.0.0.1 only; "localhost" must not match. */
  ck_assert_int_ne(asprintf(&ca, "%s/ca.pem", tls_dir), -1);
  c = client(0, 0, 0, ca);
  free(ca);
  snprintf(url, sizeof(url), "https://localhost:%s/hello",
           strrchr(base, ':') + 1);
  ck_assert_int_eq(req(c, "GET", url, NULL, NULL, 0, &g), 0);
  wait_done(1);
  ck_assert_int_eq(g.result, -EPROTO);
  got_free(&g);
  finish(c);
}
END_TEST

Suite *http_suite(void)
{
  Suite *s = suite_create("http");
  TCase *tc = tcase_create("plain");
  TCase *tls = tcase_create("tls");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_get_headers);
  tcase_add_test(tc, test_post_echo);
  tcase_add_test(tc, test_methods);
  tcase_add_test(tc, test_patch_never_resent_by_curl);
  tcase_add_test(tc, test_gzip);
  tcase_add_test(tc, test_max_response_size);
  tcase_add_test(tc, test_large_body_defaults);
  tcase_add_test(tc, test_connection_refused);
  tcase_add_test(tc, test_timeout);
  tcase_add_test(tc, test_concurrency_cap);
  tcase_add_test(tc, test_client_request_id);
  tcase_add_test(tc, test_uuid);
  tcase_add_test(tc, test_redirect_not_followed);
  tcase_add_test(tc, test_bad_arguments);
  tcase_add_test(tc, test_close_cancels);
  tcase_add_test(tc, test_close_from_callback);
  tcase_add_test(tc, test_request_from_callback);
  tcase_add_test(tc, test_header_parsing);
  tcase_add_test(tc, test_garbage_reply);
  suite_add_tcase(s, tc);

  tcase_add_checked_fixture(tls, tls_setup, tls_teardown);
  tcase_set_timeout(tls, 30);
  tcase_add_test(tls, test_tls_verified);
  tcase_add_test(tls, test_tls_unknown_ca);
  tcase_add_test(tls, test_tls_wrong_host);
  suite_add_tcase(s, tls);
  return s;
}
