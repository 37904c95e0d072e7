/* SPDX-License-Identifier: MIT
 *
 * strlist: a growable list of malloc'd strings, for the lists the daemon
 * keeps in memory (allow-lists, the refusal memory, the journal's applied
 * values, a CSV record's fields).  Look-up is a linear scan: the lists are
 * short, or read once per pass.  Nothing is logged here.
 */
#ifndef QD_STRLIST_H
#define QD_STRLIST_H

#include <stddef.h>
#include <sys/types.h>

/* A list of n strings in v[0..n-1].  A zeroed struct is an empty list.
 * The list owns the array and every string in it; free both with
 * strlist_clear(). */
struct strlist {
  char **v;
  size_t n, cap;
};

/* strlist_add() appends a copy of s; strlist_addn() a copy of the first
 * len bytes of s (which need not be NUL-terminated there).  Return 0, or
 * -ENOMEM with the list unchanged.  s stays the caller's. */
int strlist_add(struct strlist *l, const char *s);
int strlist_addn(struct strlist *l, const char *s, size_t len);

/* strlist_split() appends every non-empty token of s separated by any of
 * the characters in delims (s may be NULL: nothing is added).  Returns 0,
 * or -ENOMEM with the tokens before the failure added. */
int strlist_split(struct strlist *l, const char *s, const char *delims);

/* strlist_find() returns the index of the first string equal to s (case
 * sensitive), or -1. */
ssize_t strlist_find(const struct strlist *l, const char *s);

/* strlist_del() frees string i (< l->n) and closes the gap; the order of
 * the others is kept. */
void strlist_del(struct strlist *l, size_t i);

/* strlist_clear() frees every string and the array and leaves l empty. */
void strlist_clear(struct strlist *l);

#endif
