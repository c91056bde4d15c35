/* tests/test_json.c: the JSON lines codec (connectors/json_read.c, json_write.c) and event-time
 * parsing (connectors/timestamp.c).
 *
 * Expected values come from the RFCs (8259 for JSON, 3339 for timestamps), from hand-counted
 * columns, from hand-computed day counts, and for doubles from properties checked independently
 * of the writer (bit-exact read-back with strtod; no decimal with one digit fewer reads back),
 * never from this code's own output. */
#include "weir/error.h"
#include "weir/json.h"
#include "weir/timestamp.h"

#include <criterion/criterion.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static weir_arena arena;
static char err[256];
static weir_value out[16];

static void setup(void)
{
    weir_arena_init(&arena, 0);
    err[0] = 0;
}

static void teardown(void)
{
    weir_arena_finish(&arena);
}

/* Parses line (of len bytes) extracting n paths into out[]. */
static int parse_n(uint32_t n, const char *const *paths, const char *line, size_t len)
{
    weir_json_fields *f = NULL;
    cr_assert_eq(weir_json_fields_create(&f, n, paths), 0);
    for (int i = 0; i < 16; i++) out[i] = weir_value_int(12345); /* must be overwritten */
    int rc = weir_json_parse_object(f, line, len, out, &arena, err, sizeof err);
    weir_json_fields_destroy(f);
    return rc;
}

#define PATHS(...)                                                                                 \
    (const char *const[])                                                                          \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
#define NPATHS(...)      (uint32_t)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define PARSE(line, ...) parse_n(NPATHS(__VA_ARGS__), PATHS(__VA_ARGS__), line, strlen(line))

static void assert_str(const weir_value *v, const char *s, size_t len)
{
    cr_assert_eq(v->type, WEIR_TYPE_STRING, "type %s", weir_type_name((weir_type)v->type));
    cr_assert_eq(v->len, len, "len %u, expected %zu", v->len, len);
    cr_assert(memcmp(v->as.s, s, len) == 0, "got \"%.*s\"", (int)v->len, v->as.s);
}
#define ASSERT_STR(v, lit) assert_str(v, lit, sizeof(lit) - 1)

static void assert_json(const weir_value *v, const char *s)
{
    cr_assert_eq(v->type, WEIR_TYPE_JSON, "type %s", weir_type_name((weir_type)v->type));
    cr_assert_eq(v->len, strlen(s));
    cr_assert(memcmp(v->as.s, s, v->len) == 0, "got %.*s", (int)v->len, v->as.s);
}

static void assert_int(const weir_value *v, int64_t i)
{
    cr_assert_eq(v->type, WEIR_TYPE_INT, "type %s", weir_type_name((weir_type)v->type));
    cr_assert_eq(v->as.i, i, "got %lld", (long long)v->as.i);
}

static void assert_double(const weir_value *v, double d)
{
    cr_assert_eq(v->type, WEIR_TYPE_DOUBLE, "type %s", weir_type_name((weir_type)v->type));
    cr_assert(memcmp(&v->as.d, &d, sizeof d) == 0, "got %.17g, expected %.17g", v->as.d, d);
}

/* The line must fail with WEIR_EPARSE and a message starting with prefix. */
static void assert_bad(const char *line, size_t len, const char *prefix)
{
    int rc = parse_n(1, PATHS("a"), line, len);
    cr_assert_eq(rc, WEIR_EPARSE, "%s: rc %d (%s)", line, rc, weir_err_name(rc));
    cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "%s: got \"%s\", expected \"%s...\"", line,
              err, prefix);
}
#define BAD(line, prefix) assert_bad(line, strlen(line), prefix)

TestSuite(json, .init = setup, .fini = teardown);

/* ---- reading: strings ---- */

Test(json, short_escapes)
{
    const char *line = "{\"s\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}";
    cr_assert_eq(PARSE(line, "s"), 0, "%s", err);
    ASSERT_STR(&out[0], "a\"b\\c/d\be\ff\ng\rh\ti");
    /* decoded into the arena, not the line */
    cr_assert(out[0].as.s < line || out[0].as.s >= line + strlen(line));
}

Test(json, unicode_escapes)
{
    cr_assert_eq(PARSE("{\"s\":\"\\u0041\\u00e9\\u20AC\\u0000x\"}", "s"), 0, "%s", err);
    ASSERT_STR(&out[0], "A\xC3\xA9\xE2\x82\xAC\0x"); /* U+00E9, U+20AC, U+0000 */
    /* U+1F600 as a surrogate pair: D83D DE00 */
    cr_assert_eq(PARSE("{\"s\":\"<\\ud83d\\uDE00>\"}", "s"), 0, "%s", err);
    ASSERT_STR(&out[0], "<\xF0\x9F\x98\x80>");
    /* U+10FFFF: DBFF DFFF */
    cr_assert_eq(PARSE("{\"s\":\"\\uDBFF\\uDFFF\"}", "s"), 0, "%s", err);
    ASSERT_STR(&out[0], "\xF4\x8F\xBF\xBF");
}

Test(json, surrogate_errors)
{
    /* {"a":"\ud800"}: the backslash is column 7 */
    BAD("{\"a\":\"\\ud800\"}", "column 7: invalid \\u escape in string: high surrogate");
    BAD("{\"a\":\"\\udc00\"}", "column 7: invalid \\u escape in string: lone low surrogate");
    BAD("{\"a\":\"\\ud800\\u0041\"}", "column 7: invalid \\u escape");
    BAD("{\"a\":\"\\ud800x\"}", "column 7: invalid \\u escape");
    BAD("{\"a\":\"x\\uD83D\"}", "column 8: invalid \\u escape");
    BAD("{\"a\":\"\\u12g4\"}", "column 7: invalid \\u escape in string: expected 4 hex digits");
    BAD("{\"a\":\"\\u12\"}", "column 7: invalid \\u escape in string: expected 4 hex digits");
    BAD("{\"a\":\"\\x\"}", "column 7: invalid escape in string");
    BAD("{\"a\":\"\\'\"}", "column 7: invalid escape in string");
    /* a lone surrogate in a member nobody reads is an error too */
    BAD("{\"zz\":\"\\ud800\",\"a\":1}", "column 8: invalid \\u escape");
}

Test(json, control_characters)
{
    BAD("{\"a\":\"a\tb\"}", "column 8: control character U+0009 in string");
    BAD("{\"a\":\"ab\n\"}", "column 9: control character U+000A in string");
    BAD("{\"a\":\"\x1f\"}", "column 7: control character U+001F in string");
    assert_bad("{\"a\":\"\0\"}", 9, "column 7: control character U+0000 in string");
    /* in a key, and in a skipped member */
    BAD("{\"k\x01\":1}", "column 4: control character U+0001");
    BAD("{\"b\":[\"\x7f\", \"\x02\"]}", "column 13: control character U+0002");
    /* DEL (0x7F) is not a control character for JSON */
    cr_assert_eq(PARSE("{\"a\":\"\x7f\"}", "a"), 0, "%s", err);
    ASSERT_STR(&out[0], "\x7f");
}

Test(json, unicode_pass_through_zero_copy)
{
    const char *line = "{\"s\":\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\",\"t\":\"plain\"}";
    cr_assert_eq(PARSE(line, "s", "t"), 0, "%s", err);
    ASSERT_STR(&out[0], "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
    cr_assert_eq(out[0].as.s, line + 6); /* points into the line */
    ASSERT_STR(&out[1], "plain");
    cr_assert_eq(out[1].as.s, strstr(line, "plain"));
}

Test(json, invalid_utf8)
{
    BAD("{\"a\":\"\xFF\"}", "column 7: invalid UTF-8 in string");
    BAD("{\"a\":\"ab\x80\"}", "column 9: invalid UTF-8");           /* lone continuation byte */
    BAD("{\"a\":\"\xC0\xAF\"}", "column 7: invalid UTF-8");         /* overlong '/' */
    BAD("{\"a\":\"\xE0\x80\xAF\"}", "column 7: invalid UTF-8");     /* overlong, 3 bytes */
    BAD("{\"a\":\"\xED\xA0\x80\"}", "column 7: invalid UTF-8");     /* U+D800 encoded */
    BAD("{\"a\":\"\xF4\x90\x80\x80\"}", "column 7: invalid UTF-8"); /* U+110000 */
    BAD("{\"a\":\"\xE2\x82\"}", "column 7: invalid UTF-8");         /* truncated */
    BAD("{\"a\":\"\xF5\x80\x80\x80\"}", "column 7: invalid UTF-8");
    /* non-ASCII outside strings */
    BAD("{\"a\":\xC3\xA9}", "column 6: expected a value, found byte 0xC3");
    /* the longest line-end cases of the 8-byte scanner: a valid 4-byte sequence ending the
     * string at every alignment */
    for (int pad = 0; pad < 10; pad++) {
        char line[64];
        int n = snprintf(line, sizeof line, "{\"a\":\"%.*s\xF0\x9F\x98\x80\"}", pad,
                         "xxxxxxxxxxxxxxxx");
        cr_assert_eq(parse_n(1, PATHS("a"), line, (size_t)n), 0, "%s", err);
        cr_assert_eq(out[0].len, (uint32_t)pad + 4);
    }
}

Test(json, unterminated_string)
{
    /* {"a":"abc is 9 bytes: the end of the line is column 10 */
    BAD("{\"a\":\"abc", "column 10: unterminated string (it starts at column 6)");
    BAD("{\"a\":\"abc\\\"", "column 12: unterminated string");
    BAD("{\"a", "column 4: unterminated string (it starts at column 2)");
}

/* ---- reading: numbers ---- */

Test(json, integers_stay_integers)
{
    const char *line = "{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":0,\"d\":-0,"
                       "\"e\":123,\"f\":-45,\"g\":1000000000000000000}";
    cr_assert_eq(PARSE(line, "a", "b", "c", "d", "e", "f", "g"), 0, "%s", err);
    assert_int(&out[0], INT64_MAX);
    assert_int(&out[1], INT64_MIN);
    assert_int(&out[2], 0);
    assert_int(&out[3], 0);
    assert_int(&out[4], 123);
    assert_int(&out[5], -45);
    assert_int(&out[6], 1000000000000000000);
}

Test(json, integer_overflow_becomes_double)
{
    const char *line = "{\"a\":9223372036854775808,\"b\":-9223372036854775809,"
                       "\"c\":18446744073709551616,\"d\":100000000000000000000000,"
                       "\"e\":123456789012345678901234567890}";
    cr_assert_eq(PARSE(line, "a", "b", "c", "d", "e"), 0, "%s", err);
    assert_double(&out[0], 9223372036854775808.0);
    assert_double(&out[1], -9223372036854775808.0); /* 2^63 + 1 rounds to 2^63 */
    assert_double(&out[2], 18446744073709551616.0);
    assert_double(&out[3], 1e23); /* the correctly rounded 10^23, not 1e22 * 10 */
    assert_double(&out[4], 123456789012345678901234567890.0);
}

Test(json, doubles)
{
    const char *line = "{\"a\":0.1,\"b\":1e300,\"c\":5e-324,\"d\":1.7976931348623157e308,"
                       "\"e\":-0.0,\"f\":2.0,\"g\":123456789012345680000.0,\"h\":1E2,\"i\":1e-2,"
                       "\"j\":-1.5E+3,\"k\":2.2250738585072011e-308,\"l\":0.000001,"
                       "\"o\":1e-400}";
    cr_assert_eq(PARSE(line, "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "o"), 0,
                 "%s", err);
    assert_double(&out[0], 0.1);
    assert_double(&out[1], 1e300);
    assert_double(&out[2], 5e-324);
    assert_double(&out[3], DBL_MAX);
    assert_double(&out[4], -0.0);
    assert_double(&out[5], 2.0);
    assert_double(&out[6], 123456789012345680000.0);
    assert_double(&out[7], 100.0);
    assert_double(&out[8], 0.01);
    assert_double(&out[9], -1500.0);
    assert_double(&out[10], 2.2250738585072011e-308);
    assert_double(&out[11], 1e-6);
    assert_double(&out[12], 0.0); /* underflow */
    /* beyond the largest double: refused when requested, passed through when not */
    BAD("{\"a\":1e400}", "column 6: number out of range");
    BAD("{\"a\":-1.8e308}", "column 6: number out of range");
    cr_assert_eq(PARSE("{\"a\":1,\"b\":1e400}", "a"), 0, "%s", err);
    assert_int(&out[0], 1);
}

Test(json, doubles_halfway_cases)
{
    /* 1 + 2^-53 exactly is halfway between 1 and its successor: ties to even (1.0); one more
     * digit tips it up */
    cr_assert_eq(PARSE("{\"a\":1.00000000000000011102230246251565404236316680908203125,"
                       "\"b\":1.00000000000000011102230246251565404236316680908203126,"
                       "\"c\":9007199254740993,\"d\":9007199254740993.0}",
                       "a", "b", "c", "d"),
                 0, "%s", err);
    assert_double(&out[0], 1.0);
    assert_double(&out[1], nextafter(1.0, 2.0));
    assert_int(&out[2], 9007199254740993); /* an integer stays exact */
    assert_double(&out[3], 9007199254740992.0);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double random_double(void)
{
    for (;;) {
        uint64_t bits = rng();
        double d;
        memcpy(&d, &bits, 8);
        if (isfinite(d)) return d;
    }
}

Test(json, doubles_agree_with_strtod)
{
    /* numbers in many spellings, read by the parser and by strtod */
    static const char *const fmts[] = {"%.17g", "%.15g", "%.3g", "%.6e", "%.20e", "%.1f", "%.30f"};
    rng_state = 42;
    for (int i = 0; i < 100000; i++) {
        double d = random_double();
        if (i % 2) d = (double)(int64_t)(rng() % 2000000001) / pow(10, (double)(rng() % 25));
        char num[512], line[600];
        snprintf(num, sizeof num, fmts[i % 7], d);
        if (!strchr(num, '.') && !strchr(num, 'e')) continue; /* an integer: tested elsewhere */
        if (isinf(strtod(num, NULL))) continue;               /* refused: tested elsewhere */
        int n = snprintf(line, sizeof line, "{\"a\":%s}", num);
        cr_assert_eq(parse_n(1, PATHS("a"), line, (size_t)n), 0, "%s: %s", num, err);
        assert_double(&out[0], strtod(num, NULL));
    }
}

Test(json, number_errors)
{
    BAD("{\"a\":01}", "column 6: invalid number: leading zeros are not allowed");
    BAD("{\"a\":-01}", "column 7: invalid number: leading zeros");
    BAD("{\"a\":00.5}", "column 6: invalid number: leading zeros");
    BAD("{\"a\":1.}", "column 8: expected a digit after the decimal point, found '}'");
    BAD("{\"a\":1.e5}", "column 8: expected a digit after the decimal point, found 'e'");
    BAD("{\"a\":.5}", "column 6: expected a value, found '.'");
    BAD("{\"a\":-}", "column 7: expected a digit after '-', found '}'");
    BAD("{\"a\":-", "column 7: expected a digit after '-', found end of line");
    BAD("{\"a\":--1}", "column 7: expected a digit after '-', found '-'");
    BAD("{\"a\":+1}", "column 6: expected a value, found '+'");
    BAD("{\"a\":1e}", "column 8: expected a digit in the exponent, found '}'");
    BAD("{\"a\":1e+}", "column 9: expected a digit in the exponent");
    BAD("{\"a\":0x10}", "column 7: expected ',' or '}' after object member, found 'x'");
    BAD("{\"a\":1.5.2}", "column 9: expected ',' or '}' after object member, found '.'");
    BAD("{\"a\":NaN}", "column 6: expected a value, found 'N'");
    BAD("{\"a\":Infinity}", "column 6: expected a value, found 'I'");
    /* in skipped members too */
    BAD("{\"x\":[1,01]}", "column 9: invalid number: leading zeros");
    BAD("{\"x\":{\"y\":1.}}", "column 13: expected a digit after the decimal point");
}

/* ---- reading: structure ---- */

Test(json, structure_errors)
{
    /* {"a":1 : 6 bytes, end of line is column 7 */
    BAD("{\"a\":1", "column 7: expected ',' or '}' after object member, found end of line");
    BAD("{", "column 2: expected a string key or '}', found end of line");
    BAD("{\"a\":", "column 6: expected a value, found end of line");
    BAD("{\"a\"", "column 5: expected ':' after object key, found end of line");
    BAD("{\"a\":1,}", "column 8: expected a string key after ',', found '}'");
    BAD("{\"a\":1,,\"b\":2}", "column 8: expected a string key after ','");
    BAD("{\"a\" 1}", "column 6: expected ':' after object key, found '1'");
    BAD("{\"user\":\"bob\",\"amount\" 5}", "column 24: expected ':' after object key, found '5'");
    BAD("{\"a\"=1}", "column 5: expected ':' after object key, found '='");
    BAD("{\"a\":1 \"b\":2}", "column 8: expected ',' or '}' after object member, found '\"'");
    BAD("{a:1}", "column 2: expected a string key or '}', found 'a'");
    BAD("{'a':1}", "column 2: expected a string key or '}'");
    BAD("{\"a\":}", "column 6: expected a value, found '}'");
    BAD("{\"a\":[1,]}", "column 9: expected a value, found ']'");
    BAD("{\"a\":[1 2]}", "column 9: expected ',' or ']' after array element, found '2'");
    BAD("{\"a\":[1}", "column 8: expected ',' or ']' after array element, found '}'");
    BAD("{\"a\":{\"b\":1]}", "column 12: expected ',' or '}' after object member, found ']'");
    BAD("{\"a\":[", "column 7: expected a value, found end of line");
    BAD("{\"a\":{", "column 7: expected a string key or '}', found end of line");
    BAD("{\"x\":{\"y\" 1}}", "column 11: expected ':' after object key");
    BAD("{\"x\":{\"y\":1,}}", "column 13: expected a string key after ','");
}

Test(json, bad_literals)
{
    BAD("{\"a\":tru}", "column 9: invalid literal: expected true, found '}'");
    BAD("{\"a\":tru", "column 9: invalid literal: expected true, found end of line");
    BAD("{\"a\":fals}", "column 10: invalid literal: expected false");
    BAD("{\"a\":nul}", "column 9: invalid literal: expected null");
    BAD("{\"a\":nulL}", "column 9: invalid literal: expected null, found 'L'");
    BAD("{\"a\":True}", "column 6: expected a value, found 'T'");
    BAD("{\"a\":truex}", "column 10: expected ',' or '}' after object member, found 'x'");
    BAD("{\"x\":[true,fase]}", "column 14: invalid literal: expected false, found 's'");
}

Test(json, top_level_and_trailing_garbage)
{
    BAD("{\"a\":1} x", "column 9: expected end of line after the object, found 'x'");
    BAD("{\"a\":1}}", "column 8: expected end of line after the object, found '}'");
    BAD("{\"a\":1}{\"b\":2}", "column 8: expected end of line after the object");
    BAD("{\"a\":1},", "column 8: expected end of line");
    BAD("[1,2]", "column 1: expected '{' (a JSON lines record is an object), found '['");
    BAD("\"s\"", "column 1: expected '{'");
    BAD("  42", "column 3: expected '{' (a JSON lines record is an object), found '4'");
    BAD("null", "column 1: expected '{'");
    BAD("", "column 1: expected '{' (a JSON lines record is an object), found end of line");
    BAD("   \r", "column 5: expected '{' (a JSON lines record is an object), found end of line");
    BAD("\xEF\xBB\xBF{}", "column 1: expected '{' (a JSON lines record is an object), found "
                          "byte 0xEF"); /* no byte order mark */
    assert_bad("{\"a\":1}\0", 8,
               "column 8: expected end of line after the object, found byte "
               "0x00");
}

Test(json, whitespace_and_cr)
{
    const char *line = " \t{ \"a\" :\t1 , \"b\" : [ ] , \"c\" : { } }  \r";
    cr_assert_eq(PARSE(line, "a", "b", "c"), 0, "%s", err);
    assert_int(&out[0], 1);
    assert_json(&out[1], "[ ]");
    assert_json(&out[2], "{ }");
    cr_assert_eq(PARSE("{\"a\":1}\r", "a"), 0, "%s", err);
    assert_int(&out[0], 1);
    cr_assert_eq(PARSE("{}", "a"), 0, "%s", err);
    cr_assert_eq(out[0].type, WEIR_TYPE_NULL);
    /* whitespace inside the line is JSON whitespace: \n and \r are allowed between tokens */
    cr_assert_eq(PARSE("{\"a\":\r\n2}", "a"), 0, "%s", err);
    assert_int(&out[0], 2);
    BAD("{\"a\":\f1}", "column 6: expected a value, found byte 0x0C"); /* form feed is not */
}

static void nested(char *line, size_t *len, int arrays)
{
    size_t n = 0;
    n += (size_t)sprintf(line, "{\"a\":");
    for (int i = 0; i < arrays; i++) line[n++] = '[';
    for (int i = 0; i < arrays; i++) line[n++] = ']';
    line[n++] = '}';
    line[n] = 0;
    *len = n;
}

Test(json, nesting_depth)
{
    static char line[300000];
    size_t len;
    /* the top-level object + 255 arrays = 256 levels: accepted */
    nested(line, &len, WEIR_JSON_MAX_DEPTH - 1);
    cr_assert_eq(parse_n(1, PATHS("a"), line, len), 0, "%s", err);
    cr_assert_eq(out[0].type, WEIR_TYPE_JSON);
    cr_assert_eq(out[0].len, 2 * (WEIR_JSON_MAX_DEPTH - 1));
    /* one more: the 256th '[' (column 5 + 256) is refused */
    nested(line, &len, WEIR_JSON_MAX_DEPTH);
    assert_bad(line, len, "column 261: nesting deeper than 256 objects and arrays");
    /* hostile depth: an error, not a crash */
    nested(line, &len, 100000);
    assert_bad(line, len, "column 261: nesting deeper than 256");
    /* objects along a requested path */
    size_t n = 0;
    for (int i = 0; i < 300; i++) n += (size_t)sprintf(line + n, "{\"a\":");
    n += (size_t)sprintf(line + n, "1");
    for (int i = 0; i < 300; i++) line[n++] = '}';
    /* the 257th '{' is at column 1 + 256 * 5 */
    cr_assert_eq(parse_n(2, PATHS("a.a.a.a", "a"), line, n), WEIR_EPARSE);
    cr_assert(strncmp(err, "column 1281: nesting deeper", 27) == 0, "%s", err);
}

/* ---- reading: extraction ---- */

Test(json, nested_paths)
{
    const char *line = "{\"a\":{\"b\":1,\"c\":{\"d\":\"x\",\"e\":[1,{\"f\":2}]}},\"e\":true,"
                       "\"g\":false,\"h\":null}";
    cr_assert_eq(PARSE(line, "a.b", "a.c.d", "e", "a.c.e", "a.c", "g", "h", "a.c.e.f", "a.zz"), 0,
                 "%s", err);
    assert_int(&out[0], 1);
    ASSERT_STR(&out[1], "x");
    cr_assert_eq(out[2].type, WEIR_TYPE_BOOL);
    cr_assert(out[2].as.b);
    assert_json(&out[3], "[1,{\"f\":2}]");
    assert_json(&out[4], "{\"d\":\"x\",\"e\":[1,{\"f\":2}]}");
    cr_assert_eq(out[5].type, WEIR_TYPE_BOOL);
    cr_assert(!out[5].as.b);
    cr_assert_eq(out[6].type, WEIR_TYPE_NULL);
    cr_assert_eq(out[7].type, WEIR_TYPE_NULL); /* no path through arrays */
    cr_assert_eq(out[8].type, WEIR_TYPE_NULL);
    /* a.b where a is not an object */
    cr_assert_eq(PARSE("{\"a\":[{\"b\":1}]}", "a.b", "a"), 0, "%s", err);
    cr_assert_eq(out[0].type, WEIR_TYPE_NULL);
    assert_json(&out[1], "[{\"b\":1}]");
    cr_assert_eq(PARSE("{\"a\":\"b\"}", "a.b", "a"), 0, "%s", err);
    cr_assert_eq(out[0].type, WEIR_TYPE_NULL);
    ASSERT_STR(&out[1], "b");
    /* a member named "b" at the top level is not a.b */
    cr_assert_eq(PARSE("{\"b\":1,\"a\":{}}", "a.b"), 0, "%s", err);
    cr_assert_eq(out[0].type, WEIR_TYPE_NULL);
}

Test(json, raw_json_for_objects_and_arrays)
{
    const char *line = "{\"o\": {\"x\": [1, 2]}, \"arr\":[ 1 , {\"y\":null} ],\"e\":[]}";
    cr_assert_eq(PARSE(line, "o", "arr", "e"), 0, "%s", err);
    assert_json(&out[0], "{\"x\": [1, 2]}");
    cr_assert_eq(out[0].as.s, strchr(line, ' ') + 1); /* into the line */
    assert_json(&out[1], "[ 1 , {\"y\":null} ]");
    assert_json(&out[2], "[]");
}

Test(json, missing_and_duplicates)
{
    cr_assert_eq(PARSE("{\"a\":1}", "b", "a"), 0, "%s", err);
    cr_assert_eq(out[0].type, WEIR_TYPE_NULL);
    assert_int(&out[1], 1);
    /* last one wins */
    cr_assert_eq(PARSE("{\"a\":1,\"b\":0,\"a\":\"two\"}", "a"), 0, "%s", err);
    ASSERT_STR(&out[0], "two");
    /* a repeated object replaces the earlier one wholly */
    cr_assert_eq(PARSE("{\"a\":{\"b\":1,\"c\":2},\"a\":{\"c\":3}}", "a.b", "a.c", "a"), 0, "%s",
                 err);
    cr_assert_eq(out[0].type, WEIR_TYPE_NULL);
    assert_int(&out[1], 3);
    assert_json(&out[2], "{\"c\":3}");
    cr_assert_eq(PARSE("{\"a\":{\"b\":1},\"a\":5}", "a.b", "a"), 0, "%s", err);
    cr_assert_eq(out[0].type, WEIR_TYPE_NULL);
    assert_int(&out[1], 5);
    /* the same path twice */
    cr_assert_eq(PARSE("{\"x\":7}", "x", "y", "x"), 0, "%s", err);
    assert_int(&out[0], 7);
    cr_assert_eq(out[1].type, WEIR_TYPE_NULL);
    assert_int(&out[2], 7);
}

Test(json, escaped_keys_match)
{
    cr_assert_eq(PARSE("{\"\\u0061\":1,\"b\\\"c\":2,\"\\u00e9t\\u00e9\":3,\"a\\/b\":4}", "a",
                       "b\"c", "\xC3\xA9t\xC3\xA9", "a/b"),
                 0, "%s", err);
    assert_int(&out[0], 1);
    assert_int(&out[1], 2);
    assert_int(&out[2], 3);
    assert_int(&out[3], 4);
    /* same length and first byte, different name */
    cr_assert_eq(PARSE("{\"ab\":1,\"ac\":2}", "ac"), 0, "%s", err);
    assert_int(&out[0], 2);
}

Test(json, no_fields_validates_only)
{
    weir_json_fields *f;
    cr_assert_eq(weir_json_fields_create(&f, 0, NULL), 0);
    cr_assert_eq(weir_json_fields_count(f), 0);
    const char *ok = "{\"a\":[1,{\"b\":\"c\"}],\"d\":-1.5e-3}";
    cr_assert_eq(weir_json_parse_object(f, ok, strlen(ok), NULL, &arena, err, sizeof err), 0);
    const char *bad = "{\"a\":[1,{\"b\":\"c\"}],\"d\":-1.5e-}";
    cr_assert_eq(weir_json_parse_object(f, bad, strlen(bad), NULL, &arena, err, sizeof err),
                 WEIR_EPARSE);
    cr_assert_str_eq(err, "column 30: expected a digit in the exponent, found '}'");
    weir_json_fields_destroy(f);
    weir_json_fields_destroy(NULL);
}

Test(json, fields_create_errors)
{
    weir_json_fields *f = (weir_json_fields *)&f; /* must stay untouched */
    cr_assert_eq(weir_json_fields_create(&f, 1, PATHS("")), WEIR_EINVAL);
    cr_assert_eq(weir_json_fields_create(&f, 1, PATHS("a..b")), WEIR_EINVAL);
    cr_assert_eq(weir_json_fields_create(&f, 1, PATHS(".a")), WEIR_EINVAL);
    cr_assert_eq(weir_json_fields_create(&f, 1, PATHS("a.")), WEIR_EINVAL);
    cr_assert_eq(weir_json_fields_create(&f, 2, PATHS("a", NULL)), WEIR_EINVAL);
    cr_assert_eq(weir_json_fields_create(&f, 1, NULL), WEIR_EINVAL);
    cr_assert_eq(f, (weir_json_fields *)&f);
}

Test(json, truncations_of_a_valid_line_fail)
{
    /* every proper prefix of an object is malformed, and none may read past its end
     * (each prefix is copied to its own exact-size allocation for AddressSanitizer) */
    const char *line = "{\"ts\":1700000000000,\"user\":\"b\\u00e9b\",\"n\":[1,2.5e3,{\"x\":null}],"
                       "\"ok\":true,\"s\":\"\xE2\x82\xAC\"}";
    size_t len = strlen(line);
    cr_assert_eq(parse_n(3, PATHS("ts", "user", "n.x"), line, len), 0, "%s", err);
    for (size_t i = 0; i < len; i++) {
        char *copy = malloc(i ? i : 1);
        memcpy(copy, line, i);
        int rc = parse_n(3, PATHS("ts", "user", "n"), copy, i);
        cr_assert_eq(rc, WEIR_EPARSE, "prefix of %zu bytes accepted", i);
        free(copy);
    }
}

/* ---- writing ---- */

static weir_buf wb;

static const char *written(void)
{
    return wb.len ? wb.data : "";
}

Test(json_write, strings)
{
    weir_buf_init(&wb);
    cr_assert_eq(weir_json_write_string(&wb, "a\"b\\c/\n\t\r\b\f\x01\x1f\x7f \xC3\xA9", 17), 0);
    cr_assert_str_eq(written(), "\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f\x7f \xC3\xA9\"");
    weir_buf_clear(&wb);
    cr_assert_eq(weir_json_write_string(&wb, "x\0y", 3), 0);
    cr_assert_str_eq(written(), "\"x\\u0000y\"");
    weir_buf_clear(&wb);
    cr_assert_eq(weir_json_write_string(&wb, "", 0), 0);
    cr_assert_str_eq(written(), "\"\"");
    weir_buf_clear(&wb);
    /* a long string with escapes at every alignment of the 8-byte scanner */
    char s[40], expect[200];
    for (int at = 0; at < 20; at++) {
        memset(s, 'a', 20);
        s[at] = '"';
        snprintf(expect, sizeof expect, "\"%.*s\\\"%.*s\"", at, "aaaaaaaaaaaaaaaaaaaa", 19 - at,
                 "aaaaaaaaaaaaaaaaaaaa");
        weir_buf_clear(&wb);
        cr_assert_eq(weir_json_write_string(&wb, s, 20), 0);
        cr_assert_str_eq(written(), expect);
    }
    weir_buf_finish(&wb);
}

static const char *dbl(double d)
{
    weir_buf_clear(&wb);
    cr_assert_eq(weir_json_write_double(&wb, d), 0);
    return written();
}

Test(json_write, doubles_examples)
{
    weir_buf_init(&wb);
    /* the layout of Python's repr(float) */
    cr_assert_str_eq(dbl(2.0), "2.0");
    cr_assert_str_eq(dbl(0.1), "0.1");
    cr_assert_str_eq(dbl(1e300), "1e+300");
    cr_assert_str_eq(dbl(-0.0), "-0.0");
    cr_assert_str_eq(dbl(0.0), "0.0");
    cr_assert_str_eq(dbl(1.5e-7), "1.5e-07");
    cr_assert_str_eq(dbl(5e-324), "5e-324");
    cr_assert_str_eq(dbl(-5e-324), "-5e-324");
    cr_assert_str_eq(dbl(DBL_MAX), "1.7976931348623157e+308");
    cr_assert_str_eq(dbl(DBL_MIN), "2.2250738585072014e-308");
    cr_assert_str_eq(dbl(123456789012345680000.0), "1.2345678901234568e+20");
    cr_assert_str_eq(dbl(100.0), "100.0");
    cr_assert_str_eq(dbl(-1.5), "-1.5");
    cr_assert_str_eq(dbl(123.456), "123.456");
    cr_assert_str_eq(dbl(1e15), "1000000000000000.0");
    cr_assert_str_eq(dbl(1e16), "1e+16");
    cr_assert_str_eq(dbl(1.5e16), "1.5e+16");
    cr_assert_str_eq(dbl(9007199254740992.0), "9007199254740992.0"); /* 2^53 */
    cr_assert_str_eq(dbl(9007199254740990.0), "9007199254740990.0");
    cr_assert_str_eq(dbl(1e22), "1e+22");
    cr_assert_str_eq(dbl(0.0001), "0.0001");
    cr_assert_str_eq(dbl(0.00001), "1e-05");
    cr_assert_str_eq(dbl(0.00012345), "0.00012345");
    cr_assert_str_eq(dbl(1.0 / 3), "0.3333333333333333");
    cr_assert_str_eq(dbl(2.0 / 3), "0.6666666666666666");
    cr_assert_str_eq(dbl(0.1 + 0.2), "0.30000000000000004");
    cr_assert_str_eq(dbl(5e-310), "5e-310"); /* subnormal */
    cr_assert_str_eq(dbl(NAN), "null");
    cr_assert_str_eq(dbl(INFINITY), "null");
    cr_assert_str_eq(dbl(-INFINITY), "null");
    weir_buf_finish(&wb);
}

/* Significant digits of the text (mantissa digits without leading and trailing zeros). */
static int significant_digits(const char *t)
{
    char dig[64];
    int n = 0;
    for (; *t && *t != 'e'; t++)
        if (*t >= '0' && *t <= '9') dig[n++] = *t;
    int s = 0;
    while (s < n && dig[s] == '0') s++;
    while (n > s && dig[n - 1] == '0') n--;
    return n - s;
}

static bool text_reads_back(const char *t, double d)
{
    double r = strtod(t, NULL);
    return memcmp(&r, &d, sizeof d) == 0;
}

/* Checks, independently of the writer, that text is a shortest round-trip form of d. */
static void check_shortest(double d, const char *text)
{
    cr_assert(strchr(text, '.') || strchr(text, 'e'), "%s has neither '.' nor 'e'", text);
    cr_assert(text_reads_back(text, d), "%s does not read back as %a", text, d);
    int n = significant_digits(text);
    cr_assert(n >= 1 && n <= 17, "%s", text);
    if (n == 1) return;
    /* no decimal of n - 1 digits reads back: try the nearest one and its two neighbours */
    char near[64];
    snprintf(near, sizeof near, "%.*e", n - 2, fabs(d));
    int exp10 = atoi(strchr(near, 'e') + 1);
    char digits[32];
    int k = 0;
    for (const char *p = near; *p != 'e'; p++)
        if (*p != '.') digits[k++] = *p;
    digits[k] = 0;
    long long m = atoll(digits);
    for (int delta = -1; delta <= 1; delta++) {
        char cand[64];
        snprintf(cand, sizeof cand, "%s%llde%d", signbit(d) ? "-" : "", m + delta, exp10 - (n - 2));
        cr_assert(!text_reads_back(cand, d), "%s is shorter than %s and reads back", cand, text);
    }
    /* the layout: scientific exactly when the decimal exponent is < -4 or >= 16 */
    snprintf(near, sizeof near, "%.*e", n - 1, fabs(d));
    exp10 = atoi(strchr(near, 'e') + 1);
    cr_assert_eq(strchr(text, 'e') != NULL, exp10 < -4 || exp10 >= 16, "%s", text);
}

Test(json_write, doubles_random_shortest_round_trip)
{
    weir_buf_init(&wb);
    rng_state = 7;
    for (int i = 0; i < 200000; i++) {
        double d = random_double();
        switch (i % 4) {
        case 1: d = (double)(int64_t)(rng() % 100000000) / pow(10, (double)(rng() % 12)); break;
        case 2: d = ldexp((double)(rng() >> 11), (int)(rng() % 200) - 100); break;
        default: break;
        }
        check_shortest(d, dbl(d));
    }
    /* every power of two (where the interval that reads back is lopsided) */
    for (int e = -1074; e <= 1023; e++) {
        double d = ldexp(1.0, e);
        check_shortest(d, dbl(d));
        check_shortest(-d, dbl(-d));
    }
    /* whole numbers around 2^53 and the 1e16 layout switch */
    for (int64_t i = -50; i < 50; i++) {
        double d = (double)(9007199254740992LL + i), e = (double)(10000000000000000LL + i);
        check_shortest(d, dbl(d));
        check_shortest(e, dbl(e));
    }
    weir_buf_finish(&wb);
}

Test(json_write, doubles_short_decimals_print_as_written)
{
    /* a decimal of at most 15 significant digits is the shortest text of the double nearest to
     * it (15-digit decimals are more than an ulp apart), so it must come back as written */
    weir_buf_init(&wb);
    rng_state = 11;
    for (int i = 0; i < 200000; i++) {
        int len = 1 + (int)(rng() % 15);
        char m[16];
        for (int j = 0; j < len; j++) m[j] = (char)('0' + rng() % 10);
        m[0] = (char)('1' + rng() % 9);
        m[len - 1] = (char)('1' + rng() % 9);
        int k = (int)(rng() % (uint64_t)(len + 4)); /* decimals: exponent len - k - 1 >= -4 */
        char text[40];
        if (k == 0)
            snprintf(text, sizeof text, "%.*s.0", len, m);
        else if (len > k)
            snprintf(text, sizeof text, "%.*s.%.*s", len - k, m, k, m + len - k);
        else
            snprintf(text, sizeof text, "0.%.*s%.*s", k - len, "0000", len, m);
        cr_assert_str_eq(dbl(strtod(text, NULL)), text);
    }
    weir_buf_finish(&wb);
}

Test(json_write, doubles_read_back_by_the_parser)
{
    weir_buf_init(&wb);
    weir_arena_init(&arena, 0);
    rng_state = 99;
    for (int i = 0; i < 20000; i++) {
        double d = random_double();
        weir_buf_clear(&wb);
        weir_buf_puts(&wb, "{\"a\":");
        weir_json_write_double(&wb, d);
        weir_buf_putc(&wb, '}');
        cr_assert_eq(parse_n(1, PATHS("a"), wb.data, wb.len), 0, "%s: %s", wb.data, err);
        assert_double(&out[0], d);
    }
    weir_arena_finish(&arena);
    weir_buf_finish(&wb);
}

Test(json_write, values)
{
    weir_buf_init(&wb);
    weir_value vs[] = {
        WEIR_NULL_VALUE,
        weir_value_bool(true),
        weir_value_bool(false),
        weir_value_int(INT64_MIN),
        weir_value_int(42),
        weir_value_double(2.5),
        weir_value_string("q\"", 2),
        {.type = WEIR_TYPE_JSON, .len = 8, .as.s = "[1, {} ]x"},
        {.type = WEIR_TYPE_BYTES, .len = 9, .as.s = "a\xFF\xC3\xA9\"\n\xE2\x82z"},
    };
    const char *expect[] = {"null",
                            "true",
                            "false",
                            "-9223372036854775808",
                            "42",
                            "2.5",
                            "\"q\\\"\"",
                            "[1, {} ]",
                            "\"a\\u00ff\xC3\xA9\\\"\\n\\u00e2\\u0082z\""};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        weir_buf_clear(&wb);
        cr_assert_eq(weir_json_write_value(&wb, &vs[i]), 0);
        cr_assert_str_eq(written(), expect[i]);
    }
    weir_value any = {.type = WEIR_TYPE_ANY};
    cr_assert_eq(weir_json_write_value(&wb, &any), WEIR_EINVAL);
    weir_buf_finish(&wb);
}

/* The object written, by weir_json_write_object; weir_json_write_object_cached (names encoded
 * once, as the sinks write) must write the same bytes, on first use of its cache and after. */
static const char *obj(uint32_t n, const char *const *names, const weir_value *v, const char *raw)
{
    weir_buf named;
    weir_buf_init(&named);
    weir_json_names_cache cache = {0};
    for (int round = 0; round < 2; round++) {
        weir_buf_clear(&named);
        int rc = weir_json_write_object_cached(&named, &cache, n, (char *const *)names, v, raw,
                                               raw ? strlen(raw) : 0);
        cr_assert_eq(rc, 0, "%s", raw ? raw : "(no raw)");
    }
    weir_json_names_cache_finish(&cache);
    weir_buf_clear(&wb);
    int rc = weir_json_write_object(&wb, n, (char *const *)names, v, raw, raw ? strlen(raw) : 0);
    cr_assert_eq(rc, 0, "%s", raw ? raw : "(no raw)");
    cr_assert_eq(named.len, wb.len);
    cr_assert_eq(memcmp(named.data, wb.data, wb.len), 0, "cached: %s plain: %s", named.data,
                 wb.data);
    weir_buf_finish(&named);
    return written();
}

/* Integers: every edge and a sweep of magnitudes, against printf. */
Test(json_write, integers)
{
    weir_buf_init(&wb);
    int64_t edge[] = {0,    1,   -1,  9,    10,        99,        100,
                      -100, 101, 999, 1000, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    char want[32];
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        weir_buf_clear(&wb);
        cr_assert_eq(weir_buf_put_int(&wb, edge[i]), 0);
        snprintf(want, sizeof want, "%" PRId64, edge[i]);
        cr_assert_str_eq(written(), want);
    }
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        int64_t v = (int64_t)(x >> (x % 64));    /* every magnitude */
        if (i & 1) v = -v;
        weir_buf_clear(&wb);
        cr_assert_eq(weir_buf_put_int(&wb, v), 0);
        snprintf(want, sizeof want, "%" PRId64, v);
        cr_assert_str_eq(written(), want);
    }
    weir_buf_finish(&wb);
}

Test(json_write, objects)
{
    weir_buf_init(&wb);
    weir_value five = weir_value_int(5);
    weir_value two[] = {weir_value_string("x", 1), weir_value_double(1.0)};
    cr_assert_str_eq(obj(1, PATHS("c"), &five, "{\"a\":1, \"b\": {\"x\":[1,2]}}"),
                     "{\"a\":1,\"b\":{\"x\":[1,2]},\"c\":5}\n");
    /* members named like a field are replaced by it (at the end) */
    cr_assert_str_eq(obj(1, PATHS("c"), &five, "{\"a\":1,\"c\":\"old\",\"b\":2}"),
                     "{\"a\":1,\"b\":2,\"c\":5}\n");
    cr_assert_str_eq(obj(1, PATHS("c"), &five, "{\"c\":1}"), "{\"c\":5}\n");
    cr_assert_str_eq(obj(1, PATHS("c"), &five, "{\"\\u0063\":1,\"d\":2}"), "{\"d\":2,\"c\":5}\n");
    cr_assert_str_eq(obj(1, PATHS("c"), &five, "{}"), "{\"c\":5}\n");
    cr_assert_str_eq(obj(1, PATHS("c"), &five, "  { }  \r"), "{\"c\":5}\n");
    cr_assert_str_eq(obj(0, NULL, NULL, "{}"), "{}\n");
    cr_assert_str_eq(obj(0, NULL, NULL, NULL), "{}\n");
    cr_assert_str_eq(obj(2, PATHS("k", "we\"ird"), two, NULL), "{\"k\":\"x\",\"we\\\"ird\":1.0}\n");
    /* strings holding brackets, commas and escaped quotes; values copied as written */
    cr_assert_str_eq(obj(0, NULL, NULL,
                         " {\"s\":\"a,}\\\"{\" ,\"t\":[{\"u\":\"]\"}],\"n\":-1.5e3, \"z\" : null,"
                         "\"w\":\"\\u00e9\"}\r"),
                     "{\"s\":\"a,}\\\"{\",\"t\":[{\"u\":\"]\"}],\"n\":-1.5e3,\"z\":null,"
                     "\"w\":\"\\u00e9\"}\n");
    /* dropping the first and the last member */
    cr_assert_str_eq(obj(2, PATHS("a", "z"), two, "{\"a\":[1],\"m\":{},\"z\":true}"),
                     "{\"m\":{},\"a\":\"x\",\"z\":1.0}\n");
    /* appended after what is already in the buffer; a non-object raw leaves it unchanged */
    weir_buf_clear(&wb);
    weir_buf_puts(&wb, "prefix");
    cr_assert_eq(weir_json_write_object(&wb, 1, (char *const *)PATHS("c"), &five, "[1]", 3),
                 WEIR_EPARSE);
    cr_assert_eq(wb.len, 6);
    cr_assert_str_eq(wb.data, "prefix");
    cr_assert_eq(weir_json_write_object(&wb, 1, (char *const *)PATHS("c"), &five, "{\"a\":1", 6),
                 WEIR_EPARSE);
    cr_assert_eq(wb.len, 6);
    weir_buf_finish(&wb);
}

Test(json_write, parse_then_write_passes_unread_fields_through)
{
    weir_buf_init(&wb);
    weir_arena_init(&arena, 0);
    const char *line = "{\"ts\":1700000000000, \"user\":\"b\\u00e9b\",\"amount\":2.50,"
                       "\"tags\":[\"x\",\"y\"]}";
    cr_assert_eq(PARSE(line, "user", "amount"), 0, "%s", err);
    weir_value v[] = {out[0], out[1], weir_value_int(1)};
    cr_assert_str_eq(obj(3, PATHS("user", "amount", "n"), v, line),
                     "{\"ts\":1700000000000,\"tags\":[\"x\",\"y\"],\"user\":\"b\xC3\xA9"
                     "b\",\"amount\":2.5,\"n\":1}\n");
    weir_arena_finish(&arena);
    weir_buf_finish(&wb);
}

/* ---- timestamps ---- */

TestSuite(timestamp, .init = setup, .fini = teardown);

static int64_t ts_ok(const char *s)
{
    int64_t ms = 0x5a5a;
    weir_value v = weir_value_string(s, strlen(s));
    int rc = weir_timestamp_from_value(&v, &ms, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", s, err);
    return ms;
}

static void ts_bad(const char *s)
{
    int64_t ms = 0x5a5a;
    weir_value v = weir_value_string(s, strlen(s));
    int rc = weir_timestamp_from_value(&v, &ms, err, sizeof err);
    cr_assert_eq(rc, WEIR_EPARSE, "\"%s\" accepted as %lld", s, (long long)ms);
    cr_assert_eq(ms, 0x5a5a);
    char expect[200];
    snprintf(expect, sizeof expect, "timestamp \"%s\" is neither an integer nor RFC 3339", s);
    cr_assert_str_eq(err, expect);
}

/* 2024-01-02T03:04:05Z: 1970..2023 is 54 years with 13 leap days (1972..2020), so 2024-01-01 is
 * day 54 * 365 + 13 = 19723, and 2024-01-02 is day 19724:
 * 19724 * 86400 + 3 * 3600 + 4 * 60 + 5 = 1704164645 s. */
#define T_2024_01_02_030405 1704164645000LL

Test(timestamp, rfc3339_forms)
{
    cr_assert_eq(ts_ok("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq(ts_ok("2024-01-02T03:04:05Z"), T_2024_01_02_030405);
    cr_assert_eq(ts_ok("2024-01-02t03:04:05z"), T_2024_01_02_030405);
    cr_assert_eq(ts_ok("2024-01-02T03:04:05.123Z"), T_2024_01_02_030405 + 123);
    cr_assert_eq(ts_ok("2024-01-02T03:04:05.1Z"), T_2024_01_02_030405 + 100);
    cr_assert_eq(ts_ok("2024-01-02T03:04:05.12Z"), T_2024_01_02_030405 + 120);
    cr_assert_eq(ts_ok("2024-01-02T03:04:05.123456789Z"), T_2024_01_02_030405 + 123);
    cr_assert_eq(ts_ok("2024-01-02T03:04:05.9999999Z"), T_2024_01_02_030405 + 999);
    cr_assert_eq(ts_ok("2024-01-02T03:04:05.000Z"), T_2024_01_02_030405);
    /* offsets: local time minus offset is UTC */
    cr_assert_eq(ts_ok("2024-01-02T04:04:05+01:00"), T_2024_01_02_030405);
    cr_assert_eq(ts_ok("2024-01-01T21:34:05-05:30"), T_2024_01_02_030405);
    cr_assert_eq(ts_ok("2024-01-02T03:04:05+00:00"), T_2024_01_02_030405);
    cr_assert_eq(ts_ok("2024-01-02T03:04:05-00:00"), T_2024_01_02_030405);
    cr_assert_eq(ts_ok("2024-01-02T04:04:05.250+01:00"), T_2024_01_02_030405 + 250);
    /* 2024-02-29: day 19723 + 31 + 28 = 19782 */
    cr_assert_eq(ts_ok("2024-02-29T00:00:00Z"), 19782LL * 86400000);
    cr_assert_eq(ts_ok("2000-02-29T00:00:00Z"), 951782400000LL); /* divisible by 400 */
    /* a leap second is the first second of the next minute: 2017-01-01 is day 17167 */
    cr_assert_eq(ts_ok("2016-12-31T23:59:60Z"), 17167LL * 86400000);
}

Test(timestamp, before_1970)
{
    cr_assert_eq(ts_ok("1969-12-31T23:59:59Z"), -1000);
    cr_assert_eq(ts_ok("1969-12-31T23:59:59.999Z"), -1);
    /* truncation toward the earlier millisecond */
    cr_assert_eq(ts_ok("1969-12-31T23:59:59.9999Z"), -1);
    cr_assert_eq(ts_ok("1969-12-31T23:59:59.0001Z"), -1000);
    cr_assert_eq(ts_ok("1970-01-01T00:59:59+01:00"), -1000);
    /* 1900-01-01 is 70 years with 17 leap days (1904..1968) before 1970: 25567 days */
    cr_assert_eq(ts_ok("1900-01-01T00:00:00Z"), -25567LL * 86400000);
    /* 0000-01-01: 1970 years, 478 leap days (the 493 years 0, 4, ..., 1968 minus the 15
     * centuries 100, 200, 300, 500, 600, 700, 900, 1000, 1100, 1300, 1400, 1500, 1700, 1800,
     * 1900): 1970 * 365 + 478 = 719528 days */
    cr_assert_eq(ts_ok("0000-01-01T00:00:00Z"), -719528LL * 86400000);
    cr_assert_eq(ts_ok("9999-12-31T23:59:59.999Z"), 253402300799999LL);
}

Test(timestamp, invalid_strings)
{
    ts_bad("2024-13-01T00:00:00Z");
    ts_bad("2024-00-01T00:00:00Z");
    ts_bad("2024-01-00T00:00:00Z");
    ts_bad("2024-01-32T00:00:00Z");
    ts_bad("2024-02-30T00:00:00Z");
    ts_bad("2023-02-29T00:00:00Z");
    ts_bad("1900-02-29T00:00:00Z");
    ts_bad("2024-04-31T00:00:00Z");
    ts_bad("2024-01-01T24:00:00Z");
    ts_bad("2024-01-01T00:60:00Z");
    ts_bad("2024-01-01T00:00:61Z");
    ts_bad("2024-01-02 03:04:05Z");
    ts_bad("2024-01-02T03:04:05");
    ts_bad("2024-01-02T03:04Z");
    ts_bad("2024-1-02T03:04:05Z");
    ts_bad("2024-01-02T03:04:05.Z");
    ts_bad("2024-01-02T03:04:05,5Z");
    ts_bad("2024-01-02T03:04:05+0100");
    ts_bad("2024-01-02T03:04:05+01");
    ts_bad("2024-01-02T03:04:05+24:00");
    ts_bad("2024-01-02T03:04:05+01:60");
    ts_bad(" 2024-01-02T03:04:05Z");
    ts_bad("2024-01-02T03:04:05Z ");
    ts_bad("2024-01-02T03:04:05Zx");
    ts_bad("2024-01-02T03:04:05UTC");
    ts_bad("2024-01-02");
    ts_bad("");
    ts_bad("1700000000000");
    ts_bad("+2024-01-02T03:04:05Z");
}

Test(timestamp, other_values)
{
    int64_t ms = 7;
    weir_value v = weir_value_int(1700000000123);
    cr_assert_eq(weir_timestamp_from_value(&v, &ms, err, sizeof err), 0);
    cr_assert_eq(ms, 1700000000123);
    v = weir_value_int(-5);
    cr_assert_eq(weir_timestamp_from_value(&v, &ms, err, sizeof err), 0);
    cr_assert_eq(ms, -5);
    v = weir_value_double(1.7e12);
    cr_assert_eq(weir_timestamp_from_value(&v, &ms, err, sizeof err), 0);
    cr_assert_eq(ms, 1700000000000);
    v = weir_value_double(-3.0);
    cr_assert_eq(weir_timestamp_from_value(&v, &ms, err, sizeof err), 0);
    cr_assert_eq(ms, -3);
    ms = 7;
    double bad[] = {1.5, -0.25, NAN, INFINITY, 1e19, -1e19};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = weir_value_double(bad[i]);
        cr_assert_eq(weir_timestamp_from_value(&v, &ms, err, sizeof err), WEIR_EPARSE);
        cr_assert_eq(ms, 7);
    }
    v = weir_value_double(1.5);
    weir_timestamp_from_value(&v, &ms, err, sizeof err);
    cr_assert_str_eq(err, "timestamp 1.5 is not a whole number of milliseconds");
    v = WEIR_NULL_VALUE;
    cr_assert_eq(weir_timestamp_from_value(&v, &ms, err, sizeof err), WEIR_EPARSE);
    cr_assert_str_eq(err, "timestamp is missing (null)");
    v = weir_value_bool(true);
    cr_assert_eq(weir_timestamp_from_value(&v, &ms, err, sizeof err), WEIR_EPARSE);
    cr_assert(strstr(err, "bool"), "%s", err);
    v = (weir_value){.type = WEIR_TYPE_JSON, .len = 2, .as.s = "{}"};
    cr_assert_eq(weir_timestamp_from_value(&v, &ms, err, sizeof err), WEIR_EPARSE);
    cr_assert_eq(ms, 7);
    /* a control character in a bad string does not reach the message */
    v = weir_value_string("2024\n", 5);
    cr_assert_eq(weir_timestamp_from_value(&v, &ms, err, sizeof err), WEIR_EPARSE);
    cr_assert_str_eq(err, "timestamp \"2024?\" is neither an integer nor RFC 3339");
    /* a timestamp read from a JSON line */
    cr_assert_eq(PARSE("{\"ts\":\"2024-01-02T03:04:05.006Z\"}", "ts"), 0, "%s", err);
    cr_assert_eq(weir_timestamp_from_value(&out[0], &ms, err, sizeof err), 0);
    cr_assert_eq(ms, T_2024_01_02_030405 + 6);
}

Test(timestamp, format)
{
    char buf[WEIR_TIMESTAMP_MAX_LEN];
    cr_assert_eq(weir_timestamp_format(0, buf, sizeof buf), 24);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    weir_timestamp_format(T_2024_01_02_030405 + 6, buf, sizeof buf);
    cr_assert_str_eq(buf, "2024-01-02T03:04:05.006Z");
    weir_timestamp_format(-1, buf, sizeof buf);
    cr_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    weir_timestamp_format(-25567LL * 86400000, buf, sizeof buf);
    cr_assert_str_eq(buf, "1900-01-01T00:00:00.000Z");
    weir_timestamp_format(19782LL * 86400000 - 1, buf, sizeof buf);
    cr_assert_str_eq(buf, "2024-02-28T23:59:59.999Z");
    /* the int64 extremes, as java.time.Instant.ofEpochMilli prints them */
    weir_timestamp_format(INT64_MAX, buf, sizeof buf);
    cr_assert_str_eq(buf, "+292278994-08-17T07:12:55.807Z");
    weir_timestamp_format(INT64_MIN, buf, sizeof buf);
    cr_assert_str_eq(buf, "-292275055-05-16T16:47:04.192Z");
    char small[10];
    cr_assert_eq(weir_timestamp_format(0, small, sizeof small), WEIR_ERANGE);
    cr_assert_str_eq(small, "1970-01-0");
    /* format then parse is the identity over years 0000..9999 */
    rng_state = 3;
    for (int i = 0; i < 100000; i++) {
        int64_t ms = (int64_t)(rng() % (253402300800000ULL + 62167219200000ULL)) - 62167219200000LL;
        cr_assert_gt(weir_timestamp_format(ms, buf, sizeof buf), 0);
        int64_t back;
        cr_assert_eq(weir_timestamp_parse_rfc3339(buf, strlen(buf), &back), 0, "%s", buf);
        cr_assert_eq(back, ms, "%s", buf);
    }
}

/* weir_json_parse_object_compact: compact exactly when the writer, given no fields, writes the
 * line back unchanged; checked against the writer on hand-made lines and on random objects with
 * whitespace sprinkled at random. */
static bool written_unchanged(const char *line)
{
    weir_buf b;
    weir_buf_init(&b);
    cr_assert_eq(weir_json_write_object(&b, 0, NULL, NULL, line, strlen(line)), 0, "%s", line);
    bool same = b.len == strlen(line) + 1 && !memcmp(b.data, line, strlen(line));
    weir_buf_finish(&b);
    return same;
}

static bool compact_of(const char *line)
{
    weir_json_fields *f;
    cr_assert_eq(weir_json_fields_create(&f, 1, (const char *[]){"a.b"}), 0);
    weir_arena a;
    weir_arena_init(&a, 256);
    weir_value out[1];
    char err[128];
    bool compact = true;
    cr_assert_eq(
        weir_json_parse_object_compact(f, line, strlen(line), out, &a, err, sizeof err, &compact),
        0, "%s: %s", line, err);
    weir_arena_finish(&a);
    weir_json_fields_destroy(f);
    return compact;
}

Test(json, compact_lines)
{
    static const struct {
        const char *line;
        bool compact;
    } cases[] = {
        {"{}", true},
        {"{\"a\":1,\"b\":\"x y\"}", true},
        {"{\"a\":{\"b\": [1, 2]},\"c\":\"\\\" \"}", true}, /* spaces inside values stay */
        {"{\"a\": 1}", false},
        {"{\"a\" :1}", false},
        {"{ \"a\":1}", false},
        {"{\"a\":1 }", false},
        {"{\"a\":1, \"b\":2}", false},
        {" {\"a\":1}", false},
        {"{\"a\":1}\t", false},
        {"{ }", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_expect_eq(compact_of(cases[i].line), cases[i].compact, "%s", cases[i].line);
        cr_expect_eq(written_unchanged(cases[i].line), cases[i].compact, "%s", cases[i].line);
    }
}

Test(json, compact_random_objects)
{
    static const char *const ws[] = {" ", "\t", "\r\n"}; /* at one place in 12 */
    static const char *const vals[] = {
        "1",    "-2.5e3", "\"s\"", "\"a \\\"b\\\\\"", "[1, {\"x\" : 2}]", "{\"b\": null}",
        "true", "{}"};
    uint64_t x = 88172645463325252ULL;
    int compact_seen = 0, spaced_seen = 0;
    for (int n = 0; n < 3000; n++) {
        char line[1024];
        size_t len = 0;
#define RND()    (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
#define PUT(str) (len += (size_t)snprintf(line + len, sizeof line - len, "%s", (str)))
        PUT((RND() % 12 ? "" : ws[x % 3]));
        PUT("{");
        int members = (int)(RND() % 4);
        for (int m = 0; m < members; m++) {
            if (m) PUT(",");
            PUT((RND() % 12 ? "" : ws[x % 3]));
            PUT(RND() % 2 ? "\"a\"" : "\"k, \\\"q\"");
            PUT((RND() % 12 ? "" : ws[x % 3]));
            PUT(":");
            PUT((RND() % 12 ? "" : ws[x % 3]));
            PUT(vals[RND() % 8]);
            PUT((RND() % 12 ? "" : ws[x % 3]));
        }
        if (!members) PUT((RND() % 12 ? "" : ws[x % 3]));
        PUT("}");
        PUT((RND() % 12 ? "" : ws[x % 3]));
#undef PUT
#undef RND
        bool c = compact_of(line), same = written_unchanged(line);
        cr_assert_eq(c, same, "compact %d but written %s: %s", c, same ? "unchanged" : "changed",
                     line);
        if (c)
            compact_seen++;
        else
            spaced_seen++;
    }
    cr_assert_gt(compact_seen, 100);
    cr_assert_gt(spaced_seen, 100);
}
