/* SPDX-License-Identifier: MIT
 *
 * http: HTTP(S) requests on the uv loop through libcurl's multi_socket
 * API, over the process's one multi handle and connection cache
 * (http_pool.h); no threads.  One client per tenant, with its own CA
 * settings and a cap on transfers in flight (more are queued).
 * TLS is always verified, redirects are never followed, and neither
 * headers nor bodies are ever logged (they carry secrets and tokens).
 */
#ifndef QD_HTTP_H
#define QD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct http_client;

struct http_client_opts {
  const char *user_agent;      /* e.g. "quarantined/0.1.0" */
  const char *ca_file;         /* extra PEM CA bundle, or NULL */
  unsigned max_concurrency;    /* transfers in flight; 0 means 4 */
  unsigned connect_timeout_ms; /* 0 means 10 s */
  unsigned timeout_ms;         /* whole transfer; 0 means 60 s */
  size_t max_response_size;    /* body bytes; 0 means 64 MiB */
  bool url_secret; /* URLs carry secrets (webhooks): log scheme://host */
};

/* What a request came to.  Valid only during the completion callback;
 * the client frees it afterwards. */
struct http_response {
  int result;       /* 0, or a negative errno code for a transport
                       failure: -ETIMEDOUT, -ECONNREFUSED, -EMSGSIZE
                       (body over max_response_size), -EPROTO (TLS or
                       protocol error), -ECANCELED (client closed),
                       -EHOSTUNREACH, -EMFILE / -ENFILE (out of file
                       descriptors, in the process or the system,
                       whatever curl said), -EIO (anything else) */
  long status;      /* HTTP status; 0 when result != 0 */
  const char *body; /* NUL-terminated (len excludes the NUL); "" if none */
  size_t body_len;
  const char *content_type; /* header value or NULL; so are the next ones */
  const char *retry_after;
  const char *request_id; /* "request-id" response header */
  const char *location;
  const char *throttle_scope;    /* "x-ms-throttle-scope" */
  const char *client_request_id; /* the id we sent, a UUID */
  const char *error;             /* curl's message when result != 0, else "" */
  double seconds;                /* total time of the transfer */
};

/* Called exactly once per accepted request, never from inside
 * http_request() itself. */
typedef void (*http_done_cb)(const struct http_response *resp, void *arg);

/* http_client_new() makes a client on loop.  Returns 0 and sets *out, or
 * a negative errno code.  opts is copied. */
int http_client_new(uv_loop_t *loop, const struct http_client_opts *opts,
                    struct http_client **out);

/* http_request() queues one request.  method is "GET", "POST", "PATCH"...;
 * headers is a NULL-terminated array of "Name: value" lines (or NULL);
 * body (body_len bytes) may be NULL.  Everything is copied, so the caller
 * may free its arguments on return.  A "client-request-id" header with a
 * fresh UUID is added to every request, unless headers has one (at most
 * 36 characters): then that one is sent, e.g. the same id on every retry
 * of one write.  A PATCH goes out on a new connection, never a reused
 * one, so that libcurl never sends it again by itself.  Returns 0 (cb will
 * be called) or a negative errno code (cb will not be called). */
int http_request(struct http_client *c, const char *method, const char *url,
                 const char *const *headers, const char *body, size_t body_len,
                 http_done_cb cb, void *arg);

/* http_client_close() cancels every queued and in-flight request (their
 * callbacks run with result -ECANCELED), closes the uv handles and frees
 * the client once they are closed, then calls closed_cb(arg) if given.
 * The client must not be used after this call. */
void http_client_close(struct http_client *c, void (*closed_cb)(void *arg),
                       void *arg);

#endif
