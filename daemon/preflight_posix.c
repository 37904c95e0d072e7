/* SPDX-License-Identifier: MIT
 *
 * preflight_posix: who `quarantined -n` checks the files for, on POSIX:
 * users from the password and group databases, and the question whether
 * such a user can open a file asked in a forked child that has taken the
 * user's identity, so ACLs and directory permissions count as they will at
 * start.
 */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preflight_int.h"

/* The account a dynamic user is no more privileged than. */
#define NOBODY_ID 65534

void preflight_user_default(struct preflight_user *u)
{
  if(geteuid() == 0)
    preflight_user_dynamic(u);
  else
    preflight_user_self(u);
}

bool preflight_can_switch(void)
{
  return geteuid() == 0;
}

void preflight_user_self(struct preflight_user *u)
{
  struct passwd *pw = getpwuid(geteuid());

  memset(u, 0, sizeof(*u));
  u->uid = geteuid();
  u->gid = getegid();
  u->self = true;
  if(pw)
    snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
  else
    snprintf(u->name, sizeof(u->name), "uid %lu", (unsigned long)u->uid);
}

void preflight_user_dynamic(struct preflight_user *u)
{
  memset(u, 0, sizeof(*u));
  u->uid = NOBODY_ID;
  u->gid = NOBODY_ID;
  u->dynamic = true;
  snprintf(u->name, sizeof(u->name), "the service's dynamic user");
}

int preflight_user_lookup(const char *spec, struct preflight_user *u, char *err,
                          size_t errlen)
{
  struct passwd *pw;
  char *end;
  unsigned long id;
  int n;

  memset(u, 0, sizeof(*u));
  errno = 0;
  id = strtoul(spec, &end, 10);
  if(*spec && !*end && !errno && id < UINT_MAX)
    pw = getpwuid((uid_t)id);
  else
    pw = getpwnam(spec);
  if(!pw) {
    snprintf(err, errlen, "no user '%s'", spec);
    return -ENOENT;
  }
  u->uid = pw->pw_uid;
  u->gid = pw->pw_gid;
  snprintf(u->name, sizeof(u->name), "user %s", pw->pw_name);
  n = (int)(sizeof(u->groups) / sizeof(u->groups[0]));
  if(getgrouplist(pw->pw_name, pw->pw_gid, u->groups, &n) == -1)
    n = (int)(sizeof(u->groups) / sizeof(u->groups[0]));
  u->ngroups = n;
  u->self = u->uid == geteuid() && u->gid == getegid();
  return 0;
}

/* probe_here() opens path for reading, or asks whether the directory path
 * can be written to.  Returns 0 or a negative errno code. */
static int probe_here(const char *path, enum probe what)
{
  int fd;

  if(what == PROBE_WRITE_DIR)
    return access(path, W_OK | X_OK) == -1 ? -errno : 0;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if(fd == -1)
    return -errno;
  close(fd);
  return 0;
}

int preflight_probe(const struct preflight_user *u, const char *path,
                    enum probe what)
{
  pid_t pid;
  int status;

  if(u->self)
    return probe_here(path, what);
  fflush(NULL);
  pid = fork();
  if(pid == -1)
    return -errno;
  if(pid == 0) {
    int rc;

    if(setgroups((size_t)u->ngroups, u->groups) == -1 || setgid(u->gid) == -1 ||
       setuid(u->uid) == -1)
      _exit(255);
    rc = probe_here(path, what);
    _exit(rc < 0 && -rc < 255 ? -rc : 0);
  }
  while(waitpid(pid, &status, 0) == -1)
    if(errno != EINTR)
      return -errno;
  if(!WIFEXITED(status))
    return -EIO;
  if(WEXITSTATUS(status) == 255)
    return -EPERM;
  return -WEXITSTATUS(status);
}
