/* SPDX-License-Identifier: MIT
 *
 * sweep: the transitions of sweep.h.  Every function works on one
 * conflict's own members and its arguments only.
 */
#include "sweep.h"

#include <strings.h>

enum sweep_change sweep_assess(struct conflict *c, time_t now,
                               const struct sweep_opts *o)
{
  bool held = c->nholders > 0;

  if(!c->looked_up)
    return SWEEP_NONE;
  if(c->state == CONFLICT_ACTIVE && !held) {
    c->state = CONFLICT_FREED;
    c->freed_at = now;
    c->release_by = now + (time_t)o->period;
    c->stuck_at = 0;
    return SWEEP_FREED;
  }
  if(c->state != CONFLICT_ACTIVE && held) {
    c->state = CONFLICT_ACTIVE;
    c->freed_at = c->release_by = c->stuck_at = 0;
    return SWEEP_HELD;
  }
  if(c->state == CONFLICT_FREED &&
     c->last_seen >= c->release_by + (time_t)o->grace) {
    c->state = CONFLICT_STUCK;
    c->stuck_at = now;
    return SWEEP_STUCK;
  }
  return SWEEP_NONE;
}

enum sweep_change sweep_gone(bool carries)
{
  return carries ? SWEEP_RELEASED : SWEEP_CLEARED;
}

bool sweep_carries(const struct conflict *c, const char *upn,
                   const char *const *proxies, size_t n)
{
  size_t i;

  if(c->property == CONFLICT_UPN)
    return upn && !strcasecmp(upn, c->value);
  for(i = 0; i < n; i++)
    if(proxies[i] && !strncasecmp(proxies[i], "smtp:", 5) &&
       !strcasecmp(proxies[i] + 5, c->value))
      return true;
  return false;
}

/* since() is the seconds from start (0: unknown) to t, never negative. */
static long since(time_t start, time_t t)
{
  return start && t > start ? (long)(t - start) : 0;
}

long sweep_time_to_release(const struct conflict *c, time_t released)
{
  return since(c->freed_at ? c->freed_at : c->first_seen, released);
}

long sweep_age(const struct conflict *c, time_t now)
{
  return since(c->occurred ? c->occurred : c->first_seen, now);
}

/* passed() is the largest threshold of o at or below age, or 0. */
static unsigned long passed(long age, const struct sweep_opts *o)
{
  unsigned long best = 0;
  size_t i;

  for(i = 0; i < o->naging; i++)
    if(o->aging[i] <= (unsigned long)age && o->aging[i] > best)
      best = o->aging[i];
  return best;
}

unsigned long sweep_aging_due(struct conflict *c, time_t now,
                              const struct sweep_opts *o)
{
  unsigned long t = passed(sweep_age(c, now), o);

  if(t <= c->aging_done)
    return 0;
  c->aging_done = t;
  return t;
}

void sweep_aging_skip(struct conflict *c, time_t now,
                      const struct sweep_opts *o)
{
  unsigned long t = passed(sweep_age(c, now), o);

  if(t > c->aging_done)
    c->aging_done = t;
}

void sweep_carry(struct conflict *dst, const struct conflict *src)
{
  dst->state = src->state;
  dst->freed_at = src->freed_at;
  dst->release_by = src->release_by;
  dst->stuck_at = src->stuck_at;
  dst->aging_done = src->aging_done;
}

uint64_t sweep_next_delay_ms(uint64_t now_ms, unsigned long period,
                             uint32_t rnd)
{
  uint64_t p = (uint64_t)(period ? period : 1) * 1000;
  uint64_t jitter = p / 12;

  return p - now_ms % p + p / 60 + (jitter ? rnd % jitter : 0);
}

const char *sweep_change_name(enum sweep_change ch)
{
  static const char *const names[] = {"none",  "freed",    "held",
                                      "stuck", "released", "cleared"};

  return (unsigned)ch < sizeof(names) / sizeof(names[0]) ? names[ch]
                                                         : "unknown";
}
