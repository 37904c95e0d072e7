/* SPDX-License-Identifier: MIT
 *
 * child: a runner for one child process at a time on the loop.  The child
 * gets its own process group and exactly the environment the caller
 * passes (the daemon's own is never inherited); its standard output is
 * collected; past its timeout the whole group is sent SIGTERM, and
 * SIGKILL a grace period later.  The interface names no POSIX type, so a
 * Win32 counterpart can provide the same one.
 */
#ifndef QD_CHILD_H
#define QD_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Bytes of a child's standard output kept, with the terminating NUL. */
#define CHILD_OUTPUT_MAX 4096
/* Milliseconds between SIGTERM and SIGKILL after a timeout. */
#define CHILD_KILL_GRACE_MS 5000

struct child;

/* How a run ended.  Everything is owned by the runner and valid only
 * during the callback. */
struct child_result {
  int64_t status;     /* exit status; 0 when a signal ended it */
  int signal;         /* the signal that ended it, or 0 */
  bool timed_out;     /* the runner signalled it after its timeout */
  const char *output; /* its standard output, NUL-terminated */
  size_t output_len;  /* at most CHILD_OUTPUT_MAX - 1 */
  size_t dropped;     /* bytes of output past that, read and discarded */
};

/* Called once per successful child_run(), when the process has exited and
 * its output pipe is closed (a grandchild holding the pipe keeps the run
 * going).  The callback may call child_run() or child_close(). */
typedef void (*child_done_cb)(const struct child_result *r, void *arg);

/* child_new() makes an idle runner on loop.  name (copied) starts the
 * runner's own log lines, e.g. "apply: tenant contoso: post_apply_command".
 * Returns 0 with *out set, or a negative errno (libuv's code; nothing is
 * logged).  Free it with child_close(). */
int child_new(uv_loop_t *loop, const char *name, struct child **out);

/* child_run() starts argv[0] (an absolute path) with arguments argv and
 * environment env (both NULL-terminated; read during the call only), in
 * the directory "/", standard input and error on the null device, its
 * standard output collected.  With timeout_ms > 0 the process group is
 * sent SIGTERM after timeout_ms, and SIGKILL CHILD_KILL_GRACE_MS later.
 * Returns 0 and calls cb(result, arg) later, or returns a negative errno
 * (libuv's code: -EBUSY while a run is under way, -ECANCELED after
 * child_close(), or why the process could not start) and never calls
 * cb. */
int child_run(struct child *c, char **argv, char **env, uint64_t timeout_ms,
              child_done_cb cb, void *arg);

/* child_running() tells whether a run started by child_run() has not yet
 * ended (its callback not yet called). */
bool child_running(const struct child *c);

/* child_pid() returns the process id of the running child, or 0. */
int child_pid(const struct child *c);

/* child_close() sends a running child's process group SIGTERM, abandons
 * the run (its done callback is not called) and closes the runner's
 * handles; once they are closed, the runner's memory is freed and then
 * cb(arg) runs (cb may be NULL).  c must not be used after the call. */
void child_close(struct child *c, void (*cb)(void *arg), void *arg);

#endif
