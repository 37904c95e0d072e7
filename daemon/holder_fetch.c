/* SPDX-License-Identifier: MIT
 *
 * holder_fetch: the read of the objects of conflicts gone from the
 * inventory (holder_fetch() in holder.h), one GET per object by id in a
 * $batch, so that the sweep can tell a released value (the object has it
 * back) from a cleared conflict (the object is gone or holds it no more).
 */
#include "holder.h"
#include "holder_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "jsonx.h"
#include "log.h"

/* What each collection's GET selects: what sweep_carries() reads. */
static const char *const fetch_select[NCOLL] = {
    "id,userPrincipalName,mail,proxyAddresses", "id,mail,proxyAddresses",
    "id,mail,proxyAddresses"};

struct fetch {
  struct holder *h;
  char **keys;
  size_t *item; /* the batch item that reads keys[i]'s object */
  size_t n;
  holder_fetch_cb cb;
  void *arg;
};

static void fetch_free(struct fetch *f)
{
  size_t i;

  for(i = 0; i < f->n; i++)
    free(f->keys[i]);
  free(f->keys);
  free(f->item);
  free(f);
}

/* fetch_parse() fills r (FOUND) from an object's body, with *proxies
 * allocated to hold the strings' pointers.  Returns 0, or -EBADMSG /
 * -ENOMEM with r->err.code set. */
static int fetch_parse(const cJSON *body, struct holder_object *r,
                       const char ***proxies)
{
  const cJSON *arr, *e;
  const char *upn;
  size_t n = 0;

  if(!cJSON_IsObject(body) || jsonx_get_str(body, "userPrincipalName", &upn) ||
     jsonx_get_array(body, "proxyAddresses", &arr)) {
    snprintf(r->err.code, sizeof(r->err.code), "MalformedObject");
    return -EBADMSG;
  }
  if(cJSON_GetArraySize(arr) > 0) {
    *proxies = calloc((size_t)cJSON_GetArraySize(arr), sizeof(**proxies));
    if(!*proxies) {
      snprintf(r->err.code, sizeof(r->err.code), "OutOfMemory");
      return -ENOMEM;
    }
  }
  cJSON_ArrayForEach(e, arr)
  {
    if(!cJSON_IsString(e)) {
      snprintf(r->err.code, sizeof(r->err.code), "MalformedObject");
      return -EBADMSG;
    }
    (*proxies)[n++] = e->valuestring;
  }
  r->outcome = HOLDER_FOUND;
  r->upn = upn;
  r->proxies = *proxies;
  r->nproxies = n;
  return 0;
}

static void on_fetch(int result, const struct graph_batch_result *res, size_t n,
                     void *arg)
{
  struct fetch *f = arg;
  struct holder_object *out = calloc(f->n, sizeof(*out));
  const char ***proxies = calloc(f->n, sizeof(*proxies));
  size_t i, failed = 0, first = 0;

  (void)n;
  f->h->running--;
  if(!out || !proxies) {
    free(out);
    free(proxies);
    log_errx("holder: tenant %s: out of memory", f->h->tenant);
    f->cb(-ENOMEM, NULL, 0, f->arg);
    fetch_free(f);
    return;
  }
  for(i = 0; i < f->n; i++) {
    const struct graph_batch_result *b = &res[f->item[i]];
    struct holder_object *r = &out[i];

    r->key = f->keys[i];
    r->outcome = HOLDER_FETCH_FAILED;
    if(b->result == -ENOENT)
      r->outcome = HOLDER_GONE;
    else if(b->result) {
      r->err = b->err;
      if(!r->err.code[0])
        snprintf(r->err.code, sizeof(r->err.code), "%s", strerror(-b->result));
    }
    else
      fetch_parse(b->body, r, &proxies[i]);
    if(r->outcome == HOLDER_FETCH_FAILED && !failed++)
      first = i;
  }
  if(failed && result != -ECANCELED)
    log_warnx("holder: tenant %s: object check failed for %zu of %zu "
              "conflict%s (%s: %s, HTTP %ld); retried next cycle",
              f->h->tenant, failed, f->n, f->n == 1 ? "" : "s", f->keys[first],
              out[first].err.code, out[first].err.status);
  f->cb(result, out, f->n, f->arg);
  for(i = 0; i < f->n; i++)
    free(proxies[i]);
  free(proxies);
  free(out);
  fetch_free(f);
}

/* start_batch() runs the n items at items (urls their owned URLs, either
 * may be NULL) through graph_batch() when rc is 0, and frees both.
 * Returns rc, or graph_batch()'s error; a started run counts in
 * h->running. */
static int start_batch(struct holder *h, int rc, struct graph_batch_item *items,
                       char **urls, size_t n, graph_batch_cb cb, void *arg)
{
  size_t i;

  if(!rc)
    rc = graph_batch(h->g, items, n, cb, arg);
  if(!rc)
    h->running++;
  for(i = 0; urls && i < n; i++)
    free(urls[i]);
  free(urls);
  free(items);
  return rc;
}

int holder_fetch(struct holder *h, const struct conflict *const *cs, size_t n,
                 holder_fetch_cb cb, void *arg)
{
  struct graph_batch_item *items = NULL;
  char **urls = NULL;
  struct fetch *f;
  size_t i, j, nitems = 0;
  int rc = -ENOMEM;

  if(!n)
    return -EINVAL;
  f = calloc(1, sizeof(*f));
  if(!f)
    return -ENOMEM;
  f->h = h;
  f->cb = cb;
  f->arg = arg;
  f->keys = calloc(n, sizeof(*f->keys));
  f->item = calloc(n, sizeof(*f->item));
  items = calloc(n, sizeof(*items));
  urls = calloc(n, sizeof(*urls));
  if(!f->keys || !f->item || !items || !urls)
    goto out;
  for(i = 0; i < n; i++) {
    const unsigned c = (unsigned)cs[i]->objtype < NCOLL ? cs[i]->objtype : 0;
    char *esc;
    int len;

    f->keys[i] = strdup(cs[i]->key);
    f->n++;
    if(!f->keys[i])
      goto out;
    /* A UPN and an address of one object: its object is read once. */
    for(j = 0; j < i && strcmp(cs[j]->object_id, cs[i]->object_id); j++)
      ;
    if(j < i) {
      f->item[i] = f->item[j];
      continue;
    }
    esc = curl_easy_escape(NULL, cs[i]->object_id, 0);
    if(!esc)
      goto out;
    len = asprintf(&urls[nitems], "/%s/%s?$select=%s", holder__coll_name(c),
                   esc, fetch_select[c]);
    curl_free(esc);
    if(len < 0) {
      urls[nitems] = NULL;
      goto out;
    }
    items[nitems].method = "GET";
    items[nitems].url = urls[nitems];
    f->item[i] = nitems++;
  }
  rc = 0;
out:
  rc = start_batch(h, rc, items, urls, nitems, on_fetch, f);
  if(rc)
    fetch_free(f);
  return rc;
}
