/* SPDX-License-Identifier: MIT
 *
 * afile: an atomic file replacement as a chain of uv_fs_* requests (see
 * afile.h).  One request is reused for every step; each callback checks
 * the step's result and starts the next.  The last step, the rename made
 * durable, is plat_replace() on libuv's thread pool: rename(2) and an
 * fsync of the directory, or MoveFileExW with write-through on Windows,
 * where a directory cannot be flushed.
 */
#include "afile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plat.h"

struct afile {
  uv_fs_t req;
  uv_work_t work; /* plat_replace() on the thread pool */
  uv_loop_t *loop;
  char *path; /* the target */
  char *tmp;  /* the temp file, once created */
  char *data; /* what is written (owned) */
  size_t len, done_bytes;
  mode_t mode;
  uv_file fd;
  int replace_rc;           /* plat_replace()'s result */
  const char *replace_what; /* and the step that failed (static) */
  afile_done_cb done;
  void *arg;
};

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

int afile_write(uv_loop_t *loop, const char *path, char *data, size_t len,
                mode_t mode, afile_done_cb done, void *arg)
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
  f->req.data = f;
  f->loop = loop;
  f->data = data;
  f->len = len;
  f->mode = mode;
  f->fd = -1;
  f->done = done;
  f->arg = arg;
  /* libuv opens the temp file with O_CLOEXEC and copies tmpl. */
  started(f, uv_fs_mkstemp(loop, &f->req, tmpl, on_created),
          "create temp file");
  free(tmpl);
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

  if(f->done_bytes == f->len) {
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
