/* SPDX-License-Identifier: MIT
 *
 * uuid: random RFC 4122 version-4 UUIDs (see uuid.h).
 */
#include "uuid.h"

#include <errno.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"
#include "plat.h"

/* The bytes come from plat_random(), the system's generator; failing is a
 * broken invariant on any supported system, hence fatal(). */
void uuid_v4(char out[37])
{
  unsigned char b[16];

  if(plat_random(b, sizeof(b)))
    fatalx("uuid_v4: no random bytes from the system");
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  snprintf(out, 37,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
}
