/* SPDX-License-Identifier: MIT
 *
 * check_journal: records appended as JSON lines (mode 0640), read back
 * into applied values, pending intents and totals; a torn last line is
 * tolerated (and marked, never rewritten) while any other bad line is a
 * FILE:LINE error.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "journal.h"
#include "testutil.h"
#include "tfiles.h"

#define NOW ((time_t)1767225600) /* 2026-01-01T00:00:00Z */
#define UID "8f0c5e4a-3d1b-4c2a-9e7f-112233445566"
#define A1 "yYuRNW0Z6kCXeYidebdT8A=="
#define A2 "x4V0iaeB60KXxjftcwd7Hw=="

static char *dir, *path;

static void setup(void)
{
  dir = tu_tmpdir();
  path = tfiles_path(dir, "contoso", TFILES_JOURNAL);
  ck_assert_ptr_nonnull(path);
}

static void teardown(void)
{
  tu_rmtree(dir);
  free(dir);
  free(path);
}

/* rec() makes a record of kind for user/value with request id crid. */
static struct journal_record rec(enum journal_kind kind, const char *user,
                                 const char *value, const char *crid)
{
  struct journal_record r = {.kind = kind,
                             .when = NOW,
                             .tenant = "contoso",
                             .user_id = user,
                             .upn = "alice@contoso.com",
                             .new_value = value,
                             .source = "csv",
                             .reference = "CHG-1",
                             .client_request_id = crid};

  if(kind == JOURNAL_APPLIED) {
    r.patch_request_id = "p-1";
    r.get_request_id = "g-1";
  }
  if(kind == JOURNAL_FAILED)
    r.error = "Request_BadRequest: on-premises mastered";
  return r;
}

static void append(const struct journal_record *r)
{
  struct journal *j = NULL;

  ck_assert_int_eq(journal_open(path, &j), 0);
  ck_assert_int_eq(journal_append(j, r), 0);
  journal_close(j);
}

START_TEST(test_round_trip)
{
  struct journal_state st = {0};
  struct journal_record r;
  struct journal *j = NULL;
  char err[256] = "", *text;
  struct stat sb;

  ck_assert_ptr_null(tfiles_path(dir, "../x", TFILES_JOURNAL));
  ck_assert_int_eq(journal_load(path, "contoso", &st, err, sizeof(err)), 0);
  ck_assert_uint_eq(st.total_applied + st.npending, 0);

  ck_assert_int_eq(journal_open(path, &j), 0);
  r = rec(JOURNAL_INTENT, UID, A1, "c-1");
  ck_assert_int_eq(journal_append(j, &r), 0);
  r = rec(JOURNAL_APPLIED, UID, A1, "c-1");
  ck_assert_int_eq(journal_append(j, &r), 0);
  r = rec(JOURNAL_INTENT, "u-2", A2, "c-2");
  r.old_value = "b2xk";
  ck_assert_int_eq(journal_append(j, &r), 0);
  r = rec(JOURNAL_FAILED, "u-2", A2, "c-2");
  ck_assert_int_eq(journal_append(j, &r), 0);
  r = rec(JOURNAL_INTENT, "u-3", A2, "c-3");
  ck_assert_int_eq(journal_append(j, &r), 0);
  r = rec(JOURNAL_RECONCILED, "u-3", A2, "c-3");
  r.found = 1;
  ck_assert_int_eq(journal_append(j, &r), 0);
  r = rec(JOURNAL_INTENT, "u-4", A1 "x", "c-4");
  ck_assert_int_eq(journal_append(j, &r), 0);
  /* Missing required members: nothing is written. */
  r = rec(JOURNAL_INTENT, "u-5", A1, "c-5");
  r.reference = "";
  ck_assert_int_eq(journal_append(j, &r), -EINVAL);
  r = rec(JOURNAL_FAILED, "u-5", A1, "c-5");
  r.error = NULL;
  ck_assert_int_eq(journal_append(j, &r), -EINVAL);
  r = rec(JOURNAL_TORN, "u-5", A1, "c-5");
  ck_assert_int_eq(journal_append(j, &r), -EINVAL);
  journal_close(j);

  ck_assert_int_eq(stat(path, &sb), 0);
  ck_assert_uint_eq(sb.st_mode & 0777, 0640);
  text = tu_slurp(path);
  ck_assert_str_eq(
      strchr(text, '\n') + 1,
      "{\"kind\":\"applied\",\"when\":\"2026-01-01T00:00:00Z\","
      "\"tenant\":\"contoso\",\"userId\":\"" UID "\","
      "\"upn\":\"alice@contoso.com\",\"oldValue\":null,\"newValue\":\"" A1
      "\",\"source\":\"csv\",\"reference\":\"CHG-1\","
      "\"clientRequestId\":\"c-1\",\"patchRequestId\":\"p-1\","
      "\"getRequestId\":\"g-1\"}\n"
      "{\"kind\":\"intent\",\"when\":\"2026-01-01T00:00:00Z\","
      "\"tenant\":\"contoso\",\"userId\":\"u-2\","
      "\"upn\":\"alice@contoso.com\",\"oldValue\":\"b2xk\",\"newValue\":\"" A2
      "\",\"source\":\"csv\",\"reference\":\"CHG-1\","
      "\"clientRequestId\":\"c-2\"}\n"
      "{\"kind\":\"failed\",\"when\":\"2026-01-01T00:00:00Z\","
      "\"tenant\":\"contoso\",\"userId\":\"u-2\","
      "\"upn\":\"alice@contoso.com\",\"oldValue\":null,\"newValue\":\"" A2
      "\",\"source\":\"csv\",\"reference\":\"CHG-1\","
      "\"clientRequestId\":\"c-2\","
      "\"error\":\"Request_BadRequest: on-premises mastered\"}\n"
      "{\"kind\":\"intent\",\"when\":\"2026-01-01T00:00:00Z\","
      "\"tenant\":\"contoso\",\"userId\":\"u-3\","
      "\"upn\":\"alice@contoso.com\",\"oldValue\":null,\"newValue\":\"" A2
      "\",\"source\":\"csv\",\"reference\":\"CHG-1\","
      "\"clientRequestId\":\"c-3\"}\n"
      "{\"kind\":\"reconciled\",\"when\":\"2026-01-01T00:00:00Z\","
      "\"tenant\":\"contoso\",\"userId\":\"u-3\","
      "\"upn\":\"alice@contoso.com\",\"oldValue\":null,\"newValue\":\"" A2
      "\",\"source\":\"csv\",\"reference\":\"CHG-1\","
      "\"clientRequestId\":\"c-3\",\"found\":true}\n"
      "{\"kind\":\"intent\",\"when\":\"2026-01-01T00:00:00Z\","
      "\"tenant\":\"contoso\",\"userId\":\"u-4\","
      "\"upn\":\"alice@contoso.com\",\"oldValue\":null,\"newValue\":\"" A1
      "x\",\"source\":\"csv\",\"reference\":\"CHG-1\","
      "\"clientRequestId\":\"c-4\"}\n");
  free(text);

  ck_assert_int_eq(journal_load(path, "contoso", &st, err, sizeof(err)), 0);
  ck_assert_uint_eq(st.total_applied, 2);
  ck_assert_uint_eq(st.total_failed, 1);
  ck_assert_uint_eq(st.torn_line, 0);
  ck_assert_int_eq(journal_state_applied(&st, UID, A1), 1);
  ck_assert_int_eq(
      journal_state_applied(&st, "8F0C5E4A-3D1B-4C2A-9E7F-112233445566", A1),
      1);
  ck_assert_int_eq(journal_state_applied(&st, UID, A2), 0);
  ck_assert_int_eq(journal_state_applied(&st, UID, NULL), 1);
  ck_assert_int_eq(journal_state_applied(&st, "u-2", NULL), 0);
  ck_assert_int_eq(journal_state_applied(&st, "u-3", A2), 1);
  ck_assert_uint_eq(st.npending, 1);
  ck_assert_str_eq(st.pending[0].rec.user_id, "u-4");
  ck_assert_str_eq(st.pending[0].rec.client_request_id, "c-4");
  ck_assert_str_eq(st.pending[0].rec.reference, "CHG-1");
  ck_assert_ptr_null(st.pending[0].rec.old_value);
  ck_assert_uint_eq(st.pending[0].line, 7);
  journal_state_clear(&st);

  /* Another tenant's journal is refused. */
  ck_assert_int_eq(journal_load(path, "fabrikam", &st, err, sizeof(err)),
                   -EBADMSG);
  ck_assert_ptr_nonnull(strstr(err, ".journal.jsonl:1: record for tenant "
                                    "\"contoso\", not \"fabrikam\""));
  ck_assert_uint_eq(st.npending, 0);
}
END_TEST

START_TEST(test_torn_last_line)
{
  struct journal_state st = {0};
  struct journal_record r = rec(JOURNAL_INTENT, UID, A1, "c-1");
  char err[256] = "", *text, *before;
  FILE *f;

  append(&r);
  /* A crash in the middle of the second record's write. */
  f = fopen(path, "a");
  fputs("{\"kind\":\"applied\",\"when\":\"2026-01-0", f);
  fclose(f);
  before = tu_slurp(path);

  ck_assert_int_eq(journal_load(path, "contoso", &st, err, sizeof(err)), 0);
  ck_assert_uint_eq(st.torn_line, 2);
  ck_assert_uint_eq(st.npending, 1);
  journal_state_clear(&st);

  /* The next append marks the cut line instead of gluing onto it. */
  r = rec(JOURNAL_RECONCILED, UID, A1, "c-1");
  r.found = 0;
  append(&r);
  text = tu_slurp(path);
  ck_assert_int_eq(strncmp(text, before, strlen(before)), 0);
  ck_assert_ptr_nonnull(
      strstr(text, "2026-01-0\n{\"kind\":\"torn\",\"when\":"
                   "\"2026-01-01T00:00:00Z\"}\n{\"kind\":\"reconciled\""));
  ck_assert_int_eq(journal_load(path, "contoso", &st, err, sizeof(err)), 0);
  ck_assert_uint_eq(st.torn_line, 2);
  ck_assert_uint_eq(st.npending, 0);
  ck_assert_uint_eq(st.total_applied, 0);
  ck_assert_int_eq(journal_state_applied(&st, UID, A1), 0);
  journal_state_clear(&st);
  free(text);
  free(before);
}
END_TEST

START_TEST(test_bad_lines)
{
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"not json\n{}\n", ":1: not valid JSON"},
      {"{}\n", ":1: no \"kind\""},
      {"[1]\n", ":1: not a JSON object"},
      {"{\"kind\":\"oops\",\"when\":\"2026-01-01T00:00:00Z\"}\n",
       ":1: unknown kind \"oops\""},
      {"{\"kind\":\"intent\",\"when\":\"soon\"}\n",
       ":1: \"when\" is missing or not a time"},
      {"{\"kind\":\"intent\",\"when\":\"2026-01-01T00:00:00Z\","
       "\"tenant\":\"contoso\",\"userId\":7}\n",
       ":1: \"userId\" is not a string"},
      {"{\"kind\":\"intent\",\"when\":\"2026-01-01T00:00:00Z\","
       "\"tenant\":\"contoso\",\"userId\":\"u\",\"newValue\":\"v\"}\n",
       ":1: intent record without \"clientRequestId\""},
      {"{\"kind\":\"reconciled\",\"when\":\"2026-01-01T00:00:00Z\","
       "\"tenant\":\"contoso\",\"userId\":\"u\",\"newValue\":\"v\","
       "\"clientRequestId\":\"c\"}\n",
       ":1: \"found\" is missing or not true/false"},
      {"{\"kind\":\"applied\",\"when\":\"2026-01-01T00:00:00Z\","
       "\"tenant\":\"contoso\",\"userId\":\"u\",\"newValue\":\"v\","
       "\"clientRequestId\":\"c\"}\n",
       ":1: applied record for clientRequestId c without an intent before "
       "it"},
      /* A cut line that is not the last one, with no marker after it. */
      {"{\"kind\":\"int\n{\"kind\":\"torn\",\"when\":\"2026-01-01T00:00:00Z\""
       "}\n\n",
       ":3: not valid JSON"},
      {"{\"kind\":\"int\n"
       "{\"kind\":\"intent\",\"when\":\"2026-01-01T00:00:00Z\","
       "\"tenant\":\"contoso\",\"userId\":\"u\",\"newValue\":\"v\","
       "\"source\":\"csv\",\"reference\":\"r\",\"clientRequestId\":\"c\"}\n",
       ":1: not valid JSON"},
  };
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct journal_state st = {0};
    char err[256] = "", *p;

    p = tu_write(dir, "contoso.journal.jsonl", cases[i].text);
    free(p);
    ck_assert_int_eq(journal_load(path, "contoso", &st, err, sizeof(err)),
                     -EBADMSG);
    ck_assert_msg(strstr(err, cases[i].want) &&
                      !strncmp(err, path, strlen(path)),
                  "case %zu: '%s'", i, err);
  }
}
END_TEST

START_TEST(test_second_intent)
{
  struct journal_state st = {0};
  struct journal_record r = rec(JOURNAL_INTENT, UID, A1, "c-1");
  char err[256] = "";

  append(&r);
  append(&r);
  ck_assert_int_eq(journal_load(path, "contoso", &st, err, sizeof(err)),
                   -EBADMSG);
  ck_assert_ptr_nonnull(strstr(err, ":2: second intent for clientRequestId "
                                    "c-1 (line 1 has no outcome yet)"));
}
END_TEST

Suite *journal_suite(void)
{
  Suite *s = suite_create("journal");
  TCase *tc = tcase_create("journal");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_round_trip);
  tcase_add_test(tc, test_torn_last_line);
  tcase_add_test(tc, test_bad_lines);
  tcase_add_test(tc, test_second_intent);
  suite_add_tcase(s, tc);
  return s;
}
