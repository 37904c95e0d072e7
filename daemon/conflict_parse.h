/* SPDX-License-Identifier: MIT
 *
 * conflict_parse: reads users, groups and contacts as Microsoft Graph
 * returns them: their onPremisesProvisioningErrors into conflicts, and
 * the objects themselves into holder records.  Tolerant of what Graph may
 * leave out or add; strict about members of the wrong type.
 * https://learn.microsoft.com/graph/api/resources/onpremisesprovisioningerror
 */
#ifndef QD_CONFLICT_PARSE_H
#define QD_CONFLICT_PARSE_H

#include <time.h>

#include <cjson/cJSON.h>

#include "conflict.h"
#include "conflict_set.h"

/* conflict_parse_object() reads one user, group or contact as Graph
 * returns it and adds one conflict to into for each entry of its
 * onPremisesProvisioningErrors whose category is PropertyConflict (any
 * case) and whose propertyCausingError is UserPrincipalName, ProxyAddress
 * or ProxyAddresses (any case).  Unknown members are ignored, and null
 * members are taken as absent; an entry with no value is skipped.
 * first_seen and last_seen are set to now.  A conflict already in the set
 * under the same key is replaced; its first_seen is kept.
 *
 * A placeholder UPN (prefix + 4 digits @ label.onmicrosoft.com) is
 * flagged only when the object's own UPN conflict has a value whose local
 * part is that prefix; original_value then holds that value.
 *
 * Returns the number of conflicts added (0 for an object without errors).
 * A member of the wrong type (errors not an array, a value that is a
 * number, ...) gives -EBADMSG with one warning logged here; -ENOMEM when
 * out of memory.  On any error the set is unchanged. */
int conflict_parse_object(const cJSON *obj, enum conflict_objtype type,
                          const char *tenant, time_t now,
                          struct conflict_set *into);

/* conflict_parse_holder() reads one user, group or contact as Graph
 * returns it (the members of struct conflict_holder under their Graph
 * names) into *out, which the caller clears with conflict_holder_clear().
 * Returns 0; -EBADMSG (a member of the wrong type, no id) with *why set
 * and *out zeroed; or -ENOMEM.  Nothing is logged. */
int conflict_parse_holder(const cJSON *obj, enum conflict_objtype type,
                          struct conflict_holder *out, const char **why);

#endif
