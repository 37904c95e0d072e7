/* SPDX-License-Identifier: MIT
 *
 * ctl_source: where quarantinectl's conflicts, status and check commands
 * get their data.  The running daemon is asked over its health endpoint
 * (the Unix socket, then the TCP address, both from the configuration);
 * when it does not answer, conflicts are read from the state files,
 * read-only: the daemon replaces them by rename, so a reader never
 * blocks it and never sees half a file.
 */
#ifndef QD_CTL_SOURCE_H
#define QD_CTL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cfg.h"
#include "conflict.h"

/* Exit codes shared by the commands (quarantinectl(8), EXIT STATUS). */
#define CTL_SOURCE_EXIT_OK 0
#define CTL_SOURCE_EXIT_FAIL 1
#define CTL_SOURCE_EXIT_USAGE 2
#define CTL_SOURCE_EXIT_NOT_RUNNING 3

/* Where to look; filled from the options, then the configuration. */
struct ctl_source_env {
  const char *conf_path; /* -f; default QD_CONFFILE */
  const char *state_dir; /* --state-dir, or the configuration's */
  const char *socket;    /* --socket, or health_socket; NULL = none */
  const char *url;       /* --url, or http://<health_listen>/; NULL = none */
  long timeout_ms;       /* per request; 0 means 5 s */
  bool offline;          /* --offline: never ask the daemon */
  struct cfg *cfg;       /* owned; NULL when the file was not read */
  char url_buf[96];
};

/* The long options every command of this family takes, and their
 * getopt_long() values; ctl_source_env_option() handles one. */
#define CTL_SOURCE_LONGOPTS                                                    \
  {"config", required_argument, NULL, 'f'},                                    \
      {"state-dir", required_argument, NULL, 0x101},                           \
      {"socket", required_argument, NULL, 0x102},                              \
      {"url", required_argument, NULL, 0x103},                                 \
  {                                                                            \
    "offline", no_argument, NULL, 0x104                                        \
  }

/* ctl_source_env_option() takes option ch (with arg) if it is one of
 * CTL_SOURCE_LONGOPTS: returns 1 when taken, else 0. */
int ctl_source_env_option(struct ctl_source_env *env, int ch, const char *arg);

/* ctl_source_env_load() reads the configuration (unless --state-dir, --socket
 * or
 * --url say enough and the file is missing) and fills in what the options
 * left open.  Returns 0, or CTL_SOURCE_EXIT_FAIL after printing one line naming
 * the file. */
int ctl_source_env_load(struct ctl_source_env *env);

void ctl_source_env_free(struct ctl_source_env *env);

/* ctl_source_get() GETs path ("/status.json") from the daemon: the Unix socket
 * first, then the URL, unless env->offline.  Returns 0 with *body
 * (malloc'd, NUL-terminated) and *status set; -ENOTCONN when the daemon
 * does not answer on either (not running); -ETIMEDOUT; -EIO.  Nothing is
 * printed. */
int ctl_source_get(const struct ctl_source_env *env, const char *path,
                   bool socket_only, char **body, long *status);

/* One tenant's conflicts. */
struct ctl_source_tenant {
  char *name;
  struct conflict_set *set;
};

/* What the conflicts commands read. */
struct ctl_source_data {
  struct ctl_source_tenant *t;
  size_t n;
  bool live; /* from the running daemon, not the state files */
};

/* ctl_source_load() fills *out with every tenant's conflicts (or only
 * tenant's), from the daemon when it answers, else from the state
 * directory.  Returns 0; or CTL_SOURCE_EXIT_FAIL after printing one line (an
 * unknown tenant, an unreadable state directory or file). */
int ctl_source_load(const struct ctl_source_env *env, const char *tenant,
                    struct ctl_source_data *out);

void ctl_source_data_free(struct ctl_source_data *d);

#endif
