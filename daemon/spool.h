/* SPDX-License-Identifier: MIT
 *
 * spool: the durable, ordered queue of one sink.  Records are appended in
 * memory and written to <dir>/<name>.spool in batches: one write(2) and
 * one fdatasync(2) per batch (group commit), done by libuv's file-system
 * requests so the loop never waits on the disk.  A record is handed to
 * the sink only once its batch is on disk (its bytes then leave memory
 * and are read back to be delivered: spool_fetch()), and leaves the
 * spool only when
 * the sink says the receiver accepted it (spool_ack()); the offset up to
 * which records were accepted, and the count of records dropped because
 * the spool was full, live in <dir>/<name>.spool.ack (tfiles.h).  After a crash
 * or restart the records after that offset are delivered again, in order; a
 * torn record at the end (the crash hit a write) is cut off.  When every record
 * is accepted the file is emptied again.
 *
 * On disk a record is "<decimal length>:<bytes>\n", so records may hold
 * any bytes, line breaks included.  A record may carry a tag, a tenant and
 * a sequence number: "<length>@<seq>@<tenant length>@<tenant>:<bytes>\n".
 * A tagged record is held (not delivered) until its tenant's state file
 * says it is committed (the gate, spool_set_gate()); one whose state file
 * never did is voided in place by spool_void(): its ':' becomes '!', and
 * it is never read back.  See ARCHITECTURE.md, "Closing the window".
 */
#ifndef QD_SPOOL_H
#define QD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* One record, owned by the spool; valid until acknowledged.  The bytes
 * of a record on disk are read only after spool_fetch() (data is NULL
 * before). */
struct spool_rec {
  const char *data; /* the payload, then "\n" and a NUL */
  size_t len;       /* payload bytes */
  struct spool_rec *next;
  const char *tenant; /* the tag's tenant, or NULL: untagged */
  uint64_t seq;       /* the tag's sequence number */
  /* Internal. */
  char *tname;  /* owned copy behind tenant */
  char *frame;  /* "<len>[@<seq>@<tlen>@<tenant>]:" payload "\n" */
  size_t flen;  /* frame bytes */
  size_t colon; /* offset of the ':' before the payload in frame */
  uint64_t end; /* file offset just after the frame, once written */
};

/* The gate: whether the tagged record (tenant, seq) may be delivered. */
typedef bool (*spool_gate_fn)(const char *tenant, uint64_t seq, void *arg);

/* Called once everything appended before spool_when_synced() is on disk
 * (or cannot be written: the spool is failing, or closing). */
typedef void (*spool_synced_cb)(void *arg);

struct spool;

/* Called (from the loop) whenever records became available for delivery:
 * a batch reached the disk. */
typedef void (*spool_ready_cb)(void *arg);

/* spool_open() opens (creating) the spool called name in dir, which must
 * exist, and reads back what was not accepted yet.  max_bytes caps the
 * bytes held (0: no cap).  Returns 0 with *out set (free with
 * spool_close()), or a negative errno code after logging one line naming
 * the file. */
int spool_open(uv_loop_t *loop, const char *dir, const char *name,
               size_t max_bytes, spool_ready_cb ready, void *arg,
               struct spool **out);

/* spool_append() copies len bytes of data as a new record at the tail.
 * Returns 0, -ENOBUFS when the spool is full (the record is dropped and
 * counted), or -ENOMEM. */
int spool_append(struct spool *s, const char *data, size_t len);

/* spool_append_tagged() is spool_append() of a record tagged with tenant
 * (copied; a plain file name) and seq (> 0): held until the gate lets it
 * go. */
int spool_append_tagged(struct spool *s, const char *data, size_t len,
                        const char *tenant, uint64_t seq);

/* spool_set_gate() sets the gate of the tagged records (arg is gate's);
 * without one, tagged records are delivered like the others. */
void spool_set_gate(struct spool *s, spool_gate_fn gate, void *arg);

/* spool_deliverable() is how many of the oldest records on disk, at most
 * max, may be delivered now: it stops at the first one the gate holds. */
size_t spool_deliverable(const struct spool *s, size_t max);

/* spool_when_synced() calls cb(arg) from the loop once every record
 * appended so far is on disk (at once when there is none).  Returns 0 or
 * -ENOMEM (cb is not called). */
int spool_when_synced(struct spool *s, spool_synced_cb cb, void *arg);

/* spool_void() voids, on disk and in memory, every record tagged with
 * tenant whose sequence number is above seq: its state file never
 * committed it.  Meant for the start, before the tenant tags anything
 * again; the voids are fdatasync'd before it returns.  Returns the number
 * voided, or a negative errno code (logged). */
long spool_void(struct spool *s, const char *tenant, uint64_t seq);

/* spool_fetch() reads back from the file the bytes of the n oldest
 * records on disk and not yet accepted (at most spool_ready_count()), so
 * that their data may be read until they are accepted: records on disk
 * are not kept in memory.  A few pread(2)s of what was just written, for
 * one delivery's batch.  Returns 0, or a negative errno code (-EIO when
 * the file no longer holds a record) for the caller to log; the records
 * stay, to be fetched again. */
int spool_fetch(struct spool *s, size_t n);

/* spool_first() is the oldest record on disk and not yet accepted, or
 * NULL; spool_ready_count() how many such records there are (follow
 * ->next that many times at most). */
const struct spool_rec *spool_first(const struct spool *s);
size_t spool_ready_count(const struct spool *s);

/* spool_ack() removes the n oldest records (n <= spool_ready_count()):
 * the receiver accepted them.  Their offset is recorded at once, so a
 * restart does not send them again. */
void spool_ack(struct spool *s, size_t n);

/* spool_pending() is the number of records held (on disk or not yet),
 * spool_bytes() their size, spool_dropped() the records dropped since
 * the spool was created. */
size_t spool_pending(const struct spool *s);
/* spool_failing() says whether the last write of the spool file failed
 * (records are then held in memory and the write retried). */
bool spool_failing(const struct spool *s);
size_t spool_bytes(const struct spool *s);
uint64_t spool_dropped(const struct spool *s);

/* spool_rebind() hands s to another owner (a sink replaced on reload):
 * ready(arg) is called from now on, and max_bytes is the new cap; the
 * records held stay, in order.  spool_path() is the spool file, owned by
 * s. */
void spool_rebind(struct spool *s, size_t max_bytes, spool_ready_cb ready,
                  void *arg);
const char *spool_path(const struct spool *s);

/* spool_close() writes what is still in memory (waiting for a batch in
 * flight), closes the files and frees s, then calls cb(arg) if given. */
void spool_close(struct spool *s, void (*cb)(void *arg), void *arg);

#endif
