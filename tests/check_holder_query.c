/* SPDX-License-Identifier: MIT
 *
 * Check suite for holder_query: the $filter of a holder GET (eq for one
 * value, in for several, both SMTP forms, quotes doubled, startswith for
 * a long value), how a lookup's values are cut into GETs within the
 * 15-expression and URL limits, how a refused GET is split, and the local
 * matching of an object to a value.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "holder_query.h"
#include "testutil.h"

enum { USERS, GROUPS, CONTACTS, DELETED_USERS };

START_TEST(test_filter_one_value)
{
  const char *spell[] = {"o'neil@contoso.com"};
  size_t v = 0;
  struct holder_query q = {USERS, holder_query_bases[USERS].terms, false, &v,
                           1};
  char buf[512];

  ck_assert_int_eq(holder_query_filter(&q, spell, buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf,
                   "userPrincipalName eq 'o''neil@contoso.com' or mail "
                   "eq 'o''neil@contoso.com' or "
                   "proxyAddresses/any(x:x eq 'SMTP:o''neil@contoso.com') "
                   "or proxyAddresses/any(x:x eq 'smtp:o''neil@contoso.com')");
  q.base = GROUPS;
  q.terms = holder_query_bases[GROUPS].terms;
  spell[0] = "a@b.c";
  ck_assert_int_eq(holder_query_filter(&q, spell, buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "mail eq 'a@b.c' or proxyAddresses/any(x:x eq "
                        "'SMTP:a@b.c') or proxyAddresses/any(x:x eq "
                        "'smtp:a@b.c')");
  ck_assert_int_eq(holder_query_filter(&q, spell, buf, 20), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_filter_several_values)
{
  const char *spell[] = {"a@b.c", "d'e@f.g"};
  size_t v[] = {0, 1};
  struct holder_query q = {USERS, holder_query_bases[USERS].terms, false, v, 2};
  char buf[1024];

  ck_assert_int_eq(holder_query_filter(&q, spell, buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "userPrincipalName in ('a@b.c','d''e@f.g') or "
                        "mail in ('a@b.c','d''e@f.g') or "
                        "proxyAddresses/any(x:x eq 'SMTP:a@b.c') or "
                        "proxyAddresses/any(x:x eq 'SMTP:d''e@f.g') or "
                        "proxyAddresses/any(x:x eq 'smtp:a@b.c') or "
                        "proxyAddresses/any(x:x eq 'smtp:d''e@f.g')");
  q.terms = HQ_SMTP;
  q.nvals = 1;
  ck_assert_int_eq(holder_query_filter(&q, spell, buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "proxyAddresses/any(x:x eq 'SMTP:a@b.c')");
}
END_TEST

/* long_value() returns a malloc'd address of n characters, the first
 * being c. */
static char *long_value(size_t n, char c)
{
  char *s = malloc(n + 1);

  memset(s, 'x', n);
  s[0] = c;
  memcpy(s + n - 8, "@b.co.uk", 8);
  s[n] = '\0';
  return s;
}

START_TEST(test_filter_long_value)
{
  char *value = long_value(130, 'l'), buf[2048], prefix[128];
  const char *spell[] = {value};
  size_t v = 0;
  struct holder_query q = {GROUPS, holder_query_bases[GROUPS].terms, true, &v,
                           1};

  ck_assert(holder_query_long(value));
  ck_assert(!holder_query_long(value + 15)); /* 115 characters */
  ck_assert_int_eq(holder_query_filter(&q, spell, buf, sizeof(buf)), 0);
  /* startswith() on the first 115 characters: "SMTP:" + 115 = 120. */
  memcpy(prefix, value, HOLDER_QUERY_PREFIX);
  prefix[HOLDER_QUERY_PREFIX] = '\0';
  ck_assert_ptr_nonnull(strstr(buf, "startswith(mail,'"));
  ck_assert_ptr_nonnull(
      strstr(buf, "proxyAddresses/any(x:startswith(x,'SMTP:"));
  ck_assert_ptr_nonnull(
      strstr(buf, "proxyAddresses/any(x:startswith(x,'smtp:"));
  ck_assert_ptr_nonnull(strstr(buf, prefix));
  ck_assert_ptr_null(strstr(buf, value));
  /* Multi-byte characters count once each and are never cut. */
  free(value);
  value = malloc(2 * 116 + 1);
  for(v = 0; v < 116; v++)
    memcpy(value + 2 * v, "\xc3\xa9", 2);
  value[2 * 116] = '\0';
  ck_assert(holder_query_long(value));
  ck_assert(!holder_query_long(value + 2));
  spell[0] = value;
  v = 0;
  ck_assert_int_eq(holder_query_filter(&q, spell, buf, sizeof(buf)), 0);
  ck_assert_ptr_nonnull(strstr(buf, "'SMTP:\xc3\xa9"));
  ck_assert_ptr_nonnull(strstr(buf, "\xc3\xa9')"));
  free(value);
}
END_TEST

/* values() makes n short values (free_values() frees them). */
static const char **values(size_t n)
{
  const char **spell = calloc(n, sizeof(*spell));
  size_t i;

  for(i = 0; i < n; i++) {
    char buf[64];

    snprintf(buf, sizeof(buf), "user%zu@contoso.com", i);
    spell[i] = strdup(buf);
  }
  return spell;
}

static void free_values(const char **spell, size_t n)
{
  size_t i;

  for(i = 0; i < n; i++)
    free((void *)(size_t)spell[i]);
  free(spell);
}

/* check_cover() asserts that every value of 0..n-1 is asked exactly once
 * on each base of lo..hi, and that every query keeps the limits. */
static void check_cover(const struct holder_query_list *list,
                        const char *const *spell, size_t n, unsigned lo,
                        unsigned hi)
{
  size_t i, j, *seen = calloc(n * (hi + 1), sizeof(*seen));

  for(i = 0; i < list->n; i++) {
    const struct holder_query *q = &list->q[i];
    char *path = holder_query_path(q, spell);
    unsigned t, terms = 0;

    for(t = q->terms; t; t &= t - 1)
      terms++;
    ck_assert_uint_le(terms * q->nvals, HOLDER_QUERY_TERMS);
    ck_assert_ptr_nonnull(path);
    ck_assert_uint_le(strlen(path) + HOLDER_QUERY_ROOT_ROOM,
                      HOLDER_QUERY_URL_MAX);
    free(path);
    for(j = 0; j < q->nvals; j++)
      seen[q->base * n + q->vals[j]]++;
  }
  for(i = n * lo; i < n * (hi + 1); i++)
    ck_assert_uint_eq(seen[i], 1);
  free(seen);
}

START_TEST(test_plan_groups_to_the_limit)
{
  const size_t n = 16;
  const char **spell = values(n);
  size_t vals[16], i;
  struct holder_query_list list = {0};

  for(i = 0; i < n; i++)
    vals[i] = i;
  ck_assert_int_eq(holder_query_plan(&list, USERS, HQ_ALL, spell, vals, n), 0);
  /* 4 terms a user value: 3 values a GET (12 expressions). */
  ck_assert_uint_eq(list.n, 6);
  ck_assert_uint_eq(list.q[0].nvals, 3);
  ck_assert_uint_eq(list.q[5].nvals, 1);
  ck_assert_int_eq(holder_query_plan(&list, GROUPS, HQ_ALL, spell, vals, n), 0);
  /* 3 terms a group value: 5 values a GET (15 expressions). */
  ck_assert_uint_eq(list.n, 6 + 4);
  ck_assert_uint_eq(list.q[6].nvals, 5);
  ck_assert_uint_eq(list.q[9].nvals, 1);
  check_cover(&list, spell, n, USERS, GROUPS);
  holder_query_list_clear(&list);
  free_values(spell, n);
}
END_TEST

START_TEST(test_plan_fewer_terms)
{
  /* lookup_case = insensitive, lookup_mail = no: a user value is asked by
   * userPrincipalName and the "SMTP:" spelling only (7 values a GET, 14
   * expressions), a group value by "SMTP:" only (15 a GET). */
  const size_t n = 16;
  const char **spell = values(n);
  size_t vals[16], i;
  struct holder_query_list list = {0};
  char buf[HOLDER_QUERY_URL_MAX];
  unsigned terms = holder_query_terms(true, false);

  ck_assert_uint_eq(terms, HQ_UPN | HQ_SMTP);
  ck_assert_uint_eq(holder_query_terms(false, true), HQ_ALL);
  ck_assert_uint_eq(holder_query_terms(true, true), HQ_ALL & ~HQ_LSMTP);
  ck_assert_uint_eq(holder_query_terms(false, false), HQ_ALL & ~HQ_MAIL);
  for(i = 0; i < n; i++)
    vals[i] = i;
  ck_assert_int_eq(holder_query_plan(&list, USERS, terms, spell, vals, n), 0);
  ck_assert_uint_eq(list.n, 3);
  ck_assert_uint_eq(list.q[0].nvals, 7);
  ck_assert_uint_eq(list.q[0].terms, HQ_UPN | HQ_SMTP);
  ck_assert_int_eq(holder_query_filter(&list.q[0], spell, buf, sizeof(buf)), 0);
  ck_assert_ptr_null(strstr(buf, "smtp:"));
  ck_assert_ptr_null(strstr(buf, "mail"));
  ck_assert_ptr_nonnull(strstr(buf, "'SMTP:"));
  ck_assert_int_eq(holder_query_plan(&list, GROUPS, terms, spell, vals, n), 0);
  ck_assert_uint_eq(list.n, 3 + 2);
  ck_assert_uint_eq(list.q[3].nvals, 15);
  ck_assert_uint_eq(list.q[3].terms, HQ_SMTP);
  check_cover(&list, spell, n, USERS, GROUPS);
  holder_query_list_clear(&list);
  free_values(spell, n);
}
END_TEST

START_TEST(test_plan_url_and_long_values)
{
  /* Values of 110 characters of %-escaped bytes: a GET holds fewer values
   * than the expression limit allows, to stay under 2,048 characters. */
  const size_t n = 6;
  const char *spell[6];
  char *owned[6];
  size_t vals[6], i;
  struct holder_query_list list = {0};

  for(i = 0; i < n; i++) {
    owned[i] = long_value(i == 5 ? 140 : 110, (char)('a' + i));
    memset(owned[i] + 1, '+', 60);
    spell[i] = owned[i];
    vals[i] = i;
  }
  ck_assert_int_eq(holder_query_plan(&list, CONTACTS, HQ_ALL, spell, vals, n),
                   0);
  check_cover(&list, spell, n, CONTACTS, CONTACTS);
  for(i = 0; i < list.n; i++) {
    ck_assert_uint_lt(list.q[i].nvals, 5);
    /* The long value is asked alone, with startswith. */
    ck_assert(list.q[i].prefix == (list.q[i].vals[0] == 5));
  }
  holder_query_list_clear(&list);
  for(i = 0; i < n; i++)
    free(owned[i]);
}
END_TEST

START_TEST(test_plan_a_few_at_a_time)
{
  /* The lookup plans its GETs as its batch run asks for them: each call
   * appends at least one GET, and the calls together give the packing of
   * one whole plan, a long value (asked alone) met while a GET is open
   * included. */
  static const size_t want[][4] = {{2},        {0, 1, 3},    {7},     {4, 5, 6},
                                   {8, 9, 10}, {11, 12, 13}, {14, 15}};
  static const size_t nwant[] = {1, 3, 1, 3, 3, 3, 2};
  const size_t n = 16;
  const char **spell = values(n);
  struct holder_query_list list = {0};
  size_t vals[16], i, j, pos = 0, before;

  free((void *)(size_t)spell[2]);
  free((void *)(size_t)spell[7]);
  spell[2] = long_value(130, 'l');
  spell[7] = long_value(140, 'm');
  for(i = 0; i < n; i++)
    vals[i] = i;
  while(pos < n) {
    before = list.n;
    ck_assert_int_eq(
        holder_query_plan_some(&list, USERS, HQ_ALL, spell, vals, n, &pos), 0);
    ck_assert_uint_gt(list.n, before);
  }
  ck_assert_uint_eq(list.n, sizeof(nwant) / sizeof(nwant[0]));
  for(i = 0; i < list.n; i++) {
    ck_assert_uint_eq(list.q[i].nvals, nwant[i]);
    ck_assert(list.q[i].prefix == (want[i][0] == 2 || want[i][0] == 7));
    for(j = 0; j < nwant[i]; j++)
      ck_assert_uint_eq(list.q[i].vals[j], want[i][j]);
  }
  check_cover(&list, spell, n, USERS, USERS);
  holder_query_list_clear(&list);
  free_values(spell, n);
}
END_TEST

START_TEST(test_split)
{
  size_t v[] = {4, 7, 9};
  struct holder_query q = {DELETED_USERS, holder_query_bases[USERS].terms,
                           false, v, 3};
  struct holder_query_list list = {0};

  /* Several values: two halves, same terms. */
  ck_assert_int_eq(holder_query_split(&list, &q), 1);
  ck_assert_uint_eq(list.n, 2);
  ck_assert_uint_eq(list.q[0].nvals, 1);
  ck_assert_uint_eq(list.q[0].vals[0], 4);
  ck_assert_uint_eq(list.q[1].nvals, 2);
  ck_assert_uint_eq(list.q[1].vals[1], 9);
  ck_assert_uint_eq(list.q[1].base, DELETED_USERS);
  /* One value: one GET per term. */
  ck_assert_int_eq(holder_query_split(&list, &list.q[0]), 1);
  ck_assert_uint_eq(list.n, 6);
  ck_assert_uint_eq(list.q[2].terms, HQ_UPN);
  ck_assert_uint_eq(list.q[5].terms, HQ_LSMTP);
  ck_assert_uint_eq(list.q[5].vals[0], 4);
  /* One value, one term: nothing left to split. */
  ck_assert_int_eq(holder_query_split(&list, &list.q[5]), 0);
  ck_assert_uint_eq(list.n, 6);
  holder_query_list_clear(&list);
  ck_assert_uint_eq(list.n, 0);
}
END_TEST

START_TEST(test_holds)
{
  cJSON *o =
      cJSON_Parse("{\"id\":\"1\",\"userPrincipalName\":\"John@Contoso.com\","
                  "\"mail\":\"j.smith@contoso.com\",\"proxyAddresses\":"
                  "[\"SMTP:Johnny@Contoso.com\",\"smtp:js@contoso.com\","
                  "\"X500:/o=x/cn=js@contoso.com\",\"sip:sip@contoso.com\"]}");

  ck_assert_ptr_nonnull(o);
  ck_assert(holder_query_holds(o, "john@contoso.com"));
  ck_assert(holder_query_holds(o, "J.SMITH@contoso.com"));
  ck_assert(holder_query_holds(o, "johnny@contoso.com"));
  ck_assert(holder_query_holds(o, "JS@contoso.com"));
  /* Only SMTP addresses, and whole values. */
  ck_assert(!holder_query_holds(o, "/o=x/cn=js@contoso.com"));
  ck_assert(!holder_query_holds(o, "sip@contoso.com"));
  ck_assert(!holder_query_holds(o, "john@contoso.co"));
  ck_assert(!holder_query_holds(o, "ohn@contoso.com"));
  cJSON_Delete(o);
  /* A group: no UPN, proxyAddresses of the wrong type is no match. */
  o = cJSON_Parse("{\"id\":\"2\",\"mail\":null,\"proxyAddresses\":7}");
  ck_assert(!holder_query_holds(o, "a@b.c"));
  cJSON_Delete(o);
}
END_TEST

Suite *holder_query_suite(void)
{
  Suite *s = suite_create("holder_query");
  TCase *tc = tcase_create("pure");

  tcase_add_test(tc, test_filter_one_value);
  tcase_add_test(tc, test_filter_several_values);
  tcase_add_test(tc, test_filter_long_value);
  tcase_add_test(tc, test_plan_groups_to_the_limit);
  tcase_add_test(tc, test_plan_fewer_terms);
  tcase_add_test(tc, test_plan_url_and_long_values);
  tcase_add_test(tc, test_plan_a_few_at_a_time);
  tcase_add_test(tc, test_split);
  tcase_add_test(tc, test_holds);
  suite_add_tcase(s, tc);
  return s;
}
