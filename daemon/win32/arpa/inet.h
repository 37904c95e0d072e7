/* SPDX-License-Identifier: MIT
 *
 * arpa/inet.h for the Windows build: inet_pton(), inet_ntop() and the
 * byte order functions are Winsock's.
 */
#ifndef QD_WIN32_ARPA_INET_H
#define QD_WIN32_ARPA_INET_H

#include <winsock2.h>
#include <ws2tcpip.h>

#endif
