/* SPDX-License-Identifier: MIT
 *
 * alertseq: the committed sequence number of each tenant's alerts; see
 * alertseq.h.  A daemon has a few tenants: a linear search is enough.
 */
#include "alertseq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* find() is tenant's entry, or NULL. */
static struct alertseq_entry *find(const struct alertseq *t, const char *tenant)
{
  size_t i;

  for(i = 0; i < t->n; i++)
    if(!strcmp(t->v[i].tenant, tenant))
      return &t->v[i];
  return NULL;
}

int alertseq_set(struct alertseq *t, const char *tenant, uint64_t seq)
{
  struct alertseq_entry *e = find(t, tenant);

  if(!e) {
    if(t->n == t->cap) {
      size_t cap = t->cap ? t->cap * 2 : 8;
      struct alertseq_entry *v = realloc(t->v, cap * sizeof(*v));

      if(!v)
        return -ENOMEM;
      t->v = v;
      t->cap = cap;
    }
    e = &t->v[t->n];
    if(!(e->tenant = strdup(tenant)))
      return -ENOMEM;
    t->n++;
  }
  e->seq = seq;
  return 0;
}

void alertseq_started(struct alertseq *t)
{
  t->started = true;
}

bool alertseq_gate(const char *tenant, uint64_t seq, void *arg)
{
  const struct alertseq *t = arg;
  const struct alertseq_entry *e = find(t, tenant);

  return e ? seq <= e->seq : t->started;
}

void alertseq_free(struct alertseq *t)
{
  size_t i;

  for(i = 0; i < t->n; i++)
    free(t->v[i].tenant);
  free(t->v);
  memset(t, 0, sizeof(*t));
}
