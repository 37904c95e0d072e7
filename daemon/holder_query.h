/* SPDX-License-Identifier: MIT
 *
 * holder_query: the GETs of a holder lookup (holder.c), several values per
 * GET, and the local matching of each returned object to its values.
 *
 * One query asks one base (a collection, or deleted users or groups) for
 * up to 15 expressions, each one term of one value, joined with "or".
 * The expressions are laid out term after term, so that a GET holds as
 * many as the limits allow whatever the number of terms:
 *
 *   userPrincipalName in ('a','b',...) or mail in ('o','p') or
 *   proxyAddresses/any(x:x eq 'SMTP:q') or ...
 *
 * (users; the other bases have no userPrincipalName; one value uses eq).
 * Graph's limits, https://learn.microsoft.com/graph/filter-query-parameter
 * and https://learn.microsoft.com/graph/known-issues (query parameters):
 *  - at most 15 expressions in a filter without advanced queries; Graph
 *    counts every value of an "in" and every operand of "or" ("Too many
 *    child clauses ... containing 'OR' operators: 16. Max allowed: 15",
 *    https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/1238),
 *    so 15 values of one term go to a GET, and n values asked with t
 *    terms take ceil(n * t / 15) GETs (holder_query_estimate());
 *  - an eq value of at most 120 characters.  A longer value is asked
 *    alone, with startswith() on its first HOLDER_QUERY_PREFIX characters
 *    (startswith is refused past 120 characters too:
 *    https://github.com/microsoftgraph/microsoft-graph-explorer-v4/issues/2103),
 *    and only the objects that hold the whole value count;
 *  - a URL of at most 2,048 characters (stated for advanced queries; kept
 *    for all): a query is cut to fit HOLDER_QUERY_URL_MAX with the root.
 * The matcher compares without case, as Entra does for uniqueness.
 *
 * Which terms a value is asked with is the caller's choice
 * (holder_query_terms(), from the options lookup_case and lookup_mail):
 *  - the "smtp:" spelling is needed only if Graph's eq on proxyAddresses
 *    minds case, which no document says either way;
 *  - mail is needed only if an object's mail can be missing from its
 *    proxyAddresses: Graph adds a user's mail to them when it is changed
 *    through Graph ("Changes to this property update the user's
 *    proxyAddresses collection to include the value as an SMTP address",
 *    https://learn.microsoft.com/graph/api/resources/user), but says
 *    nothing of synchronized objects, groups or contacts.
 * Both are asked by default.
 */
#ifndef QD_HOLDER_QUERY_H
#define QD_HOLDER_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "conflict.h"

#define HOLDER_QUERY_TERMS 15   /* "or" operands and "in" values */
#define HOLDER_QUERY_EQ_MAX 120 /* characters of one eq value */
#define HOLDER_QUERY_PREFIX 115 /* startswith prefix: 120 - "SMTP:" */
#define HOLDER_QUERY_URL_MAX 2048
/* Room kept in HOLDER_QUERY_URL_MAX for the root and version of the
 * absolute URL ("https://graph.microsoft.com/v1.0" is 32; national clouds
 * are longer). */
#define HOLDER_QUERY_ROOT_ROOM 96

/* Terms of a query (a bit set). */
enum {
  HQ_UPN = 1u,   /* userPrincipalName (users, deleted users) */
  HQ_MAIL = 2u,  /* mail */
  HQ_SMTP = 4u,  /* proxyAddresses/any(x:x eq 'SMTP:v') */
  HQ_LSMTP = 8u, /* proxyAddresses/any(x:x eq 'smtp:v') */
};

#define HQ_ALL (HQ_UPN | HQ_MAIL | HQ_SMTP | HQ_LSMTP)

/* holder_query_terms() is the terms to ask: all of them but the "smtp:"
 * spelling when case_insensitive (Graph's eq on proxyAddresses taken to
 * ignore case) and mail when !mail (an object's mail taken to be among its
 * proxyAddresses). */
unsigned holder_query_terms(bool case_insensitive, bool mail);

/* The bases a lookup asks, in order: the three collections, then deleted
 * users and deleted groups (only a second round asks those). */
#define HOLDER_QUERY_NCOLL 3
#define HOLDER_QUERY_NBASE 5

struct holder_query_base {
  const char *path; /* relative to /v1.0 */
  enum conflict_objtype type;
  unsigned terms; /* every term the base can be asked */
  const char *select;
};

extern const struct holder_query_base holder_query_bases[HOLDER_QUERY_NBASE];

/* One GET: nvals expressions, expression i being term term[i] (one HQ_*
 * bit) of value vals[i] (an index into the caller's values); a value
 * may appear under several terms.  The arrays are owned by the query. */
struct holder_query {
  unsigned base; /* index into holder_query_bases */
  bool prefix;   /* startswith() on one long value */
  size_t *vals;
  unsigned char *term;
  size_t nvals;
};

/* A list of queries, grown by holder_query_plan() and _split(). */
struct holder_query_list {
  struct holder_query *q;
  size_t n, cap;
};

/* holder_query_long() tells whether value (UTF-8) is longer than an eq
 * value may be, so that it is asked with startswith(). */
bool holder_query_long(const char *value);

/* holder_query_filter() writes into buf the $filter (not URL escaped,
 * single quotes doubled) of q, spell[q->vals[i]] being the values.
 * Returns 0, or -ENAMETOOLONG when buf is too small. */
int holder_query_filter(const struct holder_query *q, const char *const *spell,
                        char *buf, size_t len);

/* holder_query_path() returns the malloc'd batch item URL of q
 * ("/users?$filter=...&$select=...&$top=999"), or NULL when out of memory
 * or when the filter does not fit a buffer of HOLDER_QUERY_URL_MAX. */
char *holder_query_path(const struct holder_query *q, const char *const *spell);

/* holder_query_plan() appends to list the queries that ask base about the
 * n values vals (indexes into spell), with the terms of base that are in
 * terms (HQ_ALL: every one; at least one must remain): first each long
 * value alone, with startswith (one query per term if all do not fit one
 * URL); then the other values term after term, as many expressions per
 * query as the term and URL limits allow.  Returns 0, -ENOMEM, or
 * -ENAMETOOLONG when one expression does not fit a URL. */
int holder_query_plan(struct holder_query_list *list, unsigned base,
                      unsigned terms, const char *const *spell,
                      const size_t *vals, size_t n);

/* holder_query_plan_steps() is where the cursor of holder_query_plan_some()
 * ends for base, terms and n values. */
size_t holder_query_plan_steps(unsigned base, unsigned terms, size_t n);

/* holder_query_plan_some() is holder_query_plan() a few queries at a
 * time: it plans from cursor *pos (0 at first) until at least one query
 * is appended (or the plan ends), and sets *pos to where the next call
 * resumes.  Calls until *pos is holder_query_plan_steps() append what one
 * holder_query_plan() call would.  Returns as holder_query_plan(). */
int holder_query_plan_some(struct holder_query_list *list, unsigned base,
                           unsigned terms, const char *const *spell,
                           const size_t *vals, size_t n, size_t *pos);

/* holder_query_estimate() is about how many GETs holder_query_plan() makes
 * for n values of ordinary length on base with terms (URL length not
 * counted). */
size_t holder_query_estimate(unsigned base, unsigned terms, size_t n);

/* holder_query_split() appends to list the queries that ask again what q
 * asked after Graph refused it: its expressions in two halves.  Returns 1
 * when it appended, 0 when q cannot be split (one expression), or
 * -ENOMEM. */
int holder_query_split(struct holder_query_list *list,
                       const struct holder_query *q);

/* holder_query_one_value() tells whether every expression of q asks the
 * same value (so that what Graph returns for q can only be that value's). */
bool holder_query_one_value(const struct holder_query *q);

/* holder_query_list_clear() frees the queries of list and empties it. */
void holder_query_list_clear(struct holder_query_list *list);

/* holder_query_holds() tells whether obj (a user, group or contact as
 * Graph returns it) holds value: its userPrincipalName or mail equals it,
 * or one of its proxyAddresses is "smtp:" + value, all without case. */
bool holder_query_holds(const cJSON *obj, const char *value);

#endif
