/* SPDX-License-Identifier: MIT
 *
 * jwt: client assertions signed with the tenant's certificate key.  The
 * certificate's thumbprints are computed once when the signer is made;
 * signing uses EVP_DigestSign with SHA-256 and PSS (salt = digest length)
 * or PKCS#1 v1.5 padding.  OpenSSL errors become errno codes here.
 */
#include "jwt.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jsonx.h"
#include "log.h"
#include "uuid.h"

struct jwt_signer {
  X509 *cert;
  EVP_PKEY *key;
  char *x5t_s256; /* base64url SHA-256 of the DER certificate */
  char *x5t;      /* base64url SHA-1 of the DER certificate */
  time_t not_before, not_after;
};

/* report() writes a message to err when err is not NULL. */
static void report(char *err, size_t errlen, const char *fmt, ...)
    QD_PRINTF(3, 4);

static void report(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  if(!err || !errlen)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* ossl_reason() copies the reason of OpenSSL's most recent error into buf
 * and empties OpenSSL's error queue, so one failure is reported once. */
static const char *ossl_reason(char *buf, size_t len)
{
  unsigned long e = ERR_peek_last_error();

  if(e)
    ERR_error_string_n(e, buf, len);
  else
    snprintf(buf, len, "unknown OpenSSL error");
  ERR_clear_error();
  return buf;
}

int jwt_base64url(const void *data, size_t len, char **out)
{
  size_t cap, i, j;
  char *s;
  int n;

  if(len > (size_t)INT_MAX / 4 * 3 - 3)
    return -EOVERFLOW;
  cap = (len + 2) / 3 * 4 + 1;
  s = malloc(cap);
  if(!s)
    return -ENOMEM;
  n = EVP_EncodeBlock((unsigned char *)s, data, (int)len);
  if(n < 0) {
    free(s);
    return -EOVERFLOW;
  }
  /* RFC 7515: "-" for "+", "_" for "/", no "=" padding. */
  for(i = 0, j = 0; i < (size_t)n; i++) {
    if(s[i] == '=')
      break;
    s[j++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
  }
  s[j] = '\0';
  *out = s;
  return 0;
}

/* thumbprint() sets *out to base64url(md(DER of cert)).  Returns 0 or a
 * negative errno code. */
static int thumbprint(X509 *cert, const EVP_MD *md, char **out)
{
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  if(X509_digest(cert, md, buf, &n) != 1)
    return -EIO;
  return jwt_base64url(buf, n, out);
}

/* asn1_to_time() converts an ASN1_TIME to a Unix time (0 if unusable). */
static time_t asn1_to_time(const ASN1_TIME *a)
{
  struct tm tm;

  memset(&tm, 0, sizeof(tm));
  if(!a || ASN1_TIME_to_tm(a, &tm) != 1)
    return 0;
  return timegm(&tm);
}

/* no_passphrase() is the PEM password callback: it records that a
 * passphrase was wanted and refuses, so OpenSSL never prompts on a tty. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
  (void)buf;
  (void)size;
  (void)rwflag;
  *(int *)u = 1;
  return -1;
}

/* load_cert() reads the first PEM certificate of path into *out.  Returns
 * 0 or a negative errno code after writing the reason to err. */
static int load_cert(const char *path, X509 **out, char *err, size_t errlen)
{
  char why[256];
  FILE *f = fopen(path, "re");
  X509 *cert;

  if(!f) {
    int rc = -errno;

    report(err, errlen, "jwt: certificate %s: %s", path, strerror(-rc));
    return rc;
  }
  cert = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  if(!cert) {
    report(err, errlen, "jwt: certificate %s: no PEM certificate (%s)", path,
           ossl_reason(why, sizeof(why)));
    return -EINVAL;
  }
  *out = cert;
  return 0;
}

/* load_key() parses a PEM private key from key/key_len into *out.  The
 * memory BIO reads the caller's buffer in place, so no copy of the key is
 * made here.  Returns 0 or a negative errno code after writing the reason
 * to err. */
static int load_key(const char *key, size_t key_len, EVP_PKEY **out, char *err,
                    size_t errlen)
{
  char why[256];
  int asked = 0;
  EVP_PKEY *pkey;
  BIO *bio;

  if(key_len > INT_MAX) {
    report(err, errlen, "jwt: private key too large");
    return -EINVAL;
  }
  bio = BIO_new_mem_buf(key, (int)key_len);
  if(!bio) {
    report(err, errlen, "jwt: out of memory");
    return -ENOMEM;
  }
  pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
  BIO_free(bio);
  if(!pkey) {
    if(asked) {
      ERR_clear_error();
      report(err, errlen,
             "jwt: the private key is encrypted; give an unencrypted PEM "
             "key and protect it with file permissions or LoadCredential=");
    }
    else
      report(err, errlen, "jwt: no PEM private key (%s)",
             ossl_reason(why, sizeof(why)));
    return -EINVAL;
  }
  if(!EVP_PKEY_is_a(pkey, "RSA")) {
    report(err, errlen,
           "jwt: the private key is %s; the token service needs RSA",
           EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey)
                                         : "not RSA");
    EVP_PKEY_free(pkey);
    return -EINVAL;
  }
  *out = pkey;
  return 0;
}

int jwt_signer_new(const char *cert_path, const char *key, size_t key_len,
                   struct jwt_signer **out, char *err, size_t errlen)
{
  struct jwt_signer *s = calloc(1, sizeof(*s));
  int rc;

  if(!s) {
    report(err, errlen, "jwt: out of memory");
    return -ENOMEM;
  }
  rc = load_cert(cert_path, &s->cert, err, errlen);
  if(!rc)
    rc = load_key(key, key_len, &s->key, err, errlen);
  if(!rc && X509_check_private_key(s->cert, s->key) != 1) {
    ERR_clear_error();
    report(err, errlen,
           "jwt: certificate %s does not match the private key (is it the "
           "certificate of this key?)",
           cert_path);
    rc = -EINVAL;
  }
  if(!rc) {
    rc = thumbprint(s->cert, EVP_sha256(), &s->x5t_s256);
    if(!rc)
      rc = thumbprint(s->cert, EVP_sha1(), &s->x5t);
    if(rc) {
      ERR_clear_error();
      report(err, errlen, "jwt: certificate %s: cannot compute thumbprint",
             cert_path);
    }
  }
  if(rc) {
    jwt_signer_free(s);
    return rc;
  }
  s->not_before = asn1_to_time(X509_get0_notBefore(s->cert));
  s->not_after = asn1_to_time(X509_get0_notAfter(s->cert));
  *out = s;
  return 0;
}

void jwt_signer_validity(const struct jwt_signer *s, time_t *not_before,
                         time_t *not_after)
{
  if(not_before)
    *not_before = s->not_before;
  if(not_after)
    *not_after = s->not_after;
}

const char *jwt_signer_thumbprint(const struct jwt_signer *s, enum jwt_alg alg)
{
  return alg == JWT_RS256 ? s->x5t : s->x5t_s256;
}

void jwt_signer_free(struct jwt_signer *s)
{
  if(!s)
    return;
  X509_free(s->cert);
  EVP_PKEY_free(s->key);
  free(s->x5t_s256);
  free(s->x5t);
  free(s);
}

/* json_part() prints obj without whitespace and base64url-encodes it into
 * *out.  obj is deleted in every case.  Returns 0 or -ENOMEM. */
static int json_part(cJSON *obj, char **out)
{
  char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
  int rc;

  cJSON_Delete(obj);
  if(!text)
    return -ENOMEM;
  rc = jwt_base64url(text, strlen(text), out);
  cJSON_free(text);
  return rc;
}

/* make_header() and make_claims() build the two JSON parts; they return
 * NULL when out of memory. */
static cJSON *make_header(const struct jwt_signer *s, enum jwt_alg alg)
{
  cJSON *h = cJSON_CreateObject();

  if(!h)
    return NULL;
  if(jsonx_add_str(h, "alg", alg == JWT_RS256 ? "RS256" : "PS256") ||
     jsonx_add_str(h, "typ", "JWT") ||
     jsonx_add_str(h, alg == JWT_RS256 ? "x5t" : "x5t#S256",
                   jwt_signer_thumbprint(s, alg))) {
    cJSON_Delete(h);
    return NULL;
  }
  return h;
}

static cJSON *make_claims(const char *aud, const char *client_id,
                          const char *jti, time_t now)
{
  cJSON *c = cJSON_CreateObject();

  if(!c)
    return NULL;
  if(jsonx_add_str(c, "aud", aud) ||
     jsonx_add_number(c, "exp", (double)(now + JWT_LIFETIME)) ||
     jsonx_add_str(c, "iss", client_id) || jsonx_add_str(c, "jti", jti) ||
     jsonx_add_number(c, "nbf", (double)now) ||
     jsonx_add_str(c, "sub", client_id) ||
     jsonx_add_number(c, "iat", (double)now)) {
    cJSON_Delete(c);
    return NULL;
  }
  return c;
}

/* sign() signs tbs with SHA-256 and the padding alg asks for, and sets
 * *sig and *siglen to a malloc'd signature.  Returns 0, -ENOMEM or -EIO after
 * writing OpenSSL's reason to err. */
static int sign(const struct jwt_signer *s, enum jwt_alg alg, const char *tbs,
                size_t tbslen, unsigned char **sig, size_t *siglen, char *err,
                size_t errlen)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char *buf = NULL;
  size_t n = 0;
  char why[256];

  if(!ctx) {
    report(err, errlen, "jwt: out of memory");
    return -ENOMEM;
  }
  if(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, s->key) != 1)
    goto fail;
  if(alg == JWT_PS256 &&
     (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
    goto fail;
  if(alg == JWT_RS256 &&
     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
    goto fail;
  if(EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)tbs, tbslen) != 1)
    goto fail;
  buf = malloc(n);
  if(!buf) {
    EVP_MD_CTX_free(ctx);
    report(err, errlen, "jwt: out of memory");
    return -ENOMEM;
  }
  if(EVP_DigestSign(ctx, buf, &n, (const unsigned char *)tbs, tbslen) != 1)
    goto fail;
  EVP_MD_CTX_free(ctx);
  *sig = buf;
  *siglen = n;
  return 0;

fail:
  report(err, errlen, "jwt: signing failed: %s", ossl_reason(why, sizeof(why)));
  free(buf);
  EVP_MD_CTX_free(ctx);
  return -EIO;
}

int jwt_sign_assertion(const struct jwt_signer *s, const char *aud,
                       const char *client_id, time_t now, enum jwt_alg alg,
                       char **out, char *err, size_t errlen)
{
  char *head = NULL, *body = NULL, *tbs = NULL, *sig64 = NULL, *jwt = NULL;
  unsigned char *sig = NULL;
  size_t siglen = 0;
  char jti[37];
  int rc;

  uuid_v4(jti);
  rc = json_part(make_header(s, alg), &head);
  if(!rc)
    rc = json_part(make_claims(aud, client_id, jti, now), &body);
  if(!rc && asprintf(&tbs, "%s.%s", head, body) == -1) {
    tbs = NULL;
    rc = -ENOMEM;
  }
  if(rc)
    report(err, errlen, "jwt: out of memory");
  else
    rc = sign(s, alg, tbs, strlen(tbs), &sig, &siglen, err, errlen);
  if(!rc) {
    rc = jwt_base64url(sig, siglen, &sig64);
    if(!rc && asprintf(&jwt, "%s.%s", tbs, sig64) == -1)
      rc = -ENOMEM;
    if(rc)
      report(err, errlen, "jwt: out of memory");
  }
  free(head);
  free(body);
  free(tbs);
  free(sig);
  free(sig64);
  if(rc)
    return rc;
  *out = jwt;
  return 0;
}
