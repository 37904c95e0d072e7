/* SPDX-License-Identifier: MIT
 *
 * loopstat: the longest stretch the loop spends away from poll (see
 * loopstat.h).
 */
#include "loopstat.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

struct loopstat {
  uv_prepare_t prepare;
  uv_check_t check;
  uint64_t mark;             /* uv_hrtime() of the last check */
  uint64_t pre_busy;         /* check to prepare of this iteration */
  uint64_t prep_at, idle_at; /* at prepare: time, loop idle time */
  uint64_t max_ns;           /* longest stretch seen */
  uint64_t logged;           /* max_ns when last logged */
  uint64_t log_ns;           /* QD_LOOP_LOG_MS: log iterations this long */
  uint64_t cpu_mark;         /* the thread's CPU time at the last check */
  uint64_t max_cpu_ns;       /* the most CPU time one iteration took */
  int open;                  /* handles not yet closed */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* thread_cpu_ns() is the CPU time the loop's thread has used. */
static uint64_t thread_cpu_ns(void)
{
  struct timespec ts;

  if(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
    return 0;
  return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* One iteration is busy from check (poll returned) through close
 * callbacks, timers and pending callbacks to prepare, and inside poll
 * for the time poll did not spend waiting: the I/O callbacks.  libuv's
 * idle-time metric (UV_METRICS_IDLE_TIME) says how long poll waited. */
static void on_prepare(uv_prepare_t *h)
{
  struct loopstat *ls = h->data;
  uint64_t now = uv_hrtime();

  ls->pre_busy = ls->mark ? now - ls->mark : 0;
  ls->prep_at = now;
  ls->idle_at = uv_metrics_idle_time(h->loop);
}

static void on_check(uv_check_t *h)
{
  struct loopstat *ls = h->data;
  uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(h->loop);
  uint64_t poll = now - ls->prep_at, waited = idle - ls->idle_at;
  uint64_t io = poll > waited ? poll - waited : 0;
  uint64_t busy = ls->pre_busy + io;
  uint64_t cpu_now = thread_cpu_ns(), cpu = cpu_now - ls->cpu_mark;

  /* Waiting in poll takes no CPU time: cpu is the iteration's own.  On a
   * loaded machine busy can be much longer, the thread waiting for a
   * core in the middle of a callback. */
  if(ls->mark && cpu > ls->max_cpu_ns)
    ls->max_cpu_ns = cpu;
  ls->mark = now;
  ls->cpu_mark = cpu_now;
  if(ls->log_ns && busy >= ls->log_ns)
    log_info("loop: iteration busy %.1f ms, %.1f ms of it on the CPU (%.1f "
             "ms in I/O callbacks, %.1f ms in timers, idle and close "
             "callbacks)",
             (double)busy / 1e6, (double)cpu / 1e6, (double)io / 1e6,
             (double)ls->pre_busy / 1e6);
  if(busy <= ls->max_ns)
    return;
  ls->max_ns = busy;
  if(ls->max_ns >= ls->logged + 10000000) {
    ls->logged = ls->max_ns;
    log_info("loop: longest busy stretch so far %.1f ms",
             (double)ls->max_ns / 1e6);
  }
}

int loopstat_new(uv_loop_t *loop, struct loopstat **out)
{
  const char *log_ms = getenv("QD_LOOP_LOG_MS");
  struct loopstat *ls;

  *out = NULL;
  if(!getenv("QD_LOOP_STATS"))
    return 0;
  if(uv_loop_configure(loop, UV_METRICS_IDLE_TIME) < 0) {
    log_warnx("loop: QD_LOOP_STATS: libuv cannot measure idle time");
    return 0;
  }
  ls = calloc(1, sizeof(*ls));
  if(!ls)
    return -ENOMEM;
  if(log_ms)
    ls->log_ns = strtoull(log_ms, NULL, 10) * 1000000;
  uv_prepare_init(loop, &ls->prepare);
  uv_check_init(loop, &ls->check);
  ls->prepare.data = ls->check.data = ls;
  uv_prepare_start(&ls->prepare, on_prepare);
  uv_check_start(&ls->check, on_check);
  /* Neither handle keeps the loop alive. */
  uv_unref((uv_handle_t *)&ls->prepare);
  uv_unref((uv_handle_t *)&ls->check);
  *out = ls;
  return 0;
}

static void on_closed(uv_handle_t *h)
{
  struct loopstat *ls = h->data;
  void (*cb)(void *) = ls->closed_cb;
  void *arg = ls->closed_arg;

  if(--ls->open)
    return;
  free(ls);
  if(cb)
    cb(arg);
}

void loopstat_close(struct loopstat *ls, void (*closed_cb)(void *arg),
                    void *arg)
{
  if(!ls) {
    if(closed_cb)
      closed_cb(arg);
    return;
  }
  log_info("loop: longest busy stretch %.1f ms (most CPU time in one "
           "iteration %.1f ms)",
           (double)ls->max_ns / 1e6, (double)ls->max_cpu_ns / 1e6);
  ls->closed_cb = closed_cb;
  ls->closed_arg = arg;
  ls->open = 2;
  uv_close((uv_handle_t *)&ls->prepare, on_closed);
  uv_close((uv_handle_t *)&ls->check, on_closed);
}
