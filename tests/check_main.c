/* SPDX-License-Identifier: MIT
 *
 * check_main: runs every Check suite.  The suite list (suites.h) is made
 * by the Makefile from the tests/check_<mod>.c file names; each such file
 * defines <mod>_suite().  CK_RUN_SUITE / CK_RUN_CASE select a subset.
 */
#include <check.h>
#include <stdlib.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

int main(void)
{
  SRunner *sr = srunner_create(NULL);
  int failed;

#define SUITE(name) srunner_add_suite(sr, name##_suite());
#include "suites.h"
#undef SUITE
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
