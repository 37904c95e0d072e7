/* SPDX-License-Identifier: MIT
 *
 * jwt: signed client assertions (RFC 7523) for the certificate form of
 * the OAuth 2.0 client-credentials grant, built with OpenSSL 3 and cJSON.
 * A signer holds one X.509 certificate and its RSA private key; each call
 * makes a fresh assertion with a new jti.
 */
#ifndef QD_JWT_H
#define QD_JWT_H

#include <stddef.h>
#include <time.h>

/* Lifetime of an assertion: exp = nbf + JWT_LIFETIME (the Entra docs say
 * "5-10 minutes after nbf at most"). */
#define JWT_LIFETIME 600

enum jwt_alg {
  JWT_PS256, /* RSASSA-PSS, SHA-256, salt 32, header "x5t#S256" (current) */
  JWT_RS256  /* RSASSA-PKCS1-v1_5, SHA-256, header "x5t" (SHA-1; older) */
};

struct jwt_signer;

/* jwt_signer_new() loads the first PEM certificate in cert_path and the
 * PEM private key in key (key_len bytes, e.g. read with secret_read_file()
 * so its permissions were checked), checks that they belong together and
 * that the key is RSA, and computes both certificate thumbprints.
 * Encrypted keys are refused (there is nobody to ask for a passphrase).
 * key is only read; the caller still owns and wipes it.
 *
 * Returns 0 and sets *out (free with jwt_signer_free()), or -ENOENT /
 * -EACCES (certificate file), -EINVAL (unreadable PEM, mismatch, not RSA,
 * encrypted) or -ENOMEM, with a one-line message in err (errlen bytes;
 * err may be NULL).  Nothing is logged: the caller knows the tenant.  An
 * expired certificate is not an error here; see jwt_signer_validity(). */
int jwt_signer_new(const char *cert_path, const char *key, size_t key_len,
                   struct jwt_signer **out, char *err, size_t errlen);

/* jwt_signer_validity() gives the certificate's notBefore and notAfter as
 * Unix times (either may be NULL).  The token module warns when the
 * certificate is expired or not yet valid but still sends assertions, so
 * the token service's own verdict (an AADSTS code) reaches the log. */
void jwt_signer_validity(const struct jwt_signer *s, time_t *not_before,
                         time_t *not_after);

/* jwt_signer_thumbprint() returns the base64url SHA-256 ("x5t#S256") or,
 * for JWT_RS256, SHA-1 ("x5t") thumbprint of the certificate's DER form.
 * The string belongs to the signer. */
const char *jwt_signer_thumbprint(const struct jwt_signer *s, enum jwt_alg alg);

/* jwt_sign_assertion() makes a compact JWS: header {"alg","typ":"JWT",
 * "x5t#S256" or "x5t"}, claims {aud, iss = sub = client_id, jti (random
 * UUID), nbf = iat = now, exp = now + JWT_LIFETIME}.  Returns 0 and sets
 * *out to a malloc'd NUL-terminated string the caller frees, or -ENOMEM /
 * -EIO (OpenSSL failure) with a message in err (may be NULL); *out is then
 * untouched. */
int jwt_sign_assertion(const struct jwt_signer *s, const char *aud,
                       const char *client_id, time_t now, enum jwt_alg alg,
                       char **out, char *err, size_t errlen);

/* jwt_signer_free() frees the certificate and the key (OpenSSL wipes key
 * material when it frees it).  NULL is a no-op. */
void jwt_signer_free(struct jwt_signer *s);

/* jwt_base64url() encodes len bytes of data as base64url without padding
 * (RFC 7515 section 2) into a malloc'd string the caller frees.  Returns
 * 0, or -ENOMEM / -EOVERFLOW with *out untouched. */
int jwt_base64url(const void *data, size_t len, char **out);

#endif
