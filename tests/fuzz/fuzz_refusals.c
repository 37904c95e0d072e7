/* SPDX-License-Identifier: MIT
 *
 * fuzz_refusals: the apply engine's refusal memory (<tenant>.apply.json).
 */
#include "../../daemon/refusals.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct refusals *m = NULL;

  if(!refusals_open(fuzz_file("contoso.apply.json", data, size), "contoso", &m))
    refusals_free(m);
  fuzz_clean();
  return 0;
}
