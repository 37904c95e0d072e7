/* SPDX-License-Identifier: MIT
 *
 * quarantinectl: the admin's tool for source anchors.  It converts GUIDs
 * and anchors, checks known-anchor files, turns a csexport XML export into
 * a known-anchors CSV for review, approves the daemon's suggestions and
 * shows the apply journal.  It never talks to Graph and never writes to a
 * tenant.  Exit codes: 0 ok, 1 bad input or a failed operation, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anchor.h"
#include "anchors.h"
#include "atomic.h"
#include "csexport.h"
#include "ctl_check.h"
#include "ctl_conflicts.h"
#include "journal.h"
#include "timex.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: quarantinectl [-hV] command [args]\n"
    "\n"
    "  guid2anchor GUID              print the source anchor of an objectGUID\n"
    "  anchor2guid ANCHOR            print the GUID a source anchor encodes\n"
    "  anchors check [-a] FILE...    check known-anchor CSV files\n"
    "  csexport import [-af] [-o OUT] FILE\n"
    "                                known-anchor CSV from a csexport XML\n"
    "  suggestions list FILE         show the daemon's anchor suggestions\n"
    "  suggestions approve FILE TARGET [ANCHOR]\n"
    "                                approve one suggestion\n"
    "  journal show FILE             show an apply journal\n"
    "  conflicts [options]           list and filter the conflicts\n"
    "  show [-t TENANT] KEY|VALUE    one conflict in full\n"
    "  status [--json]               the running daemon, per tenant\n"
    "  check [-w R] [-c R] [-t S]    Nagios/Icinga plugin\n"
    "\n"
    "  conflicts: -t TENANT, -p upn|proxy, -v VALUE, -s TEXT, -c CLASS,\n"
    "    --state S, --type T, --older-than DUR, --sort KEY, -r, -n MAX,\n"
    "    --csv [--bom], --json; with conflicts, show, status and check:\n"
    "    -f CONF, --state-dir DIR, --socket PATH, --url URL, --offline\n"
    "\n"
    "  -a  accept anchors of any length, not only 16-byte GUIDs\n"
    "  -f  overwrite OUT if it exists\n"
    "  -o  write to OUT instead of standard output\n"
    "\n"
    "Exit status: 0 ok, 1 bad input or failure, 2 usage error, 3 the\n"
    "daemon is not running (status); check: 0 OK, 1 WARNING, 2 CRITICAL,\n"
    "3 UNKNOWN.\n";

static int usage(FILE *f, int code)
{
  fputs(usage_text, f);
  return code;
}

static int usage_err(const char *fmt, const char *arg)
{
  fputs("quarantinectl: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\nTry 'quarantinectl -h' for help.\n", stderr);
  return EXIT_USAGE;
}

static int fail(const char *msg)
{
  fprintf(stderr, "quarantinectl: %s\n", msg);
  return EXIT_FAILURE;
}

/* ===== guid2anchor / anchor2guid ===== */

static int cmd_guid2anchor(int argc, char **argv)
{
  char out[ANCHOR_GUID_B64_LEN];

  if(argc != 2)
    return usage_err("guid2anchor takes one GUID%s", "");
  if(anchor_from_guid(argv[1], out)) {
    fprintf(stderr,
            "quarantinectl: '%s' is not a GUID "
            "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, braces optional)\n",
            argv[1]);
    return EXIT_FAILURE;
  }
  puts(out);
  return EXIT_SUCCESS;
}

static int cmd_anchor2guid(int argc, char **argv)
{
  char out[ANCHOR_GUID_TEXT_LEN], why[96], *a;
  enum anchor_error err;
  size_t got = 0, len;

  if(argc != 2)
    return usage_err("anchor2guid takes one ANCHOR%s", "");
  a = argv[1];
  len = strlen(a);
  if(len >= 2 && a[0] == '{' && a[len - 1] == '}') {
    a[len - 1] = '\0';
    a++;
  }
  if(anchor_to_guid(a, out, &err, &got)) {
    fprintf(stderr, "quarantinectl: '%s': %s\n", a,
            anchor_strerror(err, ANCHOR_GUID_BYTES, got, why, sizeof(why)));
    return EXIT_FAILURE;
  }
  puts(out);
  return EXIT_SUCCESS;
}

/* ===== anchors check ===== */

struct tally {
  size_t errors, warnings, skipped;
};

static void print_report(void *arg, enum anchors_level level, const char *file,
                         unsigned line, const char *msg)
{
  struct tally *t = arg;
  static const char *const tags[] = {"", "warning: ", "note: "};

  if(level == ANCHORS_ERROR)
    t->errors++;
  else if(level == ANCHORS_WARNING)
    t->warnings++;
  else
    t->skipped++;
  fprintf(stderr, "%s:%u: %s%s\n", file, line, tags[level], msg);
}

/* parse_opts() reads the options of a subcommand (flags from "afo:");
 * returns 0 or EXIT_USAGE. */
static int parse_opts(int argc, char **argv, const char *flags, int *any,
                      int *force, const char **out)
{
  int ch;

  optind = 1;
  opterr = 0;
  while((ch = getopt(argc, argv, flags)) != -1) {
    switch(ch) {
    case 'a':
      *any = 1;
      break;
    case 'f':
      *force = 1;
      break;
    case 'o':
      *out = optarg;
      break;
    default:
      if(optopt == 'o')
        return usage_err("option -o needs a file name%s", "");
      fprintf(stderr, "quarantinectl: %s: unknown option -%c\n", argv[0],
              optopt);
      fputs("Try 'quarantinectl -h' for help.\n", stderr);
      return EXIT_USAGE;
    }
  }
  return 0;
}

static int cmd_anchors(int argc, char **argv)
{
  struct anchors_set *s;
  struct tally t = {0, 0, 0};
  const char *out = NULL;
  int any = 0, force = 0, rc, i, failed = 0;

  if(argc < 2 || strcmp(argv[1], "check"))
    return usage_err("anchors: expected 'check'%s", "");
  rc = parse_opts(argc - 1, argv + 1, "+a", &any, &force, &out);
  if(rc)
    return rc;
  if(optind + 1 >= argc)
    return usage_err("anchors check needs at least one FILE%s", "");
  s = anchors_set_new(any ? ANCHOR_ANY_LEN : ANCHOR_GUID_BYTES);
  if(!s)
    return fail("out of memory");
  for(i = optind + 1; i < argc; i++) {
    rc = anchors_load_csv(s, argv[i], time(NULL), print_report, &t);
    if(rc && rc != -EBADMSG)
      failed = 1;
  }
  if(t.errors || failed)
    fprintf(stderr, "quarantinectl: %zu error%s; %zu valid entr%s\n", t.errors,
            t.errors == 1 ? "" : "s", anchors_set_count(s),
            anchors_set_count(s) == 1 ? "y" : "ies");
  else
    printf("%zu valid entr%s, %zu expired, %zu warning%s\n",
           anchors_set_count(s), anchors_set_count(s) == 1 ? "y" : "ies",
           t.skipped, t.warnings, t.warnings == 1 ? "" : "s");
  anchors_set_free(s);
  return t.errors || failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ===== csexport import ===== */

/* write_new() writes len bytes to path: created afresh (O_EXCL) unless
 * force, in which case the file is replaced atomically.  Returns 0 or
 * EXIT_FAILURE (said on stderr). */
static int write_new(const char *path, const char *text, size_t len, int force)
{
  const char *what = "";
  int fd, rc;

  if(force) {
    rc = atomic_write(path, text, len, 0640, &what);
    if(rc) {
      fprintf(stderr, "quarantinectl: %s: %s: %s\n", path, what, strerror(-rc));
      return EXIT_FAILURE;
    }
    return 0;
  }
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if(fd < 0 && errno == EEXIST) {
    fprintf(stderr, "quarantinectl: %s exists; not overwriting it (use -f)\n",
            path);
    return EXIT_FAILURE;
  }
  if(fd < 0) {
    fprintf(stderr, "quarantinectl: %s: %s\n", path, strerror(errno));
    return EXIT_FAILURE;
  }
  rc = atomic_write_all(fd, text, len);
  if(!rc && fsync(fd) < 0)
    rc = -errno;
  if(close(fd) < 0 && !rc)
    rc = -errno;
  if(rc) {
    fprintf(stderr, "quarantinectl: %s: write: %s\n", path, strerror(-rc));
    unlink(path);
    return EXIT_FAILURE;
  }
  return 0;
}

static int cmd_csexport(int argc, char **argv)
{
  struct csexport_result res;
  const char *out = NULL;
  struct buf text = {NULL, 0, 0};
  char err[1024];
  int any = 0, force = 0, rc;

  if(argc < 2 || strcmp(argv[1], "import"))
    return usage_err("csexport: expected 'import'%s", "");
  rc = parse_opts(argc - 1, argv + 1, "+afo:", &any, &force, &out);
  if(rc)
    return rc;
  if(optind + 2 != argc)
    return usage_err("csexport import needs exactly one FILE%s", "");
  memset(&res, 0, sizeof(res));
  rc = csexport_import(argv[optind + 1],
                       any ? ANCHOR_ANY_LEN : ANCHOR_GUID_BYTES, &res, err,
                       sizeof(err));
  if(rc) {
    csexport_result_clear(&res);
    return fail(err);
  }
  if(res.objects && res.foreign == res.objects) {
    fprintf(stderr,
            "quarantinectl: %s: none of its %zu objects has a cs-dn of the "
            "form CN={hex}: is it an export of the Entra ID connector?\n",
            argv[optind + 1], res.objects);
    csexport_result_clear(&res);
    return EXIT_FAILURE;
  }
  rc = csexport_write_csv(&text, &res, argv[optind + 1]);
  if(!rc && out)
    rc = write_new(out, text.data, text.len, force);
  else if(!rc && fwrite(text.data, 1, text.len, stdout) != text.len)
    rc = -EIO;
  else if(rc)
    rc = fail("cannot write the CSV");
  if(!rc)
    fprintf(stderr,
            "quarantinectl: %zu objects, %zu candidate%s, %zu left out "
            "(see the comments)%s%s\n",
            res.objects, res.count[CSEXPORT_CANDIDATE],
            res.count[CSEXPORT_CANDIDATE] == 1 ? "" : "s",
            res.n - res.count[CSEXPORT_CANDIDATE], out ? "; written to " : "",
            out ? out : "");
  free(text.data);
  csexport_result_clear(&res);
  return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ===== suggestions ===== */

static int cmd_suggestions_list(const char *path)
{
  struct anchors_suggestions l = {NULL, 0, 0};
  struct tally t = {0, 0, 0};
  char when[TIMEX_ISO_LEN];
  size_t i, approved = 0;
  int rc = anchors_suggestions_read(path, &l, print_report, &t);

  if(rc == -ENOENT) {
    fprintf(stderr, "quarantinectl: %s: %s\n", path, strerror(ENOENT));
    return EXIT_FAILURE;
  }
  for(i = 0; i < l.n; i++) {
    const struct anchors_suggestion *sg = &l.v[i];

    timex_format_iso(sg->created, when, sizeof(when));
    approved += sg->approved;
    printf("%s:%u: %s  %s <- %s\n"
           "    value %s, conflict %s, holders %s, created %s\n"
           "    reference %s%s%s\n",
           path, sg->line, sg->approved ? "APPROVED" : "not approved",
           sg->target, sg->anchor, *sg->value ? sg->value : "-", sg->conflict,
           *sg->holders ? sg->holders : "-", when, sg->reference,
           *sg->reason ? "; " : "", sg->reason);
  }
  printf("%zu suggestion%s, %zu approved\n", l.n, l.n == 1 ? "" : "s",
         approved);
  anchors_suggestions_clear(&l);
  return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int approve_locked(const char *path, const char *target,
                          const char *anchor)
{
  struct stat sb;
  bool owned;
  struct anchors_suggestions l = {NULL, 0, 0};
  struct tally t = {0, 0, 0};
  const struct anchors_suggestion *sg;
  const char *what = "";
  enum anchor_error ae;
  char why[96];
  size_t got;
  int rc = anchors_suggestions_read(path, &l, print_report, &t), idx;

  if(rc) {
    if(rc == -ENOENT)
      fprintf(stderr, "quarantinectl: %s: %s\n", path, strerror(ENOENT));
    else if(rc == -EBADMSG)
      fprintf(stderr,
              "quarantinectl: %s has bad lines; fix them first (rewriting "
              "it would drop them)\n",
              path);
    anchors_suggestions_clear(&l);
    return EXIT_FAILURE;
  }
  idx = anchors_suggestions_approve(&l, target, anchor);
  if(idx == -ENOENT)
    fprintf(stderr, "quarantinectl: %s: no suggestion for %s%s%s\n", path,
            target, anchor ? " with anchor " : "", anchor ? anchor : "");
  else if(idx == -EEXIST)
    fprintf(stderr,
            "quarantinectl: %s: several suggestions for %s; name the ANCHOR "
            "too\n",
            path, target);
  if(idx < 0) {
    anchors_suggestions_clear(&l);
    return EXIT_FAILURE;
  }
  sg = &l.v[idx];
  ae = anchor_check(sg->anchor, ANCHOR_GUID_BYTES, NULL, &got);
  if(ae != ANCHOR_OK) {
    fprintf(stderr, "quarantinectl: %s:%u: not approving anchor '%s': %s\n",
            path, sg->line, sg->anchor,
            anchor_strerror(ae, ANCHOR_GUID_BYTES, got, why, sizeof(why)));
    anchors_suggestions_clear(&l);
    return EXIT_FAILURE;
  }
  /* The daemon (often a systemd DynamicUser) owns the file and must
   * still read and replace it after root approved a line. */
  owned = stat(path, &sb) == 0;
  rc = anchors_suggestions_write(path, &l, &what);
  if(!rc && owned && (sb.st_uid != geteuid() || sb.st_gid != getegid()) &&
     chown(path, sb.st_uid, sb.st_gid) < 0) {
    rc = -errno;
    what = "chown to the file's previous owner";
  }
  if(rc)
    fprintf(stderr, "quarantinectl: %s: %s: %s\n", path, what, strerror(-rc));
  else
    printf("%s:%u: approved %s <- %s\n", path, sg->line, sg->target,
           sg->anchor);
  anchors_suggestions_clear(&l);
  return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The daemon may be adding suggestions to the same file: hold its lock
 * from reading to renaming. */
static int cmd_suggestions_approve(const char *path, const char *target,
                                   const char *anchor)
{
  int lock = anchors_suggestions_lock(path, true), rc;

  if(lock < 0) {
    fprintf(stderr, "quarantinectl: %s.lock: %s\n", path, strerror(-lock));
    return EXIT_FAILURE;
  }
  rc = approve_locked(path, target, anchor);
  anchors_suggestions_unlock(lock);
  return rc;
}

static int cmd_suggestions(int argc, char **argv)
{
  if(argc == 3 && !strcmp(argv[1], "list"))
    return cmd_suggestions_list(argv[2]);
  if((argc == 4 || argc == 5) && !strcmp(argv[1], "approve"))
    return cmd_suggestions_approve(argv[2], argv[3],
                                   argc == 5 ? argv[4] : NULL);
  return usage_err("suggestions: expected 'list FILE' or 'approve FILE "
                   "TARGET [ANCHOR]'%s",
                   "");
}

/* ===== journal show ===== */

static int show_record(void *arg, const struct journal_record *r, unsigned line)
{
  char when[TIMEX_ISO_LEN];

  (void)arg;
  timex_format_iso(r->when, when, sizeof(when));
  printf("%u: %s %-10s tenant %s, user %s%s%s%s\n", line, when,
         journal_kind_name(r->kind), r->tenant, r->user_id, r->upn ? " (" : "",
         r->upn ? r->upn : "", r->upn ? ")" : "");
  if(r->kind == JOURNAL_INTENT)
    printf("    %s -> %s, from %s, reference %s\n",
           r->old_value ? r->old_value : "(none)", r->new_value, r->source,
           r->reference);
  else
    printf("    value %s%s\n", r->new_value,
           r->kind == JOURNAL_RECONCILED
               ? (r->found ? ", found in Graph" : ", not found in Graph")
               : "");
  printf("    client-request-id %s%s%s%s%s%s%s\n", r->client_request_id,
         r->patch_request_id ? ", PATCH request-id " : "",
         r->patch_request_id ? r->patch_request_id : "",
         r->get_request_id ? ", GET request-id " : "",
         r->get_request_id ? r->get_request_id : "",
         r->error ? "\n    error: " : "", r->error ? r->error : "");
  return 0;
}

static int cmd_journal(int argc, char **argv)
{
  struct journal_state st;
  char err[1024];
  unsigned torn = 0;
  int rc;

  if(argc != 3 || strcmp(argv[1], "show"))
    return usage_err("journal: expected 'show FILE'%s", "");
  rc = journal_read(argv[2], NULL, show_record, NULL, &torn, err, sizeof(err));
  if(rc)
    return fail(err);
  if(torn)
    fprintf(stderr,
            "quarantinectl: %s:%u: warning: line cut short by a crash; "
            "skipped\n",
            argv[2], torn);
  memset(&st, 0, sizeof(st));
  rc = journal_load(argv[2], NULL, &st, err, sizeof(err));
  if(rc)
    return fail(err);
  printf("%zu applied, %zu failed, %zu intent%s without outcome\n",
         st.total_applied, st.total_failed, st.npending,
         st.npending == 1 ? "" : "s");
  journal_state_clear(&st);
  return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } cmds[] = {
      {"guid2anchor", cmd_guid2anchor},  {"anchor2guid", cmd_anchor2guid},
      {"anchors", cmd_anchors},          {"csexport", cmd_csexport},
      {"suggestions", cmd_suggestions},  {"journal", cmd_journal},
      {"conflicts", ctl_conflicts_list}, {"show", ctl_conflicts_show},
      {"status", ctl_check_status},      {"check", ctl_check_plugin}};
  size_t i;
  int ch;

  opterr = 0;
  while((ch = getopt(argc, argv, "+hV")) != -1) {
    switch(ch) {
    case 'h':
      return usage(stdout, EXIT_SUCCESS);
    case 'V':
      puts("quarantinectl " QD_VERSION);
      return EXIT_SUCCESS;
    default:
      fprintf(stderr, "quarantinectl: unknown option -%c\n", optopt);
      return usage(stderr, EXIT_USAGE);
    }
  }
  if(optind >= argc)
    return usage(stderr, EXIT_USAGE);
  for(i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
    if(!strcmp(argv[optind], cmds[i].name))
      return cmds[i].fn(argc - optind, argv + optind);
  return usage_err("unknown command '%s'", argv[optind]);
}
