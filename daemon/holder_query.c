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

/* put_mem() appends the n bytes at s. */
static void put_mem(struct out *o, const char *s, size_t n)
{
  if(o->full || o->pos + n + 1 > o->len) {
    o->full = true;
    return;
  }
  memcpy(o->buf + o->pos, s, n);
  o->pos += n;
  o->buf[o->pos] = '\0';
}

static void put_text(struct out *o, const char *s)
{
  put_mem(o, s, strlen(s));
}

/* put_literal() appends 'prefix + value', single quotes doubled as OData
 * asks, value cut after max code points (0: whole).  The value goes in
 * runs between its quotes: planning renders it once per expression
 * tried. */
static void put_literal(struct out *o, const char *prefix, const char *value,
                        size_t max)
{
  const char *p, *run;
  size_t cps = 0;

  put_text(o, "'");
  put_text(o, prefix);
  for(p = run = value; *p; p++) {
    if(((unsigned char)*p & 0xC0) != 0x80 && max && cps++ == max)
      break;
    if(*p == '\'') {
      put_mem(o, run, (size_t)(p + 1 - run)); /* the quote, then again */
      run = p;
    }
  }
  put_mem(o, run, (size_t)(p - run));
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

/* The end of every holder GET: the values of one query may have several
 * holders each. */
static const char top[] = "&$top=999";

/* The terms, in the order a query lays them out. */
static const struct term {
  unsigned term;
  const char *prop, *prefix;
} terms_table[] = {{HQ_UPN, "userPrincipalName", ""},
                   {HQ_MAIL, "mail", ""},
                   {HQ_SMTP, "proxyAddresses", "SMTP:"},
                   {HQ_LSMTP, "proxyAddresses", "smtp:"}};

#define NTERMS (sizeof(terms_table) / sizeof(terms_table[0]))

static const struct term *term_of(unsigned term)
{
  size_t t;

  for(t = 0; t < NTERMS - 1; t++)
    if(terms_table[t].term == term)
      break;
  return &terms_table[t];
}

static bool is_proxy(unsigned term)
{
  return term & (HQ_SMTP | HQ_LSMTP);
}

/* put_run() appends expressions [i, j) of q, which share one term:
 * "prop eq 'v'" for one value, "prop in ('a','b')" for several, one
 * any() per value for proxyAddresses (a lambda takes one value), and
 * startswith() for a long value. */
static void put_run(struct out *o, const struct holder_query *q,
                    const char *const *spell, size_t i, size_t j)
{
  const struct term *t = term_of(q->term[i]);
  size_t k;

  if(!q->prefix && !is_proxy(t->term)) {
    put_text(o, t->prop);
    put_text(o, j - i == 1 ? " eq " : " in (");
    for(k = i; k < j; k++) {
      if(k > i)
        put_text(o, ",");
      put_literal(o, "", spell[q->vals[k]], 0);
    }
    if(j - i > 1)
      put_text(o, ")");
    return;
  }
  for(k = i; k < j; k++) {
    if(k > i)
      put_text(o, " or ");
    if(!q->prefix) {
      put_text(o, "proxyAddresses/any(x:x eq ");
      put_literal(o, t->prefix, spell[q->vals[k]], 0);
      put_text(o, ")");
    }
    else if(is_proxy(t->term)) {
      /* startswith(prop,'p') and any(x:startswith(x,'SMTP:p')) are
       * default queries on these properties
       * (https://learn.microsoft.com/graph/aad-advanced-queries). */
      put_text(o, "proxyAddresses/any(x:startswith(x,");
      put_literal(o, t->prefix, spell[q->vals[k]], HOLDER_QUERY_PREFIX);
      put_text(o, "))");
    }
    else {
      put_text(o, "startswith(");
      put_text(o, t->prop);
      put_text(o, ",");
      put_literal(o, "", spell[q->vals[k]], HOLDER_QUERY_PREFIX);
      put_text(o, ")");
    }
  }
}

int holder_query_filter(const struct holder_query *q, const char *const *spell,
                        char *buf, size_t len)
{
  struct out o = {buf, len, 0, len == 0};
  size_t i, j;

  if(len)
    buf[0] = '\0';
  for(i = 0; i < q->nvals; i = j) {
    for(j = i + 1; j < q->nvals && q->term[j] == q->term[i]; j++)
      ;
    if(i)
      put_text(&o, " or ");
    put_run(&o, q, spell, i, j);
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
  path = graph_filter_path(holder_query_bases[q->base].path, filter,
                           holder_query_bases[q->base].select, top);
  free(filter);
  return path;
}

/* fits() tells whether q is within the expression and URL limits.  It
 * runs for every expression planned, so it measures the path
 * holder_query_path() would make rather than making it. */
static bool fits(const struct holder_query *q, const char *const *spell)
{
  char filter[HOLDER_QUERY_URL_MAX];

  if(q->nvals > HOLDER_QUERY_TERMS ||
     holder_query_filter(q, spell, filter, sizeof(filter)))
    return false;
  return graph_filter_path_len(holder_query_bases[q->base].path, filter,
                               holder_query_bases[q->base].select, top) +
             HOLDER_QUERY_ROOT_ROOM <=
         HOLDER_QUERY_URL_MAX;
}

/* add() appends a query of the n expressions at vals and term (copied). */
static int add(struct holder_query_list *list, unsigned base, bool prefix,
               const size_t *vals, const unsigned char *term, size_t n)
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
  q->term = malloc(n);
  if(!q->vals || !q->term) {
    free(q->vals);
    free(q->term);
    return -ENOMEM;
  }
  memcpy(q->vals, vals, n * sizeof(*q->vals));
  memcpy(q->term, term, n);
  q->nvals = n;
  q->base = base;
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

/* term_list() fills tl with the terms of base that are in terms, in
 * layout order, and returns how many. */
static size_t term_list(unsigned base, unsigned terms, unsigned char *tl)
{
  size_t t, n = 0;

  terms &= holder_query_bases[base].terms;
  for(t = 0; t < NTERMS; t++)
    if(terms & terms_table[t].term)
      tl[n++] = (unsigned char)terms_table[t].term;
  return n;
}

/* plan_long() appends the query that asks long value v with startswith()
 * on each of the nt terms tl, or one query per term when they do not fit
 * one URL. */
static int plan_long(struct holder_query_list *list, unsigned base,
                     const char *const *spell, const unsigned char *tl,
                     size_t nt, size_t v)
{
  size_t vals[NTERMS], t;
  unsigned char term[NTERMS];
  struct holder_query q = {base, true, vals, term, nt};
  int rc = 0;

  for(t = 0; t < nt; t++) {
    vals[t] = v;
    term[t] = tl[t];
  }
  if(fits(&q, spell))
    return add(list, base, true, vals, tl, nt);
  for(t = 0; !rc && t < nt; t++)
    rc = add(list, base, true, &v, &tl[t], 1);
  return rc;
}

/* An open query: the expressions planned but not yet appended. */
struct open_query {
  size_t vals[HOLDER_QUERY_TERMS + 1]; /* one more is tried */
  unsigned char term[HOLDER_QUERY_TERMS + 1];
  size_t n;
};

/* plan_expr() adds expression (term, v) to the open query oq, or closes
 * oq and opens one with the expression alone. */
static int plan_expr(struct holder_query_list *list, unsigned base,
                     const char *const *spell, struct open_query *oq,
                     unsigned char term, size_t v)
{
  struct holder_query q = {base, false, oq->vals, oq->term, oq->n + 1};
  int rc = 0;

  oq->vals[oq->n] = v;
  oq->term[oq->n] = term;
  if(fits(&q, spell)) {
    oq->n++;
    return 0;
  }
  /* The expression does not join the open query: close it, and start
   * one with the expression alone. */
  if(oq->n)
    rc = add(list, base, false, oq->vals, oq->term, oq->n);
  oq->n = 0;
  oq->vals[0] = v;
  oq->term[0] = term;
  q.nvals = 1;
  if(!rc && !fits(&q, spell))
    rc = -ENAMETOOLONG;
  if(!rc)
    oq->n = 1;
  return rc;
}

size_t holder_query_plan_steps(unsigned base, unsigned terms, size_t n)
{
  unsigned char tl[NTERMS];

  /* Cursor k < n: the long values pass over vals[k]; then term tl[j]
   * of vals[i] is step n + j * n + i. */
  return n * (1 + term_list(base, terms, tl));
}

int holder_query_plan_some(struct holder_query_list *list, unsigned base,
                           unsigned terms, const char *const *spell,
                           const size_t *vals, size_t n, size_t *pos)
{
  struct open_query oq;
  unsigned char tl[NTERMS];
  size_t nt = term_list(base, terms, tl), end = n * (1 + nt), start = list->n;
  size_t k;
  int rc = 0;

  oq.n = 0;
  for(k = *pos; k < end; k++) {
    size_t v = vals[k % n];
    unsigned char term = k < n ? 0 : tl[k / n - 1];

    if(k < n) {
      if(holder_query_long(spell[v]))
        rc = plan_long(list, base, spell, tl, nt, v);
    }
    else if(!holder_query_long(spell[v])) {
      rc = plan_expr(list, base, spell, &oq, term, v);
    }
    if(rc)
      break;
    if(list->n == start)
      continue;
    /* Stop where no query is open, or only this expression's: planning
     * resumes there, as if it had not stopped. */
    if(!oq.n) {
      k++;
      break;
    }
    if(oq.n == 1 && oq.vals[0] == v && oq.term[0] == term)
      break;
  }
  if(!rc && k == end && oq.n)
    rc = add(list, base, false, oq.vals, oq.term, oq.n);
  *pos = k;
  return rc;
}

int holder_query_plan(struct holder_query_list *list, unsigned base,
                      unsigned terms, const char *const *spell,
                      const size_t *vals, size_t n)
{
  size_t pos = 0, end = holder_query_plan_steps(base, terms, n);
  int rc = 0;

  while(!rc && pos < end)
    rc = holder_query_plan_some(list, base, terms, spell, vals, n, &pos);
  return rc;
}

size_t holder_query_estimate(unsigned base, unsigned terms, size_t n)
{
  unsigned char tl[NTERMS];
  size_t exprs = n * term_list(base, terms, tl);

  return (exprs + HOLDER_QUERY_TERMS - 1) / HOLDER_QUERY_TERMS;
}

int holder_query_split(struct holder_query_list *list,
                       const struct holder_query *q)
{
  struct holder_query copy = *q;
  size_t half = q->nvals / 2;
  int rc;

  /* list->q may move while appending: work on a copy of q's fields. */
  if(q->nvals < 2)
    return 0;
  rc = add(list, copy.base, copy.prefix, copy.vals, copy.term, half);
  if(!rc)
    rc = add(list, copy.base, copy.prefix, copy.vals + half, copy.term + half,
             copy.nvals - half);
  return rc ? rc : 1;
}

bool holder_query_one_value(const struct holder_query *q)
{
  size_t i;

  for(i = 1; i < q->nvals; i++)
    if(q->vals[i] != q->vals[0])
      return false;
  return true;
}

void holder_query_list_clear(struct holder_query_list *list)
{
  size_t i;

  for(i = 0; i < list->n; i++) {
    free(list->q[i].vals);
    free(list->q[i].term);
  }
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
