/* SPDX-License-Identifier: MIT
 *
 * store: the per-tenant state file.  Saving writes the whole document to
 * a temp file and renames it into place, so a reader sees either the old
 * or the new state, never a torn one.  Loading validates every member; a
 * file that fails is moved aside rather than deleted, for a post-mortem.
 */
#include "store.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "atomic.h"
#include "buf.h"
#include "conflict_json.h"
#include "jsonx.h"
#include "log.h"
#include "tfiles.h"
#include "timex.h"

/* A state file larger than this is taken as corrupt rather than read. */
#define STORE_MAX_BYTES (1024L * 1024 * 1024)

static const char *const coll_names[STORE_NCOLL] = {"users", "groups",
                                                    "contacts"};

const char *store_collection_name(enum store_collection c)
{
  return (unsigned)c < STORE_NCOLL ? coll_names[c] : "unknown";
}

void store_state_clear(struct store_state *st)
{
  size_t i;

  for(i = 0; i < STORE_NCOLL; i++)
    free(st->delta_link[i]);
  conflict_set_free(st->conflicts);
  memset(st, 0, sizeof(*st));
}

/* ===== Saving ===== */

/* peek_schema() reads the start of the file at path and returns the
 * value of its leading "schema" member, or 0 when there is no file or no
 * such member there. */
static long peek_schema(const char *path)
{
  char buf[256], *p, *end;
  ssize_t n;
  long v;
  int fd = open(path, O_RDONLY | O_CLOEXEC);

  if(fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if(n <= 0)
    return 0;
  buf[n] = '\0';
  p = buf;
  while(isspace((unsigned char)*p))
    p++;
  if(*p++ != '{')
    return 0;
  while(isspace((unsigned char)*p))
    p++;
  if(strncmp(p, "\"schema\"", 8))
    return 0;
  p += 8;
  while(isspace((unsigned char)*p))
    p++;
  if(*p++ != ':')
    return 0;
  while(isspace((unsigned char)*p))
    p++;
  if(!isdigit((unsigned char)*p))
    return 0;
  v = strtol(p, &end, 10);
  return end == p ? 0 : v;
}

/* build_head() returns the state document without its conflicts, or
 * NULL when out of memory.  The caller frees it with cJSON_Delete(). */
static cJSON *build_head(const char *tenant, const struct store_state *st,
                         time_t now)
{
  cJSON *doc = cJSON_CreateObject(), *links;
  size_t i;
  int ok;

  if(!doc)
    return NULL;
  ok = !jsonx_add_number(doc, "schema", STORE_SCHEMA) &&
       !jsonx_add_str(doc, "tenant", tenant) &&
       !jsonx_add_time(doc, "saved", now) &&
       !jsonx_add_time(doc, "lastSuccessfulCycle", st->last_success) &&
       !jsonx_add_time(doc, "deltaFullSync", st->delta_full_sync) &&
       !jsonx_add_number(doc, "alertSeq", (double)st->alert_seq);
  links = ok ? cJSON_AddObjectToObject(doc, "deltaLinks") : NULL;
  ok = links != NULL;
  for(i = 0; ok && i < STORE_NCOLL; i++)
    ok = !jsonx_add_str(links, coll_names[i], st->delta_link[i]);
  if(!ok) {
    cJSON_Delete(doc);
    return NULL;
  }
  return doc;
}

/* The text is the one line cJSON_PrintUnformatted() would make of the
 * whole document, built a conflict at a time: the head's members, then
 * ,"conflicts":[ and each conflict, then ]} and a newline. */
struct store_render {
  struct buf text;
  struct conflict **v; /* borrowed from the state, sorted by key */
  size_t n, next;
  bool ended;
};

/* put() appends len bytes of s to r's text.  Returns 0 or -ENOMEM. */
static int put(struct store_render *r, const char *s, size_t len)
{
  return buf_append(&r->text, s, len);
}

void store_render_free(struct store_render *r)
{
  if(!r)
    return;
  free(r->text.data);
  free(r->v);
  free(r);
}

int store_render_new(const char *tenant, const struct store_state *st,
                     time_t now, struct store_render **out)
{
  struct store_render *r = calloc(1, sizeof(*r));
  cJSON *head = build_head(tenant, st, now);
  char *text = head ? cJSON_PrintUnformatted(head) : NULL;
  size_t len = text ? strlen(text) : 0;
  int rc = -ENOMEM;

  cJSON_Delete(head);
  /* The head ends with its closing brace, which comes after the
   * conflicts instead. */
  if(r && len >= 2 && !put(r, text, len - 1) && !put(r, ",\"conflicts\":[", 14))
    rc = st->conflicts ? conflict_json_sorted(st->conflicts, &r->v, &r->n) : 0;
  cJSON_free(text);
  if(rc) {
    store_render_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int store_render_step(struct store_render *r, size_t max_len, uint64_t until_ns)
{
  while(r->next < r->n) {
    cJSON *o = conflict_json_encode(r->v[r->next]);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    int rc = text ? 0 : -ENOMEM;

    cJSON_Delete(o);
    if(!rc && r->next)
      rc = put(r, ",", 1);
    if(!rc)
      rc = put(r, text, strlen(text));
    cJSON_free(text);
    if(rc)
      return rc;
    r->next++;
    if(r->next < r->n && ((max_len && r->text.len >= max_len) ||
                          (until_ns && uv_hrtime() >= until_ns)))
      return 0;
  }
  if(!r->ended) {
    if(put(r, "]}\n", 3))
      return -ENOMEM;
    r->ended = true;
  }
  return 1;
}

char *store_render_take(struct store_render *r, size_t *len)
{
  char *text = r->text.data;

  *len = r->text.len;
  memset(&r->text, 0, sizeof(r->text));
  return text;
}

int store_save_path(const char *state_dir, const char *tenant, char **out)
{
  char *path = tfiles_path(state_dir, tenant, TFILES_STATE);
  long schema;

  if(!path) {
    log_errx("store: %s: cannot make a state file name for tenant '%s'",
             state_dir, tenant);
    return -EINVAL;
  }
  schema = peek_schema(path);
  if(schema > STORE_SCHEMA) {
    log_errx("store: %s: written with schema %ld, newer than %d; "
             "not overwriting it",
             path, schema, STORE_SCHEMA);
    free(path);
    return -EPROTONOSUPPORT;
  }
  *out = path;
  return 0;
}

void store_save_report(const char *path, int rc, const char *what,
                       bool *failing)
{
  bool again = failing && *failing;

  if(failing)
    *failing = rc != 0;
  if(!rc && again)
    log_notice("store: %s: written again", path);
  else if(rc && again)
    log_debug("store: %s: %s: %s (still failing)", path, what, strerror(-rc));
  else if(rc && !strcmp(what, "fsync directory")) {
    /* The new file is in place; only its durability is in doubt. */
    log_warnx("store: %s: fsync of its directory: %s", path, strerror(-rc));
  }
  else if(rc == -ENOMEM)
    log_errx("store: %s: %s", path, what);
  else if(rc)
    log_errx("store: %s: %s: %s", path, what, strerror(-rc));
}

int store_save(const char *state_dir, const char *tenant,
               const struct store_state *st, time_t now, bool *failing)
{
  const char *what = "out of memory";
  struct store_render *r = NULL;
  char *path = NULL, *text = NULL;
  size_t len = 0;
  int rc;

  rc = store_save_path(state_dir, tenant, &path);
  if(rc)
    return rc;
  rc = store_render_new(tenant, st, now, &r);
  if(!rc) {
    rc = store_render_step(r, 0, 0);
    rc = rc == 1 ? 0 : rc;
  }
  if(!rc)
    text = store_render_take(r, &len);
  store_render_free(r);
  if(text)
    rc = atomic_write(path, text, len, 0640, &what);
  store_save_report(path, rc, what, failing);
  free(text);
  free(path);
  return rc;
}

/* ===== Loading ===== */

/* read_file() reads the whole file at path into a malloc'd buffer.
 * Returns 0 with *out and *len set, or -errno (-EFBIG when over
 * STORE_MAX_BYTES). */
static int read_file(const char *path, char **out, size_t *len)
{
  struct stat sb;
  size_t got = 0;
  char *buf;
  int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

  if(fd < 0)
    return -errno;
  if(fstat(fd, &sb) < 0) {
    rc = -errno;
    close(fd);
    return rc;
  }
  if(sb.st_size > STORE_MAX_BYTES) {
    close(fd);
    return -EFBIG;
  }
  buf = malloc((size_t)sb.st_size + 1);
  if(!buf) {
    close(fd);
    return -ENOMEM;
  }
  while(got < (size_t)sb.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0) {
      rc = -errno;
      break;
    }
    if(!n)
      break;
    got += (size_t)n;
  }
  close(fd);
  if(rc) {
    free(buf);
    return rc;
  }
  buf[got] = '\0';
  *out = buf;
  *len = got;
  return 0;
}

/* parse_doc() validates doc and fills st.  Returns 0, -EBADMSG with *why
 * set, -EPROTONOSUPPORT with *schema set, or -ENOMEM. */
static int parse_doc(const cJSON *doc, const char *tenant,
                     struct store_state *st, const char **why, long *schema)
{
  const cJSON *links, *arr;
  const char *name;
  struct store_state n;
  long long v;
  size_t i;
  int rc;

  memset(&n, 0, sizeof(n));
  if(!cJSON_IsObject(doc)) {
    *why = "not a JSON object";
    return -EBADMSG;
  }
  /* Any whole number from 1 up is a schema; 8.9e125 is none. */
  if(jsonx_get_int(doc, "schema", 1, LONG_MAX, &v) || !v) {
    *why = "no valid \"schema\"";
    return -EBADMSG;
  }
  *schema = (long)v;
  if(*schema > STORE_SCHEMA)
    return -EPROTONOSUPPORT;
  if(jsonx_get_str(doc, "tenant", &name) || !name || strcmp(name, tenant)) {
    *why = "\"tenant\" is missing or names another tenant";
    return -EBADMSG;
  }
  rc = jsonx_get_time(doc, "lastSuccessfulCycle", &n.last_success);
  if(rc) {
    *why = rc == -EINVAL ? "\"lastSuccessfulCycle\" is not a time"
                         : "\"lastSuccessfulCycle\" is not a string";
    return -EBADMSG;
  }
  if(jsonx_get_time(doc, "deltaFullSync", &n.delta_full_sync)) {
    *why = "\"deltaFullSync\" is not a time";
    return -EBADMSG;
  }
  /* Printed with 15 significant digits, so kept below 10^15. */
  if(jsonx_get_int(doc, "alertSeq", 0, 999999999999999LL, &v)) {
    *why = "\"alertSeq\" is not a whole number";
    return -EBADMSG;
  }
  n.alert_seq = (uint64_t)v;
  if(jsonx_get_object(doc, "deltaLinks", &links)) {
    *why = "\"deltaLinks\" is not an object";
    return -EBADMSG;
  }
  for(i = 0; links && i < STORE_NCOLL; i++) {
    rc = jsonx_get_strdup(links, coll_names[i], &n.delta_link[i]);
    if(rc) {
      if(rc == -EBADMSG)
        *why = "a delta link is not a string";
      store_state_clear(&n);
      return rc;
    }
  }
  arr = cJSON_GetObjectItemCaseSensitive(doc, "conflicts");
  rc = conflict_json_decode_set(arr, tenant, &n.conflicts);
  if(rc) {
    *why = "\"conflicts\" is not a valid conflict list";
    store_state_clear(&n);
    return rc;
  }
  *st = n;
  return 0;
}

/* move_aside() renames a corrupt file to path.corrupt-<UTC time> and logs
 * the one warning about it. */
static void move_aside(const char *path, const char *why)
{
  char stamp[TIMEX_ISO_LEN], *dst;

  timex_format_iso_basic(time(NULL), stamp, sizeof(stamp));
  if(asprintf(&dst, "%s.corrupt-%s", path, stamp) < 0) {
    log_warnx("store: %s is corrupt (%s); out of memory moving it aside", path,
              why);
    return;
  }
  if(rename(path, dst) < 0)
    log_warnx("store: %s is corrupt (%s); cannot move it to %s: %s; "
              "state will be rebuilt from the next successful cycle",
              path, why, dst, strerror(errno));
  else
    log_warnx("store: %s is corrupt (%s); moved to %s; state will be "
              "rebuilt from the next successful cycle",
              path, why, dst);
  free(dst);
}

int store_read(const char *path, const char *tenant, struct store_state *st,
               const char **why, long *schema)
{
  char *text = NULL;
  size_t len = 0;
  cJSON *doc;
  int rc;

  *why = "";
  *schema = 0;
  rc = read_file(path, &text, &len);
  if(rc == -EFBIG) {
    *why = "larger than 1 GiB";
    return -EBADMSG;
  }
  if(rc)
    return rc;
  doc = cJSON_ParseWithLength(text, len);
  if(!doc) {
    *why = "not valid JSON";
    rc = -EBADMSG;
  }
  else
    rc = parse_doc(doc, tenant, st, why, schema);
  cJSON_Delete(doc);
  free(text);
  return rc;
}

int store_load(const char *state_dir, const char *tenant,
               struct store_state *st)
{
  const char *why = "";
  long schema = 0;
  char *path;
  int rc;

  path = tfiles_path(state_dir, tenant, TFILES_STATE);
  if(!path) {
    log_errx("store: %s: cannot make a state file name for tenant '%s'",
             state_dir, tenant);
    return -EINVAL;
  }
  rc = store_read(path, tenant, st, &why, &schema);
  if(rc == -ENOENT)
    log_debug("store: %s: no state yet", path);
  else if(rc == -EPROTONOSUPPORT)
    log_errx("store: %s was written with schema %ld, newer than this "
             "quarantined understands (%d); leaving it alone and not "
             "saving state for tenant %s",
             path, schema, STORE_SCHEMA, tenant);
  else if(rc == -EBADMSG)
    move_aside(path, why);
  else if(rc == -ENOMEM)
    log_errx("store: %s: out of memory", path);
  else if(rc)
    log_errx("store: %s: read: %s", path, strerror(-rc));
  else if(schema < STORE_SCHEMA)
    log_info("store: %s: schema %ld read; it is saved as schema %d after "
             "the next cycle",
             path, schema, STORE_SCHEMA);
  free(path);
  return rc;
}
