/* SPDX-License-Identifier: MIT
 *
 * check_lifecycle: runs the real quarantined binary with a fake service
 * manager and checks what systemd and an admin would see: READY/STATUS,
 * watchdog pings, SIGHUP with a good and a bad file, a clean SIGTERM.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

/* Port 1 on loopback refuses connections: cycles fail quickly and the
 * daemon must keep running; nothing ever leaves the machine. */
#define TENANT(name)                                                           \
  "[tenant " name "]\n"                                                        \
  "tenant_id = 11111111-2222-3333-4444-555555555555\n"                         \
  "client_id = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"                         \
  "client_secret_file = s.secret\n"                                            \
  "login_url = http://127.0.0.1:1\n"                                           \
  "graph_url = http://127.0.0.1:1\n"

static char *dir;
static struct tu_daemon d;

static void setup(void)
{
  char *secret;

  dir = tu_tmpdir();
  secret = tu_write(dir, "s.secret", "not-a-real-secret\n");
  ck_assert_int_eq(chmod(secret, 0600), 0);
  free(secret);
}

static void teardown(void)
{
  if(d.pid > 0 && kill(d.pid, 0) == 0) {
    kill(d.pid, SIGKILL);
    tu_daemon_wait(&d, 5000);
  }
  tu_rmtree(dir);
  free(dir);
}

/* conf() writes a config whose state_dir is inside the test directory. */
static char *conf(const char *name, const char *tenants)
{
  char *text, *path;

  ck_assert_int_ne(asprintf(&text,
                            "[daemon]\nstate_dir = %s/state\n"
                            "log_level = info\n\n%s",
                            dir, tenants),
                   -1);
  path = tu_write(dir, name, text);
  free(text);
  return path;
}

START_TEST(test_start_ready_stop)
{
  char *path = conf("q.conf", TENANT("a"));
  char *log;

  tu_daemon_start(&d, dir, path, 0);
  ck_assert_msg(tu_notify_wait(&d, "READY=1", 5000), "no READY=1; got:\n%s",
                d.msgs);
  ck_assert_int_eq(tu_notify_count(&d, "STATUS=monitoring 1 tenant:*"), 1);
  ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
  ck_assert(tu_notify_wait(&d, "STOPPING=1", 5000));
  ck_assert_int_eq(tu_daemon_wait(&d, 5000), 0);
  log = tu_slurp(d.log_path);
  ck_assert_ptr_nonnull(strstr(log, "received SIGTERM, stopping"));
  ck_assert_ptr_nonnull(strstr(log, "stopped cleanly"));
  ck_assert_ptr_null(strstr(log, "stray"));
  free(log);
  free(path);
}
END_TEST

START_TEST(test_sigint)
{
  char *path = conf("q.conf", TENANT("a"));

  tu_daemon_start(&d, dir, path, 0);
  ck_assert(tu_notify_wait(&d, "READY=1", 5000));
  kill(d.pid, SIGINT);
  ck_assert_int_eq(tu_daemon_wait(&d, 5000), 0);
  ck_assert(tu_log_wait(&d, "stopped cleanly", 100));
  free(path);
}
END_TEST

START_TEST(test_watchdog)
{
  char *path = conf("q.conf", TENANT("a"));

  /* 200 ms asked for: pings come every 100 ms. */
  tu_daemon_start(&d, dir, path, 200000);
  ck_assert(tu_notify_wait(&d, "READY=1", 5000));
  tu_notify_wait_n(&d, "WATCHDOG=1", 3, 5000);
  ck_assert_msg(tu_notify_count(&d, "WATCHDOG=1") >= 3,
                "expected >= 3 watchdog pings, got %d",
                tu_notify_count(&d, "WATCHDOG=1"));
  kill(d.pid, SIGTERM);
  ck_assert_int_eq(tu_daemon_wait(&d, 5000), 0);
  free(path);
}
END_TEST

START_TEST(test_reload_good)
{
  char *path = conf("q.conf", TENANT("a"));

  tu_daemon_start(&d, dir, path, 0);
  ck_assert(tu_notify_wait(&d, "READY=1", 5000));
  free(conf("q.conf", TENANT("a") TENANT("b")));
  kill(d.pid, SIGHUP);
  ck_assert(tu_notify_wait(&d, "RELOADING=1", 5000));
  ck_assert_msg(tu_notify_wait(&d, "STATUS=monitoring 2 tenants:*", 5000),
                "got:\n%s", d.msgs);
  ck_assert(tu_log_wait(&d, "configuration reloaded (2 tenants)", 2000));
  kill(d.pid, SIGTERM);
  ck_assert_int_eq(tu_daemon_wait(&d, 5000), 0);
  free(path);
}
END_TEST

START_TEST(test_reload_bad_keeps_running)
{
  char *path = conf("q.conf", TENANT("a"));
  char *log;

  tu_daemon_start(&d, dir, path, 0);
  ck_assert(tu_notify_wait(&d, "READY=1", 5000));
  free(tu_write(dir, "q.conf", "[daemon]\nlog_level = chatty\n" TENANT("a")));
  kill(d.pid, SIGHUP);
  ck_assert(tu_log_wait(&d, "keeping the running configuration", 5000));
  log = tu_slurp(d.log_path);
  ck_assert_ptr_nonnull(strstr(log, "q.conf:2: log_level: 'chatty'"));
  free(log);
  /* Still alive, still monitoring the old single tenant. */
  ck_assert_int_eq(kill(d.pid, 0), 0);
  ck_assert(tu_notify_wait_n(&d, "READY=1", 2, 5000));
  ck_assert_int_eq(tu_notify_count(&d, "STATUS=monitoring 2 tenants:*"), 0);
  ck_assert_int_eq(tu_notify_count(&d, "STATUS=monitoring 1 tenant:*"), 2);
  kill(d.pid, SIGTERM);
  ck_assert_int_eq(tu_daemon_wait(&d, 5000), 0);
  free(path);
}
END_TEST

START_TEST(test_bad_config_at_start)
{
  char *path = tu_write(dir, "bad.conf", "[daemon]\nfrobnicate = yes\n");
  char *log;

  tu_daemon_start(&d, dir, path, 0);
  ck_assert_int_eq(tu_daemon_wait(&d, 5000), 1);
  ck_assert_int_eq(tu_notify_count(&d, "READY=1"), 0);
  log = tu_slurp(d.log_path);
  ck_assert_ptr_nonnull(strstr(log, "bad.conf:2: unknown key 'frobnicate'"));
  /* The fatal line has a real level name. */
  ck_assert_ptr_nonnull(strstr(log, ": critical: configuration "));
  ck_assert_ptr_null(strstr(log, "unknown:"));
  free(log);
  free(path);
}
END_TEST

START_TEST(test_unusable_state_dir)
{
  char *text, *path;

  free(tu_write(dir, "file", "x"));
  ck_assert_int_ne(
      asprintf(&text, "[daemon]\nstate_dir = %s/file\n%s", dir, TENANT("a")),
      -1);
  path = tu_write(dir, "q.conf", text);
  tu_daemon_start(&d, dir, path, 0);
  ck_assert_int_eq(tu_daemon_wait(&d, 5000), 1);
  ck_assert(tu_log_wait(&d, "is not a directory", 100));
  free(text);
  free(path);
}
END_TEST

/* -F: human lines on stderr at the configured level, for wrappers and
 * containers; -d would add debug lines (the token request) before the
 * token warning waited for here. */
START_TEST(test_foreground)
{
  char *path = conf("q.conf", TENANT("a"));
  char *log;

  tu_daemon_start_opt(&d, dir, path, 0, "-F");
  ck_assert(tu_notify_wait(&d, "READY=1", 5000));
  ck_assert(tu_log_wait(&d, "warning: token: tenant a:", 10000));
  kill(d.pid, SIGTERM);
  ck_assert_int_eq(tu_daemon_wait(&d, 5000), 0);
  log = tu_slurp(d.log_path);
  ck_assert_ptr_nonnull(
      strstr(log, "]: info: quarantined " QD_VERSION " started"));
  ck_assert_msg(strstr(log, ": debug: ") == NULL, "debug lines with -F:\n%s",
                log);
  free(log);
  free(path);
}
END_TEST

Suite *lifecycle_suite(void)
{
  Suite *s = suite_create("lifecycle");
  TCase *tc = tcase_create("daemon");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60 * tu_timeout_scale());
  tcase_add_test(tc, test_start_ready_stop);
  tcase_add_test(tc, test_sigint);
  tcase_add_test(tc, test_foreground);
  tcase_add_test(tc, test_watchdog);
  tcase_add_test(tc, test_reload_good);
  tcase_add_test(tc, test_reload_bad_keeps_running);
  tcase_add_test(tc, test_bad_config_at_start);
  tcase_add_test(tc, test_unusable_state_dir);
  suite_add_tcase(s, tc);
  return s;
}
