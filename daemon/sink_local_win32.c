/* SPDX-License-Identifier: MIT
 *
 * sink_local_win32: the journal and the local syslog do not exist on
 * Windows.  cfg_load() refuses a [sink] of either type there
 * (plat_lacks(PLAT_LOCAL_LOG)), so these types are never opened; if one
 * were, it would fail to open and its alerts would stay spooled.  See
 * sink.h.
 */
#include "sink.h"

#include <errno.h>

#include "log.h"

/* Owns nothing; s is left as sink.c handed it. */
static int absent_open(struct sink *s, const struct cfg_sink *c)
{
  (void)c;
  log_warnx("sink %s: the journal and the local syslog do not exist on "
            "Windows",
            s->name);
  return -ENOTSUP;
}

const struct sink_type sink_local_syslog = {
    .default_format = FMT_JSON,
    .max_batch = 1,
    .open = absent_open,
};

const struct sink_type sink_local_journal = {
    .default_format = FMT_JSON,
    .max_batch = 1,
    .open = absent_open,
};
