/* SPDX-License-Identifier: MIT
 *
 * fuzz_token: a response of the Microsoft identity platform's token
 * endpoint.  The first two bytes choose the HTTP status (200, 400, 401,
 * 500 or other), the rest is the body.
 */
#include <string.h>

#include "../../daemon/secret.h"
#include "../../daemon/token.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const long statuses[] = {200, 400, 401, 500, 0};
  struct token_error err;
  char *access = NULL;
  long expires = 0, status = 200;

  if(size >= 1) {
    status = statuses[data[0] % 5];
    data++;
    size--;
  }
  if(!token_parse_response(status, (const char *)data, size, &access, &expires,
                           &err)) {
    if(!access || expires <= 0)
      __builtin_trap();
    secret_free(access, strlen(access));
  }
  return 0;
}
