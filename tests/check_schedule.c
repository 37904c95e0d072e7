/* SPDX-License-Identifier: MIT
 *
 * check_schedule: when a tenant's cycles and sweeps run.  The delay
 * before a cycle (jitter bounds, failure backoff growth and its cap) is
 * checked as a pure function; the rule that a cycle and a sweep never run
 * at once is checked on a real loop with one-second periods: whichever
 * timer fires while the other's work runs waits, and starts exactly when
 * that work ends.  The sweep timer's alignment is check_sweep's.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "schedule.h"
#include "testutil.h"

START_TEST(test_jitter_bounds)
{
  static const unsigned intervals[] = {1, 60, 300, 86400};
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  size_t i, k;

  for(i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
    uint64_t ms = (uint64_t)intervals[i] * 1000;
    uint64_t lo = ms - ms / 20, hi = ms - ms / 20 + ms / 10;

    ck_assert_uint_eq(schedule_cycle_delay_ms(intervals[i], 0, 0), lo);
    ck_assert_uint_eq(
        schedule_cycle_delay_ms(intervals[i], 0, (uint32_t)(ms / 10)), hi);
    ck_assert_uint_eq(
        schedule_cycle_delay_ms(intervals[i], 0, (uint32_t)(ms / 10 + 1)), lo);
    for(k = 0; k < 10000; k++) {
      uint64_t d;

      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      d = schedule_cycle_delay_ms(intervals[i], 0, (uint32_t)seed);
      ck_assert_uint_ge(d, lo);
      ck_assert_uint_le(d, hi);
    }
  }
  /* 5 minutes: 4 min 45 s to 5 min 15 s. */
  ck_assert_uint_eq(schedule_cycle_delay_ms(300, 0, 0), 285000);
  ck_assert_uint_eq(schedule_cycle_delay_ms(300, 0, UINT32_MAX),
                    285000 + UINT32_MAX % 30001);
}
END_TEST

START_TEST(test_backoff_grows_and_is_capped)
{
  uint64_t want = SCHEDULE_BACKOFF_MS;
  unsigned f;

  ck_assert_uint_eq(SCHEDULE_BACKOFF_MS, 15000);
  /* An hour's interval: 15 s, 30 s, 1 min, ... doubling per failure. */
  for(f = 1; want < 3600000; f++, want *= 2)
    ck_assert_uint_eq(schedule_cycle_delay_ms(3600, f, 0), want - want / 20);
  ck_assert_uint_eq(f, 9); /* 15 s * 2^8 is the first past an hour */
  /* ... and never past the interval, however many failures. */
  for(; f < 100; f++)
    ck_assert_uint_eq(schedule_cycle_delay_ms(3600, f, 0),
                      3600000 - 3600000 / 20);
  ck_assert_uint_eq(schedule_cycle_delay_ms(3600, UINT32_MAX, 0),
                    3600000 - 3600000 / 20);
  /* An interval shorter than the first backoff: the interval it is. */
  ck_assert_uint_eq(schedule_cycle_delay_ms(10, 1, 0), 10000 - 500);
  ck_assert_uint_eq(schedule_cycle_delay_ms(60, 2, 0), 30000 - 1500);
  ck_assert_uint_eq(schedule_cycle_delay_ms(60, 3, 0), 60000 - 3000);
  ck_assert_uint_eq(schedule_cycle_delay_ms(60, 4, 0), 60000 - 3000);
  /* The jitter applies to the backoff too. */
  ck_assert_uint_eq(schedule_cycle_delay_ms(3600, 1, 1500), 15000 + 750);
}
END_TEST

/* ===== On a loop ===== */

/* One schedule under test.  The cycle or the sweep "runs" until a timer
 * of the test ends it after hold_ms; the schedule must never start one
 * while the other runs. */
struct fixture {
  uv_loop_t loop;
  struct schedule *s;
  uv_timer_t end_cycle, end_sweep;
  unsigned cycle_hold_ms, sweep_hold_ms;
  bool in_cycle, in_sweep;           /* running now */
  bool in_cycle_done, in_sweep_done; /* inside schedule_*_done() */
  unsigned cycles, sweeps;           /* started */
  unsigned overlaps;                 /* one started while the other ran */
  unsigned sweeps_after_cycle; /* started from inside schedule_cycle_done() */
  unsigned cycles_after_sweep; /* started from inside schedule_sweep_done() */
  int fail_first_cycle;        /* the first cycle returns this */
  uint64_t created, first_cycle;
  unsigned sweeps_before_first_cycle;
  bool done, closed;
};

static void on_schedule_closed(void *arg)
{
  struct fixture *f = arg;

  f->closed = true;
  uv_close((uv_handle_t *)&f->end_cycle, NULL);
  uv_close((uv_handle_t *)&f->end_sweep, NULL);
}

/* finish() closes the schedule once the test has seen what it waited
 * for and nothing is running. */
static void finish(struct fixture *f)
{
  if(f->done && !f->in_cycle && !f->in_sweep && !f->closed && f->s) {
    schedule_close(f->s, on_schedule_closed, f);
    f->s = NULL;
  }
}

static void on_end_cycle(uv_timer_t *h)
{
  struct fixture *f = h->data;

  f->in_cycle = false;
  f->in_cycle_done = true;
  schedule_cycle_done(f->s, 0);
  f->in_cycle_done = false;
  finish(f);
}

static void on_end_sweep(uv_timer_t *h)
{
  struct fixture *f = h->data;

  f->in_sweep = false;
  f->in_sweep_done = true;
  schedule_sweep_done(f->s);
  f->in_sweep_done = false;
  finish(f);
}

static int start_cycle(void *arg)
{
  struct fixture *f = arg;

  if(f->done)
    return -ECANCELED; /* winding down: nothing more starts */
  if(f->in_cycle || f->in_sweep)
    f->overlaps++;
  if(!f->cycles++) {
    f->first_cycle = uv_now(&f->loop);
    f->sweeps_before_first_cycle = f->sweeps;
    if(f->fail_first_cycle)
      return f->fail_first_cycle;
  }
  f->cycles_after_sweep += f->in_sweep_done;
  f->in_cycle = true;
  uv_timer_start(&f->end_cycle, on_end_cycle, f->cycle_hold_ms, 0);
  return 0;
}

static int start_sweep(void *arg)
{
  struct fixture *f = arg;

  if(f->done)
    return -ECANCELED;
  if(f->in_cycle || f->in_sweep)
    f->overlaps++;
  f->sweeps++;
  f->sweeps_after_cycle += f->in_cycle_done;
  f->in_sweep = true;
  uv_timer_start(&f->end_sweep, on_end_sweep, f->sweep_hold_ms, 0);
  return 0;
}

static void fixture_start(struct fixture *f, unsigned cycle_hold_ms,
                          unsigned sweep_hold_ms)
{
  struct schedule_opts o;

  memset(f, 0, sizeof(*f));
  f->cycle_hold_ms = cycle_hold_ms;
  f->sweep_hold_ms = sweep_hold_ms;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(uv_timer_init(&f->loop, &f->end_cycle), 0);
  ck_assert_int_eq(uv_timer_init(&f->loop, &f->end_sweep), 0);
  f->end_cycle.data = f;
  f->end_sweep.data = f;
  memset(&o, 0, sizeof(o));
  o.interval = 1;
  o.sweep_period = 1;
  o.cycle = start_cycle;
  o.sweep = start_sweep;
  o.arg = f;
  o.spread_ms = SCHEDULE_SPREAD_MS;
  f->created = uv_now(&f->loop);
  ck_assert_int_eq(schedule_new(&f->loop, &o, &f->s), 0);
}

/* run_until() runs the loop until done(f) holds and the schedule is
 * closed, then checks that the loop closes cleanly. */
static void run_until(struct fixture *f, bool (*done)(const struct fixture *))
{
  while(!f->closed) {
    uv_run(&f->loop, UV_RUN_ONCE);
    if(!f->done && done(f)) {
      f->done = true;
      finish(f);
    }
  }
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static bool sweep_waited(const struct fixture *f)
{
  return f->sweeps_after_cycle > 0;
}

START_TEST(test_sweep_waits_for_the_cycle)
{
  struct fixture f;

  /* A cycle held for 1.5 s outlasts the wait for the sweep timer (at most
   * 1.1 s with a 1 s period), so the sweep comes due during it; and
   * timers fire in the order they are due, however slow the machine. */
  fixture_start(&f, 1500, 0);
  run_until(&f, sweep_waited);
  ck_assert_uint_eq(f.overlaps, 0);
  ck_assert_uint_ge(f.sweeps_after_cycle, 1);
  ck_assert_uint_ge(f.cycles, 1);
  /* The first cycle comes 0.1 to 2.1 s after the start (only the lower
   * bound holds on a loaded machine). */
  ck_assert_uint_ge(f.first_cycle - f.created, 100);
}
END_TEST

static bool cycle_waited(const struct fixture *f)
{
  return f->cycles_after_sweep > 0;
}

START_TEST(test_cycle_waits_for_the_sweep)
{
  struct fixture f;

  /* Sweeps held for 1.5 s, cycles done at once with a 1 s interval: a
   * poll falls into a sweep within a few periods. */
  fixture_start(&f, 0, 1500);
  run_until(&f, cycle_waited);
  ck_assert_uint_eq(f.overlaps, 0);
  ck_assert_uint_ge(f.cycles_after_sweep, 1);
}
END_TEST

static bool swept_after_failure(const struct fixture *f)
{
  return f->cycles == 1 && f->sweeps > f->sweeps_before_first_cycle;
}

START_TEST(test_failed_cycle_start_frees_the_sweep)
{
  struct fixture f;

  /* A cycle that cannot start is retried 30 s later; meanwhile sweeps
   * still run. */
  fixture_start(&f, 0, 0);
  f.fail_first_cycle = -EIO;
  run_until(&f, swept_after_failure);
  ck_assert_uint_eq(f.cycles, 1);
  ck_assert_uint_eq(f.overlaps, 0);
}
END_TEST

static void on_closed_count(void *arg)
{
  ++*(int *)arg;
}

START_TEST(test_close_calls_back_after_freeing)
{
  struct schedule_opts o;
  struct schedule *s;
  uv_loop_t loop;
  int closed = 0;

  memset(&o, 0, sizeof(o));
  o.interval = 60;
  o.sweep_period = 3600;
  o.cycle = start_cycle;
  o.sweep = start_sweep;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(schedule_new(&loop, &o, &s), 0);
  schedule_close(s, on_closed_count, &closed);
  ck_assert_int_eq(closed, 0); /* never from inside schedule_close() */
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *schedule_suite(void)
{
  Suite *s = suite_create("schedule");
  TCase *tc = tcase_create("delay");
  TCase *tl = tcase_create("loop");

  tcase_add_test(tc, test_jitter_bounds);
  tcase_add_test(tc, test_backoff_grows_and_is_capped);
  suite_add_tcase(s, tc);
  tcase_add_test(tl, test_sweep_waits_for_the_cycle);
  tcase_add_test(tl, test_cycle_waits_for_the_sweep);
  tcase_add_test(tl, test_failed_cycle_start_frees_the_sweep);
  tcase_add_test(tl, test_close_calls_back_after_freeing);
  tcase_set_timeout(tl, 60);
  suite_add_tcase(s, tl);
  return s;
}
