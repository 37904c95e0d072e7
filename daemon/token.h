/* SPDX-License-Identifier: MIT
 *
 * token: OAuth 2.0 client-credentials access tokens for one tenant, on
 * the uv loop.  The credential (client secret, or certificate and key) is
 * loaded when the source is made; tokens are cached, refreshed before they
 * expire, and concurrent requests for one are served by a single POST.
 * The bearer token is handed to callers only and is never logged.
 */
#ifndef QD_TOKEN_H
#define QD_TOKEN_H

#include <stddef.h>
#include <time.h>

#include <uv.h>

#include "cfg.h"
#include "http.h"

struct token;

/* Why the token service said no.  Strings are NUL-terminated, truncated
 * to fit, stripped of control characters, and "" when absent. */
struct token_error {
  int http_status;       /* 0 for transport failures */
  char error[64];        /* "invalid_client", ... */
  char aadsts[16];       /* "AADSTS7000215", from error_codes[0] */
  char description[512]; /* error_description's first line, no code */
  char trace_id[64];
  char correlation_id[64];
  char retry_after[32]; /* Retry-After header of a 429/503, or "" */
};

/* result is 0 with bearer set, or a negative errno code with bearer NULL:
 *   -EACCES  the credentials were refused (invalid_client,
 *            unauthorized_client, invalid_grant); retrying soon won't help
 *   -EINVAL  the request was refused (invalid_request, invalid_scope and
 *            other 4xx): a configuration problem
 *   -EAGAIN  transient (temporarily_unavailable, 429, 5xx, transport
 *            error, unusable reply); retry with backoff
 *   -EMFILE, -ENFILE  out of file descriptors (http.h): retry later
 *   -ECANCELED  the token source or its HTTP client was closed
 *   -ENOMEM, -EIO  local failures (out of memory, signing failed)
 * err is non-NULL when the service sent an error body or a status.  bearer
 * and err are valid only during the callback. */
typedef void (*token_cb)(int result, const char *bearer,
                         const struct token_error *err, void *arg);

/* token_new() makes the token source of tenant t on loop, sending through
 * http (not owned; it must outlive the source).  The credential is read
 * now: the client secret (file or credential), or the certificate and the
 * private key (file or credential) through jwt, so a missing or unsafe
 * file is reported at start-up and reload, not on first use.  t is copied.
 * Client assertions are PS256 with "x5t#S256", as the current Entra
 * documentation asks, and a fresh one is signed for every request.
 *
 * Returns 0 and sets *out, or a negative errno code (see secret_read_file()
 * and jwt_signer_new(); -EINVAL when t has no credential) after logging
 * one line naming the tenant and the file.  An expired or not yet valid
 * certificate is only warned about: the token service gives the verdict.
 */
int token_new(uv_loop_t *loop, struct http_client *http,
              const struct cfg_tenant *t, struct token **out);

/* token_new_scoped() is token_new() for another resource than Graph:
 * tokens for scope (e.g. "https://monitor.azure.com/.default" for the
 * Logs Ingestion API) with t's credential. */
int token_new_scoped(uv_loop_t *loop, struct http_client *http,
                     const struct cfg_tenant *t, const char *scope,
                     struct token **out);

/* token_get() asks for a bearer token.  cb(arg) is called exactly once,
 * always later from the loop, never from inside token_get().  A cached
 * token is used while more than min(300 s, lifetime / 5) of its lifetime
 * remains (lifetime = expires_in, counted from when the request was sent);
 * otherwise one POST is made, and every token_get() made while it is in
 * flight waits for the same answer.  Returns 0 (cb will be called) or a
 * negative errno code (-ECANCELED after token_close(), -ENOMEM, or the
 * error of starting the request; cb will not be called). */
int token_get(struct token *tk, token_cb cb, void *arg);

/* token_not_after() is the notAfter of the source's certificate, or 0
 * for a client secret. */
time_t token_not_after(const struct token *tk);

/* token_invalidate() forgets the cached token (e.g. after a 401 from
 * Graph), so the next token_get() asks the token service again.  A
 * request already in flight is not affected. */
void token_invalidate(struct token *tk);

/* token_status() is the outcome of the last token request, for status
 * reports: 1 a token was issued, 0 none was asked for yet, or the
 * negative errno code the request failed with (-EACCES: credentials
 * refused; -EINVAL: request refused; -EAGAIN: transient). */
int token_status(const struct token *tk);

/* token_close() stops the source: callbacks still owed are called with
 * -ECANCELED, the timer handle is closed, and once no HTTP request is in
 * flight (close the HTTP client to cancel one) the secret, key and token
 * are wiped and freed and closed_cb(arg) is called, if given.  tk must not
 * be used after this call. */
void token_close(struct token *tk, void (*closed_cb)(void *arg), void *arg);

/* Internal, public for the tests. */

/* token_form_body() builds the x-www-form-urlencoded body of a
 * client-credentials request: client_id, scope, grant_type and either
 * client_secret (when secret is not NULL) or client_assertion_type and
 * client_assertion.  Every value is escaped with curl_easy_escape().
 * Returns 0 and sets *out and *len (the caller wipes and frees it with
 * secret_free(), since it holds the credential), or -ENOMEM. */
int token_form_body(const char *client_id, const char *scope,
                    const char *secret, size_t secret_len,
                    const char *assertion, char **out, size_t *len);

/* token_parse_response() reads the token service's reply (HTTP status and
 * body).  On success it returns 0, sets *access (malloc'd; wipe and free
 * with secret_free(*access, strlen(*access))) and *expires_in (seconds,
 * > 0; a number or a numeric string).  Otherwise it returns one of the
 * codes token_cb lists, fills *err (always cleared first) and leaves
 * *access untouched. */
int token_parse_response(long status, const char *body, size_t len,
                         char **access, long *expires_in,
                         struct token_error *err);

#endif
