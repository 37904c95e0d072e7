/* SPDX-License-Identifier: MIT
 *
 * check_anchor: GUID <-> anchor conversions with the documented examples
 * (docs/graph-facts.md#source-anchors: the .NET Guid.ToByteArray() one,
 * the troubleshooting page's connector-space DN, and a community
 * ConsistencyGuid example), every refusal reason of anchor_check(), and
 * the CN={hex} DN form.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "anchor.h"
#include "testutil.h"

static const struct {
  const char *guid, *anchor;
} known[] = {
    /* https://learn.microsoft.com/dotnet/api/system.guid.tobytearray;
     * docs/graph-facts.md#source-anchors. */
    {"35918bc9-196d-40ea-9779-889d79b753f0", "yYuRNW0Z6kCXeYidebdT8A=="},
    /* The connector-space DN CN={7834...3D3D};
     * docs/graph-facts.md#source-anchors. */
    {"897485c7-81a7-42eb-97c6-37ed73077b1f", "x4V0iaeB60KXxjftcwd7Hw=="},
    /* A community hard-match example, docs/graph-facts.md#source-anchors. */
    {"744cca2e-abf0-4df2-b1a7-ac9702956ea8", "LspMdPCr8k2xp6yXApVuqA=="},
    {"00000000-0000-0000-0000-000000000000", "AAAAAAAAAAAAAAAAAAAAAA=="},
    {"ffffffff-ffff-ffff-ffff-ffffffffffff", "/////////////////////w=="},
};

START_TEST(test_guid_to_anchor)
{
  char out[ANCHOR_GUID_B64_LEN];
  size_t i;

  for(i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
    ck_assert_int_eq(anchor_from_guid(known[i].guid, out), 0);
    ck_assert_str_eq(out, known[i].anchor);
  }
  /* Never the big-endian (RFC 4122 byte order) form. */
  ck_assert_int_eq(anchor_from_guid(known[0].guid, out), 0);
  ck_assert_str_ne(out, "NZGLyRltQOqXeYidebdT8A==");
}
END_TEST

START_TEST(test_anchor_to_guid)
{
  char out[ANCHOR_GUID_TEXT_LEN];
  enum anchor_error err;
  size_t i, got;

  for(i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
    ck_assert_int_eq(anchor_to_guid(known[i].anchor, out, &err, &got), 0);
    ck_assert_str_eq(out, known[i].guid);
    ck_assert_int_eq(err, ANCHOR_OK);
    ck_assert_uint_eq(got, 16);
  }
  ck_assert_int_eq(anchor_to_guid("AQEBAQEBAQEBAQEB", out, &err, &got),
                   -EINVAL);
  ck_assert_int_eq(err, ANCHOR_WRONG_LENGTH);
  ck_assert_uint_eq(got, 12);
  ck_assert_int_eq(anchor_to_guid("not base64!", out, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_guid_forms)
{
  unsigned char a[16], b[16];
  char out[ANCHOR_GUID_TEXT_LEN];

  ck_assert_int_eq(anchor_guid_parse("35918bc9-196d-40ea-9779-889d79b753f0", a),
                   0);
  ck_assert_int_eq(
      anchor_guid_parse("{35918BC9-196D-40EA-9779-889D79B753F0}", b), 0);
  ck_assert_mem_eq(a, b, 16);
  ck_assert_uint_eq(a[0], 0xc9);
  ck_assert_uint_eq(a[3], 0x35);
  ck_assert_uint_eq(a[4], 0x6d);
  ck_assert_uint_eq(a[6], 0xea);
  ck_assert_uint_eq(a[8], 0x97);
  ck_assert_uint_eq(a[15], 0xf0);
  anchor_guid_format(a, out);
  ck_assert_str_eq(out, "35918bc9-196d-40ea-9779-889d79b753f0");

  ck_assert_int_eq(anchor_guid_parse("", a), -EINVAL);
  ck_assert_int_eq(anchor_guid_parse(NULL, a), -EINVAL);
  ck_assert_int_eq(anchor_guid_parse("35918bc9196d40ea9779889d79b753f0", a),
                   -EINVAL);
  ck_assert_int_eq(anchor_guid_parse("35918bc9-196d-40ea-9779-889d79b753f", a),
                   -EINVAL);
  ck_assert_int_eq(
      anchor_guid_parse("35918bc9-196d-40ea-9779-889d79b753f0a", a), -EINVAL);
  ck_assert_int_eq(anchor_guid_parse("35918bc9-196d-40ea-9779-889d79b753g0", a),
                   -EINVAL);
  ck_assert_int_eq(anchor_guid_parse("35918bc9+196d-40ea-9779-889d79b753f0", a),
                   -EINVAL);
  ck_assert_int_eq(
      anchor_guid_parse("{35918bc9-196d-40ea-9779-889d79b753f0", a), -EINVAL);
  ck_assert_int_eq(
      anchor_guid_parse(" 35918bc9-196d-40ea-9779-889d79b753f0", a), -EINVAL);
}
END_TEST

/* expect() runs anchor_check() and compares the result and the reason. */
static void expect(const char *anchor, size_t want, enum anchor_error e,
                   const char *why)
{
  char buf[128];
  size_t got;

  ck_assert_msg(anchor_check(anchor, want, NULL, &got) == e,
                "'%s': expected %d", anchor ? anchor : "(null)", (int)e);
  ck_assert_str_eq(anchor_strerror(e, want, got, buf, sizeof(buf)), why);
}

START_TEST(test_check_reasons)
{
  unsigned char bytes[ANCHOR_MAX_BYTES];
  size_t got;

  expect("yYuRNW0Z6kCXeYidebdT8A==", ANCHOR_GUID_BYTES, ANCHOR_OK, "valid");
  expect("", 16, ANCHOR_EMPTY, "empty");
  expect(NULL, 16, ANCHOR_EMPTY, "empty");
  expect(" yYuRNW0Z6kCXeYidebdT8A==", 16, ANCHOR_WHITESPACE,
         "contains white space or a control character");
  expect("yYuRNW0Z6kCXeYidebdT8A==\n", 16, ANCHOR_WHITESPACE,
         "contains white space or a control character");
  expect("yYuRNW0Z6kCX\teYidebdT8A=", 16, ANCHOR_WHITESPACE,
         "contains white space or a control character");
  expect("yYuRNW0Z6kCXeYidebdT$A==", 16, ANCHOR_FORBIDDEN,
         "contains '$' or '_', which onPremisesImmutableId does not allow");
  expect("User_35918bc9196d40ea9779889d79b753f0", 16, ANCHOR_FORBIDDEN,
         "contains '$' or '_', which onPremisesImmutableId does not allow");
  expect("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB", 0,
         ANCHOR_TOO_LONG, "60 characters or longer");
  expect("yYuRNW0Z6kCXeYidebdT8A=", 16, ANCHOR_NOT_BASE64, "not valid Base64");
  expect("yYuRNW0Z6kCXeYidebdT8A", 16, ANCHOR_NOT_BASE64, "not valid Base64");
  expect("yYuRNW0Z6kCXeYid-bdT8A==", 16, ANCHOR_NOT_BASE64, "not valid Base64");
  expect("yYuRNW0Z6kCXeYidebdT8===", 16, ANCHOR_NOT_BASE64, "not valid Base64");
  expect("yYuRNW0Z6kCX=YidebdT8A==", 16, ANCHOR_NOT_BASE64, "not valid Base64");
  expect("====", 16, ANCHOR_NOT_BASE64, "not valid Base64");
  expect("yYuRNW0Z6kCXeYidebdT8B==", 16, ANCHOR_NOT_CANONICAL,
         "not canonical Base64 (stray bits before the padding)");
  expect("AQEBAQEBAQEBAQEB", 16, ANCHOR_WRONG_LENGTH,
         "decodes to 12 bytes, 16 required");
  expect("AQEBAQEBAQEBAQEBAQE=", 16, ANCHOR_WRONG_LENGTH,
         "decodes to 14 bytes, 16 required");
  expect("AQEBAQEBAQEBAQEBAQEBAQE=", 16, ANCHOR_WRONG_LENGTH,
         "decodes to 17 bytes, 16 required");
  expect("AQ==", 16, ANCHOR_WRONG_LENGTH, "decodes to 1 byte, 16 required");
  /* Other lengths only when asked for. */
  expect("AQEBAQEBAQEBAQEB", ANCHOR_ANY_LEN, ANCHOR_OK, "valid");
  expect("AQEBAQEBAQEBAQEB", 12, ANCHOR_OK, "valid");
  expect("AQEBAQEBAQEBAQEB", 20, ANCHOR_WRONG_LENGTH,
         "decodes to 12 bytes, 20 required");
  /* '+' and '/' and '=' are Base64, not forbidden characters. */
  expect("+//7//v/+//7//v/+//7/w==", 16, ANCHOR_OK, "valid");

  ck_assert_int_eq(anchor_check("yYuRNW0Z6kCXeYidebdT8A==", 16, bytes, &got),
                   ANCHOR_OK);
  ck_assert_uint_eq(got, 16);
  ck_assert_uint_eq(bytes[0], 0xc9);
  ck_assert_uint_eq(bytes[15], 0xf0);
}
END_TEST

START_TEST(test_encode)
{
  unsigned char b[ANCHOR_MAX_BYTES + 1];
  char out[64];

  memset(b, 1, sizeof(b));
  ck_assert_int_eq(anchor_encode(b, 12, out, sizeof(out)), 0);
  ck_assert_str_eq(out, "AQEBAQEBAQEBAQEB");
  ck_assert_int_eq(anchor_encode(b, 0, out, sizeof(out)), -EINVAL);
  ck_assert_int_eq(anchor_encode(b, ANCHOR_MAX_BYTES + 1, out, sizeof(out)),
                   -EINVAL);
  ck_assert_int_eq(anchor_encode(b, 16, out, 24), -ENOSPC);
  ck_assert_int_eq(anchor_encode(b, 16, out, 25), 0);
  /* The longest anchor still passes the length rule. */
  ck_assert_int_eq(anchor_encode(b, ANCHOR_MAX_BYTES, out, sizeof(out)), 0);
  ck_assert_int_eq(anchor_check(out, ANCHOR_ANY_LEN, NULL, NULL), ANCHOR_OK);
}
END_TEST

START_TEST(test_dn)
{
  char out[64];

  ck_assert_int_eq(
      anchor_from_dn("CN={783456306961654236304B58786A66746377643748773D3D}",
                     out, sizeof(out)),
      0);
  ck_assert_str_eq(out, "x4V0iaeB60KXxjftcwd7Hw==");
  ck_assert_int_eq(
      anchor_from_dn("cn={783456306961654236304b58786a66746377643748773d3d}",
                     out, sizeof(out)),
      0);
  ck_assert_str_eq(out, "x4V0iaeB60KXxjftcwd7Hw==");
  ck_assert_int_eq(anchor_to_dn("x4V0iaeB60KXxjftcwd7Hw==", out, sizeof(out)),
                   0);
  ck_assert_str_eq(out,
                   "CN={783456306961654236304B58786A66746377643748773D3D}");
  ck_assert_int_eq(anchor_to_dn("x4V0iaeB60KXxjftcwd7Hw==", out, 53), -ENOSPC);
  /* A cloudAnchor decodes but is not an anchor to write. */
  ck_assert_int_eq(anchor_from_dn("CN={557365725F61626364}", out, sizeof(out)),
                   0);
  ck_assert_str_eq(out, "User_abcd");
  ck_assert_int_eq(anchor_check(out, 16, NULL, NULL), ANCHOR_FORBIDDEN);

  ck_assert_int_eq(anchor_from_dn("CN={7834}", out, 2), -ENOSPC);
  ck_assert_int_eq(anchor_from_dn("CN={7834}", out, 3), 0);
  ck_assert_int_eq(
      anchor_from_dn("CN=John Smith,OU=Users,DC=contoso", out, sizeof(out)),
      -EINVAL);
  ck_assert_int_eq(anchor_from_dn("CN={}", out, sizeof(out)), -EINVAL);
  ck_assert_int_eq(anchor_from_dn("CN={783}", out, sizeof(out)), -EINVAL);
  ck_assert_int_eq(anchor_from_dn("CN={78XX}", out, sizeof(out)), -EINVAL);
  ck_assert_int_eq(anchor_from_dn("CN={7834", out, sizeof(out)), -EINVAL);
  ck_assert_int_eq(anchor_from_dn("CN={7820}", out, sizeof(out)), -EINVAL);
  ck_assert_int_eq(anchor_from_dn("CN={78C3}", out, sizeof(out)), -EINVAL);
  ck_assert_int_eq(anchor_from_dn("OU={7834}", out, sizeof(out)), -EINVAL);
  ck_assert_int_eq(anchor_from_dn(NULL, out, sizeof(out)), -EINVAL);
}
END_TEST

Suite *anchor_suite(void)
{
  Suite *s = suite_create("anchor");
  TCase *tc = tcase_create("anchor");

  tcase_add_test(tc, test_guid_to_anchor);
  tcase_add_test(tc, test_anchor_to_guid);
  tcase_add_test(tc, test_guid_forms);
  tcase_add_test(tc, test_check_reasons);
  tcase_add_test(tc, test_encode);
  tcase_add_test(tc, test_dn);
  suite_add_tcase(s, tc);
  return s;
}
