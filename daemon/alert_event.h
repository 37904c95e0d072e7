/* SPDX-License-Identifier: MIT
 *
 * alert_event: an alert event (alert.h) made into its message and its
 * alert object, once, for every sink.
 */
#ifndef QD_ALERT_EVENT_H
#define QD_ALERT_EVENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "alert.h"

/* alert_event_init() fills ev for a conflict event at the current time
 * with the type's default severity and message.  c and tenant are
 * borrowed. */
void alert_event_init(struct alert_event *ev, enum alert_type type,
                      const char *tenant, const struct conflict *c);

/* alert_event_message() writes the human message of ev into buf, one
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
char *alert_event_message(const struct alert_event *ev, char *buf, size_t len);

/* alert_event_json() renders ev once into its alert object and sets
 * *severity to the alert's syslog priority.  Returns the object, which the
 * caller deletes, or NULL when out of memory. */
cJSON *alert_event_json(const struct alert_event *ev, int *severity);

#endif
