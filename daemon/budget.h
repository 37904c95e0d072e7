/* SPDX-License-Identifier: MIT
 *
 * budget: the resource units Microsoft Graph charges identity and access
 * requests, and a token bucket that paces one tenant's requests so that
 * they stay within the documented quota of the application + tenant pair
 * (https://learn.microsoft.com/graph/throttling-limits, "Identity and
 * access service limits"):
 *
 *   quota per 10 s: 3,500 (S, under 50 users), 5,000 (M, 50 to 500),
 *                   8,000 (L, above 500)
 *   cost of a request: GET /users 2, POST /directoryObjects/getByIds 3
 *     (a newer copy of the page says 5; we charge 5), GET
 *     /groups/{id}/members 3, any other GET 1, a write 1; "$select"
 *     takes 1 off, "$expand" adds 1, "$top" below 20 takes 1 off; never
 *     less than 1.  Every request of a $batch is charged on its own
 *     (https://learn.microsoft.com/graph/json-batching).
 *
 * The bucket refills the quota evenly over 10 s; a request waits until
 * its cost is in the bucket.  It holds at most the quota less
 * BUDGET_SLACK_PERCENT: a request is charged here before its token and
 * connection are ready and reaches Graph a varying while later, so two
 * requests may arrive closer together than they were charged; the slack,
 * half a second of refill, absorbs that much, and Graph's bucket always
 * holds what ours says.  The simulator charges the same
 * costs (scripts/graphsimlib/throttle.py).  Pure: the caller passes the
 * time (uv_now() milliseconds).
 */
#ifndef QD_BUDGET_H
#define QD_BUDGET_H

#include <stdint.h>

/* Tenant sizes of the throttling page. */
enum budget_size { BUDGET_SMALL, BUDGET_MEDIUM, BUDGET_LARGE };

#define BUDGET_WINDOW_MS 10000u
#define BUDGET_SLACK_PERCENT 5u

/* A token bucket of resource units.  Plain data, owned by its user. */
struct budget {
  double units;    /* in the bucket now */
  double capacity; /* the quota of one window: refilled over it */
  double ceiling;  /* what the bucket holds at most: capacity less slack */
  uint64_t last;   /* when units was last brought up to date */
};

/* budget_quota() is the resource-unit quota per BUDGET_WINDOW_MS of a
 * tenant of size. */
unsigned budget_quota(enum budget_size size);

/* budget_init() fills b with a bucket of quota units per window
 * (budget_quota() of the tenant's size, or an admin's own figure), full,
 * at now. */
void budget_init(struct budget *b, unsigned quota, uint64_t now);

/* budget_cost() is the resource units of method on url, a path relative
 * to the version root ("/users?$select=id") or carrying it ("/v1.0/..."),
 * or an absolute URL (scheme and host are skipped). */
unsigned budget_cost(const char *method, const char *url);

/* budget_take() takes cost units from b at now when they are there and
 * returns 0; otherwise it takes nothing and returns the milliseconds after
 * which they will be (> 0).  A cost above the ceiling waits for a full
 * bucket. */
uint64_t budget_take(struct budget *b, uint64_t now, unsigned cost);

#endif
