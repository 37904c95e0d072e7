/* SPDX-License-Identifier: MIT
 *
 * check_apply: the apply engine's configuration (defaults, lists, the
 * known-anchors file as `quarantined -n` checks it), its file names, and
 * its lifecycle on a loop: off does nothing, a bad refusal memory is moved
 * aside, closing frees every handle.  The refusal memory and the command
 * runner have suites of their own (check_refusals, check_child); the
 * guards and the guarded writes run against the simulator in
 * tests/e2e/test_apply.py.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "apply.h"
#include "cfg.h"
#include "testutil.h"

#define TENANT_HEAD                                                            \
  "[tenant contoso]\n"                                                         \
  "tenant_id = 72f988bf-86f1-41af-91ab-2d7cd011db47\n"                         \
  "client_id = 1b7f0a4e-8a0c-4d6f-9a43-6a1b2f9d3c11\n"                         \
  "client_secret_file = /etc/quarantined/contoso.secret\n"

static char *dir;

static void setup(void)
{
  dir = tu_tmpdir();
}

static void teardown(void)
{
  tu_rmtree(dir);
  free(dir);
}

static struct cfg *load(const char *text)
{
  char *path = tu_write(dir, "q.conf", text), *errors = NULL;
  struct cfg *cfg = NULL;
  int rc = cfg_load(path, &cfg, &errors);

  ck_assert_msg(rc == 0, "cfg_load: %s", errors ? errors : "?");
  free(path);
  return cfg;
}

/* check() runs apply_check_config() and returns its output (malloc'd). */
static char *check(const struct cfg_tenant *tc, int *rc)
{
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);

  ck_assert_ptr_nonnull(f);
  *rc = apply_check_config(tc, f);
  fclose(f);
  return out;
}

START_TEST(test_defaults_and_lists)
{
  struct cfg *cfg = load(TENANT_HEAD);
  const struct cfg_tenant *tc = cfg->tenants;

  ck_assert_int_eq(tc->apply_mode, CFG_APPLY_OFF);
  ck_assert_uint_eq(tc->anchor_length, 16);
  ck_assert_uint_eq(tc->apply_max_per_cycle, 5);
  ck_assert_uint_eq(tc->apply_threshold, 20);
  ck_assert_int_eq(tc->apply_takeover_unreadable, CFG_TAKEOVER_REFUSE);
  ck_assert_uint_eq(tc->post_apply_timeout, 300);
  ck_assert_ptr_null(tc->anchors_file);
  ck_assert_ptr_null(tc->apply_kill_switch);
  ck_assert_ptr_null(tc->apply_allow_domains);
  cfg_free(cfg);

  cfg = load(TENANT_HEAD
             "apply_mode = apply\n"
             "anchors_file = anchors.csv\n"
             "apply_allow_domains = Contoso.COM,  sales.contoso.com\n"
             "apply_allow_groups = 3F1C2D4E-5A6B-4C7D-8E9F-0A1B2C3D4E5F\n"
             "apply_kill_switch = stop\n"
             "apply_takeover_unreadable = allow\n");
  tc = cfg->tenants;
  ck_assert_int_eq(tc->apply_mode, CFG_APPLY_APPLY);
  ck_assert_str_eq(tc->apply_allow_domains, "contoso.com sales.contoso.com");
  ck_assert_str_eq(tc->apply_allow_groups,
                   "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f");
  ck_assert_int_eq(tc->apply_takeover_unreadable, CFG_TAKEOVER_ALLOW);
  /* Relative paths are taken from the configuration's directory. */
  ck_assert_str_eq(tc->anchors_file + strlen(dir), "/anchors.csv");
  ck_assert_str_eq(tc->apply_kill_switch + strlen(dir), "/stop");
  cfg_free(cfg);
}
END_TEST

START_TEST(test_check_config)
{
  struct cfg *cfg;
  char *csv, *out, *want;
  int rc;

  csv = tu_write(dir, "anchors.csv",
                 "target,anchor,reference\n"
                 "john@contoso.com,yYuRNW0Z6kCXeYidebdT8A==,CHG-1\n"
                 "mary@contoso.com,c2hvcnQ=,CHG-2\n");
  /* Off: the file is not looked at. */
  cfg = load(TENANT_HEAD "anchors_file = anchors.csv\n");
  out = check(cfg->tenants, &rc);
  ck_assert_int_eq(rc, 0);
  ck_assert_str_eq(out, "");
  free(out);
  cfg_free(cfg);

  cfg = load(TENANT_HEAD "apply_mode = dry-run\nanchors_file = anchors.csv\n");
  out = check(cfg->tenants, &rc);
  ck_assert_int_eq(rc, -EBADMSG);
  ck_assert_int_ne(asprintf(&want,
                            "%s:3: anchor 'c2hvcnQ=': decodes to 5 "
                            "bytes, 16 required\n",
                            csv),
                   -1);
  ck_assert_str_eq(out, want);
  free(want);
  free(out);
  cfg_free(cfg);

  /* anchor_length = 0 accepts any length. */
  cfg = load(TENANT_HEAD "apply_mode = apply\nanchors_file = anchors.csv\n"
                         "anchor_length = 0\n");
  out = check(cfg->tenants, &rc);
  ck_assert_int_eq(rc, 0);
  free(out);
  cfg_free(cfg);

  cfg = load(TENANT_HEAD "apply_mode = apply\nanchors_file = missing.csv\n");
  out = check(cfg->tenants, &rc);
  ck_assert_int_eq(rc, -ENOENT);
  ck_assert_ptr_nonnull(strstr(out, "missing.csv: "));
  free(out);
  cfg_free(cfg);
  free(csv);
}
END_TEST

static void on_closed(void *arg)
{
  ++*(int *)arg;
}

START_TEST(test_lifecycle)
{
  struct cfg *cfg = load(TENANT_HEAD);
  struct apply *a = NULL;
  char *bad = tu_write(dir, "contoso.apply.json", "{not json"), *aside;
  struct stat st;
  uv_loop_t loop;
  int closed = 0;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  /* Mode off: apply_cycle() touches neither Graph (NULL here) nor files. */
  ck_assert_int_eq(apply_new(&loop, NULL, NULL, cfg->tenants, dir, &a), 0);
  apply_cycle(a);
  ck_assert_int_eq(asprintf(&aside, "%s.bad", bad) > 0, 1);
  ck_assert_int_eq(stat(aside, &st), 0); /* the bad memory, moved aside */
  ck_assert_int_eq(stat(bad, &st), -1);
  apply_close(a, on_closed, &closed);
  ck_assert_int_eq(closed, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  free(aside);
  free(bad);
  cfg_free(cfg);
}
END_TEST

Suite *apply_suite(void)
{
  Suite *s = suite_create("apply");
  TCase *tc = tcase_create("config");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_defaults_and_lists);
  tcase_add_test(tc, test_check_config);
  tcase_add_test(tc, test_lifecycle);
  suite_add_tcase(s, tc);
  return s;
}
