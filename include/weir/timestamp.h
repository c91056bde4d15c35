/* weir/timestamp.h: event times read from records, and their display.
 *
 * Event times are int64 milliseconds since 1970-01-01T00:00:00Z (negative before it). In input
 * a timestamp is an integer (ms since the epoch) or an RFC 3339 string (spec/pipeline.md).
 * All functions are pure: any thread may call them. */
#ifndef WEIR_TIMESTAMP_H
#define WEIR_TIMESTAMP_H

#include "weir/value.h"

#include <stddef.h>
#include <stdint.h>

/* Room for any text weir_timestamp_format writes, NUL included. */
#define WEIR_TIMESTAMP_MAX_LEN 40

/* The event time held by v, in ms since the epoch:
 *   - WEIR_TYPE_INT: the integer itself;
 *   - WEIR_TYPE_DOUBLE: accepted when it is a whole number within int64 (1.7e12 is fine, 1.5 is
 *     not);
 *   - WEIR_TYPE_STRING: RFC 3339 date-time (section 5.6), strictly:
 *     YYYY-MM-DD "T" hh:mm:ss [.fraction] ("Z" | +hh:mm | -hh:mm). 't' and 'z' may be lower
 *     case (RFC 3339 §5.6 note); a space instead of 'T', missing seconds, missing offset or
 *     surrounding whitespace are rejected. Month, day (leap years included), hour (00-23),
 *     minute (00-59), second (00-60) and offset (hours 00-23, minutes 00-59) are range checked.
 *     A fraction may have any number of digits; digits past the millisecond are dropped, i.e.
 *     the instant is truncated toward the earlier millisecond (also before 1970). Second 60
 *     (a leap second) is taken as the first second of the next minute (POSIX time has no leap
 *     seconds). "-00:00" means UTC.
 * Returns 0 and sets *out_ms, or WEIR_EPARSE with a message in errbuf (e.g.
 * `timestamp "2024-13-01T00:00:00Z" is neither an integer nor RFC 3339`, or `timestamp is
 * missing (null)`) and leaves *out_ms untouched. errbuf may be NULL when errlen is 0. */
int weir_timestamp_from_value(const weir_value *v, int64_t *out_ms, char *errbuf, size_t errlen);

/* Parses an RFC 3339 date-time s[0..len) as weir_timestamp_from_value does for strings.
 * 0 and *out_ms set, or WEIR_EPARSE (no message; *out_ms untouched). */
int weir_timestamp_parse_rfc3339(const char *s, size_t len, int64_t *out_ms);

/* Writes ms as RFC 3339 in UTC with milliseconds, "2024-01-02T03:04:05.006Z", NUL-terminated,
 * into out[0..n). Years outside 0000-9999 (beyond RFC 3339, only for display of extreme values)
 * are written with a sign and as many digits as needed ("+292278994-08-17T07:12:55.807Z").
 * Returns the length written (without the NUL), or WEIR_ERANGE when n is too small
 * (WEIR_TIMESTAMP_MAX_LEN always suffices; out then holds a truncated, NUL-terminated prefix
 * if n > 0). */
int weir_timestamp_format(int64_t ms, char *out, size_t n);

#endif
