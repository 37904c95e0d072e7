/* SPDX-License-Identifier: MIT
 *
 * syslog.h for the Windows build: the priorities only (log.h's levels);
 * the messages go to the Event Log through plat_win32.c.
 */
#ifndef QD_WIN32_SYSLOG_H
#define QD_WIN32_SYSLOG_H

#define LOG_EMERG 0
#define LOG_ALERT 1
#define LOG_CRIT 2
#define LOG_ERR 3
#define LOG_WARNING 4
#define LOG_NOTICE 5
#define LOG_INFO 6
#define LOG_DEBUG 7

#endif
