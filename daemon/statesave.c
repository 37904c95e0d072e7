/* SPDX-License-Identifier: MIT
 *
 * statesave: the state file's text made and written a piece at a time
 * by afile (see statesave.h).
 */
#include "statesave.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "log.h"

static void on_idle(uv_idle_t *h);

void statesave_init(struct statesave *sv, uv_loop_t *loop,
                    const char *state_dir, const char *tenant)
{
  memset(sv, 0, sizeof(*sv));
  sv->state_dir = state_dir;
  sv->tenant = tenant;
  uv_idle_init(loop, &sv->idle);
  sv->idle.data = sv;
}

bool statesave_busy(const struct statesave *sv)
{
  return sv->r || sv->writing;
}

static void on_idle_closed(uv_handle_t *h)
{
  struct statesave *sv = h->data;

  if(sv->closed_cb)
    sv->closed_cb(sv->closed_arg);
}

/* maybe_closed() closes the handle once a close was asked for and no save
 * is under way. */
static void maybe_closed(struct statesave *sv)
{
  if(sv->closing && !statesave_busy(sv) &&
     !uv_is_closing((uv_handle_t *)&sv->idle))
    uv_close((uv_handle_t *)&sv->idle, on_idle_closed);
}

/* end() ends the save under way with rc (logged by the caller) and tells
 * the owner. */
static void end(struct statesave *sv, int rc)
{
  statesave_done_cb done = sv->done;

  free(sv->path);
  sv->path = NULL;
  sv->writing = false;
  sv->done = NULL;
  done(rc, sv->arg);
  maybe_closed(sv);
}

static void on_written(int rc, const char *what, void *arg)
{
  struct statesave *sv = arg;

  store_render_free(sv->r); /* left over when the write failed */
  sv->r = NULL;
  store_save_report(sv->path, rc, what, &sv->failing);
  end(sv, rc);
}

/* more() is afile's source of the state file's next piece: at most
 * STATESAVE_PIECE bytes (past the conflict that reaches it) made in at
 * most STATESAVE_SLICE_MS, so that neither the loop nor the memory holds
 * the whole text. */
static int more(void *arg, char **data, size_t *len)
{
  struct statesave *sv = arg;
  int rc;

  if(!sv->r)
    return 1;
  rc = store_render_step(sv->r, STATESAVE_PIECE,
                         uv_hrtime() + (uint64_t)STATESAVE_SLICE_MS * 1000000);
  if(rc < 0)
    return rc;
  *data = store_render_take(sv->r, len);
  if(rc == 1) {
    store_render_free(sv->r);
    sv->r = NULL;
  }
  return 0;
}

/* step() makes the first piece of text, within until_ns (0: no limit),
 * and starts the write, which asks more() for the rest. */
static void step(struct statesave *sv, uint64_t until_ns)
{
  char *text;
  size_t len;
  int rc = store_render_step(sv->r, STATESAVE_PIECE, until_ns);

  uv_idle_stop(&sv->idle);
  if(rc < 0) {
    store_render_free(sv->r);
    sv->r = NULL;
    store_save_report(sv->path, rc, "out of memory", &sv->failing);
    end(sv, rc);
    return;
  }
  text = store_render_take(sv->r, &len);
  if(rc == 1) {
    store_render_free(sv->r);
    sv->r = NULL;
  }
  sv->writing = true;
  rc = afile_write_more(sv->idle.loop, sv->path, text, len, 0640, more, sv,
                        on_written, sv);
  if(rc) {
    store_render_free(sv->r);
    sv->r = NULL;
    store_save_report(sv->path, rc, "out of memory", &sv->failing);
    end(sv, rc);
  }
}

static void on_idle(uv_idle_t *h)
{
  struct statesave *sv = h->data;

  step(sv, uv_hrtime() + (uint64_t)STATESAVE_SLICE_MS * 1000000);
}

int statesave_start(struct statesave *sv, const struct store_state *st,
                    time_t now, statesave_done_cb done, void *arg)
{
  int rc;

  if(statesave_busy(sv) || sv->closing)
    return -EBUSY;
  rc = store_save_path(sv->state_dir, sv->tenant, &sv->path);
  if(rc)
    return rc;
  rc = store_render_new(sv->tenant, st, now, &sv->r);
  if(rc) {
    store_save_report(sv->path, rc, "out of memory", &sv->failing);
    free(sv->path);
    sv->path = NULL;
    return rc;
  }
  sv->done = done;
  sv->arg = arg;
  uv_idle_start(&sv->idle, on_idle);
  return 0;
}

void statesave_close(struct statesave *sv, void (*closed_cb)(void *arg),
                     void *arg)
{
  sv->closing = true;
  sv->closed_cb = closed_cb;
  sv->closed_arg = arg;
  if(sv->r && !sv->writing)
    step(sv, 0);
  maybe_closed(sv);
}
