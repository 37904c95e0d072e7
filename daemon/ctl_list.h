/* SPDX-License-Identifier: MIT
 *
 * ctl_list: the conflict list of `quarantinectl conflicts`: filters (as
 * rich as Get-MsolDirSyncProvisioningError's), sort order, and the three
 * outputs: a table that fits 100 columns (colour only on a terminal),
 * RFC 4180 CSV (optionally with a UTF-8 byte order mark, for Excel) and
 * JSON.
 */
#ifndef QD_CTL_LIST_H
#define QD_CTL_LIST_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "conflict.h"
#include "ctl_source.h"

/* What to keep; -1 / NULL: any. */
struct ctl_list_filter {
  int property;       /* enum conflict_property */
  const char *value;  /* the quarantined value, any case, smtp: optional */
  const char *search; /* substring (any case) of the value, object id,
                         display name, UPN or mail */
  int cls;            /* enum conflict_class */
  int state;          /* enum conflict_state */
  int objtype;        /* enum conflict_objtype */
  long older_than;    /* seconds quarantined; -1 */
};

void ctl_list_filter_init(struct ctl_list_filter *f);

/* One listed conflict; both borrowed from a struct ctl_source_data. */
struct ctl_list_row {
  const char *tenant;
  const struct conflict *c;
};

/* Sort keys for --sort. */
enum ctl_list_sort {
  CTL_LIST_SORT_TENANT, /* tenant, then value (the default) */
  CTL_LIST_SORT_VALUE,
  CTL_LIST_SORT_AGE, /* oldest first */
  CTL_LIST_SORT_CLASS,
  CTL_LIST_SORT_STATE,
  CTL_LIST_SORT_TYPE,
  CTL_LIST_SORT_NAME
};

/* ctl_list_sort_parse() returns the key named s, or -EINVAL. */
int ctl_list_sort_parse(const char *s);

/* ctl_list_select() returns the malloc'd rows of d that pass f as of now,
 * sorted by key (reversed with reverse), at most max (0: all); *n is set.
 * NULL with *n 0 when none (or out of memory: *n is then (size_t)-1). */
struct ctl_list_row *ctl_list_select(const struct ctl_source_data *d,
                                     const struct ctl_list_filter *f,
                                     time_t now, enum ctl_list_sort key,
                                     bool reverse, size_t max, size_t *n);

/* Outputs.  Each returns 0, or -EIO when out reports an error. */
int ctl_list_table(FILE *out, const struct ctl_list_row *rows, size_t n,
                   time_t now, bool colour);
int ctl_list_csv(FILE *out, const struct ctl_list_row *rows, size_t n,
                 bool bom);
int ctl_list_json(FILE *out, const struct ctl_list_row *rows, size_t n);

#endif
