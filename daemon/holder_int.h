/* SPDX-License-Identifier: MIT
 *
 * holder_int: what holder.c (the lookup of who holds a value) and
 * holder_fetch.c (the read of a gone conflict's own object) share: the
 * per-tenant record and the collections' names.
 */
#ifndef QD_HOLDER_INT_H
#define QD_HOLDER_INT_H

#include <stddef.h>

#include "graph.h"
#include "holder_query.h"

#define NCOLL HOLDER_QUERY_NCOLL

/* The collections, in enum conflict_objtype order. */
static const char *const coll_names[NCOLL] = {"users", "groups", "contacts"};

/* A tenant's holder lookups (holder.h): its Graph client (borrowed), its
 * name (owned) and the lookups and fetches running, which holder_free()
 * must find 0. */
struct holder {
  struct graph *g;
  char *tenant;
  unsigned terms; /* HQ_* asked (holder_set_terms()) */
  size_t running;
};

#endif
