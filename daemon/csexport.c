/* SPDX-License-Identifier: MIT
 *
 * csexport: a streaming reader for csexport XML.  The reader walks the
 * document node by node (xmlTextReaderRead, never Expand), keeping only
 * the handful of strings one <cs-object> needs, so a 100k-object export
 * costs no more memory than a 10-object one.  The import then decodes the
 * DN, checks the anchor and marks UPNs or anchors that occur twice.
 */
#include "csexport.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlreader.h>

#include "anchor.h"
#include "anchors.h"

/* A field longer than this is cut (error literals can be pages long). */
#define FIELD_MAX 512

/* The sections of a <cs-object> that can name a UPN or sourceAnchor, best
 * first, then the export error section. */
enum sect {
  SECT_NONE,
  SECT_UNAPPLIED_HOLO,
  SECT_UNAPPLIED_DELTA,
  SECT_ESCROWED_HOLO,
  SECT_UNCONFIRMED_HOLO,
  SECT_SYNC_HOLO,
  SECT_PENDING_IMPORT_HOLO,
  SECT_ERROR,
  SECT_OTHER
};

static const char *const sect_names[] = {"",
                                         "unapplied-export-hologram",
                                         "unapplied-export",
                                         "escrowed-export-hologram",
                                         "unconfirmed-export-hologram",
                                         "synchronized-hologram",
                                         "pending-import-hologram",
                                         "export-errordetail"};

/* A growable string, kept between objects to save allocations. */
struct str {
  char *s;
  size_t len, cap;
  int set;
};

enum {
  F_DN,
  F_ID,
  F_TYPE,
  F_UPN,
  F_SA,
  F_ETYPE,
  F_ECODE,
  F_ENAME,
  F_ELIT,
  F_N
};

struct parse {
  xmlTextReaderPtr r;
  const char *path;
  char *err;
  size_t errlen;
  char xml_err[256]; /* the first message libxml2 reported */
  int in_obj;
  unsigned obj_line;
  enum sect sect;
  int attr;            /* inside <attr name=userPrincipalName> (F_UPN) or
                          sourceAnchor (F_SA); 0 otherwise */
  int capture;         /* the field text goes to, or -1 */
  enum sect rank[F_N]; /* the section a field came from */
  struct str f[F_N];
  struct str text; /* text of the element being captured */
};

static void str_reset(struct str *s)
{
  s->len = 0;
  s->set = 0;
  if(s->s)
    s->s[0] = '\0';
}

/* str_set() copies len bytes of v into s, cut at FIELD_MAX. */
static int str_set(struct str *s, const char *v, size_t len)
{
  int cut = len > FIELD_MAX;

  if(cut)
    len = FIELD_MAX - 3;
  if(len + 4 > s->cap) {
    char *p = realloc(s->s, len + 4);

    if(!p)
      return -ENOMEM;
    s->s = p;
    s->cap = len + 4;
  }
  memcpy(s->s, v, len);
  if(cut)
    memcpy(s->s + len, "...", 3);
  s->len = len + (cut ? 3 : 0);
  s->s[s->len] = '\0';
  s->set = 1;
  return 0;
}

/* str_add() appends text to s, keeping at most FIELD_MAX + 1 bytes so
 * that str_set() can tell it was cut. */
static int str_add(struct str *s, const char *v)
{
  size_t len = strlen(v);

  if(s->len + len > FIELD_MAX + 1)
    len = s->len > FIELD_MAX + 1 ? 0 : FIELD_MAX + 1 - s->len;
  if(s->len + len + 1 > s->cap) {
    size_t cap = s->len + len + 64;
    char *p = realloc(s->s, cap);

    if(!p)
      return -ENOMEM;
    s->s = p;
    s->cap = cap;
  }
  memcpy(s->s + s->len, v, len);
  s->len += len;
  s->s[s->len] = '\0';
  return 0;
}

static void on_xml_error(void *arg, const char *msg,
                         xmlParserSeverities severity,
                         xmlTextReaderLocatorPtr loc)
{
  (void)loc; /* its line is the reader's node, not where parsing failed */
  struct parse *p = arg;
  size_t len;

  if(p->xml_err[0] || (severity != XML_PARSER_SEVERITY_ERROR &&
                       severity != XML_PARSER_SEVERITY_VALIDITY_ERROR))
    return;
  snprintf(p->xml_err, sizeof(p->xml_err), "%s", msg);
  len = strlen(p->xml_err);
  while(len && (p->xml_err[len - 1] == '\n' || p->xml_err[len - 1] == ' '))
    p->xml_err[--len] = '\0';
}

/* get_attr() copies attribute name of the current element into field f;
 * absent leaves f unset. */
static int get_attr(struct parse *p, const char *name, int f)
{
  xmlChar *v = xmlTextReaderGetAttribute(p->r, (const xmlChar *)name);
  int rc = 0;

  if(v)
    rc = str_set(&p->f[f], (const char *)v, strlen((const char *)v));
  xmlFree(v);
  return rc;
}

static int attr_is(struct parse *p, const char *name, const char *want)
{
  xmlChar *v = xmlTextReaderGetAttribute(p->r, (const xmlChar *)name);
  int is = v && !strcasecmp((const char *)v, want);

  xmlFree(v);
  return is;
}

/* start_element() handles an opening tag at depth inside a cs-object. */
static int start_element(struct parse *p, const char *name, int depth)
{
  size_t i;

  if(depth == 2) {
    p->sect = SECT_OTHER;
    for(i = 1; i < sizeof(sect_names) / sizeof(sect_names[0]); i++)
      if(!strcmp(name, sect_names[i]))
        p->sect = (enum sect)i;
    if(p->sect == SECT_ERROR)
      return get_attr(p, "error-type", F_ETYPE);
    return 0;
  }
  if(p->sect == SECT_ERROR) {
    if(!strcmp(name, "export-error") && !p->f[F_ETYPE].set)
      return get_attr(p, "error-type", F_ETYPE);
    p->capture = !strcmp(name, "error-code")      ? F_ECODE
                 : !strcmp(name, "error-name")    ? F_ENAME
                 : !strcmp(name, "error-literal") ? F_ELIT
                                                  : -1;
    p->text.len = 0;
    return 0;
  }
  if(p->sect == SECT_NONE || p->sect == SECT_OTHER)
    return 0;
  if(!strcmp(name, "attr")) {
    p->attr = attr_is(p, "name", "userPrincipalName") ? F_UPN
              : attr_is(p, "name", "sourceAnchor")    ? F_SA
                                                      : 0;
    return 0;
  }
  if(p->attr && !strcmp(name, "value") &&
     (p->f[p->attr].set ? p->sect < p->rank[p->attr] : 1) &&
     !attr_is(p, "operation", "delete")) {
    p->capture = p->attr;
    p->text.len = 0;
  }
  return 0;
}

/* end_capture() stores the captured text in its field. */
static int end_capture(struct parse *p)
{
  int f = p->capture, rc;

  p->capture = -1;
  if(f < 0)
    return 0;
  rc = str_set(&p->f[f], p->text.s ? p->text.s : "", p->text.len);
  if(!rc && (f == F_UPN || f == F_SA)) {
    p->rank[f] = p->sect;
    if(!p->text.len)
      str_reset(&p->f[f]);
  }
  return rc;
}

/* end_element() handles the end of an element at depth >= 2 inside a
 * cs-object (an empty element ends where it starts). */
static int end_element(struct parse *p, const char *name, int depth)
{
  if(depth == 2)
    p->sect = SECT_NONE;
  else if(!strcmp(name, "attr"))
    p->attr = 0;
  else
    return end_capture(p);
  return 0;
}

static const char *val(const struct parse *p, int f)
{
  return p->f[f].set ? p->f[f].s : NULL;
}

/* end_object() hands the finished object to the callback. */
static int end_object(struct parse *p, csexport_object_cb cb, void *arg)
{
  struct csexport_object o;
  int rc;

  o.line = p->obj_line;
  o.dn = val(p, F_DN);
  o.id = val(p, F_ID);
  o.object_type = val(p, F_TYPE);
  o.upn = val(p, F_UPN);
  o.source_anchor = val(p, F_SA);
  o.error_type = val(p, F_ETYPE);
  o.error_code = val(p, F_ECODE);
  o.error_name = val(p, F_ENAME);
  o.error_literal = val(p, F_ELIT);
  rc = cb(arg, &o);
  p->in_obj = 0;
  return rc;
}

/* step() handles the node the reader is on.  Returns 0 or an error. */
static int step(struct parse *p, csexport_object_cb cb, void *arg)
{
  int type = xmlTextReaderNodeType(p->r), depth = xmlTextReaderDepth(p->r);
  const char *name = (const char *)xmlTextReaderConstLocalName(p->r);
  int empty, rc = 0, f;

  if(type == XML_READER_TYPE_ELEMENT) {
    empty = xmlTextReaderIsEmptyElement(p->r);
    if(depth == 0) {
      if(strcmp(name, "cs-objects")) {
        snprintf(p->err, p->errlen,
                 "%s:%d: root element is <%s>, not <cs-objects>: not a "
                 "csexport file",
                 p->path, (int)xmlGetLineNo(xmlTextReaderCurrentNode(p->r)),
                 name);
        return -EBADMSG;
      }
      return 0;
    }
    if(depth == 1) {
      if(strcmp(name, "cs-object"))
        return 0;
      for(f = 0; f < F_N; f++) {
        str_reset(&p->f[f]);
        p->rank[f] = SECT_NONE;
      }
      p->in_obj = 1;
      p->sect = SECT_NONE;
      p->attr = 0;
      p->capture = -1;
      p->obj_line = (unsigned)xmlGetLineNo(xmlTextReaderCurrentNode(p->r));
      rc = get_attr(p, "cs-dn", F_DN);
      if(!rc)
        rc = get_attr(p, "id", F_ID);
      if(!rc)
        rc = get_attr(p, "object-type", F_TYPE);
      if(!rc && empty)
        rc = end_object(p, cb, arg);
      return rc;
    }
    if(!p->in_obj)
      return 0;
    rc = start_element(p, name, depth);
    return !rc && empty ? end_element(p, name, depth) : rc;
  }
  if(!p->in_obj)
    return 0;
  if(type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
     type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) {
    if(p->capture >= 0)
      rc = str_add(&p->text, (const char *)xmlTextReaderConstValue(p->r));
    return rc;
  }
  if(type != XML_READER_TYPE_END_ELEMENT)
    return 0;
  if(depth == 1)
    return end_object(p, cb, arg);
  return end_element(p, name, depth);
}

int csexport_parse(const char *path, csexport_object_cb cb, void *arg,
                   char *err, size_t errlen)
{
  struct parse p;
  FILE *probe;
  int rc = 0, f, got;

  memset(&p, 0, sizeof(p));
  p.path = path;
  p.err = err;
  p.errlen = errlen;
  p.capture = -1;
  /* libxml2 reports a missing file as a parse error; say it plainly. */
  probe = fopen(path, "re");
  if(!probe) {
    rc = -errno;
    snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    return rc;
  }
  fclose(probe);
  p.r = xmlReaderForFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOCDATA);
  if(!p.r) {
    snprintf(err, errlen, "%s: cannot start the XML reader", path);
    return -ENOMEM;
  }
  xmlTextReaderSetErrorHandler(p.r, on_xml_error, &p);
  for(got = xmlTextReaderRead(p.r); got == 1 && !rc;
      got = xmlTextReaderRead(p.r))
    rc = step(&p, cb, arg);
  if(!rc && got < 0) {
    snprintf(err, errlen, "%s:%d: malformed XML: %s", path,
             xmlTextReaderGetParserLineNumber(p.r),
             p.xml_err[0] ? p.xml_err : "parse error");
    rc = -EBADMSG;
  }
  else if(rc == -ENOMEM)
    snprintf(err, errlen, "%s: out of memory", path);
  xmlFreeTextReader(p.r);
  for(f = 0; f < F_N; f++)
    free(p.f[f].s);
  free(p.text.s);
  return rc;
}

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

int csexport_write_csv(FILE *f, const struct csexport_result *res,
                       const char *source)
{
  size_t i;

  fprintf(f,
          "# Known source anchors imported from the csexport file %s.\n"
          "# Review every line before use: each says which connector-space "
          "object it\n"
          "# comes from.  Objects read: %zu; not from an Entra connector: "
          "%zu;\n"
          "# with an export error: %zu.  Candidates: %zu; left out: %zu "
          "(no UPN %zu,\n"
          "# bad anchor %zu, sourceAnchor mismatch %zu, ambiguous %zu).\n",
          source, res->objects, res->foreign, res->with_error,
          res->count[CSEXPORT_CANDIDATE],
          res->n - res->count[CSEXPORT_CANDIDATE], res->count[CSEXPORT_NO_UPN],
          res->count[CSEXPORT_BAD_ANCHOR], res->count[CSEXPORT_MISMATCH],
          res->count[CSEXPORT_AMBIGUOUS]);
  fputs("target,anchor,reference,expires\n", f);
  for(i = 0; i < res->n; i++) {
    const struct csexport_candidate *c = &res->v[i];
    const char *row[4] = {c->upn ? c->upn : "", c->anchor, c->reference, ""};

    fprintf(f, "\n# line %u: %s\n", c->line, c->note);
    if(c->verdict != CSEXPORT_CANDIDATE)
      fprintf(f, "# LEFT OUT (%s): ", csexport_verdict_name(c->verdict));
    if(anchors_csv_row(f, row, 4))
      return -EIO;
  }
  return ferror(f) ? -EIO : 0;
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
