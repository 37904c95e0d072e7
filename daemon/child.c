/* SPDX-License-Identifier: MIT
 *
 * child: the POSIX runner.  The child is spawned detached (setsid), so its
 * process id is also its process group's, and a timeout signals the whole
 * group: a shell's own children (ssh, a sync client) would otherwise keep
 * running and hold the output pipe open.  The runner owns a timer, the
 * process handle and the pipe; a run ends when both of the latter are
 * closed.
 */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct child {
  uv_loop_t *loop;
  char *name;
  uv_timer_t timer;
  uv_process_t proc;
  uv_pipe_t out;
  bool busy;    /* from child_run() until the process and pipe are closed */
  bool failed;  /* the spawn failed: the run ends without a callback */
  bool killed;  /* the timeout has sent SIGTERM */
  bool closing; /* child_close() was called */
  bool proc_open, out_open;
  unsigned open_handles;
  uint64_t timeout_ms;
  int64_t status;
  int signal;
  char output[CHILD_OUTPUT_MAX];
  size_t outlen, dropped;
  child_done_cb done;
  void *done_arg;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* finish() reports the run that has just ended to its owner. */
static void finish(struct child *c)
{
  struct child_result r;

  c->busy = false;
  uv_timer_stop(&c->timer);
  if(c->failed)
    return;
  c->output[c->outlen] = '\0';
  memset(&r, 0, sizeof(r));
  r.status = c->status;
  r.signal = c->signal;
  r.timed_out = c->killed;
  r.output = c->output;
  r.output_len = c->outlen;
  r.dropped = c->dropped;
  c->done(&r, c->done_arg);
}

/* handle_closed() is the close callback of every handle the runner owns:
 * while closing, the last one frees the runner and calls back; otherwise
 * the run ends once the process and the pipe are both closed. */
static void handle_closed(uv_handle_t *h)
{
  struct child *c = h->data;
  void (*cb)(void *arg);
  void *arg;

  if(h == (uv_handle_t *)&c->proc)
    c->proc_open = false;
  else if(h == (uv_handle_t *)&c->out)
    c->out_open = false;
  c->open_handles--;
  if(c->closing) {
    if(c->open_handles)
      return;
    cb = c->closed_cb;
    arg = c->closed_arg;
    free(c->name);
    free(c);
    if(cb)
      cb(arg);
    return;
  }
  if(c->busy && !c->proc_open && !c->out_open)
    finish(c);
}

static void close_handle(uv_handle_t *h)
{
  if(!uv_is_closing(h))
    uv_close(h, handle_closed);
}

static void on_child_exit(uv_process_t *proc, int64_t status, int signo)
{
  struct child *c = proc->data;

  c->status = status;
  c->signal = signo;
  close_handle((uv_handle_t *)proc);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  static char scratch[1024];
  struct child *c = h->data;

  (void)suggested;
  if(c->outlen < sizeof(c->output) - 1)
    *buf = uv_buf_init(c->output + c->outlen,
                       (unsigned)(sizeof(c->output) - 1 - c->outlen));
  else
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct child *c = s->data;

  if(n > 0) {
    if(buf->base == c->output + c->outlen)
      c->outlen += (size_t)n;
    else
      c->dropped += (size_t)n;
  }
  else if(n < 0)
    close_handle((uv_handle_t *)s);
}

/* kill_group() signals the child's whole process group, or the child
 * alone when the group cannot be signalled. */
static void kill_group(struct child *c, int sig)
{
  if(c->proc.pid > 0 && uv_kill(-c->proc.pid, sig) < 0)
    uv_process_kill(&c->proc, sig);
}

static void on_timeout(uv_timer_t *t)
{
  struct child *c = t->data;

  if(!c->proc_open || uv_is_closing((uv_handle_t *)&c->proc))
    return;
  if(!c->killed) {
    log_warnx("%s still runs after %g s; killing it", c->name,
              (double)c->timeout_ms / 1000.0);
    c->killed = true;
    kill_group(c, SIGTERM);
    uv_timer_start(&c->timer, on_timeout, CHILD_KILL_GRACE_MS, 0);
    return;
  }
  kill_group(c, SIGKILL);
}

int child_new(uv_loop_t *loop, const char *name, struct child **out)
{
  struct child *c = calloc(1, sizeof(*c));
  int rc;

  if(!c)
    return -ENOMEM;
  c->loop = loop;
  c->name = strdup(name);
  if(!c->name) {
    free(c);
    return -ENOMEM;
  }
  rc = uv_timer_init(loop, &c->timer);
  if(rc) {
    free(c->name);
    free(c);
    return rc;
  }
  c->timer.data = c;
  c->open_handles = 1;
  *out = c;
  return 0;
}

int child_run(struct child *c, char **argv, char **env, uint64_t timeout_ms,
              child_done_cb cb, void *arg)
{
  uv_process_options_t po;
  uv_stdio_container_t stdio[3];
  int rc;

  if(c->closing)
    return -ECANCELED;
  if(c->busy)
    return -EBUSY;
  rc = uv_pipe_init(c->loop, &c->out, 0);
  if(rc)
    return rc;
  c->out.data = c;
  c->out_open = true;
  c->open_handles++;
  memset(&po, 0, sizeof(po));
  memset(stdio, 0, sizeof(stdio));
  po.file = argv[0];
  po.args = argv;
  po.env = env;
  po.cwd = "/";
  po.exit_cb = on_child_exit;
  /* Its own process group, so that a timeout kills everything it ran. */
  po.flags = UV_PROCESS_DETACHED;
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&c->out;
  stdio[2].flags = UV_IGNORE;
  po.stdio = stdio;
  po.stdio_count = 3;
  c->proc.data = c;
  c->busy = true;
  c->failed = c->killed = false;
  c->status = 0;
  c->signal = 0;
  c->outlen = c->dropped = 0;
  c->timeout_ms = timeout_ms;
  c->done = cb;
  c->done_arg = arg;
  /* The process handle is initialised even when uv_spawn fails and must
   * be closed either way (libuv >= 1.24). */
  rc = uv_spawn(c->loop, &c->proc, &po);
  c->proc_open = true;
  c->open_handles++;
  if(rc) {
    c->failed = true;
    close_handle((uv_handle_t *)&c->proc);
    close_handle((uv_handle_t *)&c->out);
    return rc;
  }
  if(uv_read_start((uv_stream_t *)&c->out, on_alloc, on_read))
    close_handle((uv_handle_t *)&c->out); /* the run ends at its exit */
  if(timeout_ms)
    uv_timer_start(&c->timer, on_timeout, timeout_ms, 0);
  return 0;
}

bool child_running(const struct child *c)
{
  return c->busy;
}

int child_pid(const struct child *c)
{
  return c->busy && c->proc_open ? c->proc.pid : 0;
}

void child_close(struct child *c, void (*cb)(void *arg), void *arg)
{
  c->closing = true;
  c->closed_cb = cb;
  c->closed_arg = arg;
  if(c->proc_open && !uv_is_closing((uv_handle_t *)&c->proc)) {
    kill_group(c, SIGTERM);
    close_handle((uv_handle_t *)&c->proc);
  }
  if(c->out_open)
    close_handle((uv_handle_t *)&c->out);
  close_handle((uv_handle_t *)&c->timer);
}
