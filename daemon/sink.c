/* SPDX-License-Identifier: MIT
 *
 * sink: filter, format, spool, and the delivery loop with backoff that
 * every sink type shares (see sink.h); the hand-over of a spool from a
 * sink to the one replacing it on reload.
 */
#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

static const struct sink_type *const types[] = {
    [CFG_SINK_JOURNAL] = &sink_local_journal,
    [CFG_SINK_SYSLOG] = &sink_local_syslog,
    [CFG_SINK_UDP] = &sink_net_type,
    [CFG_SINK_TCP] = &sink_net_type,
    [CFG_SINK_TLS] = &sink_net_type,
    [CFG_SINK_WEBHOOK] = &sink_http_webhook,
    [CFG_SINK_SENTINEL] = &sink_http_sentinel,
    [CFG_SINK_FILE] = &sink_file_type,
    [CFG_SINK_EVENTLOG] = &sink_eventlog_type,
};

static void on_timer(uv_timer_t *t);

/* pump() hands the next batch to the type on the next loop iteration,
 * so a burst of alerts never holds the loop for more than one batch. */
static void pump(struct sink *s)
{
  if(!s->busy && !s->closing && !s->held && !s->draining &&
     !uv_is_active((uv_handle_t *)&s->timer) && spool_deliverable(s->spool, 1))
    uv_timer_start(&s->timer, on_timer, 0, 0);
}

static void finish_hand_over(struct sink *old);

/* sink_kick() is called when records became deliverable (a tenant's
 * state committed them).  A type that writes at once (a file) takes them
 * in this loop iteration, so that the alerts of a cycle are in the file
 * before its log line, as an alert not held for a state is
 * (sink_offer()); the others start on the next iteration. */
void sink_kick(struct sink *s)
{
  if(!s->spool)
    return;
  if(s->type->write_now && !s->draining &&
     !uv_is_active((uv_handle_t *)&s->timer))
    on_timer(&s->timer);
  else
    pump(s);
}

static void on_timer(uv_timer_t *t)
{
  struct sink *s = t->data;
  char why[sizeof(s->last_error)];
  size_t n;
  int rc;

  if(s->draining && !s->busy && !s->closing) {
    finish_hand_over(s);
    return;
  }
  if(s->busy || s->closing || s->held || s->draining ||
     !(n = spool_deliverable(s->spool, s->type->max_batch)))
    return;
  s->busy = true;
  /* The batch's bytes are read back from the spool file; failing that,
   * it is retried like a failed delivery (logged there). */
  if((rc = spool_fetch(s->spool, n))) {
    snprintf(why, sizeof(why), "%s: reading back: %s", spool_path(s->spool),
             strerror(-rc));
    sink_done(s, 0, rc, why, 0);
    return;
  }
  s->type->deliver(s, spool_first(s->spool), n);
}

static void on_ready(void *arg)
{
  pump(arg);
}

void sink_accepted(struct sink *s, size_t n)
{
  spool_ack(s->spool, n);
  s->delivered += n;
}

void sink_done(struct sink *s, size_t accepted, int err, const char *why,
               unsigned retry_ms)
{
  s->busy = false;
  if(!s->spool) /* closing after its spool went to its heir */
    return;
  sink_accepted(s, accepted);
  if(s->draining) {
    if(!s->closing)
      uv_timer_start(&s->timer, on_timer, 0, 0);
    return;
  }
  if(err) {
    s->failures++;
    snprintf(s->last_error, sizeof(s->last_error), "%s",
             why ? why : strerror(-err));
    if(!s->down)
      log_warnx("sink %s: %s; alerts are kept in the spool and retried "
                "(%zu waiting)",
                s->name, s->last_error, spool_pending(s->spool));
    s->down = true;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
    if(s->backoff_ms > BACKOFF_MAX_MS)
      s->backoff_ms = BACKOFF_MAX_MS;
    if(!s->closing)
      uv_timer_start(&s->timer, on_timer, retry_ms ? retry_ms : s->backoff_ms,
                     0);
    return;
  }
  if(s->down)
    log_notice("sink %s: delivering again after %llu failed attempt(s)",
               s->name, (unsigned long long)s->failures);
  s->down = false;
  s->failures = 0;
  s->backoff_ms = 0;
  pump(s);
}

/* normalise() turns "a.b, c.*" into "a.b c.*". */
static char *normalise(const char *events)
{
  char *out = strdup(events), *p, *q;

  if(!out)
    return NULL;
  for(p = q = out; *p; p++) {
    char ch = *p == ',' || *p == '\t' ? ' ' : *p;

    if(ch == ' ' && (q == out || q[-1] == ' '))
      continue;
    *q++ = ch;
  }
  if(q > out && q[-1] == ' ')
    q--;
  *q = '\0';
  return out;
}

bool sink_wants(const struct sink *s, const char *event, int severity)
{
  const char *p;
  size_t elen = strlen(event);

  if(severity > s->min_severity)
    return false;
  if(!s->events)
    return true;
  for(p = s->events; *p;) {
    size_t n = strcspn(p, " ");

    if(n == elen && !strncmp(p, event, n))
      return true;
    /* "conflict.*" matches every "conflict." type. */
    if(n >= 2 && p[n - 1] == '*' && !strncmp(p, event, n - 1))
      return true;
    p += n;
    while(*p == ' ')
      p++;
  }
  return false;
}

int sink_offer(struct sink *s, const cJSON *ev, const char *tenant,
               uint64_t seq)
{
  struct fmt_buf b = {0};
  int rc = fmt_render(s->format, ev, &s->fo, &b);

  /* A file takes the record at once when nothing waits before it, unless
   * the record must wait for its tenant's state. */
  if(!rc && !seq && s->type->write_now && !s->held &&
     !spool_pending(s->spool) && !s->busy && !s->down &&
     s->type->write_now(s, b.p, b.len) == 0) {
    free(b.p);
    s->delivered++;
    return 0;
  }
  if(!rc)
    rc = seq ? spool_append_tagged(s->spool, b.p, b.len, tenant, seq)
             : spool_append(s->spool, b.p, b.len);
  free(b.p);
  if(rc == -ENOBUFS && !s->full) {
    s->full = true;
    log_errx("sink %s: spool full (%zu bytes); new alerts are dropped until "
             "the receiver takes some (%llu dropped so far)",
             s->name, spool_bytes(s->spool),
             (unsigned long long)spool_dropped(s->spool));
    if(s->on_full)
      s->on_full(s, s->arg);
  }
  else if(!rc && s->full) {
    s->full = false;
    log_notice("sink %s: spool accepts alerts again (%llu dropped)", s->name,
               (unsigned long long)spool_dropped(s->spool));
  }
  return rc;
}

int sink_open(uv_loop_t *loop, const struct cfg_sink *c, const char *spool_dir,
              void (*on_full)(struct sink *s, void *arg), void *arg,
              struct sink **out)
{
  struct sink *s = calloc(1, sizeof(*s));
  int rc;

  if(!s)
    return -ENOMEM;
  s->loop = loop;
  s->type = types[c->type];
  s->name = strdup(c->name);
  s->events = c->events ? normalise(c->events) : NULL;
  s->sd_id = strdup(c->sd_id ? c->sd_id : "quarantined@32473");
  if(!s->name || !s->sd_id || (c->events && !s->events)) {
    rc = -ENOMEM;
    goto fail;
  }
  s->format = c->format ? (enum fmt_kind)c->format : s->type->default_format;
  s->min_severity = c->min_severity;
  s->on_full = on_full;
  s->arg = arg;
  if(gethostname(s->host, sizeof(s->host) - 1) < 0 || !s->host[0])
    snprintf(s->host, sizeof(s->host), "-");
  s->fo.host = s->host;
  s->fo.sd_id = s->sd_id;
  s->fo.facility = c->facility;
  s->fo.pid = (int)getpid();
  s->spool_max = c->spool_max;
  s->held = !spool_dir;
  rc = spool_dir ? spool_open(loop, spool_dir, c->name, c->spool_max, on_ready,
                              s, &s->spool)
                 : 0;
  if(rc)
    goto fail;
  rc = s->type->open(s, c);
  if(rc) {
    if(s->spool)
      spool_close(s->spool, NULL, NULL);
    goto fail;
  }
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  *out = s;
  pump(s);
  return 0;
fail:
  free(s->events);
  free(s->sd_id);
  free(s->name);
  free(s);
  return rc;
}

void sink_reopen(struct sink *s)
{
  if(s->type->reopen)
    s->type->reopen(s);
}

static void part_closed(void *arg)
{
  struct sink *s = arg;
  void (*cb)(void *) = s->close_cb;
  void *cb_arg = s->close_arg;

  if(--s->closing_parts)
    return;
  free(s->events);
  free(s->sd_id);
  free(s->name);
  free(s);
  if(cb)
    cb(cb_arg);
}

static void on_timer_closed(uv_handle_t *h)
{
  part_closed(h->data);
}

void sink_type_closed(struct sink *s)
{
  /* The type is closed: no callback can touch the spool any more. */
  if(s->spool)
    spool_close(s->spool, part_closed, s);
  else
    part_closed(s);
}

void sink_hand_over(struct sink *old, struct sink *heir, void (*cb)(void *arg),
                    void *arg)
{
  heir->spool = old->spool;
  heir->pred = old;
  old->heir = heir;
  old->draining = true;
  old->close_cb = cb;
  old->close_arg = arg;
  if(!old->busy)
    uv_timer_start(&old->timer, on_timer, 0, 0);
}

/* give_spool() makes old's spool its heir's alone and closes old. */
static void give_spool(struct sink *old, struct sink *heir)
{
  spool_rebind(old->spool, heir->spool_max, on_ready, heir);
  old->spool = NULL;
  old->heir = NULL;
  heir->pred = NULL;
  sink_close(old, old->close_cb, old->close_arg);
}

/* finish_hand_over() ends the hand-over of a drained old: its heir takes
 * the spool and starts delivering. */
static void finish_hand_over(struct sink *old)
{
  struct sink *heir = old->heir;

  give_spool(old, heir);
  heir->held = false;
  pump(heir);
}

void sink_close(struct sink *s, void (*cb)(void *arg), void *arg)
{
  if(s->pred) /* its predecessor still drains: close that first */
    give_spool(s->pred, s);
  s->closing = true;
  s->close_cb = cb;
  s->close_arg = arg;
  s->closing_parts = 2; /* the timer, then the type and the spool */
  uv_close((uv_handle_t *)&s->timer, on_timer_closed);
  s->type->close(s);
}
