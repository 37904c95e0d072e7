/* SPDX-License-Identifier: MIT
 *
 * atomic: temp file, fsync, rename, fsync of the directory.  The temp file
 * is made with mkostemp() next to the target, so the rename never crosses
 * a file system.
 */
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_write_all(int fd, const char *buf, size_t len)
{
  while(len) {
    ssize_t n = write(fd, buf, len);

    if(n < 0) {
      if(errno == EINTR)
        continue;
      return -errno;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* fsync_dir() makes a rename in the directory holding path durable.
 * Returns 0 or -errno. */
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

int atomic_write(const char *path, const char *data, size_t len, mode_t mode,
                 const char **what)
{
  const char *step = "";
  char *tmp = NULL;
  int fd = -1, rc = 0;

  if(asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
    tmp = NULL;
    rc = -ENOMEM;
    step = "out of memory";
    goto fail;
  }
  fd = mkostemp(tmp, O_CLOEXEC);
  if(fd < 0) {
    rc = -errno;
    step = "create temp file";
    free(tmp);
    tmp = NULL;
    goto fail;
  }
  if(fchmod(fd, mode) < 0) {
    rc = -errno;
    step = "fchmod";
    goto fail;
  }
  rc = atomic_write_all(fd, data, len);
  if(rc) {
    step = "write";
    goto fail;
  }
  if(fsync(fd) < 0) {
    rc = -errno;
    step = "fsync";
    goto fail;
  }
  rc = close(fd) < 0 ? -errno : 0;
  fd = -1;
  if(rc) {
    step = "close";
    goto fail;
  }
  if(rename(tmp, path) < 0) {
    rc = -errno;
    step = "rename";
    goto fail;
  }
  free(tmp);
  rc = fsync_dir(path);
  if(rc && what)
    *what = "fsync directory";
  return rc;

fail:
  if(fd >= 0)
    close(fd);
  if(tmp)
    unlink(tmp);
  free(tmp);
  if(what)
    *what = step;
  return rc;
}
