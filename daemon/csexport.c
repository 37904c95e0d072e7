/* SPDX-License-Identifier: MIT
 *
 * csexport: a streaming reader for csexport XML.  The reader walks the
 * document node by node (xmlTextReaderRead, never Expand), keeping only
 * the handful of strings one <cs-object> needs, so a 100k-object export
 * costs no more memory than a 10-object one.  csexport_import.c turns
 * the objects into anchor candidates; the Windows build, without libxml2,
 * has csexport_win32.c instead of this file.
 */
#include "csexport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlreader.h>

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
