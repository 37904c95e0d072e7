/* SPDX-License-Identifier: MIT
 *
 * check_conflict: the conflict family, one test case per file: the
 * model's names (conflict.c); parsing onPremisesProvisioningErrors as
 * Graph and the Entra PowerShell docs show them, placeholder UPNs
 * (conflict_parse.c); the inventory hash table at 100k entries and the
 * cycle diff (conflict_set.c); the JSON round trip (conflict_json.c).
 * One suite, since the cases share their fixtures.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "conflict.h"
#include "conflict_json.h"
#include "conflict_parse.h"
#include "conflict_set.h"
#include "testutil.h"

#define NOW ((time_t)1700000000)

/* parse() parses text as one Graph object of type into s. */
static int parse(const char *text, enum conflict_objtype type,
                 struct conflict_set *s, time_t now)
{
  cJSON *j = cJSON_Parse(text);
  int rc;

  ck_assert_msg(j != NULL, "fixture is not JSON: %s", text);
  rc = conflict_parse_object(j, type, "contoso", now, s);
  cJSON_Delete(j);
  return rc;
}

/* find() looks a conflict up by its parts. */
static struct conflict *find(struct conflict_set *s, const char *id,
                             enum conflict_property p, const char *value)
{
  char *key = conflict_key(id, p, value);
  struct conflict *c;

  ck_assert_ptr_nonnull(key);
  c = conflict_set_find(s, key);
  free(key);
  return c;
}

/* The Entra PowerShell / community capture shape of a group. */
static const char group_sample[] =
    "{\"@odata.type\":\"#microsoft.graph.group\","
    "\"id\":\"6f1c2a3b-0000-4000-8000-000000000001\","
    "\"displayName\":\"Conflict Group\",\"mail\":\"ConflictMail@contoso.com\","
    "\"proxyAddresses\":[\"SMTP:ConflictMail@contoso.com\"],"
    "\"onPremisesSyncEnabled\":true,"
    "\"onPremisesProvisioningErrors\":[{\"value\":"
    "\"SMTP:ConflictMail@contoso.com\",\"category\":\"PropertyConflict\","
    "\"propertyCausingError\":\"ProxyAddresses\","
    "\"occurredDateTime\":\"2022-06-27T10:29:29.0922053Z\"}]}";

START_TEST(test_proxy_sample)
{
  struct conflict_set *s = conflict_set_new("contoso");
  struct conflict *c;

  ck_assert_int_eq(parse(group_sample, CONFLICT_GROUP, s, NOW), 1);
  ck_assert_uint_eq(conflict_set_count(s), 1);
  c = find(s, "6f1c2a3b-0000-4000-8000-000000000001", CONFLICT_PROXY,
           "smtp:CONFLICTMAIL@contoso.com");
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(c->tenant, "contoso");
  ck_assert_int_eq(c->objtype, CONFLICT_GROUP);
  ck_assert_int_eq(c->property, CONFLICT_PROXY);
  ck_assert_str_eq(c->value, "ConflictMail@contoso.com");
  ck_assert_str_eq(c->value_raw, "SMTP:ConflictMail@contoso.com");
  ck_assert_str_eq(c->value_lc, "conflictmail@contoso.com");
  ck_assert_str_eq(c->key, "6f1c2a3b-0000-4000-8000-000000000001|proxy|"
                           "conflictmail@contoso.com");
  ck_assert_str_eq(c->display_name, "Conflict Group");
  ck_assert_str_eq(c->mail, "ConflictMail@contoso.com");
  ck_assert_ptr_null(c->upn);
  ck_assert_int_eq(c->sync_enabled, CONFLICT_TRI_TRUE);
  ck_assert(!c->placeholder);
  ck_assert_int_eq(c->occurred, tu_utc(2022, 6, 27, 10, 29, 29));
  ck_assert_int_eq(c->first_seen, NOW);
  ck_assert_int_eq(c->last_seen, NOW);
  ck_assert_int_eq(c->state, CONFLICT_ACTIVE);
  conflict_set_free(s);
}
END_TEST

START_TEST(test_upn_placeholder)
{
  struct conflict_set *s = conflict_set_new("contoso");
  struct conflict *c;

  ck_assert_int_eq(
      parse("{\"id\":\"u1\",\"displayName\":\"John Smith\","
            "\"userPrincipalName\":\"john1234@contoso.onmicrosoft.com\","
            "\"mail\":null,\"onPremisesSyncEnabled\":true,"
            "\"onPremisesImmutableId\":\"yYuRNW0Z6kCXeYidebdT8A==\","
            "\"onPremisesSamAccountName\":\"john\","
            "\"onPremisesDistinguishedName\":\"CN=John,DC=contoso,DC=com\","
            "\"onPremisesProvisioningErrors\":["
            "{\"category\":\"PropertyConflict\",\"propertyCausingError\":"
            "\"UserPrincipalName\",\"value\":\"john@contoso.com\","
            "\"occurredDateTime\":\"2024-01-02T03:04:05Z\"},"
            "{\"category\":\"PropertyConflict\",\"propertyCausingError\":"
            "\"ProxyAddress\",\"value\":\"smtp:john@contoso.com\","
            "\"occurredDateTime\":\"2024-01-02T05:04:05+02:00\"}]}",
            CONFLICT_USER, s, NOW),
      2);
  c = find(s, "u1", CONFLICT_UPN, "JOHN@contoso.com");
  ck_assert_ptr_nonnull(c);
  ck_assert(c->placeholder);
  ck_assert_str_eq(c->original_value, "john@contoso.com");
  ck_assert_str_eq(c->upn, "john1234@contoso.onmicrosoft.com");
  ck_assert_str_eq(c->immutable_id, "yYuRNW0Z6kCXeYidebdT8A==");
  ck_assert_str_eq(c->sam_account, "john");
  ck_assert_str_eq(c->on_prem_dn, "CN=John,DC=contoso,DC=com");
  ck_assert_ptr_null(c->mail);
  ck_assert_int_eq(c->occurred, tu_utc(2024, 1, 2, 3, 4, 5));
  c = find(s, "u1", CONFLICT_PROXY, "john@contoso.com");
  ck_assert_ptr_nonnull(c);
  ck_assert(!c->placeholder);
  ck_assert_ptr_null(c->original_value);
  ck_assert_str_eq(c->value, "john@contoso.com");
  ck_assert_int_eq(c->occurred, tu_utc(2024, 1, 2, 3, 4, 5));
  conflict_set_free(s);
}
END_TEST

START_TEST(test_lookalike_not_placeholder)
{
  struct conflict_set *s = conflict_set_new("contoso");
  struct conflict *c;

  /* Looks like a placeholder, but the only error is on a proxy address. */
  ck_assert_int_eq(
      parse("{\"id\":\"u2\",\"userPrincipalName\":"
            "\"anna2024@contoso.onmicrosoft.com\","
            "\"onPremisesProvisioningErrors\":[{\"category\":"
            "\"PropertyConflict\",\"propertyCausingError\":\"ProxyAddresses\","
            "\"value\":\"SMTP:anna@contoso.com\"}]}",
            CONFLICT_USER, s, NOW),
      1);
  c = find(s, "u2", CONFLICT_PROXY, "anna@contoso.com");
  ck_assert(!c->placeholder);
  /* A UPN error whose value is not behind this UPN. */
  ck_assert_int_eq(
      parse("{\"id\":\"u3\",\"userPrincipalName\":"
            "\"john1234@contoso.onmicrosoft.com\","
            "\"onPremisesProvisioningErrors\":[{\"category\":"
            "\"PropertyConflict\",\"propertyCausingError\":"
            "\"UserPrincipalName\",\"value\":\"jane@contoso.com\"}]}",
            CONFLICT_USER, s, NOW),
      1);
  c = find(s, "u3", CONFLICT_UPN, "jane@contoso.com");
  ck_assert(!c->placeholder);
  ck_assert_ptr_null(c->original_value);
  /* Five digits, a dotted label, or not onmicrosoft.com: no match. */
  ck_assert_int_eq(
      parse("{\"id\":\"u4\",\"userPrincipalName\":"
            "\"john1234@contoso.com\","
            "\"onPremisesProvisioningErrors\":[{\"category\":"
            "\"PropertyConflict\",\"propertyCausingError\":"
            "\"UserPrincipalName\",\"value\":\"john@contoso.com\"}]}",
            CONFLICT_USER, s, NOW),
      1);
  ck_assert(!find(s, "u4", CONFLICT_UPN, "john@contoso.com")->placeholder);
  ck_assert_int_eq(
      parse("{\"id\":\"u5\",\"userPrincipalName\":"
            "\"john1234@a.b.onmicrosoft.com\","
            "\"onPremisesProvisioningErrors\":[{\"category\":"
            "\"PropertyConflict\",\"propertyCausingError\":"
            "\"UserPrincipalName\",\"value\":\"john@contoso.com\"}]}",
            CONFLICT_USER, s, NOW),
      1);
  ck_assert(!find(s, "u5", CONFLICT_UPN, "john@contoso.com")->placeholder);
  /* A prefix ending in digits is still found (the last four are the
   * service's). */
  ck_assert_int_eq(
      parse("{\"id\":\"u6\",\"userPrincipalName\":"
            "\"Bob20240042@Contoso.onmicrosoft.com\","
            "\"onPremisesProvisioningErrors\":[{\"category\":"
            "\"PropertyConflict\",\"propertyCausingError\":"
            "\"UserPrincipalName\",\"value\":\"bob2024@contoso.com\"}]}",
            CONFLICT_USER, s, NOW),
      1);
  c = find(s, "u6", CONFLICT_UPN, "bob2024@contoso.com");
  ck_assert(c->placeholder);
  ck_assert_str_eq(c->original_value, "bob2024@contoso.com");
  conflict_set_free(s);
}
END_TEST

START_TEST(test_tolerance)
{
  struct conflict_set *s = conflict_set_new("contoso");
  struct conflict *c;

  ck_assert_int_eq(
      parse("{\"id\":\"c1\",\"displayName\":null,\"extra\":{\"a\":[1,2]},"
            "\"onPremisesSyncEnabled\":null,"
            "\"onPremisesProvisioningErrors\":["
            /* lower-case category and property, inner junk */
            "{\"category\":\"propertyconflict\",\"propertyCausingError\":"
            "\"proxyaddress\",\"value\":\"smtp:Sales@Contoso.com\","
            "\"occurredDateTime\":\"2022-06-27T10:29:29Z\","
            "\"innerError\":{\"code\":\"x\",\"date\":\"y\"},\"n\":5},"
            /* a property DAR does not quarantine: skipped */
            "{\"category\":\"PropertyConflict\",\"propertyCausingError\":"
            "\"SipProxyAddress\",\"value\":\"sip:sales@contoso.com\"},"
            /* another category: skipped */
            "{\"category\":\"Other\",\"propertyCausingError\":"
            "\"UserPrincipalName\",\"value\":\"x@contoso.com\"},"
            /* null value, null category, empty after the prefix */
            "{\"category\":\"PropertyConflict\",\"propertyCausingError\":"
            "\"ProxyAddresses\",\"value\":null},"
            "{\"category\":null,\"propertyCausingError\":null,\"value\":null,"
            "\"occurredDateTime\":null},"
            "{\"category\":\"PropertyConflict\",\"propertyCausingError\":"
            "\"ProxyAddresses\",\"value\":\"SMTP:\"},"
            /* the same error again counts once */
            "{\"category\":\"PropertyConflict\",\"propertyCausingError\":"
            "\"ProxyAddresses\",\"value\":\"SMTP:sales@contoso.com\"},"
            /* a bad date is tolerated */
            "{\"category\":\"PropertyConflict\",\"propertyCausingError\":"
            "\"ProxyAddresses\",\"value\":\"SMTP:b@contoso.com\","
            "\"occurredDateTime\":\"yesterday\"}]}",
            CONFLICT_CONTACT, s, NOW),
      2);
  c = find(s, "c1", CONFLICT_PROXY, "sales@contoso.com");
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(c->value, "Sales@Contoso.com");
  ck_assert_ptr_null(c->display_name);
  ck_assert_int_eq(c->sync_enabled, CONFLICT_TRI_UNKNOWN);
  ck_assert_int_eq(c->objtype, CONFLICT_CONTACT);
  c = find(s, "c1", CONFLICT_PROXY, "b@contoso.com");
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(c->occurred, 0);
  conflict_set_free(s);
}
END_TEST

START_TEST(test_no_errors)
{
  struct conflict_set *s = conflict_set_new("contoso");

  ck_assert_int_eq(parse("{\"id\":\"a\",\"onPremisesProvisioningErrors\":[]}",
                         CONFLICT_USER, s, NOW),
                   0);
  ck_assert_int_eq(parse("{\"id\":\"a\",\"onPremisesProvisioningErrors\":"
                         "null}",
                         CONFLICT_USER, s, NOW),
                   0);
  ck_assert_int_eq(parse("{\"id\":\"a\"}", CONFLICT_USER, s, NOW), 0);
  ck_assert_uint_eq(conflict_set_count(s), 0);
  conflict_set_free(s);
}
END_TEST

START_TEST(test_wrong_types)
{
  static const char *const bad[] = {
      /* value is a number */
      "{\"id\":\"x\",\"onPremisesProvisioningErrors\":[{\"category\":"
      "\"PropertyConflict\",\"propertyCausingError\":\"UserPrincipalName\","
      "\"value\":42}]}",
      /* errors is an object */
      "{\"id\":\"x\",\"onPremisesProvisioningErrors\":{\"category\":"
      "\"PropertyConflict\"}}",
      /* an entry is a string */
      "{\"id\":\"x\",\"onPremisesProvisioningErrors\":[\"PropertyConflict\"]}",
      /* id is a number, or missing */
      "{\"id\":7,\"onPremisesProvisioningErrors\":[]}",
      "{\"onPremisesProvisioningErrors\":[]}",
      /* a shared member has the wrong type */
      "{\"id\":\"x\",\"displayName\":[],\"onPremisesProvisioningErrors\":[]}",
      "{\"id\":\"x\",\"onPremisesSyncEnabled\":\"yes\"}",
      /* the date is a number */
      "{\"id\":\"x\",\"onPremisesProvisioningErrors\":[{\"category\":"
      "\"PropertyConflict\",\"propertyCausingError\":\"ProxyAddresses\","
      "\"value\":\"SMTP:a@b.c\",\"occurredDateTime\":1}]}",
      /* a good entry before a bad one adds nothing */
      "{\"id\":\"x\",\"onPremisesProvisioningErrors\":[{\"category\":"
      "\"PropertyConflict\",\"propertyCausingError\":\"ProxyAddresses\","
      "\"value\":\"SMTP:a@b.c\"},{\"category\":true}]}",
      /* not an object */
      "[1,2]",
  };
  struct conflict_set *s = conflict_set_new("contoso");
  size_t i;

  ck_assert_int_eq(parse(group_sample, CONFLICT_GROUP, s, NOW), 1);
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_msg(parse(bad[i], CONFLICT_USER, s, NOW) == -EBADMSG,
                  "accepted: %s", bad[i]);
    ck_assert_uint_eq(conflict_set_count(s), 1);
  }
  conflict_set_free(s);
}
END_TEST

START_TEST(test_reparse_keeps_first_seen)
{
  struct conflict_set *s = conflict_set_new("contoso");
  struct conflict *c;

  ck_assert_int_eq(parse(group_sample, CONFLICT_GROUP, s, NOW), 1);
  ck_assert_int_eq(parse(group_sample, CONFLICT_GROUP, s, NOW + 60), 1);
  ck_assert_uint_eq(conflict_set_count(s), 1);
  c = find(s, "6f1c2a3b-0000-4000-8000-000000000001", CONFLICT_PROXY,
           "conflictmail@contoso.com");
  ck_assert_int_eq(c->first_seen, NOW);
  ck_assert_int_eq(c->last_seen, NOW + 60);
  conflict_set_free(s);
}
END_TEST

START_TEST(test_names)
{
  ck_assert_str_eq(conflict_objtype_name(CONFLICT_CONTACT), "contact");
  ck_assert_int_eq(conflict_objtype_parse("group"), CONFLICT_GROUP);
  ck_assert_int_eq(conflict_objtype_parse("Group"), -EINVAL);
  ck_assert_str_eq(conflict_property_name(CONFLICT_UPN), "upn");
  ck_assert_int_eq(conflict_property_parse("proxy"), CONFLICT_PROXY);
  ck_assert_str_eq(conflict_state_name(CONFLICT_ACTIVE), "active");
  ck_assert_int_eq(conflict_state_parse("active"), CONFLICT_ACTIVE);
  ck_assert_int_eq(conflict_state_parse("freed"), CONFLICT_FREED);
  ck_assert_str_eq(conflict_state_name(CONFLICT_STUCK), "stuck");
  /* Released is an outcome, never a stored state. */
  ck_assert_int_eq(conflict_state_parse("released"), -EINVAL);
}
END_TEST

/* make_for() returns a new conflict of user i on property p: its proxy
 * value SMTP:User<i>@Contoso.com or its UPN user<i>@contoso.com. */
static struct conflict *make_for(size_t i, enum conflict_property p,
                                 time_t seen)
{
  char id[64], val[64];
  struct conflict *c;

  snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012zu", i);
  snprintf(val, sizeof(val),
           p == CONFLICT_PROXY ? "SMTP:User%zu@Contoso.com"
                               : "user%zu@contoso.com",
           i);
  c = conflict_new("contoso", id, CONFLICT_USER, p, val);
  ck_assert_ptr_nonnull(c);
  c->first_seen = c->last_seen = seen;
  return c;
}

/* make() returns a new conflict for object i with one proxy value. */
static struct conflict *make(size_t i, time_t seen)
{
  return make_for(i, CONFLICT_PROXY, seen);
}

START_TEST(test_set_100k)
{
  enum { N = 100000 };
  struct conflict_set *s = conflict_set_new("contoso");
  struct conflict_iter it;
  struct conflict *c, *dup;
  size_t i, n;
  char id[64], val[64];

  for(i = 0; i < N; i++)
    ck_assert_int_eq(conflict_set_add(s, make(i, NOW)), 0);
  ck_assert_uint_eq(conflict_set_count(s), N);
  dup = make(7, NOW);
  ck_assert_int_eq(conflict_set_add(s, dup), -EEXIST);
  conflict_free(dup);
  for(i = 0; i < N; i++) {
    snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012zu", i);
    snprintf(val, sizeof(val), "smtp:user%zu@contoso.COM", i);
    c = find(s, id, CONFLICT_PROXY, val);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->object_id, id);
  }
  ck_assert_ptr_null(find(s, "nope", CONFLICT_PROXY, "user1@contoso.com"));
  ck_assert_ptr_null(find(s, id, CONFLICT_UPN, val));
  /* Remove every even entry while iterating. */
  n = 0;
  conflict_iter_init(&it, s);
  for(c = conflict_iter_next(&it); c; c = conflict_iter_next(&it)) {
    n++;
    if(strtoul(c->object_id + 24, NULL, 10) % 2 == 0)
      conflict_free(conflict_set_remove(s, c->key));
  }
  ck_assert_uint_eq(n, N);
  ck_assert_uint_eq(conflict_set_count(s), N / 2);
  n = 0;
  conflict_iter_init(&it, s);
  for(c = conflict_iter_next(&it); c; c = conflict_iter_next(&it))
    n++;
  ck_assert_uint_eq(n, N / 2);
  ck_assert_ptr_null(conflict_set_remove(s, "missing"));
  conflict_set_free(s);
}
END_TEST

START_TEST(test_remove_object)
{
  enum { N = 100000 };
  struct conflict_set *s = conflict_set_new("contoso");
  struct conflict *c;
  size_t i;
  char id[64], val[64];

  /* Two conflicts per object, added while the table grows. */
  for(i = 0; i < N; i++) {
    ck_assert_int_eq(conflict_set_add(s, make(i, NOW)), 0);
    ck_assert_int_eq(conflict_set_add(s, make_for(i, CONFLICT_UPN, NOW)), 0);
  }
  ck_assert_uint_eq(conflict_set_count(s), 2 * N);
  for(i = 0; i < N; i += 3) {
    snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012zu", i);
    ck_assert_uint_eq(conflict_set_remove_object(s, id), 2);
    ck_assert_uint_eq(conflict_set_remove_object(s, id), 0);
  }
  ck_assert_uint_eq(conflict_set_count(s), 2 * N - 2 * ((N + 2) / 3));
  for(i = 0; i < N; i++) {
    snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012zu", i);
    snprintf(val, sizeof(val), "user%zu@contoso.com", i);
    c = find(s, id, CONFLICT_UPN, val);
    ck_assert(i % 3 ? c != NULL : c == NULL);
    snprintf(val, sizeof(val), "smtp:user%zu@contoso.com", i);
    c = find(s, id, CONFLICT_PROXY, val);
    ck_assert(i % 3 ? c != NULL : c == NULL);
  }
  /* Removing by key keeps the object index right: one left to drop. */
  c = make_for(1, CONFLICT_UPN, NOW);
  conflict_free(conflict_set_remove(s, c->key));
  ck_assert_uint_eq(conflict_set_remove_object(s, c->object_id), 1);
  ck_assert_uint_eq(conflict_set_remove_object(s, "missing"), 0);
  conflict_free(c);
  conflict_set_free(s);
  /* An empty set has no table yet. */
  s = conflict_set_new("contoso");
  ck_assert_uint_eq(conflict_set_remove_object(s, "x"), 0);
  conflict_set_free(s);
}
END_TEST

START_TEST(test_copy_and_move)
{
  struct conflict_set *all = conflict_set_new("contoso");
  struct conflict_set *users = conflict_set_new("contoso");
  struct conflict_set *from = conflict_set_new("contoso");
  struct conflict *g, *c, *newer;
  cJSON *ja, *jb;
  char *a, *b;

  ck_assert_int_eq(parse(group_sample, CONFLICT_GROUP, all, NOW), 1);
  ck_assert_int_eq(conflict_set_add(all, make(1, NOW - 60)), 0);
  ck_assert_int_eq(conflict_set_add(all, make_for(1, CONFLICT_UPN, NOW)), 0);
  /* A deep copy of one type only. */
  ck_assert_int_eq(conflict_set_copy_type(users, all, CONFLICT_USER), 0);
  ck_assert_uint_eq(conflict_set_count(users), 2);
  ck_assert_int_eq(conflict_set_copy_type(users, all, CONFLICT_USER), -EEXIST);
  ck_assert_int_eq(conflict_set_copy_type(users, all, CONFLICT_CONTACT), 0);
  ck_assert_uint_eq(conflict_set_count(users), 2);
  /* conflict_dup() copies every field. */
  g = find(all, "6f1c2a3b-0000-4000-8000-000000000001", CONFLICT_PROXY,
           "conflictmail@contoso.com");
  ck_assert_ptr_nonnull(g);
  {
    /* ... including the pairing a delta round must carry over. */
    struct conflict_holder h = {0};

    h.id = "0c1d2e3f-0000-4000-8000-0000000000aa";
    h.type = CONFLICT_USER;
    h.display_name = "Holder";
    ck_assert_int_eq(conflict_replace_holders(g, &h, 1), 0);
    g->looked_up = NOW - 30;
    g->last_sync = NOW - 3600;
    g->cls = CONFLICT_CLASS_GROUP_OR_CONTACT;
  }
  c = conflict_dup(g);
  ck_assert_ptr_nonnull(c);
  ck_assert_ptr_ne(c->display_name, g->display_name);
  ja = conflict_json_encode(g);
  jb = conflict_json_encode(c);
  a = cJSON_PrintUnformatted(ja);
  b = cJSON_PrintUnformatted(jb);
  cJSON_Delete(ja);
  cJSON_Delete(jb);
  ck_assert_str_eq(a, b);
  free(a);
  free(b);
  conflict_free(c);

  /* Moving replaces same-key entries and keeps the older first_seen. */
  newer = make(1, NOW);
  newer->display_name = strdup("renamed");
  ck_assert_int_eq(conflict_set_add(from, newer), 0);
  ck_assert_int_eq(conflict_set_add(from, make(2, NOW)), 0);
  ck_assert_int_eq(conflict_set_move(users, from), 0);
  ck_assert_uint_eq(conflict_set_count(from), 0);
  ck_assert_uint_eq(conflict_set_count(users), 3);
  c = conflict_set_find(users, newer->key);
  ck_assert_ptr_eq(c, newer);
  ck_assert_str_eq(c->display_name, "renamed");
  ck_assert_int_eq(c->first_seen, NOW - 60);
  ck_assert_int_eq(conflict_set_move(users, from), 0);
  /* The copies are independent of the source. */
  conflict_set_free(all);
  ck_assert_uint_eq(conflict_set_remove_object(users, newer->object_id), 2);
  ck_assert_uint_eq(conflict_set_count(users), 1);
  conflict_set_free(users);
  conflict_set_free(from);
}
END_TEST

/* conflict_snapshot() is the conflict as it was, every member and holder
 * included, and stays so once the original is changed and freed. */
START_TEST(test_snapshot)
{
  struct conflict_set *all = conflict_set_new("contoso");
  struct conflict_holder h[2] = {{0}};
  struct conflict *g, *s;
  cJSON *j;
  char *before, *after;

  ck_assert_int_eq(parse(group_sample, CONFLICT_GROUP, all, NOW), 1);
  g = find(all, "6f1c2a3b-0000-4000-8000-000000000001", CONFLICT_PROXY,
           "conflictmail@contoso.com");
  ck_assert_ptr_nonnull(g);
  h[0].id = "0c1d2e3f-0000-4000-8000-0000000000aa";
  h[0].type = CONFLICT_USER;
  h[0].display_name = "Holder";
  h[0].upn = "holder@contoso.com";
  h[1].id = "0c1d2e3f-0000-4000-8000-0000000000bb";
  h[1].type = CONFLICT_CONTACT;
  h[1].mail = "conflictmail@contoso.com";
  h[1].recycled = true;
  ck_assert_int_eq(conflict_replace_holders(g, h, 2), 0);
  g->looked_up = NOW - 30;
  g->lookup_error = strdup("Request_Throttled");
  g->state = CONFLICT_FREED;
  g->freed_at = NOW - 10;
  g->release_by = NOW + 3600;
  g->aging_done = 86400;
  s = conflict_snapshot(g);
  ck_assert_ptr_nonnull(s);
  j = conflict_json_encode(g);
  before = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  ck_assert_str_eq(s->key, g->key);
  ck_assert_str_eq(s->tenant, "contoso");
  ck_assert_str_eq(s->value_lc, g->value_lc);
  ck_assert_str_eq(s->lookup_error, "Request_Throttled");
  ck_assert_ptr_ne(s->key, g->key);
  ck_assert_uint_eq(s->nholders, 2);
  ck_assert_ptr_ne(s->holders, g->holders);
  ck_assert_ptr_null(s->holders[0].mail);
  ck_assert_str_eq(s->holders[1].mail, "conflictmail@contoso.com");
  ck_assert_int_eq(s->aging_done, 86400);
  conflict_set_free(all);
  j = conflict_json_encode(s);
  after = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  ck_assert_str_eq(after, before);
  free(before);
  free(after);
  conflict_free(s);
}
END_TEST

struct seen {
  char keys[8][128];
  int n;
};

static void on_event(const struct conflict *c, void *arg)
{
  struct seen *s = arg;

  ck_assert_int_lt(s->n, 8);
  snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s", c->key);
}

START_TEST(test_diff)
{
  struct conflict_set *old = conflict_set_new("contoso");
  struct conflict_set *cur = conflict_set_new("contoso");
  struct seen det = {.n = 0}, clr = {.n = 0};
  struct conflict_diff_cb d = {on_event, NULL, &det};
  struct conflict_diff_cb k = {NULL, on_event, &clr};
  struct conflict_diff_stats st;
  struct conflict *one = make(1, 0), *two = make(2, 0), *three = make(3, 0);

  /* old: 1, 2; cur: 2, 3 */
  ck_assert_int_eq(conflict_set_add(old, make(1, NOW - 600)), 0);
  ck_assert_int_eq(conflict_set_add(old, make(2, NOW - 600)), 0);
  ck_assert_int_eq(conflict_set_add(cur, make(2, NOW)), 0);
  ck_assert_int_eq(conflict_set_add(cur, make(3, NOW)), 0);
  conflict_set_diff(old, cur, &d, &st);
  ck_assert_uint_eq(st.detected, 1);
  ck_assert_uint_eq(st.cleared, 1);
  ck_assert_uint_eq(st.unchanged, 1);
  conflict_set_diff(old, cur, &k, NULL);
  ck_assert_int_eq(det.n, 1);
  ck_assert_str_eq(det.keys[0], three->key);
  ck_assert_int_eq(clr.n, 1);
  ck_assert_str_eq(clr.keys[0], one->key);
  /* Carried from old for the one in both; the new one keeps now. */
  ck_assert_int_eq(conflict_set_find(cur, two->key)->first_seen, NOW - 600);
  ck_assert_int_eq(conflict_set_find(cur, two->key)->last_seen, NOW);
  ck_assert_int_eq(conflict_set_find(cur, three->key)->first_seen, NOW);
  /* The same a conflict at a time, as the daemon spreads a large diff
   * over loop iterations. */
  {
    struct conflict_iter it;
    int parts = 1;

    memset(&st, 0, sizeof(st));
    det.n = 0;
    conflict_iter_init(&it, cur);
    while(!conflict_set_diff_some(old, &it, 1, &d, &st))
      parts++;
    ck_assert_int_eq(parts, 2);
    ck_assert_uint_eq(st.detected, 1);
    ck_assert_uint_eq(st.cleared, 1);
    ck_assert_uint_eq(st.unchanged, 1);
    ck_assert_int_eq(det.n, 1);
    ck_assert_str_eq(det.keys[0], three->key);
  }
  /* No old inventory: everything is detected. */
  conflict_set_diff(NULL, cur, NULL, &st);
  ck_assert_uint_eq(st.detected, 2);
  ck_assert_uint_eq(st.cleared, 0);
  ck_assert_uint_eq(conflict_set_count(old), 2);
  ck_assert_uint_eq(conflict_set_count(cur), 2);
  conflict_free(one);
  conflict_free(two);
  conflict_free(three);
  conflict_set_free(old);
  conflict_set_free(cur);
}
END_TEST

START_TEST(test_json_roundtrip)
{
  struct conflict_set *s = conflict_set_new("contoso"), *back = NULL;
  struct conflict_iter it;
  struct conflict *c, *d;
  cJSON *arr, *arr2;
  char *t1, *t2;

  ck_assert_int_eq(parse(group_sample, CONFLICT_GROUP, s, NOW), 1);
  ck_assert_int_eq(
      parse("{\"id\":\"u1\",\"displayName\":\"John Smith\","
            "\"userPrincipalName\":\"john1234@contoso.onmicrosoft.com\","
            "\"onPremisesSyncEnabled\":false,"
            "\"onPremisesProvisioningErrors\":[{\"category\":"
            "\"PropertyConflict\",\"propertyCausingError\":"
            "\"UserPrincipalName\",\"value\":\"john@contoso.com\"}]}",
            CONFLICT_USER, s, NOW),
      1);
  arr = conflict_json_encode_set(s);
  ck_assert_ptr_nonnull(arr);
  ck_assert_int_eq(conflict_json_decode_set(arr, "contoso", &back), 0);
  ck_assert_uint_eq(conflict_set_count(back), 2);
  conflict_iter_init(&it, s);
  for(c = conflict_iter_next(&it); c; c = conflict_iter_next(&it)) {
    d = conflict_set_find(back, c->key);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->value_raw, c->value_raw);
    ck_assert_str_eq(d->value, c->value);
    ck_assert_int_eq(d->objtype, c->objtype);
    ck_assert_int_eq(d->sync_enabled, c->sync_enabled);
    ck_assert_int_eq(d->placeholder, c->placeholder);
    ck_assert_int_eq(d->occurred, c->occurred);
    ck_assert_int_eq(d->first_seen, c->first_seen);
    ck_assert_int_eq(d->last_seen, c->last_seen);
  }
  arr2 = conflict_json_encode_set(back);
  t1 = cJSON_PrintUnformatted(arr);
  t2 = cJSON_PrintUnformatted(arr2);
  ck_assert_str_eq(t1, t2);
  ck_assert_ptr_nonnull(strstr(t1, "\"originalValue\":\"john@contoso.com\""));
  ck_assert_ptr_nonnull(strstr(t1, "\"onPremisesSyncEnabled\":false"));
  cJSON_free(t1);
  cJSON_free(t2);
  cJSON_Delete(arr2);
  cJSON_Delete(arr);
  conflict_set_free(back);
  conflict_set_free(s);
}
END_TEST

/* A holder in the recycle bin: Graph's deletedDateTime marks it, the state
 * file keeps the mark (with or without a time), a live holder has none. */
START_TEST(test_recycled_holder)
{
  static const char *const graph_user =
      "{\"id\":\"d1\",\"userPrincipalName\":\"beth@contoso.com\","
      "\"deletedDateTime\":\"2024-05-06T08:00:00Z\"}";
  struct conflict_holder h, back;
  const char *why = NULL;
  cJSON *in = cJSON_Parse(graph_user), *out;
  char *text;

  ck_assert_int_eq(conflict_parse_holder(in, CONFLICT_USER, &h, &why), 0);
  ck_assert(h.recycled);
  ck_assert_int_eq(h.deleted_at, 1714982400);
  out = conflict_json_encode_holder(&h);
  text = cJSON_PrintUnformatted(out);
  ck_assert_ptr_nonnull(
      strstr(text, "\"deletedDateTime\":\"2024-05-06T08:00:00Z\""));
  ck_assert_int_eq(conflict_parse_holder(out, CONFLICT_USER, &back, &why), 0);
  ck_assert(back.recycled);
  ck_assert_int_eq(back.deleted_at, h.deleted_at);
  cJSON_free(text);
  cJSON_Delete(out);
  conflict_holder_clear(&back);

  /* Deleted at an unknown time: still in the recycle bin when read back. */
  h.deleted_at = 0;
  out = conflict_json_encode_holder(&h);
  ck_assert_int_eq(conflict_parse_holder(out, CONFLICT_USER, &back, &why), 0);
  ck_assert(back.recycled);
  ck_assert_int_eq(back.deleted_at, 0);
  cJSON_Delete(out);
  conflict_holder_clear(&back);

  /* A live holder carries no deletedDateTime. */
  h.recycled = false;
  out = conflict_json_encode_holder(&h);
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(out, "deletedDateTime"));
  ck_assert_int_eq(conflict_parse_holder(out, CONFLICT_USER, &back, &why), 0);
  ck_assert(!back.recycled);
  cJSON_Delete(out);
  conflict_holder_clear(&back);
  conflict_holder_clear(&h);
  cJSON_Delete(in);
}
END_TEST

START_TEST(test_json_strict)
{
  static const char *const bad[] = {
      "{\"objectType\":\"user\",\"property\":\"upn\",\"value\":\"a@b\","
      "\"state\":\"active\"}",
      "{\"objectId\":\"x\",\"objectType\":\"printer\",\"property\":\"upn\","
      "\"value\":\"a@b\",\"state\":\"active\"}",
      "{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":\"upn\","
      "\"value\":5,\"state\":\"active\"}",
      "{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":\"upn\","
      "\"value\":\"a@b\",\"state\":\"gone\"}",
      "{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":\"upn\","
      "\"value\":\"a@b\",\"state\":\"active\",\"firstSeen\":\"today\"}",
      "{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":\"upn\","
      "\"value\":\"a@b\",\"state\":\"active\",\"placeholder\":\"no\"}",
      "{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":\"upn\","
      "\"value\":\"a@b\",\"state\":\"active\",\"onPremisesSyncEnabled\":1}",
      "{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":\"upn\","
      "\"value\":\"\",\"state\":\"active\"}",
      "\"x\"",
  };
  struct conflict_set *s = NULL;
  struct conflict *c = NULL;
  cJSON *j;
  size_t i;

  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    j = cJSON_Parse(bad[i]);
    ck_assert_ptr_nonnull(j);
    ck_assert_msg(conflict_json_decode(j, "t", &c) == -EBADMSG, "accepted %s",
                  bad[i]);
    cJSON_Delete(j);
  }
  ck_assert_ptr_null(c);
  j = cJSON_Parse("{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":"
                  "\"upn\",\"value\":\"a@b\",\"state\":\"active\"}");
  ck_assert_int_eq(conflict_json_decode(j, "t", &c), 0);
  ck_assert_str_eq(c->key, "x|upn|a@b");
  conflict_free(c);
  cJSON_Delete(j);
  /* Two entries with one key, or not an array. */
  j = cJSON_Parse("[{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":"
                  "\"upn\",\"value\":\"a@b\",\"state\":\"active\"},"
                  "{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":"
                  "\"upn\",\"value\":\"A@B\",\"state\":\"active\"}]");
  ck_assert_int_eq(conflict_json_decode_set(j, "t", &s), -EBADMSG);
  ck_assert_int_eq(conflict_json_decode_set(j->child, "t", &s), -EBADMSG);
  ck_assert_ptr_null(s);
  cJSON_Delete(j);
}
END_TEST

Suite *conflict_suite(void)
{
  Suite *s = suite_create("conflict");
  TCase *tm = tcase_create("model");
  TCase *tc = tcase_create("parse");
  TCase *ts = tcase_create("set");
  TCase *tj = tcase_create("json");

  tcase_add_test(tm, test_names);
  suite_add_tcase(s, tm);
  tcase_add_test(tc, test_proxy_sample);
  tcase_add_test(tc, test_upn_placeholder);
  tcase_add_test(tc, test_lookalike_not_placeholder);
  tcase_add_test(tc, test_tolerance);
  tcase_add_test(tc, test_no_errors);
  tcase_add_test(tc, test_wrong_types);
  tcase_add_test(tc, test_reparse_keeps_first_seen);
  suite_add_tcase(s, tc);
  /* The 100,000-conflict cases take a second or two alone, 10 to 20 s
   * under ASan on a loaded machine; a quadratic set would take hours, so
   * a generous limit still catches one. */
  tcase_set_timeout(ts, 120);
  tcase_add_test(ts, test_set_100k);
  tcase_add_test(ts, test_remove_object);
  tcase_add_test(ts, test_copy_and_move);
  tcase_add_test(ts, test_snapshot);
  tcase_add_test(ts, test_diff);
  suite_add_tcase(s, ts);
  tcase_add_test(tj, test_json_roundtrip);
  tcase_add_test(tj, test_json_strict);
  tcase_add_test(tj, test_recycled_holder);
  suite_add_tcase(s, tj);
  return s;
}
