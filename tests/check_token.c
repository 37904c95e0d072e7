/* SPDX-License-Identifier: MIT
 *
 * check_token: the client-credentials token source.  Form bodies and
 * replies are checked directly; the rest runs against a loopback
 * libmicrohttpd token endpoint in this process: the secret and the
 * certificate flows, caching, coalescing, refresh, invalidation, error
 * bodies, transient failures and a clean close (uv_loop_close() == 0).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <uv.h>

#include "http.h"
#include "jwt.h"
#include "log.h"
#include "secret.h"
#include "testutil.h"
#include "token.h"

#define CLIENT "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define TID "11111111-2222-3333-4444-555555555555"
#define SECRET "p+&=s%20 x~Q8"
#define SCOPE "https://graph.microsoft.com/.default"

#define AAD_401                                                                \
  "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "      \
  "Invalid client secret is provided.\\r\\nTrace ID: "                         \
  "0e5e8bd4-f5b8-4ff9-a4d4-8ea1a0c01f00\\r\\nCorrelation ID: "                 \
  "5d9d2e0c-7d8e-4b32-9c55-0f0fd4b0a9a1\\r\\nTimestamp: 2026-01-01 "           \
  "00:00:00Z\",\"error_codes\":[7000215],\"timestamp\":\"2026-01-01 "          \
  "00:00:00Z\",\"trace_id\":\"0e5e8bd4-f5b8-4ff9-a4d4-8ea1a0c01f00\","         \
  "\"correlation_id\":\"5d9d2e0c-7d8e-4b32-9c55-0f0fd4b0a9a1\","               \
  "\"error_uri\":\"https://login.microsoftonline.com/error?code=7000215\"}"

static char *dir;
static char *logpath;
static int saved_stderr = -1;

/* ===== stderr capture: what the log would show ===== */

static void capture_start(void)
{
  int fd;

  ck_assert_int_ne(asprintf(&logpath, "%s/stderr", dir), -1);
  fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  ck_assert_int_ge(fd, 0);
  fflush(stderr);
  saved_stderr = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
}

static void capture_stop(void)
{
  if(saved_stderr < 0)
    return;
  fflush(stderr);
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  saved_stderr = -1;
}

/* logged() returns everything logged so far (malloc'd). */
static char *logged(void)
{
  char *s;

  fflush(stderr);
  s = tu_slurp(logpath);
  ck_assert_ptr_nonnull(s);
  return s;
}

static void base_setup(void)
{
  dir = tu_tmpdir();
  unsetenv("CREDENTIALS_DIRECTORY");
  log_set_level(LOG_DEBUG);
  capture_start();
}

static void base_teardown(void)
{
  capture_stop();
  tu_rmtree(dir);
  free(dir);
  free(logpath);
  logpath = NULL;
}

/* run() runs a shell command in dir and returns its exit status. */
static int run(const char *cmd)
{
  char *full;
  int rc;

  ck_assert_int_ne(asprintf(&full,
                            "cd '%s' && { %s; } </dev/null >/dev/null 2>&1",
                            dir, cmd),
                   -1);
  rc = system(full);
  free(full);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *path(const char *name)
{
  char *p;

  ck_assert_int_ne(asprintf(&p, "%s/%s", dir, name), -1);
  return p;
}

/* form_get() returns the decoded value of key in an urlencoded body, or
 * NULL (malloc'd). */
static char *form_get(const char *body, const char *key)
{
  size_t klen = strlen(key);
  const char *p = body;

  while(p && *p) {
    const char *amp = strchr(p, '&');
    size_t n = amp ? (size_t)(amp - p) : strlen(p);

    if(n > klen && !strncmp(p, key, klen) && p[klen] == '=') {
      int outlen = 0;
      char *v =
          curl_easy_unescape(NULL, p + klen + 1, (int)(n - klen - 1), &outlen);
      char *copy = strndup(v, (size_t)outlen);

      curl_free(v);
      return copy;
    }
    p = amp ? amp + 1 : NULL;
  }
  return NULL;
}

/* ===== Form bodies and replies ===== */

START_TEST(test_form_secret)
{
  char *body = NULL, *v;
  size_t len = 0;

  ck_assert_int_eq(
      token_form_body(CLIENT, SCOPE, SECRET, strlen(SECRET), NULL, &body, &len),
      0);
  ck_assert_uint_eq(len, strlen(body));
  ck_assert_ptr_nonnull(
      strstr(body, "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&"));
  ck_assert_ptr_nonnull(strstr(body, "&grant_type=client_credentials&"));
  ck_assert_ptr_nonnull(strstr(body, "client_secret=p%2B%26%3Ds%2520%20x~Q8"));
  ck_assert_ptr_null(strstr(body, "client_assertion"));
  v = form_get(body, "client_secret");
  ck_assert_str_eq(v, SECRET);
  free(v);
  v = form_get(body, "client_id");
  ck_assert_str_eq(v, CLIENT);
  free(v);
  secret_free(body, len);

  ck_assert_int_eq(token_form_body(CLIENT, SCOPE, NULL, 0, NULL, &body, &len),
                   -EINVAL);
}
END_TEST

START_TEST(test_form_assertion)
{
  char *body = NULL, *v;
  size_t len = 0;

  ck_assert_int_eq(
      token_form_body(CLIENT, SCOPE, NULL, 0, "aa.bb.cc", &body, &len), 0);
  v = form_get(body, "client_assertion_type");
  ck_assert_str_eq(v, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  free(v);
  v = form_get(body, "client_assertion");
  ck_assert_str_eq(v, "aa.bb.cc");
  free(v);
  v = form_get(body, "grant_type");
  ck_assert_str_eq(v, "client_credentials");
  free(v);
  ck_assert_ptr_null(strstr(body, "client_secret"));
  secret_free(body, len);
}
END_TEST

START_TEST(test_parse_ok)
{
  static const char a[] = "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                          "\"ext_expires_in\":3599,\"access_token\":\"eyJ0\"}";
  static const char b[] = "{\"token_type\":\"bearer\",\"expires_in\":\"30\","
                          "\"access_token\":\"x.y.z\"}";
  struct token_error e;
  char *tok = NULL;
  long exp = 0;

  ck_assert_int_eq(token_parse_response(200, a, strlen(a), &tok, &exp, &e), 0);
  ck_assert_str_eq(tok, "eyJ0");
  ck_assert_int_eq(exp, 3599);
  secret_free(tok, strlen(tok));
  ck_assert_int_eq(token_parse_response(200, b, strlen(b), &tok, &exp, &e), 0);
  ck_assert_str_eq(tok, "x.y.z");
  ck_assert_int_eq(exp, 30);
  secret_free(tok, strlen(tok));
}
END_TEST

START_TEST(test_parse_unusable)
{
  static const char *const bad[] = {
      "",
      "not json",
      "[1,2]",
      "{\"token_type\":\"Bearer\",\"expires_in\":3599}",
      "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"\"}",
      "{\"token_type\":\"pop\",\"expires_in\":3599,\"access_token\":\"t\"}",
      "{\"token_type\":\"Bearer\",\"access_token\":\"t\"}",
      "{\"token_type\":\"Bearer\",\"expires_in\":0,\"access_token\":\"t\"}",
      "{\"token_type\":\"Bearer\",\"expires_in\":\"9x\",\"access_token\":"
      "\"t\"}",
  };
  struct token_error e;
  char *tok = NULL;
  long exp = 0;
  size_t i;

  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_msg(token_parse_response(200, bad[i], strlen(bad[i]), &tok, &exp,
                                       &e) == -EAGAIN,
                  "accepted: %s", bad[i]);
    ck_assert_ptr_null(tok);
    ck_assert_str_eq(e.error, "invalid_response");
    ck_assert_int_eq(e.http_status, 200);
    ck_assert_str_ne(e.description, "");
  }
}
END_TEST

START_TEST(test_parse_errors)
{
  static const struct {
    long status;
    const char *body;
    int rc;
    const char *error, *aadsts;
  } cases[] = {
      {401, AAD_401, -EACCES, "invalid_client", "AADSTS7000215"},
      {400, AAD_401, -EACCES, "invalid_client", "AADSTS7000215"},
      {400,
       "{\"error\":\"unauthorized_client\",\"error_description\":"
       "\"AADSTS700016: Application with identifier 'x' was not found\"}",
       -EACCES, "unauthorized_client", "AADSTS700016"},
      {400, "{\"error\":\"invalid_grant\",\"error_codes\":[7000222]}", -EACCES,
       "invalid_grant", "AADSTS7000222"},
      {400, "{\"error\":\"invalid_scope\",\"error_codes\":[70011]}", -EINVAL,
       "invalid_scope", "AADSTS70011"},
      {400, "{\"error\":\"invalid_request\",\"error_codes\":[90002]}", -EINVAL,
       "invalid_request", "AADSTS90002"},
      {400, "{\"error\":\"temporarily_unavailable\"}", -EAGAIN,
       "temporarily_unavailable", ""},
      {503, "", -EAGAIN, "", ""},
      {500, "<html>oops</html>", -EAGAIN, "", ""},
      {429, "", -EAGAIN, "", ""},
      {401, "", -EACCES, "", ""},
      {404, "", -EINVAL, "", ""},
  };
  struct token_error e;
  char *tok = NULL;
  long exp = 0;
  size_t i;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = token_parse_response(cases[i].status, cases[i].body,
                                  strlen(cases[i].body), &tok, &exp, &e);

    ck_assert_msg(rc == cases[i].rc, "case %zu: %d", i, rc);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(e.http_status, cases[i].status);
    ck_assert_str_eq(e.error, cases[i].error);
    ck_assert_str_eq(e.aadsts, cases[i].aadsts);
  }
  ck_assert_int_eq(
      token_parse_response(401, AAD_401, strlen(AAD_401), &tok, &exp, &e),
      -EACCES);
  ck_assert_str_eq(e.description, "Invalid client secret is provided.");
  ck_assert_str_eq(e.trace_id, "0e5e8bd4-f5b8-4ff9-a4d4-8ea1a0c01f00");
  ck_assert_str_eq(e.correlation_id, "5d9d2e0c-7d8e-4b32-9c55-0f0fd4b0a9a1");

  /* Control characters cannot reach the log. */
  {
    static const char evil[] = "{\"error\":\"invalid_client\\u001b[31m\","
                               "\"trace_id\":\"a\\tb\"}";

    token_parse_response(400, evil, strlen(evil), &tok, &exp, &e);
    ck_assert_str_eq(e.error, "invalid_client?[31m");
    ck_assert_str_eq(e.trace_id, "a?b");
  }
}
END_TEST

/* ===== token_new() without a server ===== */

static uv_loop_t loop;
static int nclosed;

static void on_closed(void *arg)
{
  (void)arg;
  nclosed++;
}

static char login_ms[] = "https://login.microsoftonline.com";

static void tenant_init(struct cfg_tenant *t, char *login_url)
{
  memset(t, 0, sizeof(*t));
  t->name = "contoso";
  t->tenant_id = TID;
  t->client_id = CLIENT;
  t->login_url = login_url;
  t->graph_url = "https://graph.microsoft.com";
}

static void new_setup(void)
{
  base_setup();
  nclosed = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
}

static void new_teardown(void)
{
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  base_teardown();
}

START_TEST(test_new_unsafe_secret)
{
  char *sp = tu_write(dir, "c.secret", SECRET "\n"), *log, *want;
  struct cfg_tenant t;
  struct token *tk = NULL;

  tenant_init(&t, login_ms);
  t.client_secret_file = sp;
  ck_assert_int_eq(chmod(sp, 0644), 0);
  ck_assert_int_eq(token_new(&loop, NULL, &t, &tk), -EPERM);
  ck_assert_ptr_null(tk);
  log = logged();
  ck_assert_int_ne(asprintf(&want,
                            "token: tenant contoso: client secret: secret: "
                            "%s: mode 0644 is too open; use chmod 600 (or "
                            "640)\n",
                            sp),
                   -1);
  ck_assert_msg(strstr(log, want) != NULL, "log:\n%s", log);
  /* One line, and never the secret. */
  ck_assert_ptr_null(strchr(strchr(log, '\n') + 1, '\n'));
  ck_assert_ptr_null(strstr(log, "p+&="));
  free(want);
  free(log);

  /* Fixed: it loads, and closes cleanly without ever sending. */
  ck_assert_int_eq(chmod(sp, 0600), 0);
  ck_assert_int_eq(token_new(&loop, NULL, &t, &tk), 0);
  token_close(tk, on_closed, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nclosed, 1);
  free(sp);
}
END_TEST

START_TEST(test_new_credentials)
{
  struct cfg_tenant t;
  struct token *tk = NULL;
  char *log, *cp;

  tenant_init(&t, login_ms);
  ck_assert_int_eq(token_new(&loop, NULL, &t, &tk), -EINVAL);

  t.client_secret_credential = "contoso.secret";
  ck_assert_int_eq(token_new(&loop, NULL, &t, &tk), -ENOENT);
  log = logged();
  ck_assert_ptr_nonnull(strstr(
      log, "token: tenant contoso: client secret: secret: credential "
           "'contoso.secret' requested but $CREDENTIALS_DIRECTORY is not set "
           "(use LoadCredential= in the unit)"));
  free(log);

  cp = tu_write(dir, "contoso.secret", SECRET);
  ck_assert_int_eq(chmod(cp, 0400), 0);
  ck_assert_int_eq(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
  ck_assert_int_eq(token_new(&loop, NULL, &t, &tk), 0);
  token_close(tk, on_closed, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nclosed, 1);
  free(cp);
}
END_TEST

START_TEST(test_new_certificate)
{
  struct cfg_tenant t;
  struct token *tk = NULL;
  char *cert = path("cert.pem"), *key = path("key.pem"),
       *other = path("other.pem"), *log;

  ck_assert_int_eq(run("openssl req -x509 -newkey rsa:2048 -nodes "
                       "-keyout key.pem -out cert.pem -days 2 -subj /CN=t "
                       "&& openssl genpkey -algorithm RSA "
                       "-pkeyopt rsa_keygen_bits:2048 -out other.pem "
                       "&& chmod 600 key.pem other.pem"),
                   0);
  tenant_init(&t, login_ms);
  t.certificate_file = cert;
  t.private_key_file = other;
  ck_assert_int_eq(token_new(&loop, NULL, &t, &tk), -EINVAL);
  log = logged();
  ck_assert_msg(strstr(log, "does not match the private key") != NULL,
                "log:\n%s", log);
  ck_assert_ptr_nonnull(strstr(log, "token: tenant contoso: certificate "));
  free(log);

  /* The key file is checked like a secret. */
  t.private_key_file = key;
  ck_assert_int_eq(chmod(key, 0640 | 04), 0);
  ck_assert_int_eq(token_new(&loop, NULL, &t, &tk), -EPERM);
  ck_assert_int_eq(chmod(key, 0600), 0);
  ck_assert_int_eq(token_new(&loop, NULL, &t, &tk), 0);
  token_close(tk, on_closed, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nclosed, 1);
  free(cert);
  free(key);
  free(other);
}
END_TEST

/* ===== The loopback token endpoint ===== */

/* What the server does and saw; written by its thread, read by tests. */
static struct {
  pthread_mutex_t mu;
  int hits;
  int status;       /* reply status; 200 makes a token */
  char reply[2048]; /* body for status != 200 */
  long expires_in;
  char url[256];          /* last request's path */
  char content_type[128]; /* last request's Content-Type */
  char body[8192];        /* last request's body */
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct MHD_Daemon *mhd;
static char base[64]; /* http://127.0.0.1:PORT */

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *data,
                               size_t *data_size, void **con_cls)
{
  struct tu_upload *up;
  struct MHD_Response *r;
  enum MHD_Result ret;
  char body[2048];
  const char *ct;
  int status;

  (void)cls;
  (void)method;
  (void)version;
  if(!tu_upload_ready(con_cls, data, data_size, &ret))
    return ret;
  up = *con_cls;
  ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
  pthread_mutex_lock(&srv.mu);
  srv.hits++;
  snprintf(srv.url, sizeof(srv.url), "%s %s", method, url);
  snprintf(srv.content_type, sizeof(srv.content_type), "%s", ct ? ct : "");
  snprintf(srv.body, sizeof(srv.body), "%s", up->buf ? up->buf : "");
  status = srv.status;
  if(status == 200)
    snprintf(body, sizeof(body),
             "{\"token_type\":\"Bearer\",\"expires_in\":%ld,"
             "\"ext_expires_in\":%ld,\"access_token\":\"tok-%d\"}",
             srv.expires_in, srv.expires_in, srv.hits);
  else
    snprintf(body, sizeof(body), "%s", srv.reply);
  pthread_mutex_unlock(&srv.mu);
  r = MHD_create_response_from_buffer(strlen(body), body,
                                      MHD_RESPMEM_MUST_COPY);
  if(!r)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "application/json");
  ret = MHD_queue_response(conn, (unsigned)status, r);
  MHD_destroy_response(r);
  return ret;
}

static int hits(void)
{
  int n;

  pthread_mutex_lock(&srv.mu);
  n = srv.hits;
  pthread_mutex_unlock(&srv.mu);
  return n;
}

static void serve(int status, const char *reply, long expires_in)
{
  pthread_mutex_lock(&srv.mu);
  srv.status = status;
  snprintf(srv.reply, sizeof(srv.reply), "%s", reply);
  srv.expires_in = expires_in;
  pthread_mutex_unlock(&srv.mu);
}

/* last_body() returns a copy of the last request body. */
static char *last_body(void)
{
  char *s;

  pthread_mutex_lock(&srv.mu);
  s = strdup(srv.body);
  pthread_mutex_unlock(&srv.mu);
  return s;
}

static struct http_client *hc;

static void loop_setup(void)
{
  struct http_client_opts o = {.user_agent = "qd-test/1", .timeout_ms = 10000};

  new_setup();
  tu_no_proxy();
  pthread_mutex_lock(&srv.mu);
  srv.hits = 0;
  srv.body[0] = srv.url[0] = srv.content_type[0] = '\0';
  pthread_mutex_unlock(&srv.mu);
  serve(200, "", 3599);
  mhd = tu_mhd_start(MHD_USE_INTERNAL_POLLING_THREAD, handler, NULL, NULL, base,
                     sizeof(base));
  hc = NULL;
  ck_assert_int_eq(http_client_new(&loop, &o, &hc), 0);
}

static void loop_teardown(void)
{
  if(mhd)
    MHD_stop_daemon(mhd);
  mhd = NULL;
  new_teardown();
}

/* One token_get()'s answer. */
struct got {
  int called;
  int result;
  int sync; /* called from inside token_get() */
  char bearer[64];
  int has_err;
  struct token_error err;
};

static int in_get;

static void on_token(int result, const char *bearer,
                     const struct token_error *err, void *arg)
{
  struct got *g = arg;

  g->called++;
  g->sync = in_get;
  g->result = result;
  if(bearer)
    snprintf(g->bearer, sizeof(g->bearer), "%s", bearer);
  if(err) {
    g->has_err = 1;
    g->err = *err;
  }
}

static int get(struct token *tk, struct got *g)
{
  int rc;

  memset(g, 0, sizeof(*g));
  in_get = 1;
  rc = token_get(tk, on_token, g);
  in_get = 0;
  return rc;
}

/* wait_for() runs the loop until every g[i] has been called. */
static void wait_for(struct got *g, int n)
{
  uint64_t deadline = uv_hrtime() + 20000000000ULL;
  int i, done;

  for(;;) {
    for(i = 0, done = 1; i < n; i++)
      if(!g[i].called)
        done = 0;
    if(done)
      break;
    ck_assert_msg(uv_hrtime() < deadline, "no token callback in 20 s");
    uv_run(&loop, UV_RUN_ONCE);
  }
  for(i = 0; i < n; i++) {
    ck_assert_int_eq(g[i].called, 1);
    ck_assert_msg(!g[i].sync, "callback ran inside token_get()");
  }
}

static void on_sleep(uv_timer_t *t)
{
  *(int *)t->data = 1;
}

/* sleep_ms() lets ms pass on the loop. */
static void sleep_ms(unsigned ms)
{
  uv_timer_t t;
  int fired = 0;

  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  t.data = &fired;
  ck_assert_int_eq(uv_timer_start(&t, on_sleep, ms, 0), 0);
  while(!fired)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
}

/* finish() closes the token source and the client: the loop must end with
 * no handle left. */
static void finish(struct token *tk)
{
  token_close(tk, on_closed, NULL);
  http_client_close(hc, on_closed, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nclosed, 2);
}

/* secret_token() makes a token source for the loopback server. */
static struct token *secret_token(char *login_url)
{
  char *sp = tu_write(dir, "c.secret", SECRET "\n");
  struct cfg_tenant t;
  struct token *tk = NULL;

  ck_assert_int_eq(chmod(sp, 0600), 0);
  tenant_init(&t, login_url);
  t.client_secret_file = sp;
  ck_assert_int_eq(token_new(&loop, hc, &t, &tk), 0);
  free(sp);
  return tk;
}

/* assert_log_clean() checks that neither the secret nor a token was ever
 * logged. */
static void assert_log_clean(void)
{
  char *log = logged();

  ck_assert_msg(!strstr(log, "p+&=") && !strstr(log, "p%2B") &&
                    !strstr(log, "tok-"),
                "secret or token in the log:\n%s", log);
  free(log);
}

START_TEST(test_secret_flow)
{
  struct token *tk = secret_token(base);
  struct got g;
  char *body, *v, *want;

  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(g.result, 0);
  ck_assert_str_eq(g.bearer, "tok-1");
  ck_assert_int_eq(g.has_err, 0);
  ck_assert_int_eq(hits(), 1);

  ck_assert_int_ne(asprintf(&want, "POST /%s/oauth2/v2.0/token", TID), -1);
  ck_assert_str_eq(srv.url, want);
  ck_assert_str_eq(srv.content_type, "application/x-www-form-urlencoded");
  body = last_body();
  v = form_get(body, "client_secret");
  ck_assert_str_eq(v, SECRET);
  free(v);
  v = form_get(body, "client_id");
  ck_assert_str_eq(v, CLIENT);
  free(v);
  v = form_get(body, "scope");
  ck_assert_str_eq(v, SCOPE);
  free(v);
  v = form_get(body, "grant_type");
  ck_assert_str_eq(v, "client_credentials");
  free(v);
  ck_assert_ptr_null(form_get(body, "client_assertion"));
  free(body);
  free(want);
  finish(tk);
  assert_log_clean();
}
END_TEST

START_TEST(test_cache_and_coalesce)
{
  struct token *tk = secret_token(base);
  struct got g[3];
  int i;

  /* Three gets before the loop runs: one request. */
  for(i = 0; i < 3; i++)
    ck_assert_int_eq(get(tk, &g[i]), 0);
  wait_for(g, 3);
  ck_assert_int_eq(hits(), 1);
  for(i = 0; i < 3; i++) {
    ck_assert_int_eq(g[i].result, 0);
    ck_assert_str_eq(g[i].bearer, "tok-1");
  }
  /* Cached: still one request, still answered from the loop. */
  for(i = 0; i < 2; i++)
    ck_assert_int_eq(get(tk, &g[i]), 0);
  wait_for(g, 2);
  ck_assert_int_eq(hits(), 1);
  ck_assert_str_eq(g[1].bearer, "tok-1");
  finish(tk);
  assert_log_clean();
}
END_TEST

START_TEST(test_refresh)
{
  struct token *tk;
  struct got g;

  /* expires_in = 30: min(300 s, 30 s / 5) = 6 s margin, so it is still
   * fresh right away. */
  serve(200, "", 30);
  tk = secret_token(base);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(hits(), 1);
  token_invalidate(tk);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(hits(), 2);
  ck_assert_str_eq(g.bearer, "tok-2");

  /* expires_in = 1: fresh for 800 ms only. */
  serve(200, "", 1);
  token_invalidate(tk);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_str_eq(g.bearer, "tok-3");
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(hits(), 3);
  sleep_ms(900);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(hits(), 4);
  ck_assert_str_eq(g.bearer, "tok-4");
  finish(tk);
}
END_TEST

START_TEST(test_error_body)
{
  struct token *tk;
  struct got g;
  char *log;

  serve(401, AAD_401, 0);
  tk = secret_token(base);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(g.result, -EACCES);
  ck_assert_int_eq(g.has_err, 1);
  ck_assert_int_eq(g.err.http_status, 401);
  ck_assert_str_eq(g.err.error, "invalid_client");
  ck_assert_str_eq(g.err.aadsts, "AADSTS7000215");
  ck_assert_str_eq(g.err.description, "Invalid client secret is provided.");
  ck_assert_str_eq(g.err.trace_id, "0e5e8bd4-f5b8-4ff9-a4d4-8ea1a0c01f00");
  ck_assert_str_eq(g.err.correlation_id,
                   "5d9d2e0c-7d8e-4b32-9c55-0f0fd4b0a9a1");
  log = logged();
  ck_assert_msg(strstr(log,
                       "token: tenant contoso: invalid_client AADSTS7000215 "
                       "(Invalid client secret is provided.) "
                       "trace_id=0e5e8bd4-f5b8-4ff9-a4d4-8ea1a0c01f00 "
                       "correlation_id=5d9d2e0c-7d8e-4b32-9c55-0f0fd4b0a9a1") !=
                    NULL,
                "log:\n%s", log);
  free(log);

  /* Failures are not cached: the next get asks again. */
  serve(200, "", 3599);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(g.result, 0);
  ck_assert_str_eq(g.bearer, "tok-2");
  finish(tk);
  assert_log_clean();
}
END_TEST

START_TEST(test_transient)
{
  struct token *tk;
  struct got g[2];

  serve(503, "", 0);
  tk = secret_token(base);
  ck_assert_int_eq(get(tk, &g[0]), 0);
  ck_assert_int_eq(get(tk, &g[1]), 0);
  wait_for(g, 2);
  ck_assert_int_eq(hits(), 1);
  ck_assert_int_eq(g[0].result, -EAGAIN);
  ck_assert_int_eq(g[1].result, -EAGAIN);
  ck_assert_int_eq(g[0].err.http_status, 503);
  finish(tk);
}
END_TEST

START_TEST(test_transport_error)
{
  struct token *tk;
  struct got g;

  /* Nothing listens on the stopped server's port any more. */
  MHD_stop_daemon(mhd);
  mhd = NULL;
  tk = secret_token(base);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(g.result, -EAGAIN);
  ck_assert_int_eq(g.err.http_status, 0);
  finish(tk);
}
END_TEST

START_TEST(test_close_in_flight)
{
  struct token *tk = secret_token(base);
  struct got g[2];

  ck_assert_int_eq(get(tk, &g[0]), 0);
  ck_assert_int_eq(get(tk, &g[1]), 0);
  token_close(tk, on_closed, NULL);
  ck_assert_int_eq(g[0].called, 0);
  http_client_close(hc, on_closed, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nclosed, 2);
  ck_assert_int_eq(g[0].called, 1);
  ck_assert_int_eq(g[0].result, -ECANCELED);
  ck_assert_int_eq(g[1].called, 1);
  ck_assert_int_eq(g[1].result, -ECANCELED);
}
END_TEST

/* A callback that gets again and invalidates: the source must cope with
 * being re-entered from its own callbacks. */
struct reenter {
  struct token *tk;
  struct got inner;
  int calls;
};

static void on_reenter(int result, const char *bearer,
                       const struct token_error *err, void *arg)
{
  struct reenter *r = arg;

  (void)err;
  ck_assert_int_eq(result, 0);
  ck_assert_ptr_nonnull(bearer);
  r->calls++;
  token_invalidate(r->tk);
  ck_assert_str_eq(bearer, "tok-1"); /* still valid in the callback */
  ck_assert_int_eq(get(r->tk, &r->inner), 0);
}

START_TEST(test_reentrant)
{
  struct reenter r[2];
  int i;

  memset(r, 0, sizeof(r));
  r[0].tk = r[1].tk = secret_token(base);
  for(i = 0; i < 2; i++)
    ck_assert_int_eq(token_get(r[0].tk, on_reenter, &r[i]), 0);
  while(!r[0].inner.called || !r[1].inner.called)
    uv_run(&loop, UV_RUN_ONCE);
  ck_assert_int_eq(r[0].calls + r[1].calls, 2);
  ck_assert_str_eq(r[0].inner.bearer, "tok-2");
  ck_assert_str_eq(r[1].inner.bearer, "tok-2");
  ck_assert_int_eq(hits(), 2);
  finish(r[0].tk);
}
END_TEST

/* verify_assertion() checks a client assertion as the token service
 * would: header, claims and the PS256 signature with the certificate. */
static void verify_assertion(const char *jwt, const char *cert_path,
                             const char *aud)
{
  const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  unsigned char der_md[EVP_MAX_MD_SIZE], *sig, *hbuf, *cbuf;
  unsigned int mdlen = 0;
  char *x5t, *b64;
  size_t i, n;
  cJSON *h, *c;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  EVP_PKEY *pub;
  X509 *cert;
  FILE *f;
  const char *parts[3];
  size_t lens[3];
  unsigned char *dec[3];

  ck_assert_ptr_nonnull(d2);
  parts[0] = jwt;
  lens[0] = (size_t)(d1 - jwt);
  parts[1] = d1 + 1;
  lens[1] = (size_t)(d2 - d1 - 1);
  parts[2] = d2 + 1;
  lens[2] = strlen(d2 + 1);
  for(i = 0; i < 3; i++) {
    size_t padded = (lens[i] + 3) / 4 * 4, k;
    char *tmp = calloc(1, padded + 1);
    int m;

    dec[i] = calloc(1, padded + 1);
    for(k = 0; k < lens[i]; k++)
      tmp[k] = parts[i][k] == '-'   ? '+'
               : parts[i][k] == '_' ? '/'
                                    : parts[i][k];
    for(; k < padded; k++)
      tmp[k] = '=';
    m = EVP_DecodeBlock(dec[i], (unsigned char *)tmp, (int)padded);
    ck_assert_int_ge(m, 0);
    dec[i][(size_t)m - (padded - lens[i])] = '\0';
    lens[i] = (size_t)m - (padded - lens[i]);
    free(tmp);
  }
  hbuf = dec[0];
  cbuf = dec[1];
  sig = dec[2];
  n = lens[2];
  h = cJSON_Parse((char *)hbuf);
  c = cJSON_Parse((char *)cbuf);
  ck_assert_ptr_nonnull(h);
  ck_assert_ptr_nonnull(c);

  f = fopen(cert_path, "r");
  ck_assert_ptr_nonnull(f);
  cert = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  ck_assert_ptr_nonnull(cert);
  ck_assert_int_eq(X509_digest(cert, EVP_sha256(), der_md, &mdlen), 1);
  ck_assert_int_eq(jwt_base64url(der_md, mdlen, &b64), 0);
  x5t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "x5t#S256"));
  ck_assert_ptr_nonnull(x5t);
  ck_assert_str_eq(x5t, b64);
  ck_assert_str_eq(
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "alg")),
      "PS256");
  ck_assert_str_eq(
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "aud")), aud);
  ck_assert_str_eq(
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "iss")), CLIENT);
  ck_assert_str_eq(
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "sub")), CLIENT);

  pub = X509_get_pubkey(cert);
  ck_assert_int_eq(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pub),
                   1);
  ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
                   0);
  ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 0);
  ck_assert_int_eq(EVP_DigestVerify(ctx, sig, n, (const unsigned char *)jwt,
                                    (size_t)(d2 - jwt)),
                   1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pub);
  X509_free(cert);
  cJSON_Delete(h);
  cJSON_Delete(c);
  free(b64);
  for(i = 0; i < 3; i++)
    free(dec[i]);
}

START_TEST(test_certificate_flow)
{
  char *cert = path("cert.pem"), *key = path("key.pem"), *body, *v, *aud;
  char *a1;
  struct cfg_tenant t;
  struct token *tk = NULL;
  struct got g;

  ck_assert_int_eq(run("openssl req -x509 -newkey rsa:2048 -nodes "
                       "-keyout key.pem -out cert.pem -days 2 -subj /CN=t "
                       "&& chmod 600 key.pem"),
                   0);
  tenant_init(&t, base);
  t.certificate_file = cert;
  t.private_key_file = key;
  ck_assert_int_eq(token_new(&loop, hc, &t, &tk), 0);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  ck_assert_int_eq(g.result, 0);
  ck_assert_str_eq(g.bearer, "tok-1");

  body = last_body();
  ck_assert_ptr_null(form_get(body, "client_secret"));
  v = form_get(body, "client_assertion_type");
  ck_assert_str_eq(v, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  free(v);
  v = form_get(body, "scope");
  ck_assert_str_eq(v, SCOPE);
  free(v);
  a1 = form_get(body, "client_assertion");
  ck_assert_ptr_nonnull(a1);
  ck_assert_int_ne(asprintf(&aud, "%s/%s/oauth2/v2.0/token", base, TID), -1);
  verify_assertion(a1, cert, aud);
  free(body);

  /* A fresh assertion for every request. */
  token_invalidate(tk);
  ck_assert_int_eq(get(tk, &g), 0);
  wait_for(&g, 1);
  body = last_body();
  v = form_get(body, "client_assertion");
  ck_assert_str_ne(v, a1);
  verify_assertion(v, cert, aud);
  free(v);
  free(body);
  free(a1);
  free(aud);
  finish(tk);
  free(cert);
  free(key);
}
END_TEST

Suite *token_suite(void)
{
  Suite *s = suite_create("token");
  TCase *tc = tcase_create("parse");
  TCase *tn = tcase_create("new");
  TCase *tl = tcase_create("loopback");

  tcase_add_checked_fixture(tc, base_setup, base_teardown);
  tcase_add_test(tc, test_form_secret);
  tcase_add_test(tc, test_form_assertion);
  tcase_add_test(tc, test_parse_ok);
  tcase_add_test(tc, test_parse_unusable);
  tcase_add_test(tc, test_parse_errors);
  suite_add_tcase(s, tc);

  tcase_set_timeout(tn, 60);
  tcase_add_checked_fixture(tn, new_setup, new_teardown);
  tcase_add_test(tn, test_new_unsafe_secret);
  tcase_add_test(tn, test_new_credentials);
  tcase_add_test(tn, test_new_certificate);
  suite_add_tcase(s, tn);

  tcase_set_timeout(tl, 60);
  tcase_add_checked_fixture(tl, loop_setup, loop_teardown);
  tcase_add_test(tl, test_secret_flow);
  tcase_add_test(tl, test_cache_and_coalesce);
  tcase_add_test(tl, test_refresh);
  tcase_add_test(tl, test_error_body);
  tcase_add_test(tl, test_transient);
  tcase_add_test(tl, test_transport_error);
  tcase_add_test(tl, test_close_in_flight);
  tcase_add_test(tl, test_reentrant);
  tcase_add_test(tl, test_certificate_flow);
  suite_add_tcase(s, tl);
  return s;
}
