/* SPDX-License-Identifier: MIT
 *
 * check_notify: what the service manager receives.  The test binds a
 * unix datagram socket, points $NOTIFY_SOCKET at it, and parses every
 * datagram sd_notify(3) sends: READY, STATUS, RELOADING (with
 * MONOTONIC_USEC), STOPPING, and the watchdog's WATCHDOG=1 pings from a
 * real loop.  The daemon's own start-up and shutdown messages are
 * check_lifecycle's.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "notify.h"
#include "testutil.h"

static char *dir;
static int sock = -1;

static void setup(void)
{
  struct sockaddr_un sa;

  dir = tu_tmpdir();
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir),
                   (int)sizeof(sa.sun_path));
  sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(sock, 0);
  ck_assert_int_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ck_assert_int_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  close(sock);
  sock = -1;
  tu_rmtree(dir);
  free(dir);
}

/* next() receives one datagram within timeout_ms into buf; returns its
 * length, or -1 when none came. */
static ssize_t next(char *buf, size_t len, int timeout_ms)
{
  struct pollfd pfd = {.fd = sock, .events = POLLIN};
  ssize_t n;

  if(poll(&pfd, 1, timeout_ms * tu_timeout_scale()) != 1)
    return -1;
  n = recv(sock, buf, len - 1, 0);
  ck_assert_int_gt(n, 0);
  buf[n] = '\0';
  return n;
}

/* field() returns the value of KEY in a datagram of "KEY=value" lines
 * (newline-separated, as sd_notify(3) defines them), or NULL. */
static const char *field(const char *msg, const char *key, char *out,
                         size_t len)
{
  size_t klen = strlen(key);
  const char *p = msg;

  while(p && *p) {
    const char *nl = strchr(p, '\n');
    size_t llen = nl ? (size_t)(nl - p) : strlen(p);

    if(llen > klen && !strncmp(p, key, klen) && p[klen] == '=') {
      snprintf(out, len, "%.*s", (int)(llen - klen - 1), p + klen + 1);
      return out;
    }
    p = nl ? nl + 1 : NULL;
  }
  return NULL;
}

#ifdef HAVE_LIBSYSTEMD

START_TEST(test_ready_status_reloading_stopping)
{
  char msg[1024], v[512];
  struct timespec ts;
  unsigned long long usec, now;
  char *end;

  notify_ready();
  ck_assert_int_gt(next(msg, sizeof(msg), 5000), 0);
  ck_assert_str_eq(msg, "READY=1");

  notify_status("monitoring %d tenants: %s", 2, "0 conflicts");
  ck_assert_int_gt(next(msg, sizeof(msg), 5000), 0);
  ck_assert_str_eq(field(msg, "STATUS", v, sizeof(v)),
                   "monitoring 2 tenants: 0 conflicts");

  notify_reloading();
  ck_assert_int_gt(next(msg, sizeof(msg), 5000), 0);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ck_assert_str_eq(field(msg, "RELOADING", v, sizeof(v)), "1");
  ck_assert_ptr_nonnull(field(msg, "MONOTONIC_USEC", v, sizeof(v)));
  usec = strtoull(v, &end, 10);
  ck_assert_msg(!*end && end != v, "MONOTONIC_USEC=%s", v);
  now = (unsigned long long)ts.tv_sec * 1000000ULL +
        (unsigned long long)ts.tv_nsec / 1000ULL;
  ck_assert_uint_le(usec, now); /* taken before we looked */
  ck_assert_uint_gt(usec, now - 60000000ULL);

  notify_stopping();
  ck_assert_int_gt(next(msg, sizeof(msg), 5000), 0);
  ck_assert_str_eq(msg, "STOPPING=1");
}
END_TEST

START_TEST(test_status_is_one_line_and_bounded)
{
  char msg[2048], v[1024], long_text[1500];

  memset(long_text, 'x', sizeof(long_text) - 1);
  long_text[sizeof(long_text) - 1] = '\0';
  notify_status("%s", long_text);
  ck_assert_int_gt(next(msg, sizeof(msg), 5000), 0);
  ck_assert_ptr_nonnull(field(msg, "STATUS", v, sizeof(v)));
  ck_assert_uint_lt(strlen(msg), 512); /* cut, not overflowed */
  ck_assert_ptr_null(strchr(msg, '\n'));
}
END_TEST

/* The watchdog test: the loop reads the socket until `want` pings came. */
struct pings {
  uv_poll_t poll;
  struct notify *n;
  int want, got, other, closed;
};

static void on_notify_closed(void *arg)
{
  ((struct pings *)arg)->closed = 1;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
  struct pings *p = h->data;
  char msg[256];
  ssize_t n;

  (void)events;
  ck_assert_int_eq(status, 0);
  n = recv(sock, msg, sizeof(msg) - 1, MSG_DONTWAIT);
  if(n <= 0)
    return;
  msg[n] = '\0';
  if(!strcmp(msg, "WATCHDOG=1"))
    p->got++;
  else
    p->other++;
  if(p->got == p->want) {
    uv_close((uv_handle_t *)&p->poll, NULL);
    notify_close(p->n, on_notify_closed, p);
  }
}

START_TEST(test_watchdog_pings)
{
  struct pings p;
  uv_loop_t loop;
  char pid[32];

  memset(&p, 0, sizeof(p));
  p.want = 4;
  /* 100 ms asked for: a ping at once, then every 50 ms. */
  snprintf(pid, sizeof(pid), "%ld", (long)getpid());
  ck_assert_int_eq(setenv("WATCHDOG_USEC", "100000", 1), 0);
  ck_assert_int_eq(setenv("WATCHDOG_PID", pid, 1), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(notify_new(&loop, &p.n), 0);
  /* Not inherited by post_apply_command and other children. */
  ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
  ck_assert_ptr_null(getenv("WATCHDOG_PID"));
  ck_assert_int_eq(uv_poll_init(&loop, &p.poll, sock), 0);
  p.poll.data = &p;
  ck_assert_int_eq(uv_poll_start(&p.poll, UV_READABLE, on_readable), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(p.got, 4);
  ck_assert_int_eq(p.other, 0);
  ck_assert_int_eq(p.closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

#endif /* HAVE_LIBSYSTEMD */

static void on_quiet(uv_timer_t *t)
{
  notify_close(t->data, NULL, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

START_TEST(test_no_watchdog_asked_no_ping)
{
  struct notify *n;
  uv_timer_t t;
  uv_loop_t loop;
  char msg[256];

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(notify_new(&loop, &n), 0);
  /* The loop ends by itself: no repeating timer runs. */
  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  t.data = n;
  ck_assert_int_eq(uv_timer_start(&t, on_quiet, 200, 0), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(next(msg, sizeof(msg), 0), -1);
}
END_TEST

Suite *notify_suite(void)
{
  Suite *s = suite_create("notify");
  TCase *tc = tcase_create("notify");

  tcase_add_checked_fixture(tc, setup, teardown);
#ifdef HAVE_LIBSYSTEMD
  tcase_add_test(tc, test_ready_status_reloading_stopping);
  tcase_add_test(tc, test_status_is_one_line_and_bounded);
  tcase_add_test(tc, test_watchdog_pings);
#endif
  tcase_add_test(tc, test_no_watchdog_asked_no_ping);
  tcase_set_timeout(tc, 30);
  suite_add_tcase(s, tc);
  return s;
}
