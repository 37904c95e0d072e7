/* SPDX-License-Identifier: MIT
 *
 * schedule: when a tenant's work runs.  Two timers: the poll timer starts
 * a cycle every poll interval (+-5% jitter, so tenants polled at one
 * interval spread out), sooner with a capped backoff after failed cycles;
 * the sweep timer starts a sweep at multiples of the sweep period in UTC,
 * plus an offset and jitter (sweep_next_delay_ms()).  A cycle and a sweep
 * never run at once: whichever timer fires while the other's work runs
 * waits for it, and when both wait the cycle goes first, so a slow sweep
 * cannot starve polling.  What a cycle or a sweep is, is the caller's
 * business (tenant.c): the schedule only calls start functions and is
 * told when the work is done.
 */
#ifndef QD_SCHEDULE_H
#define QD_SCHEDULE_H

#include <stdint.h>
#include <time.h>

#include <uv.h>

struct schedule;

/* Starts a cycle or a sweep for arg.  Returns 0 when the work has started
 * (the caller then calls schedule_cycle_done() or schedule_sweep_done()
 * once it ends, never from inside this call), or a negative errno code
 * when it did not start, including when there is nothing to do; the
 * start function logs why. */
typedef int (*schedule_start_fn)(void *arg);

struct schedule_opts {
  unsigned interval;          /* seconds between cycles, >= 1 */
  unsigned long sweep_period; /* seconds between sweeps, >= 1 */
  schedule_start_fn cycle;    /* starts a cycle */
  schedule_start_fn sweep;    /* starts a sweep */
  void *arg;                  /* for both */
  /* The first cycle comes 0.1 s after the start plus up to this much at
   * random, so that many tenants do not all start at once; 0 for a lone
   * tenant, which has nobody to make room for and starts at once. */
  unsigned spread_ms;
};

/* The spread_ms of tenants that share the daemon with others. */
#define SCHEDULE_SPREAD_MS 2000

/* Retry delay after a cycle could not even start, in milliseconds. */
#define SCHEDULE_RETRY_MS 30000
/* First delay of the failure backoff, doubled per further failure up to
 * the poll interval, in milliseconds. */
#define SCHEDULE_BACKOFF_MS 15000

/* schedule_new() arms both timers on loop: the first cycle at once (no
 * spread_ms) or within 0.1 s plus spread_ms, the first sweep at its
 * aligned time.
 * opts is copied.  Returns 0 with *out set (close it with
 * schedule_close()), or a negative errno code. */
int schedule_new(uv_loop_t *loop, const struct schedule_opts *opts,
                 struct schedule **out);

/* schedule_cycle_done() says the running cycle has ended, with failures
 * consecutive failed cycles so far (0 after a success): it arms the next
 * cycle and then starts what waited for the cycle. */
void schedule_cycle_done(struct schedule *s, unsigned failures);

/* schedule_sweep_done() says the running sweep has ended and starts what
 * waited for it. */
void schedule_sweep_done(struct schedule *s);

/* schedule_get_times() tells when the running cycle or sweep began
 * (*busy_since, 0 when none runs) and when the next cycle is due
 * (*next_cycle, 0 when none is armed, to the nearest second), both in
 * Unix time. */
void schedule_get_times(const struct schedule *s, time_t *busy_since,
                        time_t *next_cycle);

/* schedule_close() stops both timers: no start function is called after
 * it, and *_done() calls until s is freed do nothing.  s is freed once
 * both timers are closed, then closed_cb(arg) runs if not NULL, never
 * from inside this call. */
void schedule_close(struct schedule *s, void (*closed_cb)(void *arg),
                    void *arg);

/* schedule_cycle_delay_ms() is the delay before the next cycle: the
 * interval (seconds) or, after failures, SCHEDULE_BACKOFF_MS doubled per
 * failure after the first and capped at the interval; then +-5% of that,
 * picked by rnd (any 32 random bits). */
uint64_t schedule_cycle_delay_ms(unsigned interval, unsigned failures,
                                 uint32_t rnd);

#endif
