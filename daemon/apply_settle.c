/* SPDX-License-Identifier: MIT
 *
 * apply_settle: when may an intent without an outcome be settled, and how.
 *
 * An intent is journaled (and fsync'd) before its PATCH is sent, so after
 * a crash, or after a PATCH whose answer left it open whether Graph
 * processed it (a timeout, a reset, a 5xx: the journal's "indoubt"), the
 * journal holds an intent without an outcome.  Reading the user at once
 * and concluding "not applied" from an empty onPremisesImmutableId is
 * wrong twice over: the PATCH may still be in progress at Graph, and
 * Graph's directory reads are eventually consistent, so a read right
 * after a write may not show it (https://learn.microsoft.com/graph/
 * best-practices-concept, "Handling expected errors" and the directory's
 * replication delays).  Sending the value again would then write it twice,
 * and if the admin changed the anchor in between, the old value could
 * land after the new one.
 *
 * So an intent is settled only (1) once apply_settle has passed since the
 * later of: the intent, its last "indoubt" record, this process's start
 * (a process that crashed sent nothing after we started, so the clock
 * starts then at the latest); and (2) by a read that shows the value
 * (settled "found": applied, alerted now), or by apply_settle_reads
 * reads in a row, one per pass, that do not (settled "not found": the
 * guards may pick the entry again).  Until then no value at all is
 * written to that user (apply_settle_blocks()), so an older value never
 * lands after a newer one.
 *
 * Ownership: the read counts live in the engine (a->reads) and are freed
 * by apply_settle_free(); everything else is the pass's.
 */
#include "apply_settle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "alert.h"
#include "alert_event.h"
#include "apply_guard.h"
#include "apply_int.h"
#include "journal.h"
#include "log.h"
#include "timex.h"

/* One unsettled intent's reads so far in this process. */
struct settle_read {
  char crid[37];
  unsigned reads; /* reads in a row that did not show the value */
  bool said_wait; /* "waiting until" was logged */
};

/* read_of() returns the counts of crid, made on first use; NULL when out
 * of memory. */
static struct settle_read *read_of(struct apply *a, const char *crid)
{
  struct settle_read *v;
  size_t i;

  for(i = 0; i < a->nreads; i++)
    if(!strcmp(a->reads[i].crid, crid))
      return &a->reads[i];
  v = realloc(a->reads, (a->nreads + 1) * sizeof(*v));
  if(!v)
    return NULL;
  a->reads = v;
  v += a->nreads++;
  memset(v, 0, sizeof(*v));
  snprintf(v->crid, sizeof(v->crid), "%s", crid);
  return v;
}

/* forget() drops crid's counts once its intent is settled. */
static void forget(struct apply *a, const char *crid)
{
  size_t i;

  for(i = 0; i < a->nreads; i++)
    if(!strcmp(a->reads[i].crid, crid)) {
      a->reads[i] = a->reads[--a->nreads];
      return;
    }
}

void apply_settle_free(struct apply *a)
{
  free(a->reads);
  a->reads = NULL;
  a->nreads = 0;
}

bool apply_settle_blocks(const struct pass *p, const char *user_id)
{
  size_t i;

  for(i = 0; i < p->js.npending; i++)
    if(!strcasecmp(p->js.pending[i].rec.user_id, user_id))
      return true;
  return false;
}

/* settle_at() is the earliest time jp may be settled. */
static time_t settle_at(const struct apply *a, const struct journal_pending *jp)
{
  time_t from = jp->rec.when;

  if(jp->doubted > from)
    from = jp->doubted;
  if(a->started > from)
    from = a->started;
  return from + (time_t)a->settle_s;
}

static void settle_next(struct pass *p);

/* settled_found() alerts a value found applied: applied before a crash or
 * after an unclear answer, never alerted until now. */
static void settled_found(struct pass *p, const struct journal_pending *jp,
                          const char *get_rid)
{
  struct alert_anchor an = {.user_id = jp->rec.user_id,
                            .upn = jp->rec.upn,
                            .anchor = jp->rec.new_value,
                            .source = jp->rec.source,
                            .reference = jp->rec.reference,
                            .reason = "reconciled",
                            .client_request_id = jp->rec.client_request_id,
                            .get_request_id = get_rid};
  struct alert_event ev;
  char buf[700];

  snprintf(buf, sizeof(buf),
           "onPremisesImmutableId of %s (%s) found set to %s when the "
           "interrupted apply %s was reconciled (%s %s)",
           apply_str_or(jp->rec.upn, "?"), jp->rec.user_id, jp->rec.new_value,
           jp->rec.client_request_id, jp->rec.source, jp->rec.reference);
  alert_event_init(&ev, ALERT_ANCHOR_APPLIED, p->a->tenant, NULL);
  ev.anchor = &an;
  ev.message = buf;
  alert_emit(p->a->alert, &ev);
}

/* on_read() takes one read of an intent's user: the value there settles
 * it as found; apply_settle_reads reads in a row without it settle it as
 * not found; fewer leave it for the next pass.  A failed read ends the
 * pass: nothing is applied before every settleable intent is read. */
static void on_read(int result, long status, const cJSON *body,
                    const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  struct apply *a;
  struct journal_pending *jp;
  struct settle_read *sr;
  struct journal_record r;
  const char *value = NULL, *rid;
  char buf[700];

  (void)status;
  if(apply_gone(p, result))
    return;
  a = p->a;
  jp = &p->js.pending[p->pending_i];
  if(result && result != -ENOENT) {
    log_warnx("apply: tenant %s: cannot read %s to settle the intent on "
              "%s:%u: %s; nothing is applied until it is settled",
              a->tenant, jp->rec.user_id, a->journal_path, jp->line,
              apply_err_text(result, err, buf, sizeof(buf)));
    apply_end_pass(p);
    return;
  }
  if(!result)
    value = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(body, "onPremisesImmutableId"));
  rid = err && err->request_id[0] ? err->request_id : NULL;
  sr = read_of(a, jp->rec.client_request_id);
  if(!sr) {
    apply_end_pass(p);
    return;
  }
  if(!(value && !strcmp(value, jp->rec.new_value)) &&
     ++sr->reads < a->settle_reads) {
    log_info("apply: tenant %s: intent %s for %s: read %u of %u shows "
             "onPremisesImmutableId %s; read again next cycle",
             a->tenant, jp->rec.client_request_id, jp->rec.user_id, sr->reads,
             a->settle_reads, value ? value : "not set");
    p->pending_i++;
    settle_next(p);
    return;
  }
  memset(&r, 0, sizeof(r));
  r = jp->rec;
  r.kind = JOURNAL_RECONCILED;
  r.found = value && !strcmp(value, jp->rec.new_value);
  r.get_request_id = rid;
  r.error = NULL;
  if(apply_append(p, &r)) {
    apply_end_pass(p);
    return;
  }
  log_notice("apply: tenant %s: intent %s (line %u) settled from Graph: %s "
             "onPremisesImmutableId of %s is %s%s",
             a->tenant, jp->rec.client_request_id, jp->line,
             r.found ? "applied," : "not applied,", jp->rec.user_id,
             value ? value : "not set",
             r.found ? "" : "; the entry may be applied again");
  if(r.found)
    settled_found(p, jp, rid);
  forget(a, jp->rec.client_request_id);
  p->settled++;
  p->pending_i++;
  settle_next(p);
}

/* settle_next() reads the user of the next intent that may be settled;
 * with none left it reads the journal again when one was settled (the
 * settled records count) and hands the pass to the guards. */
static void settle_next(struct pass *p)
{
  struct apply *a = p->a;
  char path[256], when[TIMEX_ISO_LEN];

  while(p->pending_i < p->js.npending) {
    struct journal_pending *jp = &p->js.pending[p->pending_i];
    time_t at = settle_at(a, jp);
    struct settle_read *sr;

    if(p->now >= at)
      break;
    sr = read_of(a, jp->rec.client_request_id);
    if(sr && !sr->said_wait) {
      sr->said_wait = true;
      timex_format_iso(at, when, sizeof(when));
      log_notice("apply: tenant %s: intent %s for %s (%s) has no outcome; "
                 "its PATCH may still be in progress at Graph, so nothing "
                 "is written to that user before it is settled, from %s "
                 "(apply_settle)",
                 a->tenant, jp->rec.client_request_id,
                 apply_str_or(jp->rec.upn, "?"), jp->rec.user_id, when);
    }
    p->pending_i++;
  }
  if(p->pending_i < p->js.npending) {
    snprintf(path, sizeof(path),
             "/v1.0/users/%s?$select=id,onPremisesImmutableId",
             p->js.pending[p->pending_i].rec.user_id);
    apply_request(p, "GET", path, NULL, NULL, on_read);
    return;
  }
  if(p->settled) {
    /* Read the journal again: the settled records count now. */
    char err[512];

    journal_close(p->j);
    p->j = NULL;
    journal_state_clear(&p->js);
    if(journal_load(a->journal_path, a->tenant, &p->js, err, sizeof(err))) {
      log_errx("apply: tenant %s: %s; nothing is applied", a->tenant, err);
      apply_end_pass(p);
      return;
    }
  }
  apply_guard_anchors(p);
}

void apply_settle_pending(struct pass *p)
{
  p->pending_i = 0;
  p->settled = 0;
  settle_next(p);
}
