/* SPDX-License-Identifier: MIT
 *
 * Check suite for suggest: a cloud-account pair becomes one unapproved
 * suggestion naming the cloud-only user and the synced duplicate's
 * anchor; an admin's approval survives later updates; nothing else is
 * suggested; a file with bad lines is never rewritten.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anchors.h"
#include "suggest.h"
#include "testutil.h"
#include "tfiles.h"

#define NOW ((time_t)1700000000)
#define ANCHOR "yYuRNW0Z6kCXeYidebdT8A=="
#define CLOUD_ID "0c1d2e3f-0000-4000-8000-0000000000aa"

static const struct classify_opts opts = {7 * 86400};

/* pair() adds to s a synced user quarantined on value, paired (complete
 * lookup) with one holder of the given sync state. */
static void pair(struct conflict_set *s, const char *id, const char *value,
                 const char *anchor, const char *holder_id,
                 enum conflict_tristate holder_sync)
{
  struct conflict *c =
      conflict_new("contoso", id, CONFLICT_USER, CONFLICT_UPN, value);
  struct conflict_holder h;
  struct classify_result cr;

  ck_assert_ptr_nonnull(c);
  c->upn = strdup("john1234@contoso.onmicrosoft.com");
  c->display_name = strdup("John Smith (on-premises)");
  c->sync_enabled = CONFLICT_TRI_TRUE;
  c->immutable_id = anchor ? strdup(anchor) : NULL;
  c->last_sync = NOW - 60;
  c->looked_up = NOW;
  memset(&h, 0, sizeof(h));
  h.id = (char *)(uintptr_t)holder_id;
  h.type = CONFLICT_USER;
  h.upn = (char *)(uintptr_t)value;
  h.display_name = (char *)(uintptr_t) "John Smith (cloud)";
  h.sync_enabled = holder_sync;
  h.last_sync = holder_sync == CONFLICT_TRI_TRUE ? NOW - 60 : 0;
  ck_assert_int_eq(conflict_replace_holders(c, &h, 1), 0);
  /* As the tenant does before suggest_update(). */
  classify_conflict(c, &opts, NOW, &cr);
  c->cls = cr.cls;
  ck_assert_int_eq(conflict_set_add(s, c), 0);
}

/* count() is the number of times needle occurs in text. */
static int count(const char *text, const char *needle)
{
  int n = 0;

  while((text = strstr(text, needle))) {
    n++;
    text += strlen(needle);
  }
  return n;
}

static void read_file(const char *path, struct anchors_suggestions *l)
{
  memset(l, 0, sizeof(*l));
  ck_assert_int_eq(anchors_suggestions_read(path, l, NULL, NULL), 0);
}

START_TEST(test_cloud_account_pair_is_suggested_once)
{
  char *dir = tu_tmpdir(),
       *path = tfiles_path(dir, "contoso", TFILES_SUGGESTIONS);
  struct conflict_set *s = conflict_set_new("contoso");
  struct anchors_suggestions l;

  pair(s, "q-1", "john@contoso.com", ANCHOR, CLOUD_ID, CONFLICT_TRI_UNKNOWN);
  /* Two synced objects: fixed on-premises, nothing to suggest. */
  pair(s, "q-2", "ann@contoso.com",
       "AAAAAAAAAAAAAAAAAAAAAA==", "0c1d2e3f-0000-4000-8000-0000000000bb",
       CONFLICT_TRI_TRUE);
  /* An anchor the apply engine would refuse is not suggested either. */
  pair(s, "q-3", "bob@contoso.com", "abc$",
       "0c1d2e3f-0000-4000-8000-0000000000cc", CONFLICT_TRI_UNKNOWN);

  ck_assert_int_eq(suggest_update(NULL, path, s, &opts, 16, NOW), 1);
  read_file(path, &l);
  ck_assert_uint_eq(l.n, 1);
  ck_assert_int_eq(l.v[0].approved, 0);
  ck_assert_str_eq(l.v[0].target, CLOUD_ID);
  ck_assert_str_eq(l.v[0].anchor, ANCHOR);
  ck_assert_str_eq(l.v[0].conflict, "q-1");
  ck_assert_str_eq(l.v[0].value, "john@contoso.com");
  ck_assert_str_eq(l.v[0].reference, "conflict:q-1:userPrincipalName");
  ck_assert_ptr_nonnull(strstr(l.v[0].reason, "same person"));

  /* The admin approves; the next cycles add nothing and keep it. */
  ck_assert_int_eq(anchors_suggestions_approve(&l, CLOUD_ID, NULL), 0);
  {
    const char *what;

    ck_assert_int_eq(anchors_suggestions_write(path, &l, &what), 0);
  }
  anchors_suggestions_clear(&l);
  ck_assert_int_eq(suggest_update(NULL, path, s, &opts, 16, NOW + 300), 0);
  read_file(path, &l);
  ck_assert_uint_eq(l.n, 1);
  ck_assert_int_eq(l.v[0].approved, 1);
  anchors_suggestions_clear(&l);

  conflict_set_free(s);
  free(path);
  tu_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(test_no_candidate_no_file)
{
  char *dir = tu_tmpdir(),
       *path = tfiles_path(dir, "contoso", TFILES_SUGGESTIONS), *lock;
  struct conflict_set *s = conflict_set_new("contoso");

  pair(s, "q-2", "ann@contoso.com", ANCHOR,
       "0c1d2e3f-0000-4000-8000-0000000000bb", CONFLICT_TRI_TRUE);
  ck_assert_int_eq(suggest_update(NULL, path, s, &opts, 16, NOW), 0);
  ck_assert_int_eq(access(path, F_OK), -1);
  ck_assert_int_eq(asprintf(&lock, "%s.lock", path) > 0, 1);
  ck_assert_int_eq(access(lock, F_OK), -1);
  free(lock);
  conflict_set_free(s);
  free(path);
  tu_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(test_bad_file_is_left_alone)
{
  static const char bad[] = ANCHORS_SUGGESTIONS_HEADER "\n"
                                                       "maybe,x,y\n";
  char *dir = tu_tmpdir(), *path, *after;
  struct conflict_set *s = conflict_set_new("contoso");

  path = tu_write(dir, "contoso.suggestions.csv", bad);
  pair(s, "q-1", "john@contoso.com", ANCHOR, CLOUD_ID, CONFLICT_TRI_UNKNOWN);
  ck_assert_int_eq(suggest_update(NULL, path, s, &opts, 16, NOW), -EBADMSG);
  after = tu_slurp(path);
  ck_assert_str_eq(after, bad);
  free(after);
  conflict_set_free(s);
  free(path);
  tu_rmtree(dir);
  free(dir);
}
END_TEST

/* The daemon's way: a slice at a time, the file written by libuv's
 * requests with the lock held until it is in place, and a held lock never
 * waited for. */
START_TEST(test_sliced_off_the_loop)
{
  char *dir = tu_tmpdir(),
       *path = tfiles_path(dir, "contoso", TFILES_SUGGESTIONS);
  struct conflict_set *s = conflict_set_new("contoso");
  struct anchors_suggestions l;
  struct suggest_run *r, *r2;
  uv_loop_t loop;
  int i, steps = 0, added = -1, lock, saved_stderr;
  char *log_path = NULL, *logged;

  for(i = 0; i < 200; i++) {
    char id[32], value[64], cloud[64];

    snprintf(id, sizeof(id), "q-%d", i);
    snprintf(value, sizeof(value), "user%d@contoso.com", i);
    snprintf(cloud, sizeof(cloud), "0c1d2e3f-0000-4000-8000-%012d", i);
    pair(s, id, value, ANCHOR, cloud, CONFLICT_TRI_UNKNOWN);
  }
  /* A second conflict of the same pair is suggested once. */
  pair(s, "q-dup", "alias0@contoso.com", ANCHOR,
       "0c1d2e3f-0000-4000-8000-000000000000", CONFLICT_TRI_UNKNOWN);
  ck_assert_int_eq(uv_loop_init(&loop), 0);

  /* quarantinectl holds the lock: nothing now, the next cycle retries. */
  lock = anchors_suggestions_lock(path, true);
  ck_assert_int_ge(lock, 0);
  ck_assert_int_eq(suggest_begin(&loop, path, s, &opts, 16, NOW, &r), 0);
  ck_assert_ptr_null(r);
  anchors_suggestions_unlock(lock);
  ck_assert_int_eq(access(path, F_OK), -1);

  ck_assert_int_eq(suggest_begin(&loop, path, s, &opts, 16, NOW, &r), 0);
  ck_assert_ptr_nonnull(r);
  /* What the run logs goes to a file (log_init(, 1): stderr). */
  ck_assert_int_eq(asprintf(&log_path, "%s/stderr.log", dir) > 0, 1);
  saved_stderr = tu_stderr_to(log_path);
  /* A deadline already past: one conflict per step. */
  while(!suggest_step(r, 1, &added))
    steps++;
  tu_stderr_restore(saved_stderr);
  /* The first ten one by one, the other 190 in one line. */
  logged = tu_slurp(log_path);
  ck_assert_ptr_nonnull(logged);
  ck_assert_int_eq(count(logged, "suggested anchor " ANCHOR), 10);
  ck_assert_int_eq(count(logged, "190 more anchors suggested"), 1);
  ck_assert_ptr_nonnull(strstr(logged, "'quarantinectl suggestions list "));
  free(logged);
  free(log_path);
  /* 201 conflicts, one a step, then the file's 201 lines (the header and
   * 200 suggestions), 64 a step: the last step ends the run. */
  ck_assert_int_eq(steps, 201 + 3);
  ck_assert_int_eq(added, 200);
  /* The write is under way and holds the lock. */
  ck_assert_int_eq(suggest_begin(&loop, path, s, &opts, 16, NOW, &r2), 0);
  ck_assert_ptr_null(r2);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  read_file(path, &l);
  ck_assert_uint_eq(l.n, 200);
  anchors_suggestions_clear(&l);
  lock = anchors_suggestions_lock(path, false);
  ck_assert_int_ge(lock, 0);
  anchors_suggestions_unlock(lock);

  conflict_set_free(s);
  free(path);
  tu_rmtree(dir);
  free(dir);
}
END_TEST

Suite *suggest_suite(void)
{
  Suite *s = suite_create("suggest");
  TCase *tc = tcase_create("suggest");

  tcase_add_test(tc, test_cloud_account_pair_is_suggested_once);
  tcase_add_test(tc, test_no_candidate_no_file);
  tcase_add_test(tc, test_bad_file_is_left_alone);
  tcase_add_test(tc, test_sliced_off_the_loop);
  suite_add_tcase(s, tc);
  return s;
}
