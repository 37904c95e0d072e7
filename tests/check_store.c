/* SPDX-License-Identifier: MIT
 *
 * check_store: the state file's round trip, its mode, atomic replacement
 * when a write fails, corrupt files moved aside with one log line, and
 * refusal of a file from a newer schema.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "testutil.h"
#include "tfiles.h"

#define NOW ((time_t)1700000000)

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

/* count_prefix() counts entries of dir whose name starts with prefix. */
static int count_prefix(const char *prefix)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;

  ck_assert_ptr_nonnull(d);
  for(e = readdir(d); e; e = readdir(d))
    if(!strncmp(e->d_name, prefix, strlen(prefix)))
      n++;
  closedir(d);
  return n;
}

/* fill() makes a state with n conflicts and two delta links. */
static void fill(struct store_state *st, size_t n)
{
  size_t i;

  memset(st, 0, sizeof(*st));
  st->last_success = NOW - 30;
  st->delta_full_sync = NOW - 86400;
  st->delta_link[STORE_USERS] =
      strdup("https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc");
  st->delta_link[STORE_CONTACTS] =
      strdup("https://graph.microsoft.com/v1.0/contacts/delta?$deltatoken=x");
  st->conflicts = conflict_set_new("contoso");
  for(i = 0; i < n; i++) {
    char id[32], val[64];
    struct conflict *c;

    snprintf(id, sizeof(id), "obj-%zu", i);
    snprintf(val, sizeof(val), "SMTP:user%zu@contoso.com", i);
    c = conflict_new("contoso", id, CONFLICT_USER, CONFLICT_PROXY, val);
    ck_assert_ptr_nonnull(c);
    c->display_name = strdup("A User");
    c->first_seen = NOW - 3600;
    c->last_seen = NOW;
    ck_assert_int_eq(conflict_set_add(st->conflicts, c), 0);
  }
}

/* capture_begin() sends stderr (the log) to a file; capture_end() puts
 * stderr back and returns what was logged (malloc'd). */
static int saved_fd = -1;
static char *cap_path;

static void capture_begin(void)
{
  int fd;

  ck_assert_int_ne(asprintf(&cap_path, "%s/log.txt", dir), -1);
  fflush(stderr);
  saved_fd = dup(STDERR_FILENO);
  fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  dup2(fd, STDERR_FILENO);
  close(fd);
}

static char *capture_end(void)
{
  char *text;

  fflush(stderr);
  dup2(saved_fd, STDERR_FILENO);
  close(saved_fd);
  text = tu_slurp(cap_path);
  unlink(cap_path);
  free(cap_path);
  return text;
}

START_TEST(test_roundtrip)
{
  struct store_state st, back;
  struct stat sb;
  char *path, *text;

  fill(&st, 50);
  st.alert_seq = 999999999999999ULL; /* the largest the file takes */
  ck_assert_int_eq(store_save(dir, "contoso", &st, NOW, NULL), 0);
  path = tfiles_path(dir, "contoso", TFILES_STATE);
  ck_assert_int_eq(stat(path, &sb), 0);
  ck_assert_int_eq(sb.st_mode & 07777, 0640);
  text = tu_slurp(path);
  ck_assert_msg(!strncmp(text,
                         "{\"schema\":4,\"tenant\":\"contoso\","
                         "\"saved\":\"2023-11-14T22:13:20Z\"",
                         60),
                "%.80s", text);
  free(text);
  ck_assert_int_eq(count_prefix("contoso.state.json.tmp"), 0);

  memset(&back, 0, sizeof(back));
  ck_assert_int_eq(store_load(dir, "contoso", &back), 0);
  ck_assert_int_eq(back.last_success, NOW - 30);
  ck_assert_int_eq(back.delta_full_sync, NOW - 86400);
  ck_assert_uint_eq(back.alert_seq, 999999999999999ULL);
  ck_assert_str_eq(back.delta_link[STORE_USERS], st.delta_link[STORE_USERS]);
  ck_assert_ptr_null(back.delta_link[STORE_GROUPS]);
  ck_assert_str_eq(back.delta_link[STORE_CONTACTS],
                   st.delta_link[STORE_CONTACTS]);
  ck_assert_uint_eq(conflict_set_count(back.conflicts), 50);
  {
    char *key = conflict_key("obj-7", CONFLICT_PROXY, "user7@contoso.com");
    struct conflict *c = conflict_set_find(back.conflicts, key);

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->first_seen, NOW - 3600);
    ck_assert_str_eq(c->display_name, "A User");
    free(key);
  }
  /* A second save replaces the first. */
  store_state_clear(&back);
  conflict_set_free(st.conflicts);
  st.conflicts = NULL;
  st.last_success = 0;
  ck_assert_int_eq(store_save(dir, "contoso", &st, NOW + 60, NULL), 0);
  ck_assert_int_eq(store_load(dir, "contoso", &back), 0);
  ck_assert_uint_eq(conflict_set_count(back.conflicts), 0);
  ck_assert_int_eq(back.last_success, 0);
  store_state_clear(&back);
  store_state_clear(&st);
  free(path);
}
END_TEST

START_TEST(test_missing)
{
  struct store_state st;

  memset(&st, 0, sizeof(st));
  ck_assert_int_eq(store_load(dir, "contoso", &st), -ENOENT);
  ck_assert_ptr_null(st.conflicts);
  ck_assert_int_eq(store_load(dir, "../etc", &st), -EINVAL);
  ck_assert_ptr_null(tfiles_path(dir, ".hidden", TFILES_STATE));
}
END_TEST

START_TEST(test_failure_keeps_old)
{
  struct store_state small, big, back;
  struct rlimit old_lim, lim;
  char *path, *before, *after, *nodir;

  fill(&small, 2);
  fill(&big, 2000);
  ck_assert_int_eq(store_save(dir, "contoso", &small, NOW, NULL), 0);
  path = tfiles_path(dir, "contoso", TFILES_STATE);
  before = tu_slurp(path);

  /* A directory that does not exist. */
  ck_assert_int_ne(asprintf(&nodir, "%s/missing", dir), -1);
  ck_assert_int_eq(store_save(nodir, "contoso", &big, NOW, NULL), -ENOENT);
  free(nodir);

  /* A write that fails half-way (works as root too): the file size limit
   * makes write(2) fail with EFBIG. */
  signal(SIGXFSZ, SIG_IGN);
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
  lim = old_lim;
  lim.rlim_cur = 4096;
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  ck_assert_int_eq(store_save(dir, "contoso", &big, NOW + 1, NULL), -EFBIG);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
  signal(SIGXFSZ, SIG_DFL);
  after = tu_slurp(path);
  ck_assert_str_eq(before, after);
  ck_assert_int_eq(count_prefix("contoso.state.json.tmp"), 0);
  free(after);

  /* Without root, a read-only directory fails too. */
  if(geteuid() != 0) {
    ck_assert_int_eq(chmod(dir, 0500), 0);
    ck_assert_int_eq(store_save(dir, "contoso", &big, NOW + 2, NULL), -EACCES);
    ck_assert_int_eq(chmod(dir, 0700), 0);
    after = tu_slurp(path);
    ck_assert_str_eq(before, after);
    free(after);
  }
  memset(&back, 0, sizeof(back));
  ck_assert_int_eq(store_load(dir, "contoso", &back), 0);
  ck_assert_uint_eq(conflict_set_count(back.conflicts), 2);
  store_state_clear(&back);
  store_state_clear(&small);
  store_state_clear(&big);
  free(before);
  free(path);
}
END_TEST

/* expect_corrupt() writes text as the state file and checks that loading
 * moves it aside with one warning naming reason. */
static void expect_corrupt(const char *text, const char *reason)
{
  struct store_state st;
  char *path, *log, *moved;

  path = tu_write(dir, "contoso.state.json", text);
  memset(&st, 0, sizeof(st));
  capture_begin();
  ck_assert_int_eq(store_load(dir, "contoso", &st), -EBADMSG);
  log = capture_end();
  ck_assert_ptr_null(st.conflicts);
  ck_assert_int_eq(access(path, F_OK), -1);
  ck_assert_int_eq(count_prefix("contoso.state.json.corrupt-"), 1);
  ck_assert_msg(strstr(log, "store: ") && strstr(log, " is corrupt (") &&
                    strstr(log, reason) && strstr(log, "; moved to ") &&
                    strstr(log, ".corrupt-") &&
                    strstr(log, "; state will be rebuilt from the next "
                                "successful cycle"),
                "log: %s", log);
  ck_assert_ptr_eq(strchr(log, '\n'), log + strlen(log) - 1);
  /* The moved file keeps the original bytes. */
  {
    DIR *d = opendir(dir);
    struct dirent *e;

    for(e = readdir(d); e; e = readdir(d))
      if(strstr(e->d_name, ".corrupt-"))
        break;
    ck_assert_ptr_nonnull(e);
    ck_assert_int_ne(asprintf(&moved, "%s/%s", dir, e->d_name), -1);
    closedir(d);
  }
  free(log);
  log = tu_slurp(moved);
  ck_assert_str_eq(log, text);
  unlink(moved);
  free(moved);
  free(log);
  free(path);
}

START_TEST(test_corrupt)
{
  expect_corrupt("{\"schema\":1,\"tenant\":\"contoso\",\"conflicts\":[",
                 "not valid JSON");
  expect_corrupt("", "not valid JSON");
  expect_corrupt("[]", "not a JSON object");
  expect_corrupt("{\"tenant\":\"contoso\",\"conflicts\":[]}",
                 "no valid \"schema\"");
  expect_corrupt("{\"schema\":\"1\",\"tenant\":\"contoso\"}",
                 "no valid \"schema\"");
  /* Numbers no schema can be, read without converting them first. */
  expect_corrupt("{\"schema\":8.9e125,\"tenant\":\"contoso\"}",
                 "no valid \"schema\"");
  expect_corrupt("{\"schema\":1e999,\"tenant\":\"contoso\"}",
                 "no valid \"schema\"");
  expect_corrupt("{\"schema\":1.5,\"tenant\":\"contoso\"}",
                 "no valid \"schema\"");
  expect_corrupt("{\"schema\":0,\"tenant\":\"contoso\"}",
                 "no valid \"schema\"");
  expect_corrupt("{\"schema\":null,\"tenant\":\"contoso\"}",
                 "no valid \"schema\"");
  expect_corrupt("{\"schema\":1,\"tenant\":\"fabrikam\",\"conflicts\":[]}",
                 "names another tenant");
  expect_corrupt("{\"schema\":1,\"tenant\":\"contoso\",\"conflicts\":{}}",
                 "not a valid conflict list");
  expect_corrupt("{\"schema\":1,\"tenant\":\"contoso\",\"conflicts\":[],"
                 "\"deltaLinks\":{\"users\":5}}",
                 "a delta link is not a string");
  expect_corrupt("{\"schema\":1,\"tenant\":\"contoso\",\"conflicts\":[],"
                 "\"lastSuccessfulCycle\":12}",
                 "\"lastSuccessfulCycle\" is not a string");
  expect_corrupt("{\"schema\":1,\"tenant\":\"contoso\",\"conflicts\":[],"
                 "\"deltaFullSync\":\"yesterday\"}",
                 "\"deltaFullSync\" is not a time");
  expect_corrupt("{\"schema\":1,\"tenant\":\"contoso\",\"conflicts\":["
                 "{\"objectId\":\"x\",\"objectType\":\"user\",\"property\":"
                 "\"upn\",\"value\":7,\"state\":\"active\"}]}",
                 "not a valid conflict list");
}
END_TEST

START_TEST(test_future_schema)
{
  static const char future[] =
      "{\"schema\":5,\"tenant\":\"contoso\",\"conflicts\":[],\"new\":1}";
  struct store_state st;
  char *path, *log, *text;

  path = tu_write(dir, "contoso.state.json", future);
  memset(&st, 0, sizeof(st));
  capture_begin();
  ck_assert_int_eq(store_load(dir, "contoso", &st), -EPROTONOSUPPORT);
  log = capture_end();
  ck_assert_ptr_nonnull(strstr(log, "schema 5, newer than this quarantined "
                                    "understands (4)"));
  free(log);
  ck_assert_int_eq(count_prefix("contoso.state.json.corrupt-"), 0);
  /* Saving must not replace it. */
  fill(&st, 1);
  capture_begin();
  ck_assert_int_eq(store_save(dir, "contoso", &st, NOW, NULL),
                   -EPROTONOSUPPORT);
  log = capture_end();
  ck_assert_ptr_nonnull(strstr(log, "not overwriting it"));
  free(log);
  text = tu_slurp(path);
  ck_assert_str_eq(text, future);
  free(text);
  store_state_clear(&st);
  free(path);
}
END_TEST

/* A schema-1 file, as the previous release wrote it: no pairing. */
START_TEST(test_schema1_migrates)
{
  static const char v1[] =
      "{\"schema\":1,\"tenant\":\"contoso\",\"saved\":"
      "\"2023-11-14T22:13:20Z\",\"lastSuccessfulCycle\":"
      "\"2023-11-14T22:12:50Z\",\"deltaLinks\":{\"users\":null,\"groups\":"
      "null,\"contacts\":null},\"conflicts\":[{\"objectId\":\"u1\","
      "\"objectType\":\"user\",\"property\":\"upn\",\"value\":"
      "\"john@contoso.com\",\"rawValue\":\"john@contoso.com\","
      "\"displayName\":\"John Smith\",\"userPrincipalName\":"
      "\"john1234@contoso.onmicrosoft.com\",\"mail\":null,"
      "\"onPremisesSyncEnabled\":true,\"onPremisesImmutableId\":\"yYuR\","
      "\"onPremisesDistinguishedName\":null,\"onPremisesSamAccountName\":"
      "\"jsmith\",\"placeholder\":true,\"originalValue\":"
      "\"john@contoso.com\",\"occurredDateTime\":null,\"firstSeen\":"
      "\"2023-11-14T21:00:00Z\",\"lastSeen\":\"2023-11-14T22:12:50Z\","
      "\"state\":\"active\"}]}";
  struct store_state st, back;
  struct conflict_holder h;
  struct conflict *c;
  char *path, *text, *log, *key;

  path = tu_write(dir, "contoso.state.json", v1);
  memset(&st, 0, sizeof(st));
  capture_begin();
  ck_assert_int_eq(store_load(dir, "contoso", &st), 0);
  log = capture_end();
  ck_assert_ptr_nonnull(strstr(log, "schema 1 read"));
  free(log);
  key = conflict_key("u1", CONFLICT_UPN, "john@contoso.com");
  c = conflict_set_find(st.conflicts, key);
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(c->display_name, "John Smith");
  ck_assert(c->placeholder);
  /* No pairing yet: the next cycle looks the holder up. */
  ck_assert_int_eq(c->looked_up, 0);
  ck_assert_uint_eq(c->nholders, 0);
  ck_assert_int_eq(c->cls, CONFLICT_CLASS_UNKNOWN);

  /* Pair it and save: written as schema 4, and read back whole. */
  memset(&h, 0, sizeof(h));
  h.id = "cloud-1";
  h.type = CONFLICT_USER;
  h.display_name = "John (cloud)";
  h.upn = "john@contoso.com";
  h.sync_enabled = CONFLICT_TRI_UNKNOWN;
  h.last_sync = NOW - 60;
  ck_assert_int_eq(conflict_replace_holders(c, &h, 1), 0);
  c->looked_up = NOW;
  c->cls = CONFLICT_CLASS_CLOUD_ACCOUNT;
  ck_assert_int_eq(store_save(dir, "contoso", &st, NOW, NULL), 0);
  text = tu_slurp(path);
  ck_assert_msg(!strncmp(text, "{\"schema\":4,", 11), "%.40s", text);
  free(text);
  memset(&back, 0, sizeof(back));
  ck_assert_int_eq(store_load(dir, "contoso", &back), 0);
  c = conflict_set_find(back.conflicts, key);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(c->looked_up, NOW);
  ck_assert_int_eq(c->cls, CONFLICT_CLASS_CLOUD_ACCOUNT);
  ck_assert_uint_eq(c->nholders, 1);
  ck_assert_str_eq(c->holders[0].id, "cloud-1");
  ck_assert_str_eq(c->holders[0].display_name, "John (cloud)");
  ck_assert_int_eq(c->holders[0].sync_enabled, CONFLICT_TRI_UNKNOWN);
  ck_assert_int_eq(c->holders[0].last_sync, NOW - 60);
  ck_assert_ptr_null(c->lookup_error);
  store_state_clear(&back);
  store_state_clear(&st);
  free(key);
  free(path);
}
END_TEST

/* A schema-2 file with a bad holder is corrupt, like any bad member. */
START_TEST(test_bad_holder_is_corrupt)
{
  expect_corrupt("{\"schema\":2,\"tenant\":\"contoso\",\"conflicts\":[{"
                 "\"objectId\":\"u1\",\"objectType\":\"user\",\"property\":"
                 "\"upn\",\"value\":\"a@b.c\",\"state\":\"active\","
                 "\"holders\":[{\"objectType\":\"robot\",\"id\":\"x\"}]}]}",
                 "not a valid conflict list");
  expect_corrupt("{\"schema\":2,\"tenant\":\"contoso\",\"conflicts\":[{"
                 "\"objectId\":\"u1\",\"objectType\":\"user\",\"property\":"
                 "\"upn\",\"value\":\"a@b.c\",\"state\":\"active\","
                 "\"class\":\"spooky\"}]}",
                 "not a valid conflict list");
}
END_TEST

/* A schema-2 file, as the holder release wrote it: pairing, no sweep
 * record.  Every conflict reads as active with nothing alerted. */
START_TEST(test_schema2_reads)
{
  static const char v2[] =
      "{\"schema\":2,\"tenant\":\"contoso\",\"saved\":"
      "\"2023-11-14T22:13:20Z\",\"lastSuccessfulCycle\":"
      "\"2023-11-14T22:12:50Z\",\"deltaLinks\":{\"users\":null,\"groups\":"
      "null,\"contacts\":null},\"conflicts\":[{\"objectId\":\"u1\","
      "\"objectType\":\"user\",\"property\":\"upn\",\"value\":"
      "\"frank@contoso.com\",\"rawValue\":\"frank@contoso.com\","
      "\"displayName\":\"Frank Black\",\"firstSeen\":"
      "\"2023-11-14T21:00:00Z\",\"lastSeen\":\"2023-11-14T22:12:50Z\","
      "\"state\":\"active\",\"class\":\"not_held\",\"holdersLookedUp\":"
      "\"2023-11-14T22:12:51Z\",\"lookupError\":null,\"holders\":[]}]}";
  struct store_state st;
  struct conflict *c;
  char *path, *log, *key;

  path = tu_write(dir, "contoso.state.json", v2);
  memset(&st, 0, sizeof(st));
  capture_begin();
  ck_assert_int_eq(store_load(dir, "contoso", &st), 0);
  log = capture_end();
  ck_assert_ptr_nonnull(strstr(log, "schema 2 read"));
  free(log);
  key = conflict_key("u1", CONFLICT_UPN, "frank@contoso.com");
  c = conflict_set_find(st.conflicts, key);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(c->cls, CONFLICT_CLASS_NOT_HELD);
  ck_assert_int_eq(c->looked_up, NOW - 29);
  ck_assert_int_eq(c->state, CONFLICT_ACTIVE);
  ck_assert_int_eq(c->freed_at, 0);
  ck_assert_int_eq(c->release_by, 0);
  ck_assert_int_eq(c->stuck_at, 0);
  ck_assert_uint_eq(c->aging_done, 0);
  store_state_clear(&st);
  free(key);
  free(path);
}
END_TEST

/* The sweep's record survives a save and a load (a restart between
 * freed and released must not alert freed again). */
START_TEST(test_sweep_record_roundtrip)
{
  struct store_state st, back;
  struct conflict *c;
  char *key, *path, *text;

  fill(&st, 3);
  key = conflict_key("obj-1", CONFLICT_PROXY, "user1@contoso.com");
  c = conflict_set_find(st.conflicts, key);
  ck_assert_ptr_nonnull(c);
  c->state = CONFLICT_STUCK;
  c->freed_at = NOW - 7200;
  c->release_by = NOW - 3600;
  c->stuck_at = NOW - 60;
  c->aging_done = 86400;
  ck_assert_int_eq(store_save(dir, "contoso", &st, NOW, NULL), 0);
  path = tfiles_path(dir, "contoso", TFILES_STATE);
  text = tu_slurp(path);
  ck_assert_ptr_nonnull(strstr(text, "\"state\":\"stuck\",\"freedAt\":"
                                     "\"2023-11-14T20:13:20Z\","
                                     "\"predictedRelease\":"
                                     "\"2023-11-14T21:13:20Z\",\"stuckAt\":"
                                     "\"2023-11-14T22:12:20Z\","
                                     "\"agingDone\":86400"));
  free(text);
  memset(&back, 0, sizeof(back));
  ck_assert_int_eq(store_load(dir, "contoso", &back), 0);
  c = conflict_set_find(back.conflicts, key);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(c->state, CONFLICT_STUCK);
  ck_assert_int_eq(c->freed_at, NOW - 7200);
  ck_assert_int_eq(c->release_by, NOW - 3600);
  ck_assert_int_eq(c->stuck_at, NOW - 60);
  ck_assert_uint_eq(c->aging_done, 86400);
  store_state_clear(&back);
  store_state_clear(&st);
  free(path);
  free(key);
}
END_TEST

/* A bad sweep member makes the file corrupt, like any bad member. */
START_TEST(test_bad_sweep_member_is_corrupt)
{
  static const char *const bad[] = {
      "\"state\":\"released\"",
      "\"state\":\"freed\",\"freedAt\":\"yesterday\"",
      "\"state\":\"active\",\"agingDone\":-5",
      "\"state\":\"active\",\"agingDone\":\"1d\"",
  };
  size_t i;

  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char doc[512];

    snprintf(doc, sizeof(doc),
             "{\"schema\":3,\"tenant\":\"contoso\",\"conflicts\":[{"
             "\"objectId\":\"u1\",\"objectType\":\"user\",\"property\":"
             "\"upn\",\"value\":\"a@b.c\",%s}]}",
             bad[i]);
    expect_corrupt(doc, "not a valid conflict list");
  }
}
END_TEST

Suite *store_suite(void)
{
  Suite *s = suite_create("store");
  TCase *tc = tcase_create("file");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_roundtrip);
  tcase_add_test(tc, test_missing);
  tcase_add_test(tc, test_failure_keeps_old);
  tcase_add_test(tc, test_corrupt);
  tcase_add_test(tc, test_future_schema);
  tcase_add_test(tc, test_schema1_migrates);
  tcase_add_test(tc, test_bad_holder_is_corrupt);
  tcase_add_test(tc, test_schema2_reads);
  tcase_add_test(tc, test_sweep_record_roundtrip);
  tcase_add_test(tc, test_bad_sweep_member_is_corrupt);
  suite_add_tcase(s, tc);
  return s;
}
