/* SPDX-License-Identifier: MIT
 *
 * afile: an atomic file replacement as a chain of uv_fs_* requests (see
 * afile.h).  One request is reused for every step; each callback checks
 * the step's result and starts the next.  The last step, the rename made
 * durable, is plat_replace() on libuv's thread pool: rename(2) and an
 * fsync of the directory, or MoveFileExW with write-through on Windows,
 * where a directory cannot be flushed.  At most AFILE_MAX_ACTIVE writes
 * run at once over the process; the others wait in a FIFO, holding no
 * descriptor, and each write that ends starts the next.
 */
#include "afile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "plat.h"

struct afile {
  TAILQ_ENTRY(afile) entry; /* on the waiting list, until it starts */
  uv_fs_t req;
  uv_work_t work; /* plat_replace() on the thread pool */
  uv_loop_t *loop;
  char *path; /* the target */
  char *tmp;  /* the temp file, once created */
  char *tmpl; /* the temp file's template, until it starts */
  char *data; /* the piece being written (owned) */
  size_t len, done_bytes;
  afile_more_cb more; /* the next pieces, or NULL */
  void *more_arg;
  mode_t mode;
  uv_file fd;
  int replace_rc;           /* plat_replace()'s result */
  const char *replace_what; /* and the step that failed (static) */
  afile_done_cb done;
  void *arg;
};

/* The process's writes: those running (each holds up to two descriptors
 * and a libuv worker at a time) and those waiting for their turn.  1,000
 * tenants ending their cycles together would otherwise hold a temp file
 * open each while their fsyncs queue for libuv's four workers; more
 * writes at once than workers gain nothing. */
static unsigned active;
static TAILQ_HEAD(, afile) waiting = TAILQ_HEAD_INITIALIZER(waiting);

static void begin(struct afile *f);
static void on_created(uv_fs_t *req);
static void on_chmod(uv_fs_t *req);
static void on_written(uv_fs_t *req);
static void on_synced(uv_fs_t *req);
static void on_closed(uv_fs_t *req);
static void do_replace(uv_work_t *w);
static void on_replaced(uv_work_t *w, int status);

/* finish() calls the caller back with rc and what, then frees f.  The
 * clean-up of a failed write (closing the temp file, removing it) is done
 * here with synchronous requests: it only runs on the rare failure, and
 * closing and unlinking a file does not wait on the disk as fsync does. */
static void finish(struct afile *f, int rc, const char *what)
{
  uv_fs_t req;

  if(f->fd >= 0) {
    uv_fs_close(NULL, &req, f->fd, NULL);
    uv_fs_req_cleanup(&req);
  }
  if(rc && f->tmp) {
    uv_fs_unlink(NULL, &req, f->tmp, NULL);
    uv_fs_req_cleanup(&req);
  }
  f->done(rc, rc ? what : "", f->arg);
  free(f->path);
  free(f->tmp);
  free(f->data);
  free(f);
  active--;
  if(!TAILQ_EMPTY(&waiting)) {
    struct afile *next = TAILQ_FIRST(&waiting);

    TAILQ_REMOVE(&waiting, next, entry);
    begin(next);
  }
}

/* step_result() cleans up req and returns its result: >= 0, or a
 * negative errno. */
static ssize_t step_result(uv_fs_t *req)
{
  ssize_t r = req->result;

  uv_fs_req_cleanup(req);
  return r;
}

/* started() ends f with the error of a request that did not start. */
static void started(struct afile *f, int rc, const char *what)
{
  if(rc < 0)
    finish(f, rc, what);
}

/* begin() starts f's first request, counting it as running. */
static void begin(struct afile *f)
{
  char *tmpl = f->tmpl;

  active++;
  f->tmpl = NULL;
  /* libuv opens the temp file with O_CLOEXEC and copies tmpl. */
  started(f, uv_fs_mkstemp(f->loop, &f->req, tmpl, on_created),
          "create temp file");
  free(tmpl);
}

int afile_write(uv_loop_t *loop, const char *path, char *data, size_t len,
                mode_t mode, afile_done_cb done, void *arg)
{
  return afile_write_more(loop, path, data, len, mode, NULL, NULL, done, arg);
}

int afile_write_more(uv_loop_t *loop, const char *path, char *data, size_t len,
                     mode_t mode, afile_more_cb more, void *more_arg,
                     afile_done_cb done, void *arg)
{
  struct afile *f = calloc(1, sizeof(*f));
  char *tmpl = NULL;

  if(!f || asprintf(&tmpl, "%s.tmp.XXXXXX", path) < 0) {
    free(f);
    free(data);
    return -ENOMEM;
  }
  f->path = strdup(path);
  if(!f->path) {
    free(f);
    free(tmpl);
    free(data);
    return -ENOMEM;
  }
  f->tmpl = tmpl;
  f->req.data = f;
  f->loop = loop;
  f->data = data;
  f->len = len;
  f->more = more;
  f->more_arg = more_arg;
  f->mode = mode;
  f->fd = -1;
  f->done = done;
  f->arg = arg;
  if(active >= AFILE_MAX_ACTIVE)
    TAILQ_INSERT_TAIL(&waiting, f, entry);
  else
    begin(f);
  return 0;
}

static void on_created(uv_fs_t *req)
{
  struct afile *f = req->data;
  ssize_t r = req->result;

  if(r >= 0)
    f->tmp = strdup(req->path);
  uv_fs_req_cleanup(req);
  if(r < 0) {
    finish(f, (int)r, "create temp file");
    return;
  }
  f->fd = (uv_file)r;
  if(!f->tmp) {
    /* The temp file cannot be named for removal: rare enough to leave
     * one behind, which a restart does not read. */
    finish(f, -ENOMEM, "out of memory");
    return;
  }
  started(f, uv_fs_fchmod(f->loop, &f->req, f->fd, (int)f->mode, on_chmod),
          "fchmod");
}

/* write_rest() writes what is left of the data, or fsyncs once all is
 * written. */
static void write_rest(struct afile *f)
{
  uv_buf_t b;

  while(f->done_bytes == f->len && f->more) {
    char *next = NULL;
    size_t n = 0;
    int rc = f->more(f->more_arg, &next, &n);

    if(rc < 0) {
      free(next);
      finish(f, rc, rc == -ENOMEM ? "out of memory" : "write");
      return;
    }
    if(rc > 0) {
      free(next);
      f->more = NULL;
      break;
    }
    free(f->data);
    f->data = next;
    f->len = n;
    f->done_bytes = 0;
  }
  if(f->done_bytes == f->len) {
    /* Written: the text is not needed for the fsync, the close and the
     * rename, which wait on the disk far longer than the write did. */
    free(f->data);
    f->data = NULL;
    started(f, uv_fs_fsync(f->loop, &f->req, f->fd, on_synced), "fsync");
    return;
  }
  b = uv_buf_init(f->data + f->done_bytes,
                  (unsigned)(f->len - f->done_bytes > (1u << 30)
                                 ? 1u << 30
                                 : f->len - f->done_bytes));
  started(f, uv_fs_write(f->loop, &f->req, f->fd, &b, 1, -1, on_written),
          "write");
}

static void on_chmod(uv_fs_t *req)
{
  struct afile *f = req->data;
  ssize_t r = step_result(req);

  if(r < 0)
    finish(f, (int)r, "fchmod");
  else
    write_rest(f);
}

static void on_written(uv_fs_t *req)
{
  struct afile *f = req->data;
  ssize_t r = step_result(req);

  if(r < 0) {
    finish(f, (int)r, "write");
    return;
  }
  if(r == 0) {
    finish(f, -EIO, "write");
    return;
  }
  f->done_bytes += (size_t)r;
  write_rest(f);
}

static void on_synced(uv_fs_t *req)
{
  struct afile *f = req->data;
  ssize_t r = step_result(req);
  uv_file fd = f->fd;

  if(r < 0) {
    finish(f, (int)r, "fsync");
    return;
  }
  f->fd = -1;
  started(f, uv_fs_close(f->loop, &f->req, fd, on_closed), "close");
}

static void on_closed(uv_fs_t *req)
{
  struct afile *f = req->data;
  ssize_t r = step_result(req);

  if(r < 0) {
    finish(f, (int)r, "close");
    return;
  }
  f->work.data = f;
  started(f, uv_queue_work(f->loop, &f->work, do_replace, on_replaced),
          "rename");
}

/* The thread pool's side: f is the loop thread's again in on_replaced. */
static void do_replace(uv_work_t *w)
{
  struct afile *f = w->data;

  f->replace_rc = plat_replace(f->tmp, f->path, &f->replace_what);
}

static void on_replaced(uv_work_t *w, int status)
{
  struct afile *f = w->data;

  (void)status; /* the work is never cancelled */
  /* Once renamed, the temp name is gone: nothing to remove, even when
   * only the directory's flush failed. */
  if(!f->replace_rc || strcmp(f->replace_what, "rename")) {
    free(f->tmp);
    f->tmp = NULL;
  }
  finish(f, f->replace_rc, f->replace_rc ? f->replace_what : "");
}
