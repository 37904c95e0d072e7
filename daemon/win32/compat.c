/* SPDX-License-Identifier: MIT
 *
 * compat.c: the POSIX functions the Windows C runtime lacks, for the
 * Windows build only (declared in compat.h, which that build force-
 * includes).  Each behaves as POSIX specifies, errno set on failure; the
 * one state kept is which descriptors were opened with O_APPEND.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <io.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <windows.h>

#include <bcrypt.h>

#undef fopen
#undef open
#undef ftruncate

/* Descriptors opened with O_APPEND (the CRT numbers them from 0 up). */
#define APPEND_FDS 4096
static bool append_fd[APPEND_FDS];

/* The descriptor is the caller's. */
int qd_open(const char *path, int flags, ...)
{
  int mode = 0, fd;
  va_list ap;

  if(flags & O_CREAT) {
    va_start(ap, flags);
    mode = va_arg(ap, int);
    va_end(ap);
  }
  /* Of the mode, the CRT keeps only whether the owner may write. */
  fd = _open(path, flags | _O_BINARY, _S_IREAD | (mode & 0200 ? _S_IWRITE : 0));
  if(fd < 0 || fd >= APPEND_FDS)
    return fd;
  append_fd[fd] = flags & O_APPEND;
  if(append_fd[fd] && _lseeki64(fd, 0, SEEK_END) < 0) {
    _close(fd);
    return -1;
  }
  return fd;
}

int qd_ftruncate(int fd, off_t len)
{
  if(ftruncate64(fd, len) < 0)
    return -1;
  if(fd >= 0 && fd < APPEND_FDS && append_fd[fd] &&
     _lseeki64(fd, 0, SEEK_END) < 0)
    return -1;
  return 0;
}

/* The mode is copied with "e" made "N"; the caller owns the FILE. */
FILE *qd_fopen(const char *path, const char *mode)
{
  char m[16];
  size_t i;

  for(i = 0; mode[i] && i < sizeof(m) - 1; i++)
    m[i] = mode[i] == 'e' ? 'N' : mode[i];
  m[i] = '\0';
  return fopen(path, m);
}

/* The copy is the caller's to free. */
char *strndup(const char *s, size_t n)
{
  const char *end = memchr(s, '\0', n);
  size_t len = end ? (size_t)(end - s) : n;
  char *p = malloc(len + 1);

  if(!p)
    return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

/* The result points into hay. */
char *strcasestr(const char *hay, const char *needle)
{
  size_t n = strlen(needle);

  for(; *hay; hay++)
    if(!_strnicmp(hay, needle, n))
      return (char *)(uintptr_t)hay;
  return *needle ? NULL : (char *)(uintptr_t)hay;
}

/* SecureZeroMemory() is not optimised away, as memset() can be. */
void explicit_bzero(void *p, size_t n)
{
  SecureZeroMemory(p, n);
}

/* *line is the caller's (realloc'ed here as it grows), as getline(3). */
ssize_t getline(char **line, size_t *cap, FILE *f)
{
  size_t len = 0;
  int c;

  if(!line || !cap || !f) {
    errno = EINVAL;
    return -1;
  }
  while((c = getc(f)) != EOF) {
    if(len + 2 > *cap || !*line) {
      size_t ncap = *cap < 128 ? 128 : *cap * 2;
      char *p = realloc(*line, ncap);

      if(!p) {
        errno = ENOMEM;
        return -1;
      }
      *line = p;
      *cap = ncap;
    }
    (*line)[len++] = (char)c;
    if(c == '\n')
      break;
  }
  if(!len)
    return -1;
  (*line)[len] = '\0';
  return (ssize_t)len;
}

/* pread() and pwrite(): ReadFile()/WriteFile() at an offset move the
 * file pointer, so it is put back where it was. */
static ssize_t rw_at(int fd, void *rbuf, const void *wbuf, size_t n, off_t off)
{
  HANDLE h = (HANDLE)_get_osfhandle(fd);
  LARGE_INTEGER zero = {0}, pos;
  OVERLAPPED ov = {0};
  DWORD done = 0;
  BOOL ok;

  if(h == INVALID_HANDLE_VALUE || off < 0) {
    errno = EBADF;
    return -1;
  }
  if(n > UINT32_MAX)
    n = UINT32_MAX;
  if(!SetFilePointerEx(h, zero, &pos, FILE_CURRENT)) {
    errno = ESPIPE;
    return -1;
  }
  ov.Offset = (DWORD)((uint64_t)off & 0xffffffffu);
  ov.OffsetHigh = (DWORD)((uint64_t)off >> 32);
  if(rbuf)
    ok = ReadFile(h, rbuf, (DWORD)n, &done, &ov);
  else
    ok = WriteFile(h, wbuf, (DWORD)n, &done, &ov);
  if(!ok && GetLastError() == ERROR_HANDLE_EOF)
    ok = TRUE; /* reading at or past the end: 0 bytes */
  SetFilePointerEx(h, pos, NULL, FILE_BEGIN);
  if(!ok) {
    errno = EIO;
    return -1;
  }
  return (ssize_t)done;
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
  return rw_at(fd, buf, NULL, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
  return rw_at(fd, NULL, buf, n, off);
}

/* The descriptor and the name written into tmpl are the caller's.  The
 * six X's become random letters and digits (BCryptGenRandom()), retried
 * while the name exists. */
int mkostemp(char *tmpl, int flags)
{
  static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  size_t len = strlen(tmpl), i;
  int tries, fd;

  if(len < 6 || strcmp(tmpl + len - 6, "XXXXXX")) {
    errno = EINVAL;
    return -1;
  }
  for(tries = 0; tries < 100; tries++) {
    unsigned char r[6];

    if(BCryptGenRandom(NULL, r, sizeof(r), BCRYPT_USE_SYSTEM_PREFERRED_RNG)) {
      errno = EIO;
      return -1;
    }
    for(i = 0; i < 6; i++)
      tmpl[len - 6 + i] = set[r[i] % (sizeof(set) - 1)];
    fd = _open(tmpl, _O_RDWR | _O_CREAT | _O_EXCL | _O_BINARY | flags,
               _S_IREAD | _S_IWRITE);
    if(fd >= 0 || errno != EEXIST)
      return fd;
  }
  errno = EEXIST;
  return -1;
}
