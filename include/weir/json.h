/* weir/json.h: the JSON lines codec, reading records and writing them back.
 *
 * Reading. A source compiles the field paths its pipeline reads once (weir_json_fields_create),
 * then calls weir_json_parse_object on every line. The parser validates the WHOLE line strictly
 * per RFC 8259 (grammar, numbers, literals, escapes, UTF-8 inside strings, no trailing garbage,
 * at most WEIR_JSON_MAX_DEPTH nested containers) in a single pass, and extracts only the
 * requested fields: a malformed line is an error, never a silently altered record. Values point
 * into the line itself whenever they can (strings without escapes, nested objects and arrays as
 * raw text); only strings with escapes are decoded, into the caller's arena. No other memory is
 * allocated per line.
 *
 * Writing. Records are written as one JSON object per line (spec/pipeline.md "Output format"):
 * integers as integers, doubles with the fewest digits that read back to the same double and
 * always a '.' or an 'e', NaN and infinities as null, strings escaped per RFC 8259 (only '"',
 * '\' and U+0000..U+001F are escaped), nested JSON verbatim. An object can be merged with the
 * original text of the record it came from, so fields no transform read pass through unchanged.
 *
 * Numbers are converted with the C library (strtod, snprintf), which assumes the "C" numeric
 * locale: weir never calls setlocale, and a program embedding weir must not switch LC_NUMERIC
 * to a locale whose decimal point is not '.'.
 *
 * Threads: a weir_json_fields is immutable once created; any number of threads may parse with
 * the same one at the same time (each with its own out[] and arena). The write functions touch
 * only the buffer they are given. */
#ifndef WEIR_JSON_H
#define WEIR_JSON_H

#include "weir/arena.h"
#include "weir/buf.h"
#include "weir/value.h"

#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of objects and arrays a line may have (the top-level object counts as 1);
 * deeper lines are rejected with WEIR_EPARSE rather than risking the stack. */
#define WEIR_JSON_MAX_DEPTH 256

/* ---- reading ---- */

/* A compiled set of field paths (opaque). */
typedef struct weir_json_fields weir_json_fields;

/* Compiles n field paths. A path is a member name of the top-level object ("user") or a
 * dot-separated chain of names into nested objects ("a.b" is member b of the object that is
 * member a). Names are matched byte for byte after decoding escapes; a path cannot name a member
 * whose name contains '.', and every component must be non-empty. The same path may be given
 * twice (both columns receive the value). The paths are copied; the caller keeps its strings.
 * On success *out receives the set (free it with weir_json_fields_destroy) and 0 is returned;
 * otherwise *out is untouched and the result is WEIR_EINVAL (NULL paths, empty component) or
 * WEIR_ENOMEM. n may be 0 (the line is then only validated). */
int weir_json_fields_create(weir_json_fields **out, uint32_t n, const char *const *paths);
/* Frees a set; NULL is a no-op. */
void weir_json_fields_destroy(weir_json_fields *f);
/* Number of paths in the set. */
uint32_t weir_json_fields_count(const weir_json_fields *f);

/* Parses one JSON lines record: line[0..len) (without its newline; whitespace around the object,
 * including a trailing '\r', is allowed) must be exactly one JSON object. The line needs no NUL
 * terminator and no padding; nothing past line[len - 1] is read.
 *
 * On success returns 0 and sets out[i] (for i < weir_json_fields_count(f)) to the value at path
 * i, or WEIR_TYPE_NULL when the path is absent (or when something on the way is not an object).
 * When a member name repeats, the last occurrence wins. Types:
 *   - null, true/false: WEIR_TYPE_NULL, WEIR_TYPE_BOOL;
 *   - a number without fraction or exponent that fits int64: WEIR_TYPE_INT; any other number
 *     (fraction, exponent, or an integer outside int64): WEIR_TYPE_DOUBLE, correctly rounded
 *     (one too small for a double becomes 0 or a subnormal; one too large, beyond +-DBL_MAX,
 *     is a WEIR_EPARSE error when it is requested: it has no double, and an infinity would be
 *     written back as null; unrequested members are only validated and pass through as text);
 *   - a string: WEIR_TYPE_STRING, valid UTF-8; without escapes it points into line (borrowed:
 *     valid as long as line is), with escapes it is decoded into arena (\uXXXX surrogate pairs
 *     become one 4-byte UTF-8 sequence);
 *   - an object or array: WEIR_TYPE_JSON, its raw text pointing into line.
 *
 * On a malformed line returns WEIR_EPARSE, writes "column N: what was expected, found what" into
 * errbuf (N is the 1-based byte offset in line of the offending byte) and leaves the content of
 * out[] unspecified. WEIR_ENOMEM when the arena cannot hold a decoded string; WEIR_ERANGE when
 * len >= 4 GiB. errbuf may be NULL when errlen is 0.
 *
 * Thread-safety: see the file comment. */
int weir_json_parse_object(const weir_json_fields *f, const char *line, size_t len, weir_value *out,
                           weir_arena *arena, char *errbuf, size_t errlen);
/* The same, and on success *compact says whether the object has no whitespace around it or
 * between its members: weir_json_write_object writes such a line, with n = 0, unchanged (the
 * writers then pass the text on as it is, weir_raw.compact). */
int weir_json_parse_object_compact(const weir_json_fields *f, const char *line, size_t len,
                                   weir_value *out, weir_arena *arena, char *errbuf, size_t errlen,
                                   bool *compact);

/* ---- writing ----
 * Every writer appends to b and returns 0, or WEIR_ENOMEM (b then keeps its previous length:
 * nothing partial is left behind), or WEIR_EPARSE / WEIR_EINVAL as stated. */

/* s[0..len) as a quoted JSON string. '"' and '\' are escaped, U+0000..U+001F as \b \t \n \f \r
 * or \u00XX; every other byte (including non-ASCII UTF-8) is copied unchanged: the caller
 * provides valid UTF-8. */
int weir_json_write_string(weir_buf *b, const char *s, size_t len);

/* d with the fewest significant digits that strtod reads back to the same double (the digits
 * and the layout of Python's repr(float)): fixed notation when the decimal exponent is in
 * [-4, 16), e.g. "2.0", "0.1", "-0.0", "100.0", "0.0001", "1e+16" is scientific; otherwise
 * scientific with at least two exponent digits: "1e+300", "1.5e-07", "5e-324". The text always
 * contains '.' or 'e'. NaN and +-infinity are written as null. */
int weir_json_write_double(weir_buf *b, double d);

/* A value: null, true/false, integers as integers, doubles as weir_json_write_double, strings as
 * weir_json_write_string, WEIR_TYPE_JSON verbatim (the caller guarantees it is valid JSON).
 * WEIR_TYPE_BYTES become a JSON string: well-formed UTF-8 sequences are copied, '"', '\' and
 * control characters are escaped as for strings, and each byte that is not part of well-formed
 * UTF-8 is written as \u00XX (the byte read as Latin-1), so the output stays valid JSON.
 * WEIR_EINVAL for WEIR_TYPE_ANY or an unknown type. */
int weir_json_write_value(weir_buf *b, const weir_value *v);

/* One object and a '\n'. Without raw (NULL): {"names[0]":values[0],...} in order. With raw (the
 * text of a JSON object, as weir_json_parse_object accepted it; whitespace around it allowed):
 * raw's members first, in their original order, each member's name and value text copied
 * unchanged (whitespace between members is normalised away), except the members whose name
 * (after decoding escapes) equals one of names[]; then the n named fields. WEIR_EPARSE if raw is
 * not an object (nothing is appended). n may be 0. */
int weir_json_write_object(weir_buf *b, uint32_t n, char *const *names, const weir_value *values,
                           const char *raw, size_t raw_len);

/* Member names encoded once, for a writer of many objects with the same names (a sink): each
 * name's ,"name": with the escapes, so that a row does not scan and escape them again. */
typedef struct weir_json_names {
    uint32_t n;
    char *text;   /* the n encodings, one after the other */
    uint32_t *at; /* [n + 1]: encoding i is text[at[i], at[i + 1]) */
} weir_json_names;

/* A writer's encodings of the names it writes (a sink's): those of one names array (a schema's,
 * which outlives the writer), made again when it writes another. */
typedef struct weir_json_names_cache {
    char *const *names;
    uint32_t n;
    weir_json_names jn;
} weir_json_names_cache;
/* weir_json_write_object(b, n, names, values, raw, raw_len), with the names' encodings from the
 * cache (made on first use). */
int weir_json_write_object_cached(weir_buf *b, weir_json_names_cache *c, uint32_t n,
                                  char *const *names, const weir_value *values, const char *raw,
                                  size_t raw_len);
void weir_json_names_cache_finish(weir_json_names_cache *c);

#endif
