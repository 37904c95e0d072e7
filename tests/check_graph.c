/* SPDX-License-Identifier: MIT
 *
 * check_graph: the parts of the Graph layer an admin's safety depends on:
 * Retry-After parsing (integer, fractional, HTTP-date), Graph error bodies
 * (innerError and innererror), and the same-origin rule that keeps the
 * bearer token on the configured Graph host; the length of a filter path
 * as libcurl escapes it.  Retries and paging against
 * a live server are covered by the end-to-end tests with the simulator.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph.h"
#include "testutil.h"

START_TEST(test_retry_after)
{
  time_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */

  ck_assert_int_eq(graph_retry_after_ms("10", now), 10000);
  /* Older Graph samples use a fractional value. */
  ck_assert_int_eq(graph_retry_after_ms("2.128", now), 2128);
  ck_assert_int_eq(graph_retry_after_ms("0", now), 0);
  ck_assert_int_eq(graph_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now),
                   30000);
  ck_assert_int_eq(graph_retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now),
                   0);
  ck_assert_int_eq(graph_retry_after_ms(NULL, now), -1);
  ck_assert_int_eq(graph_retry_after_ms("", now), -1);
  ck_assert_int_eq(graph_retry_after_ms("soon", now), -1);
  ck_assert_int_eq(graph_retry_after_ms("5s", now), -1);
  ck_assert_int_eq(graph_retry_after_ms("-3", now), -1);
  ck_assert_int_eq(graph_retry_after_ms("999999", now), -1);
}
END_TEST

START_TEST(test_error_body)
{
  struct graph_error e;
  const char *b1 =
      "{\"error\":{\"code\":\"Request_UnsupportedQuery\",\"message\":"
      "\"Unsupported Query.\",\"innerError\":{\"date\":\"2021-05-18T19:03:10\","
      "\"request-id\":\"9b1d1a4e-0000-4000-8000-000000000001\","
      "\"client-request-id\":\"x\"}}}";
  const char *b2 = "{\"error\":{\"code\":\"TooManyRequests\",\"message\":"
                   "\"line one\\nline two\",\"innererror\":{\"request-id\":"
                   "\"r2\"}}}";

  memset(&e, 0, sizeof(e));
  graph_parse_error(b1, strlen(b1), &e);
  ck_assert_str_eq(e.code, "Request_UnsupportedQuery");
  ck_assert_str_eq(e.message, "Unsupported Query.");
  ck_assert_str_eq(e.request_id, "9b1d1a4e-0000-4000-8000-000000000001");

  memset(&e, 0, sizeof(e));
  graph_parse_error(b2, strlen(b2), &e);
  ck_assert_str_eq(e.code, "TooManyRequests");
  ck_assert_str_eq(e.message, "line one");
  ck_assert_str_eq(e.request_id, "r2");

  /* Not JSON, or another shape: nothing is filled in, nothing crashes. */
  memset(&e, 0, sizeof(e));
  graph_parse_error("<html>busy</html>", 17, &e);
  graph_parse_error("{\"error\":\"x\"}", 13, &e);
  graph_parse_error("{\"error\":{\"code\":5}}", 20, &e);
  ck_assert_str_eq(e.code, "");
}
END_TEST

START_TEST(test_same_origin)
{
  const char *root = "https://graph.microsoft.com";

  ck_assert(graph_same_origin(
      root, "https://graph.microsoft.com/v1.0/users?$skiptoken=X"));
  ck_assert(graph_same_origin(root, "https://graph.microsoft.com"));
  ck_assert(!graph_same_origin(root, "https://graph.microsoft.com.evil.test/"));
  ck_assert(!graph_same_origin(root, "https://graph.microsoft.com@evil.test/"));
  ck_assert(!graph_same_origin(root, "https://graph.microsoft.com:444/v1.0"));
  ck_assert(!graph_same_origin(root, "http://graph.microsoft.com/v1.0"));
  ck_assert(!graph_same_origin(root, "https://evil.test/v1.0/users"));
  ck_assert(graph_same_origin("http://127.0.0.1:8080",
                              "http://127.0.0.1:8080/v1.0/users"));
  ck_assert(!graph_same_origin("http://127.0.0.1:8080",
                               "http://127.0.0.1:80801/v1.0/users"));
}
END_TEST

START_TEST(test_filter_path_len)
{
  /* The length without making the path, for every kind of byte curl
   * escapes or keeps. */
  static const char *const filters[] = {
      "",
      "userPrincipalName in ('a@b.c','o''neil@x.y') or "
      "proxyAddresses/any(x:x eq 'SMTP:a-b_c.d~e@f.g')",
      "startswith(mail,'\xc3\xa9t\xc3\xa9+%#&=?')",
      "AZaz09!*();:@&=+$,/?#[]\t\"<>\\^`{|}"};
  size_t i;

  for(i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
    char *p = graph_filter_path("/users", filters[i], "id,mail", "&$top=999");

    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(
        graph_filter_path_len("/users", filters[i], "id,mail", "&$top=999"),
        strlen(p));
    free(p);
    p = graph_filter_path("/groups", filters[i], NULL, NULL);
    ck_assert_uint_eq(graph_filter_path_len("/groups", filters[i], NULL, NULL),
                      strlen(p));
    free(p);
  }
}
END_TEST

Suite *graph_suite(void)
{
  Suite *s = suite_create("graph");
  TCase *tc = tcase_create("parsing");

  tcase_add_test(tc, test_retry_after);
  tcase_add_test(tc, test_error_body);
  tcase_add_test(tc, test_same_origin);
  tcase_add_test(tc, test_filter_path_len);
  suite_add_tcase(s, tc);
  return s;
}
