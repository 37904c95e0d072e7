/* SPDX-License-Identifier: MIT
 *
 * loopstat: how long the event loop goes without coming back to poll,
 * for `make bench`.  Started only when the environment variable
 * QD_LOOP_STATS is set: a uv_prepare_t and a uv_check_t around poll,
 * with libuv's idle-time metric, give each iteration's busy time (its
 * callbacks, outside the wait in poll); the longest is logged every time
 * it grows by 10 ms or more and once at shutdown ("loop: longest busy
 * stretch N ms").
 */
#ifndef QD_LOOPSTAT_H
#define QD_LOOPSTAT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

struct loopstat {
  uv_prepare_t prepare;
  uv_check_t check;
  uint64_t mark;             /* uv_hrtime() of the last check */
  uint64_t pre_busy;         /* check to prepare of this iteration */
  uint64_t prep_at, idle_at; /* at prepare: time, loop idle time */
  uint64_t max_ns;           /* longest stretch seen */
  uint64_t logged;           /* max_ns when last logged */
  bool on;
};

/* loopstat_start() starts measuring on loop when QD_LOOP_STATS is set;
 * ls is owned by the caller and must outlive loopstat_close(). */
void loopstat_start(struct loopstat *ls, uv_loop_t *loop);

/* loopstat_close() logs the longest stretch and closes the handles (their
 * close callbacks need nothing). */
void loopstat_close(struct loopstat *ls);

#endif
