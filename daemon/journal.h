/* SPDX-License-Identifier: MIT
 *
 * journal: the append-only record of every onPremisesImmutableId write,
 * <state_dir>/<tenant>.journal.jsonl.  One JSON object per line, each
 * written with one write(2) and fsync'd before the call returns, so that
 * a crash loses at most the line being written.  The file is never
 * rewritten.  Reading it back tells which values were applied (never
 * apply one twice), which intents have no outcome (a crash between the
 * PATCH and its record: reconcile from Graph) and how many were applied
 * (the total threshold).  Only ids, UPNs, anchors, references and Graph
 * request ids are written: never a token or secret.
 */
#ifndef QD_JOURNAL_H
#define QD_JOURNAL_H

#include <stddef.h>
#include <time.h>

#include "strlist.h"

/* Record kinds, the "kind" member. */
enum journal_kind {
  JOURNAL_INTENT,     /* "intent": written (and fsync'd) before the PATCH */
  JOURNAL_APPLIED,    /* "applied": PATCH done and the GET showed the value */
  JOURNAL_FAILED,     /* "failed": PATCH refused, or the GET did not verify */
  JOURNAL_RECONCILED, /* "reconciled": an intent without outcome, settled
                         from Graph after a restart (found = value there) */
  JOURNAL_TORN        /* "torn": marks the line before it as cut short by a
                         crash; written by journal_open(), never by callers */
};

/* One record.  For journal_append() the strings are the caller's; for
 * records handed out by journal_read() / journal_load() they are owned by
 * the journal code (see there).  NULL means absent. */
struct journal_record {
  enum journal_kind kind;
  time_t when;                   /* required */
  const char *tenant;            /* required: the [tenant] name */
  const char *user_id;           /* required: the cloud user's object id */
  const char *upn;               /* the user's UPN when known */
  const char *old_value;         /* onPremisesImmutableId before; NULL = none */
  const char *new_value;         /* required: the anchor written */
  const char *source;            /* required for intents: csv, suggestion,
                                    csexport */
  const char *reference;         /* required for intents: ticket/reference */
  const char *client_request_id; /* required: one apply attempt's id (sent as
                                    client-request-id); links an outcome to
                                    its intent */
  const char *patch_request_id;  /* Graph request-id of the PATCH */
  const char *get_request_id;    /* Graph request-id of the verifying GET */
  const char *error;             /* required for "failed": why, in English */
  int found;                     /* "reconciled": 1 when Graph showed
                                    new_value, 0 when it did not */
};

/* journal_kind_name() returns "intent", "applied", ... */
const char *journal_kind_name(enum journal_kind k);

/* An open journal, for appending. */
struct journal;

/* journal_open() opens (creating, mode 0640) the journal at path for
 * appending (O_APPEND).  When the file does not end in a newline (a crash
 * cut its last line short), a newline and a "torn" marker record are
 * appended first, so that the cut line stays where it is, is never glued
 * to a new record, and is recognised as torn by later reads.  Returns 0
 * with *out set (free with journal_close()) or a negative errno (nothing
 * logged). */
int journal_open(const char *path, struct journal **out);

/* journal_append() writes r as one line with a single write(2), then
 * fsync(2)s.  Returns 0; -EINVAL when a required member is missing (see
 * struct journal_record; nothing written); or a negative errno from
 * write/fsync (the line may be partly written: a later journal_open()
 * marks it torn).  Nothing is logged. */
int journal_append(struct journal *j, const struct journal_record *r);

/* journal_close() closes j (NULL is accepted). */
void journal_close(struct journal *j);

/* Called by journal_read() for each record, in file order, with the line
 * it is on; r and its strings live until the callback returns.  A
 * non-zero return stops the read and is returned by it. */
typedef int (*journal_record_cb)(void *arg, const struct journal_record *r,
                                 unsigned line);

/* journal_read() reads every record of the journal at path.  When tenant
 * is not NULL, a record for another tenant is an error.  A line that is
 * not a valid record is an error ("FILE:LINE: message" in err, errlen
 * bytes; -EBADMSG), unless it is the last line and lacks its newline, or
 * the next line is a "torn" marker: then it is a crash's torn write, is
 * skipped, and *torn_line (when not NULL; 0 otherwise) is set to its
 * line.  Torn markers are not passed to cb.  Returns 0, -EBADMSG, the
 * callback's non-zero value, -ENOENT when there is no file, or another
 * negative errno ("FILE: reason" in err). */
int journal_read(const char *path, const char *tenant, journal_record_cb cb,
                 void *arg, unsigned *torn_line, char *err, size_t errlen);

/* An intent without an outcome, owned by a journal_state. */
struct journal_pending {
  struct journal_record rec; /* the intent; strings point into mem */
  unsigned line;             /* its line in the file */
  char *mem;
};

/* What the engine needs from the journal at start.  Owned by the caller;
 * free with journal_state_clear(). */
struct journal_state {
  struct journal_pending *pending; /* intents without outcome, file order */
  size_t npending;
  struct strlist applied; /* "<user id lower-case>\t<value>" of every
                             applied or reconciled-found record */
  size_t total_applied;   /* applied + reconciled found, for the threshold */
  size_t total_failed;
  unsigned torn_line; /* a torn line that was skipped, or 0 */
};

/* journal_load() reads the journal at path (see journal_read()) into st,
 * which must be zeroed.  An outcome record without an earlier intent of
 * the same client_request_id, or a second intent with an id still
 * pending, is an error (-EBADMSG, FILE:LINE in err).  A missing file is
 * an empty journal (returns 0).  On error st is cleared. */
int journal_load(const char *path, const char *tenant, struct journal_state *st,
                 char *err, size_t errlen);

/* journal_state_applied() tells (1/0) whether value was applied to the
 * user with object id user_id (any case) according to st; with value NULL,
 * whether any value was. */
int journal_state_applied(const struct journal_state *st, const char *user_id,
                          const char *value);

/* journal_state_clear() frees what st holds and zeroes it. */
void journal_state_clear(struct journal_state *st);

#endif
