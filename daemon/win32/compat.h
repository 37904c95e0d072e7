/* SPDX-License-Identifier: MIT
 *
 * compat.h: the POSIX types and functions the Windows C runtime lacks,
 * force-included (-include) by the Windows build so that the modules need
 * no #ifdef; the functions that take more than a line are in compat.c.
 */
#ifndef QD_WIN32_COMPAT_H
#define QD_WIN32_COMPAT_H

/* mingw-w64's C99 printf family (%zu, %lld), checked as GNU's. */
#define __USE_MINGW_ANSI_STDIO 1
#define QD_PRINTF_STYLE __gnu_printf__

/* 64-bit file offsets (the spool and the journals can outgrow 2 GiB). */
#define _FILE_OFFSET_BITS 64
#include <sys/types.h>

/* The types of the CRT's st_uid and st_gid (always 0 there). */
typedef short uid_t; /* plat_secret_check()'s owner; unused there */
typedef short gid_t; /* struct preflight_user's; unused there */

/* open(2) flags: a descriptor the CRT does not let children inherit;
 * Windows has no controlling terminals, and the other two only narrow what
 * POSIX opens. */
#include <fcntl.h>
#define O_CLOEXEC _O_NOINHERIT
#define O_NOCTTY 0
#define O_NOFOLLOW 0
#define O_DIRECTORY 0

/* errno values the CRT does not define (Linux's numbers). */
#define ENOTUNIQ 76
#define ESHUTDOWN 108

/* mkdir(2)'s mode: the directory inherits its parent's DACL instead. */
#include <io.h>
#define mkdir(path, mode) mkdir(path)

/* gmtime_r(3) and localtime_r(3): mingw-w64's time.h has them when asked
 * for the POSIX thread-safe functions.  timegm(3) is the CRT's
 * _mkgmtime(). */
#define _POSIX_THREAD_SAFE_FUNCTIONS 200112L
#include <time.h>
#define timegm _mkgmtime

/* fsync(2) and fdatasync(2): the CRT's _commit() is FlushFileBuffers(),
 * which writes the data and the metadata alike. */
#define fsync(fd) _commit(fd)
#define fdatasync(fd) _commit(fd)

/* Files have no POSIX modes or owners on Windows: the secret files' DACL is
 * checked by plat_secret_check(), a new file inherits its directory's DACL
 * (fchmod() and chown() succeed without changing it), and geteuid() and
 * getegid() are 0, as the CRT's st_uid and st_gid always are.  The credential
 * directory that refuses symbolic links is systemd's, so lstat() is
 * stat() and nothing is a link. */
#include <sys/stat.h>
#define lstat(path, st) stat(path, st)
#define S_ISLNK(m) ((void)(m), 0)
static inline int fchmod(int fd, mode_t mode)
{
  (void)fd;
  (void)mode;
  return 0;
}
static inline uid_t geteuid(void)
{
  return 0;
}
static inline gid_t getegid(void)
{
  return 0;
}
static inline int chown(const char *path, uid_t uid, gid_t gid)
{
  (void)path;
  (void)uid;
  (void)gid;
  return 0;
}

/* fopen(3)'s "e" (close on exec) is the CRT's "N" (not inherited);
 * qd_fopen() translates it, as the CRT refuses a letter it does not know. */
#include <stdio.h>
FILE *qd_fopen(const char *path, const char *mode);
#define fopen(path, mode) qd_fopen(path, mode)

/* O_APPEND: the CRT seeks to the end before each of its own _write()s,
 * but libuv writes to the handle itself, at the file pointer.  qd_open()
 * puts the pointer of a file opened with O_APPEND at its end, and
 * qd_ftruncate() puts it back at the end of such a file when it cuts it,
 * so that writes append for the one process writing the file (the spool,
 * the alerts file).  Object-like macros, so that a struct member of the
 * same name is renamed alike everywhere. */
#include <unistd.h>
int qd_open(const char *path, int flags, ...);
int qd_ftruncate(int fd, off_t len);
#undef ftruncate
#define open qd_open
#define ftruncate qd_ftruncate

/* The POSIX functions compat.c writes for the CRT, as POSIX specifies
 * them (errno set on failure).  pread() and pwrite() leave the file
 * position where it was, as POSIX's do. */
char *strndup(const char *s, size_t n);
char *strcasestr(const char *hay, const char *needle);
void explicit_bzero(void *p, size_t n);
ssize_t getline(char **line, size_t *cap, FILE *f);
ssize_t pread(int fd, void *buf, size_t n, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
int mkostemp(char *tmpl, int flags);

#endif
