/* SPDX-License-Identifier: MIT
 *
 * fuzz_anchors_csv: the admin's known-anchors CSV (RFC 4180: quotes,
 * doubled quotes, CRLF, a header whose first field is empty).
 */
#include "../../daemon/anchors.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct anchors_set *s = anchors_set_new(24);

  if(!s)
    return 0;
  anchors_load_csv(s, fuzz_file("anchors.csv", data, size), 1700000000,
                   fuzz_ignore_report, NULL);
  anchors_set_free(s);
  return 0;
}
