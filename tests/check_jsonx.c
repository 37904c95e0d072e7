/* SPDX-License-Identifier: MIT
 *
 * check_jsonx: typed members of JSON objects: every getter on a present,
 * absent, null and wrongly typed member; whole numbers at and past their
 * range, including values no integer type holds (8.9e125, 1e999, NaN);
 * date-times; and the exact text the adders and jsonx_print_line() write.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonx.h"
#include "testutil.h"

/* doc() parses a fixture, which must be valid JSON. */
static cJSON *doc(const char *text)
{
  cJSON *j = cJSON_Parse(text);

  ck_assert_msg(j != NULL, "fixture is not JSON: %s", text);
  return j;
}

static const char sample[] =
    "{\"s\":\"text\",\"empty\":\"\",\"nul\":null,\"n\":42,\"t\":true,"
    "\"f\":false,\"o\":{\"k\":1},\"a\":[1,2],\"when\":"
    "\"2026-11-30T10:00:00.1234567Z\",\"bad\":\"yesterday\"}";

START_TEST(test_strings)
{
  cJSON *j = doc(sample);
  const char *s = "x";
  char *d = (char *)"x";

  ck_assert_int_eq(jsonx_get_str(j, "s", &s), 0);
  ck_assert_str_eq(s, "text");
  ck_assert_ptr_eq(s, cJSON_GetObjectItem(j, "s")->valuestring);
  ck_assert_int_eq(jsonx_get_str(j, "empty", &s), 0);
  ck_assert_str_eq(s, "");
  /* Absent and null are "not there", another type is an error. */
  ck_assert_int_eq(jsonx_get_str(j, "missing", &s), 0);
  ck_assert_ptr_null(s);
  s = "x";
  ck_assert_int_eq(jsonx_get_str(j, "nul", &s), 0);
  ck_assert_ptr_null(s);
  s = "x";
  ck_assert_int_eq(jsonx_get_str(j, "n", &s), -EBADMSG);
  ck_assert_ptr_null(s);
  ck_assert_int_eq(jsonx_get_str(j, "t", &s), -EBADMSG);
  ck_assert_int_eq(jsonx_get_str(j, "o", &s), -EBADMSG);
  ck_assert_int_eq(jsonx_get_str(j, "a", &s), -EBADMSG);
  /* Names are case sensitive; a NULL or non-object holder has none. */
  ck_assert_int_eq(jsonx_get_str(j, "S", &s), 0);
  ck_assert_ptr_null(s);
  ck_assert_int_eq(jsonx_get_str(NULL, "s", &s), 0);
  ck_assert_ptr_null(s);
  ck_assert_int_eq(jsonx_get_str(cJSON_GetObjectItem(j, "a"), "s", &s), 0);
  ck_assert_ptr_null(s);

  /* The lenient form: anything but a string is NULL. */
  ck_assert_str_eq(jsonx_str(j, "s"), "text");
  ck_assert_ptr_null(jsonx_str(j, "n"));
  ck_assert_ptr_null(jsonx_str(j, "nul"));
  ck_assert_ptr_null(jsonx_str(NULL, "s"));

  /* The copy is the caller's. */
  ck_assert_int_eq(jsonx_get_strdup(j, "s", &d), 0);
  ck_assert_str_eq(d, "text");
  ck_assert_ptr_ne(d, cJSON_GetObjectItem(j, "s")->valuestring);
  free(d);
  d = (char *)"x";
  ck_assert_int_eq(jsonx_get_strdup(j, "nul", &d), 0);
  ck_assert_ptr_null(d);
  d = (char *)"x";
  ck_assert_int_eq(jsonx_get_strdup(j, "f", &d), -EBADMSG);
  ck_assert_ptr_null(d);
  cJSON_Delete(j);
}
END_TEST

START_TEST(test_bools_and_containers)
{
  cJSON *j = doc(sample);
  const cJSON *c = j;
  int b = 7;

  ck_assert_int_eq(jsonx_get_bool(j, "t", &b), 0);
  ck_assert_int_eq(b, 1);
  ck_assert_int_eq(jsonx_get_bool(j, "f", &b), 0);
  ck_assert_int_eq(b, 0);
  ck_assert_int_eq(jsonx_get_bool(j, "nul", &b), 0);
  ck_assert_int_eq(b, JSONX_UNSET);
  b = 7;
  ck_assert_int_eq(jsonx_get_bool(j, "missing", &b), 0);
  ck_assert_int_eq(b, JSONX_UNSET);
  b = 7;
  ck_assert_int_eq(jsonx_get_bool(j, "n", &b), -EBADMSG);
  ck_assert_int_eq(b, JSONX_UNSET);
  ck_assert_int_eq(jsonx_get_bool(j, "s", &b), -EBADMSG);

  ck_assert_int_eq(jsonx_get_array(j, "a", &c), 0);
  ck_assert_int_eq(cJSON_GetArraySize(c), 2);
  ck_assert_int_eq(jsonx_get_array(j, "o", &c), -EBADMSG);
  ck_assert_ptr_null(c);
  c = j;
  ck_assert_int_eq(jsonx_get_array(j, "nul", &c), 0);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(jsonx_get_object(j, "o", &c), 0);
  ck_assert_ptr_eq(c, cJSON_GetObjectItem(j, "o"));
  ck_assert_int_eq(jsonx_get_object(j, "a", &c), -EBADMSG);
  ck_assert_ptr_null(c);
  c = j;
  ck_assert_int_eq(jsonx_get_object(j, "missing", &c), 0);
  ck_assert_ptr_null(c);
  cJSON_Delete(j);
}
END_TEST

/* int_of() is jsonx_get_int() of member "v" of text within min..max;
 * *out gets the value read. */
static int int_of(const char *text, long long min, long long max,
                  long long *out)
{
  cJSON *j = doc(text);
  int rc;

  *out = 12345;
  rc = jsonx_get_int(j, "v", min, max, out);
  cJSON_Delete(j);
  return rc;
}

START_TEST(test_whole_numbers)
{
  long long v;

  ck_assert_int_eq(int_of("{\"v\":3}", 1, 3, &v), 0);
  ck_assert_int_eq(v, 3);
  ck_assert_int_eq(int_of("{\"v\":-5}", -5, 0, &v), 0);
  ck_assert_int_eq(v, -5);
  ck_assert_int_eq(int_of("{\"v\":3.0}", 0, 10, &v), 0);
  ck_assert_int_eq(v, 3);
  ck_assert_int_eq(int_of("{\"v\":1e15}", 0, LLONG_MAX, &v), 0);
  ck_assert_int_eq(v, 1000000000000000LL);
  /* Just outside the range, a fraction, a string, and "not there". */
  ck_assert_int_eq(int_of("{\"v\":4}", 1, 3, &v), -ERANGE);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(int_of("{\"v\":0}", 1, 3, &v), -ERANGE);
  ck_assert_int_eq(int_of("{\"v\":2.5}", 1, 3, &v), -ERANGE);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(int_of("{\"v\":\"2\"}", 1, 3, &v), -EBADMSG);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(int_of("{\"v\":true}", 1, 3, &v), -EBADMSG);
  ck_assert_int_eq(int_of("{\"v\":null}", 1, 3, &v), 0);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(int_of("{}", 1, 3, &v), 0);
  ck_assert_int_eq(v, 0);
  /* Values no long long holds: refused before any conversion (UBSan
   * would catch one).  2^63 is one past LLONG_MAX; -2^63 is LLONG_MIN. */
  ck_assert_int_eq(int_of("{\"v\":8.9e125}", 1, LONG_MAX, &v), -ERANGE);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(int_of("{\"v\":-8.9e125}", LLONG_MIN, 0, &v), -ERANGE);
  ck_assert_int_eq(int_of("{\"v\":1e999}", 0, LLONG_MAX, &v), -ERANGE);
  ck_assert_int_eq(int_of("{\"v\":-1e999}", LLONG_MIN, 0, &v), -ERANGE);
  ck_assert_int_eq(int_of("{\"v\":9223372036854775808}", 0, LLONG_MAX, &v),
                   -ERANGE);
  ck_assert_int_eq(
      int_of("{\"v\":-9223372036854775808}", LLONG_MIN, LLONG_MAX, &v), 0);
  ck_assert_int_eq(v, LLONG_MIN);
}
END_TEST

START_TEST(test_number_values)
{
  cJSON *nan = cJSON_CreateNumber(NAN), *inf = cJSON_CreateNumber(INFINITY);
  cJSON *arr = doc("[7000215, \"7\", null, 1.5]");
  long long v;

  ck_assert_int_eq(jsonx_int_value(nan, LLONG_MIN, LLONG_MAX, &v), -ERANGE);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(jsonx_int_value(inf, LLONG_MIN, LLONG_MAX, &v), -ERANGE);
  ck_assert_int_eq(
      jsonx_int_value(cJSON_GetArrayItem(arr, 0), 0, 999999999999LL, &v), 0);
  ck_assert_int_eq(v, 7000215);
  ck_assert_int_eq(jsonx_int_value(cJSON_GetArrayItem(arr, 1), 0, 9, &v),
                   -EBADMSG);
  ck_assert_int_eq(jsonx_int_value(cJSON_GetArrayItem(arr, 2), 0, 9, &v), 0);
  ck_assert_int_eq(jsonx_int_value(cJSON_GetArrayItem(arr, 3), 0, 9, &v),
                   -ERANGE);
  ck_assert_int_eq(jsonx_int_value(NULL, 0, 9, &v), 0);
  ck_assert_int_eq(v, 0);
  cJSON_Delete(nan);
  cJSON_Delete(inf);
  cJSON_Delete(arr);
}
END_TEST

START_TEST(test_times)
{
  cJSON *j = doc(sample);
  time_t t = 7;

  ck_assert_int_eq(jsonx_get_time(j, "when", &t), 0);
  ck_assert_int_eq(t, tu_utc(2026, 11, 30, 10, 0, 0));
  t = 7;
  ck_assert_int_eq(jsonx_get_time(j, "bad", &t), -EINVAL);
  ck_assert_int_eq(t, 0);
  t = 7;
  ck_assert_int_eq(jsonx_get_time(j, "n", &t), -EBADMSG);
  ck_assert_int_eq(t, 0);
  t = 7;
  ck_assert_int_eq(jsonx_get_time(j, "nul", &t), 0);
  ck_assert_int_eq(t, 0);
  t = 7;
  ck_assert_int_eq(jsonx_get_time(j, "missing", &t), 0);
  ck_assert_int_eq(t, 0);
  cJSON_Delete(j);
}
END_TEST

START_TEST(test_adders_and_lines)
{
  cJSON *o = cJSON_CreateObject(), *back;
  char *line;
  size_t len = 0;

  ck_assert_ptr_nonnull(o);
  ck_assert_int_eq(jsonx_add_str(o, "s", "a\"b\n"), 0);
  ck_assert_int_eq(jsonx_add_str(o, "none", NULL), 0);
  ck_assert_int_eq(jsonx_add_bool(o, "t", 1), 0);
  ck_assert_int_eq(jsonx_add_bool(o, "f", 0), 0);
  ck_assert_int_eq(jsonx_add_bool(o, "u", JSONX_UNSET), 0);
  ck_assert_int_eq(jsonx_add_number(o, "n", 86400), 0);
  ck_assert_int_eq(jsonx_add_number(o, "big", 1e12), 0);
  ck_assert_int_eq(jsonx_add_time(o, "when", tu_utc(2024, 2, 29, 12, 0, 0)), 0);
  ck_assert_int_eq(jsonx_add_time(o, "never", 0), 0);
  line = jsonx_print_line(o, &len);
  ck_assert_ptr_nonnull(line);
  ck_assert_str_eq(line, "{\"s\":\"a\\\"b\\n\",\"none\":null,\"t\":true,"
                         "\"f\":false,\"u\":null,\"n\":86400,"
                         "\"big\":1000000000000,"
                         "\"when\":\"2024-02-29T12:00:00Z\",\"never\":null}\n");
  ck_assert_uint_eq(len, strlen(line));
  /* What was written reads back through the getters. */
  back = cJSON_Parse(line);
  ck_assert_ptr_nonnull(back);
  {
    const char *s;
    long long n;
    time_t t;
    int b;

    ck_assert_int_eq(jsonx_get_str(back, "s", &s), 0);
    ck_assert_str_eq(s, "a\"b\n");
    ck_assert_int_eq(jsonx_get_bool(back, "u", &b), 0);
    ck_assert_int_eq(b, JSONX_UNSET);
    ck_assert_int_eq(jsonx_get_int(back, "big", 0, LLONG_MAX, &n), 0);
    ck_assert_int_eq(n, 1000000000000LL);
    ck_assert_int_eq(jsonx_get_time(back, "when", &t), 0);
    ck_assert_int_eq(t, tu_utc(2024, 2, 29, 12, 0, 0));
  }
  cJSON_Delete(back);
  free(line);
  line = jsonx_print_line(cJSON_GetObjectItem(o, "n"), NULL);
  ck_assert_str_eq(line, "86400\n");
  free(line);
  cJSON_Delete(o);
}
END_TEST

Suite *jsonx_suite(void)
{
  Suite *s = suite_create("jsonx");
  TCase *tc = tcase_create("members");

  tcase_add_test(tc, test_strings);
  tcase_add_test(tc, test_bools_and_containers);
  tcase_add_test(tc, test_whole_numbers);
  tcase_add_test(tc, test_number_values);
  tcase_add_test(tc, test_times);
  tcase_add_test(tc, test_adders_and_lines);
  suite_add_tcase(s, tc);
  return s;
}
