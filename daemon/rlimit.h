/* SPDX-License-Identifier: MIT
 *
 * rlimit: the daemon's file descriptor limit.  Every tenant holds
 * connections, so the soft RLIMIT_NOFILE of 1024 that systemd and most
 * shells start with is raised to the hard limit at start, and a shortage
 * is described with the limit so an admin knows what to raise.
 */
#ifndef QD_RLIMIT_H
#define QD_RLIMIT_H

/* rlimit_raise_nofile() sets the soft RLIMIT_NOFILE to the hard limit.
 * *before and *after receive the soft limit before and after (equal when
 * it already was the hard limit; RLIM_INFINITY is reported as is).
 * Returns 0 or a negative errno code from getrlimit/setrlimit; nothing is
 * logged here. */
int rlimit_raise_nofile(unsigned long long *before, unsigned long long *after);

/* rlimit_nofile_soft() is the current soft RLIMIT_NOFILE, or 0 when it
 * cannot be read. */
unsigned long long rlimit_nofile_soft(void);

#endif
