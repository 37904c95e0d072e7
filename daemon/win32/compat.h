/* SPDX-License-Identifier: MIT
 *
 * compat.h: the POSIX types mingw-w64 lacks, force-included (-include) by
 * the Windows build so that the shared headers need no #ifdef.
 */
#ifndef QD_WIN32_COMPAT_H
#define QD_WIN32_COMPAT_H

/* mingw-w64's C99 printf family (%zu, %lld), checked as GNU's. */
#define __USE_MINGW_ANSI_STDIO 1
#define QD_PRINTF_STYLE __gnu_printf__

#include <sys/types.h>

typedef unsigned int uid_t; /* plat_secret_check()'s owner; unused there */
typedef unsigned int gid_t; /* struct preflight_user's; unused there */

/* open(2) flags: a descriptor the CRT does not let children inherit;
 * Windows has no controlling terminals, and the other two only narrow what
 * POSIX opens. */
#include <fcntl.h>
#define O_CLOEXEC _O_NOINHERIT
#define O_NOCTTY 0
#define O_NOFOLLOW 0
#define O_DIRECTORY 0

/* errno values the CRT does not define (Linux's numbers). */
#define ENOTUNIQ 76
#define ESHUTDOWN 108

/* mkdir(2)'s mode: the directory inherits its parent's DACL instead. */
#include <io.h>
#define mkdir(path, mode) mkdir(path)

/* timegm(3) is the CRT's _mkgmtime(). */
#include <time.h>
#define timegm _mkgmtime

#endif
