/* SPDX-License-Identifier: MIT
 *
 * sink: one destination of alerts ([sink NAME] in the configuration) and
 * the delivery machinery every type shares.  An alert offered to a sink
 * passes its filter (minimum severity, event types), is formatted once in
 * the sink's format and appended to the sink's spool (spool.h).  The sink
 * hands the spooled records, oldest first and in batches, to its type's
 * deliver(); the type reports how many of them the receiver accepted.
 * Those leave the spool; on a failure the rest are offered again after a
 * backoff (1 s doubling to 60 s, or the receiver's Retry-After), with one
 * log line when the receiver goes down and one when it comes back.
 *
 * The types, one file each: sink_local.c (journal, syslog socket),
 * sink_net.c (remote syslog over UDP, TCP or TLS), sink_http.c (webhooks,
 * Logs Ingestion API), sink_file.c (a file), sink_eventlog.c (the
 * Windows Event Log).
 */
#ifndef QD_SINK_H
#define QD_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "cfg.h"
#include "fmt.h"
#include "plat.h"
#include "spool.h"

struct sink;

/* What a type implements.  deliver() sends n records starting at first
 * (n <= max_batch) and calls sink_done() exactly once, possibly before it
 * returns.  close() releases the type's handles and then calls
 * sink_type_closed(s). */
struct sink_type {
  enum fmt_kind default_format;
  size_t max_batch;
  int (*open)(struct sink *s, const struct cfg_sink *c);
  void (*deliver)(struct sink *s, const struct spool_rec *first, size_t n);
  void (*reopen)(struct sink *s); /* SIGHUP; may be NULL */
  /* May be NULL.  Takes one record at once, when nothing is spooled:
   * returns 0 when it took it, or a negative errno code to spool it. */
  int (*write_now)(struct sink *s, const char *data, size_t len);
  void (*close)(struct sink *s);
};

extern const struct sink_type sink_local_journal, sink_local_syslog;
extern const struct sink_type sink_net_type; /* udp, tcp and tls */
extern const struct sink_type sink_file_type;
extern const struct sink_type sink_http_webhook, sink_http_sentinel;
extern const struct sink_type sink_eventlog_type;

/* The shared state of a sink; the type keeps its own in impl. */
struct sink {
  uv_loop_t *loop;
  char *name;
  const struct sink_type *type;
  void *impl;
  enum fmt_kind format;
  int min_severity;
  char *events; /* normalised filter, or NULL: all */
  struct fmt_opts fo;
  char host[256];
  char *sd_id; /* fo.sd_id: owned, since the sink outlives its section */
  struct spool *spool;
  uv_timer_t timer; /* next delivery: now, or after a backoff */
  bool busy, down, full, closing;
  /* A replaced sink drains (its delivery in flight ends, none starts),
   * then hands its spool to heir, which is held until then; see
   * sink_hand_over(). */
  bool draining, held;
  struct sink *heir, *pred;
  size_t spool_max;
  unsigned backoff_ms;
  uint64_t delivered, failures;
  char last_error[160];
  /* Told when the spool begins to drop alerts (a self-alert). */
  void (*on_full)(struct sink *s, void *arg);
  void *arg;
  void (*close_cb)(void *arg);
  void *close_arg;
  int closing_parts;
};

/* sink_open() makes the sink of section c with its spool in spool_dir.
 * on_full(s, arg) is called once when the spool starts dropping alerts.
 * With spool_dir NULL the sink has no spool and delivers nothing until
 * sink_hand_over() gives it one.
 * Returns 0 with *out set, or a negative errno code (logged). */
int sink_open(uv_loop_t *loop, const struct cfg_sink *c, const char *spool_dir,
              void (*on_full)(struct sink *s, void *arg), void *arg,
              struct sink **out);

/* sink_wants() tells whether an alert of this event type and syslog
 * severity passes the sink's filter. */
bool sink_wants(const struct sink *s, const char *event, int severity);

/* sink_offer() formats ev and spools it; with seq > 0 the record is
 * tagged with tenant and seq and held until the spool's gate lets it go
 * (spool.h).  Returns 0, -ENOBUFS (spool full: dropped and counted), or
 * -ENOMEM. */
int sink_offer(struct sink *s, const cJSON *ev, const char *tenant,
               uint64_t seq);

/* sink_kick() starts a delivery when records became deliverable without
 * a new batch on disk (the gate opened): a file sink writes them before
 * it returns, the others on the next loop iteration. */
void sink_kick(struct sink *s);

/* sink_done() is the type's report: accepted of the records given to
 * deliver() were accepted, in order; err is 0 when all were, or a
 * negative errno code with why (for the log, no secrets) and retry_ms
 * (0: the sink's own backoff). */
void sink_done(struct sink *s, size_t accepted, int err, const char *why,
               unsigned retry_ms);

/* sink_accepted() is the type's report, before sink_done(), that the
 * first n records given to deliver() and not reported yet were accepted
 * (a stream that took part of a batch): they leave the spool and count as
 * delivered.  sink_done() then counts only the rest. */
void sink_accepted(struct sink *s, size_t n);

/* sink_reopen() reopens files (SIGHUP). */
void sink_reopen(struct sink *s);

/* sink_hand_over() replaces old (its section changed on reload) with
 * heir, opened without a spool: heir takes old's spool at once, so what
 * is offered to heir queues behind what old still holds, but heir starts
 * delivering only when old's delivery in flight has ended; then old is
 * closed and cb(arg) called as by sink_close().  Closing heir before
 * that closes old first. */
void sink_hand_over(struct sink *old, struct sink *heir, void (*cb)(void *arg),
                    void *arg);

/* sink_type_closed() is the type's report that its handles are closed. */
void sink_type_closed(struct sink *s);

/* sink_eventlog_event() fills ev from the alert record json (NUL-
 * terminated) as the eventlog sink reports it: severity, message id, the
 * text (message and remediation steps, appended to text, which the caller
 * frees) and json itself, borrowed.  Returns 0, -EINVAL (not a JSON
 * object) or -ENOMEM. */
int sink_eventlog_event(const char *json, struct plat_event *ev,
                        struct fmt_buf *text);

/* sink_close() stops delivery, closes the type and the spool (records
 * not delivered stay in it for the next start), frees s and calls
 * cb(arg). */
void sink_close(struct sink *s, void (*cb)(void *arg), void *arg);

#endif
