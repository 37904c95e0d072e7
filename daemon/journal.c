/* SPDX-License-Identifier: MIT
 *
 * journal: JSON lines appended with O_APPEND, one write(2) and an fsync
 * each.  A crash can only cut the last line short; such a line is kept
 * (never rewritten in place) and recognised on reading, either because
 * it is the last one and lacks its newline, or because journal_open()
 * put a "torn" marker right after it before appending anything else.
 */
#include "journal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "atomic.h"
#include "conflict.h"
#include "jsonx.h"
#include "timex.h"

struct journal {
  int fd;
  int torn; /* the file ends in a cut line: mark it before the next record */
};

static const char *const kind_names[] = {"intent", "applied", "failed",
                                         "reconciled", "torn"};

const char *journal_kind_name(enum journal_kind k)
{
  return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0])
             ? kind_names[k]
             : "unknown";
}

int journal_open(const char *path, struct journal **out)
{
  struct journal *j = calloc(1, sizeof(*j));
  struct stat sb;
  char last = '\n';
  int rc;

  if(!j)
    return -ENOMEM;
  j->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if(j->fd < 0) {
    rc = -errno;
    free(j);
    return rc;
  }
  if(fstat(j->fd, &sb) < 0 ||
     (sb.st_size > 0 && pread(j->fd, &last, 1, sb.st_size - 1) != 1)) {
    rc = -errno;
    journal_close(j);
    return rc;
  }
  j->torn = last != '\n';
  *out = j;
  return 0;
}

void journal_close(struct journal *j)
{
  if(!j)
    return;
  close(j->fd);
  free(j);
}

/* The string members of a record, in the order a line holds them. */
static const struct {
  const char *name;
  size_t off;
} strs[] = {
    {"tenant", offsetof(struct journal_record, tenant)},
    {"userId", offsetof(struct journal_record, user_id)},
    {"upn", offsetof(struct journal_record, upn)},
    {"oldValue", offsetof(struct journal_record, old_value)},
    {"newValue", offsetof(struct journal_record, new_value)},
    {"source", offsetof(struct journal_record, source)},
    {"reference", offsetof(struct journal_record, reference)},
    {"clientRequestId", offsetof(struct journal_record, client_request_id)},
    {"patchRequestId", offsetof(struct journal_record, patch_request_id)},
    {"getRequestId", offsetof(struct journal_record, get_request_id)},
    {"error", offsetof(struct journal_record, error)},
};

#define NSTRS (sizeof(strs) / sizeof(strs[0]))

/* to_json() builds the line for r (with its newline, malloc'd) or returns
 * NULL when out of memory.  An unset string member is left out, except
 * oldValue, which is null when the user had none (a torn marker has no
 * oldValue at all). */
static char *to_json(const struct journal_record *r)
{
  char when[TIMEX_ISO_LEN], *line;
  cJSON *o = cJSON_CreateObject();
  size_t i;
  int rc;

  if(!o)
    return NULL;
  timex_format_iso(r->when, when, sizeof(when));
  rc = jsonx_add_str(o, "kind", journal_kind_name(r->kind)) ||
       jsonx_add_str(o, "when", when);
  for(i = 0; !rc && i < NSTRS; i++) {
    const char *v =
        *(const char *const *)(const void *)((const char *)r + strs[i].off);

    if(v || (strs[i].off == offsetof(struct journal_record, old_value) &&
             r->kind != JOURNAL_TORN))
      rc = jsonx_add_str(o, strs[i].name, v);
  }
  if(!rc && r->kind == JOURNAL_RECONCILED)
    rc = jsonx_add_bool(o, "found", r->found);
  line = rc ? NULL : jsonx_print_line(o, NULL);
  cJSON_Delete(o);
  return line;
}

static int empty(const char *s)
{
  return !s || !*s;
}

/* check_record() returns NULL when r has every member its kind needs, or
 * the name of one that is missing. */
static const char *check_record(const struct journal_record *r)
{
  if((unsigned)r->kind > JOURNAL_TORN)
    return "kind";
  if(r->kind == JOURNAL_TORN)
    return NULL;
  if(empty(r->tenant))
    return "tenant";
  if(empty(r->user_id))
    return "userId";
  if(empty(r->new_value))
    return "newValue";
  if(empty(r->client_request_id))
    return "clientRequestId";
  if(r->kind == JOURNAL_INTENT && empty(r->source))
    return "source";
  if(r->kind == JOURNAL_INTENT && empty(r->reference))
    return "reference";
  if(r->kind == JOURNAL_FAILED && empty(r->error))
    return "error";
  return NULL;
}

/* write_line() writes one line with one write(2) and fsyncs. */
static int write_line(struct journal *j, const char *line)
{
  int rc = atomic_write_all(j->fd, line, strlen(line));

  if(!rc && fsync(j->fd) < 0)
    rc = -errno;
  return rc;
}

int journal_append(struct journal *j, const struct journal_record *r)
{
  char *line;
  int rc;

  if(r->kind == JOURNAL_TORN || check_record(r))
    return -EINVAL;
  if(j->torn) {
    struct journal_record mark = {.kind = JOURNAL_TORN, .when = r->when};
    char *m = to_json(&mark), *both = NULL;

    if(!m || asprintf(&both, "\n%s", m) < 0) {
      free(m);
      return -ENOMEM;
    }
    free(m);
    rc = write_line(j, both);
    free(both);
    if(rc)
      return rc;
    j->torn = 0;
  }
  line = to_json(r);
  if(!line)
    return -ENOMEM;
  rc = write_line(j, line);
  free(line);
  return rc;
}

/* ===== Reading ===== */

/* parse_record() fills r from the JSON object o (strings point into o).
 * Returns NULL, or a reason the line is not a valid record (static, or
 * written into buf). */
static const char *parse_record(const cJSON *o, struct journal_record *r,
                                char *buf, size_t buflen)
{
  const char *kind, *when, *missing;
  size_t i;
  int found;

  memset(r, 0, sizeof(*r));
  if(!cJSON_IsObject(o))
    return "not a JSON object";
  if(jsonx_get_str(o, "kind", &kind) || !kind)
    return "no \"kind\"";
  for(i = 0; i <= JOURNAL_TORN && strcmp(kind, kind_names[i]); i++)
    ;
  if(i > JOURNAL_TORN) {
    snprintf(buf, buflen, "unknown kind \"%s\"", kind);
    return buf;
  }
  r->kind = (enum journal_kind)i;
  if(jsonx_get_str(o, "when", &when) || !when ||
     timex_parse_iso(when, &r->when))
    return "\"when\" is missing or not a time";
  for(i = 0; i < NSTRS; i++)
    if(jsonx_get_str(o, strs[i].name,
                     (const char **)(void *)((char *)r + strs[i].off))) {
      snprintf(buf, buflen, "\"%s\" is not a string", strs[i].name);
      return buf;
    }
  if(r->kind == JOURNAL_RECONCILED) {
    if(jsonx_get_bool(o, "found", &found) || found == JSONX_UNSET)
      return "\"found\" is missing or not true/false";
    r->found = found;
  }
  missing = check_record(r);
  if(missing) {
    snprintf(buf, buflen, "%s record without \"%s\"", kind, missing);
    return buf;
  }
  return NULL;
}

int journal_read(const char *path, const char *tenant, journal_record_cb cb,
                 void *arg, unsigned *torn_line, char *err, size_t errlen)
{
  char *line = NULL, why_buf[160], bad_why[200];
  unsigned n = 0, bad = 0;
  size_t cap = 0;
  ssize_t len;
  int rc = 0, had_nl = 1;
  FILE *f = fopen(path, "re");

  if(torn_line)
    *torn_line = 0;
  if(!f) {
    rc = -errno;
    snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    return rc;
  }
  for(len = getline(&line, &cap, f); len >= 0 && !rc;
      len = getline(&line, &cap, f)) {
    struct journal_record r;
    const char *why = NULL;
    cJSON *o;

    n++;
    had_nl = len > 0 && line[len - 1] == '\n';
    if(had_nl)
      line[--len] = '\0';
    o = cJSON_ParseWithLength(line, (size_t)len);
    if(!o)
      why = "not valid JSON";
    else
      why = parse_record(o, &r, why_buf, sizeof(why_buf));
    if(!why && r.kind == JOURNAL_TORN) {
      if(bad && torn_line)
        *torn_line = bad;
      bad = 0;
      cJSON_Delete(o);
      continue;
    }
    if(bad) {
      snprintf(err, errlen, "%s:%u: %s", path, bad, bad_why);
      rc = -EBADMSG;
    }
    else if(why) {
      bad = n;
      snprintf(bad_why, sizeof(bad_why), "%s", why);
    }
    else if(tenant && strcmp(r.tenant, tenant)) {
      snprintf(err, errlen, "%s:%u: record for tenant \"%s\", not \"%s\"", path,
               n, r.tenant, tenant);
      rc = -EBADMSG;
    }
    else
      rc = cb(arg, &r, n);
    cJSON_Delete(o);
  }
  if(!rc && ferror(f)) {
    rc = -EIO;
    snprintf(err, errlen, "%s: read error", path);
  }
  else if(!rc && bad) {
    if(!had_nl && bad == n) {
      if(torn_line)
        *torn_line = bad;
    }
    else {
      snprintf(err, errlen, "%s:%u: %s", path, bad, bad_why);
      rc = -EBADMSG;
    }
  }
  free(line);
  fclose(f);
  return rc;
}

/* ===== The state at start ===== */

struct load {
  struct journal_state *st;
  const char *path;
  char *err;
  size_t errlen;
};

/* pack() copies r's strings into one malloc'd block, p->mem. */
static int pack(struct journal_pending *p, const struct journal_record *r)
{
  const char **fields[] = {&p->rec.tenant,
                           &p->rec.user_id,
                           &p->rec.upn,
                           &p->rec.old_value,
                           &p->rec.new_value,
                           &p->rec.source,
                           &p->rec.reference,
                           &p->rec.client_request_id,
                           &p->rec.patch_request_id,
                           &p->rec.get_request_id,
                           &p->rec.error};
  size_t i, need = 0, at = 0;

  p->rec = *r;
  for(i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
    need += *fields[i] ? strlen(*fields[i]) + 1 : 0;
  p->mem = malloc(need ? need : 1);
  if(!p->mem)
    return -ENOMEM;
  for(i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    size_t l;

    if(!*fields[i])
      continue;
    l = strlen(*fields[i]) + 1;
    memcpy(p->mem + at, *fields[i], l);
    *fields[i] = p->mem + at;
    at += l;
  }
  return 0;
}

static int load_cb(void *arg, const struct journal_record *r, unsigned line)
{
  struct load *ld = arg;
  struct journal_state *st = ld->st;
  char *key;
  size_t i;
  int rc;

  for(i = 0; i < st->npending &&
             strcmp(st->pending[i].rec.client_request_id, r->client_request_id);
      i++)
    ;
  if(r->kind == JOURNAL_INTENT) {
    struct journal_pending *p;

    if(i < st->npending) {
      snprintf(ld->err, ld->errlen,
               "%s:%u: second intent for clientRequestId %s (line %u has "
               "no outcome yet)",
               ld->path, line, r->client_request_id, st->pending[i].line);
      return -EBADMSG;
    }
    p = realloc(st->pending, (st->npending + 1) * sizeof(*p));
    if(!p)
      return -ENOMEM;
    st->pending = p;
    p += st->npending;
    if(pack(p, r))
      return -ENOMEM;
    p->line = line;
    st->npending++;
    return 0;
  }
  if(i == st->npending) {
    snprintf(ld->err, ld->errlen,
             "%s:%u: %s record for clientRequestId %s without an intent "
             "before it",
             ld->path, line, journal_kind_name(r->kind), r->client_request_id);
    return -EBADMSG;
  }
  free(st->pending[i].mem);
  memmove(&st->pending[i], &st->pending[i + 1],
          (st->npending - i - 1) * sizeof(st->pending[0]));
  st->npending--;
  if(r->kind == JOURNAL_FAILED) {
    st->total_failed++;
    return 0;
  }
  if(r->kind == JOURNAL_RECONCILED && !r->found)
    return 0;
  if(asprintf(&key, "%s\t%s", r->user_id, r->new_value) < 0)
    return -ENOMEM;
  for(i = 0; key[i] != '\t'; i++)
    key[i] = (char)tolower((unsigned char)key[i]);
  rc = strlist_add(&st->applied, key);
  free(key);
  if(rc)
    return rc;
  st->total_applied++;
  return 0;
}

int journal_load(const char *path, const char *tenant, struct journal_state *st,
                 char *err, size_t errlen)
{
  struct load ld = {st, path, err, errlen};
  int rc;

  rc = journal_read(path, tenant, load_cb, &ld, &st->torn_line, err, errlen);
  if(rc == -ENOENT)
    return 0;
  if(rc == -ENOMEM)
    snprintf(err, errlen, "%s: out of memory", path);
  if(rc)
    journal_state_clear(st);
  return rc;
}

int journal_state_applied(const struct journal_state *st, const char *user_id,
                          const char *value)
{
  size_t ul = strlen(user_id), i;

  for(i = 0; i < st->applied.n; i++) {
    const char *a = st->applied.v[i];

    if(strncasecmp(a, user_id, ul) || a[ul] != '\t')
      continue;
    if(!value || !strcmp(a + ul + 1, value))
      return 1;
  }
  return 0;
}

void journal_state_clear(struct journal_state *st)
{
  size_t i;

  for(i = 0; i < st->npending; i++)
    free(st->pending[i].mem);
  free(st->pending);
  strlist_clear(&st->applied);
  memset(st, 0, sizeof(*st));
}
