/* SPDX-License-Identifier: MIT
 *
 * apply: the engine of one tenant and its pass.  One pass per complete
 * cycle, one candidate at a time, every step an asynchronous Graph
 * request: the kill switch, then the journal is read and intents without
 * an outcome are settled (apply_settle.c), then the guards (apply_guard.c)
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
#include "alert_event.h"
#include "anchors.h"
#include "apply_guard.h"
#include "apply_int.h"
#include "apply_settle.h"
#include "cfg.h"
#include "child.h"
#include "graph.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "plat.h"
#include "refusals.h"
#include "strlist.h"
#include "tfiles.h"
#include "uuid.h"

/* GETs after a PATCH before its outcome is left to the next pass's
 * reconciliation (reads lag writes). */
#define APPLY_VERIFY_READS 5

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
  const char *name = plat_errno_name(-err);
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

/* request_after() is apply_request() sent after delay_ms (0: now). */
static bool request_after(struct pass *p, const char *method, const char *path,
                          const char *const *headers, const char *body,
                          uint64_t delay_ms, graph_done_cb cb)
{
  int rc = graph_request_after(p->a->g, method, path, headers, body, delay_ms,
                               cb, p);

  if(rc) {
    log_warnx("apply: tenant %s: %s %s: %s; the pass ends", p->a->tenant,
              method, path, strerror(-rc));
    apply_end_pass(p);
    return false;
  }
  return true;
}

bool apply_request(struct pass *p, const char *method, const char *path,
                   const char *const *headers, const char *body,
                   graph_done_cb cb)
{
  return request_after(p, method, path, headers, body, 0, cb);
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

int apply_append(struct pass *p, struct journal_record *r)
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
  uuid_v4(p->crid);
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
  if(apply_append(p, &r)) {
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

/* verify() GETs the value to see what is there now: at once after the
 * PATCH, then after the client's backoff for each read again. */
static void verify(struct pass *p)
{
  uint64_t delay = p->verify_reads
                       ? (uint64_t)graph_backoff_ms(p->a->g, p->verify_reads)
                       : 0;
  char path[256];

  p->verify_reads++;
  snprintf(path, sizeof(path),
           "/v1.0/users/%s?$select=id,onPremisesImmutableId", p->user_id);
  request_after(p, "GET", path, NULL, NULL, delay, on_verify);
}

/* on_patch() keeps the PATCH's outcome in the pass and, whatever it was,
 * starts verify(). */
static void on_patch(int result, long status, const cJSON *body,
                     const struct graph_error *err, void *arg)
{
  struct pass *p = arg;

  (void)status;
  (void)body;
  if(apply_gone(p, result))
    return;
  p->patch_result = result;
  memset(&p->patch_err, 0, sizeof(p->patch_err));
  if(err)
    p->patch_err = *err;
  p->verify_reads = 0;
  verify(p);
}

/* forbidden() handles a PATCH refused with 403: the app lacks a
 * permission that may write users, which no entry can fix.  It is
 * journalled as failed, remembered tenant-wide as write-forbidden
 * (alerted once; no PATCH is sent until the engine starts again) and
 * ends the pass.  The entry is not parked. */
static void forbidden(struct pass *p, struct journal_record *r)
{
  char why[800], msg[1536], buf[700];

  snprintf(why, sizeof(why),
           "%s: the app may not write users; grant it the application "
           "permission User.ReadWrite.All or Directory.ReadWrite.All (with "
           "admin consent), then reload the daemon",
           apply_err_text(p->patch_result, &p->patch_err, buf, sizeof(buf)));
  r->kind = JOURNAL_FAILED;
  r->error = why;
  if(apply_append(p, r)) {
    apply_end_pass(p);
    return;
  }
  snprintf(msg, sizeof(msg),
           "configuration error: setting onPremisesImmutableId of %s (%s) "
           "was refused (%s); no value is written for tenant %s until the "
           "daemon is restarted or reloaded",
           p->upn, p->user_id, why, p->a->tenant);
  log_errx("apply: tenant %s: %s", p->a->tenant, msg);
  if(refusals_note(p->a->said, "write-forbidden", NULL))
    apply_emit(p, ALERT_ANCHOR_FAILED, "write-forbidden", p->old_value,
               r->patch_request_id, r->get_request_id, msg);
  apply_end_pass(p);
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
 * and failed otherwise (a 4xx parks the entry as patch-refused, a 403 is
 * forbidden()), alerts it and goes on with the next entry.  Directory
 * reads lag writes (docs/graph-facts.md#eventual-consistency), so unless
 * Graph refused the PATCH with a 4xx, a GET that does not show the value
 * (or answers 404) is read again, up to APPLY_VERIFY_READS reads; a PATCH
 * Graph accepted whose value is still not seen then, like an unreadable
 * outcome, leaves the intent open for the next pass to reconcile - never a
 * false anchor.failed. */
/* same() tells whether value is the anchor p's candidate was to get. */
static bool same(const char *value, const struct pass *p)
{
  return value && !strcmp(value, p->e->anchor);
}

static void on_verify(int result, long status, const cJSON *body,
                      const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  struct journal_record r;
  const char *value = NULL, *patch_rid, *get_rid;
  char msg[1536], why[800];
  bool definite;

  (void)status;
  if(apply_gone(p, result))
    return;
  patch_rid = p->patch_err.request_id[0] ? p->patch_err.request_id : NULL;
  get_rid = err && err->request_id[0] ? err->request_id : NULL;
  /* A 4xx is Graph's considered no; anything else leaves the outcome to
   * the reads. */
  definite = p->patch_result == -EINVAL || p->patch_result == -EACCES ||
             p->patch_result == -ENOENT;
  if(!result)
    value = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(body, "onPremisesImmutableId"));
  if(!definite && (result == -ENOENT || (!result && !same(value, p))) &&
     p->verify_reads < APPLY_VERIFY_READS) {
    log_info("apply: tenant %s: onPremisesImmutableId of %s reads %s after "
             "the PATCH (read %u of %u); reads lag writes, reading again",
             p->a->tenant, p->upn,
             result ? "404" : apply_str_or(value, "not set"), p->verify_reads,
             APPLY_VERIFY_READS);
    verify(p);
    return;
  }
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
  if(same(value, p)) {
    r.kind = JOURNAL_APPLIED;
    if(apply_append(p, &r)) {
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
    p->a->stats.applied++;
    log_notice("apply: tenant %s: %s", p->a->tenant, msg);
    apply_emit(p, ALERT_ANCHOR_APPLIED, NULL, p->old_value, patch_rid, get_rid,
               msg);
    apply_guard_next(p);
    return;
  }
  if(p->patch_result == -EACCES && p->patch_err.status == 403) {
    forbidden(p, &r);
    return;
  }
  if(!definite) {
    /* Graph accepted the PATCH but the value is not seen yet, or the
     * PATCH ended unclearly (a timeout, a reset, a 5xx) and the reads do
     * not show it, or the reads failed: whether Graph applied it is open.
     * The intent stays without an outcome ("indoubt") and is settled
     * later (apply_settle.c); the PATCH is never sent again before. */
    if(result)
      apply_err_text(result, err, why, sizeof(why));
    else if(p->patch_result)
      apply_err_text(p->patch_result, &p->patch_err, why, sizeof(why));
    else
      snprintf(why, sizeof(why),
               "PATCH answered %ld, but %u reads show onPremisesImmutableId "
               "%s",
               p->patch_err.status, p->verify_reads,
               apply_str_or(value, "not set"));
    r.kind = JOURNAL_INDOUBT;
    r.error = why;
    if(apply_append(p, &r)) {
      apply_end_pass(p);
      return;
    }
    log_warnx("apply: tenant %s: PATCH onPremisesImmutableId of %s (%s) to "
              "%s: %s; Graph may or may not have applied it: it is not sent "
              "again, and the intent %s is settled after apply_settle; no "
              "more writes this cycle",
              p->a->tenant, p->upn, p->user_id, p->e->anchor, why, p->crid);
    apply_end_pass(p);
    return;
  }
  apply_err_text(p->patch_result, &p->patch_err, why, sizeof(why));
  r.kind = JOURNAL_FAILED;
  r.error = why;
  if(apply_append(p, &r)) {
    apply_end_pass(p);
    return;
  }
  snprintf(msg, sizeof(msg),
           "setting onPremisesImmutableId of %s (%s) to %s failed (%s %s): "
           "%s; %s",
           p->upn, p->user_id, p->e->anchor, anchors_source_name(p->e->source),
           p->e->reference, why,
           "not tried again until the entry's reference changes");
  log_errx("apply: tenant %s: %s", p->a->tenant, msg);
  /* Recorded (journal above, refusal memory here) before it is alerted. */
  refusals_note(p->a->said, "patch-refused", p->e);
  apply_emit(p, ALERT_ANCHOR_FAILED, "patch-refused", p->old_value, patch_rid,
             get_rid, msg);
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

/* run_command() starts post_apply_command with plat_shell_argv()'s shell
 * (/bin/sh -c, or cmd.exe) (stderr joined
 * to stdout) and a clean environment: PATH, QD_TENANT, QD_TENANT_ID,
 * QD_APPLIED_COUNT and QD_APPLIED (one "user id TAB upn TAB anchor TAB
 * reference" line per value applied this cycle).  Nothing secret is
 * passed: the daemon's own environment is not inherited. */
static void run_command(struct apply *a, const char *list, size_t count)
{
  char *env[6] = {NULL}, *args[5], *script = NULL;
  int rc;
  size_t i;

  if(child_running(a->cmd)) {
    log_warnx("apply: tenant %s: post_apply_command from an earlier cycle "
              "still runs; not started again",
              a->tenant);
    return;
  }
  if(asprintf(&env[0], "PATH=%s", plat_shell_path()) < 0 ||
     asprintf(&env[1], "QD_TENANT=%s", a->tenant) < 0 ||
     asprintf(&env[2], "QD_TENANT_ID=%s", a->tenant_id) < 0 ||
     asprintf(&env[3], "QD_APPLIED_COUNT=%zu", count) < 0 ||
     asprintf(&env[4], "QD_APPLIED=%s", list ? list : "") < 0 ||
     plat_shell_argv(a->post_cmd, &script, args)) {
    log_warnx("apply: tenant %s: post_apply_command: out of memory", a->tenant);
    goto out;
  }
  rc = child_run(a->cmd, args, env, (uint64_t)a->post_timeout * 1000,
                 on_command_done, a);
  if(rc) {
    log_warnx("apply: tenant %s: post_apply_command: cannot start %s: %s",
              a->tenant, args[0], uv_strerror(rc));
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
  int rc;

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
  if(a->mode == CFG_APPLY_APPLY &&
     refusals_has(a->said, "write-forbidden", NULL)) {
    log_debug("apply: tenant %s: a PATCH was refused with 403; nothing is "
              "written until the daemon is restarted or reloaded",
              a->tenant);
    apply_end_pass(p);
    return;
  }
  rc = journal_load(a->journal_path, a->tenant, &p->js, err, sizeof(err));
  if(rc) {
    /* Said and alerted once per episode, not at every cycle. */
    if(!a->journal_bad) {
      log_errx("apply: tenant %s: %s; nothing is applied until the journal "
               "can be read",
               a->tenant, err);
      apply_file_unreadable(a, a->journal_path, rc, err);
    }
    a->journal_bad = true;
    apply_end_pass(p);
    return;
  }
  if(a->journal_bad)
    log_notice("apply: tenant %s: the journal %s reads again", a->tenant,
               a->journal_path);
  a->journal_bad = false;
  apply_settle_pending(p);
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
  a->started = time(NULL);
  a->settle_s = tc->apply_settle;
  a->settle_reads = tc->apply_settle_reads ? tc->apply_settle_reads : 1;
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
  /* A start or reload is when a granted permission shows: try once more. */
  if(refusals_has(a->said, "write-forbidden", NULL)) {
    log_info("apply: tenant %s: the last PATCH was refused with 403; "
             "trying again once now that the daemon (re)started",
             a->tenant);
    refusals_forget(a->said, "write-forbidden", NULL);
  }
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

void apply_get_stats(const struct apply *a, struct apply_stats *st)
{
  *st = a->stats;
}

/* apply_free() frees what a owns and a: the command runner must be
 * closed and no pass left (apply_new()'s failure, or close_done()). */
static void apply_free(struct apply *a)
{
  apply_settle_free(a);
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
