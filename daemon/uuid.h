/* SPDX-License-Identifier: MIT
 *
 * uuid: random RFC 4122 version-4 UUIDs, the one generator of the daemon
 * (client-request-id of every Graph request and apply intent, jti of a
 * client assertion).
 */
#ifndef QD_UUID_H
#define QD_UUID_H

/* uuid_v4() writes a random version-4 UUID, 36 characters and the NUL, to
 * out. */
void uuid_v4(char out[37]);

#endif
