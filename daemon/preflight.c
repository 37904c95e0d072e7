/* SPDX-License-Identifier: MIT
 *
 * preflight: the file checks of `quarantined -n`.  Contents are read by
 * the calling process (root can read what the service cannot, which is
 * how a mode problem is told apart from a missing file); whether the
 * service user can open a file is asked by preflight_probe() (see
 * preflight_int.h).  Secrets read here are wiped at once.
 */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "apply.h"
#include "jwt.h"
#include "log.h"
#include "preflight_int.h"
#include "secret.h"

/* The directories the shipped unit has systemd make for a dynamic user
 * (StateDirectory=, LogsDirectory=). */
#define UNIT_STATE_DIR "/var/lib/quarantined"
#define UNIT_LOGS_DIR "/var/log/quarantined"

struct pf {
  const struct cfg *cfg;
  const struct preflight_user *u;
  FILE *out;
  int problems;
};

static void problem(struct pf *p, unsigned line, const char *fmt, ...)
    QD_PRINTF(3, 4);

/* problem() prints one "FILE:LINE: message" line and counts it. */
static void problem(struct pf *p, unsigned line, const char *fmt, ...)
{
  va_list ap;

  if(line)
    fprintf(p->out, "%s:%u: ", p->cfg->path, line);
  else
    fprintf(p->out, "%s: ", p->cfg->path);
  va_start(ap, fmt);
  vfprintf(p->out, fmt, ap);
  va_end(ap);
  fputc('\n', p->out);
  p->problems++;
}

/* readable() reports when user u cannot open path (the value of key on
 * line).  Returns 0 when it can. */
static int readable(struct pf *p, unsigned line, const char *key,
                    const char *path, const char *hint)
{
  int rc = preflight_probe(p->u, path, PROBE_READ);

  if(!rc)
    return 0;
  if(rc == -ENOENT)
    problem(p, line, "%s %s: does not exist", key, path);
  else if(rc == -EACCES && !p->u->self)
    problem(p, line, "%s %s: %s cannot read it%s", key, path, p->u->name,
            hint ? hint : "");
  else
    problem(p, line, "%s %s: cannot open: %s", key, path, strerror(-rc));
  return rc;
}

/* strip() drops the "secret: " or "jwt: " a module put before its
 * message; the key name says where it comes from. */
static const char *strip(const char *why)
{
  const char *colon = strstr(why, ": ");

  if(!strncmp(why, "secret: ", 8) || !strncmp(why, "jwt: ", 5))
    return colon + 2;
  return why;
}

/* read_secret_file() checks and reads a secret or key file the service
 * will read itself.  Returns 0 with *buf (wipe it with secret_free()). */
static int read_secret_file(struct pf *p, unsigned line, const char *key,
                            const char *path, size_t max, char **buf,
                            size_t *len)
{
  char why[600];
  int rc;

  rc = secret_read_file_for(path, max, p->u->uid, buf, len, why, sizeof(why));
  if(rc) {
    problem(p, line, "%s %s", key, strip(why));
    return rc;
  }
  if(readable(p, line, key, path,
              "; with DynamicUser=yes, put it in " QD_CREDDIR
              " (root, mode 0600) and name it as a credential "
              "(see quarantined(8))")) {
    secret_free(*buf, *len);
    return -EACCES;
  }
  return 0;
}

/* read_credential() checks and reads the systemd credential name: from
 * $CREDENTIALS_DIRECTORY under the service, else from the file the
 * shipped unit loads it from.  Returns 0 with *buf, 1 when the credential
 * cannot be checked here (said in a note), or a negative errno code. */
static int read_credential(struct pf *p, unsigned line, const char *key,
                           const char *name, size_t max, char **buf,
                           size_t *len)
{
  const char *dir = getenv("CREDENTIALS_DIRECTORY");
  size_t plen = strlen(PREFLIGHT_CRED_PREFIX);
  char why[600], *path;
  struct stat st;
  int rc;

  if(dir && *dir) {
    rc = secret_read_credential(name, max, buf, len, why, sizeof(why));
    if(rc)
      problem(p, line, "%s %s: %s", key, name, strip(why));
    return rc;
  }
  if(strncmp(name, PREFLIGHT_CRED_PREFIX, plen) || !name[plen]) {
    fprintf(p->out,
            "%s:%u: note: %s %s not checked: outside the service "
            "$CREDENTIALS_DIRECTORY is unset, and only credentials_FILE "
            "names a file the shipped unit loads (%s/FILE)\n",
            p->cfg->path, line, key, name, QD_CREDDIR);
    return 1;
  }
  if(asprintf(&path, "%s/%s", QD_CREDDIR, name + plen) == -1)
    fatal("preflight: asprintf");
  if(lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
    problem(p, line,
            "%s %s: %s is a symbolic link, which systemd does not load "
            "from a credential directory",
            key, name, path);
    free(path);
    return -ELOOP;
  }
  /* The service manager reads it as root. */
  rc = secret_read_file_for(path, max, 0, buf, len, why, sizeof(why));
  if(rc)
    problem(p, line, "%s %s: %s", key, name, strip(why));
  free(path);
  return rc;
}

static void check_secret(struct pf *p, const struct cfg_tenant *t)
{
  char *buf = NULL;
  size_t len = 0;
  int rc;

  if(t->client_secret_file)
    rc = read_secret_file(p, cfg_key_line(p->cfg, t, "client_secret_file"),
                          "client_secret_file", t->client_secret_file,
                          SECRET_MAX_SECRET, &buf, &len);
  else if(t->client_secret_credential)
    rc =
        read_credential(p, cfg_key_line(p->cfg, t, "client_secret_credential"),
                        "client_secret_credential", t->client_secret_credential,
                        SECRET_MAX_SECRET, &buf, &len);
  else
    return;
  if(!rc)
    secret_free(buf, len);
}

/* check_certificate() checks the certificate file, reads the private key
 * and makes a signer of both, which parses them and matches them. */
static void check_certificate(struct pf *p, const struct cfg_tenant *t)
{
  unsigned cert_line = cfg_key_line(p->cfg, t, "certificate_file");
  const char *key_key =
      t->private_key_file ? "private_key_file" : "private_key_credential";
  unsigned key_line = cfg_key_line(p->cfg, t, key_key);
  struct jwt_signer *s = NULL;
  char why[600], *key = NULL;
  size_t key_len = 0;
  int rc;

  if(!t->certificate_file)
    return;
  if(readable(p, cert_line, "certificate_file", t->certificate_file,
              "; a certificate is public: chmod 644 it"))
    return;
  if(t->private_key_file)
    rc = read_secret_file(p, key_line, key_key, t->private_key_file,
                          SECRET_MAX_KEY, &key, &key_len);
  else
    rc = read_credential(p, key_line, key_key, t->private_key_credential,
                         SECRET_MAX_KEY, &key, &key_len);
  if(rc)
    return;
  rc = jwt_signer_new(t->certificate_file, key, key_len, &s, why, sizeof(why));
  secret_free(key, key_len);
  if(rc)
    problem(p, cert_line, "%s", strip(why));
  jwt_signer_free(s);
}

/* check_ca_file() wants at least one PEM certificate the service can
 * read. */
static void check_ca_file(struct pf *p, const struct cfg_tenant *t)
{
  unsigned line = cfg_key_line(p->cfg, t, "ca_file");
  X509 *x;
  BIO *b;
  int n = 0;

  if(!t->ca_file ||
     readable(p, line, "ca_file", t->ca_file, "; a CA bundle is public"))
    return;
  b = BIO_new_file(t->ca_file, "r");
  if(!b) {
    problem(p, line, "ca_file %s: cannot open", t->ca_file);
    return;
  }
  while((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
    X509_free(x);
    n++;
  }
  BIO_free(b);
  if(!n)
    problem(p, line, "ca_file %s: no PEM certificate in it", t->ca_file);
}

/* dir_of() is the malloc'd directory part of path ("/" for "/x"). */
static char *dir_of(const char *path)
{
  const char *slash = strrchr(path, '/');
  char *d;

  if(!slash)
    d = strdup(".");
  else
    d = strndup(path, slash == path ? 1 : (size_t)(slash - path));
  if(!d)
    fatal("preflight: strdup");
  return d;
}

/* check_dir() checks the directory of value, the value of key on line
 * (value is the directory itself for state_dir): it must exist and be
 * writable by the user, or, when the daemon (creates) or systemd
 * (made_by_unit) makes it at start, its parent must exist. */
static void check_dir(struct pf *p, unsigned line, const char *key,
                      const char *value, const char *dir, bool creates,
                      bool made_by_unit)
{
  char where[PATH_MAX + 16] = "";
  struct stat st;
  int rc;

  if(strcmp(value, dir))
    snprintf(where, sizeof(where), "directory %s ", dir);
  if(stat(dir, &st) == 0) {
    if(!S_ISDIR(st.st_mode)) {
      problem(p, line, "%s %s: %sis not a directory", key, value, where);
      return;
    }
    /* systemd hands StateDirectory= to the dynamic user at start. */
    if(made_by_unit && p->u->dynamic)
      return;
    rc = preflight_probe(p->u, dir, PROBE_WRITE_DIR);
    if(rc)
      problem(p, line, "%s %s: %s cannot write to %s%s", key, value, p->u->name,
              where[0] ? "directory " : "it", where[0] ? dir : "");
    return;
  }
  if(errno != ENOENT) {
    problem(p, line, "%s %s: %s%s", key, value, where, strerror(errno));
    return;
  }
  if(creates || (made_by_unit && p->u->dynamic)) {
    char *parent = dir_of(dir);

    if(stat(parent, &st) == -1 || !S_ISDIR(st.st_mode))
      problem(p, line, "%s %s: parent directory %s does not exist", key, value,
              parent);
    else if(!(made_by_unit && p->u->dynamic) &&
            (rc = preflight_probe(p->u, parent, PROBE_WRITE_DIR)))
      problem(p, line, "%s %s: %s cannot create it in %s: %s", key, value,
              p->u->name, parent, strerror(-rc));
    free(parent);
    return;
  }
  problem(p, line, "%s %s: %sdoes not exist", key, value,
          where[0] ? where : "directory ");
}

int preflight_check(const struct cfg *cfg, const struct preflight_user *u,
                    FILE *out)
{
  const struct cfg_tenant *t;
  const struct cfg_sink *k;
  struct pf p = {cfg, u, out, 0};

  check_dir(&p, cfg_key_line(cfg, NULL, "state_dir"), "state_dir",
            cfg->state_dir, cfg->state_dir, true,
            !strcmp(cfg->state_dir, UNIT_STATE_DIR));
  if(cfg->alert_jsonl_file) {
    char *dir = dir_of(cfg->alert_jsonl_file);

    check_dir(&p, cfg_key_line(cfg, NULL, "jsonl_file"), "jsonl_file",
              cfg->alert_jsonl_file, dir, false, !strcmp(dir, UNIT_LOGS_DIR));
    free(dir);
  }
  for(k = cfg->sinks; k; k = k->next) {
    /* Named by the section's line: a sink's keys keep no lines. */
    if(k->ca_file)
      readable(&p, k->line, "ca_file", k->ca_file, "; a CA bundle is public");
    if(k->type == CFG_SINK_FILE && k->path) {
      char *dir = dir_of(k->path);

      check_dir(&p, k->line, "path", k->path, dir, false,
                !strcmp(dir, UNIT_LOGS_DIR));
      free(dir);
    }
  }
  for(t = cfg->tenants; t; t = t->next) {
    check_secret(&p, t);
    check_certificate(&p, t);
    check_ca_file(&p, t);
    if(t->apply_mode != CFG_APPLY_OFF && t->anchors_file && !p.u->self)
      readable(&p, cfg_key_line(cfg, t, "anchors_file"), "anchors_file",
               t->anchors_file, "; chmod 644 it (it holds no secret)");
    /* The known-anchors file of a tenant that may apply, line by line. */
    if(apply_check_config(t, out))
      p.problems++;
  }
  return p.problems;
}
