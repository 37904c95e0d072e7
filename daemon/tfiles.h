/* SPDX-License-Identifier: MIT
 *
 * tfiles: the names of a tenant's files in the state directory, made in
 * this one place.  Every file of tenant NAME is <state_dir>/NAME<suffix>,
 * the suffix fixed per kind; the daemon, its modules and the tests all
 * ask here, so a name can neither drift between writer and reader nor
 * collide with another kind's.  A sink's spool files are named the same
 * way, with the sink's name in the directory <state_dir>/spool.
 */
#ifndef QD_TFILES_H
#define QD_TFILES_H

/* The kinds of per-tenant file, with their suffixes. */
enum tfiles_kind {
  TFILES_STATE,        /* ".state.json": the inventory believed (store.c) */
  TFILES_JOURNAL,      /* ".journal.jsonl": the apply journal (journal.c) */
  TFILES_SUGGESTIONS,  /* ".suggestions.csv": anchor suggestions
                          (suggest.c, anchors.c, quarantinectl) */
  TFILES_APPLY_MEMORY, /* ".apply.json": the apply engine's refusal memory */
  TFILES_KILL_SWITCH,  /* ".stop": the default apply kill switch */
  TFILES_SPOOL,        /* ".spool": alerts not yet delivered (spool.c; one
                          per sink, in <state_dir>/spool, named after it) */
  TFILES_SPOOL_ACK     /* ".spool.ack": how far the spool was accepted */
};
#define TFILES_NKINDS 7

/* tfiles_suffix() is the kind's suffix, e.g. ".state.json"; NULL for a
 * value outside the enum. */
const char *tfiles_suffix(enum tfiles_kind kind);

/* tfiles_path() returns the malloc'd path <state_dir>/<tenant><suffix> of
 * tenant's file of kind, which the caller frees; NULL when out of memory,
 * when kind is not one of the enum, or when tenant is not a plain file
 * name (empty, starting with '.', or holding '/'), so that no tenant name
 * can reach outside state_dir. */
char *tfiles_path(const char *state_dir, const char *tenant,
                  enum tfiles_kind kind);

#endif
