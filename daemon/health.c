/* SPDX-License-Identifier: MIT
 *
 * health: libmicrohttpd on the uv loop, without threads.
 *
 * MHD runs in its external-loop epoll mode (MHD_USE_EPOLL, no internal
 * thread): it keeps every socket of a listener (the listening one and
 * each connection) in an epoll set of its own, and that set's fd
 * (MHD_DAEMON_INFO_EPOLL_FD) is readable whenever any of them is ready.
 * So each listener needs one uv_poll_t on that fd and one uv_timer_t
 * armed from MHD_get_timeout() after every call into MHD; either calls
 * MHD_run(), which waits for nothing (an epoll_wait() with timeout 0)
 * and handles what is ready.  MHD_get_timeout() is 0 while MHD still has
 * work it did not finish (its sockets are edge-triggered), so the timer
 * brings it back on the next loop iteration, and otherwise the idle
 * connection timeout.
 *
 * Why not the select mode (MHD_get_fdset2() + MHD_run_from_select()):
 * an fd_set holds descriptors below FD_SETSIZE (1024) only, and the unit
 * raises LimitNOFILE to 65536, so a busy daemon's sockets can be numbered
 * above it; MHD then refuses to listen or drops the connection.  epoll
 * has no such bound, and one poll per listener replaces the poll per
 * socket that select mode needed.  tests/e2e/test_health.py starts the
 * daemon with more than 1024 descriptors open and asks it.
 *
 * Ownership: struct health owns its listeners; a listener owns its MHD
 * daemon and its two handles.  health_close() closes both handles before
 * MHD_stop_daemon() closes the epoll fd (uv_close() takes the fd out of
 * libuv's own epoll set at once); a listener is freed in the close
 * callback of its last handle, and the health struct after its last
 * listener.
 */
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cfg.h"
#include "cfgval.h"
#include "log.h"
#include "metrics.h"

/* Connections at once per listener, and seconds an idle one is kept. */
#define HEALTH_MAX_CONNECTIONS 16
#define HEALTH_IDLE_TIMEOUT 10

struct listener {
  struct health *h;
  struct MHD_Daemon *mhd;
  uv_poll_t poll;   /* MHD's epoll fd: readable when a socket is ready */
  uv_timer_t timer; /* MHD_get_timeout() */
  unsigned open;    /* of poll and timer, not yet through close_cb */
  bool unix_socket; /* serves /conflicts.json */
  char *path;       /* the Unix socket file, removed at close */
};

struct health {
  uv_loop_t *loop;
  struct listener *l[2];
  size_t nl;
  health_view_cb view;
  void *view_arg;
  char url[80];
  unsigned nlisteners; /* not yet freed, plus one while closing */
  bool closing;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* ===== The adapter ===== */

/* release() drops one reference to h; the last one frees it (only once
 * health_close() has run) and calls the closed callback. */
static void release(struct health *h)
{
  void (*cb)(void *);
  void *arg;

  if(--h->nlisteners || !h->closing)
    return;
  cb = h->closed_cb;
  arg = h->closed_arg;
  free(h);
  if(cb)
    cb(arg);
}

static void on_handle_close(uv_handle_t *hd)
{
  struct listener *l = hd->data;
  struct health *h = l->h;

  if(--l->open)
    return;
  free(l);
  release(h);
}

static void on_timer(uv_timer_t *t);

/* run() lets MHD handle whatever is ready, then arms the timer for what
 * it wants next. */
static void run(struct listener *l)
{
  MHD_UNSIGNED_LONG_LONG ms;

  if(MHD_run(l->mhd) != MHD_YES)
    log_debug("health: MHD_run failed");
  if(MHD_get_timeout(l->mhd, &ms) == MHD_YES)
    uv_timer_start(&l->timer, on_timer, (uint64_t)ms, 0);
  else
    uv_timer_stop(&l->timer);
}

static void on_timer(uv_timer_t *t)
{
  run(t->data);
}

/* on_poll() runs MHD when its epoll set has a ready socket.  An error
 * (status < 0) is left to MHD too: its own epoll_wait() sees it. */
static void on_poll(uv_poll_t *p, int status, int events)
{
  (void)status;
  (void)events;
  run(p->data);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
  char msg[256];

  (void)cls;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  msg[strcspn(msg, "\n")] = '\0';
  log_debug("health: libmicrohttpd: %s", msg);
}

/* ===== Answers ===== */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, char *body, size_t len)
{
  struct MHD_Response *r;
  enum MHD_Result ret;

  r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if(!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
                                  const char *text)
{
  char *body = strdup(text);

  if(!body)
    return MHD_NO;
  return reply(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result reply_json(struct MHD_Connection *c, cJSON *doc)
{
  char *body = doc ? cJSON_Print(doc) : NULL;

  cJSON_Delete(doc);
  if(!body)
    return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
  return reply(c, MHD_HTTP_OK, "application/json", body, strlen(body));
}

static const char index_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
    "<title>quarantined</title></head><body>\n<h1>quarantined</h1>\n<ul>\n"
    "<li><a href=\"livez\">livez</a>: the daemon answers</li>\n"
    "<li><a href=\"readyz\">readyz</a>: every tenant polled in time</li>\n"
    "<li><a href=\"metrics\">metrics</a>: Prometheus metrics</li>\n"
    "<li><a href=\"status.json\">status.json</a>: tenants, cycles, "
    "alerts</li>\n"
    "</ul>\n<p>See quarantined(8).</p>\n</body></html>\n";

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
  struct listener *l = cls;
  struct status_view v;
  time_t now = time(NULL);
  char why[2048];

  (void)version;
  (void)upload;
  /* The first call only announces the request; it has no body. */
  if(!*con_cls) {
    *con_cls = l;
    return MHD_YES;
  }
  if(*upload_size) {
    *upload_size = 0;
    return MHD_YES;
  }
  if(strcmp(method, "GET") && strcmp(method, "HEAD"))
    return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
  memset(&v, 0, sizeof(v));
  l->h->view(l->h->view_arg, &v);
  if(!strcmp(url, "/")) {
    char *body = strdup(index_page);

    return body ? reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", body,
                        strlen(body))
                : MHD_NO;
  }
  if(!strcmp(url, "/livez"))
    return reply_text(c, MHD_HTTP_OK, "ok\n");
  if(!strcmp(url, "/readyz")) {
    char text[sizeof(why) + 16];

    if(status_ready(&v, now, why, sizeof(why)))
      return reply_text(c, MHD_HTTP_OK, "ok\n");
    snprintf(text, sizeof(text), "not ready: %s\n", why);
    return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
  }
  if(!strcmp(url, "/metrics")) {
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    int rc;

    if(!f)
      return MHD_NO;
    rc = metrics_render(&v, now, f);
    if(fclose(f) || rc || !body) {
      free(body);
      return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                 body, len);
  }
  if(!strcmp(url, "/status.json"))
    return reply_json(c, status_json(&v, now));
  if(!strcmp(url, "/conflicts.json") && l->unix_socket) {
    const char *tenant =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tenant");
    bool found;
    cJSON *doc = status_conflicts_json(&v, tenant, &found);

    if(!found) {
      cJSON_Delete(doc);
      return reply_text(c, MHD_HTTP_NOT_FOUND, "no such tenant\n");
    }
    return reply_json(c, doc);
  }
  return reply_text(c, MHD_HTTP_NOT_FOUND, "not found; see /\n");
}

/* ===== Listeners ===== */

/* unix_listen() makes a listening Unix socket at path, mode 0660, in
 * place of a stale socket file.  Returns the fd, or -1 (logged). */
static int unix_listen(const char *path)
{
  struct sockaddr_un sun;
  struct stat st;
  int fd;

  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  if(strlen(path) >= sizeof(sun.sun_path)) {
    log_errx("health: %s: path too long for a Unix socket", path);
    return -1;
  }
  memcpy(sun.sun_path, path, strlen(path));
  if(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
    unlink(path);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if(fd == -1) {
    log_err("health: socket");
    return -1;
  }
  if(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
     chmod(path, 0660) == -1 || listen(fd, 16) == -1) {
    log_err("health: cannot listen on %s", path);
    close(fd);
    return -1;
  }
  return fd;
}

/* mhd_start() starts MHD in external epoll mode on the Unix socket fd
 * (fd >= 0) or on the TCP address ss. */
static struct MHD_Daemon *mhd_start(struct listener *l, int fd,
                                    const struct sockaddr_storage *ss)
{
  unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_EPOLL;

  if(fd < 0 && ss->ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  /* The logger comes first so that MHD reports option errors there. */
  if(fd >= 0)
    return MHD_start_daemon(
        flags, 0, NULL, NULL, answer, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
        HEALTH_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        HEALTH_IDLE_TIMEOUT, MHD_OPTION_END);
  return MHD_start_daemon(
      flags, 0, NULL, NULL, answer, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
      NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ss,
      MHD_OPTION_CONNECTION_LIMIT, HEALTH_MAX_CONNECTIONS,
      MHD_OPTION_CONNECTION_TIMEOUT, HEALTH_IDLE_TIMEOUT, MHD_OPTION_END);
}

/* listener_new() starts MHD on the TCP address listen or, when path is
 * set, on a Unix socket there, and watches its epoll fd.  Returns 0, or
 * -1 after logging why. */
static int listener_new(struct health *h, const char *listen, const char *path)
{
  struct sockaddr_storage ss;
  const union MHD_DaemonInfo *di;
  struct listener *l;
  socklen_t sslen;
  bool made = false; /* the socket file exists */
  int fd = -1, rc;

  l = calloc(1, sizeof(*l));
  if(!l)
    return -1;
  l->h = h;
  if(path) {
    l->unix_socket = true;
    l->path = strdup(path);
    fd = l->path ? unix_listen(path) : -1;
    if(fd == -1)
      goto fail;
    made = true;
  }
  else if(cfgval_listen(listen, &ss, &sslen)) {
    log_errx("health: '%s' is not ADDRESS:PORT", listen);
    goto fail;
  }
  l->mhd = mhd_start(l, fd, &ss);
  if(!l->mhd) {
    log_errx("health: cannot listen on %s (address in use?); running "
             "without it",
             path ? path : listen);
    goto fail;
  }
  fd = -1; /* MHD's now */
  di = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  rc = di ? uv_poll_init(h->loop, &l->poll, di->epoll_fd) : UV_EINVAL;
  if(rc) {
    log_errx("health: cannot watch libmicrohttpd's epoll descriptor: %s; "
             "running without %s",
             uv_strerror(rc), path ? path : listen);
    MHD_stop_daemon(l->mhd);
    goto fail;
  }
  if(!path) {
    char host[INET6_ADDRSTRLEN + 2];

    di = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(host, sizeof(host), "%.*s", (int)(strrchr(listen, ':') - listen),
             listen);
    snprintf(h->url, sizeof(h->url), "http://%s:%u/", host, di ? di->port : 0);
  }
  l->poll.data = l;
  uv_timer_init(h->loop, &l->timer);
  l->timer.data = l;
  l->open = 2;
  h->nlisteners++;
  h->l[h->nl++] = l;
  uv_poll_start(&l->poll, UV_READABLE, on_poll);
  log_info("health: listening on %s", path ? path : h->url);
  run(l);
  return 0;

fail:
  if(fd != -1)
    close(fd);
  if(made)
    unlink(l->path);
  free(l->path);
  free(l);
  return -1;
}

int health_start(uv_loop_t *loop, const char *listen, const char *socket_path,
                 health_view_cb view, void *arg, struct health **out)
{
  struct health *h = calloc(1, sizeof(*h));

  if(!h)
    return -ENOMEM;
  h->loop = loop;
  h->view = view;
  h->view_arg = arg;
  if(!MHD_is_feature_supported(MHD_FEATURE_EPOLL))
    log_errx("health: this libmicrohttpd has no epoll support; running "
             "without the endpoint");
  else {
    if(listen && strcmp(listen, "none"))
      listener_new(h, listen, NULL);
    if(socket_path && strcmp(socket_path, "none"))
      listener_new(h, NULL, socket_path);
  }
  *out = h;
  return 0;
}

const char *health_url(const struct health *h)
{
  return h->url[0] ? h->url : NULL;
}

void health_close(struct health *h, void (*closed_cb)(void *arg), void *arg)
{
  size_t i;

  if(!h)
    return;
  h->closing = true;
  h->closed_cb = closed_cb;
  h->closed_arg = arg;
  /* One reference of our own, so nothing frees h before the end. */
  h->nlisteners++;
  for(i = 0; i < h->nl; i++) {
    struct listener *l = h->l[i];

    /* The poll first: uv_close() takes the epoll fd out of libuv's set
     * now, while it is still open; MHD_stop_daemon() then closes it with
     * every connection. */
    uv_close((uv_handle_t *)&l->poll, on_handle_close);
    uv_close((uv_handle_t *)&l->timer, on_handle_close);
    MHD_stop_daemon(l->mhd);
    l->mhd = NULL;
    if(l->path) {
      unlink(l->path);
      free(l->path);
      l->path = NULL;
    }
  }
  h->nl = 0;
  release(h);
}
