/* SPDX-License-Identifier: MIT
 *
 * selfalert: the alerts a tenant raises about the daemon itself, each once
 * per episode (alert.h):
 *
 * - tenant.failing when cycles have failed failing_cycles times in a row,
 *   or for failing_after seconds, with the cause of the last failure (an
 *   AADSTS code, an HTTP status, a TLS error, EMFILE), and
 *   tenant.recovered at the first complete cycle after it;
 * - credential.expired when the token service answers AADSTS7000222 (the
 *   client secret expired), again only after a cycle succeeded;
 * - credential.expiring when the certificate's notAfter is within 30
 *   days.
 *
 * A struct selfalert lives inside its tenant; it borrows the tenant's name
 * and alert handle.  Episodes are kept in memory: a restart during an
 * outage raises tenant.failing again once the thresholds are passed.
 */
#ifndef QD_SELFALERT_H
#define QD_SELFALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct alert;
struct graph_error;

#define SELFALERT_EXPIRING_DAYS 30

struct selfalert {
  const char *tenant;  /* borrowed */
  struct alert *alert; /* borrowed */
  unsigned after_cycles;
  unsigned long after_s;
  unsigned failures;    /* consecutive failed cycles */
  time_t first_failure; /* of this episode; 0: none */
  bool failing, expired, expiring;
};

void selfalert_init(struct selfalert *h, const char *tenant,
                    struct alert *alert, unsigned after_cycles,
                    unsigned long after_s);

/* selfalert_cause() reduces a failed cycle to a machine-readable code
 * ("AADSTS7000222", "HTTP 503", "TLS", "EMFILE", "ETIMEDOUT", ...) and a
 * sentence for people.  Pure. */
void selfalert_cause(int result, const char *what,
                     const struct graph_error *err, char *code, size_t code_len,
                     char *cause, size_t cause_len);

/* selfalert_failed() counts a failed cycle (result, the step that failed,
 * Graph's or the token service's error) and raises what is due. */
void selfalert_failed(struct selfalert *h, int result, const char *what,
                      const struct graph_error *err, time_t now);

/* selfalert_ok() ends an episode: tenant.recovered if tenant.failing was
 * raised. */
void selfalert_ok(struct selfalert *h, time_t now);

/* selfalert_certificate() raises credential.expiring once when not_after
 * (0: no certificate) is within SELFALERT_EXPIRING_DAYS of now. */
void selfalert_certificate(struct selfalert *h, const char *path,
                           time_t not_after, time_t now);

#endif
