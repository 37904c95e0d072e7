/* SPDX-License-Identifier: MIT
 *
 * cfg_int: what cfg.c shares with cfg_set.c (a key's value stored by its
 * option's type) and cfg_sink.c (the [sink NAME] sections) only: the
 * option table's row, the parser's state, and the helpers all three use.
 * Not for other modules: they read struct cfg (cfg.h).
 */
#ifndef QD_CFG_INT_H
#define QD_CFG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cfg.h"
#include "log.h"

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
  T_DURLIST,  /* durations, comma-separated, each within min..max; may be
                 empty (struct cfg_durations) */
  T_LISTEN    /* ADDRESS:PORT (IPv4, or [IPv6]) or "none"; stored as text */
};

#define F_REQUIRED 0x1u
#define F_NONE 0x2u /* T_PATH: the word "none" is kept as it is */

struct cfg_option {
  enum cfg_section section;
  const char *key;
  enum cfg_type type;
  size_t offset;
  const char *def; /* default, written as it would be in the file */
  unsigned long long min, max;
  unsigned flags;
};

/* The most rows options[] may have (cfg.c checks it at compile time). */
#define CFG__MAX_OPTS 128

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
  bool seen[SEC_TENANT]; /* [daemon] and [alerts] appear at most once */
  bool bad_section;      /* keys are ignored until the next valid header */
  unsigned seen_line[CFG__MAX_OPTS]; /* line of each key in this section */
  char *err;                         /* accumulated messages */
  size_t errlen;
  int nerr;
};

/* cfg__perr() appends one "FILE:LINE: message" line (line 0: "FILE:
 * message") to the parser's error text. */
void cfg__perr(struct parse_ctx *c, unsigned line, const char *fmt, ...)
    QD_PRINTF(3, 4);

/* cfg__xstrdup() is strdup() that ends the process when out of memory. */
char *cfg__xstrdup(const char *s);

/* cfg__enum_names() is the NULL-terminated value names of the T_ENUM
 * option key, in the order of its enum. */
const char *const *cfg__enum_names(const char *key);

/* cfg__find_option() is the row of key in section s, or NULL;
 * cfg__option_index() the index of a row (for parse_ctx.seen_line). */
const struct cfg_option *cfg__find_option(enum cfg_section s, const char *key);
size_t cfg__option_index(const struct cfg_option *o);

/* cfg__valid_name() tells whether s may name a [tenant] or [sink]
 * section: letters, digits, '.', '-', '_', at most 64. */
bool cfg__valid_name(const char *s);

/* cfg_set_value() parses v for option o and stores it in base (the struct
 * of o's section).  On error it records a message for line and leaves the
 * target untouched. */
void cfg_set_value(struct parse_ctx *c, const struct cfg_option *o, void *base,
                   const char *v, unsigned line);

/* cfg_sink_open() starts the section [sink NAME] (name: what follows
 * "sink", blanks included) on line c->line; cfg_sink_check() checks a
 * sink's keys against its type when its section ends; cfg_sink_resolve()
 * points each sentinel sink at the tenant whose app it uses, once the
 * whole file is read.  Each records what is wrong with cfg__perr(). */
void cfg_sink_open(struct parse_ctx *c, const char *name);
void cfg_sink_check(struct parse_ctx *c, struct cfg_sink *k);
void cfg_sink_resolve(struct parse_ctx *c);

#endif
