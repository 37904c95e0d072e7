/* SPDX-License-Identifier: MIT
 *
 * plat_posix: the platform layer on Linux (see plat.h): syslog(3),
 * sd_notify(3) when built with libsystemd, uv signal handles, file modes,
 * rename(2) with an fsync of the directory, /bin/sh.
 */
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"

/* ===== logging ===== */

void plat_log_open(const char *ident)
{
  openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void plat_log_system(int prio, const char *msg)
{
  syslog(prio, "%s", msg);
}

/* There is no Event Log on POSIX; the configuration refuses its sinks. */
int plat_event_report(const struct plat_event *ev)
{
  (void)ev;
  return -ENOTSUP;
}

/* journald hands a service's stderr over with $JOURNAL_STREAM set to
 * "DEVICE:INODE" of that stream (systemd.exec(5), "$JOURNAL_STREAM"). */
bool plat_stderr_is_journal(void)
{
  const char *js = getenv("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;

  if(!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
    return false;
  if(fstat(STDERR_FILENO, &st) == -1)
    return false;
  return (unsigned long long)st.st_dev == dev &&
         (unsigned long long)st.st_ino == ino;
}

bool plat_stderr_is_tty(void)
{
  return isatty(STDERR_FILENO);
}

/* ===== readiness and signals ===== */

void plat_notify(const char *msg)
{
#ifdef HAVE_LIBSYSTEMD
  /* The return value is only logged, as sd_notify(3) recommends. */
  int rc = sd_notify(0, msg);

  if(rc < 0)
    log_debug("notify: sd_notify: %s", strerror(-rc));
#else
  (void)msg;
#endif
}

uint64_t plat_watchdog_usec(void)
{
  uint64_t usec = 0;

#ifdef HAVE_LIBSYSTEMD
  /* 1: unset $WATCHDOG_USEC/$WATCHDOG_PID so children don't inherit. */
  if(sd_watchdog_enabled(1, &usec) <= 0)
    usec = 0;
#endif
  return usec;
}

struct plat_control {
  uv_signal_t sig[3]; /* SIGTERM, SIGINT, SIGHUP */
  int open;           /* handles not yet closed */
  void (*cb)(enum plat_ctl ctl, const char *what, void *arg);
  void *arg;
};

static const int ctl_signals[3] = {SIGTERM, SIGINT, SIGHUP};

static void on_signal(uv_signal_t *h, int signum)
{
  struct plat_control *c = h->data;

  if(signum == SIGHUP)
    c->cb(PLAT_CTL_RELOAD, "SIGHUP", c->arg);
  else
    c->cb(PLAT_CTL_STOP, signum == SIGTERM ? "SIGTERM" : "SIGINT", c->arg);
}

static void on_signal_closed(uv_handle_t *h)
{
  struct plat_control *c = h->data;

  if(--c->open == 0)
    free(c);
}

int plat_control_start(uv_loop_t *loop,
                       void (*cb)(enum plat_ctl ctl, const char *what,
                                  void *arg),
                       void *arg, struct plat_control **out)
{
  struct plat_control *c = calloc(1, sizeof(*c));
  size_t i;
  int rc = 0;

  if(!c)
    return UV_ENOMEM;
  c->cb = cb;
  c->arg = arg;
  /* On failure the handles initialised so far stay open for
   * plat_control_close(); the caller gives up anyway. */
  for(i = 0; i < 3 && !rc; i++) {
    rc = uv_signal_init(loop, &c->sig[i]);
    if(rc)
      break;
    c->sig[i].data = c;
    c->open++;
    rc = uv_signal_start(&c->sig[i], on_signal, ctl_signals[i]);
  }
  *out = c;
  return rc;
}

void plat_control_close(struct plat_control *c)
{
  int i, n = c->open;

  if(!n) {
    free(c);
    return;
  }
  for(i = 0; i < n; i++)
    if(!uv_is_closing((uv_handle_t *)&c->sig[i]))
      uv_close((uv_handle_t *)&c->sig[i], on_signal_closed);
}

int plat_main(int argc, char **argv, int (*daemon_main)(int, char **))
{
  return daemon_main(argc, argv);
}

int plat_harden(void)
{
  /* Secrets live in this process's memory: no core dumps, no ptrace. */
  if(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
    return -errno;
  umask(027);
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

/* ===== files ===== */

int plat_secret_check(int fd, const char *path, uid_t owner, char *err,
                      size_t errlen)
{
  struct stat st;
  unsigned mode;

  if(fstat(fd, &st) == -1) {
    int rc = -errno;

    snprintf(err, errlen, "secret: %s: fstat: %s", path, strerror(-rc));
    return rc;
  }
  mode = (unsigned)st.st_mode & 07777;
  if(!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "secret: %s: not a regular file", path);
    return -EINVAL;
  }
  if(st.st_uid != 0 && st.st_uid != owner) {
    snprintf(err, errlen,
             "secret: %s: owned by uid %lu; it must belong to root or to "
             "uid %lu (the daemon's user)",
             path, (unsigned long)st.st_uid, (unsigned long)owner);
    return -EPERM;
  }
  if(mode & (S_IRWXO | S_IWGRP)) {
    snprintf(err, errlen,
             "secret: %s: mode %04o is too open; use chmod 600 (or 640)", path,
             mode);
    return -EPERM;
  }
  return 0;
}

int plat_secret_unprotect(const char *path, char **buf, size_t *len, char *err,
                          size_t errlen)
{
  (void)path;
  (void)buf;
  (void)len;
  (void)err;
  (void)errlen;
  return 0;
}

/* fsync_dir() makes a rename in the directory holding path durable. */
static int fsync_dir(const char *path)
{
  char *copy = strdup(path);
  int fd, rc = 0;

  if(!copy)
    return -ENOMEM;
  fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(copy);
  if(fd < 0)
    return -errno;
  if(fsync(fd) < 0)
    rc = -errno;
  close(fd);
  return rc;
}

int plat_replace(const char *tmp, const char *path, const char **what)
{
  int rc;

  if(rename(tmp, path) < 0) {
    *what = "rename";
    return -errno;
  }
  rc = fsync_dir(path);
  if(rc)
    *what = "fsync directory";
  return rc;
}

int plat_fsync(int fd)
{
  return fsync(fd) < 0 ? -errno : 0;
}

bool plat_path_absolute(const char *path)
{
  return path[0] == '/';
}

bool plat_same_file(const char *path, int fd)
{
  struct stat path_st, fd_st;

  return stat(path, &path_st) == 0 && fstat(fd, &fd_st) == 0 &&
         path_st.st_dev == fd_st.st_dev && path_st.st_ino == fd_st.st_ino;
}

/* ===== processes ===== */

static void (*deadline_fn)(void);

static void on_sigalrm(int sig)
{
  (void)sig;
  deadline_fn();
}

int plat_deadline(unsigned seconds, void (*fn)(void))
{
  deadline_fn = fn;
  if(signal(SIGALRM, on_sigalrm) == SIG_ERR)
    return -errno;
  alarm(seconds);
  return 0;
}

/* ===== commands ===== */

int plat_shell_argv(const char *cmd, char **script, char *argv[5])
{
  if(asprintf(script, "exec 2>&1\n%s", cmd) < 0) {
    *script = NULL;
    return -ENOMEM;
  }
  argv[0] = "/bin/sh";
  argv[1] = "-c";
  argv[2] = *script;
  argv[3] = NULL;
  return 0;
}

const char *plat_shell_path(void)
{
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

int plat_random(void *buf, size_t len)
{
  unsigned char *b = buf;
  size_t got = 0;

  while(got < len) {
    ssize_t n = getrandom(b + got, len - got, 0);

    if(n < 0) {
      if(errno == EINTR)
        continue;
      return -errno;
    }
    got += (size_t)n;
  }
  return 0;
}

int plat_lock(int fd, bool wait)
{
  while(flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0)
    if(errno != EINTR)
      return -errno;
  return 0;
}

const char *plat_errno_name(int err)
{
  return strerrorname_np(err);
}

const char *plat_lacks(enum plat_feature f)
{
  (void)f;
  return NULL;
}
