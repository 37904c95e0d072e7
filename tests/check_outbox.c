/* SPDX-License-Identifier: MIT
 *
 * check_outbox: alerts held back until the state is saved.  Nothing
 * reaches the alert file before outbox_flush(); each alert shows its
 * conflict as it was when queued, even if the conflict changed or was
 * freed since; the order is kept.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "outbox.h"
#include "testutil.h"

#define NOW ((time_t)1700000000)

static char *dir, *path;
static uv_loop_t loop;

static void setup(void)
{
  dir = tu_tmpdir();
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_ne(asprintf(&path, "%s/alerts.jsonl", dir), -1);
}

static void teardown(void)
{
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  tu_rmtree(dir);
  free(dir);
  free(path);
}

/* lines() parses each line of the alert file (none: 0 lines) into v. */
static int lines(cJSON **v, int max)
{
  char *text = tu_slurp(path), *line, *save = NULL;
  int n = 0;

  if(!text)
    return 0;
  for(line = strtok_r(text, "\n", &save); line;
      line = strtok_r(NULL, "\n", &save)) {
    ck_assert_int_lt(n, max);
    v[n] = cJSON_Parse(line);
    ck_assert_msg(cJSON_IsObject(v[n]), "not a JSON object: %s", line);
    n++;
  }
  free(text);
  return n;
}

/* open_alert() opens a JSON lines file sink on the test's loop. */
static struct alert *open_alert(void)
{
  struct alert_opts opts;
  struct alert *a;

  memset(&opts, 0, sizeof(opts));
  opts.jsonl_path = path;
  opts.spool_dir = dir;
  ck_assert_int_eq(alert_open(&loop, &opts, &a), 0);
  return a;
}

/* deliver() runs the loop until a's spools are empty. */
static void deliver(struct alert *a)
{
  while(alert_pending_count(a))
    uv_run(&loop, UV_RUN_ONCE);
}

/* close_alert() closes a and runs the loop until it is closed. */
static void close_alert(struct alert *a)
{
  alert_close(a, NULL, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
}

static const char *member(const cJSON *o, const char *name)
{
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

START_TEST(test_held_until_flushed_as_they_were)
{
  struct classify_opts copts = {0};
  struct alert_sweep sw = {0};
  struct outbox ob;
  struct alert *a;
  struct conflict *c =
      conflict_new("contoso", "u1", CONFLICT_USER, CONFLICT_UPN, "j@c.com");
  struct conflict *gone =
      conflict_new("contoso", "g1", CONFLICT_GROUP, CONFLICT_PROXY, "s@c.com");
  cJSON *l[8];
  int n, i;

  ck_assert_ptr_nonnull(c);
  ck_assert_ptr_nonnull(gone);
  a = open_alert();
  outbox_init(&ob, a, "contoso", &copts);

  c->display_name = strdup("John");
  outbox_add(&ob, ALERT_CONFLICT_DETECTED, c, NULL, NOW);
  /* The sweep frees it in the same cycle: the detected alert must still
   * say active, the freed one freed. */
  c->state = CONFLICT_FREED;
  c->freed_at = NOW;
  c->release_by = NOW + 3600;
  outbox_add(&ob, ALERT_CONFLICT_FREED, c, NULL, NOW);
  /* A conflict of the old inventory, freed before the flush. */
  sw.released_at = NOW;
  sw.time_to_release = 42;
  outbox_add(&ob, ALERT_CONFLICT_RELEASED, gone, &sw, NOW);
  conflict_free(gone);
  free(c->display_name);
  c->display_name = strdup("Changed later");

  ck_assert_int_eq(lines(l, 8), 0); /* nothing before the state is saved */
  ck_assert_uint_eq(alert_pending_count(a), 0);
  outbox_flush(&ob);
  deliver(a);
  n = lines(l, 8);
  ck_assert_int_eq(n, 3);
  ck_assert_str_eq(member(l[0], "event"), "conflict.detected");
  ck_assert_str_eq(member(l[0], "state"), "active");
  ck_assert_str_eq(member(l[0], "displayName"), "John");
  ck_assert_str_eq(member(l[1], "event"), "conflict.freed");
  ck_assert_str_eq(member(l[1], "state"), "freed");
  ck_assert_str_eq(member(l[1], "freedAt"), "2023-11-14T22:13:20Z");
  ck_assert_str_eq(member(l[2], "event"), "conflict.released");
  ck_assert_str_eq(member(l[2], "objectId"), "g1");
  ck_assert_int_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
                       l[2], "timeToReleaseSeconds")),
                   42);
  for(i = 0; i < n; i++)
    cJSON_Delete(l[i]);

  /* Flushed means empty: a second flush sends nothing again. */
  outbox_flush(&ob);
  deliver(a);
  ck_assert_int_eq(lines(l, 8), 3);
  for(i = 0; i < 3; i++)
    cJSON_Delete(l[i]);
  outbox_clear(&ob);
  conflict_free(c);
  close_alert(a);
}
END_TEST

START_TEST(test_clear_drops_what_is_queued)
{
  struct classify_opts copts = {0};
  struct outbox ob;
  struct alert *a;
  struct conflict *c =
      conflict_new("contoso", "u1", CONFLICT_USER, CONFLICT_UPN, "j@c.com");
  cJSON *l[1];
  int i;

  a = open_alert();
  outbox_init(&ob, a, "contoso", &copts);
  for(i = 0; i < 100; i++) /* past the first allocation */
    outbox_add(&ob, ALERT_CONFLICT_AGING, c, NULL, NOW);
  outbox_clear(&ob);
  ck_assert_int_eq(lines(l, 1), 0);
  conflict_free(c);
  close_alert(a);
}
END_TEST

Suite *outbox_suite(void)
{
  Suite *s = suite_create("outbox");
  TCase *tc = tcase_create("outbox");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_held_until_flushed_as_they_were);
  tcase_add_test(tc, test_clear_drops_what_is_queued);
  suite_add_tcase(s, tc);
  return s;
}
