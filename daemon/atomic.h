/* SPDX-License-Identifier: MIT
 *
 * atomic: replace a file so that a reader sees either the old or the new
 * contents, never a torn mix: a temp file in the same directory is
 * written, fsync'd and renamed over the old one, then the directory is
 * fsync'd.  Shared by the state file (store) and the anchor suggestions
 * file (anchors).  Nothing is logged here; callers log with their context.
 */
#ifndef QD_ATOMIC_H
#define QD_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>

/* atomic_write() replaces path with the len bytes of data, with the given
 * mode (applied with fchmod, so the umask does not narrow it further).
 * Returns 0, or a negative errno with *what (never NULL on failure; what
 * may be NULL) naming the step that failed ("out of memory", "create temp
 * file", "fchmod", "write", "fsync", "close", "rename", "fsync
 * directory").  On failure before the rename the old file is intact and
 * the temp file is removed; a failing "fsync directory" means the new file
 * is in place but its durability is in doubt.  data and path stay the
 * caller's. */
int atomic_write(const char *path, const char *data, size_t len, mode_t mode,
                 const char **what);

/* atomic_write_all() writes len bytes of buf to fd, retrying short writes
 * and EINTR.  Returns 0 or a negative errno. */
int atomic_write_all(int fd, const char *buf, size_t len);

#endif
