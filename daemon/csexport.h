/* SPDX-License-Identifier: MIT
 *
 * csexport: Entra Connect connector-space exports, as written by
 * `csexport "<Entra connector>" file.xml /f:x` (pending exports) or
 * `/f:e` (export errors).  The file is read with libxml2's streaming
 * xmlTextReader, one <cs-object> at a time, so memory stays constant
 * however large it is.  For the Entra connector the cs-dn is
 * CN={hex of the ASCII source anchor}: each object thus names its anchor,
 * and its holograms or pending export name the userPrincipalName.  An
 * import turns that into candidate known-anchor lines for an admin.
 */
#ifndef QD_CSEXPORT_H
#define QD_CSEXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"

/* One <cs-object>, as handed to a csexport_object_cb.  Every string lives
 * until the callback returns; NULL means absent. */
struct csexport_object {
  unsigned line;           /* the line of its <cs-object> tag */
  const char *dn;          /* @cs-dn */
  const char *id;          /* @id, the connector-space object id */
  const char *object_type; /* @object-type ("user", "person", ...) */
  /* userPrincipalName and sourceAnchor, taken from the first of:
   * unapplied-export-hologram, unapplied-export (the pending delta; values
   * being deleted are skipped), escrowed- or unconfirmed-export-hologram,
   * synchronized-hologram, pending-import-hologram. */
  const char *upn;
  const char *source_anchor;
  /* The last export error (export-errordetail), both shapes accepted:
   * error-type on export-errordetail or on its export-error child, and
   * cd-error/{error-code, error-name, error-literal} below either
   * export-status or export-error.  All NULL when the object has none. */
  const char *error_type;
  const char *error_code;
  const char *error_name;
  const char *error_literal; /* at most 512 bytes, cut with "..." */
};

/* Called once per <cs-object>, in file order.  A non-zero return stops
 * the parse, and csexport_parse() returns it. */
typedef int (*csexport_object_cb)(void *arg, const struct csexport_object *o);

/* csexport_parse() streams the csexport XML file at path and calls cb for
 * each <cs-object> under the root <cs-objects>.  External entities and
 * network access are never loaded.  Returns 0; -EBADMSG for malformed XML
 * or another root element, with "FILE:LINE: message" in err (errlen
 * bytes); -ENOENT etc. when the file cannot be opened ("FILE: reason");
 * -ENOMEM; or the callback's non-zero value.  Nothing is logged. */
int csexport_parse(const char *path, csexport_object_cb cb, void *arg,
                   char *err, size_t errlen);

/* What an import made of one Entra connector object. */
enum csexport_verdict {
  CSEXPORT_CANDIDATE,  /* UPN -> anchor, ready for an admin to review */
  CSEXPORT_NO_UPN,     /* no userPrincipalName anywhere in the object */
  CSEXPORT_BAD_ANCHOR, /* the DN decodes to text that is not a valid anchor
                          (a cloudAnchor such as User_<guid> included) */
  CSEXPORT_MISMATCH,   /* a sourceAnchor attribute that differs from the DN */
  CSEXPORT_AMBIGUOUS   /* the UPN or the anchor is on several objects */
};

/* One import result line.  Strings are malloc'd, owned by the result. */
struct csexport_candidate {
  enum csexport_verdict verdict;
  char *upn;       /* NULL for CSEXPORT_NO_UPN */
  char *anchor;    /* decoded from the DN */
  char *reference; /* "csexport:<file name>:<dn>" */
  char *note;      /* dn, object id and type, export error, and for other
                      verdicts than CSEXPORT_CANDIDATE why it is left out */
  unsigned line;   /* its <cs-object> line in the XML */
};

struct csexport_result {
  struct csexport_candidate *v; /* in file order */
  size_t n, cap;
  size_t objects;    /* every <cs-object> seen */
  size_t foreign;    /* cs-dn not CN={hex}: not an Entra connector object */
  size_t with_error; /* objects with an export error */
  size_t count[CSEXPORT_AMBIGUOUS + 1]; /* results per verdict */
};

/* csexport_import() parses the file at path (see csexport_parse()) and
 * fills res (zeroed before first use) with one result per object whose
 * cs-dn is CN={hex}; anchors must decode to want_len bytes
 * (ANCHOR_GUID_BYTES, or ANCHOR_ANY_LEN).  After the whole file is read,
 * candidates sharing a UPN (any case) or an anchor all become
 * CSEXPORT_AMBIGUOUS, so the candidates left never clash.  Returns as
 * csexport_parse(); on error res holds what was read so far. */
int csexport_import(const char *path, size_t want_len,
                    struct csexport_result *res, char *err, size_t errlen);

/* csexport_write_csv() writes res as a known-anchors CSV (see anchors.h:
 * header target,anchor,reference,expires), appended to b (the caller's):
 * a comment block naming
 * the source file and the counts, then for each result a "# " comment
 * line with its note, followed by the entry itself for a
 * CSEXPORT_CANDIDATE or a commented-out entry ("# LEFT OUT: ...")
 * otherwise.  source names the XML file in the header comment.  Returns
 * 0 or -ENOMEM. */
int csexport_write_csv(struct buf *b, const struct csexport_result *res,
                       const char *source);

/* csexport_result_clear() frees what res holds and zeroes it. */
void csexport_result_clear(struct csexport_result *res);

/* csexport_verdict_name() returns "candidate", "no-upn", "bad-anchor",
 * "mismatch" or "ambiguous". */
const char *csexport_verdict_name(enum csexport_verdict v);

#endif
