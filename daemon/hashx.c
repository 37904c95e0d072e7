/* SPDX-License-Identifier: MIT
 *
 * hashx: 64-bit FNV-1a over strings (see hashx.h).
 */
#include "hashx.h"

#include <ctype.h>

#define FNV_PRIME 1099511628211ULL

uint64_t hashx_byte(uint64_t h, unsigned char c)
{
  return (h ^ c) * FNV_PRIME;
}

uint64_t hashx_more(uint64_t h, const char *s, bool fold)
{
  for(; *s; s++)
    h = hashx_byte(h, fold ? (unsigned char)tolower((unsigned char)*s)
                           : (unsigned char)*s);
  return h;
}

uint64_t hashx(const char *s, bool fold)
{
  return hashx_more(HASHX_INIT, s, fold);
}
