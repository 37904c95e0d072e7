/* SPDX-License-Identifier: MIT
 *
 * Check suite for tfiles: every per-tenant file name, made in one place,
 * and tenant names that would reach outside the state directory.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tfiles.h"

#define DIR "/var/lib/quarantined"

START_TEST(test_every_kind)
{
  static const struct {
    enum tfiles_kind kind;
    const char *path;
  } want[] = {
      {TFILES_STATE, DIR "/contoso.state.json"},
      {TFILES_JOURNAL, DIR "/contoso.journal.jsonl"},
      {TFILES_SUGGESTIONS, DIR "/contoso.suggestions.csv"},
      {TFILES_APPLY_MEMORY, DIR "/contoso.apply.json"},
      {TFILES_KILL_SWITCH, DIR "/contoso.stop"},
      {TFILES_SPOOL, DIR "/contoso.spool"},
      {TFILES_SPOOL_ACK, DIR "/contoso.spool.ack"},
  };
  size_t i, k;

  ck_assert_uint_eq(sizeof(want) / sizeof(want[0]), TFILES_NKINDS);
  for(i = 0; i < TFILES_NKINDS; i++) {
    char *p = tfiles_path(DIR, "contoso", want[i].kind);

    ck_assert_str_eq(p, want[i].path);
    free(p);
    /* No suffix ends another: no kind can be mistaken for another. */
    for(k = 0; k < TFILES_NKINDS; k++) {
      const char *a = tfiles_suffix(want[i].kind);
      const char *b = tfiles_suffix(want[k].kind);

      if(k != i && strlen(a) >= strlen(b))
        ck_assert_str_ne(a + strlen(a) - strlen(b), b);
    }
  }
  ck_assert_ptr_null(tfiles_suffix((enum tfiles_kind)TFILES_NKINDS));
  ck_assert_ptr_null(
      tfiles_path(DIR, "contoso", (enum tfiles_kind)TFILES_NKINDS));
}
END_TEST

START_TEST(test_tenant_must_be_a_plain_name)
{
  size_t k;

  for(k = 0; k < TFILES_NKINDS; k++) {
    ck_assert_ptr_null(tfiles_path("/x", "../etc", (enum tfiles_kind)k));
    ck_assert_ptr_null(tfiles_path("/x", ".hidden", (enum tfiles_kind)k));
    ck_assert_ptr_null(tfiles_path("/x", "a/b", (enum tfiles_kind)k));
    ck_assert_ptr_null(tfiles_path("/x", "", (enum tfiles_kind)k));
  }
}
END_TEST

Suite *tfiles_suite(void)
{
  Suite *s = suite_create("tfiles");
  TCase *tc = tcase_create("tfiles");

  tcase_add_test(tc, test_every_kind);
  tcase_add_test(tc, test_tenant_must_be_a_plain_name);
  suite_add_tcase(s, tc);
  return s;
}
