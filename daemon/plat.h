/* SPDX-License-Identifier: MIT
 *
 * plat: what the operating system does differently, behind one interface.
 * daemon/plat_posix.c implements it for Linux (syslog(3), sd_notify(3),
 * signals, file modes, rename(2), /bin/sh); daemon/plat_win32.c for
 * Windows (the Event Log, the service control manager, DACLs,
 * ReplaceFileW/MoveFileExW, cmd.exe).  The modules call these and never
 * test the platform themselves.
 */
#ifndef QD_PLAT_H
#define QD_PLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

/* ===== logging ===== */

/* plat_log_open() opens the system log under ident (a static string):
 * syslog(3) with the daemon facility, or the Windows event source ident. */
void plat_log_open(const char *ident);

/* plat_log_system() writes msg at syslog priority prio to the log opened
 * by plat_log_open(). */
void plat_log_system(int prio, const char *msg);

/* plat_stderr_is_journal() tells whether fd 2 is the stream journald
 * handed the service ($JOURNAL_STREAM names its device and inode); always
 * false on Windows. */
bool plat_stderr_is_journal(void);

/* plat_stderr_is_tty() tells whether fd 2 is a terminal (a console). */
bool plat_stderr_is_tty(void);

/* ===== the Event Log alert sink ===== */

/* One alert for the Event Log; everything is borrowed. */
struct plat_event {
  int severity;     /* syslog priority: the event type */
  unsigned id;      /* message id (daemon/win32/messages.mc) */
  const char *text; /* insertion string %1: the alert in words */
  const char *json; /* insertion string %2: the alert's JSON record */
};

/* plat_event_report() writes ev to the Windows Event Log under the event
 * source "quarantined" (ReportEventW; the type is error for err and
 * worse, warning for warning, information otherwise).  With ev NULL it
 * writes nothing and only tells whether there is an Event Log.  Returns
 * 0, -ENOTSUP on POSIX (no Event Log), -ENOMEM, or -EIO. */
int plat_event_report(const struct plat_event *ev);

/* ===== readiness and the service manager ===== */

/* plat_notify() tells the service manager about a state change, msg being
 * an sd_notify(3) assignment: "READY=1", "RELOADING=1", "STOPPING=1",
 * "STATUS=...", "WATCHDOG=1", "WATCHDOG=trigger".  On Windows READY=1 is
 * SERVICE_RUNNING and STOPPING=1 SERVICE_STOP_PENDING; the others have no
 * counterpart and are dropped.  Failures are logged at debug level only. */
void plat_notify(const char *msg);

/* plat_watchdog_usec() returns the service manager's watchdog interval in
 * microseconds (and stops it being inherited by children), or 0 when
 * there is none. */
uint64_t plat_watchdog_usec(void);

/* What the service manager or the operator asks of the daemon. */
enum plat_ctl {
  PLAT_CTL_STOP,  /* SIGTERM, SIGINT; SERVICE_CONTROL_STOP, _SHUTDOWN */
  PLAT_CTL_RELOAD /* SIGHUP; the service's user control 128 */
};

/* The source of those requests; opaque. */
struct plat_control;

/* plat_control_start() delivers each request to cb on loop (the thread
 * that runs loop); what names it for the log ("SIGTERM", "service stop").
 * *out is owned by the caller until plat_control_close(). */
int plat_control_start(uv_loop_t *loop,
                       void (*cb)(enum plat_ctl ctl, const char *what,
                                  void *arg),
                       void *arg, struct plat_control **out);

/* plat_control_close() closes c's handles; c is freed in their close
 * callbacks. */
void plat_control_close(struct plat_control *c);

/* plat_main() runs daemon_main(argc, argv) as the operating system wants
 * a service started: directly on POSIX; on Windows through the service
 * control dispatcher when the service control manager started the
 * process, directly (console mode) otherwise.  Returns its exit code. */
int plat_main(int argc, char **argv, int (*daemon_main)(int, char **));

/* plat_harden() keeps secrets out of core dumps and debuggers and sets
 * the file creation mask; it returns 0 or a negative errno code. */
int plat_harden(void);

/* ===== files ===== */

/* plat_secret_check() accepts the open regular file fd (named path) as a
 * secret only the daemon's account can read: on POSIX owned by root or
 * owner and no access for "other" nor write for the group; on Windows a
 * DACL granting access to nobody but the account the process runs as
 * (the service account), SYSTEM and Administrators; owner is unused
 * there.  On refusal err holds the reason, naming path; returns 0,
 * -EINVAL (not a regular file) or -EPERM. */
int plat_secret_check(int fd, const char *path, uid_t owner, char *err,
                      size_t errlen);

/* plat_secret_unprotect() turns the contents of a secret file in place
 * into the secret: nothing on POSIX; on Windows a DPAPI blob (a file
 * whose name ends ".dpapi") is decrypted with CryptUnprotectData.  *buf
 * (len bytes, NUL-terminated) is owned by the caller, before and after;
 * the old buffer is wiped.  Returns 0 or a negative errno code with err
 * set. */
int plat_secret_unprotect(const char *path, char **buf, size_t *len, char *err,
                          size_t errlen);

/* plat_replace() renames tmp over path atomically and durably (rename(2)
 * and an fsync of the directory; MoveFileExW with MOVEFILE_REPLACE_EXISTING
 * and MOVEFILE_WRITE_THROUGH).  On failure *what names the step. */
int plat_replace(const char *tmp, const char *path, const char **what);

/* plat_lock() takes an exclusive lock on the open file fd, held until fd
 * is closed: flock(2), or LockFileEx on the whole file.  It waits for the
 * holder when wait is true.  Returns 0, -EWOULDBLOCK when wait is false
 * and the lock is held, or another negative errno code. */
int plat_lock(int fd, bool wait);

/* plat_fsync() flushes fd's data to the disk; 0 or a negative errno. */
int plat_fsync(int fd);

/* plat_path_absolute() tells whether path names a file without the
 * current directory: it starts with '/' on POSIX; on Windows it starts
 * with a drive ("C:\\" or "C:/"), a UNC name ("\\\\server\\share") or a
 * slash or backslash (the current drive's root). */
bool plat_path_absolute(const char *path);

/* plat_same_file() tells whether path still names the file open as fd
 * (not renamed away or replaced, as by log rotation): the same device and
 * inode, or on Windows the same volume serial number and file index. */
bool plat_same_file(const char *path, int fd);

/* ===== processes ===== */

/* plat_deadline() has fn called once, seconds from now, to end the
 * process: from the SIGALRM handler (alarm(2)) on POSIX, from a timer
 * queue thread on Windows; so fn may only write(2) and _exit(2).  One
 * deadline per process (a command's time limit).  Returns 0 or a negative
 * errno code. */
int plat_deadline(unsigned seconds, void (*fn)(void));

/* ===== features ===== */

/* What exists on POSIX only; a configuration asking for it on Windows is
 * refused by cfg_load() with the line of the key. */
enum plat_feature {
  PLAT_HEALTH,   /* health_listen, health_socket (libmicrohttpd) */
  PLAT_LOCAL_LOG /* [sink] types journal and syslog */
};

/* plat_lacks() is NULL when this system has feature f, else a static
 * sentence saying it does not. */
const char *plat_lacks(enum plat_feature f);

/* ===== errors ===== */

/* plat_errno_name() is the symbolic name of the errno value err ("ENOENT"),
 * a static string, or NULL when it has none: strerrorname_np(3) on glibc, a
 * table of the values the CRT defines on Windows. */
const char *plat_errno_name(int err);

/* ===== randomness ===== */

/* plat_random() fills buf with len bytes from the operating system's
 * cryptographic generator: getrandom(2), which blocks only until the
 * kernel's pool is first seeded; BCryptGenRandom with the system-preferred
 * generator.  Returns 0 or a negative errno code. */
int plat_random(void *buf, size_t len);

/* ===== commands ===== */

/* plat_shell_argv() fills argv (5 slots, NULL-terminated) to run the command
 * line cmd with its standard error joined to its standard output: /bin/sh -c,
 * or cmd.exe /d /c.  *script is allocated for argv's use and owned by the
 * caller.  Returns 0 or -ENOMEM. */
int plat_shell_argv(const char *cmd, char **script, char *argv[5]);

/* plat_shell_path() is the search PATH given to such a command. */
const char *plat_shell_path(void);

#endif
