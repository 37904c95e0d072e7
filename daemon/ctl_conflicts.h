/* SPDX-License-Identifier: MIT
 *
 * ctl_conflicts: `quarantinectl conflicts` (list and filter) and
 * `quarantinectl show KEY|VALUE` (one conflict in full).  Both read
 * through ctl_source: the running daemon, else the state files.
 */
#ifndef QD_CTL_CONFLICTS_H
#define QD_CTL_CONFLICTS_H

/* Each takes the command's arguments (argv[0] is the command name) and
 * returns the exit status; errors are printed as one line. */
int ctl_conflicts_list(int argc, char **argv);
int ctl_conflicts_show(int argc, char **argv);

#endif
