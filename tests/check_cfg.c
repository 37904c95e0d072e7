/* SPDX-License-Identifier: MIT
 *
 * check_cfg: the option table, defaults, and the error messages an admin
 * sees for a bad configuration file.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cfg.h"
#include "testutil.h"

#define TENANT_OK                                                              \
  "[tenant contoso]\n"                                                         \
  "tenant_id = 11111111-2222-3333-4444-555555555555\n"                         \
  "client_id = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"                         \
  "client_secret_file = contoso.secret\n"

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

/* load() writes text to a file and loads it; *errors gets the messages
 * with the directory prefix removed ("x.conf:3: ..."). */
static int load(const char *text, struct cfg **cfg, char **errors)
{
  char *path = tu_write(dir, "x.conf", text);
  char *raw = NULL;
  int rc;

  *errors = NULL;
  rc = cfg_load(path, cfg, &raw);
  if(raw) {
    size_t plen = strlen(dir) + 1;
    char *out = calloc(1, strlen(raw) + 1), *o = out;
    const char *p = raw;

    while(*p) {
      if(!strncmp(p, dir, plen - 1) && p[plen - 1] == '/')
        p += plen;
      *o++ = *p++;
    }
    free(raw);
    *errors = out;
  }
  free(path);
  return rc;
}

static void expect_error(const char *text, const char *message)
{
  struct cfg *cfg = NULL;
  char *errors;
  int rc = load(text, &cfg, &errors);

  ck_assert_int_eq(rc, -EINVAL);
  ck_assert_ptr_null(cfg);
  ck_assert_ptr_nonnull(errors);
  ck_assert_msg(strstr(errors, message) != NULL, "expected '%s' in:\n%s",
                message, errors);
  free(errors);
}

START_TEST(test_defaults)
{
  struct cfg *cfg = NULL;
  char *errors, *secret;
  const struct cfg_tenant *t;

  ck_assert_int_eq(load(TENANT_OK, &cfg, &errors), 0);
  ck_assert_ptr_null(errors);
  ck_assert_str_eq(cfg->state_dir, "/var/lib/quarantined");
  ck_assert_int_eq(cfg->log_level, LOG_INFO);
  ck_assert_uint_eq(cfg->poll_interval, 300);
  ck_assert_int_eq(cfg->inventory_mode, CFG_INVENTORY_FILTER);
  ck_assert_uint_eq(cfg->delta_resync, 86400);
  /* Holder lookups ask the cautious way unless told. */
  ck_assert_int_eq(cfg->lookup_case, CFG_LOOKUP_EXACT);
  ck_assert_int_eq(cfg->lookup_mail, 1);
  ck_assert_uint_eq(cfg->ntenants, 1);
  t = cfg_tenant_find(cfg, "contoso");
  ck_assert_ptr_nonnull(t);
  ck_assert_str_eq(t->login_url, "https://login.microsoftonline.com");
  ck_assert_str_eq(t->graph_url, "https://graph.microsoft.com");
  ck_assert_uint_eq(t->poll_interval, 0);
  /* Relative file names are taken from the config file's directory. */
  ck_assert_int_ne(asprintf(&secret, "%s/contoso.secret", dir), -1);
  ck_assert_str_eq(t->client_secret_file, secret);
  ck_assert_ptr_null(t->certificate_file);
  free(secret);
  cfg_free(cfg);
}
END_TEST

START_TEST(test_full)
{
  struct cfg *cfg = NULL;
  char *errors;
  const struct cfg_tenant *t;

  ck_assert_int_eq(load("# comment\n"
                        "[daemon]\n"
                        "state_dir = /srv/qd\n"
                        "log_level = debug\n"
                        "poll_interval = 2m\n"
                        "inventory = delta\n"
                        "delta_full_resync = 0\n"
                        "lookup_case = insensitive\n"
                        "lookup_mail = no\n"
                        "\n"
                        "[tenant a]\n"
                        "tenant_id = contoso.onmicrosoft.com\n"
                        "client_id = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
                        "certificate_file = /etc/qd/a.pem\n"
                        "private_key_credential = a.key\n"
                        "login_url = https://login.microsoftonline.us/\n"
                        "graph_url = https://graph.microsoft.us\n"
                        "poll_interval = 1h\n"
                        "[tenant b]\n"
                        "tenant_id = 11111111-2222-3333-4444-555555555555\n"
                        "client_id = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
                        "client_secret_credential = b.secret\n"
                        "graph_url = http://127.0.0.1:8443\n"
                        "ca_file = /etc/qd/ca.pem\n",
                        &cfg, &errors),
                   0);
  ck_assert_str_eq(cfg->state_dir, "/srv/qd");
  ck_assert_int_eq(cfg->log_level, LOG_DEBUG);
  ck_assert_uint_eq(cfg->poll_interval, 120);
  ck_assert_int_eq(cfg->inventory_mode, CFG_INVENTORY_DELTA);
  ck_assert_uint_eq(cfg->delta_resync, 0);
  ck_assert_int_eq(cfg->lookup_case, CFG_LOOKUP_INSENSITIVE);
  ck_assert_int_eq(cfg->lookup_mail, 0);
  ck_assert_uint_eq(cfg->ntenants, 2);
  ck_assert_str_eq(cfg->tenants->name, "a");
  ck_assert_str_eq(cfg->tenants->next->name, "b");
  t = cfg_tenant_find(cfg, "a");
  ck_assert_uint_eq(t->line, 11);
  ck_assert_str_eq(t->login_url, "https://login.microsoftonline.us");
  ck_assert_str_eq(t->private_key_credential, "a.key");
  ck_assert_uint_eq(t->poll_interval, 3600);
  t = cfg_tenant_find(cfg, "b");
  ck_assert_str_eq(t->graph_url, "http://127.0.0.1:8443");
  ck_assert_str_eq(t->client_secret_credential, "b.secret");
  cfg_free(cfg);
}
END_TEST

START_TEST(test_unknown_key)
{
  expect_error("[daemon]\npoll_intervall = 5m\n" TENANT_OK,
               "x.conf:2: unknown key 'poll_intervall' in [daemon]; did you "
               "mean 'poll_interval'?");
  /* The section is named as the file names it, with the nearest key. */
  expect_error(TENANT_OK "client_scret_file = x\n",
               "x.conf:5: unknown key 'client_scret_file' in [tenant "
               "contoso]; did you mean 'client_secret_file'?");
  expect_error(TENANT_OK "client_secret = x\n",
               "x.conf:5: unknown key 'client_secret' in [tenant contoso]; "
               "did you mean 'client_secret_file'?");
  /* A key of another section says where it belongs. */
  expect_error("[alerts]\nstate_dir = /x\n" TENANT_OK,
               "x.conf:2: unknown key 'state_dir' in [alerts]; it belongs in "
               "[daemon]");
  /* Nothing close: no suggestion. */
  expect_error(TENANT_OK "colour = blue\n",
               "x.conf:5: unknown key 'colour' in [tenant contoso]\n");
}
END_TEST

START_TEST(test_unknown_section)
{
  expect_error(TENANT_OK "[deamon]\nlog_level = info\n",
               "x.conf:5: unknown section [deamon]");
}
END_TEST

START_TEST(test_duplicate_key)
{
  expect_error("[daemon]\nlog_level = info\nlog_level = debug\n" TENANT_OK,
               "x.conf:3: duplicate key 'log_level' (first on line 2)");
}
END_TEST

START_TEST(test_missing_required)
{
  expect_error("[daemon]\n\n[tenant x]\nclient_id = "
               "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\nclient_secret_file=/s\n",
               "x.conf:3: [tenant x]: missing required key 'tenant_id'");
}
END_TEST

START_TEST(test_bad_values)
{
  expect_error(TENANT_OK "poll_interval = 5 minutes\n",
               "x.conf:5: poll_interval: '5 minutes' is not a duration");
  expect_error(TENANT_OK "poll_interval = 0s\n",
               "x.conf:5: poll_interval: '0s' is out of range (1s to 1d)");
  expect_error("[daemon]\nlog_level = loud\n" TENANT_OK,
               "x.conf:2: log_level: 'loud' is not one of error, warning");
  expect_error("[tenant t]\ntenant_id = contoso\nclient_id = x\n"
               "client_secret_file = /s\n",
               "x.conf:2: tenant_id: 'contoso' is not a tenant GUID");
  expect_error("[tenant t]\ntenant_id = contoso\nclient_id = x\n"
               "client_secret_file = /s\n",
               "x.conf:3: client_id: 'x' is not a GUID");
  expect_error(TENANT_OK "client_secret_file =\n",
               "x.conf:5: duplicate key 'client_secret_file'");
  expect_error(TENANT_OK "ca_file =\n", "x.conf:5: ca_file: empty value");
  expect_error("[daemon]\ninventory = deltas\n" TENANT_OK,
               "x.conf:2: inventory: 'deltas' is not filter, scan or delta");
  expect_error("[daemon]\ndelta_full_resync = 91d\n" TENANT_OK,
               "x.conf:2: delta_full_resync: '91d' is out of range (0s to "
               "90d)");
  expect_error("[daemon]\npage_size = 1000\n" TENANT_OK,
               "x.conf:2: page_size: '1000' is out of range (1 to 999)");
  expect_error("[daemon]\nlookup_case = lower\n" TENANT_OK,
               "x.conf:2: lookup_case: 'lower' is not one of exact, "
               "insensitive");
  expect_error("[daemon]\nmax_response_size = 1T\n" TENANT_OK,
               "x.conf:2: max_response_size: '1T' is not a size");
}
END_TEST

START_TEST(test_urls)
{
  expect_error(TENANT_OK "graph_url = http://graph.microsoft.com\n",
               "x.conf:5: graph_url: 'http://graph.microsoft.com' uses plain "
               "http:// to a host that is not loopback");
  expect_error(TENANT_OK "login_url = ftp://x\n",
               "x.conf:5: login_url: 'ftp://x' must start with https://");
  expect_error(TENANT_OK "login_url = https://u:p@login.example\n",
               "must not contain user information");
  expect_error(TENANT_OK "login_url = https://login.example/?x=1\n",
               "must not carry a query");
}
END_TEST

START_TEST(test_credentials)
{
  expect_error(TENANT_OK "certificate_file = /c.pem\nprivate_key_file = /k\n",
               "x.conf:1: [tenant contoso]: give either a client secret or a "
               "certificate and key, not both");
  expect_error("[tenant t]\ntenant_id = 11111111-2222-3333-4444-555555555555\n"
               "client_id = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n",
               "x.conf:1: [tenant t]: no credential");
  expect_error("[tenant t]\ntenant_id = 11111111-2222-3333-4444-555555555555\n"
               "client_id = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
               "certificate_file = /c.pem\n",
               "certificate_file and private_key_file (or "
               "private_key_credential) go together");
  expect_error(TENANT_OK "client_secret_credential = s\n",
               "give client_secret_file or client_secret_credential, not both");
  expect_error(TENANT_OK "private_key_credential = ../k\n",
               "x.conf:5: private_key_credential: '../k' is not a credential "
               "name");
}
END_TEST

START_TEST(test_structure)
{
  expect_error("log_level = info\n" TENANT_OK,
               "x.conf:1: 'log_level' is outside any section");
  expect_error("[daemon]\n", "x.conf: no [tenant NAME] section");
  expect_error(TENANT_OK TENANT_OK,
               "x.conf:5: duplicate section [tenant contoso] (first on line "
               "1)");
  expect_error("[daemon]\n[daemon]\n" TENANT_OK,
               "x.conf:2: duplicate section [daemon]");
  expect_error("[tenant]\n" TENANT_OK, "x.conf:1: [tenant] needs a name");
  expect_error("[tenant a/b]\n" TENANT_OK,
               "x.conf:1: tenant name 'a/b' may use only");
  expect_error("[daemon]\njust words\n" TENANT_OK,
               "x.conf:2: syntax error (expected 'key = value'");
}
END_TEST

START_TEST(test_all_errors_reported)
{
  struct cfg *cfg = NULL;
  char *errors;

  ck_assert_int_eq(load("[daemon]\nlog_level = x\npoll_interval = y\n"
                        "bogus = 1\n" TENANT_OK,
                        &cfg, &errors),
                   -EINVAL);
  ck_assert_ptr_nonnull(strstr(errors, "x.conf:2: log_level"));
  ck_assert_ptr_nonnull(strstr(errors, "x.conf:3: poll_interval"));
  ck_assert_ptr_nonnull(strstr(errors, "x.conf:4: unknown key 'bogus'"));
  free(errors);
}
END_TEST

START_TEST(test_missing_file)
{
  struct cfg *cfg = NULL;
  char *errors = NULL;

  ck_assert_int_eq(cfg_load("/nonexistent/q.conf", &cfg, &errors), -ENOENT);
  ck_assert_str_eq(errors, "/nonexistent/q.conf: cannot open: No such file or "
                           "directory\n");
  free(errors);
}
END_TEST

START_TEST(test_long_line)
{
  char *text = malloc(3 * CFG_LINE_MAX);
  struct cfg *cfg = NULL;
  char *errors = NULL;
  size_t head;

  /* A 4 KiB command line is read whole... */
  strcpy(text, TENANT_OK "post_apply_command = /bin/echo ");
  head = strlen(text);
  memset(text + head, 'a', 4096);
  strcpy(text + head + 4096, "\n");
  ck_assert_int_eq(load(text, &cfg, &errors), 0);
  ck_assert_uint_eq(strlen(cfg->tenants->post_apply_command), 10 + 4096);
  cfg_free(cfg);

  /* ...and so is a line of exactly CFG_LINE_MAX bytes, with CR LF. */
  strcpy(text, TENANT_OK "post_apply_command = ");
  head = strlen(text);
  memset(text + head, 'b', CFG_LINE_MAX - strlen("post_apply_command = "));
  strcpy(text + head + CFG_LINE_MAX - strlen("post_apply_command = "), "\r\n");
  ck_assert_int_eq(load(text, &cfg, &errors), 0);
  cfg_free(cfg);

  /* One byte more is an error naming the line and the limit. */
  strcpy(text, "[daemon]\nstate_dir = /");
  head = strlen(text);
  memset(text + head, 'a', CFG_LINE_MAX);
  strcpy(text + head + CFG_LINE_MAX, "\n" TENANT_OK);
  expect_error(text, "x.conf:2: line longer than 8192 bytes\n");
  free(text);
}
END_TEST

START_TEST(test_alerts)
{
  struct cfg *cfg = NULL;
  char *errors;

  ck_assert_int_eq(load(TENANT_OK, &cfg, &errors), 0);
  ck_assert_int_eq(cfg->alert_syslog, 1);
  ck_assert_ptr_null(cfg->alert_jsonl_file);
  cfg_free(cfg);
  ck_assert_int_eq(load("[alerts]\nsyslog = No\njsonl_file = alerts.jsonl\n"
                        "[daemon]\nlog_level = info\n" TENANT_OK,
                        &cfg, &errors),
                   0);
  ck_assert_int_eq(cfg->alert_syslog, 0);
  ck_assert_str_eq(strrchr(cfg->alert_jsonl_file, '/'), "/alerts.jsonl");
  ck_assert_int_eq(strncmp(cfg->alert_jsonl_file, dir, strlen(dir)), 0);
  cfg_free(cfg);
  expect_error("[alerts]\nsyslog = maybe\n" TENANT_OK,
               "x.conf:2: syslog: 'maybe' is not yes or no");
  expect_error("[alerts]\n[alerts]\n" TENANT_OK,
               "x.conf:2: duplicate section [alerts]");
  expect_error("[alerts]\nstate_dir = /x\n" TENANT_OK,
               "x.conf:2: unknown key 'state_dir' in [alerts]");
}
END_TEST

/* The sweep's options: defaults, a list of ages, and the list's errors. */
START_TEST(test_sweep_options)
{
  struct cfg *cfg = NULL;
  char *errors;

  ck_assert_int_eq(load(TENANT_OK, &cfg, &errors), 0);
  ck_assert_uint_eq(cfg->sweep_interval, 3600);
  ck_assert_uint_eq(cfg->sweep_grace, 1800);
  ck_assert_uint_eq(cfg->aging.n, 2);
  ck_assert_uint_eq(cfg->aging.v[0], 86400);
  ck_assert_uint_eq(cfg->aging.v[1], 7 * 86400);
  cfg_free(cfg);
  /* Sorted, spaces allowed; grace 0 allowed. */
  ck_assert_int_eq(load("[daemon]\nsweep_interval = 2s\nsweep_grace = 0\n"
                        "aging = 30d, 2s ,4s\n" TENANT_OK,
                        &cfg, &errors),
                   0);
  ck_assert_uint_eq(cfg->sweep_interval, 2);
  ck_assert_uint_eq(cfg->sweep_grace, 0);
  ck_assert_uint_eq(cfg->aging.n, 3);
  ck_assert_uint_eq(cfg->aging.v[0], 2);
  ck_assert_uint_eq(cfg->aging.v[1], 4);
  ck_assert_uint_eq(cfg->aging.v[2], 30 * 86400);
  cfg_free(cfg);
  /* Empty: no aging alerts. */
  ck_assert_int_eq(load("[daemon]\naging =\n" TENANT_OK, &cfg, &errors), 0);
  ck_assert_uint_eq(cfg->aging.n, 0);
  cfg_free(cfg);

  expect_error("[daemon]\nsweep_interval = 0\n" TENANT_OK,
               "x.conf:2: sweep_interval: '0' is out of range (1s to 1d)");
  expect_error("[daemon]\nsweep_grace = 2d\n" TENANT_OK,
               "x.conf:2: sweep_grace: '2d' is out of range (0s to 1d)");
  expect_error("[daemon]\naging = 1d,week\n" TENANT_OK,
               "x.conf:2: aging: 'week' is not durations such as 1d,7d");
  expect_error("[daemon]\naging = 1d,,7d\n" TENANT_OK,
               "x.conf:2: aging: '' is not durations such as 1d,7d");
  expect_error("[daemon]\naging = 1d,7d,\n" TENANT_OK,
               "x.conf:2: aging: ends with ','");
  expect_error("[daemon]\naging = 1d,24h\n" TENANT_OK,
               "x.conf:2: aging: '24h' is given twice");
  expect_error("[daemon]\naging = 0s\n" TENANT_OK,
               "x.conf:2: aging: '0s' is out of range (1s to 365d)");
  expect_error("[daemon]\naging = 1s,2s,3s,4s,5s,6s,7s,8s,9s\n" TENANT_OK,
               "x.conf:2: aging: more than 8 durations");
}
END_TEST

/* Durations are timex's: check_timex.c. */
START_TEST(test_size_parser)
{
  unsigned long long v;

  ck_assert_int_eq(cfg_parse_size("64M", &v), 0);
  ck_assert_uint_eq(v, 64ULL << 20);
  ck_assert_int_eq(cfg_parse_size("1x", &v), -EINVAL);
  ck_assert_int_eq(cfg_parse_size("512", &v), 0);
  ck_assert_uint_eq(v, 512);
  ck_assert_int_eq(cfg_parse_size("64k", &v), 0);
  ck_assert_uint_eq(v, 64ULL << 10);
  ck_assert_int_eq(cfg_parse_size("1G", &v), 0);
  ck_assert_uint_eq(v, 1ULL << 30);
  ck_assert_int_eq(cfg_parse_size("17179869183G", &v), 0);
  ck_assert_int_eq(cfg_parse_size("17179869184G", &v), -ERANGE);
  ck_assert_int_eq(cfg_parse_size("1KB", &v), -EINVAL);
  ck_assert_int_eq(cfg_parse_size("1m", &v), -EINVAL);
  ck_assert_int_eq(cfg_parse_size("K", &v), -EINVAL);
}
END_TEST

Suite *cfg_suite(void)
{
  Suite *s = suite_create("cfg");
  TCase *tc = tcase_create("table");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_defaults);
  tcase_add_test(tc, test_full);
  tcase_add_test(tc, test_unknown_key);
  tcase_add_test(tc, test_unknown_section);
  tcase_add_test(tc, test_duplicate_key);
  tcase_add_test(tc, test_missing_required);
  tcase_add_test(tc, test_bad_values);
  tcase_add_test(tc, test_urls);
  tcase_add_test(tc, test_credentials);
  tcase_add_test(tc, test_structure);
  tcase_add_test(tc, test_all_errors_reported);
  tcase_add_test(tc, test_missing_file);
  tcase_add_test(tc, test_long_line);
  tcase_add_test(tc, test_alerts);
  tcase_add_test(tc, test_size_parser);
  tcase_add_test(tc, test_sweep_options);
  suite_add_tcase(s, tc);
  return s;
}
