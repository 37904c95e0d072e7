/* SPDX-License-Identifier: MIT
 *
 * afile: atomic_write() (atomic.h) done by libuv's file-system requests,
 * so the loop never waits on the disk: a temp file next to the target is
 * created, written, fsync'd and closed, each step a uv_fs_* request run
 * on libuv's own worker pool, the next step started from the previous
 * one's callback; then plat_replace() (plat.h) renames it over the target
 * durably, on the same pool.
 * A reader sees either the old or the new file, never a torn mix, just
 * as with atomic_write().  At most AFILE_MAX_ACTIVE writes of the process
 * run at once; later ones wait their turn, in order, holding no
 * descriptor.  Nothing is logged here; the caller logs with its context.
 */
#ifndef QD_AFILE_H
#define QD_AFILE_H

#include <stddef.h>
#include <sys/types.h>

#include <uv.h>

#define AFILE_MAX_ACTIVE 8

/* Called once, from the loop, when the write has ended: rc is 0 or a
 * negative errno, what names the failed step as atomic_write() does
 * ("create temp file", "fchmod", "write", "fsync", "close", "rename",
 * "fsync directory"; a static string, "" on success).  As with
 * atomic_write(), a failure before "rename" leaves the old file intact
 * (the temp file is removed), and a failing "fsync directory" means the
 * new file is in place with its durability in doubt. */
typedef void (*afile_done_cb)(int rc, const char *what, void *arg);

/* afile_write() starts replacing path with the len bytes of data, with
 * mode (applied with fchmod).  data is taken over (malloc'd; freed once
 * written, before the fsync and the rename, or when the write fails);
 * path is copied.  The write cannot be
 * cancelled: its pending requests keep the loop running until done is
 * called.  Returns 0, or -ENOMEM (data is freed and done is not
 * called).  When the first request cannot even start, done is called
 * (with its error) before afile_write() returns 0, or, for a write that
 * waited its turn, from the loop when its turn comes. */
int afile_write(uv_loop_t *loop, const char *path, char *data, size_t len,
                mode_t mode, afile_done_cb done, void *arg);

/* Called, from the loop, each time everything handed over so far is
 * written: sets *data (malloc'd, taken over; NULL with *len 0 is fine) and
 * *len to the next piece and returns 0, or returns 1 when there is no
 * more, or a negative errno to give the write up (the old file stays). */
typedef int (*afile_more_cb)(void *arg, char **data, size_t *len);

/* afile_write_more() is afile_write() of data followed by the pieces more
 * hands over, so that a large file need not be held in memory whole.
 * more_arg is more's; more is not called after done. */
int afile_write_more(uv_loop_t *loop, const char *path, char *data, size_t len,
                     mode_t mode, afile_more_cb more, void *more_arg,
                     afile_done_cb done, void *arg);

#endif
