/* SPDX-License-Identifier: MIT
 *
 * metrics: the Prometheus text exposition (format 0.0.4) of /metrics,
 * rendered from a struct status_view.  Names follow the Prometheus naming
 * rules (https://prometheus.io/docs/practices/naming/): the prefix
 * quarantined_, base units (seconds), _total for counters, a
 * quarantined_build_info gauge; labels tenant, attribute, class, state
 * and sink.  Every metric is listed in quarantined(8).  Counters start at
 * zero when the daemon starts and when a reload makes the tenants anew.
 */
#ifndef QD_METRICS_H
#define QD_METRICS_H

#include <stdio.h>
#include <time.h>

#include "status.h"

/* The buckets of quarantined_conflict_age_seconds, in seconds. */
#define METRICS_AGE_BUCKETS 3600, 21600, 86400, 259200, 604800, 2592000

/* metrics_render() writes the exposition of v as of now to out.  Returns
 * 0, or -EIO when out reports an error. */
int metrics_render(const struct status_view *v, time_t now, FILE *out);

/* metrics_escape() writes s to out escaped as a label value (backslash,
 * double quote and newline). */
void metrics_escape(FILE *out, const char *s);

#endif
