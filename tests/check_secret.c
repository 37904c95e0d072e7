/* SPDX-License-Identifier: MIT
 *
 * check_secret: reading secrets from files and systemd credentials: the
 * owner and mode checks, symlinks, size limits, whitespace, and the
 * messages an admin sees.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
  dir = tu_tmpdir();
  unsetenv("CREDENTIALS_DIRECTORY");
}

static void teardown(void)
{
  tu_rmtree(dir);
  free(dir);
}

/* mkfile() writes text to dir/name with the given mode. */
static char *mkfile(const char *name, const char *text, mode_t mode)
{
  char *path = tu_write(dir, name, text);

  ck_assert_int_eq(chmod(path, mode), 0);
  return path;
}

START_TEST(test_read_ok)
{
  char *path = mkfile("a.secret", "s3cr3t+&=value \t\r\n\n", 0600);
  char *s = NULL;
  size_t len = 0;
  char err[256] = "";

  ck_assert_int_eq(secret_read_file(path, 0, &s, &len, err, sizeof(err)), 0);
  ck_assert_str_eq(s, "s3cr3t+&=value");
  ck_assert_uint_eq(len, strlen("s3cr3t+&=value"));
  ck_assert_str_eq(err, "");
  secret_free(s, len);
  secret_free(NULL, 0);
  free(path);
}
END_TEST

START_TEST(test_modes)
{
  static const mode_t good[] = {0600, 0400, 0640, 0440, 0700};
  static const mode_t bad[] = {0644, 0660, 0666, 0604, 0620, 0601, 0602};
  char *path = mkfile("m.secret", "x\n", 0600);
  char err[256], want[512];
  size_t i, len;
  char *s;

  for(i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    ck_assert_int_eq(chmod(path, good[i]), 0);
    s = NULL;
    ck_assert_msg(secret_read_file(path, 0, &s, &len, err, sizeof(err)) == 0,
                  "mode %04o refused: %s", (unsigned)good[i], err);
    secret_free(s, len);
  }
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_int_eq(chmod(path, bad[i]), 0);
    s = NULL;
    ck_assert_int_eq(secret_read_file(path, 0, &s, &len, err, sizeof(err)),
                     -EPERM);
    ck_assert_ptr_null(s);
    snprintf(want, sizeof(want),
             "secret: %s: mode %04o is too open; use chmod 600 (or 640)", path,
             (unsigned)bad[i]);
    ck_assert_str_eq(err, want);
  }
  free(path);
}
END_TEST

START_TEST(test_owner)
{
  char *path = mkfile("o.secret", "x", 0600);
  char err[256];
  char *s = NULL;
  size_t len;

  if(geteuid() != 0) {
    /* Only root can give a file away; nothing to test otherwise. */
    free(path);
    return;
  }
  ck_assert_int_eq(chown(path, 4242, 4242), 0);
  ck_assert_int_eq(secret_read_file(path, 0, &s, &len, err, sizeof(err)),
                   -EPERM);
  ck_assert_ptr_nonnull(strstr(err, "owned by uid 4242"));
  ck_assert_ptr_nonnull(strstr(err, path));
  free(path);
}
END_TEST

START_TEST(test_not_regular)
{
  char *path = mkfile("real.secret", "x", 0600);
  char *link, *sub;
  char err[256];
  char *s = NULL;
  size_t len;

  ck_assert_int_ne(asprintf(&link, "%s/link.secret", dir), -1);
  ck_assert_int_eq(symlink(path, link), 0);
  ck_assert_int_eq(secret_read_file(link, 0, &s, &len, err, sizeof(err)),
                   -ELOOP);
  ck_assert_ptr_nonnull(strstr(err, "symbolic link"));

  ck_assert_int_ne(asprintf(&sub, "%s/d", dir), -1);
  ck_assert_int_eq(mkdir(sub, 0700), 0);
  ck_assert_int_eq(secret_read_file(sub, 0, &s, &len, err, sizeof(err)),
                   -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "not a regular file"));

  ck_assert_int_eq(
      secret_read_file("/nonexistent/x", 0, &s, &len, err, sizeof(err)),
      -ENOENT);
  ck_assert_str_eq(err, "secret: /nonexistent/x: cannot open: "
                        "No such file or directory");
  ck_assert_ptr_null(s);
  free(link);
  free(sub);
  free(path);
}
END_TEST

START_TEST(test_limits)
{
  char *path = mkfile("l.secret", "0123456789abcdef", 0600);
  char *empty = mkfile("e.secret", " \n\n", 0600);
  char err[256];
  char *s = NULL;
  size_t len = 0;

  /* Exactly max bytes is fine, one more is not. */
  ck_assert_int_eq(secret_read_file(path, 16, &s, &len, err, sizeof(err)), 0);
  ck_assert_uint_eq(len, 16);
  secret_free(s, len);
  s = NULL;
  ck_assert_int_eq(secret_read_file(path, 15, &s, &len, err, sizeof(err)),
                   -EFBIG);
  ck_assert_ptr_nonnull(strstr(err, "15-byte limit"));
  ck_assert_int_eq(secret_read_file(empty, 0, &s, &len, err, sizeof(err)),
                   -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "is empty"));
  ck_assert_ptr_null(s);
  free(path);
  free(empty);
}
END_TEST

START_TEST(test_big_key)
{
  size_t n = 200 * 1024, len = 0;
  char *text = malloc(n + 1), *path, *s = NULL;
  char err[256];

  ck_assert_ptr_nonnull(text);
  memset(text, 'k', n);
  text[n] = '\0';
  path = mkfile("k.pem", text, 0400);
  ck_assert_int_eq(secret_read_file(path, 0, &s, &len, err, sizeof(err)),
                   -EFBIG);
  ck_assert_int_eq(
      secret_read_file(path, SECRET_MAX_KEY, &s, &len, err, sizeof(err)), 0);
  ck_assert_uint_eq(len, n);
  ck_assert_int_eq(memcmp(s, text, n), 0);
  secret_free(s, len);
  free(text);
  free(path);
}
END_TEST

START_TEST(test_credential)
{
  char *path = mkfile("cred", "from-systemd\n", 0400);
  char err[256];
  char *s = NULL;
  size_t len;

  ck_assert_int_eq(
      secret_read_credential("cred", 0, &s, &len, err, sizeof(err)), -ENOENT);
  ck_assert_str_eq(err, "secret: credential 'cred' requested but "
                        "$CREDENTIALS_DIRECTORY is not set (use "
                        "LoadCredential= in the unit)");
  ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
  ck_assert_int_eq(
      secret_read_credential("../cred", 0, &s, &len, err, sizeof(err)),
      -EINVAL);
  ck_assert_int_eq(secret_read_credential("..", 0, &s, &len, err, sizeof(err)),
                   -EINVAL);
  ck_assert_int_eq(secret_read_credential("", 0, &s, &len, err, sizeof(err)),
                   -EINVAL);
  ck_assert_int_eq(
      secret_read_credential("missing", 0, &s, &len, err, sizeof(err)),
      -ENOENT);
  ck_assert_ptr_null(s);
  ck_assert_int_eq(
      secret_read_credential("cred", 0, &s, &len, err, sizeof(err)), 0);
  ck_assert_str_eq(s, "from-systemd");
  secret_free(s, len);
  free(path);
}
END_TEST

/* With err NULL the message is logged (to stderr in tests), and the
 * secret never is. */
START_TEST(test_logged)
{
  char *path = mkfile("p.secret", "do-not-log-me", 0644);
  char *logpath, *log;
  char *s = NULL;
  size_t len;
  int saved = dup(STDERR_FILENO), fd;

  ck_assert_int_ne(asprintf(&logpath, "%s/stderr", dir), -1);
  fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  fflush(stderr);
  dup2(fd, STDERR_FILENO);
  close(fd);
  ck_assert_int_eq(secret_read_file(path, 0, &s, &len, NULL, 0), -EPERM);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  log = tu_slurp(logpath);
  ck_assert_ptr_nonnull(log);
  ck_assert_ptr_nonnull(strstr(log, "mode 0644 is too open"));
  ck_assert_ptr_null(strstr(log, "do-not-log-me"));
  ck_assert_ptr_null(strchr(strchr(log, '\n') + 1, '\n'));
  free(log);
  free(logpath);
  free(path);
}
END_TEST

Suite *secret_suite(void)
{
  Suite *s = suite_create("secret");
  TCase *tc = tcase_create("files");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_read_ok);
  tcase_add_test(tc, test_modes);
  tcase_add_test(tc, test_owner);
  tcase_add_test(tc, test_not_regular);
  tcase_add_test(tc, test_limits);
  tcase_add_test(tc, test_big_key);
  tcase_add_test(tc, test_credential);
  tcase_add_test(tc, test_logged);
  suite_add_tcase(s, tc);
  return s;
}
