/* SPDX-License-Identifier: MIT
 *
 * check_ctl: quarantinectl's pure parts: the Monitoring Plugins range
 * syntax, the conflict filters and sort, the CSV quoting (RFC 4180 and
 * the spreadsheet formula guard), the table's width; and the STATUS=
 * line and Prometheus label escaping of the daemon.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conflict.h"
#include "ctl_check.h"
#include "ctl_list.h"
#include "metrics.h"
#include "status.h"
#include "testutil.h"

#define NOW ((time_t)1700000000)

START_TEST(test_range_syntax)
{
  /* https://www.monitoring-plugins.org/doc/guidelines.html#THRESHOLDFORMAT */
  static const struct {
    const char *range;
    double value;
    bool alert;
  } cases[] = {
      {"10", -1, true},      {"10", 0, false},      {"10", 10, false},
      {"10", 11, true},      {"10:", 9, true},      {"10:", 1e9, false},
      {"~:10", -1e9, false}, {"~:10", 11, true},    {"10:20", 9, true},
      {"10:20", 15, false},  {"10:20", 21, true},   {"@10:20", 15, true},
      {"@10:20", 9, false},  {"0", 1, true},        {"0", 0, false},
      {"7d", 604801, true},  {"7d", 604800, false}, {"1h:", 3599, true},
  };
  struct ctl_check_range r;
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ck_assert_int_eq(ctl_check_range_parse(cases[i].range, &r), 0);
    ck_assert_msg(ctl_check_range_alert(&r, cases[i].value) == cases[i].alert,
                  "%s with %g", cases[i].range, cases[i].value);
  }
  ck_assert_int_eq(ctl_check_range_parse("", &r), -EINVAL);
  ck_assert_int_eq(ctl_check_range_parse("x", &r), -EINVAL);
  ck_assert_int_eq(ctl_check_range_parse("20:10", &r), -EINVAL);
  ck_assert_int_eq(ctl_check_range_parse("1:2:3", &r), -EINVAL);
  ck_assert_int_eq(ctl_check_range_parse("@", &r), -EINVAL);
}
END_TEST

static struct conflict *add(struct conflict_set *s, const char *id,
                            enum conflict_property p, const char *value,
                            const char *name, time_t since)
{
  struct conflict *c = conflict_new("t", id, CONFLICT_USER, p, value);

  ck_assert_ptr_nonnull(c);
  c->display_name = name ? strdup(name) : NULL;
  c->occurred = since;
  c->first_seen = since;
  ck_assert_int_eq(conflict_set_add(s, c), 0);
  return c;
}

/* A tenant "t" with three conflicts of different ages. */
static struct ctl_source_data *data(void)
{
  struct ctl_source_data *d = calloc(1, sizeof(*d));
  struct conflict_set *s = conflict_set_new("t");

  ck_assert_ptr_nonnull(d);
  ck_assert_ptr_nonnull(s);
  add(s, "id-1", CONFLICT_UPN, "john@contoso.com", "John", NOW - 86400);
  add(s, "id-2", CONFLICT_PROXY, "smtp:Sales@contoso.com", "=cmd|' /C calc'!A0",
      NOW - 3600)
      ->state = CONFLICT_STUCK;
  add(s, "id-3", CONFLICT_PROXY, "a,\"b\"@contoso.com",
      "A very long display name that does not fit", NOW - 60);
  d->t = calloc(1, sizeof(*d->t));
  ck_assert_ptr_nonnull(d->t);
  d->t[0].name = strdup("t");
  d->t[0].set = s;
  d->n = 1;
  return d;
}

static void free_data(struct ctl_source_data *d)
{
  ctl_source_data_free(d);
  free(d);
}

START_TEST(test_filters_and_sort)
{
  struct ctl_source_data *d = data();
  struct ctl_list_filter f;
  struct ctl_list_row *rows;
  size_t n;

  ctl_list_filter_init(&f);
  rows = ctl_list_select(d, &f, NOW, CTL_LIST_SORT_AGE, false, 0, &n);
  ck_assert_uint_eq(n, 3);
  ck_assert_str_eq(rows[0].c->object_id, "id-1"); /* oldest first */
  free(rows);
  rows = ctl_list_select(d, &f, NOW, CTL_LIST_SORT_AGE, true, 1, &n);
  ck_assert_uint_eq(n, 1);
  ck_assert_str_eq(rows[0].c->object_id, "id-3");
  free(rows);
  f.property = CONFLICT_PROXY;
  f.value = "SMTP:sales@CONTOSO.com";
  rows = ctl_list_select(d, &f, NOW, CTL_LIST_SORT_TENANT, false, 0, &n);
  ck_assert_uint_eq(n, 1);
  ck_assert_str_eq(rows[0].c->object_id, "id-2");
  free(rows);
  ctl_list_filter_init(&f);
  f.search = "LONG DISPLAY";
  rows = ctl_list_select(d, &f, NOW, CTL_LIST_SORT_TENANT, false, 0, &n);
  ck_assert_uint_eq(n, 1);
  free(rows);
  ctl_list_filter_init(&f);
  f.older_than = 3600;
  rows = ctl_list_select(d, &f, NOW, CTL_LIST_SORT_VALUE, false, 0, &n);
  ck_assert_uint_eq(n, 2);
  free(rows);
  f.state = CONFLICT_STUCK;
  rows = ctl_list_select(d, &f, NOW, CTL_LIST_SORT_VALUE, false, 0, &n);
  ck_assert_uint_eq(n, 1);
  free(rows);
  f.older_than = 2 * 86400;
  ck_assert_ptr_null(
      ctl_list_select(d, &f, NOW, CTL_LIST_SORT_VALUE, false, 0, &n));
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(ctl_list_sort_parse("age"), CTL_LIST_SORT_AGE);
  ck_assert_int_eq(ctl_list_sort_parse("size"), -EINVAL);
  free_data(d);
}
END_TEST

/* render() runs an output into a string the caller frees. */
static char *render(const struct ctl_list_row *rows, size_t n, int which)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  ck_assert_ptr_nonnull(f);
  if(which == 0)
    ck_assert_int_eq(ctl_list_csv(f, rows, n, true), 0);
  else
    ck_assert_int_eq(ctl_list_table(f, rows, n, NOW, false), 0);
  fclose(f);
  return text;
}

START_TEST(test_csv_quoting)
{
  struct ctl_source_data *d = data();
  struct ctl_list_filter f;
  struct ctl_list_row *rows;
  char *csv;
  size_t n;

  ctl_list_filter_init(&f);
  rows = ctl_list_select(d, &f, NOW, CTL_LIST_SORT_AGE, false, 0, &n);
  csv = render(rows, n, 0);
  ck_assert_int_eq(strncmp(csv, "\xEF\xBB\xBFtenant,objectType,", 20), 0);
  /* Quotes doubled inside a quoted field; CRLF line ends. */
  ck_assert_ptr_nonnull(strstr(csv, ",\"a,\"\"b\"\"@contoso.com\","));
  /* A formula is shown as text. */
  ck_assert_ptr_nonnull(strstr(csv, ",\"'=cmd|' /C calc'!A0\","));
  ck_assert_ptr_nonnull(strstr(csv, "holders\r\nt,user,id-1,upn,"));
  ck_assert_ptr_null(strstr(csv, "\n\n"));
  free(csv);
  free(rows);
  free_data(d);
}
END_TEST

START_TEST(test_table_fits)
{
  struct ctl_source_data *d = data();
  struct ctl_list_filter f;
  struct ctl_list_row *rows;
  char *table, *line, *save = NULL;
  size_t n, lines = 0;

  ctl_list_filter_init(&f);
  rows = ctl_list_select(d, &f, NOW, CTL_LIST_SORT_AGE, false, 0, &n);
  table = render(rows, n, 1);
  for(line = strtok_r(table, "\n", &save); line;
      line = strtok_r(NULL, "\n", &save)) {
    ck_assert_uint_le(strlen(line), 100);
    lines++;
  }
  ck_assert_uint_eq(lines, 4);
  free(table);
  free(rows);
  free_data(d);
}
END_TEST

START_TEST(test_status_line_and_escape)
{
  struct status_view v;
  char line[256], *text = NULL;
  size_t len = 0;
  FILE *f;

  memset(&v, 0, sizeof(v));
  status_line(&v, NOW, line, sizeof(line));
  ck_assert_str_eq(line, "0 tenants, 0 conflicts (0 stuck), no cycle yet");
  f = open_memstream(&text, &len);
  metrics_escape(f, "a\"b\\c\nd");
  fclose(f);
  ck_assert_str_eq(text, "a\\\"b\\\\c\\nd");
  free(text);
}
END_TEST

Suite *ctl_suite(void)
{
  Suite *s = suite_create("ctl");
  TCase *tc = tcase_create("ctl");

  tcase_add_test(tc, test_range_syntax);
  tcase_add_test(tc, test_filters_and_sort);
  tcase_add_test(tc, test_csv_quoting);
  tcase_add_test(tc, test_table_fits);
  tcase_add_test(tc, test_status_line_and_escape);
  suite_add_tcase(s, tc);
  return s;
}
