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

#include "log.h"

struct loopstat {
  uv_prepare_t prepare;
  uv_check_t check;
  uint64_t mark;             /* uv_hrtime() of the last check */
  uint64_t pre_busy;         /* check to prepare of this iteration */
  uint64_t prep_at, idle_at; /* at prepare: time, loop idle time */
  uint64_t max_ns;           /* longest stretch seen */
  uint64_t logged;           /* max_ns when last logged */
  int open;                  /* handles not yet closed */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

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
  uint64_t busy = ls->pre_busy + (poll > waited ? poll - waited : 0);

  ls->mark = now;
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
  log_info("loop: longest busy stretch %.1f ms", (double)ls->max_ns / 1e6);
  ls->closed_cb = closed_cb;
  ls->closed_arg = arg;
  ls->open = 2;
  uv_close((uv_handle_t *)&ls->prepare, on_closed);
  uv_close((uv_handle_t *)&ls->check, on_closed);
}
