/* SPDX-License-Identifier: MIT
 *
 * selfalert: self-alerts of a tenant, once per episode (see selfalert.h).
 */
#include "selfalert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "graph.h"

void selfalert_init(struct selfalert *h, const char *tenant,
                    struct alert *alert, unsigned after_cycles,
                    unsigned long after_s)
{
  memset(h, 0, sizeof(*h));
  h->tenant = tenant;
  h->alert = alert;
  h->after_cycles = after_cycles ? after_cycles : 1;
  h->after_s = after_s;
}

void selfalert_cause(int result, const char *what,
                     const struct graph_error *err, char *code, size_t code_len,
                     char *cause, size_t cause_len)
{
  const char *aadsts = err ? strstr(err->code, "AADSTS") : NULL;
  const char *msg = err && err->message[0] ? err->message : strerror(-result);

  if(aadsts)
    snprintf(code, code_len, "%.*s", (int)strspn(aadsts, "AADST0123456789"),
             aadsts);
  else if(err && err->status)
    snprintf(code, code_len, "HTTP %ld", err->status);
  else if(result == -EMFILE || result == -ENFILE)
    snprintf(code, code_len, "EMFILE");
  else if(result == -EPROTO)
    snprintf(code, code_len, "TLS");
  else if(result == -ETIMEDOUT)
    snprintf(code, code_len, "ETIMEDOUT");
  else if(result == -ECONNREFUSED)
    snprintf(code, code_len, "ECONNREFUSED");
  else if(result == -EHOSTUNREACH)
    snprintf(code, code_len, "EHOSTUNREACH");
  else
    snprintf(code, code_len, "%s", err && err->code[0] ? err->code : "EIO");
  snprintf(cause, cause_len, "%s: %s%s%s", what ? what : "cycle",
           err && err->code[0] ? err->code : strerror(-result),
           err && err->message[0] ? ": " : "",
           err && err->message[0] ? msg : "");
}

static void raise_event(struct selfalert *h, enum alert_type type,
                        const char *code, const char *cause, const char *path,
                        time_t expires, long count)
{
  struct alert_daemon dm = {.code = code,
                            .cause = cause,
                            .path = path,
                            .expires = expires,
                            .count = count};

  alert_emit_daemon(h->alert, type, h->tenant, &dm);
}

void selfalert_failed(struct selfalert *h, int result, const char *what,
                      const struct graph_error *err, time_t now)
{
  char code[32], cause[700];

  if(!h->failures++)
    h->first_failure = now;
  selfalert_cause(result, what, err, code, sizeof(code), cause, sizeof(cause));
  /* AADSTS7000222: "The provided client secret keys are expired"
   * (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
   */
  if(!h->expired && !strcmp(code, "AADSTS7000222")) {
    h->expired = true;
    raise_event(h, ALERT_CREDENTIAL_EXPIRED, code, cause, NULL, 0,
                (long)h->failures);
  }
  if(!h->failing &&
     (h->failures >= h->after_cycles ||
      (h->after_s && (unsigned long)(now - h->first_failure) >= h->after_s))) {
    h->failing = true;
    raise_event(h, ALERT_TENANT_FAILING, code, cause, NULL, 0,
                (long)h->failures);
  }
}

void selfalert_ok(struct selfalert *h, time_t now)
{
  (void)now;
  if(h->failing)
    raise_event(h, ALERT_TENANT_RECOVERED, NULL, NULL, NULL, 0,
                (long)h->failures);
  h->failing = h->expired = false;
  h->failures = 0;
  h->first_failure = 0;
}

void selfalert_certificate(struct selfalert *h, const char *path,
                           time_t not_after, time_t now)
{
  char cause[300];

  if(!not_after || h->expiring ||
     not_after - now > (time_t)SELFALERT_EXPIRING_DAYS * 86400)
    return;
  h->expiring = true;
  snprintf(cause, sizeof(cause),
           "the certificate %s expires in %ld day(s); renew it and upload "
           "the new one to the app registration",
           path ? path : "-", (long)((not_after - now) / 86400));
  raise_event(h, ALERT_CREDENTIAL_EXPIRING, NULL, cause, path, not_after, 0);
}
