/* SPDX-License-Identifier: MIT
 *
 * uuid: random RFC 4122 version-4 UUIDs (see uuid.h).
 */
#include "uuid.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/types.h>

#include "log.h"

/* The bytes come from getrandom(2), which only blocks before the kernel's
 * pool is first seeded; failing is a broken invariant on any supported
 * kernel, hence fatal(). */
void uuid_v4(char out[37])
{
  unsigned char b[16];
  size_t got = 0;

  while(got < sizeof(b)) {
    ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

    if(n < 0) {
      if(errno == EINTR)
        continue;
      fatal("uuid_v4: getrandom");
    }
    got += (size_t)n;
  }
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  snprintf(out, 37,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
}
