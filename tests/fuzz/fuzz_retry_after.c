/* SPDX-License-Identifier: MIT
 *
 * fuzz_retry_after: a Retry-After header value (delay-seconds or an
 * HTTP-date, RFC 9110 section 10.2.3) and the time parsers behind it.
 */
#include <stdlib.h>
#include <time.h>

#include "../../daemon/graph.h"
#include "../../daemon/timex.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = fuzz_cstr(data, size);
  unsigned long long secs;
  time_t t;
  long ms;

  ms = graph_retry_after_ms(s, 1700000000);
  if(ms < -1)
    __builtin_trap();
  timex_parse_http_date(s, &t);
  timex_parse_iso(s, &t);
  timex_parse_date(s, &t);
  timex_parse_duration(s, &secs);
  free(s);
  return 0;
}
