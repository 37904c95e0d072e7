/* SPDX-License-Identifier: MIT
 *
 * sink_file: alerts appended to a file, one record per line (JSON lines
 * by default).  A batch is one write and one fdatasync, both done by
 * libuv's file-system requests off the loop.  The file is opened (mode
 * 0640) when first needed, reopened after SIGHUP, and reopened by itself
 * when its path names another file (logrotate renamed it away).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "plat.h"
#include "sink.h"

#define MAX_BATCH 512

struct file_sink {
  char *path;
  int fd;
  uv_fs_t req;
  bool busy, closing;
  bool reopen;       /* SIGHUP: open the path again before the next batch */
  bool tail_checked; /* the first delivery of this run looked at the end */
  bool dirty;        /* written at once, not synced yet */
  uv_timer_t sync_timer;
  uv_fs_t sync_req;
  bool syncing;
  int sync_fd;
  size_t n; /* records in the batch */
  size_t bytes;
  uv_buf_t iov[2 * MAX_BATCH];
};

static int file_open(struct sink *s, const struct cfg_sink *c)
{
  struct file_sink *f = calloc(1, sizeof(*f));

  if(!f || !(f->path = strdup(c->path))) {
    free(f);
    return -ENOMEM;
  }
  f->fd = -1;
  s->impl = f;
  uv_timer_init(s->loop, &f->sync_timer);
  f->sync_timer.data = s;
  return 0;
}

/* ensure_open() opens the file when closed, or when the path now names
 * another file.  Returns 0 or -errno. */
static int ensure_open(struct file_sink *f)
{
  if(f->fd >= 0 && f->reopen) {
    close(f->fd);
    f->fd = -1;
  }
  f->reopen = false;
  if(f->fd >= 0) {
    if(plat_same_file(f->path, f->fd))
      return 0;
    close(f->fd);
    f->fd = -1;
  }
  f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  return f->fd < 0 ? -errno : 0;
}

static void finish(struct sink *s, size_t accepted, int err);

static void on_sync_timer_closed(uv_handle_t *h)
{
  struct sink *s = h->data;
  struct file_sink *f = s->impl;

  if(f->fd >= 0)
    close(f->fd);
  free(f->path);
  free(f);
  sink_type_closed(s);
}

static void on_close_retry(uv_timer_t *t)
{
  struct sink *s = t->data;

  finish(s, 0, 0);
}

static void finish(struct sink *s, size_t accepted, int err)
{
  struct file_sink *f = s->impl;
  char why[300];

  f->busy = false;
  if(f->closing) {
    if(!f->syncing && f->dirty && f->fd >= 0 && fdatasync(f->fd) < 0)
      log_debug("sink %s: fdatasync: %s", s->name, strerror(errno));
    f->dirty = false;
    if(f->syncing) { /* on_group_synced runs first */
      f->busy = true;
      uv_timer_start(&f->sync_timer, on_close_retry, 10, 0);
      return;
    }
    uv_close((uv_handle_t *)&f->sync_timer, on_sync_timer_closed);
    return;
  }
  if(err) {
    snprintf(why, sizeof(why), "%s: %s", f->path, strerror(-err));
    if(f->fd >= 0) { /* reopen next time: it may have been replaced */
      close(f->fd);
      f->fd = -1;
    }
  }
  sink_done(s, accepted, err, err ? why : NULL, 0);
}

static void on_synced(uv_fs_t *req)
{
  struct sink *s = req->data;
  struct file_sink *f = s->impl;
  ssize_t res = req->result;

  uv_fs_req_cleanup(req);
  if(res < 0 && res != UV_EINVAL && res != UV_EROFS)
    finish(s, 0, (int)res);
  else
    finish(s, f->n, 0);
}

/* write_at_once() writes n buffers to fd with libuv's synchronous write
 * (no loop, no callback: writev(2) on POSIX, both pieces on Windows too),
 * again when interrupted.  Returns the bytes written or a negative libuv
 * error. */
static ssize_t write_at_once(uv_file fd, const uv_buf_t *iov, unsigned n)
{
  uv_fs_t req;
  ssize_t res;

  do {
    res = uv_fs_write(NULL, &req, fd, iov, n, -1, NULL);
    uv_fs_req_cleanup(&req);
  } while(res == UV_EINTR);
  return res;
}

/* written() goes on with a batch whose write returned res: a whole
 * batch is synced off the loop, then accepted. */
static void written(struct sink *s, ssize_t res)
{
  struct file_sink *f = s->impl;

  if(res != (ssize_t)f->bytes) {
    /* A short write leaves part of a batch: those lines are written again
     * with the batch, so cut them off. */
    struct stat st;

    if(res > 0 && fstat(f->fd, &st) == 0 &&
       ftruncate(f->fd, st.st_size - res) < 0)
      log_debug("sink %s: ftruncate: %s", s->name, strerror(errno));
    finish(s, 0, res < 0 ? (int)res : -ENOSPC);
    return;
  }
  f->req.data = s;
  if(uv_fs_fdatasync(s->loop, &f->req, f->fd, on_synced) < 0)
    finish(s, 0, -EIO);
}

/* holds() tells whether buf holds the k records from r as lines. */
static bool holds(const char *buf, const struct spool_rec *r, size_t k)
{
  size_t off = 0;

  for(; k--; r = r->next) {
    if(memcmp(buf + off, r->data, r->len) || buf[off + r->len] != '\n')
      return false;
    off += r->len + 1;
  }
  return true;
}

/* written_before() is how many of the n records from r the file at path
 * already ends with, in order: a run killed after writing them and
 * before its spool heard so.  Each line carries its event's id and time,
 * so an equal end is those records.  0 when the file cannot be read. */
static size_t written_before(const char *path, const struct spool_rec *r,
                             size_t n)
{
  const struct spool_rec *q;
  size_t total = 0, pre = 0, k, best = 0;
  struct stat st;
  char *tail = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);

  if(fd < 0)
    return 0;
  for(q = r, k = 0; k < n && q; k++, q = q->next)
    total += q->len + 1;
  if(fstat(fd, &st) < 0 || st.st_size <= 0)
    total = 0;
  else if((off_t)total > st.st_size)
    total = (size_t)st.st_size;
  if(total &&
     (!(tail = malloc(total)) ||
      pread(fd, tail, total, st.st_size - (off_t)total) != (ssize_t)total))
    total = 0;
  for(q = r, k = 1; total && k <= n && q; k++, q = q->next) {
    pre += q->len + 1;
    if(pre > total)
      break;
    if(holds(tail + total - pre, r, k))
      best = k;
  }
  free(tail);
  close(fd);
  return best;
}

static void file_deliver(struct sink *s, const struct spool_rec *r, size_t n)
{
  struct file_sink *f = s->impl;
  size_t i;
  int rc = ensure_open(f);

  if(rc) {
    f->busy = true;
    finish(s, 0, rc);
    return;
  }
  /* The first batch of a run may have been written by the last one,
   * killed before its spool was told: not twice. */
  if(!f->tail_checked) {
    f->tail_checked = true;
    i = written_before(f->path, r, n);
    if(i) {
      log_notice("sink %s: %zu alert%s already in %s before a restart; not "
                 "written again",
                 s->name, i, i == 1 ? "" : "s", f->path);
      f->busy = true;
      finish(s, i, 0);
      return;
    }
  }
  f->bytes = 0;
  for(i = 0; i < n && r; i++, r = r->next) {
    f->iov[2 * i] = uv_buf_init((char *)(uintptr_t)r->data, (unsigned)r->len);
    f->iov[2 * i + 1] = uv_buf_init((char *)(uintptr_t) "\n", 1);
    f->bytes += r->len + 1;
  }
  f->n = i;
  f->busy = true;
  /* The lines are written at once, as file_write_now() writes one: a
   * write(2) to the page cache is quick, and whoever reads the file after
   * a cycle's log line finds the alerts that cycle committed
   * (sink_kick()).  Only the fdatasync, which waits on the disk, runs
   * off the loop. */
  written(s, write_at_once(f->fd, f->iov, (unsigned)(2 * i)));
}

static void sync_later(struct sink *s);

static void on_group_synced(uv_fs_t *req)
{
  struct sink *s = req->data;
  struct file_sink *f = s->impl;

  if(req->result < 0 && req->result != UV_EINVAL && req->result != UV_EROFS)
    log_warnx("sink %s: %s: fdatasync: %s", s->name, f->path,
              uv_strerror((int)req->result));
  uv_fs_req_cleanup(req);
  close(f->sync_fd);
  f->syncing = false;
  if(f->dirty)
    sync_later(s);
}

static void on_sync_timer(uv_timer_t *t)
{
  struct sink *s = t->data;
  struct file_sink *f = s->impl;

  if(f->syncing || !f->dirty || f->fd < 0)
    return;
  /* A duplicate descriptor: the file may be reopened meanwhile. */
  f->sync_fd = dup(f->fd);
  if(f->sync_fd < 0)
    return;
  f->dirty = false;
  f->syncing = true;
  f->sync_req.data = s;
  if(uv_fs_fdatasync(s->loop, &f->sync_req, (uv_file)f->sync_fd,
                     on_group_synced) < 0) {
    close(f->sync_fd);
    f->syncing = false;
  }
}

/* sync_later() syncs the file on the next loop iteration, once for every
 * record written until then. */
static void sync_later(struct sink *s)
{
  struct file_sink *f = s->impl;

  if(!f->syncing && !uv_is_active((uv_handle_t *)&f->sync_timer))
    uv_timer_start(&f->sync_timer, on_sync_timer, 0, 0);
}

static int file_write_now(struct sink *s, const char *data, size_t len)
{
  struct file_sink *f = s->impl;
  uv_buf_t iov[2] = {uv_buf_init((char *)(uintptr_t)data, (unsigned)len),
                     uv_buf_init((char *)(uintptr_t) "\n", 1)};
  struct stat st;
  off_t size = -1;
  ssize_t n;

  if(f->busy || f->closing || ensure_open(f))
    return -EAGAIN;
  if(fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode))
    size = st.st_size;
  n = write_at_once(f->fd, iov, 2);
  if(n >= 0 && (size_t)n == len + 1) {
    f->dirty = true;
    sync_later(s);
    return 0;
  }
  /* Never half a line: cut it, and let the spool hold the record. */
  if(n > 0 && size >= 0 && ftruncate(f->fd, size) < 0)
    log_debug("sink %s: ftruncate: %s", s->name, strerror(errno));
  close(f->fd);
  f->fd = -1;
  return -EIO;
}

static void file_reopen(struct sink *s)
{
  struct file_sink *f = s->impl;

  /* A batch in flight keeps its descriptor; the next one reopens. */
  f->reopen = true;
}

static void file_close(struct sink *s)
{
  struct file_sink *f = s->impl;

  f->closing = true;
  if(!f->busy) {
    f->busy = true;
    finish(s, 0, 0);
  }
}

const struct sink_type sink_file_type = {
    .default_format = FMT_JSON,
    .max_batch = MAX_BATCH,
    .open = file_open,
    .deliver = file_deliver,
    .reopen = file_reopen,
    .write_now = file_write_now,
    .close = file_close,
};
