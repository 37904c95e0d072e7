/* SPDX-License-Identifier: MIT
 *
 * tfiles: a tenant's file names; see tfiles.h.
 */
#include "tfiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const suffixes[TFILES_NKINDS] = {
    [TFILES_STATE] = ".state.json",
    [TFILES_JOURNAL] = ".journal.jsonl",
    [TFILES_SUGGESTIONS] = ".suggestions.csv",
    [TFILES_APPLY_MEMORY] = ".apply.json",
    [TFILES_KILL_SWITCH] = ".stop",
    [TFILES_SPOOL] = ".spool",
    [TFILES_SPOOL_ACK] = ".spool.ack",
};

const char *tfiles_suffix(enum tfiles_kind kind)
{
  return (unsigned)kind < TFILES_NKINDS ? suffixes[kind] : NULL;
}

char *tfiles_path(const char *state_dir, const char *tenant,
                  enum tfiles_kind kind)
{
  const char *suffix = tfiles_suffix(kind);
  char *path;

  if(!suffix || !*tenant || tenant[0] == '.' || strchr(tenant, '/'))
    return NULL;
  if(asprintf(&path, "%s/%s%s", state_dir, tenant, suffix) < 0)
    return NULL;
  return path;
}
