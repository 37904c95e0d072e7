/* SPDX-License-Identifier: MIT
 *
 * check_afile: the atomic replacement done by libuv's file-system
 * requests.  The new contents replace the old with the mode asked for and
 * no temp file left; a write that cannot start (no such directory) says
 * which step failed and leaves nothing behind; a large buffer is written
 * whole, and one handed over in pieces is written in order; the callback
 * runs exactly once; many writes started at once run at most
 * AFILE_MAX_ACTIVE at a time, in order, and all end; and the daemon's
 * state file, written through statesave a piece at a time (or a conflict
 * at a time), is byte for byte what store_save() writes at once.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "afile.h"
#include "conflict.h"
#include "conflict_set.h"
#include "statesave.h"
#include "store.h"
#include "testutil.h"
#include "tfiles.h"

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

struct outcome {
  int calls;
  int rc;
  const char *what;
};

static void on_done(int rc, const char *what, void *arg)
{
  struct outcome *o = arg;

  o->calls++;
  o->rc = rc;
  o->what = what;
}

/* entries() counts the names in dir starting with prefix and holding
 * part. */
static int entries(const char *prefix, const char *part)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;

  ck_assert_ptr_nonnull(d);
  while((e = readdir(d)))
    n += !strncmp(e->d_name, prefix, strlen(prefix)) && strstr(e->d_name, part);
  closedir(d);
  return n;
}

/* write_run() writes text to path through afile and runs the loop until
 * the write has ended. */
static void write_run(const char *path, const char *text, size_t len,
                      struct outcome *o)
{
  uv_loop_t loop;
  char *data = malloc(len + 1);

  ck_assert_ptr_nonnull(data);
  memcpy(data, text, len);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(afile_write(&loop, path, data, len, 0640, on_done, o), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}

START_TEST(test_replaces)
{
  struct outcome o = {0, 1, NULL};
  char *path = tu_write(dir, "state.json", "old contents");
  struct stat sb;
  char *text;

  write_run(path, "new\n", 4, &o);
  ck_assert_int_eq(o.calls, 1);
  ck_assert_int_eq(o.rc, 0);
  ck_assert_str_eq(o.what, "");
  text = tu_slurp(path);
  ck_assert_str_eq(text, "new\n");
  free(text);
  ck_assert_int_eq(stat(path, &sb), 0);
  ck_assert_int_eq(sb.st_mode & 07777, 0640);
  ck_assert_int_eq(entries("state.json.tmp", ""), 0);
  free(path);
}
END_TEST

/* What the writes of test_many_at_once saw: how many had ended, whether
 * any ended before its turn, and the most temp files present at once. */
struct many {
  int n;
  int ended;
  int order_ok;
  int most_tmp;
  uv_check_t *check;
};

struct many_one {
  struct many *m;
  int i;
};

/* on_check() looks at the temp files after every loop iteration. */
static void on_check(uv_check_t *h)
{
  struct many *m = h->data;
  int n = entries("", ".tmp.");

  if(n > m->most_tmp)
    m->most_tmp = n;
}

static void on_many_done(int rc, const char *what, void *arg)
{
  struct many_one *one = arg;

  ck_assert_int_eq(rc, 0);
  ck_assert_str_eq(what, "");
  /* Started in order, AFILE_MAX_ACTIVE at a time: write i starts only
   * once i - AFILE_MAX_ACTIVE + 1 writes have ended. */
  if(one->m->ended < one->i - AFILE_MAX_ACTIVE + 1)
    one->m->order_ok = 0;
  if(++one->m->ended == one->m->n)
    uv_close((uv_handle_t *)one->m->check, NULL);
}

START_TEST(test_many_at_once)
{
  enum { N = 3 * AFILE_MAX_ACTIVE + 1 };
  struct many m = {N, 0, 1, 0, NULL};
  struct many_one ones[N];
  uv_loop_t loop;
  uv_check_t check;
  char name[32];
  int i;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_check_init(&loop, &check), 0);
  check.data = &m;
  m.check = &check;
  ck_assert_int_eq(uv_check_start(&check, on_check), 0);
  for(i = 0; i < N; i++) {
    char *path, *data;

    snprintf(name, sizeof(name), "m%02d.json", i);
    ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
    ck_assert_int_ge(asprintf(&data, "file %d\n", i), 0);
    ones[i].m = &m;
    ones[i].i = i;
    ck_assert_int_eq(afile_write(&loop, path, data, strlen(data), 0640,
                                 on_many_done, &ones[i]),
                     0);
    free(path);
  }
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(m.ended, N);
  ck_assert_int_eq(m.order_ok, 1);
  /* Each running write holds at most one temp file, after every loop
   * iteration. */
  ck_assert_int_gt(m.most_tmp, 0);
  ck_assert_int_le(m.most_tmp, AFILE_MAX_ACTIVE);
  for(i = 0; i < N; i++) {
    char *path, *text, want[24];

    snprintf(name, sizeof(name), "m%02d.json", i);
    ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
    text = tu_slurp(path);
    snprintf(want, sizeof(want), "file %d\n", i);
    ck_assert_str_eq(text, want);
    free(text);
    free(path);
  }
  ck_assert_int_eq(entries("m", ""), N);
}
END_TEST

/* A source of pieces for afile_write_more(): each of pieces in turn, then
 * the end, or fail (a negative errno) in place of piece number fail_at. */
struct pieces {
  const char *const *text;
  size_t next, fail_at;
  int fail;
};

static int next_piece(void *arg, char **data, size_t *len)
{
  struct pieces *p = arg;

  if(p->fail && p->next == p->fail_at)
    return p->fail;
  if(!p->text[p->next])
    return 1;
  *len = strlen(p->text[p->next]);
  *data = *len ? strdup(p->text[p->next]) : NULL;
  p->next++;
  return 0;
}

static void write_pieces(const char *path, struct pieces *p, struct outcome *o)
{
  uv_loop_t loop;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(afile_write_more(&loop, path, strdup("first,"), 6, 0640,
                                    next_piece, p, on_done, o),
                   0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}

START_TEST(test_pieces)
{
  /* The file is every piece in order, an empty one included; a source
   * that fails leaves the old file as it was and no temp file. */
  static const char *const text[] = {"second,", "", "third\n", NULL};
  struct pieces ok = {text, 0, 0, 0}, bad = {text, 0, 2, -ENOMEM};
  struct outcome o = {0, 1, NULL};
  char *path = tu_write(dir, "state.json", "old contents"), *got;

  write_pieces(path, &ok, &o);
  ck_assert_int_eq(o.calls, 1);
  ck_assert_int_eq(o.rc, 0);
  got = tu_slurp(path);
  ck_assert_str_eq(got, "first,second,third\n");
  free(got);
  o.calls = 0;
  write_pieces(path, &bad, &o);
  ck_assert_int_eq(o.calls, 1);
  ck_assert_int_eq(o.rc, -ENOMEM);
  ck_assert_str_eq(o.what, "out of memory");
  got = tu_slurp(path);
  ck_assert_str_eq(got, "first,second,third\n");
  free(got);
  ck_assert_int_eq(entries("state.json.tmp", ""), 0);
  free(path);
}
END_TEST

START_TEST(test_missing_directory)
{
  struct outcome o = {0, 0, NULL};
  char *path;

  ck_assert_int_ge(asprintf(&path, "%s/nodir/state.json", dir), 0);
  write_run(path, "new\n", 4, &o);
  ck_assert_int_eq(o.calls, 1);
  ck_assert_int_eq(o.rc, -ENOENT);
  ck_assert_str_eq(o.what, "create temp file");
  ck_assert_int_eq(entries("", ""), 2); /* . and .. */
  free(path);
}
END_TEST

START_TEST(test_large)
{
  struct outcome o = {0, 1, NULL};
  size_t len = 2u << 20, i;
  char *big = malloc(len + 1), *path, *text;

  ck_assert_ptr_nonnull(big);
  for(i = 0; i < len; i++)
    big[i] = (char)('a' + i % 26);
  big[len] = '\0';
  ck_assert_int_ge(asprintf(&path, "%s/big", dir), 0);
  write_run(path, big, len, &o);
  ck_assert_int_eq(o.rc, 0);
  text = tu_slurp(path);
  ck_assert_uint_eq(strlen(text), len);
  ck_assert_int_eq(memcmp(text, big, len), 0);
  free(text);
  free(big);
  free(path);
}
END_TEST

static void on_saved(int rc, void *arg)
{
  int *got = arg;

  *got = rc;
}

static void on_closed(void *arg)
{
  (*(int *)arg)++;
}

START_TEST(test_statesave_matches_store_save)
{
  struct store_state st;
  struct statesave sv;
  uv_loop_t loop;
  char *path, *once, *sliced, *other;
  int got = 1, closed = 0, i;

  memset(&st, 0, sizeof(st));
  st.last_success = 1700000000;
  st.conflicts = conflict_set_new("contoso");
  ck_assert_ptr_nonnull(st.conflicts);
  for(i = 0; i < 1000; i++) {
    char id[32], value[64];
    struct conflict *c;

    snprintf(id, sizeof(id), "obj-%d", i);
    snprintf(value, sizeof(value), "user%d@contoso.com", i);
    c = conflict_new("contoso", id, CONFLICT_USER, CONFLICT_UPN, value);
    ck_assert_ptr_nonnull(c);
    c->first_seen = 1700000000 - i;
    ck_assert_int_eq(conflict_set_add(st.conflicts, c), 0);
  }
  ck_assert_int_eq(store_save(dir, "contoso", &st, 1700000100, NULL), 0);
  path = tfiles_path(dir, "contoso", TFILES_STATE);
  once = tu_slurp(path);
  ck_assert_int_ge(asprintf(&other, "%s/other", dir), 0);
  ck_assert_int_eq(mkdir(other, 0750), 0);

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  statesave_init(&sv, &loop, other, "contoso");
  ck_assert_int_eq(statesave_start(&sv, &st, 1700000100, on_saved, &got), 0);
  ck_assert(statesave_busy(&sv));
  ck_assert_int_eq(statesave_start(&sv, &st, 1700000100, on_saved, &got),
                   -EBUSY);
  while(statesave_busy(&sv))
    uv_run(&loop, UV_RUN_ONCE);
  ck_assert_int_eq(got, 0);
  statesave_close(&sv, on_closed, &closed);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  free(path);
  path = tfiles_path(other, "contoso", TFILES_STATE);
  sliced = tu_slurp(path);
  ck_assert_str_eq(sliced, once);
  free(sliced);
  /* A deadline already past makes one conflict per step. */
  {
    struct store_render *r;
    size_t len, steps = 1;
    int rc;

    ck_assert_int_eq(store_render_new("contoso", &st, 1700000100, &r), 0);
    while(!(rc = store_render_step(r, 0, 1)))
      steps++;
    ck_assert_int_eq(rc, 1);
    ck_assert_uint_eq(steps, 1000);
    sliced = store_render_take(r, &len);
    ck_assert_uint_eq(len, strlen(once));
    ck_assert_str_eq(sliced, once);
    free(sliced);
    store_render_free(r);
  }
  free(once);
  free(path);
  free(other);
  store_state_clear(&st);
}
END_TEST

Suite *afile_suite(void)
{
  Suite *s = suite_create("afile");
  TCase *tc = tcase_create("afile");

  tcase_add_checked_fixture(tc, setup, teardown);
  /* fsync of a few MiB on a loaded machine, under ASan. */
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_replaces);
  tcase_add_test(tc, test_pieces);
  tcase_add_test(tc, test_missing_directory);
  tcase_add_test(tc, test_large);
  tcase_add_test(tc, test_many_at_once);
  tcase_add_test(tc, test_statesave_matches_store_save);
  suite_add_tcase(s, tc);
  return s;
}
