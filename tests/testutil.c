/* SPDX-License-Identifier: MIT
 *
 * testutil: temporary files and a harness that runs the daemon binary
 * with a fake service manager socket.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

char *tu_tmpdir(void)
{
  const char *base = getenv("TMPDIR");
  char *path;

  if(!base || !*base)
    base = "/tmp";
  ck_assert_int_ne(asprintf(&path, "%s/qdtest.XXXXXX", base), -1);
  ck_assert_ptr_nonnull(mkdtemp(path));
  return path;
}

static int rm_cb(const char *p, const struct stat *st, int flag,
                 struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(p);
}

void tu_rmtree(const char *path)
{
  nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_write(const char *dir, const char *name, const char *text)
{
  char *path;
  FILE *f;

  ck_assert_int_ne(asprintf(&path, "%s/%s", dir, name), -1);
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  ck_assert_int_eq(fclose(f), 0);
  return path;
}

char *tu_slurp(const char *path)
{
  FILE *f = fopen(path, "r");
  char *buf = NULL;
  size_t len = 0, n;
  char chunk[4096];

  if(!f)
    return NULL;
  while((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    char *p = realloc(buf, len + n + 1);

    ck_assert_ptr_nonnull(p);
    buf = p;
    memcpy(buf + len, chunk, n);
    len += n;
  }
  fclose(f);
  if(!buf)
    buf = calloc(1, 1);
  else
    buf[len] = '\0';
  return buf;
}

int tu_stderr_to(const char *path)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), saved;

  ck_assert_int_ge(fd, 0);
  fflush(stderr);
  saved = dup(STDERR_FILENO);
  ck_assert_int_ge(saved, 0);
  ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
  close(fd);
  return saved;
}

void tu_stderr_restore(int saved)
{
  fflush(stderr);
  ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
  close(saved);
}

time_t tu_utc(int y, int mo, int d, int h, int mi, int s)
{
  struct tm tm;

  memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return timegm(&tm);
}

int tu_timeout_scale(void)
{
  const char *w = getenv("QD_WRAPPER");

  return w && *w ? 20 : 1;
}

void tu_daemon_start(struct tu_daemon *d, const char *dir, const char *conf,
                     unsigned long watchdog_usec)
{
  tu_daemon_start_opt(d, dir, conf, watchdog_usec, "-d");
}

void tu_daemon_start_opt(struct tu_daemon *d, const char *dir, const char *conf,
                         unsigned long watchdog_usec, const char *opt)
{
  struct sockaddr_un sa;
  const char *bin = getenv("QD_BIN");
  const char *wrapper = getenv("QD_WRAPPER");
  char *sock_path;

  ck_assert_msg(bin != NULL, "QD_BIN is not set");
  memset(d, 0, sizeof(*d));
  d->dir = strdup(dir);
  ck_assert_int_ne(asprintf(&d->log_path, "%s/daemon.log", dir), -1);
  ck_assert_int_ne(asprintf(&sock_path, "%s/notify.sock", dir), -1);

  d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(d->notify_fd, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  ck_assert_uint_lt(strlen(sock_path), sizeof(sa.sun_path));
  strcpy(sa.sun_path, sock_path);
  unlink(sock_path);
  ck_assert_int_eq(bind(d->notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

  d->pid = fork();
  ck_assert_int_ge(d->pid, 0);
  if(d->pid == 0) {
    int fd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char pidbuf[32], usecbuf[32];

    if(fd < 0)
      _exit(127);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    setenv("NOTIFY_SOCKET", sock_path, 1);
    unsetenv("JOURNAL_STREAM");
    if(watchdog_usec) {
      snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
      snprintf(usecbuf, sizeof(usecbuf), "%lu", watchdog_usec);
      setenv("WATCHDOG_PID", pidbuf, 1);
      setenv("WATCHDOG_USEC", usecbuf, 1);
    }
    if(wrapper && *wrapper) {
      char *cmd;

      if(asprintf(&cmd, "exec %s %s %s -f %s", wrapper, bin, opt, conf) < 0)
        _exit(127);
      execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    }
    else
      execl(bin, bin, opt, "-f", conf, (char *)NULL);
    _exit(127);
  }
  free(sock_path);
}

int tu_notify_count(const struct tu_daemon *d, const char *line)
{
  const char *p = d->msgs, *nl;
  size_t len = strlen(line), linelen;
  int prefix = len && line[len - 1] == '*';
  int n = 0;

  if(prefix)
    len--;
  for(; *p; p = nl + 1) {
    nl = strchr(p, '\n');
    if(!nl)
      nl = p + strlen(p) - 1;
    linelen = (size_t)(nl - p) + (*nl != '\n');
    if(prefix ? linelen >= len && !strncmp(p, line, len)
              : linelen == len && !strncmp(p, line, len))
      n++;
  }
  return n;
}

static long now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int tu_notify_wait(struct tu_daemon *d, const char *line, int timeout_ms)
{
  return tu_notify_wait_n(d, line, 1, timeout_ms);
}

int tu_notify_wait_n(struct tu_daemon *d, const char *line, int n,
                     int timeout_ms)
{
  long deadline = now_ms() + (long)timeout_ms * tu_timeout_scale();

  for(;;) {
    struct pollfd pfd = {.fd = d->notify_fd, .events = POLLIN};
    char buf[4096];
    ssize_t len;
    long left;

    if(tu_notify_count(d, line) >= n)
      return 1;
    left = deadline - now_ms();
    if(left <= 0)
      return 0;
    if(poll(&pfd, 1, (int)left) <= 0)
      continue;
    len = recv(d->notify_fd, buf, sizeof(buf) - 1, 0);
    if(len <= 0)
      continue;
    buf[len] = '\0';
    if(d->msgs_len + (size_t)len + 2 < sizeof(d->msgs)) {
      memcpy(d->msgs + d->msgs_len, buf, (size_t)len);
      d->msgs_len += (size_t)len;
      d->msgs[d->msgs_len++] = '\n';
      d->msgs[d->msgs_len] = '\0';
    }
  }
}

int tu_daemon_wait(struct tu_daemon *d, int timeout_ms)
{
  long deadline = now_ms() + (long)timeout_ms * tu_timeout_scale();
  int status;

  for(;;) {
    pid_t r = waitpid(d->pid, &status, WNOHANG);

    if(r == d->pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if(now_ms() > deadline) {
      kill(d->pid, SIGKILL);
      waitpid(d->pid, &status, 0);
      return -1;
    }
    usleep(10000);
  }
}

int tu_log_wait(struct tu_daemon *d, const char *text, int timeout_ms)
{
  long deadline = now_ms() + (long)timeout_ms * tu_timeout_scale();

  for(;;) {
    char *log = tu_slurp(d->log_path);
    int found = log && strstr(log, text);

    free(log);
    if(found)
      return 1;
    if(now_ms() > deadline)
      return 0;
    usleep(20000);
  }
}

/* ===== What reaches the system logger (syslog(3), journald) ===== */

#define TU_DEV_LOG "/dev/log"
#define TU_JOURNAL_SOCKET "/run/systemd/journal/socket"

/* write_text() writes text to the file at path; returns 0 or -errno. */
static int write_text(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if(fd < 0)
    return -errno;
  n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* private_mounts() moves the calling process into a mount namespace of
 * its own with empty tmpfs mounts on /dev and /run.  Returns 0, or -1
 * after saying why on stderr. */
static int private_mounts(void)
{
  uid_t uid = getuid();
  gid_t gid = getgid();
  char map[64];

  if(unshare(CLONE_NEWNS) == -1) {
    /* Not root: a user namespace of our own lets us mount. */
    if(unshare(CLONE_NEWUSER | CLONE_NEWNS) == -1) {
      fprintf(stderr, "tu_logger_capture: unshare: %s\n", strerror(errno));
      return -1;
    }
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
    if(write_text("/proc/self/setgroups", "deny") ||
       write_text("/proc/self/uid_map", map))
      return -1;
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
    if(write_text("/proc/self/gid_map", map))
      return -1;
  }
  if(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
     mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") ==
         -1 ||
     mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") ==
         -1) {
    fprintf(stderr, "tu_logger_capture: mount: %s\n", strerror(errno));
    return -1;
  }
  return 0;
}

/* bind_dgram() binds a unix datagram socket at path (its directory made
 * first) and returns it, or -1 after saying why on stderr. */
static int bind_dgram(const char *path)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  int fd;

  if(!strcmp(path, TU_JOURNAL_SOCKET) &&
     ((mkdir("/run/systemd", 0755) == -1 && errno != EEXIST) ||
      (mkdir("/run/systemd/journal", 0755) == -1 && errno != EEXIST))) {
    fprintf(stderr, "tu_logger_capture: mkdir: %s\n", strerror(errno));
    return -1;
  }
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if(fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
    fprintf(stderr, "tu_logger_capture: %s: %s\n", path, strerror(errno));
    return -1;
  }
  return fd;
}

/* The child's exit status when it has no logger of its own. */
#define NO_LOGGER 100

/* forward() passes every datagram queued on fd to out as <journal byte>
 * <32-bit length> <bytes>.  Returns 0 or -1. */
static int forward(int fd, bool journal, int out)
{
  static char buf[1 << 17];
  unsigned char tag = journal;
  ssize_t got;
  uint32_t len;

  while((got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
    len = (uint32_t)got;
    if(write(out, &tag, 1) != 1 || write(out, &len, sizeof(len)) != 4 ||
       write(out, buf, len) != (ssize_t)len)
      return -1;
  }
  return 0;
}

/* read_full() reads exactly len bytes, or fails the test. */
static void read_full(int fd, void *buf, size_t len)
{
  size_t off = 0;

  while(off < len) {
    ssize_t n = read(fd, (char *)buf + off, len - off);

    ck_assert_int_gt(n, 0);
    off += (size_t)n;
  }
}

int tu_logger_capture(bool journald, int (*fn)(void *arg), void *arg,
                      struct tu_datagram **out)
{
  struct tu_datagram *v = NULL;
  int pfd[2], status, n = 0;
  unsigned char tag;
  uint32_t len;
  pid_t pid;

  ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
  fflush(NULL);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if(!pid) {
    int sl, jn = -1, rc;

    close(pfd[0]);
    if(private_mounts() || (sl = bind_dgram(TU_DEV_LOG)) < 0 ||
       (journald && (jn = bind_dgram(TU_JOURNAL_SOCKET)) < 0))
      _exit(NO_LOGGER);
    closelog(); /* no connection to the host's logger carried over */
    rc = fn(arg);
    closelog();
    /* Both send each message before they return: all are queued. */
    if(forward(sl, false, pfd[1]) || (jn >= 0 && forward(jn, true, pfd[1])))
      _exit(NO_LOGGER + 1);
    _exit(rc < 0 || rc >= NO_LOGGER ? NO_LOGGER - 1 : rc);
  }
  close(pfd[1]);
  for(;;) {
    ssize_t got = read(pfd[0], &tag, 1);

    if(got == 0)
      break;
    ck_assert_int_eq(got, 1);
    read_full(pfd[0], &len, sizeof(len));
    v = realloc(v, (size_t)(n + 1) * sizeof(*v));
    ck_assert_ptr_nonnull(v);
    v[n].journal = tag;
    v[n].len = len;
    v[n].data = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(v[n].data);
    read_full(pfd[0], v[n].data, len);
    v[n].data[len] = '\0';
    n++;
  }
  close(pfd[0]);
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status), "logger capture child: signal %d",
                WTERMSIG(status));
  ck_assert_msg(WEXITSTATUS(status) != NO_LOGGER,
                "no private /dev/log (mount namespace refused; see stderr)");
  ck_assert_msg(WEXITSTATUS(status) == 0, "step %d failed in the child",
                WEXITSTATUS(status));
  *out = v;
  return n;
}

void tu_datagrams_free(struct tu_datagram *v, int n)
{
  int i;

  for(i = 0; i < n; i++)
    free(v[i].data);
  free(v);
}

/* ===== A loopback HTTP(S) server ===== */

void tu_no_proxy(void)
{
  static const char *const proxies[] = {"http_proxy",  "HTTP_PROXY",
                                        "https_proxy", "HTTPS_PROXY",
                                        "all_proxy",   "ALL_PROXY"};
  size_t i;

  for(i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
    unsetenv(proxies[i]);
}

struct MHD_Daemon *tu_mhd_start(unsigned flags, MHD_AccessHandlerCallback h,
                                const char *key, const char *cert, char *base,
                                size_t baselen)
{
  struct sockaddr_in sin = {.sin_family = AF_INET};
  const union MHD_DaemonInfo *info;
  struct MHD_Daemon *mhd;

  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if(key)
    mhd = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, h, NULL,
                           MHD_OPTION_SOCK_ADDR, &sin,
                           MHD_OPTION_NOTIFY_COMPLETED, tu_upload_completed,
                           NULL, MHD_OPTION_HTTPS_MEM_KEY, key,
                           MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
  else
    mhd = MHD_start_daemon(flags, 0, NULL, NULL, h, NULL, MHD_OPTION_SOCK_ADDR,
                           &sin, MHD_OPTION_NOTIFY_COMPLETED,
                           tu_upload_completed, NULL, MHD_OPTION_END);
  ck_assert_ptr_nonnull(mhd);
  info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
  ck_assert_ptr_nonnull(info);
  snprintf(base, baselen, "%s://127.0.0.1:%u", key ? "https" : "http",
           (unsigned)info->port);
  return mhd;
}

enum tu_upload_step tu_upload_collect(void **con_cls, const char *data,
                                      size_t *data_size)
{
  struct tu_upload *up = *con_cls;
  char *nb;

  if(!up) {
    up = calloc(1, sizeof(*up));
    if(!up)
      return TU_UPLOAD_ERROR;
    *con_cls = up;
    return TU_UPLOAD_FIRST;
  }
  if(!*data_size)
    return TU_UPLOAD_DONE;
  nb = realloc(up->buf, up->len + *data_size + 1);
  if(!nb)
    return TU_UPLOAD_ERROR;
  up->buf = nb;
  memcpy(up->buf + up->len, data, *data_size);
  up->len += *data_size;
  up->buf[up->len] = '\0';
  *data_size = 0;
  return TU_UPLOAD_MORE;
}

bool tu_upload_ready(void **con_cls, const char *data, size_t *data_size,
                     enum MHD_Result *ret)
{
  switch(tu_upload_collect(con_cls, data, data_size)) {
  case TU_UPLOAD_DONE:
    return true;
  case TU_UPLOAD_ERROR:
    *ret = MHD_NO;
    return false;
  default:
    *ret = MHD_YES;
    return false;
  }
}

void tu_upload_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct tu_upload *up = *con_cls;

  (void)cls;
  (void)conn;
  (void)toe;
  if(up) {
    free(up->buf);
    free(up);
  }
  *con_cls = NULL;
}
