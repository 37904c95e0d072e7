/* SPDX-License-Identifier: MIT
 *
 * hashx: the string hash of the daemon's hash tables (conflict_set,
 * anchors, suggest, holder), written once: 64-bit FNV-1a
 * (http://www.isthe.com/chongo/tech/comp/fnv/), optionally over the
 * ASCII-lower-cased bytes, for keys compared without case as Entra
 * compares addresses.  Pure; nothing is logged.
 */
#ifndef QD_HASHX_H
#define QD_HASHX_H

#include <stdbool.h>
#include <stdint.h>

#define HASHX_INIT 14695981039346656037ULL /* FNV-1a offset basis */

/* hashx_more() continues hash h over the bytes of s (NUL-terminated),
 * each ASCII-lower-cased first when fold. */
uint64_t hashx_more(uint64_t h, const char *s, bool fold);

/* hashx_byte() continues hash h over the one byte c. */
uint64_t hashx_byte(uint64_t h, unsigned char c);

/* hashx() is hashx_more(HASHX_INIT, s, fold). */
uint64_t hashx(const char *s, bool fold);

#endif
