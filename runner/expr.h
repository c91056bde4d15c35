/* runner/expr.h: the expression language of Filter.keep and MapToFields.fields (pipeline.md,
 * "Expressions"). Private to the runner.
 *
 * An expression is compiled once, when the pipeline is loaded: field names are resolved to
 * column indexes, types are checked as far as the schema knows them, constant parts are folded.
 * The compiled form is evaluated per record without parsing, without malloc and without locks.
 *
 * Syntax (keywords and function names are lowercase and case-sensitive):
 *
 *   expr    := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | cmp
 *   cmp     := sum (('==' | '!=' | '<' | '<=' | '>' | '>=') sum)?
 *   sum     := product (('+' | '-') product)*
 *   product := unary (('*' | '/' | '%') unary)*
 *   unary   := '-' unary | primary
 *   primary := literal | field | name '(' expr (',' expr)* ')' | '(' expr ')'
 *   field   := segment ('.' segment)*      segment := identifier | `any text`
 *   literal := integer | decimal | 'text' | "text" | 'true' | 'false' | 'null'
 *
 *   Precedence, loosest first: or, and, not, comparisons, + -, * / %, unary -. Binary operators
 *   are left-associative; comparisons do not chain (`a < b < c` is an error: write `a < b and
 *   b < c`), as in SQL. `not a and b` is `(not a) and b`; `not a == b` is `not (a == b)`; `a == not
 * b` needs parentheses: `a == (not b)`.
 *
 * Lexical decisions:
 * - identifiers are [A-Za-z_][A-Za-z0-9_]*; `and or not true false null` are reserved; a name
 *   followed by '(' is a function call, any other name is a field. A field that is not an
 *   identifier (or is a keyword) is written in backquotes, `odd name`, with `` for a backquote.
 * - a dotted path a.b.c (no spaces around the dots; segments may be backquoted) is ONE field
 *   reference: the resolver receives the text "a.b.c". A dot inside backquotes cannot be told
 *   from a path separator, so `a.b` and a.b name the same field.
 * - integers are decimal digits and must fit int64 (-9223372036854775808 is allowed); a number
 *   with '.' or an exponent (1.5, .5, 2., 1e3, 2.5E-3) is a float; a float literal that
 *   overflows is an error. A number directly followed by a letter (12ab) is an error.
 * - strings are in single or double quotes; escapes \\ \' \" \n \t \r, and in single quotes a
 *   doubled '' (as in SQL); any other backslash escape is an error. Text is taken as UTF-8.
 * - whitespace is space, tab, CR and LF. Error columns are 1-based and count characters (UTF-8
 *   code points) from the start of the text, a newline counting as one character.
 *
 * Semantics (where pipeline.md is silent, as SQL and Beam SQL do):
 * - Types: null, bool, int (int64), float (double), string; fields may also hold bytes and json
 *   (raw nested JSON), which can be passed through, compared (bytes only, bytewise), measured
 *   (length of bytes counts bytes) and coalesced, nothing else.
 * - Arithmetic (+ - * / %, unary -) takes numbers; bool and string operands are type errors
 *   (`+` does not join strings: use concat). Any null operand makes the result null.
 *   int op int is int for + - * % and unary -; a result outside int64 is the error "integer
 *   overflow". With a float operand the result is a float (IEEE: it may become inf).
 *   `/` always yields a float (7 / 2 == 3.5). Division by zero, int or float, is an error, and so
 *   is `%` by zero. `%` on ints takes the sign of the dividend (C's %: -7 % 3 == -1,
 *   7 % -3 == 1); `%` with a float operand is fmod (same sign rule).
 * - Comparisons yield a bool, never null: any comparison with a null operand is false, `!=`
 *   included, and `null == null` is false. Numbers compare numerically and exactly (int vs
 *   float too: 9007199254740993 > 9007199254740992.0), NaN compares as C does; strings and bytes
 *   bytewise (then shorter first); bools false < true. Other pairs (string vs number, bool vs
 *   int, anything with json) are type errors.
 * - and / or / not take bools and use SQL's three-valued logic: false and null = false,
 *   true or null = true, not null = null, otherwise null in, null out. They short-circuit:
 *   in `false and X` and `true or X`, X is not evaluated (so `b != 0 and a / b > 1` is safe).
 *   A non-bool operand is a type error. Filter's keep treats null as false (the caller does).
 * - Functions (null in any argument gives null, except in coalesce):
 *     lower(s), upper(s)    ASCII letters only; other bytes are kept as they are.
 *     length(s)             characters (UTF-8 code points; bytes 0x80-0xBF do not count),
 *                           or the byte count of a bytes value. int.
 *     concat(x, ...)        1 or more arguments joined into a string; ints, floats and bools are
 *                           written as text (a float with the fewest digits that read back, and
 *                           always with '.' or 'e': 2.0, 1e+300; nan, inf, -inf); a null
 *                           argument makes the result null (Beam SQL / standard SQL `||`).
 *     substr(s, start[, len])  characters from start (counted from 0) on, at most len of them
 *                           (to the end without len); start past the end gives ''; a negative
 *                           start or len is an error. start and len are ints.
 *     coalesce(x, ...)      the first non-null argument (1 or more arguments), evaluated lazily.
 *     abs(x)                int or float as given; abs of the smallest int64 is an overflow.
 *     floor(x), ceil(x)     an int (as Python's math.floor, which Beam YAML follows); a float
 *                           whose result does not fit int64 (or nan, inf) is an error.
 *     round(x)              half away from zero (2.5 -> 3, -2.5 -> -3), an int (same range rule).
 *     round(x, digits)      a float: x * 10^digits rounded half away from zero, then divided by
 *                           10^digits, in binary floating point; digits may be negative
 *                           (round(1250, -2) == 1300.0).
 * - Type errors are found at compile time when the types of the operands are known from the
 *   schema (literals, fields of a declared type, results of typed operations): `lower(5)`,
 *   `'a' * 2`, `1 < 'x'`, `true and 1`. With a field of type any they are found per record and
 *   are record errors (WEIR_ETYPE). A constant part that always fails (`1 / 0`) is a compile
 *   error. Unknown functions, wrong argument counts and unknown fields are compile errors.
 * - Limits: expressions nest at most WEIR_EXPR_MAX_DEPTH levels (parentheses, prefixes, function
 *   arguments, and the operands of a chain like a + b + c + ... each count), so neither the
 *   parser nor the evaluator can overflow the stack; a function takes at most
 *   WEIR_EXPR_MAX_ARGS arguments.
 *
 * Static types: every field is taken to be nullable (a record may lack it). weir_expr_type gives
 * the type every non-null result has, WEIR_TYPE_ANY when that depends on the record, or
 * WEIR_TYPE_NULL when the result is always null. A comparison always yields a bool, never null;
 * and / or / not yield a bool or null; anything else may be null too.
 *
 * Numbers in the text are read with strtod, which follows LC_NUMERIC: weir never calls
 * setlocale, so that is the "C" locale.
 */
#ifndef WEIR_RUNNER_EXPR_H
#define WEIR_RUNNER_EXPR_H

#include "weir/arena.h"
#include "weir/value.h"

#include <stddef.h>
#include <stdint.h>

#define WEIR_EXPR_MAX_DEPTH 256
#define WEIR_EXPR_MAX_ARGS  1024

/* A compiled expression: immutable after compile, so any number of threads may evaluate it at
 * once (each with its own arena and output). */
typedef struct weir_expr weir_expr;

/* Resolves a field reference (an identifier, a backquoted name, or a dotted path "a.b.c", given
 * NUL-terminated and without backquotes) to its column index in the rows that will be evaluated
 * and its declared type (WEIR_TYPE_ANY if not known). Returns 0, or nonzero if there is no such
 * field (the compiler then reports "unknown field 'x'"). Called only during compile, from the
 * compiling thread. */
typedef int (*weir_expr_resolver)(void *ctx, const char *name, uint32_t *index, weir_type *type);

/* Compiles text (NUL-terminated, UTF-8; not NULL). On success stores a new expression in *out
 * (free it with weir_expr_destroy) and returns 0. On failure returns a negative code and leaves
 * *out untouched: WEIR_EPARSE (syntax, bad literal, nesting too deep), WEIR_EINVAL (unknown field
 * or function, wrong number of arguments), WEIR_ETYPE (type mismatch), WEIR_ENOMEM, or for a
 * constant part that always fails the code its evaluation gives (WEIR_EINVAL for a division by
 * zero, WEIR_ERANGE for an overflow); then, when err_column is not NULL, *err_column is the
 * 1-based column (see above) of the problem, and errbuf (when errlen > 0) holds a message without
 * the column, e.g. "unknown function 'lowr' (did you mean 'lower'?)". resolve may be NULL (then
 * every field is unknown). Any thread may call. */
int weir_expr_compile(const char *text, weir_expr_resolver resolve, void *ctx, weir_expr **out,
                      size_t *err_column, char *errbuf, size_t errlen);

/* The static type of e's results (see "Static types" above). */
weir_type weir_expr_type(const weir_expr *e);

/* True when e was folded to a constant: its value does not depend on the row (which may then be
 * NULL in weir_expr_eval). */
bool weir_expr_is_constant(const weir_expr *e);

/* Evaluates e on one row: row[i] is the value of the field the resolver mapped to index i (the
 * caller guarantees row has every such index). On success stores the result in *out and returns
 * 0; a string result points into the row's memory, into e itself (literals), or into arena (new
 * text, e.g. from concat or lower), so it lives as long as the shortest of those. On failure
 * returns WEIR_ETYPE (operand of the wrong type), WEIR_ERANGE (integer overflow, a float that
 * does not fit an int), WEIR_EINVAL (division by zero, negative substr start or length) or
 * WEIR_ENOMEM (arena exhausted, or arena NULL when new text is needed), writes a message for
 * people into errbuf (e.g. "division by zero"), and leaves *out untouched: a record error, never
 * a crash. Does not call malloc (only weir_arena_alloc). Any thread may call, concurrently on the
 * same e, each with its own arena. */
int weir_expr_eval(const weir_expr *e, const weir_value *row, weir_arena *arena, weir_value *out,
                   char *errbuf, size_t errlen);

/* Frees e. NULL is a no-op. */
void weir_expr_destroy(weir_expr *e);

#endif
