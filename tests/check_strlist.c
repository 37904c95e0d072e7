/* SPDX-License-Identifier: MIT
 *
 * check_strlist: the shared string list: appends copy, look-up is exact,
 * deleting keeps the order, splitting skips empty tokens, and clearing
 * leaves an empty list that can be used again.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "strlist.h"
#include "testutil.h"

START_TEST(test_add_find_del)
{
  struct strlist l = {0};
  char word[8] = "alpha";

  ck_assert_int_eq(strlist_add(&l, word), 0);
  strcpy(word, "xxxxx"); /* the list holds its own copy */
  ck_assert_int_eq(strlist_add(&l, "beta"), 0);
  ck_assert_int_eq(strlist_add(&l, "gamma"), 0);
  ck_assert_int_eq(strlist_addn(&l, "deltaXYZ", 5), 0);
  ck_assert_uint_eq(l.n, 4);
  ck_assert_str_eq(l.v[0], "alpha");
  ck_assert_str_eq(l.v[3], "delta");
  ck_assert_int_eq(strlist_find(&l, "gamma"), 2);
  ck_assert_int_eq(strlist_find(&l, "Gamma"), -1); /* case sensitive */
  ck_assert_int_eq(strlist_find(&l, "xxxxx"), -1);
  strlist_del(&l, 1);
  ck_assert_uint_eq(l.n, 3);
  ck_assert_str_eq(l.v[0], "alpha");
  ck_assert_str_eq(l.v[1], "gamma");
  ck_assert_str_eq(l.v[2], "delta");
  ck_assert_int_eq(strlist_find(&l, "beta"), -1);
  strlist_del(&l, 2); /* the last one */
  ck_assert_uint_eq(l.n, 2);
  strlist_clear(&l);
  ck_assert_uint_eq(l.n, 0);
  ck_assert_ptr_null(l.v);
  ck_assert_int_eq(strlist_find(&l, "alpha"), -1);
  ck_assert_int_eq(strlist_add(&l, "again"), 0); /* usable after a clear */
  ck_assert_int_eq(strlist_find(&l, "again"), 0);
  strlist_clear(&l);
}
END_TEST

START_TEST(test_grows)
{
  struct strlist l = {0};
  char s[16];
  int i;

  for(i = 0; i < 1000; i++) {
    snprintf(s, sizeof(s), "s%d", i);
    ck_assert_int_eq(strlist_add(&l, s), 0);
  }
  ck_assert_uint_eq(l.n, 1000);
  ck_assert_int_eq(strlist_find(&l, "s999"), 999);
  ck_assert_str_eq(l.v[500], "s500");
  strlist_clear(&l);
}
END_TEST

START_TEST(test_split)
{
  struct strlist l = {0};

  ck_assert_int_eq(strlist_split(&l, NULL, " "), 0);
  ck_assert_int_eq(strlist_split(&l, "", " "), 0);
  ck_assert_int_eq(strlist_split(&l, "   ", " "), 0);
  ck_assert_uint_eq(l.n, 0);
  ck_assert_int_eq(strlist_split(&l, "contoso.com sales.contoso.com", " "), 0);
  ck_assert_uint_eq(l.n, 2);
  ck_assert_str_eq(l.v[0], "contoso.com");
  ck_assert_str_eq(l.v[1], "sales.contoso.com");
  /* Appends; runs of delimiters and either end make no empty token. */
  ck_assert_int_eq(strlist_split(&l, " ,a,, b\t,c ", " ,\t"), 0);
  ck_assert_uint_eq(l.n, 5);
  ck_assert_str_eq(l.v[2], "a");
  ck_assert_str_eq(l.v[3], "b");
  ck_assert_str_eq(l.v[4], "c");
  strlist_clear(&l);
}
END_TEST

Suite *strlist_suite(void)
{
  Suite *s = suite_create("strlist");
  TCase *tc = tcase_create("list");

  tcase_add_test(tc, test_add_find_del);
  tcase_add_test(tc, test_grows);
  tcase_add_test(tc, test_split);
  suite_add_tcase(s, tc);
  return s;
}
