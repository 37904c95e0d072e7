/* SPDX-License-Identifier: MIT
 *
 * fuzz: the shared part of the libFuzzer targets (see fuzz.h).
 */
#include "fuzz.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/log.h"

static char dir[PATH_MAX];

static void remove_dir(void)
{
  fuzz_clean();
  rmdir(dir);
}

/* The readers take paths, so every input is a file: in memory (/dev/shm)
 * where there is one, which makes the file targets ten times faster than
 * on a disk. */
const char *fuzz_dir(void)
{
  const char *tmp = getenv("TMPDIR");

  if(dir[0])
    return dir;
  if(!access("/dev/shm", W_OK))
    tmp = "/dev/shm";
  snprintf(dir, sizeof(dir), "%s/qdfuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if(!mkdtemp(dir))
    abort();
  atexit(remove_dir);
  return dir;
}

const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
  static char path[PATH_MAX];
  int fd;

  snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if(fd < 0)
    abort();
  while(size) {
    ssize_t n = write(fd, data, size);

    if(n <= 0)
      abort();
    data += n;
    size -= (size_t)n;
  }
  if(close(fd))
    abort();
  return path;
}

void fuzz_clean(void)
{
  DIR *d = opendir(fuzz_dir());
  struct dirent *e;
  char path[PATH_MAX];

  if(!d)
    return;
  while((e = readdir(d))) {
    if(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);

  if(!s)
    abort();
  if(size)
    memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

void fuzz_ignore_report(void *arg, enum anchors_level level, const char *file,
                        unsigned line, const char *msg)
{
  (void)arg;
  (void)level;
  (void)file;
  (void)line;
  (void)msg;
}

/* The log is turned off below every priority: a run measures the parser,
 * not syslog. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  log_set_level(-1);
  return 0;
}
