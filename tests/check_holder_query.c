/* SPDX-License-Identifier: MIT
 *
 * Check suite for holder_query: the $filter of a holder GET (eq for one
 * value, in for several, both SMTP forms, quotes doubled, startswith for
 * a long value), how a lookup's values are cut into GETs term after term
 * within the 15-expression and URL limits, how a refused GET is split, and
 * the local matching of an object to a value.
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

/* A query for the tests: every term of terms (in layout order) over the
 * n values at v, term after term, in the caller's arrays (room for
 * 4 * n expressions). */
static struct holder_query query(unsigned base, unsigned terms, bool prefix,
                                 const size_t *v, size_t n, size_t *vals,
                                 unsigned char *term)
{
  static const unsigned order[] = {HQ_UPN, HQ_MAIL, HQ_SMTP, HQ_LSMTP};
  struct holder_query q = {base, prefix, vals, term, 0};
  size_t t, i;

  for(t = 0; t < 4; t++)
    for(i = 0; (terms & order[t]) && i < n; i++) {
      vals[q.nvals] = v[i];
      term[q.nvals++] = (unsigned char)order[t];
    }
  return q;
}

START_TEST(test_filter_one_value)
{
  const char *spell[] = {"o'neil@contoso.com"};
  size_t v = 0, vals[4];
  unsigned char term[4];
  struct holder_query q =
      query(USERS, holder_query_bases[USERS].terms, false, &v, 1, vals, term);
  char buf[512];

  ck_assert_int_eq(holder_query_filter(&q, spell, buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf,
                   "userPrincipalName eq 'o''neil@contoso.com' or mail "
                   "eq 'o''neil@contoso.com' or "
                   "proxyAddresses/any(x:x eq 'SMTP:o''neil@contoso.com') "
                   "or proxyAddresses/any(x:x eq 'smtp:o''neil@contoso.com')");
  q = query(GROUPS, holder_query_bases[GROUPS].terms, false, &v, 1, vals, term);
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
  size_t v[] = {0, 1}, vals[8];
  unsigned char term[8];
  struct holder_query q =
      query(USERS, holder_query_bases[USERS].terms, false, v, 2, vals, term);
  char buf[1024];

  ck_assert_int_eq(holder_query_filter(&q, spell, buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "userPrincipalName in ('a@b.c','d''e@f.g') or "
                        "mail in ('a@b.c','d''e@f.g') or "
                        "proxyAddresses/any(x:x eq 'SMTP:a@b.c') or "
                        "proxyAddresses/any(x:x eq 'SMTP:d''e@f.g') or "
                        "proxyAddresses/any(x:x eq 'smtp:a@b.c') or "
                        "proxyAddresses/any(x:x eq 'smtp:d''e@f.g')");
  /* A query that starts in one term and ends in the next. */
  q.vals += 3;
  q.term += 3;
  q.nvals = 2;
  ck_assert_int_eq(holder_query_filter(&q, spell, buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "mail eq 'd''e@f.g' or "
                        "proxyAddresses/any(x:x eq 'SMTP:a@b.c')");
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
  size_t v = 0, vals[4];
  unsigned char term[4];
  struct holder_query q =
      query(GROUPS, holder_query_bases[GROUPS].terms, true, &v, 1, vals, term);

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

/* term_index() is 0..3 for HQ_UPN..HQ_LSMTP. */
static size_t term_index(unsigned term)
{
  size_t i = 0;

  while(term > 1) {
    term >>= 1;
    i++;
  }
  return i;
}

/* check_cover() asserts that every term in terms of every value of
 * 0..n-1 is asked exactly once on each base of lo..hi (the terms the base
 * has), and that every query keeps the limits. */
static void check_cover(const struct holder_query_list *list,
                        const char *const *spell, size_t n, unsigned lo,
                        unsigned hi, unsigned terms)
{
  size_t i, j, *seen = calloc(4 * n * (hi + 1), sizeof(*seen));
  unsigned b;

  for(i = 0; i < list->n; i++) {
    const struct holder_query *q = &list->q[i];
    char *path = holder_query_path(q, spell);

    ck_assert_uint_le(q->nvals, HOLDER_QUERY_TERMS);
    ck_assert_ptr_nonnull(path);
    ck_assert_uint_le(strlen(path) + HOLDER_QUERY_ROOT_ROOM,
                      HOLDER_QUERY_URL_MAX);
    free(path);
    for(j = 0; j < q->nvals; j++)
      seen[(q->base * n + q->vals[j]) * 4 + term_index(q->term[j])]++;
  }
  for(b = lo; b <= hi; b++)
    for(i = 0; i < n; i++)
      for(j = 0; j < 4; j++)
        ck_assert_uint_eq(
            seen[(b * n + i) * 4 + j],
            (holder_query_bases[b].terms & terms & (1u << j)) ? 1 : 0);
  free(seen);
}

START_TEST(test_plan_groups_to_the_limit)
{
  const size_t n = 16;
  const char **spell = values(n);
  size_t vals[16], i;
  struct holder_query_list list = {0};
  char buf[HOLDER_QUERY_URL_MAX];

  for(i = 0; i < n; i++)
    vals[i] = i;
  ck_assert_int_eq(holder_query_plan(&list, USERS, HQ_ALL, spell, vals, n), 0);
  /* 4 terms of 16 user values, 64 expressions: 15 to a GET, term after
   * term, a GET crossing from one term to the next. */
  ck_assert_uint_eq(list.n, 5);
  ck_assert_uint_eq(holder_query_estimate(USERS, HQ_ALL, n), 5);
  ck_assert_uint_eq(list.q[0].nvals, 15);
  ck_assert_uint_eq(list.q[4].nvals, 4);
  ck_assert_int_eq(holder_query_filter(&list.q[1], spell, buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "userPrincipalName eq 'user15@contoso.com' or mail "
                        "in ('user0@contoso.com','user1@contoso.com',"
                        "'user2@contoso.com','user3@contoso.com',"
                        "'user4@contoso.com','user5@contoso.com',"
                        "'user6@contoso.com','user7@contoso.com',"
                        "'user8@contoso.com','user9@contoso.com',"
                        "'user10@contoso.com','user11@contoso.com',"
                        "'user12@contoso.com','user13@contoso.com')");
  ck_assert_int_eq(holder_query_plan(&list, GROUPS, HQ_ALL, spell, vals, n), 0);
  /* 3 terms a group value, 48 expressions. */
  ck_assert_uint_eq(list.n, 5 + 4);
  ck_assert_uint_eq(holder_query_estimate(GROUPS, HQ_ALL, n), 4);
  ck_assert_uint_eq(list.q[5].nvals, 15);
  ck_assert_uint_eq(list.q[8].nvals, 3);
  check_cover(&list, spell, n, USERS, GROUPS, HQ_ALL);
  holder_query_list_clear(&list);
  free_values(spell, n);
}
END_TEST

START_TEST(test_plan_fewer_terms)
{
  /* lookup_case = insensitive, lookup_mail = no: a user value is asked by
   * userPrincipalName and the "SMTP:" spelling only, a group value by
   * "SMTP:" only. */
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
  ck_assert_uint_eq(list.q[0].nvals, 15);
  ck_assert_uint_eq(list.q[2].nvals, 2);
  ck_assert_int_eq(holder_query_filter(&list.q[1], spell, buf, sizeof(buf)), 0);
  ck_assert_ptr_null(strstr(buf, "smtp:"));
  ck_assert_ptr_null(strstr(buf, "mail"));
  ck_assert_ptr_nonnull(strstr(buf, "'SMTP:"));
  ck_assert_int_eq(holder_query_plan(&list, GROUPS, terms, spell, vals, n), 0);
  ck_assert_uint_eq(list.n, 3 + 2);
  ck_assert_uint_eq(list.q[3].nvals, 15);
  ck_assert_uint_eq(list.q[3].term[0], HQ_SMTP);
  check_cover(&list, spell, n, USERS, GROUPS, terms);
  holder_query_list_clear(&list);
  free_values(spell, n);
}
END_TEST

START_TEST(test_plan_url_and_long_values)
{
  /* Values of 110 characters of %-escaped bytes: a GET holds fewer
   * expressions than the limit allows, to stay under 2,048 characters. */
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
  check_cover(&list, spell, n, CONTACTS, CONTACTS, HQ_ALL);
  for(i = 0; i < list.n; i++) {
    ck_assert_uint_lt(list.q[i].nvals, HOLDER_QUERY_TERMS);
    /* The long value is asked alone, with startswith. */
    ck_assert(list.q[i].prefix == (list.q[i].vals[0] == 5));
    ck_assert(!list.q[i].prefix || holder_query_one_value(&list.q[i]));
  }
  holder_query_list_clear(&list);
  for(i = 0; i < n; i++)
    free(owned[i]);
}
END_TEST

START_TEST(test_plan_a_few_at_a_time)
{
  /* The lookup plans its GETs as its batch run asks for them: each call
   * appends at least one GET, and the calls together give the queries of
   * one whole plan: the long values first, each alone, then the others
   * term after term. */
  const size_t n = 16;
  const char **spell = values(n);
  struct holder_query_list list = {0}, whole = {0};
  size_t vals[16], i, j, pos = 0, before,
                         end = holder_query_plan_steps(USERS, HQ_ALL, n);

  free((void *)(size_t)spell[2]);
  free((void *)(size_t)spell[7]);
  spell[2] = long_value(130, 'l');
  spell[7] = long_value(140, 'm');
  for(i = 0; i < n; i++)
    vals[i] = i;
  ck_assert_uint_eq(end, 5 * n);
  while(pos < end) {
    before = list.n;
    ck_assert_int_eq(
        holder_query_plan_some(&list, USERS, HQ_ALL, spell, vals, n, &pos), 0);
    ck_assert_uint_gt(list.n, before);
  }
  ck_assert_int_eq(holder_query_plan(&whole, USERS, HQ_ALL, spell, vals, n), 0);
  /* 2 long values, then 14 * 4 = 56 expressions: 15, 15, 15, 11. */
  ck_assert_uint_eq(list.n, 6);
  ck_assert_uint_eq(whole.n, list.n);
  ck_assert(list.q[0].prefix && list.q[0].vals[0] == 2);
  ck_assert(list.q[1].prefix && list.q[1].vals[0] == 7);
  ck_assert_uint_eq(list.q[1].nvals, 4);
  ck_assert_uint_eq(list.q[5].nvals, 11);
  for(i = 0; i < list.n; i++) {
    ck_assert_uint_eq(list.q[i].nvals, whole.q[i].nvals);
    for(j = 0; j < list.q[i].nvals; j++) {
      ck_assert_uint_eq(list.q[i].vals[j], whole.q[i].vals[j]);
      ck_assert_uint_eq(list.q[i].term[j], whole.q[i].term[j]);
    }
  }
  check_cover(&list, spell, n, USERS, USERS, HQ_ALL);
  holder_query_list_clear(&list);
  holder_query_list_clear(&whole);
  free_values(spell, n);
}
END_TEST

START_TEST(test_split)
{
  size_t v[] = {4, 7, 9}, vals[12];
  unsigned char term[12];
  struct holder_query q = query(DELETED_USERS, holder_query_bases[USERS].terms,
                                false, v, 3, vals, term);
  struct holder_query_list list = {0};

  q.nvals = 3; /* userPrincipalName of 4, 7 and 9 */
  /* Several expressions: two halves. */
  ck_assert_int_eq(holder_query_split(&list, &q), 1);
  ck_assert_uint_eq(list.n, 2);
  ck_assert_uint_eq(list.q[0].nvals, 1);
  ck_assert_uint_eq(list.q[0].vals[0], 4);
  ck_assert_uint_eq(list.q[1].nvals, 2);
  ck_assert_uint_eq(list.q[1].vals[1], 9);
  ck_assert_uint_eq(list.q[1].term[1], HQ_UPN);
  ck_assert_uint_eq(list.q[1].base, DELETED_USERS);
  ck_assert(!holder_query_one_value(&list.q[1]));
  /* One expression: nothing left to split. */
  ck_assert(holder_query_one_value(&list.q[0]));
  ck_assert_int_eq(holder_query_split(&list, &list.q[0]), 0);
  ck_assert_uint_eq(list.n, 2);
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
