/* SPDX-License-Identifier: MIT
 *
 * check_timex: ISO 8601 date-times as Graph, the state file and the
 * journal write them (7-digit fractions, offsets, leap days, the edges of
 * every field), the Retry-After HTTP-date, and durations in the
 * configuration's form.  Expected times come from timegm(3) (tu_utc()),
 * not from the parser under test.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "timex.h"

/* ===== Date-times ===== */

#define utc tu_utc

START_TEST(test_iso_parse)
{
  time_t t = 0;
  char buf[TIMEX_ISO_LEN];

  ck_assert_int_eq(timex_parse_iso("2022-06-27T10:29:29Z", &t), 0);
  ck_assert_int_eq(t, utc(2022, 6, 27, 10, 29, 29));
  ck_assert_int_eq(timex_parse_iso("2022-06-27T10:29:29.1Z", &t), 0);
  ck_assert_int_eq(timex_parse_iso("2022-06-27T10:29:29.0922053Z", &t), 0);
  ck_assert_int_eq(t, utc(2022, 6, 27, 10, 29, 29));
  ck_assert_int_eq(timex_parse_iso("2022-06-27T12:29:29.5+02:00", &t), 0);
  ck_assert_int_eq(t, utc(2022, 6, 27, 10, 29, 29));
  ck_assert_int_eq(timex_parse_iso("2022-06-27T05:59:29-04:30", &t), 0);
  ck_assert_int_eq(t, utc(2022, 6, 27, 10, 29, 29));
  ck_assert_int_eq(timex_parse_iso("2020-01-31T17:45:18.00", &t), 0);
  ck_assert_int_eq(t, utc(2020, 1, 31, 17, 45, 18));
  ck_assert_int_eq(timex_parse_iso("2022-06-27T10:29:29.09220531Z", &t),
                   -EINVAL);
  ck_assert_int_eq(timex_parse_iso("2022-06-27T10:29:29.Z", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_iso("2022-06-27 10:29:29Z", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_iso("2022-13-27T10:29:29Z", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_iso("2022-06-27T10:29:29+0200", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_iso("2022-06-27T10:29:29Zjunk", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_iso("", &t), -EINVAL);
  timex_format_iso(utc(2022, 6, 27, 10, 29, 29), buf, sizeof(buf));
  ck_assert_str_eq(buf, "2022-06-27T10:29:29Z");
}
END_TEST

/* parses() is timex_parse_iso() of s, which must succeed. */
static time_t parses(const char *s)
{
  time_t t = 12345;

  ck_assert_msg(timex_parse_iso(s, &t) == 0, "'%s' not parsed", s);
  return t;
}

/* rejects() checks that timex_parse_iso() refuses s, leaving *out alone. */
static void rejects(const char *s)
{
  time_t t = 12345;

  ck_assert_msg(timex_parse_iso(s, &t) == -EINVAL, "'%s' accepted", s);
  ck_assert_int_eq(t, 12345);
}

START_TEST(test_iso_graph_forms)
{
  /* Graph's 7-digit fractions, any fraction length from 1 to 7. */
  ck_assert_int_eq(parses("2026-11-30T10:00:00.1234567Z"),
                   utc(2026, 11, 30, 10, 0, 0));
  ck_assert_int_eq(parses("2026-11-30T10:00:00.9999999Z"),
                   utc(2026, 11, 30, 10, 0, 0));
  ck_assert_int_eq(parses("2026-11-30T10:00:00.12Z"),
                   utc(2026, 11, 30, 10, 0, 0));
  ck_assert_int_eq(parses("2026-11-30T10:00:00.123456Z"),
                   utc(2026, 11, 30, 10, 0, 0));
  /* Lower-case separators (RFC 3339 5.6) and no zone (taken as UTC). */
  ck_assert_int_eq(parses("2026-11-30t10:00:00z"), utc(2026, 11, 30, 10, 0, 0));
  ck_assert_int_eq(parses("2026-11-30T10:00:00"), utc(2026, 11, 30, 10, 0, 0));
  ck_assert_int_eq(parses("0001-01-01T00:00:00Z"), utc(1, 1, 1, 0, 0, 0));
  ck_assert_int_eq(parses("9999-12-31T23:59:59.9999999Z"),
                   utc(9999, 12, 31, 23, 59, 59));
}
END_TEST

START_TEST(test_iso_offsets)
{
  /* Offsets move the time to UTC, across a day and a year. */
  ck_assert_int_eq(parses("2026-12-31T23:30:00-01:00"),
                   utc(2027, 1, 1, 0, 30, 0));
  ck_assert_int_eq(parses("2027-01-01T00:30:00.5+01:00"),
                   utc(2026, 12, 31, 23, 30, 0));
  ck_assert_int_eq(parses("2026-06-01T00:00:00+14:00"),
                   utc(2026, 5, 31, 10, 0, 0));
  ck_assert_int_eq(parses("2026-06-01T00:00:00-12:00"),
                   utc(2026, 6, 1, 12, 0, 0));
  ck_assert_int_eq(parses("2026-06-01T00:00:00+00:00"),
                   parses("2026-06-01T00:00:00-00:00"));
  ck_assert_int_eq(parses("2026-06-01T05:45:00+05:45"),
                   utc(2026, 6, 1, 0, 0, 0));
  rejects("2026-06-01T00:00:00+24:00");
  rejects("2026-06-01T00:00:00+01:60");
  rejects("2026-06-01T00:00:00+1:00");
  rejects("2026-06-01T00:00:00+01");
  rejects("2026-06-01T00:00:00Z+01:00");
  rejects("2026-06-01T00:00:00 Z");
}
END_TEST

START_TEST(test_iso_edges)
{
  /* Leap days, the epoch, the second before it ((time_t)-1), and a leap
   * second, which counts as the next minute's first. */
  ck_assert_int_eq(parses("2024-02-29T12:00:00Z"), utc(2024, 2, 29, 12, 0, 0));
  ck_assert_int_eq(parses("2000-02-29T00:00:00Z"), utc(2000, 2, 29, 0, 0, 0));
  ck_assert_int_eq(parses("1970-01-01T00:00:00Z"), 0);
  ck_assert_int_eq(parses("1969-12-31T23:59:59Z"), -1);
  ck_assert_int_eq(parses("1970-01-01T01:00:00+01:00"), 0);
  ck_assert_int_eq(parses("2016-12-31T23:59:60Z"), utc(2017, 1, 1, 0, 0, 0));
  /* Every field at its bound, and past it. */
  rejects("2026-00-10T00:00:00Z");
  rejects("2026-01-00T00:00:00Z");
  rejects("2026-01-32T00:00:00Z");
  rejects("2026-01-10T24:00:00Z");
  rejects("2026-01-10T23:60:00Z");
  rejects("2026-01-10T23:59:61Z");
  /* Days that do not exist in their month. */
  rejects("2023-02-29T12:00:00Z");
  rejects("1900-02-29T00:00:00Z");
  rejects("2100-02-29T00:00:00Z");
  rejects("2024-02-30T00:00:00Z");
  rejects("2026-04-31T00:00:00Z");
  rejects("2026-06-31T00:00:00Z");
  rejects("2026-09-31T00:00:00Z");
  rejects("2026-11-31T00:00:00Z");
  ck_assert_int_eq(parses("2026-12-31T00:00:00Z"), utc(2026, 12, 31, 0, 0, 0));
  /* Shapes that are not a date-time. */
  rejects(NULL);
  rejects("2026-1-10T00:00:00Z");
  rejects("26-01-10T00:00:00Z");
  rejects("2026-01-10");
  rejects("2026-01-10T00:00Z");
  rejects("2026-01-10T00:00:00.");
  rejects("+2026-01-10T00:00:00Z");
  rejects(" 2026-01-10T00:00:00Z");
  rejects("2026-01-10T00:00:00Z ");
  rejects("2026\xe2\x80\x90"
          "01-10T00:00:00Z");
}
END_TEST

START_TEST(test_date_and_http_date)
{
  time_t t = 7;

  ck_assert_int_eq(timex_parse_date("2024-02-29", &t), 0);
  ck_assert_int_eq(t, utc(2024, 2, 29, 0, 0, 0));
  ck_assert_int_eq(timex_parse_date("1970-01-01", &t), 0);
  ck_assert_int_eq(t, 0);
  t = 7;
  ck_assert_int_eq(timex_parse_date("2024-02-29T00:00:00Z", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_date("2024-13-01", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_date("2023-02-29", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_date("2024-02-2", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_date("", &t), -EINVAL);
  ck_assert_int_eq(t, 7);

  ck_assert_int_eq(timex_parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT", &t),
                   0);
  ck_assert_int_eq(t, utc(2015, 10, 21, 7, 28, 0));
  ck_assert_int_eq(timex_parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT", &t),
                   0);
  ck_assert_int_eq(t, utc(2024, 2, 29, 23, 59, 59));
  t = 7;
  ck_assert_int_eq(timex_parse_http_date("Wed, 21 Oct 2015 07:28:00 UTC", &t),
                   -EINVAL);
  ck_assert_int_eq(
      timex_parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT junk", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_http_date("Fri, 30 Feb 2024 00:00:00 GMT", &t),
                   -EINVAL);
  ck_assert_int_eq(timex_parse_http_date("2015-10-21T07:28:00Z", &t), -EINVAL);
  ck_assert_int_eq(timex_parse_http_date(NULL, &t), -EINVAL);
  ck_assert_int_eq(t, 7);
}
END_TEST

START_TEST(test_iso_format)
{
  static const time_t samples[] = {0, 1, 951782400 /* 2000-02-29 */,
                                   1709208000 /* 2024-02-29T12:00Z */,
                                   253402300799 /* 9999-12-31T23:59:59Z */};
  struct timespec ts = {1709208000, 999999999};
  char buf[TIMEX_ISO_LEN];
  size_t i;

  timex_format_iso(1709208000, buf, sizeof(buf));
  ck_assert_str_eq(buf, "2024-02-29T12:00:00Z");
  timex_format_iso_ms(&ts, buf, sizeof(buf));
  ck_assert_str_eq(buf, "2024-02-29T12:00:00.999Z");
  ts.tv_nsec = 1000000;
  timex_format_iso_ms(&ts, buf, sizeof(buf));
  ck_assert_str_eq(buf, "2024-02-29T12:00:00.001Z");
  timex_format_iso_basic(1709208000, buf, sizeof(buf));
  ck_assert_str_eq(buf, "20240229T120000Z");
  /* A buffer too small gets no half-written time. */
  timex_format_iso(1709208000, buf, 12);
  ck_assert_str_eq(buf, "invalid");
  /* What is written is read back to the second. */
  for(i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
    timex_format_iso(samples[i], buf, sizeof(buf));
    ck_assert_int_eq(parses(buf), samples[i]);
  }
}
END_TEST

/* ===== Durations ===== */

START_TEST(test_duration_parse)
{
  unsigned long long v = 7;

  ck_assert_int_eq(timex_parse_duration("90", &v), 0);
  ck_assert_uint_eq(v, 90);
  ck_assert_int_eq(timex_parse_duration("5m", &v), 0);
  ck_assert_uint_eq(v, 300);
  ck_assert_int_eq(timex_parse_duration("2h", &v), 0);
  ck_assert_uint_eq(v, 7200);
  ck_assert_int_eq(timex_parse_duration("1d", &v), 0);
  ck_assert_uint_eq(v, 86400);
  ck_assert_int_eq(timex_parse_duration("-1", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration("1w", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration("1mm", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration("99999999999999999999", &v), -ERANGE);
  /* More edges: zero, a seconds suffix, the largest value, overflow by
   * the suffix, and forms the configuration never took. */
  ck_assert_int_eq(timex_parse_duration("0", &v), 0);
  ck_assert_uint_eq(v, 0);
  ck_assert_int_eq(timex_parse_duration("90s", &v), 0);
  ck_assert_uint_eq(v, 90);
  ck_assert_int_eq(timex_parse_duration("18446744073709551615", &v), 0);
  ck_assert_uint_eq(v, 18446744073709551615ULL);
  v = 7;
  ck_assert_int_eq(timex_parse_duration("213503982334602d", &v), -ERANGE);
  ck_assert_int_eq(timex_parse_duration("1h30m", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration("5 m", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration(" 5m", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration("+5m", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration("5M", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration("m", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration("", &v), -EINVAL);
  ck_assert_int_eq(timex_parse_duration(NULL, &v), -EINVAL);
  ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_duration_format)
{
  static const unsigned long long samples[] = {
      0, 1, 59, 60, 90, 3600, 5400, 86400, 90000, 604800, 31536000};
  static const char *const want[] = {"0s",  "1s", "59s", "1m", "90s", "1h",
                                     "90m", "1d", "25h", "7d", "365d"};
  unsigned long long back;
  char buf[24];
  size_t i;

  for(i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
    timex_format_duration(samples[i], buf, sizeof(buf));
    ck_assert_str_eq(buf, want[i]);
    ck_assert_int_eq(timex_parse_duration(buf, &back), 0);
    ck_assert_uint_eq(back, samples[i]);
  }
}
END_TEST

START_TEST(test_span)
{
  char buf[32];

  ck_assert_str_eq(timex_format_span(0, buf, sizeof(buf)), "0s");
  ck_assert_str_eq(timex_format_span(45, buf, sizeof(buf)), "45s");
  ck_assert_str_eq(timex_format_span(725, buf, sizeof(buf)), "12m 5s");
  ck_assert_str_eq(timex_format_span(3600, buf, sizeof(buf)), "1h");
  ck_assert_str_eq(
      timex_format_span(3 * 86400 + 4 * 3600 + 59, buf, sizeof(buf)), "3d 4h");
  /* Two units at most: the smaller ones are dropped, not rounded. */
  ck_assert_str_eq(timex_format_span(86400 + 3599, buf, sizeof(buf)), "1d 59m");
  ck_assert_str_eq(timex_format_span(86400 + 1, buf, sizeof(buf)), "1d 1s");
}
END_TEST

/* One unit, the largest that goes in twice: 90 s stays seconds. */
START_TEST(test_age)
{
  char buf[24];

  ck_assert_str_eq(timex_format_age(-5, buf, sizeof(buf)), "0s");
  ck_assert_str_eq(timex_format_age(12, buf, sizeof(buf)), "12s");
  ck_assert_str_eq(timex_format_age(119, buf, sizeof(buf)), "119s");
  ck_assert_str_eq(timex_format_age(120, buf, sizeof(buf)), "2m");
  ck_assert_str_eq(timex_format_age(7199, buf, sizeof(buf)), "119m");
  ck_assert_str_eq(timex_format_age(5 * 3600 + 59, buf, sizeof(buf)), "5h");
  ck_assert_str_eq(timex_format_age(3 * 86400, buf, sizeof(buf)), "3d");
}
END_TEST

Suite *timex_suite(void)
{
  Suite *s = suite_create("timex");
  TCase *tc = tcase_create("iso");
  TCase *td = tcase_create("duration");

  tcase_add_test(tc, test_iso_parse);
  tcase_add_test(tc, test_iso_graph_forms);
  tcase_add_test(tc, test_iso_offsets);
  tcase_add_test(tc, test_iso_edges);
  tcase_add_test(tc, test_date_and_http_date);
  tcase_add_test(tc, test_iso_format);
  suite_add_tcase(s, tc);
  tcase_add_test(td, test_duration_parse);
  tcase_add_test(td, test_duration_format);
  tcase_add_test(td, test_span);
  tcase_add_test(td, test_age);
  suite_add_tcase(s, td);
  return s;
}
