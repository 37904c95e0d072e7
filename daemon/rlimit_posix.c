/* SPDX-License-Identifier: MIT
 *
 * rlimit: raising and reading RLIMIT_NOFILE.  The daemon watches its
 * descriptors with epoll (libuv), libcurl's multi_socket through libuv,
 * and libmicrohttpd's own epoll set (health.c), never select(2), so
 * descriptors above FD_SETSIZE are safe.
 */
#include "rlimit.h"

#include <errno.h>
#include <sys/resource.h>

int rlimit_raise_nofile(unsigned long long *before, unsigned long long *after)
{
  struct rlimit rl;

  if(getrlimit(RLIMIT_NOFILE, &rl) == -1)
    return -errno;
  *before = *after = (unsigned long long)rl.rlim_cur;
  if(rl.rlim_cur == rl.rlim_max)
    return 0;
  rl.rlim_cur = rl.rlim_max;
  if(setrlimit(RLIMIT_NOFILE, &rl) == -1)
    return -errno;
  *after = (unsigned long long)rl.rlim_cur;
  return 0;
}

unsigned long long rlimit_nofile_soft(void)
{
  struct rlimit rl;

  if(getrlimit(RLIMIT_NOFILE, &rl) == -1)
    return 0;
  return (unsigned long long)rl.rlim_cur;
}
