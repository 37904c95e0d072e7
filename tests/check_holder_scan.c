/* SPDX-License-Identifier: MIT
 *
 * Check suite for holder_scan: which collections a holder lookup asks the
 * size of, which it lists whole rather than searching value by value, and
 * the path of a listing.  The listings themselves run end to end against
 * the simulator in tests/e2e/test_holder.py.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "holder_scan.h"
#include "testutil.h"

#define NOW ((time_t)1700000000)

enum { USERS = 1u, GROUPS = 2u, CONTACTS = 4u };

START_TEST(test_to_count)
{
  struct holder_scan s;
  size_t est[3] = {1700, 7, 8};

  holder_scan_init(&s);
  /* Never counted: asked where a listing could save several units (8
   * GETs or more). */
  ck_assert_uint_eq(holder_scan_to_count(&s, est, NOW), USERS | CONTACTS);
  /* A fresh count is used for an hour, then asked again. */
  holder_scan_listed(&s, 0, 100000, NOW);
  holder_scan_listed(&s, 2, 1000, NOW - HOLDER_SCAN_COUNT_TTL);
  ck_assert_uint_eq(holder_scan_to_count(&s, est, NOW), CONTACTS);
  ck_assert_uint_eq(holder_scan_to_count(&s, est, NOW + HOLDER_SCAN_COUNT_TTL),
                    USERS | CONTACTS);
  /* A clock stepped back does not make a count fresh for longer. */
  ck_assert_uint_eq(holder_scan_to_count(&s, est, NOW - 10), USERS);
  s.enabled = false;
  ck_assert_uint_eq(holder_scan_to_count(&s, est, NOW), 0);
}
END_TEST

START_TEST(test_choose)
{
  /* 5,100 values, every term asked: 1,360 user GETs, 1,020 each for
   * groups and contacts, 4 POSTs of 20 in flight: 43 rounds. */
  struct holder_scan s;
  size_t est[3] = {1360, 1020, 1020};

  holder_scan_init(&s);
  s.concurrency = 4;
  ck_assert_uint_eq(holder_scan_choose(&s, est, NOW), 0); /* no count */
  holder_scan_listed(&s, 0, 100000, NOW);
  holder_scan_listed(&s, 1, 1000, NOW);
  holder_scan_listed(&s, 2, 998, NOW);
  /* 101 pages of users would take longer than the searches; 2 pages of
   * groups and 1 of contacts are cheaper and no longer. */
  ck_assert_uint_eq(holder_scan_choose(&s, est, NOW), GROUPS | CONTACTS);
  /* With 32 POSTs in flight the searches take 6 rounds: still listed. */
  s.concurrency = 32;
  ck_assert_uint_eq(holder_scan_choose(&s, est, NOW), GROUPS | CONTACTS);
  /* A few values: searching costs less than listing. */
  est[0] = 3;
  est[1] = 2;
  est[2] = 1;
  ck_assert_uint_eq(holder_scan_choose(&s, est, NOW), 0);
  /* A small tenant: users listed too once they cost fewer pages; 1,000
   * groups are 2 pages, more than the searches' 1 round. */
  holder_scan_listed(&s, 0, 150, NOW);
  est[0] = 17;
  est[1] = 13;
  est[2] = 13;
  ck_assert_uint_eq(holder_scan_choose(&s, est, NOW), USERS | CONTACTS);
  holder_scan_listed(&s, 1, 500, NOW);
  est[0] = 17;
  est[1] = 13;
  est[2] = 13;
  ck_assert_uint_eq(holder_scan_choose(&s, est, NOW),
                    USERS | GROUPS | CONTACTS);
  /* A count that could not be had, or that is stale, means search. */
  s.count[1] = -1;
  s.counted[2] = NOW - HOLDER_SCAN_COUNT_TTL;
  ck_assert_uint_eq(holder_scan_choose(&s, est, NOW), USERS);
  s.enabled = false;
  ck_assert_uint_eq(holder_scan_choose(&s, est, NOW), 0);
}
END_TEST

START_TEST(test_path)
{
  char *p = holder_scan_path(1);

  ck_assert_ptr_nonnull(p);
  ck_assert_str_eq(p, "/v1.0/groups?$select=id,displayName,mail,"
                      "proxyAddresses,onPremisesSyncEnabled,"
                      "onPremisesSamAccountName,onPremisesLastSyncDateTime"
                      "&$top=999");
  free(p);
}
END_TEST

Suite *holder_scan_suite(void)
{
  Suite *s = suite_create("holder_scan");
  TCase *tc = tcase_create("pure");

  tcase_add_test(tc, test_to_count);
  tcase_add_test(tc, test_choose);
  tcase_add_test(tc, test_path);
  suite_add_tcase(s, tc);
  return s;
}
