/* SPDX-License-Identifier: MIT
 *
 * alert: alert events and their routing.  An event
 * (conflict.detected, tenant.failing, ...) is rendered once (alert_event.h)
 * into the alert object (the JSON form documented in quarantined(8) and
 * docs/alert.schema.json) and offered to every sink (sink.h) whose filter
 * takes it; each sink formats it and spools it on disk until its
 * receiver accepts it.  Flood control: within one cycle's alerts
 * (alert_flood_begin/end), those past flood_limit go to file sinks only,
 * and one alert.flood summary goes everywhere at the end.
 */
#ifndef QD_ALERT_H
#define QD_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>
#include <time.h>

#include <uv.h>

#include "cfg.h"

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
  ALERT_DAEMON_FDS,     /* daemon.fd-exhausted: cycles fail for want of file
                           descriptors (EMFILE/ENFILE); the message says */
  /* About the daemon itself, each once per episode. */
  ALERT_TENANT_FAILING,      /* tenant.failing: cycles keep failing (cause) */
  ALERT_TENANT_RECOVERED,    /* tenant.recovered: a cycle succeeded again */
  ALERT_CREDENTIAL_EXPIRING, /* credential.expiring: certificate, 30 days */
  ALERT_CREDENTIAL_EXPIRED,  /* credential.expired: AADSTS7000222 */
  ALERT_FILE_UNREADABLE,     /* file.unreadable: apply journal, anchors */
  ALERT_SPOOL_FULL,          /* spool.full: a sink drops alerts */
  ALERT_FLOOD                /* alert.flood: a cycle's summary past the
                                flood limit */
};
#define ALERT_NTYPES 20

/* The version of the alert object's schema ("schemaVersion"). */
#define ALERT_SCHEMA_VERSION 1

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

/* What an alert about the daemon itself says.  Borrowed. */
struct alert_daemon {
  const char *cause; /* in words: "AADSTS7000222: ...", "HTTP 503", ... */
  const char *code;  /* machine-readable: "AADSTS7000222", "EMFILE", ... */
  const char *path;  /* file.unreadable: the file */
  const char *sink;  /* spool.full: the sink */
  time_t expires;    /* credential.expiring: notAfter */
  long count;        /* failed cycles, dropped or withheld alerts */
  const char *const *keys; /* alert.flood: the first conflict keys */
  size_t nkeys;
};

/* Where alerts go; from [alerts] and the [sink NAME] sections. */
struct alert_opts {
  bool syslog;                  /* an implicit journal sink called "journal" */
  int syslog_facility;          /* its fallback facility; 0 means LOG_DAEMON */
  const char *jsonl_path;       /* an implicit file sink "jsonl", or NULL */
  const struct cfg_sink *sinks; /* borrowed */
  const char *spool_dir;        /* where the spools live; must exist */
  unsigned flood_limit;         /* alerts per cycle before a summary; 0: none */
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
  const struct alert_daemon *daemon; /* the daemon's own, or NULL */
  const char *message;               /* NULL: made by alert_event_message() */
  /* > 0: the event's number in its tenant's sequence; the spooled alert
   * is held until the tenant's state commits it (alert_commit()). */
  uint64_t seq;
};

/* The sinks; opaque. */
struct alert;

/* Names ("conflict.detected") and journald MESSAGE_IDs (32 lowercase hex
 * digits, fixed per type). */
const char *alert_type_name(enum alert_type t);
const char *alert_message_id(enum alert_type t);

/* alert_type_severity() is the syslog priority of a type's events. */
int alert_type_severity(enum alert_type t);

/* alert_type_parse() maps a name to its type, or ALERT_NTYPES. */
enum alert_type alert_type_parse(const char *name);

/* alert_filter_check() checks a sink's events list (names or "prefix.*",
 * separated by spaces or commas).  Returns NULL, or the first unknown
 * name (static storage). */
const char *alert_filter_check(const char *events);

/* alert_open() opens the sinks of opts on loop, each with its spool in
 * opts->spool_dir; what a spool held from a previous run is delivered
 * first.  Returns 0 with *out set (free with alert_close()), or a negative
 * errno code (logged). */
int alert_open(uv_loop_t *loop, const struct alert_opts *opts,
               struct alert **out);

/* alert_close() closes every sink (alerts not delivered stay in the
 * spools for the next start); a is freed when the last sink's handles
 * are closed, and then closed_cb(arg) is called if not NULL (before
 * alert_close() returns when no sink owns a handle).  a may be NULL. */
void alert_close(struct alert *a, void (*closed_cb)(void *arg), void *arg);

/* alert_emit() renders ev and offers it to every sink.  Returns 0, or the
 * first error of a sink (-ENOBUFS: a spool was full; -ENOMEM); every
 * failure is logged by the sink.  a may be NULL (no sinks). */
int alert_emit(struct alert *a, const struct alert_event *ev);

/* alert_emit_daemon() raises one of the daemon's own events (type) about
 * tenant ("-" for none) with the fields of dm; borrowed.  As
 * alert_emit(). */
int alert_emit_daemon(struct alert *a, enum alert_type type, const char *tenant,
                      const struct alert_daemon *dm);

/* The first keys a flood summary names. */
#define ALERT_FLOOD_KEYS 10

/* The flood count of one cycle's alerts, owned by whoever sends them
 * (several tenants may be sending at once).  alert_flood_begin() starts
 * it for tenant (borrowed, must outlive fl); alert_emit_flood() is
 * alert_emit() counting ev in fl (NULL: not counted), sending it to file
 * sinks only once the count is past flood_limit; alert_flood_end() sends
 * the alert.flood summary when any was held back, and frees what fl
 * holds. */
struct alert_flood {
  const char *tenant;
  uint64_t seq; /* the summary's sequence number (alert_event), or 0 */
  size_t count, withheld;
  size_t by_type[ALERT_NTYPES];
  char *keys[ALERT_FLOOD_KEYS];
  size_t nkeys;
};
void alert_flood_begin(struct alert_flood *fl, const char *tenant);
int alert_emit_flood(struct alert *a, const struct alert_event *ev,
                     struct alert_flood *fl);
void alert_flood_end(struct alert *a, struct alert_flood *fl);

/* alert_reload() brings the sinks of a, opened from old, to those of
 * opts (SIGHUP).  A sink is known by its name, which is also its spool
 * file's: one whose section is unchanged keeps running untouched; a new
 * one starts, delivering what its spool holds; one no longer configured
 * is closed, its spool file left on disk and named in the log while it
 * holds alerts; one whose section changed is replaced by a sink of the
 * new section that takes over its spool (sink_hand_over()), so what it
 * held and what is raised meanwhile reach the new one, in order.  A
 * renamed sink is a removed one and an added one.  All or nothing:
 * returns 0, -EBUSY while an earlier reload's sinks are still closing
 * (call again later), or a negative errno code (logged) with a
 * unchanged.  opts' strings are copied. */
int alert_reload(struct alert *a, uv_loop_t *loop, const struct alert_opts *old,
                 const struct alert_opts *opts);

/* alert_busy() tells whether sinks of an earlier reload are still
 * closing. */
bool alert_busy(const struct alert *a);

/* alert_reopen() reopens the file sinks' files (SIGHUP, logrotate). */
void alert_reopen(struct alert *a);

/* What each sink has done, for /metrics and /readyz: alerts delivered,
 * waiting in its spool, dropped from a full spool, whether the spool is
 * full, and whether its file cannot be written (alerts held in memory).  Names
 * are the sinks' section names, borrowed from a; the first ALERT_MAX_SINKS
 * sinks are reported. */
#define ALERT_MAX_SINKS 64
struct alert_stats {
  struct alert_sink_stats {
    const char *name;
    unsigned long delivered, dropped;
    size_t pending;
    bool full, unwritable;
  } sink[ALERT_MAX_SINKS];
  size_t nsinks;
};

void alert_get_stats(const struct alert *a, struct alert_stats *st);

/* Conflict alerts are spooled before the state that records them is
 * saved, each with its tenant's next sequence number (alert_event.seq),
 * and held until that state is durable (ARCHITECTURE.md, "Closing the
 * window"; alertseq.h).
 *
 * alert_sync() calls cb(arg) once every alert offered so far is on disk in
 * every spool (or its spool cannot be written, or is closing); possibly
 * before it returns.  Returns 0, or -ENOMEM (cb is not called).
 * alert_commit() tells the spools that tenant's state file is durable with
 * every alert up to seq: they go out.
 * alert_recover() is alert_commit() at start, with the number read from
 * tenant's state file, and when the tenant closes: the tenant's spooled
 * alerts after seq were spooled after that state and are voided on disk
 * before it returns (their cycle runs again).  Returns 0, or a negative
 * errno code (logged).
 * alert_started() is called once every tenant has recovered: the held
 * alerts of tenants no longer configured go out. */
int alert_sync(struct alert *a, void (*cb)(void *arg), void *arg);
void alert_commit(struct alert *a, const char *tenant, uint64_t seq);
int alert_recover(struct alert *a, const char *tenant, uint64_t seq);
void alert_started(struct alert *a);

/* alert_pending_count() is the number of alerts waiting in the spools. */
size_t alert_pending_count(const struct alert *a);

#endif
