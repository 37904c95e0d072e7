/* SPDX-License-Identifier: MIT
 *
 * refusals: the refusal memory as a list of keys
 * "reason TAB target TAB anchor TAB reference" (target in lower case; a
 * global reason has empty fields), saved as
 * {"version": 1, "said": ["key", ...]} with atomic_write() after every
 * change.  The lists are short (one key per known anchor at most, plus a
 * few global ones), so a linear look-up is enough.
 */
#include "refusals.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "anchors.h"
#include "atomic.h"
#include "log.h"
#include "strlist.h"

#define REFUSALS_VERSION 1
/* Bytes of the file read at most. */
#define REFUSALS_MAX (1 << 20)

struct refusals {
  char *path, *tenant;
  struct strlist said;
};

/* key() writes "reason\ttarget\tanchor\treference" (lower-case target)
 * into a malloc'd string, or returns NULL. */
static char *key(const char *reason, const struct anchors_entry *e)
{
  char *k, *t;

  if(asprintf(&k, "%s\t%s\t%s\t%s", reason, e ? e->target : "",
              e ? e->anchor : "", e ? e->reference : "") < 0)
    return NULL;
  for(t = k + strlen(reason) + 1; *t && *t != '\t'; t++)
    *t = (char)(*t >= 'A' && *t <= 'Z' ? *t - 'A' + 'a' : *t);
  return k;
}

/* pair_of() tells whether key k is about entry e (any reason). */
static bool pair_of(const char *k, const struct anchors_entry *e)
{
  const char *rest = strchr(k, '\t');
  char *want;
  bool same;

  if(!rest ||
     asprintf(&want, "\t%s\t%s\t%s", e->target, e->anchor, e->reference) < 0)
    return false;
  same = !strcasecmp(rest, want);
  free(want);
  return same;
}

/* save() rewrites the file; failure is logged here. */
static void save(struct refusals *m)
{
  cJSON *o = cJSON_CreateObject(), *arr;
  const char *what = NULL;
  char *text = NULL;
  size_t i;
  int rc = -ENOMEM;

  if(o && cJSON_AddNumberToObject(o, "version", REFUSALS_VERSION) &&
     (arr = cJSON_AddArrayToObject(o, "said"))) {
    for(i = 0; i < m->said.n; i++)
      if(!cJSON_AddItemToArray(arr, cJSON_CreateString(m->said.v[i])))
        break;
    if(i == m->said.n)
      text = cJSON_PrintUnformatted(o);
  }
  cJSON_Delete(o);
  if(text)
    rc = atomic_write(m->path, text, strlen(text), 0640, &what);
  cJSON_free(text);
  if(rc)
    log_warnx("apply: tenant %s: %s: %s: %s; refusals may be alerted again",
              m->tenant, m->path, what ? what : "out of memory", strerror(-rc));
}

/* load() reads the file into m->said; see refusals_open(). */
static void load(struct refusals *m)
{
  char *text = NULL, aside[4096];
  const cJSON *arr, *it;
  cJSON *o = NULL;
  size_t len = 0;
  FILE *f = fopen(m->path, "re");

  if(!f) {
    if(errno != ENOENT)
      log_warn("apply: tenant %s: %s", m->tenant, m->path);
    return;
  }
  text = malloc(REFUSALS_MAX);
  if(text)
    len = fread(text, 1, REFUSALS_MAX - 1, f);
  fclose(f);
  if(text)
    o = cJSON_ParseWithLength(text, len);
  free(text);
  arr = cJSON_GetObjectItemCaseSensitive(o, "said");
  if(!cJSON_IsArray(arr) ||
     !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "version"))) {
    snprintf(aside, sizeof(aside), "%s.bad", m->path);
    log_warnx("apply: tenant %s: %s is not a refusal memory; moved to %s, "
              "refusals may be alerted again",
              m->tenant, m->path, aside);
    if(rename(m->path, aside) < 0)
      log_warn("apply: tenant %s: rename %s", m->tenant, m->path);
    cJSON_Delete(o);
    return;
  }
  cJSON_ArrayForEach(it, arr)
  {
    if(cJSON_IsString(it) && strlist_add(&m->said, it->valuestring))
      break;
  }
  cJSON_Delete(o);
}

int refusals_open(const char *path, const char *tenant, struct refusals **out)
{
  struct refusals *m = calloc(1, sizeof(*m));

  if(!m)
    return -ENOMEM;
  m->path = strdup(path);
  m->tenant = strdup(tenant);
  if(!m->path || !m->tenant) {
    refusals_free(m);
    return -ENOMEM;
  }
  load(m);
  *out = m;
  return 0;
}

void refusals_free(struct refusals *m)
{
  if(!m)
    return;
  strlist_clear(&m->said);
  free(m->path);
  free(m->tenant);
  free(m);
}

bool refusals_note(struct refusals *m, const char *reason,
                   const struct anchors_entry *e)
{
  char *k = key(reason, e);
  size_t i;
  bool news = false;

  if(!k)
    return false;
  if(strlist_find(&m->said, k) < 0) {
    for(i = 0; e && i < m->said.n;) {
      if(pair_of(m->said.v[i], e))
        strlist_del(&m->said, i);
      else
        i++;
    }
    news = !strlist_add(&m->said, k);
    save(m);
  }
  free(k);
  return news;
}

bool refusals_has(const struct refusals *m, const char *reason,
                  const struct anchors_entry *e)
{
  char *k = key(reason, e);
  bool has = k && strlist_find(&m->said, k) >= 0;

  free(k);
  return has;
}

void refusals_forget(struct refusals *m, const char *reason,
                     const struct anchors_entry *e)
{
  char *k = key(reason, e);
  ssize_t i = k ? strlist_find(&m->said, k) : -1;

  free(k);
  if(i >= 0) {
    strlist_del(&m->said, (size_t)i);
    save(m);
  }
}

void refusals_prune(struct refusals *m, const struct anchors_set *set)
{
  size_t i, k, n = anchors_set_count(set);
  bool changed = false;

  for(i = 0; i < m->said.n;) {
    const char *tab = strchr(m->said.v[i], '\t');
    bool keep = tab && tab[1] == '\t'; /* a global reason */

    for(k = 0; !keep && k < n; k++)
      keep = pair_of(m->said.v[i], anchors_set_get(set, k));
    if(keep)
      i++;
    else {
      strlist_del(&m->said, i);
      changed = true;
    }
  }
  if(changed)
    save(m);
}
