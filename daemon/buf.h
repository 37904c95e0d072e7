/* SPDX-License-Identifier: MIT
 *
 * buf: a growable, NUL-terminated byte buffer, for text built a piece at
 * a time (an HTTP body as it arrives, the state file a conflict at a
 * time).  The memory is the owner's: free(b->data).
 */
#ifndef QD_BUF_H
#define QD_BUF_H

#include <stddef.h>

#include "log.h" /* QD_PRINTF */

struct buf {
  char *data; /* NUL-terminated once anything was appended; else NULL */
  size_t len; /* bytes held, not counting the NUL */
  size_t cap; /* bytes allocated */
};

/* buf_append() appends the n bytes at s (which may hold NULs), doubling
 * the allocation as needed (4 KiB at first).  Returns 0, or -ENOMEM with
 * b unchanged. */
int buf_append(struct buf *b, const char *s, size_t n);

/* buf_printf() appends the text printf(3) makes of f and its arguments.
 * Returns 0, or -ENOMEM (or -EINVAL for a bad format) with b unchanged. */
int buf_printf(struct buf *b, const char *f, ...) QD_PRINTF(2, 3);

#endif
