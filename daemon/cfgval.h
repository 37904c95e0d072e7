/* SPDX-License-Identifier: MIT
 *
 * cfgval: checks of single configuration values (see cfgval.c).
 */
#ifndef QD_CFGVAL_H
#define QD_CFGVAL_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

/* cfgval_is_guid() tells whether s is a GUID (8-4-4-4-12 hex digits). */
bool cfgval_is_guid(const char *s);

/* cfgval_is_domain() tells whether s is a DNS name such as
 * contoso.onmicrosoft.com. */
bool cfgval_is_domain(const char *s);

/* cfgval_check_url() returns NULL when v is an https URL (http only to a
 * loopback host) without a query or fragment (a query is allowed when
 * query is true: webhook URLs), or a static reason why not. */
const char *cfgval_check_url(const char *v, bool query);

/* cfgval_is_credname() tells whether s can name a systemd credential. */
bool cfgval_is_credname(const char *s);

/* cfgval_list() checks a list of domains (domains true; "*" alone allows
 * every domain) or GUIDs separated by spaces or commas, and returns it
 * malloc'd (the caller frees it) in lower case with single spaces, or NULL
 * with *why set (a static reason). */
char *cfgval_list(const char *v, bool domains, const char **why);

/* cfgval_bool() returns 1 for yes/true/on/1, 0 for no/false/off/0 (any
 * case), or -EINVAL. */
int cfgval_bool(const char *v);

/* cfgval_listen() parses "127.0.0.1:9471" or "[::1]:9471" (numeric
 * addresses only, port 0..65535) into *ss and *len, either of which may
 * be NULL to only check s.  Returns 0 or -EINVAL. */
int cfgval_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* cfgval_edit_distance() is the Levenshtein distance of a and b. */
size_t cfgval_edit_distance(const char *a, const char *b);

#endif
