/* SPDX-License-Identifier: MIT
 *
 * notify: talks to the service manager (sd_notify(3)): READY, STATUS,
 * RELOADING, STOPPING, and WATCHDOG pings from a uv timer at half the
 * interval systemd asks for.  Without libsystemd (USE_SYSTEMD=no) every
 * call is a no-op, as it is at run time when $NOTIFY_SOCKET is unset.
 */
#ifndef QD_NOTIFY_H
#define QD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "log.h"

struct notify {
  uv_timer_t watchdog;    /* pings WATCHDOG=1; closed by notify_close() */
  uint64_t watchdog_usec; /* 0 when systemd asked for no watchdog */
  int open;
  int (*wedged)(void *arg, char *why, size_t len); /* or NULL */
  void *wedged_arg;
  int triggered; /* WATCHDOG=trigger was sent */
};

/* notify_init() reads $WATCHDOG_USEC (and unsets the watchdog variables
 * so children do not inherit them) and, when a watchdog is requested,
 * starts a repeating timer on loop that pings at half the interval.  n is
 * owned by the caller and must stay valid until notify_close()'s close
 * callback has run (i.e. until the loop has run after notify_close()).
 * Returns 0 or a negative errno code from libuv. */
int notify_init(struct notify *n, uv_loop_t *loop);

/* notify_set_check() makes every watchdog ping ask wedged(arg) first: a
 * non-zero answer (why filled in) sends WATCHDOG=trigger instead, so
 * systemd restarts a daemon whose loop runs but is stuck (see
 * sd_notify(3)).  It is logged once. */
void notify_set_check(struct notify *n,
                      int (*wedged)(void *arg, char *why, size_t len),
                      void *arg);

/* notify_close() stops and closes the watchdog timer. */
void notify_close(struct notify *n);

/* Each of these sends one message; failures are logged at debug level
 * only, since a daemon started from a shell has no service manager. */
void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) QD_PRINTF(1, 2);

#endif
