/* SPDX-License-Identifier: MIT
 *
 * statesave: a tenant's state file saved without holding the loop or
 * the whole text in memory.  The text is made a piece at a time
 * (store_render_step(): at most STATESAVE_PIECE bytes, past the conflict
 * that reaches it, in at most STATESAVE_SLICE_MS), the first from an idle
 * handle, each next one when the previous one is written, and written
 * atomically by libuv's file-system requests (afile_write_more()): temp
 * file, write, fsync, rename, fsync of the directory.  The caller is
 * told when the file is durable (or the save failed), and only then
 * sends the alerts the state records (outbox.h).
 *
 * The state being saved is borrowed: it must not change until done is
 * called.  The tenant guarantees it, as no cycle or sweep starts before
 * the schedule hears the last one ended, which is after the save.
 */
#ifndef QD_STATESAVE_H
#define QD_STATESAVE_H

#include <stdbool.h>
#include <time.h>

#include <uv.h>

#include "store.h"

/* How long one loop iteration may spend making the state file's text. */
#define STATESAVE_SLICE_MS 10

/* The text held in memory at once: a piece of the file. */
#define STATESAVE_PIECE (64 * 1024)

/* Called once per save, from the loop: rc is 0 when the new file is in
 * place and durable, else a negative errno (logged here, with the path). */
typedef void (*statesave_done_cb)(int rc, void *arg);

/* One tenant's saver, embedded in it.  state_dir and tenant are
 * borrowed and must outlive it. */
struct statesave {
  uv_idle_t idle;
  const char *state_dir;
  const char *tenant;
  char *path;             /* the file being saved, while busy */
  struct store_render *r; /* the text being made, or NULL */
  bool writing;           /* the text is being written (r, if any, makes
                             the rest) */
  bool failing;           /* the last save failed (logged once an episode) */
  statesave_done_cb done;
  void *arg;
  bool closing;
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* statesave_init() makes sv an idle saver on loop. */
void statesave_init(struct statesave *sv, uv_loop_t *loop,
                    const char *state_dir, const char *tenant);

/* statesave_start() starts saving st (borrowed, unchanged until done is
 * called), stamped with now.  Returns 0 (done will be called), or a
 * negative errno, logged (done will not be called): -EBUSY when a save is
 * already under way, -EPROTONOSUPPORT when the file there is newer,
 * -ENOMEM. */
int statesave_start(struct statesave *sv, const struct store_state *st,
                    time_t now, statesave_done_cb done, void *arg);

/* statesave_busy() is true from statesave_start() until done is called. */
bool statesave_busy(const struct statesave *sv);

/* statesave_close() finishes a save under way (what is left of its text
 * is made at once, and the write is waited for; done is called as
 * usual), then closes the handle and calls closed_cb(arg) if not NULL.
 * The memory (embedded) is the caller's. */
void statesave_close(struct statesave *sv, void (*closed_cb)(void *arg),
                     void *arg);

#endif
