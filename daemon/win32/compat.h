/* SPDX-License-Identifier: MIT
 *
 * compat.h: the POSIX types mingw-w64 lacks, force-included (-include) by
 * the Windows build so that the shared headers need no #ifdef.
 */
#ifndef QD_WIN32_COMPAT_H
#define QD_WIN32_COMPAT_H

#include <sys/types.h>

typedef unsigned int uid_t; /* plat_secret_check()'s owner; unused there */

#endif
