/* SPDX-License-Identifier: MIT
 *
 * atomic: temp file, fsync, rename, fsync of the directory.  The temp file
 * is made with mkostemp() next to the target, so the rename never crosses
 * a file system.
 */
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plat.h"

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
  rc = plat_fsync(fd);
  if(rc) {
    step = "fsync";
    goto fail;
  }
  rc = close(fd) < 0 ? -errno : 0;
  fd = -1;
  if(rc) {
    step = "close";
    goto fail;
  }
  rc = plat_replace(tmp, path, &step);
  if(rc && strcmp(step, "fsync directory"))
    goto fail;
  free(tmp);
  if(rc && what)
    *what = step;
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
