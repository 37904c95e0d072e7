/* SPDX-License-Identifier: MIT
 *
 * health: libmicrohttpd on the uv loop, the way http.c puts libcurl
 * there.  MHD runs without threads (external select): after every call
 * into it, sync() asks MHD_get_fdset2() which sockets it wants watched
 * for reading or writing and makes the set of uv_poll_t handles match,
 * and arms the one uv_timer_t with MHD_get_timeout().  A ready socket or
 * the timer calls MHD_run_from_select() with just what is ready.  MHD
 * closes a connection's socket inside that call, so its poll is stopped
 * first, from the MHD_CONNECTION_NOTIFY_CLOSED callback.
 *
 * Ownership: struct health owns its listeners; a listener owns its MHD
 * daemon, timer and polls.  Poll and timer memory is freed in the close
 * callbacks; the last one frees the health struct.
 */
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cfg.h"
#include "cfgval.h"
#include "log.h"
#include "metrics.h"

#define container_of(ptr, type, member)                                        \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Connections at once per listener, and seconds an idle one is kept. */
#define HEALTH_MAX_CONNECTIONS 16
#define HEALTH_IDLE_TIMEOUT 10

struct listener;

/* One socket MHD wants watched. */
struct hpoll {
  uv_poll_t poll;
  int fd;
  int events;         /* UV_READABLE | UV_WRITABLE as last started */
  bool seen;          /* wanted by the latest sync() */
  struct listener *l; /* NULL once released: the listener may be gone */
  struct health *h;
  struct hpoll *next;
};

struct listener {
  struct health *h;
  struct MHD_Daemon *mhd;
  uv_timer_t timer;
  struct hpoll *polls;
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
  unsigned nhandles; /* uv handles not yet through their close callback */
  bool closing;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

static void sync_fds(struct listener *l);

/* ===== The adapter ===== */

static void handle_closed(struct health *h)
{
  void (*cb)(void *);
  void *arg;

  if(--h->nhandles || !h->closing)
    return;
  cb = h->closed_cb;
  arg = h->closed_arg;
  free(h);
  if(cb)
    cb(arg);
}

static void on_poll_close(uv_handle_t *hd)
{
  struct hpoll *p = container_of(hd, struct hpoll, poll);
  struct health *h = p->h;

  free(p);
  handle_closed(h);
}

/* poll_release() unlinks p, stops watching its fd (before MHD closes it)
 * and closes the handle. */
static void poll_release(struct listener *l, struct hpoll *p)
{
  struct hpoll **pp;

  for(pp = &l->polls; *pp; pp = &(*pp)->next)
    if(*pp == p) {
      *pp = p->next;
      break;
    }
  p->l = NULL;
  uv_poll_stop(&p->poll);
  uv_close((uv_handle_t *)&p->poll, on_poll_close);
}

static struct hpoll *poll_find(struct listener *l, int fd)
{
  struct hpoll *p;

  for(p = l->polls; p; p = p->next)
    if(p->fd == fd)
      return p;
  return NULL;
}

/* run() lets MHD handle what is ready (rs/ws may be empty: timeouts),
 * then watches what it wants next. */
static void run(struct listener *l, fd_set *rs, fd_set *ws)
{
  fd_set es;

  FD_ZERO(&es);
  if(MHD_run_from_select(l->mhd, rs, ws, &es) != MHD_YES)
    log_debug("health: MHD_run_from_select failed");
  sync_fds(l);
}

static void on_poll(uv_poll_t *hd, int status, int events)
{
  struct hpoll *p = container_of(hd, struct hpoll, poll);
  fd_set rs, ws;

  FD_ZERO(&rs);
  FD_ZERO(&ws);
  /* An error is handed to MHD as readiness: its read fails and it closes
   * the connection. */
  if(status < 0 || (events & UV_READABLE))
    FD_SET(p->fd, &rs);
  if(status >= 0 && (events & UV_WRITABLE))
    FD_SET(p->fd, &ws);
  run(p->l, &rs, &ws);
}

static void on_timer(uv_timer_t *t)
{
  struct listener *l = t->data;
  fd_set rs, ws;

  FD_ZERO(&rs);
  FD_ZERO(&ws);
  run(l, &rs, &ws);
}

/* sync_fds() makes the polls match the sockets MHD wants watched and
 * arms the timer.  A poll that cannot be made is logged; that socket then
 * waits for the timer (MHD closes idle connections). */
static void sync_fds(struct listener *l)
{
  MHD_UNSIGNED_LONG_LONG ms;
  fd_set rs, ws, es;
  MHD_socket max = 0;
  struct hpoll *p, *next;
  int fd;

  if(l->h->closing)
    return;
  FD_ZERO(&rs);
  FD_ZERO(&ws);
  FD_ZERO(&es);
  if(MHD_get_fdset2(l->mhd, &rs, &ws, &es, &max, FD_SETSIZE) != MHD_YES)
    log_warnx("health: a socket is above FD_SETSIZE; not watched");
  for(p = l->polls; p; p = p->next)
    p->seen = false;
  for(fd = 0; fd <= max; fd++) {
    int ev = (FD_ISSET(fd, &rs) ? UV_READABLE : 0) |
             (FD_ISSET(fd, &ws) ? UV_WRITABLE : 0);

    if(!ev)
      continue;
    p = poll_find(l, fd);
    if(!p) {
      p = calloc(1, sizeof(*p));
      if(!p || uv_poll_init_socket(l->h->loop, &p->poll, fd)) {
        log_warnx("health: cannot watch socket %d", fd);
        free(p);
        continue;
      }
      l->h->nhandles++;
      p->fd = fd;
      p->l = l;
      p->h = l->h;
      p->next = l->polls;
      l->polls = p;
    }
    p->seen = true;
    if(p->events != ev && !uv_poll_start(&p->poll, ev, on_poll))
      p->events = ev;
  }
  for(p = l->polls; p; p = next) {
    next = p->next;
    if(!p->seen)
      poll_release(l, p);
  }
  if(MHD_get_timeout(l->mhd, &ms) == MHD_YES)
    uv_timer_start(&l->timer, on_timer, (uint64_t)ms, 0);
  else
    uv_timer_stop(&l->timer);
}

/* on_notify() is MHD_OPTION_NOTIFY_CONNECTION: a closing connection's
 * poll is stopped before MHD closes the socket. */
static void on_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                      enum MHD_ConnectionNotificationCode code)
{
  struct listener *l = cls;
  const union MHD_ConnectionInfo *ci;
  struct hpoll *p;

  (void)socket_ctx;
  if(code != MHD_CONNECTION_NOTIFY_CLOSED)
    return;
  ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  if(ci && (p = poll_find(l, ci->connect_fd)))
    poll_release(l, p);
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

/* listener_new() starts MHD on the TCP address listen or, when path is
 * set, on a Unix socket there.  Returns 0, or -1 after logging why. */
static int listener_new(struct health *h, const char *listen, const char *path)
{
  struct sockaddr_storage ss;
  socklen_t sslen;
  struct listener *l;
  unsigned flags = MHD_USE_ERROR_LOG;
  int fd = -1;

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
  }
  else if(cfgval_listen(listen, &ss, &sslen)) {
    log_errx("health: '%s' is not ADDRESS:PORT", listen);
    goto fail;
  }
  else if(ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  /* The logger comes first so that MHD reports option errors there. */
  l->mhd =
      path ? MHD_start_daemon(
                 flags, 0, NULL, NULL, answer, l, MHD_OPTION_EXTERNAL_LOGGER,
                 on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                 MHD_OPTION_CONNECTION_LIMIT, HEALTH_MAX_CONNECTIONS,
                 MHD_OPTION_CONNECTION_TIMEOUT, HEALTH_IDLE_TIMEOUT,
                 MHD_OPTION_NOTIFY_CONNECTION, on_notify, l, MHD_OPTION_END)
           : MHD_start_daemon(
                 flags, 0, NULL, NULL, answer, l, MHD_OPTION_EXTERNAL_LOGGER,
                 on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                 MHD_OPTION_CONNECTION_LIMIT, HEALTH_MAX_CONNECTIONS,
                 MHD_OPTION_CONNECTION_TIMEOUT, HEALTH_IDLE_TIMEOUT,
                 MHD_OPTION_NOTIFY_CONNECTION, on_notify, l, MHD_OPTION_END);
  if(!l->mhd) {
    log_errx("health: cannot listen on %s (address in use?); running "
             "without it",
             path ? path : listen);
    goto fail;
  }
  if(!path) {
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
    char host[INET6_ADDRSTRLEN + 2];

    snprintf(host, sizeof(host), "%.*s", (int)(strrchr(listen, ':') - listen),
             listen);
    snprintf(h->url, sizeof(h->url), "http://%s:%u/", host, di ? di->port : 0);
  }
  uv_timer_init(h->loop, &l->timer);
  l->timer.data = l;
  h->nhandles++;
  h->l[h->nl++] = l;
  log_info("health: listening on %s", path ? path : h->url);
  sync_fds(l);
  return 0;

fail:
  if(fd != -1)
    close(fd);
  if(l->path && fd != -1)
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
  if(listen && strcmp(listen, "none"))
    listener_new(h, listen, NULL);
  if(socket_path && strcmp(socket_path, "none"))
    listener_new(h, NULL, socket_path);
  *out = h;
  return 0;
}

const char *health_url(const struct health *h)
{
  return h->url[0] ? h->url : NULL;
}

static void on_timer_close(uv_handle_t *hd)
{
  struct listener *l = hd->data;
  struct health *h = l->h;

  free(l);
  handle_closed(h);
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
  h->nhandles++;
  for(i = 0; i < h->nl; i++) {
    struct listener *l = h->l[i];

    while(l->polls)
      poll_release(l, l->polls);
    MHD_stop_daemon(l->mhd);
    if(l->path) {
      unlink(l->path);
      free(l->path);
      l->path = NULL;
    }
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, on_timer_close);
  }
  handle_closed(h);
}
