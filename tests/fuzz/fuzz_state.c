/* SPDX-License-Identifier: MIT
 *
 * fuzz_state: the state file (the inventory the daemon believes);
 * a corrupt file is renamed aside, so the directory is emptied after
 * each run.
 */
#include "../../daemon/store.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct store_state st = {0};

  fuzz_file("contoso.state.json", data, size);
  if(!store_load(fuzz_dir(), "contoso", &st))
    store_state_clear(&st);
  fuzz_clean();
  return 0;
}
