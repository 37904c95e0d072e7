/* SPDX-License-Identifier: MIT
 *
 * notify: readiness messages to the service manager (sd_notify(3) or the
 * Windows service control manager, through plat.h) and the systemd
 * watchdog timer.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plat.h"

struct notify {
  uv_timer_t watchdog;    /* pings WATCHDOG=1 */
  uint64_t watchdog_usec; /* 0 when systemd asked for no watchdog */
  int (*wedged)(void *arg, char *why, size_t len); /* or NULL */
  void *wedged_arg;
  int triggered; /* WATCHDOG=trigger was sent */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* send_msg() passes msg to the service manager (plat_notify()). */
static void send_msg(const char *msg)
{
  plat_notify(msg);
}

static void on_watchdog(uv_timer_t *t)
{
  struct notify *n = t->data;
  char why[512];

  /* WATCHDOG=trigger: "the service detected an internal error that
   * should be handled by the configured watchdog options" (systemd 243,
   * https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html). */
  if(n->wedged && n->wedged(n->wedged_arg, why, sizeof(why))) {
    if(!n->triggered)
      log_errx("notify: the daemon is wedged (%s); asking systemd to restart "
               "it",
               why);
    n->triggered = 1;
    send_msg("WATCHDOG=trigger");
    return;
  }
  send_msg("WATCHDOG=1");
}

void notify_set_check(struct notify *n,
                      int (*wedged)(void *arg, char *why, size_t len),
                      void *arg)
{
  n->wedged = wedged;
  n->wedged_arg = arg;
}

int notify_new(uv_loop_t *loop, struct notify **out)
{
  struct notify *n = calloc(1, sizeof(*n));

  if(!n)
    return -ENOMEM;
  n->watchdog_usec = plat_watchdog_usec();
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
