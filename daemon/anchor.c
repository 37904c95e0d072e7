/* SPDX-License-Identifier: MIT
 *
 * anchor: GUID text <-> AD byte layout <-> Base64, the checks a value must
 * pass before it may become an onPremisesImmutableId, and the CN={hex}
 * form of Entra connector-space DNs.  EVP_DecodeBlock() is lenient (it
 * skips white space and counts padding as zero bytes), so the text is
 * checked strictly first and the padding subtracted afterwards.
 */
#include "anchor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* Byte offsets in a GUID's text form ("xxxxxxxx-xxxx-...") of each of the
 * 16 bytes, in the AD layout: Data1 little-endian, Data2 and Data3
 * little-endian, Data4 as written. */
static const unsigned char text_pos[ANCHOR_GUID_BYTES] = {
    6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34};

static int hexval(int c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int anchor_guid_parse(const char *text, unsigned char out[ANCHOR_GUID_BYTES])
{
  size_t len, i;

  if(!text)
    return -EINVAL;
  len = strlen(text);
  if(len == 38 && text[0] == '{' && text[37] == '}') {
    text++;
    len = 36;
  }
  if(len != 36)
    return -EINVAL;
  for(i = 0; i < 36; i++) {
    if(i == 8 || i == 13 || i == 18 || i == 23) {
      if(text[i] != '-')
        return -EINVAL;
    }
    else if(hexval((unsigned char)text[i]) < 0)
      return -EINVAL;
  }
  for(i = 0; i < ANCHOR_GUID_BYTES; i++)
    out[i] = (unsigned char)(hexval((unsigned char)text[text_pos[i]]) << 4 |
                             hexval((unsigned char)text[text_pos[i] + 1]));
  return 0;
}

void anchor_guid_format(const unsigned char bytes[ANCHOR_GUID_BYTES],
                        char out[ANCHOR_GUID_TEXT_LEN])
{
  static const char digits[] = "0123456789abcdef";
  size_t i;

  memcpy(out, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", ANCHOR_GUID_TEXT_LEN);
  for(i = 0; i < ANCHOR_GUID_BYTES; i++) {
    out[text_pos[i]] = digits[bytes[i] >> 4];
    out[text_pos[i] + 1] = digits[bytes[i] & 15];
  }
}

int anchor_encode(const unsigned char *bytes, size_t len, char *out,
                  size_t outlen)
{
  if(!len || len > ANCHOR_MAX_BYTES)
    return -EINVAL;
  if(outlen < 4 * ((len + 2) / 3) + 1)
    return -ENOSPC;
  EVP_EncodeBlock((unsigned char *)out, bytes, (int)len);
  return 0;
}

static int is_b64(int c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

enum anchor_error anchor_check(const char *anchor, size_t want_len,
                               unsigned char *bytes, size_t *got_len)
{
  unsigned char buf[ANCHOR_MAX_BYTES + 3];
  char again[ANCHOR_MAX_LEN + 4];
  size_t len, i, pad = 0;
  int n;

  if(got_len)
    *got_len = 0;
  if(!anchor || !*anchor)
    return ANCHOR_EMPTY;
  len = strlen(anchor);
  for(i = 0; i < len; i++)
    if((unsigned char)anchor[i] <= ' ' || anchor[i] == 0x7f)
      return ANCHOR_WHITESPACE;
  if(strpbrk(anchor, "$_"))
    return ANCHOR_FORBIDDEN;
  if(len >= ANCHOR_MAX_LEN)
    return ANCHOR_TOO_LONG;
  if(len % 4)
    return ANCHOR_NOT_BASE64;
  while(pad < 2 && anchor[len - 1 - pad] == '=')
    pad++;
  for(i = 0; i < len - pad; i++)
    if(!is_b64((unsigned char)anchor[i]))
      return ANCHOR_NOT_BASE64;
  n = EVP_DecodeBlock(buf, (const unsigned char *)anchor, (int)len);
  if(n < 0 || (size_t)n < pad)
    return ANCHOR_NOT_BASE64;
  n -= (int)pad;
  if(!n)
    return ANCHOR_NOT_BASE64;
  /* Graph compares the text: "yYuRNW0Z6kCXeYidebdT8B==" decodes to the
   * same bytes as "...8A==" but would never match a synced object. */
  EVP_EncodeBlock((unsigned char *)again, buf, n);
  if(strcmp(again, anchor))
    return ANCHOR_NOT_CANONICAL;
  if(got_len)
    *got_len = (size_t)n;
  if(bytes)
    memcpy(bytes, buf, (size_t)n);
  if(want_len != ANCHOR_ANY_LEN && (size_t)n != want_len)
    return ANCHOR_WRONG_LENGTH;
  return ANCHOR_OK;
}

const char *anchor_strerror(enum anchor_error err, size_t want_len,
                            size_t got_len, char *buf, size_t buflen)
{
  const char *s = "unknown problem";

  switch(err) {
  case ANCHOR_OK:
    s = "valid";
    break;
  case ANCHOR_EMPTY:
    s = "empty";
    break;
  case ANCHOR_WHITESPACE:
    s = "contains white space or a control character";
    break;
  case ANCHOR_FORBIDDEN:
    s = "contains '$' or '_', which onPremisesImmutableId does not allow";
    break;
  case ANCHOR_TOO_LONG:
    s = "60 characters or longer";
    break;
  case ANCHOR_NOT_BASE64:
    s = "not valid Base64";
    break;
  case ANCHOR_NOT_CANONICAL:
    s = "not canonical Base64 (stray bits before the padding)";
    break;
  case ANCHOR_WRONG_LENGTH:
    snprintf(buf, buflen, "decodes to %zu byte%s, %zu required", got_len,
             got_len == 1 ? "" : "s",
             want_len ? want_len : (size_t)ANCHOR_GUID_BYTES);
    return buf;
  }
  snprintf(buf, buflen, "%s", s);
  return buf;
}

int anchor_from_guid(const char *guid, char out[ANCHOR_GUID_B64_LEN])
{
  unsigned char b[ANCHOR_GUID_BYTES];

  if(anchor_guid_parse(guid, b))
    return -EINVAL;
  return anchor_encode(b, sizeof(b), out, ANCHOR_GUID_B64_LEN);
}

int anchor_to_guid(const char *anchor, char out[ANCHOR_GUID_TEXT_LEN],
                   enum anchor_error *err, size_t *got_len)
{
  unsigned char b[ANCHOR_MAX_BYTES];
  enum anchor_error e = anchor_check(anchor, ANCHOR_GUID_BYTES, b, got_len);

  if(err)
    *err = e;
  if(e != ANCHOR_OK)
    return -EINVAL;
  anchor_guid_format(b, out);
  return 0;
}

int anchor_from_dn(const char *dn, char *out, size_t outlen)
{
  size_t len, i, n;

  if(!dn || (dn[0] != 'C' && dn[0] != 'c') || (dn[1] != 'N' && dn[1] != 'n') ||
     dn[2] != '=' || dn[3] != '{')
    return -EINVAL;
  dn += 4;
  len = strlen(dn);
  if(len < 3 || dn[len - 1] != '}' || (len - 1) % 2)
    return -EINVAL;
  n = (len - 1) / 2;
  for(i = 0; i < n; i++) {
    int hi = hexval((unsigned char)dn[2 * i]),
        lo = hexval((unsigned char)dn[2 * i + 1]);

    if(hi < 0 || lo < 0 || (hi << 4 | lo) < 0x21 || (hi << 4 | lo) > 0x7e)
      return -EINVAL;
  }
  if(outlen < n + 1)
    return -ENOSPC;
  for(i = 0; i < n; i++)
    out[i] = (char)(hexval((unsigned char)dn[2 * i]) << 4 |
                    hexval((unsigned char)dn[2 * i + 1]));
  out[n] = '\0';
  return 0;
}

int anchor_to_dn(const char *text, char *out, size_t outlen)
{
  static const char digits[] = "0123456789ABCDEF";
  size_t len = strlen(text), i;

  if(outlen < 2 * len + 6)
    return -ENOSPC;
  memcpy(out, "CN={", 4);
  for(i = 0; i < len; i++) {
    out[4 + 2 * i] = digits[(unsigned char)text[i] >> 4];
    out[5 + 2 * i] = digits[(unsigned char)text[i] & 15];
  }
  memcpy(out + 4 + 2 * len, "}", 2);
  return 0;
}
