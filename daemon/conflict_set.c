/* SPDX-License-Identifier: MIT
 *
 * conflict_set: a tenant's inventory, a chained hash table keyed by
 * conflict_key() (hashx, power-of-two buckets, load factor at
 * most 1), with a second chain per object id threaded through the same
 * conflicts, so that delta rounds can drop an object's conflicts without
 * a scan; its iterator; and the diff between two cycles' sets.
 */
#include "conflict_set.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashx.h"

struct conflict_set {
  char *tenant;
  struct conflict **buckets;  /* by key, chained through hnext */
  struct conflict **obuckets; /* by object id, chained through onext */
  size_t nbuckets; /* of each: a power of two, or 0 before the first add */
  size_t count;
};

struct conflict_set *conflict_set_new(const char *tenant)
{
  struct conflict_set *s = calloc(1, sizeof(*s));

  if(!s)
    return NULL;
  s->tenant = strdup(tenant);
  if(!s->tenant) {
    free(s);
    return NULL;
  }
  return s;
}

void conflict_set_free(struct conflict_set *s)
{
  size_t i;

  if(!s)
    return;
  for(i = 0; i < s->nbuckets; i++) {
    struct conflict *c = s->buckets[i], *next;

    for(; c; c = next) {
      next = c->hnext;
      conflict_free(c);
    }
  }
  free(s->buckets);
  free(s->obuckets);
  free(s->tenant);
  free(s);
}

const char *conflict_set_tenant(const struct conflict_set *s)
{
  return s->tenant;
}

size_t conflict_set_count(const struct conflict_set *s)
{
  return s->count;
}

/* rehash() moves every conflict into new tables of n buckets (a power of
 * two).  Returns 0, or -ENOMEM with the tables unchanged. */
static int rehash(struct conflict_set *s, size_t n)
{
  struct conflict **nb = calloc(n, sizeof(*nb));
  struct conflict **ob = calloc(n, sizeof(*ob));
  size_t i;

  if(!nb || !ob) {
    free(nb);
    free(ob);
    return -ENOMEM;
  }
  for(i = 0; i < s->nbuckets; i++) {
    struct conflict *c = s->buckets[i], *next;

    for(; c; c = next) {
      size_t b = (size_t)(hashx(c->key, false) & (n - 1));
      size_t o = (size_t)(hashx(c->object_id, false) & (n - 1));

      next = c->hnext;
      c->hnext = nb[b];
      nb[b] = c;
      c->onext = ob[o];
      ob[o] = c;
    }
  }
  free(s->buckets);
  free(s->obuckets);
  s->buckets = nb;
  s->obuckets = ob;
  s->nbuckets = n;
  return 0;
}

int conflict_set_reserve(struct conflict_set *s, size_t n)
{
  size_t want = s->nbuckets ? s->nbuckets : 64;

  /* Keep the load factor at or below 1. */
  while(want < n) {
    if(want > SIZE_MAX / 2)
      return -ENOMEM;
    want *= 2;
  }
  if(want == s->nbuckets)
    return 0;
  return rehash(s, want);
}

struct conflict *conflict_set_find(const struct conflict_set *s,
                                   const char *key)
{
  struct conflict *c;

  if(!s->nbuckets)
    return NULL;
  for(c = s->buckets[hashx(key, false) & (s->nbuckets - 1)]; c; c = c->hnext)
    if(!strcmp(c->key, key))
      return c;
  return NULL;
}

int conflict_set_add(struct conflict_set *s, struct conflict *c)
{
  size_t b;
  int rc;

  if(conflict_set_find(s, c->key))
    return -EEXIST;
  rc = conflict_set_reserve(s, s->count + 1);
  if(rc)
    return rc;
  b = (size_t)(hashx(c->key, false) & (s->nbuckets - 1));
  c->hnext = s->buckets[b];
  s->buckets[b] = c;
  b = (size_t)(hashx(c->object_id, false) & (s->nbuckets - 1));
  c->onext = s->obuckets[b];
  s->obuckets[b] = c;
  s->count++;
  return 0;
}

/* unlink_chain() takes c out of the chain starting at *pp, whose link
 * field sits at offset off in each conflict. */
static void unlink_chain(struct conflict **pp, struct conflict *c, size_t off)
{
  while(*pp && *pp != c)
    pp = (struct conflict **)(void *)((char *)*pp + off);
  if(*pp)
    *pp = *(struct conflict **)(void *)((char *)c + off);
  *(struct conflict **)(void *)((char *)c + off) = NULL;
}

struct conflict *conflict_set_remove(struct conflict_set *s, const char *key)
{
  struct conflict *c = conflict_set_find(s, key);

  if(!c)
    return NULL;
  unlink_chain(&s->buckets[hashx(key, false) & (s->nbuckets - 1)], c,
               offsetof(struct conflict, hnext));
  unlink_chain(&s->obuckets[hashx(c->object_id, false) & (s->nbuckets - 1)], c,
               offsetof(struct conflict, onext));
  s->count--;
  return c;
}

size_t conflict_set_remove_object(struct conflict_set *s, const char *object_id)
{
  struct conflict *c, *next, *gone = NULL;
  size_t n = 0;

  if(!s->nbuckets)
    return 0;
  c = s->obuckets[hashx(object_id, false) & (s->nbuckets - 1)];
  for(; c; c = next) {
    next = c->onext;
    if(strcmp(c->object_id, object_id))
      continue;
    conflict_set_remove(s, c->key);
    c->hnext = gone; /* freed at the end: object_id may be c's own */
    gone = c;
    n++;
  }
  for(; gone; gone = next) {
    next = gone->hnext;
    conflict_free(gone);
  }
  return n;
}

void conflict_set_put(struct conflict_set *s, struct conflict *c)
{
  struct conflict *old = conflict_set_remove(s, c->key);

  if(old) {
    if(old->first_seen && old->first_seen < c->first_seen)
      c->first_seen = old->first_seen;
    conflict_free(old);
  }
  conflict_set_add(s, c);
}

int conflict_set_move(struct conflict_set *into, struct conflict_set *from)
{
  struct conflict_iter it;
  struct conflict *c;
  int rc;

  if(!from->count)
    return 0;
  rc = conflict_set_reserve(into, into->count + from->count);
  if(rc)
    return rc;
  conflict_iter_init(&it, from);
  while((c = conflict_iter_next(&it)))
    conflict_set_put(into, conflict_set_remove(from, c->key));
  return 0;
}

int conflict_set_copy_type(struct conflict_set *into,
                           const struct conflict_set *from,
                           enum conflict_objtype type)
{
  struct conflict_iter it;
  struct conflict *c, *d;
  int rc;

  conflict_iter_init(&it, from);
  while((c = conflict_iter_next(&it))) {
    if(c->objtype != type)
      continue;
    d = conflict_dup(c);
    if(!d)
      return -ENOMEM;
    rc = conflict_set_add(into, d);
    if(rc) {
      conflict_free(d);
      return rc;
    }
  }
  return 0;
}

/* iter_advance() points it->next at the first conflict in a bucket at or
 * after it->bucket, or NULL at the end. */
static void iter_advance(struct conflict_iter *it)
{
  const struct conflict_set *s = it->set;

  it->next = NULL;
  while(it->bucket < s->nbuckets && !it->next)
    it->next = s->buckets[it->bucket++];
}

void conflict_iter_init(struct conflict_iter *it, const struct conflict_set *s)
{
  it->set = s;
  it->bucket = 0;
  iter_advance(it);
}

struct conflict *conflict_iter_next(struct conflict_iter *it)
{
  struct conflict *c = it->next;

  if(!c)
    return NULL;
  if(c->hnext)
    it->next = c->hnext;
  else
    iter_advance(it);
  return c;
}

bool conflict_set_diff_some(const struct conflict_set *old,
                            struct conflict_iter *it, size_t max,
                            const struct conflict_diff_cb *cb,
                            struct conflict_diff_stats *stats)
{
  struct conflict *c, *o;

  for(; max && (c = conflict_iter_next(it)); max--) {
    o = old ? conflict_set_find(old, c->key) : NULL;
    if(o) {
      c->first_seen = o->first_seen;
      stats->unchanged++;
    }
    else {
      stats->detected++;
      if(cb && cb->detected)
        cb->detected(c, cb->arg);
    }
  }
  if(it->next)
    return false;
  /* Each of old is in cur (unchanged) or is not (cleared). */
  stats->cleared = old ? old->count - stats->unchanged : 0;
  return true;
}

void conflict_set_diff(const struct conflict_set *old, struct conflict_set *cur,
                       const struct conflict_diff_cb *cb,
                       struct conflict_diff_stats *stats)
{
  struct conflict_diff_stats st = {0, 0, 0};
  struct conflict_iter it;
  struct conflict *c;

  conflict_iter_init(&it, cur);
  conflict_set_diff_some(old, &it, SIZE_MAX, cb, &st);
  if(old && cb && cb->cleared) {
    conflict_iter_init(&it, old);
    while((c = conflict_iter_next(&it)))
      if(!conflict_set_find(cur, c->key))
        cb->cleared(c, cb->arg);
  }
  if(stats)
    *stats = st;
}
