/* SPDX-License-Identifier: MIT
 *
 * sweep: the state machine that mimics Entra ID's hourly release sweep
 * ("A background timer task ... runs every hour to look for duplicate
 * attribute conflicts that have been resolved, and automatically removes
 * the attributes in question from quarantine",
 * docs/graph-facts.md#duplicate-attribute-resiliency).  Pure:
 * no I/O, no allocation, no clock (now is an argument); tenant.c feeds it
 * complete data only and turns each change into an alert.
 *
 *   active --complete lookup: no holder--> freed     (conflict.freed)
 *   freed  --complete lookup: held-------> active    (conflict.held)
 *   stuck  --complete lookup: held-------> active    (conflict.held)
 *   freed  --seen quarantined by a complete inventory at or after
 *            predicted release + grace---> stuck     (conflict.stuck)
 *   any    --gone from a complete inventory, the object carries the
 *            value-----------------------> released  (conflict.released)
 *   any    --gone, the object does not carry it (deleted, value changed
 *            on-premises)----------------> cleared   (conflict.cleared)
 *
 * A failed lookup changes nothing (the stored pairing is the last complete
 * one, see holder_apply()), and neither does a failed object check.
 * conflict.aging is raised once per configured age a conflict passes,
 * counted from occurredDateTime (else first seen).
 */
#ifndef QD_SWEEP_H
#define QD_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conflict.h"

struct sweep_opts {
  unsigned long period; /* the service's sweep period, seconds (also ours) */
  unsigned long grace;  /* after the predicted release, before stuck */
  const unsigned long *aging; /* conflict.aging thresholds, ascending */
  size_t naging;
};

/* What a step did to a conflict; each but NONE is one alert. */
enum sweep_change {
  SWEEP_NONE,
  SWEEP_FREED,    /* active -> freed */
  SWEEP_HELD,     /* freed or stuck -> active: held again */
  SWEEP_STUCK,    /* freed -> stuck */
  SWEEP_RELEASED, /* gone; the object carries the value */
  SWEEP_CLEARED   /* gone; it does not */
};

/* sweep_assess() applies c's stored pairing and inventory times, as of
 * now: a complete lookup (looked_up set) that found no holder frees an
 * active conflict (freed_at = now, release_by = now + period); one that
 * found a holder makes a freed or stuck conflict active again (the sweep
 * record is cleared); a freed conflict whose last_seen (start of the last
 * complete inventory that listed it) is at or after release_by + grace
 * becomes stuck (stuck_at = now).  A conflict never looked up is left
 * alone.  Returns the change made (at most one). */
enum sweep_change sweep_assess(struct conflict *c, time_t now,
                               const struct sweep_opts *o);

/* sweep_gone() decides what a conflict missing from a complete inventory
 * became, given whether its object now carries the value (see
 * sweep_carries()): SWEEP_RELEASED or SWEEP_CLEARED.  An object that no
 * longer exists does not carry it.  The caller drops the conflict after
 * its alert; it must not call this when the object check failed. */
enum sweep_change sweep_gone(bool carries);

/* sweep_carries() tells whether an object with userPrincipalName upn (or
 * NULL) and the n proxyAddresses at proxies (as Graph sends them) carries
 * c's value: for a UPN conflict the UPN equals it, for a proxy address
 * conflict one smtp: address (prefix in any case) equals it; ASCII case is
 * ignored, as Entra ID compares both. */
bool sweep_carries(const struct conflict *c, const char *upn,
                   const char *const *proxies, size_t n);

/* sweep_time_to_release() is the number of seconds from c's freed_at (or,
 * never seen freed, its first_seen) to released, never negative. */
long sweep_time_to_release(const struct conflict *c, time_t released);

/* sweep_age() is c's age at now: since occurredDateTime when known, else
 * since first seen; never negative. */
long sweep_age(const struct conflict *c, time_t now);

/* sweep_aging_due() returns the largest threshold of o that c's age has
 * passed and that is above c->aging_done, recording it in aging_done, or
 * 0 when there is none.  Thresholds passed together give one alert. */
unsigned long sweep_aging_due(struct conflict *c, time_t now,
                              const struct sweep_opts *o);

/* sweep_aging_skip() marks the thresholds c has already passed at now as
 * done without an alert: for a conflict seen for the first time (its
 * conflict.detected alert carries occurredDateTime). */
void sweep_aging_skip(struct conflict *c, time_t now,
                      const struct sweep_opts *o);

/* sweep_carry() copies the sweep record (state, freed_at, release_by,
 * stuck_at, aging_done) of src, the same conflict in the inventory
 * believed so far, into dst, this cycle's. */
void sweep_carry(struct conflict *dst, const struct conflict *src);

/* sweep_next_delay_ms() is the delay from now_ms (UTC milliseconds since
 * the epoch) to the next sweep: the next multiple of period after now_ms,
 * plus period/60 after the boundary, plus rnd modulo period/12 of jitter
 * (for one hour: one to six minutes past the hour), so tenants spread
 * out and never sweep on the boundary itself. */
uint64_t sweep_next_delay_ms(uint64_t now_ms, unsigned long period,
                             uint32_t rnd);

/* sweep_change_name() is "none", "freed", "held", "stuck", "released" or
 * "cleared". */
const char *sweep_change_name(enum sweep_change ch);

#endif
