/* SPDX-License-Identifier: MIT
 *
 * holder: finds the object(s) that hold a quarantined value, so that an
 * alert can show both sides of a conflict.  It asks Graph, through JSON
 * batching (graph_batch()), which users, groups and contacts have the
 * value as userPrincipalName (users), mail or SMTP proxy address, up to
 * 15 expressions per GET laid out term after term (holder_query.h):
 *
 *   users:    userPrincipalName in ('a','b',...) or mail in ('a',...) or
 *             proxyAddresses/any(x:x eq 'SMTP:a') or (... 'smtp:a') or ...
 *   groups:   mail in (...) or proxyAddresses/any(... 'SMTP:' / 'smtp:')
 *   contacts: the same as groups
 *
 * or, when that costs fewer resource units, lists a whole collection and
 * matches its objects to the values itself (holder_scan.h, holder_list.c).
 * (docs/graph-facts.md#who-holds-a-value: Microsoft's own "is this
 * address taken" filter; both prefix forms because case-sensitivity of
 * proxyAddresses eq is not documented; mail because
 * AttributeValueMustBeUnique covers it.  The options lookup_case and
 * lookup_mail drop the "smtp:" form and mail: holder_set_terms().)  A value
 * is looked up once per call however many conflicts share it, and the
 * conflict's own object is never counted as its holder.
 *
 * Used by tenant.c after each complete inventory, for the conflicts that
 * are new or changed (holder_needs_lookup()), and by the sweep to check
 * whether a value has been freed.  Nothing here changes a conflict until
 * the caller applies a complete result with holder_apply().
 *
 * holder_fetch() asks the other question the sweep needs: when a conflict
 * is gone from the inventory, does its own object now hold the value
 * (released) or not (deleted, or changed on-premises)?
 */
#ifndef QD_HOLDER_H
#define QD_HOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conflict.h"
#include "graph.h"

struct holder;

/* Per-conflict outcome of a lookup. */
enum holder_outcome {
  HOLDER_HELD,     /* one or more other objects hold the value */
  HOLDER_NOT_HELD, /* no other object holds it: freed, awaiting release */
  HOLDER_FAILED    /* the lookup did not complete; err says why */
};

/* One conflict's result.  Everything is owned by the holder module and
 * valid only during the done callback (copy with holder_apply()). */
struct holder_result {
  const char *key; /* conflict_key() of the conflict it belongs to */
  enum holder_outcome outcome;
  const struct conflict_holder *holders; /* HELD: nholders objects */
  size_t nholders;
  struct graph_error err; /* FAILED: err.code is the Graph error code */
};

/* Done callback of holder_lookup().  res[i] belongs to the i-th conflict
 * passed in.  result is 0, or -ECANCELED when the graph client was
 * closed (every outcome is then HOLDER_FAILED), or another negative errno
 * when the run ended early (the unfinished results are HOLDER_FAILED).
 * Only for -ENOMEM with res NULL and n 0 is there no result at all. */
typedef void (*holder_done_cb)(int result, const struct holder_result *res,
                               size_t n, void *arg);

/* holder_new() makes the lookup runner of tenant over g (borrowed; it
 * must outlive the holder).  Returns 0 or -ENOMEM. */
int holder_new(struct graph *g, const char *tenant, struct holder **out);

/* holder_set_terms() sets the terms h asks each value with, for the
 * lookups started after it: holder_query_terms() (HQ_ALL until set). */
void holder_set_terms(struct holder *h, unsigned terms);

/* holder_set_scan() lets h's lookups list a whole collection instead of
 * searching it when that costs fewer resource units (holder_scan.h), with
 * concurrency $batch POSTs in flight (max_concurrency).  On until set. */
void holder_set_scan(struct holder *h, bool scan, unsigned concurrency);

/* holder_free() frees h.  No lookup may be running: close the graph
 * client first, which ends running lookups with -ECANCELED.  NULL is a
 * no-op. */
void holder_free(struct holder *h);

/* holder_lookup() looks up the holders of the n (>= 1) conflicts at cs,
 * now.  What it needs from each conflict (key, object id, value) is
 * copied: the conflicts may be freed before cb runs.  Several lookups may
 * run at once.  Returns 0 (cb will be called once, never from inside this
 * call) or a negative errno code (cb will not be called). */
int holder_lookup(struct holder *h, const struct conflict *const *cs, size_t n,
                  holder_done_cb cb, void *arg);

/* A finished lookup, handed over by holder_lookup_answer() so that its
 * results can be made and applied a few at a time (holder_answer_get()):
 * for a large lookup, making them all at once would hold the loop. */
struct holder_answer;

/* Callback of holder_lookup_answer(): result as for holder_done_cb; a
 * (never NULL) is the caller's, to free with holder_answer_free(). */
typedef void (*holder_answer_cb)(int result, struct holder_answer *a,
                                 void *arg);

/* holder_lookup_answer() is holder_lookup() whose callback gets the
 * finished lookup instead of every result. */
int holder_lookup_answer(struct holder *h, const struct conflict *const *cs,
                         size_t n, holder_answer_cb cb, void *arg);

/* holder_answer_count() is the number of conflicts a was asked about. */
size_t holder_answer_count(const struct holder_answer *a);

/* holder_answer_get() makes in *r the result of the i-th conflict (i <
 * holder_answer_count()), as holder_done_cb's res[i]; *r is owned by a
 * and valid until the next call or holder_answer_free().  Returns 0, or
 * -ENOMEM with *r FAILED (err.code "OutOfMemory"). */
int holder_answer_get(struct holder_answer *a, size_t i,
                      struct holder_result *r);

/* holder_answer_free() frees a (NULL is a no-op); before holder_free(). */
void holder_answer_free(struct holder_answer *a);

/* holder_running() is the number of lookups under way. */
size_t holder_running(const struct holder *h);

/* holder_apply() records r in c.  HELD / NOT_HELD replace c's holders,
 * set looked_up = now and clear lookup_error and recheck.  FAILED only
 * sets lookup_error to r->err.code and leaves holders and looked_up as
 * they were (transitions come from complete data only).  c->cls is not
 * touched: classify it afterwards.  Returns 0, or -ENOMEM with c
 * unchanged. */
int holder_apply(struct conflict *c, const struct holder_result *r, time_t now);

/* holder_needs_lookup() tells whether cur (this cycle's conflict) must
 * be looked up, given prev (the same key from the previous inventory, or
 * NULL): yes when prev is NULL, was never looked up successfully, had
 * its recheck flag set (set c->recheck = true to force a new lookup at the
 * next cycle), or its object data differs (conflict_same_object()).  When
 * the answer is no, the caller copies the pairing with
 * conflict_copy_pairing(). */
bool holder_needs_lookup(const struct conflict *prev,
                         const struct conflict *cur);

/* Per-conflict outcome of holder_fetch(). */
enum holder_fetch_outcome {
  HOLDER_FOUND,       /* the object exists: upn and proxies are set */
  HOLDER_GONE,        /* Graph answered 404: the object no longer exists */
  HOLDER_FETCH_FAILED /* no usable answer; err says why */
};

/* One conflict's object.  Everything is owned by the holder module and
 * valid only during the done callback. */
struct holder_object {
  const char *key; /* conflict_key() of the conflict it belongs to */
  enum holder_fetch_outcome outcome;
  const char *upn;            /* FOUND users: userPrincipalName, or NULL */
  const char *const *proxies; /* FOUND: proxyAddresses as Graph sent them */
  size_t nproxies;
  struct graph_error err; /* FETCH_FAILED: err.code is set */
};

/* Done callback of holder_fetch(); as holder_done_cb (res[i] belongs to
 * the i-th conflict; -ECANCELED when the graph client was closed). */
typedef void (*holder_fetch_cb)(int result, const struct holder_object *res,
                                size_t n, void *arg);

/* holder_fetch() reads the object of each of the n (>= 1) conflicts at cs
 * (GET /users|groups|contacts/{id}?$select=id,userPrincipalName (users),
 * mail,proxyAddresses) over graph_batch(); an object with several
 * conflicts (a UPN and an address) is read once for all of them.  What it needs
 * is copied, as for holder_lookup().  Returns 0 (cb will be called once, never
 * from inside this call) or a negative errno code (cb will not be called). */
int holder_fetch(struct holder *h, const struct conflict *const *cs, size_t n,
                 holder_fetch_cb cb, void *arg);

#endif
