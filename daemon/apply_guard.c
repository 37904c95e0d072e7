/* SPDX-License-Identifier: MIT
 *
 * apply_guard: the guards of one pass, in this fixed order (the reason
 * code of each refusal in brackets):
 *
 *   per pass:  1 kill switch file exists [kill-switch: halt, said once]
 *              2 intents without an outcome in the journal are settled
 *                from Graph when that is safe (apply_settle.c; a failed
 *                read ends the pass)
 *              3 anchors_file and approved suggestions load without an
 *                error [anchors-file-invalid]
 *              4 journal total < apply_threshold [threshold: halt]
 *              5 tenant feature blockCloudObjectTakeoverThroughHardMatch-
 *                Enabled is off [takeover-blocked]; unreadable: refused
 *                unless apply_takeover_unreadable = allow [takeover-unknown]
 *   per entry: 6 anchor format (anchor_check, anchor_length) [anchor-invalid]
 *              7 the target exists [target-not-found], not soft-deleted
 *                [target-deleted]; already applied per journal, or an
 *                intent on that user not yet settled: skipped
 *              8 the target is cloud-only [target-synced]
 *              9 it has no onPremisesImmutableId [target-has-anchor]; the
 *                same value: nothing to do
 *             10 the UPN's domain is not federated [target-federated]:
 *                Graph cannot set the value for such a user; unreadable
 *                domain: said once, go on (Graph's 400 parks the entry)
 *             11 allow-list: UPN domain or group membership [not-allowed]
 *             12 no other object has the value [anchor-in-use]
 *             13 no directory role assignment [target-admin]; unreadable
 *                (403): said once, go on (Entra itself refuses a hard match
 *                to an admin, ExistingAdminRoleConflict)
 *             14 PATCHes this pass < apply_max_per_cycle (the rest waits)
 *             15 journal total + this pass < apply_threshold [threshold]
 *             16 kill switch again [kill-switch]
 *   then apply_write() (apply.c).
 *
 * Each (reason, target, anchor, reference) is alerted once (refusals.c).
 * A PATCH that Graph refused is parked under reason patch-refused until
 * the entry's reference changes; guard 7 skips parked entries.  A PATCH
 * refused with 403 is a missing permission, not the entry's fault: the
 * tenant-wide write-forbidden (apply.c) stops every pass before guard 5
 * until the engine starts again (restart or reload).
 */
#include "apply_guard.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "anchor.h"
#include "anchors.h"
#include "apply_int.h"
#include "apply_settle.h"
#include "graph.h"
#include "journal.h"
#include "jsonx.h"
#include "log.h"
#include "refusals.h"

/* --- refusing and halting --- */

/* refuse() logs and (once per memory key) alerts that guard reason keeps
 * entry p->e from being applied.  The caller goes on with apply_guard_next().
 */
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
           p->e->target, p->e->anchor, anchors_source_name(p->e->source),
           p->e->reference, reason, why);
  if(refusals_note(p->a->said, reason, p->e)) {
    p->a->stats.refused++;
    log_warnx("apply: tenant %s: %s", p->a->tenant, msg);
    apply_emit(p, ALERT_ANCHOR_REFUSED, reason, p->old_value, NULL, NULL, msg);
  }
  else
    log_debug("apply: tenant %s: %s (said before)", p->a->tenant, msg);
}

/* halt() stops the pass for a reason a human must handle (said once). */
static void halt(struct pass *p, const char *reason, const char *msg)
{
  const struct anchors_entry *e = p->e;

  p->e = NULL;
  if(refusals_note(p->a->said, reason, NULL)) {
    log_errx("apply: tenant %s: %s", p->a->tenant, msg);
    apply_emit(p, ALERT_ANCHOR_HALTED, reason, NULL, NULL, NULL, msg);
  }
  else
    log_debug("apply: tenant %s: %s (said before)", p->a->tenant, msg);
  p->e = e;
  apply_end_pass(p);
}

/* --- steps 1, 4, 14 and 15: the kill switch and the threshold --- */

static bool kill_switch_on(struct apply *a)
{
  return access(a->kill_switch, F_OK) == 0;
}

bool apply_guard_kill_switch(struct pass *p)
{
  char msg[1024];

  if(!kill_switch_on(p->a)) {
    refusals_forget(p->a->said, "kill-switch", NULL);
    return false;
  }
  snprintf(msg, sizeof(msg),
           "kill switch %s exists: no onPremisesImmutableId is written for "
           "tenant %s until it is removed",
           p->a->kill_switch, p->a->tenant);
  halt(p, "kill-switch", msg);
  return true;
}

/* check_threshold() is guards 4 and 14: once the values applied in total
 * (journal and this pass) reach apply_threshold, it halts, ends the pass
 * (p is freed) and returns true; otherwise it returns false. */
static bool check_threshold(struct pass *p)
{
  struct apply *a = p->a;
  size_t total = p->js.total_applied + p->applied;
  char msg[1024];

  if(total < a->threshold) {
    refusals_forget(a->said, "threshold", NULL);
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

/* --- step 3: the known anchors --- */

/* What a load of the known anchors reported: the first error, for the
 * alert, and how many there were. */
struct report {
  char text[1024];
  size_t errors;
};

/* on_report() logs every line the load reports and keeps the first error
 * in the struct report at arg. */
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

/* is_candidate() tells whether e is still to be looked at: not applied
 * per the journal (known when the target is an object id) and not parked
 * after a PATCH that Graph refused. */
static bool is_candidate(struct pass *p, const struct anchors_entry *e)
{
  if(e->target_is_id && (journal_state_applied(&p->js, e->target, e->anchor) ||
                         apply_settle_blocks(p, e->target)))
    return false;
  return !refusals_has(p->a->said, "patch-refused", e);
}

void apply_guard_anchors(struct pass *p)
{
  struct apply *a = p->a;
  struct report rep;
  char msg[1536];
  size_t i, n = 0;
  int rc = 0, src;

  memset(&rep, 0, sizeof(rep));
  p->set = anchors_set_new(a->want_len);
  if(!p->set) {
    apply_end_pass(p);
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
    if(refusals_note(a->said, "anchors-file-invalid", NULL)) {
      log_errx("apply: tenant %s: %s", a->tenant, msg);
      apply_emit(p, ALERT_ANCHOR_REFUSED, "anchors-file-invalid", NULL, NULL,
                 NULL, msg);
      /* Not a bad line: the file itself cannot be read. */
      if(rc == -ENOENT || rc == -EACCES || rc == -EPERM || rc == -EIO ||
         rc == -EISDIR)
        apply_file_unreadable(a, src ? a->anchors_file : a->suggestions_path,
                              rc, rep.text);
    }
    apply_end_pass(p);
    return;
  }
  refusals_forget(a->said, "anchors-file-invalid", NULL);
  refusals_prune(a->said, p->set);
  if(check_threshold(p))
    return;
  for(i = 0; i < anchors_set_count(p->set); i++)
    n += is_candidate(p, anchors_set_get(p->set, i));
  log_debug("apply: tenant %s: %zu known anchor%s, %zu to look at", a->tenant,
            anchors_set_count(p->set),
            anchors_set_count(p->set) == 1 ? "" : "s", n);
  if(!n) {
    apply_end_pass(p);
    return;
  }
  check_takeover(p);
}

/* --- step 5: the tenant feature --- */

/* on_takeover() records the tenant feature in p->takeover (1 blocked, 0
 * allowed, -1 unknown, with p->takeover_why), says an unreadable one once
 * per engine, and starts the walk over the entries. */
static void on_takeover(int result, long status, const cJSON *body,
                        const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  const cJSON *sync = body, *features, *flag;
  char buf[700];

  (void)status;
  if(apply_gone(p, result))
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
             apply_err_text(result, err, buf, sizeof(buf)));
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
  apply_guard_next(p);
}

/* check_takeover() reads the tenant's onPremisesSynchronization. */
static void check_takeover(struct pass *p)
{
  apply_request(p, "GET", "/v1.0/directory/onPremisesSynchronization", NULL,
                NULL, on_takeover);
}

/* --- per entry --- */

static void on_user(int result, long status, const cJSON *body,
                    const struct graph_error *err, void *arg);

void apply_guard_next(struct pass *p)
{
  struct apply *a = p->a;
  char path[1024], why[128];
  enum anchor_error ae;
  size_t got = 0;

  /* The guards that need no request are a loop, not a recursion. */
  for(;;) {
    apply_candidate_clear(p);
    for(; p->i < anchors_set_count(p->set); p->i++)
      if(is_candidate(p, anchors_set_get(p->set, p->i)))
        break;
    if(p->i == anchors_set_count(p->set)) {
      apply_end_pass(p);
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
      apply_end_pass(p);
      return;
    }
    snprintf(path, sizeof(path),
             "/v1.0/users/%s?$select=id,userPrincipalName,"
             "onPremisesSyncEnabled,onPremisesImmutableId",
             esc);
    curl_free(esc);
  }
  apply_request(p, "GET", path, NULL, NULL, on_user);
}

/* on_deleted() is guard 7 for a target given by object id that Graph
 * does not find: soft-deleted, or not there at all. */
static void on_deleted(int result, long status, const cJSON *body,
                       const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  char buf[700];

  (void)status;
  (void)body;
  if(apply_gone(p, result))
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
              apply_err_text(result, err, buf, sizeof(buf)));
  apply_guard_next(p);
}

static void check_federated(struct pass *p);

/* on_user() is guards 7 to 9 on the target as Graph shows it; the user's
 * id, UPN and current value are kept in the pass (p->user_id, p->upn,
 * p->old_value) for the guards after it and the write. */
static void on_user(int result, long status, const cJSON *body,
                    const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  const cJSON *sync;
  char path[256], buf[700];

  (void)status;
  if(apply_gone(p, result))
    return;
  if(result == -ENOENT && p->e->target_is_id) {
    /* Get deleted item: GET /directory/deletedItems/{id} (Graph v1.0
     * directory-get-deleteditem). */
    snprintf(path, sizeof(path), "/v1.0/directory/deletedItems/%s",
             p->e->target);
    apply_request(p, "GET", path, NULL, NULL, on_deleted);
    return;
  }
  if(result == -ENOENT) {
    refuse(p, "target-not-found", "no user %s in the tenant", p->e->target);
    apply_guard_next(p);
    return;
  }
  if(result) {
    log_warnx("apply: tenant %s: GET user %s: %s; tried again next cycle",
              p->a->tenant, p->e->target,
              apply_err_text(result, err, buf, sizeof(buf)));
    apply_guard_next(p);
    return;
  }
  /* A member missing, of another type or out of memory is NULL. */
  (void)jsonx_get_strdup(body, "id", &p->user_id);
  (void)jsonx_get_strdup(body, "userPrincipalName", &p->upn);
  (void)jsonx_get_strdup(body, "onPremisesImmutableId", &p->old_value);
  sync = cJSON_GetObjectItemCaseSensitive(body, "onPremisesSyncEnabled");
  p->synced = cJSON_IsTrue(sync);
  if(!p->user_id || !p->upn) {
    log_warnx("apply: tenant %s: GET user %s: no id or userPrincipalName in "
              "the answer; skipped",
              p->a->tenant, p->e->target);
    apply_guard_next(p);
    return;
  }
  if(apply_settle_blocks(p, p->user_id)) {
    log_debug("apply: tenant %s: %s has an intent without an outcome; "
              "nothing is written to it before that is settled",
              p->a->tenant, p->user_id);
    apply_guard_next(p);
    return;
  }
  if(journal_state_applied(&p->js, p->user_id, p->e->anchor)) {
    log_debug("apply: tenant %s: %s already applied to %s (journal)",
              p->a->tenant, p->e->anchor, p->user_id);
    apply_guard_next(p);
    return;
  }
  if(p->synced) {
    refuse(p, "target-synced",
           "%s is synced from on-premises (onPremisesSyncEnabled true): its "
           "anchor is written by the sync engine, never in the cloud",
           p->upn);
    apply_guard_next(p);
    return;
  }
  if(p->old_value && !strcmp(p->old_value, p->e->anchor)) {
    if(refusals_note(p->a->said, "already-set", p->e))
      log_info("apply: tenant %s: %s already has onPremisesImmutableId %s; "
               "nothing to do",
               p->a->tenant, p->upn, p->e->anchor);
    apply_guard_next(p);
    return;
  }
  if(p->old_value) {
    refuse(p, "target-has-anchor",
           "%s already has onPremisesImmutableId %s; the daemon never "
           "replaces a value",
           p->upn, p->old_value);
    apply_guard_next(p);
    return;
  }
  check_federated(p);
}

/* --- step 10: a federated domain --- */

static void check_allowed(struct pass *p);

/* on_domain() is guard 10: onPremisesImmutableId cannot be set for a user
 * whose UPN is in a federated domain
 * (https://learn.microsoft.com/graph/api/resources/user), and a domain's
 * authenticationType is "Federated" or "Managed"
 * (https://learn.microsoft.com/graph/api/resources/domain).  A domain that
 * cannot be read (Domain.Read.All missing) is said once per engine and
 * does not stop the write: Graph's own 400 then parks the entry. */
static void on_domain(int result, long status, const cJSON *body,
                      const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  const char *auth = NULL, *domain = strrchr(p->upn, '@') + 1;
  char buf[700];

  (void)status;
  if(apply_gone(p, result))
    return;
  if(result && !p->a->domains_said)
    log_warnx("apply: tenant %s: cannot read domain %s (%s); going on "
              "without the federated-domain guard (Domain.Read.All lets the "
              "daemon refuse such a target before writing)",
              p->a->tenant, domain,
              apply_err_text(result, err, buf, sizeof(buf)));
  p->a->domains_said = p->a->domains_said || result;
  if(!result && !jsonx_get_str(body, "authenticationType", &auth) && auth &&
     !strcasecmp(auth, "Federated")) {
    refuse(p, "target-federated",
           "the UPN %s is in the federated domain %s, and Graph cannot set "
           "onPremisesImmutableId for a user in a federated domain. Move "
           "the UPN to a managed domain first (Update-MgUser -UserId %s "
           "-UserPrincipalName <name>@<managed domain>); the entry is tried "
           "again at the next cycle",
           p->upn, domain, p->user_id);
    apply_guard_next(p);
    return;
  }
  check_allowed(p);
}

/* check_federated() reads the authentication type of the UPN's domain
 * (Graph v1.0 domain-get). */
static void check_federated(struct pass *p)
{
  const char *at = strrchr(p->upn, '@');
  char path[512], *esc;

  if(!at || !at[1]) {
    check_allowed(p);
    return;
  }
  esc = curl_easy_escape(NULL, at + 1, 0);
  if(!esc) {
    apply_end_pass(p);
    return;
  }
  snprintf(path, sizeof(path), "/v1.0/domains/%s?$select=id,authenticationType",
           esc);
  curl_free(esc);
  apply_request(p, "GET", path, NULL, NULL, on_domain);
}

/* --- step 11: the allow-list --- */

static void after_allowed(struct pass *p);

/* on_member_page() sets p->group_match when a page of the user's
 * memberships holds a group of apply_allow_groups. */
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

/* on_members_done() ends guard 11 once the memberships are read. */
static void on_members_done(int result, const char *delta_link,
                            const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  char buf[700];

  (void)delta_link;
  if(apply_gone(p, result))
    return;
  if(result) {
    refuse(p, "not-allowed",
           "%s is not in apply_allow_domains, and its group memberships "
           "cannot be read: %s",
           p->upn, apply_err_text(result, err, buf, sizeof(buf)));
    apply_guard_next(p);
    return;
  }
  if(!p->group_match) {
    refuse(p, "not-allowed",
           "%s is in neither apply_allow_domains nor a group of "
           "apply_allow_groups",
           p->upn);
    apply_guard_next(p);
    return;
  }
  after_allowed(p);
}

/* check_allowed() is guard 11: the UPN's domain is in
 * apply_allow_domains (or that is '*'), or else the user is a member,
 * direct or transitive, of a group in apply_allow_groups. */
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
    apply_guard_next(p);
    return;
  }
  if(!a->groups.n) {
    refuse(p, "not-allowed", "the domain of %s is not in apply_allow_domains",
           p->upn);
    apply_guard_next(p);
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
    apply_end_pass(p);
  }
}

/* --- step 12: in use --- */

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
    apply_end_pass(p);
    return;
  }
  apply_request(p, "GET", path, NULL, NULL, cb);
  free(path);
}

/* after_allowed() starts guard 12: which users have the value already. */
static void after_allowed(struct pass *p)
{
  /* onPremisesImmutableId supports $filter eq by default
   * (https://learn.microsoft.com/graph/api/resources/user). */
  filter_request(p, "/v1.0/users", "onPremisesImmutableId", p->e->anchor,
                 "id,userPrincipalName,onPremisesSyncEnabled", on_in_use);
}

static void on_roles(int result, long status, const cJSON *body,
                     const struct graph_error *err, void *arg);

/* on_in_use() is guard 12, then starts guard 13 (the user's directory
 * role assignments). */
static void on_in_use(int result, long status, const cJSON *body,
                      const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  const cJSON *it;
  char buf[700];

  (void)status;
  if(apply_gone(p, result))
    return;
  if(result) {
    log_warnx("apply: tenant %s: in-use check of %s: %s; tried again next "
              "cycle",
              p->a->tenant, p->e->anchor,
              apply_err_text(result, err, buf, sizeof(buf)));
    apply_guard_next(p);
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
             apply_str_or(upn, "?"), id);
    else
      refuse(p, "anchor-in-use",
             "the value is already the onPremisesImmutableId of user %s (%s); "
             "Entra allows it on one object only",
             apply_str_or(upn, "?"), id);
    apply_guard_next(p);
    return;
  }
  /* List unifiedRoleAssignments with $filter=principalId eq '{id}' (Graph
   * v1.0 rbacapplication-list-roleassignments). */
  filter_request(p, "/v1.0/roleManagement/directory/roleAssignments",
                 "principalId", p->user_id, "id,roleDefinitionId", on_roles);
}

/* --- step 13: admin roles --- */

static void last_guards(struct pass *p);

/* on_roles() is guard 13; a 403 (roles not readable by the app) is said
 * once per engine and does not stop the write. */
static void on_roles(int result, long status, const cJSON *body,
                     const struct graph_error *err, void *arg)
{
  struct pass *p = arg;
  const cJSON *first;
  char buf[700];

  (void)status;
  if(apply_gone(p, result))
    return;
  if(result == -EACCES) {
    if(!p->a->roles_said)
      log_warnx("apply: tenant %s: admin roles are not detectable (%s); "
                "going on: Entra refuses a hard match to a user with an "
                "admin role itself (ExistingAdminRoleConflict)",
                p->a->tenant, apply_err_text(result, err, buf, sizeof(buf)));
    p->a->roles_said = true;
  }
  else if(result) {
    log_warnx("apply: tenant %s: role check of %s: %s; tried again next "
              "cycle",
              p->a->tenant, p->upn,
              apply_err_text(result, err, buf, sizeof(buf)));
    apply_guard_next(p);
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
             apply_str_or(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                              first, "roleDefinitionId")),
                          "?"));
      apply_guard_next(p);
      return;
    }
  }
  last_guards(p);
}

/* --- steps 14-16 --- */

/* last_guards() runs the guards that need no request, right before the
 * write: the cap of this pass, the threshold and the kill switch again.
 * The candidate is then handed to apply_write(). */
static void last_guards(struct pass *p)
{
  struct apply *a = p->a;

  if(p->writes >= a->max_per_cycle) {
    log_info("apply: tenant %s: apply_max_per_cycle (%u) reached; %s and "
             "the rest wait for the next cycle",
             a->tenant, a->max_per_cycle, p->e->target);
    apply_end_pass(p);
    return;
  }
  if(check_threshold(p) || apply_guard_kill_switch(p))
    return;
  apply_write(p);
}
