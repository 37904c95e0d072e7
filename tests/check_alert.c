/* SPDX-License-Identifier: MIT
 *
 * check_alert: the JSON lines sink (fields, one line per event, mode,
 * rotation, queueing on a full disk and later delivery), a reload of the
 * sinks, the messages, and the journald/syslog sink's fallback.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alert.h"
#include "alert_event.h"
#include "fmt.h"
#include "sink.h"
#include "testutil.h"

static char *dir, *path;
static struct conflict *upn_c, *proxy_c;
static uv_loop_t loop;

/* open_alert() opens the sinks of opts on the test's loop, spooling in
 * the test's directory. */
static int open_alert(struct alert_opts *opts, struct alert **a)
{
  opts->spool_dir = dir;
  return alert_open(&loop, opts, a);
}

/* close_alert() closes a and runs the loop until it is closed. */
static void close_alert(struct alert *a)
{
  alert_close(a, NULL, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
}

/* run_until_delivered() runs the loop until a's spools are empty. */
static void run_until_delivered(struct alert *a)
{
  while(alert_pending_count(a))
    uv_run(&loop, UV_RUN_ONCE);
}

static void setup(void)
{
  dir = tu_tmpdir();
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_ne(asprintf(&path, "%s/alerts.jsonl", dir), -1);
  upn_c = conflict_new("contoso", "u1", CONFLICT_USER, CONFLICT_UPN,
                       "john@contoso.com");
  upn_c->display_name = strdup("John Smith");
  upn_c->upn = strdup("john1234@contoso.onmicrosoft.com");
  upn_c->placeholder = true;
  upn_c->original_value = strdup("john@contoso.com");
  upn_c->occurred = 1656325769;
  upn_c->first_seen = 1700000000;
  proxy_c = conflict_new("contoso", "g1", CONFLICT_GROUP, CONFLICT_PROXY,
                         "SMTP:Sales@contoso.com");
  proxy_c->display_name = strdup("Sales \"EU\"");
}

static void teardown(void)
{
  conflict_free(upn_c);
  conflict_free(proxy_c);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  tu_rmtree(dir);
  free(dir);
  free(path);
}

/* read_lines() parses every line of file p into out[] and returns the
 * count; each line must be one JSON object. */
static int read_lines(const char *p, cJSON **out, int max)
{
  char *text = tu_slurp(p), *line, *save = NULL;
  int n = 0;

  ck_assert_ptr_nonnull(text);
  ck_assert_msg(!*text || text[strlen(text) - 1] == '\n', "no final newline");
  for(line = strtok_r(text, "\n", &save); line;
      line = strtok_r(NULL, "\n", &save)) {
    ck_assert_int_lt(n, max);
    out[n] = cJSON_Parse(line);
    ck_assert_msg(cJSON_IsObject(out[n]), "not a JSON object: %s", line);
    n++;
  }
  free(text);
  return n;
}

static const char *str(const cJSON *o, const char *name)
{
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

  ck_assert_msg(m != NULL, "no member %s", name);
  return cJSON_IsString(m) ? m->valuestring : NULL;
}

static void free_lines(cJSON **v, int n)
{
  int i;

  for(i = 0; i < n; i++)
    cJSON_Delete(v[i]);
}

START_TEST(test_jsonl_fields)
{
  struct alert_opts opts = {0};
  struct alert *a;
  struct alert_event ev;
  struct stat st;
  cJSON *l[8];
  int n;
  size_t i;

  opts.jsonl_path = path;
  ck_assert_int_eq(open_alert(&opts, &a), 0);
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", upn_c);
  ev.time.tv_sec = 1700000000;
  ev.time.tv_nsec = 123456789;
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  alert_event_init(&ev, ALERT_CONFLICT_CLEARED, "contoso", proxy_c);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  ck_assert_uint_eq(alert_pending_count(a), 0);
  close_alert(a);

  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 07777, 0640);
  n = read_lines(path, l, 8);
  ck_assert_int_eq(n, 2);
  ck_assert_str_eq(str(l[0], "time"), "2023-11-14T22:13:20.123Z");
  ck_assert_str_eq(str(l[0], "event"), "conflict.detected");
  ck_assert_str_eq(str(l[0], "severity"), "warning");
  ck_assert_str_eq(str(l[0], "tenant"), "contoso");
  ck_assert_str_eq(str(l[0], "objectId"), "u1");
  ck_assert_str_eq(str(l[0], "objectType"), "user");
  ck_assert_str_eq(str(l[0], "property"), "upn");
  ck_assert_str_eq(str(l[0], "value"), "john@contoso.com");
  ck_assert_str_eq(str(l[0], "displayName"), "John Smith");
  ck_assert_str_eq(str(l[0], "userPrincipalName"),
                   "john1234@contoso.onmicrosoft.com");
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(l[0], "placeholder")));
  ck_assert_str_eq(str(l[0], "originalValue"), "john@contoso.com");
  ck_assert_str_eq(str(l[0], "occurredDateTime"), "2022-06-27T10:29:29Z");
  ck_assert_str_eq(str(l[0], "firstSeen"), "2023-11-14T22:13:20Z");
  ck_assert_str_eq(str(l[0], "message"),
                   "UPN conflict quarantined on user John Smith (placeholder "
                   "john1234@contoso.onmicrosoft.com): john@contoso.com is "
                   "held by another object");
  ck_assert_uint_eq(strlen(str(l[0], "id")), 64);
  for(i = 0; i < 64; i++)
    ck_assert(strchr("0123456789abcdef", str(l[0], "id")[i]));

  ck_assert_str_eq(str(l[1], "event"), "conflict.cleared");
  ck_assert_str_eq(str(l[1], "severity"), "notice");
  ck_assert_str_eq(str(l[1], "objectType"), "group");
  ck_assert_str_eq(str(l[1], "property"), "proxy");
  ck_assert_str_eq(str(l[1], "value"), "Sales@contoso.com");
  ck_assert_str_eq(str(l[1], "displayName"), "Sales \"EU\"");
  ck_assert_ptr_null(str(l[1], "userPrincipalName"));
  ck_assert_ptr_null(str(l[1], "originalValue"));
  ck_assert_ptr_null(str(l[1], "occurredDateTime"));
  ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(l[1], "placeholder")));
  ck_assert_str_eq(str(l[1], "message"),
                   "Proxy address conflict cleared on group Sales \"EU\": "
                   "Sales@contoso.com is no longer quarantined");
  ck_assert_uint_eq(strlen(str(l[1], "time")), 24);
  ck_assert_str_ne(str(l[0], "id"), str(l[1], "id"));
  free_lines(l, n);
}
END_TEST

START_TEST(test_anchor_event)
{
  struct alert_opts opts = {0};
  struct alert_anchor an = {.user_id = "u1",
                            .upn = "john@contoso.com",
                            .target = "john@contoso.com",
                            .anchor = "yYuRNW0Z6kCXeYidebdT8A==",
                            .source = "csv",
                            .reference = "CHG-1",
                            .reason = "anchor-in-use"};
  struct alert *a;
  struct alert_event ev;
  cJSON *l[4];
  int n, t, u;

  /* Every type has a name and a MESSAGE_ID of its own. */
  for(t = 0; t < ALERT_NTYPES; t++) {
    ck_assert_uint_eq(strlen(alert_message_id((enum alert_type)t)), 32);
    for(u = 0; u < t; u++) {
      ck_assert_str_ne(alert_message_id((enum alert_type)t),
                       alert_message_id((enum alert_type)u));
      ck_assert_str_ne(alert_type_name((enum alert_type)t),
                       alert_type_name((enum alert_type)u));
    }
  }
  ck_assert_str_eq(alert_type_name(ALERT_ANCHOR_HALTED), "anchor.halted");
  opts.jsonl_path = path;
  ck_assert_int_eq(open_alert(&opts, &a), 0);
  alert_event_init(&ev, ALERT_ANCHOR_REFUSED, "contoso", NULL);
  ev.anchor = &an;
  ev.message = "refused";
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  an.reason = NULL;
  an.patch_request_id = "p-1";
  alert_event_init(&ev, ALERT_ANCHOR_APPLIED, "contoso", NULL);
  ev.anchor = &an;
  ev.message = "applied";
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  close_alert(a);
  n = read_lines(path, l, 4);
  ck_assert_int_eq(n, 2);
  ck_assert_str_eq(str(l[0], "event"), "anchor.refused");
  ck_assert_str_eq(str(l[0], "severity"), "warning");
  ck_assert_str_eq(str(l[0], "reason"), "anchor-in-use");
  ck_assert_str_eq(str(l[0], "anchor"), "yYuRNW0Z6kCXeYidebdT8A==");
  ck_assert_str_eq(str(l[0], "reference"), "CHG-1");
  ck_assert_str_eq(str(l[0], "userId"), "u1");
  ck_assert_ptr_null(cJSON_GetObjectItem(l[0], "objectId"));
  ck_assert_str_eq(str(l[1], "event"), "anchor.applied");
  ck_assert_ptr_null(str(l[1], "reason"));
  ck_assert_str_eq(str(l[1], "patchRequestId"), "p-1");
  ck_assert_str_ne(str(l[0], "id"), str(l[1], "id"));
  free_lines(l, n);
}
END_TEST

START_TEST(test_stable_id)
{
  struct alert_opts opts = {0};
  struct alert *a;
  struct alert_event ev;
  cJSON *l[4];
  int n;

  opts.jsonl_path = path;
  ck_assert_int_eq(open_alert(&opts, &a), 0);
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", upn_c);
  ev.time.tv_sec = 1700000000;
  ev.time.tv_nsec = 0;
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  ev.message = "custom text";
  ev.severity = LOG_ERR;
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  close_alert(a);
  n = read_lines(path, l, 4);
  ck_assert_int_eq(n, 3);
  ck_assert_str_eq(str(l[0], "id"), str(l[1], "id"));
  ck_assert_str_eq(str(l[2], "message"), "custom text");
  ck_assert_str_eq(str(l[2], "severity"), "error");
  free_lines(l, n);
}
END_TEST

START_TEST(test_rotation)
{
  struct alert_opts opts = {0};
  struct alert *a;
  struct alert_event ev;
  char *rotated;
  cJSON *l[4];

  opts.jsonl_path = path;
  ck_assert_int_ne(asprintf(&rotated, "%s.1", path), -1);
  ck_assert_int_eq(open_alert(&opts, &a), 0);
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", upn_c);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  /* logrotate's default: rename, and the daemon notices the new inode. */
  ck_assert_int_eq(rename(path, rotated), 0);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  ck_assert_int_eq(read_lines(rotated, l, 4), 1);
  cJSON_Delete(l[0]);
  ck_assert_int_eq(read_lines(path, l, 4), 1);
  cJSON_Delete(l[0]);
  /* Explicit reopen (SIGHUP). */
  ck_assert_int_eq(unlink(rotated), 0);
  ck_assert_int_eq(rename(path, rotated), 0);
  alert_reopen(a);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  ck_assert_int_eq(read_lines(path, l, 4), 1);
  cJSON_Delete(l[0]);
  close_alert(a);
  free(rotated);
}
END_TEST

START_TEST(test_full_disk_queue)
{
  struct alert_opts opts = {0};
  struct alert *a;
  struct alert_event ev;
  cJSON *l[8];
  int n;

  /* The path is a symlink to /dev/full, later replaced by a real file. */
  ck_assert_int_eq(symlink("/dev/full", path), 0);
  opts.jsonl_path = path;
  ck_assert_int_eq(open_alert(&opts, &a), 0);
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", upn_c);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  ck_assert_uint_eq(alert_pending_count(a), 1);
  alert_event_init(&ev, ALERT_CONFLICT_CLEARED, "contoso", upn_c);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  ck_assert_uint_eq(alert_pending_count(a), 2);
  /* Held in the spool, in order, until the file can be written. */
  ck_assert_int_eq(unlink(path), 0);
  run_until_delivered(a);
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", proxy_c);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  close_alert(a);
  n = read_lines(path, l, 8);
  ck_assert_int_eq(n, 3);
  ck_assert_str_eq(str(l[0], "event"), "conflict.detected");
  ck_assert_str_eq(str(l[1], "event"), "conflict.cleared");
  ck_assert_str_eq(str(l[2], "objectId"), "g1");
  free_lines(l, n);
}
END_TEST

START_TEST(test_missing_dir_queues)
{
  struct alert_opts opts = {0};
  struct alert *a;
  struct alert_event ev;
  char *sub;

  ck_assert_int_ne(asprintf(&sub, "%s/later/alerts.jsonl", dir), -1);
  opts.jsonl_path = sub;
  ck_assert_int_eq(open_alert(&opts, &a), 0);
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", upn_c);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  ck_assert_uint_eq(alert_pending_count(a), 1);
  *strrchr(sub, '/') = '\0';
  ck_assert_int_eq(mkdir(sub, 0750), 0);
  run_until_delivered(a);
  close_alert(a);
  free(sub);
}
END_TEST

/* emit_three() sends three alerts through a journal sink on a loop of
 * its own and runs it until they are delivered (in tu_logger_capture()'s
 * child, so no ck_assert): returns 0, or the step that failed. */
static int emit_three(void *arg)
{
  struct cfg_sink sk = {0};
  struct alert_opts opts = {0};
  struct alert_event ev;
  struct alert *a;
  uv_loop_t l;

  (void)arg;
  sk.name = "journal";
  sk.type = CFG_SINK_JOURNAL;
  sk.min_severity = LOG_DEBUG;
  sk.facility = 19; /* local3 */
  sk.spool_max = 1 << 20;
  opts.sinks = &sk;
  opts.spool_dir = dir;
  if(uv_loop_init(&l) || alert_open(&l, &opts, &a))
    return 1;
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", upn_c);
  if(alert_emit(a, &ev))
    return 2;
  alert_event_init(&ev, ALERT_CONFLICT_CLEARED, "contoso", proxy_c);
  if(alert_emit(a, &ev))
    return 3;
  alert_event_init(&ev, ALERT_TENANT_FAILING, "contoso", NULL);
  if(alert_emit(a, &ev))
    return 4;
  while(alert_pending_count(a))
    uv_run(&l, UV_RUN_ONCE);
  alert_close(a, NULL, NULL);
  uv_run(&l, UV_RUN_DEFAULT);
  return uv_loop_close(&l) ? 5 : 0;
}

/* Without journald the journal sink really delivers to the system
 * logger's /dev/log: a datagram per alert, with the syslog(3) header and
 * the alert as JSON. */
START_TEST(test_syslog_fallback)
{
  static const char *const events[] = {"conflict.detected", "conflict.cleared",
                                       "tenant.failing"};
  static const int prio[] = {19 * 8 + 4, 19 * 8 + 5, 19 * 8 + 3};
  struct tu_datagram *m;
  int n, i;

  n = tu_logger_capture(false, emit_three, NULL, &m);
  ck_assert_int_eq(n, 3);
  for(i = 0; i < n; i++) {
    char head[16];
    const char *json;
    cJSON *o;

    ck_assert(!m[i].journal);
    snprintf(head, sizeof(head), "<%d>", prio[i]);
    ck_assert_msg(!strncmp(m[i].data, head, strlen(head)), "header: %s",
                  m[i].data);
    ck_assert_ptr_nonnull(strstr(m[i].data, " quarantined["));
    json = strstr(m[i].data, "]: ");
    ck_assert_ptr_nonnull(json);
    o = cJSON_Parse(json + 3);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(str(o, "event"), events[i]);
    ck_assert_str_eq(str(o, "tenant"), "contoso");
    cJSON_Delete(o);
  }
  tu_datagrams_free(m, n);
}
END_TEST

/* jfield() finds key in a datagram of journald's native protocol and
 * copies its value into out: "KEY=value\n", or, for a value that holds a
 * newline, "KEY\n" + 64-bit little-endian length + value + "\n".
 * Returns out, or NULL when the key is absent. */
static const char *jfield(const struct tu_datagram *d, const char *key,
                          char *out, size_t len)
{
  const char *p = d->data, *end = d->data + d->len;

  while(p < end) {
    const char *k = p, *val;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eq = memchr(p, '=', (size_t)(end - p));
    size_t klen, vlen;

    ck_assert_ptr_nonnull(nl);
    if(eq && eq < nl) {
      klen = (size_t)(eq - k);
      val = eq + 1;
      vlen = (size_t)(nl - val);
    }
    else {
      uint64_t n = 0;
      int i;

      klen = (size_t)(nl - k);
      ck_assert_int_ge(end - nl, 9);
      for(i = 8; i >= 1; i--)
        n = n << 8 | (unsigned char)nl[i];
      val = nl + 9;
      vlen = (size_t)n;
      ck_assert(val + vlen < end && val[vlen] == '\n');
    }
    p = val + vlen + 1;
    if(klen == strlen(key) && !strncmp(k, key, klen)) {
      snprintf(out, len, "%.*s", (int)vlen, val);
      return out;
    }
  }
  return NULL;
}

/* With journald: entries with native fields, nothing to /dev/log. */
START_TEST(test_journal_fields)
{
#ifdef HAVE_LIBSYSTEMD
  struct tu_datagram *m;
  char v[1024];
  int n, i;

  n = tu_logger_capture(true, emit_three, NULL, &m);
  ck_assert_int_eq(n, 3);
  for(i = 0; i < n; i++)
    ck_assert(m[i].journal);
  ck_assert_str_eq(jfield(&m[0], "MESSAGE_ID", v, sizeof(v)),
                   "c0a3882bb77148cbabf99b280e2e3c90");
  ck_assert_str_eq(jfield(&m[0], "PRIORITY", v, sizeof(v)), "4");
  ck_assert_str_eq(jfield(&m[0], "SYSLOG_IDENTIFIER", v, sizeof(v)),
                   "quarantined");
  ck_assert_str_eq(jfield(&m[0], "QD_EVENT", v, sizeof(v)),
                   "conflict.detected");
  ck_assert_str_eq(jfield(&m[0], "QD_TENANT", v, sizeof(v)), "contoso");
  ck_assert_str_eq(jfield(&m[0], "QD_OBJECT_ID", v, sizeof(v)), "u1");
  ck_assert_str_eq(jfield(&m[0], "QD_OBJECT_TYPE", v, sizeof(v)), "user");
  ck_assert_str_eq(jfield(&m[0], "QD_PROPERTY", v, sizeof(v)), "upn");
  ck_assert_str_eq(jfield(&m[0], "QD_VALUE", v, sizeof(v)), "john@contoso.com");
  ck_assert_str_eq(jfield(&m[0], "QD_DISPLAY_NAME", v, sizeof(v)),
                   "John Smith");
  ck_assert_str_eq(jfield(&m[0], "QD_STATE", v, sizeof(v)), "active");
  ck_assert_ptr_nonnull(strstr(jfield(&m[0], "MESSAGE", v, sizeof(v)),
                               "UPN conflict quarantined on user John Smith"));
  ck_assert_ptr_null(jfield(&m[0], "QD_FREED_AT", v, sizeof(v)));
  ck_assert_str_eq(jfield(&m[2], "MESSAGE_ID", v, sizeof(v)),
                   alert_message_id(ALERT_TENANT_FAILING));
  tu_datagrams_free(m, n);
#endif
}
END_TEST

START_TEST(test_messages)
{
  struct alert_event ev;
  char buf[512];

  ck_assert_str_eq(alert_type_name(ALERT_CONFLICT_DETECTED),
                   "conflict.detected");
  ck_assert_str_eq(alert_type_name(ALERT_CONFLICT_CLEARED), "conflict.cleared");
  ck_assert_uint_eq(strlen(alert_message_id(ALERT_CONFLICT_DETECTED)), 32);
  ck_assert_str_ne(alert_message_id(ALERT_CONFLICT_DETECTED),
                   alert_message_id(ALERT_CONFLICT_CLEARED));
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", proxy_c);
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "Proxy address conflict quarantined on group Sales "
                   "\"EU\": Sales@contoso.com is held by another object");
  free(proxy_c->display_name);
  proxy_c->display_name = NULL;
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "Proxy address conflict quarantined on group g1: "
                   "Sales@contoso.com is held by another object");
  upn_c->placeholder = false;
  upn_c->upn[0] = 'J';
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", upn_c);
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "UPN conflict quarantined on user John Smith "
                   "(John1234@contoso.onmicrosoft.com): john@contoso.com is "
                   "held by another object");
}
END_TEST

/* The sweep's events: names, distinct MESSAGE_IDs, one-line messages. */
START_TEST(test_sweep_messages)
{
  struct alert_sweep sw;
  struct alert_event ev;
  char buf[512];
  int t, u;

  for(t = 0; t < ALERT_NTYPES; t++) {
    ck_assert_uint_eq(strlen(alert_message_id((enum alert_type)t)), 32);
    for(u = 0; u < t; u++)
      ck_assert_str_ne(alert_message_id((enum alert_type)t),
                       alert_message_id((enum alert_type)u));
  }
  ck_assert_str_eq(alert_type_name(ALERT_CONFLICT_FREED), "conflict.freed");
  ck_assert_str_eq(alert_type_name(ALERT_CONFLICT_RELEASED),
                   "conflict.released");
  ck_assert_str_eq(alert_type_name(ALERT_CONFLICT_STUCK), "conflict.stuck");
  ck_assert_str_eq(alert_type_name(ALERT_CONFLICT_AGING), "conflict.aging");
  ck_assert_str_eq(alert_type_name(ALERT_CONFLICT_HELD), "conflict.held");

  upn_c->state = CONFLICT_FREED;
  upn_c->freed_at = 1700000000;
  upn_c->release_by = 1700000000 + 3600;
  alert_event_init(&ev, ALERT_CONFLICT_FREED, "contoso", upn_c);
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "UPN conflict freed on user John Smith (placeholder "
                   "john1234@contoso.onmicrosoft.com): no object holds "
                   "john@contoso.com any more; the service should release it "
                   "within the hour (by 2023-11-14T23:13:20Z)");
  upn_c->release_by = 1700000000 + 90;
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "UPN conflict freed on user John Smith (placeholder "
                   "john1234@contoso.onmicrosoft.com): no object holds "
                   "john@contoso.com any more; the service should release it "
                   "within 1m 30s (by 2023-11-14T22:14:50Z)");

  memset(&sw, 0, sizeof(sw));
  sw.released_at = 1700000000 + 3725;
  sw.time_to_release = 3725;
  alert_event_init(&ev, ALERT_CONFLICT_RELEASED, "contoso", upn_c);
  ev.sweep = &sw;
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "UPN conflict released on user John Smith (placeholder "
                   "john1234@contoso.onmicrosoft.com): john@contoso.com is "
                   "back, 1h 2m after it was freed");
  upn_c->freed_at = 0;
  sw.time_to_release = 0;
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "UPN conflict released on user John Smith (placeholder "
                   "john1234@contoso.onmicrosoft.com): john@contoso.com is "
                   "back, 0s after it was first seen");

  upn_c->state = CONFLICT_STUCK;
  upn_c->freed_at = 1700000000;
  upn_c->release_by = 1700000000 + 3600;
  alert_event_init(&ev, ALERT_CONFLICT_STUCK, "contoso", upn_c);
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "UPN conflict stuck on user John Smith (placeholder "
                   "john1234@contoso.onmicrosoft.com): john@contoso.com has "
                   "been free since 2023-11-14T22:13:20Z but is still "
                   "quarantined after its expected release (by "
                   "2023-11-14T23:13:20Z); see the remediation");

  memset(&sw, 0, sizeof(sw));
  sw.age = 8 * 86400 + 7200;
  sw.threshold = 7 * 86400;
  alert_event_init(&ev, ALERT_CONFLICT_AGING, "contoso", proxy_c);
  ev.sweep = &sw;
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "Proxy address conflict on group Sales \"EU\" older than "
                   "7d: Sales@contoso.com quarantined for 8d 2h [active]");

  alert_event_init(&ev, ALERT_CONFLICT_HELD, "contoso", proxy_c);
  ck_assert_str_eq(alert_event_message(&ev, buf, sizeof(buf)),
                   "Proxy address conflict on group Sales \"EU\": "
                   "Sales@contoso.com is held again and stays quarantined: "
                   "held by another object [unknown]");
  ck_assert_ptr_null(strchr(buf, '\n'));
}
END_TEST

/* The sweep's JSON members: the state record on every conflict event, the
 * release and aging figures on their own events only. */
START_TEST(test_sweep_jsonl_fields)
{
  struct alert_opts opts = {0};
  struct alert_sweep sw;
  struct alert *a;
  struct alert_event ev;
  cJSON *l[4];
  int n;

  opts.jsonl_path = path;
  ck_assert_int_eq(open_alert(&opts, &a), 0);
  upn_c->state = CONFLICT_FREED;
  upn_c->freed_at = 1700000000;
  upn_c->release_by = 1700003600;
  memset(&sw, 0, sizeof(sw));
  sw.released_at = 1700003000;
  sw.time_to_release = 3000;
  alert_event_init(&ev, ALERT_CONFLICT_RELEASED, "contoso", upn_c);
  ev.sweep = &sw;
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  memset(&sw, 0, sizeof(sw));
  sw.age = 90000;
  sw.threshold = 86400;
  alert_event_init(&ev, ALERT_CONFLICT_AGING, "contoso", proxy_c);
  ev.sweep = &sw;
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  close_alert(a);

  n = read_lines(path, l, 4);
  ck_assert_int_eq(n, 2);
  ck_assert_str_eq(str(l[0], "event"), "conflict.released");
  ck_assert_str_eq(str(l[0], "severity"), "notice");
  ck_assert_str_eq(str(l[0], "state"), "freed");
  ck_assert_str_eq(str(l[0], "freedAt"), "2023-11-14T22:13:20Z");
  ck_assert_str_eq(str(l[0], "predictedRelease"), "2023-11-14T23:13:20Z");
  ck_assert_ptr_null(str(l[0], "stuckAt"));
  ck_assert_str_eq(str(l[0], "releasedAt"), "2023-11-14T23:03:20Z");
  ck_assert_int_eq(
      cJSON_GetObjectItem(l[0], "timeToReleaseSeconds")->valuedouble, 3000);
  ck_assert_ptr_null(cJSON_GetObjectItem(l[0], "thresholdSeconds"));
  ck_assert_str_eq(str(l[1], "event"), "conflict.aging");
  ck_assert_str_eq(str(l[1], "severity"), "warning");
  ck_assert_str_eq(str(l[1], "state"), "active");
  ck_assert_ptr_null(str(l[1], "freedAt"));
  ck_assert_int_eq(cJSON_GetObjectItem(l[1], "ageSeconds")->valuedouble, 90000);
  ck_assert_int_eq(cJSON_GetObjectItem(l[1], "thresholdSeconds")->valuedouble,
                   86400);
  ck_assert_ptr_null(cJSON_GetObjectItem(l[1], "timeToReleaseSeconds"));
  free_lines(l, n);
}
END_TEST

/* A reload keeps the unchanged sink, replaces the changed one (its next
 * alerts in the new format, none lost) and starts the new one. */
START_TEST(test_reload)
{
  struct alert_opts o1 = {0}, o2 = {0};
  struct cfg_sink f1 = {0}, f2, g;
  struct alert *a;
  struct alert_event ev;
  char *fpath, *gpath, *text;
  cJSON *l[4];

  ck_assert_int_ne(asprintf(&fpath, "%s/f.log", dir), -1);
  ck_assert_int_ne(asprintf(&gpath, "%s/g.log", dir), -1);
  f1.name = (char *)(uintptr_t) "f";
  f1.type = CFG_SINK_FILE;
  f1.path = fpath;
  f1.format = FMT_JSON;
  f1.min_severity = LOG_DEBUG;
  f2 = f1;
  f2.format = FMT_CEF;
  g = f1;
  g.name = (char *)(uintptr_t) "g";
  g.path = gpath;
  f2.next = &g;
  o1.jsonl_path = o2.jsonl_path = path;
  o1.sinks = &f1;
  o2.sinks = &f2;
  o2.spool_dir = dir;
  ck_assert_int_eq(open_alert(&o1, &a), 0);
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", upn_c);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  ck_assert_int_eq(alert_reload(a, &loop, &o1, &o2), 0);
  ck_assert(alert_busy(a)); /* the old "f" hands over */
  ck_assert_int_eq(alert_reload(a, &loop, &o2, &o2), -EBUSY);
  alert_event_init(&ev, ALERT_CONFLICT_CLEARED, "contoso", upn_c);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  while(alert_busy(a) || alert_pending_count(a))
    uv_run(&loop, UV_RUN_ONCE);
  /* jsonl: both, one per line; g: the second only. */
  ck_assert_int_eq(read_lines(path, l, 4), 2);
  free_lines(l, 2);
  ck_assert_int_eq(read_lines(gpath, l, 4), 1);
  ck_assert_str_eq(str(l[0], "event"), "conflict.cleared");
  free_lines(l, 1);
  /* f: the first as JSON, the second as CEF. */
  text = tu_slurp(fpath);
  ck_assert_ptr_nonnull(text);
  ck_assert_msg(text[0] == '{' && strstr(text, "}\nCEF:0|") &&
                    strstr(text, "conflict.cleared"),
                "%s", text);
  free(text);
  close_alert(a);
  free(fpath);
  free(gpath);
}
END_TEST

/* The eventlog sink's event for each record: the message id of the type
 * (daemon/win32/messages.mc), the event type from the severity, the
 * message and remediation steps as its text, the record as its JSON.
 * The Event Log itself is checked under wine (tests/win32). */
START_TEST(test_eventlog_event)
{
  static const char *const failed =
      "{\"event\":\"anchor.failed\",\"severity\":\"error\",\"message\":"
      "\"PATCH refused\",\"remediation\":[\"Check the app role\",\"Retry\"]}";
  struct alert_opts opts = {0};
  struct alert *a;
  struct alert_event ev;
  struct plat_event pe;
  struct fmt_buf text = {0};
  cJSON *l[2];
  char *json;

  /* A record as the sinks write it. */
  opts.jsonl_path = path;
  ck_assert_int_eq(open_alert(&opts, &a), 0);
  alert_event_init(&ev, ALERT_CONFLICT_DETECTED, "contoso", upn_c);
  ck_assert_int_eq(alert_emit(a, &ev), 0);
  close_alert(a);
  ck_assert_int_eq(read_lines(path, l, 2), 1);
  json = cJSON_PrintUnformatted(l[0]);
  ck_assert_int_eq(sink_eventlog_event(json, &pe, &text), 0);
  ck_assert_uint_eq(pe.id, 100); /* MSG_ALERT_CONFLICT_DETECTED */
  ck_assert_int_eq(pe.severity, LOG_WARNING);
  ck_assert_str_eq(pe.text, str(l[0], "message"));
  ck_assert_ptr_eq(pe.json, json);
  free(text.p);
  free(json);
  free_lines(l, 1);

  memset(&text, 0, sizeof(text));
  ck_assert_int_eq(sink_eventlog_event(failed, &pe, &text), 0);
  ck_assert_uint_eq(pe.id, 109); /* MSG_ALERT_ANCHOR_FAILED */
  ck_assert_int_eq(pe.severity, LOG_ERR);
  ck_assert_str_eq(pe.text,
                   "PATCH refused\n\nRemediation:\nCheck the app role\nRetry");
  free(text.p);

  /* A type this build does not know, without a message. */
  memset(&text, 0, sizeof(text));
  ck_assert_int_eq(
      sink_eventlog_event("{\"event\":\"future.kind\"}", &pe, &text), 0);
  ck_assert_uint_eq(pe.id, 120); /* MSG_ALERT_OTHER */
  ck_assert_int_eq(pe.severity, LOG_NOTICE);
  ck_assert_str_eq(pe.text, "");
  free(text.p);

  memset(&text, 0, sizeof(text));
  ck_assert_int_eq(sink_eventlog_event("[1]", &pe, &text), -EINVAL);
  free(text.p);
}
END_TEST

Suite *alert_suite(void)
{
  Suite *s = suite_create("alert");
  TCase *tc = tcase_create("sinks");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_jsonl_fields);
  tcase_add_test(tc, test_anchor_event);
  tcase_add_test(tc, test_stable_id);
  tcase_add_test(tc, test_rotation);
  tcase_add_test(tc, test_reload);
  tcase_add_test(tc, test_full_disk_queue);
  tcase_add_test(tc, test_missing_dir_queues);
  tcase_add_test(tc, test_syslog_fallback);
  tcase_add_test(tc, test_journal_fields);
  tcase_add_test(tc, test_messages);
  tcase_add_test(tc, test_sweep_messages);
  tcase_add_test(tc, test_sweep_jsonl_fields);
  tcase_add_test(tc, test_eventlog_event);
  suite_add_tcase(s, tc);
  return s;
}
