/* SPDX-License-Identifier: MIT
 *
 * jsonx: typed get and add helpers over cJSON.  Each getter first finds
 * the member (member()), which folds "absent" and "null" into one case,
 * then checks the type; each adder creates the item and links it in one
 * step, freeing it when the link fails.
 */
#include "jsonx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timex.h"

/* member() returns the member name of obj, or NULL when it is absent or
 * a JSON null. */
static const cJSON *member(const cJSON *obj, const char *name)
{
  const cJSON *m = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;

  return m && !cJSON_IsNull(m) ? m : NULL;
}

/* typed() sets *out to the member name of obj when is() accepts its
 * type, or to NULL when it is not there.  Returns 0, or -EBADMSG (*out
 * NULL) for another type. */
static int typed(const cJSON *obj, const char *name,
                 cJSON_bool (*is)(const cJSON *), const cJSON **out)
{
  const cJSON *m = member(obj, name);

  *out = NULL;
  if(m && !is(m))
    return -EBADMSG;
  *out = m;
  return 0;
}

const char *jsonx_str(const cJSON *obj, const char *name)
{
  return cJSON_GetStringValue(member(obj, name));
}

int jsonx_get_str(const cJSON *obj, const char *name, const char **out)
{
  const cJSON *m;
  int rc = typed(obj, name, cJSON_IsString, &m);

  *out = m ? m->valuestring : NULL;
  return m && !*out ? -EBADMSG : rc;
}

int jsonx_get_strdup(const cJSON *obj, const char *name, char **out)
{
  const char *s;
  int rc = jsonx_get_str(obj, name, &s);

  *out = NULL;
  if(rc || !s)
    return rc;
  *out = strdup(s);
  return *out ? 0 : -ENOMEM;
}

int jsonx_get_bool(const cJSON *obj, const char *name, int *out)
{
  const cJSON *m;
  int rc = typed(obj, name, cJSON_IsBool, &m);

  *out = m ? cJSON_IsTrue(m) != 0 : JSONX_UNSET;
  return rc;
}

int jsonx_int_value(const cJSON *v, long long min, long long max,
                    long long *out)
{
  long long n;
  double d;

  *out = 0;
  if(!v || cJSON_IsNull(v))
    return 0;
  if(!cJSON_IsNumber(v))
    return -EBADMSG;
  d = v->valuedouble;
  /* Converting a double outside long long's range is undefined, so the
   * range comes first, on the double: -2^63 is LLONG_MIN exactly, 2^63 is
   * one past LLONG_MAX.  A NaN fails both comparisons. */
  if(!(d >= -0x1p63 && d < 0x1p63))
    return -ERANGE;
  n = (long long)d;
  if((double)n != d || n < min || n > max)
    return -ERANGE;
  *out = n;
  return 0;
}

int jsonx_get_int(const cJSON *obj, const char *name, long long min,
                  long long max, long long *out)
{
  return jsonx_int_value(member(obj, name), min, max, out);
}

int jsonx_get_time(const cJSON *obj, const char *name, time_t *out)
{
  const char *s;
  int rc = jsonx_get_str(obj, name, &s);

  *out = 0;
  if(rc || !s)
    return rc;
  if(timex_parse_iso(s, out)) {
    *out = 0;
    return -EINVAL;
  }
  return 0;
}

int jsonx_get_array(const cJSON *obj, const char *name, const cJSON **out)
{
  return typed(obj, name, cJSON_IsArray, out);
}

int jsonx_get_object(const cJSON *obj, const char *name, const cJSON **out)
{
  return typed(obj, name, cJSON_IsObject, out);
}

/* add() links item v (NULL when its creation failed) into obj, or frees
 * it.  Returns 0 or -ENOMEM. */
static int add(cJSON *obj, const char *name, cJSON *v)
{
  if(!v || !cJSON_AddItemToObject(obj, name, v)) {
    cJSON_Delete(v);
    return -ENOMEM;
  }
  return 0;
}

int jsonx_add_str(cJSON *obj, const char *name, const char *s)
{
  return add(obj, name, s ? cJSON_CreateString(s) : cJSON_CreateNull());
}

int jsonx_add_bool(cJSON *obj, const char *name, int v)
{
  return add(obj, name, v < 0 ? cJSON_CreateNull() : cJSON_CreateBool(v > 0));
}

int jsonx_add_number(cJSON *obj, const char *name, double v)
{
  return add(obj, name, cJSON_CreateNumber(v));
}

int jsonx_add_time(cJSON *obj, const char *name, time_t t)
{
  char buf[TIMEX_ISO_LEN];

  if(!t)
    return jsonx_add_str(obj, name, NULL);
  timex_format_iso(t, buf, sizeof(buf));
  return jsonx_add_str(obj, name, buf);
}

char *jsonx_print_line(const cJSON *v, size_t *len)
{
  char *text = cJSON_PrintUnformatted(v), *line;
  size_t n;

  if(!text)
    return NULL;
  /* cJSON_PrintUnformatted() leaves no room for the newline: copy. */
  n = strlen(text);
  line = malloc(n + 2);
  if(line) {
    memcpy(line, text, n);
    line[n++] = '\n';
    line[n] = '\0';
    if(len)
      *len = n;
  }
  cJSON_free(text);
  return line;
}
