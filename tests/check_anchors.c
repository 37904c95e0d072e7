/* SPDX-License-Identifier: MIT
 *
 * check_anchors: the known-anchors CSV (every bad line reported with its
 * line number, duplicates, expiry, RFC 4180 quoting, look-ups) and the
 * suggestions file (atomic rewrite, approval, only approved lines used).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anchor.h"
#include "anchors.h"
#include "testutil.h"

#define NOW ((time_t)1767225600) /* 2026-01-01T00:00:00Z */

#define A1 "yYuRNW0Z6kCXeYidebdT8A=="
#define A2 "x4V0iaeB60KXxjftcwd7Hw=="
#define A3 "LspMdPCr8k2xp6yXApVuqA=="
#define ID1 "8f0c5e4a-3d1b-4c2a-9e7f-112233445566"

static char *dir;
static char reports[8192];

static void setup(void)
{
  dir = tu_tmpdir();
  reports[0] = '\0';
}

static void teardown(void)
{
  tu_rmtree(dir);
  free(dir);
}

/* collect() keeps every report as "L:LINE: msg\n" (L = E, W or S), with
 * the file name checked and left out. */
static void collect(void *arg, enum anchors_level level, const char *file,
                    unsigned line, const char *msg)
{
  size_t len = strlen(reports), dl = strlen(dir);
  char *p;

  ck_assert_str_eq(file, (const char *)arg);
  snprintf(reports + len, sizeof(reports) - len, "%c:%u: %s\n", "EWS"[level],
           line, msg);
  /* Other files are named in messages: keep their base names only. */
  for(p = strstr(reports + len, dir); p && p[dl] == '/';
      p = strstr(reports + len, dir))
    memmove(p, p + dl + 1, strlen(p + dl + 1) + 1);
}

START_TEST(test_csv_good)
{
  struct anchors_set *s = anchors_set_new(ANCHOR_GUID_BYTES);
  const struct anchors_entry *e;
  char *path = tu_write(dir, "known.csv",
                        "\xef\xbb\xbf# known anchors\r\n"
                        "target,anchor,reference,expires\r\n"
                        "\r\n"
                        "alice@contoso.com," A1 ",CHG-1,\r\n"
                        "{8F0C5E4A-3D1B-4C2A-9E7F-112233445566}, " A2
                        " ,\"CHG-2, approved by \"\"Bob\"\"\",2026-01-01\n"
                        "# a comment\n"
                        "carol@contoso.com," A3 ",\"multi\nline\","
                        "2027-01-01T00:00:00Z\n");

  ck_assert_int_eq(anchors_load_csv(s, path, NOW, collect, path), 0);
  ck_assert_str_eq(reports, "");
  ck_assert_uint_eq(anchors_set_count(s), 3);
  e = anchors_set_get(s, 1);
  ck_assert_str_eq(e->target, ID1);
  ck_assert_int_eq(e->target_is_id, 1);
  ck_assert_str_eq(e->anchor, A2);
  ck_assert_str_eq(e->reference, "CHG-2, approved by \"Bob\"");
  ck_assert_int_eq(e->expires, NOW + 86400);
  ck_assert_uint_eq(e->line, 5);
  ck_assert_str_eq(e->file, path);
  ck_assert_int_eq(e->source, ANCHORS_CSV);
  ck_assert_str_eq(anchors_source_name(e->source), "csv");
  e = anchors_set_get(s, 2);
  ck_assert_uint_eq(e->line, 7);
  ck_assert_str_eq(e->reference, "multi\nline");

  e = anchors_find(s, NULL, "ALICE@Contoso.COM");
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e->anchor, A1);
  ck_assert_int_eq(e->target_is_id, 0);
  e = anchors_find(s, "8F0C5E4A-3D1B-4C2A-9E7F-112233445566", "x@y.z");
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e->anchor, A2);
  /* The id is looked up first, then the UPN. */
  e = anchors_find(s, "00000000-0000-0000-0000-000000000001",
                   "carol@contoso.com");
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e->anchor, A3);
  ck_assert_ptr_null(anchors_find(s, NULL, "dave@contoso.com"));
  ck_assert_ptr_null(anchors_find(s, "not-a-guid", NULL));
  ck_assert_ptr_null(anchors_find(s, NULL, NULL));
  anchors_set_free(s);
  free(path);
}
END_TEST

START_TEST(test_csv_every_bad_line)
{
  struct anchors_set *s = anchors_set_new(ANCHOR_GUID_BYTES);
  char *path = tu_write(
      dir, "bad.csv",
      "anchor,target,reference,expires\n"                        /* 1 */
      A1 ",alice@contoso.com,T-1,\n"                             /* 2 ok */
      "AQEBAQEBAQEBAQEB,bob@contoso.com,T-2,\n"                  /* 3 */
      "yYuRNW0Z6kCX$YidebdT8A==,carol@contoso.com,T-3,\n"        /* 4 */
      "not-base64!,dave@contoso.com,T-4,\n"                      /* 5 */
      ",erin@contoso.com,T-5,\n"                                 /* 6 */
      A2 ",frank,T-6,\n"                                         /* 7 */
      A2 ",alice@CONTOSO.com,T-7,\n"                             /* 8 */
      A1 ",gina@contoso.com,T-8,\n"                              /* 9 */
      A2 ",hank@contoso.com,,\n"                                 /* 10 */
      A2 ",ivan@contoso.com,T-10,next week\n"                    /* 11 */
      A2 ",judy@contoso.com,T-11\n"                              /* 12 */
      A2 ",\"kim@contoso.com\"x,T-12,\n"                         /* 13 */
      A2 ",li\"m@contoso.com,T-13,\n"                            /* 14 */
      A3 ",old@contoso.com,T-14,2025-12-31\n"                    /* 15 */
      A2 ",mallory@contoso.com,T-15,2026-06-30T12:00:00+02:00\n" /* 16 ok */
      A3 ",nina@contoso.com,\"T-16\n");                          /* 17 */

  ck_assert_int_eq(anchors_load_csv(s, path, NOW, collect, path), -EBADMSG);
  ck_assert_str_eq(
      reports,
      "E:3: anchor 'AQEBAQEBAQEBAQEB': decodes to 12 bytes, 16 required\n"
      "E:4: anchor 'yYuRNW0Z6kCX$YidebdT8A==': contains '$' or '_', which "
      "onPremisesImmutableId does not allow\n"
      "E:5: anchor 'not-base64!': not valid Base64\n"
      "E:6: anchor '': empty\n"
      "E:7: target is neither an object id (GUID) nor a UPN (user@domain)\n"
      "E:8: target alice@CONTOSO.com is already listed at bad.csv:2 (anchor " A1
      ")\n"
      "E:9: anchor " A1 " is already mapped to alice@contoso.com at bad.csv:2; "
      "one anchor cannot belong to two users\n"
      "E:10: reference is empty (name the ticket or reason)\n"
      "E:11: expires 'next week' is not a date (YYYY-MM-DD) or an ISO 8601 "
      "date-time\n"
      "E:12: 3 fields, the header has 4\n"
      "E:13: text after a closing quote\n"
      "E:14: a quote inside an unquoted field\n"
      "S:15: target old@contoso.com: expired at 2026-01-01T00:00:00Z; "
      "skipped\n"
      "E:17: quoted field not closed before the end of the file\n");
  ck_assert_uint_eq(anchors_set_count(s), 2);
  anchors_set_free(s);
  free(path);
}
END_TEST

/* A day that does not exist is an error, not the next month's first. */
START_TEST(test_csv_impossible_expiry)
{
  struct anchors_set *s = anchors_set_new(ANCHOR_GUID_BYTES);
  char *path = tu_write(dir, "days.csv",
                        "target,anchor,reference,expires\n"
                        "alice@contoso.com," A1 ",T-1,2027-02-29\n"
                        "bob@contoso.com," A2 ",T-2,2028-02-29\n"
                        "carol@contoso.com," A3 ",T-3,2027-04-31T10:00:00Z\n");

  ck_assert_int_eq(anchors_load_csv(s, path, NOW, collect, path), -EBADMSG);
  ck_assert_str_eq(reports,
                   "E:2: expires '2027-02-29' is not a date (YYYY-MM-DD) or "
                   "an ISO 8601 date-time\n"
                   "E:4: expires '2027-04-31T10:00:00Z' is not a date "
                   "(YYYY-MM-DD) or an ISO 8601 date-time\n");
  ck_assert_uint_eq(anchors_set_count(s), 1);
  ck_assert_int_eq(anchors_set_get(s, 0)->expires, tu_utc(2028, 3, 1, 0, 0, 0));
  anchors_set_free(s);
  free(path);
}
END_TEST

START_TEST(test_csv_header)
{
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"", "E:1: no header line\n"},
      {"# only a comment\n", "E:2: no header line\n"},
      {"target,anchor\n", "E:1: header line: column 'reference' is missing\n"},
      {"target,anchor,reference,expiry\n",
       "E:1: header line: unknown column 'expiry'\n"},
      {"target,anchor,reference,TARGET\n",
       "E:1: header line: column 'target' twice\n"},
  };
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct anchors_set *s = anchors_set_new(ANCHOR_GUID_BYTES);
    char *path = tu_write(dir, "h.csv", cases[i].text);

    reports[0] = '\0';
    ck_assert_int_eq(anchors_load_csv(s, path, NOW, collect, path), -EBADMSG);
    ck_assert_str_eq(reports, cases[i].want);
    ck_assert_uint_eq(anchors_set_count(s), 0);
    anchors_set_free(s);
    free(path);
  }
}
END_TEST

START_TEST(test_csv_missing_and_lengths)
{
  struct anchors_set *s = anchors_set_new(ANCHOR_ANY_LEN);
  char *path, *missing;

  ck_assert_int_ne(asprintf(&missing, "%s/nope.csv", dir), -1);
  ck_assert_int_eq(anchors_load_csv(s, missing, NOW, collect, missing),
                   -ENOENT);
  ck_assert_str_eq(reports, "E:0: cannot open: No such file or directory\n");
  /* Other lengths only when the set was made to accept them. */
  path = tu_write(dir, "any.csv",
                  "target,anchor,reference\n"
                  "bob@contoso.com,AQEBAQEBAQEBAQEB,T-2\n");
  reports[0] = '\0';
  ck_assert_int_eq(anchors_load_csv(s, path, NOW, collect, path), 0);
  ck_assert_uint_eq(anchors_set_count(s), 1);
  anchors_set_free(s);
  free(path);
  free(missing);
}
END_TEST

START_TEST(test_add_api)
{
  struct anchors_set *s = anchors_set_new(ANCHOR_GUID_BYTES);
  struct anchors_entry e = {.target = "a@b.c",
                            .anchor = A1,
                            .reference = "r",
                            .file = "x",
                            .line = 1};
  const struct anchors_entry *clash = NULL;
  const char *why = NULL;
  char buf[128], name[40];
  size_t i;

  ck_assert_int_eq(anchors_add(s, &e, &clash, buf, sizeof(buf), &why), 0);
  e.target = "A@B.C";
  e.anchor = A2;
  ck_assert_int_eq(anchors_add(s, &e, &clash, buf, sizeof(buf), &why), -EEXIST);
  ck_assert_str_eq(clash->target, "a@b.c");
  e.target = "d@b.c";
  e.anchor = A1;
  ck_assert_int_eq(anchors_add(s, &e, &clash, buf, sizeof(buf), &why),
                   -ENOTUNIQ);
  e.target = "   ";
  ck_assert_int_eq(anchors_add(s, &e, &clash, buf, sizeof(buf), &why), -EINVAL);
  ck_assert_str_eq(why, "target contains white space or a control character");
  /* Many entries: the indexes grow and every one is still found. */
  for(i = 0; i < 5000; i++) {
    unsigned char b[16] = {0};
    char a[ANCHOR_GUID_B64_LEN];

    memcpy(b, &i, sizeof(i));
    ck_assert_int_eq(anchor_encode(b, 16, a, sizeof(a)), 0);
    snprintf(name, sizeof(name), "user%zu@contoso.com", i);
    e.target = name;
    e.anchor = a;
    ck_assert_int_eq(anchors_add(s, &e, NULL, buf, sizeof(buf), &why), 0);
  }
  ck_assert_uint_eq(anchors_set_count(s), 5001);
  ck_assert_ptr_nonnull(anchors_find(s, NULL, "USER4321@contoso.com"));
  anchors_set_free(s);
  anchors_set_free(NULL);
}
END_TEST

/* sugg() fills a suggestion for target/anchor. */
static struct anchors_suggestion sugg(const char *target, const char *anchor)
{
  struct anchors_suggestion sg = {
      .target = (char *)(uintptr_t)target,
      .anchor = (char *)(uintptr_t)anchor,
      .reference = "conflict:11111111-2222-3333-4444-555555555555:"
                   "userPrincipalName",
      .conflict = "11111111-2222-3333-4444-555555555555",
      .holders = ID1,
      .value = "alice@contoso.com",
      .created = NOW,
      .reason = "synced duplicate, holder is cloud-only, \"same\" person?"};

  return sg;
}

START_TEST(test_suggestions_round_trip)
{
  struct anchors_suggestions l = {0}, r = {0};
  struct anchors_suggestion sg = sugg(ID1, A1);
  struct anchors_set *s = anchors_set_new(ANCHOR_GUID_BYTES);
  const char *what = NULL;
  char *path, *text;
  struct stat st;

  ck_assert_int_ne(asprintf(&path, "%s/suggestions.csv", dir), -1);
  ck_assert_int_eq(anchors_suggestions_read(path, &l, collect, path), -ENOENT);
  ck_assert_str_eq(reports, "");
  ck_assert_int_eq(anchors_load_suggestions(s, path, NOW, collect, path),
                   -ENOENT);
  ck_assert_int_eq(anchors_suggestions_add(&l, &sg), 0);
  ck_assert_int_eq(anchors_suggestions_add(&l, &sg), -EEXIST);
  sg = sugg("bob@contoso.com", A2);
  ck_assert_int_eq(anchors_suggestions_add(&l, &sg), 0);
  sg = sugg("bob@contoso.com", A3);
  ck_assert_int_eq(anchors_suggestions_add(&l, &sg), 0);
  sg.reference = "";
  ck_assert_int_eq(anchors_suggestions_add(&l, &sg), -EINVAL);
  ck_assert_int_eq(anchors_suggestions_write(path, &l, &what), 0);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 0777, 0640);
  text = tu_slurp(path);
  ck_assert_ptr_nonnull(strstr(text, ANCHORS_SUGGESTIONS_HEADER
                               "\n"
                               "no," ID1 "," A1
                               ",conflict:11111111-2222-3333-4444-"
                               "555555555555:userPrincipalName,"
                               "11111111-2222-3333-4444-555555555555," ID1
                               ",alice@contoso.com,2026-01-01T00:00:00Z,"
                               "\"synced duplicate, holder is cloud-only, "
                               "\"\"same\"\" person?\"\n"));
  free(text);

  /* Nothing approved: nothing known. */
  ck_assert_int_eq(anchors_load_suggestions(s, path, NOW, collect, path), 0);
  ck_assert_uint_eq(anchors_set_count(s), 0);

  ck_assert_int_eq(anchors_suggestions_read(path, &r, collect, path), 0);
  ck_assert_uint_eq(r.n, 3);
  ck_assert_uint_eq(r.v[0].line, 2);
  ck_assert_int_eq(r.v[0].created, NOW);
  ck_assert_str_eq(r.v[0].reason,
                   "synced duplicate, holder is cloud-only, \"same\" person?");
  ck_assert_int_eq(anchors_suggestions_approve(&r, "nobody@contoso.com", NULL),
                   -ENOENT);
  ck_assert_int_eq(anchors_suggestions_approve(&r, "BOB@contoso.com", NULL),
                   -EEXIST);
  ck_assert_int_eq(r.v[1].approved + r.v[2].approved, 0);
  ck_assert_int_eq(anchors_suggestions_approve(&r, "BOB@contoso.com", A3), 2);
  ck_assert_int_eq(anchors_suggestions_approve(&r, ID1, NULL), 0);
  ck_assert_int_eq(anchors_suggestions_write(path, &r, &what), 0);

  ck_assert_int_eq(anchors_load_suggestions(s, path, NOW, collect, path), 0);
  ck_assert_uint_eq(anchors_set_count(s), 2);
  ck_assert_int_eq(anchors_set_get(s, 0)->source, ANCHORS_SUGGESTION);
  ck_assert_str_eq(anchors_source_name(ANCHORS_SUGGESTION), "suggestion");
  ck_assert_str_eq(anchors_source_name(ANCHORS_CSEXPORT), "csexport");
  ck_assert_str_eq(anchors_find(s, NULL, "bob@contoso.com")->anchor, A3);
  ck_assert_uint_eq(anchors_find(s, NULL, "bob@contoso.com")->line, 4);
  ck_assert_str_eq(reports, "");
  anchors_suggestions_clear(&l);
  anchors_suggestions_clear(&r);
  anchors_set_free(s);
  free(path);
}
END_TEST

START_TEST(test_suggestions_bad_and_cross_file)
{
  struct anchors_set *s = anchors_set_new(ANCHOR_GUID_BYTES);
  char *csv = tu_write(dir, "known.csv",
                       "target,anchor,reference\n"
                       "alice@contoso.com," A1 ",T-1\n");
  char *path =
      tu_write(dir, "sugg.csv",
               ANCHORS_SUGGESTIONS_HEADER
               "\n"
               "maybe,a@b.c," A1 ",r,c,,,2026-01-01T00:00:00Z,\n"
               "yes,,," A1 ",c,,,2026-01-01T00:00:00Z,\n"
               "yes,a@b.c," A1 ",r,c,,,yesterday,\n"
               "yes,alice@contoso.com," A1 ",r,c,,,2026-01-01T00:00:00Z,\n"
               "yes,bob@contoso.com," A1 ",r,c,,,2026-01-01T00:00:00Z,\n"
               "yes,carol@contoso.com,AQEBAQEBAQEBAQEB,r,c,,,"
               "2026-01-01T00:00:00Z,\n");

  ck_assert_int_eq(anchors_load_csv(s, csv, NOW, NULL, NULL), 0);
  ck_assert_int_eq(anchors_load_suggestions(s, path, NOW, collect, path),
                   -EBADMSG);
  ck_assert_str_eq(
      reports,
      "E:2: approved is 'maybe', not yes or no\n"
      "E:3: target is empty\n"
      "E:4: created 'yesterday' is not an ISO 8601 date-time\n"
      "W:5: target alice@contoso.com with the same anchor is already known "
      "from known.csv:2; ignored\n"
      "E:6: anchor " A1
      " is already mapped to alice@contoso.com at known.csv:2; "
      "one anchor cannot belong to two users\n"
      "E:7: anchor 'AQEBAQEBAQEBAQEB': decodes to 12 bytes, 16 required\n");
  anchors_set_free(s);
  free(csv);
  free(path);
}
END_TEST

Suite *anchors_suite(void)
{
  Suite *s = suite_create("anchors");
  TCase *tc = tcase_create("anchors");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_csv_good);
  tcase_add_test(tc, test_csv_every_bad_line);
  tcase_add_test(tc, test_csv_impossible_expiry);
  tcase_add_test(tc, test_csv_header);
  tcase_add_test(tc, test_csv_missing_and_lengths);
  tcase_add_test(tc, test_add_api);
  tcase_add_test(tc, test_suggestions_round_trip);
  tcase_add_test(tc, test_suggestions_bad_and_cross_file);
  suite_add_tcase(s, tc);
  return s;
}
