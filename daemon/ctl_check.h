/* SPDX-License-Identifier: MIT
 *
 * ctl_check: `quarantinectl status` (the running daemon per tenant) and
 * `quarantinectl check`, a Nagios / Icinga / Checkmk plugin following
 * the Monitoring Plugins development guidelines
 * (https://www.monitoring-plugins.org/doc/guidelines.html): exit 0 OK,
 * 1 WARNING, 2 CRITICAL, 3 UNKNOWN; one line "QUARANTINED STATE - text |
 * perfdata"; thresholds in the guidelines' range syntax; a timeout.
 */
#ifndef QD_CTL_CHECK_H
#define QD_CTL_CHECK_H

#include <stdbool.h>

/* A threshold range: alert when the value is outside start..end (inside
 * with inside set); an open end is infinite. */
struct ctl_check_range {
  double start, end;
  bool start_inf, end_inf, inside;
  const char *text; /* as given, for the perfdata */
};

/* ctl_check_range_parse() reads "10", "10:", "~:10", "10:20" or "@10:20"
 * (numbers may carry s, m, h or d for seconds).  Returns 0 or -EINVAL. */
int ctl_check_range_parse(const char *s, struct ctl_check_range *r);

/* ctl_check_range_alert() tells whether value triggers r. */
bool ctl_check_range_alert(const struct ctl_check_range *r, double value);

int ctl_check_status(int argc, char **argv);
int ctl_check_plugin(int argc, char **argv);

#endif
