/* SPDX-License-Identifier: MIT
 *
 * Check suite for budget: the documented resource-unit costs of Graph's
 * identity and access requests and the token bucket that paces a tenant
 * (https://learn.microsoft.com/graph/throttling-limits).
 */
#include <check.h>
#include <stdint.h>

#include "budget.h"
#include "testutil.h"

START_TEST(test_quota)
{
  ck_assert_uint_eq(budget_quota(BUDGET_SMALL), 3500);
  ck_assert_uint_eq(budget_quota(BUDGET_MEDIUM), 5000);
  ck_assert_uint_eq(budget_quota(BUDGET_LARGE), 8000);
}
END_TEST

START_TEST(test_cost)
{
  /* GET users costs 2, other GETs 1; $select takes 1 off. */
  ck_assert_uint_eq(budget_cost("GET", "/users"), 2);
  ck_assert_uint_eq(budget_cost("GET", "/v1.0/users?$top=999"), 2);
  ck_assert_uint_eq(budget_cost("GET", "/users?$filter=x&$select=id"), 1);
  ck_assert_uint_eq(
      budget_cost("GET", "https://graph.microsoft.com/v1.0/users?$select=id"),
      1);
  ck_assert_uint_eq(budget_cost("GET", "/groups?$filter=x"), 1);
  ck_assert_uint_eq(budget_cost("GET", "/groups?$select=id"), 1); /* >= 1 */
  ck_assert_uint_eq(budget_cost("GET", "/users/delta?$select=id"), 1);
  ck_assert_uint_eq(budget_cost("GET", "/users/abc?$expand=manager"), 2);
  /* $top below 20 takes 1 off. */
  ck_assert_uint_eq(budget_cost("GET", "/users?$top=19"), 1);
  ck_assert_uint_eq(budget_cost("GET", "/users?$top=20"), 2);
  ck_assert_uint_eq(budget_cost("GET", "/groups/g1/members"), 3);
  ck_assert_uint_eq(budget_cost("GET", "/groups/g1/members?$select=id"), 2);
  /* The newer copy of the page: getByIds costs 5. */
  ck_assert_uint_eq(budget_cost("POST", "/directoryObjects/getByIds"), 5);
  ck_assert_uint_eq(budget_cost("PATCH", "/users/abc"), 1);
  /* An option name is matched whole, without case. */
  ck_assert_uint_eq(budget_cost("GET", "/users?$selectx=1"), 2);
  ck_assert_uint_eq(budget_cost("GET", "/users?$SELECT=id"), 1);
}
END_TEST

START_TEST(test_bucket)
{
  struct budget b;
  unsigned i;

  budget_init(&b, budget_quota(BUDGET_SMALL), 1000);
  /* A full bucket: the quota less 5%, 3,325 units at once... */
  for(i = 0; i < 1662; i++)
    ck_assert_uint_eq(budget_take(&b, 1000, 2), 0);
  ck_assert_uint_eq(budget_take(&b, 1000, 1), 0);
  /* ...then it refills 0.35 units a millisecond (the whole quota over
   * 10 s). */
  ck_assert_uint_eq(budget_take(&b, 1000, 1), 3);
  ck_assert_uint_eq(budget_take(&b, 1002, 1), 1);
  ck_assert_uint_eq(budget_take(&b, 1003, 1), 0);
  ck_assert_uint_eq(budget_take(&b, 1003, 35), 100);
  ck_assert_uint_eq(budget_take(&b, 1103, 35), 0);
  /* It never holds more than the quota less 5%. */
  ck_assert_uint_eq(budget_take(&b, 1000000, 3325), 0);
  ck_assert_uint_gt(budget_take(&b, 1000000, 1), 0);
  /* A cost above that waits for a full bucket, then passes: 7,600 units
   * of a large tenant refill in 9.5 s. */
  budget_init(&b, budget_quota(BUDGET_LARGE), 0);
  ck_assert_uint_eq(budget_take(&b, 0, 9000), 0);
  ck_assert_uint_eq(budget_take(&b, 0, 9000), 9500);
}
END_TEST

Suite *budget_suite(void)
{
  Suite *s = suite_create("budget");
  TCase *tc = tcase_create("pure");

  tcase_add_test(tc, test_quota);
  tcase_add_test(tc, test_cost);
  tcase_add_test(tc, test_bucket);
  suite_add_tcase(s, tc);
  return s;
}
