/* SPDX-License-Identifier: MIT
 *
 * preflight_int: what daemon/preflight.c asks of the system's side of the
 * checks, daemon/preflight_posix.c or daemon/preflight_win32.c.
 */
#ifndef QD_PREFLIGHT_INT_H
#define QD_PREFLIGHT_INT_H

#include "preflight.h"

enum probe { PROBE_READ, PROBE_WRITE_DIR };

/* preflight_probe() opens path for reading, or asks whether the directory
 * path can be written to, as user u: directly when u is the caller, else
 * (POSIX) in a child that drops to u's groups, gid and uid first.
 * Returns 0, a negative errno code, or -EPERM when the identity cannot be
 * taken (not root). */
int preflight_probe(const struct preflight_user *u, const char *path,
                    enum probe what);

#endif
