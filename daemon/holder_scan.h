/* SPDX-License-Identifier: MIT
 *
 * holder_scan: which collections a holder lookup lists whole instead of
 * searching value by value, and what the tenant's collections hold.
 *
 * A search costs one resource unit per GET, and a GET asks 15
 * expressions (holder_query.h): n values asked with t terms cost about
 * n * t / 15 units per collection.  Listing a collection costs one unit
 * per page of 999 objects, whatever the number of values
 * (https://learn.microsoft.com/graph/throttling-limits, identity and
 * access: a GET of users costs 2, of any other directory object 1, and
 * $select takes 1 off; https://learn.microsoft.com/graph/paging: $top up
 * to 999 on users, groups and contacts).  So when a lookup has many
 * values and the collection few objects (a first cycle with thousands of
 * conflicts; the hourly sweep, which asks every conflict again), listing
 * is the cheaper question, and its answer is exact whatever Graph's "eq"
 * does with case: the objects are matched to the values locally
 * (holder_query_holds()), as a search's answers are.
 *
 * A collection is listed when both hold:
 *  - its pages cost fewer units than its searches would;
 *  - its pages, asked one after another (each page's link comes with the
 *    one before), are no more round trips than the whole lookup's
 *    searches need with max_concurrency $batch POSTs of 20 in flight, so
 *    that listing does not make the lookup take longer.
 * Its size comes from $count
 * (https://learn.microsoft.com/graph/query-parameters#count-parameter), which
 * directory objects answer only as an advanced query, with the header
 * "ConsistencyLevel: eventual"
 * (https://learn.microsoft.com/graph/aad-advanced-queries); the count
 * is kept for HOLDER_SCAN_COUNT_TTL and refreshed by each listing.  A
 * count that cannot be had (an error, a tenant without advanced queries)
 * means search, as before; so does a lookup of fewer than
 * HOLDER_SCAN_MIN_GETS GETs per collection when no count is known.  Deleted
 * users and groups are always searched. The option lookup_scan = no turns
 * listing off.
 */
#ifndef QD_HOLDER_SCAN_H
#define QD_HOLDER_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "holder_query.h"

struct graph;

#define HOLDER_SCAN_PAGE 999       /* $top of a listing page */
#define HOLDER_SCAN_COUNT_TTL 3600 /* seconds a collection's count is used */
#define HOLDER_SCAN_MIN_GETS 8     /* searches worth asking a count for */

/* A tenant's knowledge of its collections, kept by its holder. */
struct holder_scan {
  bool enabled;                   /* lookup_scan */
  unsigned concurrency;           /* $batch POSTs in flight (max_concurrency) */
  long count[HOLDER_QUERY_NCOLL]; /* objects, or -1 when unknown */
  time_t counted[HOLDER_QUERY_NCOLL]; /* when count was learned or asked in
                                         vain; 0: never */
};

/* holder_scan_init() sets s to: listing enabled, concurrency 1, no count
 * known. */
void holder_scan_init(struct holder_scan *s);

/* holder_scan_to_count() is the bases (a bit per collection index) whose
 * count a lookup should ask for before it chooses, given est[b], the GETs
 * its search of collection b would take (holder_query_estimate()): those
 * that listing might make cheaper and whose count is older than
 * HOLDER_SCAN_COUNT_TTL at now.  0 when listing is off. */
unsigned holder_scan_to_count(const struct holder_scan *s, const size_t *est,
                              time_t now);

/* holder_scan_choose() is the collections (a bit per index) to list
 * rather than search, given est as above (see the rule at the top). */
unsigned holder_scan_choose(const struct holder_scan *s, const size_t *est,
                            time_t now);

/* Callback of holder_scan_count(): every count asked for has been
 * answered or given up (s updated).  result is 0, or -ECANCELED when the
 * graph client was closed meanwhile. */
typedef void (*holder_scan_counted_cb)(int result, void *arg);

/* holder_scan_count() asks g for the number of objects of each collection
 * in mask, all at once, and records them in s (borrowed: it must outlive
 * the requests; tenant names s's tenant in log lines).  Returns 0 (cb runs
 * once, never from inside this call) or a negative errno code (cb will not
 * run). */
int holder_scan_count(struct graph *g, const char *tenant,
                      struct holder_scan *s, unsigned mask,
                      holder_scan_counted_cb cb, void *arg);

/* holder_scan_listed() records that a listing of collection base found
 * n objects at now. */
void holder_scan_listed(struct holder_scan *s, unsigned base, long n,
                        time_t now);

/* holder_scan_path() returns the malloc'd path of the first page of
 * collection base's listing (every property a holder needs, 999 to a
 * page), or NULL when out of memory. */
char *holder_scan_path(unsigned base);

#endif
