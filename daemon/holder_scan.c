/* SPDX-License-Identifier: MIT
 *
 * holder_scan: the choice between listing a collection and searching it
 * for a holder lookup, and the counts it rests on (see holder_scan.h).
 */
#include "holder_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "log.h"

#define NCOLL HOLDER_QUERY_NCOLL

void holder_scan_init(struct holder_scan *s)
{
  unsigned b;

  s->enabled = true;
  s->concurrency = 1;
  for(b = 0; b < NCOLL; b++) {
    s->count[b] = -1;
    s->counted[b] = 0;
  }
}

/* fresh() tells whether what s knows of base b's size is recent. */
static bool fresh(const struct holder_scan *s, unsigned b, time_t now)
{
  return s->counted[b] && now >= s->counted[b] &&
         now - s->counted[b] < HOLDER_SCAN_COUNT_TTL;
}

unsigned holder_scan_to_count(const struct holder_scan *s, const size_t *est,
                              time_t now)
{
  unsigned b, mask = 0;

  if(!s->enabled)
    return 0;
  /* The count costs a unit and a request of its own, so it is asked only
   * where a listing could save several: a lookup of a few values (a
   * cycle's new conflicts, usually) just asks them. */
  for(b = 0; b < NCOLL; b++)
    if(est[b] >= HOLDER_SCAN_MIN_GETS && !fresh(s, b, now))
      mask |= 1u << b;
  return mask;
}

unsigned holder_scan_choose(const struct holder_scan *s, const size_t *est,
                            time_t now)
{
  size_t total = 0, rounds, per_round;
  unsigned b, mask = 0;

  if(!s->enabled)
    return 0;
  for(b = 0; b < NCOLL; b++)
    total += est[b];
  per_round = (size_t)GRAPH_BATCH_MAX * (s->concurrency ? s->concurrency : 1);
  rounds = (total + per_round - 1) / per_round;
  for(b = 0; b < NCOLL; b++) {
    size_t pages;

    if(!fresh(s, b, now) || s->count[b] < 0)
      continue;
    /* A listing ends with a page short of 999, maybe empty. */
    pages = (size_t)s->count[b] / HOLDER_SCAN_PAGE + 1;
    if(pages < est[b] && pages <= rounds)
      mask |= 1u << b;
  }
  return mask;
}

void holder_scan_listed(struct holder_scan *s, unsigned base, long n,
                        time_t now)
{
  if(base < NCOLL) {
    s->count[base] = n;
    s->counted[base] = now;
  }
}

char *holder_scan_path(unsigned base)
{
  char *path;

  if(asprintf(&path, "/v1.0%s?$select=%s&$top=%d",
              holder_query_bases[base].path, holder_query_bases[base].select,
              HOLDER_SCAN_PAGE) < 0)
    return NULL;
  return path;
}

/* A holder_scan_count() call: its counts still out. */
struct counting {
  struct holder_scan *s;
  char *tenant;
  size_t pending;
  bool canceled;
  holder_scan_counted_cb cb;
  void *arg;
  struct one {
    struct counting *c;
    unsigned base;
  } one[NCOLL];
};

/* counted() records the answer of one count request; the last one ends
 * the call. */
static void counted(int result, long status, const cJSON *body,
                    const struct graph_error *err, void *arg)
{
  struct one *o = arg;
  struct counting *c = o->c;
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "@odata.count");
  time_t now = time(NULL);

  (void)status;
  if(!result && cJSON_IsNumber(n) && n->valuedouble >= 0) {
    holder_scan_listed(c->s, o->base, (long)n->valuedouble, now);
  }
  else {
    /* Searched, as without counts, until the count is asked again. */
    c->s->count[o->base] = -1;
    c->s->counted[o->base] = now;
    c->canceled |= result == -ECANCELED;
    if(result != -ECANCELED)
      log_info("holder: tenant %s: the number of %s is not known (%s, "
               "HTTP %ld): searched value by value",
               c->tenant, holder_query_bases[o->base].path + 1,
               result ? err->code : "no @odata.count",
               result ? err->status : 0);
  }
  if(--c->pending)
    return;
  c->cb(c->canceled ? -ECANCELED : 0, c->arg);
  free(c->tenant);
  free(c);
}

int holder_scan_count(struct graph *g, const char *tenant,
                      struct holder_scan *s, unsigned mask,
                      holder_scan_counted_cb cb, void *arg)
{
  static const char *const headers[] = {"ConsistencyLevel: eventual", NULL};
  struct counting *c;
  unsigned b;
  int rc = 0;

  if(!(mask & ((1u << NCOLL) - 1)))
    return -EINVAL;
  c = calloc(1, sizeof(*c));
  if(!c || !(c->tenant = strdup(tenant))) {
    free(c);
    return -ENOMEM;
  }
  c->s = s;
  c->cb = cb;
  c->arg = arg;
  /* One more than the requests, so that no answer ends the call while
   * requests are still being sent. */
  c->pending = 1;
  for(b = 0; !rc && b < NCOLL; b++) {
    char path[128];

    if(!(mask & (1u << b)))
      continue;
    c->one[b].c = c;
    c->one[b].base = b;
    /* $top=1 and $select: the cheapest page that carries the count. */
    snprintf(path, sizeof(path), "/v1.0%s?$count=true&$top=1&$select=id",
             holder_query_bases[b].path);
    rc = graph_request(g, "GET", path, headers, NULL, counted, &c->one[b]);
    if(!rc)
      c->pending++;
  }
  if(rc && c->pending == 1) {
    free(c->tenant);
    free(c);
    return rc;
  }
  /* Sent what could be sent (at least one request is out, so this is not
   * the last count); the rest stay unknown, hence searched. */
  c->pending--;
  return 0;
}
