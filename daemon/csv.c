/* SPDX-License-Identifier: MIT
 *
 * csv: a streaming RFC 4180 reader (https://www.rfc-editor.org/rfc/rfc4180)
 * for the admin-edited CSV files: quoted fields with doubled quotes and
 * line breaks, unquoted fields trimmed of blanks, a UTF-8 BOM skipped, and
 * the line each record started on kept for error messages.
 */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put(struct csv *c, int ch)
{
  if(c->len + 1 >= c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 128;
    char *p = realloc(c->buf, cap);

    if(!p)
      return -ENOMEM;
    c->buf = p;
    c->cap = cap;
  }
  c->buf[c->len++] = (char)ch;
  return 0;
}

/* end_field() trims an unquoted field of surrounding blanks and appends
 * a copy of it to the record. */
static int end_field(struct csv *c, int quoted)
{
  size_t from = 0, to = c->len;
  int rc;

  if(!quoted) {
    while(from < to && (c->buf[from] == ' ' || c->buf[from] == '\t'))
      from++;
    while(to > from && (c->buf[to - 1] == ' ' || c->buf[to - 1] == '\t'))
      to--;
  }
  rc = strlist_addn(&c->fields, c->buf + from, to - from);
  c->len = 0;
  return rc;
}

void csv_reset(struct csv *c)
{
  strlist_clear(&c->fields);
  c->len = 0;
}

void csv_free(struct csv *c)
{
  csv_reset(c);
  free(c->buf);
  if(c->f)
    fclose(c->f);
}

/* skip_line() consumes the rest of a physical line. */
static void skip_line(struct csv *c)
{
  int ch;

  do
    ch = getc(c->f);
  while(ch != EOF && ch != '\n');
  if(ch == '\n')
    c->line++;
}

/* csv_next() reads the next record into c->fields, skipping blank lines
 * and '#' comment lines.  Returns 1, 0 at the end of the file, -EBADMSG
 * with *why (the rest of the bad line has been skipped) or -ENOMEM. */
int csv_next(struct csv *c, const char **why)
{
  int ch, quoted, rc;

  csv_reset(c);
  for(;;) {
    c->start = c->line;
    ch = getc(c->f);
    if(ch == EOF)
      return 0;
    if(ch == '\r') {
      int nx = getc(c->f);

      if(nx == '\n') {
        c->line++;
        continue;
      }
      ungetc(nx, c->f);
    }
    if(ch == '\n') {
      c->line++;
      continue;
    }
    if(ch == '#') {
      skip_line(c);
      continue;
    }
    ungetc(ch, c->f);
    break;
  }
  for(;;) {
    ch = getc(c->f);
    quoted = 0;
    while(ch == ' ' || ch == '\t') {
      rc = put(c, ch);
      if(rc)
        return rc;
      ch = getc(c->f);
    }
    if(ch == '"') {
      quoted = 1;
      c->len = 0;
      for(;;) {
        ch = getc(c->f);
        if(ch == EOF) {
          *why = "quoted field not closed before the end of the file";
          return -EBADMSG;
        }
        if(ch == '"') {
          ch = getc(c->f);
          if(ch != '"')
            break;
        }
        else if(ch == '\n')
          c->line++;
        rc = put(c, ch);
        if(rc)
          return rc;
      }
      while(ch == ' ' || ch == '\t')
        ch = getc(c->f);
      if(ch == '\r')
        ch = getc(c->f);
      if(ch != ',' && ch != '\n' && ch != EOF) {
        *why = "text after a closing quote";
        if(ch != '\n')
          skip_line(c);
        return -EBADMSG;
      }
    }
    else {
      while(ch != ',' && ch != '\n' && ch != EOF) {
        if(ch == '"') {
          *why = "a quote inside an unquoted field";
          skip_line(c);
          return -EBADMSG;
        }
        if(ch == '\r') {
          int nx = getc(c->f);

          ungetc(nx, c->f);
          if(nx == '\n') {
            ch = getc(c->f);
            break;
          }
        }
        rc = put(c, ch);
        if(rc)
          return rc;
        ch = getc(c->f);
      }
    }
    rc = end_field(c, quoted);
    if(rc)
      return rc;
    if(ch == '\n')
      c->line++;
    if(ch != ',')
      return 1;
  }
}

/* csv_open() opens path for csv_next(), skipping a UTF-8 BOM.  Returns 0
 * or -errno (not reported). */
int csv_open(struct csv *c, const char *path)
{
  int ch;

  memset(c, 0, sizeof(*c));
  c->line = 1;
  c->f = fopen(path, "re");
  if(!c->f)
    return -errno;
  ch = getc(c->f);
  if(ch == 0xef) {
    if(getc(c->f) != 0xbb || getc(c->f) != 0xbf)
      rewind(c->f);
  }
  else
    ungetc(ch, c->f);
  return 0;
}
