/* SPDX-License-Identifier: MIT
 *
 * preflight: what `quarantined -n` checks beyond the syntax of the file:
 * every file the daemon will open at start, as the user the service runs
 * as, without changing anything.  Secrets, keys and credentials exist,
 * have safe modes and parse (a key matches its certificate); the
 * certificate, CA bundle and anchors file can be read by the service
 * user; the state directory and the alerts file can be made.
 */
#ifndef QD_PREFLIGHT_H
#define QD_PREFLIGHT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "cfg.h"

/* The directory the shipped unit loads as credentials
 * (LoadCredential=credentials:QD_CREDDIR): its file F is the credential
 * "credentials_F". */
#ifndef QD_CREDDIR
#define QD_CREDDIR "/etc/quarantined/credentials"
#endif
#define PREFLIGHT_CRED_PREFIX "credentials_"

/* Who the files are checked for. */
struct preflight_user {
  char name[64]; /* for messages: "root", "quarantined", "uid 65534" */
  uid_t uid;
  gid_t gid;
  gid_t groups[64]; /* supplementary groups */
  int ngroups;
  bool self;    /* the calling process itself: no identity switch */
  bool dynamic; /* stands for systemd's DynamicUser=yes */
};

/* preflight_user_self() describes the calling process. */
void preflight_user_self(struct preflight_user *u);

/* preflight_user_dynamic() describes the user a DynamicUser=yes service
 * gets: a uid that owns none of the files and is in none of their groups
 * (nobody's uid and gid, no supplementary groups). */
void preflight_user_dynamic(struct preflight_user *u);

/* preflight_user_default() describes the user the service runs as when
 * -u is not given: root checks for the dynamic user the shipped unit runs
 * as, anyone else for themselves; on Windows always the caller (run -n as
 * the service account). */
void preflight_user_default(struct preflight_user *u);

/* preflight_can_switch() tells whether the caller can take another user's
 * identity to check the files as that user (root; never on Windows). */
bool preflight_can_switch(void);

/* preflight_user_lookup() describes the user called spec, or with the
 * numeric uid spec, with its groups.  Returns 0, or -ENOENT with a
 * message in err. */
int preflight_user_lookup(const char *spec, struct preflight_user *u, char *err,
                          size_t errlen);

/* preflight_check() checks every file cfg names, for user u, and prints
 * one "FILE:LINE: message" line per problem to out (FILE being cfg's
 * file, LINE the line of the key; "FILE: message" for a key left at its
 * default).  Reading as another user happens in a child process that
 * takes u's identity, so only a root caller can check for another user.
 * Nothing is created or changed.  Returns the number of problems. */
int preflight_check(const struct cfg *cfg, const struct preflight_user *u,
                    FILE *out);

#endif
