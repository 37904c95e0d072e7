/* SPDX-License-Identifier: MIT
 *
 * check_selfalert: the cause a failed cycle is reduced to (the code of
 * tenant.failing): an AADSTS code wins, then the HTTP status, then the
 * transport error; and each self-alert once per episode, read back from
 * a JSON lines file sink.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alert.h"
#include "graph.h"
#include "selfalert.h"
#include "testutil.h"

#define NOW ((time_t)1700000000)

static void cause_of(int result, const struct graph_error *err,
                     const char *want_code)
{
  char code[32], cause[700];

  selfalert_cause(result, "token", err, code, sizeof(code), cause,
                  sizeof(cause));
  ck_assert_str_eq(code, want_code);
  ck_assert_ptr_nonnull(strstr(cause, "token: "));
}

START_TEST(test_cause)
{
  struct graph_error e;

  memset(&e, 0, sizeof(e));
  e.status = 401;
  strcpy(e.code, "invalid_client AADSTS7000222");
  strcpy(e.message, "The provided client secret keys are expired.");
  cause_of(-EACCES, &e, "AADSTS7000222");
  memset(&e, 0, sizeof(e));
  e.status = 503;
  cause_of(-EAGAIN, &e, "HTTP 503");
  memset(&e, 0, sizeof(e));
  strcpy(e.code, "TLS or protocol error");
  cause_of(-EPROTO, &e, "TLS");
  cause_of(-EMFILE, NULL, "EMFILE");
  cause_of(-ETIMEDOUT, NULL, "ETIMEDOUT");
}
END_TEST

/* episode() runs fn against a JSON lines file sink and returns the
 * events written, in order, as "a b c" (at most len bytes). */
static void episode(void (*fn)(struct selfalert *h), char *out, size_t len)
{
  struct alert_opts opts;
  struct selfalert h;
  struct alert *a;
  uv_loop_t loop;
  char *dir = tu_tmpdir(), *path, *text, *line, *save = NULL;

  ck_assert_int_ne(asprintf(&path, "%s/alerts.jsonl", dir), -1);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  memset(&opts, 0, sizeof(opts));
  opts.jsonl_path = path;
  opts.spool_dir = dir;
  ck_assert_int_eq(alert_open(&loop, &opts, &a), 0);
  selfalert_init(&h, "contoso", a, 3, 0);
  fn(&h);
  while(alert_pending_count(a))
    uv_run(&loop, UV_RUN_ONCE);
  alert_close(a, NULL, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  out[0] = '\0';
  text = tu_slurp(path);
  for(line = text ? strtok_r(text, "\n", &save) : NULL; line;
      line = strtok_r(NULL, "\n", &save)) {
    cJSON *o = cJSON_Parse(line);
    const char *ev =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "event"));

    ck_assert_ptr_nonnull(ev);
    snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? " " : "",
             ev);
    if(!strcmp(ev, "credential.expiring"))
      ck_assert_str_eq(
          cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "expires")),
          "2023-11-24T22:13:20Z");
    cJSON_Delete(o);
  }
  free(text);
  tu_rmtree(dir);
  free(dir);
  free(path);
}

static void fail_and_recover(struct selfalert *h)
{
  int i, round;

  for(round = 0; round < 2; round++) {
    for(i = 0; i < 5; i++) /* failing once, at the third */
      selfalert_failed(h, -ETIMEDOUT, "users", NULL, NOW + i);
    selfalert_ok(h, NOW + 10);
    selfalert_ok(h, NOW + 20); /* recovered once */
  }
  selfalert_failed(h, -ETIMEDOUT, "users", NULL, NOW + 30); /* under 3 */
  selfalert_ok(h, NOW + 40);
}

static void expiring(struct selfalert *h)
{
  selfalert_certificate(h, "/etc/c.pem", NOW + 40 * 86400, NOW); /* not yet */
  selfalert_certificate(h, "/etc/c.pem", 0, NOW);                /* secret */
  selfalert_certificate(h, "/etc/c.pem", NOW + 10 * 86400, NOW);
  selfalert_certificate(h, "/etc/c.pem", NOW + 10 * 86400, NOW + 3600);
}

START_TEST(test_once_per_episode)
{
  char got[512];

  episode(fail_and_recover, got, sizeof(got));
  ck_assert_str_eq(got, "tenant.failing tenant.recovered tenant.failing "
                        "tenant.recovered");
  episode(expiring, got, sizeof(got));
  ck_assert_str_eq(got, "credential.expiring");
}
END_TEST

Suite *selfalert_suite(void)
{
  Suite *s = suite_create("selfalert");
  TCase *tc = tcase_create("cause");

  tcase_add_test(tc, test_cause);
  tcase_add_test(tc, test_once_per_episode);
  suite_add_tcase(s, tc);
  return s;
}
