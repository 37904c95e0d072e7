/* SPDX-License-Identifier: MIT
 *
 * apply_int: internal to the apply engine, included by apply.c (the pass
 * and the write) and apply_guard.c (the guards) and by nothing else: the
 * engine's and the pass's records, and the steps of apply.c that the
 * guards call.  Other modules use apply.h only.
 */
#ifndef QD_APPLY_INT_H
#define QD_APPLY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <uv.h>

#include "alert.h"
#include "apply.h"
#include "graph.h"
#include "journal.h"
#include "strlist.h"

/* One tenant's engine: made by apply_new(), closed by apply_close(),
 * freed by apply_free() (from close_done()).  It owns every string and list in
 * it, the refusal memory, the post_apply_command runner and the running pass;
 * g and alert are borrowed. */
struct apply {
  uv_loop_t *loop;
  struct graph *g;
  struct alert *alert;
  char *tenant, *tenant_id;
  int mode; /* enum cfg_apply_mode */
  char *anchors_file;
  size_t want_len;
  struct strlist domains, groups;
  int allow_all_domains;
  unsigned max_per_cycle, threshold;
  char *kill_switch;
  bool journal_unreadable; /* file.unreadable said; until it opens */
  bool journal_bad;        /* it does not load (a bad line): said once */
  int takeover_allow;
  char *post_cmd;
  unsigned post_timeout;
  char *journal_path, *suggestions_path;
  struct refusals *said; /* what was alerted already */
  bool roles_said, takeover_said, domains_said;
  struct pass *p; /* the running pass, or NULL */
  /* settling intents without an outcome (apply_settle.c) */
  time_t started;            /* when this engine was made */
  unsigned settle_s;         /* apply_settle, seconds */
  unsigned settle_reads;     /* apply_settle_reads */
  struct settle_read *reads; /* reads so far per unsettled intent */
  size_t nreads;
  struct apply_stats stats;
  bool closing;
  struct child *cmd; /* runs post_apply_command; NULL once closing */
  bool cmd_open;     /* cmd not yet closed (child_close() calls back) */
  void (*closed_cb)(void *arg);
  void *closed_arg;
};

/* One pass over the known anchors, owned by its engine (a->p) while it
 * runs.  It is freed by apply_end_pass(), or by apply_gone() in a Graph
 * callback that finds the engine closing.  The candidate's strings are
 * the pass's, freed by apply_candidate_clear(); e points into set. */
struct pass {
  struct apply *a;
  time_t now;
  struct journal_state js;
  struct journal *j; /* opened at the first record */
  struct anchors_set *set;
  size_t pending_i, i;
  size_t settled;  /* intents settled in this pass */
  unsigned writes; /* PATCHes (dry-run: would-be) in this pass */
  size_t applied;  /* applied in this pass */
  char *env_list;  /* "id\tupn\tanchor\treference\n"... for the command */
  int takeover;    /* 1 blocked, 0 allowed, -1 unknown */
  char takeover_why[200];
  /* the candidate */
  const struct anchors_entry *e;
  char *user_id, *upn, *old_value;
  bool synced, group_match;
  char crid[37];
  int patch_result;
  struct graph_error patch_err;
  unsigned verify_reads; /* GETs after the PATCH so far */
};

/* apply_str_or() returns s, or dflt when s is NULL or empty. */
const char *apply_str_or(const char *s, const char *dflt);

/* apply_file_unreadable() raises file.unreadable about path (the apply
 * journal or a known-anchors file), err the negative errno why, cause in
 * words; all borrowed. */
void apply_file_unreadable(struct apply *a, const char *path, int err,
                           const char *cause);

/* apply_emit() raises an anchor.* alert of type about p's candidate
 * (p->e, or the tenant as a whole when NULL) with message msg; reason,
 * old_value and the request ids may be NULL.  Every argument stays the
 * caller's. */
void apply_emit(struct pass *p, enum alert_type type, const char *reason,
                const char *old_value, const char *patch_rid,
                const char *get_rid, const char *msg);

/* apply_err_text() writes "HTTP <status> <code>: <message> (request-id
 * <id>)" for a failed Graph request into buf (len bytes) and returns buf;
 * err may be NULL. */
const char *apply_err_text(int result, const struct graph_error *err, char *buf,
                           size_t len);

/* apply_append() writes one journal record r (its when and tenant are
 * set here; the strings stay the caller's); a failure is logged and
 * returned as a negative errno. */
int apply_append(struct pass *p, struct journal_record *r);

/* apply_request() sends a Graph request for the pass with cb(..., p) as
 * its callback.  Returns true, or false when it could not even be queued:
 * that is logged and the pass has ended (p is freed). */
bool apply_request(struct pass *p, const char *method, const char *path,
                   const char *const *headers, const char *body,
                   graph_done_cb cb);

/* apply_gone() is the first call of every Graph callback of a pass: when
 * the engine is closing or the request was cancelled it frees p and
 * returns true (the callback returns at once, writing nothing). */
bool apply_gone(struct pass *p, int result);

/* apply_end_pass() ends the pass: logs what it applied, starts
 * post_apply_command when it applied anything, and frees p. */
void apply_end_pass(struct pass *p);

/* apply_candidate_clear() frees what the pass holds about its candidate
 * and forgets it (p->e = NULL). */
void apply_candidate_clear(struct pass *p);

/* apply_write() takes the candidate p->e, which has passed every guard:
 * dry-run alerts what would be written; apply journals the intent,
 * PATCHes, verifies with a GET and journals the outcome.  The pass then
 * goes on with apply_guard_next() (or ends on a journal failure). */
void apply_write(struct pass *p);

#endif
