/* SPDX-License-Identifier: MIT
 *
 * buf: a growable byte buffer (see buf.h).
 */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int buf_append(struct buf *b, const char *s, size_t n)
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
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}
