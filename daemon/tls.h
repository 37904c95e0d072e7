/* SPDX-License-Identifier: MIT
 *
 * tls: a TLS client session over memory BIOs, so that the bytes travel
 * over a libuv stream the caller owns and OpenSSL never touches a socket
 * or blocks.  The caller feeds what it read with tls_feed(), drives the
 * handshake with tls_handshake(), encrypts with tls_write() and sends
 * what tls_take() hands out.  The peer is always verified: the chain
 * against the CA file (or the system's store) and the name against the
 * host the caller connects to (RFC 6125, as RFC 5425 section 5.2 asks for
 * syslog over TLS).
 */
#ifndef QD_TLS_H
#define QD_TLS_H

#include <stddef.h>

struct tls;

/* tls_check_ca() tells whether path is a readable PEM CA file OpenSSL
 * accepts; on failure it writes why into err (errlen bytes) and returns
 * a negative errno code.  Used by `quarantined -n`. */
int tls_check_ca(const char *path, char *err, size_t errlen);

/* tls_new() makes a client session for host (SNI and the name checked),
 * trusting ca_file or, when NULL, the system's CA store.  TLS 1.2 at
 * least.  Returns 0 with *out set (free with tls_free()), or a negative
 * errno code with why in err. */
int tls_new(const char *host, const char *ca_file, struct tls **out, char *err,
            size_t errlen);

/* tls_feed() hands n bytes read from the peer to the session. */
int tls_feed(struct tls *t, const void *p, size_t n);

/* tls_handshake() advances the handshake: 1 when it is complete, 0 when
 * it waits for the peer (send what tls_take() has, feed the answer), or
 * -EPROTO with why in tls_error(). */
int tls_handshake(struct tls *t);

/* tls_read_discard() consumes what the peer sent after the handshake
 * (session tickets, alerts): 0, -ECONNRESET when the peer closed the
 * session, or -EPROTO. */
int tls_read_discard(struct tls *t);

/* tls_write() encrypts n bytes; the records wait for tls_take(). */
int tls_write(struct tls *t, const void *p, size_t n);

/* tls_take() hands out, in a malloc'd buffer the caller frees, the bytes
 * to send to the peer; *n is 0 (and the result NULL) when there are
 * none.  Returns 0 or -ENOMEM. */
int tls_take(struct tls *t, char **out, size_t *n);

/* tls_error() is the last failure, for the log: the verification result
 * or OpenSSL's reason. */
const char *tls_error(const struct tls *t);

void tls_free(struct tls *t);

#endif
