/* SPDX-License-Identifier: MIT
 *
 * jsonx: typed members of cJSON objects, read and written the same way
 * by every file that holds JSON (the state file, the journal, alert
 * lines, Graph and token answers).
 *
 * Reading.  The jsonx_get_*() functions look member name up in obj (case
 * sensitive; obj may be NULL, and then every member is absent).  An
 * absent member and a JSON null are both "not there": the function
 * returns 0 and sets *out to the empty value (NULL, JSONX_UNSET or 0),
 * so a caller that needs the member checks that value.  A member of
 * another type gives -EBADMSG; a number outside the range asked for, or
 * with a fraction where a whole number is wanted, -ERANGE; a string that
 * is not an ISO 8601 date-time, -EINVAL.  On every error *out holds the
 * empty value too.  Nothing is logged: the caller names the file, line
 * or member in its own message.
 *
 * Writing.  The jsonx_add_*() functions add one member to obj, which then
 * owns it, and return 0, or -ENOMEM with obj unchanged.  A NULL string,
 * a JSONX_UNSET boolean and a 0 time are written as JSON null, never
 * left out, so a reader sees every member the writer knows.  A caller
 * that must leave a member out simply does not add it.
 */
#ifndef QD_JSONX_H
#define QD_JSONX_H

#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

/* A boolean that is not there (absent or null), for jsonx_get_bool()
 * and jsonx_add_bool(). */
#define JSONX_UNSET (-1)

/* jsonx_str() returns the string member name of obj, borrowed from obj,
 * or NULL when it is absent or not a string.  For lenient readers of
 * foreign documents (error bodies, paging links), where a member of the
 * wrong type counts as absent. */
const char *jsonx_str(const cJSON *obj, const char *name);

/* jsonx_get_str() sets *out to the string member name of obj, borrowed:
 * it lives as long as obj.  Empty value NULL. */
int jsonx_get_str(const cJSON *obj, const char *name, const char **out);

/* jsonx_get_strdup() sets *out to a malloc'd copy of the string member
 * name of obj; the caller frees it.  Empty value NULL; -ENOMEM when out
 * of memory. */
int jsonx_get_strdup(const cJSON *obj, const char *name, char **out);

/* jsonx_get_bool() sets *out to 1 (true) or 0 (false) from the boolean
 * member name of obj.  Empty value JSONX_UNSET. */
int jsonx_get_bool(const cJSON *obj, const char *name, int *out);

/* jsonx_get_int() sets *out to the number member name of obj, which must
 * be a whole number from min to max.  The range is checked on the double
 * cJSON holds before it is converted, so 8.9e125, 1e999 (infinity) or a
 * NaN give -ERANGE, never an undefined conversion.  Empty value 0. */
int jsonx_get_int(const cJSON *obj, const char *name, long long min,
                  long long max, long long *out);

/* jsonx_int_value() is jsonx_get_int() for a value that is not an object
 * member, such as an array element; v may be NULL (not there). */
int jsonx_int_value(const cJSON *v, long long min, long long max,
                    long long *out);

/* jsonx_get_time() sets *out to the ISO 8601 date-time string member name
 * of obj, read with timex_parse_iso().  Empty value 0. */
int jsonx_get_time(const cJSON *obj, const char *name, time_t *out);

/* jsonx_get_array() and jsonx_get_object() set *out to the array or
 * object member name of obj, borrowed from obj.  Empty value NULL. */
int jsonx_get_array(const cJSON *obj, const char *name, const cJSON **out);
int jsonx_get_object(const cJSON *obj, const char *name, const cJSON **out);

/* jsonx_add_str() adds name: "s" (copied), or name: null when s is
 * NULL. */
int jsonx_add_str(cJSON *obj, const char *name, const char *s);

/* jsonx_add_bool() adds name: true (v > 0), false (v == 0), or null (v
 * negative, as JSONX_UNSET is). */
int jsonx_add_bool(cJSON *obj, const char *name, int v);

/* jsonx_add_number() adds name: v. */
int jsonx_add_number(cJSON *obj, const char *name, double v);

/* jsonx_add_time() adds name: "2022-06-27T10:29:29Z" (timex_format_iso()),
 * or name: null when t is 0. */
int jsonx_add_time(cJSON *obj, const char *name, time_t t);

/* jsonx_print_line() returns v printed without white space and ended by
 * a newline, as one line of a JSON-lines file, malloc'd (the caller
 * frees it), or NULL when out of memory.  When len is not NULL it is set
 * to the length with the newline. */
char *jsonx_print_line(const cJSON *v, size_t *len);

#endif
