/* SPDX-License-Identifier: MIT
 *
 * secret: reads a client secret or a private key from a file or from a
 * systemd credential ($CREDENTIALS_DIRECTORY, LoadCredential=).  Files are
 * refused unless they are regular, owned by root or us, and closed to
 * "other" and to group writes.  Buffers are wiped when freed.
 */
#ifndef QD_SECRET_H
#define QD_SECRET_H

#include <stddef.h>
#include <sys/types.h>

/* Size limits for secret_read_file()'s max argument. */
#define SECRET_MAX_SECRET (64u * 1024u) /* a client secret */
#define SECRET_MAX_KEY (1024u * 1024u)  /* a PEM private key */

/* secret_read_file() reads the file at path, which must be a regular file
 * (symlinks are refused), owned by root or the effective uid, with no
 * permission for "other" and no write permission for group (0600, 0400,
 * 0640 and 0440 are fine).  At most max bytes are accepted (0 means
 * SECRET_MAX_SECRET).  Trailing whitespace is stripped.
 *
 * On success it returns 0, *out owns a NUL-terminated buffer of *len bytes
 * (without the NUL) which the caller releases with secret_free(*out,
 * *len).  An empty secret is an error.
 *
 * On failure it returns -EPERM (unsafe owner or mode), -EINVAL (not a
 * regular file, empty), -ELOOP (a symlink), -EFBIG (over max), -ENOMEM or
 * the errno of open/read; *out and *len are untouched.  A one-line message
 * naming the path (and the mode or owner when that is the problem) is
 * written to err (errlen bytes) when err is not NULL, and logged with
 * log_errx() when it is NULL.  The secret itself never appears in it. */
int secret_read_file(const char *path, size_t max, char **out, size_t *len,
                     char *err, size_t errlen);

/* secret_read_file_for() is secret_read_file() for a file the daemon will
 * read as user owner: the file may belong to root or to owner.  For
 * `quarantined -n` run by root on behalf of the service user. */
int secret_read_file_for(const char *path, size_t max, uid_t owner, char **out,
                         size_t *len, char *err, size_t errlen);

/* secret_read_credential() reads the systemd credential called name, i.e.
 * $CREDENTIALS_DIRECTORY/name, with the same checks and results as
 * secret_read_file() (systemd makes these files 0400 and owned by the
 * service user).  name must be non-empty, must not contain '/' and must
 * not be "." or ".." (-EINVAL).  When $CREDENTIALS_DIRECTORY is unset it
 * returns -ENOENT and says to use LoadCredential= in the unit. */
int secret_read_credential(const char *name, size_t max, char **out,
                           size_t *len, char *err, size_t errlen);

/* secret_free() overwrites len bytes of s (and its NUL) with
 * explicit_bzero() and frees it.  NULL is a no-op. */
void secret_free(char *s, size_t len);

#endif
