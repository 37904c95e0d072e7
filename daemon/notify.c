/* SPDX-License-Identifier: MIT
 *
 * notify: sd_notify(3) messages and the systemd watchdog timer.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

struct notify {
  uv_timer_t watchdog;    /* pings WATCHDOG=1 */
  uint64_t watchdog_usec; /* 0 when systemd asked for no watchdog */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* send_msg() passes msg to sd_notify(); the return value is only logged,
 * as sd_notify(3) recommends. */
static void send_msg(const char *msg)
{
#ifdef HAVE_LIBSYSTEMD
  int rc = sd_notify(0, msg);

  if(rc < 0)
    log_debug("notify: sd_notify: %s", strerror(-rc));
#else
  (void)msg;
#endif
}

static void on_watchdog(uv_timer_t *t)
{
  (void)t;
  send_msg("WATCHDOG=1");
}

int notify_new(uv_loop_t *loop, struct notify **out)
{
  struct notify *n = calloc(1, sizeof(*n));

  if(!n)
    return -ENOMEM;
#ifdef HAVE_LIBSYSTEMD
  {
    uint64_t usec = 0;

    /* 1: unset $WATCHDOG_USEC/$WATCHDOG_PID so children don't inherit. */
    if(sd_watchdog_enabled(1, &usec) > 0)
      n->watchdog_usec = usec;
  }
#endif
  /* uv_timer_init() only fills the handle in and cannot fail, and
   * uv_timer_start() only fails for a NULL callback or a closing handle. */
  uv_timer_init(loop, &n->watchdog);
  n->watchdog.data = n;
  if(n->watchdog_usec) {
    uint64_t ms = n->watchdog_usec / 2000;

    if(!ms)
      ms = 1;
    log_info("notify: systemd watchdog every %llu ms", (unsigned long long)ms);
    send_msg("WATCHDOG=1");
    uv_timer_start(&n->watchdog, on_watchdog, ms, ms);
  }
  *out = n;
  return 0;
}

static void on_closed(uv_handle_t *h)
{
  struct notify *n = h->data;
  void (*cb)(void *arg) = n->closed_cb;
  void *arg = n->closed_arg;

  free(n);
  if(cb)
    cb(arg);
}

void notify_close(struct notify *n, void (*closed_cb)(void *arg), void *arg)
{
  if(uv_is_closing((uv_handle_t *)&n->watchdog))
    return;
  n->closed_cb = closed_cb;
  n->closed_arg = arg;
  uv_close((uv_handle_t *)&n->watchdog, on_closed);
}

void notify_ready(void)
{
  send_msg("READY=1");
}

void notify_reloading(void)
{
  char msg[64];
  struct timespec ts;

  /* systemd >= 253 (Type=notify-reload) wants MONOTONIC_USEC with it. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
           (unsigned long long)ts.tv_sec * 1000000ULL +
               (unsigned long long)ts.tv_nsec / 1000ULL);
  send_msg(msg);
}

void notify_stopping(void)
{
  send_msg("STOPPING=1");
}

void notify_status(const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  int n;

  n = snprintf(msg, sizeof(msg), "STATUS=");
  va_start(ap, fmt);
  vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
  va_end(ap);
  send_msg(msg);
}
