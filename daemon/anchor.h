/* SPDX-License-Identifier: MIT
 *
 * anchor: source anchors (onPremisesImmutableId values) and the GUIDs they
 * come from.  AD stores objectGUID / mS-DS-ConsistencyGuid as 16 bytes in
 * the .NET Guid.ToByteArray() layout (Data1 LE32, Data2/Data3 LE16, Data4
 * as is); Entra Connect writes their Base64 as the anchor, and names the
 * Entra connector-space object CN={hex of the anchor's ASCII}.  Pure
 * functions: no allocation, no logging.  Base64 is OpenSSL's.
 */
#ifndef QD_ANCHOR_H
#define QD_ANCHOR_H

#include <stddef.h>

#define ANCHOR_GUID_BYTES 16
/* "35918bc9-196d-40ea-9779-889d79b753f0" and its NUL. */
#define ANCHOR_GUID_TEXT_LEN 37
/* Base64 of 16 bytes, "yYuRNW0Z6kCXeYidebdT8A==", and its NUL. */
#define ANCHOR_GUID_B64_LEN 25
/* Entra's rule for a sourceAnchor value: "fewer than 60 characters";
 * a buffer of ANCHOR_MAX_LEN bytes holds any valid anchor and its NUL. */
#define ANCHOR_MAX_LEN 60
/* Bytes one valid anchor can decode to (56 Base64 characters at most). */
#define ANCHOR_MAX_BYTES 42

/* want_len for anchor_check(): accept any decoded length from 1 to
 * ANCHOR_MAX_BYTES.  Only for an explicit admin option; the default is
 * ANCHOR_GUID_BYTES. */
#define ANCHOR_ANY_LEN 0

/* Why an anchor string is refused, in the order they are tested. */
enum anchor_error {
  ANCHOR_OK = 0,
  ANCHOR_EMPTY,         /* "" or NULL */
  ANCHOR_WHITESPACE,    /* a space, tab, newline or other control char */
  ANCHOR_FORBIDDEN,     /* '$' or '_' (Graph refuses them) */
  ANCHOR_TOO_LONG,      /* ANCHOR_MAX_LEN characters or more */
  ANCHOR_NOT_BASE64,    /* not standard, padded Base64 */
  ANCHOR_NOT_CANONICAL, /* decodes, but re-encodes differently (stray bits) */
  ANCHOR_WRONG_LENGTH   /* decodes to a length other than the one wanted */
};

/* anchor_guid_parse() reads a GUID in text form, "8-4-4-4-12" hex digits
 * in either case, optionally in {braces}, into its 16 bytes in the AD /
 * .NET layout.  Returns 0 or -EINVAL (out is then unspecified). */
int anchor_guid_parse(const char *text, unsigned char out[ANCHOR_GUID_BYTES]);

/* anchor_guid_format() writes the 16 AD-layout bytes as lower-case GUID
 * text (no braces) into out. */
void anchor_guid_format(const unsigned char bytes[ANCHOR_GUID_BYTES],
                        char out[ANCHOR_GUID_TEXT_LEN]);

/* anchor_encode() writes the padded Base64 of len bytes (1 to
 * ANCHOR_MAX_BYTES) into out, which holds outlen bytes.  Returns 0,
 * -EINVAL for a bad len, or -ENOSPC when out is too small (it needs
 * 4 * ceil(len / 3) + 1). */
int anchor_encode(const unsigned char *bytes, size_t len, char *out,
                  size_t outlen);

/* anchor_check() validates anchor as a value to write into
 * onPremisesImmutableId: not empty, no whitespace or control characters,
 * no '$' or '_', fewer than ANCHOR_MAX_LEN characters, canonical padded
 * Base64 (alphabet A-Z a-z 0-9 + /), decoding to want_len bytes
 * (ANCHOR_GUID_BYTES by default; ANCHOR_ANY_LEN for any length).  When
 * bytes is not NULL it receives the decoded bytes (it must hold
 * ANCHOR_MAX_BYTES); when got_len is not NULL it receives their number
 * (0 unless the text decoded).  Returns the first problem found. */
enum anchor_error anchor_check(const char *anchor, size_t want_len,
                               unsigned char *bytes, size_t *got_len);

/* anchor_strerror() writes a one-line English reason for err into buf
 * (e.g. "decodes to 12 bytes, 16 required") and returns buf.  want_len
 * and got_len are the values given to / returned by anchor_check(). */
const char *anchor_strerror(enum anchor_error err, size_t want_len,
                            size_t got_len, char *buf, size_t buflen);

/* anchor_from_guid() converts GUID text into its anchor, e.g.
 * "35918bc9-196d-40ea-9779-889d79b753f0" -> "yYuRNW0Z6kCXeYidebdT8A==".
 * Returns 0 or -EINVAL. */
int anchor_from_guid(const char *guid, char out[ANCHOR_GUID_B64_LEN]);

/* anchor_to_guid() converts an anchor that decodes to 16 bytes into its
 * lower-case GUID text.  Returns 0, or -EINVAL when anchor_check() with
 * ANCHOR_GUID_BYTES refuses it (*err, when err is not NULL, says why,
 * with *got_len the decoded length). */
int anchor_to_guid(const char *anchor, char out[ANCHOR_GUID_TEXT_LEN],
                   enum anchor_error *err, size_t *got_len);

/* anchor_from_dn() decodes an Entra connector-space DN of the form
 * CN={hex} (CN in any case; hex digits in either case, an even number)
 * into the ASCII text the hex spells, e.g.
 * "CN={783456306961654236304B58786A66746377643748773D3D}" ->
 * "x4V0iaeB60KXxjftcwd7Hw==".  Every decoded byte must be printable ASCII
 * (0x21 to 0x7e).  The text is not validated as an anchor: cloud-born
 * objects decode to a cloudAnchor such as "User_<guid>", which
 * anchor_check() refuses.  Returns 0, -EINVAL when dn has another shape,
 * or -ENOSPC when out (outlen bytes) is too small. */
int anchor_from_dn(const char *dn, char *out, size_t outlen);

/* anchor_to_dn() is the reverse: "CN={" upper-case hex of text "}".
 * Returns 0 or -ENOSPC (out needs 2 * strlen(text) + 6 bytes). */
int anchor_to_dn(const char *text, char *out, size_t outlen);

#endif
