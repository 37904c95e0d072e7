/* SPDX-License-Identifier: MIT
 *
 * check_atomic: replacing a file so that a reader sees the old or the new
 * contents, never a mix.  The new contents go to a temp file next to the
 * target, which is fsync'd before the rename; the directory is fsync'd
 * after it; every failure (create, write, fsync, rename) leaves the old
 * file as it was and no temp file behind.
 *
 * fsync(2) is watched by defining fsync() in the test binary, which the
 * linker prefers over the C library's for every object linked in: it
 * records what was synced and what the target held at that moment, then
 * calls the real fsync(), or fails once when a test asks it to.
 */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "testutil.h"

static char *dir, *path;

/* ===== The fsync() watch ===== */

struct synced {
  bool is_dir;
  char *target; /* what path held then (NULL: no file) */
};

static struct synced synced[8];
static int nsynced;
static bool watching;
static int fail_at; /* fail the fail_at-th fsync() from now with EIO */

int fsync(int fd)
{
  static int (*real)(int);
  struct stat st;

  if(!real)
    real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  if(watching && nsynced < 8 && fstat(fd, &st) == 0) {
    synced[nsynced].is_dir = S_ISDIR(st.st_mode);
    synced[nsynced].target = tu_slurp(path);
    nsynced++;
  }
  if(fail_at && !--fail_at) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

static void watch(void)
{
  nsynced = 0;
  watching = true;
}

static void unwatch(void)
{
  int i;

  watching = false;
  for(i = 0; i < nsynced; i++)
    free(synced[i].target);
  nsynced = 0;
}

/* ===== Fixture ===== */

static void setup(void)
{
  dir = tu_tmpdir();
  ck_assert_int_ne(asprintf(&path, "%s/state.json", dir), -1);
  fail_at = 0;
}

static void teardown(void)
{
  unwatch();
  tu_rmtree(dir);
  free(dir);
  free(path);
}

/* entries() counts the names in dir (without . and ..). */
static int entries(void)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;

  ck_assert_ptr_nonnull(d);
  while((e = readdir(d)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

/* assert_old() asserts that path still holds "old" and is the only file. */
static void assert_old(void)
{
  char *text = tu_slurp(path);

  ck_assert_str_eq(text, "old");
  free(text);
  ck_assert_int_eq(entries(), 1); /* no temp file left behind */
}

START_TEST(test_write_sync_rename_sync)
{
  const char *what = "untouched";
  struct stat st;
  char *text;

  free(tu_write(dir, "state.json", "old"));
  umask(077);
  watch();
  ck_assert_int_eq(atomic_write(path, "new contents", 12, 0640, &what), 0);
  ck_assert_str_eq(what, "untouched"); /* set only on failure */
  /* The temp file was synced while the target still held the old
   * contents; the directory after the rename. */
  ck_assert_int_eq(nsynced, 2);
  ck_assert(!synced[0].is_dir);
  ck_assert_str_eq(synced[0].target, "old");
  ck_assert(synced[1].is_dir);
  ck_assert_str_eq(synced[1].target, "new contents");
  unwatch();
  text = tu_slurp(path);
  ck_assert_str_eq(text, "new contents");
  free(text);
  /* The mode asked for, whatever the umask. */
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 07777, 0640);
  ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(test_reader_keeps_the_old_file)
{
  char buf[16] = "";
  int fd;

  free(tu_write(dir, "state.json", "old"));
  fd = open(path, O_RDONLY | O_CLOEXEC);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(atomic_write(path, "replaced", 8, 0600, NULL), 0);
  /* Replaced by a rename, not rewritten in place: what a reader opened
   * before is whole. */
  ck_assert_int_eq(read(fd, buf, sizeof(buf) - 1), 3);
  ck_assert_str_eq(buf, "old");
  close(fd);
}
END_TEST

START_TEST(test_failed_write_keeps_the_old_file)
{
  struct rlimit old_lim, lim;
  const char *what = NULL;
  int rc;

  free(tu_write(dir, "state.json", "old"));
  /* A full disk, as far as this process can tell: EFBIG past 4 bytes. */
  signal(SIGXFSZ, SIG_IGN);
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
  lim = old_lim;
  lim.rlim_cur = 4;
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  rc = atomic_write(path, "much more than four bytes", 25, 0640, &what);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
  ck_assert_int_eq(rc, -EFBIG);
  ck_assert_str_eq(what, "write");
  assert_old();
}
END_TEST

START_TEST(test_failed_fsync_keeps_the_old_file)
{
  const char *what = NULL;

  free(tu_write(dir, "state.json", "old"));
  fail_at = 1; /* the temp file's */
  ck_assert_int_eq(atomic_write(path, "new", 3, 0640, &what), -EIO);
  ck_assert_str_eq(what, "fsync");
  assert_old();
}
END_TEST

START_TEST(test_failed_directory_fsync_is_reported)
{
  const char *what = NULL;
  char *text;

  free(tu_write(dir, "state.json", "old"));
  fail_at = 2; /* the directory's, after the rename */
  ck_assert_int_eq(atomic_write(path, "new", 3, 0640, &what), -EIO);
  ck_assert_str_eq(what, "fsync directory");
  /* The new file is in place; only its durability is in doubt. */
  text = tu_slurp(path);
  ck_assert_str_eq(text, "new");
  free(text);
  ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(test_failed_create_and_rename)
{
  const char *what = NULL;
  char *missing, *sub;

  /* No such directory: the temp file cannot be made. */
  ck_assert_int_ne(asprintf(&missing, "%s/no/such/file", dir), -1);
  ck_assert_int_eq(atomic_write(missing, "x", 1, 0640, &what), -ENOENT);
  ck_assert_str_eq(what, "create temp file");
  free(missing);
  /* The target is a directory: the rename fails, the temp file goes. */
  free(tu_write(dir, "state.json", "old"));
  ck_assert_int_ne(asprintf(&sub, "%s/sub", dir), -1);
  ck_assert_int_eq(mkdir(sub, 0750), 0);
  what = NULL;
  ck_assert_int_eq(atomic_write(sub, "x", 1, 0640, &what), -EISDIR);
  ck_assert_str_eq(what, "rename");
  ck_assert_int_eq(entries(), 2); /* state.json and sub, nothing else */
  ck_assert_int_eq(rmdir(sub), 0);
  free(sub);
  assert_old();
}
END_TEST

Suite *atomic_suite(void)
{
  Suite *s = suite_create("atomic");
  TCase *tc = tcase_create("atomic");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_write_sync_rename_sync);
  tcase_add_test(tc, test_reader_keeps_the_old_file);
  tcase_add_test(tc, test_failed_write_keeps_the_old_file);
  tcase_add_test(tc, test_failed_fsync_keeps_the_old_file);
  tcase_add_test(tc, test_failed_directory_fsync_is_reported);
  tcase_add_test(tc, test_failed_create_and_rename);
  suite_add_tcase(s, tc);
  return s;
}
