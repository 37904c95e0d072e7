/* SPDX-License-Identifier: MIT
 *
 * check_outbox: alerts spooled before the state is saved and held there
 * until it is.  Nothing reaches the alert file before alert_commit() says
 * the state that numbers them is saved; each alert shows its conflict as
 * it was when queued, even if the conflict changed or was freed since; the
 * order is kept; what a closed daemon held is delivered by the next start
 * up to the number its state commits, and the rest is voided for good;
 * flood control counts each tenant's release.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* spooled() counts the releases on disk (outbox_spooled_cb). */
static void spooled(void *arg)
{
  (*(int *)arg)++;
}

/* release() releases ob and runs the loop until the spools have it. */
static void release(struct outbox *ob, bool flood)
{
  int done = 0;

  outbox_release(ob, flood, spooled, &done);
  while(!done)
    uv_run(&loop, UV_RUN_ONCE);
}

/* deliver() runs the loop until ob has sent what was released and a's
 * spools hold no more than the held alerts. */
static void deliver(struct outbox *ob, struct alert *a, size_t held)
{
  while(outbox_pending(ob) || alert_pending_count(a) > held)
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
  uint64_t seq = 0;
  int n, i;

  ck_assert_ptr_nonnull(c);
  ck_assert_ptr_nonnull(gone);
  a = open_alert(0);
  outbox_init(&ob, &loop, a, "contoso", &copts, &seq);

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

  ck_assert_int_eq(lines(l, 8), 0); /* nothing before the cycle ends */
  ck_assert_uint_eq(alert_pending_count(a), 0);
  release(&ob, false);
  /* On disk in the spool, numbered 1 to 3, held until the state that
   * records them is saved. */
  ck_assert_uint_eq(seq, 3);
  ck_assert_uint_eq(alert_pending_count(a), 3);
  for(i = 0; i < 5; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(lines(l, 8), 0);
  alert_commit(a, "contoso", 2);
  deliver(&ob, a, 1);
  ck_assert_int_eq(lines(l, 8), 2);
  for(i = 0; i < 2; i++)
    cJSON_Delete(l[i]);
  alert_commit(a, "contoso", seq);
  deliver(&ob, a, 0);
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
  release(&ob, false);
  ck_assert_uint_eq(seq, 3);
  deliver(&ob, a, 0);
  ck_assert_int_eq(lines(l, 8), 3);
  for(i = 0; i < 3; i++)
    cJSON_Delete(l[i]);
  close_outbox(&ob);
  conflict_free(c);
  close_alert(a);
}
END_TEST

/* Closing spools what was released, held, and drops what was not.  The
 * next start delivers the held alerts up to the number its state file
 * commits (alert_recover()) and voids the rest on disk, for good: a later
 * start with a larger number (the cycle ran again and numbered new alerts
 * the same) never brings them back. */
START_TEST(test_restart_delivers_committed_voids_rest)
{
  struct classify_opts copts = {0};
  struct outbox ob;
  struct alert *a;
  struct conflict *c =
      conflict_new("contoso", "u1", CONFLICT_USER, CONFLICT_UPN, "j@c.com");
  cJSON *l[200];
  uint64_t seq = 0;
  int i, n, done = 0;

  a = open_alert(0);
  outbox_init(&ob, &loop, a, "contoso", &copts, &seq);
  for(i = 0; i < 100; i++) /* past the first allocation */
    outbox_add(&ob, ALERT_CONFLICT_AGING, c, NULL, NOW);
  outbox_release(&ob, false, spooled, &done);
  /* 100 is a large batch: sent by the loop, a slice at a time. */
  ck_assert_uint_eq(outbox_pending(&ob), 100);
  outbox_add(&ob, ALERT_CONFLICT_HELD, c, NULL, NOW); /* not released */
  close_outbox(&ob);
  close_alert(a);
  ck_assert_int_eq(done, 1);
  ck_assert_uint_eq(seq, 100);
  ck_assert_int_eq(lines(l, 200), 0); /* the state never said so */

  /* The state file that was saved commits the first 60. */
  a = open_alert(0);
  ck_assert_int_eq(alert_recover(a, "contoso", 60), 0);
  while(alert_pending_count(a))
    uv_run(&loop, UV_RUN_ONCE);
  close_alert(a);
  n = lines(l, 200);
  ck_assert_int_eq(n, 60);
  for(i = 0; i < n; i++) {
    ck_assert_str_eq(member(l[i], "event"), "conflict.aging");
    cJSON_Delete(l[i]);
  }

  /* 61 to 100 were voided on disk: a later state that commits those
   * numbers again brings none of them back, nor repeats the 60. */
  a = open_alert(0);
  ck_assert_int_eq(alert_recover(a, "contoso", 200), 0);
  ck_assert_uint_eq(alert_pending_count(a), 0);
  close_alert(a);
  ck_assert_int_eq(lines(l, 200), 60);
  for(i = 0; i < 60; i++)
    cJSON_Delete(l[i]);
  conflict_free(c);
}
END_TEST

/* A run killed after its file sink wrote the first records and before
 * the spool heard so: the next run does not write them again. */
START_TEST(test_file_sink_skips_what_it_wrote)
{
  struct classify_opts copts = {0};
  struct outbox ob;
  struct alert *a;
  struct conflict *c =
      conflict_new("contoso", "u1", CONFLICT_USER, CONFLICT_UPN, "j@c.com");
  char *spool_path, *text, *p;
  cJSON *l[8];
  uint64_t seq = 0;
  FILE *out;
  int i, n;

  a = open_alert(0);
  outbox_init(&ob, &loop, a, "contoso", &copts, &seq);
  outbox_add(&ob, ALERT_CONFLICT_DETECTED, c, NULL, NOW);
  outbox_add(&ob, ALERT_CONFLICT_STUCK, c, NULL, NOW);
  outbox_add(&ob, ALERT_CONFLICT_HELD, c, NULL, NOW);
  release(&ob, false);
  close_outbox(&ob);
  close_alert(a);

  /* What the killed run had written: the first two records' lines. */
  ck_assert_int_ne(asprintf(&spool_path, "%s/jsonl.spool", dir), -1);
  text = tu_slurp(spool_path);
  ck_assert_ptr_nonnull(text);
  out = fopen(path, "a");
  ck_assert_ptr_nonnull(out);
  for(p = text, i = 0; i < 2; i++) {
    char *colon = strchr(p, ':');
    size_t len = strtoul(p, NULL, 10);

    ck_assert_ptr_nonnull(colon);
    fwrite(colon + 1, 1, len, out);
    fputc('\n', out);
    p = colon + 1 + len + 1;
  }
  fclose(out);
  free(text);
  free(spool_path);

  a = open_alert(0);
  ck_assert_int_eq(alert_recover(a, "contoso", seq), 0);
  while(alert_pending_count(a))
    uv_run(&loop, UV_RUN_ONCE);
  close_alert(a);
  n = lines(l, 8);
  ck_assert_int_eq(n, 3);
  ck_assert_str_eq(member(l[0], "event"), "conflict.detected");
  ck_assert_str_eq(member(l[1], "event"), "conflict.stuck");
  ck_assert_str_eq(member(l[2], "event"), "conflict.held");
  for(i = 0; i < n; i++)
    cJSON_Delete(l[i]);
  conflict_free(c);
}
END_TEST

/* The held alerts of a tenant no longer configured go out once every
 * tenant has started: their state cannot be asked. */
START_TEST(test_unknown_tenant_delivered_after_start)
{
  struct classify_opts copts = {0};
  struct outbox ob;
  struct alert *a;
  struct conflict *c =
      conflict_new("contoso", "u1", CONFLICT_USER, CONFLICT_UPN, "j@c.com");
  cJSON *l[4];
  uint64_t seq = 7;

  a = open_alert(0);
  outbox_init(&ob, &loop, a, "gone", &copts, &seq);
  outbox_add(&ob, ALERT_CONFLICT_DETECTED, c, NULL, NOW);
  release(&ob, false);
  close_outbox(&ob);
  close_alert(a);
  ck_assert_int_eq(lines(l, 4), 0);

  a = open_alert(0);
  ck_assert_int_eq(alert_recover(a, "contoso", 0), 0);
  uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(alert_pending_count(a), 1); /* held while starting */
  alert_started(a);
  while(alert_pending_count(a))
    uv_run(&loop, UV_RUN_ONCE);
  close_alert(a);
  ck_assert_int_eq(lines(l, 4), 1);
  ck_assert_str_eq(member(l[0], "tenant"), "gone");
  cJSON_Delete(l[0]);
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
  uint64_t seq1 = 0, seq2 = 0;
  int i, n, floods = 0, done = 0;

  a = open_alert(2);
  outbox_init(&ob1, &loop, a, "contoso", &copts, &seq1);
  outbox_init(&ob2, &loop, a, "fabrikam", &copts, &seq2);
  for(i = 0; i < 3; i++) {
    outbox_add(&ob1, ALERT_CONFLICT_DETECTED, c, NULL, NOW);
    outbox_add(&ob2, ALERT_CONFLICT_DETECTED, c, NULL, NOW);
  }
  outbox_release(&ob1, true, spooled, &done);
  outbox_release(&ob2, true, spooled, &done);
  while(done < 2)
    uv_run(&loop, UV_RUN_ONCE);
  /* Three alerts and the summary each. */
  ck_assert_uint_eq(seq1, 4);
  ck_assert_uint_eq(seq2, 4);
  alert_commit(a, "contoso", seq1);
  alert_commit(a, "fabrikam", seq2);
  while(alert_pending_count(a))
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

/* A release larger than the outbox's window goes out a group at a time,
 * each once the spools have the last on disk: all of it numbered in
 * order, on disk before the state may be saved, and delivered whole and
 * in order once committed. */
START_TEST(test_large_release_in_order)
{
  enum { N = 1000 };
  struct classify_opts copts = {0};
  struct outbox ob;
  struct alert *a;
  struct conflict *c[N];
  static cJSON *l[N + 1];
  uint64_t seq = 0;
  char id[16];
  int i, n;

  a = open_alert(0);
  outbox_init(&ob, &loop, a, "contoso", &copts, &seq);
  for(i = 0; i < N; i++) {
    snprintf(id, sizeof(id), "u%d", i);
    c[i] = conflict_new("contoso", id, CONFLICT_USER, CONFLICT_UPN, "j@c.com");
    ck_assert_ptr_nonnull(c[i]);
    outbox_add(&ob, ALERT_CONFLICT_DETECTED, c[i], NULL, NOW);
  }
  release(&ob, false);
  ck_assert_uint_eq(seq, N);
  ck_assert_uint_eq(outbox_pending(&ob), 0);
  ck_assert_uint_eq(alert_pending_count(a), N);
  ck_assert_int_eq(lines(l, N + 1), 0);
  alert_commit(a, "contoso", seq);
  deliver(&ob, a, 0);
  n = lines(l, N + 1);
  ck_assert_int_eq(n, N);
  for(i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "u%d", i);
    ck_assert_str_eq(member(l[i], "objectId"), id);
    cJSON_Delete(l[i]);
    conflict_free(c[i]);
  }
  close_outbox(&ob);
  close_alert(a);
}
END_TEST

/* rewrite() replaces the first occurrence of from in the file at p with
 * to, of the same length, in place. */
static void rewrite(const char *p, const char *from, const char *to)
{
  char *text = tu_slurp(p), *at;
  FILE *f;

  ck_assert_ptr_nonnull(text);
  at = strstr(text, from);
  ck_assert_ptr_nonnull(at);
  f = fopen(p, "r+");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fseek(f, at - text, SEEK_SET), 0);
  ck_assert_uint_eq(fwrite(to, 1, strlen(to), f), strlen(to));
  ck_assert_int_eq(fclose(f), 0);
  free(text);
}

/* A held alert waits on disk, not in memory: what is delivered is read
 * back from the spool file.  When the file no longer holds it, it is
 * kept and retried, never delivered torn nor dropped. */
START_TEST(test_held_read_back_from_disk)
{
  struct classify_opts copts = {0};
  struct outbox ob;
  struct alert *a;
  struct conflict *c =
      conflict_new("contoso", "u1", CONFLICT_USER, CONFLICT_UPN, "j@c.com");
  char *spool_path;
  cJSON *l[4];
  uint64_t seq = 0;
  int i;

  ck_assert_int_ne(asprintf(&spool_path, "%s/jsonl.spool", dir), -1);
  c->display_name = strdup("John");
  a = open_alert(0);
  outbox_init(&ob, &loop, a, "contoso", &copts, &seq);
  outbox_add(&ob, ALERT_CONFLICT_DETECTED, c, NULL, NOW);
  release(&ob, false);
  rewrite(spool_path, "\"John\"", "\"Jane\"");
  alert_commit(a, "contoso", seq);
  deliver(&ob, a, 0);
  ck_assert_int_eq(lines(l, 4), 1);
  ck_assert_str_eq(member(l[0], "displayName"), "Jane");
  cJSON_Delete(l[0]);

  /* The next one's bytes are gone from the file before it is committed. */
  outbox_add(&ob, ALERT_CONFLICT_STUCK, c, NULL, NOW);
  release(&ob, false);
  ck_assert_int_eq(truncate(spool_path, 0), 0);
  alert_commit(a, "contoso", seq);
  for(i = 0; i < 10; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(alert_pending_count(a), 1);
  ck_assert_int_eq(lines(l, 4), 1);
  cJSON_Delete(l[0]);
  close_outbox(&ob);
  close_alert(a);
  conflict_free(c);
  free(spool_path);
}
END_TEST

Suite *outbox_suite(void)
{
  Suite *s = suite_create("outbox");
  TCase *tc = tcase_create("outbox");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_held_until_flushed_as_they_were);
  tcase_add_test(tc, test_restart_delivers_committed_voids_rest);
  tcase_add_test(tc, test_unknown_tenant_delivered_after_start);
  tcase_add_test(tc, test_file_sink_skips_what_it_wrote);
  tcase_add_test(tc, test_flood_per_release);
  tcase_add_test(tc, test_large_release_in_order);
  tcase_add_test(tc, test_held_read_back_from_disk);
  suite_add_tcase(s, tc);
  return s;
}
