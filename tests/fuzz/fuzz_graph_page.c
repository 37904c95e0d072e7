/* SPDX-License-Identifier: MIT
 *
 * fuzz_graph_page: one page of a Graph collection as inventory.c reads it:
 * every element of "value" through the conflict parser as a user, group
 * and contact, and through the holder parser; then the page links, whose
 * origin graph.c checks before it follows one.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "../../daemon/conflict.h"
#include "../../daemon/conflict_parse.h"
#include "../../daemon/conflict_set.h"
#include "../../daemon/graph.h"
#include "../../daemon/jsonx.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  cJSON *page = cJSON_ParseWithLength((const char *)data, size);
  const cJSON *value, *obj;
  const char *link;
  struct conflict_set *set;

  if(!page)
    return 0;
  set = conflict_set_new("contoso");
  if(!set)
    abort();
  value = cJSON_GetObjectItemCaseSensitive(page, "value");
  cJSON_ArrayForEach(obj, value)
  {
    for(int t = CONFLICT_USER; t <= CONFLICT_CONTACT; t++) {
      struct conflict_holder h;
      const char *why;

      conflict_parse_object(obj, (enum conflict_objtype)t, "contoso",
                            1700000000, set);
      if(!conflict_parse_holder(obj, (enum conflict_objtype)t, &h, &why))
        conflict_holder_clear(&h);
    }
  }
  link = jsonx_str(page, "@odata.nextLink");
  if(link)
    graph_same_origin("https://graph.microsoft.com", link);
  link = jsonx_str(page, "@odata.deltaLink");
  if(link)
    graph_same_origin("https://graph.microsoft.com", link);
  conflict_set_free(set);
  cJSON_Delete(page);
  return 0;
}
