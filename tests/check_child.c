/* SPDX-License-Identifier: MIT
 *
 * check_child: the child runner with real processes: exit status and
 * output are reported, the environment is exactly the one given, a
 * timeout kills the command's own children too (SIGTERM, then SIGKILL for
 * one that ignores it), a start that fails never calls back, and closing
 * a running child kills it and frees the runner.  Every test ends with
 * uv_loop_close() == 0.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "child.h"
#include "testutil.h"

static uv_loop_t loop;
static struct child *runner;

/* One run's outcome, copied out of the callback. */
struct got {
  int called;
  int64_t status;
  int signal;
  bool timed_out;
  char output[CHILD_OUTPUT_MAX];
  size_t output_len, dropped;
};

static struct got got;
static int closed;

static void on_done(const struct child_result *r, void *arg)
{
  struct got *g = arg;

  g->called++;
  g->status = r->status;
  g->signal = r->signal;
  g->timed_out = r->timed_out;
  ck_assert_uint_lt(r->output_len, sizeof(g->output));
  ck_assert_int_eq(r->output[r->output_len], '\0');
  memcpy(g->output, r->output, r->output_len + 1);
  g->output_len = r->output_len;
  g->dropped = r->dropped;
}

static void on_closed(void *arg)
{
  ++*(int *)arg;
}

static void setup(void)
{
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(child_new(&loop, "check_child", &runner), 0);
  memset(&got, 0, sizeof(got));
  closed = 0;
}

static void teardown(void)
{
  if(runner)
    child_close(runner, on_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* sh() runs script with /bin/sh -c and env (NULL: PATH only), and runs
 * the loop until the run has ended. */
static void sh(const char *script, char **env, uint64_t timeout_ms)
{
  char *args[] = {"/bin/sh", "-c", (char *)(uintptr_t)script, NULL};
  char *path[] = {"PATH=/usr/bin:/bin", NULL};

  ck_assert_int_eq(
      child_run(runner, args, env ? env : path, timeout_ms, on_done, &got), 0);
  ck_assert(child_running(runner));
  ck_assert_int_gt(child_pid(runner), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(got.called, 1);
  ck_assert(!child_running(runner));
}

/* gone() waits until process pid has ended (no longer there, or a zombie
 * nobody has reaped yet), up to 10 s.  Returns 1 when it has. */
static int gone(pid_t pid)
{
  struct timespec tick = {0, 10 * 1000 * 1000};
  char path[64], buf[512], *state;
  int i;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  for(i = 0; i < 1000; i++) {
    FILE *f = fopen(path, "re");
    size_t n;

    if(!f)
      return 1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    state = strrchr(buf, ')');
    if(!state || (state[1] == ' ' && state[2] == 'Z'))
      return 1;
    nanosleep(&tick, NULL);
  }
  return 0;
}

START_TEST(test_status_and_output)
{
  sh("echo hello; echo world >&2; printf 'no newline'; exit 3", NULL, 10000);
  ck_assert_int_eq(got.status, 3);
  ck_assert_int_eq(got.signal, 0);
  ck_assert(!got.timed_out);
  /* Standard error is not collected (the caller redirects it). */
  ck_assert_str_eq(got.output, "hello\nno newline");
  ck_assert_uint_eq(got.dropped, 0);

  /* The runner runs again once a run has ended. */
  memset(&got, 0, sizeof(got));
  sh("pwd; exec 2>&1; echo err >&2", NULL, 0);
  ck_assert_int_eq(got.status, 0);
  ck_assert_str_eq(got.output, "/\nerr\n");
}
END_TEST

START_TEST(test_output_cap)
{
  sh("i=0; while [ $i -lt 1000 ]; do echo 0123456789; i=$((i+1)); done", NULL,
     10000);
  ck_assert_int_eq(got.status, 0);
  ck_assert_uint_eq(got.output_len, CHILD_OUTPUT_MAX - 1);
  ck_assert_uint_eq(got.output_len + got.dropped, 11000);
  ck_assert_int_eq(strncmp(got.output, "0123456789\n0123456789\n", 22), 0);
}
END_TEST

START_TEST(test_clean_environment)
{
  char *args[] = {"/usr/bin/env", NULL};
  char *env[] = {"QD_TENANT=contoso", "QD_APPLIED=a\tb\tc\td\n", NULL};

  /* Something secret in the runner's own environment stays there. */
  ck_assert_int_eq(setenv("QD_CHECK_SECRET", "hunter2", 1), 0);
  ck_assert_int_eq(child_run(runner, args, env, 10000, on_done, &got), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(got.called, 1);
  ck_assert_int_eq(got.status, 0);
  ck_assert_str_eq(got.output, "QD_TENANT=contoso\nQD_APPLIED=a\tb\tc\td\n\n");
}
END_TEST

START_TEST(test_timeout_kills_the_group)
{
  pid_t grandchild;

  /* The shell's own child outlives it unless the whole group is killed;
   * it does not hold the output pipe, so the run ends with the shell. */
  sh("sleep 60 >/dev/null & echo $!; sleep 60", NULL, 200);
  ck_assert(got.timed_out);
  ck_assert_int_eq(got.signal, SIGTERM);
  grandchild = (pid_t)atoi(got.output);
  ck_assert_int_gt(grandchild, 1);
  ck_assert_msg(gone(grandchild), "the command's child %d still runs",
                (int)grandchild);
}
END_TEST

START_TEST(test_timeout_then_sigkill)
{
  /* SIGTERM ignored by the shell and its child: SIGKILL after the grace
   * period ends both. */
  sh("trap '' TERM; sleep 60 & echo $!; wait", NULL, 100);
  ck_assert(got.timed_out);
  ck_assert_int_eq(got.signal, SIGKILL);
  ck_assert(gone((pid_t)atoi(got.output)));
}
END_TEST

START_TEST(test_start_failure)
{
  char *args[] = {"/nonexistent/command", NULL};
  char *env[] = {NULL};

  ck_assert_int_eq(child_run(runner, args, env, 1000, on_done, &got),
                   UV_ENOENT);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(got.called, 0); /* an error, never the callback */
  ck_assert(!child_running(runner));
  sh("exit 0", NULL, 1000); /* and the runner is usable again */
  ck_assert_int_eq(got.status, 0);
}
END_TEST

START_TEST(test_busy_and_close_while_running)
{
  char *args[] = {"/bin/sh", "-c", "sleep 60 & echo $!; wait", NULL};
  char *env[] = {NULL};
  struct got second;
  pid_t pid;

  memset(&second, 0, sizeof(second));
  ck_assert_int_eq(child_run(runner, args, env, 60000, on_done, &got), 0);
  pid = (pid_t)child_pid(runner);
  ck_assert_int_eq(child_run(runner, args, env, 60000, on_done, &second),
                   -EBUSY);
  /* Closing kills the group; neither run calls back. */
  child_close(runner, on_closed, &closed);
  runner = NULL;
  ck_assert_int_eq(closed, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(got.called, 0);
  ck_assert_int_eq(second.called, 0);
  ck_assert(gone(pid));
}
END_TEST

START_TEST(test_close_idle)
{
  child_close(runner, on_closed, &closed);
  runner = NULL;
  ck_assert_int_eq(closed, 0); /* only once the timer is closed */
}
END_TEST

Suite *child_suite(void)
{
  Suite *s = suite_create("child");
  TCase *tc = tcase_create("run");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_status_and_output);
  tcase_add_test(tc, test_output_cap);
  tcase_add_test(tc, test_clean_environment);
  tcase_add_test(tc, test_timeout_kills_the_group);
  tcase_add_test(tc, test_timeout_then_sigkill);
  tcase_add_test(tc, test_start_failure);
  tcase_add_test(tc, test_busy_and_close_while_running);
  tcase_add_test(tc, test_close_idle);
  suite_add_tcase(s, tc);
  return s;
}
