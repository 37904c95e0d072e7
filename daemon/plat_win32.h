/* SPDX-License-Identifier: MIT
 *
 * plat_win32: what the Windows build shares beyond plat.h (the Event Log
 * sink reports through the daemon's event source).
 */
#ifndef QD_PLAT_WIN32_H
#define QD_PLAT_WIN32_H

#include <windows.h>

/* The user control that reloads the configuration, as `sc control
 * quarantined 128` sends it (user controls are 128 to 255:
 * https://learn.microsoft.com/en-us/windows/win32/api/winsvc/nf-winsvc-controlservice).
 */
#define PLAT_WIN32_CONTROL_RELOAD 128

/* plat_win32_report() writes msg (UTF-8) as one event of type and
 * message id (daemon/win32/messages.mc) to the event source
 * plat_log_open() registered.  Returns 0, -ENOTCONN when there is none,
 * or -EIO. */
int plat_win32_report(WORD type, DWORD id, const char *msg);

#endif
