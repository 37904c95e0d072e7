/* SPDX-License-Identifier: MIT
 *
 * ctl_source: the daemon's endpoint through libcurl (blocking, with a
 * timeout: quarantinectl is a one-shot tool), or the state files.
 */
#include "ctl_source.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "conflict_json.h"
#include "jsonx.h"
#include "store.h"
#include "tfiles.h"

/* Bodies larger than this are refused (a state of ~100k conflicts). */
#define CTL_MAX_BODY (512UL * 1024 * 1024)

int ctl_source_env_option(struct ctl_source_env *env, int ch, const char *arg)
{
  switch(ch) {
  case 'f':
    env->conf_path = arg;
    return 1;
  case 0x101:
    env->state_dir = arg;
    return 1;
  case 0x102:
    env->socket = arg;
    return 1;
  case 0x103:
    env->url = arg;
    return 1;
  case 0x104:
    env->offline = true;
    return 1;
  default:
    return 0;
  }
}

int ctl_source_env_load(struct ctl_source_env *env)
{
  char *errors = NULL;
  bool explicit_conf = env->conf_path != NULL;
  int rc;

  if(!env->conf_path)
    env->conf_path = QD_CONFFILE;
  if(!explicit_conf && (env->state_dir || env->socket || env->url) &&
     access(env->conf_path, R_OK) == -1)
    return 0;
  rc = cfg_load(env->conf_path, &env->cfg, &errors);
  if(rc) {
    const char *nl = errors ? strchr(errors, '\n') : NULL;

    if(errors && errors[0])
      fprintf(stderr, "quarantinectl: %.*s\n",
              (int)(nl ? nl - errors : (long)strlen(errors)), errors);
    else
      fprintf(stderr, "quarantinectl: %s: %s\n", env->conf_path, strerror(-rc));
    free(errors);
    return CTL_SOURCE_EXIT_FAIL;
  }
  if(!env->state_dir)
    env->state_dir = env->cfg->state_dir;
  if(!env->socket && strcmp(env->cfg->health_socket, "none"))
    env->socket = env->cfg->health_socket;
  if(!env->url && strcmp(env->cfg->health_listen, "none")) {
    snprintf(env->url_buf, sizeof(env->url_buf), "http://%s",
             env->cfg->health_listen);
    env->url = env->url_buf;
  }
  return 0;
}

void ctl_source_env_free(struct ctl_source_env *env)
{
  cfg_free(env->cfg);
  env->cfg = NULL;
}

/* ===== The endpoint ===== */

struct body {
  char *p;
  size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
  struct body *b = arg;
  size_t add = size * n;
  char *p;

  if(b->len + add > CTL_MAX_BODY)
    return 0;
  p = realloc(b->p, b->len + add + 1);
  if(!p)
    return 0;
  memcpy(p + b->len, ptr, add);
  b->p = p;
  b->len += add;
  b->p[b->len] = '\0';
  return add;
}

/* get_one() makes one GET; socket NULL means url over TCP. */
static int get_one(const char *socket, const char *url, const char *path,
                   long timeout_ms, char **out, long *status)
{
  struct body b = {NULL, 0};
  char full[1200];
  CURLcode rc;
  CURL *c;

  snprintf(full, sizeof(full), "%s%s", socket ? "http://localhost" : url, path);
  /* The URL's own trailing slash and path's leading one. */
  if(!socket && url[0] && url[strlen(url) - 1] == '/')
    snprintf(full, sizeof(full), "%.*s%s", (int)strlen(url) - 1, url, path);
  c = curl_easy_init();
  if(!c)
    return -ENOMEM;
  curl_easy_setopt(c, CURLOPT_URL, full);
  if(socket)
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  rc = curl_easy_perform(c);
  if(!rc)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(c);
  if(rc) {
    free(b.p);
    if(rc == CURLE_OPERATION_TIMEDOUT)
      return -ETIMEDOUT;
    if(rc == CURLE_COULDNT_CONNECT)
      return -ENOTCONN;
    return -EIO;
  }
  if(!b.p) {
    b.p = strdup("");
    if(!b.p)
      return -ENOMEM;
  }
  *out = b.p;
  return 0;
}

int ctl_source_get(const struct ctl_source_env *env, const char *path,
                   bool socket_only, char **body, long *status)
{
  long timeout = env->timeout_ms ? env->timeout_ms : 5000;
  int rc = -ENOTCONN;

  if(env->offline)
    return -ENOTCONN;
  if(env->socket) {
    rc = get_one(env->socket, NULL, path, timeout, body, status);
    if(rc != -ENOTCONN)
      return rc;
  }
  if(env->url && !socket_only)
    rc = get_one(NULL, env->url, path, timeout, body, status);
  return rc;
}

/* ===== Conflicts ===== */

void ctl_source_data_free(struct ctl_source_data *d)
{
  size_t i;

  for(i = 0; i < d->n; i++) {
    free(d->t[i].name);
    conflict_set_free(d->t[i].set);
  }
  free(d->t);
  memset(d, 0, sizeof(*d));
}

static int add_tenant(struct ctl_source_data *d, const char *name,
                      struct conflict_set *set)
{
  struct ctl_source_tenant *t = realloc(d->t, (d->n + 1) * sizeof(*t));

  if(!t)
    return -ENOMEM;
  d->t = t;
  t[d->n].name = strdup(name);
  if(!t[d->n].name)
    return -ENOMEM;
  t[d->n++].set = set;
  return 0;
}

/* from_daemon() reads /conflicts.json.  Returns 0, -ENOTCONN (no daemon),
 * -ENOENT (no such tenant; printed), or another error (printed). */
static int from_daemon(const struct ctl_source_env *env, const char *tenant,
                       struct ctl_source_data *d)
{
  char path[512], *body = NULL, *esc = NULL;
  const cJSON *t, *tenants;
  cJSON *doc;
  long status = 0;
  int rc;

  if(tenant) {
    esc = curl_easy_escape(NULL, tenant, 0);
    if(!esc)
      return -ENOMEM;
  }
  snprintf(path, sizeof(path), "/conflicts.json%s%s", esc ? "?tenant=" : "",
           esc ? esc : "");
  curl_free(esc);
  rc = ctl_source_get(env, path, true, &body, &status);
  if(rc) {
    if(rc != -ENOTCONN)
      fprintf(stderr, "quarantinectl: %s: %s\n", env->socket,
              rc == -ETIMEDOUT ? "the daemon did not answer in time"
                               : strerror(-rc));
    return rc;
  }
  if(status == 404) {
    fprintf(stderr, "quarantinectl: no tenant '%s' in the running daemon\n",
            tenant);
    free(body);
    return -ENOENT;
  }
  doc = status == 200 ? cJSON_Parse(body) : NULL;
  free(body);
  if(!doc) {
    fprintf(stderr, "quarantinectl: %s: unexpected answer (HTTP %ld)\n",
            env->socket, status);
    return -EBADMSG;
  }
  tenants = NULL;
  if(jsonx_get_array(doc, "tenants", &tenants) || !tenants) {
    fprintf(stderr, "quarantinectl: %s: unexpected answer\n", env->socket);
    cJSON_Delete(doc);
    return -EBADMSG;
  }
  cJSON_ArrayForEach(t, tenants)
  {
    const cJSON *list = NULL;
    const char *name = NULL;
    struct conflict_set *set = NULL;

    if(jsonx_get_str(t, "name", &name) || !name ||
       jsonx_get_array(t, "conflicts", &list) ||
       conflict_json_decode_set(list, name, &set) || add_tenant(d, name, set)) {
      conflict_set_free(set);
      fprintf(stderr, "quarantinectl: %s: unexpected answer\n", env->socket);
      cJSON_Delete(doc);
      return -EBADMSG;
    }
  }
  cJSON_Delete(doc);
  d->live = true;
  return 0;
}

/* from_file() reads tenant name's state file through store_read(); a
 * missing file is an empty inventory.  Never writes, renames or locks
 * anything. */
static int from_file(const char *state_dir, const char *name,
                     struct ctl_source_data *d)
{
  char *path = tfiles_path(state_dir, name, TFILES_STATE);
  struct store_state st;
  const char *why;
  long schema;
  int rc;

  if(!path) {
    fprintf(stderr, "quarantinectl: '%s' cannot name a state file\n", name);
    return -EINVAL;
  }
  memset(&st, 0, sizeof(st));
  rc = store_read(path, name, &st, &why, &schema);
  if(rc == -ENOENT)
    rc = 0;
  else if(rc == -EBADMSG)
    fprintf(stderr,
            "quarantinectl: %s: not a state file this version reads (%s)\n",
            path, why);
  else if(rc == -EPROTONOSUPPORT)
    fprintf(stderr,
            "quarantinectl: %s: written with schema %ld, newer than this "
            "quarantinectl reads (%d)\n",
            path, schema, STORE_SCHEMA);
  else if(rc)
    fprintf(stderr, "quarantinectl: %s: %s\n", path, strerror(-rc));
  free(path);
  if(rc)
    return rc;
  if(!st.conflicts)
    st.conflicts = conflict_set_new(name);
  rc = st.conflicts ? add_tenant(d, name, st.conflicts) : -ENOMEM;
  if(!rc)
    st.conflicts = NULL;
  store_state_clear(&st);
  return rc;
}

/* from_dir() reads the state files of the configured tenants, or of every
 * <name>.state.json in the directory when there is no configuration. */
static int from_dir(const struct ctl_source_env *env, const char *tenant,
                    struct ctl_source_data *d)
{
  const struct cfg_tenant *tc;
  struct dirent *e;
  DIR *dir;
  int rc = 0;

  if(!env->state_dir) {
    fprintf(stderr, "quarantinectl: no state directory; give --state-dir or "
                    "-f\n");
    return -EINVAL;
  }
  dir = opendir(env->state_dir);
  if(!dir) {
    fprintf(stderr, "quarantinectl: cannot read the state directory %s: %s\n",
            env->state_dir, strerror(errno));
    return -errno;
  }
  if(env->cfg) {
    for(tc = env->cfg->tenants; !rc && tc; tc = tc->next)
      if(!tenant || !strcmp(tenant, tc->name))
        rc = from_file(env->state_dir, tc->name, d);
  }
  else {
    while(!rc && (e = readdir(dir))) {
      size_t len = strlen(e->d_name);
      const char *sfx = ".state.json";
      char name[256];

      if(e->d_name[0] == '.' || len <= strlen(sfx) ||
         strcmp(e->d_name + len - strlen(sfx), sfx))
        continue;
      snprintf(name, sizeof(name), "%.*s", (int)(len - strlen(sfx)), e->d_name);
      if(!tenant || !strcmp(tenant, name))
        rc = from_file(env->state_dir, name, d);
    }
  }
  closedir(dir);
  if(!rc && tenant && !d->n) {
    fprintf(stderr, "quarantinectl: no tenant '%s' in %s\n", tenant,
            env->cfg ? env->conf_path : env->state_dir);
    rc = -ENOENT;
  }
  return rc;
}

int ctl_source_load(const struct ctl_source_env *env, const char *tenant,
                    struct ctl_source_data *out)
{
  int rc;

  memset(out, 0, sizeof(*out));
  rc = from_daemon(env, tenant, out);
  if(rc == -ENOTCONN) {
    ctl_source_data_free(out);
    /* Said to a person only; scripts see the same output either way. */
    if(isatty(STDERR_FILENO))
      fprintf(stderr, "quarantinectl: the daemon does not answer; reading %s\n",
              env->state_dir ? env->state_dir : "the state directory");
    rc = from_dir(env, tenant, out);
  }
  if(rc == -ENOMEM)
    fprintf(stderr, "quarantinectl: out of memory\n");
  if(rc) {
    ctl_source_data_free(out);
    return CTL_SOURCE_EXIT_FAIL;
  }
  return 0;
}
