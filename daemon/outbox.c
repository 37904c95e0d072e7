/* SPDX-License-Identifier: MIT
 *
 * outbox: conflict alerts held until their state is saved; see outbox.h.
 */
#include "outbox.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sweep.h"

struct outbox_item {
  enum alert_type type;
  struct conflict *c;    /* the conflict as it was when queued */
  struct alert_sweep sw; /* valid when has_sw */
  bool has_sw;
  struct timespec when; /* the event's time */
  time_t classified_at; /* the time its class is worked out for */
};

void outbox_init(struct outbox *ob, struct alert *a, const char *tenant,
                 const struct classify_opts *opts)
{
  memset(ob, 0, sizeof(*ob));
  ob->alert = a;
  ob->tenant = tenant;
  ob->opts = opts;
}

/* emit_one() sends one alert about c; sw may be NULL.  Failures are logged
 * and the event queued by the alert module. */
static void emit_one(struct outbox *ob, enum alert_type type,
                     const struct conflict *c, const struct alert_sweep *sw,
                     const struct timespec *when, time_t classified_at)
{
  struct classify_result cr;
  struct alert_event ev;

  classify_conflict(c, ob->opts, classified_at, &cr);
  alert_event_init(&ev, type, ob->tenant, c);
  if(when)
    ev.time = *when;
  ev.classification = &cr;
  ev.sweep = sw;
  alert_emit(ob->alert, &ev);
}

/* grow() makes room for one more item.  Returns false when out of
 * memory. */
static bool grow(struct outbox *ob)
{
  size_t cap = ob->cap ? ob->cap * 2 : 16;
  struct outbox_item *v;

  if(ob->n < ob->cap)
    return true;
  v = realloc(ob->v, cap * sizeof(*v));
  if(!v)
    return false;
  ob->v = v;
  ob->cap = cap;
  return true;
}

void outbox_add(struct outbox *ob, enum alert_type type,
                const struct conflict *c, const struct alert_sweep *sw,
                time_t now)
{
  struct outbox_item *it;

  if(!grow(ob) || !(ob->v[ob->n].c = conflict_dup(c))) {
    log_errx("tenant %s: out of memory holding a %s alert about %s until "
             "the state is saved; sending it now",
             ob->tenant, alert_type_name(type), c->key);
    emit_one(ob, type, c, sw, NULL, now);
    return;
  }
  it = &ob->v[ob->n++];
  sweep_carry(it->c, c);
  it->type = type;
  it->has_sw = sw != NULL;
  if(sw)
    it->sw = *sw;
  clock_gettime(CLOCK_REALTIME, &it->when);
  it->classified_at = now;
}

void outbox_flush(struct outbox *ob)
{
  size_t i;

  for(i = 0; i < ob->n; i++) {
    struct outbox_item *it = &ob->v[i];

    emit_one(ob, it->type, it->c, it->has_sw ? &it->sw : NULL, &it->when,
             it->classified_at);
    conflict_free(it->c);
  }
  ob->n = 0;
}

void outbox_clear(struct outbox *ob)
{
  size_t i;

  for(i = 0; i < ob->n; i++)
    conflict_free(ob->v[i].c);
  free(ob->v);
  ob->v = NULL;
  ob->n = ob->cap = 0;
}
