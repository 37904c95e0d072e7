/* SPDX-License-Identifier: MIT
 *
 * fuzz_graph_error: a Graph error body ({"error":{"code","message",
 * "innerError":{...}}} or anything else a proxy may send) as graph.c
 * reads it into a struct graph_error.
 */
#include <string.h>

#include "../../daemon/graph.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct graph_error err;

  memset(&err, 0, sizeof(err));
  graph_parse_error((const char *)data, size, &err);
  /* Every field must come back NUL-terminated inside its array. */
  if(!memchr(err.code, '\0', sizeof(err.code)) ||
     !memchr(err.message, '\0', sizeof(err.message)) ||
     !memchr(err.request_id, '\0', sizeof(err.request_id)))
    __builtin_trap();
  return 0;
}
