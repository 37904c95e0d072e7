/* SPDX-License-Identifier: MIT
 *
 * check_csexport: the csexport XML reader on a hand-made /f:e export
 * (both export-error shapes, the preferred UPN source, values being
 * deleted, CDATA and entities), the import's verdicts (cloudAnchor, AD
 * DN, no UPN, sourceAnchor mismatch, UPN on two objects), malformed XML
 * with its line, and a generated 50,000-object file read in one pass.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anchor.h"
#include "anchors.h"
#include "csexport.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
  dir = tu_tmpdir();
}

static void teardown(void)
{
  tu_rmtree(dir);
  free(dir);
}

static char *fixture(void)
{
  const char *src = getenv("QD_SRCDIR");
  char *path;

  ck_assert_int_ne(
      asprintf(&path, "%s/tests/csexport/export-errors.xml", src ? src : "."),
      -1);
  return path;
}

/* Objects as seen by the callback, kept as copies. */
struct seen {
  size_t n;
  char *upn[8], *etype[8], *ename[8], *ecode[8], *elit[8], *sa[8];
  unsigned line[8];
};

static char *dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

static int keep(void *arg, const struct csexport_object *o)
{
  struct seen *s = arg;

  ck_assert_uint_lt(s->n, 8);
  s->upn[s->n] = dup_or_null(o->upn);
  s->etype[s->n] = dup_or_null(o->error_type);
  s->ename[s->n] = dup_or_null(o->error_name);
  s->ecode[s->n] = dup_or_null(o->error_code);
  s->elit[s->n] = dup_or_null(o->error_literal);
  s->sa[s->n] = dup_or_null(o->source_anchor);
  s->line[s->n] = o->line;
  s->n++;
  return 0;
}

START_TEST(test_parse_fixture)
{
  struct seen s;
  char err[512] = "", *path = fixture();
  size_t i;

  memset(&s, 0, sizeof(s));
  ck_assert_int_eq(csexport_parse(path, keep, &s, err, sizeof(err)), 0);
  ck_assert_str_eq(err, "");
  ck_assert_uint_eq(s.n, 7);
  /* The pending export's added value beats the synchronized hologram. */
  ck_assert_str_eq(s.upn[0], "alice@contoso.com");
  ck_assert_str_eq(s.sa[0], "yYuRNW0Z6kCXeYidebdT8A==");
  ck_assert_str_eq(s.etype[0], "dn-attributes-failure");
  ck_assert_str_eq(s.ename[0], "AttributeValueMustBeUnique");
  ck_assert_str_eq(s.ecode[0], "0x8023134a");
  ck_assert_ptr_nonnull(strstr(s.elit[0], "duplicate values & try again."));
  ck_assert_uint_eq(strlen(s.elit[0]), 278);
  ck_assert_uint_eq(s.line[0], 6);
  /* FIM shape: error-type on <export-error>; CDATA values. */
  ck_assert_str_eq(s.upn[1], "bob@contoso.com");
  ck_assert_str_eq(s.etype[1], "export-error");
  ck_assert_ptr_null(s.ename[1]);
  ck_assert_str_eq(s.ecode[1], "0x80230306");
  ck_assert_str_eq(s.elit[1], "duplicate proxyAddresses");
  ck_assert_ptr_null(s.etype[2]);
  ck_assert_ptr_null(s.upn[3]);
  ck_assert_ptr_null(s.upn[4]);
  for(i = 0; i < s.n; i++) {
    free(s.upn[i]);
    free(s.etype[i]);
    free(s.ename[i]);
    free(s.ecode[i]);
    free(s.elit[i]);
    free(s.sa[i]);
  }
  free(path);
}
END_TEST

START_TEST(test_import_fixture)
{
  struct csexport_result res;
  char err[512] = "", *path = fixture(), *csv, *out;
  struct anchors_set *set;
  struct buf text = {NULL, 0, 0};
  FILE *f;

  memset(&res, 0, sizeof(res));
  ck_assert_int_eq(
      csexport_import(path, ANCHOR_GUID_BYTES, &res, err, sizeof(err)), 0);
  ck_assert_uint_eq(res.objects, 7);
  ck_assert_uint_eq(res.foreign, 1);
  ck_assert_uint_eq(res.with_error, 2);
  ck_assert_uint_eq(res.n, 6);
  ck_assert_uint_eq(res.count[CSEXPORT_CANDIDATE], 1);
  ck_assert_uint_eq(res.count[CSEXPORT_BAD_ANCHOR], 1);
  ck_assert_uint_eq(res.count[CSEXPORT_NO_UPN], 1);
  ck_assert_uint_eq(res.count[CSEXPORT_MISMATCH], 1);
  ck_assert_uint_eq(res.count[CSEXPORT_AMBIGUOUS], 2);

  ck_assert_int_eq(res.v[0].verdict, CSEXPORT_CANDIDATE);
  ck_assert_str_eq(res.v[0].upn, "alice@contoso.com");
  ck_assert_str_eq(res.v[0].anchor, "yYuRNW0Z6kCXeYidebdT8A==");
  ck_assert_str_eq(res.v[0].reference,
                   "csexport:export-errors.xml:"
                   "CN={795975524E57305A366B4358655969646562645438413D3D}");
  ck_assert_ptr_nonnull(strstr(res.v[0].note,
                               "export-error=dn-attributes-failure "
                               "error-name=AttributeValueMustBeUnique "
                               "error-code=0x8023134a error=\"Unable"));
  /* bob@ and BOB@ are one UPN on two objects. */
  ck_assert_int_eq(res.v[1].verdict, CSEXPORT_AMBIGUOUS);
  ck_assert_ptr_nonnull(
      strstr(res.v[1].note, "left out: the UPN is on 2 objects"));
  ck_assert_int_eq(res.v[5].verdict, CSEXPORT_AMBIGUOUS);
  ck_assert_int_eq(res.v[2].verdict, CSEXPORT_BAD_ANCHOR);
  ck_assert_ptr_nonnull(strstr(res.v[2].note, "(a cloudAnchor"));
  ck_assert_int_eq(res.v[3].verdict, CSEXPORT_NO_UPN);
  ck_assert_int_eq(res.v[4].verdict, CSEXPORT_MISMATCH);

  /* The CSV written for review loads cleanly with one entry. */
  ck_assert_int_ne(asprintf(&csv, "%s/review.csv", dir), -1);
  ck_assert_int_eq(csexport_write_csv(&text, &res, path), 0);
  f = fopen(csv, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(text.data, 1, text.len, f), text.len);
  fclose(f);
  free(text.data);
  out = tu_slurp(csv);
  ck_assert_ptr_nonnull(strstr(out, "\n# line 6: dn=CN={7959"));
  ck_assert_ptr_nonnull(strstr(
      out, "\nalice@contoso.com,yYuRNW0Z6kCXeYidebdT8A==,csexport:"
           "export-errors.xml:CN={795975524E57305A366B4358655969646562645438"
           "413D3D},\n"));
  ck_assert_ptr_nonnull(strstr(out,
                               "\n# LEFT OUT (ambiguous): "
                               "bob@contoso.com,x4V0iaeB60KXxjftcwd7Hw=="));
  set = anchors_set_new(ANCHOR_GUID_BYTES);
  ck_assert_int_eq(anchors_load_csv(set, csv, 0, NULL, NULL), 0);
  ck_assert_uint_eq(anchors_set_count(set), 1);
  anchors_set_free(set);
  csexport_result_clear(&res);
  free(out);
  free(csv);
  free(path);
}
END_TEST

static int count(void *arg, const struct csexport_object *o)
{
  (void)o;
  (*(size_t *)arg)++;
  return 0;
}

START_TEST(test_errors)
{
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"<cs-objects>\n<cs-object cs-dn=\"x\">\n</cs-objects>\n",
       "bad.xml:3: malformed XML: "},
      {"<cs-objects>\n<cs-object cs-dn=\"x\" cs-dn=\"y\"/>\n</cs-objects>\n",
       "bad.xml:2: malformed XML: "},
      {"", "bad.xml:1: malformed XML: "},
      {"<?xml version=\"1.0\"?>\n<objects/>\n",
       "bad.xml:2: root element is <objects>, not <cs-objects>"},
  };
  char err[512], *missing;
  size_t i, n;

  for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *path = tu_write(dir, "bad.xml", cases[i].text);

    n = 0;
    err[0] = '\0';
    ck_assert_int_eq(csexport_parse(path, count, &n, err, sizeof(err)),
                     -EBADMSG);
    ck_assert_msg(strstr(err, cases[i].want), "case %zu: %s", i, err);
    free(path);
  }
  ck_assert_int_ne(asprintf(&missing, "%s/none.xml", dir), -1);
  ck_assert_int_eq(csexport_parse(missing, count, &n, err, sizeof(err)),
                   -ENOENT);
  ck_assert_ptr_nonnull(strstr(err, "none.xml: No such file or directory"));
  free(missing);
}
END_TEST

/* stop() ends a parse at the second object. */
static int stop(void *arg, const struct csexport_object *o)
{
  (void)o;
  return ++*(size_t *)arg == 2 ? -ECANCELED : 0;
}

START_TEST(test_callback_stops)
{
  char err[512], *path = fixture();
  size_t n = 0;

  ck_assert_int_eq(csexport_parse(path, stop, &n, err, sizeof(err)),
                   -ECANCELED);
  ck_assert_uint_eq(n, 2);
  free(path);
}
END_TEST

#define BIG 50000

/* A generated export of BIG user objects, each with its own anchor and
 * UPN, read in one streaming pass. */
START_TEST(test_large_file)
{
  struct csexport_result res;
  char err[512], *path, dn[64];
  size_t i;
  FILE *f;

  ck_assert_int_ne(asprintf(&path, "%s/big.xml", dir), -1);
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<cs-objects>\n", f);
  for(i = 0; i < BIG; i++) {
    unsigned char b[16] = {0};
    char a[ANCHOR_GUID_B64_LEN];

    memcpy(b, &i, sizeof(i));
    ck_assert_int_eq(anchor_encode(b, 16, a, sizeof(a)), 0);
    ck_assert_int_eq(anchor_to_dn(a, dn, sizeof(dn)), 0);
    fprintf(
        f,
        "<cs-object cs-dn=\"%s\" id=\"{%08zx-0000-0000-0000-000000000000}\" "
        "object-type=\"user\">\n"
        " <synchronized-hologram><entry dn=\"%s\">\n"
        "  <attr name=\"displayName\" type=\"string\" "
        "multivalued=\"false\"><value>User %zu</value></attr>\n"
        "  <attr name=\"userPrincipalName\" type=\"string\" "
        "multivalued=\"false\"><value>user%zu@contoso.com</value></attr>\n"
        " </entry></synchronized-hologram>\n"
        " <export-errordetail error-type=\"dn-attributes-failure\">"
        "<export-status><cd-error><error-name>AttributeValueMustBeUnique"
        "</error-name></cd-error></export-status></export-errordetail>\n"
        "</cs-object>\n",
        dn, i, dn, i, i);
  }
  fputs("</cs-objects>\n", f);
  ck_assert_int_eq(fclose(f), 0);

  memset(&res, 0, sizeof(res));
  ck_assert_int_eq(
      csexport_import(path, ANCHOR_GUID_BYTES, &res, err, sizeof(err)), 0);
  ck_assert_uint_eq(res.objects, BIG);
  ck_assert_uint_eq(res.with_error, BIG);
  ck_assert_uint_eq(res.count[CSEXPORT_CANDIDATE], BIG);
  ck_assert_str_eq(res.v[BIG - 1].upn, "user49999@contoso.com");
  csexport_result_clear(&res);
  free(path);
}
END_TEST

Suite *csexport_suite(void)
{
  Suite *s = suite_create("csexport");
  TCase *tc = tcase_create("csexport");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_parse_fixture);
  tcase_add_test(tc, test_import_fixture);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_callback_stops);
  tcase_add_test(tc, test_large_file);
  suite_add_tcase(s, tc);
  return s;
}
