/* SPDX-License-Identifier: MIT
 *
 * ctl_check: status and check, both from the daemon's /status.json.
 */
#include "ctl_check.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "conflict.h"
#include "ctl_source.h"
#include "status.h"
#include "jsonx.h"
#include "plat.h"
#include "timex.h"

/* Monitoring Plugins return codes. */
enum { NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN };
static const char *const nagios_names[] = {"OK", "WARNING", "CRITICAL",
                                           "UNKNOWN"};

/* number() reads one end of a range: a number, optionally with s, m, h
 * or d.  Returns 0 or -EINVAL. */
static int number(const char *s, size_t len, double *out)
{
  char buf[64], *end;
  double v, mult = 1;

  if(!len || len >= sizeof(buf))
    return -EINVAL;
  memcpy(buf, s, len);
  buf[len] = '\0';
  switch(buf[len - 1]) {
  case 's':
    buf[--len] = '\0';
    break;
  case 'm':
    mult = 60, buf[--len] = '\0';
    break;
  case 'h':
    mult = 3600, buf[--len] = '\0';
    break;
  case 'd':
    mult = 86400, buf[--len] = '\0';
    break;
  }
  errno = 0;
  v = strtod(buf, &end);
  if(!len || *end || errno || !isfinite(v))
    return -EINVAL;
  *out = v * mult;
  return 0;
}

int ctl_check_range_parse(const char *s, struct ctl_check_range *r)
{
  const char *colon;

  memset(r, 0, sizeof(*r));
  r->text = s;
  if(*s == '@') {
    r->inside = true;
    s++;
  }
  colon = strchr(s, ':');
  if(!colon) {
    /* "10": 0..10 */
    r->end_inf = false;
    return number(s, strlen(s), &r->end);
  }
  if(colon == s + 1 && s[0] == '~')
    r->start_inf = true;
  else if(number(s, (size_t)(colon - s), &r->start))
    return -EINVAL;
  if(!colon[1])
    r->end_inf = true;
  else if(number(colon + 1, strlen(colon + 1), &r->end))
    return -EINVAL;
  if(!r->start_inf && !r->end_inf && r->start > r->end)
    return -EINVAL;
  return 0;
}

bool ctl_check_range_alert(const struct ctl_check_range *r, double v)
{
  bool outside = (!r->start_inf && v < r->start) || (!r->end_inf && v > r->end);

  return r->inside ? !outside : outside;
}

/* fetch_status() gets /status.json.  Returns the document, or NULL with
 * *err set (see ctl_source_get(); -EBADMSG for an unusable answer). */
static cJSON *fetch_status(const struct ctl_source_env *env, int *err)
{
  char *body = NULL;
  long status = 0;
  cJSON *doc;

  *err = ctl_source_get(env, "/status.json", false, &body, &status);
  if(*err)
    return NULL;
  doc = status == 200 ? cJSON_Parse(body) : NULL;
  free(body);
  if(!doc)
    *err = -EBADMSG;
  return doc;
}

/* The daemon's /status.json, read leniently: a member that is missing or
 * of another type reads as 0, false, NULL or an empty list. */
static double num(const cJSON *o, const char *name)
{
  long long v;

  return jsonx_get_int(o, name, 0, LLONG_MAX, &v) ? 0 : (double)v;
}

static bool flag(const cJSON *o, const char *name)
{
  int v;

  return !jsonx_get_bool(o, name, &v) && v == 1;
}

static const cJSON *member(const cJSON *o, const char *name, bool array)
{
  const cJSON *m = NULL;

  if(array ? jsonx_get_array(o, name, &m) : jsonx_get_object(o, name, &m))
    return NULL;
  return m;
}

/* where() names the endpoint for "not running" messages. */
static const char *where(const struct ctl_source_env *env)
{
  return env->socket ? env->socket : env->url ? env->url : "(none configured)";
}

/* when() writes "12s ago" / "in 4m" for the time member name of o, or
 * "-". */
static void when(const cJSON *o, const char *name, time_t now, char *buf,
                 size_t len)
{
  char age[24];
  time_t v;

  if(jsonx_get_time(o, name, &v) || !v) {
    snprintf(buf, len, "-");
    return;
  }
  timex_format_age(labs((long)(now - v)), age, sizeof(age));
  snprintf(buf, len, v <= now ? "%s ago" : "in %s", age);
}

int ctl_check_status(int argc, char **argv)
{
  static const struct option longopts[] = {{"json", no_argument, NULL, 'J'},
                                           CTL_SOURCE_LONGOPTS,
                                           {NULL, 0, NULL, 0}};
  struct ctl_source_env env;
  const cJSON *t, *a, *reasons;
  bool json = false;
  time_t now = time(NULL);
  cJSON *doc;
  int ch, err, rc;

  memset(&env, 0, sizeof(env));
  optind = 0; /* 0: GNU getopt starts afresh (main used "+") */
  while((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
    if(ch == 'J')
      json = true;
    else if(!ctl_source_env_option(&env, ch, optarg)) {
      fprintf(stderr,
              "quarantinectl status: unknown option or missing value: %s\n",
              argv[optind - 1]);
      return CTL_SOURCE_EXIT_USAGE;
    }
  }
  if(optind != argc) {
    fprintf(stderr, "quarantinectl status: takes no arguments\n");
    return CTL_SOURCE_EXIT_USAGE;
  }
  rc = ctl_source_env_load(&env);
  if(rc)
    return rc;
  doc = fetch_status(&env, &err);
  if(!doc) {
    if(err == -ENOTCONN)
      fprintf(stderr,
              "quarantinectl: quarantined is not running (no answer "
              "on %s)\n",
              where(&env));
    else
      fprintf(stderr, "quarantinectl: %s: %s\n", where(&env),
              err == -ETIMEDOUT ? "no answer in time" : "unexpected answer");
    ctl_source_env_free(&env);
    return err == -ENOTCONN ? CTL_SOURCE_EXIT_NOT_RUNNING
                            : CTL_SOURCE_EXIT_FAIL;
  }
  rc = flag(doc, "ready") ? CTL_SOURCE_EXIT_OK : CTL_SOURCE_EXIT_FAIL;
  if(json) {
    char *s = cJSON_Print(doc);

    if(s)
      printf("%s\n", s);
    free(s);
    cJSON_Delete(doc);
    ctl_source_env_free(&env);
    return rc;
  }
  printf("quarantined %s, pid %.0f, %s\n", jsonx_str(doc, "version"),
         num(doc, "pid"), rc ? "NOT READY" : "ready");
  reasons = member(doc, "reasons", true);
  cJSON_ArrayForEach(t, reasons) if(cJSON_IsString(t))
      printf("  %s\n", t->valuestring);
  printf("\n%-16s %-10s %-6s %-8s %9s %6s %5s %5s %s\n", "TENANT", "LAST CYCLE",
         "RESULT", "NEXT", "CONFLICTS", "ACTIVE", "FREED", "STUCK", "TOKEN");
  cJSON_ArrayForEach(t, member(doc, "tenants", true))
  {
    const cJSON *st = member(t, "states", false);
    char last[32], next[32];

    when(t, "lastCycle", now, last, sizeof(last));
    when(t, "nextCycle", now, next, sizeof(next));
    if(flag(t, "running"))
      snprintf(next, sizeof(next), "running");
    printf("%-16s %-10s %-6s %-8s %9.0f %6.0f %5.0f %5.0f %s\n",
           jsonx_str(t, "name") ? jsonx_str(t, "name") : "?", last,
           jsonx_str(t, "lastResult") ? jsonx_str(t, "lastResult") : "-", next,
           num(t, "conflicts"), num(st, "active"), num(st, "freed"),
           num(st, "stuck"),
           jsonx_str(t, "token") ? jsonx_str(t, "token") : "?");
  }
  cJSON_ArrayForEach(a, member(doc, "alerts", true)) printf(
      "\nalerts %s: %.0f delivered, %.0f pending, %.0f dropped%s",
      jsonx_str(a, "sink") ? jsonx_str(a, "sink") : "?", num(a, "delivered"),
      num(a, "pending"), num(a, "dropped"), flag(a, "full") ? " (FULL)" : "");
  printf("\n");
  cJSON_Delete(doc);
  ctl_source_env_free(&env);
  return rc;
}

/* ===== check ===== */

static void on_deadline(void)
{
  static const char msg[] = "QUARANTINED UNKNOWN - plugin timed out\n";

  /* Only async-signal-safe calls here (plat_deadline()). */
  if(write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
    _exit(NAGIOS_UNKNOWN);
  _exit(NAGIOS_UNKNOWN);
}

static int unknown(const char *fmt, const char *arg)
{
  printf("QUARANTINED UNKNOWN - ");
  printf(fmt, arg);
  printf("\n");
  return NAGIOS_UNKNOWN;
}

int ctl_check_plugin(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"warning", required_argument, NULL, 'w'},
      {"critical", required_argument, NULL, 'c'},
      {"age-warning", required_argument, NULL, 'W'},
      {"age-critical", required_argument, NULL, 'C'},
      {"tenant", required_argument, NULL, 'T'},
      {"timeout", required_argument, NULL, 't'},
      CTL_SOURCE_LONGOPTS,
      {NULL, 0, NULL, 0}};
  struct ctl_check_range w, c, aw, ac;
  bool has_w = false, has_c = false, has_aw = false, has_ac = false;
  const char *tenant = NULL;
  struct ctl_source_env env;
  const cJSON *t, *reasons;
  double conflicts = 0, stuck = 0, oldest = 0, ntenants = 0;
  unsigned long timeout = 10;
  int ch, err, state = NAGIOS_OK;
  char *end, msg[512] = "";
  cJSON *doc;

  memset(&env, 0, sizeof(env));
  /* Default: any conflict is worth a look. */
  ctl_check_range_parse("0", &w);
  has_w = true;
  optind = 0; /* 0: GNU getopt starts afresh (main used "+") */
  while((ch = getopt_long(argc, argv, "w:c:W:C:t:f:", longopts, NULL)) != -1) {
    switch(ch) {
    case 'w':
      if(ctl_check_range_parse(optarg, &w))
        return unknown("-w: '%s' is not a range (10, 10:, ~:10, 10:20, @10:20)",
                       optarg);
      break;
    case 'c':
      if(ctl_check_range_parse(optarg, &c))
        return unknown("-c: '%s' is not a range (10, 10:, ~:10, 10:20, @10:20)",
                       optarg);
      has_c = true;
      break;
    case 'W':
      if(ctl_check_range_parse(optarg, &aw))
        return unknown("--age-warning: '%s' is not a range such as 7d", optarg);
      has_aw = true;
      break;
    case 'C':
      if(ctl_check_range_parse(optarg, &ac))
        return unknown("--age-critical: '%s' is not a range such as 30d",
                       optarg);
      has_ac = true;
      break;
    case 'T':
      tenant = optarg;
      break;
    case 't':
      errno = 0;
      timeout = strtoul(optarg, &end, 10);
      if(errno || *end || !timeout || timeout > 3600 || optarg[0] == '-')
        return unknown("--timeout: '%s' is not 1 to 3600 seconds", optarg);
      break;
    default:
      if(!ctl_source_env_option(&env, ch, optarg))
        return unknown("unknown option or missing value: %s", argv[optind - 1]);
    }
  }
  if(optind != argc)
    return unknown("unexpected argument '%s'", argv[optind]);
  if(plat_deadline((unsigned)timeout, on_deadline))
    return unknown("cannot set the time limit%s", "");
  env.timeout_ms = (long)timeout * 1000;
  if(ctl_source_env_load(&env))
    return unknown("cannot read the configuration %s", env.conf_path);
  doc = fetch_status(&env, &err);
  if(!doc) {
    if(err == -ENOTCONN) {
      printf("QUARANTINED CRITICAL - the daemon is not running (no answer on "
             "%s)\n",
             where(&env));
      ctl_source_env_free(&env);
      return NAGIOS_CRITICAL;
    }
    ctl_source_env_free(&env);
    return unknown("%s", err == -ETIMEDOUT
                             ? "the daemon did not answer in time"
                             : "unexpected answer from the daemon");
  }
  cJSON_ArrayForEach(t, member(doc, "tenants", true))
  {
    const char *name = jsonx_str(t, "name");

    if(tenant && (!name || strcmp(name, tenant)))
      continue;
    ntenants++;
    conflicts += num(t, "conflicts");
    stuck += num(member(t, "states", false), "stuck");
    if(num(t, "oldestSeconds") > oldest)
      oldest = num(t, "oldestSeconds");
  }
  if(tenant && !ntenants) {
    cJSON_Delete(doc);
    ctl_source_env_free(&env);
    return unknown("no tenant '%s' in the running daemon", tenant);
  }
  if((has_w && ctl_check_range_alert(&w, conflicts)) ||
     (has_aw && ctl_check_range_alert(&aw, oldest)))
    state = NAGIOS_WARNING;
  if((has_c && ctl_check_range_alert(&c, conflicts)) ||
     (has_ac && ctl_check_range_alert(&ac, oldest)))
    state = NAGIOS_CRITICAL;
  reasons = member(doc, "reasons", true);
  if(!flag(doc, "ready")) {
    state = NAGIOS_CRITICAL;
    if(cJSON_IsString(cJSON_GetArrayItem(reasons, 0)))
      snprintf(msg, sizeof(msg), "; not ready: %s",
               cJSON_GetArrayItem(reasons, 0)->valuestring);
  }
  {
    char age[24];

    timex_format_age((long)oldest, age, sizeof(age));
    printf(
        "QUARANTINED %s - %.0f conflict%s (%.0f stuck), oldest %s, %.0f "
        "tenant%s%s | conflicts=%.0f;%s;%s;0 stuck=%.0f oldest=%.0fs;%s;%s\n",
        nagios_names[state], conflicts, conflicts == 1 ? "" : "s", stuck,
        conflicts ? age : "-", ntenants, ntenants == 1 ? "" : "s", msg,
        conflicts, has_w ? w.text : "", has_c ? c.text : "", stuck, oldest,
        has_aw ? aw.text : "", has_ac ? ac.text : "");
  }
  cJSON_Delete(doc);
  ctl_source_env_free(&env);
  return state;
}
