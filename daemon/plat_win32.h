/* SPDX-License-Identifier: MIT
 *
 * plat_win32: what the Windows build shares beyond plat.h (the service
 * control that reloads).
 */
#ifndef QD_PLAT_WIN32_H
#define QD_PLAT_WIN32_H

#include <windows.h>

/* The user control that reloads the configuration, as `sc control
 * quarantined 128` sends it (user controls are 128 to 255:
 * https://learn.microsoft.com/en-us/windows/win32/api/winsvc/nf-winsvc-controlservice).
 */
#define PLAT_WIN32_CONTROL_RELOAD 128

#endif
