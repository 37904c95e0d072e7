/* SPDX-License-Identifier: MIT
 *
 * cfgval: the checks of single configuration values that cfg.c's option
 * table refers to (GUIDs, domains, URLs, credential names, lists, yes/no)
 * and the edit distance behind its "did you mean" hints.  Pure functions
 * over strings: no parse state, no logging.
 */
#include "cfgval.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

/* cfgval_is_guid() accepts a GUID in its 8-4-4-4-12 hex form. */
bool cfgval_is_guid(const char *s)
{
  static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
  size_t i;

  if(strlen(s) != sizeof(pat) - 1)
    return false;
  for(i = 0; pat[i]; i++) {
    if(pat[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
      return false;
  }
  return true;
}

/* cfgval_is_domain() accepts a DNS name such as contoso.onmicrosoft.com. */
bool cfgval_is_domain(const char *s)
{
  size_t label = 0, dots = 0;

  if(!*s || strlen(s) > 253)
    return false;
  for(; *s; s++) {
    if(*s == '.') {
      if(!label)
        return false;
      label = 0;
      dots++;
    }
    else if(isalnum((unsigned char)*s) || *s == '-') {
      if(++label > 63)
        return false;
    }
    else
      return false;
  }
  return label && dots;
}

/* is_loopback_host() tells whether an URL authority names this machine. */
static bool is_loopback_host(const char *host, size_t len)
{
  return (len == 9 && !strncmp(host, "localhost", 9)) ||
         (len >= 4 && !strncmp(host, "127.", 4)) ||
         (len == 5 && !strncmp(host, "[::1]", 5));
}

/* cfgval_check_url() validates an http(s) URL, a root unless query (a
 * webhook's URL, whose query may carry its signature).  Plain http is
 * refused unless the host is a loopback address: a bearer token or a
 * webhook's secret URL must never cross a network in clear text. */
const char *cfgval_check_url(const char *v, bool query)
{
  const char *host, *end;
  size_t hlen;

  if(!strncmp(v, "https://", 8))
    host = v + 8;
  else if(!strncmp(v, "http://", 7))
    host = v + 7;
  else
    return "must start with https://";
  if(strchr(host, '#') || (!query && strchr(host, '?')))
    return query ? "must not carry a fragment"
                 : "must not carry a query or fragment";
  end = host + strcspn(host, query ? "/?" : "/");
  if(end == host)
    return "has no host";
  hlen = (size_t)(end - host);
  if(host[0] == '[') {
    const char *rb = memchr(host, ']', hlen);

    if(!rb)
      return "has a malformed IPv6 host";
    hlen = (size_t)(rb - host) + 1;
  }
  else {
    const char *colon = memchr(host, ':', hlen);

    if(colon)
      hlen = (size_t)(colon - host);
  }
  if(memchr(host, '@', (size_t)(end - host)))
    return "must not contain user information";
  if(v[4] == ':' && !is_loopback_host(host, hlen))
    return "uses plain http:// to a host that is not loopback";
  return NULL;
}

bool cfgval_is_credname(const char *s)
{
  if(!*s || strlen(s) > 255 || !strcmp(s, ".") || !strcmp(s, ".."))
    return false;
  for(; *s; s++)
    if(*s == '/' || iscntrl((unsigned char)*s))
      return false;
  return true;
}

/* cfgval_list() checks a list of domains (domains true; "*" alone
 * allows every domain) or GUIDs separated by spaces or commas, and returns
 * it malloc'd in lower case with single spaces, or NULL with *why set (a
 * static reason). */
char *cfgval_list(const char *v, bool domains, const char **why)
{
  static char reason[160];
  char *out = strdup(v), *tok, *save = NULL, *copy = strdup(v);
  size_t at = 0, n = 0, cap = strlen(v) + 1;

  if(!out || !copy) {
    free(out);
    free(copy);
    *why = "out of memory";
    return NULL;
  }

  for(tok = strtok_r(copy, " ,\t", &save); tok;
      tok = strtok_r(NULL, " ,\t", &save), n++) {
    char *p;

    for(p = tok; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    if(domains ? !(cfgval_is_domain(tok) || !strcmp(tok, "*"))
               : !cfgval_is_guid(tok)) {
      snprintf(reason, sizeof(reason), "'%.100s' is not a %s", tok,
               domains ? "domain" : "GUID");
      *why = reason;
      free(copy);
      free(out);
      return NULL;
    }
    /* The output is never longer than v: separators only shrink. */
    at += (size_t)snprintf(out + at, cap - at, "%s%s", at ? " " : "", tok);
  }
  free(copy);
  if(!n) {
    *why = "no value in the list";
    free(out);
    return NULL;
  }
  if(domains && strstr(out, "*") && strcmp(out, "*")) {
    *why = "'*' must stand alone";
    free(out);
    return NULL;
  }
  return out;
}

/* cfgval_bool() returns 1 for yes/true/on/1, 0 for no/false/off/0 (any
 * case), or -EINVAL. */
int cfgval_bool(const char *v)
{
  static const char *const yes[] = {"yes", "true", "on", "1"};
  static const char *const no[] = {"no", "false", "off", "0"};
  size_t i;

  for(i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    if(!strcasecmp(v, yes[i]))
      return 1;
    if(!strcasecmp(v, no[i]))
      return 0;
  }
  return -EINVAL;
}

int cfgval_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
  struct sockaddr_storage tmp;
  struct sockaddr_in *in4 = (struct sockaddr_in *)&tmp;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&tmp;
  const char *colon, *host;
  char addr[INET6_ADDRSTRLEN + 1], *end;
  size_t hlen;
  unsigned long port;

  colon = strrchr(s, ':');
  if(!colon || !colon[1])
    return -EINVAL;
  host = s;
  hlen = (size_t)(colon - s);
  if(s[0] == '[') {
    if(hlen < 3 || s[hlen - 1] != ']')
      return -EINVAL;
    host++;
    hlen -= 2;
  }
  if(!hlen || hlen >= sizeof(addr))
    return -EINVAL;
  memcpy(addr, host, hlen);
  addr[hlen] = '\0';
  errno = 0;
  port = strtoul(colon + 1, &end, 10);
  if(*end || errno || port > 65535 || !isdigit((unsigned char)colon[1]))
    return -EINVAL;
  memset(&tmp, 0, sizeof(tmp));
  if(s[0] != '[' && inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    if(len)
      *len = sizeof(*in4);
  }
  else if(s[0] == '[' && inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    if(len)
      *len = sizeof(*in6);
  }
  else
    return -EINVAL;
  if(ss)
    *ss = tmp;
  return 0;
}

/* cfgval_edit_distance() is the Levenshtein distance of a and b, or a large
 * number for keys too long to be a typo of any option. */
size_t cfgval_edit_distance(const char *a, const char *b)
{
  size_t row[64], la = strlen(a), lb = strlen(b), i, j;

  if(la >= sizeof(row) / sizeof(row[0]) || lb >= sizeof(row) / sizeof(row[0]))
    return SIZE_MAX;
  for(j = 0; j <= lb; j++)
    row[j] = j;
  for(i = 1; i <= la; i++) {
    size_t diag = row[0];

    row[0] = i;
    for(j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);

      if(up + 1 < best)
        best = up + 1;
      if(row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}
