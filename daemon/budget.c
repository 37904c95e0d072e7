/* SPDX-License-Identifier: MIT
 *
 * budget: resource-unit costs and the token bucket (see budget.h for the
 * documented numbers and their source).
 */
#include "budget.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

unsigned budget_quota(enum budget_size size)
{
  /* https://learn.microsoft.com/graph/throttling-limits: resource units
   * per 10 seconds of an application + tenant pair. */
  switch(size) {
  case BUDGET_LARGE:
    return 8000;
  case BUDGET_MEDIUM:
    return 5000;
  case BUDGET_SMALL:
  default:
    return 3500;
  }
}

void budget_init(struct budget *b, unsigned quota, uint64_t now)
{
  b->capacity = quota;
  b->ceiling = quota - (double)quota * BUDGET_SLACK_PERCENT / 100;
  b->units = b->ceiling;
  b->last = now;
}

/* strip() returns url past its scheme and host and its "/v1.0" or
 * "/beta", if any. */
static const char *strip(const char *url)
{
  const char *p = strstr(url, "://");

  if(p) {
    p = strchr(p + 3, '/');
    url = p ? p : "";
  }
  if(!strncmp(url, "/v1.0/", 6) || !strcmp(url, "/v1.0"))
    url += 5;
  else if(!strncmp(url, "/beta/", 6) || !strcmp(url, "/beta"))
    url += 5;
  return url;
}

/* has_option() tells whether query (after '?') names option; *value is
 * set to its value. */
static bool has_option(const char *query, const char *option,
                       const char **value)
{
  size_t n = strlen(option);
  const char *p = query;

  while(p && *p) {
    if(!strncasecmp(p, option, n) && p[n] == '=') {
      *value = p + n + 1;
      return true;
    }
    p = strchr(p, '&');
    if(p)
      p++;
  }
  return false;
}

/* same_segment() tells whether path (without query) is exactly seg. */
static bool same_path(const char *path, size_t len, const char *seg)
{
  return strlen(seg) == len && !strncasecmp(path, seg, len);
}

unsigned budget_cost(const char *method, const char *url)
{
  const char *path = strip(url), *query = strchr(path, '?'), *v;
  size_t len = query ? (size_t)(query - path) : strlen(path);
  bool get = !strcasecmp(method, "GET");
  int cost = 1;

  if(get && same_path(path, len, "/users"))
    cost = 2;
  else if(!get && !strcasecmp(method, "POST") &&
          same_path(path, len, "/directoryObjects/getByIds"))
    cost = 5;
  else if(get && len > 9 && !strncasecmp(path, "/groups/", 8) && len >= 8 &&
          same_path(path + len - 8, 8, "/members"))
    cost = 3;
  if(query) {
    query++;
    if(has_option(query, "$select", &v))
      cost--;
    if(has_option(query, "$expand", &v))
      cost++;
    if(has_option(query, "$top", &v) && atoi(v) > 0 && atoi(v) < 20)
      cost--;
  }
  return cost < 1 ? 1u : (unsigned)cost;
}

uint64_t budget_take(struct budget *b, uint64_t now, unsigned cost)
{
  const double rate = b->capacity / BUDGET_WINDOW_MS; /* units per ms */
  double need = cost > b->ceiling ? b->ceiling : (double)cost;

  if(now > b->last) {
    b->units += (double)(now - b->last) * rate;
    if(b->units > b->ceiling)
      b->units = b->ceiling;
    b->last = now;
  }
  if(b->units >= need) {
    b->units -= need;
    return 0;
  }
  return (uint64_t)ceil((need - b->units) / rate);
}
