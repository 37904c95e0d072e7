/* SPDX-License-Identifier: MIT
 *
 * plat_win32: the platform layer on Windows (see plat.h), built only by
 * `make windows`.  The Event Log (ReportEventW, message ids from
 * daemon/win32/messages.mc), the service control manager, DACLs, DPAPI,
 * MoveFileExW with write-through, cmd.exe.
 *
 * The service control dispatcher owns the process's first thread and
 * calls the control handler on it; the daemon's loop runs on the thread
 * the dispatcher starts for service_main().  The handler only records
 * the request and wakes the loop with uv_async_send(), the one libuv call
 * that may be made from another thread.
 */
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <windows.h>

#include <aclapi.h>
#include <bcrypt.h>
#include <dpapi.h>
#include <sddl.h>

#include "log.h"
#include "messages.h"
#include "plat_win32.h"

/* ===== logging ===== */

static HANDLE event_source;

void plat_log_open(const char *ident)
{
  wchar_t w[64];

  if(MultiByteToWideChar(CP_UTF8, 0, ident, -1, w, 64))
    event_source = RegisterEventSourceW(NULL, w);
}

/* event_type() maps a syslog priority to an Event Log type and message
 * id (daemon/win32/messages.mc). */
static WORD event_type(int prio, DWORD *id)
{
  if(prio <= LOG_ERR) {
    *id = MSG_LOG_ERROR;
    return EVENTLOG_ERROR_TYPE;
  }
  if(prio == LOG_WARNING) {
    *id = MSG_LOG_WARNING;
    return EVENTLOG_WARNING_TYPE;
  }
  *id = MSG_LOG_INFO;
  return EVENTLOG_INFORMATION_TYPE;
}

/* utf16() converts s (UTF-8: a message, a path) to a wide string the
 * caller frees, or NULL. */
static wchar_t *utf16(const char *s)
{
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  wchar_t *w = n > 0 ? malloc((size_t)n * sizeof(*w)) : NULL;

  if(w)
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  return w;
}

/* report_log() writes msg as one event of type and message id to the
 * event source plat_log_open() registered.  Returns 0, -ENOTCONN when
 * there is none, -ENOMEM or -EIO. */
static int report_log(WORD type, DWORD id, const char *msg)
{
  wchar_t *w;
  LPCWSTR strings[1];
  BOOL ok;

  if(!event_source)
    return -ENOTCONN;
  if(!(w = utf16(msg)))
    return -ENOMEM;
  strings[0] = w;
  ok = ReportEventW(event_source, type, 0, id, NULL, 1, 0, strings, NULL);
  free(w);
  return ok ? 0 : -EIO;
}

/* ReportEventW takes at most 31,839 characters per string
 * (https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-reporteventw).
 */
#define EVENT_STRING_MAX 31839

/* event_string() converts s (UTF-8) into an insertion string the caller
 * frees, or NULL: line ends CRLF, as Event Viewer shows them, and cut to
 * EVENT_STRING_MAX characters (never within a surrogate pair), so that a
 * long alert is shown shortened instead of being refused for ever. */
static wchar_t *event_string(const char *s)
{
  wchar_t *w = utf16(s), *out;
  size_t n = 0, i, lf = 0;

  if(!w)
    return NULL;
  for(i = 0; w[i]; i++)
    lf += w[i] == L'\n' && (i == 0 || w[i - 1] != L'\r');
  out = malloc((i + lf + 1) * sizeof(*out));
  for(i = 0; out && w[i] && n < EVENT_STRING_MAX; i++) {
    if(w[i] == L'\n' && (i == 0 || w[i - 1] != L'\r')) {
      if(n + 2 > EVENT_STRING_MAX)
        break;
      out[n++] = L'\r';
    }
    out[n++] = w[i];
  }
  if(out && n > 0 && IS_HIGH_SURROGATE(out[n - 1]))
    n--;
  if(out)
    out[n] = L'\0';
  free(w);
  return out;
}

/* The eventlog sink reports under the source "quarantined" whatever
 * plat_log_open() was given: that is the source the installer registers
 * (scripts/windows/install.cmd), with this executable as its message
 * file. */
int plat_event_report(const struct plat_event *ev)
{
  static HANDLE source;
  wchar_t *text, *json;
  LPCWSTR strings[2];
  DWORD unused;
  WORD type;
  BOOL ok;

  if(!ev)
    return 0;
  if(!source && !(source = RegisterEventSourceW(NULL, L"quarantined")))
    return -EIO;
  text = event_string(ev->text);
  json = event_string(ev->json);
  if(!text || !json) {
    free(text);
    free(json);
    return -ENOMEM;
  }
  type = event_type(ev->severity, &unused);
  strings[0] = text;
  strings[1] = json;
  ok = ReportEventW(source, type, 0, ev->id, NULL, 2, 0, strings, NULL);
  free(text);
  free(json);
  return ok ? 0 : -EIO;
}

void plat_log_system(int prio, const char *msg)
{
  DWORD id;
  WORD type = event_type(prio, &id);

  if(report_log(type, id, msg))
    fprintf(stderr, "%s\n", msg);
}

bool plat_stderr_is_journal(void)
{
  return false;
}

bool plat_stderr_is_tty(void)
{
  return _isatty(2) != 0;
}

/* ===== the service control manager ===== */

/* Set by service_main(); NULL in console mode. */
static SERVICE_STATUS_HANDLE svc_handle;
static SERVICE_STATUS svc_status;
static DWORD svc_checkpoint;
static int (*svc_main_fn)(int, char **);
static int svc_argc;
static char **svc_argv;
static int svc_exit;

/* Requests the handler recorded and the loop has not yet taken; bit 0
 * stop, bit 1 reload.  The handle the handler wakes, or NULL.  svc_lock
 * guards svc_status and ctl_async, which both threads touch: the loop's
 * thread closes the handle while the handler may be about to wake it. */
static volatile LONG ctl_pending;
static volatile LONG ctl_shutdown;
static uv_async_t *ctl_async;
static SRWLOCK svc_lock = SRWLOCK_INIT;

/* set_state() reports state with a wait hint: the time the next change
 * may take (https://learn.microsoft.com/en-us/windows/win32/services/
 * writing-a-servicemain-function). */
static void set_state(DWORD state, DWORD wait_hint_ms)
{
  if(!svc_handle)
    return;
  AcquireSRWLockExclusive(&svc_lock);
  svc_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  svc_status.dwCurrentState = state;
  svc_status.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                                     SERVICE_ACCEPT_PARAMCHANGE
                               : 0;
  svc_status.dwWaitHint = wait_hint_ms;
  svc_status.dwCheckPoint = state == SERVICE_RUNNING || state == SERVICE_STOPPED
                                ? 0
                                : ++svc_checkpoint;
  SetServiceStatus(svc_handle, &svc_status);
  ReleaseSRWLockExclusive(&svc_lock);
}

void plat_notify(const char *msg)
{
  if(!strcmp(msg, "READY=1"))
    set_state(SERVICE_RUNNING, 0);
  else if(!strcmp(msg, "STOPPING=1"))
    set_state(SERVICE_STOP_PENDING, 30000);
}

uint64_t plat_watchdog_usec(void)
{
  return 0;
}

/* handler() runs on the dispatcher's thread: it records the control and
 * wakes the loop.  SERVICE_CONTROL_PARAMCHANGE ("the service's startup
 * parameters have changed") and user control 128 (`sc control quarantined
 * 128`) reload the configuration. */
static DWORD WINAPI handler(DWORD ctl, DWORD type, void *data, void *ctx)
{
  (void)type;
  (void)data;
  (void)ctx;
  switch(ctl) {
  case SERVICE_CONTROL_SHUTDOWN:
    InterlockedExchange(&ctl_shutdown, 1);
    /* fall through */
  case SERVICE_CONTROL_STOP:
    set_state(SERVICE_STOP_PENDING, 30000);
    InterlockedOr(&ctl_pending, 1);
    break;
  case SERVICE_CONTROL_PARAMCHANGE:
  case PLAT_WIN32_CONTROL_RELOAD:
    InterlockedOr(&ctl_pending, 2);
    break;
  case SERVICE_CONTROL_INTERROGATE:
    return NO_ERROR;
  default:
    return ERROR_CALL_NOT_IMPLEMENTED;
  }
  AcquireSRWLockExclusive(&svc_lock);
  if(ctl_async)
    uv_async_send(ctl_async);
  ReleaseSRWLockExclusive(&svc_lock);
  return NO_ERROR;
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv)
{
  (void)argc;
  (void)argv;
  svc_handle = RegisterServiceCtrlHandlerExW(L"", handler, NULL);
  if(!svc_handle) {
    svc_exit = 1;
    return;
  }
  set_state(SERVICE_START_PENDING, 30000);
  /* The options are the process's (the service's ImagePath), not the
   * start parameters, so `sc start` and a boot start behave alike. */
  svc_exit = svc_main_fn(svc_argc, svc_argv);
  svc_status.dwWin32ExitCode =
      svc_exit ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
  svc_status.dwServiceSpecificExitCode = (DWORD)svc_exit;
  set_state(SERVICE_STOPPED, 0);
}

int plat_main(int argc, char **argv, int (*daemon_main)(int, char **))
{
  SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)L"", service_main}, {NULL, NULL}};

  svc_main_fn = daemon_main;
  svc_argc = argc;
  svc_argv = argv;
  if(StartServiceCtrlDispatcherW(table))
    return svc_exit;
  if(GetLastError() != ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
    fprintf(stderr, "quarantined: StartServiceCtrlDispatcher: error %lu\n",
            (unsigned long)GetLastError());
    return 1;
  }
  /* Not started by the service control manager: console mode. */
  return daemon_main(argc, argv);
}

struct plat_control {
  uv_async_t async;   /* woken by handler() */
  uv_signal_t sigint; /* Ctrl+C in console mode */
  uv_signal_t sigbrk; /* Ctrl+Break */
  int open;
  void (*cb)(enum plat_ctl ctl, const char *what, void *arg);
  void *arg;
};

static void take_pending(struct plat_control *c)
{
  LONG p = InterlockedExchange(&ctl_pending, 0);

  if(p & 2)
    c->cb(PLAT_CTL_RELOAD, "service reload control", c->arg);
  if(p & 1)
    c->cb(PLAT_CTL_STOP, ctl_shutdown ? "system shutdown" : "service stop",
          c->arg);
}

static void on_async(uv_async_t *a)
{
  take_pending(a->data);
}

static void on_signal(uv_signal_t *h, int signum)
{
  struct plat_control *c = h->data;

  c->cb(PLAT_CTL_STOP, signum == SIGINT ? "Ctrl+C" : "Ctrl+Break", c->arg);
}

static void on_closed(uv_handle_t *h)
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
  int rc;

  if(!c)
    return UV_ENOMEM;
  c->cb = cb;
  c->arg = arg;
  rc = uv_async_init(loop, &c->async, on_async);
  if(rc) {
    free(c);
    return rc;
  }
  c->async.data = c;
  c->open = 3;
  uv_signal_init(loop, &c->sigint);
  uv_signal_init(loop, &c->sigbrk);
  c->sigint.data = c;
  c->sigbrk.data = c;
  rc = uv_signal_start(&c->sigint, on_signal, SIGINT);
  if(!rc)
    rc = uv_signal_start(&c->sigbrk, on_signal, SIGBREAK);
  AcquireSRWLockExclusive(&svc_lock);
  ctl_async = &c->async;
  ReleaseSRWLockExclusive(&svc_lock);
  /* A control that came before the handle existed. */
  if(ctl_pending)
    uv_async_send(&c->async);
  *out = c;
  return rc;
}

void plat_control_close(struct plat_control *c)
{
  AcquireSRWLockExclusive(&svc_lock);
  ctl_async = NULL;
  ReleaseSRWLockExclusive(&svc_lock);
  uv_close((uv_handle_t *)&c->async, on_closed);
  uv_close((uv_handle_t *)&c->sigint, on_closed);
  uv_close((uv_handle_t *)&c->sigbrk, on_closed);
}

int plat_harden(void)
{
  /* No Windows Error Reporting dialog or dump of a crashed service. */
  SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
  return 0;
}

/* ===== files ===== */

/* self_sid() returns the account this process runs as (the service
 * account), malloc'd, or NULL. */
static PSID self_sid(void)
{
  HANDLE tok;
  DWORD n = 0;
  TOKEN_USER *tu = NULL;
  PSID sid = NULL;

  if(!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
    return NULL;
  GetTokenInformation(tok, TokenUser, NULL, 0, &n);
  if(n && (tu = malloc(n)) && GetTokenInformation(tok, TokenUser, tu, n, &n) &&
     (sid = malloc(GetLengthSid(tu->User.Sid))))
    CopySid(GetLengthSid(tu->User.Sid), sid, tu->User.Sid);
  free(tu);
  CloseHandle(tok);
  return sid;
}

/* sid_allowed() tells whether sid may have access to a secret: the
 * service account (self), LocalSystem (S-1-5-18) or BUILTIN\Administrators
 * (S-1-5-32-544). */
static bool sid_allowed(PSID sid, PSID self)
{
  return (self && EqualSid(sid, self)) ||
         IsWellKnownSid(sid, WinLocalSystemSid) ||
         IsWellKnownSid(sid, WinBuiltinAdministratorsSid);
}

int plat_secret_check(int fd, const char *path, uid_t owner, char *err,
                      size_t errlen)
{
  HANDLE h = (HANDLE)_get_osfhandle(fd);
  PSECURITY_DESCRIPTOR sd = NULL;
  PSID self;
  PACL dacl = NULL;
  DWORD i, rc;
  int ret = 0;

  (void)owner;
  if(h == INVALID_HANDLE_VALUE || GetFileType(h) != FILE_TYPE_DISK) {
    snprintf(err, errlen, "secret: %s: not a regular file", path);
    return -EINVAL;
  }
  rc = GetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL,
                       &dacl, NULL, &sd);
  if(rc != ERROR_SUCCESS) {
    snprintf(err, errlen, "secret: %s: cannot read its DACL: error %lu", path,
             (unsigned long)rc);
    return -EACCES;
  }
  if(!dacl) {
    snprintf(err, errlen,
             "secret: %s: has no DACL (everyone has access); allow only "
             "the service account, SYSTEM and Administrators",
             path);
    ret = -EPERM;
  }
  self = self_sid();
  for(i = 0; !ret && i < dacl->AceCount; i++) {
    ACE_HEADER *ace;
    PSID sid;
    char *name = NULL;

    /* Inherit-only entries (CREATOR OWNER from C:\ProgramData) apply to
     * files created below, not to this one. */
    if(!GetAce(dacl, i, (void **)&ace) ||
       ace->AceType != ACCESS_ALLOWED_ACE_TYPE ||
       (ace->AceFlags & INHERIT_ONLY_ACE))
      continue;
    sid = (PSID) & ((ACCESS_ALLOWED_ACE *)ace)->SidStart;
    if(sid_allowed(sid, self))
      continue;
    ConvertSidToStringSidA(sid, &name);
    snprintf(err, errlen,
             "secret: %s: its DACL gives %s access; allow only the service "
             "account, SYSTEM and Administrators (icacls FILE "
             "/inheritance:r /grant:r ACCOUNT:R)",
             path, name ? name : "another account");
    LocalFree(name);
    ret = -EPERM;
  }
  free(self);
  LocalFree(sd);
  return ret;
}

int plat_secret_unprotect(const char *path, char **buf, size_t *len, char *err,
                          size_t errlen)
{
  size_t pl = strlen(path);
  DATA_BLOB in, out;
  char *plain;

  if(pl < 6 || _stricmp(path + pl - 6, ".dpapi"))
    return 0;
  in.pbData = (BYTE *)*buf;
  in.cbData = (DWORD)*len;
  if(!CryptUnprotectData(&in, NULL, NULL, NULL, NULL, CRYPTPROTECT_UI_FORBIDDEN,
                         &out)) {
    snprintf(err, errlen,
             "secret: %s: CryptUnprotectData failed (error %lu): protect it "
             "as the service account or with the LocalMachine scope",
             path, (unsigned long)GetLastError());
    return -EINVAL;
  }
  plain = malloc((size_t)out.cbData + 1);
  if(plain) {
    memcpy(plain, out.pbData, out.cbData);
    plain[out.cbData] = '\0';
  }
  SecureZeroMemory(out.pbData, out.cbData);
  LocalFree(out.pbData);
  if(!plain) {
    snprintf(err, errlen, "secret: %s: out of memory", path);
    return -ENOMEM;
  }
  SecureZeroMemory(*buf, *len + 1);
  free(*buf);
  *buf = plain;
  *len = out.cbData;
  return 0;
}

int plat_replace(const char *tmp, const char *path, const char **what)
{
  wchar_t *wt = utf16(tmp), *wp = utf16(path);
  int rc = 0;

  /* "MOVEFILE_WRITE_THROUGH: the function does not return until the file
   * is actually moved on the disk" (https://learn.microsoft.com/en-us/
   * windows/win32/api/winbase/nf-winbase-movefileexw). */
  if(!wt || !wp)
    rc = -ENOMEM;
  else if(!MoveFileExW(wt, wp,
                       MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
    rc = GetLastError() == ERROR_ACCESS_DENIED ? -EACCES : -EIO;
  if(rc)
    *what = "rename";
  free(wt);
  free(wp);
  return rc;
}

int plat_fsync(int fd)
{
  HANDLE h = (HANDLE)_get_osfhandle(fd);

  return h != INVALID_HANDLE_VALUE && FlushFileBuffers(h) ? 0 : -EIO;
}

/* https://learn.microsoft.com/en-us/windows/win32/fileio/naming-a-file
 * ("Fully qualified vs. relative paths"): "C:" without a separator is
 * relative to that drive's current directory, so it is not absolute. */
bool plat_path_absolute(const char *path)
{
  if(path[0] == '/' || path[0] == '\\')
    return true;
  return ((path[0] >= 'A' && path[0] <= 'Z') ||
          (path[0] >= 'a' && path[0] <= 'z')) &&
         path[1] == ':' && (path[2] == '/' || path[2] == '\\');
}

/* The CRT's stat() has no inode (st_ino is 0), so the identity is read
 * from the handles: "the volume serial number and the file index uniquely
 * identify a file on a single computer" (https://learn.microsoft.com/en-us/
 * windows/win32/api/fileapi/ns-fileapi-by_handle_file_information).  The
 * path is opened for no access, sharing everything, and closed here. */
bool plat_same_file(const char *path, int fd)
{
  BY_HANDLE_FILE_INFORMATION a, b;
  HANDLE h = (HANDLE)_get_osfhandle(fd), ph;
  wchar_t *w = utf16(path);
  bool same = false;

  if(!w || h == INVALID_HANDLE_VALUE) {
    free(w);
    return false;
  }
  ph = CreateFileW(w, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                   NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
  free(w);
  if(ph == INVALID_HANDLE_VALUE)
    return false;
  if(GetFileInformationByHandle(h, &a) && GetFileInformationByHandle(ph, &b))
    same = a.dwVolumeSerialNumber == b.dwVolumeSerialNumber &&
           a.nFileIndexHigh == b.nFileIndexHigh &&
           a.nFileIndexLow == b.nFileIndexLow;
  CloseHandle(ph);
  return same;
}

/* ===== processes ===== */

static void (*deadline_fn)(void);

static void CALLBACK on_deadline(void *arg, BOOLEAN fired)
{
  (void)arg;
  (void)fired;
  deadline_fn();
}

/* The timer is never deleted: fn ends the process. */
int plat_deadline(unsigned seconds, void (*fn)(void))
{
  HANDLE t;

  deadline_fn = fn;
  if(!CreateTimerQueueTimer(&t, NULL, on_deadline, NULL, seconds * 1000u, 0,
                            WT_EXECUTEONLYONCE))
    return -ENOMEM;
  return 0;
}

/* ===== commands ===== */

int plat_shell_argv(const char *cmd, char **script, char *argv[5])
{
  static char comspec[MAX_PATH];
  const char *cs = getenv("ComSpec");

  snprintf(comspec, sizeof(comspec), "%s",
           cs && *cs ? cs : "C:\\Windows\\System32\\cmd.exe");
  if(asprintf(script, "(%s) 2>&1", cmd) < 0) {
    *script = NULL;
    return -ENOMEM;
  }
  argv[0] = comspec;
  argv[1] = "/d";
  argv[2] = "/c";
  argv[3] = *script;
  argv[4] = NULL;
  return 0;
}

const char *plat_shell_path(void)
{
  return "C:\\Windows\\System32;C:\\Windows;"
         "C:\\Windows\\System32\\WindowsPowerShell\\v1.0";
}

/* BCryptGenRandom (with BCRYPT_USE_SYSTEM_PREFERRED_RNG no algorithm
 * handle is needed) takes a ULONG count, so a large len goes in pieces.
 * https://learn.microsoft.com/en-us/windows/win32/api/bcrypt/nf-bcrypt-bcryptgenrandom
 */
int plat_random(void *buf, size_t len)
{
  unsigned char *b = buf;

  while(len) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;

    if(!BCRYPT_SUCCESS(
           BCryptGenRandom(NULL, b, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
      return -EIO;
    b += n;
    len -= n;
  }
  return 0;
}

/* The lock covers every byte there can be (both length halves all ones).
 * https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-lockfileex
 */
int plat_lock(int fd, bool wait)
{
  HANDLE h = (HANDLE)_get_osfhandle(fd);
  OVERLAPPED ov;
  DWORD flags = LOCKFILE_EXCLUSIVE_LOCK;

  if(h == INVALID_HANDLE_VALUE)
    return -EBADF;
  if(!wait)
    flags |= LOCKFILE_FAIL_IMMEDIATELY;
  memset(&ov, 0, sizeof(ov));
  if(LockFileEx(h, flags, 0, MAXDWORD, MAXDWORD, &ov))
    return 0;
  return GetLastError() == ERROR_LOCK_VIOLATION ? -EWOULDBLOCK : -EIO;
}

const char *plat_errno_name(int err)
{
#define E(x) [x] = #x
  static const char *const names[] = {
      E(EPERM),  E(ENOENT),       E(EIO),       E(EBADF),   E(ENOMEM),
      E(EACCES), E(EBUSY),        E(EEXIST),    E(ENOTDIR), E(EISDIR),
      E(EINVAL), E(ENFILE),       E(EMFILE),    E(EFBIG),   E(ENOSPC),
      E(EROFS),  E(ENAMETOOLONG), E(ENOTEMPTY), E(EAGAIN)};
#undef E

  if(err > 0 && (size_t)err < sizeof(names) / sizeof(names[0]))
    return names[err];
  return NULL;
}

const char *plat_lacks(enum plat_feature f)
{
  switch(f) {
  case PLAT_HEALTH:
    return "the health endpoint does not exist on Windows; leave it unset "
           "or none";
  case PLAT_LOCAL_LOG:
    return "the journal and the local syslog do not exist on Windows";
  }
  return NULL;
}
