/* SPDX-License-Identifier: MIT
 *
 * preflight_win32: who `quarantined -n` checks the files for, on
 * Windows: always the calling account.  A process cannot take another
 * account's identity without its password, so the check is run as the
 * service account itself (for instance with `runas` or a scheduled task),
 * and -u is refused.
 */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <string.h>

#include "preflight_int.h"

void preflight_user_self(struct preflight_user *u)
{
  memset(u, 0, sizeof(*u));
  u->self = true;
  snprintf(u->name, sizeof(u->name), "this account");
}

void preflight_user_dynamic(struct preflight_user *u)
{
  preflight_user_self(u);
}

void preflight_user_default(struct preflight_user *u)
{
  preflight_user_self(u);
}

bool preflight_can_switch(void)
{
  return false;
}

int preflight_user_lookup(const char *spec, struct preflight_user *u, char *err,
                          size_t errlen)
{
  memset(u, 0, sizeof(*u));
  snprintf(err, errlen,
           "cannot check as '%s' on Windows: run -n as the service account",
           spec);
  return -ENOTSUP;
}

/* _access() mode 2 asks for write permission; a directory's DACL decides
 * whether files can be made in it, which the CRT does not evaluate, so
 * only existence and the read-only attribute count here. */
int preflight_probe(const struct preflight_user *u, const char *path,
                    enum probe what)
{
  int fd;

  (void)u;
  if(what == PROBE_WRITE_DIR)
    return _access(path, 2) == -1 ? -errno : 0;
  fd = _open(path, _O_RDONLY | _O_BINARY | _O_NOINHERIT);
  if(fd == -1)
    return -errno;
  _close(fd);
  return 0;
}
