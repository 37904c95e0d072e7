/* SPDX-License-Identifier: MIT
 *
 * Check suite for holder: how a result is recorded (a failed lookup changes no
 * stored pairing), and when a conflict is looked up again.  The Graph side
 * ($batch, per-item 429, several batches) runs end to end against the
 * simulator in tests/e2e/test_holder.py.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "holder.h"
#include "testutil.h"

#define NOW ((time_t)1700000000)

static struct conflict *conflict(void)
{
  struct conflict *c = conflict_new("contoso", "q-1", CONFLICT_USER,
                                    CONFLICT_UPN, "john@contoso.com");

  ck_assert_ptr_nonnull(c);
  c->display_name = strdup("John Smith");
  c->sync_enabled = CONFLICT_TRI_TRUE;
  return c;
}

START_TEST(test_apply)
{
  struct conflict *c = conflict();
  struct conflict_holder h;
  struct holder_result r;

  memset(&h, 0, sizeof(h));
  h.id = "cloud-1";
  h.type = CONFLICT_USER;
  h.display_name = "John (cloud)";
  memset(&r, 0, sizeof(r));
  r.key = c->key;
  r.outcome = HOLDER_HELD;
  r.holders = &h;
  r.nholders = 1;
  c->recheck = true;
  ck_assert_int_eq(holder_apply(c, &r, NOW), 0);
  ck_assert_uint_eq(c->nholders, 1);
  ck_assert_str_eq(c->holders[0].display_name, "John (cloud)");
  ck_assert_ptr_ne(c->holders[0].display_name, h.display_name); /* a copy */
  ck_assert_int_eq(c->looked_up, NOW);
  ck_assert(!c->recheck);

  /* A failed lookup records why and keeps the pairing it had. */
  memset(&r, 0, sizeof(r));
  r.key = c->key;
  r.outcome = HOLDER_FAILED;
  strcpy(r.err.code, "TooManyRequests");
  ck_assert_int_eq(holder_apply(c, &r, NOW + 60), 0);
  ck_assert_str_eq(c->lookup_error, "TooManyRequests");
  ck_assert_uint_eq(c->nholders, 1);
  ck_assert_int_eq(c->looked_up, NOW);

  /* Not held any more: complete data, so the holders go. */
  memset(&r, 0, sizeof(r));
  r.key = c->key;
  r.outcome = HOLDER_NOT_HELD;
  ck_assert_int_eq(holder_apply(c, &r, NOW + 120), 0);
  ck_assert_uint_eq(c->nholders, 0);
  ck_assert_ptr_null(c->lookup_error);
  ck_assert_int_eq(c->looked_up, NOW + 120);
  conflict_free(c);
}
END_TEST

START_TEST(test_needs_lookup)
{
  struct conflict *prev = conflict(), *cur = conflict();

  ck_assert(holder_needs_lookup(NULL, cur));
  ck_assert(holder_needs_lookup(prev, cur)); /* never looked up */
  prev->looked_up = NOW;
  ck_assert(!holder_needs_lookup(prev, cur));
  /* Carried over, the next cycle does not ask again. */
  ck_assert_int_eq(conflict_copy_pairing(cur, prev), 0);
  ck_assert_int_eq(cur->looked_up, NOW);
  prev->recheck = true; /* forced, e.g. by the sweep */
  ck_assert(holder_needs_lookup(prev, cur));
  prev->recheck = false;
  /* The object changed (renamed on-premises, sync state, ...). */
  free(cur->display_name);
  cur->display_name = strdup("John Q. Smith");
  ck_assert(holder_needs_lookup(prev, cur));
  conflict_free(prev);
  conflict_free(cur);
}
END_TEST

Suite *holder_suite(void)
{
  Suite *s = suite_create("holder");
  TCase *tc = tcase_create("pure");

  tcase_add_test(tc, test_apply);
  tcase_add_test(tc, test_needs_lookup);
  suite_add_tcase(s, tc);
  return s;
}
