/* SPDX-License-Identifier: MIT
 *
 * check_log: each target as its reader sees it.  Human lines on stderr
 * are parsed with a regular expression and their UTC time read back;
 * journald's stderr stream gets "<N>" prefixes; syslog(3) is read from a
 * /dev/log of the test's own (tu_logger_capture()).  Also: level names,
 * the level test in the macros (arguments not evaluated), errno kept and
 * appended, and fatal() exiting 1 with a "critical" line.
 */
#include <check.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

static char *dir, *path;
static int saved_stderr = -1;

/* setup() sends stderr to a file of the test's; teardown() restores it. */
static void setup(void)
{
  dir = tu_tmpdir();
  ck_assert_int_ne(asprintf(&path, "%s/stderr", dir), -1);
  saved_stderr = tu_stderr_to(path);
  unsetenv("JOURNAL_STREAM");
}

static void teardown(void)
{
  tu_stderr_restore(saved_stderr);
  log_init("quarantined", 1);
  log_set_level(LOG_INFO);
  tu_rmtree(dir);
  free(dir);
  free(path);
}

/* written() is what has been logged to stderr so far (malloc'd). */
static char *written(void)
{
  char *text;

  fflush(stderr);
  text = tu_slurp(path);
  ck_assert_ptr_nonnull(text);
  return text;
}

START_TEST(test_level_names)
{
  static const char *const names[] = {"error", "warning", "notice", "info",
                                      "debug"};
  size_t i;

  for(i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    int prio = log_level_parse(names[i]);

    ck_assert_int_eq(prio, LOG_ERR + (int)i);
    ck_assert_str_eq(log_level_name(prio), names[i]);
  }
  ck_assert_int_eq(log_level_parse("WARNING"), LOG_WARNING);
  ck_assert_int_eq(log_level_parse("Debug"), LOG_DEBUG);
  /* Only error through debug can be chosen. */
  ck_assert_int_eq(log_level_parse("critical"), -EINVAL);
  ck_assert_int_eq(log_level_parse("verbose"), -EINVAL);
  ck_assert_int_eq(log_level_parse(""), -EINVAL);
  /* ... but every syslog priority has a name (anchor.halted alerts are
   * critical). */
  ck_assert_str_eq(log_level_name(LOG_CRIT), "critical");
  ck_assert_str_eq(log_level_name(LOG_ALERT), "alert");
  ck_assert_str_eq(log_level_name(LOG_EMERG), "emergency");
  ck_assert_str_eq(log_level_name(-1), "unknown");
  ck_assert_str_eq(log_level_name(8), "unknown");
}
END_TEST

START_TEST(test_human_line_on_stderr)
{
  regex_t rx;
  regmatch_t m[3];
  char want[128], stamp[32], *text;
  struct tm tm;
  time_t t;

  log_init("qd-test", 1);
  ck_assert_int_eq(log_get_target(), LOG_TO_STDERR);
  log_emit(LOG_WARNING, 0, "hello %d", 42);
  text = written();
  snprintf(want, sizeof(want),
           "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})"
           "\\.[0-9]{3}Z qd-test\\[%ld\\]: (warning): hello 42\n$",
           (long)getpid());
  ck_assert_int_eq(regcomp(&rx, want, REG_EXTENDED), 0);
  ck_assert_msg(regexec(&rx, text, 3, m, 0) == 0, "line: %s", text);
  regfree(&rx);
  /* The time is UTC and now. */
  snprintf(stamp, sizeof(stamp), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
           text + m[1].rm_so);
  memset(&tm, 0, sizeof(tm));
  ck_assert_ptr_nonnull(strptime(stamp, "%Y-%m-%dT%H:%M:%S", &tm));
  t = timegm(&tm);
  ck_assert_int_le(labs((long)(t - time(NULL))), 60);
  free(text);
}
END_TEST

START_TEST(test_errno_appended_and_kept)
{
  char *text;

  log_init("qd-test", 1);
  errno = ENOENT;
  log_emit(LOG_ERR, 1, "open %s", "/x");
  ck_assert_int_eq(errno, ENOENT); /* a caller may log, then look */
  errno = EACCES;
  log_emit(LOG_ERR, 0, "plain");
  ck_assert_int_eq(errno, EACCES);
  text = written();
  ck_assert_ptr_nonnull(
      strstr(text, ": error: open /x: No such file or directory\n"));
  ck_assert_ptr_nonnull(strstr(text, ": error: plain\n"));
  free(text);
}
END_TEST

static int evaluated;

static int count_evaluation(void)
{
  return ++evaluated;
}

START_TEST(test_level_filters_without_evaluating)
{
  char *text;

  log_init("qd-test", 1);
  log_set_level(LOG_NOTICE);
  evaluated = 0;
  log_info("hidden %d", count_evaluation());
  log_debug("hidden %d", count_evaluation());
  ck_assert_int_eq(evaluated, 0);
  log_notice("shown %d", count_evaluation());
  log_warnx("shown too");
  ck_assert_int_eq(evaluated, 1);
  text = written();
  ck_assert_ptr_null(strstr(text, "hidden"));
  ck_assert_ptr_nonnull(strstr(text, ": notice: shown 1\n"));
  ck_assert_ptr_nonnull(strstr(text, ": warning: shown too\n"));
  free(text);
}
END_TEST

START_TEST(test_journal_stream_prefixes)
{
  struct stat st;
  char js[64], *text;

  /* systemd names the stream it hands us in $JOURNAL_STREAM. */
  ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
  snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
           (unsigned long long)st.st_ino);
  ck_assert_int_eq(setenv("JOURNAL_STREAM", js, 1), 0);
  log_init("qd-test", 0);
  ck_assert_int_eq(log_get_target(), LOG_TO_JOURNAL);
  log_emit(LOG_INFO, 0, "to the journal");
  log_emit(LOG_ERR, 0, "bad %s", "thing");
  text = written();
  ck_assert_str_eq(text, "<6>to the journal\n<3>bad thing\n");
  free(text);
  /* Another stream's id: not the journal. */
  ck_assert_int_eq(setenv("JOURNAL_STREAM", "1:2", 1), 0);
  log_init("qd-test", 0);
  ck_assert_int_ne(log_get_target(), LOG_TO_JOURNAL);
  unsetenv("JOURNAL_STREAM");
}
END_TEST

/* to_syslog() runs in tu_logger_capture()'s child: stderr is a pipe (no
 * terminal, no journal), so log_init() picks syslog(3). */
static int to_syslog(void *arg)
{
  int pfd[2];

  (void)arg;
  unsetenv("JOURNAL_STREAM");
  if(pipe(pfd) || dup2(pfd[1], STDERR_FILENO) < 0)
    return 1;
  log_init("qd-test", 0);
  if(log_get_target() != LOG_TO_SYSLOG)
    return 2;
  log_emit(LOG_WARNING, 0, "to syslog %d", 7);
  log_emit(LOG_DEBUG, 0, "debug too");
  return 0;
}

START_TEST(test_syslog_target)
{
  struct tu_datagram *m;
  char want[64];
  int n, pri = -1;

  n = tu_logger_capture(false, to_syslog, NULL, &m);
  ck_assert_int_eq(n, 2);
  /* Facility daemon, the message's priority, "ident[pid]: message". */
  ck_assert_int_eq(sscanf(m[0].data, "<%d>", &pri), 1);
  ck_assert_int_eq(pri, LOG_DAEMON | LOG_WARNING);
  ck_assert_ptr_nonnull(strstr(m[0].data, " qd-test["));
  snprintf(want, sizeof(want), "]: to syslog 7");
  ck_assert_str_eq(m[0].data + m[0].len - strlen(want), want);
  ck_assert_int_eq(sscanf(m[1].data, "<%d>", &pri), 1);
  ck_assert_int_eq(pri, LOG_DAEMON | LOG_DEBUG);
  tu_datagrams_free(m, n);
}
END_TEST

START_TEST(test_fatal_exits_1_with_a_critical_line)
{
  int status;
  char *text;
  pid_t pid;

  fflush(NULL);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if(!pid) {
    log_init("qd-test", 1);
    fatalx("cannot go on: %s", "reason");
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 1);
  text = written();
  ck_assert_ptr_nonnull(strstr(text, ": critical: cannot go on: reason\n"));
  free(text);
}
END_TEST

Suite *log_suite(void)
{
  Suite *s = suite_create("log");
  TCase *tc = tcase_create("log");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_level_names);
  tcase_add_test(tc, test_human_line_on_stderr);
  tcase_add_test(tc, test_errno_appended_and_kept);
  tcase_add_test(tc, test_level_filters_without_evaluating);
  tcase_add_test(tc, test_journal_stream_prefixes);
  tcase_add_test(tc, test_syslog_target);
  tcase_add_test(tc, test_fatal_exits_1_with_a_critical_line);
  suite_add_tcase(s, tc);
  return s;
}
