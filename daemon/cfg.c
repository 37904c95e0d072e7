/* SPDX-License-Identifier: MIT
 *
 * cfg: reads the INI configuration through libinih.  All options live in
 * options[] below: section, key, type, target offset, default, bounds and
 * flags.  Parsing, defaults, required-key checks and freeing are all
 * driven by that one table.  Section headers are tracked by our own line
 * reader so every message can name the line, even for empty sections.
 */
#include "cfg_int.h"
#include "cfgval.h"

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

#include "fmt.h"
#include "log.h"
#include "plat.h"

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
    /* What a holder lookup asks Graph (holder_query.h): the cautious
     * defaults ask both proxyAddresses spellings and mail. */
    {SEC_DAEMON, "lookup_case", T_ENUM, D(lookup_case), "exact", 0, 0, 0},
    {SEC_DAEMON, "lookup_mail", T_BOOL, D(lookup_mail), "yes", 0, 0, 0},
    /* A collection may be listed whole when that is cheaper than asking
     * it value by value (holder_scan.h). */
    {SEC_DAEMON, "lookup_scan", T_BOOL, D(lookup_scan), "yes", 0, 0, 0},
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
    /* The health endpoint (health.h). */
    {SEC_DAEMON, "health_listen", T_LISTEN, D(health_listen), "127.0.0.1:9471",
     0, 0, 0},
    {SEC_DAEMON, "health_socket", T_PATH, D(health_socket),
     "/run/quarantined/quarantined.sock", 0, 0, F_NONE},

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
    /* The resource-unit budget requests are paced by (budget.h). */
    {SEC_TENANT, "tenant_size", T_ENUM, TN(tenant_size), "small", 0, 0, 0},
    {SEC_TENANT, "resource_budget", T_UINT, TN(resource_budget), NULL, 1, 8000,
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
    {SEC_TENANT, "apply_settle", T_DURATION, TN(apply_settle), "10m", 1, 86400,
     0},
    {SEC_TENANT, "apply_settle_reads", T_UINT, TN(apply_settle_reads), "3", 1,
     20, 0},
};

#define NOPTS (sizeof(options) / sizeof(options[0]))
_Static_assert(NOPTS <= CFG__MAX_OPTS, "options[] outgrew CFG__MAX_OPTS");

/* The values of each T_ENUM option, in the order of its enum in cfg.h;
 * each list ends with NULL. */
static const struct {
  const char *key;
  const char *const *names;
} enum_values[] = {
    /* In the order of enum cfg_sink_type. */
    {"type",
     (const char *const[]){"journal", "syslog", "udp", "tcp", "file", "tls",
                           "webhook", "sentinel", "eventlog", NULL}},
    {"format", fmt_kind_names}, /* enum fmt_kind (fmt.h) */
    /* Index = the facility code of RFC 5424, section 6.2.1. */
    {"facility",
     (const char *const[]){"kern",     "user",   "mail",   "daemon", "auth",
                           "syslog",   "lpr",    "news",   "uucp",   "cron",
                           "authpriv", "ftp",    "ntp",    "audit",  "alert",
                           "clock",    "local0", "local1", "local2", "local3",
                           "local4",   "local5", "local6", "local7", NULL}},
    {"apply_mode", (const char *const[]){"off", "dry-run", "apply", NULL}},
    /* In the order of enum cfg_lookup_case. */
    {"lookup_case", (const char *const[]){"exact", "insensitive", NULL}},
    /* In the order of enum budget_size (budget.h). */
    {"tenant_size", (const char *const[]){"small", "medium", "large", NULL}},
    {"apply_takeover_unreadable",
     (const char *const[]){"refuse", "allow", NULL}},
};

const char *const *cfg__enum_names(const char *key)
{
  size_t i;

  for(i = 0; i < sizeof(enum_values) / sizeof(enum_values[0]); i++)
    if(!strcmp(enum_values[i].key, key))
      return enum_values[i].names;
  fatalx("cfg: no values for option %s", key);
}

/* cfg__perr() appends one "FILE:LINE: message" line to the error text. */
void cfg__perr(struct parse_ctx *c, unsigned line, const char *fmt, ...)
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

char *cfg__xstrdup(const char *s)
{
  char *p = strdup(s);

  if(!p)
    fatal("cfg: strdup");
  return p;
}

int cfg_parse_size(const char *s, unsigned long long *bytes)
{
  static const char suffixes[] = "KMG"; /* 2^10, 2^20, 2^30; k is K */
  unsigned long long v;
  unsigned shift = 0;
  const char *u;
  char *end;

  if(!isdigit((unsigned char)*s))
    return -EINVAL;
  errno = 0;
  v = strtoull(s, &end, 10);
  if(errno)
    return -ERANGE;
  if(*end) {
    u = strchr(suffixes, *end == 'k' ? 'K' : *end);
    if(!u || end[1])
      return -EINVAL;
    shift = 10 * (unsigned)(u - suffixes + 1);
  }
  if(v > ULLONG_MAX >> shift)
    return -ERANGE;
  *bytes = v << shift;
  return 0;
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

/* nearest_key() is the option of section s closest to key (a typo, or the
 * start of a longer name), or NULL when none is close. */
static const char *nearest_key(enum cfg_section s, const char *key)
{
  size_t i, d, best = SIZE_MAX, limit = strlen(key) / 3;
  const char *name = NULL;

  if(limit < 2)
    limit = 2;
  for(i = 0; i < NOPTS; i++) {
    if(options[i].section != s)
      continue;
    d = cfgval_edit_distance(key, options[i].key);
    if(strlen(key) >= 4 && !strncmp(options[i].key, key, strlen(key)))
      d = 1; /* "client_secret" for "client_secret_file" */
    if(d <= limit && d < best) {
      best = d;
      name = options[i].key;
    }
  }
  return name;
}

size_t cfg__option_index(const struct cfg_option *o)
{
  return (size_t)(o - options);
}

const struct cfg_option *cfg__find_option(enum cfg_section s, const char *key)
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

    if(o->section != c->sec)
      continue;
    if(c->seen_line[i]) {
      if(c->sec == SEC_TENANT)
        c->tenant->key_lines[i] = c->seen_line[i];
      else
        c->cfg->key_lines[i] = c->seen_line[i];
      continue;
    }
    if((o->flags & F_REQUIRED) && c->sec == SEC_SINK) {
      cfg__perr(c, c->sink->line, "[sink %s]: missing required key '%s'",
                c->sink->name, o->key);
      c->sink->type = -1;
    }
    else if(o->flags & F_REQUIRED)
      cfg__perr(c, c->tenant->line, "[tenant %s]: missing required key '%s'",
                c->tenant->name, o->key);
    else if(o->def)
      cfg_set_value(c, o, base, o->def, 0);
  }
  if(c->sec == SEC_SINK)
    cfg_sink_check(c, c->sink);
  if(c->sec == SEC_TENANT) {
    struct cfg_tenant *t = c->tenant;
    int secret =
        (t->client_secret_file != NULL) + (t->client_secret_credential != NULL);
    int key =
        (t->private_key_file != NULL) + (t->private_key_credential != NULL);

    if(secret > 1)
      cfg__perr(c, t->line,
                "[tenant %s]: give client_secret_file or "
                "client_secret_credential, not both",
                t->name);
    if(key > 1)
      cfg__perr(c, t->line,
                "[tenant %s]: give private_key_file or "
                "private_key_credential, not both",
                t->name);
    if(secret && (key || t->certificate_file))
      cfg__perr(c, t->line,
                "[tenant %s]: give either a client secret or a certificate "
                "and key, not both",
                t->name);
    else if(!secret && !key && !t->certificate_file)
      cfg__perr(c, t->line,
                "[tenant %s]: no credential: set client_secret_file, "
                "client_secret_credential, or certificate_file with "
                "private_key_file",
                t->name);
    else if(!secret && (!key || !t->certificate_file))
      cfg__perr(c, t->line,
                "[tenant %s]: certificate_file and private_key_file (or "
                "private_key_credential) go together",
                t->name);
  }
  c->sec = SEC_NONE;
}

bool cfg__valid_name(const char *s)
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
    cfg__perr(c, c->line, "section name too long");
    return;
  }
  memcpy(buf, name, len);
  buf[len] = '\0';
  for(i = 0; i < sizeof(fixed_sections) / sizeof(fixed_sections[0]); i++) {
    enum cfg_section sec = fixed_sections[i].sec;

    if(strcmp(buf, fixed_sections[i].name))
      continue;
    if(c->seen[sec]) {
      cfg__perr(c, c->line, "duplicate section [%s]", buf);
      return;
    }
    c->seen[sec] = true;
    c->sec = sec;
    c->bad_section = false;
    return;
  }
  if(!strncmp(buf, "sink", 4) && (buf[4] == ' ' || buf[4] == '\t')) {
    cfg_sink_open(c, buf + 4);
    return;
  }
  if(!strncmp(buf, "tenant", 6) &&
     (buf[6] == ' ' || buf[6] == '\t' || buf[6] == '\0')) {
    char *n = buf + 6;

    while(*n == ' ' || *n == '\t')
      n++;
    if(!*n) {
      cfg__perr(c, c->line, "[tenant] needs a name, e.g. [tenant contoso]");
      return;
    }
    if(!cfg__valid_name(n)) {
      cfg__perr(c, c->line,
                "tenant name '%s' may use only letters, digits, '.', '-' "
                "and '_' (at most 64)",
                n);
      return;
    }
    for(t = c->cfg->tenants; t; t = t->next)
      if(!strcmp(t->name, n)) {
        cfg__perr(c, c->line,
                  "duplicate section [tenant %s] (first on line %u)", n,
                  t->line);
        return;
      }
    t = calloc(1, sizeof(*t));
    if(!t || !(t->key_lines = calloc(NOPTS, sizeof(*t->key_lines))))
      fatal("cfg: calloc");
    t->name = cfg__xstrdup(n);
    t->line = c->line;
    *c->tail = t;
    c->tail = &t->next;
    c->cfg->ntenants++;
    c->tenant = t;
    c->sec = SEC_TENANT;
    c->bad_section = false;
    return;
  }
  cfg__perr(c, c->line,
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
    cfg__perr(c, c->line, "line longer than %d bytes", CFG_LINE_MAX);
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
    cfg__perr(c, c->line, "'%s' is outside any section", key);
    return 1;
  }
  o = cfg__find_option(c->sec, key);
  if(!o) {
    char where[80], homes[80] = "";
    const char *near = nearest_key(c->sec, key);
    enum cfg_section other;

    if(c->sec == SEC_TENANT)
      snprintf(where, sizeof(where), "[tenant %s]", c->tenant->name);
    else
      snprintf(where, sizeof(where), "%s", section_name(c->sec));
    if(near) {
      cfg__perr(c, c->line, "unknown key '%s' in %s; did you mean '%s'?", key,
                where, near);
      return 1;
    }
    for(other = SEC_DAEMON; other <= SEC_TENANT; other++)
      if(other != c->sec && cfg__find_option(other, key))
        snprintf(homes + strlen(homes), sizeof(homes) - strlen(homes), "%s%s",
                 homes[0] ? " or " : "; it belongs in ", section_name(other));
    cfg__perr(c, c->line, "unknown key '%s' in %s%s", key, where, homes);
    return 1;
  }
  idx = (size_t)(o - options);
  if(c->seen_line[idx]) {
    cfg__perr(c, c->line, "duplicate key '%s' (first on line %u)", key,
              c->seen_line[idx]);
    return 1;
  }
  c->seen_line[idx] = c->line;
  cfg_set_value(c, o, section_base(c, c->sec), value ? value : "", c->line);
  if(c->sec == SEC_DAEMON && !strncmp(o->key, "health_", 7) && value &&
     strcmp(value, "none") && plat_lacks(PLAT_HEALTH))
    cfg__perr(c, c->line, "%s: %s", key, plat_lacks(PLAT_HEALTH));
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
    case T_LISTEN:
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
    free(t->key_lines);
    free(t->name);
    free(t);
  }
  free_fields(SEC_DAEMON, cfg);
  free_fields(SEC_ALERTS, cfg);
  free(cfg->key_lines);
  free(cfg->path);
  free(cfg);
}

unsigned cfg_key_line(const struct cfg *cfg, const struct cfg_tenant *t,
                      const char *key)
{
  size_t i;

  for(i = 0; i < NOPTS; i++) {
    if(strcmp(options[i].key, key))
      continue;
    if(t && options[i].section == SEC_TENANT)
      return t->key_lines[i] ? t->key_lines[i] : t->line;
    if(!t && options[i].section != SEC_TENANT)
      return cfg->key_lines[i];
  }
  return 0;
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
  if(!c.dir || !c.cfg ||
     !(c.cfg->key_lines = calloc(NOPTS, sizeof(*c.cfg->key_lines))))
    fatal("cfg: alloc");
  c.cfg->path = cfg__xstrdup(path);
  c.tail = &c.cfg->tenants;
  c.sink_tail = &c.cfg->sinks;
  c.bad_section = false;
  c.sec = SEC_NONE;

  c.fp = fopen(path, "r");
  if(!c.fp) {
    ret = -errno;
    cfg__perr(&c, 0, "cannot open: %s", strerror(errno));
    goto done;
  }
  /* Comments start a line; a ';' or '#' inside a value is kept.  Debian's
   * libinih makes its build-time settings run-time variables: a heap line
   * buffer of CFG_LINE_MAX bytes (plus CR, LF and NUL) replaces the 200
   * bytes on the stack it was built with. */
  ini_use_stack = false;
  ini_allow_realloc = false;
  ini_max_line = ini_initial_alloc = CFG_LINE_MAX + 3;
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
    cfg__perr(&c, 0, "read error");
  }
  else if(rc > 0)
    cfg__perr(&c, (unsigned)rc,
              "syntax error (expected 'key = value' or "
              "'[section]')");
  else if(rc < 0)
    fatalx("cfg: libinih could not allocate memory");
  fclose(c.fp);
  if(!c.nerr && !c.cfg->tenants)
    cfg__perr(&c, 0, "no [tenant NAME] section: at least one tenant is needed");
  cfg_sink_resolve(&c);

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
