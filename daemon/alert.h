/* SPDX-License-Identifier: MIT
 *
 * alert: alert events and their sinks.  An event (conflict.detected,
 * conflict.cleared, ...) goes to the journal with structured QD_* fields
 * (syslog(3) when there is no journald), and to a JSON lines file that is
 * fsync'd per line and survives logrotate.  A line that cannot be written
 * is queued in memory and retried: alerts are not lost to a full disk.
 */
#ifndef QD_ALERT_H
#define QD_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>
#include <time.h>

#include "classify.h"
#include "conflict.h"

/* Event types, each with a name and a MESSAGE_ID of its own in alert.c;
 * add new ones at the end.  The sweep's (sweep.h): freed (no object holds
 * the value any more), released (the object has its value back), stuck
 * (still quarantined past the predicted release and the grace), aging
 * (the conflict passed a configured age), held (a freed or stuck value is
 * held again).  The apply engine's (apply.h): anchor.*. */
enum alert_type {
  ALERT_CONFLICT_DETECTED,
  ALERT_CONFLICT_CLEARED,
  ALERT_CONFLICT_FREED,
  ALERT_CONFLICT_RELEASED,
  ALERT_CONFLICT_STUCK,
  ALERT_CONFLICT_AGING,
  ALERT_CONFLICT_HELD,
  ALERT_ANCHOR_APPLIED, /* anchor.applied: PATCHed and verified */
  ALERT_ANCHOR_REFUSED, /* anchor.refused: a guard said no (reason) */
  ALERT_ANCHOR_FAILED,  /* anchor.failed: PATCH refused or not verified */
  ALERT_ANCHOR_DRY_RUN, /* anchor.dry-run: what apply mode would PATCH */
  ALERT_ANCHOR_HALTED,  /* anchor.halted: threshold or kill switch; a human
                           must act */
  ALERT_DAEMON_FDS      /* daemon.fd-exhausted: cycles fail for want of file
                           descriptors (EMFILE/ENFILE); the message says */
};
#define ALERT_NTYPES 13

/* What an anchor.* event is about.  Every string is borrowed and may be
 * NULL.  Never a token or secret. */
struct alert_anchor {
  const char *user_id;   /* the cloud user's object id */
  const char *upn;       /* its userPrincipalName */
  const char *target;    /* the target as the known-anchors entry names it */
  const char *anchor;    /* the onPremisesImmutableId to write */
  const char *old_value; /* the value before (applied/failed) */
  const char *source;    /* csv, suggestion, csexport */
  const char *reference; /* the admin's ticket/reference */
  const char *reason;    /* refusal or halt reason code, e.g. anchor-in-use */
  const char *client_request_id, *patch_request_id, *get_request_id;
};

/* Where alerts go; from the [alerts] section of the configuration. */
struct alert_opts {
  bool syslog;            /* journald, or syslog(3) without it */
  int syslog_facility;    /* for syslog(3); 0 means LOG_DAEMON */
  const char *jsonl_path; /* JSON lines file, or NULL; copied */
};

/* What only the sweep's events carry; 0 where it does not apply. */
struct alert_sweep {
  time_t released_at;      /* conflict.released: when it was seen released */
  long time_to_release;    /* conflict.released: seconds since freed (else
                              since first seen) */
  long age;                /* conflict.aging: seconds */
  unsigned long threshold; /* conflict.aging: the age passed, seconds */
};

/* One event.  Everything is borrowed for the duration of alert_emit()
 * only: the sinks copy what they keep. */
struct alert_event {
  enum alert_type type;
  int severity;         /* a syslog priority; -1: the type's default */
  const char *tenant;   /* never NULL */
  struct timespec time; /* when it happened; {0, 0}: now */
  const struct conflict *conflict; /* the conflict, or NULL */
  /* Its class, holder side, explanation and remediation, or NULL. */
  const struct classify_result *classification;
  const struct alert_anchor *anchor; /* anchor.* events, or NULL */
  const struct alert_sweep *sweep;   /* the sweep's figures, or NULL */
  const char *message;               /* NULL: made by alert_format_message() */
};

/* The sinks; opaque. */
struct alert;

/* Names ("conflict.detected") and journald MESSAGE_IDs (32 lowercase hex
 * digits, fixed per type). */
const char *alert_type_name(enum alert_type t);
const char *alert_message_id(enum alert_type t);

/* alert_event_init() fills ev for a conflict event at the current time
 * with the type's default severity and message.  c and tenant are
 * borrowed. */
void alert_event_init(struct alert_event *ev, enum alert_type type,
                      const char *tenant, const struct conflict *c);

/* alert_format_message() writes the human message of ev into buf, one
 * line, e.g. "UPN conflict quarantined on user John Smith (placeholder
 * john1234@contoso.onmicrosoft.com): john@contoso.com: held by cloud-only
 * user John (cloud) (john@contoso.com, id ...) [cloud_account]" (without a
 * classification: "... is held by another object"); the sweep's events
 * say "Proxy address conflict freed on group Sales (...): no object holds
 * sales@contoso.com any more; the service should release it within the
 * hour (by <time>)", "... released on ...: <value> is back, 1h 2m after it
 * was freed", "... stuck on ...", "... older than 7d: ...", "... is held
 * again ...".  The explanation and remediation are fields of their own.
 * Returns buf. */
char *alert_format_message(const struct alert_event *ev, char *buf, size_t len);

/* alert_open() sets up the sinks in opts.  The JSON lines file is opened
 * (created with mode 0640) when first needed, so a missing directory
 * shows up as a queued alert and a logged warning, not as a start-up
 * failure.  Returns 0 with *out set (close with alert_close()), or
 * -ENOMEM. */
int alert_open(const struct alert_opts *opts, struct alert **out);

/* alert_close() closes the sinks and frees a, then calls closed_cb(arg)
 * if not NULL (today before it returns: the sinks own no uv handle).
 * Events still queued are lost; a warning says how many.  a may be
 * NULL. */
void alert_close(struct alert *a, void (*closed_cb)(void *arg), void *arg);

/* alert_emit() sends ev to every sink.  The journal/syslog sink cannot
 * fail.  The JSON line is queued behind any earlier ones that failed, and
 * the queue is written in order.  Returns 0 when everything queued has
 * been written, or the negative errno of the failed write (-ENOSPC,
 * -EIO, ...): ev is then kept and retried by the next alert_emit() or
 * alert_flush().  -ENOMEM means ev could not even be queued.  A failure
 * is logged once, and so is the recovery. */
int alert_emit(struct alert *a, const struct alert_event *ev);

/* alert_flush() retries the queued lines.  Returns 0 when the queue is
 * empty, or the negative errno of the write that failed. */
int alert_flush(struct alert *a);

/* alert_reopen() closes the JSON lines file so that the next write opens
 * the path again (after logrotate; SIGHUP).  The file is also reopened
 * by itself when the path no longer names the open file.  Returns 0. */
int alert_reopen(struct alert *a);

/* What each sink has done, for /metrics and /readyz: alerts delivered,
 * waiting to be written, dropped from a full queue, and whether the queue
 * is (nearly) full.  Names are "journal" and "jsonl"; static strings. */
#define ALERT_MAX_SINKS 4
struct alert_stats {
  struct alert_sink_stats {
    const char *name;
    unsigned long delivered, dropped;
    size_t pending;
    bool full;
  } sink[ALERT_MAX_SINKS];
  size_t nsinks;
};

void alert_get_stats(const struct alert *a, struct alert_stats *st);

/* alert_pending_count() is the number of events waiting in the queue. */
size_t alert_pending_count(const struct alert *a);

#endif
