/* SPDX-License-Identifier: MIT
 *
 * holder_int: what holder.c (the lookup of who holds a value, its
 * searches and rounds), holder_list.c (the collections a lookup lists
 * whole) and holder_fetch.c (the read of a gone conflict's own object)
 * share: the per-tenant record, a lookup's record, and the collections'
 * names.
 */
#ifndef QD_HOLDER_INT_H
#define QD_HOLDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "holder.h"
#include "holder_query.h"
#include "holder_scan.h"

#define NCOLL HOLDER_QUERY_NCOLL

/* holder__coll_name() is the name of collection c (< NCOLL, in enum
 * conflict_objtype order): "users", "groups" or "contacts", its path in
 * holder_query_bases without the slash. */
static inline const char *holder__coll_name(unsigned c)
{
  return holder_query_bases[c].path + 1;
}

/* A tenant's holder lookups (holder.h): its Graph client (borrowed), its
 * name (owned) and the lookups and fetches running, which holder_free()
 * must find 0. */
struct holder {
  struct graph *g;
  char *tenant;
  unsigned terms; /* HQ_* asked (holder_set_terms()) */
  struct holder_scan
      scan; /* listing instead of searching (holder_set_scan()) */
  size_t running;
};

/* One distinct value. */
struct value {
  char *lc;    /* lower case, the dedup key */
  char *spell; /* a conflict's own spelling, which the GETs ask for */
  struct conflict_holder *holders;
  size_t nholders;
  bool failed;
  bool recheck; /* asked again in the second round */
  /* Why it failed: malloc'd by holder__fail_value(), NULL when it has not
   * failed or when even that allocation failed (value_err() then reads
   * "OutOfMemory").  A pointer, not the struct: a lookup has a value per
   * conflict, and few of them ever fail. */
  struct graph_error *err;
};

/* The distinct values of a lookup are found through a hash table of
 * value indexes (open addressing, at most half full), so that a first
 * cycle with as many values as conflicts is linear, not quadratic. */
struct value_index {
  size_t *slot; /* value index + 1; 0 = empty */
  size_t mask;
};

/* One conflict asked about. */
struct query {
  char *key, *object_id;
  size_t value; /* index into values */
};

/* A collection listed whole by a lookup (holder_scan.h). */
struct listing {
  struct holder_answer *l;
  unsigned base;
  long seen; /* objects listed so far */
};

struct holder_answer {
  struct holder *h;
  struct value *values;
  struct value_index index; /* values by value_lc, for listed objects */
  const char **spell;       /* values[i].spell, for holder_query */
  size_t nvalues;
  struct query *queries;
  size_t nqueries;
  /* A round is a run of searches and the listings beside it.  The run
   * under way: its item i is sent.q[i].  GETs are planned as the run asks
   * for them, base after base over the values at rvals. */
  struct holder_query_list sent;
  size_t given;          /* GETs of sent handed to the run */
  size_t *rvals, nrvals; /* indexes into values */
  unsigned base, bases;  /* planning base; the bases searched, a bit each */
  size_t pos;            /* holder_query_plan_some() cursor in base */
  struct holder_query_list next; /* split off, asked in the next run */
  struct listing lists[NCOLL];   /* the first round's listings */
  unsigned fallback; /* collections whose listing failed: searched next */
  size_t parts;      /* the round's run and listings still out */
  int round_result;  /* the error that ended the round's run, or 0 */
  bool canceled;     /* the graph client was closed */
  int result;        /* an error of the lookup as a whole, or 0 */
  bool rechecking;
  holder_done_cb cb;    /* holder_lookup(): every result at once */
  holder_answer_cb acb; /* holder_lookup_answer(): the lookup handed over */
  void *arg;
  struct conflict_holder *own; /* holder_answer_get()'s result, nown room */
  size_t nown;
};

/* holder__value_slot() is the slot of l->index that holds the value s
 * (compared without ASCII case), or the empty slot where it would go. */
size_t *holder__value_slot(const struct holder_answer *l, const char *s);

/* holder__fail_value() marks v failed with err, code overriding its code
 * (unless v failed already). */
void holder__fail_value(struct value *v, const struct graph_error *err,
                        const char *code);

/* holder__add_holder() adds obj, from collection type, to v's holders
 * (once per object id).  Returns 0, or -EBADMSG / -ENOMEM with v failed. */
int holder__add_holder(struct holder_answer *l, struct value *v,
                       enum conflict_objtype type, const cJSON *obj);

/* holder__send_round() starts a run of searches: the GETs in l->sent,
 * then those of the bases in the mask bases over l->rvals; it is a part
 * of the round.  Returns 0 or a negative errno code. */
int holder__send_round(struct holder_answer *l, uint64_t delay_ms,
                       unsigned bases);

/* holder__round_end() ends a part of l's round (the last part ends it). */
void holder__round_end(struct holder_answer *l);

/* holder__finish() logs how l went and hands its results over; l is
 * then freed, or the caller's (holder_lookup_answer()). */
void holder__finish(struct holder_answer *l, int result);

/* holder_list_begin() starts lookup l: the counts it needs, then the
 * first round, each collection listed (holder_scan_choose()) or
 * searched.  Returns 0 (holder__finish() will run) or a negative errno
 * code (nothing started). */
int holder_list_begin(struct holder_answer *l);

#endif
