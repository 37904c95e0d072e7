/* SPDX-License-Identifier: MIT
 *
 * ctl_list: filter, sort and print conflicts for quarantinectl.
 */
#include "ctl_list.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conflict_json.h"
#include "jsonx.h"
#include "status.h"
#include "timex.h"

void ctl_list_filter_init(struct ctl_list_filter *f)
{
  memset(f, 0, sizeof(*f));
  f->property = f->cls = f->state = f->objtype = -1;
  f->older_than = -1;
}

static const char *const sort_names[] = {
    [CTL_LIST_SORT_TENANT] = "tenant", [CTL_LIST_SORT_VALUE] = "value",
    [CTL_LIST_SORT_AGE] = "age",       [CTL_LIST_SORT_CLASS] = "class",
    [CTL_LIST_SORT_STATE] = "state",   [CTL_LIST_SORT_TYPE] = "type",
    [CTL_LIST_SORT_NAME] = "name"};

int ctl_list_sort_parse(const char *s)
{
  size_t i;

  for(i = 0; i < sizeof(sort_names) / sizeof(sort_names[0]); i++)
    if(!strcmp(s, sort_names[i]))
      return (int)i;
  return -EINVAL;
}

static bool has(const char *hay, const char *needle)
{
  return hay && strcasestr(hay, needle);
}

static bool keep(const struct conflict *c, const struct ctl_list_filter *f,
                 time_t now)
{
  if(f->property >= 0 && (int)c->property != f->property)
    return false;
  if(f->cls >= 0 && (int)c->cls != f->cls)
    return false;
  if(f->state >= 0 && (int)c->state != f->state)
    return false;
  if(f->objtype >= 0 && (int)c->objtype != f->objtype)
    return false;
  if(f->value) {
    const char *v = f->value;

    if(!strncasecmp(v, "smtp:", 5))
      v += 5;
    if(strcasecmp(v, c->value))
      return false;
  }
  if(f->search && !has(c->value, f->search) && !has(c->object_id, f->search) &&
     !has(c->display_name, f->search) && !has(c->upn, f->search) &&
     !has(c->mail, f->search))
    return false;
  if(f->older_than >= 0) {
    time_t since = status_conflict_since(c);

    if(!since || now - since < f->older_than)
      return false;
  }
  return true;
}

static enum ctl_list_sort sort_key;
static int sort_dir;

static int cmp_str(const char *a, const char *b)
{
  return strcasecmp(a ? a : "", b ? b : "");
}

static int cmp_rows(const void *pa, const void *pb)
{
  const struct ctl_list_row *a = pa, *b = pb;
  int r = 0;

  switch(sort_key) {
  case CTL_LIST_SORT_TENANT:
    r = strcmp(a->tenant, b->tenant);
    break;
  case CTL_LIST_SORT_VALUE:
    break;
  case CTL_LIST_SORT_AGE: {
    time_t x = status_conflict_since(a->c), y = status_conflict_since(b->c);

    r = (x > y) - (x < y);
    break;
  }
  case CTL_LIST_SORT_CLASS:
    r = strcmp(conflict_class_name(a->c->cls), conflict_class_name(b->c->cls));
    break;
  case CTL_LIST_SORT_STATE:
    r = (int)a->c->state - (int)b->c->state;
    break;
  case CTL_LIST_SORT_TYPE:
    r = (int)a->c->objtype - (int)b->c->objtype;
    break;
  case CTL_LIST_SORT_NAME:
    r = cmp_str(a->c->display_name, b->c->display_name);
    break;
  }
  if(!r)
    r = strcmp(a->c->value_lc, b->c->value_lc);
  if(!r)
    r = strcmp(a->c->key, b->c->key);
  if(!r)
    r = strcmp(a->tenant, b->tenant);
  return r * sort_dir;
}

struct ctl_list_row *ctl_list_select(const struct ctl_source_data *d,
                                     const struct ctl_list_filter *f,
                                     time_t now, enum ctl_list_sort key,
                                     bool reverse, size_t max, size_t *n)
{
  struct ctl_list_row *rows = NULL;
  size_t i, total = 0, k = 0;

  *n = 0;
  for(i = 0; i < d->n; i++)
    total += conflict_set_count(d->t[i].set);
  if(!total)
    return NULL;
  rows = calloc(total, sizeof(*rows));
  if(!rows) {
    *n = (size_t)-1;
    return NULL;
  }
  for(i = 0; i < d->n; i++) {
    struct conflict_iter it;
    const struct conflict *c;

    conflict_iter_init(&it, d->t[i].set);
    while((c = conflict_iter_next(&it)))
      if(keep(c, f, now)) {
        rows[k].tenant = d->t[i].name;
        rows[k++].c = c;
      }
  }
  /* qsort() has no argument for the comparison: one call at a time. */
  sort_key = key;
  sort_dir = reverse ? -1 : 1;
  qsort(rows, k, sizeof(*rows), cmp_rows);
  if(max && k > max)
    k = max;
  if(!k) {
    free(rows);
    return NULL;
  }
  *n = k;
  return rows;
}

/* ===== Table ===== */

/* cell() writes s in exactly width columns: cut with "~" when longer
 * (counting UTF-8 characters, never splitting one), padded when shorter
 * unless it is the last column (pad false). */
static void cell_pad(FILE *out, const char *s, size_t width, bool pad)
{
  size_t cols = 0, i, end = 0;

  if(!s)
    s = "-";
  for(i = 0; s[i]; i++)
    if(((unsigned char)s[i] & 0xC0) != 0x80)
      cols++;
  if(cols <= width) {
    fputs(s, out);
    for(; pad && cols < width; cols++)
      fputc(' ', out);
    return;
  }
  /* Keep width - 1 characters, then the mark. */
  for(i = 0, cols = 0; s[i]; i++) {
    if(((unsigned char)s[i] & 0xC0) != 0x80) {
      if(cols == width - 1)
        break;
      cols++;
    }
    end = i + 1;
  }
  fwrite(s, 1, end, out);
  fputc('~', out);
}

static void cell(FILE *out, const char *s, size_t width)
{
  cell_pad(out, s, width, true);
}

/* Column widths: 99 columns with the single spaces between them. */
#define W_TENANT 10
#define W_TYPE 7
#define W_ATTR 5
#define W_VALUE 32
#define W_CLASS 16
#define W_STATE 6
#define W_AGE 4
#define W_NAME 12

int ctl_list_table(FILE *out, const struct ctl_list_row *rows, size_t n,
                   time_t now, bool colour)
{
  size_t i;

  fprintf(out, "%-*s %-*s %-*s %-*s %-*s %-*s %*s %s\n", W_TENANT, "TENANT",
          W_TYPE, "TYPE", W_ATTR, "ATTR", W_VALUE, "VALUE", W_CLASS, "CLASS",
          W_STATE, "STATE", W_AGE, "AGE", "NAME");
  for(i = 0; i < n; i++) {
    const struct conflict *c = rows[i].c;
    time_t since = status_conflict_since(c);
    const char *on = "", *off = "";
    char age[16] = "-";

    if(colour && c->state == CONFLICT_STUCK)
      on = "\033[31m", off = "\033[0m";
    else if(colour && c->state == CONFLICT_FREED)
      on = "\033[33m", off = "\033[0m";
    if(since)
      timex_format_age((long)(now - since), age, sizeof(age));
    cell(out, rows[i].tenant, W_TENANT);
    fputc(' ', out);
    cell(out, conflict_objtype_name(c->objtype), W_TYPE);
    fputc(' ', out);
    cell(out, conflict_property_name(c->property), W_ATTR);
    fputc(' ', out);
    cell(out, c->value, W_VALUE);
    fputc(' ', out);
    cell(out, conflict_class_name(c->cls), W_CLASS);
    fprintf(out, " %s", on);
    cell(out, conflict_state_name(c->state), W_STATE);
    fprintf(out, "%s %*s ", off, W_AGE, age);
    cell_pad(out, c->display_name, W_NAME, false);
    fputc('\n', out);
  }
  return ferror(out) ? -EIO : 0;
}

/* ===== CSV (RFC 4180) ===== */

/* csv_field() writes one field, quoted when it holds a comma, quote, CR
 * or LF.  A field starting with = + - @ or a tab gets a leading ' so that
 * Excel shows it as text instead of running it as a formula (OWASP CSV
 * injection). */
static void csv_field(FILE *out, const char *s, bool last)
{
  bool quote, guard;

  if(!s)
    s = "";
  guard = s[0] && strchr("=+-@\t\r", s[0]);
  quote = guard || strpbrk(s, ",\"\r\n");
  if(quote)
    fputc('"', out);
  if(guard)
    fputc('\'', out);
  for(; *s; s++) {
    if(*s == '"')
      fputc('"', out);
    fputc(*s, out);
  }
  if(quote)
    fputc('"', out);
  fputs(last ? "\r\n" : ",", out);
}

static void csv_time(FILE *out, time_t t)
{
  char buf[TIMEX_ISO_LEN] = "";

  if(t)
    timex_format_iso(t, buf, sizeof(buf));
  csv_field(out, buf, false);
}

int ctl_list_csv(FILE *out, const struct ctl_list_row *rows, size_t n, bool bom)
{
  size_t i, h;

  if(bom)
    fputs("\xEF\xBB\xBF", out);
  fputs("tenant,objectType,objectId,attribute,value,class,state,displayName,"
        "userPrincipalName,mail,quarantinedSince,firstSeen,freedAt,"
        "predictedRelease,stuckAt,holders\r\n",
        out);
  for(i = 0; i < n; i++) {
    const struct conflict *c = rows[i].c;
    struct buf holders = {NULL, 0, 0};
    int rc = 0;

    csv_field(out, rows[i].tenant, false);
    csv_field(out, conflict_objtype_name(c->objtype), false);
    csv_field(out, c->object_id, false);
    csv_field(out, conflict_property_name(c->property), false);
    csv_field(out, c->value, false);
    csv_field(out, conflict_class_name(c->cls), false);
    csv_field(out, conflict_state_name(c->state), false);
    csv_field(out, c->display_name, false);
    csv_field(out, c->upn, false);
    csv_field(out, c->mail, false);
    csv_time(out, status_conflict_since(c));
    csv_time(out, c->first_seen);
    csv_time(out, c->freed_at);
    csv_time(out, c->release_by);
    csv_time(out, c->stuck_at);
    /* Holders as "type id name; ..." in one field. */
    for(h = 0; !rc && h < c->nholders; h++)
      rc = buf_printf(
          &holders, "%s%s %s %s", h ? "; " : "",
          conflict_objtype_name(c->holders[h].type), c->holders[h].id,
          c->holders[h].display_name ? c->holders[h].display_name : "");
    csv_field(out, holders.data ? holders.data : "", true);
    free(holders.data);
    if(rc)
      return rc;
  }
  return ferror(out) ? -EIO : 0;
}

/* ===== JSON ===== */

int ctl_list_json(FILE *out, const struct ctl_list_row *rows, size_t n)
{
  cJSON *arr = cJSON_CreateArray();
  char *text;
  size_t i;

  if(!arr)
    return -ENOMEM;
  for(i = 0; i < n; i++) {
    cJSON *o = conflict_json_encode(rows[i].c);

    if(!o || jsonx_add_str(o, "tenant", rows[i].tenant)) {
      cJSON_Delete(o);
      cJSON_Delete(arr);
      return -ENOMEM;
    }
    cJSON_AddItemToArray(arr, o);
  }
  text = cJSON_Print(arr);
  cJSON_Delete(arr);
  if(!text)
    return -ENOMEM;
  fprintf(out, "%s\n", text);
  free(text);
  return ferror(out) ? -EIO : 0;
}
