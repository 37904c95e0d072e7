/* SPDX-License-Identifier: MIT
 *
 * timex: time as text, read and written in one place.  ISO 8601 /
 * RFC 3339 date-times (what Graph sends, and what the state file, the
 * journal, the suggestions file and alerts hold), the RFC 9110 HTTP-date
 * of a Retry-After header, and durations as the configuration file
 * writes them ("90s", "5m", "2h", "1d").  Every function is pure: no
 * state, nothing logged, UTC only (the local time zone is never used).
 * The caller owns every buffer; nothing is allocated here.
 */
#ifndef QD_TIMEX_H
#define QD_TIMEX_H

#include <stddef.h>
#include <time.h>

/* Room for any date-time timex_format_iso() or timex_format_iso_ms()
 * writes, with its NUL. */
#define TIMEX_ISO_LEN 32

/* timex_parse_iso() parses an ISO 8601 / RFC 3339 date-time such as
 * 2022-06-27T10:29:29.0922053Z: "T" (or "t") between date and time, 1 to
 * 7 fractional digits (Graph sends up to 7; they are dropped), then "Z"
 * (or "z") or an offset +hh:mm / -hh:mm; with no zone at all the time is
 * taken as UTC.  The day must exist in its month (2024-02-29 does,
 * 2023-02-29 does not); second 60 (a leap second) is accepted and counts
 * as the next minute's first.  Returns 0 and sets *out, or -EINVAL with
 * *out untouched. */
int timex_parse_iso(const char *s, time_t *out);

/* timex_parse_date() parses a calendar date YYYY-MM-DD (a day that
 * exists), nothing before or after it, into the start of that day in
 * UTC.  Returns 0 and sets *out, or -EINVAL with *out untouched. */
int timex_parse_date(const char *s, time_t *out);

/* timex_parse_http_date() parses an RFC 9110 IMF-fixdate such as
 * "Wed, 21 Oct 2015 07:28:00 GMT".  Returns 0 and sets *out, or -EINVAL
 * with *out untouched. */
int timex_parse_http_date(const char *s, time_t *out);

/* timex_format_iso() writes t as "2022-06-27T10:29:29Z" into buf, which
 * holds len bytes (TIMEX_ISO_LEN is enough); "invalid" when t cannot be
 * written. */
void timex_format_iso(time_t t, char *buf, size_t len);

/* timex_format_iso_ms() writes ts as "2022-06-27T10:29:29.123Z"
 * (milliseconds, truncated) into buf of len bytes (TIMEX_ISO_LEN is
 * enough); "invalid" when it cannot be written. */
void timex_format_iso_ms(const struct timespec *ts, char *buf, size_t len);

/* timex_format_iso_basic() writes t in the ISO 8601 basic format
 * "20220627T102929Z", which needs no character a file name must avoid,
 * into buf of len bytes (TIMEX_ISO_LEN is enough); "invalid" when t
 * cannot be written. */
void timex_format_iso_basic(time_t t, char *buf, size_t len);

/* timex_parse_duration() parses a duration as the configuration writes
 * it: a decimal number of seconds with at most one suffix, s, m, h or d
 * ("90", "90s", "5m", "2h", "1d").  Returns 0 and sets *secs; -EINVAL for
 * other text (a sign, a space, "1h30m", "1w"); -ERANGE when it does not
 * fit.  *secs is untouched on error. */
int timex_parse_duration(const char *s, unsigned long long *secs);

/* timex_format_duration() writes secs exactly, in the largest unit that
 * divides it: "1d", "2h", "5m", "90s" ("0s" for 0), into buf of len
 * bytes (24 is enough).  timex_parse_duration() reads it back. */
void timex_format_duration(unsigned long long secs, char *buf, size_t len);

/* timex_format_span() writes secs (not negative) rounded down to its two
 * largest units ("45s", "12m 5s", "1h", "3d 4h"), for messages a person
 * reads, into buf of len bytes (32 is enough) and returns buf. */
char *timex_format_span(long secs, char *buf, size_t len);

#endif
