/* SPDX-License-Identifier: MIT
 *
 * spool: see spool.h.  The records live in one list, oldest first:
 *
 *   head ... (ready: on disk, not accepted) ... unwritten ... tail
 *
 * A record's bytes are in memory from spool_append() until its batch is
 * on disk, and again from spool_fetch() until it is accepted; a record
 * that waits (held for its state, or for a receiver that is down) is
 * only its place in the list and in the file.
 *
 * One file-system request is in flight at a time: the write of a batch,
 * then its fdatasync.  A batch that fails is cut off the file again and
 * retried with backoff; one line is logged when the disk fails and one
 * when it works again.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tfiles.h"

#define BATCH_MAX_RECORDS 1024
#define BATCH_MAX_BYTES (8UL * 1024 * 1024)
#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000

struct spool {
  uv_loop_t *loop;
  char *path, *ack_path;
  int fd, ackfd;
  size_t max;
  struct spool_rec *head, *tail, *unwritten;
  size_t nready, npending, bytes;
  uint64_t size;    /* bytes of the file that are durable */
  uint64_t acked;   /* offset up to which records were accepted */
  uint64_t dropped; /* records refused because the spool was full */
  uv_timer_t timer; /* starts the next batch, now or after a failure */
  uv_fs_t req;
  bool busy; /* req is in flight */
  uv_buf_t iov[BATCH_MAX_RECORDS];
  struct spool_rec *batch_last;
  size_t batch_n, batch_bytes;
  bool failing;
  unsigned retry_ms;
  spool_ready_cb ready;
  void *arg;
  spool_gate_fn gate;
  void *gate_arg;
  uint64_t appended; /* records appended since opened */
  uint64_t durable;  /* of those, written (or given up on) */
  struct spool_waiter *waiters;
  bool closing;
  void (*close_cb)(void *arg);
  void *close_arg;
};

/* One spool_when_synced() call. */
struct spool_waiter {
  uint64_t target; /* durable must reach this */
  spool_synced_cb cb;
  void *arg;
  struct spool_waiter *next;
};

static void start_batch(struct spool *s);

/* wake() calls the waiters whose records are all durable, or all of them
 * with all true. */
static void wake(struct spool *s, bool all)
{
  struct spool_waiter **pp = &s->waiters, *w;

  while((w = *pp)) {
    if(!all && w->target > s->durable) {
      pp = &w->next;
      continue;
    }
    *pp = w->next;
    w->cb(w->arg);
    free(w);
    pp = &s->waiters; /* cb may have added or woken others */
  }
}

/* write_ack() records the accepted offset and the dropped count, in one
 * fixed-size pwrite(2): a kill at any moment leaves either the old or the
 * new text in the page cache. */
static void write_ack(struct spool *s)
{
  char buf[64];
  int n = snprintf(buf, sizeof(buf), "%020" PRIu64 " %020" PRIu64 "\n",
                   s->acked, s->dropped);

  if(pwrite(s->ackfd, buf, (size_t)n, 0) != n)
    log_warn("spool: %s: write", s->ack_path);
}

static void free_rec(struct spool_rec *r)
{
  free(r->tname);
  free(r->frame);
  free(r);
}

/* new_rec() frames len bytes of data, tagged with tenant and seq when
 * tenant is not NULL.  Returns NULL when out of memory. */
static struct spool_rec *new_rec(const char *data, size_t len,
                                 const char *tenant, size_t tlen, uint64_t seq)
{
  struct spool_rec *r = calloc(1, sizeof(*r));
  char *head = NULL;
  int h = tenant ? asprintf(&head, "%zu@%" PRIu64 "@%zu@%.*s:", len, seq, tlen,
                            (int)tlen, tenant)
                 : asprintf(&head, "%zu:", len);

  if(!r || h < 0 || (tenant && !(r->tname = strndup(tenant, tlen)))) {
    if(h >= 0)
      free(head);
    free(r);
    return NULL;
  }
  r->frame = malloc((size_t)h + len + 2);
  if(!r->frame) {
    free(head);
    free(r->tname);
    free(r);
    return NULL;
  }
  r->tenant = r->tname;
  r->seq = seq;
  r->colon = (size_t)h - 1;
  memcpy(r->frame, head, (size_t)h);
  free(head);
  memcpy(r->frame + h, data, len);
  r->frame[h + len] = '\n';
  r->frame[h + len + 1] = '\0';
  r->flen = (size_t)h + len + 1;
  r->data = r->frame + h;
  r->len = len;
  /* The payload is NUL-terminated in place of the '\n' for readers. */
  return r;
}

/* drop_bytes() frees the bytes of r, which are on disk from now on:
 * spool_fetch() reads them back when r is delivered.  Its place in the
 * file (end, flen, colon) stays. */
static void drop_bytes(struct spool_rec *r)
{
  free(r->frame);
  r->frame = NULL;
  r->data = NULL;
}

/* fetch() reads the frame of r back from the file of s.  Returns 0, or
 * -EIO when the file no longer holds it, or another negative errno. */
static int fetch(const struct spool *s, struct spool_rec *r)
{
  char *frame = malloc(r->flen + 1);
  ssize_t n;

  if(!frame)
    return -ENOMEM;
  n = pread(s->fd, frame, r->flen, (off_t)(r->end - r->flen));
  if(n != (ssize_t)r->flen || frame[r->colon] != ':' ||
     frame[r->flen - 1] != '\n') {
    int rc = n < 0 ? -errno : -EIO;

    free(frame);
    return rc;
  }
  frame[r->flen] = '\0';
  r->frame = frame;
  r->data = frame + r->colon + 1;
  return 0;
}

static void link_rec(struct spool *s, struct spool_rec *r)
{
  if(s->tail)
    s->tail->next = r;
  else
    s->head = r;
  s->tail = r;
  s->npending++;
  s->bytes += r->flen;
}

/* load() reads back the records after the accepted offset; a torn last
 * record is cut off the file.  Returns 0 or -errno. */
static int load(struct spool *s)
{
  struct stat st;
  char *buf, *p, *end;
  size_t n;

  if(fstat(s->fd, &st) < 0)
    return -errno;
  s->size = (uint64_t)st.st_size;
  if(s->acked > s->size) /* emptied after everything was accepted */
    s->acked = 0;
  n = (size_t)(s->size - s->acked);
  if(!n)
    return 0;
  buf = malloc(n + 1);
  if(!buf)
    return -ENOMEM;
  if(pread(s->fd, buf, n, (off_t)s->acked) != (ssize_t)n) {
    free(buf);
    return errno ? -errno : -EIO;
  }
  buf[n] = '\0';
  p = buf;
  end = buf + n;
  while(p < end) {
    char *colon, *q;
    unsigned long long len, seq = 0, tlen = 0;
    const char *tenant = NULL; /* the tag's, when the record has one */
    struct spool_rec *r;

    len = strtoull(p, &colon, 10);
    if(colon > p && colon < end && *colon == '@') {
      seq = strtoull(colon + 1, &q, 10);
      if(q >= end || *q != '@')
        break;
      tlen = strtoull(q + 1, &colon, 10);
      if(colon >= end || *colon != '@' ||
         tlen > (unsigned long long)(end - colon - 1))
        break;
      tenant = colon + 1;
      colon += 1 + tlen;
    }
    if(colon == p || colon >= end || (*colon != ':' && *colon != '!') ||
       len > (unsigned long long)(end - colon - 1) || colon[1 + len] != '\n')
      break;
    q = colon + 1;
    p = q + len + 1;
    if(*colon == '!') /* voided: its state file never committed it */
      continue;
    r = new_rec(q, (size_t)len, tenant, (size_t)tlen, seq);
    if(!r) {
      free(buf);
      return -ENOMEM;
    }
    r->end = s->acked + (uint64_t)(p - buf);
    drop_bytes(r);
    link_rec(s, r);
    s->nready++;
  }
  if(p < end) {
    uint64_t good = s->acked + (uint64_t)(p - buf);

    log_warnx("spool: %s: cut %zu byte(s) of a torn record at the end", s->path,
              (size_t)(end - p));
    if(ftruncate(s->fd, (off_t)good) < 0) {
      free(buf);
      return -errno;
    }
    s->size = good;
  }
  free(buf);
  return 0;
}

int spool_open(uv_loop_t *loop, const char *dir, const char *name,
               size_t max_bytes, spool_ready_cb ready, void *arg,
               struct spool **out)
{
  struct spool *s = calloc(1, sizeof(*s));
  char buf[64];
  ssize_t n;
  int rc;

  if(!s)
    return -ENOMEM;
  s->loop = loop;
  s->max = max_bytes;
  s->ready = ready;
  s->arg = arg;
  s->fd = s->ackfd = -1;
  s->path = tfiles_path(dir, name, TFILES_SPOOL);
  s->ack_path = tfiles_path(dir, name, TFILES_SPOOL_ACK);
  if(!s->path || !s->ack_path) {
    rc = -ENOMEM;
    goto fail;
  }
  s->ackfd = open(s->ack_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if(s->ackfd < 0) {
    rc = -errno;
    log_errx("spool: %s: %s", s->ack_path, strerror(-rc));
    goto fail;
  }
  n = pread(s->ackfd, buf, sizeof(buf) - 1, 0);
  if(n > 0) {
    buf[n] = '\0';
    if(sscanf(buf, "%" SCNu64 " %" SCNu64, &s->acked, &s->dropped) != 2)
      s->acked = s->dropped = 0;
  }
  s->fd = open(s->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if(s->fd < 0) {
    rc = -errno;
    log_errx("spool: %s: %s", s->path, strerror(-rc));
    goto fail;
  }
  rc = load(s);
  if(rc) {
    log_errx("spool: %s: %s", s->path, strerror(-rc));
    goto fail;
  }
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  if(s->npending)
    log_info("spool: %s: %zu alert(s) still to deliver", s->path, s->npending);
  *out = s;
  return 0;
fail:
  while(s->head) {
    struct spool_rec *r = s->head;

    s->head = r->next;
    free_rec(r);
  }
  if(s->fd >= 0)
    close(s->fd);
  if(s->ackfd >= 0)
    close(s->ackfd);
  free(s->path);
  free(s->ack_path);
  free(s);
  return rc;
}

static void on_timer(uv_timer_t *t)
{
  start_batch(t->data);
}

/* kick() starts a batch on the next loop iteration, so every record
 * appended until then joins it. */
static void kick(struct spool *s)
{
  if(!s->busy && !s->failing && !s->closing &&
     !uv_is_active((uv_handle_t *)&s->timer))
    uv_timer_start(&s->timer, on_timer, 0, 0);
}

/* append() is spool_append_tagged() with tenant NULL for none. */
static int append(struct spool *s, const char *data, size_t len,
                  const char *tenant, uint64_t seq)
{
  struct spool_rec *r;

  if(s->max && s->bytes + len + 24 > s->max) {
    s->dropped++;
    write_ack(s);
    return -ENOBUFS;
  }
  r = new_rec(data, len, tenant, tenant ? strlen(tenant) : 0, seq);
  if(!r)
    return -ENOMEM;
  link_rec(s, r);
  s->appended++;
  if(!s->unwritten)
    s->unwritten = r;
  kick(s);
  return 0;
}

int spool_append(struct spool *s, const char *data, size_t len)
{
  return append(s, data, len, NULL, 0);
}

int spool_append_tagged(struct spool *s, const char *data, size_t len,
                        const char *tenant, uint64_t seq)
{
  return append(s, data, len, tenant, seq);
}

void spool_set_gate(struct spool *s, spool_gate_fn gate, void *arg)
{
  s->gate = gate;
  s->gate_arg = arg;
}

size_t spool_deliverable(const struct spool *s, size_t max)
{
  const struct spool_rec *r = s->head;
  size_t n = 0;

  while(n < s->nready && n < max &&
        (!r->tenant || !s->gate || s->gate(r->tenant, r->seq, s->gate_arg))) {
    r = r->next;
    n++;
  }
  return n;
}

int spool_when_synced(struct spool *s, spool_synced_cb cb, void *arg)
{
  struct spool_waiter *w;

  if(s->durable >= s->appended || s->failing) {
    cb(arg);
    return 0;
  }
  w = calloc(1, sizeof(*w));
  if(!w)
    return -ENOMEM;
  w->target = s->appended;
  w->cb = cb;
  w->arg = arg;
  w->next = s->waiters;
  s->waiters = w;
  return 0;
}

long spool_void(struct spool *s, const char *tenant, uint64_t seq)
{
  struct spool_rec **pp = &s->head, *r, *prev = NULL;
  size_t i = 0, ready = s->nready;
  long n = 0;
  int fd = -1, rc = 0;

  while((r = *pp) && i++ < ready) {
    if(!r->tenant || strcmp(r->tenant, tenant) || r->seq <= seq) {
      prev = r;
      pp = &r->next;
      continue;
    }
    /* Not the O_APPEND descriptor: pwrite(2) there appends on Linux. */
    if(fd < 0 && (fd = open(s->path, O_WRONLY | O_CLOEXEC)) < 0) {
      rc = -errno;
      break;
    }
    if(pwrite(fd, "!", 1, (off_t)(r->end - r->flen + r->colon)) != 1) {
      rc = errno ? -errno : -EIO;
      break;
    }
    *pp = r->next;
    if(s->tail == r)
      s->tail = prev;
    s->nready--;
    s->npending--;
    s->bytes -= r->flen;
    free_rec(r);
    n++;
  }
  if(fd >= 0 && !rc && fdatasync(fd) < 0)
    rc = -errno;
  if(fd >= 0)
    close(fd);
  if(rc) {
    log_errx("spool: %s: voiding the alerts of tenant %s after seq %" PRIu64
             ": %s",
             s->path, tenant, seq, strerror(-rc));
    return rc;
  }
  return n;
}

static void finish_close(struct spool *s);

/* batch_failed() cuts the batch off the file and retries later. */
static void batch_failed(struct spool *s, const char *what, int err)
{
  if(ftruncate(s->fd, (off_t)s->size) < 0)
    log_debug("spool: %s: ftruncate: %s", s->path, strerror(errno));
  if(!s->failing)
    log_errx("spool: %s: %s: %s; %zu alert(s) held in memory and retried",
             s->path, what, strerror(err), s->npending);
  s->failing = true;
  /* Whoever waits for the disk is not held up by a failing one: the
   * records stay in memory and are retried. */
  wake(s, true);
  s->retry_ms = s->retry_ms ? s->retry_ms * 2 : RETRY_MIN_MS;
  if(s->retry_ms > RETRY_MAX_MS)
    s->retry_ms = RETRY_MAX_MS;
  if(s->closing)
    finish_close(s);
  else
    uv_timer_start(&s->timer, on_timer, s->retry_ms, 0);
}

static void on_synced(uv_fs_t *req)
{
  struct spool *s = req->data;
  ssize_t res = req->result;
  struct spool_rec *r;
  size_t i;

  uv_fs_req_cleanup(req);
  s->busy = false;
  if(res < 0 && res != UV_EINVAL && res != UV_EROFS) {
    batch_failed(s, "fdatasync", (int)-res);
    return;
  }
  /* On disk now: the bytes leave memory until they are delivered, so
   * that records waiting (held for their state, or for a receiver that
   * is down) cost only their place in the list. */
  for(r = s->unwritten, i = 0; i < s->batch_n; i++, r = r->next) {
    s->size += r->flen;
    r->end = s->size;
    drop_bytes(r);
  }
  s->nready += s->batch_n;
  s->durable += s->batch_n;
  s->unwritten = s->batch_last->next;
  if(s->failing)
    log_notice("spool: %s: writable again", s->path);
  s->failing = false;
  s->retry_ms = 0;
  if(s->closing) {
    finish_close(s);
    return;
  }
  if(s->unwritten)
    kick(s);
  wake(s, false);
  s->ready(s->arg);
}

static void on_written(uv_fs_t *req)
{
  struct spool *s = req->data;
  ssize_t res = req->result;

  uv_fs_req_cleanup(req);
  if(res != (ssize_t)s->batch_bytes) {
    s->busy = false;
    batch_failed(s, "write", res < 0 ? (int)-res : ENOSPC);
    return;
  }
  s->req.data = s;
  if(uv_fs_fdatasync(s->loop, &s->req, s->fd, on_synced) < 0) {
    s->busy = false;
    batch_failed(s, "fdatasync", EIO);
  }
}

static void start_batch(struct spool *s)
{
  struct spool_rec *r;
  size_t n = 0, bytes = 0;

  if(s->busy || !s->unwritten)
    return;
  for(r = s->unwritten; r && n < BATCH_MAX_RECORDS &&
                        (n == 0 || bytes + r->flen <= BATCH_MAX_BYTES);
      r = r->next) {
    s->iov[n] = uv_buf_init(r->frame, (unsigned)r->flen);
    bytes += r->flen;
    s->batch_last = r;
    n++;
  }
  s->batch_n = n;
  s->batch_bytes = bytes;
  s->busy = true;
  s->req.data = s;
  if(uv_fs_write(s->loop, &s->req, s->fd, s->iov, (unsigned)n, -1, on_written) <
     0) {
    s->busy = false;
    batch_failed(s, "write", EIO);
  }
}

int spool_fetch(struct spool *s, size_t n)
{
  struct spool_rec *r = s->head;
  size_t i;
  int rc;

  for(i = 0; i < n && i < s->nready; i++, r = r->next)
    if(!r->frame && (rc = fetch(s, r)))
      return rc;
  return 0;
}

const struct spool_rec *spool_first(const struct spool *s)
{
  return s->nready ? s->head : NULL;
}

size_t spool_ready_count(const struct spool *s)
{
  return s->nready;
}

void spool_ack(struct spool *s, size_t n)
{
  if(n > s->nready)
    n = s->nready;
  if(!n)
    return;
  while(n--) {
    struct spool_rec *r = s->head;

    s->head = r->next;
    if(!s->head)
      s->tail = NULL;
    s->acked = r->end;
    s->nready--;
    s->npending--;
    s->bytes -= r->flen;
    free_rec(r);
  }
  /* Everything accepted and nothing being written: start the file
   * afresh.  The file is cut first; a kill before the offset is reset
   * leaves an offset past the end, which load() reads as 0. */
  if(!s->head && !s->busy && s->size) {
    if(ftruncate(s->fd, 0) == 0) {
      s->size = 0;
      s->acked = 0;
    }
  }
  write_ack(s);
}

void spool_rebind(struct spool *s, size_t max_bytes, spool_ready_cb ready,
                  void *arg)
{
  s->max = max_bytes;
  s->ready = ready;
  s->arg = arg;
}

const char *spool_path(const struct spool *s)
{
  return s->path;
}

size_t spool_pending(const struct spool *s)
{
  return s->npending;
}

bool spool_failing(const struct spool *s)
{
  return s->failing;
}

size_t spool_bytes(const struct spool *s)
{
  return s->bytes;
}

uint64_t spool_dropped(const struct spool *s)
{
  return s->dropped;
}

static void on_timer_closed(uv_handle_t *h)
{
  struct spool *s = h->data;
  void (*cb)(void *) = s->close_cb;
  void *arg = s->close_arg;

  free(s->path);
  free(s->ack_path);
  free(s);
  if(cb)
    cb(arg);
}

/* finish_close() writes the records still in memory with plain blocking
 * calls (shutting down: nothing else waits on the loop), closes the files
 * and the timer. */
static void finish_close(struct spool *s)
{
  struct spool_rec *r;
  bool ok = true;

  for(r = s->unwritten; r && ok; r = r->next) {
    ssize_t n;

    do
      n = write(s->fd, r->frame, r->flen);
    while(n < 0 && errno == EINTR);
    ok = n == (ssize_t)r->flen;
  }
  if(s->unwritten && (!ok || fdatasync(s->fd) < 0)) {
    if(ftruncate(s->fd, (off_t)s->size) < 0)
      log_debug("spool: %s: ftruncate: %s", s->path, strerror(errno));
    log_errx("spool: %s: %zu alert(s) could not be written and are lost",
             s->path, s->npending - s->nready);
  }
  while(s->head) {
    r = s->head;
    s->head = r->next;
    free_rec(r);
  }
  wake(s, true);
  close(s->fd);
  close(s->ackfd);
  uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

void spool_close(struct spool *s, void (*cb)(void *arg), void *arg)
{
  s->closing = true;
  s->close_cb = cb;
  s->close_arg = arg;
  uv_timer_stop(&s->timer);
  if(!s->busy)
    finish_close(s);
}
