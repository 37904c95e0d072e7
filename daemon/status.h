/* SPDX-License-Identifier: MIT
 *
 * status: what the daemon says about itself, computed from a snapshot of
 * its tenants and alert sinks: readiness (with the reason when not
 * ready), a wedged-loop verdict for the systemd watchdog, the one-line
 * STATUS= text, and the JSON documents of the health endpoint
 * (/status.json, /conflicts.json).  Pure apart from reading the tenants:
 * the clock is an argument, nothing is logged, nothing kept.
 */
#ifndef QD_STATUS_H
#define QD_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "conflict_set.h"

struct alert;
struct tenant;

/* The running daemon as the endpoint sees it; everything is borrowed for
 * the duration of one call. */
struct status_view {
  struct tenant *const *tenants;
  size_t ntenants;
  const struct alert *alert; /* may be NULL */
  time_t started;            /* when the daemon started */
};

/* A cycle or sweep running longer than this many poll intervals, and at
 * least STATUS_WEDGED_MIN seconds, means the loop is wedged. */
#define STATUS_WEDGED_INTERVALS 4
#define STATUS_WEDGED_MIN 3600

/* Conflicts of one tenant by state, and the oldest one's age. */
struct status_counts {
  size_t total;
  size_t by_state[CONFLICT_STUCK + 1];
  long oldest; /* seconds; 0 when there are none */
};

/* status_count() counts the conflicts of set (NULL: none) as of now. */
void status_count(const struct conflict_set *set, time_t now,
                  struct status_counts *out);

/* status_conflict_since() is when c was quarantined as far as we know:
 * occurredDateTime, else the first cycle that saw it. */
time_t status_conflict_since(const struct conflict *c);

/* status_ready() tells whether the daemon is ready: every tenant had a
 * good cycle within two poll intervals (counted from start-up when it
 * never had one), no tenant's credentials were refused, and no alert
 * queue is full.  When not, why (len bytes) gets every reason, "; "
 * separated. */
bool status_ready(const struct status_view *v, time_t now, char *why,
                  size_t len);

/* status_wedged() tells whether a tenant's cycle or sweep has run longer
 * than STATUS_WEDGED_INTERVALS intervals (and STATUS_WEDGED_MIN seconds);
 * why names it. */
bool status_wedged(const struct status_view *v, time_t now, char *why,
                   size_t len);

/* status_line() writes the STATUS= text, e.g. "2 tenants, 5 conflicts (1
 * stuck), last cycle 12s ago". */
void status_line(const struct status_view *v, time_t now, char *buf,
                 size_t len);

/* status_json() returns /status.json as a new cJSON object (the
 * document is described in quarantined(8)), or NULL when out of memory. */
cJSON *status_json(const struct status_view *v, time_t now);

/* status_conflicts_json() returns /conflicts.json: {"tenants": [{"name",
 * "conflicts": [state file form]}]}, for every tenant or only the one
 * called tenant (NULL: all).  NULL when out of memory; *found is false
 * when tenant names none. */
cJSON *status_conflicts_json(const struct status_view *v, const char *tenant,
                             bool *found);

#endif
