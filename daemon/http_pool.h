/* SPDX-License-Identifier: MIT
 *
 * http_pool: the one libcurl multi handle of the process, shared by every
 * HTTP client (http.c), driven by the uv loop: each socket curl wants
 * watched gets a heap uv_poll_t, and curl's single timeout is one
 * uv_timer_t.  Sharing it means one connection cache, so tenants that
 * talk to the same Graph host reuse each other's idle connections (curl
 * reuses a connection only for the same host and TLS settings, and no
 * credential belongs to a connection: the bearer token is a header of
 * each request), and HTTP/2 streams are multiplexed over one connection
 * where the server offers it.  Descriptors then grow with the transfers
 * in flight, not with the number of tenants.
 */
#ifndef QD_HTTP_POOL_H
#define QD_HTTP_POOL_H

#include <curl/curl.h>
#include <uv.h>

struct http_pool;

/* Called for each transfer curl has finished, after its easy handle left
 * the multi handle.  rc is curl's result. */
typedef void (*http_pool_done_cb)(CURL *easy, CURLcode rc);

/* http_pool_get() returns the pool of loop, made on first use, and counts
 * one more user; done is the completion callback of every transfer (the
 * same for all users).  Returns NULL when out of memory or when a pool of
 * another loop is alive. */
struct http_pool *http_pool_get(uv_loop_t *loop, http_pool_done_cb done);

/* http_pool_put() counts one user less; the last one cleans up the multi
 * handle (closing the cached connections) and closes the uv handles, which
 * free the pool in their close callbacks. */
void http_pool_put(struct http_pool *p);

/* http_pool_add() hands easy to curl.  Returns 0, -ENOMEM or -EIO. */
int http_pool_add(struct http_pool *p, CURL *easy);

/* http_pool_remove() takes easy back from curl (a cancelled transfer). */
void http_pool_remove(struct http_pool *p, CURL *easy);

#endif
