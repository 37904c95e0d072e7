/* SPDX-License-Identifier: MIT
 *
 * sys/socket.h for the Windows build: Winsock declares the same socket
 * types and calls (struct sockaddr_storage, socklen_t, getaddrinfo).
 */
#ifndef QD_WIN32_SYS_SOCKET_H
#define QD_WIN32_SYS_SOCKET_H

#include <winsock2.h>
#include <ws2tcpip.h>

/* windef.h's 16-bit pointer qualifiers would take these common names. */
#undef near
#undef far

/* Winsock has no such flag: a socket is inheritable unless it is created
 * with WSA_FLAG_NO_HANDLE_INHERIT (see docs/windows.md, not done yet). */
#define SOCK_CLOEXEC 0

#endif
