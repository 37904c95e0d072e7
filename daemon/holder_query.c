/* SPDX-License-Identifier: MIT
 *
 * holder_query: builds the $filter of each holder GET and cuts a lookup's
 * values into GETs within Graph's limits (see holder_query.h); matches
 * returned objects to values.  Pure: no I/O, nothing logged.
 */
#include "holder_query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graph.h"
#include "jsonx.h"

#define ALL_USER HQ_ALL
#define ALL_OTHER (HQ_MAIL | HQ_SMTP | HQ_LSMTP)

/* proxyAddresses is unique across users, groups and orgContacts
 * (docs/graph-facts.md#who-holds-a-value).  Each base selects what struct
 * conflict_holder keeps plus what the matcher reads (userPrincipalName,
 * mail, proxyAddresses).  A deleted object adds its deletedDateTime
 * (https://learn.microsoft.com/graph/api/directory-deleteditems-list). */
const struct holder_query_base holder_query_bases[HOLDER_QUERY_NBASE] = {
    {"/users", CONFLICT_USER, ALL_USER,
     "id,displayName,userPrincipalName,mail,proxyAddresses,"
     "onPremisesSyncEnabled,onPremisesImmutableId,"
     "onPremisesDistinguishedName,onPremisesSamAccountName,"
     "onPremisesLastSyncDateTime"},
    {"/groups", CONFLICT_GROUP, ALL_OTHER,
     "id,displayName,mail,proxyAddresses,onPremisesSyncEnabled,"
     "onPremisesSamAccountName,onPremisesLastSyncDateTime"},
    {"/contacts", CONFLICT_CONTACT, ALL_OTHER,
     "id,displayName,mail,proxyAddresses,onPremisesSyncEnabled,"
     "onPremisesLastSyncDateTime"},
    {"/directory/deletedItems/microsoft.graph.user", CONFLICT_USER, ALL_USER,
     "id,displayName,userPrincipalName,mail,proxyAddresses,"
     "onPremisesSyncEnabled,onPremisesImmutableId,"
     "onPremisesDistinguishedName,onPremisesSamAccountName,"
     "onPremisesLastSyncDateTime,deletedDateTime"},
    {"/directory/deletedItems/microsoft.graph.group", CONFLICT_GROUP, ALL_OTHER,
     "id,displayName,mail,proxyAddresses,onPremisesSyncEnabled,"
     "onPremisesSamAccountName,onPremisesLastSyncDateTime,deletedDateTime"},
};

/* A string builder over a caller's fixed buffer: the first overflow
 * sticks. */
struct out {
  char *buf;
  size_t len, pos;
  bool full;
};

static void put_text(struct out *o, const char *s)
{
  size_t n = strlen(s);

  if(o->full || o->pos + n + 1 > o->len) {
    o->full = true;
    return;
  }
  memcpy(o->buf + o->pos, s, n + 1);
  o->pos += n;
}

/* put_literal() appends 'prefix + value', single quotes doubled as OData
 * asks, value cut after max code points (0: whole). */
static void put_literal(struct out *o, const char *prefix, const char *value,
                        size_t max)
{
  const char *p;
  size_t cps = 0;

  put_text(o, "'");
  put_text(o, prefix);
  for(p = value; *p && !o->full; p++) {
    char c[3] = {*p, '\0', '\0'};

    if(((unsigned char)*p & 0xC0) != 0x80 && max && cps++ == max)
      break;
    if(*p == '\'')
      c[1] = '\'';
    put_text(o, c);
  }
  put_text(o, "'");
}

/* codepoints() counts the UTF-8 code points of s. */
static size_t codepoints(const char *s)
{
  size_t n = 0;

  for(; *s; s++)
    n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

bool holder_query_long(const char *value)
{
  /* The longest literal is "SMTP:" + value. */
  return codepoints(value) > HOLDER_QUERY_PREFIX;
}

/* put_in() appends "prop eq 'v'" for one value, "prop in ('a','b')" for
 * several. */
static void put_in(struct out *o, const char *prop,
                   const struct holder_query *q, const char *const *spell)
{
  size_t i;

  put_text(o, prop);
  if(q->nvals == 1) {
    put_text(o, " eq ");
    put_literal(o, "", spell[q->vals[0]], 0);
    return;
  }
  put_text(o, " in (");
  for(i = 0; i < q->nvals; i++) {
    if(i)
      put_text(o, ",");
    put_literal(o, "", spell[q->vals[i]], 0);
  }
  put_text(o, ")");
}

int holder_query_filter(const struct holder_query *q, const char *const *spell,
                        char *buf, size_t len)
{
  static const struct {
    unsigned term;
    const char *prop, *prefix;
  } terms[] = {{HQ_UPN, "userPrincipalName", ""},
               {HQ_MAIL, "mail", ""},
               {HQ_SMTP, "proxyAddresses", "SMTP:"},
               {HQ_LSMTP, "proxyAddresses", "smtp:"}};
  struct out o = {buf, len, 0, len == 0};
  size_t t, i;
  bool first = true;

  if(len)
    buf[0] = '\0';
  for(t = 0; t < sizeof(terms) / sizeof(terms[0]); t++) {
    if(!(q->terms & terms[t].term))
      continue;
    if(!first)
      put_text(&o, " or ");
    first = false;
    if(q->prefix) {
      /* startswith(prop,'p') and any(x:startswith(x,'SMTP:p')) are
       * default queries on these properties
       * (https://learn.microsoft.com/graph/aad-advanced-queries). */
      put_text(&o, terms[t].term & (HQ_SMTP | HQ_LSMTP)
                       ? "proxyAddresses/any(x:startswith(x,"
                       : "startswith(");
      if(!(terms[t].term & (HQ_SMTP | HQ_LSMTP))) {
        put_text(&o, terms[t].prop);
        put_text(&o, ",");
      }
      put_literal(&o, terms[t].prefix, spell[q->vals[0]], HOLDER_QUERY_PREFIX);
      put_text(&o, terms[t].term & (HQ_SMTP | HQ_LSMTP) ? "))" : ")");
      continue;
    }
    if(!(terms[t].term & (HQ_SMTP | HQ_LSMTP))) {
      put_in(&o, terms[t].prop, q, spell);
      continue;
    }
    /* A lambda takes one value: one "any" per value, joined with or. */
    for(i = 0; i < q->nvals; i++) {
      if(i)
        put_text(&o, " or ");
      put_text(&o, "proxyAddresses/any(x:x eq ");
      put_literal(&o, terms[t].prefix, spell[q->vals[i]], 0);
      put_text(&o, ")");
    }
  }
  return o.full ? -ENAMETOOLONG : 0;
}

char *holder_query_path(const struct holder_query *q, const char *const *spell)
{
  char *filter = malloc(HOLDER_QUERY_URL_MAX), *path;

  if(!filter)
    return NULL;
  if(holder_query_filter(q, spell, filter, HOLDER_QUERY_URL_MAX)) {
    free(filter);
    return NULL;
  }
  /* $top=999: the values of one query may have several holders each. */
  path = graph_filter_path(holder_query_bases[q->base].path, filter,
                           holder_query_bases[q->base].select, "&$top=999");
  free(filter);
  return path;
}

/* nterms() counts the bits of terms. */
static size_t nterms(unsigned terms)
{
  size_t n = 0;

  for(; terms; terms &= terms - 1)
    n++;
  return n;
}

/* fits() tells whether q is within the term and URL limits. */
static bool fits(const struct holder_query *q, const char *const *spell)
{
  char *path;
  bool ok;

  if(nterms(q->terms) * q->nvals > HOLDER_QUERY_TERMS)
    return false;
  path = holder_query_path(q, spell);
  ok = path && strlen(path) + HOLDER_QUERY_ROOT_ROOM <= HOLDER_QUERY_URL_MAX;
  free(path);
  return ok;
}

/* add() appends a query on the n values at vals (copied). */
static int add(struct holder_query_list *list, unsigned base, unsigned terms,
               bool prefix, const size_t *vals, size_t n)
{
  struct holder_query *q;

  if(list->n == list->cap) {
    size_t cap = list->cap ? 2 * list->cap : 8;
    struct holder_query *grown = realloc(list->q, cap * sizeof(*grown));

    if(!grown)
      return -ENOMEM;
    list->q = grown;
    list->cap = cap;
  }
  q = &list->q[list->n];
  q->vals = malloc(n * sizeof(*q->vals));
  if(!q->vals)
    return -ENOMEM;
  memcpy(q->vals, vals, n * sizeof(*q->vals));
  q->nvals = n;
  q->base = base;
  q->terms = terms;
  q->prefix = prefix;
  list->n++;
  return 0;
}

unsigned holder_query_terms(bool case_insensitive, bool mail)
{
  unsigned terms = HQ_UPN | HQ_MAIL | HQ_SMTP | HQ_LSMTP;

  if(case_insensitive)
    terms &= ~HQ_LSMTP;
  if(!mail)
    terms &= ~HQ_MAIL;
  return terms;
}

/* add_each_term() appends one query per term of base on value v. */
static int add_each_term(struct holder_query_list *list, unsigned base,
                         unsigned terms, bool prefix, size_t v)
{
  unsigned t;
  int rc;

  for(t = 1; t <= terms; t <<= 1) {
    if(!(terms & t))
      continue;
    rc = add(list, base, t, prefix, &v, 1);
    if(rc)
      return rc;
  }
  return 0;
}

/* plan_one() adds value v to the query open at cur (ncur values), or
 * closes that query and opens one with v, or appends v's own queries (a
 * long value, or one whose terms do not fit one URL). */
static int plan_one(struct holder_query_list *list, unsigned base,
                    unsigned terms, const char *const *spell, size_t *cur,
                    size_t *ncur, size_t v)
{
  struct holder_query q = {base, terms, false, cur, 0};
  int rc = 0;

  if(holder_query_long(spell[v])) {
    q.prefix = true;
    q.vals = &v;
    q.nvals = 1;
    return fits(&q, spell) ? add(list, base, terms, true, &v, 1)
                           : add_each_term(list, base, terms, true, v);
  }
  cur[*ncur] = v;
  q.nvals = *ncur + 1;
  if(fits(&q, spell)) {
    (*ncur)++;
    return 0;
  }
  /* The value does not join the open query: close it, and start one
   * with the value alone (or one per term if even that is too long). */
  if(*ncur)
    rc = add(list, base, terms, false, cur, *ncur);
  *ncur = 0;
  cur[0] = v;
  q.nvals = 1;
  if(!rc && fits(&q, spell))
    *ncur = 1;
  else if(!rc)
    rc = add_each_term(list, base, terms, false, v);
  return rc;
}

int holder_query_plan_some(struct holder_query_list *list, unsigned base,
                           unsigned terms, const char *const *spell,
                           const size_t *vals, size_t n, size_t *pos)
{
  /* A query holds at most HOLDER_QUERY_TERMS values; one more is tried. */
  size_t cur[HOLDER_QUERY_TERMS + 1], ncur = 0, start = list->n, i;
  int rc = 0;

  terms &= holder_query_bases[base].terms;
  for(i = *pos; i < n; i++) {
    rc = plan_one(list, base, terms, spell, cur, &ncur, vals[i]);
    if(rc)
      break;
    if(list->n == start)
      continue;
    /* Stop where no query is open, or only value i's: planning resumes
     * there, as if it had not stopped. */
    if(!ncur) {
      i++;
      break;
    }
    if(ncur == 1 && cur[0] == vals[i])
      break;
  }
  if(!rc && i == n && ncur)
    rc = add(list, base, terms, false, cur, ncur);
  *pos = i;
  return rc;
}

int holder_query_plan(struct holder_query_list *list, unsigned base,
                      unsigned terms, const char *const *spell,
                      const size_t *vals, size_t n)
{
  size_t pos = 0;
  int rc = 0;

  while(!rc && pos < n)
    rc = holder_query_plan_some(list, base, terms, spell, vals, n, &pos);
  return rc;
}

int holder_query_split(struct holder_query_list *list,
                       const struct holder_query *q)
{
  struct holder_query copy = *q;
  size_t half = q->nvals / 2;
  int rc;

  /* list->q may move while appending: work on a copy of q's fields. */
  if(q->nvals > 1) {
    rc = add(list, copy.base, copy.terms, copy.prefix, copy.vals, half);
    if(!rc)
      rc = add(list, copy.base, copy.terms, copy.prefix, copy.vals + half,
               copy.nvals - half);
    return rc ? rc : 1;
  }
  if(nterms(q->terms) > 1) {
    rc = add_each_term(list, copy.base, copy.terms, copy.prefix, copy.vals[0]);
    return rc ? rc : 1;
  }
  return 0;
}

void holder_query_list_clear(struct holder_query_list *list)
{
  size_t i;

  for(i = 0; i < list->n; i++)
    free(list->q[i].vals);
  free(list->q);
  memset(list, 0, sizeof(*list));
}

bool holder_query_holds(const cJSON *obj, const char *value)
{
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, "proxyAddresses");
  const char *s;
  const cJSON *e;

  s = jsonx_str(obj, "userPrincipalName");
  if(s && !strcasecmp(s, value))
    return true;
  s = jsonx_str(obj, "mail");
  if(s && !strcasecmp(s, value))
    return true;
  if(!cJSON_IsArray(arr))
    return false;
  cJSON_ArrayForEach(e, arr)
  {
    s = cJSON_GetStringValue(e);
    if(s && !strncasecmp(s, "smtp:", 5) && !strcasecmp(s + 5, value))
      return true;
  }
  return false;
}
