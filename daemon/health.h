/* SPDX-License-Identifier: MIT
 *
 * health: the daemon's HTTP endpoint, libmicrohttpd on the uv loop in its
 * external epoll mode: per listener one uv_poll_t on MHD's epoll fd and
 * one uv_timer_t from MHD_get_timeout(); no threads, and no bound on
 * descriptor numbers (see health.c for why not select).  One listener
 * on a TCP address (127.0.0.1:9471 by default) and one on a Unix socket,
 * either optional:
 *
 *   /              a page linking the others
 *   /livez         200 while the loop answers
 *   /readyz        200, or 503 with the reasons (status_ready())
 *   /metrics       Prometheus text (metrics.h)
 *   /status.json   per tenant: last cycle, result, next, counts, token
 *   /conflicts.json[?tenant=NAME]  the conflicts believed now; on the
 *                  Unix socket only, since they name people and only the
 *                  socket's mode (0660) restricts who may read them
 *
 * Only GET and HEAD are answered.  A listener that cannot be set up is
 * logged and left out: monitoring goes on without it.
 */
#ifndef QD_HEALTH_H
#define QD_HEALTH_H

#include <uv.h>

#include "status.h"

struct health;

/* Fills *v with the daemon as it is now; called for every request. */
typedef void (*health_view_cb)(void *arg, struct status_view *v);

/* health_start() listens on listen ("ADDRESS:PORT", or NULL or "none")
 * and on the Unix socket at socket_path (NULL or "none": not; a stale
 * socket file there is replaced), answering from view(arg).  Returns 0
 * with *out set (even when a listener failed: that is logged here), or
 * -ENOMEM. */
int health_start(uv_loop_t *loop, const char *listen, const char *socket_path,
                 health_view_cb view, void *arg, struct health **out);

/* health_url() is the TCP listener's URL ("http://127.0.0.1:9471/", with
 * the port the kernel chose for port 0), or NULL when there is none. */
const char *health_url(const struct health *h);

/* health_close() stops listening (the socket file is removed), closes the
 * connections and the uv handles, and frees h once they are closed; then
 * closed_cb(arg) runs if given.  NULL is a no-op. */
void health_close(struct health *h, void (*closed_cb)(void *arg), void *arg);

#endif
