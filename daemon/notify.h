/* SPDX-License-Identifier: MIT
 *
 * notify: talks to the service manager (sd_notify(3)): READY, STATUS,
 * RELOADING, STOPPING, and WATCHDOG pings from a uv timer at half the
 * interval systemd asks for.  Without libsystemd (USE_SYSTEMD=no) every
 * call is a no-op, as it is at run time when $NOTIFY_SOCKET is unset.
 */
#ifndef QD_NOTIFY_H
#define QD_NOTIFY_H

#include <uv.h>

#include "log.h"

/* The watchdog; opaque. */
struct notify;

/* notify_new() reads $WATCHDOG_USEC (and unsets the watchdog variables
 * so children do not inherit them) and, when a watchdog is requested,
 * pings once and starts a repeating timer on loop that pings at half the
 * interval.  Returns 0 with *out set (close it with notify_close()), or
 * a negative errno code. */
int notify_new(uv_loop_t *loop, struct notify **out);

/* notify_close() stops the watchdog and closes its timer; n is freed in
 * the timer's close callback, then closed_cb(arg) runs if not NULL. */
void notify_close(struct notify *n, void (*closed_cb)(void *arg), void *arg);

/* Each of these sends one message; failures are logged at debug level
 * only, since a daemon started from a shell has no service manager. */
void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) QD_PRINTF(1, 2);

#endif
