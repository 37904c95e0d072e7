/* SPDX-License-Identifier: MIT
 *
 * fmt: the wire formats of an alert.  Every formatter reads the one
 * canonical alert object (the JSON form alert.c builds, documented in
 * quarantined(8) and docs/alert.schema.json) and appends its text to a
 * growing buffer, so a formatter never sees the daemon's C structs and
 * the formats cannot drift apart.  fmt.c holds the buffer, the severity
 * scales and the value limits shared by fmt_cef.c, fmt_leef.c,
 * fmt_5424.c and fmt_hook.c (webhook and Logs Ingestion bodies).
 */
#ifndef QD_FMT_H
#define QD_FMT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* The formats a sink can send.  FMT_DEFAULT means the sink type's own. */
enum fmt_kind {
  FMT_DEFAULT,
  FMT_JSON,    /* the canonical object, one line */
  FMT_CEF,     /* ArcSight CEF:0 */
  FMT_LEEF,    /* QRadar LEEF:2.0, tab-delimited */
  FMT_RFC5424, /* RFC 5424 with structured data; its MSG is the message */
  FMT_GENERIC, /* webhook: {"text": ..., "alert": {...}} */
  FMT_SLACK,   /* Slack incoming webhook */
  FMT_TEAMS,   /* Teams Workflows webhook: an Adaptive Card message */
  FMT_SENTINEL /* a Logs Ingestion API record */
};

/* A growing text buffer; oom is set once an allocation failed, after
 * which appends do nothing.  Owned by whoever declared it; free p. */
struct fmt_buf {
  char *p;
  size_t len, cap;
  bool oom;
};

/* The syslog header a record gets in front (the transport's). */
enum fmt_frame {
  FMT_FRAME_NONE,
  FMT_FRAME_3164, /* "<PRI>Mmm dd hh:mm:ss quarantined[pid]: ", as
                     syslog(3) writes to /dev/log */
  FMT_FRAME_5424  /* "<PRI>1 TIMESTAMP HOST quarantined PID MSGID - " */
};

/* What a format needs from the sink, besides the alert.  Borrowed. */
struct fmt_opts {
  enum fmt_frame frame; /* ignored by FMT_RFC5424, which is one already */
  const char *host;     /* this machine's name */
  const char *sd_id;    /* RFC 5424 SD-ID, e.g. "quarantined@32473" */
  int facility;         /* RFC 5424 facility code 0..23 */
  int pid;
};

/* Values longer than this many bytes are cut (at a UTF-8 character
 * boundary) in CEF, LEEF and RFC 5424; JSON bodies are never cut. */
#define FMT_MAX_VALUE 2048

void fmt_put(struct fmt_buf *b, const char *s, size_t n);
void fmt_puts(struct fmt_buf *b, const char *s);
void fmt_putc(struct fmt_buf *b, char c);
void fmt_printf(struct fmt_buf *b, const char *f, ...)
    __attribute__((__format__(__printf__, 2, 3)));

/* fmt_escape() appends n bytes of s with a backslash escape for each
 * byte listed in pairs, a string of (byte, letter) pairs: with
 * "\\\\==\nn" a backslash, '=' and a line feed are written as two
 * backslashes, "\\=" and "\\n". */
void fmt_escape(struct fmt_buf *b, const char *s, size_t n, const char *pairs);

/* fmt_value_len() is how many bytes of s to keep: at most FMT_MAX_VALUE,
 * never splitting a UTF-8 sequence. */
size_t fmt_value_len(const char *s);

/* fmt_scalar() writes a scalar member (string, number, bool) as text to
 * buf and returns it, or returns NULL for null, arrays and objects. */
const char *fmt_scalar(const cJSON *item, char *buf, size_t len);

/* fmt_str() is the string member key of ev, or NULL. */
const char *fmt_str(const cJSON *ev, const char *key);

/* fmt_steps() appends the alert's remediation steps to b, one per line,
 * and returns b->p, or NULL when there are none. */
const char *fmt_steps(const cJSON *ev, struct fmt_buf *b);

/* fmt_syslog_severity() is the alert's syslog severity (0..7);
 * fmt_scale10() maps it onto the 0..10 scale of CEF and LEEF. */
int fmt_syslog_severity(const cJSON *ev);
int fmt_scale10(int syslog_severity);

/* fmt_kind_names[k] is the name of kind k as the configuration writes it
 * ("default", "json", "cef", ...); NULL after the last. */
extern const char *const fmt_kind_names[];

/* fmt_render() appends ev in format k to b.  Returns 0, or -ENOMEM. */
int fmt_render(enum fmt_kind k, const cJSON *ev, const struct fmt_opts *o,
               struct fmt_buf *b);

/* The formatters fmt_render() dispatches to, one file each. */
void fmt_cef(const cJSON *ev, struct fmt_buf *b);
void fmt_leef(const cJSON *ev, struct fmt_buf *b);
void fmt_5424(const cJSON *ev, const struct fmt_opts *o, struct fmt_buf *b);
void fmt_5424_head(const cJSON *ev, const struct fmt_opts *o,
                   struct fmt_buf *b);
void fmt_hook(enum fmt_kind k, const cJSON *ev, struct fmt_buf *b);

#endif
