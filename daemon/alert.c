/* SPDX-License-Identifier: MIT
 *
 * alert: renders an event once into the alert object, then offers it
 * to every sink whose filter takes it (sink.c formats and spools it);
 * flood control per cycle.
 */
#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "alert_event.h"
#include "alertseq.h"
#include "log.h"
#include "sink.h"

static const struct {
  const char *name;
  const char *message_id; /* made once with python3 uuid4().hex */
  int severity;
} types[ALERT_NTYPES] = {
    {"conflict.detected", "c0a3882bb77148cbabf99b280e2e3c90", LOG_WARNING},
    {"conflict.cleared", "22980eb6c36f43a0adf0cdb91ccb04b6", LOG_NOTICE},
    {"conflict.freed", "50d58db9011d4de597a0f85295005174", LOG_NOTICE},
    {"conflict.released", "af66519b09df49d68dfb9c37b3d889ec", LOG_NOTICE},
    {"conflict.stuck", "0560a0f8d4ab4c8585f86fb0922a3d06", LOG_ERR},
    {"conflict.aging", "2217a1b113404c52a4651f8a0a4e7d8c", LOG_WARNING},
    {"conflict.held", "122e40ceccb84c689cc2162677359fb8", LOG_WARNING},
    {"anchor.applied", "bb013a4a4dcb43c4aabd9767ffedc2c7", LOG_NOTICE},
    {"anchor.refused", "7b512631c3914166a7e7c79fa50f35a4", LOG_WARNING},
    {"anchor.failed", "ebb079b873884e7b981d7b5fbeca56cd", LOG_ERR},
    {"anchor.dry-run", "f6e67239e7ea49af8342f50bba122678", LOG_NOTICE},
    {"anchor.halted", "1605a3e90a5845af9ccad01ccf928e4a", LOG_CRIT},
    {"daemon.fd-exhausted", "d01168f02ba64dee99b43c6c70bf4e25", LOG_ERR},
    {"tenant.failing", "aeff25c1ae474470b0b00ec93d598200", LOG_ERR},
    {"tenant.recovered", "18b12b18f1e84fcfade8b67dd58d88cc", LOG_NOTICE},
    {"credential.expiring", "e5b5ede415bf4b81ba3c3b8019095f06", LOG_WARNING},
    {"credential.expired", "c633390eb965404aab92d8ce060d01d0", LOG_ERR},
    {"file.unreadable", "421161d933f74cccad37ec54f72ec08f", LOG_ERR},
    {"spool.full", "6dd5fdd5627e4fdba06b3c03e970ca5c", LOG_CRIT},
    {"alert.flood", "3978ad141d0349788818e1fadfb3cd25", LOG_WARNING},
};

struct alert {
  struct sink **sinks;
  size_t nsinks;
  unsigned flood_limit;
  struct alertseq seq; /* what the tenants' state files committed */
  int outstanding;     /* sinks closing or draining (+1 in alert_close()) */
  bool closing;        /* alert_close() was called */
  void (*close_cb)(void *arg);
  void *close_arg;
};

enum alert_type alert_type_parse(const char *name)
{
  size_t i;

  for(i = 0; i < ALERT_NTYPES; i++)
    if(!strcmp(types[i].name, name))
      return (enum alert_type)i;
  return ALERT_NTYPES;
}

const char *alert_filter_check(const char *events)
{
  static char bad[64];
  const char *p = events;

  while(*p) {
    size_t n = strcspn(p, " ,\t"), i;
    bool ok = false;

    for(i = 0; i < ALERT_NTYPES && n && !ok; i++)
      ok = (strlen(types[i].name) == n && !strncmp(types[i].name, p, n)) ||
           (n >= 2 && p[n - 1] == '*' && !strncmp(types[i].name, p, n - 1));
    if(n && !ok) {
      snprintf(bad, sizeof(bad), "%.*s", (int)(n < 60 ? n : 60), p);
      return bad;
    }
    p += n;
    while(*p == ' ' || *p == ',' || *p == '\t')
      p++;
  }
  return NULL;
}

const char *alert_type_name(enum alert_type t)
{
  return (unsigned)t < ALERT_NTYPES ? types[t].name : "unknown";
}

int alert_type_severity(enum alert_type t)
{
  return (unsigned)t < ALERT_NTYPES ? types[t].severity : LOG_ERR;
}

const char *alert_message_id(enum alert_type t)
{
  return (unsigned)t < ALERT_NTYPES ? types[t].message_id
                                    : "00000000000000000000000000000000";
}

/* ===== Routing ===== */

/* deliver() hands the alert object to every sink that wants it; with
 * files_only, only to file sinks (flood control keeps the details
 * there). */
static int deliver(struct alert *a, const cJSON *o,
                   const struct alert_event *ev, int severity, bool files_only)
{
  enum alert_type type = ev->type;
  size_t i;
  int rc = 0, r;

  for(i = 0; i < a->nsinks; i++) {
    struct sink *s = a->sinks[i];

    if(files_only && s->type != &sink_file_type)
      continue;
    if(!sink_wants(s, alert_type_name(type), severity))
      continue;
    r = sink_offer(s, o, ev->tenant, ev->seq);
    if(r && !rc)
      rc = r;
  }
  return rc;
}

/* count() records an alert of fl's cycle; returns true when it is past
 * the flood limit and goes to the files only. */
static bool count(struct alert *a, const struct alert_event *ev,
                  struct alert_flood *fl)
{
  if(!fl || !a->flood_limit || ev->daemon)
    return false;
  fl->count++;
  if((unsigned)ev->type < ALERT_NTYPES)
    fl->by_type[ev->type]++;
  if(fl->count <= a->flood_limit)
    return false;
  if(fl->nkeys < ALERT_FLOOD_KEYS && ev->conflict) {
    char *k = strdup(ev->conflict->key);

    if(k)
      fl->keys[fl->nkeys++] = k;
  }
  fl->withheld++;
  return true;
}

int alert_emit_flood(struct alert *a, const struct alert_event *ev,
                     struct alert_flood *fl)
{
  cJSON *o;
  bool withheld;
  int severity, rc;

  if(!a)
    return 0;
  o = alert_event_json(ev, &severity);
  if(!o) {
    log_errx("alert: out of memory; %s alert lost", alert_type_name(ev->type));
    return -ENOMEM;
  }
  withheld = count(a, ev, fl);
  rc = deliver(a, o, ev, severity, withheld);
  cJSON_Delete(o);
  return rc;
}

int alert_emit(struct alert *a, const struct alert_event *ev)
{
  return alert_emit_flood(a, ev, NULL);
}

void alert_flood_begin(struct alert_flood *fl, const char *tenant)
{
  memset(fl, 0, sizeof(*fl));
  fl->tenant = tenant;
}

void alert_flood_end(struct alert *a, struct alert_flood *fl)
{
  struct alert_daemon dm = {0};
  struct alert_event ev;
  char cause[512];
  size_t i, pos = 0;

  if(a && fl->withheld) {
    pos = (size_t)snprintf(cause, sizeof(cause),
                           "%zu alerts in one cycle, over the limit of %u; "
                           "%zu sent to file sinks only:",
                           fl->count, a->flood_limit, fl->withheld);
    for(i = 0; i < ALERT_NTYPES && pos < sizeof(cause); i++)
      if(fl->by_type[i])
        pos += (size_t)snprintf(cause + pos, sizeof(cause) - pos, " %s %zu",
                                types[i].name, fl->by_type[i]);
    dm.cause = cause;
    dm.count = (long)fl->withheld;
    dm.keys = (const char *const *)fl->keys;
    dm.nkeys = fl->nkeys;
    alert_event_init(&ev, ALERT_FLOOD, fl->tenant ? fl->tenant : "-", NULL);
    ev.daemon = &dm;
    ev.seq = fl->tenant ? fl->seq : 0;
    alert_emit(a, &ev);
  }
  for(i = 0; i < fl->nkeys; i++)
    free(fl->keys[i]);
  memset(fl, 0, sizeof(*fl));
}

/* on_full() raises spool.full once per episode of a sink. */
static void on_full(struct sink *s, void *arg)
{
  struct alert *a = arg;
  struct alert_daemon dm = {0};
  struct alert_event ev;
  char cause[256];

  snprintf(cause, sizeof(cause),
           "the spool of sink %s is full; new alerts to it are dropped "
           "(%llu so far)",
           s->name, (unsigned long long)spool_dropped(s->spool));
  dm.cause = cause;
  dm.sink = s->name;
  dm.count = (long)spool_dropped(s->spool);
  alert_event_init(&ev, ALERT_SPOOL_FULL, "-", NULL);
  ev.daemon = &dm;
  alert_emit(a, &ev);
}

int alert_emit_daemon(struct alert *a, enum alert_type type, const char *tenant,
                      const struct alert_daemon *dm)
{
  struct alert_event ev;

  alert_event_init(&ev, type, tenant, NULL);
  ev.daemon = dm;
  return alert_emit(a, &ev);
}

/* The sections of opts in order, the implicit sinks of [alerts] syslog
 * and jsonl_file first; those two are built in legacy, which must
 * outlive the list. */
struct sections {
  struct cfg_sink legacy[2];
  const struct cfg_sink **list;
  size_t n;
};

/* collect() fills sc from opts.  Returns 0 or -ENOMEM. */
static int collect(const struct alert_opts *opts, struct sections *sc)
{
  const struct cfg_sink *c;
  size_t nl = 0, n = 0;

  memset(sc, 0, sizeof(*sc));
  if(opts->syslog) {
    sc->legacy[nl].name = (char *)(uintptr_t) "journal";
    sc->legacy[nl].type = CFG_SINK_JOURNAL;
    sc->legacy[nl].min_severity = LOG_DEBUG;
    sc->legacy[nl].facility =
        opts->syslog_facility ? opts->syslog_facility / 8 : 3;
    sc->legacy[nl].spool_max = 64UL << 20;
    nl++;
  }
  if(opts->jsonl_path) {
    sc->legacy[nl].name = (char *)(uintptr_t) "jsonl";
    sc->legacy[nl].type = CFG_SINK_FILE;
    sc->legacy[nl].path = (char *)(uintptr_t)opts->jsonl_path;
    sc->legacy[nl].min_severity = LOG_DEBUG;
    sc->legacy[nl].spool_max = 64UL << 20;
    nl++;
  }
  for(c = opts->sinks; c; c = c->next)
    n++;
  sc->list = calloc(nl + n ? nl + n : 1, sizeof(*sc->list));
  if(!sc->list)
    return -ENOMEM;
  for(n = 0; n < nl; n++)
    sc->list[n] = &sc->legacy[n];
  for(c = opts->sinks; c; c = c->next)
    sc->list[n++] = c;
  sc->n = n;
  return 0;
}

int alert_open(uv_loop_t *loop, const struct alert_opts *opts,
               struct alert **out)
{
  struct alert *a = calloc(1, sizeof(*a));
  struct sections sc;
  size_t i;
  int rc;

  if(!a)
    return -ENOMEM;
  a->flood_limit = opts->flood_limit;
  rc = collect(opts, &sc);
  a->sinks = rc ? NULL : calloc(sc.n ? sc.n : 1, sizeof(*a->sinks));
  if(!a->sinks) {
    free(sc.list);
    free(a);
    return -ENOMEM;
  }
  for(i = 0; !rc && i < sc.n; i++) {
    rc = sink_open(loop, sc.list[i], opts->spool_dir, on_full, a, &a->sinks[i]);
    if(!rc)
      a->nsinks++;
  }
  free(sc.list);
  if(rc) {
    alert_close(a, NULL, NULL);
    return rc;
  }
  for(i = 0; i < a->nsinks; i++)
    spool_set_gate(a->sinks[i]->spool, alertseq_gate, &a->seq);
  *out = a;
  return 0;
}

static void sink_closed(void *arg)
{
  struct alert *a = arg;
  void (*cb)(void *) = a->close_cb;
  void *cb_arg = a->close_arg;

  if(--a->outstanding || !a->closing)
    return;
  free(a->sinks);
  alertseq_free(&a->seq);
  free(a);
  if(cb)
    cb(cb_arg);
}

void alert_close(struct alert *a, void (*cb)(void *arg), void *arg)
{
  size_t i;

  if(!a) {
    if(cb)
      cb(arg);
    return;
  }
  a->close_cb = cb;
  a->close_arg = arg;
  a->closing = true;
  a->outstanding += (int)a->nsinks + 1;
  for(i = 0; i < a->nsinks; i++)
    sink_close(a->sinks[i], sink_closed, a);
  sink_closed(a);
}

bool alert_busy(const struct alert *a)
{
  return a && a->outstanding > 0;
}

/* find() is the index of the section called name in sc, or sc->n. */
static size_t find(const struct sections *sc, const char *name)
{
  size_t i;

  for(i = 0; i < sc->n && strcmp(sc->list[i]->name, name); i++)
    ;
  return i;
}

/* retire() closes s, a sink no longer configured; its spool file stays
 * and is named in the log while it holds alerts. */
static void retire(struct alert *a, struct sink *s)
{
  size_t pending = spool_pending(s->spool);

  if(pending)
    log_warnx("reload: sink %s removed; %zu undelivered alert%s stay in %s "
              "until a sink of that name is configured again",
              s->name, pending, pending == 1 ? "" : "s", spool_path(s->spool));
  else
    log_info("reload: sink %s removed", s->name);
  a->outstanding++;
  sink_close(s, sink_closed, a);
}

int alert_reload(struct alert *a, uv_loop_t *loop, const struct alert_opts *old,
                 const struct alert_opts *opts)
{
  struct sections oc, nc;
  struct sink **sinks = NULL;
  size_t i, j;
  int rc;

  if(alert_busy(a))
    return -EBUSY;
  rc = collect(old, &oc);
  if(!rc && (rc = collect(opts, &nc)) != 0)
    free(oc.list);
  if(rc)
    return rc;
  /* a->sinks[i] was opened from oc.list[i]. */
  sinks = calloc(nc.n ? nc.n : 1, sizeof(*sinks));
  rc = !sinks ? -ENOMEM : oc.n != a->nsinks ? -EINVAL : 0;
  /* Open what is new or changed; a changed sink has no spool yet. */
  for(i = 0; !rc && i < nc.n; i++) {
    j = find(&oc, nc.list[i]->name);
    if(j < oc.n && cfg_sink_same(oc.list[j], nc.list[i]))
      sinks[i] = a->sinks[j];
    else
      rc = sink_open(loop, nc.list[i], j < oc.n ? NULL : opts->spool_dir,
                     on_full, a, &sinks[i]);
  }
  for(j = 0; !rc && j < nc.n; j++)
    if(sinks[j]->spool)
      spool_set_gate(sinks[j]->spool, alertseq_gate, &a->seq);
  if(rc) {
    /* Undo: close what was opened for the new file, keep the rest. */
    while(i-- > 0) {
      j = find(&oc, nc.list[i]->name);
      if(sinks[i] && (j == oc.n || sinks[i] != a->sinks[j])) {
        a->outstanding++;
        sink_close(sinks[i], sink_closed, a);
      }
    }
    goto out;
  }
  for(j = 0; j < oc.n; j++) {
    i = find(&nc, oc.list[j]->name);
    if(i == nc.n)
      retire(a, a->sinks[j]);
    else if(sinks[i] != a->sinks[j]) {
      log_info("reload: sink %s changed; alerts it holds carry over",
               a->sinks[j]->name);
      a->outstanding++;
      sink_hand_over(a->sinks[j], sinks[i], sink_closed, a);
    }
  }
  for(i = 0; i < nc.n; i++)
    if(find(&oc, nc.list[i]->name) == oc.n)
      log_info("reload: sink %s added", nc.list[i]->name);
  free(a->sinks);
  a->sinks = sinks;
  a->nsinks = nc.n;
  a->flood_limit = opts->flood_limit;
  sinks = NULL;
out:
  free(sinks);
  free(oc.list);
  free(nc.list);
  return rc;
}

void alert_reopen(struct alert *a)
{
  size_t i;

  for(i = 0; a && i < a->nsinks; i++)
    sink_reopen(a->sinks[i]);
}

void alert_get_stats(const struct alert *a, struct alert_stats *st)
{
  size_t i;

  memset(st, 0, sizeof(*st));
  for(i = 0; a && i < a->nsinks && i < ALERT_MAX_SINKS; i++) {
    const struct sink *k = a->sinks[i];
    struct alert_sink_stats *ss = &st->sink[st->nsinks++];

    ss->name = k->name;
    ss->delivered = (unsigned long)k->delivered;
    ss->pending = spool_pending(k->spool);
    ss->dropped = (unsigned long)spool_dropped(k->spool);
    ss->full = k->full;
    ss->unwritable = spool_failing(k->spool);
  }
}

size_t alert_pending_count(const struct alert *a)
{
  size_t i, n = 0;

  for(i = 0; a && i < a->nsinks; i++)
    n += spool_pending(a->sinks[i]->spool);
  return n;
}

/* ===== Alerts committed by the state files ===== */

/* One alert_sync(): the spools still to report. */
struct sync {
  void (*cb)(void *arg);
  void *arg;
  size_t remaining;
};

static void synced_one(void *arg)
{
  struct sync *sy = arg;

  if(--sy->remaining)
    return;
  sy->cb(sy->arg);
  free(sy);
}

int alert_sync(struct alert *a, void (*cb)(void *arg), void *arg)
{
  struct sync *sy;
  size_t i;

  if(!a || !a->nsinks) {
    cb(arg);
    return 0;
  }
  sy = calloc(1, sizeof(*sy));
  if(!sy)
    return -ENOMEM;
  sy->cb = cb;
  sy->arg = arg;
  sy->remaining = a->nsinks + 1;
  for(i = 0; i < a->nsinks; i++)
    if(!a->sinks[i]->spool ||
       spool_when_synced(a->sinks[i]->spool, synced_one, sy))
      sy->remaining--; /* nothing to wait for, or no memory to wait */
  synced_one(sy);
  return 0;
}

/* kick_all() starts the deliveries the gate may have opened. */
static void kick_all(struct alert *a)
{
  size_t i;

  for(i = 0; i < a->nsinks; i++)
    sink_kick(a->sinks[i]);
}

void alert_commit(struct alert *a, const char *tenant, uint64_t seq)
{
  if(!a)
    return;
  if(alertseq_set(&a->seq, tenant, seq))
    log_errx("alert: out of memory recording the alerts of tenant %s as "
             "saved; they wait in the spools",
             tenant);
  kick_all(a);
}

int alert_recover(struct alert *a, const char *tenant, uint64_t seq)
{
  size_t i;
  long n;
  int rc = 0;

  if(!a)
    return 0;
  if(alertseq_set(&a->seq, tenant, seq))
    return -ENOMEM;
  for(i = 0; i < a->nsinks; i++) {
    if(!a->sinks[i]->spool)
      continue;
    n = spool_void(a->sinks[i]->spool, tenant, seq);
    if(n < 0 && !rc)
      rc = (int)n;
    else if(n > 0)
      log_notice("sink %s: %ld alert%s of tenant %s dropped: spooled after "
                 "its last saved state, whose cycle is done again",
                 a->sinks[i]->name, n, n == 1 ? "" : "s", tenant);
  }
  kick_all(a);
  return rc;
}

void alert_started(struct alert *a)
{
  if(!a)
    return;
  alertseq_started(&a->seq);
  kick_all(a);
}
