/* SPDX-License-Identifier: MIT
 *
 * http_pool: libcurl's multi_socket API driven by the uv loop, one multi
 * handle for the process (see http_pool.h).  The pool lives while a
 * client uses it; the last http_pool_put() cleans up the multi handle
 * while every poll handle is still open (curl may still call on_socket()
 * then), closes the polls curl never released and the timer, and the
 * last close callback frees the pool.
 */
#include "http_pool.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "log.h"

#define container_of(ptr, type, member)                                        \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Connections kept open when idle, over all tenants: beyond this curl
 * closes the oldest (CURLMOPT_MAXCONNECTS). */
#define POOL_MAX_IDLE 16

/* Connections open at once, over all tenants: transfers beyond this wait
 * in curl's queue until one is free (CURLMOPT_MAX_TOTAL_CONNECTIONS).
 * 1,000 tenants start their first cycles within the same 2 s
 * (schedule.h); without a cap each would open its own connection and the
 * process would run out of descriptors under the usual soft limit of
 * 1,024.  64 loopback or HTTP/2 connections keep a thousand tenants'
 * requests moving. */
#define POOL_MAX_TOTAL 64

/* One socket curl asked us to watch.  Freed in its close callback; until
 * then it is on the pool's socks list if curl still knows about it. */
struct sock {
  LIST_ENTRY(sock) entry;
  uv_poll_t poll;
  curl_socket_t fd;
  struct http_pool *p;
};

struct http_pool {
  uv_loop_t *loop;
  CURLM *multi; /* NULL once cleaned up */
  uv_timer_t timer;
  http_pool_done_cb done;
  unsigned users;
  unsigned draining;       /* drain() calls under way */
  LIST_HEAD(, sock) socks; /* polls curl has not yet released */
  unsigned nhandles;       /* uv handles not yet through their close_cb */
};

/* The pool of the process (the daemon runs one loop). */
static struct http_pool *the_pool;

static void handle_closed(struct http_pool *p)
{
  if(!--p->nhandles)
    free(p);
}

static void on_sock_close(uv_handle_t *h)
{
  struct sock *s = container_of(h, struct sock, poll);
  struct http_pool *p = s->p;

  free(s);
  handle_closed(p);
}

static void on_timer_close(uv_handle_t *h)
{
  handle_closed(container_of(h, struct http_pool, timer));
}

/* sock_release() stops watching a socket and closes its poll handle; the
 * struct goes in on_sock_close().  Stopping comes first because curl may
 * close the fd as soon as we return. */
static void sock_release(struct sock *s)
{
  LIST_REMOVE(s, entry);
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_sock_close);
}

/* destroy() ends the pool once no user and no drain() is left. */
static void destroy(struct http_pool *p)
{
  if(the_pool == p)
    the_pool = NULL;
  curl_multi_cleanup(p->multi);
  p->multi = NULL;
  while(!LIST_EMPTY(&p->socks))
    sock_release(LIST_FIRST(&p->socks));
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->timer, on_timer_close);
}

/* drain() reads every message curl has and hands the finished transfers
 * to the done callback.  It must run after each
 * curl_multi_socket_action(): a message left unread would be a transfer
 * whose callback never runs.  Returns false when the pool was destroyed
 * on the way (a callback put the last user). */
static bool drain(struct http_pool *p)
{
  CURLMsg *msg;
  int left;

  p->draining++;
  while(p->users && (msg = curl_multi_info_read(p->multi, &left))) {
    CURL *easy = msg->easy_handle;
    CURLcode rc = msg->data.result;

    if(msg->msg != CURLMSG_DONE)
      continue;
    /* The message dies with curl_multi_remove_handle(): copied above. */
    curl_multi_remove_handle(p->multi, easy);
    p->done(easy, rc);
  }
  if(--p->draining || p->users)
    return true;
  destroy(p);
  return false;
}

/* on_poll() tells curl a socket is ready (or failed), then completes what
 * finished.  s may be released during the call, so it is not used after. */
static void on_poll(uv_poll_t *h, int status, int events)
{
  struct sock *s = container_of(h, struct sock, poll);
  struct http_pool *p = s->p;
  int flags = 0, running;
  CURLMcode mc;

  if(!p->multi)
    return;
  if(status < 0)
    flags = CURL_CSELECT_ERR;
  else {
    if(events & UV_READABLE)
      flags |= CURL_CSELECT_IN;
    if(events & UV_WRITABLE)
      flags |= CURL_CSELECT_OUT;
  }
  mc = curl_multi_socket_action(p->multi, s->fd, flags, &running);
  if(mc)
    log_debug("http: curl_multi_socket_action: %s", curl_multi_strerror(mc));
  drain(p);
}

/* on_socket() is CURLMOPT_SOCKETFUNCTION: start, change or stop watching
 * socket fd.  Returns -1 (failing the transfers on that socket) when a
 * poll handle cannot be made. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp)
{
  struct http_pool *p = userp;
  struct sock *s = socketp;
  int events = 0;

  (void)easy;
  switch(what) {
  case CURL_POLL_IN:
  case CURL_POLL_OUT:
  case CURL_POLL_INOUT:
    if(!s) {
      s = calloc(1, sizeof(*s));
      if(!s)
        return -1;
      if(uv_poll_init_socket(p->loop, &s->poll, fd)) {
        free(s);
        return -1;
      }
      s->fd = fd;
      s->p = p;
      p->nhandles++;
      LIST_INSERT_HEAD(&p->socks, s, entry);
      curl_multi_assign(p->multi, fd, s);
    }
    if(what != CURL_POLL_OUT)
      events |= UV_READABLE;
    if(what != CURL_POLL_IN)
      events |= UV_WRITABLE;
    if(uv_poll_start(&s->poll, events, on_poll))
      return -1;
    return 0;
  case CURL_POLL_REMOVE:
    if(s) {
      curl_multi_assign(p->multi, fd, NULL);
      sock_release(s);
    }
    return 0;
  default:
    return -1;
  }
}

/* on_timeout() is curl's deadline firing: let curl handle timeouts, then
 * complete what finished. */
static void on_timeout(uv_timer_t *t)
{
  struct http_pool *p = container_of(t, struct http_pool, timer);
  int running;
  CURLMcode mc;

  if(!p->multi)
    return;
  mc = curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  if(mc)
    log_debug("http: curl_multi_socket_action: %s", curl_multi_strerror(mc));
  drain(p);
}

/* on_timer() is CURLMOPT_TIMERFUNCTION.  It must not call libcurl, so even
 * a zero timeout only arms the uv timer, which fires on the next loop
 * iteration. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
  struct http_pool *p = userp;

  (void)multi;
  if(timeout_ms < 0)
    return uv_timer_stop(&p->timer) ? -1 : 0;
  return uv_timer_start(&p->timer, on_timeout, (uint64_t)timeout_ms, 0) ? -1
                                                                        : 0;
}

struct http_pool *http_pool_get(uv_loop_t *loop, http_pool_done_cb done)
{
  struct http_pool *p = the_pool;

  if(p) {
    if(p->loop != loop)
      return NULL;
    p->users++;
    return p;
  }
  p = calloc(1, sizeof(*p));
  if(!p)
    return NULL;
  p->loop = loop;
  p->done = done;
  LIST_INIT(&p->socks);
  p->multi = curl_multi_init();
  /* HTTP/2 streams share one connection where the server offers it
   * (the default since curl 7.62; said here so that it stays). */
  if(!p->multi ||
     curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, on_socket) ||
     curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p) ||
     curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, on_timer) ||
     curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p) ||
     curl_multi_setopt(p->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX) ||
     curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)POOL_MAX_IDLE) ||
     curl_multi_setopt(p->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                       (long)POOL_MAX_TOTAL) ||
     uv_timer_init(loop, &p->timer)) {
    if(p->multi)
      curl_multi_cleanup(p->multi);
    free(p);
    return NULL;
  }
  p->nhandles = 1;
  p->users = 1;
  the_pool = p;
  return p;
}

void http_pool_put(struct http_pool *p)
{
  if(--p->users || p->draining)
    return; /* drain() destroys it when it is done */
  destroy(p);
}

int http_pool_add(struct http_pool *p, CURL *easy)
{
  CURLMcode mc = curl_multi_add_handle(p->multi, easy);

  if(mc)
    return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
  return 0;
}

void http_pool_remove(struct http_pool *p, CURL *easy)
{
  curl_multi_remove_handle(p->multi, easy);
}
