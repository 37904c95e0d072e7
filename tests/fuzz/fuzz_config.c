/* SPDX-License-Identifier: MIT
 *
 * fuzz_config: the configuration file, as cfg_load() reads it for
 * start-up and for quarantined -n.
 */
#include <errno.h>
#include <stdlib.h>

#include "../../daemon/cfg.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct cfg *cfg = NULL;
  char *errors = NULL;
  int rc;

  rc = cfg_load(fuzz_file("q.conf", data, size), &cfg, &errors);
  if(!rc)
    cfg_free(cfg);
  else if(!errors && rc != -ENOMEM)
    __builtin_trap(); /* a refusal always says why */
  free(errors);
  return 0;
}
