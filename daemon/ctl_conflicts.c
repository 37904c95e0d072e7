/* SPDX-License-Identifier: MIT
 *
 * ctl_conflicts: option parsing and output of `conflicts` and `show`.
 */
#include "ctl_conflicts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "classify.h"
#include "ctl_list.h"
#include "journal.h"
#include "tfiles.h"
#include "status.h"
#include "timex.h"

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
  fprintf(stderr, "quarantinectl %s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'quarantinectl -h' for help.\n");
  return CTL_SOURCE_EXIT_USAGE;
}

/* parse_enum() sets *out from the name s through parse(), or prints why
 * not.  Returns 0 or CTL_SOURCE_EXIT_USAGE. */
static int parse_enum(const char *cmd, const char *opt, const char *s,
                      int (*parse)(const char *), const char *names, int *out)
{
  int v = parse(s);
  char msg[256];

  if(v < 0) {
    snprintf(msg, sizeof(msg), "--%s: '%%s' is not one of %s", opt, names);
    return usage_error(cmd, msg, s);
  }
  *out = v;
  return 0;
}

/* class_list() writes the names --class takes into buf ("unknown,
 * cloud_account, ..."), from conflict.c's table, so that a new class is
 * named without a second list to keep.  Returns buf. */
static const char *class_list(char *buf, size_t size)
{
  size_t used = 0;
  int i;

  buf[0] = '\0';
  for(i = 0; i < CONFLICT_NCLASS && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                             conflict_class_name((enum conflict_class)i));
  return buf;
}

static int property_parse(const char *s)
{
  if(!strcasecmp(s, "UserPrincipalName"))
    return CONFLICT_UPN;
  if(!strcasecmp(s, "ProxyAddresses") || !strcasecmp(s, "ProxyAddress"))
    return CONFLICT_PROXY;
  return conflict_property_parse(s);
}

int ctl_conflicts_list(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"tenant", required_argument, NULL, 't'},
      {"property", required_argument, NULL, 'p'},
      {"value", required_argument, NULL, 'v'},
      {"search", required_argument, NULL, 's'},
      {"class", required_argument, NULL, 'c'},
      {"state", required_argument, NULL, 'S'},
      {"type", required_argument, NULL, 'T'},
      {"older-than", required_argument, NULL, 'o'},
      {"sort", required_argument, NULL, 'k'},
      {"reverse", no_argument, NULL, 'r'},
      {"max", required_argument, NULL, 'n'},
      {"csv", no_argument, NULL, 'C'},
      {"bom", no_argument, NULL, 'B'},
      {"json", no_argument, NULL, 'J'},
      CTL_SOURCE_LONGOPTS,
      {NULL, 0, NULL, 0}};
  struct ctl_source_env env;
  struct ctl_list_filter f;
  struct ctl_source_data data;
  struct ctl_list_row *rows;
  const char *tenant = NULL;
  int ch, rc, key = CTL_LIST_SORT_TENANT;
  bool reverse = false, csv = false, bom = false, json = false;
  unsigned long long secs;
  size_t n, max = 0;
  time_t now = time(NULL);
  char classes[256];
  char *end;

  memset(&env, 0, sizeof(env));
  ctl_list_filter_init(&f);
  optind = 0; /* 0: GNU getopt starts afresh (main used "+") */
  while((ch = getopt_long(argc, argv, "t:p:v:s:c:n:rf:", longopts, NULL)) !=
        -1) {
    rc = 0;
    switch(ch) {
    case 't':
      tenant = optarg;
      break;
    case 'p':
      rc = parse_enum("conflicts", "property", optarg, property_parse,
                      "upn, proxy", &f.property);
      break;
    case 'v':
      f.value = optarg;
      break;
    case 's':
      f.search = optarg;
      break;
    case 'c':
      rc = parse_enum("conflicts", "class", optarg, conflict_class_parse,
                      class_list(classes, sizeof(classes)), &f.cls);
      break;
    case 'S':
      rc = parse_enum("conflicts", "state", optarg, conflict_state_parse,
                      "active, freed, stuck", &f.state);
      break;
    case 'T':
      rc = parse_enum("conflicts", "type", optarg, conflict_objtype_parse,
                      "user, group, contact", &f.objtype);
      break;
    case 'o':
      if(timex_parse_duration(optarg, &secs) || secs > 100ULL * 365 * 86400)
        return usage_error("conflicts",
                           "--older-than: '%s' is not a duration such as 90s, "
                           "30m, 12h or 7d",
                           optarg);
      f.older_than = (long)secs;
      break;
    case 'k':
      key = ctl_list_sort_parse(optarg);
      if(key < 0)
        return usage_error("conflicts",
                           "--sort: '%s' is not one of tenant, value, age, "
                           "class, state, type, name",
                           optarg);
      break;
    case 'r':
      reverse = true;
      break;
    case 'n':
      errno = 0;
      max = strtoul(optarg, &end, 10);
      if(errno || *end || !max || optarg[0] == '-')
        return usage_error("conflicts",
                           "--max: '%s' is not a whole number above 0", optarg);
      break;
    case 'C':
      csv = true;
      break;
    case 'B':
      bom = true;
      break;
    case 'J':
      json = true;
      break;
    default:
      if(!ctl_source_env_option(&env, ch, optarg))
        return usage_error("conflicts", "unknown option or missing value: %s",
                           argv[optind - 1]);
    }
    if(rc)
      return rc;
  }
  if(optind != argc)
    return usage_error("conflicts", "unexpected argument '%s'", argv[optind]);
  if(csv && json)
    return usage_error("conflicts", "%s",
                       "--csv and --json exclude each other");
  if(bom && !csv)
    return usage_error("conflicts", "%s", "--bom goes with --csv");
  rc = ctl_source_env_load(&env);
  if(!rc)
    rc = ctl_source_load(&env, tenant, &data);
  if(rc) {
    ctl_source_env_free(&env);
    return rc;
  }
  rows = ctl_list_select(&data, &f, now, (enum ctl_list_sort)key, reverse, max,
                         &n);
  if(n == (size_t)-1) {
    fprintf(stderr, "quarantinectl: out of memory\n");
    rc = CTL_SOURCE_EXIT_FAIL;
  }
  else if(csv)
    rc = ctl_list_csv(stdout, rows, n, bom);
  else if(json)
    rc = ctl_list_json(stdout, rows, n);
  else
    rc = ctl_list_table(stdout, rows, n, now,
                        isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
  if(rc < 0) {
    fprintf(stderr, "quarantinectl: cannot write the list: %s\n",
            strerror(-rc));
    rc = CTL_SOURCE_EXIT_FAIL;
  }
  free(rows);
  ctl_source_data_free(&data);
  ctl_source_env_free(&env);
  return rc;
}

/* ===== show ===== */

/* wrap() prints text indented by 13 columns, broken at spaces before
 * column 79. */
static void wrap(const char *label, const char *text)
{
  const size_t width = 66;
  const char *p = text;

  printf("%-12s ", label);
  while(*p) {
    size_t len = strlen(p), cut = len;

    if(len > width) {
      cut = width;
      while(cut && p[cut] != ' ')
        cut--;
      if(!cut)
        cut = width;
    }
    printf("%.*s\n", (int)cut, p);
    p += cut;
    while(*p == ' ')
      p++;
    if(*p)
      printf("%-12s ", "");
  }
  if(!*text)
    putchar('\n');
}

static void show_time(const char *label, time_t t, time_t now)
{
  char buf[TIMEX_ISO_LEN], age[16];

  if(!t)
    return;
  timex_format_iso(t, buf, sizeof(buf));
  timex_format_age((long)(now - t), age, sizeof(age));
  printf("%-12s %s (%s %s)\n", label, buf, age, t <= now ? "ago" : "from now");
}

static const char *str(const char *s)
{
  return s ? s : "-";
}

/* anchor_status() says whether the guarded fix wrote a source anchor for
 * the cloud-only holder of a cloud_account conflict. */
static void anchor_status(const struct ctl_source_env *env, const char *tenant,
                          const struct classify_result *cr)
{
  const struct cfg_tenant *tc =
      env->cfg ? cfg_tenant_find(env->cfg, tenant) : NULL;
  static const char *const modes[] = {"off", "dry-run", "apply"};
  struct journal_state st;
  char *path, err[256];
  size_t i;

  if(cr->cls != CONFLICT_CLASS_CLOUD_ACCOUNT || !cr->holder)
    return;
  printf("%-12s apply_mode = %s", "Anchor",
         tc && (unsigned)tc->apply_mode < 3 ? modes[tc->apply_mode] : "?");
  path = env->state_dir ? tfiles_path(env->state_dir, tenant, TFILES_JOURNAL)
                        : NULL;
  memset(&st, 0, sizeof(st));
  if(path && !journal_load(path, tenant, &st, err, sizeof(err))) {
    bool pending = false;

    for(i = 0; i < st.npending; i++)
      pending |= !strcasecmp(st.pending[i].rec.user_id, cr->holder->id);
    if(journal_state_applied(&st, cr->holder->id, NULL))
      printf("; applied to %s (see the journal)", cr->holder->id);
    else if(pending)
      printf("; a write to %s is pending reconciliation", cr->holder->id);
    else
      printf("; nothing written to %s", cr->holder->id);
  }
  printf("\n");
  journal_state_clear(&st);
  free(path);
}

static void show_one(const struct ctl_source_env *env, const char *tenant,
                     const struct conflict *c, time_t now)
{
  struct classify_opts opts;
  struct classify_result cr;
  size_t i;

  memset(&opts, 0, sizeof(opts));
  opts.stale_after = env->cfg ? env->cfg->orphan_after : 7 * 86400;
  classify_conflict(c, &opts, now, &cr);
  printf("%-12s %s\n", "Conflict", c->key);
  printf("%-12s %s\n", "Tenant", tenant);
  printf("%-12s %s %s\n", "Value",
         c->property == CONFLICT_UPN ? "userPrincipalName" : "proxyAddress",
         c->value);
  printf("%-12s %s %s (id %s)\n", "Object", conflict_objtype_name(c->objtype),
         str(c->display_name), c->object_id);
  if(c->upn)
    printf("%-12s %s%s\n", "  UPN now", c->upn,
           c->placeholder ? " (placeholder)" : "");
  printf("%-12s %s, anchor %s, DN %s\n", "  synced",
         c->sync_enabled == CONFLICT_TRI_TRUE ? "yes" : "no",
         str(c->immutable_id), str(c->on_prem_dn));
  for(i = 0; i < c->nholders; i++) {
    const struct conflict_holder *h = &c->holders[i];

    printf("%-12s %s %s (id %s, UPN %s, %s)\n", i ? "" : "Held by",
           conflict_objtype_name(h->type), str(h->display_name), h->id,
           str(h->upn),
           h->sync_enabled == CONFLICT_TRI_TRUE ? "synced" : "cloud-only");
  }
  if(!c->nholders)
    printf("%-12s %s\n", "Held by",
           c->looked_up ? "no other object" : "not looked up yet");
  printf("%-12s %s: %s\n", "Class", conflict_class_name(cr.cls), cr.reason);
  wrap("Explanation", cr.explanation);
  for(i = 0; i < cr.nsteps; i++) {
    char step[sizeof(cr.steps[0]) + 24];

    snprintf(step, sizeof(step), "%zu. %s", i + 1, cr.steps[i]);
    wrap(i ? "" : "Remediation", step);
  }
  printf("%-12s %s\n", "State", conflict_state_name(c->state));
  show_time("Quarantined", c->occurred, now);
  show_time("Detected", c->first_seen, now);
  show_time("Looked up", c->looked_up, now);
  show_time("Freed", c->freed_at, now);
  show_time("Release by", c->release_by, now);
  show_time("Stuck", c->stuck_at, now);
  if(c->lookup_error)
    printf("%-12s %s\n", "Lookup", c->lookup_error);
  anchor_status(env, tenant, &cr);
}

static bool matches(const struct conflict *c, const char *what)
{
  const char *v = what;

  if(!strcmp(c->key, what) || !strcasecmp(c->object_id, what))
    return true;
  if(!strncasecmp(v, "smtp:", 5))
    v += 5;
  return !strcasecmp(c->value, v);
}

int ctl_conflicts_show(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"tenant", required_argument, NULL, 't'},
      CTL_SOURCE_LONGOPTS,
      {NULL, 0, NULL, 0}};
  struct ctl_source_env env;
  struct ctl_source_data data;
  const char *tenant = NULL;
  time_t now = time(NULL);
  size_t i, shown = 0;
  int ch, rc;

  memset(&env, 0, sizeof(env));
  optind = 0; /* 0: GNU getopt starts afresh (main used "+") */
  while((ch = getopt_long(argc, argv, "t:f:", longopts, NULL)) != -1) {
    if(ch == 't')
      tenant = optarg;
    else if(!ctl_source_env_option(&env, ch, optarg))
      return usage_error("show", "unknown option or missing value: %s",
                         argv[optind - 1]);
  }
  if(optind + 1 != argc)
    return usage_error("show", "%s",
                       "takes one KEY, VALUE or object id (see 'conflicts')");
  rc = ctl_source_env_load(&env);
  if(!rc)
    rc = ctl_source_load(&env, tenant, &data);
  if(rc) {
    ctl_source_env_free(&env);
    return rc;
  }
  for(i = 0; i < data.n; i++) {
    struct conflict_iter it;
    const struct conflict *c;

    conflict_iter_init(&it, data.t[i].set);
    while((c = conflict_iter_next(&it)))
      if(matches(c, argv[optind])) {
        if(shown++)
          putchar('\n');
        show_one(&env, data.t[i].name, c, now);
      }
  }
  if(!shown) {
    fprintf(stderr,
            "quarantinectl: no conflict with key, value or object id "
            "'%s'\n",
            argv[optind]);
    rc = CTL_SOURCE_EXIT_FAIL;
  }
  ctl_source_data_free(&data);
  ctl_source_env_free(&env);
  return rc;
}
