/* SPDX-License-Identifier: MIT
 *
 * check_refusals: the refusal memory: a refusal is news once, also after
 * a restart (read back from the file, which cJSON parses as written); a
 * change of reason or of reference is news again; targets compare without
 * case; pruning keeps global reasons and known entries only; a file that
 * is not a refusal memory is moved aside; a failed write is survivable.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "anchors.h"
#include "refusals.h"
#include "testutil.h"

#define JOHN_ANCHOR "yYuRNW0Z6kCXeYidebdT8A=="
#define MARY_ANCHOR "LspMdPCr8k2xp6yXApVuqA=="

static char *dir, *path;
static struct anchors_entry john = {
    .target = "John@Contoso.com", .anchor = JOHN_ANCHOR, .reference = "CHG-1"};
static struct anchors_entry mary = {
    .target = "mary@contoso.com", .anchor = MARY_ANCHOR, .reference = "CHG-2"};

static void setup(void)
{
  dir = tu_tmpdir();
  ck_assert_int_gt(asprintf(&path, "%s/contoso.apply.json", dir), 0);
}

static void teardown(void)
{
  tu_rmtree(dir);
  free(dir);
  free(path);
}

static struct refusals *open_memory(void)
{
  struct refusals *m = NULL;

  ck_assert_int_eq(refusals_open(path, "contoso", &m), 0);
  ck_assert_ptr_nonnull(m);
  return m;
}

/* said() returns the file's "said" array as one '|'-joined string
 * (malloc'd), checking the rest of its form on the way. */
static char *said(void)
{
  char *text = tu_slurp(path), *out = calloc(1, 4096);
  cJSON *o = cJSON_Parse(text), *it;

  ck_assert_ptr_nonnull(o);
  ck_assert_int_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "version")), 1);
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "said"))
  {
    ck_assert(cJSON_IsString(it));
    if(*out)
      strcat(out, "|");
    strcat(out, it->valuestring);
  }
  cJSON_Delete(o);
  free(text);
  return out;
}

START_TEST(test_once_and_after_restart)
{
  struct refusals *m = open_memory();
  struct stat st;
  char *s;

  ck_assert_int_eq(stat(path, &st), -1); /* nothing written yet */
  ck_assert(!refusals_has(m, "target-synced", &john));
  ck_assert(refusals_note(m, "target-synced", &john));
  ck_assert(!refusals_note(m, "target-synced", &john));
  ck_assert(refusals_has(m, "target-synced", &john));
  ck_assert(!refusals_has(m, "target-synced", &mary));
  s = said();
  ck_assert_str_eq(s,
                   "target-synced\tjohn@contoso.com\t" JOHN_ANCHOR "\tCHG-1");
  free(s);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 0777, 0640);
  refusals_free(m);

  /* A restart remembers it. */
  m = open_memory();
  ck_assert(refusals_has(m, "target-synced", &john));
  ck_assert(!refusals_note(m, "target-synced", &john));
  refusals_free(m);
}
END_TEST

START_TEST(test_news_again)
{
  struct refusals *m = open_memory();
  struct anchors_entry upper = john, other_ref = john;
  char *s;

  upper.target = "JOHN@CONTOSO.COM";
  other_ref.reference = "CHG-9";
  ck_assert(refusals_note(m, "target-synced", &john));
  /* The target compares without case. */
  ck_assert(!refusals_note(m, "target-synced", &upper));
  /* A new reason replaces the old one for the same entry. */
  ck_assert(refusals_note(m, "target-has-anchor", &john));
  ck_assert(!refusals_has(m, "target-synced", &john));
  ck_assert(refusals_note(m, "target-synced", &john));
  /* A new reference is another entry. */
  ck_assert(refusals_note(m, "target-synced", &other_ref));
  ck_assert(refusals_has(m, "target-synced", &john));
  /* Forgetting makes it news. */
  refusals_forget(m, "target-synced", &john);
  ck_assert(!refusals_has(m, "target-synced", &john));
  refusals_forget(m, "target-synced", &john); /* not there: no-op */
  ck_assert(refusals_note(m, "target-synced", &john));
  s = said();
  ck_assert_str_eq(s, "target-synced\tjohn@contoso.com\t" JOHN_ANCHOR
                      "\tCHG-9|target-synced\tjohn@contoso.com\t" JOHN_ANCHOR
                      "\tCHG-1");
  free(s);
  refusals_free(m);
}
END_TEST

START_TEST(test_global_and_prune)
{
  struct refusals *m = open_memory();
  struct anchors_set *set = anchors_set_new(16);
  const char *why;
  char buf[256], *s;

  ck_assert(refusals_note(m, "threshold", NULL));
  ck_assert(!refusals_note(m, "threshold", NULL));
  ck_assert(refusals_note(m, "kill-switch", NULL));
  ck_assert(refusals_has(m, "threshold", NULL)); /* globals do not replace */
  ck_assert(refusals_note(m, "target-synced", &john));
  ck_assert(refusals_note(m, "anchor-in-use", &mary));
  /* Only john is known now: what was said about mary goes. */
  ck_assert_int_eq(anchors_add(set, &john, NULL, buf, sizeof(buf), &why), 0);
  refusals_prune(m, set);
  ck_assert(refusals_has(m, "threshold", NULL));
  ck_assert(refusals_has(m, "kill-switch", NULL));
  ck_assert(refusals_has(m, "target-synced", &john));
  ck_assert(!refusals_has(m, "anchor-in-use", &mary));
  s = said();
  ck_assert_str_eq(s, "threshold\t\t\t|kill-switch\t\t\t|target-synced\t"
                      "john@contoso.com\t" JOHN_ANCHOR "\tCHG-1");
  free(s);
  refusals_forget(m, "threshold", NULL);
  ck_assert(refusals_note(m, "threshold", NULL));
  anchors_set_free(set);
  refusals_free(m);
}
END_TEST

START_TEST(test_bad_file_moved_aside)
{
  static const char *const bad[] = {"{not json", "{\"said\": []}",
                                    "{\"version\": 1, \"said\": {}}", ""};
  struct refusals *m;
  struct stat st;
  char *aside;
  size_t i;

  ck_assert_int_gt(asprintf(&aside, "%s.bad", path), 0);
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    free(tu_write(dir, "contoso.apply.json", bad[i]));
    m = open_memory();
    ck_assert_int_eq(stat(path, &st), -1);
    ck_assert_int_eq(stat(aside, &st), 0);
    ck_assert(refusals_note(m, "target-synced", &john)); /* empty memory */
    refusals_free(m);
    unlink(path);
    unlink(aside);
  }
  free(aside);
}
END_TEST

START_TEST(test_write_failure)
{
  struct refusals *m = NULL;
  char *gone;

  /* The directory does not exist: every save fails and is logged, and
   * the memory still works for this run. */
  ck_assert_int_gt(asprintf(&gone, "%s/missing/contoso.apply.json", dir), 0);
  ck_assert_int_eq(refusals_open(gone, "contoso", &m), 0);
  ck_assert(refusals_note(m, "target-synced", &john));
  ck_assert(!refusals_note(m, "target-synced", &john));
  refusals_free(m);
  refusals_free(NULL);
  free(gone);
}
END_TEST

Suite *refusals_suite(void)
{
  Suite *s = suite_create("refusals");
  TCase *tc = tcase_create("memory");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_once_and_after_restart);
  tcase_add_test(tc, test_news_again);
  tcase_add_test(tc, test_global_and_prune);
  tcase_add_test(tc, test_bad_file_moved_aside);
  tcase_add_test(tc, test_write_failure);
  suite_add_tcase(s, tc);
  return s;
}
