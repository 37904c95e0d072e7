/* SPDX-License-Identifier: MIT
 *
 * Check suite for classify: each class from its rule, with the texts an
 * admin reads (both sides named, the commands to run), and the
 * priorities between rules.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "testutil.h"

#define NOW ((time_t)1700000000)
#define DAY 86400

static const struct classify_opts opts = {7 * DAY};

/* synced_user() is a quarantined synced user with a UPN conflict. */
static struct conflict *synced_user(void)
{
  struct conflict *c = conflict_new("contoso", "q-1", CONFLICT_USER,
                                    CONFLICT_UPN, "john@contoso.com");

  ck_assert_ptr_nonnull(c);
  c->display_name = strdup("John Smith");
  c->upn = strdup("john1234@contoso.onmicrosoft.com");
  c->placeholder = true;
  c->original_value = strdup("john@contoso.com");
  c->sync_enabled = CONFLICT_TRI_TRUE;
  c->immutable_id = strdup("yYuRNW0Z6kCXeYidebdT8A==");
  c->on_prem_dn = strdup("CN=John Smith,OU=Users,DC=contoso,DC=com");
  c->sam_account = strdup("jsmith");
  c->last_sync = NOW - 600;
  c->looked_up = NOW;
  return c;
}

static struct conflict_holder holder(const char *id, enum conflict_objtype t,
                                     const char *name,
                                     enum conflict_tristate sync)
{
  struct conflict_holder h;

  memset(&h, 0, sizeof(h));
  h.id = (char *)(uintptr_t)id;
  h.type = t;
  h.display_name = (char *)(uintptr_t)name;
  h.sync_enabled = sync;
  return h;
}

static void set_holder(struct conflict *c, const struct conflict_holder *h)
{
  ck_assert_int_eq(conflict_replace_holders(c, h, 1), 0);
}

/* all_steps() joins the steps, for searching. */
static const char *all_steps(const struct classify_result *r)
{
  static char buf[8192];
  size_t i;

  buf[0] = '\0';
  for(i = 0; i < r->nsteps; i++) {
    strcat(buf, r->steps[i]);
    strcat(buf, "\n");
  }
  return buf;
}

START_TEST(test_cloud_account)
{
  struct conflict *c = synced_user();
  struct conflict_holder h =
      holder("cloud-1", CONFLICT_USER, "John (cloud)", CONFLICT_TRI_UNKNOWN);
  struct classify_result r;

  h.upn = "john@contoso.com";
  set_holder(c, &h);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_CLOUD_ACCOUNT);
  ck_assert_str_eq(conflict_class_name(r.cls), "cloud_account");
  ck_assert_str_eq(r.holder->id, "cloud-1");
  /* Each name goes with its own object. */
  ck_assert_ptr_nonnull(strstr(r.explanation,
                               "cloud-only user John (cloud) "
                               "(john@contoso.com, id cloud-1)"));
  ck_assert_ptr_nonnull(strstr(r.explanation,
                               "synced user John Smith "
                               "(john1234@contoso.onmicrosoft.com, id q-1)"));
  ck_assert_ptr_nonnull(strstr(r.explanation,
                               "placeholder UPN "
                               "john1234@contoso.onmicrosoft.com "
                               "instead of its original value "
                               "john@contoso.com"));
  ck_assert_ptr_nonnull(strstr(
      all_steps(&r), "Update-MgUser -UserId cloud-1 "
                     "-OnPremisesImmutableId 'yYuRNW0Z6kCXeYidebdT8A=='"));
  ck_assert_ptr_nonnull(
      strstr(all_steps(&r), "Start-ADSyncSyncCycle -PolicyType Delta"));
  ck_assert_ptr_nonnull(strstr(r.reason, "held by cloud-only user"));
  ck_assert_ptr_null(strchr(r.reason, '\n'));

  /* Without a known anchor, the step says what to put there. */
  free(c->immutable_id);
  c->immutable_id = NULL;
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_ptr_nonnull(strstr(all_steps(&r), "'<source anchor>'"));
  conflict_free(c);
}
END_TEST

START_TEST(test_two_synced)
{
  struct conflict *c = synced_user();
  struct conflict_holder h =
      holder("alice", CONFLICT_USER, "Alice Jones", CONFLICT_TRI_TRUE);
  struct classify_result r;

  h.on_prem_dn = "CN=Alice Jones,OU=Users,DC=contoso,DC=com";
  h.sam_account = "ajones";
  h.last_sync = NOW - DAY;
  set_holder(c, &h);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_TWO_SYNCED);
  ck_assert_ptr_nonnull(strstr(r.explanation, "ajones"));
  ck_assert_ptr_nonnull(strstr(r.explanation, "jsmith"));
  ck_assert_ptr_nonnull(strstr(r.explanation, "CN=Alice Jones"));
  ck_assert_ptr_nonnull(strstr(r.explanation, "CN=John Smith"));
  ck_assert_ptr_nonnull(strstr(all_steps(&r), "Set-ADUser -Identity 'jsmith' "
                                              "-UserPrincipalName"));
  conflict_free(c);
}
END_TEST

START_TEST(test_orphaned)
{
  struct conflict *c = synced_user();
  struct conflict_holder h =
      holder("old", CONFLICT_USER, "John Smith", CONFLICT_TRI_TRUE);
  struct classify_result r;

  /* 1: not synced any more. */
  h.sync_enabled = CONFLICT_TRI_FALSE;
  set_holder(c, &h);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_ORPHANED);
  ck_assert_ptr_nonnull(strstr(all_steps(&r), "Remove-MgUser -UserId old"));
  ck_assert_ptr_nonnull(strstr(all_steps(&r), "Remove-MgDirectoryDeletedItem "
                                              "-DirectoryObjectId old"));
  /* 2: synced, but stale beyond orphan_after; fresh is two_synced. */
  h.sync_enabled = CONFLICT_TRI_TRUE;
  h.last_sync = NOW - 8 * DAY;
  set_holder(c, &h);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_ORPHANED);
  ck_assert_ptr_nonnull(strstr(all_steps(&r), "Apply Fix"));
  h.last_sync = NOW - 6 * DAY;
  set_holder(c, &h);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_TWO_SYNCED);
  /* 3: the same sAMAccountName, another DN, not synced later. */
  h.sam_account = "JSMITH";
  h.on_prem_dn = "CN=John Smith,OU=Old,DC=contoso,DC=com";
  set_holder(c, &h);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_ORPHANED);
  ck_assert_ptr_nonnull(strstr(r.explanation, "re-created"));
  /* ... but not when the holder synced after the quarantined object. */
  h.last_sync = NOW;
  set_holder(c, &h);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_TWO_SYNCED);
  conflict_free(c);
}
END_TEST

START_TEST(test_group_or_contact)
{
  struct conflict *c = conflict_new("contoso", "ct-1", CONFLICT_CONTACT,
                                    CONFLICT_PROXY, "SMTP:sales@contoso.com");
  struct conflict_holder h[2] = {
      holder("alice", CONFLICT_USER, "Alice", CONFLICT_TRI_TRUE),
      holder("grp", CONFLICT_GROUP, "Sales", CONFLICT_TRI_TRUE)};
  struct classify_result r;

  c->display_name = strdup("Partner Sales");
  c->sync_enabled = CONFLICT_TRI_TRUE;
  c->looked_up = NOW;
  h[1].sam_account = "Sales";
  ck_assert_int_eq(conflict_replace_holders(c, h, 2), 0);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_GROUP_OR_CONTACT);
  ck_assert_str_eq(r.holder->id, "grp");
  ck_assert_ptr_nonnull(strstr(all_steps(&r),
                               "Set-ADGroup -Identity 'Sales' -Remove "
                               "@{proxyAddresses='smtp:sales@contoso.com'}"));
  /* A cloud group: Exchange Online, since Graph cannot write the address. */
  h[1].sync_enabled = CONFLICT_TRI_UNKNOWN;
  ck_assert_int_eq(conflict_replace_holders(c, h, 2), 0);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_ptr_nonnull(strstr(all_steps(&r), "Set-DistributionGroup"));
  conflict_free(c);
}
END_TEST

START_TEST(test_not_held_and_unknown)
{
  struct conflict *c = synced_user();
  struct conflict_holder h =
      holder("cloud", CONFLICT_USER, "Cloud twin", CONFLICT_TRI_UNKNOWN);
  struct classify_result r;

  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_NOT_HELD);
  ck_assert_ptr_null(r.holder);
  ck_assert_ptr_nonnull(strstr(r.explanation, "hourly sweep"));

  /* Never looked up: unknown, saying why. */
  c->looked_up = 0;
  c->lookup_error = strdup("Authorization_RequestDenied");
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_UNKNOWN);
  ck_assert_str_eq(r.reason,
                   "holder lookup failed: Authorization_RequestDenied");
  free(c->lookup_error);
  c->lookup_error = NULL;
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_str_eq(r.reason, "holder not looked up yet");

  /* A cloud-only object holding a cloud-only object's value. */
  c->looked_up = NOW;
  c->sync_enabled = CONFLICT_TRI_UNKNOWN;
  set_holder(c, &h);
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_UNKNOWN);
  ck_assert_str_eq(r.holder->id, "cloud");
  conflict_free(c);
}
END_TEST

/* A stuck conflict keeps its class but says what to do about it. */
START_TEST(test_stuck)
{
  struct conflict *c = synced_user();
  struct classify_result r;
  const char *steps;

  c->state = CONFLICT_STUCK;
  c->freed_at = NOW - 7200;
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_int_eq(r.cls, CONFLICT_CLASS_NOT_HELD);
  ck_assert_ptr_nonnull(strstr(r.explanation, "stuck"));
  ck_assert_ptr_nonnull(strstr(r.explanation, "john@contoso.com"));
  steps = all_steps(&r);
  ck_assert_ptr_nonnull(strstr(steps, "Remove-MgDirectoryDeletedItem"));
  ck_assert_ptr_nonnull(strstr(steps, "\"Diagnose and remediate\" this user "
                                      "(object id q-1)"));
  ck_assert_ptr_nonnull(strstr(steps, "change an attribute of jsmith"));
  ck_assert_ptr_nonnull(strstr(steps, "support case with the object id q-1"));
  conflict_free(c);

  /* Connect Health's remedy covers users only. */
  c = conflict_new("contoso", "g-1", CONFLICT_GROUP, CONFLICT_PROXY,
                   "SMTP:sales@contoso.com");
  c->looked_up = NOW;
  c->state = CONFLICT_STUCK;
  classify_conflict(c, &opts, NOW, &r);
  ck_assert_ptr_null(strstr(all_steps(&r), "Diagnose and remediate"));
  ck_assert_ptr_nonnull(strstr(all_steps(&r), "change an attribute of g-1"));
  conflict_free(c);
}
END_TEST

START_TEST(test_names)
{
  int i;

  for(i = CONFLICT_CLASS_UNKNOWN; i <= CONFLICT_CLASS_NOT_HELD; i++)
    ck_assert_int_eq(conflict_class_parse(conflict_class_name(i)), i);
  ck_assert_int_eq(conflict_class_parse("nope"), -EINVAL);
}
END_TEST

Suite *classify_suite(void)
{
  Suite *s = suite_create("classify");
  TCase *tc = tcase_create("rules");

  tcase_add_test(tc, test_cloud_account);
  tcase_add_test(tc, test_two_synced);
  tcase_add_test(tc, test_orphaned);
  tcase_add_test(tc, test_group_or_contact);
  tcase_add_test(tc, test_not_held_and_unknown);
  tcase_add_test(tc, test_stuck);
  tcase_add_test(tc, test_names);
  suite_add_tcase(s, tc);
  return s;
}
