/* SPDX-License-Identifier: MIT
 *
 * cfg_set: one key's value, checked and stored by its option's type
 * (cfg_int.h): text, paths taken from the configuration's directory,
 * URLs, GUIDs, names, durations and lists of them, sizes, numbers within
 * the row's bounds; every refusal names the key and says what was
 * expected.
 */
#include "cfg_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfgval.h"
#include "plat.h"
#include "timex.h"

/* parse_invmode() maps "filter"/"scan"/"delta" to enum cfg_inventory,
 * or returns -EINVAL. */
static int parse_invmode(const char *v)
{
  if(!strcmp(v, "filter"))
    return CFG_INVENTORY_FILTER;
  if(!strcmp(v, "scan"))
    return CFG_INVENTORY_SCAN;
  if(!strcmp(v, "delta"))
    return CFG_INVENTORY_DELTA;
  return -EINVAL;
}

static const char *type_hint(enum cfg_type t)
{
  switch(t) {
  case T_DURATION:
    return "a duration such as 90s, 5m, 1h or 1d";
  case T_GUID:
    return "a GUID such as 00000000-0000-0000-0000-000000000000";
  case T_TENANT:
    return "a tenant GUID or a domain such as contoso.onmicrosoft.com";
  case T_LOGLEVEL:
    return "one of error, warning, notice, info, debug";
  case T_BOOL:
    return "yes or no";
  case T_UINT:
    return "a whole number";
  case T_SIZE:
    return "a size such as 512K, 64M or 1G";
  case T_INVMODE:
    return "filter, scan or delta";
  case T_CREDNAME:
    return "a credential name without '/'";
  case T_DOMAINS:
    return "domains such as contoso.com, separated by spaces or commas, or *";
  case T_GUIDS:
    return "group object ids (GUIDs) separated by spaces or commas";
  case T_DURLIST:
    return "durations such as 1d,7d (or nothing)";
  case T_LISTEN:
    return "ADDRESS:PORT such as 127.0.0.1:9471 or [::1]:9471, or none";
  default:
    return "a non-empty value";
  }
}

/* parse_duration_in() parses the duration v of option o, within o's
 * bounds, into *n.  Returns true, or false with a message recorded for
 * line. */
static bool parse_duration_in(struct parse_ctx *c, const struct cfg_option *o,
                              const char *v, unsigned long long *n,
                              unsigned line)
{
  char lo[32], hi[32];

  if(!*v || timex_parse_duration(v, n)) {
    cfg__perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
    return false;
  }
  if(*n >= o->min && *n <= o->max)
    return true;
  timex_format_duration(o->min, lo, sizeof(lo));
  timex_format_duration(o->max, hi, sizeof(hi));
  cfg__perr(c, line, "%s: '%s' is out of range (%s to %s)", o->key, v, lo, hi);
  return false;
}

/* set_durations() parses v, comma-separated durations (maybe none), for
 * option o into *out.  On error it records a message for line and leaves
 * *out untouched. */
static void set_durations(struct parse_ctx *c, const struct cfg_option *o,
                          struct cfg_durations *out, const char *v,
                          unsigned line)
{
  struct cfg_durations d = {0};
  char item[64];
  size_t i, j;

  while(*v) {
    size_t len = strcspn(v, ",");
    size_t a = 0, b = len;
    unsigned long long n;

    while(a < b && isspace((unsigned char)v[a]))
      a++;
    while(b > a && isspace((unsigned char)v[b - 1]))
      b--;
    snprintf(item, sizeof(item), "%.*s", (int)(b - a), v + a);
    if(b - a >= sizeof(item)) {
      cfg__perr(c, line, "%s: '%.20s...' is not %s", o->key, item,
                type_hint(o->type));
      return;
    }
    if(!parse_duration_in(c, o, item, &n, line))
      return;
    for(i = 0; i < d.n; i++)
      if(d.v[i] == n) {
        cfg__perr(c, line, "%s: '%s' is given twice", o->key, item);
        return;
      }
    if(d.n == CFG_MAX_DURATIONS) {
      cfg__perr(c, line, "%s: more than %d durations", o->key,
                CFG_MAX_DURATIONS);
      return;
    }
    /* Insert in ascending order. */
    for(i = d.n; i > 0 && d.v[i - 1] > n; i--)
      ;
    for(j = d.n; j > i; j--)
      d.v[j] = d.v[j - 1];
    d.v[i] = (unsigned long)n;
    d.n++;
    v += len;
    if(*v == ',' && !*++v) {
      cfg__perr(c, line, "%s: ends with ','", o->key);
      return;
    }
  }
  *out = d;
}

void cfg_set_value(struct parse_ctx *c, const struct cfg_option *o, void *base,
                   const char *v, unsigned line)
{
  char *field = (char *)base + o->offset;
  unsigned long long n;
  const char *why;
  int rc;

  if(o->type == T_DURLIST) {
    set_durations(c, o, (struct cfg_durations *)(void *)field, v, line);
    return;
  }
  if(!*v) {
    cfg__perr(c, line, "%s: empty value (expected %s)", o->key,
              type_hint(o->type));
    return;
  }
  switch(o->type) {
  case T_STR:
  case T_PATH:
  case T_URL:
  case T_HOOKURL:
  case T_GUID:
  case T_TENANT:
  case T_CREDNAME:
  case T_LISTEN: {
    char **dst = (char **)(void *)field;
    char *val;

    if(o->type == T_LISTEN && strcmp(v, "none") &&
       cfgval_listen(v, NULL, NULL)) {
      cfg__perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    if(o->type == T_GUID && !cfgval_is_guid(v)) {
      cfg__perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    if(o->type == T_TENANT && !cfgval_is_guid(v) && !cfgval_is_domain(v)) {
      cfg__perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    if(o->type == T_CREDNAME && !cfgval_is_credname(v)) {
      cfg__perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    if(o->type == T_URL || o->type == T_HOOKURL) {
      why = cfgval_check_url(v, o->type == T_HOOKURL);
      if(why) {
        cfg__perr(c, line, "%s: '%s' %s", o->key, v, why);
        return;
      }
    }
    if(o->type == T_PATH && !plat_path_absolute(v) &&
       !((o->flags & F_NONE) && !strcmp(v, "none"))) {
      size_t len = strlen(c->dir) + strlen(v) + 2;

      val = malloc(len);
      if(!val)
        fatal("cfg: malloc");
      snprintf(val, len, "%s/%s", c->dir, v);
    }
    else
      val = cfg__xstrdup(v);
    if(o->type == T_URL) {
      size_t len = strlen(val);

      while(len > 8 && val[len - 1] == '/')
        val[--len] = '\0';
    }
    free(*dst);
    *dst = val;
    return;
  }
  case T_ENUM: {
    const char *const *values = cfg__enum_names(o->key);
    char names[256] = "";
    size_t i;

    for(i = 0; values[i]; i++) {
      if(!strcmp(v, values[i])) {
        *(int *)(void *)field = (int)i;
        return;
      }
      snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
               i ? ", " : "", values[i]);
    }
    cfg__perr(c, line, "%s: '%s' is not one of %s", o->key, v, names);
    return;
  }
  case T_DOMAINS:
  case T_GUIDS: {
    char **dst = (char **)(void *)field;
    char *val = cfgval_list(v, o->type == T_DOMAINS, &why);

    if(!val) {
      cfg__perr(c, line, "%s: %s (expected %s)", o->key, why,
                type_hint(o->type));
      return;
    }
    free(*dst);
    *dst = val;
    return;
  }
  case T_DURATION:
    if(!parse_duration_in(c, o, v, &n, line))
      return;
    *(unsigned *)(void *)field = (unsigned)n;
    return;
  case T_LOGLEVEL:
  case T_BOOL:
  case T_INVMODE:
    /* Named values that map to an int. */
    if(o->type == T_LOGLEVEL)
      rc = log_level_parse(v);
    else if(o->type == T_BOOL)
      rc = cfgval_bool(v);
    else
      rc = parse_invmode(v);
    if(rc < 0) {
      cfg__perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    *(int *)(void *)field = rc;
    return;
  case T_UINT:
  case T_SIZE: {
    char *end;

    if(o->type == T_SIZE)
      rc = cfg_parse_size(v, &n);
    else {
      errno = 0;
      n = strtoull(v, &end, 10);
      rc = (!isdigit((unsigned char)*v) || *end || errno) ? -EINVAL : 0;
    }
    if(rc) {
      cfg__perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    if(n < o->min || n > o->max) {
      cfg__perr(c, line, "%s: '%s' is out of range (%llu to %llu)", o->key, v,
                o->min, o->max);
      return;
    }
    if(o->type == T_SIZE)
      *(size_t *)(void *)field = (size_t)n;
    else
      *(unsigned *)(void *)field = (unsigned)n;
    return;
  }
  case T_DURLIST: /* handled above */
    return;
  }
}
