/* SPDX-License-Identifier: MIT
 *
 * anchors: known-anchor files.  A small streaming RFC 4180 reader feeds
 * both file kinds; a set keeps two open-addressing indexes (by target,
 * case-folded, and by anchor, exact) so that duplicate checks and look-ups
 * stay O(1) for imports of tens of thousands of lines.
 */
#include "anchors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "anchor.h"
#include "csv.h"
#include "atomic.h"
#include "buf.h"
#include "hashx.h"
#include "log.h"
#include "plat.h"
#include "strlist.h"
#include "timex.h"

/* Entra's UPN limit: 64 characters before the '@', 113 in all. */
#define UPN_MAX 113

struct anchors_set {
  struct anchors_entry *v;
  size_t n, cap;
  size_t want_len;
  size_t *by_target, *by_anchor; /* entry index + 1; 0 = free */
  size_t icap;                   /* a power of two, or 0 */
};

/* A column of a file kind: its name and whether it must be there. */
struct column {
  const char *name;
  int required;
};

/* ===== Reporting ===== */

struct rep {
  anchors_report_cb cb;
  void *arg;
  const char *file;
  int errors;
};

static void report(struct rep *r, enum anchors_level level, unsigned line,
                   const char *fmt, ...) QD_PRINTF(4, 5);

static void report(struct rep *r, enum anchors_level level, unsigned line,
                   const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if(level == ANCHORS_ERROR)
    r->errors++;
  if(r->cb) {
    r->cb(r->arg, level, r->file, line, msg);
    return;
  }
  if(level == ANCHORS_ERROR)
    log_errx("anchors: %s:%u: %s", r->file, line, msg);
  else if(level == ANCHORS_WARNING)
    log_warnx("anchors: %s:%u: %s", r->file, line, msg);
  else
    log_info("anchors: %s:%u: %s", r->file, line, msg);
}

/* read_header() reads the header record and maps each known column to its
 * field index in idx (-1 when absent).  Returns 0, or -EBADMSG / -ENOMEM
 * (reported). */
static int read_header(struct csv *c, struct rep *r, const struct column *cols,
                       size_t ncols, int *idx)
{
  const char *why = "";
  size_t i, j;
  int rc = csv_next(c, &why);

  if(rc == 0) {
    report(r, ANCHORS_ERROR, c->start, "no header line");
    return -EBADMSG;
  }
  if(rc == -EBADMSG)
    report(r, ANCHORS_ERROR, c->start, "header line: %s", why);
  if(rc < 0)
    return rc;
  for(j = 0; j < ncols; j++)
    idx[j] = -1;
  for(i = 0; i < c->fields.n; i++) {
    for(j = 0; j < ncols && strcasecmp(c->fields.v[i], cols[j].name); j++)
      ;
    if(j == ncols) {
      report(r, ANCHORS_ERROR, c->start, "header line: unknown column '%s'",
             c->fields.v[i]);
      return -EBADMSG;
    }
    if(idx[j] >= 0) {
      report(r, ANCHORS_ERROR, c->start, "header line: column '%s' twice",
             cols[j].name);
      return -EBADMSG;
    }
    idx[j] = (int)i;
  }
  for(j = 0; j < ncols; j++)
    if(cols[j].required && idx[j] < 0) {
      report(r, ANCHORS_ERROR, c->start, "header line: column '%s' is missing",
             cols[j].name);
      return -EBADMSG;
    }
  return 0;
}

/* field() returns column j of the current record (owned by c), or ""
 * when the column is absent. */
static char *field(const struct csv *c, const int *idx, size_t j)
{
  static char none[1];

  return idx[j] >= 0 ? c->fields.v[idx[j]] : none;
}

/* next_record() reads the next data record, reporting syntax errors and
 * wrong field counts and going on to the next line.  Returns 1, 0 at the
 * end, or -ENOMEM. */
static int next_record(struct csv *c, struct rep *r, size_t want_fields)
{
  const char *why;
  int rc;

  for(;;) {
    rc = csv_next(c, &why);
    if(rc == -EBADMSG) {
      report(r, ANCHORS_ERROR, c->start, "%s", why);
      continue;
    }
    if(rc <= 0)
      return rc;
    if(c->fields.n != want_fields) {
      report(r, ANCHORS_ERROR, c->start, "%zu field%s, the header has %zu",
             c->fields.n, c->fields.n == 1 ? "" : "s", want_fields);
      continue;
    }
    return 1;
  }
}

/* ===== The set ===== */

struct anchors_set *anchors_set_new(size_t want_len)
{
  struct anchors_set *s = calloc(1, sizeof(*s));

  if(s)
    s->want_len = want_len;
  return s;
}

static void entry_free(struct anchors_entry *e)
{
  free(e->target);
  free(e->anchor);
  free(e->reference);
  free(e->file);
  free(e->note);
}

void anchors_set_free(struct anchors_set *s)
{
  size_t i;

  if(!s)
    return;
  for(i = 0; i < s->n; i++)
    entry_free(&s->v[i]);
  free(s->v);
  free(s->by_target);
  free(s->by_anchor);
  free(s);
}

const char *anchors_source_name(enum anchors_source s)
{
  switch(s) {
  case ANCHORS_SUGGESTION:
    return "suggestion";
  case ANCHORS_CSEXPORT:
    return "csexport";
  default:
    return "csv";
  }
}

size_t anchors_set_count(const struct anchors_set *s)
{
  return s->n;
}

const struct anchors_entry *anchors_set_get(const struct anchors_set *s,
                                            size_t i)
{
  return i < s->n ? &s->v[i] : NULL;
}

/* slot() returns the slot of key in the target (fold) or anchor index: the
 * one holding it, or the free one where it would go. */
static size_t *slot(const struct anchors_set *s, int fold, const char *key)
{
  size_t *tab = fold ? s->by_target : s->by_anchor;
  size_t i = (size_t)hashx(key, fold) & (s->icap - 1);

  for(;; i = (i + 1) & (s->icap - 1)) {
    const struct anchors_entry *e;

    if(!tab[i])
      return &tab[i];
    e = &s->v[tab[i] - 1];
    if(fold ? !strcasecmp(e->target, key) : !strcmp(e->anchor, key))
      return &tab[i];
  }
}

/* grow_index() doubles the indexes and puts every entry back. */
static int grow_index(struct anchors_set *s)
{
  size_t cap = s->icap ? 2 * s->icap : 64, i;
  size_t *t = calloc(cap, sizeof(*t)), *a = calloc(cap, sizeof(*a));

  if(!t || !a) {
    free(t);
    free(a);
    return -ENOMEM;
  }
  free(s->by_target);
  free(s->by_anchor);
  s->by_target = t;
  s->by_anchor = a;
  s->icap = cap;
  for(i = 0; i < s->n; i++) {
    *slot(s, 1, s->v[i].target) = i + 1;
    *slot(s, 0, s->v[i].anchor) = i + 1;
  }
  return 0;
}

/* check_target() tells whether t is an object id (1, with the lower-case
 * form in id) or a plausible UPN (0); -EINVAL with *why otherwise. */
static int check_target(const char *t, char id[ANCHOR_GUID_TEXT_LEN],
                        const char **why)
{
  unsigned char b[ANCHOR_GUID_BYTES];
  const char *at;
  size_t i;

  if(!t || !*t) {
    *why = "target is empty";
    return -EINVAL;
  }
  if(!anchor_guid_parse(t, b)) {
    anchor_guid_format(b, id);
    return 1;
  }
  for(i = 0; t[i]; i++)
    if((unsigned char)t[i] <= ' ' || t[i] == 0x7f) {
      *why = "target contains white space or a control character";
      return -EINVAL;
    }
  at = strchr(t, '@');
  if(!at || at == t || !at[1] || strchr(at + 1, '@')) {
    *why = "target is neither an object id (GUID) nor a UPN (user@domain)";
    return -EINVAL;
  }
  if(i > UPN_MAX || at - t > 64) {
    *why = "target is longer than a UPN can be (64 characters before the "
           "'@', 113 in all)";
    return -EINVAL;
  }
  return 0;
}

int anchors_add(struct anchors_set *s, const struct anchors_entry *e,
                const struct anchors_entry **clash, char *buf, size_t buflen,
                const char **why)
{
  char id[ANCHOR_GUID_TEXT_LEN];
  struct anchors_entry n;
  enum anchor_error ae;
  size_t got, *ts, *as;
  int is_id, rc;

  is_id = check_target(e->target, id, why);
  if(is_id < 0)
    return is_id;
  ae = anchor_check(e->anchor, s->want_len, NULL, &got);
  if(ae != ANCHOR_OK) {
    char r[96];

    snprintf(buf, buflen, "anchor '%s': %s", e->anchor ? e->anchor : "",
             anchor_strerror(ae, s->want_len, got, r, sizeof(r)));
    *why = buf;
    return -EINVAL;
  }
  if(!e->reference || !*e->reference) {
    *why = "reference is empty (name the ticket or reason)";
    return -EINVAL;
  }
  if(2 * (s->n + 1) > s->icap) {
    rc = grow_index(s);
    if(rc)
      return rc;
  }
  ts = slot(s, 1, is_id ? id : e->target);
  as = slot(s, 0, e->anchor);
  if(*ts || *as) {
    if(clash)
      *clash = &s->v[(*ts ? *ts : *as) - 1];
    return *ts ? -EEXIST : -ENOTUNIQ;
  }
  if(s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 32;
    struct anchors_entry *v = realloc(s->v, cap * sizeof(*v));

    if(!v)
      return -ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  memset(&n, 0, sizeof(n));
  n.target = strdup(is_id ? id : e->target);
  n.target_is_id = is_id;
  n.anchor = strdup(e->anchor);
  n.reference = strdup(e->reference);
  n.expires = e->expires;
  n.source = e->source;
  n.file = strdup(e->file ? e->file : "");
  n.line = e->line;
  n.note = e->note ? strdup(e->note) : NULL;
  if(!n.target || !n.anchor || !n.reference || !n.file ||
     (e->note && !n.note)) {
    entry_free(&n);
    return -ENOMEM;
  }
  s->v[s->n++] = n;
  *ts = s->n;
  *as = s->n;
  return 0;
}

const struct anchors_entry *anchors_find(const struct anchors_set *s,
                                         const char *user_id, const char *upn)
{
  unsigned char b[ANCHOR_GUID_BYTES];
  char id[ANCHOR_GUID_TEXT_LEN];
  size_t *p;

  if(!s->icap)
    return NULL;
  if(user_id && !anchor_guid_parse(user_id, b)) {
    anchor_guid_format(b, id);
    p = slot(s, 1, id);
    if(*p)
      return &s->v[*p - 1];
  }
  if(upn && *upn) {
    p = slot(s, 1, upn);
    if(*p)
      return &s->v[*p - 1];
  }
  return NULL;
}

/* add_reported() adds e to s and reports why not.  A target already in s
 * with the same anchor from another file is only a warning. */
static int add_reported(struct anchors_set *s, struct rep *r,
                        const struct anchors_entry *e)
{
  const struct anchors_entry *old = NULL;
  const char *why = "";
  char buf[160];
  int rc = anchors_add(s, e, &old, buf, sizeof(buf), &why);

  if(rc == -EINVAL)
    report(r, ANCHORS_ERROR, e->line, "%s", why);
  else if(rc == -EEXIST && !strcmp(old->anchor, e->anchor) &&
          strcmp(old->file, e->file))
    report(r, ANCHORS_WARNING, e->line,
           "target %s with the same anchor is already known from %s:%u; "
           "ignored",
           e->target, old->file, old->line);
  else if(rc == -EEXIST)
    report(r, ANCHORS_ERROR, e->line,
           "target %s is already listed at %s:%u (anchor %s)", e->target,
           old->file, old->line, old->anchor);
  else if(rc == -ENOTUNIQ)
    report(r, ANCHORS_ERROR, e->line,
           "anchor %s is already mapped to %s at %s:%u; one anchor cannot "
           "belong to two users",
           e->anchor, old->target, old->file, old->line);
  return rc == -ENOMEM ? rc : 0;
}

/* parse_expiry() reads "" (never), YYYY-MM-DD (the end of that day, UTC)
 * or an ISO 8601 date-time.  Returns 0 or -EINVAL. */
static int parse_expiry(const char *s, time_t *out)
{
  *out = 0;
  if(!*s)
    return 0;
  if(strlen(s) == 10) {
    if(timex_parse_date(s, out))
      return -EINVAL;
    *out += 86400;
    return 0;
  }
  return timex_parse_iso(s, out);
}

enum { C_TARGET, C_ANCHOR, C_REFERENCE, C_EXPIRES, C_NCOLS };
static const struct column csv_cols[C_NCOLS] = {
    {"target", 1}, {"anchor", 1}, {"reference", 1}, {"expires", 0}};

int anchors_load_csv(struct anchors_set *s, const char *path, time_t now,
                     anchors_report_cb cb, void *arg)
{
  struct rep r = {cb, arg, path, 0};
  int idx[C_NCOLS], rc;
  char *file;
  size_t nhdr;
  struct csv c;

  rc = csv_open(&c, path);
  if(rc) {
    report(&r, ANCHORS_ERROR, 0, "cannot open: %s", strerror(-rc));
    return rc;
  }
  file = strdup(path);
  if(!file) {
    csv_free(&c);
    return -ENOMEM;
  }
  rc = read_header(&c, &r, csv_cols, C_NCOLS, idx);
  nhdr = c.fields.n;
  while(!rc) {
    rc = next_record(&c, &r, nhdr);
    if(rc != 1)
      break;
    rc = 0;
    struct anchors_entry e;
    char when[TIMEX_ISO_LEN];

    memset(&e, 0, sizeof(e));
    e.target = field(&c, idx, C_TARGET);
    e.anchor = field(&c, idx, C_ANCHOR);
    e.reference = field(&c, idx, C_REFERENCE);
    e.source = ANCHORS_CSV;
    e.file = file;
    e.line = c.start;
    if(parse_expiry(field(&c, idx, C_EXPIRES), &e.expires)) {
      report(&r, ANCHORS_ERROR, c.start,
             "expires '%s' is not a date (YYYY-MM-DD) or an ISO 8601 "
             "date-time",
             field(&c, idx, C_EXPIRES));
      continue;
    }
    if(e.expires && e.expires <= now) {
      timex_format_iso(e.expires, when, sizeof(when));
      report(&r, ANCHORS_SKIPPED, c.start, "target %s: expired at %s; skipped",
             e.target, when);
      continue;
    }
    rc = add_reported(s, &r, &e);
  }
  csv_free(&c);
  free(file);
  if(rc < 0)
    return rc;
  return r.errors ? -EBADMSG : 0;
}

/* ===== The suggestions file ===== */

enum {
  S_APPROVED,
  S_TARGET,
  S_ANCHOR,
  S_REFERENCE,
  S_CONFLICT,
  S_HOLDERS,
  S_VALUE,
  S_CREATED,
  S_REASON,
  S_NCOLS
};
static const struct column sugg_cols[S_NCOLS] = {
    {"approved", 1},  {"target", 1},   {"anchor", 1},
    {"reference", 1}, {"conflict", 1}, {"holders", 0},
    {"value", 0},     {"created", 1},  {"reason", 0}};

static void sugg_free(struct anchors_suggestion *sg)
{
  free(sg->target);
  free(sg->anchor);
  free(sg->reference);
  free(sg->conflict);
  free(sg->holders);
  free(sg->value);
  free(sg->reason);
}

void anchors_suggestions_clear(struct anchors_suggestions *l)
{
  size_t i;

  for(i = 0; i < l->n; i++)
    sugg_free(&l->v[i]);
  free(l->v);
  memset(l, 0, sizeof(*l));
}

/* sugg_push() appends a deep copy of sg to l.  Returns 0 or -ENOMEM. */
static int sugg_push(struct anchors_suggestions *l,
                     const struct anchors_suggestion *sg)
{
  struct anchors_suggestion n;

  if(l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    struct anchors_suggestion *v = realloc(l->v, cap * sizeof(*v));

    if(!v)
      return -ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  n = *sg;
  n.target = strdup(sg->target);
  n.anchor = strdup(sg->anchor);
  n.reference = strdup(sg->reference);
  n.conflict = strdup(sg->conflict ? sg->conflict : "");
  n.holders = strdup(sg->holders ? sg->holders : "");
  n.value = strdup(sg->value ? sg->value : "");
  n.reason = strdup(sg->reason ? sg->reason : "");
  if(!n.target || !n.anchor || !n.reference || !n.conflict || !n.holders ||
     !n.value || !n.reason) {
    sugg_free(&n);
    return -ENOMEM;
  }
  l->v[l->n++] = n;
  return 0;
}

int anchors_suggestions_read(const char *path, struct anchors_suggestions *l,
                             anchors_report_cb cb, void *arg)
{
  struct rep r = {cb, arg, path, 0};
  int idx[S_NCOLS], rc;
  size_t nhdr, j;
  struct csv c;

  rc = csv_open(&c, path);
  if(rc) { /* no file yet: -ENOENT, not reported */
    if(rc != -ENOENT)
      report(&r, ANCHORS_ERROR, 0, "cannot open: %s", strerror(-rc));
    return rc;
  }
  rc = read_header(&c, &r, sugg_cols, S_NCOLS, idx);
  nhdr = c.fields.n;
  while(!rc) {
    rc = next_record(&c, &r, nhdr);
    if(rc != 1)
      break;
    rc = 0;
    struct anchors_suggestion sg;
    const char *ap = field(&c, idx, S_APPROVED);

    memset(&sg, 0, sizeof(sg));
    if(!strcasecmp(ap, "yes"))
      sg.approved = 1;
    else if(strcasecmp(ap, "no")) {
      report(&r, ANCHORS_ERROR, c.start, "approved is '%s', not yes or no", ap);
      continue;
    }
    for(j = 0; j < S_NCOLS && !(sugg_cols[j].required && !*field(&c, idx, j));
        j++)
      ;
    if(j < S_NCOLS) {
      report(&r, ANCHORS_ERROR, c.start, "%s is empty", sugg_cols[j].name);
      continue;
    }
    if(timex_parse_iso(field(&c, idx, S_CREATED), &sg.created)) {
      report(&r, ANCHORS_ERROR, c.start,
             "created '%s' is not an ISO 8601 date-time",
             field(&c, idx, S_CREATED));
      continue;
    }
    sg.target = field(&c, idx, S_TARGET);
    sg.anchor = field(&c, idx, S_ANCHOR);
    sg.reference = field(&c, idx, S_REFERENCE);
    sg.conflict = field(&c, idx, S_CONFLICT);
    sg.holders = field(&c, idx, S_HOLDERS);
    sg.value = field(&c, idx, S_VALUE);
    sg.reason = field(&c, idx, S_REASON);
    sg.line = c.start;
    rc = sugg_push(l, &sg);
  }
  csv_free(&c);
  if(rc < 0)
    return rc;
  return r.errors ? -EBADMSG : 0;
}

int anchors_suggestions_add(struct anchors_suggestions *l,
                            const struct anchors_suggestion *sg)
{
  size_t i;

  if(!sg->target || !*sg->target || !sg->anchor || !*sg->anchor ||
     !sg->reference || !*sg->reference)
    return -EINVAL;
  for(i = 0; i < l->n; i++)
    if(!strcasecmp(l->v[i].target, sg->target) &&
       !strcmp(l->v[i].anchor, sg->anchor))
      return -EEXIST;
  return anchors_suggestions_append(l, sg);
}

int anchors_suggestions_append(struct anchors_suggestions *l,
                               const struct anchors_suggestion *sg)
{
  struct anchors_suggestion n;

  if(!sg->target || !*sg->target || !sg->anchor || !*sg->anchor ||
     !sg->reference || !*sg->reference)
    return -EINVAL;
  n = *sg;
  n.line = 0;
  return sugg_push(l, &n);
}

int anchors_suggestions_approve(struct anchors_suggestions *l,
                                const char *target, const char *anchor)
{
  size_t i;
  int found = -ENOENT;

  for(i = 0; i < l->n; i++) {
    const struct anchors_suggestion *sg = &l->v[i];

    if(strcasecmp(sg->target, target) && strcasecmp(sg->value, target))
      continue;
    if(anchor && strcmp(sg->anchor, anchor))
      continue;
    if(found >= 0)
      return -EEXIST;
    found = (int)i;
  }
  if(found >= 0)
    l->v[found].approved = 1;
  return found;
}

int anchors_csv_row(struct buf *b, const char *const *fields, size_t n)
{
  size_t i;
  int rc = 0;

  for(i = 0; i < n && !rc; i++) {
    const char *v = fields[i] ? fields[i] : "", *p, *q;

    if(i)
      rc = buf_append(b, ",", 1);
    if(rc)
      break;
    if(!strpbrk(v, ",\"\r\n") && *v != '#' && *v != ' ' && *v != '\t') {
      rc = buf_append(b, v, strlen(v));
      continue;
    }
    /* each '"' is doubled: the run up to and with it, then one more */
    rc = buf_append(b, "\"", 1);
    for(p = v; !rc && (q = strchr(p, '"')); p = q + 1)
      if(!(rc = buf_append(b, p, (size_t)(q - p) + 1)))
        rc = buf_append(b, "\"", 1);
    if(!rc)
      rc = buf_append(b, p, strlen(p));
    if(!rc)
      rc = buf_append(b, "\"", 1);
  }
  return rc ? rc : buf_append(b, "\n", 1);
}

int anchors_suggestions_lock(const char *path, bool wait)
{
  char *lock;
  int fd, rc = 0;

  if(asprintf(&lock, "%s.lock", path) < 0)
    return -ENOMEM;
  fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if(fd < 0)
    rc = -errno;
  free(lock);
  if(rc)
    return rc;
  rc = plat_lock(fd, wait);
  if(rc) {
    close(fd);
    return rc;
  }
  return fd;
}

void anchors_suggestions_unlock(int fd)
{
  if(fd >= 0)
    close(fd); /* releases the flock */
}

int anchors_suggestions_text_some(const struct anchors_suggestions *l,
                                  struct buf *b, size_t *next, size_t max)
{
  char created[TIMEX_ISO_LEN];

  if(!*next && max) {
    if(buf_append(b, ANCHORS_SUGGESTIONS_HEADER "\n",
                  strlen(ANCHORS_SUGGESTIONS_HEADER "\n")))
      return -ENOMEM;
    (*next)++;
    max--;
  }
  /* Line *next is suggestion *next - 1, after the header. */
  for(; max && *next <= l->n; (*next)++, max--) {
    const struct anchors_suggestion *sg = &l->v[*next - 1];
    const char *row[S_NCOLS];

    timex_format_iso(sg->created, created, sizeof(created));
    row[S_APPROVED] = sg->approved ? "yes" : "no";
    row[S_TARGET] = sg->target;
    row[S_ANCHOR] = sg->anchor;
    row[S_REFERENCE] = sg->reference;
    row[S_CONFLICT] = sg->conflict;
    row[S_HOLDERS] = sg->holders;
    row[S_VALUE] = sg->value;
    row[S_CREATED] = created;
    row[S_REASON] = sg->reason;
    if(anchors_csv_row(b, row, S_NCOLS))
      return -ENOMEM;
  }
  return *next > l->n;
}

int anchors_suggestions_text(const struct anchors_suggestions *l, char **out,
                             size_t *out_len)
{
  struct buf text = {NULL, 0, 0};
  size_t next = 0;

  if(anchors_suggestions_text_some(l, &text, &next, SIZE_MAX) < 0) {
    free(text.data);
    return -ENOMEM;
  }
  *out = text.data;
  *out_len = text.len;
  return 0;
}

int anchors_suggestions_write(const char *path,
                              const struct anchors_suggestions *l,
                              const char **what)
{
  char *text = NULL;
  size_t len = 0;
  int rc = anchors_suggestions_text(l, &text, &len);

  if(rc) {
    *what = "out of memory";
    return rc;
  }
  rc = atomic_write(path, text, len, 0640, what);
  free(text);
  return rc;
}

int anchors_load_suggestions(struct anchors_set *s, const char *path,
                             time_t now, anchors_report_cb cb, void *arg)
{
  struct anchors_suggestions l = {NULL, 0, 0};
  struct rep r = {cb, arg, path, 0};
  char *file = NULL;
  size_t i;
  int rc, rc2 = 0;

  (void)now; /* suggestions carry no expiry */
  rc = anchors_suggestions_read(path, &l, cb, arg);
  if(rc && rc != -EBADMSG) {
    anchors_suggestions_clear(&l);
    return rc;
  }
  file = strdup(path);
  if(!file)
    rc2 = -ENOMEM;
  for(i = 0; i < l.n && !rc2; i++) {
    struct anchors_entry e;

    if(!l.v[i].approved)
      continue;
    memset(&e, 0, sizeof(e));
    e.target = l.v[i].target;
    e.anchor = l.v[i].anchor;
    e.reference = l.v[i].reference;
    e.source = ANCHORS_SUGGESTION;
    e.file = file;
    e.line = l.v[i].line;
    rc2 = add_reported(s, &r, &e);
  }
  anchors_suggestions_clear(&l);
  free(file);
  if(rc2)
    return rc2;
  return rc || r.errors ? -EBADMSG : 0;
}
