/* SPDX-License-Identifier: MIT
 *
 * buf: a growable byte buffer (see buf.h).
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* reserve() makes room for n more bytes and the NUL, doubling the
 * allocation as needed (4 KiB at first).  Returns 0, or -ENOMEM with b
 * unchanged. */
static int reserve(struct buf *b, size_t n)
{
  if(b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    char *p;

    while(cap < b->len + n + 1)
      cap *= 2;
    p = realloc(b->data, cap);
    if(!p)
      return -ENOMEM;
    b->data = p;
    b->cap = cap;
  }
  return 0;
}

int buf_append(struct buf *b, const char *s, size_t n)
{
  if(reserve(b, n))
    return -ENOMEM;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int buf_printf(struct buf *b, const char *f, ...)
{
  va_list ap;
  int n;

  va_start(ap, f);
  n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  if(n < 0)
    return -EINVAL;
  if(reserve(b, (size_t)n))
    return -ENOMEM;
  va_start(ap, f);
  vsnprintf(b->data + b->len, (size_t)n + 1, f, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}
