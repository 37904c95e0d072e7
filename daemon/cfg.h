/* SPDX-License-Identifier: MIT
 *
 * cfg: the configuration file.  Every option is a row of one declarative
 * table (cfg.c); the INI file is read with libinih and each value is
 * checked against its row.  Errors name the file and line.
 */
#ifndef QD_CFG_H
#define QD_CFG_H

#include <stddef.h>

#ifndef QD_CONFFILE
#define QD_CONFFILE "/etc/quarantined/quarantined.conf"
#endif

/* One [tenant NAME] section. */
struct cfg_tenant {
  char *name;                     /* NAME from the section header */
  unsigned line;                  /* line of the section header */
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
  struct cfg_tenant *next;
};

/* A list of durations, ascending, without repeats. */
#define CFG_MAX_DURATIONS 8
struct cfg_durations {
  size_t n;
  unsigned long v[CFG_MAX_DURATIONS]; /* seconds */
};

/* How a cycle finds conflicts; see inventory.h. */
enum cfg_inventory { CFG_INVENTORY_FILTER, CFG_INVENTORY_SCAN };

struct cfg {
  char *path; /* the file this was read from */
  /* [daemon] */
  char *state_dir;
  int log_level;              /* syslog priority */
  unsigned poll_interval;     /* seconds */
  int inventory_mode;         /* enum cfg_inventory */
  unsigned page_size;         /* $top, 1..999 */
  unsigned max_concurrency;   /* HTTP transfers in flight per tenant */
  unsigned connect_timeout;   /* seconds */
  unsigned http_timeout;      /* seconds, whole transfer */
  size_t max_response_size;   /* bytes */
  unsigned orphan_after;      /* seconds without a sync: holder orphaned */
  unsigned sweep_interval;    /* seconds: the service's release sweep, ours */
  unsigned sweep_grace;       /* seconds after a predicted release: stuck */
  struct cfg_durations aging; /* conflict.aging thresholds; n 0: none */
  /* [alerts] */
  int alert_syslog;       /* alerts to journald (or syslog(3)): 1 or 0 */
  char *alert_jsonl_file; /* JSON lines file for alerts, or NULL */
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

/* cfg_tenant_find() returns the tenant called name, or NULL. */
const struct cfg_tenant *cfg_tenant_find(const struct cfg *cfg,
                                         const char *name);

/* cfg_parse_duration() parses "90", "90s", "5m", "2h" or "1d" into
 * seconds.  Returns 0, or -EINVAL / -ERANGE. */
int cfg_parse_duration(const char *s, unsigned long long *secs);

/* cfg_parse_size() parses "512", "64K", "8M" or "1G" into bytes. */
int cfg_parse_size(const char *s, unsigned long long *bytes);

#endif
