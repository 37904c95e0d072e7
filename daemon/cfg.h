/* SPDX-License-Identifier: MIT
 *
 * cfg: the configuration file.  Every option is a row of one declarative
 * table (cfg.c); the INI file is read with libinih and each value is
 * checked against its row.  Errors name the file and line.
 */
#ifndef QD_CFG_H
#define QD_CFG_H

#include <stddef.h>
#include <sys/socket.h>

#ifndef QD_CONFFILE
#define QD_CONFFILE "/etc/quarantined/quarantined.conf"
#endif

/* The longest line a configuration file may have, in bytes, without the
 * line end. */
#define CFG_LINE_MAX 8192

/* One [tenant NAME] section. */
struct cfg_tenant {
  char *name;                     /* NAME from the section header */
  unsigned line;                  /* line of the section header */
  unsigned *key_lines;            /* see cfg_key_line(); owned */
  char *tenant_id;                /* directory id (GUID) or a verified domain */
  char *client_id;                /* application (client) id, a GUID */
  char *client_secret_file;       /* absolute path, or NULL */
  char *client_secret_credential; /* systemd credential name, or NULL */
  char *certificate_file;         /* PEM certificate, or NULL */
  char *private_key_file;         /* PEM private key, or NULL */
  char *private_key_credential;   /* systemd credential name, or NULL */
  char *login_url;                /* token service root, no trailing slash */
  char *graph_url;                /* Graph root, no trailing slash */
  char *ca_file;                  /* extra CA bundle for TLS, or NULL */
  unsigned poll_interval;         /* seconds; 0 = use [daemon] poll_interval */
  int tenant_size; /* enum budget_size: small, medium, large (budget.h) */
  unsigned resource_budget; /* resource units per 10 s; 0 = tenant_size's */
  /* The apply engine (apply.h); see quarantined.conf(5). */
  int apply_mode;                /* enum cfg_apply_mode */
  char *anchors_file;            /* known-anchors CSV, or NULL */
  unsigned anchor_length;        /* decoded bytes; 0 = any length */
  char *apply_allow_domains;     /* "a.com b.com", "*", or NULL */
  char *apply_allow_groups;      /* "guid guid", or NULL */
  unsigned apply_max_per_cycle;  /* PATCHes per cycle */
  unsigned apply_threshold;      /* total applies before a human must act */
  char *apply_kill_switch;       /* path; NULL = <state_dir>/<name>.stop */
  int apply_takeover_unreadable; /* enum cfg_takeover */
  char *post_apply_command;      /* run by /bin/sh -c after applies, or NULL */
  unsigned post_apply_timeout;   /* seconds */
  unsigned apply_settle;         /* seconds before an intent without an
                                    outcome may be settled */
  unsigned apply_settle_reads;   /* reads without the value that settle it
                                    as not applied */
  struct cfg_tenant *next;
};

/* apply_mode values. */
enum cfg_apply_mode { CFG_APPLY_OFF, CFG_APPLY_DRY_RUN, CFG_APPLY_APPLY };

/* apply_takeover_unreadable: what to do when the tenant feature
 * blockCloudObjectTakeoverThroughHardMatchEnabled cannot be read. */
enum cfg_takeover { CFG_TAKEOVER_REFUSE, CFG_TAKEOVER_ALLOW };

/* One [sink NAME] section: where alerts go (alert.h, sink.h). */
enum cfg_sink_type {
  CFG_SINK_JOURNAL,  /* journald, falling back to the syslog socket */
  CFG_SINK_SYSLOG,   /* the local syslog socket (/dev/log) */
  CFG_SINK_UDP,      /* remote syslog, RFC 5426 */
  CFG_SINK_TCP,      /* remote syslog, RFC 6587 octet counting */
  CFG_SINK_FILE,     /* a file, one record per line */
  CFG_SINK_TLS,      /* remote syslog over TLS, RFC 5425 */
  CFG_SINK_WEBHOOK,  /* HTTPS POST: generic JSON, Slack, Teams */
  CFG_SINK_SENTINEL, /* Azure Monitor Logs Ingestion API */
  CFG_SINK_EVENTLOG  /* the Windows Event Log */
};

struct cfg_sink {
  char *name;          /* NAME from the section header */
  unsigned line;       /* line of the section header */
  int type;            /* enum cfg_sink_type */
  int format;          /* enum fmt_kind; 0: the type's default */
  int min_severity;    /* syslog priority: alerts at or above it */
  char *events;        /* "conflict.* tenant.failing", or NULL: all */
  char *host;          /* udp, tcp: receiver's name or address */
  unsigned port;       /* udp, tcp, tls; 0: 514 (tls: 6514) */
  char *ca_file;       /* tls, webhook, sentinel: PEM CA bundle, or NULL */
  char *url;           /* webhook: where to POST (a secret: never logged) */
  unsigned rate_limit; /* webhook, sentinel: requests per minute */
  char *tenant;        /* sentinel: the [tenant NAME] whose app is used */
  char *login_url;     /* sentinel: token service; NULL: the tenant's */
  char *dce_url;       /* sentinel: data collection endpoint */
  char *dcr_id;        /* sentinel: DCR immutable id, "dcr-..." */
  char *stream;        /* sentinel: stream name, "Custom-..." */
  char *scope;         /* sentinel: token scope */
  const struct cfg_tenant *cred; /* sentinel: resolved from tenant */
  unsigned tenant_line;          /* sentinel: line of tenant */
  char *socket;                  /* journal, syslog: the syslog socket */
  char *path;                    /* file */
  int facility;                  /* syslog facility code 0..23 */
  char *sd_id;                   /* RFC 5424 SD-ID */
  size_t spool_max;              /* bytes held before alerts are dropped */
  struct cfg_sink *next;
};

/* A list of durations, ascending, without repeats. */
#define CFG_MAX_DURATIONS 8
struct cfg_durations {
  size_t n;
  unsigned long v[CFG_MAX_DURATIONS]; /* seconds */
};

/* How a cycle finds conflicts; see inventory.h. */
enum cfg_inventory {
  CFG_INVENTORY_FILTER,
  CFG_INVENTORY_SCAN,
  CFG_INVENTORY_DELTA
};

/* Whether Graph's eq on proxyAddresses is taken to ignore case. */
enum cfg_lookup_case { CFG_LOOKUP_EXACT, CFG_LOOKUP_INSENSITIVE };

struct cfg {
  char *path;          /* the file this was read from */
  unsigned *key_lines; /* [daemon] and [alerts]: see cfg_key_line(); owned */
  /* [daemon] */
  char *state_dir;
  int log_level;              /* syslog priority */
  unsigned poll_interval;     /* seconds */
  int inventory_mode;         /* enum cfg_inventory */
  unsigned delta_resync;      /* delta_full_resync: seconds; 0 = never */
  unsigned page_size;         /* $top, 1..999 */
  unsigned max_concurrency;   /* HTTP transfers in flight per tenant */
  int lookup_case;            /* enum cfg_lookup_case */
  int lookup_mail;            /* holder lookups ask mail: 1 or 0 */
  int lookup_scan;            /* holder lookups may list a collection */
  unsigned connect_timeout;   /* seconds */
  unsigned http_timeout;      /* seconds, whole transfer */
  size_t max_response_size;   /* bytes */
  unsigned orphan_after;      /* seconds without a sync: holder orphaned */
  unsigned sweep_interval;    /* seconds: the service's release sweep, ours */
  unsigned sweep_grace;       /* seconds after a predicted release: stuck */
  struct cfg_durations aging; /* conflict.aging thresholds; n 0: none */
  char *health_listen;        /* ADDRESS:PORT of the health endpoint, or
                                 "none" */
  char *health_socket;        /* Unix socket of the health endpoint, or
                                 "none" */
  /* [alerts] */
  int alert_syslog;        /* alerts to journald (or syslog(3)): 1 or 0 */
  char *alert_jsonl_file;  /* JSON lines file for alerts, or NULL */
  unsigned flood_limit;    /* alerts per cycle before a summary; 0: none */
  unsigned failing_cycles; /* tenant.failing after this many failed cycles */
  unsigned failing_after;  /* ... or after failing this long (s); 0: never */
  struct cfg_sink *sinks;  /* [sink NAME] sections, in file order */
  size_t nsinks;
  /* tenants, in file order */
  struct cfg_tenant *tenants;
  size_t ntenants;
};

/* cfg_load() reads and checks the file at path.  On success it returns 0
 * and *out owns a new struct cfg (free it with cfg_free()).  On failure it
 * returns a negative errno code, *out is untouched, and *errors (if errors
 * is not NULL) receives a malloc'd text of one "FILE:LINE: message" line
 * per problem found, which the caller frees.  Nothing is logged here: the
 * caller decides whether the text goes to the terminal or the log. */
int cfg_load(const char *path, struct cfg **out, char **errors);

/* cfg_free() frees a struct cfg and everything it owns.  NULL is a no-op. */
void cfg_free(struct cfg *cfg);

/* cfg_sink_same() tells whether two [sink] sections configure the same
 * sink: every key equal, the name aside, and for a sentinel sink the
 * credentials of its [tenant].  The files named (CA, secret) are compared
 * by path, not content. */
int cfg_sink_same(const struct cfg_sink *a, const struct cfg_sink *b);

/* cfg_tenant_find() returns the tenant called name, or NULL. */
const struct cfg_tenant *cfg_tenant_find(const struct cfg *cfg,
                                         const char *name);

/* cfg_key_line() is the line of cfg's file on which key was given: in
 * tenant t, or in [daemon] or [alerts] when t is NULL.  It is the line of
 * t's section header (t NULL: 0) when the key was left at its default, and
 * 0 for a key no section has. */
unsigned cfg_key_line(const struct cfg *cfg, const struct cfg_tenant *t,
                      const char *key);

/* cfg_parse_size() parses "512", "64K" (or "64k"), "8M" or "1G" into
 * bytes.  Returns 0, or -EINVAL / -ERANGE.  Durations are read with
 * timex_parse_duration(). */
int cfg_parse_size(const char *s, unsigned long long *bytes);

#endif
