/* tests/test_expr.c: the expression language (runner/expr.h): precedence, every operator and
 * function, null handling and three-valued logic, nested fields through the resolver, compile
 * errors with their columns, record errors at run time. Every expected value is worked out by
 * hand from the rules in expr.h, not taken from the program's output. */
#include "expr.h"
#include "weir/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the schema the tests compile against ---------------------------------------------------- */

enum {
    F_AMOUNT, /* int 5 */
    F_PRICE,  /* float 2.5 */
    F_USER,   /* string "Ann" */
    F_FLAG,   /* bool false */
    F_ANY,    /* any: set per test */
    F_ABC,    /* "a.b.c": int 41 */
    F_ODD,    /* "odd name": string "x" */
    F_NUL,    /* any: null */
    F_RAW,    /* bytes "\0\xff" */
    F_OBJ,    /* json {"k":1} */
    F_P,      /* any: three-valued logic operands */
    F_Q,
    F_R,
    F_BIG,  /* int INT64_MAX */
    F_MIN,  /* int INT64_MIN */
    F_ZERO, /* int 0 */
    F_WORD, /* string "héllo" */
    N_FIELDS
};

static const struct {
    const char *name;
    weir_type type;
} schema[N_FIELDS] = {
    [F_AMOUNT] = {"amount", WEIR_TYPE_INT},
    [F_PRICE] = {"price", WEIR_TYPE_DOUBLE},
    [F_USER] = {"user", WEIR_TYPE_STRING},
    [F_FLAG] = {"flag", WEIR_TYPE_BOOL},
    [F_ANY] = {"any", WEIR_TYPE_ANY},
    [F_ABC] = {"a.b.c", WEIR_TYPE_INT},
    [F_ODD] = {"odd name", WEIR_TYPE_STRING},
    [F_NUL] = {"nul", WEIR_TYPE_ANY},
    [F_RAW] = {"raw", WEIR_TYPE_BYTES},
    [F_OBJ] = {"obj", WEIR_TYPE_JSON},
    [F_P] = {"p", WEIR_TYPE_ANY},
    [F_Q] = {"q", WEIR_TYPE_ANY},
    [F_R] = {"r", WEIR_TYPE_ANY},
    [F_BIG] = {"big", WEIR_TYPE_INT},
    [F_MIN] = {"min", WEIR_TYPE_INT},
    [F_ZERO] = {"zero", WEIR_TYPE_INT},
    [F_WORD] = {"word", WEIR_TYPE_STRING},
};

static weir_value row[N_FIELDS];
static weir_arena arena;
static char asked[256]; /* the last name the resolver was asked for */

static int resolve(void *ctx, const char *name, uint32_t *index, weir_type *type)
{
    (void)ctx;
    snprintf(asked, sizeof asked, "%s", name);
    for (uint32_t i = 0; i < N_FIELDS; i++) {
        if (!strcmp(schema[i].name, name)) {
            *index = i;
            *type = schema[i].type;
            return 0;
        }
    }
    return -1;
}

static void setup(void)
{
    weir_arena_init(&arena, 0);
    row[F_AMOUNT] = weir_value_int(5);
    row[F_PRICE] = weir_value_double(2.5);
    row[F_USER] = weir_value_string("Ann", 3);
    row[F_FLAG] = weir_value_bool(false);
    row[F_ANY] = WEIR_NULL_VALUE;
    row[F_ABC] = weir_value_int(41);
    row[F_ODD] = weir_value_string("x", 1);
    row[F_NUL] = WEIR_NULL_VALUE;
    row[F_RAW] = (weir_value){.type = WEIR_TYPE_BYTES, .len = 2, .as.s = "\0\xff"};
    row[F_OBJ] = (weir_value){.type = WEIR_TYPE_JSON, .len = 7, .as.s = "{\"k\":1}"};
    row[F_P] = row[F_Q] = row[F_R] = WEIR_NULL_VALUE;
    row[F_BIG] = weir_value_int(INT64_MAX);
    row[F_MIN] = weir_value_int(INT64_MIN);
    row[F_ZERO] = weir_value_int(0);
    row[F_WORD] = weir_value_string("h\xc3\xa9llo", 6);
}

/* The expression last evaluated by eval_ok: kept until the next one, since a string result may
 * point into it (a literal). */
static weir_expr *last;

static void teardown(void)
{
    weir_expr_destroy(last);
    last = NULL;
    weir_arena_finish(&arena);
}

TestSuite(expr, .init = setup, .fini = teardown);

/* ---- helpers --------------------------------------------------------------------------------- */

static weir_expr *compile_ok(const char *text)
{
    weir_expr *e = NULL;
    size_t col = 0;
    char msg[256] = "";
    int rc = weir_expr_compile(text, resolve, NULL, &e, &col, msg, sizeof msg);
    cr_assert_eq(rc, 0, "compile '%s': %s (column %zu)", text, msg, col);
    cr_assert_not_null(e);
    return e;
}

static weir_value eval_ok(const char *text)
{
    weir_expr_destroy(last);
    last = compile_ok(text);
    weir_value v;
    char msg[256] = "";
    int rc = weir_expr_eval(last, row, &arena, &v, msg, sizeof msg);
    cr_assert_eq(rc, 0, "eval '%s': %s", text, msg);
    return v;
}

static void expect_int(const char *text, int64_t want)
{
    weir_value v = eval_ok(text);
    cr_assert_eq(v.type, WEIR_TYPE_INT, "'%s' gave a %s, not an int", text,
                 weir_type_name((weir_type)v.type));
    cr_assert_eq(v.as.i, want, "'%s' == %lld, not %lld", text, (long long)v.as.i, (long long)want);
}

static void expect_double(const char *text, double want)
{
    weir_value v = eval_ok(text);
    cr_assert_eq(v.type, WEIR_TYPE_DOUBLE, "'%s' gave a %s, not a float", text,
                 weir_type_name((weir_type)v.type));
    cr_assert(v.as.d == want || (isnan(v.as.d) && isnan(want)), "'%s' == %.17g, not %.17g", text,
              v.as.d, want);
}

static void expect_bool(const char *text, bool want)
{
    weir_value v = eval_ok(text);
    cr_assert_eq(v.type, WEIR_TYPE_BOOL, "'%s' gave a %s, not a bool", text,
                 weir_type_name((weir_type)v.type));
    cr_assert_eq(v.as.b, want, "'%s' is %s", text, v.as.b ? "true" : "false");
}

static void expect_null(const char *text)
{
    weir_value v = eval_ok(text);
    cr_assert_eq(v.type, WEIR_TYPE_NULL, "'%s' gave a %s, not null", text,
                 weir_type_name((weir_type)v.type));
}

static void expect_string(const char *text, const char *want)
{
    weir_value v = eval_ok(text);
    cr_assert_eq(v.type, WEIR_TYPE_STRING, "'%s' gave a %s, not a string", text,
                 weir_type_name((weir_type)v.type));
    cr_assert(v.len == strlen(want) && !memcmp(v.as.s, want, v.len), "'%s' == '%.*s', not '%s'",
              text, (int)v.len, v.as.s, want);
}

/* Compiling text fails with code at column, and the message contains part. */
static void expect_compile_error(const char *text, int code, size_t column, const char *part)
{
    weir_expr *e = (weir_expr *)&e; /* must stay untouched */
    weir_expr *before = e;
    size_t col = 0;
    char msg[256] = "";
    int rc = weir_expr_compile(text, resolve, NULL, &e, &col, msg, sizeof msg);
    cr_assert_eq(rc, code, "compile '%s' gave %s (%s), not %s", text, weir_err_name(rc), msg,
                 weir_err_name(code));
    cr_assert_eq(e, before, "'%s': output touched on failure", text);
    cr_assert_eq(col, column, "'%s': column %zu, not %zu (%s)", text, col, column, msg);
    cr_assert(strstr(msg, part), "'%s': message '%s' lacks '%s'", text, msg, part);
}

/* Evaluating text fails with code and a message containing part. */
static void expect_eval_error(const char *text, int code, const char *part)
{
    weir_expr *e = compile_ok(text);
    weir_value v = weir_value_int(12345);
    char msg[256] = "";
    int rc = weir_expr_eval(e, row, &arena, &v, msg, sizeof msg);
    weir_expr_destroy(e);
    cr_assert_eq(rc, code, "eval '%s' gave %s, not %s", text, weir_err_name(rc),
                 weir_err_name(code));
    cr_assert(strstr(msg, part), "'%s': message '%s' lacks '%s'", text, msg, part);
    cr_assert(v.type == WEIR_TYPE_INT && v.as.i == 12345, "'%s': output touched on failure", text);
}

static weir_type static_type(const char *text)
{
    weir_expr *e = compile_ok(text);
    weir_type t = weir_expr_type(e);
    weir_expr_destroy(e);
    return t;
}

/* ---- precedence and associativity ------------------------------------------------------------ */

Test(expr, precedence)
{
    expect_int("1 + 2 * 3", 7);
    expect_int("(1 + 2) * 3", 9);
    expect_int("2 * 3 + 1", 7);
    expect_int("10 - 4 - 3", 3);  /* (10 - 4) - 3, not 10 - (4 - 3) = 9 */
    expect_int("2 * 3 % 4", 2);   /* (2 * 3) % 4 = 6 % 4 */
    expect_int("20 % 7 * 2", 12); /* (20 % 7) * 2 = 6 * 2 */
    expect_double("100 / 10 / 5", 2.0);
    expect_int("-2 * 3", -6);
    expect_int("- 2 + 3", 1); /* (-2) + 3 */
    expect_int("-amount", -5);
    expect_int("--amount", 5);
    expect_int("1 - -1", 2);
    expect_bool("1 + 2 < 4", true); /* (1 + 2) < 4 */
    expect_bool("2 * 3 == 6", true);
    expect_bool("1 < 2 and 3 > 4 or true", true); /* ((1 < 2) and (3 > 4)) or true */
    expect_bool("true or true and false", true);  /* true or (true and false) */
    expect_bool("not amount == 5", false);        /* not (amount == 5) */
    expect_bool("flag == (not flag)", false);     /* false == true */
    expect_bool("not not flag", false);
}

Test(expr, not_binds_looser_than_comparison_tighter_than_and)
{
    /* not p and q == (not p) and q; not (p and q) would differ for p = true, q = false */
    row[F_P] = weir_value_bool(true), row[F_Q] = weir_value_bool(false);
    expect_bool("not p and q", false);
    expect_bool("not (p and q)", true);
    row[F_P] = weir_value_bool(false), row[F_Q] = weir_value_bool(true);
    expect_bool("not p and q", true);
}

Test(expr, and_binds_tighter_than_or)
{
    /* p or q and r == p or (q and r): true; (p or q) and r would be false */
    row[F_P] = weir_value_bool(true);
    row[F_Q] = weir_value_bool(false);
    row[F_R] = weir_value_bool(false);
    expect_bool("p or q and r", true);
    expect_bool("(p or q) and r", false);
    /* q and r or p == (q and r) or p: true */
    expect_bool("q and r or p", true);
}

/* ---- literals -------------------------------------------------------------------------------- */

Test(expr, literals)
{
    expect_int("42", 42);
    expect_int("007", 7);
    expect_int("9223372036854775807", INT64_MAX);
    expect_int("-9223372036854775808", INT64_MIN);
    expect_double("1.5", 1.5);
    expect_double(".5", 0.5);
    expect_double("2.", 2.0);
    expect_double("1e3", 1000.0);
    expect_double("2.5E-1", 0.25);
    expect_double("1e+2", 100.0);
    expect_bool("true", true);
    expect_bool("false", false);
    expect_null("null");
    expect_string("'hello'", "hello");
    expect_string("\"hello\"", "hello");
    expect_string("''", "");
    expect_string("'it\\'s'", "it's");
    expect_string("'it''s'", "it's");
    expect_string("'a\\\\b'", "a\\b");
    expect_string("\"say \\\"hi\\\"\"", "say \"hi\"");
    expect_string("'tab\\there'", "tab\there");
    expect_string("'line\\n'", "line\n");
    expect_string("'h\xc3\xa9'", "h\xc3\xa9");
}

/* ---- arithmetic ------------------------------------------------------------------------------ */

Test(expr, arithmetic)
{
    expect_int("2 + 3", 5);
    expect_int("2 - 3", -1);
    expect_int("4 * -3", -12);
    expect_int("amount * 2 + 1", 11);
    expect_double("1 + 2.5", 3.5);
    expect_double("2.5 + 1", 3.5);
    expect_double("2 * 1.5", 3.0);
    expect_double("price * 2", 5.0);
    expect_double("price - amount", -2.5);
    expect_double("-price", -2.5);
    expect_int("big - 1", INT64_MAX - 1);
    expect_int("min + 1", INT64_MIN + 1);
}

Test(expr, division_always_float)
{
    expect_double("7 / 2", 3.5);
    expect_double("-7 / 2", -3.5);
    expect_double("6 / 3", 2.0);
    expect_double("amount / 2", 2.5);
    expect_double("1 / 4.0", 0.25);
    expect_double("price / 0.5", 5.0);
    cr_assert_eq(static_type("6 / 3"), WEIR_TYPE_DOUBLE);
}

Test(expr, modulo_sign_of_dividend)
{
    expect_int("7 % 3", 1);
    expect_int("-7 % 3", -1);
    expect_int("7 % -3", 1);
    expect_int("-7 % -3", -1);
    expect_int("6 % 3", 0);
    expect_int("min % -1", 0); /* would trap in C */
    expect_int("amount % 3", 2);
    expect_double("7.5 % 2", 1.5);
    expect_double("-7.5 % 2", -1.5);
    expect_double("7 % 2.5", 2.0);
    expect_double("price % 1", 0.5);
}

Test(expr, arithmetic_with_null_is_null)
{
    expect_null("null + 1");
    expect_null("1 - null");
    expect_null("amount * null");
    expect_null("null / 2");
    expect_null("null / 0");
    expect_null("7 % null");
    expect_null("-null");
    expect_null("nul + 1");
    expect_null("amount / nul");
    expect_null("-nul");
    cr_assert_eq(static_type("null + 1"), WEIR_TYPE_NULL);
}

Test(expr, runtime_arithmetic_errors)
{
    expect_eval_error("big + 1", WEIR_ERANGE, "integer overflow");
    expect_eval_error("min - 1", WEIR_ERANGE, "integer overflow");
    expect_eval_error("big * 2", WEIR_ERANGE, "integer overflow");
    expect_eval_error("-min", WEIR_ERANGE, "integer overflow");
    expect_eval_error("abs(min)", WEIR_ERANGE, "integer overflow");
    expect_eval_error("amount / zero", WEIR_EINVAL, "division by zero");
    expect_eval_error("amount % zero", WEIR_EINVAL, "division by zero");
    expect_eval_error("price / zero", WEIR_EINVAL, "division by zero");
    expect_eval_error("price / (price - 2.5)", WEIR_EINVAL, "division by zero");
    expect_eval_error("amount / 0.0", WEIR_EINVAL, "division by zero");
    expect_eval_error("price % 0", WEIR_EINVAL, "division by zero");
    /* min / -1 is a float: no overflow */
    expect_double("min / -1", 9223372036854775808.0);
}

Test(expr, runtime_type_errors_with_any)
{
    row[F_ANY] = weir_value_string("x", 1);
    expect_eval_error("any + 1", WEIR_ETYPE, "cannot apply '+' to string and int");
    expect_eval_error("any < 3", WEIR_ETYPE, "cannot compare string with int");
    expect_eval_error("-any", WEIR_ETYPE, "negate");
    expect_eval_error("any + any", WEIR_ETYPE, "concat");
    row[F_ANY] = weir_value_int(5);
    expect_eval_error("not any", WEIR_ETYPE, "'not' expects a bool, not int");
    expect_eval_error("any and true", WEIR_ETYPE, "'and' expects bools, not int");
    expect_eval_error("true and any", WEIR_ETYPE, "'and' expects bools, not int");
    expect_eval_error("lower(any)", WEIR_ETYPE, "lower() expects a string, not int");
    expect_eval_error("any == 'x'", WEIR_ETYPE, "cannot compare int with string");
    row[F_ANY] = weir_value_bool(true);
    expect_eval_error("any + 1", WEIR_ETYPE, "cannot apply '+' to bool and int");
    expect_eval_error("any == 1", WEIR_ETYPE, "cannot compare bool with int");
    row[F_ANY] = row[F_RAW];
    expect_eval_error("concat('a', any)", WEIR_ETYPE, "concat() cannot join a bytes");
    expect_eval_error("upper(any)", WEIR_ETYPE, "upper() expects a string, not bytes");
    expect_int("length(any)", 2);
    /* the same expressions are fine when the value has the right type */
    row[F_ANY] = weir_value_int(5);
    expect_int("any + 1", 6);
    expect_bool("any < 3", false);
}

/* ---- comparisons ----------------------------------------------------------------------------- */

Test(expr, comparisons)
{
    expect_bool("1 < 2", true);
    expect_bool("2 < 1", false);
    expect_bool("2 <= 2", true);
    expect_bool("3 <= 2", false);
    expect_bool("3 > 2", true);
    expect_bool("2 > 2", false);
    expect_bool("2 >= 3", false);
    expect_bool("3 >= 3", true);
    expect_bool("1 == 1", true);
    expect_bool("1 != 1", false);
    expect_bool("1 != 2", true);
    expect_bool("1 == 1.0", true); /* numerically */
    expect_bool("1 != 1.0", false);
    expect_bool("2 > 1.5", true);
    expect_bool("1.5 < 2", true);
    expect_bool("amount > 0", true);
    expect_bool("price >= 2.5", true);
    expect_bool("amount == 5.0", true);
    /* exact, not through a double: 2^53 + 1 is not 2^53 */
    expect_bool("9007199254740993 > 9007199254740992.0", true);
    expect_bool("9007199254740992.0 < 9007199254740993", true);
    expect_bool("9007199254740993 == 9007199254740992.0", false);
    expect_bool("big < 9223372036854775808.0", true);
    expect_bool("-1 < -0.5", true);
    expect_bool("-1 > -1.5", true);
    /* strings bytewise */
    expect_bool("'abc' < 'abd'", true);
    expect_bool("'ab' < 'abc'", true);
    expect_bool("'b' > 'abc'", true);
    expect_bool("'B' < 'a'", true);
    expect_bool("'\xc3\xa9' > 'z'", true);
    expect_bool("user == 'Ann'", true);
    expect_bool("user != 'Ann'", false);
    expect_bool("user != 'ann'", true);
    expect_bool("'' < 'a'", true);
    /* bools, bytes */
    expect_bool("false < true", true);
    expect_bool("true == true", true);
    expect_bool("flag == false", true);
    expect_bool("raw == raw", true);
    expect_bool("raw > raw", false);
}

Test(expr, comparison_with_null_is_false)
{
    expect_bool("null == null", false);
    expect_bool("null != null", false);
    expect_bool("nul == 1", false);
    expect_bool("nul != 1", false);
    expect_bool("amount == null", false);
    expect_bool("amount != null", false);
    expect_bool("user < nul", false);
    expect_bool("nul >= nul", false);
    expect_bool("not (null == null)", true);
    /* a string compared with an any that turns out null: false, not a type error */
    expect_bool("nul < 'x'", false);
    cr_assert_eq(static_type("nul == 1"), WEIR_TYPE_BOOL);
}

/* ---- three-valued logic ---------------------------------------------------------------------- */

static weir_value tv(char c)
{
    return c == 'T' ? weir_value_bool(true) : c == 'F' ? weir_value_bool(false) : WEIR_NULL_VALUE;
}

static void expect_tv(const char *text, char want)
{
    if (want == 'N')
        expect_null(text);
    else
        expect_bool(text, want == 'T');
}

static const char *lit(char c)
{
    return c == 'T' ? "true" : c == 'F' ? "false" : "null";
}

Test(expr, three_valued_logic)
{
    /* SQL's truth tables, written out by hand: operands in the order T, F, N */
    const char *vals = "TFN";
    const char *and_table[3] = {"TFN", "FFF", "NFN"};
    const char *or_table[3] = {"TTT", "TFN", "TNN"};
    const char not_table[3] = {'F', 'T', 'N'};
    for (int i = 0; i < 3; i++) {
        char text[64];
        row[F_P] = tv(vals[i]);
        expect_tv("not p", not_table[i]);
        snprintf(text, sizeof text, "not %s", lit(vals[i]));
        expect_tv(text, not_table[i]);
        for (int j = 0; j < 3; j++) {
            row[F_Q] = tv(vals[j]);
            expect_tv("p and q", and_table[i][j]);
            expect_tv("p or q", or_table[i][j]);
            /* the same through constant folding */
            snprintf(text, sizeof text, "%s and %s", lit(vals[i]), lit(vals[j]));
            expect_tv(text, and_table[i][j]);
            snprintf(text, sizeof text, "%s or %s", lit(vals[i]), lit(vals[j]));
            expect_tv(text, or_table[i][j]);
            /* with the field on one side only */
            snprintf(text, sizeof text, "p and %s", lit(vals[j]));
            expect_tv(text, and_table[i][j]);
            snprintf(text, sizeof text, "%s or q", lit(vals[i]));
            expect_tv(text, or_table[i][j]);
        }
    }
}

Test(expr, and_or_short_circuit)
{
    /* the right side is not evaluated when the left decides: no division by zero */
    expect_bool("zero != 0 and amount / zero > 1", false);
    expect_bool("zero == 0 or amount / zero > 1", true);
    expect_bool("flag and amount / zero > 1", false);
    /* and it is when the left does not decide */
    expect_eval_error("zero == 0 and amount / zero > 1", WEIR_EINVAL, "division by zero");
    expect_eval_error("nul or amount / zero > 1", WEIR_EINVAL, "division by zero");
}

/* ---- functions ------------------------------------------------------------------------------- */

Test(expr, lower_upper)
{
    expect_string("lower('HeLLo \xc3\x89!')", "hello \xc3\x89!"); /* É is not ASCII: kept */
    expect_string("upper('abc-\xc3\xa9z')", "ABC-\xc3\xa9Z");
    expect_string("lower(user)", "ann");
    expect_string("upper(user)", "ANN");
    expect_string("lower('')", "");
    expect_string("lower('already')", "already");
    expect_null("lower(null)");
    expect_null("upper(nul)");
    cr_assert_eq(static_type("lower(user)"), WEIR_TYPE_STRING);
}

Test(expr, length_counts_characters)
{
    expect_int("length('h\xc3\xa9llo')", 5);
    expect_int("length(word)", 5);
    expect_int("length('')", 0);
    expect_int("length('\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e')", 3); /* three CJK characters */
    expect_int("length('\xf0\x9f\x98\x80')", 1);                     /* one 4-byte emoji */
    expect_int("length(user)", 3);
    expect_int("length(raw)", 2); /* bytes: the byte count */
    expect_null("length(null)");
    expect_null("length(nul)");
}

Test(expr, concat)
{
    expect_string("concat('a', 'b', 'c')", "abc");
    expect_string("concat(user)", "Ann");
    expect_string("concat(user, '-', amount)", "Ann-5");
    expect_string("concat('x', 1, 2.5, true, false)", "x12.5truefalse");
    expect_string("concat(-3, ':', 2.0, ':', 0.1)", "-3:2.0:0.1");
    expect_string("concat(1e300)", "1e+300");
    expect_string("concat(min)", "-9223372036854775808");
    expect_string("concat('', '')", "");
    expect_string("concat(price)", "2.5");
    expect_null("concat('a', null)");
    expect_null("concat(nul, 'a')");
    expect_null("concat(user, nul, 'a')");
    expect_string("concat('a','b','c','d','e','f','g','h','i','j')", "abcdefghij");
    expect_string("concat(user,user,user,user,user,user,user,user,user,amount)",
                  "AnnAnnAnnAnnAnnAnnAnnAnnAnn5");
}

Test(expr, substr_counts_characters_from_zero)
{
    expect_string("substr('h\xc3\xa9llo', 1, 3)", "\xc3\xa9ll");
    expect_string("substr(word, 1, 3)", "\xc3\xa9ll");
    expect_string("substr('hello', 0, 1)", "h");
    expect_string("substr('hello', 1)", "ello");
    expect_string("substr('hello', 3, 10)", "lo");
    expect_string("substr('hello', 2, 0)", "");
    expect_string("substr('hello', 5, 2)", "");
    expect_string("substr('hello', 10)", "");
    expect_string("substr('h\xc3\xa9llo', 2)", "llo");
    expect_string("substr(user, 0)", "Ann");
    expect_null("substr(null, 1)");
    expect_null("substr(user, nul)");
    expect_null("substr(user, 0, nul)");
    row[F_ANY] = weir_value_int(-1);
    expect_eval_error("substr(user, any)", WEIR_EINVAL, "negative start");
    expect_eval_error("substr(user, 0, any)", WEIR_EINVAL, "negative length");
}

Test(expr, coalesce)
{
    expect_int("coalesce(null, 2, 3)", 2);
    expect_int("coalesce(1, 2)", 1);
    expect_string("coalesce(nul, user)", "Ann");
    expect_null("coalesce(null)");
    expect_null("coalesce(nul, nul)");
    expect_int("coalesce(nul, nul, 7)", 7);
    /* lazy: what follows the first non-null is not evaluated */
    expect_int("coalesce(amount, amount / zero)", 5);
    cr_assert_eq(static_type("coalesce(nul, 0)"), WEIR_TYPE_ANY);
    cr_assert_eq(static_type("coalesce(amount, 0)"), WEIR_TYPE_INT);
    cr_assert_eq(static_type("coalesce(amount, 'x')"), WEIR_TYPE_ANY);      /* amount may be null */
    cr_assert_eq(static_type("coalesce(amount > 0, 'x')"), WEIR_TYPE_BOOL); /* 'x' never reached */
}

Test(expr, abs_floor_ceil)
{
    expect_int("abs(-3)", 3);
    expect_int("abs(3)", 3);
    expect_int("abs(big)", INT64_MAX);
    expect_double("abs(-2.5)", 2.5);
    expect_double("abs(price)", 2.5);
    expect_null("abs(null)");
    expect_int("floor(2.7)", 2);
    expect_int("floor(-2.5)", -3);
    expect_int("floor(5)", 5);
    expect_int("floor(price)", 2);
    expect_int("ceil(2.1)", 3);
    expect_int("ceil(-2.5)", -2);
    expect_int("ceil(2.0)", 2);
    expect_int("ceil(amount)", 5);
    expect_null("floor(nul)");
    expect_null("ceil(null)");
    cr_assert_eq(static_type("floor(price)"), WEIR_TYPE_INT);
    cr_assert_eq(static_type("abs(price)"), WEIR_TYPE_DOUBLE);
    row[F_ANY] = weir_value_double(1e300);
    expect_eval_error("floor(any)", WEIR_ERANGE, "does not fit");
    row[F_ANY] = weir_value_double(NAN);
    expect_eval_error("ceil(any)", WEIR_ERANGE, "does not fit");
}

Test(expr, round_half_away_from_zero)
{
    expect_int("round(2.5)", 3);
    expect_int("round(-2.5)", -3);
    expect_int("round(2.4)", 2);
    expect_int("round(-2.6)", -3);
    expect_int("round(0.5)", 1);
    expect_int("round(-0.5)", -1);
    expect_int("round(1.5)", 2);
    expect_int("round(7)", 7);
    expect_int("round(price)", 3);
    expect_null("round(null)");
    cr_assert_eq(static_type("round(price)"), WEIR_TYPE_INT);
    /* with digits: a float */
    expect_double("round(3.14159, 2)", 3.14);
    expect_double("round(2.5, 0)", 3.0);
    expect_double("round(-2.25, 1)", -2.3); /* -22.5 is exact: away from zero */
    expect_double("round(0.125, 2)", 0.13); /* 12.5 is exact */
    expect_double("round(1250, -2)", 1300.0);
    expect_double("round(-1249, -2)", -1200.0);
    expect_double("round(price, 5)", 2.5);
    expect_double("round(1.5, 400)", 1.5);
    expect_double("round(1.5, -400)", 0.0);
    expect_null("round(price, nul)");
    cr_assert_eq(static_type("round(price, 1)"), WEIR_TYPE_DOUBLE);
    cr_assert_eq(static_type("round(amount, 1)"), WEIR_TYPE_DOUBLE);
}

/* ---- fields ---------------------------------------------------------------------------------- */

Test(expr, nested_and_quoted_fields)
{
    expect_int("a.b.c + 1", 42);
    cr_assert_str_eq(asked, "a.b.c"); /* one reference for the whole path */
    expect_int("a.`b`.c", 41);
    cr_assert_str_eq(asked, "a.b.c");
    expect_bool("`odd name` == 'x'", true);
    expect_string("`user`", "Ann");
    expect_int("`amount`*2", 10);
    expect_bool("flag", false);
    /* a function name alone is a field name */
    expect_compile_error("lower", WEIR_EINVAL, 1, "unknown field 'lower'");
    /* a field that is not there */
    expect_compile_error("a.b.d", WEIR_EINVAL, 1, "unknown field 'a.b.d'");
    expect_compile_error("amount + nope", WEIR_EINVAL, 10, "unknown field 'nope'");
    expect_compile_error("NULL", WEIR_EINVAL, 1, "keywords are lowercase");
    expect_compile_error("amount > 0 AND flag", WEIR_EPARSE, 12,
                         "unexpected 'AND' after the expression (keywords are lowercase)");
}

Test(expr, null_resolver)
{
    weir_expr *e = NULL;
    size_t col = 0;
    char msg[128];
    cr_assert_eq(weir_expr_compile("1 + 2", NULL, NULL, &e, &col, msg, sizeof msg), 0);
    weir_value v;
    cr_assert_eq(weir_expr_eval(e, NULL, NULL, &v, msg, sizeof msg), 0);
    cr_assert_eq(v.as.i, 3);
    weir_expr_destroy(e);
    cr_assert_eq(weir_expr_compile("x", NULL, NULL, &e, &col, msg, sizeof msg), WEIR_EINVAL);
    weir_expr_destroy(NULL);
}

/* ---- static types and folding ---------------------------------------------------------------- */

Test(expr, static_types)
{
    cr_assert_eq(static_type("amount + 1"), WEIR_TYPE_INT);
    cr_assert_eq(static_type("amount + 1.0"), WEIR_TYPE_DOUBLE);
    cr_assert_eq(static_type("amount % 2"), WEIR_TYPE_INT);
    cr_assert_eq(static_type("-price"), WEIR_TYPE_DOUBLE);
    cr_assert_eq(static_type("any + 1"), WEIR_TYPE_ANY);
    cr_assert_eq(static_type("any + 1.0"), WEIR_TYPE_DOUBLE);
    cr_assert_eq(static_type("amount > 0"), WEIR_TYPE_BOOL);
    cr_assert_eq(static_type("not flag"), WEIR_TYPE_BOOL);
    cr_assert_eq(static_type("null"), WEIR_TYPE_NULL);
    cr_assert_eq(static_type("user"), WEIR_TYPE_STRING);
    cr_assert_eq(static_type("any"), WEIR_TYPE_ANY);
    cr_assert_eq(static_type("length(any)"), WEIR_TYPE_INT);
    cr_assert_eq(static_type("concat(user, 1)"), WEIR_TYPE_STRING);
    cr_assert_eq(static_type("substr(user, 1)"), WEIR_TYPE_STRING);
    cr_assert_eq(static_type("raw"), WEIR_TYPE_BYTES);
}

Test(expr, constant_folding)
{
    weir_expr *e = compile_ok("1 + 2 * 3");
    cr_assert(weir_expr_is_constant(e));
    weir_expr_destroy(e);
    e = compile_ok("amount + 2 * 3");
    cr_assert(!weir_expr_is_constant(e));
    weir_expr_destroy(e);
    e = compile_ok("false and amount > 1");
    cr_assert(weir_expr_is_constant(e));
    weir_expr_destroy(e);
    /* a folded string lives in the expression, not in the arena it was folded with */
    e = compile_ok("lower(concat('AB', 'C')) ");
    cr_assert(weir_expr_is_constant(e));
    weir_value v;
    char msg[64];
    cr_assert_eq(weir_expr_eval(e, row, NULL, &v, msg, sizeof msg), 0);
    cr_assert(v.type == WEIR_TYPE_STRING && v.len == 3 && !memcmp(v.as.s, "abc", 3));
    weir_expr_destroy(e);
}

Test(expr, new_text_needs_an_arena)
{
    weir_expr *e = compile_ok("lower(user)");
    weir_value v = weir_value_int(1);
    char msg[64] = "";
    cr_assert_eq(weir_expr_eval(e, row, NULL, &v, msg, sizeof msg), WEIR_ENOMEM);
    cr_assert_eq(v.type, WEIR_TYPE_INT);
    weir_expr_destroy(e);
    /* but not when the input can be shared */
    e = compile_ok("substr(user, 1)");
    cr_assert_eq(weir_expr_eval(e, row, NULL, &v, msg, sizeof msg), 0);
    cr_assert(v.type == WEIR_TYPE_STRING && v.len == 2 && v.as.s == row[F_USER].as.s + 1);
    weir_expr_destroy(e);
}

/* ---- compile errors -------------------------------------------------------------------------- */

Test(expr, compile_errors_syntax)
{
    expect_compile_error("", WEIR_EPARSE, 1, "empty expression");
    expect_compile_error("   ", WEIR_EPARSE, 1, "empty expression");
    expect_compile_error("(1 + 2", WEIR_EPARSE, 7, "missing ')' to close '(' at column 1");
    expect_compile_error("((1)", WEIR_EPARSE, 5, "missing ')' to close '(' at column 1");
    expect_compile_error("1 + (2 * (3)", WEIR_EPARSE, 13, "at column 5");
    expect_compile_error("1 + 2)", WEIR_EPARSE, 6, "unbalanced ')'");
    expect_compile_error("lower(user", WEIR_EPARSE, 11, "missing ')' to close 'lower('");
    expect_compile_error("lower(user user)", WEIR_EPARSE, 12, "expected ',' or ')'");
    expect_compile_error("()", WEIR_EPARSE, 2, "expected an expression, found ')'");
    expect_compile_error("user == 'abc", WEIR_EPARSE, 9, "unterminated string");
    expect_compile_error("\"abc", WEIR_EPARSE, 1, "unterminated string");
    expect_compile_error("'abc\\'", WEIR_EPARSE, 1, "unterminated string");
    expect_compile_error("'a\\qb'", WEIR_EPARSE, 3, "unknown escape");
    expect_compile_error("1 2", WEIR_EPARSE, 3, "unexpected '2' after the expression");
    expect_compile_error("amount amount", WEIR_EPARSE, 8, "unexpected 'amount'");
    expect_compile_error("1 +", WEIR_EPARSE, 4, "expected an expression, found the end");
    expect_compile_error("* 2", WEIR_EPARSE, 1, "expected an expression, found '*'");
    expect_compile_error("1 < 2 < 3", WEIR_EPARSE, 7, "do not chain");
    expect_compile_error("amount = 1", WEIR_EPARSE, 8, "use '=='");
    expect_compile_error("flag && true", WEIR_EPARSE, 6, "use 'and'");
    expect_compile_error("!flag", WEIR_EPARSE, 1, "use 'not'");
    expect_compile_error("1 <> 2", WEIR_EPARSE, 3, "use '!='");
    expect_compile_error("1 # 2", WEIR_EPARSE, 3, "unexpected '#'");
    expect_compile_error("12ab", WEIR_EPARSE, 1, "malformed number");
    expect_compile_error("1e", WEIR_EPARSE, 1, "malformed number");
    expect_compile_error("1.2.3", WEIR_EPARSE, 1, "malformed number");
    expect_compile_error("9223372036854775808", WEIR_EPARSE, 1, "out of range");
    expect_compile_error("99999999999999999999999", WEIR_EPARSE, 1, "out of range");
    expect_compile_error("1e999", WEIR_EPARSE, 1, "out of range");
    expect_compile_error("``", WEIR_EPARSE, 1, "empty");
    expect_compile_error("`abc", WEIR_EPARSE, 1, "unterminated");
    expect_compile_error("concat('a',)", WEIR_EPARSE, 12, "expected an expression");
    expect_compile_error("flag == not flag", WEIR_EPARSE, 9, "needs parentheses");
    expect_compile_error("-not flag", WEIR_EPARSE, 2, "needs parentheses");
}

Test(expr, compile_errors_functions)
{
    expect_compile_error("lowr(user)", WEIR_EINVAL, 1,
                         "unknown function 'lowr' (did you mean 'lower'?)");
    expect_compile_error("upper(lowr(user))", WEIR_EINVAL, 7, "unknown function 'lowr'");
    expect_compile_error("LOWER(user)", WEIR_EINVAL, 1, "did you mean 'lower'");
    expect_compile_error("frobnicate(1)", WEIR_EINVAL, 1, "unknown function 'frobnicate'");
    expect_compile_error("lower()", WEIR_EINVAL, 1, "lower() takes 1 argument, got 0");
    expect_compile_error("1 + lower(user, user)", WEIR_EINVAL, 5, "takes 1 argument, got 2");
    expect_compile_error("substr('x')", WEIR_EINVAL, 1, "substr() takes 2 or 3 arguments, got 1");
    expect_compile_error("round(1, 2, 3)", WEIR_EINVAL, 1, "takes 1 or 2 arguments, got 3");
    expect_compile_error("concat()", WEIR_EINVAL, 1, "takes at least 1 argument, got 0");
    expect_compile_error("coalesce()", WEIR_EINVAL, 1, "takes at least 1 argument, got 0");
}

Test(expr, compile_errors_types)
{
    expect_compile_error("lower(5)", WEIR_ETYPE, 7,
                         "lower() expects a string as argument 1, not int");
    expect_compile_error("upper(amount)", WEIR_ETYPE, 7, "not int");
    expect_compile_error("length(true)", WEIR_ETYPE, 8, "length()");
    expect_compile_error("abs('x')", WEIR_ETYPE, 5, "expects a number");
    expect_compile_error("floor(user)", WEIR_ETYPE, 7, "expects a number");
    expect_compile_error("substr(user, 1.5)", WEIR_ETYPE, 14, "as argument 2, not float");
    expect_compile_error("round(price, 1.5)", WEIR_ETYPE, 14, "as argument 2");
    expect_compile_error("concat(user, obj)", WEIR_ETYPE, 14, "cannot join a json");
    expect_compile_error("'a' * 2", WEIR_ETYPE, 5, "cannot apply '*' to string and int");
    expect_compile_error("user * 2", WEIR_ETYPE, 6, "cannot apply '*' to string and int");
    expect_compile_error("'a' + 'b'", WEIR_ETYPE, 5, "use concat");
    expect_compile_error("flag + 1", WEIR_ETYPE, 6, "bool and int");
    expect_compile_error("-user", WEIR_ETYPE, 1, "cannot negate a string");
    expect_compile_error("1 < 'x'", WEIR_ETYPE, 3, "cannot compare int with string");
    expect_compile_error("user == amount", WEIR_ETYPE, 6, "cannot compare string with int");
    expect_compile_error("true == 1", WEIR_ETYPE, 6, "cannot compare bool with int");
    expect_compile_error("obj == obj", WEIR_ETYPE, 5, "cannot compare json with json");
    expect_compile_error("raw == 'x'", WEIR_ETYPE, 5, "cannot compare bytes with string");
    expect_compile_error("not 5", WEIR_ETYPE, 1, "'not' expects a bool, not int");
    expect_compile_error("true and 1", WEIR_ETYPE, 6, "'and' expects bools, not int");
    expect_compile_error("user or flag", WEIR_ETYPE, 6, "'or' expects bools, not string");
    expect_compile_error("raw + 1", WEIR_ETYPE, 5, "bytes");
    /* a type error deep inside, after correct parts */
    expect_compile_error("amount > 0 and lower(amount) == 'x'", WEIR_ETYPE, 22, "lower()");
}

Test(expr, compile_errors_constant_parts)
{
    expect_compile_error("1 / 0", WEIR_EINVAL, 3, "division by zero");
    expect_compile_error("amount + 7 % 0", WEIR_EINVAL, 12, "division by zero");
    expect_compile_error("9223372036854775807 + 1", WEIR_ERANGE, 21, "integer overflow");
    expect_compile_error("--9223372036854775808", WEIR_ERANGE, 1, "integer overflow");
    expect_compile_error("floor(1e300)", WEIR_ERANGE, 1, "does not fit");
    expect_compile_error("substr('abc', -1)", WEIR_EINVAL, 1, "negative start");
}

Test(expr, columns_count_characters)
{
    /* '\xc3\xa9' is one character in two bytes: '+' is character 5, byte 6 */
    expect_compile_error("'\xc3\xa9' + 1", WEIR_ETYPE, 5, "cannot apply '+'");
    /* newlines count as one character each */
    expect_compile_error("amount >\n 0 and\n nope", WEIR_EINVAL, 18, "unknown field 'nope'");
}

Test(expr, nesting_limit)
{
    char text[4096];
    size_t n = 0;
    /* 200 parentheses: fine */
    for (int i = 0; i < 200; i++) text[n++] = '(';
    text[n++] = '1';
    for (int i = 0; i < 200; i++) text[n++] = ')';
    text[n] = 0;
    expect_int(text, 1);
    /* 300: an error, not a stack overflow */
    n = 0;
    for (int i = 0; i < 300; i++) text[n++] = '(';
    text[n++] = '1';
    for (int i = 0; i < 300; i++) text[n++] = ')';
    text[n] = 0;
    weir_expr *e = NULL;
    size_t col = 0;
    char msg[256];
    cr_assert_eq(weir_expr_compile(text, resolve, NULL, &e, &col, msg, sizeof msg), WEIR_EPARSE);
    cr_assert(strstr(msg, "nested too deeply"), "%s", msg);
    /* so is a long chain of operators, whose tree is as deep */
    n = 0;
    for (int i = 0; i < 300; i++) n += (size_t)sprintf(text + n, "amount + ");
    sprintf(text + n, "1");
    cr_assert_eq(weir_expr_compile(text, resolve, NULL, &e, &col, msg, sizeof msg), WEIR_EPARSE);
    cr_assert(strstr(msg, "nested too deeply"), "%s", msg);
    /* and prefixes */
    n = 0;
    for (int i = 0; i < 1000; i++) text[n++] = '-';
    text[n++] = '1';
    text[n] = 0;
    cr_assert_eq(weir_expr_compile(text, resolve, NULL, &e, &col, msg, sizeof msg), WEIR_EPARSE);
    /* a function takes at most 1024 arguments */
    n = (size_t)sprintf(text, "concat(");
    for (int i = 0; i < 1025; i++) n += (size_t)sprintf(text + n, "1,");
    sprintf(text + n - 1, ")");
    cr_assert_eq(weir_expr_compile(text, resolve, NULL, &e, &col, msg, sizeof msg), WEIR_EPARSE);
    cr_assert(strstr(msg, "more than 1024 arguments"), "%s", msg);
    cr_assert_eq(col, 7 + 2 * 1024 + 1);
    /* 100 operands are fine */
    n = 0;
    for (int i = 0; i < 99; i++) n += (size_t)sprintf(text + n, "amount + ");
    sprintf(text + n, "1");
    expect_int(text, 99 * 5 + 1);
}

Test(expr, message_buffers_are_bounded)
{
    weir_expr *e = NULL;
    size_t col = 0;
    char msg[8];
    memset(msg, 'x', sizeof msg);
    cr_assert_eq(weir_expr_compile("lowr(1)", resolve, NULL, &e, &col, msg, sizeof msg),
                 WEIR_EINVAL);
    cr_assert_eq(strlen(msg), 7);
    cr_assert_eq(weir_expr_compile("lowr(1)", resolve, NULL, &e, NULL, NULL, 0), WEIR_EINVAL);
    e = compile_ok("amount / zero");
    weir_value v;
    cr_assert_eq(weir_expr_eval(e, row, &arena, &v, NULL, 0), WEIR_EINVAL);
    cr_assert_eq(weir_expr_eval(e, row, &arena, &v, msg, sizeof msg), WEIR_EINVAL);
    cr_assert_str_eq(msg, "divisio");
    weir_expr_destroy(e);
}

Test(expr, composite)
{
    /* lower and concat make new text; the comparison reads it */
    weir_expr *e = compile_ok("concat(lower(user), '-', amount * 2) == 'ann-10' and price > 2");
    weir_value v;
    char msg[64];
    cr_assert_eq(weir_expr_eval(e, row, &arena, &v, msg, sizeof msg), 0);
    cr_assert(v.type == WEIR_TYPE_BOOL && v.as.b);
    weir_expr_destroy(e);
}

Test(expr, field_against_constant_with_any_value)
{
    /* `field <op> constant` has nodes of its own; they must agree with the general rules for
     * every value the field can hold */
    row[F_ANY] = weir_value_double(2.5);
    expect_bool("any > 2", true);
    expect_bool("any == 2", false);
    expect_bool("2 < any", true);
    expect_double("any * 2", 5.0);
    row[F_ANY] = WEIR_NULL_VALUE;
    expect_bool("any > 2", false);
    expect_bool("any != 2", false);
    expect_bool("any == 'x'", false);
    expect_bool("any != 'x'", false);
    expect_null("any + 1");
    row[F_ANY] = weir_value_int(2);
    expect_bool("any >= 2", true);
    expect_bool("any <= 2", true);
    expect_bool("any < 2", false);
    expect_bool("any == 2.0", true);
    expect_bool("any != 2", false);
    expect_eval_error("any != 'x'", WEIR_ETYPE, "cannot compare int with string");
    row[F_ANY] = weir_value_string("x", 1);
    expect_bool("any == 'x'", true);
    expect_bool("any != 'x'", false);
    expect_bool("any != 'xy'", true);
    expect_bool("any != ''", true);
    expect_bool("any < 'y'", true);
    expect_eval_error("any > 0", WEIR_ETYPE, "cannot compare string with int");
    expect_eval_error("0 < any", WEIR_ETYPE, "cannot compare int with string");
    row[F_ANY] = weir_value_string("", 0);
    expect_bool("any == ''", true);
}
