/* SPDX-License-Identifier: MIT
 *
 * afile: atomic_write() (atomic.h) done by libuv's file-system requests,
 * so the loop never waits on the disk: a temp file next to the target is
 * created, written, fsync'd and closed, each step a uv_fs_* request run
 * on libuv's own worker pool, the next step started from the previous
 * one's callback; then plat_replace() (plat.h) renames it over the target
 * durably, on the same pool.
 * A reader sees either the old or the new file, never a torn mix, just
 * as with atomic_write().  Nothing is logged here; the caller logs with
 * its context.
 */
#ifndef QD_AFILE_H
#define QD_AFILE_H

#include <stddef.h>
#include <sys/types.h>

#include <uv.h>

/* Called once, from the loop, when the write has ended: rc is 0 or a
 * negative errno, what names the failed step as atomic_write() does
 * ("create temp file", "fchmod", "write", "fsync", "close", "rename",
 * "fsync directory"; a static string, "" on success).  As with
 * atomic_write(), a failure before "rename" leaves the old file intact
 * (the temp file is removed), and a failing "fsync directory" means the
 * new file is in place with its durability in doubt. */
typedef void (*afile_done_cb)(int rc, const char *what, void *arg);

/* afile_write() starts replacing path with the len bytes of data, with
 * mode (applied with fchmod).  data is taken over (malloc'd; freed when
 * the write ends, whatever happens); path is copied.  The write cannot be
 * cancelled: its pending requests keep the loop running until done is
 * called.  Returns 0, or -ENOMEM (data is freed and done is not
 * called).  When the first request cannot even start, done is called
 * (with its error) before afile_write() returns 0. */
int afile_write(uv_loop_t *loop, const char *path, char *data, size_t len,
                mode_t mode, afile_done_cb done, void *arg);

#endif
