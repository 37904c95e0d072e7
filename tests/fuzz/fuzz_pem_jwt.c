/* SPDX-License-Identifier: MIT
 *
 * fuzz_pem_jwt: a certificate file and a private key in PEM, as the
 * certificate credential is loaded; when they make a signer, one client
 * assertion (a JWT) is signed with each algorithm.  The first two bytes
 * say where the certificate ends and the key begins.
 */
#include <stdlib.h>

#include "../../daemon/jwt.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct jwt_signer *s = NULL;
  const char *cert;
  char err[256];
  size_t split;

  if(size < 2)
    return 0;
  split = ((size_t)data[0] << 8 | data[1]) % (size - 1);
  data += 2;
  size -= 2;
  cert = fuzz_file("cert.pem", data, split);
  if(jwt_signer_new(cert, (const char *)data + split, size - split, &s, err,
                    sizeof(err)))
    return 0;
  for(int alg = JWT_PS256; alg <= JWT_RS256; alg++) {
    char *jws = NULL;

    if(!jwt_signer_thumbprint(s, (enum jwt_alg)alg))
      __builtin_trap();
    if(!jwt_sign_assertion(
           s, "https://login.microsoftonline.com/t/oauth2/v2.0/token",
           "00000000-0000-0000-0000-000000000000", 1700000000,
           (enum jwt_alg)alg, &jws, err, sizeof(err)))
      free(jws);
  }
  jwt_signer_free(s);
  return 0;
}
