/* SPDX-License-Identifier: MIT
 *
 * metrics: renders /metrics.  Each family is written whole (HELP, TYPE,
 * then every series) so the output is valid for `promtool check
 * metrics`; gauges of conflicts are written for every combination of
 * attribute, class and state, zero included, so that a series does not
 * vanish when its last conflict goes.
 */
#include "metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "conflict.h"
#include "tenant.h"

#ifndef QD_VERSION
#define QD_VERSION "0.0.0"
#endif

#define NPROP (CONFLICT_PROXY + 1)
#define NCLASS (CONFLICT_CLASS_NOT_HELD + 1)
#define NSTATE (CONFLICT_STUCK + 1)

static const long age_buckets[] = {METRICS_AGE_BUCKETS};
#define NBUCKETS (sizeof(age_buckets) / sizeof(age_buckets[0]))

/* What one tenant's conflicts add up to. */
struct tally {
  unsigned long n[NPROP][NCLASS][NSTATE];
  unsigned long bucket[NBUCKETS]; /* cumulative, as Prometheus wants */
  unsigned long count;
  double sum;
};

void metrics_escape(FILE *out, const char *s)
{
  for(; *s; s++) {
    if(*s == '\\' || *s == '"')
      fprintf(out, "\\%c", *s);
    else if(*s == '\n')
      fputs("\\n", out);
    else
      fputc(*s, out);
  }
}

static void family(FILE *out, const char *name, const char *type,
                   const char *help)
{
  fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* tenant_series() writes one series "name{tenant="..."} value". */
static void tenant_series(FILE *out, const char *name, const char *tenant,
                          double value)
{
  fprintf(out, "%s{tenant=\"", name);
  metrics_escape(out, tenant);
  fprintf(out, "\"} %.17g\n", value);
}

static void tally(const struct conflict_set *set, time_t now, struct tally *t)
{
  struct conflict_iter it;
  const struct conflict *c;
  size_t i;

  memset(t, 0, sizeof(*t));
  if(!set)
    return;
  conflict_iter_init(&it, set);
  while((c = conflict_iter_next(&it))) {
    time_t since = status_conflict_since(c);
    long age = since && now > since ? (long)(now - since) : 0;

    if((unsigned)c->property < NPROP && (unsigned)c->cls < NCLASS &&
       (unsigned)c->state < NSTATE)
      t->n[c->property][c->cls][c->state]++;
    for(i = 0; i < NBUCKETS; i++)
      if(age <= age_buckets[i])
        t->bucket[i]++;
    t->count++;
    t->sum += (double)age;
  }
}

/* Per-tenant figures, all read before anything is written. */
struct row {
  const char *name;
  struct tenant_stats st;
  struct tally t;
};

static void write_conflicts(FILE *out, const struct row *rows, size_t n)
{
  size_t i, p, k, s;

  family(out, "quarantined_conflicts", "gauge",
         "Quarantined values believed now, by attribute (upn, proxy), "
         "class and state.");
  for(i = 0; i < n; i++)
    for(p = 0; p < NPROP; p++)
      for(k = 0; k < NCLASS; k++)
        for(s = 0; s < NSTATE; s++) {
          fputs("quarantined_conflicts{tenant=\"", out);
          metrics_escape(out, rows[i].name);
          fprintf(out, "\",attribute=\"%s\",class=\"%s\",state=\"%s\"} %lu\n",
                  conflict_property_name(p), conflict_class_name(k),
                  conflict_state_name(s), rows[i].t.n[p][k][s]);
        }
  family(out, "quarantined_conflict_age_seconds", "histogram",
         "How long the conflicts believed now have been quarantined.");
  for(i = 0; i < n; i++) {
    for(k = 0; k < NBUCKETS; k++) {
      fputs("quarantined_conflict_age_seconds_bucket{tenant=\"", out);
      metrics_escape(out, rows[i].name);
      fprintf(out, "\",le=\"%ld\"} %lu\n", age_buckets[k], rows[i].t.bucket[k]);
    }
    fputs("quarantined_conflict_age_seconds_bucket{tenant=\"", out);
    metrics_escape(out, rows[i].name);
    fprintf(out, "\",le=\"+Inf\"} %lu\n", rows[i].t.count);
    tenant_series(out, "quarantined_conflict_age_seconds_sum", rows[i].name,
                  rows[i].t.sum);
    tenant_series(out, "quarantined_conflict_age_seconds_count", rows[i].name,
                  (double)rows[i].t.count);
  }
}

/* The per-tenant families, each one figure of struct tenant_stats. */
enum figure {
  F_CYCLES,
  F_FAILURES,
  F_LAST_GOOD,
  F_INTERVAL,
  F_TOKEN,
  F_REQUESTS,
  F_THROTTLED,
  F_RETRIED,
  F_APPLIED,
  F_REFUSED
};

static const struct {
  enum figure fig;
  const char *name, *type, *help;
} tenant_families[] = {
    {F_CYCLES, "quarantined_cycles_total", "counter",
     "Inventory cycles finished, good or failed."},
    {F_FAILURES, "quarantined_cycle_failures_total", "counter",
     "Inventory cycles that failed (nothing changed)."},
    {F_LAST_GOOD, "quarantined_last_good_cycle_timestamp_seconds", "gauge",
     "When the last complete cycle ended (Unix time; 0 = never)."},
    {F_INTERVAL, "quarantined_poll_interval_seconds", "gauge",
     "The configured time between cycles."},
    {F_TOKEN, "quarantined_token_valid", "gauge",
     "1 when the last token request succeeded, else 0."},
    {F_REQUESTS, "quarantined_graph_requests_total", "counter",
     "HTTP requests sent to Microsoft Graph (a $batch POST is one)."},
    {F_THROTTLED, "quarantined_graph_throttled_total", "counter",
     "Graph answers 429 or 503 (requests and batch items)."},
    {F_RETRIED, "quarantined_graph_retries_total", "counter",
     "Graph requests and batch items scheduled again."},
    {F_APPLIED, "quarantined_anchors_applied_total", "counter",
     "onPremisesImmutableId values written and verified."},
    {F_REFUSED, "quarantined_anchors_refused_total", "counter",
     "Anchor writes a guard refused (each refusal alerted once)."},
};

static double figure(const struct tenant_stats *st, enum figure f)
{
  switch(f) {
  case F_CYCLES:
    return (double)(st->cycles_ok + st->cycles_failed);
  case F_FAILURES:
    return (double)st->cycles_failed;
  case F_LAST_GOOD:
    return (double)st->last_success;
  case F_INTERVAL:
    return st->interval;
  case F_TOKEN:
    return st->token > 0;
  case F_REQUESTS:
    return (double)st->graph.requests;
  case F_THROTTLED:
    return (double)st->graph.throttled;
  case F_RETRIED:
    return (double)st->graph.retried;
  case F_APPLIED:
    return (double)st->apply.applied;
  case F_REFUSED:
    return (double)st->apply.refused;
  }
  return 0;
}

static void write_tenants(FILE *out, const struct row *rows, size_t n)
{
  size_t f, i;

  for(f = 0; f < sizeof(tenant_families) / sizeof(tenant_families[0]); f++) {
    family(out, tenant_families[f].name, tenant_families[f].type,
           tenant_families[f].help);
    for(i = 0; i < n; i++)
      tenant_series(out, tenant_families[f].name, rows[i].name,
                    figure(&rows[i].st, tenant_families[f].fig));
  }
}

static void write_alerts(FILE *out, const struct alert *a)
{
  struct alert_stats as;
  size_t i;

  memset(&as, 0, sizeof(as));
  if(a)
    alert_get_stats(a, &as);
  family(out, "quarantined_alerts_pending", "gauge",
         "Alerts waiting to be written, per sink.");
  for(i = 0; i < as.nsinks; i++)
    fprintf(out, "quarantined_alerts_pending{sink=\"%s\"} %zu\n",
            as.sink[i].name, as.sink[i].pending);
  family(out, "quarantined_alerts_delivered_total", "counter",
         "Alerts written, per sink.");
  for(i = 0; i < as.nsinks; i++)
    fprintf(out, "quarantined_alerts_delivered_total{sink=\"%s\"} %lu\n",
            as.sink[i].name, as.sink[i].delivered);
  family(out, "quarantined_alerts_dropped_total", "counter",
         "Alerts dropped from a full queue, per sink.");
  for(i = 0; i < as.nsinks; i++)
    fprintf(out, "quarantined_alerts_dropped_total{sink=\"%s\"} %lu\n",
            as.sink[i].name, as.sink[i].dropped);
}

int metrics_render(const struct status_view *v, time_t now, FILE *out)
{
  struct row *rows = NULL;
  size_t i;

  if(v->ntenants) {
    rows = calloc(v->ntenants, sizeof(*rows));
    if(!rows)
      return -ENOMEM;
  }
  for(i = 0; i < v->ntenants; i++) {
    rows[i].name = tenant_name(v->tenants[i]);
    tenant_get_stats(v->tenants[i], &rows[i].st);
    tally(tenant_conflicts(v->tenants[i]), now, &rows[i].t);
  }
  family(out, "quarantined_build_info", "gauge",
         "Always 1; the version label names the build.");
  fprintf(out, "quarantined_build_info{version=\"%s\"} 1\n", QD_VERSION);
  family(out, "quarantined_start_time_seconds", "gauge",
         "When the daemon started (Unix time).");
  fprintf(out, "quarantined_start_time_seconds %lld\n", (long long)v->started);
  family(out, "quarantined_tenants", "gauge", "Tenants configured.");
  fprintf(out, "quarantined_tenants %zu\n", v->ntenants);
  write_conflicts(out, rows, v->ntenants);
  write_tenants(out, rows, v->ntenants);
  write_alerts(out, v->alert);
  free(rows);
  return ferror(out) ? -EIO : 0;
}
