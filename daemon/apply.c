/* SPDX-License-Identifier: MIT
 *
 * apply: one pass per complete cycle, one candidate at a time, every step
 * an asynchronous Graph request.  Guards, in this fixed order (the reason
 * code of each refusal in brackets):
 *
 *   per pass:  1 kill switch file exists [kill-switch: halt, said once]
 *              2 pending intents in the journal are reconciled from Graph
 *                before anything else (a failure ends the pass)
 *              3 anchors_file and approved suggestions load without an
 *                error [anchors-file-invalid]
 *              4 journal total < apply_threshold [threshold: halt]
 *              5 tenant feature blockCloudObjectTakeoverThroughHardMatch-
 *                Enabled is off [takeover-blocked]; unreadable: refused
 *                unless apply_takeover_unreadable = allow [takeover-unknown]
 *   per entry: 6 anchor format (anchor_check, anchor_length) [anchor-invalid]
 *              7 the target exists [target-not-found], not soft-deleted
 *                [target-deleted]; already applied per journal: skipped
 *              8 the target is cloud-only [target-synced]
 *              9 it has no onPremisesImmutableId [target-has-anchor]; the
 *                same value: nothing to do
 *             10 allow-list: UPN domain or group membership [not-allowed]
 *             11 no other object has the value [anchor-in-use]
 *             12 no directory role assignment [target-admin]; unreadable
 *                (403): said once, go on (Entra itself refuses a hard match
 *                to an admin, ExistingAdminRoleConflict)
 *             13 PATCHes this pass < apply_max_per_cycle (the rest waits)
 *             14 journal total + this pass < apply_threshold [threshold]
 *             15 kill switch again [kill-switch]
 *   then dry-run: alert anchor.dry-run; apply: journal intent -> PATCH ->
 *   GET verify -> journal applied/failed -> alert.
 *
 * Each (reason, target, anchor, reference) is alerted once: the refusal
 * memory <state_dir>/<tenant>.apply.json remembers what was said, across
 * restarts.  A PATCH that Graph refuses is parked under the same memory
 * (reason patch-refused) until the entry's reference changes.
 */
#include "apply.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "alert.h"
#include "anchor.h"
#include "anchors.h"
#include "atomic.h"
#include "cfg.h"
#include "graph.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "store.h"
#include "suggest.h"

/* Bytes of post_apply_command output kept for the log. */
#define APPLY_OUTPUT_MAX 4096
/* Seconds between SIGTERM and SIGKILL for a command past its timeout. */
#define APPLY_KILL_GRACE_MS 5000
#define APPLY_MEMORY_VERSION 1

/* A list of strings, malloc'd. */
struct strlist {
  char **v;
  size_t n, cap;
};

struct pass;

struct apply {
  uv_loop_t *loop;
  struct graph *g;
  struct alert *alert;
  char *tenant, *tenant_id;
  int mode; /* enum cfg_apply_mode */
  char *anchors_file;
  size_t want_len;
  struct strlist domains, groups;
  int allow_all_domains;
  unsigned max_per_cycle, threshold;
  char *kill_switch;
  bool journal_unreadable; /* file.unreadable said; until it opens */
  int takeover_allow;
  char *post_cmd;
  unsigned post_timeout;
  char *journal_path, *memory_path, *suggestions_path;
  struct strlist said; /* the refusal memory: "reason\ttarget\tanchor\tref" */
  bool roles_said, takeover_said;
  struct pass *p; /* the running pass, or NULL */
  bool closing;
  /* post_apply_command */
  uv_timer_t timer;
  uv_process_t proc;
  uv_pipe_t out;
  bool child, out_open, proc_open, killed;
  char output[APPLY_OUTPUT_MAX];
  size_t outlen;
  size_t dropped;
  unsigned open_handles;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* One pass over the known anchors. */
struct pass {
  struct apply *a;
  time_t now;
  struct journal_state js;
  struct journal *j; /* opened at the first record */
  struct anchors_set *set;
  size_t pending_i, i;
  unsigned writes; /* PATCHes (dry-run: would-be) in this pass */
  size_t applied;  /* applied in this pass */
  char *env_list;  /* "id\tupn\tanchor\treference\n"... for the command */
  int takeover;    /* 1 blocked, 0 allowed, -1 unknown */
  char takeover_why[200];
  /* the candidate */
  const struct anchors_entry *e;
  char *user_id, *upn, *old_value;
  bool synced, group_match;
  char crid[37];
  int patch_result;
  struct graph_error patch_err;
};

static void next_entry(struct pass *p);
static void end_pass(struct pass *p);

/* ===== small helpers ===== */

static int strlist_add(struct strlist *l, const char *s)
{
  char *c;

  if(l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    char **v = realloc(l->v, cap * sizeof(*v));

    if(!v)
      return -ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  c = strdup(s);
  if(!c)
    return -ENOMEM;
  l->v[l->n++] = c;
  return 0;
}

static ssize_t strlist_find(const struct strlist *l, const char *s)
{
  size_t i;

  for(i = 0; i < l->n; i++)
    if(!strcmp(l->v[i], s))
      return (ssize_t)i;
  return -1;
}

static void strlist_del(struct strlist *l, size_t i)
{
  free(l->v[i]);
  memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
  l->n--;
}

static void strlist_clear(struct strlist *l)
{
  size_t i;

  for(i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof(*l));
}

/* split_words() adds every space-separated word of s (may be NULL). */
static int split_words(struct strlist *l, const char *s)
{
  char *copy, *tok, *save = NULL;
  int rc = 0;

  if(!s)
    return 0;
  copy = strdup(s);
  if(!copy)
    return -ENOMEM;
  for(tok = strtok_r(copy, " ", &save); tok && !rc;
      tok = strtok_r(NULL, " ", &save))
    rc = strlist_add(l, tok);
  free(copy);
  return rc;
}

char *apply_memory_path(const char *state_dir, const char *name)
{
  return store_file_path(state_dir, name, ".apply.json");
}

char *apply_kill_switch_path(const char *state_dir, const char *name)
{
  return store_file_path(state_dir, name, ".stop");
}

static const char *str_or(const char *s, const char *dflt)
{
  return s && *s ? s : dflt;
}

static const char *source_name(enum anchors_source s)
{
  switch(s) {
  case ANCHORS_SUGGESTION:
    return "suggestion";
  case ANCHORS_CSEXPORT:
    return "csexport";
  default:
    return "csv";
  }
}

/* ===== the refusal memory ===== */

/* memory_key() writes "reason\ttarget\tanchor\treference" (lower-case
 * target) into a malloc'd string, or returns NULL. */
static char *memory_key(const char *reason, const struct anchors_entry *e)
{
  char *k, *t;

  if(asprintf(&k, "%s\t%s\t%s\t%s", reason, e ? e->target : "",
              e ? e->anchor : "", e ? e->reference : "") < 0)
    return NULL;
  for(t = k + strlen(reason) + 1; *t && *t != '\t'; t++)
    *t = (char)(*t >= 'A' && *t <= 'Z' ? *t - 'A' + 'a' : *t);
  return k;
}

/* pair_of() tells whether key k is about entry e (any reason). */
static bool pair_of(const char *k, const struct anchors_entry *e)
{
  const char *rest = strchr(k, '\t');
  char *want;
  bool same;

  if(!rest ||
     asprintf(&want, "\t%s\t%s\t%s", e->target, e->anchor, e->reference) < 0)
    return false;
  same = !strcasecmp(rest, want);
  free(want);
  return same;
}

static void memory_save(struct apply *a)
{
  cJSON *o = cJSON_CreateObject(), *arr;
  const char *what = NULL;
  char *text = NULL;
  size_t i;
  int rc = -ENOMEM;

  if(o && cJSON_AddNumberToObject(o, "version", APPLY_MEMORY_VERSION) &&
     (arr = cJSON_AddArrayToObject(o, "said"))) {
    for(i = 0; i < a->said.n; i++)
      if(!cJSON_AddItemToArray(arr, cJSON_CreateString(a->said.v[i])))
        break;
    if(i == a->said.n)
      text = cJSON_PrintUnformatted(o);
  }
  cJSON_Delete(o);
  if(text)
    rc = atomic_write(a->memory_path, text, strlen(text), 0640, &what);
  cJSON_free(text);
  if(rc)
    log_warnx("apply: tenant %s: %s: %s: %s; refusals may be alerted again",
              a->tenant, a->memory_path, what ? what : "out of memory",
              strerror(-rc));
}

/* memory_load() reads the refusal memory; a missing file is empty, a bad
 * one is logged, moved aside and treated as empty. */
static void memory_load(struct apply *a)
{
  char *text = NULL, aside[4096];
  const cJSON *arr, *it;
  cJSON *o = NULL;
  size_t len = 0;
  FILE *f = fopen(a->memory_path, "re");

  if(!f) {
    if(errno != ENOENT)
      log_warn("apply: tenant %s: %s", a->tenant, a->memory_path);
    return;
  }
  text = malloc(1 << 20);
  if(text)
    len = fread(text, 1, (1 << 20) - 1, f);
  fclose(f);
  if(text)
    o = cJSON_ParseWithLength(text, len);
  free(text);
  arr = cJSON_GetObjectItemCaseSensitive(o, "said");
  if(!cJSON_IsArray(arr) ||
     !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "version"))) {
    snprintf(aside, sizeof(aside), "%s.bad", a->memory_path);
    log_warnx("apply: tenant %s: %s is not a refusal memory; moved to %s, "
              "refusals may be alerted again",
              a->tenant, a->memory_path, aside);
    if(rename(a->memory_path, aside) < 0)
      log_warn("apply: tenant %s: rename %s", a->tenant, a->memory_path);
    cJSON_Delete(o);
    return;
  }
  cJSON_ArrayForEach(it, arr)
  {
    if(cJSON_IsString(it) && strlist_add(&a->said, it->valuestring))
      break;
  }
  cJSON_Delete(o);
}

/* memory_note() records that reason was said about e (NULL: a global
 * reason).  Any other reason about the same entry is forgotten, so a
 * change of reason is alerted.  Returns true when this is news (alert
 * it), false when it was said already (or out of memory). */
static bool memory_note(struct apply *a, const char *reason,
                        const struct anchors_entry *e)
{
  char *k = memory_key(reason, e);
  size_t i;
  bool news = false;

  if(!k)
    return false;
  if(strlist_find(&a->said, k) < 0) {
    for(i = 0; e && i < a->said.n;) {
      if(pair_of(a->said.v[i], e))
        strlist_del(&a->said, i);
      else
        i++;
    }
    news = !strlist_add(&a->said, k);
    memory_save(a);
  }
  free(k);
  return news;
}

/* memory_has() tells whether reason was noted for e. */
static bool memory_has(struct apply *a, const char *reason,
                       const struct anchors_entry *e)
{
  char *k = memory_key(reason, e);
  bool has = k && strlist_find(&a->said, k) >= 0;

  free(k);
  return has;
}

/* memory_forget() drops reason for e (NULL: the global one). */
static void memory_forget(struct apply *a, const char *reason,
                          const struct anchors_entry *e)
{
  char *k = memory_key(reason, e);
  ssize_t i = k ? strlist_find(&a->said, k) : -1;

  free(k);
  if(i >= 0) {
    strlist_del(&a->said, (size_t)i);
    memory_save(a);
  }
}

/* memory_prune() forgets what was said about entries no longer known. */
static void memory_prune(struct apply *a, const struct anchors_set *set)
{
  size_t i, k, n = anchors_set_count(set);
  bool changed = false;

  for(i = 0; i < a->said.n;) {
    const char *tab = strchr(a->said.v[i], '\t');
    bool keep = tab && tab[1] == '\t'; /* a global reason */

    for(k = 0; !keep && k < n; k++)
      keep = pair_of(a->said.v[i], anchors_set_get(set, k));
    if(keep)
      i++;
    else {
      strlist_del(&a->said, i);
      changed = true;
    }
  }
  if(changed)
    memory_save(a);
}

/* ===== alerts ===== */

/* file_unreadable() raises file.unreadable about path (err: why). */
static void file_unreadable(struct apply *a, const char *path, int err,
                            const char *cause)
{
  struct alert_daemon dm = {.path = path, .cause = cause};
  char code[32];

  snprintf(code, sizeof(code), "%s", strerrorname_np(-err));
  dm.code = code;
  alert_emit_daemon(a->alert, ALERT_FILE_UNREADABLE, a->tenant, &dm);
}

static void emit(struct pass *p, enum alert_type type, const char *reason,
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
    an.source = source_name(e->source);
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

/* refuse() logs and (once per memory key) alerts that guard reason keeps
 * entry p->e from being applied.  The caller goes on with next_entry(). */
static void refuse(struct pass *p, const char *reason, const char *fmt, ...)
    QD_PRINTF(3, 4);

static void refuse(struct pass *p, const char *reason, const char *fmt, ...)
{
  char why[1024], msg[1536];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  snprintf(msg, sizeof(msg),
           "refused to set onPremisesImmutableId of %s to %s (%s %s): %s: %s",
           p->e->target, p->e->anchor, source_name(p->e->source),
           p->e->reference, reason, why);
  if(memory_note(p->a, reason, p->e)) {
    log_warnx("apply: tenant %s: %s", p->a->tenant, msg);
    emit(p, ALERT_ANCHOR_REFUSED, reason, p->old_value, NULL, NULL, msg);
  }
  else
    log_debug("apply: tenant %s: %s (said before)", p->a->tenant, msg);
}

/* halt() stops the pass for a reason a human must handle (said once). */
static void halt(struct pass *p, const char *reason, const char *msg)
{
  const struct anchors_entry *e = p->e;

  p->e = NULL;
  if(memory_note(p->a, reason, NULL)) {
    log_errx("apply: tenant %s: %s", p->a->tenant, msg);
    emit(p, ALERT_ANCHOR_HALTED, reason, NULL, NULL, NULL, msg);
  }
  else
    log_debug("apply: tenant %s: %s (said before)", p->a->tenant, msg);
  p->e = e;
  end_pass(p);
}

static bool kill_switch_on(struct apply *a)
{
  return access(a->kill_switch, F_OK) == 0;
}

static bool check_kill_switch(struct pass *p)
{
  char msg[1024];

  if(!kill_switch_on(p->a)) {
    memory_forget(p->a, "kill-switch", NULL);
    return false;
  }
  snprintf(msg, sizeof(msg),
           "kill switch %s exists: no onPremisesImmutableId is written for "
           "tenant %s until it is removed",
           p->a->kill_switch, p->a->tenant);
  halt(p, "kill-switch", msg);
  return true;
}

static bool check_threshold(struct pass *p)
{
  struct apply *a = p->a;
  size_t total = p->js.total_applied + p->applied;
  char msg[1024];

  if(total < a->threshold) {
    memory_forget(a, "threshold", NULL);
    return false;
  }
  snprintf(msg, sizeof(msg),
           "%zu onPremisesImmutableId value%s applied in total for tenant %s "
           "(apply_threshold = %u): applying has stopped and needs a human. "
           "Review the journal (quarantinectl journal show %s), then raise "
           "apply_threshold in [tenant %s] and reload the daemon",
           total, total == 1 ? "" : "s", a->tenant, a->threshold,
           a->journal_path, a->tenant);
  halt(p, "threshold", msg);
  return true;
}

/* ===== the pass ===== */

static void candidate_clear(struct pass *p)
{
  free(p->user_id);
  free(p->upn);
  free(p->old_value);
  p->user_id = p->upn = p->old_value = NULL;
  p->synced = p->group_match = false;
  p->crid[0] = '\0';
  p->e = NULL;
}

static void pass_free(struct pass *p)
{
  candidate_clear(p);
  journal_close(p->j);
  journal_state_clear(&p->js);
  anchors_set_free(p->set);
  free(p->env_list);
  if(p->a->p == p)
    p->a->p = NULL;
  free(p);
}

/* gone() tells a Graph callback that the engine is closing or the request
 * was cancelled: the pass is then dropped without another write. */
static bool gone(struct pass *p, int result)
{
  if(!p->a->closing && result != -ECANCELED)
    return false;
  pass_free(p);
  return true;
}

static void run_command(struct apply *a, const char *list, size_t count);

static void end_pass(struct pass *p)
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

/* request() sends a GET (or the PATCH) for the pass; on failure to even
 * queue it the pass ends. */
static bool request(struct pass *p, const char *method, const char *path,
                    const char *const *headers, const char *body,
                    graph_done_cb cb)
{
  int rc = graph_request(p->a->g, method, path, headers, body, cb, p);

  if(rc) {
    log_warnx("apply: tenant %s: %s %s: %s; the pass ends", p->a->tenant,
              method, path, strerror(-rc));
    end_pass(p);
    return false;
  }
  return true;
}

static const char *err_text(int result, const struct graph_error *err,
                            char *buf, size_t len)
{
  snprintf(buf, len, "HTTP %ld %s%s%s (request-id %s)", err ? err->status : 0L,
           err && err->code[0] ? err->code : strerror(-result),
           err && err->message[0] ? ": " : "",
           err && err->message[0] ? err->message : "",
           err && err->request_id[0] ? err->request_id : "-");
  return buf;
}

static char *json_str_dup(const cJSON *o, const char *name)
{
  const char *s =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));

  return s ? strdup(s) : NULL;
}

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
    file_unreadable(p->a, p->a->journal_path, rc, cause);
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
static void load_anchors(struct pass *p);

static void on_reconcile(int result, long status, const cJSON *body,
                         const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  struct journal_pending *jp;
  struct journal_record r;
  const char *value = NULL;
  char buf[700];

  (void)status;
  if(gone(p, result))
    return;
  jp = &p->js.pending[p->pending_i];
  if(result && result != -ENOENT) {
    log_warnx("apply: tenant %s: cannot reconcile the intent on %s:%u "
              "(%s): %s; nothing is applied until it is reconciled",
              p->a->tenant, p->a->journal_path, jp->line, jp->rec.user_id,
              err_text(result, err, buf, sizeof(buf)));
    end_pass(p);
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
    end_pass(p);
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
             str_or(jp->rec.upn, "?"), jp->rec.user_id, jp->rec.new_value,
             jp->rec.client_request_id, jp->rec.source, jp->rec.reference);
    alert_event_init(&ev, ALERT_ANCHOR_APPLIED, p->a->tenant, NULL);
    ev.anchor = &an;
    ev.message = buf;
    alert_emit(p->a->alert, &ev);
  }
  p->pending_i++;
  reconcile_next(p);
}

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
        end_pass(p);
        return;
      }
    }
    load_anchors(p);
    return;
  }
  snprintf(path, sizeof(path),
           "/v1.0/users/%s?$select=id,onPremisesImmutableId",
           p->js.pending[p->pending_i].rec.user_id);
  request(p, "GET", path, NULL, NULL, on_reconcile);
}

/* --- step 3: the known anchors --- */

struct report {
  char text[1024];
  size_t errors;
};

static void on_report(void *arg, enum anchors_level level, const char *file,
                      unsigned line, const char *msg)
{
  struct report *r = arg;
  size_t len = strlen(r->text);

  if(level != ANCHORS_ERROR) {
    log_info("anchors: %s:%u: %s", file, line, msg);
    return;
  }
  log_warnx("anchors: %s:%u: %s", file, line, msg);
  if(!r->errors++ && len < sizeof(r->text))
    snprintf(r->text + len, sizeof(r->text) - len, "%s:%u: %s", file, line,
             msg);
}

static void check_takeover(struct pass *p);

static bool is_candidate(struct pass *p, const struct anchors_entry *e)
{
  if(e->target_is_id && journal_state_applied(&p->js, e->target, e->anchor))
    return false;
  return !memory_has(p->a, "patch-refused", e);
}

static void load_anchors(struct pass *p)
{
  struct apply *a = p->a;
  struct report rep;
  char msg[1536];
  size_t i, n = 0;
  int rc = 0, src;

  memset(&rep, 0, sizeof(rep));
  p->set = anchors_set_new(a->want_len);
  if(!p->set) {
    end_pass(p);
    return;
  }
  if(a->anchors_file)
    rc = anchors_load_csv(p->set, a->anchors_file, p->now, on_report, &rep);
  src = rc;
  if(!rc) {
    rc = anchors_load_suggestions(p->set, a->suggestions_path, p->now,
                                  on_report, &rep);
    if(rc == -ENOENT)
      rc = 0;
  }
  if(rc) {
    if(!rep.errors)
      snprintf(rep.text, sizeof(rep.text), "%s: %s",
               src ? a->anchors_file : a->suggestions_path, strerror(-rc));
    snprintf(msg, sizeof(msg),
             "known anchors not used: %s%s; fix the file (quarantinectl "
             "anchors check) - no value is applied while any line is bad",
             rep.text, rep.errors > 1 ? " (and more lines, see the log)" : "");
    p->e = NULL;
    if(memory_note(a, "anchors-file-invalid", NULL)) {
      log_errx("apply: tenant %s: %s", a->tenant, msg);
      emit(p, ALERT_ANCHOR_REFUSED, "anchors-file-invalid", NULL, NULL, NULL,
           msg);
      /* Not a bad line: the file itself cannot be read. */
      if(rc == -ENOENT || rc == -EACCES || rc == -EPERM || rc == -EIO ||
         rc == -EISDIR)
        file_unreadable(a, src ? a->anchors_file : a->suggestions_path, rc,
                        rep.text);
    }
    end_pass(p);
    return;
  }
  memory_forget(a, "anchors-file-invalid", NULL);
  memory_prune(a, p->set);
  if(check_threshold(p))
    return;
  for(i = 0; i < anchors_set_count(p->set); i++)
    n += is_candidate(p, anchors_set_get(p->set, i));
  log_debug("apply: tenant %s: %zu known anchor%s, %zu to look at", a->tenant,
            anchors_set_count(p->set),
            anchors_set_count(p->set) == 1 ? "" : "s", n);
  if(!n) {
    end_pass(p);
    return;
  }
  check_takeover(p);
}

/* --- step 5: the tenant feature --- */

static void on_takeover(int result, long status, const cJSON *body,
                        const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  const cJSON *sync = body, *features, *flag;
  char buf[700];

  (void)status;
  if(gone(p, result))
    return;
  p->takeover = -1;
  if(!result) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "value");

    /* A collection ({"value": [...]}) or the one object. */
    if(cJSON_IsArray(v))
      sync = cJSON_GetArrayItem(v, 0);
    features = cJSON_GetObjectItemCaseSensitive(sync, "features");
    flag = cJSON_GetObjectItemCaseSensitive(
        features, "blockCloudObjectTakeoverThroughHardMatchEnabled");
    if(cJSON_IsBool(flag))
      p->takeover = cJSON_IsTrue(flag);
    else
      snprintf(p->takeover_why, sizeof(p->takeover_why),
               "the answer has no features/blockCloudObjectTakeoverThrough"
               "HardMatchEnabled");
  }
  else
    snprintf(p->takeover_why, sizeof(p->takeover_why),
             "GET /v1.0/directory/onPremisesSynchronization: %s",
             err_text(result, err, buf, sizeof(buf)));
  if(p->takeover < 0 && !p->a->takeover_said) {
    p->a->takeover_said = true;
    log_warnx("apply: tenant %s: cannot read the tenant feature "
              "blockCloudObjectTakeoverThroughHardMatchEnabled (%s); Graph "
              "offers it to delegated Global Administrators only. %s",
              p->a->tenant, p->takeover_why,
              p->a->takeover_allow
                  ? "apply_takeover_unreadable = allow: going on"
                  : "Nothing is applied (apply_takeover_unreadable = refuse)");
  }
  else if(p->takeover >= 0)
    p->a->takeover_said = false;
  next_entry(p);
}

static void check_takeover(struct pass *p)
{
  request(p, "GET", "/v1.0/directory/onPremisesSynchronization", NULL, NULL,
          on_takeover);
}

/* --- per entry --- */

static void on_user(int result, long status, const cJSON *body,
                    const struct graph_error *err, void *arg);

static void next_entry(struct pass *p)
{
  struct apply *a = p->a;
  char path[1024], why[128];
  enum anchor_error ae;
  size_t got = 0;

  /* The guards that need no request are a loop, not a recursion. */
  for(;;) {
    candidate_clear(p);
    for(; p->i < anchors_set_count(p->set); p->i++)
      if(is_candidate(p, anchors_set_get(p->set, p->i)))
        break;
    if(p->i == anchors_set_count(p->set)) {
      end_pass(p);
      return;
    }
    p->e = anchors_set_get(p->set, p->i++);
    if(p->takeover > 0)
      refuse(p, "takeover-blocked",
             "the tenant feature blockCloudObjectTakeoverThroughHardMatch"
             "Enabled is on, so Entra would refuse the hard match "
             "(InvalidHardMatch); turn it off (Update-MgDirectoryOnPremise"
             "Synchronization) if the takeover is intended");
    else if(p->takeover < 0 && !a->takeover_allow)
      refuse(p, "takeover-unknown",
             "cannot tell whether blockCloudObjectTakeoverThroughHardMatch"
             "Enabled is on (%s); check it with Get-MgDirectoryOnPremise"
             "Synchronization and, when it is off, set "
             "apply_takeover_unreadable = allow",
             p->takeover_why);
    else if((ae = anchor_check(p->e->anchor, a->want_len, NULL, &got)) !=
            ANCHOR_OK)
      refuse(p, "anchor-invalid", "%s",
             anchor_strerror(ae, a->want_len, got, why, sizeof(why)));
    else
      break;
  }
  if(p->e->target_is_id)
    snprintf(path, sizeof(path),
             "/v1.0/users/%s?$select=id,userPrincipalName,"
             "onPremisesSyncEnabled,onPremisesImmutableId",
             p->e->target);
  else {
    char *esc = curl_easy_escape(NULL, p->e->target, 0);

    if(!esc) {
      end_pass(p);
      return;
    }
    snprintf(path, sizeof(path),
             "/v1.0/users/%s?$select=id,userPrincipalName,"
             "onPremisesSyncEnabled,onPremisesImmutableId",
             esc);
    curl_free(esc);
  }
  request(p, "GET", path, NULL, NULL, on_user);
}

static void on_deleted(int result, long status, const cJSON *body,
                       const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  char buf[700];

  (void)status;
  (void)body;
  if(gone(p, result))
    return;
  if(!result)
    refuse(p, "target-deleted",
           "user %s is soft-deleted (in deleted items); restore it first or "
           "correct the known-anchors entry",
           p->e->target);
  else if(result == -ENOENT)
    refuse(p, "target-not-found", "no user %s in the tenant", p->e->target);
  else
    log_warnx("apply: tenant %s: deleted items look-up of %s: %s; tried again "
              "next cycle",
              p->a->tenant, p->e->target,
              err_text(result, err, buf, sizeof(buf)));
  next_entry(p);
}

static void check_allowed(struct pass *p);

static void on_user(int result, long status, const cJSON *body,
                    const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  const cJSON *sync;
  char path[256], buf[700];

  (void)status;
  if(gone(p, result))
    return;
  if(result == -ENOENT && p->e->target_is_id) {
    /* Get deleted item: GET /directory/deletedItems/{id} (Graph v1.0
     * directory-get-deleteditem). */
    snprintf(path, sizeof(path), "/v1.0/directory/deletedItems/%s",
             p->e->target);
    request(p, "GET", path, NULL, NULL, on_deleted);
    return;
  }
  if(result == -ENOENT) {
    refuse(p, "target-not-found", "no user %s in the tenant", p->e->target);
    next_entry(p);
    return;
  }
  if(result) {
    log_warnx("apply: tenant %s: GET user %s: %s; tried again next cycle",
              p->a->tenant, p->e->target,
              err_text(result, err, buf, sizeof(buf)));
    next_entry(p);
    return;
  }
  p->user_id = json_str_dup(body, "id");
  p->upn = json_str_dup(body, "userPrincipalName");
  p->old_value = json_str_dup(body, "onPremisesImmutableId");
  sync = cJSON_GetObjectItemCaseSensitive(body, "onPremisesSyncEnabled");
  p->synced = cJSON_IsTrue(sync);
  if(!p->user_id || !p->upn) {
    log_warnx("apply: tenant %s: GET user %s: no id or userPrincipalName in "
              "the answer; skipped",
              p->a->tenant, p->e->target);
    next_entry(p);
    return;
  }
  if(journal_state_applied(&p->js, p->user_id, p->e->anchor)) {
    log_debug("apply: tenant %s: %s already applied to %s (journal)",
              p->a->tenant, p->e->anchor, p->user_id);
    next_entry(p);
    return;
  }
  if(p->synced) {
    refuse(p, "target-synced",
           "%s is synced from on-premises (onPremisesSyncEnabled true): its "
           "anchor is written by the sync engine, never in the cloud",
           p->upn);
    next_entry(p);
    return;
  }
  if(p->old_value && !strcmp(p->old_value, p->e->anchor)) {
    if(memory_note(p->a, "already-set", p->e))
      log_info("apply: tenant %s: %s already has onPremisesImmutableId %s; "
               "nothing to do",
               p->a->tenant, p->upn, p->e->anchor);
    next_entry(p);
    return;
  }
  if(p->old_value) {
    refuse(p, "target-has-anchor",
           "%s already has onPremisesImmutableId %s; the daemon never "
           "replaces a value",
           p->upn, p->old_value);
    next_entry(p);
    return;
  }
  check_allowed(p);
}

/* --- step 8: the allow-list --- */

static void after_allowed(struct pass *p);

static int on_member_page(const cJSON *page, void *arg)
{
  struct pass *p = arg;
  const cJSON *it;

  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(page, "value"))
  {
    const char *id =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"));
    size_t i;

    for(i = 0; id && i < p->a->groups.n; i++)
      if(!strcasecmp(id, p->a->groups.v[i]))
        p->group_match = true;
  }
  return 0;
}

static void on_members_done(int result, const char *delta_link,
                            const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  char buf[700];

  (void)delta_link;
  if(gone(p, result))
    return;
  if(result) {
    refuse(p, "not-allowed",
           "%s is not in apply_allow_domains, and its group memberships "
           "cannot be read: %s",
           p->upn, err_text(result, err, buf, sizeof(buf)));
    next_entry(p);
    return;
  }
  if(!p->group_match) {
    refuse(p, "not-allowed",
           "%s is in neither apply_allow_domains nor a group of "
           "apply_allow_groups",
           p->upn);
    next_entry(p);
    return;
  }
  after_allowed(p);
}

static void check_allowed(struct pass *p)
{
  struct apply *a = p->a;
  const char *at = strrchr(p->upn, '@');
  char path[256];
  size_t i;
  int rc;

  if(a->allow_all_domains) {
    after_allowed(p);
    return;
  }
  for(i = 0; at && i < a->domains.n; i++)
    if(!strcasecmp(at + 1, a->domains.v[i])) {
      after_allowed(p);
      return;
    }
  if(!a->domains.n && !a->groups.n) {
    refuse(p, "not-allowed",
           "no allow-list is configured: set apply_allow_domains (or '*') "
           "or apply_allow_groups in [tenant %s]",
           a->tenant);
    next_entry(p);
    return;
  }
  if(!a->groups.n) {
    refuse(p, "not-allowed", "the domain of %s is not in apply_allow_domains",
           p->upn);
    next_entry(p);
    return;
  }
  /* List a user's memberships, direct and transitive (Graph v1.0
   * user-list-transitivememberof). */
  snprintf(path, sizeof(path), "/v1.0/users/%s/transitiveMemberOf?$select=id",
           p->user_id);
  rc = graph_list(a->g, path, NULL, on_member_page, on_members_done, p);
  if(rc) {
    log_warnx("apply: tenant %s: GET %s: %s; the pass ends", a->tenant, path,
              strerror(-rc));
    end_pass(p);
  }
}

/* --- step 11: in use --- */

static void on_in_use(int result, long status, const cJSON *body,
                      const struct graph_error *err, void *arg);

/* filter_request() GETs base with the $filter "<field> eq '<value>'" and
 * $select select; value is a checked anchor or a GUID, which hold no
 * quote.  Out of memory ends the pass. */
static void filter_request(struct pass *p, const char *base, const char *field,
                           const char *value, const char *select,
                           graph_done_cb cb)
{
  char *filter = NULL, *path = NULL;

  if(asprintf(&filter, "%s eq '%s'", field, value) >= 0)
    path = graph_filter_path(base, filter, select, NULL);
  free(filter);
  if(!path) {
    end_pass(p);
    return;
  }
  request(p, "GET", path, NULL, NULL, cb);
  free(path);
}

static void after_allowed(struct pass *p)
{
  /* user.md: onPremisesImmutableId supports $filter eq (graph-facts 6). */
  filter_request(p, "/v1.0/users", "onPremisesImmutableId", p->e->anchor,
                 "id,userPrincipalName,onPremisesSyncEnabled", on_in_use);
}

static void on_roles(int result, long status, const cJSON *body,
                     const struct graph_error *err, void *arg);

static void on_in_use(int result, long status, const cJSON *body,
                      const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  const cJSON *it;
  char buf[700];

  (void)status;
  if(gone(p, result))
    return;
  if(result) {
    log_warnx("apply: tenant %s: in-use check of %s: %s; tried again next "
              "cycle",
              p->a->tenant, p->e->anchor,
              err_text(result, err, buf, sizeof(buf)));
    next_entry(p);
    return;
  }
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(body, "value"))
  {
    const char *id =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"));
    const char *upn = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(it, "userPrincipalName"));

    if(!id || !strcasecmp(id, p->user_id))
      continue;
    if(cJSON_IsTrue(
           cJSON_GetObjectItemCaseSensitive(it, "onPremisesSyncEnabled")))
      refuse(p, "anchor-in-use",
             "the value is the onPremisesImmutableId of synced user %s (%s), "
             "typically the duplicate that Duplicate Attribute Resiliency "
             "created for the on-premises account. Take the on-premises "
             "object out of sync scope, run a delta sync, delete the "
             "duplicate (also from deleted items); the daemon then applies "
             "the value",
             str_or(upn, "?"), id);
    else
      refuse(p, "anchor-in-use",
             "the value is already the onPremisesImmutableId of user %s (%s); "
             "Entra allows it on one object only",
             str_or(upn, "?"), id);
    next_entry(p);
    return;
  }
  /* List unifiedRoleAssignments with $filter=principalId eq '{id}' (Graph
   * v1.0 rbacapplication-list-roleassignments). */
  filter_request(p, "/v1.0/roleManagement/directory/roleAssignments",
                 "principalId", p->user_id, "id,roleDefinitionId", on_roles);
}

/* --- steps 12-15 and the write --- */

static void write_value(struct pass *p);

static void on_roles(int result, long status, const cJSON *body,
                     const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  const cJSON *first;
  char buf[700];

  (void)status;
  if(gone(p, result))
    return;
  if(result == -EACCES) {
    if(!p->a->roles_said)
      log_warnx("apply: tenant %s: admin roles are not detectable (%s); "
                "going on: Entra refuses a hard match to a user with an "
                "admin role itself (ExistingAdminRoleConflict)",
                p->a->tenant, err_text(result, err, buf, sizeof(buf)));
    p->a->roles_said = true;
  }
  else if(result) {
    log_warnx("apply: tenant %s: role check of %s: %s; tried again next "
              "cycle",
              p->a->tenant, p->upn, err_text(result, err, buf, sizeof(buf)));
    next_entry(p);
    return;
  }
  else {
    first =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(body, "value"), 0);
    if(first) {
      refuse(p, "target-admin",
             "%s holds a directory role (roleDefinitionId %s); Entra refuses "
             "to match an on-premises user to a cloud administrator "
             "(ExistingAdminRoleConflict). Remove the role first",
             p->upn,
             str_or(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                        first, "roleDefinitionId")),
                    "?"));
      next_entry(p);
      return;
    }
  }
  write_value(p);
}

static void on_patch(int result, long status, const cJSON *body,
                     const struct graph_error *err, void *arg);

static void write_value(struct pass *p)
{
  struct apply *a = p->a;
  struct journal_record r;
  char msg[1536], hdr[64], *body;
  const char *headers[3];
  cJSON *o;

  if(p->writes >= a->max_per_cycle) {
    log_info("apply: tenant %s: apply_max_per_cycle (%u) reached; %s and "
             "the rest wait for the next cycle",
             a->tenant, a->max_per_cycle, p->e->target);
    end_pass(p);
    return;
  }
  if(check_threshold(p) || check_kill_switch(p))
    return;
  p->writes++;
  if(a->mode == CFG_APPLY_DRY_RUN) {
    snprintf(msg, sizeof(msg),
             "dry-run: would send PATCH /v1.0/users/%s "
             "{\"onPremisesImmutableId\":\"%s\"} for %s (%s %s); nothing "
             "written",
             p->user_id, p->e->anchor, p->upn, source_name(p->e->source),
             p->e->reference);
    if(memory_note(a, "dry-run", p->e)) {
      log_notice("apply: tenant %s: %s", a->tenant, msg);
      emit(p, ALERT_ANCHOR_DRY_RUN, NULL, NULL, NULL, NULL, msg);
    }
    next_entry(p);
    return;
  }
  http_uuid(p->crid);
  memset(&r, 0, sizeof(r));
  r.kind = JOURNAL_INTENT;
  r.user_id = p->user_id;
  r.upn = p->upn;
  r.old_value = NULL;
  r.new_value = p->e->anchor;
  r.source = source_name(p->e->source);
  r.reference = p->e->reference;
  r.client_request_id = p->crid;
  /* Never PATCH without the intent on disk. */
  if(append(p, &r)) {
    end_pass(p);
    return;
  }
  o = cJSON_CreateObject();
  body = o && cJSON_AddStringToObject(o, "onPremisesImmutableId", p->e->anchor)
             ? cJSON_PrintUnformatted(o)
             : NULL;
  cJSON_Delete(o);
  if(!body) {
    /* The intent stays without an outcome: reconciled next pass. */
    end_pass(p);
    return;
  }
  snprintf(hdr, sizeof(hdr), "client-request-id: %s", p->crid);
  headers[0] = "Content-Type: application/json";
  headers[1] = hdr;
  headers[2] = NULL;
  snprintf(msg, sizeof(msg), "/v1.0/users/%s", p->user_id);
  log_info("apply: tenant %s: PATCH %s onPremisesImmutableId = %s for %s "
           "(%s %s, client-request-id %s)",
           a->tenant, msg, p->e->anchor, p->upn, source_name(p->e->source),
           p->e->reference, p->crid);
  request(p, "PATCH", msg, headers, body, on_patch);
  cJSON_free(body);
}

static void on_verify(int result, long status, const cJSON *body,
                      const struct graph_error *err, void *arg);

static void on_patch(int result, long status, const cJSON *body,
                     const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  char path[256];

  (void)status;
  (void)body;
  if(gone(p, result))
    return;
  p->patch_result = result;
  memset(&p->patch_err, 0, sizeof(p->patch_err));
  if(err)
    p->patch_err = *err;
  /* Whatever the answer, the GET tells what is there now. */
  snprintf(path, sizeof(path),
           "/v1.0/users/%s?$select=id,onPremisesImmutableId", p->user_id);
  request(p, "GET", path, NULL, NULL, on_verify);
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

static void on_verify(int result, long status, const cJSON *body,
                      const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  struct journal_record r;
  const char *value = NULL, *patch_rid, *get_rid;
  char msg[1536], why[800], buf[700];
  bool definite;

  (void)status;
  if(gone(p, result))
    return;
  patch_rid = p->patch_err.request_id[0] ? p->patch_err.request_id : NULL;
  get_rid = err && err->request_id[0] ? err->request_id : NULL;
  if(result) {
    /* Outcome unknown: the intent stays open and is reconciled first
     * thing in the next pass. */
    log_warnx("apply: tenant %s: cannot verify onPremisesImmutableId of %s "
              "(%s); the intent %s is reconciled next cycle",
              p->a->tenant, p->upn, err_text(result, err, buf, sizeof(buf)),
              p->crid);
    end_pass(p);
    return;
  }
  value = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(body, "onPremisesImmutableId"));
  memset(&r, 0, sizeof(r));
  r.user_id = p->user_id;
  r.upn = p->upn;
  r.old_value = p->old_value;
  r.new_value = p->e->anchor;
  r.source = source_name(p->e->source);
  r.reference = p->e->reference;
  r.client_request_id = p->crid;
  r.patch_request_id = patch_rid;
  r.get_request_id = get_rid;
  if(value && !strcmp(value, p->e->anchor)) {
    r.kind = JOURNAL_APPLIED;
    if(append(p, &r)) {
      end_pass(p);
      return;
    }
    p->applied++;
    add_env(p);
    snprintf(msg, sizeof(msg),
             "onPremisesImmutableId of %s (%s) set to %s and verified (%s %s, "
             "request-id %s); the next sync can hard-match the on-premises "
             "object",
             p->upn, p->user_id, p->e->anchor, source_name(p->e->source),
             p->e->reference, str_or(patch_rid, "-"));
    memory_note(p->a, "applied", p->e);
    log_notice("apply: tenant %s: %s", p->a->tenant, msg);
    emit(p, ALERT_ANCHOR_APPLIED, NULL, p->old_value, patch_rid, get_rid, msg);
    next_entry(p);
    return;
  }
  /* A 4xx is Graph's considered no; a transport error or 5xx may have been
   * anything, so that one is tried again next cycle. */
  definite = p->patch_result == -EINVAL || p->patch_result == -EACCES ||
             p->patch_result == -ENOENT || p->patch_result == 0;
  if(p->patch_result)
    err_text(p->patch_result, &p->patch_err, why, sizeof(why));
  else
    snprintf(why, sizeof(why),
             "PATCH answered %ld but GET shows onPremisesImmutableId %s",
             p->patch_err.status, str_or(value, "not set"));
  r.kind = JOURNAL_FAILED;
  r.error = why;
  if(append(p, &r)) {
    end_pass(p);
    return;
  }
  snprintf(msg, sizeof(msg),
           "setting onPremisesImmutableId of %s (%s) to %s failed (%s %s): "
           "%s; %s",
           p->upn, p->user_id, p->e->anchor, source_name(p->e->source),
           p->e->reference, why,
           definite ? "not tried again until the entry's reference changes"
                    : "tried again next cycle");
  log_errx("apply: tenant %s: %s", p->a->tenant, msg);
  emit(p, ALERT_ANCHOR_FAILED,
       p->patch_result ? "patch-refused" : "not-verified", p->old_value,
       patch_rid, get_rid, msg);
  if(definite)
    memory_note(p->a, "patch-refused", p->e);
  next_entry(p);
}

/* ===== post_apply_command ===== */

/* log_output() logs what the command wrote, at most 20 lines. */
static void log_output(struct apply *a)
{
  char *line, *save = NULL;
  unsigned n = 0;

  a->output[a->outlen] = '\0';
  for(line = strtok_r(a->output, "\n", &save); line && n < 20;
      line = strtok_r(NULL, "\n", &save), n++)
    log_info("apply: tenant %s: post_apply_command: %s", a->tenant, line);
  if(line || a->dropped)
    log_info("apply: tenant %s: post_apply_command: (more output not "
             "logged)",
             a->tenant);
  a->outlen = 0;
  a->dropped = 0;
}

/* handle_closed() is the close callback of every handle the engine owns:
 * when closing, the last one calls back; otherwise the end of the child
 * (process and pipe both closed) is logged. */
static void handle_closed(uv_handle_t *h)
{
  struct apply *a = h->data;

  if(h == (uv_handle_t *)&a->proc)
    a->proc_open = false;
  else if(h == (uv_handle_t *)&a->out)
    a->out_open = false;
  a->open_handles--;
  if(a->closing) {
    if(!a->open_handles && a->closed_cb)
      a->closed_cb(a->closed_arg);
    return;
  }
  if(a->child && !a->proc_open && !a->out_open) {
    a->child = false;
    uv_timer_stop(&a->timer);
    log_output(a);
  }
}

static void close_handle(uv_handle_t *h)
{
  if(!uv_is_closing(h))
    uv_close(h, handle_closed);
}

static void on_child_exit(uv_process_t *proc, int64_t status, int signo)
{
  struct apply *a = proc->data;

  if(signo)
    log_warnx("apply: tenant %s: post_apply_command killed by signal %d%s",
              a->tenant, signo, a->killed ? " (timeout)" : "");
  else if(status)
    log_warnx("apply: tenant %s: post_apply_command exited with status %lld",
              a->tenant, (long long)status);
  else
    log_info("apply: tenant %s: post_apply_command exited with status 0",
             a->tenant);
  close_handle((uv_handle_t *)proc);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  static char scratch[1024];
  struct apply *a = h->data;

  (void)suggested;
  if(a->outlen < sizeof(a->output) - 1)
    *buf = uv_buf_init(a->output + a->outlen,
                       (unsigned)(sizeof(a->output) - 1 - a->outlen));
  else
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct apply *a = s->data;

  if(n > 0) {
    if(buf->base == a->output + a->outlen)
      a->outlen += (size_t)n;
    else
      a->dropped += (size_t)n;
  }
  else if(n < 0)
    close_handle((uv_handle_t *)s);
}

/* kill_group() signals the command's whole process group: a child of the
 * shell (e.g. ssh) would otherwise keep the output pipe open. */
static void kill_group(struct apply *a, int sig)
{
  if(a->proc.pid > 0 && uv_kill(-a->proc.pid, sig) < 0)
    uv_process_kill(&a->proc, sig);
}

static void on_timeout(uv_timer_t *t)
{
  struct apply *a = t->data;

  if(!a->proc_open || uv_is_closing((uv_handle_t *)&a->proc))
    return;
  if(!a->killed) {
    log_warnx("apply: tenant %s: post_apply_command still runs after %u s "
              "(post_apply_timeout); killing it",
              a->tenant, a->post_timeout);
    a->killed = true;
    kill_group(a, SIGTERM);
    uv_timer_start(&a->timer, on_timeout, APPLY_KILL_GRACE_MS, 0);
    return;
  }
  kill_group(a, SIGKILL);
}

/* run_command() starts post_apply_command with /bin/sh -c (stderr joined
 * to stdout) and a clean environment: PATH, QD_TENANT, QD_TENANT_ID,
 * QD_APPLIED_COUNT and QD_APPLIED (one "user id TAB upn TAB anchor TAB
 * reference" line per value applied this cycle).  Nothing secret is
 * passed: the daemon's own environment is not inherited. */
static void run_command(struct apply *a, const char *list, size_t count)
{
  uv_process_options_t po;
  uv_stdio_container_t stdio[3];
  char *env[6] = {NULL}, *args[4], *script = NULL;
  int rc;
  size_t i;

  if(a->child) {
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
  rc = uv_pipe_init(a->loop, &a->out, 0);
  if(rc) {
    log_warnx("apply: tenant %s: post_apply_command: pipe: %s", a->tenant,
              uv_strerror(rc));
    goto out;
  }
  a->out.data = a;
  a->out_open = true;
  a->open_handles++;
  args[0] = "/bin/sh";
  args[1] = "-c";
  args[2] = script;
  args[3] = NULL;
  memset(&po, 0, sizeof(po));
  memset(stdio, 0, sizeof(stdio));
  po.file = args[0];
  po.args = args;
  po.env = env;
  po.cwd = "/";
  po.exit_cb = on_child_exit;
  /* Its own process group, so that a timeout kills everything it ran. */
  po.flags = UV_PROCESS_DETACHED;
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&a->out;
  stdio[2].flags = UV_IGNORE;
  po.stdio = stdio;
  po.stdio_count = 3;
  a->proc.data = a;
  a->killed = false;
  a->outlen = a->dropped = 0;
  a->child = true;
  /* The process handle is initialised even when uv_spawn fails and must
   * be closed either way (libuv >= 1.24). */
  rc = uv_spawn(a->loop, &a->proc, &po);
  a->proc_open = true;
  a->open_handles++;
  if(rc) {
    log_warnx("apply: tenant %s: post_apply_command: cannot start /bin/sh: "
              "%s",
              a->tenant, uv_strerror(rc));
    close_handle((uv_handle_t *)&a->proc);
    close_handle((uv_handle_t *)&a->out);
    goto out;
  }
  log_info("apply: tenant %s: post_apply_command started (pid %d) for %zu "
           "value%s",
           a->tenant, a->proc.pid, count, count == 1 ? "" : "s");
  uv_read_start((uv_stream_t *)&a->out, on_alloc, on_read);
  uv_timer_start(&a->timer, on_timeout, (uint64_t)a->post_timeout * 1000, 0);
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
  if(check_kill_switch(p))
    return;
  if(journal_load(a->journal_path, a->tenant, &p->js, err, sizeof(err))) {
    log_errx("apply: tenant %s: %s; nothing is applied until the journal "
             "can be read",
             a->tenant, err);
    end_pass(p);
    return;
  }
  reconcile_next(p);
}

int apply_new(uv_loop_t *loop, struct graph *g, struct alert *alert,
              const struct cfg_tenant *tc, const char *state_dir,
              struct apply **out)
{
  struct apply *a = calloc(1, sizeof(*a));
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
                       : apply_kill_switch_path(state_dir, tc->name);
  a->journal_path = journal_path(state_dir, tc->name);
  a->memory_path = apply_memory_path(state_dir, tc->name);
  a->suggestions_path = suggest_path(state_dir, tc->name);
  rc = -ENOMEM;
  if(!a->tenant || !a->tenant_id || !a->kill_switch || !a->journal_path ||
     !a->memory_path || !a->suggestions_path ||
     (tc->anchors_file && !a->anchors_file) ||
     (tc->post_apply_command && !a->post_cmd) ||
     split_words(&a->domains, tc->apply_allow_domains) ||
     split_words(&a->groups, tc->apply_allow_groups))
    goto fail;
  a->allow_all_domains = a->domains.n == 1 && !strcmp(a->domains.v[0], "*");
  rc = uv_timer_init(loop, &a->timer);
  if(rc)
    goto fail;
  a->timer.data = a;
  a->open_handles = 1;
  memory_load(a);
  if(a->mode != CFG_APPLY_OFF)
    log_info("apply: tenant %s: %s mode; anchors from %s and approved lines "
             "of %s; kill switch %s",
             a->tenant, a->mode == CFG_APPLY_APPLY ? "apply" : "dry-run",
             str_or(a->anchors_file, "(no anchors_file)"), a->suggestions_path,
             a->kill_switch);
  *out = a;
  return 0;

fail:
  log_warnx("apply: tenant %s: cannot set up: %s", tc->name,
            rc == -ENOMEM ? "out of memory" : uv_strerror(rc));
  a->open_handles = 0;
  apply_free(a);
  return rc == -ENOMEM ? rc : -EIO;
}

void apply_close(struct apply *a, void (*closed_cb)(void *arg), void *arg)
{
  a->closing = true;
  a->closed_cb = closed_cb;
  a->closed_arg = arg;
  if(a->proc_open && !uv_is_closing((uv_handle_t *)&a->proc)) {
    log_info("apply: tenant %s: stopping post_apply_command (pid %d)",
             a->tenant, a->proc.pid);
    kill_group(a, SIGTERM);
    close_handle((uv_handle_t *)&a->proc);
  }
  if(a->out_open)
    close_handle((uv_handle_t *)&a->out);
  close_handle((uv_handle_t *)&a->timer);
}

void apply_free(struct apply *a)
{
  if(!a)
    return;
  if(a->p)
    pass_free(a->p);
  strlist_clear(&a->domains);
  strlist_clear(&a->groups);
  strlist_clear(&a->said);
  free(a->tenant);
  free(a->tenant_id);
  free(a->anchors_file);
  free(a->post_cmd);
  free(a->kill_switch);
  free(a->journal_path);
  free(a->memory_path);
  free(a->suggestions_path);
  free(a);
}

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
