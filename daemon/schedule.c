/* SPDX-License-Identifier: MIT
 *
 * schedule: a tenant's poll and sweep timers; see schedule.h.  busy is
 * true from a start function's success until the matching *_done() call;
 * a timer that fires meanwhile only marks its work due, and idle() starts
 * it when the running work ends.
 */
#include "schedule.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "plat.h"
#include "sweep.h"

struct schedule {
  uv_loop_t *loop;
  struct schedule_opts o;
  uv_timer_t poll;   /* the next cycle */
  uv_timer_t sweep;  /* the next sweep, aligned */
  bool busy;         /* a cycle or a sweep is running */
  time_t busy_since; /* when it began */
  bool cycle_due;    /* the poll timer fired during a sweep */
  bool sweep_due;    /* the sweep timer fired during a cycle */
  bool closing;
  unsigned open_timers; /* not yet through their close callback */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

static void on_poll(uv_timer_t *h);
static void on_sweep(uv_timer_t *h);
static void start_cycle(struct schedule *s);
static void start_sweep(struct schedule *s);

/* rnd32() is 32 random bits for jitter; no cryptographic need, but
 * the system's generator (plat_random()) is at hand. */
static uint32_t rnd32(void)
{
  uint32_t r = 0;

  if(plat_random(&r, sizeof(r)))
    r = (uint32_t)uv_hrtime();
  return r;
}

uint64_t schedule_cycle_delay_ms(unsigned interval, unsigned failures,
                                 uint32_t rnd)
{
  uint64_t ms = (uint64_t)interval * 1000;

  if(failures) {
    uint64_t backoff = SCHEDULE_BACKOFF_MS;
    unsigned i;

    for(i = 1; i < failures && backoff < ms; i++)
      backoff *= 2;
    if(backoff < ms)
      ms = backoff;
  }
  return ms - ms / 20 + rnd % (ms / 10 + 1);
}

/* arm_sweep() arms the sweep timer for the next aligned time. */
static void arm_sweep(struct schedule *s)
{
  struct timespec ts;
  uint64_t now_ms;

  clock_gettime(CLOCK_REALTIME, &ts);
  now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  uv_timer_start(&s->sweep, on_sweep,
                 sweep_next_delay_ms(now_ms, s->o.sweep_period, rnd32()), 0);
}

/* idle() ends a cycle or a sweep and starts what waited for it: a cycle
 * first, so a slow sweep cannot starve polling. */
static void idle(struct schedule *s)
{
  s->busy = false;
  if(s->cycle_due) {
    s->cycle_due = false;
    start_cycle(s);
  }
  else if(s->sweep_due) {
    s->sweep_due = false;
    start_sweep(s);
  }
}

static void start_cycle(struct schedule *s)
{
  s->busy = true;
  s->busy_since = time(NULL);
  if(s->o.cycle(s->o.arg)) {
    uv_timer_start(&s->poll, on_poll, SCHEDULE_RETRY_MS, 0);
    idle(s);
  }
}

static void start_sweep(struct schedule *s)
{
  s->busy = true;
  s->busy_since = time(NULL);
  if(s->o.sweep(s->o.arg))
    idle(s); /* not started: the next sweep time tries again */
}

static void on_poll(uv_timer_t *h)
{
  struct schedule *s = h->data;

  if(s->busy)
    s->cycle_due = true; /* after the sweep */
  else
    start_cycle(s);
}

static void on_sweep(uv_timer_t *h)
{
  struct schedule *s = h->data;

  arm_sweep(s);
  if(s->busy)
    s->sweep_due = true; /* after the cycle */
  else
    start_sweep(s);
}

int schedule_new(uv_loop_t *loop, const struct schedule_opts *opts,
                 struct schedule **out)
{
  struct schedule *s = calloc(1, sizeof(*s));

  if(!s)
    return -ENOMEM;
  s->loop = loop;
  s->o = *opts;
  /* uv_timer_init() only fills the handle in and cannot fail (libuv
   * returns 0), so no half-initialised pair needs closing here. */
  uv_timer_init(loop, &s->poll);
  uv_timer_init(loop, &s->sweep);
  s->poll.data = s;
  s->sweep.data = s;
  s->open_timers = 2;
  /* The first cycle soon, spread over a few seconds across tenants; a
   * lone tenant's at once (the loop runs it once start-up is done). */
  uv_timer_start(&s->poll, on_poll,
                 opts->spread_ms ? 100 + rnd32() % opts->spread_ms : 0, 0);
  arm_sweep(s);
  *out = s;
  return 0;
}

void schedule_cycle_done(struct schedule *s, unsigned failures)
{
  if(s->closing)
    return;
  uv_timer_start(&s->poll, on_poll,
                 schedule_cycle_delay_ms(s->o.interval, failures, rnd32()), 0);
  idle(s);
}

void schedule_sweep_done(struct schedule *s)
{
  if(!s->closing)
    idle(s);
}

void schedule_get_times(const struct schedule *s, time_t *busy_since,
                        time_t *next_cycle)
{
  struct timespec ts;
  uint64_t due_ms;

  *busy_since = s->busy ? s->busy_since : 0;
  *next_cycle = 0;
  if(!uv_is_active((const uv_handle_t *)&s->poll))
    return;
  /* Rounded to the nearest second from milliseconds, so the time shown
   * is never up to 2 s early as whole seconds added up would be. */
  clock_gettime(CLOCK_REALTIME, &ts);
  due_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 +
           uv_timer_get_due_in(&s->poll);
  *next_cycle = (time_t)((due_ms + 500) / 1000);
}

static void on_timer_closed(uv_handle_t *h)
{
  struct schedule *s = h->data;
  void (*cb)(void *arg) = s->closed_cb;
  void *arg = s->closed_arg;

  if(--s->open_timers)
    return;
  free(s);
  if(cb)
    cb(arg);
}

void schedule_close(struct schedule *s, void (*closed_cb)(void *arg), void *arg)
{
  if(s->closing)
    return;
  s->closing = true;
  s->cycle_due = s->sweep_due = false;
  s->closed_cb = closed_cb;
  s->closed_arg = arg;
  uv_close((uv_handle_t *)&s->poll, on_timer_closed);
  uv_close((uv_handle_t *)&s->sweep, on_timer_closed);
}
