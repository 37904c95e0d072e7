/* SPDX-License-Identifier: MIT
 *
 * fuzz_journal: the apply journal (JSON lines: intent, outcome, ...),
 * as the apply engine reads it back at start and after a crash.
 */
#include "../../daemon/journal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct journal_state st = {0};
  char err[512];

  journal_load(fuzz_file("t.journal.jsonl", data, size), "contoso", &st, err,
               sizeof(err));
  journal_state_clear(&st);
  return 0;
}
