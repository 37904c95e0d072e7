/* SPDX-License-Identifier: MIT
 *
 * plat_check: the Windows side of the platform layer (daemon/plat_win32.c)
 * exercised under wine by tests/win32/test_windows.py.
 *
 *   plat_check.exe check DIR    one line "ok NAME" or "not ok NAME: why"
 *                               per check, run through plat_main() (so in
 *                               console mode); exit 0 when all passed
 *   plat_check.exe service DIR  a service main as the daemon's: READY,
 *                               then each control appended to DIR\events
 *                               until a stop; started by `sc start`
 *   plat_check.exe control NAME sends service NAME the reload control
 *                               (wine's sc.exe has no `sc control`)
 *   plat_check.exe -f FILE      as `service DIR`, DIR being the folder of
 *                               FILE: the command line
 *                               scripts/windows/install.cmd gives the
 *                               daemon (quarantined.exe -f CONF)
 *
 * DIR holds the files the test prepared: secret-private (mode 600, which
 * wine presents as a DACL for the owner only) and secret-open (644:
 * Everyone may read it).
 */
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libuv brings winsock2.h, which must come before windows.h. */
#include <uv.h>

#include <windows.h>

#include <dpapi.h>

#include "log.h"
#include "messages.h"
#include "plat.h"
#include "plat_win32.h"

static const char *dir;
static int failed;

static void result(const char *name, int ok, const char *why)
{
  if(ok)
    printf("ok %s\n", name);
  else {
    printf("not ok %s: %s\n", name, why);
    failed = 1;
  }
  fflush(stdout);
}

static char *path_in(const char *name)
{
  static char buf[4][MAX_PATH];
  static int next;
  char *p = buf[next++ % 4];

  snprintf(p, MAX_PATH, "%s\\%s", dir, name);
  return p;
}

static int write_file(const char *path, const char *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  int rc;

  if(!f)
    return -1;
  rc = fwrite(data, 1, len, f) == len ? 0 : -1;
  return fclose(f) || rc ? -1 : 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
  FILE *f = fopen(path, "rb");
  size_t n;

  if(!f)
    return -1;
  n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
  return (int)n;
}

/* The daemon's own log lines, and an alert as the eventlog sink reports
 * it (daemon/sink_eventlog.c): the test reads the calls from wine's
 * +eventlog trace. */
static void check_eventlog(void)
{
  struct plat_event ev = {
      .severity = LOG_ERR,
      .id = MSG_ALERT_ANCHOR_FAILED,
      .text = "plat_check: an alert for the Event Log\n\nRemediation:\n"
              "Check the app role",
      .json = "{\"event\":\"anchor.failed\",\"severity\":\"error\"}",
  };

  plat_log_open("quarantined");
  result("eventlog.exists", plat_event_report(NULL) == 0,
         "plat_event_report(NULL) says there is no Event Log");
  result("eventlog.report", plat_event_report(&ev) == 0, "ReportEventW failed");
  ev.severity = LOG_NOTICE;
  ev.id = MSG_ALERT_CONFLICT_RELEASED;
  ev.text = "plat_check: a notice alert";
  ev.json = "{\"event\":\"conflict.released\"}";
  result("eventlog.report-notice", plat_event_report(&ev) == 0,
         "ReportEventW failed");
  /* Longer than ReportEventW takes: cut, not refused. */
  {
    static char big[40000];

    memset(big, 'x', sizeof(big) - 1);
    ev.text = big;
    result("eventlog.report-long", plat_event_report(&ev) == 0,
           "ReportEventW failed");
  }
  plat_log_system(LOG_ERR, "plat_check: an error line for the Event Log");
  plat_log_system(LOG_INFO, "plat_check: an info line for the Event Log");
}

static void check_replace(void)
{
  const char *what = "";
  char buf[64];
  int rc, fd;

  write_file(path_in("state.json"), "old", 3);
  fd = _open(path_in("state.json.tmp"),
             _O_WRONLY | _O_CREAT | _O_TRUNC | _O_BINARY, 0600);
  result("fsync", fd >= 0 && _write(fd, "new", 3) == 3 && plat_fsync(fd) == 0,
         "write or FlushFileBuffers failed");
  if(fd >= 0)
    _close(fd);
  rc = plat_replace(path_in("state.json.tmp"), path_in("state.json"), &what);
  result("replace.rc", rc == 0, what);
  result("replace.content",
         read_file(path_in("state.json"), buf, sizeof(buf)) == 3 &&
             !strcmp(buf, "new"),
         "the target does not hold the new content");
  result("replace.tmp-gone",
         GetFileAttributesA(path_in("state.json.tmp")) ==
             INVALID_FILE_ATTRIBUTES,
         "the temp file is still there");
}

static int secret_check(const char *name, char *why, size_t len)
{
  int fd = _open(path_in(name), _O_RDONLY | _O_BINARY);
  int rc;

  if(fd < 0) {
    snprintf(why, len, "cannot open %s", name);
    return -ENOENT;
  }
  rc = plat_secret_check(fd, path_in(name), 0, why, len);
  _close(fd);
  return rc;
}

static void check_secrets(void)
{
  char why[512] = "";
  int rc;

  rc = secret_check("secret-private", why, sizeof(why));
  result("secret.private-accepted", rc == 0, why);
  why[0] = '\0';
  rc = secret_check("secret-open", why, sizeof(why));
  result("secret.open-refused", rc == -EPERM && strstr(why, "secret-open"),
         "a file everyone can read was accepted");
  printf("# %s\n", why);
}

static void check_dpapi(void)
{
  DATA_BLOB in = {6, (BYTE *)"s3cr3t"}, out;
  char why[256] = "", *buf;
  size_t len;
  int rc;

  if(!CryptProtectData(&in, L"quarantined", NULL, NULL, NULL,
                       CRYPTPROTECT_UI_FORBIDDEN, &out)) {
    result("dpapi.protect", 0, "CryptProtectData failed");
    return;
  }
  buf = malloc(out.cbData + 1);
  memcpy(buf, out.pbData, out.cbData);
  buf[out.cbData] = '\0';
  len = out.cbData;
  LocalFree(out.pbData);
  rc = plat_secret_unprotect(path_in("client.secret.dpapi"), &buf, &len, why,
                             sizeof(why));
  result("dpapi.unprotect", rc == 0 && len == 6 && !memcmp(buf, "s3cr3t", 6),
         why);
  free(buf);
}

/* ===== the shell: post_apply_command's runner ===== */

struct shell_run {
  uv_process_t proc;
  uv_pipe_t out;
  char buf[512];
  size_t len;
  int64_t status;
};

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
  struct shell_run *r = h->data;

  (void)hint;
  *b = uv_buf_init(r->buf + r->len, (unsigned)(sizeof(r->buf) - 1 - r->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  struct shell_run *r = s->data;

  (void)b;
  if(n > 0)
    r->len += (size_t)n;
  else if(n < 0)
    uv_close((uv_handle_t *)s, NULL);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
  struct shell_run *r = p->data;

  (void)sig;
  r->status = status;
  uv_close((uv_handle_t *)p, NULL);
}

static void check_shell(void)
{
  struct shell_run r;
  uv_process_options_t po;
  uv_stdio_container_t stdio[3];
  char *argv[5], *script = NULL;
  uv_loop_t loop;
  int rc;

  memset(&r, 0, sizeof(r));
  r.status = -1;
  uv_loop_init(&loop);
  if(plat_shell_argv("echo out-line& echo err-line 1>&2& exit 3", &script,
                     argv)) {
    result("shell.argv", 0, "out of memory");
    return;
  }
  uv_pipe_init(&loop, &r.out, 0);
  r.out.data = &r;
  r.proc.data = &r;
  memset(&po, 0, sizeof(po));
  memset(stdio, 0, sizeof(stdio));
  po.file = argv[0];
  po.args = argv;
  po.exit_cb = on_exit_cb;
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&r.out;
  stdio[2].flags = UV_IGNORE;
  po.stdio = stdio;
  po.stdio_count = 3;
  rc = uv_spawn(&loop, &r.proc, &po);
  if(!rc)
    uv_read_start((uv_stream_t *)&r.out, on_alloc, on_read);
  else {
    uv_close((uv_handle_t *)&r.proc, NULL);
    uv_close((uv_handle_t *)&r.out, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  r.buf[r.len] = '\0';
  result("shell.spawn", rc == 0, uv_strerror(rc));
  result("shell.stdout", strstr(r.buf, "out-line") != NULL, r.buf);
  result("shell.stderr-joined", strstr(r.buf, "err-line") != NULL, r.buf);
  result("shell.status", r.status == 3, "exit status not passed on");
  free(script);
}

static int check_main(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  result("console-mode", 1, "");
  check_eventlog();
  check_replace();
  check_secrets();
  check_dpapi();
  check_shell();
  return failed;
}

/* ===== service mode ===== */

static void event(const char *line)
{
  FILE *f = fopen(path_in("events"), "ab");

  if(f) {
    fprintf(f, "%s\n", line);
    fclose(f);
  }
}

static void on_control(enum plat_ctl ctl, const char *what, void *arg)
{
  struct plat_control **c = arg;
  char line[128];

  snprintf(line, sizeof(line), "%s: %s",
           ctl == PLAT_CTL_RELOAD ? "reload" : "stop", what);
  event(line);
  if(ctl == PLAT_CTL_STOP && *c) {
    plat_notify("STOPPING=1");
    plat_control_close(*c);
    *c = NULL;
  }
}

static int service_main(int argc, char **argv)
{
  struct plat_control *c = NULL;
  uv_loop_t loop;

  (void)argc;
  (void)argv;
  uv_loop_init(&loop);
  plat_log_open("quarantined");
  if(plat_control_start(&loop, on_control, &c, &c))
    return 2;
  plat_notify("READY=1");
  plat_log_system(LOG_INFO, "plat_check: service running");
  event("running");
  uv_run(&loop, UV_RUN_DEFAULT);
  event("stopped");
  return uv_loop_close(&loop) ? 3 : 0;
}

static int send_reload(const char *name)
{
  SC_HANDLE scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CONNECT), svc;
  SERVICE_STATUS st;
  int rc = 1;

  svc = scm ? OpenServiceA(scm, name, SERVICE_USER_DEFINED_CONTROL) : NULL;
  if(svc && ControlService(svc, PLAT_WIN32_CONTROL_RELOAD, &st))
    rc = 0;
  else
    fprintf(stderr, "plat_check: ControlService: error %lu\n",
            (unsigned long)GetLastError());
  if(svc)
    CloseServiceHandle(svc);
  if(scm)
    CloseServiceHandle(scm);
  return rc;
}

int main(int argc, char **argv)
{
  if(argc != 3) {
    fprintf(stderr,
            "usage: plat_check.exe check|service DIR | control|qfailure NAME | "
            "-f FILE\n");
    return 2;
  }
  if(!strcmp(argv[1], "control"))
    return send_reload(argv[2]);
  dir = argv[2];
  if(!strcmp(argv[1], "-f")) {
    static char folder[MAX_PATH];
    char *slash;

    snprintf(folder, sizeof(folder), "%s", argv[2]);
    if((slash = strrchr(folder, '\\')) != NULL)
      *slash = '\0';
    dir = folder;
    return plat_main(argc, argv, service_main);
  }
  if(!strcmp(argv[1], "service"))
    return plat_main(argc, argv, service_main);
  return plat_main(argc, argv, check_main);
}
