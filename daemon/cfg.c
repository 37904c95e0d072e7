/* SPDX-License-Identifier: MIT
 *
 * cfg: reads the INI configuration through libinih.  All options live in
 * options[] below: section, key, type, target offset, default, bounds and
 * flags.  Parsing, defaults, required-key checks and freeing are all
 * driven by that one table.  Section headers are tracked by our own line
 * reader so every message can name the line, even for empty sections.
 */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "alert.h"
#include "fmt.h"
#include "log.h"
#include "tls.h"

enum cfg_section { SEC_NONE, SEC_DAEMON, SEC_ALERTS, SEC_TENANT, SEC_SINK };

enum cfg_type {
  T_STR,      /* any non-empty text */
  T_PATH,     /* file name; relative names are taken from the config dir */
  T_URL,      /* https:// root (http:// only for loopback hosts) */
  T_HOOKURL,  /* a T_URL that may carry a query */
  T_GUID,     /* 8-4-4-4-12 hex */
  T_TENANT,   /* a GUID or a DNS domain name */
  T_CREDNAME, /* a systemd credential name */
  T_DURATION, /* seconds, with s/m/h/d suffixes */
  T_LOGLEVEL, /* syslog priority by name */
  T_BOOL,     /* yes/no, true/false, on/off, 1/0 */
  T_UINT,     /* a whole number within min..max */
  T_SIZE,     /* bytes, with K/M/G suffixes, within min..max */
  T_INVMODE,  /* filter, scan or delta (enum cfg_inventory) */
  T_ENUM,     /* one of the row's names[]; stored as its index (int) */
  T_DOMAINS,  /* DNS domains separated by spaces or commas, or "*" */
  T_GUIDS,    /* GUIDs separated by spaces or commas */
  T_DURLIST   /* durations, comma-separated, each within min..max; may be
                 empty (struct cfg_durations) */
};

#define F_REQUIRED 0x1u

struct cfg_option {
  enum cfg_section section;
  const char *key;
  enum cfg_type type;
  size_t offset;
  const char *def; /* default, written as it would be in the file */
  unsigned long long min, max;
  unsigned flags;
};

#define D(field) offsetof(struct cfg, field)
#define TN(field) offsetof(struct cfg_tenant, field)
#define SK(field) offsetof(struct cfg_sink, field)

/* The option table.  man/quarantined.conf.5 documents every row. */
static const struct cfg_option options[] = {
    {SEC_DAEMON, "state_dir", T_PATH, D(state_dir), "/var/lib/quarantined", 0,
     0, 0},
    {SEC_DAEMON, "log_level", T_LOGLEVEL, D(log_level), "info", 0, 0, 0},
    {SEC_DAEMON, "poll_interval", T_DURATION, D(poll_interval), "5m", 1, 86400,
     0},
    {SEC_DAEMON, "inventory", T_INVMODE, D(inventory_mode), "filter", 0, 0, 0},
    {SEC_DAEMON, "delta_full_resync", T_DURATION, D(delta_resync), "1d", 0,
     90 * 86400, 0},
    {SEC_DAEMON, "page_size", T_UINT, D(page_size), "999", 1, 999, 0},
    {SEC_DAEMON, "max_concurrency", T_UINT, D(max_concurrency), "4", 1, 32, 0},
    {SEC_DAEMON, "connect_timeout", T_DURATION, D(connect_timeout), "10s", 1,
     300, 0},
    {SEC_DAEMON, "http_timeout", T_DURATION, D(http_timeout), "60s", 1, 3600,
     0},
    {SEC_DAEMON, "max_response_size", T_SIZE, D(max_response_size), "64M", 4096,
     1ULL << 30, 0},
    {SEC_DAEMON, "orphan_after", T_DURATION, D(orphan_after), "7d", 3600,
     31536000, 0},
    {SEC_DAEMON, "sweep_interval", T_DURATION, D(sweep_interval), "1h", 1,
     86400, 0},
    {SEC_DAEMON, "sweep_grace", T_DURATION, D(sweep_grace), "30m", 0, 86400, 0},
    {SEC_DAEMON, "aging", T_DURLIST, D(aging), "1d,7d", 1, 31536000, 0},

    {SEC_ALERTS, "syslog", T_BOOL, D(alert_syslog), "yes", 0, 0, 0},
    {SEC_ALERTS, "jsonl_file", T_PATH, D(alert_jsonl_file), NULL, 0, 0, 0},
    {SEC_ALERTS, "flood_limit", T_UINT, D(flood_limit), "50", 0, 1000000, 0},
    {SEC_ALERTS, "failing_cycles", T_UINT, D(failing_cycles), "3", 1, 1000, 0},
    {SEC_ALERTS, "failing_after", T_DURATION, D(failing_after), "15m", 0,
     604800, 0},

    /* [sink NAME]: one destination of alerts (sink.h). */
    {SEC_SINK, "type", T_ENUM, SK(type), NULL, 0, 0, F_REQUIRED},
    {SEC_SINK, "format", T_ENUM, SK(format), "default", 0, 0, 0},
    {SEC_SINK, "min_severity", T_LOGLEVEL, SK(min_severity), "info", 0, 0, 0},
    {SEC_SINK, "events", T_STR, SK(events), NULL, 0, 0, 0},
    {SEC_SINK, "host", T_STR, SK(host), NULL, 0, 0, 0},
    {SEC_SINK, "port", T_UINT, SK(port), NULL, 1, 65535, 0},
    {SEC_SINK, "ca_file", T_PATH, SK(ca_file), NULL, 0, 0, 0},
    {SEC_SINK, "url", T_HOOKURL, SK(url), NULL, 0, 0, 0},
    {SEC_SINK, "rate_limit", T_UINT, SK(rate_limit), "60", 1, 60000, 0},
    {SEC_SINK, "tenant", T_STR, SK(tenant), NULL, 0, 0, 0},
    {SEC_SINK, "login_url", T_URL, SK(login_url), NULL, 0, 0, 0},
    {SEC_SINK, "dce_url", T_URL, SK(dce_url), NULL, 0, 0, 0},
    {SEC_SINK, "dcr_id", T_STR, SK(dcr_id), NULL, 0, 0, 0},
    {SEC_SINK, "stream", T_STR, SK(stream), NULL, 0, 0, 0},
    {SEC_SINK, "scope", T_STR, SK(scope), "https://monitor.azure.com/.default",
     0, 0, 0},
    {SEC_SINK, "socket", T_PATH, SK(socket), "/dev/log", 0, 0, 0},
    {SEC_SINK, "path", T_PATH, SK(path), NULL, 0, 0, 0},
    {SEC_SINK, "facility", T_ENUM, SK(facility), "daemon", 0, 0, 0},
    {SEC_SINK, "sd_id", T_STR, SK(sd_id), "quarantined@32473", 0, 0, 0},
    {SEC_SINK, "spool_max", T_SIZE, SK(spool_max), "64M", 4096, 1ULL << 34, 0},

    {SEC_TENANT, "tenant_id", T_TENANT, TN(tenant_id), NULL, 0, 0, F_REQUIRED},
    {SEC_TENANT, "client_id", T_GUID, TN(client_id), NULL, 0, 0, F_REQUIRED},
    {SEC_TENANT, "client_secret_file", T_PATH, TN(client_secret_file), NULL, 0,
     0, 0},
    {SEC_TENANT, "client_secret_credential", T_CREDNAME,
     TN(client_secret_credential), NULL, 0, 0, 0},
    {SEC_TENANT, "certificate_file", T_PATH, TN(certificate_file), NULL, 0, 0,
     0},
    {SEC_TENANT, "private_key_file", T_PATH, TN(private_key_file), NULL, 0, 0,
     0},
    {SEC_TENANT, "private_key_credential", T_CREDNAME,
     TN(private_key_credential), NULL, 0, 0, 0},
    {SEC_TENANT, "login_url", T_URL, TN(login_url),
     "https://login.microsoftonline.com", 0, 0, 0},
    {SEC_TENANT, "graph_url", T_URL, TN(graph_url),
     "https://graph.microsoft.com", 0, 0, 0},
    {SEC_TENANT, "ca_file", T_PATH, TN(ca_file), NULL, 0, 0, 0},
    {SEC_TENANT, "poll_interval", T_DURATION, TN(poll_interval), NULL, 1, 86400,
     0},
    /* The guarded onPremisesImmutableId apply engine (apply.h). */
    {SEC_TENANT, "apply_mode", T_ENUM, TN(apply_mode), "off", 0, 0, 0},
    {SEC_TENANT, "anchors_file", T_PATH, TN(anchors_file), NULL, 0, 0, 0},
    {SEC_TENANT, "anchor_length", T_UINT, TN(anchor_length), "16", 0, 42, 0},
    {SEC_TENANT, "apply_allow_domains", T_DOMAINS, TN(apply_allow_domains),
     NULL, 0, 0, 0},
    {SEC_TENANT, "apply_allow_groups", T_GUIDS, TN(apply_allow_groups), NULL, 0,
     0, 0},
    {SEC_TENANT, "apply_max_per_cycle", T_UINT, TN(apply_max_per_cycle), "5", 1,
     1000, 0},
    {SEC_TENANT, "apply_threshold", T_UINT, TN(apply_threshold), "20", 1,
     1000000, 0},
    {SEC_TENANT, "apply_kill_switch", T_PATH, TN(apply_kill_switch), NULL, 0, 0,
     0},
    {SEC_TENANT, "apply_takeover_unreadable", T_ENUM,
     TN(apply_takeover_unreadable), "refuse", 0, 0, 0},
    {SEC_TENANT, "post_apply_command", T_STR, TN(post_apply_command), NULL, 0,
     0, 0},
    {SEC_TENANT, "post_apply_timeout", T_DURATION, TN(post_apply_timeout), "5m",
     1, 3600, 0},
};

#define NOPTS (sizeof(options) / sizeof(options[0]))

/* The values of each T_ENUM option, in the order of its enum in cfg.h. */
static const struct {
  const char *key;
  const char *names[25];
} enum_values[] = {
    /* In the order of enum cfg_sink_type. */
    {"type",
     {"journal", "syslog", "udp", "tcp", "file", "tls", "webhook", "sentinel",
      NULL}},
    /* In the order of enum fmt_kind (fmt.h). */
    {"format",
     {"default", "json", "cef", "leef", "rfc5424", "generic", "slack", "teams",
      "sentinel", NULL}},
    /* Index = the facility code of RFC 5424, section 6.2.1. */
    {"facility",
     {"kern",   "user",   "mail",   "daemon", "auth",     "syslog",
      "lpr",    "news",   "uucp",   "cron",   "authpriv", "ftp",
      "ntp",    "audit",  "alert",  "clock",  "local0",   "local1",
      "local2", "local3", "local4", "local5", "local6",   "local7"}},
    {"apply_mode", {"off", "dry-run", "apply", NULL}},
    {"apply_takeover_unreadable", {"refuse", "allow", NULL, NULL}},
};

static const char *const *enum_names(const char *key)
{
  size_t i;

  for(i = 0; i < sizeof(enum_values) / sizeof(enum_values[0]); i++)
    if(!strcmp(enum_values[i].key, key))
      return enum_values[i].names;
  fatalx("cfg: no values for option %s", key);
}

/* Parser state shared by the line reader and the inih handler. */
struct parse_ctx {
  const char *path;
  char *dir; /* directory of path, for relative file names */
  FILE *fp;
  unsigned line;  /* number of the line inih is looking at */
  bool long_line; /* current line did not fit the buffer */
  struct cfg *cfg;
  enum cfg_section sec;      /* section we are in */
  struct cfg_tenant *tenant; /* when sec == SEC_TENANT */
  struct cfg_tenant **tail;
  struct cfg_sink *sink; /* when sec == SEC_SINK */
  struct cfg_sink **sink_tail;
  bool seen[SEC_TENANT];     /* [daemon] and [alerts] appear at most once */
  bool bad_section;          /* keys are ignored until the next valid header */
  unsigned seen_line[NOPTS]; /* line of each key in this section */
  char *err;                 /* accumulated messages */
  size_t errlen;
  int nerr;
};

static void perr(struct parse_ctx *c, unsigned line, const char *fmt, ...)
    QD_PRINTF(3, 4);

/* perr() appends one "FILE:LINE: message" line to the error text. */
static void perr(struct parse_ctx *c, unsigned line, const char *fmt, ...)
{
  char msg[512], full[1024];
  va_list ap;
  size_t n;
  char *p;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if(line)
    snprintf(full, sizeof(full), "%s:%u: %s\n", c->path, line, msg);
  else
    snprintf(full, sizeof(full), "%s: %s\n", c->path, msg);
  n = strlen(full);
  p = realloc(c->err, c->errlen + n + 1);
  if(!p)
    fatal("cfg: realloc");
  memcpy(p + c->errlen, full, n + 1);
  c->err = p;
  c->errlen += n;
  c->nerr++;
}

static char *xstrdup(const char *s)
{
  char *p = strdup(s);

  if(!p)
    fatal("cfg: strdup");
  return p;
}

/* A number suffix and what it multiplies by. */
struct unit {
  char suffix;
  unsigned long long mul;
};

static const struct unit duration_units[] = {
    {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {0, 0}};
static const struct unit size_units[] = {{'K', 1ULL << 10},
                                         {'k', 1ULL << 10},
                                         {'M', 1ULL << 20},
                                         {'G', 1ULL << 30},
                                         {0, 0}};

/* parse_with_unit() parses a decimal number with at most one suffix from
 * units.  Returns 0 and sets *out, -EINVAL for bad text, or -ERANGE. */
static int parse_with_unit(const char *s, const struct unit *units,
                           unsigned long long *out)
{
  unsigned long long v, mul = 1;
  char *end;

  if(!isdigit((unsigned char)*s))
    return -EINVAL;
  errno = 0;
  v = strtoull(s, &end, 10);
  if(errno)
    return -ERANGE;
  if(*end) {
    for(; units->suffix && units->suffix != *end; units++)
      ;
    if(!units->suffix || end[1])
      return -EINVAL;
    mul = units->mul;
  }
  if(v > ULLONG_MAX / mul)
    return -ERANGE;
  *out = v * mul;
  return 0;
}

int cfg_parse_duration(const char *s, unsigned long long *secs)
{
  return parse_with_unit(s, duration_units, secs);
}

int cfg_parse_size(const char *s, unsigned long long *bytes)
{
  return parse_with_unit(s, size_units, bytes);
}

static bool is_guid(const char *s)
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

/* is_domain() accepts a DNS name such as contoso.onmicrosoft.com. */
static bool is_domain(const char *s)
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

/* check_url() validates an http(s) root URL.  Plain http is refused
 * unless the host is a loopback address: the bearer token must never
 * cross a network in clear text. */
static const char *check_url(const char *v, bool query)
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

static bool is_credname(const char *s)
{
  if(!*s || strlen(s) > 255 || !strcmp(s, ".") || !strcmp(s, ".."))
    return false;
  for(; *s; s++)
    if(*s == '/' || iscntrl((unsigned char)*s))
      return false;
  return true;
}

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
  default:
    return "a non-empty value";
  }
}

static void fmt_duration(unsigned long long s, char *buf, size_t len)
{
  if(s && s % 86400 == 0)
    snprintf(buf, len, "%llud", s / 86400);
  else if(s && s % 3600 == 0)
    snprintf(buf, len, "%lluh", s / 3600);
  else if(s && s % 60 == 0)
    snprintf(buf, len, "%llum", s / 60);
  else
    snprintf(buf, len, "%llus", s);
}

/* normalize_list() checks a list of domains (domains true; "*" alone
 * allows every domain) or GUIDs separated by spaces or commas, and returns
 * it malloc'd in lower case with single spaces, or NULL with *why set (a
 * static reason). */
static char *normalize_list(const char *v, bool domains, const char **why)
{
  static char reason[160];
  char *out = xstrdup(v), *tok, *save = NULL, *copy = xstrdup(v);
  size_t at = 0, n = 0, cap = strlen(v) + 1;

  for(tok = strtok_r(copy, " ,\t", &save); tok;
      tok = strtok_r(NULL, " ,\t", &save), n++) {
    char *p;

    for(p = tok; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    if(domains ? !(is_domain(tok) || !strcmp(tok, "*")) : !is_guid(tok)) {
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

/* parse_bool() returns 1 for yes/true/on/1, 0 for no/false/off/0 (any
 * case), or -EINVAL. */
static int parse_bool(const char *v)
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

/* parse_duration_in() parses the duration v of option o, within o's
 * bounds, into *n.  Returns true, or false with a message recorded for
 * line. */
static bool parse_duration_in(struct parse_ctx *c, const struct cfg_option *o,
                              const char *v, unsigned long long *n,
                              unsigned line)
{
  char lo[32], hi[32];

  if(!*v || cfg_parse_duration(v, n)) {
    perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
    return false;
  }
  if(*n >= o->min && *n <= o->max)
    return true;
  fmt_duration(o->min, lo, sizeof(lo));
  fmt_duration(o->max, hi, sizeof(hi));
  perr(c, line, "%s: '%s' is out of range (%s to %s)", o->key, v, lo, hi);
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
      perr(c, line, "%s: '%.20s...' is not %s", o->key, item,
           type_hint(o->type));
      return;
    }
    if(!parse_duration_in(c, o, item, &n, line))
      return;
    for(i = 0; i < d.n; i++)
      if(d.v[i] == n) {
        perr(c, line, "%s: '%s' is given twice", o->key, item);
        return;
      }
    if(d.n == CFG_MAX_DURATIONS) {
      perr(c, line, "%s: more than %d durations", o->key, CFG_MAX_DURATIONS);
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
      perr(c, line, "%s: ends with ','", o->key);
      return;
    }
  }
  *out = d;
}

/* set_value() parses v for option o and stores it in base.  On error it
 * records a message for line and leaves the target untouched. */
static void set_value(struct parse_ctx *c, const struct cfg_option *o,
                      void *base, const char *v, unsigned line)
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
    perr(c, line, "%s: empty value (expected %s)", o->key, type_hint(o->type));
    return;
  }
  switch(o->type) {
  case T_STR:
  case T_PATH:
  case T_URL:
  case T_HOOKURL:
  case T_GUID:
  case T_TENANT:
  case T_CREDNAME: {
    char **dst = (char **)(void *)field;
    char *val;

    if(o->type == T_GUID && !is_guid(v)) {
      perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    if(o->type == T_TENANT && !is_guid(v) && !is_domain(v)) {
      perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    if(o->type == T_CREDNAME && !is_credname(v)) {
      perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    if(o->type == T_URL || o->type == T_HOOKURL) {
      why = check_url(v, o->type == T_HOOKURL);
      if(why) {
        perr(c, line, "%s: '%s' %s", o->key, v, why);
        return;
      }
    }
    if(o->type == T_PATH && v[0] != '/') {
      size_t len = strlen(c->dir) + strlen(v) + 2;

      val = malloc(len);
      if(!val)
        fatal("cfg: malloc");
      snprintf(val, len, "%s/%s", c->dir, v);
    }
    else
      val = xstrdup(v);
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
    const char *const *values = enum_names(o->key);
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
    perr(c, line, "%s: '%s' is not one of %s", o->key, v, names);
    return;
  }
  case T_DOMAINS:
  case T_GUIDS: {
    char **dst = (char **)(void *)field;
    char *val = normalize_list(v, o->type == T_DOMAINS, &why);

    if(!val) {
      perr(c, line, "%s: %s (expected %s)", o->key, why, type_hint(o->type));
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
      rc = parse_bool(v);
    else
      rc = parse_invmode(v);
    if(rc < 0) {
      perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
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
      perr(c, line, "%s: '%s' is not %s", o->key, v, type_hint(o->type));
      return;
    }
    if(n < o->min || n > o->max) {
      perr(c, line, "%s: '%s' is out of range (%llu to %llu)", o->key, v,
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

/* The sections without a name argument; each may appear once. */
static const struct {
  const char *name;
  enum cfg_section sec;
} fixed_sections[] = {{"daemon", SEC_DAEMON}, {"alerts", SEC_ALERTS}};

static const char *section_name(enum cfg_section s)
{
  if(s == SEC_DAEMON)
    return "[daemon]";
  if(s == SEC_SINK)
    return "[sink NAME]";
  return s == SEC_ALERTS ? "[alerts]" : "[tenant NAME]";
}

static const struct cfg_option *find_option(enum cfg_section s, const char *key)
{
  size_t i;

  for(i = 0; i < NOPTS; i++)
    if(options[i].section == s && !strcmp(options[i].key, key))
      return &options[i];
  return NULL;
}

static void *section_base(struct parse_ctx *c, enum cfg_section s)
{
  if(s == SEC_SINK)
    return c->sink;
  return s == SEC_TENANT ? (void *)c->tenant : (void *)c->cfg;
}

/* check_sink() checks the keys of a [sink NAME] section against its
 * type: what the type needs, what only another type takes, a format the
 * type can send, and known event names. */
static void check_sink(struct parse_ctx *c, struct cfg_sink *k)
{
  static const unsigned formats[] = {
      /* journal: the native fields; syslog, udp, tcp, file: a record */
      [CFG_SINK_JOURNAL] = 1u << FMT_DEFAULT,
      [CFG_SINK_SYSLOG] = 1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF |
                          1u << FMT_LEEF | 1u << FMT_RFC5424,
      [CFG_SINK_UDP] = 1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF |
                       1u << FMT_LEEF | 1u << FMT_RFC5424,
      [CFG_SINK_TCP] = 1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF |
                       1u << FMT_LEEF | 1u << FMT_RFC5424,
      [CFG_SINK_FILE] =
          1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF | 1u << FMT_LEEF,
      [CFG_SINK_TLS] = 1u << FMT_DEFAULT | 1u << FMT_JSON | 1u << FMT_CEF |
                       1u << FMT_LEEF | 1u << FMT_RFC5424,
      [CFG_SINK_WEBHOOK] = 1u << FMT_DEFAULT | 1u << FMT_GENERIC |
                           1u << FMT_SLACK | 1u << FMT_TEAMS,
      [CFG_SINK_SENTINEL] = 1u << FMT_DEFAULT | 1u << FMT_SENTINEL,
  };
  static const char *const sentinel_keys[] = {"tenant", "dce_url", "dcr_id",
                                              "stream"};
  size_t i;
  const char *bad;
  char why[200];

  if(k->type < 0)
    return;
  if((k->type == CFG_SINK_UDP || k->type == CFG_SINK_TCP ||
      k->type == CFG_SINK_TLS) &&
     !k->host)
    perr(c, k->line, "[sink %s]: type %s needs host", k->name,
         enum_names("type")[k->type]);
  if(k->type == CFG_SINK_FILE && !k->path)
    perr(c, k->line, "[sink %s]: type file needs path", k->name);
  if(!(formats[k->type] & (1u << k->format)))
    perr(c, c->seen_line[find_option(SEC_SINK, "format") - options],
         "format: a %s sink cannot send '%s'", enum_names("type")[k->type],
         enum_names("format")[k->format]);
  if(k->type == CFG_SINK_WEBHOOK &&
     !c->seen_line[find_option(SEC_SINK, "url") - options])
    perr(c, k->line, "[sink %s]: type webhook needs url", k->name);
  for(i = 0; k->type == CFG_SINK_SENTINEL && i < 4; i++)
    if(!c->seen_line[find_option(SEC_SINK, sentinel_keys[i]) - options])
      perr(c, k->line, "[sink %s]: type sentinel needs %s", k->name,
           sentinel_keys[i]);
  /* The immutable id of a DCR is "dcr-" and 32 hex digits
   * (https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview).
   */
  if(k->dcr_id && (strncmp(k->dcr_id, "dcr-", 4) || strlen(k->dcr_id) != 36 ||
                   strspn(k->dcr_id + 4, "0123456789abcdefABCDEF") != 32))
    perr(c, c->seen_line[find_option(SEC_SINK, "dcr_id") - options],
         "dcr_id: '%s' is not a DCR immutable id (dcr- and 32 hex digits)",
         k->dcr_id);
  if(k->stream &&
     (!k->stream[0] || k->stream[strspn(k->stream, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                   "abcdefghijklmnopqrstuvwxyz"
                                                   "0123456789_-")]))
    perr(c, c->seen_line[find_option(SEC_SINK, "stream") - options],
         "stream: '%s' is not a stream name such as Custom-Quarantined_CL",
         k->stream);
  k->tenant_line = c->seen_line[find_option(SEC_SINK, "tenant") - options];
  if(k->ca_file && k->type != CFG_SINK_TLS && k->type != CFG_SINK_WEBHOOK &&
     k->type != CFG_SINK_SENTINEL)
    perr(c, c->seen_line[find_option(SEC_SINK, "ca_file") - options],
         "ca_file: only tls, webhook and sentinel sinks take a CA file");
  else if(k->ca_file && tls_check_ca(k->ca_file, why, sizeof(why)) < 0)
    perr(c, c->seen_line[find_option(SEC_SINK, "ca_file") - options],
         "ca_file: %s: %s", k->ca_file, why);
  if(k->events && (bad = alert_filter_check(k->events)) != NULL)
    perr(c, c->seen_line[find_option(SEC_SINK, "events") - options],
         "events: '%s' is not an alert type (see quarantined(8))", bad);
}

/* close_section() finishes the section being read: it fills in defaults
 * and reports required keys that were never given. */
static void close_section(struct parse_ctx *c)
{
  void *base;
  size_t i;

  if(c->sec == SEC_NONE || c->bad_section) {
    c->sec = SEC_NONE;
    return;
  }
  base = section_base(c, c->sec);
  for(i = 0; i < NOPTS; i++) {
    const struct cfg_option *o = &options[i];

    if(o->section != c->sec || c->seen_line[i])
      continue;
    if((o->flags & F_REQUIRED) && c->sec == SEC_SINK) {
      perr(c, c->sink->line, "[sink %s]: missing required key '%s'",
           c->sink->name, o->key);
      c->sink->type = -1;
    }
    else if(o->flags & F_REQUIRED)
      perr(c, c->tenant->line, "[tenant %s]: missing required key '%s'",
           c->tenant->name, o->key);
    else if(o->def)
      set_value(c, o, base, o->def, 0);
  }
  if(c->sec == SEC_SINK)
    check_sink(c, c->sink);
  if(c->sec == SEC_TENANT) {
    struct cfg_tenant *t = c->tenant;
    int secret =
        (t->client_secret_file != NULL) + (t->client_secret_credential != NULL);
    int key =
        (t->private_key_file != NULL) + (t->private_key_credential != NULL);

    if(secret > 1)
      perr(c, t->line,
           "[tenant %s]: give client_secret_file or "
           "client_secret_credential, not both",
           t->name);
    if(key > 1)
      perr(c, t->line,
           "[tenant %s]: give private_key_file or "
           "private_key_credential, not both",
           t->name);
    if(secret && (key || t->certificate_file))
      perr(c, t->line,
           "[tenant %s]: give either a client secret or a certificate "
           "and key, not both",
           t->name);
    else if(!secret && !key && !t->certificate_file)
      perr(c, t->line,
           "[tenant %s]: no credential: set client_secret_file, "
           "client_secret_credential, or certificate_file with "
           "private_key_file",
           t->name);
    else if(!secret && (!key || !t->certificate_file))
      perr(c, t->line,
           "[tenant %s]: certificate_file and private_key_file (or "
           "private_key_credential) go together",
           t->name);
  }
  c->sec = SEC_NONE;
}

static bool valid_tenant_name(const char *s)
{
  if(!*s || strlen(s) > 64)
    return false;
  for(; *s; s++)
    if(!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
      return false;
  return true;
}

/* open_section() handles a "[...]" header seen on line c->line. */
static void open_section(struct parse_ctx *c, const char *name, size_t len)
{
  char buf[256];
  size_t i;
  struct cfg_tenant *t;

  close_section(c);
  memset(c->seen_line, 0, sizeof(c->seen_line));
  c->bad_section = true;
  if(len >= sizeof(buf)) {
    perr(c, c->line, "section name too long");
    return;
  }
  memcpy(buf, name, len);
  buf[len] = '\0';
  for(i = 0; i < sizeof(fixed_sections) / sizeof(fixed_sections[0]); i++) {
    enum cfg_section sec = fixed_sections[i].sec;

    if(strcmp(buf, fixed_sections[i].name))
      continue;
    if(c->seen[sec]) {
      perr(c, c->line, "duplicate section [%s]", buf);
      return;
    }
    c->seen[sec] = true;
    c->sec = sec;
    c->bad_section = false;
    return;
  }
  if(!strncmp(buf, "sink", 4) && (buf[4] == ' ' || buf[4] == '\t')) {
    struct cfg_sink *k;
    char *n = buf + 4;

    while(*n == ' ' || *n == '\t')
      n++;
    if(!valid_tenant_name(n)) {
      perr(c, c->line,
           "sink name '%s' may use only letters, digits, '.', '-' and '_' "
           "(at most 64)",
           n);
      return;
    }
    for(k = c->cfg->sinks; k; k = k->next)
      if(!strcmp(k->name, n)) {
        perr(c, c->line, "duplicate section [sink %s] (first on line %u)", n,
             k->line);
        return;
      }
    k = calloc(1, sizeof(*k));
    if(!k)
      fatal("cfg: calloc");
    k->name = xstrdup(n);
    k->line = c->line;
    *c->sink_tail = k;
    c->sink_tail = &k->next;
    c->cfg->nsinks++;
    c->sink = k;
    c->sec = SEC_SINK;
    c->bad_section = false;
    return;
  }
  if(!strncmp(buf, "tenant", 6) &&
     (buf[6] == ' ' || buf[6] == '\t' || buf[6] == '\0')) {
    char *n = buf + 6;

    while(*n == ' ' || *n == '\t')
      n++;
    if(!*n) {
      perr(c, c->line, "[tenant] needs a name, e.g. [tenant contoso]");
      return;
    }
    if(!valid_tenant_name(n)) {
      perr(c, c->line,
           "tenant name '%s' may use only letters, digits, '.', '-' "
           "and '_' (at most 64)",
           n);
      return;
    }
    for(t = c->cfg->tenants; t; t = t->next)
      if(!strcmp(t->name, n)) {
        perr(c, c->line, "duplicate section [tenant %s] (first on line %u)", n,
             t->line);
        return;
      }
    t = calloc(1, sizeof(*t));
    if(!t)
      fatal("cfg: calloc");
    t->name = xstrdup(n);
    t->line = c->line;
    *c->tail = t;
    c->tail = &t->next;
    c->cfg->ntenants++;
    c->tenant = t;
    c->sec = SEC_TENANT;
    c->bad_section = false;
    return;
  }
  perr(c, c->line,
       "unknown section [%s] (expected [daemon], [alerts], [tenant NAME] "
       "or [sink NAME])",
       buf);
}

/* reader() feeds inih one line at a time and counts lines, so the
 * handler always knows the line it is called for.  Section headers are
 * handled here, before inih sees them. */
static char *reader(char *str, int num, void *stream)
{
  struct parse_ctx *c = stream;
  size_t len;
  char *p, *rb;

  if(!fgets(str, num, c->fp))
    return NULL;
  len = strlen(str);
  if(len && str[len - 1] != '\n' && !feof(c->fp)) {
    int ch;

    /* Too long: drop the rest and hand inih an empty line. */
    while((ch = fgetc(c->fp)) != EOF && ch != '\n')
      ;
    c->line++;
    perr(c, c->line, "line longer than %d bytes", num - 2);
    str[0] = '\n';
    str[1] = '\0';
    return str;
  }
  c->line++;
  p = str;
  if(c->line == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
    p += 3;
  while(*p == ' ' || *p == '\t')
    p++;
  if(*p == '[') {
    rb = strchr(p + 1, ']');
    if(rb) {
      char *s = p + 1, *e = rb;

      while(s < e && (*s == ' ' || *s == '\t'))
        s++;
      while(e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
      open_section(c, s, (size_t)(e - s));
    }
  }
  return str;
}

/* handler() is inih's callback for each "key = value". */
static int handler(void *user, const char *section, const char *key,
                   const char *value)
{
  struct parse_ctx *c = user;
  const struct cfg_option *o;
  size_t idx;

  (void)section;
  if(c->bad_section)
    return 1;
  if(c->sec == SEC_NONE) {
    perr(c, c->line, "'%s' is outside any section", key);
    return 1;
  }
  o = find_option(c->sec, key);
  if(!o) {
    perr(c, c->line, "unknown key '%s' in %s", key, section_name(c->sec));
    return 1;
  }
  idx = (size_t)(o - options);
  if(c->seen_line[idx]) {
    perr(c, c->line, "duplicate key '%s' (first on line %u)", key,
         c->seen_line[idx]);
    return 1;
  }
  c->seen_line[idx] = c->line;
  set_value(c, o, section_base(c, c->sec), value ? value : "", c->line);
  return 1;
}

static void free_fields(enum cfg_section s, void *base)
{
  size_t i;

  for(i = 0; i < NOPTS; i++) {
    const struct cfg_option *o = &options[i];

    if(o->section != s)
      continue;
    switch(o->type) {
    case T_STR:
    case T_PATH:
    case T_URL:
    case T_HOOKURL:
    case T_GUID:
    case T_TENANT:
    case T_CREDNAME:
    case T_DOMAINS:
    case T_GUIDS:
      free(*(char **)(void *)((char *)base + o->offset));
      break;
    default:
      break;
    }
  }
}

void cfg_free(struct cfg *cfg)
{
  struct cfg_tenant *t, *next;
  struct cfg_sink *k, *knext;

  if(!cfg)
    return;
  for(k = cfg->sinks; k; k = knext) {
    knext = k->next;
    free_fields(SEC_SINK, k);
    free(k->name);
    free(k);
  }
  for(t = cfg->tenants; t; t = next) {
    next = t->next;
    free_fields(SEC_TENANT, t);
    free(t->name);
    free(t);
  }
  free_fields(SEC_DAEMON, cfg);
  free_fields(SEC_ALERTS, cfg);
  free(cfg->path);
  free(cfg);
}

const struct cfg_tenant *cfg_tenant_find(const struct cfg *cfg,
                                         const char *name)
{
  const struct cfg_tenant *t;

  for(t = cfg->tenants; t; t = t->next)
    if(!strcmp(t->name, name))
      return t;
  return NULL;
}

/* resolve_sinks() points each sentinel sink at the tenant whose app
 * registration it uses. */
static void resolve_sinks(struct parse_ctx *c)
{
  struct cfg_sink *k;

  for(k = c->cfg->sinks; k; k = k->next) {
    if(k->type != CFG_SINK_SENTINEL || !k->tenant)
      continue;
    k->cred = cfg_tenant_find(c->cfg, k->tenant);
    if(!k->cred)
      perr(c, k->tenant_line, "tenant: no [tenant %s] section", k->tenant);
  }
}

int cfg_load(const char *path, struct cfg **out, char **errors)
{
  struct parse_ctx c;
  size_t i;
  const char *slash;
  int rc, ret = 0;

  memset(&c, 0, sizeof(c));
  c.path = path;
  slash = strrchr(path, '/');
  c.dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                : strdup(".");
  c.cfg = calloc(1, sizeof(*c.cfg));
  if(!c.dir || !c.cfg)
    fatal("cfg: alloc");
  c.cfg->path = xstrdup(path);
  c.tail = &c.cfg->tenants;
  c.sink_tail = &c.cfg->sinks;
  c.bad_section = false;
  c.sec = SEC_NONE;

  c.fp = fopen(path, "r");
  if(!c.fp) {
    ret = -errno;
    perr(&c, 0, "cannot open: %s", strerror(errno));
    goto done;
  }
  /* Comments start a line; a ';' or '#' inside a value is kept.  The
   * line length limit is the one libinih was built with (INI_MAX_LINE). */
  ini_allow_inline_comments = false;
  ini_allow_multiline = false;
  ini_stop_on_first_error = false;

  rc = ini_parse_stream(reader, &c, handler, &c);
  close_section(&c);
  /* [daemon] and [alerts] options have defaults even without the
   * section. */
  for(i = 0; i < sizeof(fixed_sections) / sizeof(fixed_sections[0]); i++) {
    if(c.seen[fixed_sections[i].sec])
      continue;
    memset(c.seen_line, 0, sizeof(c.seen_line));
    c.sec = fixed_sections[i].sec;
    c.bad_section = false;
    close_section(&c);
  }
  if(ferror(c.fp)) {
    ret = -EIO;
    perr(&c, 0, "read error");
  }
  else if(rc > 0)
    perr(&c, (unsigned)rc,
         "syntax error (expected 'key = value' or "
         "'[section]')");
  else if(rc < 0)
    fatalx("cfg: libinih could not allocate memory");
  fclose(c.fp);
  if(!c.nerr && !c.cfg->tenants)
    perr(&c, 0, "no [tenant NAME] section: at least one tenant is needed");
  resolve_sinks(&c);

done:
  free(c.dir);
  if(c.nerr) {
    if(!ret)
      ret = -EINVAL;
    cfg_free(c.cfg);
    if(errors)
      *errors = c.err;
    else
      free(c.err);
    return ret;
  }
  free(c.err);
  *out = c.cfg;
  return 0;
}
