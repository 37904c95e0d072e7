/* SPDX-License-Identifier: MIT
 *
 * apply: the guarded writer of onPremisesImmutableId for one tenant.  After
 * each complete cycle it takes the known anchors (the admin's CSV and the
 * approved suggestions), runs every guard in a fixed order, and in apply
 * mode PATCHes the value, verifies it with a GET and records both in the
 * journal.  Off by default; dry-run alerts what would be written and
 * writes nothing.  The guard order and reason codes are described in
 * apply_guard.c and quarantined.conf(5).
 */
#ifndef QD_APPLY_H
#define QD_APPLY_H

#include <stdio.h>

#include <uv.h>

struct alert;
struct apply;
struct cfg_tenant;
struct graph;

/* apply_new() makes the engine of tenant tc (its options are copied) over
 * g and alert (both borrowed; they must outlive the engine) and loads its
 * refusal memory from state_dir.  With apply_mode = off the engine never
 * does anything.  Returns 0 with *out set, or a negative errno (logged
 * here with the tenant's name). */
int apply_new(uv_loop_t *loop, struct graph *g, struct alert *alert,
              const struct cfg_tenant *tc, const char *state_dir,
              struct apply **out);

/* apply_cycle() is called after every complete inventory cycle: it starts
 * one pass over the known anchors unless the mode is off, a pass is still
 * running, or the engine is closing.  Never fails: what goes wrong is
 * logged and alerted where it happens, and the next cycle tries again. */
void apply_cycle(struct apply *a);

/* apply_close() stops the engine: a running pass is abandoned (its Graph
 * request is cancelled by the caller's graph_close(), which must follow;
 * an intent whose PATCH was in flight stays in the journal and is
 * reconciled at the next start), a running post_apply_command is killed,
 * and the engine's uv handles are closed.  a is freed once its handles
 * are closed and the pass is gone, then closed_cb(arg) runs if not NULL,
 * never from inside this call. */
void apply_close(struct apply *a, void (*closed_cb)(void *arg), void *arg);

/* apply_check_config() checks what `quarantined -n` can check of tc's
 * apply settings: with a mode other than off, the anchors_file must be
 * readable and every line valid.  Each problem is printed to out as
 * "FILE:LINE: message".  Returns 0 or a negative errno. */
int apply_check_config(const struct cfg_tenant *tc, FILE *out);

#endif
