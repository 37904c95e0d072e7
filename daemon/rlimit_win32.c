/* SPDX-License-Identifier: MIT
 *
 * rlimit_win32: Windows has no per-process descriptor limit to raise:
 * sockets and files are kernel handles, limited only by memory (the CRT's
 * descriptor table grows as needed).  See rlimit.h.
 */
#include "rlimit.h"

int rlimit_raise_nofile(unsigned long long *before, unsigned long long *after)
{
  *before = *after = 0;
  return 0;
}

unsigned long long rlimit_nofile_soft(void)
{
  return 0;
}
