/* SPDX-License-Identifier: MIT
 *
 * csexport_import: the objects csexport_parse() reads turned into anchor
 * candidates: the DN decoded, the anchor checked, UPNs or anchors that
 * occur twice marked, and the result written as a known-anchors CSV for
 * review.  See csexport.h.
 */
#include "csexport.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anchor.h"
#include "anchors.h"
#include "buf.h"

/* ===== Import ===== */

static const char *const verdict_names[] = {"candidate", "no-upn", "bad-anchor",
                                            "mismatch", "ambiguous"};

const char *csexport_verdict_name(enum csexport_verdict v)
{
  return (unsigned)v <= CSEXPORT_AMBIGUOUS ? verdict_names[v] : "unknown";
}

struct import {
  struct csexport_result *res;
  const char *file; /* base name, for references */
  size_t want_len;
};

/* make_note() returns the malloc'd description of o plus why, or NULL. */
static char *make_note(const struct csexport_object *o, const char *why)
{
  char *note = NULL;

  if(asprintf(&note, "dn=%s id=%s type=%s%s%s%s%s%s%s%s%s%s%s%s", o->dn,
              o->id ? o->id : "-", o->object_type ? o->object_type : "-",
              o->error_type ? " export-error=" : "",
              o->error_type ? o->error_type : "",
              o->error_name ? " error-name=" : "",
              o->error_name ? o->error_name : "",
              o->error_code ? " error-code=" : "",
              o->error_code ? o->error_code : "",
              o->error_literal ? " error=\"" : "",
              o->error_literal ? o->error_literal : "",
              o->error_literal ? "\"" : "", why ? "; " : "",
              why ? why : "") < 0)
    return NULL;
  /* A note becomes one comment line: no line breaks in it. */
  for(char *c = note; *c; c++)
    if(*c == '\n' || *c == '\r')
      *c = ' ';
  return note;
}

static int import_cb(void *arg, const struct csexport_object *o)
{
  struct import *im = arg;
  struct csexport_result *res = im->res;
  struct csexport_candidate c;
  char anchor[256], why[1400], r[96];
  enum anchor_error ae;
  size_t got;

  res->objects++;
  if(o->error_type || o->error_code || o->error_name)
    res->with_error++;
  if(!o->dn || anchor_from_dn(o->dn, anchor, sizeof(anchor))) {
    res->foreign++;
    return 0;
  }
  memset(&c, 0, sizeof(c));
  c.line = o->line;
  why[0] = '\0';
  ae = anchor_check(anchor, im->want_len, NULL, &got);
  if(ae != ANCHOR_OK) {
    c.verdict = CSEXPORT_BAD_ANCHOR;
    snprintf(why, sizeof(why), "left out: '%s' from the DN: %s%s", anchor,
             anchor_strerror(ae, im->want_len, got, r, sizeof(r)),
             strchr(anchor, '_') ? " (a cloudAnchor: a cloud-born object)"
                                 : "");
  }
  else if(!o->upn) {
    c.verdict = CSEXPORT_NO_UPN;
    snprintf(why, sizeof(why),
             "left out: no userPrincipalName in the "
             "export");
  }
  else if(o->source_anchor && strcmp(o->source_anchor, anchor)) {
    c.verdict = CSEXPORT_MISMATCH;
    snprintf(why, sizeof(why),
             "left out: its sourceAnchor attribute '%s' differs from the "
             "DN's '%s'",
             o->source_anchor, anchor);
  }
  c.upn = o->upn ? strdup(o->upn) : NULL;
  c.anchor = strdup(anchor);
  c.note = make_note(o, why[0] ? why : NULL);
  if(asprintf(&c.reference, "csexport:%s:%s", im->file, o->dn) < 0)
    c.reference = NULL;
  if(res->n == res->cap) {
    size_t cap = res->cap ? 2 * res->cap : 64;
    struct csexport_candidate *v = realloc(res->v, cap * sizeof(*v));

    if(v) {
      res->v = v;
      res->cap = cap;
    }
  }
  if((o->upn && !c.upn) || !c.anchor || !c.note || !c.reference ||
     res->n == res->cap) {
    free(c.upn);
    free(c.anchor);
    free(c.note);
    free(c.reference);
    return -ENOMEM;
  }
  res->v[res->n++] = c;
  return 0;
}

static int by_upn(const void *a, const void *b)
{
  const struct csexport_candidate
      *x = *(const struct csexport_candidate *const *)a,
      *y = *(const struct csexport_candidate *const *)b;

  return strcasecmp(x->upn, y->upn);
}

static int by_anchor(const void *a, const void *b)
{
  const struct csexport_candidate
      *x = *(const struct csexport_candidate *const *)a,
      *y = *(const struct csexport_candidate *const *)b;

  return strcmp(x->anchor, y->anchor);
}

/* mark_twins() sorts the candidates with cmp and marks every run of equal
 * ones ambiguous, saying what they share. */
static int mark_twins(struct csexport_candidate **v, size_t n,
                      int (*cmp)(const void *, const void *), const char *what)
{
  size_t i, j, k;

  qsort(v, n, sizeof(*v), cmp);
  for(i = 0; i < n; i = j) {
    for(j = i + 1; j < n && !cmp(&v[i], &v[j]); j++)
      ;
    for(k = i; j - i > 1 && k < j; k++) {
      char *note;

      if(asprintf(&note, "%s; left out: %s is on %zu objects in the export",
                  v[k]->note, what, j - i) < 0)
        return -ENOMEM;
      free(v[k]->note);
      v[k]->note = note;
      v[k]->verdict = CSEXPORT_AMBIGUOUS;
    }
  }
  return 0;
}

/* mark_ambiguous() marks candidates that share a UPN or an anchor.  Both
 * checks run over the candidates as they were before either, so that a
 * pair found by one is not hidden from the other. */
static int mark_ambiguous(struct csexport_result *res)
{
  struct csexport_candidate **v;
  size_t i, n = 0;
  int rc;

  v = malloc((res->n ? res->n : 1) * sizeof(*v));
  if(!v)
    return -ENOMEM;
  for(i = 0; i < res->n; i++)
    if(res->v[i].verdict == CSEXPORT_CANDIDATE)
      v[n++] = &res->v[i];
  rc = mark_twins(v, n, by_upn, "the UPN");
  if(!rc)
    rc = mark_twins(v, n, by_anchor, "the anchor");
  free(v);
  return rc;
}

int csexport_import(const char *path, size_t want_len,
                    struct csexport_result *res, char *err, size_t errlen)
{
  char *copy = strdup(path);
  struct import im = {res, NULL, want_len};
  size_t i;
  int rc;

  if(!copy) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -ENOMEM;
  }
  im.file = basename(copy);
  rc = csexport_parse(path, import_cb, &im, err, errlen);
  if(!rc) {
    rc = mark_ambiguous(res);
    if(rc)
      snprintf(err, errlen, "%s: out of memory", path);
  }
  else if(rc == -ENOMEM)
    snprintf(err, errlen, "%s: out of memory", path);
  memset(res->count, 0, sizeof(res->count));
  for(i = 0; i < res->n; i++)
    res->count[res->v[i].verdict]++;
  free(copy);
  return rc;
}

int csexport_write_csv(struct buf *b, const struct csexport_result *res,
                       const char *source)
{
  size_t i;
  int rc;

  rc = buf_printf(
      b,
      "# Known source anchors imported from the csexport file %s.\n"
      "# Review every line before use: each says which connector-space "
      "object it\n"
      "# comes from.  Objects read: %zu; not from an Entra connector: "
      "%zu;\n"
      "# with an export error: %zu.  Candidates: %zu; left out: %zu "
      "(no UPN %zu,\n"
      "# bad anchor %zu, sourceAnchor mismatch %zu, ambiguous %zu).\n",
      source, res->objects, res->foreign, res->with_error,
      res->count[CSEXPORT_CANDIDATE], res->n - res->count[CSEXPORT_CANDIDATE],
      res->count[CSEXPORT_NO_UPN], res->count[CSEXPORT_BAD_ANCHOR],
      res->count[CSEXPORT_MISMATCH], res->count[CSEXPORT_AMBIGUOUS]);
  if(!rc)
    rc = buf_printf(b, "target,anchor,reference,expires\n");
  for(i = 0; i < res->n && !rc; i++) {
    const struct csexport_candidate *c = &res->v[i];
    const char *row[4] = {c->upn ? c->upn : "", c->anchor, c->reference, ""};

    rc = buf_printf(b, "\n# line %u: %s\n", c->line, c->note);
    if(!rc && c->verdict != CSEXPORT_CANDIDATE)
      rc =
          buf_printf(b, "# LEFT OUT (%s): ", csexport_verdict_name(c->verdict));
    if(!rc)
      rc = anchors_csv_row(b, row, 4);
  }
  return rc;
}

void csexport_result_clear(struct csexport_result *res)
{
  size_t i;

  for(i = 0; i < res->n; i++) {
    free(res->v[i].upn);
    free(res->v[i].anchor);
    free(res->v[i].reference);
    free(res->v[i].note);
  }
  free(res->v);
  memset(res, 0, sizeof(*res));
}
