/* SPDX-License-Identifier: MIT
 *
 * check_outbox: alerts held back until the state is saved.  Nothing
 * reaches the alert file before outbox_release(), and then only from the
 * loop; each alert shows its conflict as it was when queued, even if the
 * conflict changed or was freed since; the order is kept; closing sends
 * what was released; flood control counts each tenant's release.
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

/* open_alert() opens a JSON lines file sink on the test's loop, with
 * flood_limit limit. */
static struct alert *open_alert(unsigned limit)
{
  struct alert_opts opts;
  struct alert *a;

  memset(&opts, 0, sizeof(opts));
  opts.jsonl_path = path;
  opts.flood_limit = limit;
  opts.spool_dir = dir;
  ck_assert_int_eq(alert_open(&loop, &opts, &a), 0);
  return a;
}

/* deliver() runs the loop until ob has sent what was released and a's
 * spools are empty. */
static void deliver(struct outbox *ob, struct alert *a)
{
  while(outbox_pending(ob) || alert_pending_count(a))
    uv_run(&loop, UV_RUN_ONCE);
}

/* close_outbox() closes ob and runs the loop until it is closed. */
static void close_outbox(struct outbox *ob)
{
  outbox_close(ob, NULL, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
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
  a = open_alert(0);
  outbox_init(&ob, &loop, a, "contoso", &copts);

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
  outbox_release(&ob, false);
  /* A few alerts go out from inside outbox_release(), before the cycle's
   * log line; only a large batch waits for the loop (see below). */
  ck_assert_uint_eq(outbox_pending(&ob), 0);
  deliver(&ob, a);
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

  /* Sent means gone: a second release sends nothing again. */
  outbox_release(&ob, false);
  deliver(&ob, a);
  ck_assert_int_eq(lines(l, 8), 3);
  for(i = 0; i < 3; i++)
    cJSON_Delete(l[i]);
  close_outbox(&ob);
  conflict_free(c);
  close_alert(a);
}
END_TEST

/* Closing sends what a saved state released, at once, and drops what is
 * still waiting for its state. */
START_TEST(test_close_sends_released_drops_waiting)
{
  struct classify_opts copts = {0};
  struct outbox ob;
  struct alert *a;
  struct conflict *c =
      conflict_new("contoso", "u1", CONFLICT_USER, CONFLICT_UPN, "j@c.com");
  cJSON *l[200];
  int i, n;

  a = open_alert(0);
  outbox_init(&ob, &loop, a, "contoso", &copts);
  for(i = 0; i < 100; i++) /* past the first allocation */
    outbox_add(&ob, ALERT_CONFLICT_AGING, c, NULL, NOW);
  outbox_release(&ob, false);
  /* 100 is a large batch: sent by the loop, a slice at a time. */
  ck_assert_uint_eq(outbox_pending(&ob), 100);
  outbox_add(&ob, ALERT_CONFLICT_HELD, c, NULL, NOW); /* not saved yet */
  close_outbox(&ob);
  close_alert(a);
  n = lines(l, 200);
  ck_assert_int_eq(n, 100);
  for(i = 0; i < n; i++) {
    ck_assert_str_eq(member(l[i], "event"), "conflict.aging");
    cJSON_Delete(l[i]);
  }
  conflict_free(c);
}
END_TEST

/* Flood control counts each release of a cycle apart, per tenant, even
 * when two tenants' alerts are being sent at once. */
START_TEST(test_flood_per_release)
{
  struct classify_opts copts = {0};
  struct outbox ob1, ob2;
  struct alert *a;
  struct conflict *c =
      conflict_new("contoso", "u1", CONFLICT_USER, CONFLICT_UPN, "j@c.com");
  cJSON *l[16];
  int i, n, floods = 0;

  a = open_alert(2);
  outbox_init(&ob1, &loop, a, "contoso", &copts);
  outbox_init(&ob2, &loop, a, "fabrikam", &copts);
  for(i = 0; i < 3; i++) {
    outbox_add(&ob1, ALERT_CONFLICT_DETECTED, c, NULL, NOW);
    outbox_add(&ob2, ALERT_CONFLICT_DETECTED, c, NULL, NOW);
  }
  outbox_release(&ob1, true);
  outbox_release(&ob2, true);
  while(outbox_pending(&ob1) || outbox_pending(&ob2) || alert_pending_count(a))
    uv_run(&loop, UV_RUN_ONCE);
  n = lines(l, 16);
  /* Every alert reaches the file sink; one summary per tenant. */
  ck_assert_int_eq(n, 8);
  for(i = 0; i < n; i++) {
    if(!strcmp(member(l[i], "event"), "alert.flood")) {
      floods++;
      ck_assert_int_eq(
          cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(l[i], "count")),
          1);
    }
    cJSON_Delete(l[i]);
  }
  ck_assert_int_eq(floods, 2);
  close_outbox(&ob1);
  close_outbox(&ob2);
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
  tcase_add_test(tc, test_close_sends_released_drops_waiting);
  tcase_add_test(tc, test_flood_per_release);
  suite_add_tcase(s, tc);
  return s;
}
