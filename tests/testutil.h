/* SPDX-License-Identifier: MIT
 *
 * testutil: helpers shared by the Check suites: temporary directories and
 * files, running the real daemon binary with a fake service manager
 * ($NOTIFY_SOCKET) so lifecycle tests can watch READY/STATUS/WATCHDOG,
 * capturing what syslog(3) sends, and a loopback HTTP(S) server.
 */
#ifndef QD_TESTUTIL_H
#define QD_TESTUTIL_H

#include <check.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Every suite's constructor, from the list the Makefile generates. */
#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

/* tu_tmpdir() makes a fresh directory under $TMPDIR (or /tmp) and returns
 * its malloc'd path; tu_rmtree() removes it again. */
char *tu_tmpdir(void);
void tu_rmtree(const char *path);

/* tu_write() writes text to dir/name and returns the malloc'd path. */
char *tu_write(const char *dir, const char *name, const char *text);

/* tu_slurp() returns the malloc'd contents of a file, or NULL. */
char *tu_slurp(const char *path);

/* tu_stderr_to() sends stderr (where log.h writes in the foreground) to
 * the file at path, created or truncated, and returns a descriptor of the
 * old stderr, for tu_stderr_restore() to put back (and close). */
int tu_stderr_to(const char *path);
void tu_stderr_restore(int saved);

/* tu_utc() returns the Unix time of a UTC date and time of day, computed
 * by timegm(3) (independently of the daemon's parsers). */
time_t tu_utc(int y, int mo, int d, int h, int mi, int s);

/* A daemon under test. */
struct tu_daemon {
  pid_t pid;
  int notify_fd;    /* our end of $NOTIFY_SOCKET */
  char *dir;        /* work directory (owned) */
  char *log_path;   /* the daemon's stderr */
  char msgs[16384]; /* every notify message received, '\n'-joined */
  size_t msgs_len;
};

/* tu_daemon_start() starts $QD_BIN -d -f conf (under $QD_WRAPPER, e.g.
 * valgrind, when set), with watchdog_usec > 0 asking for a watchdog.
 * tu_daemon_start_opt() passes opt (e.g. "-F") instead of -d. */
void tu_daemon_start(struct tu_daemon *d, const char *dir, const char *conf,
                     unsigned long watchdog_usec);
void tu_daemon_start_opt(struct tu_daemon *d, const char *dir, const char *conf,
                         unsigned long watchdog_usec, const char *opt);

/* tu_notify_wait() receives notify messages until one contains line (a
 * whole "KEY=value" line) or timeout_ms passes.  Returns 1 if seen. */
int tu_notify_wait(struct tu_daemon *d, const char *line, int timeout_ms);

/* tu_notify_wait_n() waits until line has been received n times. */
int tu_notify_wait_n(struct tu_daemon *d, const char *line, int n,
                     int timeout_ms);

/* tu_notify_count() counts received messages holding line; a line
 * ending in '*' matches every line starting with what precedes it. */
int tu_notify_count(const struct tu_daemon *d, const char *line);

/* tu_daemon_wait() waits up to timeout_ms for the daemon to exit and
 * returns its exit status, or -1 on a timeout (the daemon is killed). */
int tu_daemon_wait(struct tu_daemon *d, int timeout_ms);

/* tu_log_wait() waits until the daemon's log contains text. */
int tu_log_wait(struct tu_daemon *d, const char *text, int timeout_ms);

/* tu_timeout_scale() is 1, or more under a slow wrapper such as valgrind. */
int tu_timeout_scale(void);

/* ===== What reaches the system logger (syslog(3), journald) ===== */

/* One datagram received by tu_logger_capture(). */
struct tu_datagram {
  bool journal; /* sent to journald's socket, else to /dev/log */
  char *data;   /* len bytes, NUL-terminated (journald's may hold NULs) */
  size_t len;
};

/* tu_logger_capture() runs fn(arg) in a child process with a system
 * logger of its own: the child enters a private mount namespace (and a
 * user namespace first when it is not root), mounts a tmpfs on /dev and
 * on /run, and binds unix datagram sockets as /dev/log and, when journald
 * is true, as journald's /run/systemd/journal/socket; without it there is
 * no journald.  So what syslog(3) and sd_journal_sendv() send from fn
 * reaches the test.  fn must not use ck_assert (it runs in the child); it
 * returns 0, or a number saying which of its steps failed, which fails
 * the test here.  Returns the number of datagrams received, in the order
 * received per socket, /dev/log's first, with *out set to a malloc'd
 * array (free with tu_datagrams_free()). */
int tu_logger_capture(bool journald, int (*fn)(void *arg), void *arg,
                      struct tu_datagram **out);
void tu_datagrams_free(struct tu_datagram *v, int n);

/* ===== A loopback HTTP(S) server for the suites that need one ===== */

/* tu_no_proxy() removes the proxy variables from the environment, so that
 * requests to 127.0.0.1 never go through a proxy configured there. */
void tu_no_proxy(void);

/* tu_mhd_start() starts libmicrohttpd on 127.0.0.1 with a port the kernel
 * chooses (flags are MHD_USE_* flags; TLS when key and cert, PEM text,
 * are given), with tu_upload_completed() as its completion callback, and
 * writes "http(s)://127.0.0.1:PORT" into base.  Fails the test when the
 * server does not start.  Stop it with MHD_stop_daemon(). */
struct MHD_Daemon *tu_mhd_start(unsigned flags, MHD_AccessHandlerCallback h,
                                const char *key, const char *cert, char *base,
                                size_t baselen);

/* A request body, collected across the calls of an access handler.  buf
 * is NUL-terminated (or NULL when the body is empty). */
struct tu_upload {
  char *buf;
  size_t len;
};

/* tu_upload_collect() is the start of an access handler: it keeps the
 * request's struct tu_upload in *con_cls and appends each piece of the
 * body to it.  Returns TU_UPLOAD_FIRST on the first call of a request,
 * TU_UPLOAD_MORE while the body comes in (the handler returns MHD_YES),
 * TU_UPLOAD_DONE when the whole request is there (*con_cls holds the
 * body; answer now), or TU_UPLOAD_ERROR when out of memory (return
 * MHD_NO).  tu_upload_completed() frees it. */
enum tu_upload_step {
  TU_UPLOAD_FIRST,
  TU_UPLOAD_MORE,
  TU_UPLOAD_DONE,
  TU_UPLOAD_ERROR
};
enum tu_upload_step tu_upload_collect(void **con_cls, const char *data,
                                      size_t *data_size);

/* tu_upload_ready() is tu_upload_collect() for a handler that only acts on
 * whole requests: true when the request is all there (answer it now;
 * *con_cls holds the body), else false with *ret set to what the handler
 * returns. */
bool tu_upload_ready(void **con_cls, const char *data, size_t *data_size,
                     enum MHD_Result *ret);
void tu_upload_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe);

#endif
