/* SPDX-License-Identifier: MIT
 *
 * secret: safe reading of secret files and systemd credentials.  The file
 * is opened without following symlinks and checked through the open
 * descriptor (plat_secret_check(): modes, or a DACL on Windows), so it
 * cannot be swapped between check and read.
 * Buffers that held secret bytes are always wiped before they are freed.
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "plat.h"

/* report() writes a message to err, or logs it when err is NULL. */
static void report(char *err, size_t errlen, const char *fmt, ...)
    QD_PRINTF(3, 4);

static void report(char *err, size_t errlen, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if(err && errlen)
    snprintf(err, errlen, "%s", msg);
  else if(!err)
    log_errx("%s", msg);
}

/* read_all() reads fd to its end into a new buffer of at most max bytes
 * plus a NUL; hint is the size fstat reported.  Growing copies the data
 * and wipes the old buffer, so no stray copy of the secret is left on the
 * heap (realloc() would not wipe).  Returns 0 and sets *out and *len, or a
 * negative errno code (-EFBIG over max) with nothing allocated. */
static int read_all(int fd, size_t max, size_t hint, char **out, size_t *len)
{
  size_t cap = hint < max ? hint + 1 : max + 1;
  size_t n = 0;
  char *buf;
  int rc;

  if(cap < 64)
    cap = 64;
  buf = malloc(cap);
  if(!buf)
    return -ENOMEM;
  for(;;) {
    ssize_t r;

    if(n + 1 >= cap) {
      size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
      char *nbuf;

      if(n >= max) {
        char extra;

        /* Full: one more byte means the file is over the limit. */
        r = read(fd, &extra, 1);
        if(r < 0 && errno == EINTR)
          continue;
        if(r == 0)
          break;
        rc = r < 0 ? -errno : -EFBIG;
        explicit_bzero(&extra, sizeof(extra));
        secret_free(buf, n);
        return rc;
      }
      nbuf = malloc(ncap);
      if(!nbuf) {
        secret_free(buf, n);
        return -ENOMEM;
      }
      memcpy(nbuf, buf, n);
      secret_free(buf, n);
      buf = nbuf;
      cap = ncap;
    }
    r = read(fd, buf + n, cap - 1 - n);
    if(r < 0) {
      int e = errno;

      if(e == EINTR)
        continue;
      secret_free(buf, n);
      return -e;
    }
    if(r == 0)
      break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

int secret_read_file(const char *path, size_t max, char **out, size_t *len,
                     char *err, size_t errlen)
{
  return secret_read_file_for(path, max, geteuid(), out, len, err, errlen);
}

int secret_read_file_for(const char *path, size_t max, uid_t owner, char **out,
                         size_t *len, char *err, size_t errlen)
{
  struct stat st;
  char *buf = NULL, why[512];
  size_t n = 0;
  int fd, rc;

  if(!max)
    max = SECRET_MAX_SECRET;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if(fd == -1) {
    rc = -errno;
    if(rc == -ELOOP)
      report(err, errlen,
             "secret: %s: is a symbolic link; give the real file's path", path);
    else
      report(err, errlen, "secret: %s: cannot open: %s", path, strerror(-rc));
    return rc;
  }
  rc = plat_secret_check(fd, path, owner, why, sizeof(why));
  if(!rc && fstat(fd, &st) == -1) {
    rc = -errno;
    snprintf(why, sizeof(why), "secret: %s: fstat: %s", path, strerror(-rc));
  }
  if(rc) {
    report(err, errlen, "%s", why);
    close(fd);
    return rc;
  }
  if(st.st_size > 0 && (unsigned long long)st.st_size > max) {
    close(fd);
    report(err, errlen, "secret: %s: %lld bytes is over the %zu-byte limit",
           path, (long long)st.st_size, max);
    return -EFBIG;
  }
  rc = read_all(fd, max, (size_t)st.st_size, &buf, &n);
  close(fd);
  if(rc == -EFBIG) {
    report(err, errlen, "secret: %s: over the %zu-byte limit", path, max);
    return rc;
  }
  if(rc) {
    report(err, errlen, "secret: %s: read: %s", path, strerror(-rc));
    return rc;
  }
  rc = plat_secret_unprotect(path, &buf, &n, why, sizeof(why));
  if(rc) {
    secret_free(buf, n);
    report(err, errlen, "%s", why);
    return rc;
  }
  while(n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                  buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    buf[--n] = '\0';
  if(!n) {
    secret_free(buf, n);
    report(err, errlen, "secret: %s: is empty", path);
    return -EINVAL;
  }
  *out = buf;
  *len = n;
  return 0;
}

int secret_read_credential(const char *name, size_t max, char **out,
                           size_t *len, char *err, size_t errlen)
{
  const char *dir = getenv("CREDENTIALS_DIRECTORY");
  char *path;
  int rc;

  if(!name || !*name || strchr(name, '/') || !strcmp(name, ".") ||
     !strcmp(name, "..")) {
    report(err, errlen, "secret: credential name '%s' is not a plain name",
           name ? name : "");
    return -EINVAL;
  }
  if(!dir || !*dir) {
    report(err, errlen,
           "secret: credential '%s' requested but $CREDENTIALS_DIRECTORY "
           "is not set (use LoadCredential= in the unit)",
           name);
    return -ENOENT;
  }
  if(asprintf(&path, "%s/%s", dir, name) == -1) {
    report(err, errlen, "secret: credential '%s': out of memory", name);
    return -ENOMEM;
  }
  rc = secret_read_file(path, max, out, len, err, errlen);
  free(path);
  return rc;
}

void secret_free(char *s, size_t len)
{
  if(!s)
    return;
  explicit_bzero(s, len + 1);
  free(s);
}
