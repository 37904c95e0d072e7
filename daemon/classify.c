/* SPDX-License-Identifier: MIT
 *
 * classify: the rules of classify.h and their texts.  Command names and
 * parameters follow the Microsoft Graph PowerShell SDK (Update-MgUser
 * -OnPremisesImmutableId, Remove-MgUser/-MgGroup/-MgContact,
 * Remove-MgDirectoryDeletedItem -DirectoryObjectId), the ActiveDirectory
 * module (Set-ADUser/Set-ADGroup/Set-ADObject) and Entra Connect
 * (Start-ADSyncSyncCycle -PolicyType Delta).  Each text names its objects
 * by their own display name, UPN and id, so the two sides cannot be mixed
 * up (the portal's known bug).
 */
#include "classify.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "timex.h"

/* put() formats into buf, truncating. */
__attribute__((format(printf, 3, 4))) static void put(char *buf, size_t len,
                                                      const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void
step(struct classify_result *r, const char *fmt, ...)
{
  va_list ap;

  if(r->nsteps >= CLASSIFY_MAX_STEPS)
    return;
  va_start(ap, fmt);
  vsnprintf(r->steps[r->nsteps++], sizeof(r->steps[0]), fmt, ap);
  va_end(ap);
}

static const char *or_dash(const char *s)
{
  return s && *s ? s : "-";
}

/* Who an object is, in words: "user John Smith (john@contoso.com, id X)". */
struct who {
  char text[400];
};

static void describe(struct who *w, enum conflict_objtype type,
                     const char *name, const char *upn, const char *mail,
                     const char *id)
{
  const char *addr = upn ? upn : mail;

  put(w->text, sizeof(w->text), "%s %s (%s%sid %s)",
      conflict_objtype_name(type), name ? name : "(no display name)",
      addr ? addr : "", addr ? ", " : "", id);
}

static void describe_conflict(struct who *w, const struct conflict *c)
{
  describe(w, c->objtype, c->display_name, c->upn, c->mail, c->object_id);
}

static void describe_holder(struct who *w, const struct conflict_holder *h)
{
  describe(w, h->type, h->display_name, h->upn, h->mail, h->id);
}

/* The on-premises identity to hand to an AD cmdlet. */
static const char *ad_identity(const char *sam, const char *dn)
{
  return sam ? sam : dn ? dn : "<on-premises object>";
}

static const char *ad_cmdlet(enum conflict_objtype t)
{
  return t == CONFLICT_USER    ? "Set-ADUser"
         : t == CONFLICT_GROUP ? "Set-ADGroup"
                               : "Set-ADObject";
}

static const char *remove_cmdlet(enum conflict_objtype t)
{
  return t == CONFLICT_USER    ? "Remove-MgUser -UserId"
         : t == CONFLICT_GROUP ? "Remove-MgGroup -GroupId"
                               : "Remove-MgContact -OrgContactId";
}

/* The value as an admin knows it: the original value behind a placeholder
 * UPN is the quarantined value itself. */
static const char *what(const struct conflict *c)
{
  return c->property == CONFLICT_UPN ? "UPN" : "proxy address";
}

static void sync_step(struct classify_result *r, const struct conflict *c)
{
  step(r,
       "On the Entra Connect server: Start-ADSyncSyncCycle -PolicyType Delta; "
       "the service's hourly sweep then releases %s to %s %s",
       c->value, conflict_objtype_name(c->objtype),
       c->display_name ? c->display_name : c->object_id);
}

/* fix_on_prem_step() tells how to take value off the on-premises object
 * of type t. */
static void fix_on_prem_step(struct classify_result *r,
                             const struct conflict *c, enum conflict_objtype t,
                             const char *sam, const char *dn)
{
  if(c->property == CONFLICT_UPN && t == CONFLICT_USER)
    step(r,
         "On-premises, give one of them another UPN, e.g. Set-ADUser "
         "-Identity '%s' -UserPrincipalName '<new unique UPN>'",
         ad_identity(sam, dn));
  else
    step(r,
         "On-premises, remove the address from one of them, e.g. %s "
         "-Identity '%s' -Remove @{proxyAddresses='smtp:%s'} (use SMTP: if "
         "it is the primary address, and set another primary first)",
         ad_cmdlet(t), ad_identity(sam, dn), c->value);
}

const char *classify_holder_orphaned(const struct conflict *c,
                                     const struct conflict_holder *h,
                                     const struct classify_opts *opts,
                                     time_t now)
{
  if(h->sync_enabled == CONFLICT_TRI_FALSE)
    return "was synced from on-premises but no longer is "
           "(onPremisesSyncEnabled false)";
  if(h->sync_enabled != CONFLICT_TRI_TRUE)
    return NULL;
  if(opts && opts->stale_after && h->last_sync &&
     now - h->last_sync > (time_t)opts->stale_after)
    return "is synced but has not been synced for longer than the staleness "
           "limit (orphan_after)";
  if(c->sync_enabled == CONFLICT_TRI_TRUE && h->sam_account && c->sam_account &&
     h->type == c->objtype && !strcasecmp(h->sam_account, c->sam_account) &&
     (!h->last_sync || !c->last_sync || h->last_sync <= c->last_sync) &&
     (!h->on_prem_dn || !c->on_prem_dn || strcmp(h->on_prem_dn, c->on_prem_dn)))
    return "has the quarantined object's own sAMAccountName: the on-premises "
           "object was deleted and re-created, and the deletion never reached "
           "Entra ID";
  return NULL;
}

static void orphaned(const struct conflict *c, const struct conflict_holder *h,
                     const char *why, const struct who *cw,
                     const struct who *hw, struct classify_result *r)
{
  char last[TIMEX_ISO_LEN] = "never";

  if(h->last_sync)
    timex_format_iso(h->last_sync, last, sizeof(last));
  put(r->reason, sizeof(r->reason), "held by orphaned %s", hw->text);
  put(r->explanation, sizeof(r->explanation),
      "%s %s is held by %s, which %s (last sync %s, DN %s). Its on-premises "
      "object is gone, so it keeps the value of %s for nothing. Remove the "
      "orphan (or, if it is the account to keep, move the source anchor to "
      "it) and the value is released.",
      what(c), c->value, hw->text, why, last, or_dash(h->on_prem_dn), cw->text);
  step(r,
       "Confirm that the orphan's on-premises object no longer exists, e.g. "
       "Get-ADObject -Filter \"sAMAccountName -eq '%s'\" and search the Entra "
       "connector space for %s",
       or_dash(h->sam_account), or_dash(h->on_prem_dn));
  if(h->sync_enabled == CONFLICT_TRI_FALSE) {
    step(r, "%s %s", remove_cmdlet(h->type), h->id);
    step(r,
         "Hard-delete it so it stops holding the value: "
         "Remove-MgDirectoryDeletedItem -DirectoryObjectId %s",
         h->id);
  }
  else
    step(r,
         "Entra ID refuses cloud deletes of synced objects: use Connect Health "
         "> Sync errors > Duplicate attribute > Diagnose and remediate > Apply "
         "Fix, which moves the source anchor and deletes the orphan %s",
         h->id);
  sync_step(r, c);
}

static void group_or_contact(const struct conflict *c,
                             const struct conflict_holder *h,
                             const struct who *cw, const struct who *hw,
                             struct classify_result *r)
{
  put(r->reason, sizeof(r->reason), "held by %s", hw->text);
  put(r->explanation, sizeof(r->explanation),
      "The %s %s holds %s as a proxy address, so %s cannot have it. Decide "
      "which object should own the address and take it off the other; "
      "usually the %s's address is changed.",
      conflict_objtype_name(h->type), hw->text, c->value, cw->text,
      conflict_objtype_name(h->type));
  if(h->sync_enabled == CONFLICT_TRI_TRUE)
    step(r,
         "On-premises: %s -Identity '%s' -Remove "
         "@{proxyAddresses='smtp:%s'} (SMTP: if it is the primary address)",
         ad_cmdlet(h->type), ad_identity(h->sam_account, h->on_prem_dn),
         c->value);
  else
    step(r,
         "The %s is cloud-mastered and Graph cannot write proxyAddresses: in "
         "Exchange Online PowerShell, %s -Identity %s -EmailAddresses "
         "@{remove='smtp:%s'}",
         conflict_objtype_name(h->type),
         h->type == CONFLICT_CONTACT
             ? "Set-MailContact"
             : "Set-DistributionGroup (Set-UnifiedGroup "
               "for a Microsoft 365 group)",
         h->id, c->value);
  sync_step(r, c);
}

static void cloud_account(const struct conflict *c,
                          const struct conflict_holder *h, const struct who *cw,
                          const struct who *hw, struct classify_result *r)
{
  char placeholder[512] = "";

  if(c->placeholder && c->upn)
    put(placeholder, sizeof(placeholder),
        " It was given the placeholder UPN %s instead of its original value "
        "%s.",
        c->upn, c->original_value ? c->original_value : c->value);
  put(r->reason, sizeof(r->reason), "held by cloud-only %s", hw->text);
  put(r->explanation, sizeof(r->explanation),
      "The cloud-only %s already holds %s, so the synced %s could not be "
      "matched to it and was created beside it with the value quarantined.%s "
      "If both are the same person, hard-match the cloud account to the "
      "on-premises object with the source anchor %s; otherwise rename one of "
      "them on its own side.",
      hw->text, c->value, cw->text, placeholder,
      c->immutable_id ? c->immutable_id
                      : "(unknown: the on-premises objectGUID in Base64)");
  step(r,
       "Free the anchor: take the on-premises object '%s' out of the sync "
       "scope, run Start-ADSyncSyncCycle -PolicyType Delta, then "
       "Remove-MgDirectoryDeletedItem -DirectoryObjectId %s",
       ad_identity(c->sam_account, c->on_prem_dn), c->object_id);
  step(r, "Update-MgUser -UserId %s -OnPremisesImmutableId '%s'", h->id,
       c->immutable_id ? c->immutable_id : "<source anchor>");
  step(r,
       "Put '%s' back in the sync scope and run Start-ADSyncSyncCycle "
       "-PolicyType Delta on the Entra Connect server: the cloud account is "
       "hard-matched and takes over the on-premises object",
       ad_identity(c->sam_account, c->on_prem_dn));
}

static void two_synced(const struct conflict *c,
                       const struct conflict_holder *h, const struct who *cw,
                       const struct who *hw, struct classify_result *r)
{
  put(r->reason, sizeof(r->reason), "held by synced %s", hw->text);
  put(r->explanation, sizeof(r->explanation),
      "Two synced objects claim %s %s: %s holds it (DN %s, sAMAccountName "
      "%s) and %s has it quarantined (DN %s, sAMAccountName %s). Entra ID "
      "cannot decide between them: fix it on-premises.",
      what(c), c->value, hw->text, or_dash(h->on_prem_dn),
      or_dash(h->sam_account), cw->text, or_dash(c->on_prem_dn),
      or_dash(c->sam_account));
  fix_on_prem_step(r, c, c->objtype, c->sam_account, c->on_prem_dn);
  sync_step(r, c);
}

/* stuck() explains a free value the service did not release in time.
 * Only the soft-deleted holder and Connect Health's "Diagnose and
 * remediate" (users only) are documented remedies
 * (docs/graph-facts.md#connect-health-diagnosis-and-apply-fix); a new
 * export is not documented as one, so it is said so. */
static void stuck(const struct conflict *c, const struct who *cw,
                  struct classify_result *r)
{
  char freed[TIMEX_ISO_LEN];

  timex_format_iso(c->freed_at, freed, sizeof(freed));
  put(r->reason, sizeof(r->reason),
      "no other object holds it, yet it was not released");
  put(r->explanation, sizeof(r->explanation),
      "No other user, group or contact has held %s %s since %s, but the "
      "service's hourly sweep has not released it to %s: the quarantine is "
      "stuck. The sync client does not retry an object whose export "
      "succeeded, so it stays this way until something changes.",
      what(c), c->value, freed, cw->text);
  step(r, "Look for a soft-deleted object that still holds it: "
          "Get-MgDirectoryDeletedItemAsUser (...AsGroup) and hard-delete it "
          "with Remove-MgDirectoryDeletedItem -DirectoryObjectId <id>; the "
          "next sweep then releases the value");
  if(c->objtype == CONFLICT_USER)
    step(r,
         "Entra Connect Health > Sync errors > Duplicate Attribute: "
         "\"Diagnose and remediate\" this user (object id %s)",
         c->object_id);
  step(r,
       "Have Entra Connect export the object again: change an attribute of "
       "%s on-premises, then Start-ADSyncSyncCycle -PolicyType Delta (not "
       "a documented fix, but the only way to make the service look at the "
       "object again)",
       c->sam_account ? c->sam_account
                      : (c->on_prem_dn ? c->on_prem_dn : c->object_id));
  step(r,
       "If it is still quarantined after that: open a Microsoft support "
       "case with the object id %s, the value %s and the time it became "
       "free (%s); Microsoft documents no way to release a value by hand",
       c->object_id, c->value, freed);
}

static void not_held(const struct conflict *c, const struct who *cw,
                     struct classify_result *r)
{
  if(c->state == CONFLICT_STUCK) {
    stuck(c, cw, r);
    return;
  }
  put(r->reason, sizeof(r->reason), "no other object holds it any more");
  put(r->explanation, sizeof(r->explanation),
      "No other user, group or contact holds %s %s any more: the value is "
      "free, and the service should release it to %s at its next hourly "
      "sweep.",
      what(c), c->value, cw->text);
  step(r, "Nothing to do but wait for the hourly sweep");
  step(r, "If it stays quarantined, a soft-deleted object may still hold it: "
          "find it with Get-MgDirectoryDeletedItemAsUser (or ...AsGroup) and "
          "hard-delete it with Remove-MgDirectoryDeletedItem "
          "-DirectoryObjectId <id>");
}

static void unknown(const struct conflict *c, const struct who *cw,
                    const struct who *hw, struct classify_result *r)
{
  if(!c->looked_up) {
    if(c->lookup_error)
      put(r->reason, sizeof(r->reason), "holder lookup failed: %s",
          c->lookup_error);
    else
      put(r->reason, sizeof(r->reason), "holder not looked up yet");
    put(r->explanation, sizeof(r->explanation),
        "The object holding %s %s of %s is not known yet (%s). quarantined "
        "looks it up again at the next cycle.",
        what(c), c->value, cw->text, r->reason);
    step(r,
         "To look by hand: Get-MgUser -Filter \"userPrincipalName eq '%s' or "
         "proxyAddresses/any(x:x eq 'smtp:%s')\"",
         c->value, c->value);
    return;
  }
  put(r->reason, sizeof(r->reason), "held by %s", hw->text);
  put(r->explanation, sizeof(r->explanation),
      "%s %s of %s is held by %s, a pairing that fits no known pattern "
      "(neither side is a synced object). Compare both objects and decide "
      "which should keep the value.",
      what(c), c->value, cw->text, hw->text);
  step(r, "Compare: Get-MgUser -UserId %s and the holder %s", c->object_id,
       hw->text);
}

void classify_conflict(const struct conflict *c,
                       const struct classify_opts *opts, time_t now,
                       struct classify_result *out)
{
  const struct conflict_holder *h;
  const char *why = NULL;
  struct who cw, hw;
  size_t i;

  memset(out, 0, sizeof(*out));
  describe_conflict(&cw, c);
  hw.text[0] = '\0';
  out->cls = CONFLICT_CLASS_UNKNOWN;
  if(!c->looked_up) {
    unknown(c, &cw, &hw, out);
    return;
  }
  if(!c->nholders) {
    out->cls = CONFLICT_CLASS_NOT_HELD;
    not_held(c, &cw, out);
    return;
  }
  for(i = 0; i < c->nholders && !why; i++)
    why = classify_holder_orphaned(c, &c->holders[i], opts, now);
  if(why) {
    h = out->holder = &c->holders[i - 1];
    describe_holder(&hw, h);
    out->cls = CONFLICT_CLASS_ORPHANED;
    orphaned(c, h, why, &cw, &hw, out);
    return;
  }
  for(i = 0; i < c->nholders; i++) {
    h = &c->holders[i];
    if(h->type != CONFLICT_USER && h->type != c->objtype) {
      out->holder = h;
      describe_holder(&hw, h);
      out->cls = CONFLICT_CLASS_GROUP_OR_CONTACT;
      group_or_contact(c, h, &cw, &hw, out);
      return;
    }
  }
  for(i = 0; c->objtype == CONFLICT_USER &&
             c->sync_enabled == CONFLICT_TRI_TRUE && i < c->nholders;
      i++) {
    h = &c->holders[i];
    if(h->type == CONFLICT_USER && h->sync_enabled == CONFLICT_TRI_UNKNOWN) {
      out->holder = h;
      describe_holder(&hw, h);
      out->cls = CONFLICT_CLASS_CLOUD_ACCOUNT;
      cloud_account(c, h, &cw, &hw, out);
      return;
    }
  }
  for(i = 0; c->sync_enabled == CONFLICT_TRI_TRUE && i < c->nholders; i++) {
    h = &c->holders[i];
    if(h->sync_enabled == CONFLICT_TRI_TRUE) {
      out->holder = h;
      describe_holder(&hw, h);
      out->cls = CONFLICT_CLASS_TWO_SYNCED;
      two_synced(c, h, &cw, &hw, out);
      return;
    }
  }
  out->holder = &c->holders[0];
  describe_holder(&hw, out->holder);
  unknown(c, &cw, &hw, out);
}
