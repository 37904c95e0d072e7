/* SPDX-License-Identifier: MIT
 *
 * classify: what kind of conflict a quarantine is, from the conflict and
 * the holders found by holder.c, with a plain-language explanation and
 * the remediation steps (Graph PowerShell, AD and Entra Connect
 * commands).  Pure: no I/O, no allocation, no clock (now is an argument),
 * so every rule is unit-tested without a network.
 *
 * Rules, in this order; the first that matches any holder wins:
 *   unknown           no complete lookup yet (lookup failed: the reason
 *                     says "holder lookup failed: <code>")
 *   not_held          the lookup found no other object holding the value:
 *                     freed, awaiting the service's hourly release sweep
 *                     (a stuck conflict, see sweep.h, gets what to do
 *                     when the sweep did not release it)
 *   recycle_bin       a holder is a deleted user or group still in the
 *                     recycle bin, which keeps the value for up to 30 days:
 *                     restore it or delete it permanently
 *   orphaned          a holder that was synced but is no longer: its
 *                     onPremisesSyncEnabled is false, or its last sync is
 *                     older than stale_after, or it has the quarantined
 *                     object's own sAMAccountName and synced no later than
 *                     it (the on-premises object was deleted and re-created
 *                     and the deletion never reached Entra ID)
 *   group_or_contact  a group or contact holds the value of an object of
 *                     another type (ObjectTypeMismatch family)
 *   cloud_account     a cloud-only user holds the value of a synced user:
 *                     a hard-match candidate; the source anchor to use is
 *                     the synced object's onPremisesImmutableId
 *   two_synced        two synced objects claim the value: fix on-premises
 *   unknown           anything else (e.g. both cloud-only)
 */
#ifndef QD_CLASSIFY_H
#define QD_CLASSIFY_H

#include <stddef.h>
#include <time.h>

#include "conflict.h"

#define CLASSIFY_MAX_STEPS 5

struct classify_opts {
  unsigned long stale_after; /* seconds since a holder's last sync after
                                which it counts as orphaned; 0 = never */
};

/* The classification of one conflict.  Texts are NUL-terminated; holder
 * points into the conflict (or is NULL) and lives as long as it does. */
struct classify_result {
  enum conflict_class cls;
  const struct conflict_holder *holder; /* the holder the class is about */
  char reason[384];                     /* one line, for the alert message */
  char explanation[1536];               /* plain language, one paragraph */
  char steps[CLASSIFY_MAX_STEPS][640];  /* remediation, in order */
  size_t nsteps;
};

/* classify_conflict() classifies c as of now into *out (overwritten). */
void classify_conflict(const struct conflict *c,
                       const struct classify_opts *opts, time_t now,
                       struct classify_result *out);

/* classify_holder_orphaned() tells why holder h of c counts as orphaned:
 * returns a short reason, or NULL when it does not. */
const char *classify_holder_orphaned(const struct conflict *c,
                                     const struct conflict_holder *h,
                                     const struct classify_opts *opts,
                                     time_t now);

#endif
