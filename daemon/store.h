/* SPDX-License-Identifier: MIT
 *
 * store: a tenant's durable state, <state_dir>/<tenant>.state.json.  The
 * file is versioned ("schema"), written atomically (temp file, fsync,
 * rename, fsync of the directory), and a corrupt file is moved aside so
 * the daemon can start again from an empty inventory.  No secret is ever
 * written here: only conflicts, delta links and times.
 */
#ifndef QD_STORE_H
#define QD_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "conflict_set.h"

/* The schema this build writes.  "schema" is always the first member of
 * the file, in every version, so that an older build can tell a newer
 * file without parsing all of it (see store_save()).
 *   1: conflicts, delta links, times.
 *   2: each conflict also has its pairing: "holders", "holdersLookedUp",
 *      "lookupError", "class", and its "onPremisesLastSyncDateTime".
 *   3: each conflict also has the sweep's record: "state" may be "freed"
 *      or "stuck", with "freedAt", "predictedRelease", "stuckAt" and
 *      "agingDone" (seconds of the largest conflict.aging threshold
 *      alerted).
 *   4: "alertSeq", the last of the tenant's alert sequence numbers this
 *      state commits (alert.h, alert_commit()).
 * Older files are read (what they lack is empty: the pairing is looked up
 * at the next cycle, every conflict is active with no aging alerted, no
 * alert is committed) and written back as schema 4. */
#define STORE_SCHEMA 4

/* Graph collections with a delta link of their own. */
enum store_collection { STORE_USERS, STORE_GROUPS, STORE_CONTACTS };
#define STORE_NCOLL 3

/* What is kept per tenant.  All pointers are owned by the struct; free
 * them with store_state_clear(). */
struct store_state {
  time_t last_success;            /* last successful cycle; 0 = never */
  char *delta_link[STORE_NCOLL];  /* @odata.deltaLink, or NULL */
  time_t delta_full_sync;         /* last full delta round of all three */
  struct conflict_set *conflicts; /* the inventory, or NULL = empty */
  uint64_t alert_seq;             /* the last alert number it commits */
};

/* "users", "groups", "contacts": the member names under "deltaLinks". */
const char *store_collection_name(enum store_collection c);

/* store_state_clear() frees what st holds and zeroes it. */
void store_state_clear(struct store_state *st);

/* store_save() writes st as tenant's state file, stamped with now.  The
 * file is replaced atomically: a temp file (mode 0640) in the same
 * directory is written, fsync'd and renamed over the old one, then the
 * directory is fsync'd.  A file written by a newer schema is never
 * overwritten (-EPROTONOSUPPORT).  Returns 0 or a negative errno; on
 * failure the old file is intact, the temp file is removed, and one
 * "store: <path>: ..." line has been logged, once per episode when
 * failing is given (see store_save_report()). */
int store_save(const char *state_dir, const char *tenant,
               const struct store_state *st, time_t now, bool *failing);

/* The state file's text made a slice at a time, so that a large
 * inventory never holds the loop for long (statesave.h drives it).  The
 * state it renders is borrowed: its conflicts must neither change nor be
 * freed until the render is freed. */
struct store_render;

/* store_render_new() starts the text of st for tenant, stamped with now:
 * its head (schema, times, delta links) is made at once, the conflicts
 * (sorted by key) by store_render_step().  Returns 0 with *out set (free
 * it with store_render_free()), or -ENOMEM. */
int store_render_new(const char *tenant, const struct store_state *st,
                     time_t now, struct store_render **out);

/* store_render_step() adds conflicts to the text until uv_hrtime()
 * reaches until_ns (at least one; 0: no limit) or the text not yet taken
 * holds max_len bytes (0: no limit).  Returns 1 when the text is
 * complete, 0 when there is more to do, or -ENOMEM. */
int store_render_step(struct store_render *r, size_t max_len,
                      uint64_t until_ns);

/* store_render_take() hands the text made since the last take (malloc'd;
 * the caller frees it; NULL when there is none) and its length over to
 * the caller: the whole file, ending in a newline, when taken once after
 * the last step; the file in pieces, in order, when taken after each. */
char *store_render_take(struct store_render *r, size_t *len);

/* store_render_free() frees r (NULL is fine). */
void store_render_free(struct store_render *r);

/* store_save_path() sets *out to tenant's state file name (malloc'd; the
 * caller frees it) when it may be written: -EPROTONOSUPPORT when the file
 * there was written by a newer schema, -EINVAL when no name can be made;
 * both logged. */
int store_save_path(const char *state_dir, const char *tenant, char **out);

/* store_save_report() logs the one line about a failed write of the
 * state file at path (rc, what as from atomic_write()); nothing when rc
 * is 0.  failing (the caller's, may be NULL) makes that once per
 * episode: a failure while *failing is already true is logged at debug
 * level only, and the first success after one says so; *failing is then
 * set to whether this save failed. */
void store_save_report(const char *path, int rc, const char *what,
                       bool *failing);

/* store_load() reads tenant's state file into st, which must be zeroed
 * (or cleared) and is owned by the caller afterwards.  Returns 0;
 * -ENOENT when there is no file (a fresh start; nothing logged);
 * -EBADMSG when the file is corrupt (bad JSON, wrong types, wrong tenant,
 * unknown schema): the file is then renamed to
 * "<path>.corrupt-<UTC time>" and one warning says so; -EPROTONOSUPPORT
 * when the file comes from a newer schema: it is left alone, an error is
 * logged, and store_save() will refuse to replace it; or another negative
 * errno for I/O errors (logged).  On any error st is unchanged. */
int store_load(const char *state_dir, const char *tenant,
               struct store_state *st);

/* store_read() is store_load() for readers that must change nothing
 * (quarantinectl): it reads the state file at path for tenant into st
 * (zeroed; the caller owns it afterwards) and never logs, renames or
 * writes.  Returns 0; -ENOENT (no file); -EBADMSG with *why set to a
 * static reason; -EPROTONOSUPPORT (a newer schema, in *schema); -ENOMEM
 * or another negative errno from reading.  On error st is unchanged. */
int store_read(const char *path, const char *tenant, struct store_state *st,
               const char **why, long *schema);

#endif
