/* SPDX-License-Identifier: MIT
 *
 * apply: the engine of one tenant and its pass.  One pass per complete
 * cycle, one candidate at a time, every step an asynchronous Graph
 * request: the kill switch, then the journal is read and intents without
 * an outcome are reconciled from Graph, then the guards (apply_guard.c)
 * pick the candidates, and each one is written here: dry-run alerts
 * anchor.dry-run; apply journals the intent -> PATCH -> GET verify ->
 * journal applied/failed -> alert.  After a pass that applied values,
 * post_apply_command runs through the child runner (child.c).
 */
#include "apply.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "alert.h"
#include "anchors.h"
#include "apply_guard.h"
#include "apply_int.h"
#include "cfg.h"
#include "child.h"
#include "graph.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "refusals.h"
#include "strlist.h"
#include "tfiles.h"

/* ===== small helpers ===== */

const char *apply_str_or(const char *s, const char *dflt)
{
  return s && *s ? s : dflt;
}

/* ===== alerts ===== */

void apply_file_unreadable(struct apply *a, const char *path, int err,
                           const char *cause)
{
  struct alert_daemon dm = {.path = path, .cause = cause};
  const char *name = strerrorname_np(-err);
  char code[32];

  snprintf(code, sizeof(code), "%s", name ? name : "EIO");
  dm.code = code;
  alert_emit_daemon(a->alert, ALERT_FILE_UNREADABLE, a->tenant, &dm);
}

void apply_emit(struct pass *p, enum alert_type type, const char *reason,
                const char *old_value, const char *patch_rid,
                const char *get_rid, const char *msg)
{
  struct apply *a = p->a;
  const struct anchors_entry *e = p->e;
  struct alert_anchor an;
  struct alert_event ev;

  memset(&an, 0, sizeof(an));
  if(e) {
    an.target = e->target;
    an.anchor = e->anchor;
    an.source = anchors_source_name(e->source);
    an.reference = e->reference;
  }
  an.user_id = p->user_id;
  an.upn = p->upn;
  an.old_value = old_value;
  an.reason = reason;
  an.client_request_id = p->crid[0] ? p->crid : NULL;
  an.patch_request_id = patch_rid;
  an.get_request_id = get_rid;
  alert_event_init(&ev, type, a->tenant, NULL);
  ev.anchor = &an;
  ev.message = msg;
  alert_emit(a->alert, &ev);
}

/* ===== the pass ===== */

void apply_candidate_clear(struct pass *p)
{
  free(p->user_id);
  free(p->upn);
  free(p->old_value);
  p->user_id = p->upn = p->old_value = NULL;
  p->synced = p->group_match = false;
  p->crid[0] = '\0';
  p->e = NULL;
}

static void apply_free(struct apply *a);
static void close_done(struct apply *a);

/* pass_free() frees p with everything it owns (journal handle and state,
 * the known anchors, the candidate, the command's list) and detaches it
 * from its engine; when the engine is closing, the last part to go frees
 * it (close_done()). */
static void pass_free(struct pass *p)
{
  struct apply *a = p->a;

  apply_candidate_clear(p);
  journal_close(p->j);
  journal_state_clear(&p->js);
  anchors_set_free(p->set);
  free(p->env_list);
  if(a->p == p)
    a->p = NULL;
  free(p);
  close_done(a);
}

bool apply_gone(struct pass *p, int result)
{
  if(!p->a->closing && result != -ECANCELED)
    return false;
  pass_free(p);
  return true;
}

static void run_command(struct apply *a, const char *list, size_t count);

void apply_end_pass(struct pass *p)
{
  struct apply *a = p->a;

  if(p->applied)
    log_notice("apply: tenant %s: %zu onPremisesImmutableId value%s applied "
               "this cycle",
               a->tenant, p->applied, p->applied == 1 ? "" : "s");
  if(p->applied && a->post_cmd)
    run_command(a, p->env_list, p->applied);
  pass_free(p);
}

bool apply_request(struct pass *p, const char *method, const char *path,
                   const char *const *headers, const char *body,
                   graph_done_cb cb)
{
  int rc = graph_request(p->a->g, method, path, headers, body, cb, p);

  if(rc) {
    log_warnx("apply: tenant %s: %s %s: %s; the pass ends", p->a->tenant,
              method, path, strerror(-rc));
    apply_end_pass(p);
    return false;
  }
  return true;
}

const char *apply_err_text(int result, const struct graph_error *err, char *buf,
                           size_t len)
{
  snprintf(buf, len, "HTTP %ld %s%s%s (request-id %s)", err ? err->status : 0L,
           err && err->code[0] ? err->code : strerror(-result),
           err && err->message[0] ? ": " : "",
           err && err->message[0] ? err->message : "",
           err && err->request_id[0] ? err->request_id : "-");
  return buf;
}

/* open_journal() opens the journal for appending at the pass's first
 * record (p->j, closed by pass_free()).  Returns 0 or a negative errno
 * (logged). */
static int open_journal(struct pass *p)
{
  int rc;

  if(p->j)
    return 0;
  rc = journal_open(p->a->journal_path, &p->j);
  if(rc && !p->a->journal_unreadable) {
    char cause[600];

    log_errx("apply: tenant %s: cannot open the journal %s: %s; nothing is "
             "written",
             p->a->tenant, p->a->journal_path, strerror(-rc));
    snprintf(cause, sizeof(cause), "the apply journal %s: %s",
             p->a->journal_path, strerror(-rc));
    apply_file_unreadable(p->a, p->a->journal_path, rc, cause);
  }
  p->a->journal_unreadable = rc != 0;
  return rc;
}

/* append() writes one journal record; failure is logged. */
static int append(struct pass *p, struct journal_record *r)
{
  int rc = open_journal(p);

  r->when = time(NULL);
  r->tenant = p->a->tenant;
  if(!rc)
    rc = journal_append(p->j, r);
  if(rc)
    log_errx("apply: tenant %s: journal %s: cannot append the %s record for "
             "%s: %s",
             p->a->tenant, p->a->journal_path, journal_kind_name(r->kind),
             r->user_id, strerror(-rc));
  return rc;
}

/* --- step 2: reconcile intents without an outcome --- */

static void reconcile_next(struct pass *p);

/* on_reconcile() journals what Graph shows for an intent without an
 * outcome (reconciled: found or not), alerts a value found applied, and
 * goes on with the next intent.  A failed GET ends the pass: nothing is
 * applied before every intent is settled. */
static void on_reconcile(int result, long status, const cJSON *body,
                         const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  struct journal_pending *jp;
  struct journal_record r;
  const char *value = NULL;
  char buf[700];

  (void)status;
  if(apply_gone(p, result))
    return;
  jp = &p->js.pending[p->pending_i];
  if(result && result != -ENOENT) {
    log_warnx("apply: tenant %s: cannot reconcile the intent on %s:%u "
              "(%s): %s; nothing is applied until it is reconciled",
              p->a->tenant, p->a->journal_path, jp->line, jp->rec.user_id,
              apply_err_text(result, err, buf, sizeof(buf)));
    apply_end_pass(p);
    return;
  }
  if(!result)
    value = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(body, "onPremisesImmutableId"));
  r = jp->rec;
  r.kind = JOURNAL_RECONCILED;
  r.found = value && !strcmp(value, jp->rec.new_value);
  r.get_request_id = err && err->request_id[0] ? err->request_id : NULL;
  r.error = NULL;
  if(append(p, &r)) {
    apply_end_pass(p);
    return;
  }
  log_notice("apply: tenant %s: intent %s (line %u) reconciled from Graph: "
             "%s onPremisesImmutableId of %s is %s",
             p->a->tenant, jp->rec.client_request_id, jp->line,
             r.found ? "applied," : "not applied,", jp->rec.user_id,
             value ? value : "not set");
  if(r.found) {
    /* Applied before a crash or a stop, never alerted: say it now. */
    struct alert_anchor an = {.user_id = jp->rec.user_id,
                              .upn = jp->rec.upn,
                              .anchor = jp->rec.new_value,
                              .source = jp->rec.source,
                              .reference = jp->rec.reference,
                              .reason = "reconciled",
                              .client_request_id = jp->rec.client_request_id,
                              .get_request_id = r.get_request_id};
    struct alert_event ev;

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
  p->pending_i++;
  reconcile_next(p);
}

/* reconcile_next() GETs the user of the next intent without an outcome;
 * with none left it reads the journal again (the reconciled records
 * count) and hands the pass to the guards. */
static void reconcile_next(struct pass *p)
{
  char path[256];

  if(p->pending_i == p->js.npending) {
    if(p->js.npending) {
      /* Read the journal again: the reconciled records count now. */
      char err[512];

      journal_close(p->j);
      p->j = NULL;
      journal_state_clear(&p->js);
      if(journal_load(p->a->journal_path, p->a->tenant, &p->js, err,
                      sizeof(err))) {
        log_errx("apply: tenant %s: %s; nothing is applied", p->a->tenant, err);
        apply_end_pass(p);
        return;
      }
    }
    apply_guard_anchors(p);
    return;
  }
  snprintf(path, sizeof(path),
           "/v1.0/users/%s?$select=id,onPremisesImmutableId",
           p->js.pending[p->pending_i].rec.user_id);
  apply_request(p, "GET", path, NULL, NULL, on_reconcile);
}

/* --- the write --- */

static void on_patch(int result, long status, const cJSON *body,
                     const struct graph_error *err, void *arg);

void apply_write(struct pass *p)
{
  struct apply *a = p->a;
  struct journal_record r;
  char msg[1536], hdr[64], *body;
  const char *headers[3];
  cJSON *o;

  p->writes++;
  if(a->mode == CFG_APPLY_DRY_RUN) {
    snprintf(msg, sizeof(msg),
             "dry-run: would send PATCH /v1.0/users/%s "
             "{\"onPremisesImmutableId\":\"%s\"} for %s (%s %s); nothing "
             "written",
             p->user_id, p->e->anchor, p->upn,
             anchors_source_name(p->e->source), p->e->reference);
    if(refusals_note(a->said, "dry-run", p->e)) {
      log_notice("apply: tenant %s: %s", a->tenant, msg);
      apply_emit(p, ALERT_ANCHOR_DRY_RUN, NULL, NULL, NULL, NULL, msg);
    }
    apply_guard_next(p);
    return;
  }
  http_uuid(p->crid);
  memset(&r, 0, sizeof(r));
  r.kind = JOURNAL_INTENT;
  r.user_id = p->user_id;
  r.upn = p->upn;
  r.old_value = NULL;
  r.new_value = p->e->anchor;
  r.source = anchors_source_name(p->e->source);
  r.reference = p->e->reference;
  r.client_request_id = p->crid;
  /* Never PATCH without the intent on disk. */
  if(append(p, &r)) {
    apply_end_pass(p);
    return;
  }
  o = cJSON_CreateObject();
  body = o && cJSON_AddStringToObject(o, "onPremisesImmutableId", p->e->anchor)
             ? cJSON_PrintUnformatted(o)
             : NULL;
  cJSON_Delete(o);
  if(!body) {
    /* The intent stays without an outcome: reconciled next pass. */
    apply_end_pass(p);
    return;
  }
  snprintf(hdr, sizeof(hdr), "client-request-id: %s", p->crid);
  headers[0] = "Content-Type: application/json";
  headers[1] = hdr;
  headers[2] = NULL;
  snprintf(msg, sizeof(msg), "/v1.0/users/%s", p->user_id);
  log_info("apply: tenant %s: PATCH %s onPremisesImmutableId = %s for %s "
           "(%s %s, client-request-id %s)",
           a->tenant, msg, p->e->anchor, p->upn,
           anchors_source_name(p->e->source), p->e->reference, p->crid);
  apply_request(p, "PATCH", msg, headers, body, on_patch);
  cJSON_free(body);
}

static void on_verify(int result, long status, const cJSON *body,
                      const struct graph_error *err, void *arg);

/* on_patch() keeps the PATCH's outcome in the pass and, whatever it was,
 * GETs the value to see what is there now. */
static void on_patch(int result, long status, const cJSON *body,
                     const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  char path[256];

  (void)status;
  (void)body;
  if(apply_gone(p, result))
    return;
  p->patch_result = result;
  memset(&p->patch_err, 0, sizeof(p->patch_err));
  if(err)
    p->patch_err = *err;
  /* Whatever the answer, the GET tells what is there now. */
  snprintf(path, sizeof(path),
           "/v1.0/users/%s?$select=id,onPremisesImmutableId", p->user_id);
  apply_request(p, "GET", path, NULL, NULL, on_verify);
}

/* add_env() appends the line of the applied value for the command. */
static void add_env(struct pass *p)
{
  char *n;

  if(asprintf(&n, "%s%s\t%s\t%s\t%s\n", p->env_list ? p->env_list : "",
              p->user_id, p->upn, p->e->anchor, p->e->reference) < 0)
    return;
  free(p->env_list);
  p->env_list = n;
}

/* on_verify() journals the outcome, applied when the GET shows the value
 * and failed otherwise (a 4xx parks the entry as patch-refused), alerts it
 * and goes on with the next entry.  An unreadable outcome leaves the
 * intent open for the next pass to reconcile. */
static void on_verify(int result, long status, const cJSON *body,
                      const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  struct journal_record r;
  const char *value = NULL, *patch_rid, *get_rid;
  char msg[1536], why[800], buf[700];
  bool definite;

  (void)status;
  if(apply_gone(p, result))
    return;
  patch_rid = p->patch_err.request_id[0] ? p->patch_err.request_id : NULL;
  get_rid = err && err->request_id[0] ? err->request_id : NULL;
  if(result) {
    /* Outcome unknown: the intent stays open and is reconciled first
     * thing in the next pass. */
    log_warnx("apply: tenant %s: cannot verify onPremisesImmutableId of %s "
              "(%s); the intent %s is reconciled next cycle",
              p->a->tenant, p->upn,
              apply_err_text(result, err, buf, sizeof(buf)), p->crid);
    apply_end_pass(p);
    return;
  }
  value = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(body, "onPremisesImmutableId"));
  memset(&r, 0, sizeof(r));
  r.user_id = p->user_id;
  r.upn = p->upn;
  r.old_value = p->old_value;
  r.new_value = p->e->anchor;
  r.source = anchors_source_name(p->e->source);
  r.reference = p->e->reference;
  r.client_request_id = p->crid;
  r.patch_request_id = patch_rid;
  r.get_request_id = get_rid;
  if(value && !strcmp(value, p->e->anchor)) {
    r.kind = JOURNAL_APPLIED;
    if(append(p, &r)) {
      apply_end_pass(p);
      return;
    }
    p->applied++;
    add_env(p);
    snprintf(msg, sizeof(msg),
             "onPremisesImmutableId of %s (%s) set to %s and verified (%s %s, "
             "request-id %s); the next sync can hard-match the on-premises "
             "object",
             p->upn, p->user_id, p->e->anchor,
             anchors_source_name(p->e->source), p->e->reference,
             apply_str_or(patch_rid, "-"));
    refusals_note(p->a->said, "applied", p->e);
    log_notice("apply: tenant %s: %s", p->a->tenant, msg);
    apply_emit(p, ALERT_ANCHOR_APPLIED, NULL, p->old_value, patch_rid, get_rid,
               msg);
    apply_guard_next(p);
    return;
  }
  /* A 4xx is Graph's considered no; a transport error or 5xx may have been
   * anything, so that one is tried again next cycle. */
  definite = p->patch_result == -EINVAL || p->patch_result == -EACCES ||
             p->patch_result == -ENOENT || p->patch_result == 0;
  if(p->patch_result)
    apply_err_text(p->patch_result, &p->patch_err, why, sizeof(why));
  else
    snprintf(why, sizeof(why),
             "PATCH answered %ld but GET shows onPremisesImmutableId %s",
             p->patch_err.status, apply_str_or(value, "not set"));
  r.kind = JOURNAL_FAILED;
  r.error = why;
  if(append(p, &r)) {
    apply_end_pass(p);
    return;
  }
  snprintf(msg, sizeof(msg),
           "setting onPremisesImmutableId of %s (%s) to %s failed (%s %s): "
           "%s; %s",
           p->upn, p->user_id, p->e->anchor, anchors_source_name(p->e->source),
           p->e->reference, why,
           definite ? "not tried again until the entry's reference changes"
                    : "tried again next cycle");
  log_errx("apply: tenant %s: %s", p->a->tenant, msg);
  /* Recorded (journal above, refusal memory here) before it is alerted. */
  if(definite)
    refusals_note(p->a->said, "patch-refused", p->e);
  apply_emit(p, ALERT_ANCHOR_FAILED,
             p->patch_result ? "patch-refused" : "not-verified", p->old_value,
             patch_rid, get_rid, msg);
  apply_guard_next(p);
}

/* ===== post_apply_command ===== */

/* on_command_done() logs how post_apply_command ended and the first 20
 * lines of its output. */
static void on_command_done(const struct child_result *r, void *arg)
{
  struct apply *a = arg;
  const char *line = r->output, *end = r->output + r->output_len, *nl;
  unsigned n = 0;

  if(r->signal)
    log_warnx("apply: tenant %s: post_apply_command killed by signal %d%s",
              a->tenant, r->signal, r->timed_out ? " (timeout)" : "");
  else if(r->status)
    log_warnx("apply: tenant %s: post_apply_command exited with status %lld",
              a->tenant, (long long)r->status);
  else
    log_info("apply: tenant %s: post_apply_command exited with status 0",
             a->tenant);
  /* At most 20 lines, blank ones left out. */
  for(;;) {
    while(line < end && *line == '\n')
      line++;
    if(line == end || n == 20)
      break;
    nl = memchr(line, '\n', (size_t)(end - line));
    if(!nl)
      nl = end;
    log_info("apply: tenant %s: post_apply_command: %.*s", a->tenant,
             (int)(nl - line), line);
    n++;
    line = nl;
  }
  if(line < end || r->dropped)
    log_info("apply: tenant %s: post_apply_command: (more output not "
             "logged)",
             a->tenant);
}

/* run_command() starts post_apply_command with /bin/sh -c (stderr joined
 * to stdout) and a clean environment: PATH, QD_TENANT, QD_TENANT_ID,
 * QD_APPLIED_COUNT and QD_APPLIED (one "user id TAB upn TAB anchor TAB
 * reference" line per value applied this cycle).  Nothing secret is
 * passed: the daemon's own environment is not inherited. */
static void run_command(struct apply *a, const char *list, size_t count)
{
  char *env[6] = {NULL}, *args[4], *script = NULL;
  int rc;
  size_t i;

  if(child_running(a->cmd)) {
    log_warnx("apply: tenant %s: post_apply_command from an earlier cycle "
              "still runs; not started again",
              a->tenant);
    return;
  }
  if(asprintf(&env[0], "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                       "/usr/bin:/sbin:/bin") < 0 ||
     asprintf(&env[1], "QD_TENANT=%s", a->tenant) < 0 ||
     asprintf(&env[2], "QD_TENANT_ID=%s", a->tenant_id) < 0 ||
     asprintf(&env[3], "QD_APPLIED_COUNT=%zu", count) < 0 ||
     asprintf(&env[4], "QD_APPLIED=%s", list ? list : "") < 0 ||
     asprintf(&script, "exec 2>&1\n%s", a->post_cmd) < 0) {
    log_warnx("apply: tenant %s: post_apply_command: out of memory", a->tenant);
    goto out;
  }
  args[0] = "/bin/sh";
  args[1] = "-c";
  args[2] = script;
  args[3] = NULL;
  rc = child_run(a->cmd, args, env, (uint64_t)a->post_timeout * 1000,
                 on_command_done, a);
  if(rc) {
    log_warnx("apply: tenant %s: post_apply_command: cannot start /bin/sh: "
              "%s",
              a->tenant, uv_strerror(rc));
    goto out;
  }
  log_info("apply: tenant %s: post_apply_command started (pid %d) for %zu "
           "value%s",
           a->tenant, child_pid(a->cmd), count, count == 1 ? "" : "s");
out:
  for(i = 0; i < 5; i++)
    free(env[i]);
  free(script);
}

/* ===== public ===== */

void apply_cycle(struct apply *a)
{
  struct pass *p;
  char err[512];

  if(a->mode == CFG_APPLY_OFF || a->closing)
    return;
  if(a->p) {
    log_debug("apply: tenant %s: the previous pass still runs", a->tenant);
    return;
  }
  p = calloc(1, sizeof(*p));
  if(!p) {
    log_warnx("apply: tenant %s: out of memory", a->tenant);
    return;
  }
  p->a = a;
  p->now = time(NULL);
  a->p = p;
  if(apply_guard_kill_switch(p))
    return;
  if(journal_load(a->journal_path, a->tenant, &p->js, err, sizeof(err))) {
    log_errx("apply: tenant %s: %s; nothing is applied until the journal "
             "can be read",
             a->tenant, err);
    apply_end_pass(p);
    return;
  }
  reconcile_next(p);
}

int apply_new(uv_loop_t *loop, struct graph *g, struct alert *alert,
              const struct cfg_tenant *tc, const char *state_dir,
              struct apply **out)
{
  struct apply *a = calloc(1, sizeof(*a));
  char *name, *memory_path = NULL;
  int rc;

  if(!a)
    return -ENOMEM;
  a->loop = loop;
  a->g = g;
  a->alert = alert;
  a->mode = tc->apply_mode;
  a->want_len = tc->anchor_length;
  a->max_per_cycle = tc->apply_max_per_cycle;
  a->threshold = tc->apply_threshold;
  a->takeover_allow = tc->apply_takeover_unreadable == CFG_TAKEOVER_ALLOW;
  a->post_timeout = tc->post_apply_timeout;
  a->tenant = strdup(tc->name);
  a->tenant_id = strdup(tc->tenant_id);
  a->anchors_file = tc->anchors_file ? strdup(tc->anchors_file) : NULL;
  a->post_cmd = tc->post_apply_command ? strdup(tc->post_apply_command) : NULL;
  a->kill_switch = tc->apply_kill_switch
                       ? strdup(tc->apply_kill_switch)
                       : tfiles_path(state_dir, tc->name, TFILES_KILL_SWITCH);
  a->journal_path = tfiles_path(state_dir, tc->name, TFILES_JOURNAL);
  memory_path = tfiles_path(state_dir, tc->name, TFILES_APPLY_MEMORY);
  a->suggestions_path = tfiles_path(state_dir, tc->name, TFILES_SUGGESTIONS);
  rc = -ENOMEM;
  if(!a->tenant || !a->tenant_id || !a->kill_switch || !a->journal_path ||
     !memory_path || !a->suggestions_path ||
     (tc->anchors_file && !a->anchors_file) ||
     (tc->post_apply_command && !a->post_cmd) ||
     strlist_split(&a->domains, tc->apply_allow_domains, " ") ||
     strlist_split(&a->groups, tc->apply_allow_groups, " "))
    goto fail;
  a->allow_all_domains = a->domains.n == 1 && !strcmp(a->domains.v[0], "*");
  rc = refusals_open(memory_path, a->tenant, &a->said);
  free(memory_path);
  memory_path = NULL;
  if(rc)
    goto fail;
  rc = -ENOMEM;
  if(asprintf(&name, "apply: tenant %s: post_apply_command", a->tenant) < 0)
    goto fail;
  rc = child_new(loop, name, &a->cmd);
  free(name);
  if(rc)
    goto fail;
  a->cmd_open = true;
  if(a->mode != CFG_APPLY_OFF)
    log_info("apply: tenant %s: %s mode; anchors from %s and approved lines "
             "of %s; kill switch %s",
             a->tenant, a->mode == CFG_APPLY_APPLY ? "apply" : "dry-run",
             apply_str_or(a->anchors_file, "(no anchors_file)"),
             a->suggestions_path, a->kill_switch);
  *out = a;
  return 0;

fail:
  log_warnx("apply: tenant %s: cannot set up: %s", tc->name,
            rc == -ENOMEM ? "out of memory" : uv_strerror(rc));
  free(memory_path);
  apply_free(a);
  return rc == -ENOMEM ? rc : -EIO;
}

/* close_done() frees a once apply_close() has run, the command runner is
 * closed and no pass waits for its (cancelled) Graph callback; then the
 * close callback runs. */
static void close_done(struct apply *a)
{
  void (*cb)(void *arg) = a->closed_cb;
  void *arg = a->closed_arg;

  if(!a->closing || a->cmd_open || a->p)
    return;
  apply_free(a);
  if(cb)
    cb(arg);
}

/* on_command_closed() runs once the command runner is closed and freed:
 * the engine's own handles are then all closed. */
static void on_command_closed(void *arg)
{
  struct apply *a = arg;

  a->cmd_open = false;
  close_done(a);
}

void apply_close(struct apply *a, void (*closed_cb)(void *arg), void *arg)
{
  if(a->closing)
    return;
  a->closing = true;
  a->closed_cb = closed_cb;
  a->closed_arg = arg;
  if(child_pid(a->cmd))
    log_info("apply: tenant %s: stopping post_apply_command (pid %d)",
             a->tenant, child_pid(a->cmd));
  child_close(a->cmd, on_command_closed, a);
  a->cmd = NULL;
}

/* apply_free() frees what a owns and a: the command runner must be
 * closed and no pass left (apply_new()'s failure, or close_done()). */
static void apply_free(struct apply *a)
{
  strlist_clear(&a->domains);
  strlist_clear(&a->groups);
  refusals_free(a->said);
  free(a->tenant);
  free(a->tenant_id);
  free(a->anchors_file);
  free(a->post_cmd);
  free(a->kill_switch);
  free(a->journal_path);
  free(a->suggestions_path);
  free(a);
}

/* print_report() prints one line of a load report for `quarantined -n`
 * to the FILE at arg; skipped (expired) entries are not worth a line. */
static void print_report(void *arg, enum anchors_level level, const char *file,
                         unsigned line, const char *msg)
{
  if(level == ANCHORS_SKIPPED)
    return;
  if(line)
    fprintf(arg, "%s:%u: %s%s\n", file, line,
            level == ANCHORS_WARNING ? "warning: " : "", msg);
  else
    fprintf(arg, "%s: %s\n", file, msg);
}

int apply_check_config(const struct cfg_tenant *tc, FILE *out)
{
  struct anchors_set *s;
  int rc;

  if(tc->apply_mode == CFG_APPLY_OFF || !tc->anchors_file)
    return 0;
  s = anchors_set_new(tc->anchor_length);
  if(!s)
    return -ENOMEM;
  rc = anchors_load_csv(s, tc->anchors_file, time(NULL), print_report, out);
  anchors_set_free(s);
  return rc;
}
