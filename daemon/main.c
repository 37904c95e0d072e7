/* SPDX-License-Identifier: MIT
 *
 * main: the quarantined daemon's entry point and lifecycle.
 *
 *   parse options -> load config (-n stops here) -> prepare state dir ->
 *   uv loop + plat control (signals, service controls) -> STATUS= -> READY=1 ->
 * watchdog timer -> run.  SIGHUP: reload the config; a bad file is rejected and
 * the running one kept.  SIGTERM/SIGINT: STOPPING=1, close every handle, run
 * the loop until the close callbacks have fired, uv_loop_close().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "alert.h"
#include "alert_event.h"
#include "cfg.h"
#include "health.h"
#include "log.h"
#include "loopstat.h"
#include "notify.h"
#include "plat.h"
#include "preflight.h"
#include "rlimit.h"
#include "status.h"
#include "tenant.h"

#ifndef QD_VERSION
#define QD_VERSION "0.0.0"
#endif

struct daemon {
  uv_loop_t loop;
  struct plat_control *control; /* signals or service controls; owned */
  struct notify *notify;        /* the watchdog; owned */
  uv_timer_t status_timer;      /* refreshes STATUS= ("last cycle 12s ago") */
  uv_timer_t reload_timer;      /* a SIGHUP that waited for state saves */
  int reload_wanted;     /* SIGHUP came while a state save was under way */
  struct health *health; /* the HTTP endpoint; owned */
  time_t started;
  struct alert *alert;     /* alert sinks; owned */
  struct tenant **tenants; /* one per [tenant] section; owned */
  size_t ntenants;
  size_t closing;  /* tenants whose close has not finished */
  struct cfg *cfg; /* running configuration; owned */
  const char *conf_path;
  char *state_dir; /* fixed at start-up; owned */
  int debug;       /* -d: log level stays at debug */
  int foreground;  /* -F: log to stderr at the configured level */
  int stopping;
  int fd_short; /* a tenant's last cycle failed for want of descriptors */
  struct loopstat *loopstat; /* QD_LOOP_STATS only (make bench) */
};

static void usage(void)
{
  fprintf(stderr,
          "usage: quarantined [-dFV] [-f file]\n"
          "       quarantined -n [-f file] [-u user]\n"
          "  -d       stay in the foreground, log to stderr at "
          "debug level\n"
          "  -F       stay in the foreground, log to stderr at the "
          "configured level\n"
          "  -f file  configuration file (default %s)\n"
          "  -n       check the configuration and the files it names, "
          "and exit\n"
          "  -u user  with -n: check the files for user (root only; "
          "default: the\n"
          "           service's dynamic user as root, else yourself)\n"
          "  -V       print the version and exit\n",
          QD_CONFFILE);
  exit(2);
}

/* log_lines() logs each line of a multi-line error text. */
static void log_lines(const char *text, const char *suffix)
{
  const char *p = text, *nl;

  while(p && *p) {
    nl = strchr(p, '\n');
    log_errx("%.*s%s", (int)(nl ? nl - p : (long)strlen(p)), p, suffix);
    p = nl ? nl + 1 : NULL;
  }
}

/* prepare_state_dir() makes sure dir exists and can be written.  Returns
 * 0 or a negative errno code; the failure is logged here. */
static int prepare_state_dir(const char *dir)
{
  struct stat st;

  if(mkdir(dir, 0750) == -1 && errno != EEXIST) {
    log_err("state_dir: mkdir %s", dir);
    return -errno;
  }
  if(stat(dir, &st) == -1) {
    log_err("state_dir: stat %s", dir);
    return -errno;
  }
  if(!S_ISDIR(st.st_mode)) {
    log_errx("state_dir: %s is not a directory", dir);
    return -ENOTDIR;
  }
  if(access(dir, W_OK | X_OK) == -1) {
    log_err("state_dir: %s is not writable", dir);
    return -errno;
  }
  return 0;
}

/* fd_health() logs and alerts once when tenant t's last cycle failed for
 * want of file descriptors, and logs once when no tenant's does any
 * more.  The cycles themselves are retried with the tenant's backoff. */
static void fd_health(struct daemon *d, struct tenant *t, int result)
{
  struct alert_event ev;
  char msg[512];

  if(!t) {
    if(d->fd_short)
      log_notice("file descriptors: cycles work again");
    d->fd_short = 0;
    return;
  }
  if(d->fd_short)
    return;
  d->fd_short = 1;
  if(result == -EMFILE)
    snprintf(msg, sizeof(msg),
             "out of file descriptors (EMFILE) with a soft limit of %llu: "
             "cycles fail and are retried with backoff; raise LimitNOFILE= "
             "in the unit (or ulimit -n), or lower max_concurrency",
             rlimit_nofile_soft());
  else
    snprintf(msg, sizeof(msg),
             "the system's file table is full (ENFILE): cycles fail and are "
             "retried with backoff; see fs.file-max and what holds the "
             "descriptors");
  log_errx("tenant %s: %s", tenant_name(t), msg);
  alert_event_init(&ev, ALERT_DAEMON_FDS, tenant_name(t), NULL);
  ev.message = msg;
  if(d->alert)
    alert_emit(d->alert, &ev);
}

/* get_view() is the daemon as the health endpoint and STATUS= see it. */
static void get_view(void *arg, struct status_view *v)
{
  struct daemon *d = arg;

  v->tenants = d->tenants;
  v->ntenants = d->ntenants;
  v->alert = d->alert;
  v->started = d->started;
}

/* update_status() sends STATUS=, e.g. "2 tenants, 5 conflicts (1 stuck),
 * last cycle 12s ago", with "; out of file descriptors" while a tenant's
 * last cycle failed for want of them (see fd_health()). */
static void update_status(struct daemon *d)
{
  struct status_view v;
  struct tenant *short_t = NULL;
  struct tenant_stats st;
  int short_rc = 0;
  char line[256];
  size_t i;

  for(i = 0; i < d->ntenants && !short_t; i++) {
    tenant_get_stats(d->tenants[i], &st);
    if(st.last_result == -EMFILE || st.last_result == -ENFILE) {
      short_t = d->tenants[i];
      short_rc = st.last_result;
    }
  }
  fd_health(d, short_t, short_rc);
  get_view(d, &v);
  status_line(&v, time(NULL), line, sizeof(line));
  notify_status("%s%s", line, short_t ? "; out of file descriptors" : "");
}

static void on_status_timer(uv_timer_t *t)
{
  update_status(t->data);
}

/* is_wedged() is the watchdog's check: a cycle or sweep that never ends
 * means the loop runs but the daemon does not. */
static int is_wedged(void *arg, char *why, size_t len)
{
  struct status_view v;

  get_view(arg, &v);
  return status_wedged(&v, time(NULL), why, len);
}

/* saving() names a tenant whose state save is under way, or is NULL. */
static const char *saving(const struct daemon *d)
{
  size_t i;

  for(i = 0; i < d->ntenants; i++)
    if(tenant_saving(d->tenants[i]))
      return tenant_name(d->tenants[i]);
  return NULL;
}

static void on_reload_timer(uv_timer_t *h);

static void on_tenant_changed(void *arg)
{
  struct daemon *d = arg;

  update_status(d);
  /* Called from the tenant's own callback: the reload, which closes it,
   * runs on the next loop iteration. */
  if(d->reload_wanted && !d->stopping && !saving(d))
    uv_timer_start(&d->reload_timer, on_reload_timer, 0, 0);
}

static void on_tenant_closed(void *arg)
{
  struct daemon *d = arg;

  if(--d->closing == 0 && d->stopping) {
    alert_close(d->alert, NULL, NULL);
    d->alert = NULL;
  }
}

/* close_tenants() closes every tenant in the array and frees the array. */
static void close_tenants(struct daemon *d, struct tenant **ts, size_t n)
{
  size_t i;

  d->closing += n;
  for(i = 0; i < n; i++)
    tenant_close(ts[i], on_tenant_closed, d);
  free(ts);
}

/* start_tenants() starts one tenant per section of cfg.  Returns 0 with
 * *out and *n set, or a negative errno code with every tenant started so far
 * closed again (the failing tenant has logged why). */
static int start_tenants(struct daemon *d, const struct cfg *cfg,
                         struct tenant ***out, size_t *n)
{
  const struct cfg_tenant *tc;
  struct tenant **ts;
  size_t i = 0;
  int rc;

  ts = calloc(cfg->ntenants, sizeof(*ts));
  if(!ts)
    return -ENOMEM;
  for(tc = cfg->tenants; tc; tc = tc->next) {
    rc = tenant_start(&d->loop, cfg, tc, d->state_dir, d->alert,
                      on_tenant_changed, d, &ts[i]);
    if(rc) {
      close_tenants(d, ts, i);
      return rc;
    }
    i++;
  }
  *out = ts;
  *n = i;
  return 0;
}

/* alert_opts_from() fills o from cfg; o borrows cfg's strings. */
static void alert_opts_from(const struct cfg *cfg, const char *spool_dir,
                            struct alert_opts *o)
{
  memset(o, 0, sizeof(*o));
  o->syslog = cfg->alert_syslog;
  o->jsonl_path = cfg->alert_jsonl_file;
  o->sinks = cfg->sinks;
  o->spool_dir = spool_dir;
  o->flood_limit = cfg->flood_limit;
}

/* reload_alerts_and_tenants() starts the tenants of ncfg and the sinks
 * it configures (alert_reload(): unchanged sinks keep running, changed
 * ones hand their spools over) and, when all of them start, replaces the
 * running ones.  Files are reopened (logrotate).  Returns 0, or a
 * negative errno code with the running tenants and sinks untouched. */
static int reload_alerts_and_tenants(struct daemon *d, const struct cfg *ncfg)
{
  struct alert_opts oo, no;
  struct tenant **ts;
  char *spool_dir;
  size_t n;
  int rc;

  alert_reopen(d->alert);
  if(asprintf(&spool_dir, "%s/spool", d->state_dir) < 0)
    return -ENOMEM;
  rc = start_tenants(d, ncfg, &ts, &n);
  if(!rc) {
    alert_opts_from(d->cfg, spool_dir, &oo);
    alert_opts_from(ncfg, spool_dir, &no);
    rc = alert_reload(d->alert, &d->loop, &oo, &no);
    if(rc)
      close_tenants(d, ts, n);
  }
  free(spool_dir);
  if(rc)
    return rc;
  close_tenants(d, d->tenants, d->ntenants);
  d->tenants = ts;
  d->ntenants = n;
  return 0;
}

/* reload() re-reads the configuration file.  The new file replaces the
 * running configuration only when it is valid as a whole. */
static void reload(struct daemon *d)
{
  struct cfg *ncfg = NULL;
  char *errors = NULL;
  int rc;

  /* A tenant started now would read a state file that the save under
   * way is about to replace: the reload waits for it. */
  if(saving(d)) {
    if(!d->reload_wanted)
      log_info("reload: waiting for tenant %s to finish saving its state",
               saving(d));
    d->reload_wanted = 1;
    return;
  }
  /* The sinks an earlier reload replaced or removed are still closing:
   * their spool files must be closed before a sink of the same name may
   * open them again. */
  if(alert_busy(d->alert)) {
    if(!d->reload_wanted)
      log_info("reload: waiting for the sinks of the last reload to close");
    d->reload_wanted = 1;
    uv_timer_start(&d->reload_timer, on_reload_timer, 100, 0);
    return;
  }
  d->reload_wanted = 0;
  notify_reloading();
  log_info("reload: reading %s", d->conf_path);
  rc = cfg_load(d->conf_path, &ncfg, &errors);
  if(rc) {
    log_lines(errors, "");
    log_errx("reload: %s rejected; keeping the running configuration",
             d->conf_path);
    free(errors);
    update_status(d);
    notify_ready();
    return;
  }
  if(strcmp(ncfg->state_dir, d->state_dir))
    log_warnx("reload: state_dir change to %s takes effect only at "
              "restart; still using %s",
              ncfg->state_dir, d->state_dir);
  if(strcmp(ncfg->health_listen, d->cfg->health_listen) ||
     strcmp(ncfg->health_socket, d->cfg->health_socket))
    log_warnx("reload: health_listen and health_socket changes take effect "
              "only at restart");
  rc = reload_alerts_and_tenants(d, ncfg);
  if(rc) {
    log_errx("reload: %s rejected; keeping the running configuration",
             d->conf_path);
    cfg_free(ncfg);
    update_status(d);
    notify_ready();
    return;
  }
  if(!d->debug)
    log_set_level(ncfg->log_level);
  cfg_free(d->cfg);
  d->cfg = ncfg;
  log_info("reload: configuration reloaded (%zu tenant%s)", d->cfg->ntenants,
           d->cfg->ntenants == 1 ? "" : "s");
  update_status(d);
  notify_ready();
}

static void on_reload_timer(uv_timer_t *h)
{
  reload(h->data);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
  (void)arg;
  if(!uv_is_closing(h)) {
    log_warnx("shutdown: closing a stray %s handle",
              uv_handle_type_name(h->type));
    uv_close(h, NULL);
  }
}

/* stop() begins an orderly shutdown: every module closes its handles, and
 * uv_run() returns once their close callbacks have run. */
static void stop(struct daemon *d, const char *why)
{
  if(d->stopping)
    return;
  d->stopping = 1;
  notify_stopping();
  notify_status("stopping (%s)", why);
  log_info("received %s, stopping", why);
  plat_control_close(d->control);
  d->control = NULL;
  loopstat_close(d->loopstat, NULL, NULL);
  d->loopstat = NULL;
  notify_close(d->notify, NULL, NULL);
  uv_close((uv_handle_t *)&d->status_timer, NULL);
  uv_close((uv_handle_t *)&d->reload_timer, NULL);
  health_close(d->health, NULL, NULL);
  d->health = NULL;
  close_tenants(d, d->tenants, d->ntenants);
  d->tenants = NULL;
  d->ntenants = 0;
  if(!d->closing) {
    alert_close(d->alert, NULL, NULL);
    d->alert = NULL;
  }
}

static void on_control(enum plat_ctl ctl, const char *what, void *arg)
{
  struct daemon *d = arg;

  if(ctl == PLAT_CTL_RELOAD)
    reload(d);
  else
    stop(d, what);
}

/* check_config() is -n: the file, then every file it names, checked for
 * user (a name or uid), or for the service's user: ourselves, or, for
 * root, the dynamic user the shipped unit runs as. */
static int check_config(const char *path, const char *user)
{
  struct preflight_user u;
  struct cfg *cfg = NULL;
  char *errors = NULL, why[128];
  int bad;

  if(user) {
    if(preflight_user_lookup(user, &u, why, sizeof(why))) {
      fprintf(stderr, "quarantined: -u: %s\n", why);
      return 2;
    }
    if(!u.self && !preflight_can_switch()) {
      fprintf(stderr,
              "quarantined: -u %s: only root can check as another "
              "user\n",
              user);
      return 2;
    }
  }
  else
    preflight_user_default(&u);
  if(cfg_load(path, &cfg, &errors)) {
    fputs(errors, stderr);
    free(errors);
    return 1;
  }
  bad = preflight_check(cfg, &u, stderr);
  cfg_free(cfg);
  if(bad)
    return 1;
  if(u.self)
    printf("configuration OK\n");
  else
    printf("configuration OK (files checked as %s)\n", u.name);
  return 0;
}

/* daemon_main() is the daemon, run by plat_main() as a service or from a
 * shell. */
static int daemon_main(int argc, char *argv[])
{
  struct daemon d;
  char *errors = NULL;
  const char *check_user = NULL;
  int ch, check_only = 0, rc;

  memset(&d, 0, sizeof(d));
  d.conf_path = QD_CONFFILE;
  while((ch = getopt(argc, argv, "dFf:nu:Vh")) != -1) {
    switch(ch) {
    case 'd':
      d.debug = 1;
      break;
    case 'F':
      d.foreground = 1;
      break;
    case 'f':
      d.conf_path = optarg;
      break;
    case 'n':
      check_only = 1;
      break;
    case 'u':
      check_user = optarg;
      break;
    case 'V':
      printf("quarantined %s\n", QD_VERSION);
      return 0;
    default:
      usage();
    }
  }
  if(optind != argc || (check_user && !check_only))
    usage();

  if(check_only)
    return check_config(d.conf_path, check_user);

  /* Secrets live in this process's memory: no core dumps, no ptrace. */
  if((rc = plat_harden()))
    fatalx("cannot keep secrets out of core dumps: %s", strerror(-rc));

  log_init("quarantined", d.debug || d.foreground);
  if(d.debug)
    log_set_level(LOG_DEBUG);
  {
    unsigned long long before, after;

    rc = rlimit_raise_nofile(&before, &after);
    if(rc)
      log_warnx("file descriptors: cannot raise the soft limit: %s",
                strerror(-rc));
    else if(before != after)
      log_info("file descriptors: soft limit raised from %llu to %llu", before,
               after);
  }
  if(cfg_load(d.conf_path, &d.cfg, &errors)) {
    log_lines(errors, "");
    free(errors);
    fatalx("configuration %s rejected", d.conf_path);
  }
  if(!d.debug)
    log_set_level(d.cfg->log_level);
  d.state_dir = strdup(d.cfg->state_dir);
  if(!d.state_dir)
    fatal("strdup");
  if(prepare_state_dir(d.state_dir))
    fatalx("cannot use state directory %s", d.state_dir);

  rc = uv_loop_init(&d.loop);
  if(rc)
    fatalx("uv_loop_init: %s", uv_strerror(rc));
  if((rc = plat_control_start(&d.loop, on_control, &d, &d.control)))
    fatalx("uv_signal_start: %s", uv_strerror(rc));
  rc = notify_new(&d.loop, &d.notify);
  if(rc)
    fatalx("notify_new: %s", strerror(-rc));
  notify_set_check(d.notify, is_wedged, &d);
  d.started = time(NULL);
  {
    struct alert_opts ao;
    char *spool_dir;

    if(asprintf(&spool_dir, "%s/spool", d.state_dir) < 0)
      fatal("asprintf");
    if(mkdir(spool_dir, 0750) < 0 && errno != EEXIST)
      fatal("mkdir %s", spool_dir);
    alert_opts_from(d.cfg, spool_dir, &ao);
    rc = alert_open(&d.loop, &ao, &d.alert);
    free(spool_dir);
    if(rc)
      fatalx("cannot set up the alert sinks");
  }
  if(start_tenants(&d, d.cfg, &d.tenants, &d.ntenants))
    fatalx("cannot start; see the messages above");
  /* Every tenant said what its state commits: the spooled alerts of
   * tenants no longer configured go out. */
  alert_started(d.alert);
  if(health_start(&d.loop, d.cfg->health_listen, d.cfg->health_socket, get_view,
                  &d, &d.health))
    fatalx("health: out of memory");
  uv_timer_init(&d.loop, &d.status_timer);
  uv_timer_init(&d.loop, &d.reload_timer);
  d.reload_timer.data = &d;
  d.status_timer.data = &d;
  uv_timer_start(&d.status_timer, on_status_timer, 10000, 10000);

  log_info("quarantined %s started: %zu tenant%s, configuration %s", QD_VERSION,
           d.cfg->ntenants, d.cfg->ntenants == 1 ? "" : "s", d.conf_path);
  update_status(&d);
  notify_ready();
  if(loopstat_new(&d.loop, &d.loopstat))
    fatalx("loopstat_new: out of memory");

  uv_run(&d.loop, UV_RUN_DEFAULT);

  /* Every module has closed its handles; anything left is a bug, but it
   * is closed all the same so the loop can be closed. */
  uv_walk(&d.loop, close_walk_cb, NULL);
  uv_run(&d.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&d.loop);
  if(rc) {
    log_errx("shutdown: uv_loop_close: %s", uv_strerror(rc));
    return 1;
  }
  log_info("stopped cleanly");
  cfg_free(d.cfg);
  free(d.state_dir);
  return 0;
}

int main(int argc, char *argv[])
{
  return plat_main(argc, argv, daemon_main);
}
