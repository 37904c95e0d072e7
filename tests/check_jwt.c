/* SPDX-License-Identifier: MIT
 *
 * check_jwt: client assertions checked against the openssl command-line
 * tool: thumbprints computed independently, signatures verified with
 * `openssl dgst -verify` (PSS and PKCS#1 v1.5) and in-process, claims
 * decoded, and the errors for mismatched, encrypted or non-RSA keys.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jwt.h"
#include "log.h"
#include "secret.h"
#include "testutil.h"

#define AUD                                                                    \
  "https://login.microsoftonline.com/"                                         \
  "11111111-2222-3333-4444-555555555555/oauth2/v2.0/token"
#define CLIENT "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define NOW ((time_t)1767225600) /* 2026-01-01T00:00:00Z */

static char *dir;

/* run() runs a shell command in dir and returns its exit status. */
static int run(const char *fmt, ...) QD_PRINTF(1, 2);

static int run(const char *fmt, ...)
{
  char *cmd, *full;
  va_list ap;
  int rc;

  va_start(ap, fmt);
  ck_assert_int_ne(vasprintf(&cmd, fmt, ap), -1);
  va_end(ap);
  ck_assert_int_ne(asprintf(&full,
                            "cd '%s' && { %s; } </dev/null >/dev/null 2>&1",
                            dir, cmd),
                   -1);
  rc = system(full);
  free(cmd);
  free(full);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* path() returns dir/name, malloc'd. */
static char *path(const char *name)
{
  char *p;

  ck_assert_int_ne(asprintf(&p, "%s/%s", dir, name), -1);
  return p;
}

/* slurp() returns the contents of dir/name with trailing newlines cut. */
static char *slurp(const char *name)
{
  char *p = path(name), *s = tu_slurp(p);
  size_t n;

  ck_assert_msg(s != NULL, "cannot read %s", p);
  n = strlen(s);
  while(n && s[n - 1] == '\n')
    s[--n] = '\0';
  free(p);
  return s;
}

static void setup(void)
{
  dir = tu_tmpdir();
  ck_assert_int_eq(run("openssl req -x509 -newkey rsa:2048 -nodes "
                       "-keyout key.pem -out cert.pem -days 30 "
                       "-subj /CN=quarantined-test && chmod 600 key.pem"),
                   0);
}

static void teardown(void)
{
  tu_rmtree(dir);
  free(dir);
}

/* b64url_decode() decodes base64url text of len bytes into a malloc'd,
 * NUL-terminated buffer, independently of jwt.c's encoder. */
static unsigned char *b64url_decode(const char *text, size_t len,
                                    size_t *out_len)
{
  size_t padded = (len + 3) / 4 * 4, i;
  char *tmp = calloc(1, padded + 1);
  unsigned char *out = calloc(1, padded + 1);
  int n;

  ck_assert_ptr_nonnull(tmp);
  ck_assert_ptr_nonnull(out);
  for(i = 0; i < len; i++) {
    ck_assert_msg(text[i] != '+' && text[i] != '/' && text[i] != '=',
                  "not base64url: %.*s", (int)len, text);
    tmp[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
  }
  for(; i < padded; i++)
    tmp[i] = '=';
  n = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded);
  ck_assert_int_ge(n, 0);
  *out_len = (size_t)n - (padded - len);
  out[*out_len] = '\0';
  free(tmp);
  return out;
}

/* A decoded compact JWS. */
struct parts {
  cJSON *header, *claims;
  char *input;        /* header.claims, the signing input */
  unsigned char *sig; /* raw signature */
  size_t sig_len;
};

static void split(const char *jwt, struct parts *p)
{
  const char *d1 = strchr(jwt, '.'), *d2;
  unsigned char *h, *c;
  size_t n;

  ck_assert_ptr_nonnull(d1);
  d2 = strchr(d1 + 1, '.');
  ck_assert_ptr_nonnull(d2);
  ck_assert_ptr_null(strchr(d2 + 1, '.'));
  h = b64url_decode(jwt, (size_t)(d1 - jwt), &n);
  c = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &n);
  p->header = cJSON_Parse((char *)h);
  p->claims = cJSON_Parse((char *)c);
  ck_assert_ptr_nonnull(p->header);
  ck_assert_ptr_nonnull(p->claims);
  p->input = strndup(jwt, (size_t)(d2 - jwt));
  p->sig = b64url_decode(d2 + 1, strlen(d2 + 1), &p->sig_len);
  free(h);
  free(c);
}

static void parts_free(struct parts *p)
{
  cJSON_Delete(p->header);
  cJSON_Delete(p->claims);
  free(p->input);
  free(p->sig);
}

static const char *str(const cJSON *o, const char *k)
{
  const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));

  ck_assert_msg(v != NULL, "no string %s", k);
  return v;
}

static double num(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

  ck_assert_msg(cJSON_IsNumber(v), "no number %s", k);
  return v->valuedouble;
}

/* write_file() writes len bytes to dir/name. */
static void write_file(const char *name, const void *data, size_t len)
{
  char *p = path(name);
  FILE *f = fopen(p, "w");

  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  ck_assert_int_eq(fclose(f), 0);
  free(p);
}

/* new_signer() loads cert.pem and key.pem the way the daemon does. */
static struct jwt_signer *new_signer(void)
{
  char *kp = path("key.pem"), *cp = path("cert.pem"), *key = NULL;
  struct jwt_signer *s = NULL;
  char err[256] = "";
  size_t len = 0;

  ck_assert_int_eq(
      secret_read_file(kp, SECRET_MAX_KEY, &key, &len, err, sizeof(err)), 0);
  ck_assert_msg(jwt_signer_new(cp, key, len, &s, err, sizeof(err)) == 0,
                "jwt_signer_new: %s", err);
  secret_free(key, len);
  free(kp);
  free(cp);
  return s;
}

/* verify_in_process() checks p's signature with the certificate's public
 * key through EVP_DigestVerify. */
static int verify_in_process(const struct parts *p, enum jwt_alg alg)
{
  char *cp = path("cert.pem");
  FILE *f = fopen(cp, "r");
  X509 *cert;
  EVP_PKEY *pub;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  int ok;

  ck_assert_ptr_nonnull(f);
  cert = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  ck_assert_ptr_nonnull(cert);
  pub = X509_get_pubkey(cert);
  ck_assert_int_eq(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pub),
                   1);
  if(alg == JWT_PS256) {
    ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
                     0);
    ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 0);
  }
  ok = EVP_DigestVerify(ctx, p->sig, p->sig_len,
                        (const unsigned char *)p->input, strlen(p->input));
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pub);
  X509_free(cert);
  free(cp);
  return ok == 1;
}

START_TEST(test_base64url)
{
  /* The worked example of the (older) certificate-credentials page. */
  static const unsigned char x5t[] = {0x84, 0xE0, 0x5C, 0x1D, 0x98, 0xBC, 0xE3,
                                      0xA5, 0x42, 0x1D, 0x22, 0x5B, 0x14, 0x0B,
                                      0x36, 0xE8, 0x6A, 0x3D, 0x55, 0x34};
  static const unsigned char url[] = {0xfb, 0xff, 0xbf};
  char *s;

  ck_assert_int_eq(jwt_base64url(x5t, sizeof(x5t), &s), 0);
  ck_assert_str_eq(s, "hOBcHZi846VCHSJbFAs26Go9VTQ");
  free(s);
  ck_assert_int_eq(jwt_base64url(url, sizeof(url), &s), 0);
  ck_assert_str_eq(s, "-_-_");
  free(s);
  ck_assert_int_eq(jwt_base64url("", 0, &s), 0);
  ck_assert_str_eq(s, "");
  free(s);
  ck_assert_int_eq(jwt_base64url("f", 1, &s), 0);
  ck_assert_str_eq(s, "Zg");
  free(s);
  ck_assert_int_eq(jwt_base64url("fo", 2, &s), 0);
  ck_assert_str_eq(s, "Zm8");
  free(s);
  ck_assert_int_eq(jwt_base64url("foo", 3, &s), 0);
  ck_assert_str_eq(s, "Zm9v");
  free(s);
}
END_TEST

START_TEST(test_ps256)
{
  struct jwt_signer *s = new_signer();
  struct parts p, q;
  char *jwt = NULL, *jwt2 = NULL, *want;
  char err[256] = "";

  ck_assert_int_eq(jwt_sign_assertion(s, AUD, CLIENT, NOW, JWT_PS256, &jwt, err,
                                      sizeof(err)),
                   0);
  split(jwt, &p);

  /* Header: PS256 with the SHA-256 thumbprint of the DER certificate. */
  ck_assert_int_eq(run("openssl x509 -in cert.pem -outform DER | "
                       "openssl dgst -sha256 -binary | openssl base64 -A | "
                       "tr '+/' '-_' | tr -d '=' > x5t256"),
                   0);
  want = slurp("x5t256");
  ck_assert_uint_eq(strlen(want), 43);
  ck_assert_str_eq(str(p.header, "alg"), "PS256");
  ck_assert_str_eq(str(p.header, "typ"), "JWT");
  ck_assert_str_eq(str(p.header, "x5t#S256"), want);
  ck_assert_str_eq(jwt_signer_thumbprint(s, JWT_PS256), want);
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(p.header, "x5t"));
  ck_assert_int_eq(cJSON_GetArraySize(p.header), 3);

  /* Claims. */
  ck_assert_str_eq(str(p.claims, "aud"), AUD);
  ck_assert_str_eq(str(p.claims, "iss"), CLIENT);
  ck_assert_str_eq(str(p.claims, "sub"), CLIENT);
  ck_assert_uint_eq(strlen(str(p.claims, "jti")), 36);
  ck_assert_int_eq(str(p.claims, "jti")[14], '4');
  ck_assert(num(p.claims, "nbf") == (double)NOW);
  ck_assert(num(p.claims, "iat") == (double)NOW);
  ck_assert(num(p.claims, "exp") - num(p.claims, "nbf") == 600);

  /* The signature, with the openssl tool and in-process. */
  ck_assert_uint_eq(p.sig_len, 256);
  write_file("input", p.input, strlen(p.input));
  write_file("sig.bin", p.sig, p.sig_len);
  ck_assert_int_eq(run("openssl x509 -in cert.pem -pubkey -noout > pub.pem"),
                   0);
  ck_assert_int_eq(run("openssl dgst -sha256 -verify pub.pem -signature "
                       "sig.bin -sigopt rsa_padding_mode:pss -sigopt "
                       "rsa_pss_saltlen:32 input"),
                   0);
  ck_assert(verify_in_process(&p, JWT_PS256));
  /* A tampered input must not verify. */
  write_file("input", "x", 1);
  ck_assert_int_ne(run("openssl dgst -sha256 -verify pub.pem -signature "
                       "sig.bin -sigopt rsa_padding_mode:pss -sigopt "
                       "rsa_pss_saltlen:32 input"),
                   0);

  /* A second assertion has a new jti (and a new PSS salt). */
  ck_assert_int_eq(
      jwt_sign_assertion(s, AUD, CLIENT, NOW, JWT_PS256, &jwt2, NULL, 0), 0);
  split(jwt2, &q);
  ck_assert_str_ne(str(p.claims, "jti"), str(q.claims, "jti"));
  ck_assert(verify_in_process(&q, JWT_PS256));
  parts_free(&q);

  parts_free(&p);
  free(want);
  free(jwt);
  free(jwt2);
  jwt_signer_free(s);
}
END_TEST

START_TEST(test_rs256)
{
  struct jwt_signer *s = new_signer();
  struct parts p;
  char *jwt = NULL, *want;

  ck_assert_int_eq(
      jwt_sign_assertion(s, AUD, CLIENT, NOW, JWT_RS256, &jwt, NULL, 0), 0);
  split(jwt, &p);
  ck_assert_int_eq(run("openssl x509 -in cert.pem -outform DER | "
                       "openssl dgst -sha1 -binary | openssl base64 -A | "
                       "tr '+/' '-_' | tr -d '=' > x5t"),
                   0);
  want = slurp("x5t");
  ck_assert_uint_eq(strlen(want), 27);
  ck_assert_str_eq(str(p.header, "alg"), "RS256");
  ck_assert_str_eq(str(p.header, "x5t"), want);
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(p.header, "x5t#S256"));
  write_file("input", p.input, strlen(p.input));
  write_file("sig.bin", p.sig, p.sig_len);
  ck_assert_int_eq(run("openssl x509 -in cert.pem -pubkey -noout > pub.pem"),
                   0);
  ck_assert_int_eq(run("openssl dgst -sha256 -verify pub.pem -signature "
                       "sig.bin input"),
                   0);
  ck_assert(verify_in_process(&p, JWT_RS256));
  ck_assert(!verify_in_process(&p, JWT_PS256));
  parts_free(&p);
  free(want);
  free(jwt);
  jwt_signer_free(s);
}
END_TEST

START_TEST(test_validity)
{
  struct jwt_signer *s = new_signer();
  time_t nb = 0, na = 0, now = time(NULL);

  jwt_signer_validity(s, &nb, &na);
  ck_assert_int_le(nb, now + 5);
  ck_assert_int_ge(nb, now - 3600);
  ck_assert_int_eq(na - nb, 30 * 86400);
  jwt_signer_free(s);
  jwt_signer_free(NULL);
}
END_TEST

/* load_err() tries cert.pem with the key in keyfile and returns the
 * result; err receives the message. */
static int load_err(const char *certfile, const char *keyfile, char *err,
                    size_t errlen)
{
  char *cp = path(certfile), *kp = path(keyfile), *key;
  struct jwt_signer *s = NULL;
  size_t len;
  int rc;

  key = tu_slurp(kp);
  ck_assert_ptr_nonnull(key);
  len = strlen(key);
  rc = jwt_signer_new(cp, key, len, &s, err, errlen);
  ck_assert_ptr_null(s);
  free(key);
  free(cp);
  free(kp);
  return rc;
}

START_TEST(test_errors)
{
  char err[256];

  ck_assert_int_eq(run("openssl genpkey -algorithm RSA "
                       "-pkeyopt rsa_keygen_bits:2048 -out other.pem"),
                   0);
  ck_assert_int_eq(load_err("cert.pem", "other.pem", err, sizeof(err)),
                   -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "does not match the private key"));

  ck_assert_int_eq(run("openssl genpkey -algorithm RSA "
                       "-pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:x "
                       "-out enc.pem"),
                   0);
  ck_assert_int_eq(load_err("cert.pem", "enc.pem", err, sizeof(err)), -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "encrypted"));

  ck_assert_int_eq(run("openssl req -x509 -newkey ec "
                       "-pkeyopt ec_paramgen_curve:P-256 -nodes "
                       "-keyout ec.key -out ec.pem -days 1 -subj /CN=ec"),
                   0);
  ck_assert_int_eq(load_err("ec.pem", "ec.key", err, sizeof(err)), -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "needs RSA"));

  write_file("junk.pem", "not a key\n", 10);
  ck_assert_int_eq(load_err("cert.pem", "junk.pem", err, sizeof(err)), -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "no PEM private key"));
  ck_assert_int_eq(load_err("junk.pem", "key.pem", err, sizeof(err)), -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "no PEM certificate"));
  ck_assert_int_eq(load_err("missing.pem", "key.pem", err, sizeof(err)),
                   -ENOENT);
  ck_assert_ptr_nonnull(strstr(err, "missing.pem"));
}
END_TEST

Suite *jwt_suite(void)
{
  Suite *s = suite_create("jwt");
  TCase *tc = tcase_create("assertion");

  tcase_set_timeout(tc, 60);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_base64url);
  tcase_add_test(tc, test_ps256);
  tcase_add_test(tc, test_rs256);
  tcase_add_test(tc, test_validity);
  tcase_add_test(tc, test_errors);
  suite_add_tcase(s, tc);
  return s;
}
