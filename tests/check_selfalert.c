/* SPDX-License-Identifier: MIT
 *
 * check_selfalert: the cause a failed cycle is reduced to (the code of
 * tenant.failing): an AADSTS code wins, then the HTTP status, then the
 * transport error.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "graph.h"
#include "selfalert.h"
#include "testutil.h"

static void cause_of(int result, const struct graph_error *err,
                     const char *want_code)
{
  char code[32], cause[700];

  selfalert_cause(result, "token", err, code, sizeof(code), cause,
                  sizeof(cause));
  ck_assert_str_eq(code, want_code);
  ck_assert_ptr_nonnull(strstr(cause, "token: "));
}

START_TEST(test_cause)
{
  struct graph_error e;

  memset(&e, 0, sizeof(e));
  e.status = 401;
  strcpy(e.code, "invalid_client AADSTS7000222");
  strcpy(e.message, "The provided client secret keys are expired.");
  cause_of(-EACCES, &e, "AADSTS7000222");
  memset(&e, 0, sizeof(e));
  e.status = 503;
  cause_of(-EAGAIN, &e, "HTTP 503");
  memset(&e, 0, sizeof(e));
  strcpy(e.code, "TLS or protocol error");
  cause_of(-EPROTO, &e, "TLS");
  cause_of(-EMFILE, NULL, "EMFILE");
  cause_of(-ETIMEDOUT, NULL, "ETIMEDOUT");
}
END_TEST

Suite *selfalert_suite(void)
{
  Suite *s = suite_create("selfalert");
  TCase *tc = tcase_create("cause");

  tcase_add_test(tc, test_cause);
  suite_add_tcase(s, tc);
  return s;
}
