/* SPDX-License-Identifier: MIT
 *
 * csv: a streaming RFC 4180 reader (see csv.c).
 */
#ifndef QD_CSV_H
#define QD_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "strlist.h"

/* One file being read.  Zero it, then csv_open(); csv_free() when done
 * (also after a failed csv_open()). */
struct csv {
  FILE *f;
  unsigned line;         /* the physical line being read, from 1 */
  unsigned start;        /* the line the current record started on */
  struct strlist fields; /* the current record's */
  char *buf;             /* the field being read */
  size_t len, cap;
};

/* csv_open() opens path for csv_next(), skipping a UTF-8 BOM.  Returns 0
 * or -errno (not reported). */
int csv_open(struct csv *c, const char *path);

/* csv_next() reads the next record into c->fields (owned by c, valid
 * until the next call), skipping blank lines and '#' comment lines.
 * Returns 1, 0 at the end of the file, -EBADMSG with *why (a static
 * reason; the rest of the bad line has been skipped) or -ENOMEM. */
int csv_next(struct csv *c, const char **why);

/* csv_reset() drops the current record's fields. */
void csv_reset(struct csv *c);

/* csv_free() frees what c holds and closes its file. */
void csv_free(struct csv *c);

#endif
