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
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
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
