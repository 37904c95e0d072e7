/* SPDX-License-Identifier: MIT
 *
 * fuzz_csexport: csexport's XML export of the Entra connector space
 * (csexport.exe "Entra ID" file.xml /f:x), streamed and turned into
 * anchor candidates.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../daemon/csexport.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct csexport_result res = {0};
  char err[512];

  struct buf out = {NULL, 0, 0};

  csexport_import(fuzz_file("cs.xml", data, size), 24, &res, err, sizeof(err));
  csexport_write_csv(&out, &res, "cs.xml");
  free(out.data);
  csexport_result_clear(&res);
  return 0;
}
