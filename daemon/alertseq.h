/* SPDX-License-Identifier: MIT
 *
 * alertseq: which tagged alerts the state files have committed.  A
 * tenant's conflict alerts are spooled before its state is saved, each
 * tagged with the tenant and a sequence number that only grows; the state
 * file records the last number it covers ("alertSeq"), and only then may
 * the spools deliver them (ARCHITECTURE.md, "Closing the window").  This
 * is the daemon's one table of those numbers, per tenant, and the gate
 * every spool asks (spool_set_gate()).
 *
 * While the daemon starts, a tagged record of a tenant that has not said
 * its number yet is held; once every tenant has started
 * (alertseq_started()), those of tenants no longer configured are let go:
 * their state cannot be asked, and losing an alert is the worse error.
 */
#ifndef QD_ALERTSEQ_H
#define QD_ALERTSEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The table; owns its tenant names. */
struct alertseq {
  struct alertseq_entry {
    char *tenant;
    uint64_t seq; /* committed up to and including */
  } * v;
  size_t n, cap;
  bool started;
};

/* alertseq_set() records that tenant's state file commits every alert up
 * to seq.  Returns 0 or -ENOMEM. */
int alertseq_set(struct alertseq *t, const char *tenant, uint64_t seq);

/* alertseq_started() lets go the records of tenants never set. */
void alertseq_started(struct alertseq *t);

/* alertseq_gate() is the spools' gate (spool_gate_fn; arg is the table):
 * whether the record (tenant, seq) may be delivered. */
bool alertseq_gate(const char *tenant, uint64_t seq, void *arg);

/* alertseq_free() frees what t holds and zeroes it. */
void alertseq_free(struct alertseq *t);

#endif
