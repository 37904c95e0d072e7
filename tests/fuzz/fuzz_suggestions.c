/* SPDX-License-Identifier: MIT
 *
 * fuzz_suggestions: the suggestions file the daemon writes and the admin
 * edits (approved column), read back line by line; then the anchors it
 * approves, as the apply engine loads them.
 */
#include "../../daemon/anchors.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct anchors_suggestions l = {0};
  struct anchors_set *s;
  const char *path = fuzz_file("t.suggestions.csv", data, size);

  anchors_suggestions_read(path, &l, fuzz_ignore_report, NULL);
  anchors_suggestions_clear(&l);
  s = anchors_set_new(24);
  if(!s)
    return 0;
  anchors_load_suggestions(s, path, 1700000000, fuzz_ignore_report, NULL);
  anchors_set_free(s);
  return 0;
}
