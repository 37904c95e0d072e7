/* SPDX-License-Identifier: MIT
 *
 * suggest: known-anchor suggestions derived from conflict pairs; see
 * suggest.h.
 */
#include "suggest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anchor.h"
#include "afile.h"
#include "anchors.h"
#include "buf.h"
#include "hashx.h"
#include "log.h"

/* candidate() tells whether c is a cloud_account pair with a usable
 * anchor, and names the cloud-only holder.  The stored class picks the
 * pairs, so only those are classified again (for their holder). */
static const struct conflict_holder *candidate(const struct conflict *c,
                                               const struct classify_opts *opts,
                                               size_t anchor_len, time_t now)
{
  struct classify_result cr;

  if(c->cls != CONFLICT_CLASS_CLOUD_ACCOUNT || !c->immutable_id ||
     anchor_check(c->immutable_id, anchor_len, NULL, NULL) != ANCHOR_OK)
    return NULL;
  classify_conflict(c, opts, now, &cr);
  if(cr.cls != CONFLICT_CLASS_CLOUD_ACCOUNT || !cr.holder)
    return NULL;
  return cr.holder;
}

/* add_one() adds the suggestion for c and its cloud-only holder h to l
 * (the caller knows it is not there yet).  Returns 1 or -ENOMEM. */
static int add_one(struct anchors_suggestions *l, const struct conflict *c,
                   const struct conflict_holder *h, time_t now)
{
  struct anchors_suggestion sg;
  char *reference = NULL, *reason = NULL, *holders = NULL;
  struct buf ids = {NULL, 0, 0};
  size_t i;
  int rc = 0;

  for(i = 0; i < c->nholders && !rc; i++) {
    if(i)
      rc = buf_append(&ids, " ", 1);
    if(!rc)
      rc = buf_append(&ids, c->holders[i].id, strlen(c->holders[i].id));
  }
  if(rc || !(holders = ids.data ? ids.data : strdup(""))) {
    free(ids.data);
    return -ENOMEM;
  }
  if(asprintf(&reference, "conflict:%s:%s", c->object_id,
              c->property == CONFLICT_UPN ? "userPrincipalName"
                                          : "proxyAddresses") < 0)
    reference = NULL;
  if(asprintf(&reason,
              "cloud-only user %s (%s) holds %s; the synced user %s (%s) "
              "carries this anchor.  Approve only if both are the same "
              "person.  The synced duplicate must leave sync scope and be "
              "removed (also from deleted items) before the anchor can be "
              "set.",
              h->upn ? h->upn : h->id,
              h->display_name ? h->display_name : "no display name", c->value,
              c->upn ? c->upn : c->object_id,
              c->display_name ? c->display_name : "no display name") < 0)
    reason = NULL;
  if(!reference || !reason) {
    rc = -ENOMEM;
    goto out;
  }
  memset(&sg, 0, sizeof(sg));
  sg.target = h->id;
  sg.anchor = c->immutable_id;
  sg.reference = reference;
  sg.conflict = c->object_id;
  sg.holders = holders;
  sg.value = c->value;
  sg.created = now;
  sg.reason = reason;
  rc = anchors_suggestions_append(l, &sg);
  rc = rc ? rc : 1;

out:
  free(holders);
  free(reference);
  free(reason);
  return rc;
}

/* The suggestions of the list by target (case-insensitive) and anchor,
 * so that a cycle with thousands of candidates finds the ones already
 * suggested in constant time: open addressing, slots hold an index into
 * the list plus one (0 is free), at most half of them used. */
struct index {
  size_t *slot;
  size_t mask;
};

static size_t key_hash(const char *target, const char *anchor)
{
  uint64_t h = hashx(target, true);

  h = hashx_byte(h, '\t');
  return (size_t)hashx_more(h, anchor, false);
}

/* index_new() makes an index of l with room for l->n + more entries.
 * Returns 0 or -ENOMEM. */
static int index_new(struct index *x, const struct anchors_suggestions *l,
                     size_t more)
{
  size_t cap = 16, i;

  while(cap < 2 * (l->n + more))
    cap *= 2;
  x->slot = calloc(cap, sizeof(*x->slot));
  x->mask = cap - 1;
  if(!x->slot)
    return -ENOMEM;
  for(i = 0; i < l->n; i++) {
    size_t at = key_hash(l->v[i].target, l->v[i].anchor) & x->mask;

    while(x->slot[at])
      at = (at + 1) & x->mask;
    x->slot[at] = i + 1;
  }
  return 0;
}

/* index_find() tells whether l holds target with anchor, and otherwise
 * sets *free_at to the slot the next entry with that key goes to. */
static bool index_find(const struct index *x,
                       const struct anchors_suggestions *l, const char *target,
                       const char *anchor, size_t *free_at)
{
  size_t at = key_hash(target, anchor) & x->mask;

  for(; x->slot[at]; at = (at + 1) & x->mask) {
    const struct anchors_suggestion *sg = &l->v[x->slot[at] - 1];

    if(!strcasecmp(sg->target, target) && !strcmp(sg->anchor, anchor))
      return true;
  }
  *free_at = at;
  return false;
}

/* report() logs the suggestions file's bad lines where the daemon's
 * other problems go. */
static void report(void *arg, enum anchors_level level, const char *file,
                   unsigned line, const char *msg)
{
  (void)arg;
  if(level == ANCHORS_ERROR)
    log_warnx("suggest: %s:%u: %s", file, line, msg);
}

/* A write of the file off the loop: the lock is held until the new file
 * is in place. */
struct pending_write {
  int lock;
  char *path;
  char *tenant;
};

static void on_written(int rc, const char *what, void *arg)
{
  struct pending_write *w = arg;

  if(rc)
    log_warnx("suggest: tenant %s: %s: %s: %s", w->tenant, w->path, what,
              strerror(-rc));
  anchors_suggestions_unlock(w->lock);
  free(w->path);
  free(w->tenant);
  free(w);
}

/* The suggestions of one update logged one by one; the rest are counted
 * in one line at its end (a first cycle on a large tenant can find
 * thousands, which quarantinectl lists better than the log does). */
#define SUGGEST_LOG_EACH 10

/* One update, from reading the file to writing it (see suggest.h). */
struct suggest_run {
  uv_loop_t *loop;
  char *path;
  const struct conflict_set *set; /* borrowed */
  const struct classify_opts *opts;
  size_t anchor_len;
  time_t now;
  int lock;
  struct anchors_suggestions l;
  struct index x;
  struct conflict_iter it;
  int added;
  /* the file's text, made a part per step once something was added */
  struct buf text;
  size_t line;
};

void suggest_abort(struct suggest_run *r)
{
  if(!r)
    return;
  free(r->x.slot);
  free(r->text.data);
  anchors_suggestions_unlock(r->lock);
  anchors_suggestions_clear(&r->l);
  free(r->path);
  free(r);
}

int suggest_begin(uv_loop_t *loop, const char *path,
                  const struct conflict_set *set,
                  const struct classify_opts *opts, size_t anchor_len,
                  time_t now, struct suggest_run **out)
{
  const char *tenant = conflict_set_tenant(set);
  struct suggest_run *r;
  struct conflict_iter it;
  const struct conflict *c;
  bool any = false;
  int rc;

  *out = NULL;
  conflict_iter_init(&it, set);
  while(!any && (c = conflict_iter_next(&it)))
    any = candidate(c, opts, anchor_len, now) != NULL;
  if(!any)
    return 0; /* the common case: no file access at all */
  r = calloc(1, sizeof(*r));
  if(!r || !(r->path = strdup(path))) {
    free(r);
    log_warnx("suggest: tenant %s: out of memory", tenant);
    return -ENOMEM;
  }
  r->loop = loop;
  r->set = set;
  r->opts = opts;
  r->anchor_len = anchor_len;
  r->now = now;
  /* The daemon never waits for the lock on its loop: quarantinectl or
   * the write of an earlier cycle holds it, and the next cycle tries
   * again. */
  r->lock = anchors_suggestions_lock(path, !loop);
  if(r->lock == -EWOULDBLOCK) {
    log_debug("suggest: tenant %s: %s is locked; trying next cycle", tenant,
              path);
    suggest_abort(r);
    return 0;
  }
  if(r->lock < 0) {
    log_warnx("suggest: tenant %s: %s.lock: %s", tenant, path,
              strerror(-r->lock));
    rc = r->lock;
    suggest_abort(r);
    return rc;
  }
  rc = anchors_suggestions_read(path, &r->l, report, NULL);
  if(rc == -EBADMSG)
    log_warnx("suggest: tenant %s: %s has bad lines; not adding "
              "suggestions until they are fixed",
              tenant, path);
  /* Else reported by the reader (or out of memory). */
  if(!rc || rc == -ENOENT)
    rc = index_new(&r->x, &r->l, conflict_set_count(set));
  if(rc) {
    if(rc == -ENOMEM)
      log_warnx("suggest: tenant %s: out of memory", tenant);
    suggest_abort(r);
    return rc;
  }
  conflict_iter_init(&r->it, set);
  *out = r;
  return 0;
}

/* write_file() writes r's list to its file: at once when r has no loop,
 * else the text made by render() through afile, the lock (taken over)
 * released when done.  Returns 0, or a negative errno with *what set (the
 * lock is then still r's). */
static int write_file(struct suggest_run *r, const char **what)
{
  struct pending_write *w;
  char *text;
  int rc;

  if(!r->loop)
    return anchors_suggestions_write(r->path, &r->l, what);
  *what = "out of memory";
  text = r->text.data;
  w = calloc(1, sizeof(*w));
  if(!w || !(w->path = strdup(r->path)) ||
     !(w->tenant = strdup(conflict_set_tenant(r->set)))) {
    if(w) {
      free(w->path);
      free(w->tenant);
    }
    free(w);
    return -ENOMEM;
  }
  w->lock = r->lock;
  r->text.data = NULL; /* afile's now, whatever happens */
  rc = afile_write(r->loop, r->path, text, r->text.len, 0640, on_written, w);
  if(rc) {
    free(w->path);
    free(w->tenant);
    free(w);
    return rc;
  }
  r->lock = -1;
  return 0;
}

/* render() makes lines of the file's text until uv_hrtime() reaches
 * until_ns (0: no limit).  Returns 1 once all are made, 0 when more
 * remain, or -ENOMEM. */
static int render(struct suggest_run *r, uint64_t until_ns)
{
  int rc;

  while(!(rc = anchors_suggestions_text_some(&r->l, &r->text, &r->line, 64)))
    if(until_ns && uv_hrtime() >= until_ns)
      return 0;
  return rc;
}

/* finish() writes the file when something was added and ends r.  Returns
 * the number added or a negative errno (logged). */
static int finish(struct suggest_run *r)
{
  const char *tenant = conflict_set_tenant(r->set), *what = "";
  int rc = 0, added = r->added;

  if(added > SUGGEST_LOG_EACH)
    log_info("suggest: tenant %s: %d more anchors suggested, not logged one "
             "by one; 'quarantinectl suggestions list %s' shows them all",
             tenant, added - SUGGEST_LOG_EACH, r->path);
  if(added) {
    rc = write_file(r, &what);
    if(rc)
      log_warnx("suggest: tenant %s: %s: %s: %s", tenant, r->path, what,
                strerror(-rc));
  }
  suggest_abort(r);
  return rc < 0 ? rc : added;
}

int suggest_step(struct suggest_run *r, uint64_t until_ns, int *added)
{
  const char *tenant = conflict_set_tenant(r->set);
  const struct conflict *c;
  int rc;

  /* Once the conflicts are all looked at, the iterator returns NULL. */
  while((c = conflict_iter_next(&r->it))) {
    const struct conflict_holder *h =
        candidate(c, r->opts, r->anchor_len, r->now);
    size_t at;

    if(h && !index_find(&r->x, &r->l, h->id, c->immutable_id, &at)) {
      if(add_one(&r->l, c, h, r->now) < 0) {
        log_warnx("suggest: tenant %s: out of memory", tenant);
        suggest_abort(r);
        return -ENOMEM;
      }
      r->x.slot[at] = r->l.n;
      if(++r->added <= SUGGEST_LOG_EACH)
        log_info("suggest: tenant %s: suggested anchor %s for cloud-only "
                 "user %s (%s), from the synced duplicate %s; approve it with "
                 "'quarantinectl suggestions approve %s %s'",
                 tenant, c->immutable_id, h->id, h->upn ? h->upn : "no UPN",
                 c->object_id, r->path, h->id);
    }
    if(until_ns && uv_hrtime() >= until_ns)
      return 0;
  }
  /* On the loop, the text of a long file is made a part per step too. */
  if(r->added && r->loop) {
    rc = render(r, until_ns);
    if(!rc)
      return 0;
    if(rc < 0) {
      log_warnx("suggest: tenant %s: out of memory", tenant);
      suggest_abort(r);
      return rc;
    }
  }
  *added = finish(r);
  return *added < 0 ? *added : 1;
}

int suggest_update(uv_loop_t *loop, const char *path,
                   const struct conflict_set *set,
                   const struct classify_opts *opts, size_t anchor_len,
                   time_t now)
{
  struct suggest_run *r;
  int rc = suggest_begin(loop, path, set, opts, anchor_len, now, &r), added = 0;

  if(rc || !r)
    return rc;
  rc = suggest_step(r, 0, &added);
  return rc < 0 ? rc : added;
}
