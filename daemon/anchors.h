/* SPDX-License-Identifier: MIT
 *
 * anchors: the known source anchors, i.e. which anchor belongs to which
 * cloud user, from an admin-maintained CSV file, from approved lines of
 * the daemon's suggestions file, or from a csexport import.  Loading
 * validates every line and reports every bad one as FILE:LINE: message;
 * a set never holds two entries for one target nor one anchor for two
 * targets.  The suggestions file (written by the daemon, approved by an
 * admin with quarantinectl) is read and rewritten here, atomically.
 *
 * CSV dialect (both files): RFC 4180 (fields in "double quotes" may hold
 * commas, newlines and "" for a quote; CRLF or LF), a header line naming
 * the columns in any order, blank lines and lines starting with '#'
 * ignored, an optional UTF-8 BOM.
 */
#ifndef QD_ANCHORS_H
#define QD_ANCHORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"

/* Where a known anchor came from. */
enum anchors_source { ANCHORS_CSV, ANCHORS_SUGGESTION, ANCHORS_CSEXPORT };

/* anchors_source_name() returns the static name of source s as the
 * journal and the alerts write it: "csv", "suggestion" or "csexport". */
const char *anchors_source_name(enum anchors_source s);

/* How bad a reported line is.  Errors make the load return -EBADMSG;
 * warnings and skips do not. */
enum anchors_level {
  ANCHORS_ERROR,   /* the line is wrong and was not loaded */
  ANCHORS_WARNING, /* loaded, or harmlessly ignored, but worth a look */
  ANCHORS_SKIPPED  /* valid but not used: expired */
};

/* A report callback gets every problem, one call per line, with file and
 * line (line 0: about the file as a whole) and an English message without
 * the "FILE:LINE: " prefix.  With no callback (NULL), reports are logged
 * as "anchors: FILE:LINE: message" (error, warning or info level). */
typedef void (*anchors_report_cb)(void *arg, enum anchors_level level,
                                  const char *file, unsigned line,
                                  const char *msg);

/* One known anchor.  Every string is owned by the set holding it. */
struct anchors_entry {
  char *target;     /* a UPN as written, or an object id in lower case */
  int target_is_id; /* 1 when target is an object id (GUID) */
  char *anchor;     /* a valid anchor (see anchor_check()) */
  char *reference;  /* admin's ticket or reference; never empty */
  time_t expires;   /* 0 = never; a date alone means the end of that day */
  enum anchors_source source;
  char *file;    /* the file it was read from */
  unsigned line; /* the line its record starts on */
  char *note;    /* free text for humans (csexport: DN, errors), or NULL */
};

struct anchors_set;

/* anchors_set_new() returns an empty set whose anchors must decode to
 * want_len bytes (ANCHOR_GUID_BYTES, or ANCHOR_ANY_LEN only by explicit
 * admin option), or NULL when out of memory.  Free with
 * anchors_set_free() (NULL is accepted). */
struct anchors_set *anchors_set_new(size_t want_len);
void anchors_set_free(struct anchors_set *s);

/* anchors_set_count() and anchors_set_get() walk the entries in the order
 * they were added.  Pointers into the set stay valid until the next add
 * or the free. */
size_t anchors_set_count(const struct anchors_set *s);
const struct anchors_entry *anchors_set_get(const struct anchors_set *s,
                                            size_t i);

/* anchors_add() validates e (target a UPN or GUID, anchor valid for the
 * set, reference not empty) and adds a copy.  Returns 0; -EINVAL with
 * *why set (a static or buf-held English reason; buf holds buflen bytes)
 * when e is invalid; -EEXIST when the target is already in the set, or
 * -ENOTUNIQ when the anchor is already mapped to another target, with
 * *clash (when clash is not NULL) the entry already there; or -ENOMEM.
 * target_is_id is set by the function; e stays the caller's. */
int anchors_add(struct anchors_set *s, const struct anchors_entry *e,
                const struct anchors_entry **clash, char *buf, size_t buflen,
                const char **why);

/* anchors_find() returns the entry for the user with object id user_id
 * (any case, braces allowed) or, failing that, the one for upn (ASCII
 * case-insensitive); either may be NULL.  Returns NULL when neither is
 * known.  Expired entries are never in a set: expiry is checked when a
 * file is loaded, against the now given then. */
const struct anchors_entry *anchors_find(const struct anchors_set *s,
                                         const char *user_id, const char *upn);

/* anchors_load_csv() reads the admin's known-anchors CSV at path into s.
 * Columns: target, anchor, reference (all required, not empty) and
 * expires (optional column; the value may be empty, a date YYYY-MM-DD or
 * an ISO 8601 date-time).  Every bad line is reported as an error and
 * left out; duplicate targets and one anchor for two targets are errors
 * (the second line is left out; the report names the first); entries
 * whose expiry is at or before now are reported as skipped.  Returns 0
 * when no line was in error; -EBADMSG when one or more were (the valid
 * lines are in s: the caller decides whether a partly bad file may be
 * used; the apply engine should refuse it); -ENOENT, -EACCES, -EFBIG...
 * when the file cannot be read (reported, line 0); or -ENOMEM. */
int anchors_load_csv(struct anchors_set *s, const char *path, time_t now,
                     anchors_report_cb cb, void *arg);

/* ===== The suggestions file ===== */

/* One suggestion, derived by the daemon from a conflict pair: set the
 * cloud-only user's onPremisesImmutableId to the anchor its synced
 * duplicate carries.  All strings are malloc'd and owned by the list. */
struct anchors_suggestion {
  int approved;    /* column "approved": yes / no (the default) */
  char *target;    /* the cloud-only user's object id */
  char *anchor;    /* the synced duplicate's onPremisesImmutableId */
  char *reference; /* e.g. "conflict:<id>:userPrincipalName" */
  char *conflict;  /* object id of the quarantined (synced) object */
  char *holders;   /* holder object ids, space separated; may be "" */
  char *value;     /* the conflicting UPN or proxy address */
  time_t created;  /* when the daemon suggested it */
  char *reason;    /* why, in English; may be "" */
  unsigned line;   /* line it was read from; 0 for a new one */
};

struct anchors_suggestions {
  struct anchors_suggestion *v;
  size_t n, cap;
};

/* The header line anchors_suggestions_write() writes. */
#define ANCHORS_SUGGESTIONS_HEADER                                             \
  "approved,target,anchor,reference,conflict,holders,value,created,reason"

/* anchors_suggestions_read() appends every line of the suggestions file at
 * path to l (which must be zeroed or cleared before first use).  Lines
 * whose structure is wrong (field count, approved not yes/no, a required
 * column empty, created not a time) are reported as errors and left out;
 * the anchor is not validated here (see anchors_load_suggestions()).
 * Returns 0, -EBADMSG when a line was in error, -ENOENT when there is no
 * file (not reported), another negative errno when it cannot be read
 * (reported), or -ENOMEM. */
int anchors_suggestions_read(const char *path, struct anchors_suggestions *l,
                             anchors_report_cb cb, void *arg);

/* anchors_suggestions_add() appends a copy of sg (approved as given)
 * unless a suggestion with the same target and anchor is already in l.
 * Returns 0 when added, -EEXIST when already there (the existing one,
 * with its approval, is kept), -EINVAL when target, anchor or reference
 * is NULL or empty, or -ENOMEM. */
int anchors_suggestions_add(struct anchors_suggestions *l,
                            const struct anchors_suggestion *sg);

/* anchors_suggestions_append() is anchors_suggestions_add() for a caller
 * that knows sg is not in l yet (suggest.c keeps its own index, which is
 * faster than this module's linear search for thousands of lines). */
int anchors_suggestions_append(struct anchors_suggestions *l,
                               const struct anchors_suggestion *sg);

/* anchors_suggestions_approve() marks the suggestion for target (object id
 * or value, case-insensitive) as approved; anchor, when not NULL, picks
 * one of several for the same target.  Returns the 0-based index, -ENOENT
 * when none matches, or -EEXIST when more than one matches and anchor is
 * NULL (nothing is changed then). */
int anchors_suggestions_approve(struct anchors_suggestions *l,
                                const char *target, const char *anchor);

/* anchors_suggestions_text() sets *out (malloc'd; the caller frees it)
 * and *len to the file's text for l: the header line, then a line per
 * suggestion.  Returns 0 or -ENOMEM. */
int anchors_suggestions_text(const struct anchors_suggestions *l, char **out,
                             size_t *len);

/* anchors_suggestions_text_some() is anchors_suggestions_text() a part
 * at a time, for a caller that spreads a long file over loop iterations:
 * it appends to b (the caller's) the next max lines of the file's text
 * for l from line *next on (0, the header, to begin with), advancing
 * *next.
 * Returns 1 once the last line is written, 0 when more remain, or
 * -ENOMEM. */
int anchors_suggestions_text_some(const struct anchors_suggestions *l,
                                  struct buf *b, size_t *next, size_t max);

/* anchors_suggestions_write() replaces the file at path with l (header
 * line first, mode 0640) atomically, like the state file.  Returns 0 or
 * a negative errno with *what naming the failed step (see
 * atomic_write()); nothing is logged. */
int anchors_suggestions_write(const char *path,
                              const struct anchors_suggestions *l,
                              const char **what);

/* anchors_suggestions_lock() takes the suggestions file's lock: an
 * exclusive plat_lock() on "<path>.lock" (created with mode 0640), waiting
 * for the holder when wait is true (-EWOULDBLOCK when it is false and the
 * lock is held).  Whoever reads the file to rewrite it holds the lock
 * until the new file is in place, so two writers never lose each other's
 * lines or approvals.  Returns the lock's file descriptor (release it
 * with anchors_suggestions_unlock()) or a negative errno. */
int anchors_suggestions_lock(const char *path, bool wait);
void anchors_suggestions_unlock(int fd);

/* anchors_suggestions_clear() frees everything l holds and zeroes it. */
void anchors_suggestions_clear(struct anchors_suggestions *l);

/* anchors_load_suggestions() reads the suggestions file at path and adds
 * the approved lines to s as ANCHORS_SUGGESTION entries, with the same
 * validation and duplicate rules as anchors_load_csv() (a target and
 * anchor already in s from another file is a warning, not an error).
 * Lines not approved are ignored.  Returns as anchors_load_csv(); a
 * missing file gives -ENOENT without a report (no suggestions yet). */
int anchors_load_suggestions(struct anchors_set *s, const char *path,
                             time_t now, anchors_report_cb cb, void *arg);

/* ===== Writing CSV ===== */

/* anchors_csv_row() appends one CSV record of n fields to b (the
 * caller's), quoting a field (RFC 4180) when it holds a comma, quote, CR,
 * LF or starts with '#' or white space; NULL is written as an empty field.
 * Ends the record with "\n".  Returns 0, or -ENOMEM with the record cut
 * short. */
int anchors_csv_row(struct buf *b, const char *const *fields, size_t n);

#endif
