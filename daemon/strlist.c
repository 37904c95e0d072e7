/* SPDX-License-Identifier: MIT
 *
 * strlist: the growable list of malloc'd strings.  The array doubles when
 * full, so n appends cost O(n) copies of pointers in all.
 */
#include "strlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int strlist_addn(struct strlist *l, const char *s, size_t len)
{
  char *c;

  if(l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    char **v = realloc(l->v, cap * sizeof(*v));

    if(!v)
      return -ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  c = strndup(s, len);
  if(!c)
    return -ENOMEM;
  l->v[l->n++] = c;
  return 0;
}

int strlist_add(struct strlist *l, const char *s)
{
  return strlist_addn(l, s, strlen(s));
}

int strlist_split(struct strlist *l, const char *s, const char *delims)
{
  size_t len;
  int rc = 0;

  while(s && *s && !rc) {
    s += strspn(s, delims);
    len = strcspn(s, delims);
    if(len)
      rc = strlist_addn(l, s, len);
    s += len;
  }
  return rc;
}

ssize_t strlist_find(const struct strlist *l, const char *s)
{
  size_t i;

  for(i = 0; i < l->n; i++)
    if(!strcmp(l->v[i], s))
      return (ssize_t)i;
  return -1;
}

void strlist_del(struct strlist *l, size_t i)
{
  free(l->v[i]);
  memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
  l->n--;
}

void strlist_clear(struct strlist *l)
{
  size_t i;

  for(i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof(*l));
}
