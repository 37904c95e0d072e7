/* SPDX-License-Identifier: MIT
 *
 * tls: OpenSSL client sessions over memory BIOs (see tls.h).
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tls {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *in, *out; /* in: from the peer; out: to the peer */
  char err[200];
};

/* ossl_reason() writes OpenSSL's oldest queued reason, or what, into buf
 * and clears the queue. */
static void ossl_reason(char *buf, size_t len, const char *what)
{
  unsigned long e = ERR_get_error();

  if(e)
    snprintf(buf, len, "%s: %s", what,
             ERR_reason_error_string(e) ? ERR_reason_error_string(e)
                                        : "unknown OpenSSL error");
  else
    snprintf(buf, len, "%s", what);
  ERR_clear_error();
}

int tls_check_ca(const char *path, char *err, size_t errlen)
{
  SSL_CTX *ctx;
  FILE *fp = fopen(path, "r");
  int rc = 0;

  if(!fp) {
    rc = -errno;
    snprintf(err, errlen, "%s", strerror(errno));
    return rc;
  }
  fclose(fp);
  ctx = SSL_CTX_new(TLS_client_method());
  if(!ctx) {
    ossl_reason(err, errlen, "cannot make a TLS context");
    return -ENOMEM;
  }
  if(SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
    ossl_reason(err, errlen, "no PEM certificate OpenSSL accepts");
    rc = -EINVAL;
  }
  SSL_CTX_free(ctx);
  return rc;
}

int tls_new(const char *host, const char *ca_file, struct tls **out, char *err,
            size_t errlen)
{
  struct tls *t = calloc(1, sizeof(*t));
  unsigned char ip[16];
  int ok;

  if(!t) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  ERR_clear_error();
  t->ctx = SSL_CTX_new(TLS_client_method());
  if(!t->ctx)
    goto fail;
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
  ok = ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL)
               : SSL_CTX_set_default_verify_paths(t->ctx);
  if(ok != 1)
    goto fail;
  t->ssl = SSL_new(t->ctx);
  t->in = BIO_new(BIO_s_mem());
  t->out = BIO_new(BIO_s_mem());
  if(!t->ssl || !t->in || !t->out) {
    BIO_free(t->in);
    BIO_free(t->out);
    t->in = t->out = NULL;
    goto fail;
  }
  BIO_set_mem_eof_return(t->in, -1);  /* empty: "want read", not EOF */
  SSL_set_bio(t->ssl, t->in, t->out); /* the session owns both now */
  /* An address is checked against the certificate's IP SANs, a name
   * against its DNS SANs; SNI carries names only (RFC 6066, 3). */
  if(inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
  else {
    /* OpenSSL's SNI macro takes a char *: give it a copy, not a cast
     * (a DNS name is at most 253 characters). */
    char sni[256];

    ok = snprintf(sni, sizeof(sni), "%s", host) < (int)sizeof(sni) &&
         SSL_set1_host(t->ssl, host) == 1 &&
         SSL_set_tlsext_host_name(t->ssl, sni) == 1;
  }
  if(ok != 1)
    goto fail;
  SSL_set_connect_state(t->ssl);
  *out = t;
  return 0;
fail:
  ossl_reason(err, errlen,
              ca_file ? "cannot load the CA file" : "cannot set up TLS");
  tls_free(t);
  return -EPROTO;
}

int tls_feed(struct tls *t, const void *p, size_t n)
{
  if(n && BIO_write(t->in, p, (int)n) != (int)n)
    return -ENOMEM;
  return 0;
}

/* failed() records why the session failed: the verification result when
 * the peer's certificate was refused, else OpenSSL's reason. */
static int failed(struct tls *t, int r, const char *what)
{
  long v = SSL_get_verify_result(t->ssl);
  int e = SSL_get_error(t->ssl, r);

  if(v != X509_V_OK)
    snprintf(t->err, sizeof(t->err), "certificate verify failed: %s",
             X509_verify_cert_error_string(v));
  else if(e == SSL_ERROR_ZERO_RETURN)
    snprintf(t->err, sizeof(t->err), "%s: the peer closed the session", what);
  else
    ossl_reason(t->err, sizeof(t->err), what);
  ERR_clear_error();
  return e == SSL_ERROR_ZERO_RETURN ? -ECONNRESET : -EPROTO;
}

int tls_handshake(struct tls *t)
{
  int r = SSL_do_handshake(t->ssl);

  if(r == 1)
    return 1;
  if(SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ)
    return 0;
  return failed(t, r, "TLS handshake");
}

int tls_read_discard(struct tls *t)
{
  char buf[512];
  int r;

  while((r = SSL_read(t->ssl, buf, sizeof(buf))) > 0)
    ; /* a syslog receiver has nothing to say; drop it */
  if(SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ)
    return 0;
  return failed(t, r, "TLS read");
}

int tls_write(struct tls *t, const void *p, size_t n)
{
  int r;

  if(!n)
    return 0;
  /* The output is a memory BIO that grows, so a write never stops
   * half-way. */
  r = SSL_write(t->ssl, p, (int)n);
  if(r == (int)n)
    return 0;
  return failed(t, r, "TLS write");
}

int tls_take(struct tls *t, char **out, size_t *n)
{
  size_t len = BIO_ctrl_pending(t->out);
  char *buf;

  *out = NULL;
  *n = 0;
  if(!len)
    return 0;
  buf = malloc(len);
  if(!buf)
    return -ENOMEM;
  if(BIO_read(t->out, buf, (int)len) != (int)len) {
    free(buf);
    return -EIO;
  }
  *out = buf;
  *n = len;
  return 0;
}

const char *tls_error(const struct tls *t)
{
  return t->err[0] ? t->err : "TLS failure";
}

void tls_free(struct tls *t)
{
  if(!t)
    return;
  SSL_free(t->ssl); /* frees both BIOs */
  SSL_CTX_free(t->ctx);
  free(t);
}
