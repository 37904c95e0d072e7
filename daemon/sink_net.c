/* SPDX-License-Identifier: MIT
 *
 * sink_net: remote syslog on the loop with libuv.
 *
 * - udp: one datagram per alert (RFC 5426), sent with uv_udp_try_send();
 *   UDP has no acknowledgement, so "accepted" means the kernel took it.
 * - tcp: RFC 6587 octet counting ("LEN SP MSG"), one connection kept
 *   open and read from, so that a receiver closing it is noticed before
 *   the next batch.  A batch is written with uv_try_write() and the
 *   records that went out whole are acknowledged at once, leaving the
 *   smallest window in which a kill could send one twice; the rest waits
 *   for uv_write().  Plain TCP syslog has no application-level
 *   acknowledgement: what the receiver's kernel had taken when the
 *   receiver died is lost to both sides.  Every alert carries a stable
 *   id, so a receiver can drop a repeat.
 * - tls: the same framing over TLS (RFC 5425), OpenSSL on memory BIOs
 *   (tls.h) over the same TCP stream, the receiver verified against
 *   ca_file or the system's store.  A batch is encrypted whole and
 *   acknowledged when the kernel took all of it.
 *
 * The receiver's name is resolved with uv_getaddrinfo() before each
 * connection, so a changed address is picked up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sink.h"
#include "tls.h"

#define MAX_BATCH 256

enum conn_state { DOWN, RESOLVING, CONNECTING, UP, CLOSING };

struct net_sink {
  struct sink *s;
  bool tcp, use_tls;
  char *host;
  char *ca_file;    /* tls: NULL for the system's store */
  struct tls *tls;  /* tls: the session of this connection */
  bool handshaking; /* tls: a batch waits for the handshake */
  char port[12];
  enum conn_state state;
  uv_getaddrinfo_t gai;
  union {
    uv_tcp_t tcp;
    uv_udp_t udp;
  } h;
  uv_connect_t connect;
  uv_write_t write;
  struct sockaddr_storage addr; /* udp: the resolved receiver */
  /* The batch being sent. */
  const struct spool_rec *first;
  size_t n, acked; /* records in it, records already acknowledged */
  size_t *ends;    /* byte offset of the end of each record's frame */
  uv_buf_t *iov;   /* length prefix and record, per record */
  char (*lens)[24];
  size_t off; /* bytes of the batch written so far */
  bool writing, closing;
};

static void net_close_done(struct net_sink *ns);

static int net_open(struct sink *s, const struct cfg_sink *c)
{
  struct net_sink *ns = calloc(1, sizeof(*ns));

  if(!ns)
    return -ENOMEM;
  ns->s = s;
  ns->tcp = c->type == CFG_SINK_TCP || c->type == CFG_SINK_TLS;
  ns->use_tls = c->type == CFG_SINK_TLS;
  ns->host = strdup(c->host);
  ns->ca_file = c->ca_file ? strdup(c->ca_file) : NULL;
  ns->ends = calloc(MAX_BATCH, sizeof(*ns->ends));
  ns->iov = calloc(2 * MAX_BATCH, sizeof(*ns->iov));
  ns->lens = calloc(MAX_BATCH, sizeof(*ns->lens));
  if(!ns->host || !ns->ends || !ns->iov || !ns->lens ||
     (c->ca_file && !ns->ca_file)) {
    free(ns->host);
    free(ns->ca_file);
    free(ns->ends);
    free(ns->iov);
    free(ns->lens);
    free(ns);
    return -ENOMEM;
  }
  /* 6514: RFC 5425, section 4.1. */
  snprintf(ns->port, sizeof(ns->port), "%u",
           c->port       ? c->port
           : ns->use_tls ? 6514
                         : 514);
  s->impl = ns;
  s->fo.frame = FMT_FRAME_5424;
  return 0;
}

/* fail_why() ends the batch: the records not acknowledged yet are
 * retried. */
static void fail_why(struct net_sink *ns, int err, const char *what)
{
  char why[300];

  snprintf(why, sizeof(why), "%s:%s: %s", ns->host, ns->port, what);
  ns->writing = false;
  ns->handshaking = false;
  sink_done(ns->s, 0, err, why, 0);
}

static void fail(struct net_sink *ns, int err, const char *what)
{
  char why[200];

  snprintf(why, sizeof(why), "%s: %s", what, uv_strerror(err));
  fail_why(ns, err, why);
}

static void on_handle_closed(uv_handle_t *h)
{
  struct net_sink *ns = h->data;

  tls_free(ns->tls);
  ns->tls = NULL;
  ns->state = DOWN;
  if(ns->closing)
    net_close_done(ns);
}

/* drop() closes the connection; the next batch opens a new one. */
static void drop(struct net_sink *ns)
{
  if(ns->state == UP || ns->state == CONNECTING) {
    ns->state = CLOSING;
    uv_close((uv_handle_t *)&ns->h, on_handle_closed);
  }
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
  static char sink_buf[4096];

  (void)h;
  (void)size;
  *buf = uv_buf_init(sink_buf, sizeof(sink_buf));
}

static void write_batch(struct net_sink *ns);
static void tls_step(struct net_sink *ns);

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  struct net_sink *ns = st->data;
  int rc;

  if(n >= 0 && !ns->tls)
    return; /* a syslog receiver sends nothing; ignore it */
  if(n > 0) {
    rc = tls_feed(ns->tls, buf->base, (size_t)n);
    if(!rc && ns->handshaking) {
      tls_step(ns);
      return;
    }
    if(!rc)
      rc = tls_read_discard(ns->tls);
    if(!rc)
      return;
    log_info("sink %s: %s:%s: %s", ns->s->name, ns->host, ns->port,
             tls_error(ns->tls));
    drop(ns);
    if(ns->handshaking)
      fail_why(ns, rc, tls_error(ns->tls));
    return;
  }
  if(!n)
    return;
  log_info("sink %s: %s:%s closed the connection (%s)", ns->s->name, ns->host,
           ns->port, uv_strerror((int)n));
  drop(ns);
  if(ns->handshaking)
    fail(ns, (int)n, "TLS handshake");
}

/* One write of TLS records; the buffer is freed when it is done. */
struct tls_out {
  uv_write_t w;
  struct net_sink *ns;
  char *buf;
  bool batch; /* the records of the batch, not handshake bytes */
};

static void on_written(uv_write_t *w, int status);

static void on_tls_written(uv_write_t *w, int status)
{
  struct tls_out *o = w->data;
  struct net_sink *ns = o->ns;

  free(o->buf);
  if(o->batch) {
    ns->write.data = ns;
    on_written(&ns->write, status);
  }
  free(o);
}

/* tls_send() writes what the session has for the peer.  Returns 0 or a
 * negative errno code (nothing was queued). */
static int tls_send(struct net_sink *ns, bool batch)
{
  struct tls_out *o;
  uv_buf_t b;
  size_t n;
  char *buf;
  int rc = tls_take(ns->tls, &buf, &n);

  if(rc || !n)
    return rc ? rc : batch ? -EIO : 0;
  o = calloc(1, sizeof(*o));
  if(!o) {
    free(buf);
    return -ENOMEM;
  }
  o->ns = ns;
  o->buf = buf;
  o->batch = batch;
  o->w.data = o;
  b = uv_buf_init(buf, (unsigned)n);
  rc = uv_write(&o->w, (uv_stream_t *)&ns->h.tcp, &b, 1, on_tls_written);
  if(rc) {
    free(buf);
    free(o);
  }
  return rc;
}

/* tls_step() advances the handshake and sends the batch once it is
 * done. */
static void tls_step(struct net_sink *ns)
{
  int rc = tls_handshake(ns->tls);

  if(rc >= 0) {
    int w = tls_send(ns, false);

    if(w) {
      drop(ns);
      fail(ns, w, "TLS handshake");
      return;
    }
  }
  if(rc < 0) {
    char why[240];

    snprintf(why, sizeof(why), "%s", tls_error(ns->tls));
    drop(ns);
    fail_why(ns, rc, why);
    return;
  }
  if(rc == 1) {
    ns->handshaking = false;
    ns->state = UP;
    log_info("sink %s: TLS session with %s:%s", ns->s->name, ns->host,
             ns->port);
    write_batch(ns);
  }
}

/* tls_batch() encrypts the whole batch, framed, and writes it. */
static void tls_batch(struct net_sink *ns)
{
  const struct spool_rec *r = ns->first;
  size_t i, total = 0, off = 0;
  char *plain;
  int rc = 0;

  for(i = 0; i < ns->n && r; i++, r = r->next)
    total += 24 + r->len;
  plain = malloc(total ? total : 1);
  if(!plain) {
    fail(ns, UV_ENOMEM, "TLS write");
    return;
  }
  for(i = 0, r = ns->first; i < ns->n && r; i++, r = r->next) {
    off += (size_t)snprintf(plain + off, 24, "%zu ", r->len);
    memcpy(plain + off, r->data, r->len);
    off += r->len;
  }
  ns->n = i;
  ns->acked = 0;
  rc = tls_write(ns->tls, plain, off);
  free(plain);
  if(rc) {
    char why[240];

    snprintf(why, sizeof(why), "%s", tls_error(ns->tls));
    drop(ns);
    fail_why(ns, rc, why);
    return;
  }
  ns->writing = true;
  rc = tls_send(ns, true);
  if(rc) {
    ns->writing = false;
    drop(ns);
    fail(ns, rc, "write");
  }
}

static void on_written(uv_write_t *w, int status)
{
  struct net_sink *ns = w->data;
  size_t rest = ns->n - ns->acked;

  ns->writing = false;
  if(ns->closing)
    return;
  if(status) {
    drop(ns);
    fail(ns, status, "write");
    return;
  }
  sink_done(ns->s, rest, 0, NULL, 0);
}

/* write_batch() frames the batch and writes it, acknowledging at once
 * the records uv_try_write() took whole. */
static void write_batch(struct net_sink *ns)
{
  const struct spool_rec *r = ns->first;
  size_t i, k = 0, total = 0, done;
  int w;

  if(ns->tls) {
    tls_batch(ns);
    return;
  }
  for(i = 0; i < ns->n && r; i++, r = r->next) {
    int l = snprintf(ns->lens[i], sizeof(ns->lens[i]), "%zu ", r->len);

    ns->iov[2 * i] = uv_buf_init(ns->lens[i], (unsigned)l);
    ns->iov[2 * i + 1] =
        uv_buf_init((char *)(uintptr_t)r->data, (unsigned)r->len);
    total += (size_t)l + r->len;
    ns->ends[i] = total;
  }
  ns->n = i;
  ns->acked = 0;
  w = uv_try_write((uv_stream_t *)&ns->h.tcp, ns->iov, (unsigned)(2 * i));
  if(w < 0 && w != UV_EAGAIN) {
    drop(ns);
    fail(ns, w, "write");
    return;
  }
  done = w > 0 ? (size_t)w : 0;
  while(k < ns->n && ns->ends[k] <= done)
    k++;
  if(done == total) {
    sink_done(ns->s, ns->n, 0, NULL, 0);
    return;
  }
  /* Acknowledge what went out whole; write the rest asynchronously. */
  if(k)
    sink_accepted(ns->s, k);
  ns->acked = k;
  {
    size_t skip = done, j = 0, nb = 0;
    uv_buf_t *b = ns->iov;

    for(j = 0; j < 2 * ns->n; j++) {
      if(skip >= b[j].len) {
        skip -= b[j].len;
        continue;
      }
      b[nb].base = b[j].base + skip;
      b[nb].len = b[j].len - skip;
      skip = 0;
      nb++;
    }
    ns->writing = true;
    ns->write.data = ns;
    w = uv_write(&ns->write, (uv_stream_t *)&ns->h.tcp, b, (unsigned)nb,
                 on_written);
    if(w < 0) {
      ns->writing = false;
      drop(ns);
      fail(ns, w, "write");
    }
  }
}

static void on_connected(uv_connect_t *c, int status)
{
  struct net_sink *ns = c->data;

  if(ns->closing)
    return;
  if(status) {
    drop(ns);
    fail(ns, status, "connect");
    return;
  }
  log_info("sink %s: connected to %s:%s", ns->s->name, ns->host, ns->port);
  uv_read_start((uv_stream_t *)&ns->h.tcp, on_alloc, on_read);
  if(ns->use_tls) {
    char why[240];
    int rc = tls_new(ns->host, ns->ca_file, &ns->tls, why, sizeof(why));

    if(rc) {
      drop(ns);
      fail_why(ns, rc, why);
      return;
    }
    ns->handshaking = true;
    tls_step(ns);
    return;
  }
  ns->state = UP;
  write_batch(ns);
}

static void send_udp(struct net_sink *ns)
{
  const struct spool_rec *r = ns->first;
  size_t i;
  int w = 0;

  for(i = 0; i < ns->n && r; i++, r = r->next) {
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)r->data, (unsigned)r->len);

    w = uv_udp_try_send(&ns->h.udp, &b, 1, (struct sockaddr *)&ns->addr);
    if(w < 0)
      break;
  }
  if(w < 0) {
    char why[300];

    snprintf(why, sizeof(why), "%s:%s: send: %s", ns->host, ns->port,
             uv_strerror(w));
    sink_done(ns->s, i, w, why, 0);
    return;
  }
  sink_done(ns->s, i, 0, NULL, 0);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
  struct net_sink *ns = g->data;
  int rc;

  if(ns->closing) {
    uv_freeaddrinfo(ai);
    ns->state = DOWN;
    net_close_done(ns);
    return;
  }
  if(status) {
    ns->state = DOWN;
    fail(ns, status, "resolve");
    return;
  }
  if(!ns->tcp) {
    memcpy(&ns->addr, ai->ai_addr, ai->ai_addrlen);
    uv_freeaddrinfo(ai);
    rc = uv_udp_init(ns->s->loop, &ns->h.udp);
    if(rc) {
      ns->state = DOWN;
      fail(ns, rc, "socket");
      return;
    }
    ns->h.udp.data = ns;
    ns->state = UP;
    send_udp(ns);
    return;
  }
  uv_tcp_init(ns->s->loop, &ns->h.tcp);
  ns->h.tcp.data = ns;
  ns->state = CONNECTING;
  ns->connect.data = ns;
  rc = uv_tcp_connect(&ns->connect, &ns->h.tcp, ai->ai_addr, on_connected);
  uv_freeaddrinfo(ai);
  if(rc) {
    drop(ns);
    fail(ns, rc, "connect");
  }
}

static void net_deliver(struct sink *s, const struct spool_rec *r, size_t n)
{
  struct net_sink *ns = s->impl;
  struct addrinfo hints = {0};
  int rc;

  ns->first = r;
  ns->n = n;
  ns->acked = 0;
  if(ns->state == UP) {
    if(ns->tcp)
      write_batch(ns);
    else
      send_udp(ns);
    return;
  }
  if(ns->state == CLOSING) { /* try again once the old one is closed */
    sink_done(s, 0, UV_ECONNRESET, "connection closing", 100);
    return;
  }
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = ns->tcp ? SOCK_STREAM : SOCK_DGRAM;
  ns->gai.data = ns;
  ns->state = RESOLVING;
  rc = uv_getaddrinfo(s->loop, &ns->gai, on_resolved, ns->host, ns->port,
                      &hints);
  if(rc) {
    ns->state = DOWN;
    fail(ns, rc, "resolve");
  }
}

static void net_close_done(struct net_sink *ns)
{
  struct sink *s = ns->s;

  free(ns->host);
  free(ns->ca_file);
  free(ns->ends);
  free(ns->iov);
  free(ns->lens);
  free(ns);
  sink_type_closed(s);
}

static void net_close(struct sink *s)
{
  struct net_sink *ns = s->impl;

  ns->closing = true;
  if(ns->state == RESOLVING) {
    uv_cancel((uv_req_t *)&ns->gai); /* on_resolved finishes */
    return;
  }
  if(ns->state == UP || ns->state == CONNECTING) {
    ns->state = CLOSING;
    uv_close((uv_handle_t *)&ns->h, on_handle_closed);
    return;
  }
  if(ns->state == CLOSING)
    return; /* on_handle_closed finishes */
  net_close_done(ns);
}

/* One type for the three: net_open() tells them apart by the
 * configured type. */
const struct sink_type sink_net_type = {
    .default_format = FMT_RFC5424,
    .max_batch = MAX_BATCH,
    .open = net_open,
    .deliver = net_deliver,
    .close = net_close,
};
