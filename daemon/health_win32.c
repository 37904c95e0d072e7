/* SPDX-License-Identifier: MIT
 *
 * health_win32: no health endpoint on Windows, where libmicrohttpd is not
 * built.  cfg_load() refuses health_listen and health_socket set to
 * anything but none there (plat_lacks(PLAT_HEALTH)), so their defaults are
 * all that reaches health_start(), and nothing listens.  See health.h.
 */
#include "health.h"

#include <stddef.h>

int health_start(uv_loop_t *loop, const char *listen, const char *socket_path,
                 health_view_cb view, void *arg, struct health **out)
{
  (void)loop;
  (void)listen;
  (void)socket_path;
  (void)view;
  (void)arg;
  *out = NULL;
  return 0;
}

const char *health_url(const struct health *h)
{
  (void)h;
  return NULL;
}

/* h is always NULL here, which health.h makes a no-op. */
void health_close(struct health *h, void (*closed_cb)(void *arg), void *arg)
{
  (void)h;
  (void)closed_cb;
  (void)arg;
}
