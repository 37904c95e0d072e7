/* SPDX-License-Identifier: MIT
 *
 * csexport_win32: no csexport reader on Windows, where libxml2 is not
 * built; `quarantinectl csexport import` says so, naming the file.  Run it
 * on a Linux machine with the XML file copied there.  See csexport.h.
 */
#include "csexport.h"

#include <errno.h>
#include <stdio.h>

int csexport_parse(const char *path, csexport_object_cb cb, void *arg,
                   char *err, size_t errlen)
{
  (void)cb;
  (void)arg;
  snprintf(err, errlen,
           "%s: csexport import needs libxml2, which the Windows build "
           "does not have; run it on Linux",
           path);
  return -ENOTSUP;
}
