/* SPDX-License-Identifier: MIT
 *
 * check_inventory: one cycle against a small Graph of the test's own
 * (libmicrohttpd on 127.0.0.1, with its token endpoint), through the real
 * HTTP client, token source and Graph client.  Filter mode reads the three
 * collections page by page with the provisioning-error $filter; a tenant
 * that refuses the filter is scanned, and that is remembered; a failed
 * collection fails the whole cycle; delta mode reads full rounds to a
 * deltaLink, then applies incremental changes to a copy of the believed
 * set, and an expired token turns into a full round of that collection.
 * The same behaviour end to end, against the simulator, is in
 * tests/e2e/test_daemon.py and test_delta.py.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "cfg.h"
#include "graph.h"
#include "http.h"
#include "inventory.h"
#include "testutil.h"
#include "token.h"

#define NOW ((time_t)1700000000)
#define TID "6e9e7f1a-4c3b-4b2a-9f0e-1d2c3b4a5f60"
#define PC_FILTER                                                              \
  "onPremisesProvisioningErrors/any(o:o/category eq 'PropertyConflict')"

/* ===== The Graph of the test ===== */

#define CONFLICT(prop, value)                                                  \
  "\"onPremisesProvisioningErrors\":[{\"category\":\"PropertyConflict\","      \
  "\"propertyCausingError\":\"" prop "\",\"value\":\"" value "\","             \
  "\"occurredDateTime\":\"2023-11-01T00:00:00Z\"}]"

/* Every object of each collection; the ones with a PropertyConflict are
 * what the $filter returns. */
static const struct object {
  const char *json;
  bool conflict;
} users[] =
    {
        {"{\"id\":\"u1\",\"displayName\":\"One\",\"userPrincipalName\":"
         "\"one1234@contoso.onmicrosoft.com\"," CONFLICT("UserPrincipalName",
                                                         "one@contoso.com") "}",
         true},
        {"{\"id\":\"u2\",\"displayName\":\"Two\",\"proxyAddresses\":[\"SMTP:"
         "two@contoso.com\"]," CONFLICT("ProxyAddresses",
                                        "SMTP:dup@contoso.com") "}",
         true},
        {"{\"id\":\"u3\",\"displayName\":\"Three\","
         "\"onPremisesProvisioningErrors\":[]}",
         false},
        {"{\"id\":\"u4\",\"displayName\":\"Four\","
         "\"onPremisesProvisioningErrors\":"
         "[{\"category\":\"DataValidation\",\"propertyCausingError\":"
         "\"UserPrincipalName\",\"value\":\"x\"}]}",
         false},
},
  groups[] =
      {
          {"{\"id\":\"g1\",\"displayName\":\"Sales\"," CONFLICT(
               "ProxyAddresses", "SMTP:sales@contoso.com") "}",
           true},
          {"{\"id\":\"g2\",\"displayName\":\"Other\","
           "\"onPremisesProvisioningErrors\":[]}",
           false},
},
  contacts[] = {
      {"{\"id\":\"c1\",\"displayName\":\"Partner\"," CONFLICT(
           "ProxyAddresses", "SMTP:partner@contoso.com") "}",
       true},
};

static const struct coll {
  const char *name;
  const struct object *v;
  size_t n;
} colls[3] = {
    {"users", users, sizeof(users) / sizeof(users[0])},
    {"groups", groups, sizeof(groups) / sizeof(groups[0])},
    {"contacts", contacts, sizeof(contacts) / sizeof(contacts[0])},
};

/* What the handler does, set by a test before a cycle, and what it saw. */
static struct {
  pthread_mutex_t mu;
  char base[64];
  bool refuse_filter[3];  /* 400 Request_UnsupportedQuery for $filter */
  int fail[3];            /* answer the collection with this status */
  bool expired[3];        /* refuse delta tokens with 410 */
  const char *changes[3]; /* an incremental round's "value" array */
  /* one line per request: "users filter top=1 skip=0" and the like */
  char log[64][160];
  int nlog;
} g_srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status,
                              const char *body)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret;

  MHD_add_response_header(r, "Content-Type", "application/json");
  ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static const char *arg(struct MHD_Connection *conn, const char *name)
{
  return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

/* page() answers one page of collection c from index at: the filter's
 * conflicted objects ('f'), all of them ('s' scan, 'd' a full delta
 * round), top per page, with a nextLink or, at the end of a delta round,
 * a deltaLink. */
static enum MHD_Result page(struct MHD_Connection *conn, size_t c, char mode,
                            size_t at, size_t top)
{
  char body[8192];
  size_t i, seen = 0, put = 0, len;

  len = (size_t)snprintf(body, sizeof(body), "{\"value\":[");
  for(i = 0; i < colls[c].n; i++) {
    if(mode == 'f' && !colls[c].v[i].conflict)
      continue;
    if(seen++ < at || put == top)
      continue;
    len += (size_t)snprintf(body + len, sizeof(body) - len, "%s%s",
                            put++ ? "," : "", colls[c].v[i].json);
  }
  if(at + put < seen)
    len += (size_t)snprintf(body + len, sizeof(body) - len,
                            "],\"@odata.nextLink\":\"%s/v1.0/%s%s?$skiptoken="
                            "%c%zu\"}",
                            g_srv.base, colls[c].name,
                            mode == 'd' ? "/delta" : "", mode, at + put);
  else if(mode == 'd')
    len += (size_t)snprintf(body + len, sizeof(body) - len,
                            "],\"@odata.deltaLink\":\"%s/v1.0/%s/delta?"
                            "$deltatoken=t1\"}",
                            g_srv.base, colls[c].name);
  else
    snprintf(body + len, sizeof(body) - len, "]}");
  return answer(conn, 200, body);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *data,
                               size_t *data_size, void **con_cls)
{
  const char *filter, *skip, *token, *top, *select;
  char body[4096], mode;
  enum MHD_Result ret;
  size_t c, at = 0;
  bool delta;

  (void)cls;
  (void)version;
  if(!tu_upload_ready(con_cls, data, data_size, &ret))
    return ret;
  if(!strcmp(method, "POST") && !strcmp(url, "/" TID "/oauth2/v2.0/token"))
    return answer(conn, 200,
                  "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                  "\"access_token\":\"tok\"}");
  for(c = 0; c < 3; c++) {
    char p[64];

    snprintf(p, sizeof(p), "/v1.0/%s", colls[c].name);
    if(!strcmp(url, p) ||
       (!strncmp(url, p, strlen(p)) && !strcmp(url + strlen(p), "/delta")))
      break;
  }
  if(c == 3 || strcmp(method, "GET"))
    return answer(conn, 404,
                  "{\"error\":{\"code\":\"Request_ResourceNotFound\"}}");
  delta = strstr(url, "/delta") != NULL;
  filter = arg(conn, "$filter");
  skip = arg(conn, "$skiptoken");
  token = arg(conn, "$deltatoken");
  top = arg(conn, "$top");
  select = arg(conn, "$select");
  pthread_mutex_lock(&g_srv.mu);
  if(g_srv.nlog < 64)
    snprintf(g_srv.log[g_srv.nlog++], sizeof(g_srv.log[0]),
             "%s%s%s%s top=%s skip=%s token=%s", colls[c].name,
             delta ? " delta" : "",
             filter ? (strcmp(filter, PC_FILTER) ? " badfilter" : " filter")
                    : "",
             select ? " select" : "", top ? top : "-", skip ? skip : "-",
             token ? token : "-");
  pthread_mutex_unlock(&g_srv.mu);
  if(g_srv.fail[c])
    return answer(conn, (unsigned)g_srv.fail[c],
                  "{\"error\":{\"code\":\"Authorization_RequestDenied\","
                  "\"message\":\"Insufficient privileges.\"}}");
  if(filter && g_srv.refuse_filter[c])
    return answer(conn, 400,
                  "{\"error\":{\"code\":\"Request_UnsupportedQuery\","
                  "\"message\":\"Unsupported query.\"}}");
  if(token) {
    if(g_srv.expired[c])
      return answer(conn, 410, "{\"error\":{\"code\":\"syncStateNotFound\"}}");
    snprintf(body, sizeof(body),
             "{\"value\":%s,\"@odata.deltaLink\":\"%s/v1.0/%s/delta?"
             "$deltatoken=t2\"}",
             g_srv.changes[c] ? g_srv.changes[c] : "[]", g_srv.base,
             colls[c].name);
    return answer(conn, 200, body);
  }
  mode = delta ? 'd' : filter ? 'f' : 's';
  if(skip) {
    mode = skip[0];
    at = strtoul(skip + 1, NULL, 10);
  }
  return page(conn, c, mode, at,
              mode == 'd' ? 2
              : top       ? strtoul(top, NULL, 10)
                          : 100);
}

/* requests() counts the logged requests that start with prefix. */
static int requests(const char *prefix)
{
  int i, n = 0;

  pthread_mutex_lock(&g_srv.mu);
  for(i = 0; i < g_srv.nlog; i++)
    n += !strncmp(g_srv.log[i], prefix, strlen(prefix));
  pthread_mutex_unlock(&g_srv.mu);
  return n;
}

static void forget_requests(void)
{
  pthread_mutex_lock(&g_srv.mu);
  g_srv.nlog = 0;
  pthread_mutex_unlock(&g_srv.mu);
}

/* ===== The client side ===== */

static uv_loop_t loop;
static struct MHD_Daemon *mhd;
static char *dir;
static struct http_client *hc;
static struct token *tok;
static struct graph *g;
static struct inventory *inv;
static int nclosed;

static void setup(void)
{
  struct http_client_opts ho = {.user_agent = "qd-test/1", .timeout_ms = 30000};
  struct graph_opts go = {.tenant = "contoso"};
  struct cfg_tenant t;
  char *secret;

  memset(&g_srv.refuse_filter, 0, sizeof(g_srv.refuse_filter));
  memset(&g_srv.fail, 0, sizeof(g_srv.fail));
  memset(&g_srv.expired, 0, sizeof(g_srv.expired));
  memset(&g_srv.changes, 0, sizeof(g_srv.changes));
  forget_requests();
  tu_no_proxy();
  mhd = tu_mhd_start(MHD_USE_INTERNAL_POLLING_THREAD, handler, NULL, NULL,
                     g_srv.base, sizeof(g_srv.base));
  dir = tu_tmpdir();
  secret = tu_write(dir, "secret", "s3cret\n");
  ck_assert_int_eq(chmod(secret, 0600), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(http_client_new(&loop, &ho, &hc), 0);
  memset(&t, 0, sizeof(t));
  t.name = "contoso";
  t.tenant_id = TID;
  t.client_id = "0f4a5b6c-7d8e-4f90-a1b2-c3d4e5f60718";
  t.client_secret_file = secret;
  t.login_url = g_srv.base;
  t.graph_url = g_srv.base;
  ck_assert_int_eq(token_new(&loop, hc, &t, &tok), 0);
  go.graph_url = g_srv.base;
  ck_assert_int_eq(graph_new(&loop, hc, tok, &go, &g), 0);
  free(secret);
  inv = NULL;
  nclosed = 0;
}

static void on_closed(void *arg)
{
  (void)arg;
  nclosed++;
}

static void teardown(void)
{
  graph_close(g, on_closed, NULL);
  token_close(tok, on_closed, NULL);
  http_client_close(hc, on_closed, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nclosed, 3);
  inventory_free(inv);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  MHD_stop_daemon(mhd);
  tu_rmtree(dir);
  free(dir);
}

/* What one cycle came to. */
struct outcome {
  bool done;
  int result;
  struct conflict_set *set;
  char what[16];
  struct graph_error err;
};

static void on_done(int result, struct conflict_set *set, const char *what,
                    const struct graph_error *err, void *arg)
{
  struct outcome *o = arg;

  o->done = true;
  o->result = result;
  o->set = set;
  snprintf(o->what, sizeof(o->what), "%s", what ? what : "");
  if(err)
    o->err = *err;
}

/* cycle() runs one cycle to its end. */
static void cycle(const struct inventory_delta *d, struct outcome *o)
{
  uint64_t deadline = uv_hrtime() + 60000000000ULL;

  memset(o, 0, sizeof(*o));
  ck_assert_int_eq(inventory_run(inv, NOW, d, on_done, o), 0);
  ck_assert(inventory_running(inv));
  ck_assert_int_eq(inventory_run(inv, NOW, d, on_done, o), -EBUSY);
  while(!o->done) {
    ck_assert_msg(uv_hrtime() < deadline, "no end of the cycle in 60 s");
    uv_run(&loop, UV_RUN_ONCE);
  }
  ck_assert(!inventory_running(inv));
}

/* has() tells whether set holds the conflict of object id on prop. */
static bool has(const struct conflict_set *set, const char *id,
                enum conflict_property prop, const char *value)
{
  char *key = conflict_key(id, prop, value);
  bool found = key && conflict_set_find(set, key);

  free(key);
  return found;
}

static void assert_all_four(const struct conflict_set *set)
{
  ck_assert_uint_eq(conflict_set_count(set), 4);
  ck_assert(has(set, "u1", CONFLICT_UPN, "one@contoso.com"));
  ck_assert(has(set, "u2", CONFLICT_PROXY, "dup@contoso.com"));
  ck_assert(has(set, "g1", CONFLICT_PROXY, "sales@contoso.com"));
  ck_assert(has(set, "c1", CONFLICT_PROXY, "partner@contoso.com"));
}

/* cycle_finds_all_four() runs a filter or scan cycle, which must find
 * the four conflicts. */
static void cycle_finds_all_four(void)
{
  struct outcome o;

  cycle(NULL, &o);
  ck_assert_int_eq(o.result, 0);
  assert_all_four(o.set);
  conflict_set_free(o.set);
}

START_TEST(test_filter_reads_every_page_of_three_collections)
{
  ck_assert_int_eq(inventory_new(g, "contoso", INVENTORY_FILTER, 1, &inv), 0);
  cycle_finds_all_four();
  /* Every first page filtered and selected; $top=1 gives users two
   * pages, the second by the nextLink as Graph gave it. */
  ck_assert_int_eq(requests("users filter select top=1 skip=-"), 1);
  ck_assert_int_eq(requests("users top=- skip=f1"), 1);
  ck_assert_int_eq(requests("users"), 2);
  ck_assert_int_eq(requests("groups filter select top=1 skip=-"), 1);
  ck_assert_int_eq(requests("groups"), 1);
  ck_assert_int_eq(requests("contacts filter select top=1 skip=-"), 1);
  ck_assert_int_eq(requests("contacts"), 1);
  ck_assert_str_eq(inventory_rounds(inv), "");
  ck_assert_int_eq(inventory_all_full(inv), 0);
}
END_TEST

START_TEST(test_refused_filter_is_scanned_and_remembered)
{
  g_srv.refuse_filter[0] = true;
  ck_assert_int_eq(inventory_new(g, "contoso", INVENTORY_FILTER, 2, &inv), 0);
  /* The scan reads u3 (no error) and u4 (not a PropertyConflict) too, and
   * keeps only the conflicts. */
  cycle_finds_all_four();
  ck_assert_int_eq(requests("users filter"), 1);
  ck_assert_int_eq(requests("users select top=2 skip=-"), 1);
  ck_assert_int_eq(requests("users"), 3); /* refused, then two pages */
  /* The next cycle scans users at once; the others still filter. */
  forget_requests();
  cycle_finds_all_four();
  ck_assert_int_eq(requests("users filter"), 0);
  ck_assert_int_eq(requests("groups filter"), 1);
}
END_TEST

START_TEST(test_failed_collection_fails_the_cycle)
{
  struct outcome o;

  g_srv.fail[1] = 403;
  ck_assert_int_eq(inventory_new(g, "contoso", INVENTORY_FILTER, 1, &inv), 0);
  cycle(NULL, &o);
  ck_assert_int_eq(o.result, -EACCES);
  ck_assert_ptr_null(o.set); /* never a partial inventory */
  ck_assert_str_eq(o.what, "groups");
  ck_assert_int_eq(o.err.status, 403);
  ck_assert_str_eq(o.err.code, "Authorization_RequestDenied");
}
END_TEST

/* full_round() runs a delta cycle of full rounds into o, takes its links
 * and makes d start the next cycle from them, on o's set. */
static void full_round(struct inventory_delta *d, struct outcome *o,
                       char *links[INVENTORY_NCOLL])
{
  size_t i;

  memset(d, 0, sizeof(*d));
  cycle(d, o);
  ck_assert_int_eq(o->result, 0);
  assert_all_four(o->set);
  ck_assert_str_eq(inventory_rounds(inv), "delta full");
  ck_assert(inventory_all_full(inv));
  inventory_take_links(inv, links);
  d->believed = o->set;
  for(i = 0; i < INVENTORY_NCOLL; i++) {
    ck_assert_ptr_nonnull(links[i]);
    ck_assert_ptr_nonnull(strstr(links[i], "/delta?$deltatoken=t1"));
    d->link[i] = links[i];
  }
}

START_TEST(test_delta_full_then_incremental)
{
  struct inventory_delta d;
  char *links[INVENTORY_NCOLL] = {NULL, NULL, NULL};
  struct outcome o, o2;
  size_t i;

  ck_assert_int_eq(inventory_new(g, "contoso", INVENTORY_DELTA, 1, &inv), 0);
  ck_assert_int_eq(inventory_run(inv, NOW, NULL, on_done, &o), -EINVAL);
  full_round(&d, &o, links);
  /* Full rounds: /delta with $select, no $top, no $filter; users took two
   * pages of two. */
  ck_assert_int_eq(requests("users delta select top=- skip=-"), 1);
  ck_assert_int_eq(requests("users delta top=- skip=d2"), 1);
  ck_assert_int_eq(requests("users delta filter"), 0);

  /* Incremental: u1 gone, u3 gains a conflict, c1 comes back without its
   * errors array (kept); everything else is carried over. */
  g_srv.changes[0] = "[{\"id\":\"u1\",\"@removed\":{\"reason\":\"changed\"}},"
                     "{\"id\":\"u3\",\"displayName\":\"Three\"," CONFLICT(
                         "ProxyAddresses", "SMTP:three@contoso.com") "}]";
  g_srv.changes[2] = "[{\"id\":\"c1\",\"displayName\":\"Partner\"}]";
  forget_requests();
  cycle(&d, &o2);
  ck_assert_int_eq(o2.result, 0);
  ck_assert_uint_eq(conflict_set_count(o2.set), 4);
  ck_assert(!has(o2.set, "u1", CONFLICT_UPN, "one@contoso.com"));
  ck_assert(has(o2.set, "u2", CONFLICT_PROXY, "dup@contoso.com"));
  ck_assert(has(o2.set, "u3", CONFLICT_PROXY, "three@contoso.com"));
  ck_assert(has(o2.set, "g1", CONFLICT_PROXY, "sales@contoso.com"));
  ck_assert(has(o2.set, "c1", CONFLICT_PROXY, "partner@contoso.com"));
  ck_assert_uint_eq(conflict_set_count(o.set), 4); /* believed: untouched */
  ck_assert_str_eq(inventory_rounds(inv), "delta incremental");
  ck_assert(!inventory_all_full(inv));
  ck_assert_int_eq(requests("users delta top=- skip=- token=t1"), 1);
  ck_assert_int_eq(requests("users delta select"), 0);
  inventory_take_links(inv, links);
  for(i = 0; i < INVENTORY_NCOLL; i++) {
    ck_assert_ptr_nonnull(strstr(links[i], "$deltatoken=t2"));
    free(links[i]);
  }
  conflict_set_free(o.set);
  conflict_set_free(o2.set);
}
END_TEST

START_TEST(test_expired_delta_token_is_a_full_round)
{
  struct inventory_delta d;
  char *links[INVENTORY_NCOLL] = {NULL, NULL, NULL};
  struct outcome o, o2;
  size_t i;

  ck_assert_int_eq(inventory_new(g, "contoso", INVENTORY_DELTA, 1, &inv), 0);
  full_round(&d, &o, links);
  g_srv.expired[0] = true;
  forget_requests();
  cycle(&d, &o2);
  /* users' token is refused: a full round of users within the cycle. */
  ck_assert_int_eq(o2.result, 0);
  assert_all_four(o2.set);
  ck_assert_str_eq(inventory_rounds(inv),
                   "delta: users full, groups incremental, contacts "
                   "incremental");
  ck_assert_int_eq(requests("users delta top=- skip=- token=t1"), 1);
  ck_assert_int_eq(requests("users delta select top=- skip=- token=-"), 1);
  for(i = 0; i < INVENTORY_NCOLL; i++)
    free(links[i]);
  conflict_set_free(o.set);
  conflict_set_free(o2.set);
}
END_TEST

Suite *inventory_suite(void)
{
  Suite *s = suite_create("inventory");
  TCase *tc = tcase_create("inventory");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_filter_reads_every_page_of_three_collections);
  tcase_add_test(tc, test_refused_filter_is_scanned_and_remembered);
  tcase_add_test(tc, test_failed_collection_fails_the_cycle);
  tcase_add_test(tc, test_delta_full_then_incremental);
  tcase_add_test(tc, test_expired_delta_token_is_a_full_round);
  tcase_set_timeout(tc, 120);
  suite_add_tcase(s, tc);
  return s;
}
