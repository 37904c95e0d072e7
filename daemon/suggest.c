/* SPDX-License-Identifier: MIT
 *
 * suggest: known-anchor suggestions derived from conflict pairs; see
 * suggest.h.
 */
#include "suggest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anchor.h"
#include "anchors.h"
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

/* add_one() adds the suggestion for c and its cloud-only holder h to l.
 * Returns 1 when added, 0 when already there, or -ENOMEM. */
static int add_one(struct anchors_suggestions *l, const struct conflict *c,
                   const struct conflict_holder *h, time_t now)
{
  struct anchors_suggestion sg;
  char *reference = NULL, *reason = NULL, *holders = NULL;
  size_t i, len = 0;
  FILE *f;
  int rc;

  f = open_memstream(&holders, &len);
  if(!f)
    return -ENOMEM;
  for(i = 0; i < c->nholders; i++)
    fprintf(f, "%s%s", i ? " " : "", c->holders[i].id);
  if(fclose(f))
    return -ENOMEM;
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
  rc = anchors_suggestions_add(l, &sg);
  rc = rc == -EEXIST ? 0 : rc ? rc : 1;

out:
  free(holders);
  free(reference);
  free(reason);
  return rc;
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

int suggest_update(const char *path, const struct conflict_set *set,
                   const struct classify_opts *opts, size_t anchor_len,
                   time_t now, bool *failing)
{
  bool quiet = failing && *failing;
  struct anchors_suggestions l = {NULL, 0, 0};
  struct conflict_iter it;
  const struct conflict *c;
  const char *what = "";
  bool any = false;
  int lock, rc = 0, added = 0;

  conflict_iter_init(&it, set);
  while(!any && (c = conflict_iter_next(&it)))
    any = candidate(c, opts, anchor_len, now) != NULL;
  if(!any)
    return 0; /* the common case: no file access at all */

  lock = anchors_suggestions_lock(path);
  if(lock < 0) {
    if(!quiet)
      log_warnx("suggest: tenant %s: %s.lock: %s", conflict_set_tenant(set),
                path, strerror(-lock));
    if(failing)
      *failing = true;
    return lock;
  }
  rc = anchors_suggestions_read(path, &l, report, NULL);
  if(rc == -EBADMSG) {
    log_warnx("suggest: tenant %s: %s has bad lines; not adding "
              "suggestions until they are fixed",
              conflict_set_tenant(set), path);
    goto out;
  }
  if(rc && rc != -ENOENT)
    goto out; /* reported by the reader (or out of memory) */
  rc = 0;
  conflict_iter_init(&it, set);
  while(rc >= 0 && (c = conflict_iter_next(&it))) {
    const struct conflict_holder *h = candidate(c, opts, anchor_len, now);

    if(h) {
      rc = add_one(&l, c, h, now);
      if(rc > 0) {
        added++;
        log_info("suggest: tenant %s: suggested anchor %s for cloud-only "
                 "user %s (%s), from the synced duplicate %s; approve it with "
                 "'quarantinectl suggestions approve %s %s'",
                 conflict_set_tenant(set), c->immutable_id, h->id,
                 h->upn ? h->upn : "no UPN", c->object_id, path, h->id);
      }
    }
  }
  if(rc < 0)
    goto out;
  if(added) {
    rc = anchors_suggestions_write(path, &l, &what);
    if(rc && !quiet)
      log_warnx("suggest: tenant %s: %s: %s: %s", conflict_set_tenant(set),
                path, what, strerror(-rc));
  }

out:
  anchors_suggestions_unlock(lock);
  anchors_suggestions_clear(&l);
  if(rc == -ENOMEM)
    log_warnx("suggest: tenant %s: out of memory", conflict_set_tenant(set));
  if(failing)
    *failing = rc < 0;
  return rc < 0 ? rc : added;
}
