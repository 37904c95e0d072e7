/* SPDX-License-Identifier: MIT
 *
 * fuzz_csexport: csexport's XML export of the Entra connector space
 * (csexport.exe "Entra ID" file.xml /f:x), streamed and turned into
 * anchor candidates.
 */
#include <stdio.h>

#include "../../daemon/csexport.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct csexport_result res = {0};
  char err[512];

  FILE *out = fopen("/dev/null", "w");

  csexport_import(fuzz_file("cs.xml", data, size), 24, &res, err, sizeof(err));
  if(out) {
    csexport_write_csv(out, &res, "cs.xml");
    fclose(out);
  }
  csexport_result_clear(&res);
  return 0;
}
