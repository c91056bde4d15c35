/* runner/expr.c: the expression language of Filter and MapToFields (semantics in expr.h).
 *
 * Compiling is one pass of recursive descent with precedence climbing over a one-token lexer.
 * Each node is type-checked as it is built, with the set of types its operands can have (a
 * bitmask: a field of declared type int is {int, null}, a field of type any is everything), so a
 * type error is reported with its column as soon as no combination of operand types can work; a
 * node whose operands are all constants is evaluated right away (constant folding) by the same
 * evaluator that runs per record, so folding can never disagree with evaluation. The parse tree
 * lives in growable compile-time arrays; at the end the nodes still reachable from the root are
 * copied, preorder, into one allocation together with their argument lists and string
 * constants. That block is the compiled expression: immutable, shareable across threads.
 *
 * Evaluation walks that tree recursively (its depth is bounded at compile time, so the stack is
 * too): no parsing, no malloc, only the caller's arena for new text. `field <op> constant`, the
 * shape that dominates filters, becomes one node instead of three, with its own fast paths for
 * an int comparison and a string (in)equality; ev() itself only dispatches, so those leaves cost
 * no stack frame. Every node writes its result last, after whatever can fail, straight into the
 * caller's output: no temporary copy (a 16-byte reload of a value just stored in two halves
 * stalls store forwarding, which once made `amount > 0` cost 10 ns instead of 4). */
#include "expr.h"
#include "weir/buf.h"
#include "weir/error.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- nodes ---------------------------------------------------------------------------------- */

enum {
    OP_CONST, /* k */
    OP_FIELD, /* row[a] */
    OP_NEG,   /* -a */
    OP_NOT,   /* not a */
    /* binary: a, b */
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_AND,
    OP_OR,
    /* functions: arguments are nodes args[a .. a + n) */
    OP_LOWER,
    OP_UPPER,
    OP_LENGTH,
    OP_CONCAT,
    OP_SUBSTR,
    OP_COALESCE,
    OP_ABS,
    OP_FLOOR,
    OP_CEIL,
    OP_ROUND,
    /* made by link(): row[a] <cmp or arith> k, the operator in sub */
    OP_FIELD_CONST,
    OP_CONST_FIELD,   /* k <op> row[a] */
    OP_FIELD_CMP_INT, /* row[a] <cmp> k, k an int: the result for -1, 0, 1 is in bits */
    OP_FIELD_EQ_STR,  /* row[a] == k or row[a] != k (sub), k a string */
};

/* Type sets: bit t stands for weir_type t. */
#define TS(t)    (1u << (t))
#define M_NULL   TS(WEIR_TYPE_NULL)
#define M_BOOL   TS(WEIR_TYPE_BOOL)
#define M_INT    TS(WEIR_TYPE_INT)
#define M_DOUBLE TS(WEIR_TYPE_DOUBLE)
#define M_STRING TS(WEIR_TYPE_STRING)
#define M_BYTES  TS(WEIR_TYPE_BYTES)
#define M_JSON   TS(WEIR_TYPE_JSON)
#define M_NUM    (M_INT | M_DOUBLE)
#define M_ANY    (M_NULL | M_BOOL | M_NUM | M_STRING | M_BYTES | M_JSON)

typedef struct node {
    uint8_t op;
    uint8_t sub;    /* OP_FIELD_CONST / OP_CONST_FIELD: the binary operator */
    uint8_t mask;   /* the types a result can have */
    uint8_t bits;   /* OP_FIELD_CMP_INT: bit r + 1 is the result when row[a] <=> k is r */
    uint16_t depth; /* compile time: height of the subtree */
    uint16_t n;     /* functions: number of arguments */
    uint32_t a, b;  /* operands (node indexes); FIELD: column; functions: first index in args */
    uint32_t at;    /* byte offset of the operator, function name or literal (compile time) */
    uint32_t start; /* byte offset where the subexpression starts (compile time) */
    weir_value k;   /* CONST: the value */
} node;

struct weir_expr {
    const node *nodes; /* nodes[0] is the root */
    const uint32_t *args;
    uint8_t mask;
    _Alignas(16) unsigned char data[]; /* nodes, args, string constants */
};

static const char *const op_names[] = {
    [OP_NEG] = "-", [OP_NOT] = "not", [OP_ADD] = "+", [OP_SUB] = "-",   [OP_MUL] = "*",
    [OP_DIV] = "/", [OP_MOD] = "%",   [OP_EQ] = "==", [OP_NE] = "!=",   [OP_LT] = "<",
    [OP_LE] = "<=", [OP_GT] = ">",    [OP_GE] = ">=", [OP_AND] = "and", [OP_OR] = "or",
};

typedef struct function {
    const char *name;
    uint8_t op;
    uint16_t min, max;
} function;

static const function functions[] = {
    {"lower", OP_LOWER, 1, 1},   {"upper", OP_UPPER, 1, 1},
    {"length", OP_LENGTH, 1, 1}, {"concat", OP_CONCAT, 1, WEIR_EXPR_MAX_ARGS},
    {"substr", OP_SUBSTR, 2, 3}, {"coalesce", OP_COALESCE, 1, WEIR_EXPR_MAX_ARGS},
    {"abs", OP_ABS, 1, 1},       {"floor", OP_FLOOR, 1, 1},
    {"ceil", OP_CEIL, 1, 1},     {"round", OP_ROUND, 1, 2},
};
#define N_FUNCTIONS (sizeof functions / sizeof functions[0])

static const char *function_name(int op)
{
    for (size_t i = 0; i < N_FUNCTIONS; i++)
        if (functions[i].op == op) return functions[i].name;
    return "?";
}

/* ---- evaluation ----------------------------------------------------------------------------- */

typedef struct evctx {
    const node *nodes;
    const uint32_t *args;
    const weir_value *row;
    weir_arena *arena;
    char *errbuf;
    size_t errlen;
} evctx;

__attribute__((cold, noinline, format(printf, 3, 4))) static int fail(const evctx *c, int code,
                                                                      const char *fmt, ...)
{
    if (c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errbuf, c->errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const char *tname(const weir_value *v)
{
    return weir_type_name((weir_type)v->type);
}

static int overflow(const evctx *c)
{
    return fail(c, WEIR_ERANGE, "integer overflow");
}

static int division_by_zero(const evctx *c)
{
    return fail(c, WEIR_EINVAL, "division by zero");
}

static void *arena_alloc(const evctx *c, size_t n)
{
    return c->arena ? weir_arena_alloc(c->arena, n ? n : 1) : NULL;
}

static int no_memory(const evctx *c)
{
    return fail(c, WEIR_ENOMEM, c->arena ? "out of memory" : "no arena for a string result");
}

static int ev(const evctx *c, uint32_t i, weir_value *out);

/* Three-way comparison results; UNORDERED when a NaN is involved. */
enum { CMP_UNORDERED = 2 };

static int cmp_int_double(int64_t i, double d)
{
    if (d != d) return CMP_UNORDERED;
    if (d >= 9223372036854775808.0) return -1;
    if (d < -9223372036854775808.0) return 1;
    double t = trunc(d); /* in [-2^63, 2^63): fits int64 exactly */
    int64_t ti = (int64_t)t;
    if (i != ti) return i < ti ? -1 : 1;
    double frac = d - t; /* exact */
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_bytes(const weir_value *x, const weir_value *y)
{
    uint32_t n = x->len < y->len ? x->len : y->len;
    int r = n ? memcmp(x->as.s, y->as.s, n) : 0;
    if (r) return r < 0 ? -1 : 1;
    return (x->len > y->len) - (x->len < y->len);
}

/* Whether values of types tx and ty can be compared. */
static bool comparable(uint32_t tx, uint32_t ty)
{
    uint32_t m = TS(tx) | TS(ty);
    return (m & ~M_NUM) == 0 || m == M_STRING || m == M_BOOL || m == M_BYTES;
}

static int compare(const evctx *c, int op, const weir_value *x, const weir_value *y,
                   weir_value *out)
{
    int r;
    if (x->type == WEIR_TYPE_NULL || y->type == WEIR_TYPE_NULL) {
        *out = weir_value_bool(false);
        return 0;
    }
    if ((op == OP_EQ || op == OP_NE) && x->type == WEIR_TYPE_STRING &&
        y->type == WEIR_TYPE_STRING) { /* equality needs no order: lengths first */
        bool eq = x->len == y->len && (!x->len || !memcmp(x->as.s, y->as.s, x->len));
        *out = weir_value_bool(eq == (op == OP_EQ));
        return 0;
    }
    if (x->type == WEIR_TYPE_INT && y->type == WEIR_TYPE_INT) {
        r = (x->as.i > y->as.i) - (x->as.i < y->as.i);
    } else if (x->type == WEIR_TYPE_DOUBLE && y->type == WEIR_TYPE_DOUBLE) {
        double a = x->as.d, b = y->as.d;
        r = a < b ? -1 : a > b ? 1 : a == b ? 0 : CMP_UNORDERED;
    } else if (x->type == WEIR_TYPE_INT && y->type == WEIR_TYPE_DOUBLE) {
        r = cmp_int_double(x->as.i, y->as.d);
    } else if (x->type == WEIR_TYPE_DOUBLE && y->type == WEIR_TYPE_INT) {
        r = cmp_int_double(y->as.i, x->as.d);
        if (r != CMP_UNORDERED) r = -r;
    } else if (x->type == y->type && (x->type == WEIR_TYPE_STRING || x->type == WEIR_TYPE_BYTES)) {
        r = cmp_bytes(x, y);
    } else if (x->type == WEIR_TYPE_BOOL && y->type == WEIR_TYPE_BOOL) {
        r = (int)x->as.b - (int)y->as.b;
    } else {
        return fail(c, WEIR_ETYPE, "cannot compare %s with %s", tname(x), tname(y));
    }
    bool v;
    switch (op) {
    case OP_EQ: v = r == 0; break;
    case OP_NE: v = r != 0; break; /* NaN != x holds, as in C */
    case OP_LT: v = r == -1; break;
    case OP_LE: v = r == -1 || r == 0; break;
    case OP_GT: v = r == 1; break;
    default: v = r == 1 || r == 0; break;
    }
    *out = weir_value_bool(v);
    return 0;
}

static bool to_double(const weir_value *v, double *d)
{
    if (v->type == WEIR_TYPE_DOUBLE)
        *d = v->as.d;
    else if (v->type == WEIR_TYPE_INT)
        *d = (double)v->as.i;
    else
        return false;
    return true;
}

static int arith(const evctx *c, int op, const weir_value *x, const weir_value *y, weir_value *out)
{
    if (x->type == WEIR_TYPE_NULL || y->type == WEIR_TYPE_NULL) {
        *out = WEIR_NULL_VALUE;
        return 0;
    }
    if (x->type == WEIR_TYPE_INT && y->type == WEIR_TYPE_INT) {
        int64_t a = x->as.i, b = y->as.i, r;
        switch (op) {
        case OP_ADD:
            if (__builtin_add_overflow(a, b, &r)) return overflow(c);
            break;
        case OP_SUB:
            if (__builtin_sub_overflow(a, b, &r)) return overflow(c);
            break;
        case OP_MUL:
            if (__builtin_mul_overflow(a, b, &r)) return overflow(c);
            break;
        case OP_DIV:
            if (b == 0) return division_by_zero(c);
            *out = weir_value_double((double)a / (double)b);
            return 0;
        default: /* OP_MOD */
            if (b == 0) return division_by_zero(c);
            r = b == -1 ? 0 : a % b; /* INT64_MIN % -1 is undefined in C */
            break;
        }
        *out = weir_value_int(r);
        return 0;
    }
    double a, b, r;
    if (!to_double(x, &a) || !to_double(y, &b)) {
        if (op == OP_ADD && x->type == WEIR_TYPE_STRING && y->type == WEIR_TYPE_STRING)
            return fail(c, WEIR_ETYPE, "cannot apply '+' to string and string (use concat)");
        return fail(c, WEIR_ETYPE, "cannot apply '%s' to %s and %s", op_names[op], tname(x),
                    tname(y));
    }
    switch (op) {
    case OP_ADD: r = a + b; break;
    case OP_SUB: r = a - b; break;
    case OP_MUL: r = a * b; break;
    case OP_DIV:
        if (b == 0) return division_by_zero(c);
        r = a / b;
        break;
    default:
        if (b == 0) return division_by_zero(c);
        r = fmod(a, b);
        break;
    }
    *out = weir_value_double(r);
    return 0;
}

/* Applies binary operator op (arithmetic or comparison) to two evaluated operands. */
static inline int binary(const evctx *c, int op, const weir_value *x, const weir_value *y,
                         weir_value *out)
{
    if (op >= OP_EQ) return compare(c, op, x, y, out);
    return arith(c, op, x, y, out);
}

/* Number of characters (code points) in s[0..len): bytes that are not UTF-8 continuations. */
static uint32_t count_chars(const char *s, uint32_t len)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* 1-based column of byte offset at in text: characters before it, plus one. */
static size_t column(const char *text, uint32_t at)
{
    return count_chars(text, at) + 1;
}

/* Byte offset in s[0..len) after skipping k characters (len if there are fewer). */
static uint32_t skip_chars(const char *s, uint32_t len, int64_t k)
{
    uint32_t i = 0;
    if (k <= 0) return 0;
    /* the first character also takes any stray continuation bytes that open the string */
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
    while (i < len && k > 0) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        k--;
    }
    return i;
}

/* Writes v (int, float or bool) as text into buf (at least 32 bytes); returns its length. */
static size_t format_scalar(char *buf, const weir_value *v)
{
    if (v->type == WEIR_TYPE_BOOL) {
        memcpy(buf, v->as.b ? "true" : "false", 5);
        return v->as.b ? 4 : 5;
    }
    if (v->type == WEIR_TYPE_INT) {
        char tmp[24];
        size_t n = 0;
        int64_t i = v->as.i;
        uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
        do tmp[n++] = (char)('0' + u % 10);
        while ((u /= 10));
        size_t len = 0;
        if (i < 0) buf[len++] = '-';
        while (n) buf[len++] = tmp[--n];
        return len;
    }
    double d = v->as.d;
    if (d != d) return memcpy(buf, "nan", 3), 3;
    if (isinf(d)) return d > 0 ? (memcpy(buf, "inf", 3), 3) : (memcpy(buf, "-inf", 4), 4);
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(buf, 32, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    if (!memchr(buf, '.', (size_t)len) && !memchr(buf, 'e', (size_t)len)) {
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    return (size_t)len;
}

static int concat(const evctx *c, const node *n, weir_value *out)
{
    const uint32_t *args = c->args + n->a;
    weir_value local[8], *v = local;
    size_t total = 0;
    int rc;
    if (n->n > 8 && !(v = arena_alloc(c, n->n * sizeof *v))) return no_memory(c);
    for (uint32_t k = 0; k < n->n; k++) {
        if ((rc = ev(c, args[k], &v[k]))) return rc;
        switch (v[k].type) {
        case WEIR_TYPE_NULL: *out = WEIR_NULL_VALUE; return 0;
        case WEIR_TYPE_STRING: total += v[k].len; break;
        case WEIR_TYPE_BOOL:
        case WEIR_TYPE_INT:
        case WEIR_TYPE_DOUBLE: total += 32; break;
        default: return fail(c, WEIR_ETYPE, "concat() cannot join a %s", tname(&v[k]));
        }
    }
    if (n->n == 1 && v[0].type == WEIR_TYPE_STRING) {
        *out = v[0];
        return 0;
    }
    if (total > UINT32_MAX) return fail(c, WEIR_ERANGE, "concat(): result too long");
    char *buf = arena_alloc(c, total);
    if (!buf) return no_memory(c);
    size_t len = 0;
    for (uint32_t k = 0; k < n->n; k++) {
        if (v[k].type == WEIR_TYPE_STRING) {
            if (v[k].len) memcpy(buf + len, v[k].as.s, v[k].len);
            len += v[k].len;
        } else {
            len += format_scalar(buf + len, &v[k]);
        }
    }
    *out = weir_value_string(buf, len);
    return 0;
}

static int change_case(const evctx *c, bool upper, const weir_value *s, weir_value *out)
{
    const unsigned char *p = (const unsigned char *)s->as.s;
    char lo = upper ? 'a' : 'A', hi = upper ? 'z' : 'Z';
    uint32_t i = 0;
    while (i < s->len && !(p[i] >= lo && p[i] <= hi)) i++;
    if (i == s->len) { /* nothing to change: share the input */
        *out = *s;
        return 0;
    }
    char *buf = arena_alloc(c, s->len);
    if (!buf) return no_memory(c);
    memcpy(buf, p, i);
    for (; i < s->len; i++) {
        char ch = (char)p[i];
        buf[i] = ch >= lo && ch <= hi ? (char)(ch ^ 0x20) : ch;
    }
    *out = weir_value_string(buf, s->len);
    return 0;
}

/* floor/ceil/round results as int64, or a range error. */
static int double_to_int(const evctx *c, int op, double d, weir_value *out)
{
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return fail(c, WEIR_ERANGE, "%s(): %g does not fit an int", function_name(op), d);
    *out = weir_value_int((int64_t)d);
    return 0;
}

static double round_digits(double x, int64_t digits)
{
    if (!isfinite(x) || x == 0) return x;
    if (digits >= 0) {
        if (digits > 400) return x;
        double p = pow(10, (double)digits), y = x * p;
        if (!isfinite(p) || !isfinite(y) || fabs(y) >= 4503599627370496.0) return x; /* 2^52 */
        return round(y) / p;
    }
    if (digits < -400) return copysign(0.0, x);
    double p = pow(10, (double)-digits);
    if (!isfinite(p)) return copysign(0.0, x);
    double r = round(x / p) * p;
    return r == 0 ? copysign(0.0, x) : r;
}

static int expects(const evctx *c, int op, const char *what, const weir_value *got)
{
    return fail(c, WEIR_ETYPE, "%s() expects %s, not %s", function_name(op), what, tname(got));
}

/* Kept out of ev() so that ev's frame, which recursion multiplies, stays small. */
__attribute__((noinline)) static int call(const evctx *c, const node *n, weir_value *out)
{
    const uint32_t *args = c->args + n->a;
    weir_value v[3] = {{0}};
    int rc;
    if (n->op == OP_CONCAT) return concat(c, n, out);
    if (n->op == OP_COALESCE) {
        for (uint32_t k = 0; k < n->n; k++) {
            if ((rc = ev(c, args[k], &v[0]))) return rc;
            if (v[0].type != WEIR_TYPE_NULL) break;
        }
        *out = v[0];
        return 0;
    }
    for (uint32_t k = 0; k < n->n; k++) {
        if ((rc = ev(c, args[k], &v[k]))) return rc;
        if (v[k].type == WEIR_TYPE_NULL) {
            *out = WEIR_NULL_VALUE;
            return 0;
        }
    }
    switch (n->op) {
    case OP_LOWER:
    case OP_UPPER:
        if (v[0].type != WEIR_TYPE_STRING) return expects(c, n->op, "a string", &v[0]);
        return change_case(c, n->op == OP_UPPER, &v[0], out);
    case OP_LENGTH:
        if (v[0].type == WEIR_TYPE_STRING)
            *out = weir_value_int(count_chars(v[0].as.s, v[0].len));
        else if (v[0].type == WEIR_TYPE_BYTES)
            *out = weir_value_int(v[0].len);
        else
            return expects(c, n->op, "a string", &v[0]);
        return 0;
    case OP_SUBSTR: {
        if (v[0].type != WEIR_TYPE_STRING) return expects(c, n->op, "a string", &v[0]);
        if (v[1].type != WEIR_TYPE_INT) return expects(c, n->op, "an int start", &v[1]);
        if (n->n == 3 && v[2].type != WEIR_TYPE_INT)
            return expects(c, n->op, "an int length", &v[2]);
        if (v[1].as.i < 0) return fail(c, WEIR_EINVAL, "substr(): negative start");
        if (n->n == 3 && v[2].as.i < 0) return fail(c, WEIR_EINVAL, "substr(): negative length");
        const char *s = v[0].as.s;
        if (!v[0].len) { /* s may be NULL */
            *out = weir_value_string("", 0);
            return 0;
        }
        uint32_t from = skip_chars(s, v[0].len, v[1].as.i), to = v[0].len;
        if (n->n == 3) to = from + skip_chars(s + from, v[0].len - from, v[2].as.i);
        *out = weir_value_string(from < to ? s + from : "", to - from);
        return 0;
    }
    case OP_ABS:
        if (v[0].type == WEIR_TYPE_INT) {
            if (v[0].as.i == INT64_MIN) return overflow(c);
            *out = weir_value_int(v[0].as.i < 0 ? -v[0].as.i : v[0].as.i);
        } else if (v[0].type == WEIR_TYPE_DOUBLE) {
            *out = weir_value_double(fabs(v[0].as.d));
        } else {
            return expects(c, n->op, "a number", &v[0]);
        }
        return 0;
    case OP_FLOOR:
    case OP_CEIL:
    case OP_ROUND:
        if (n->n == 2) {
            double x;
            if (!to_double(&v[0], &x)) return expects(c, n->op, "a number", &v[0]);
            if (v[1].type != WEIR_TYPE_INT) return expects(c, n->op, "int digits", &v[1]);
            *out = weir_value_double(round_digits(x, v[1].as.i));
            return 0;
        }
        if (v[0].type == WEIR_TYPE_INT) {
            *out = v[0];
            return 0;
        }
        if (v[0].type != WEIR_TYPE_DOUBLE) return expects(c, n->op, "a number", &v[0]);
        double d = v[0].as.d;
        d = n->op == OP_FLOOR ? floor(d) : n->op == OP_CEIL ? ceil(d) : round(d);
        return double_to_int(c, n->op, d, out);
    default: return fail(c, WEIR_EINVAL, "bad expression node %d", n->op);
    }
}

/* The operators with operands to evaluate, kept out of ev() so that ev itself needs no frame to
 * speak of: the leaves and the specialized comparisons, most of what a filter evaluates, return
 * without saving a register. */
__attribute__((noinline)) static int ev_unary(const evctx *c, const node *n, weir_value *out)
{
    weir_value x;
    int rc = ev(c, n->a, &x);
    if (rc) return rc;
    if (n->op == OP_NOT) {
        if (x.type == WEIR_TYPE_BOOL)
            *out = weir_value_bool(!x.as.b);
        else if (x.type == WEIR_TYPE_NULL)
            *out = x;
        else
            return fail(c, WEIR_ETYPE, "'not' expects a bool, not %s", tname(&x));
        return 0;
    }
    if (x.type == WEIR_TYPE_INT) {
        if (x.as.i == INT64_MIN) return overflow(c);
        *out = weir_value_int(-x.as.i);
    } else if (x.type == WEIR_TYPE_DOUBLE) {
        *out = weir_value_double(-x.as.d);
    } else if (x.type == WEIR_TYPE_NULL) {
        *out = x;
    } else {
        return fail(c, WEIR_ETYPE, "cannot negate a %s", tname(&x));
    }
    return 0;
}

/* and / or: three-valued, short-circuit. */
__attribute__((noinline)) static int ev_logic(const evctx *c, const node *n, weir_value *out)
{
    weir_value x, y;
    bool is_or = n->op == OP_OR;
    int rc = ev(c, n->a, &x);
    if (rc) return rc;
    /* results are written afresh, not copied from x or y: a 16-byte copy of a value just stored
     * in two halves would stall on store forwarding */
    if (x.type == WEIR_TYPE_BOOL) {
        if (x.as.b == is_or) { /* false and _, true or _ */
            *out = weir_value_bool(is_or);
            return 0;
        }
    } else if (x.type != WEIR_TYPE_NULL) {
        return fail(c, WEIR_ETYPE, "'%s' expects bools, not %s", op_names[n->op], tname(&x));
    }
    if ((rc = ev(c, n->b, &y))) return rc;
    if (y.type == WEIR_TYPE_BOOL) {
        if (y.as.b == is_or || x.type == WEIR_TYPE_BOOL) /* x is the neutral element, or null */
            *out = weir_value_bool(y.as.b);
        else
            *out = WEIR_NULL_VALUE;
    } else if (y.type == WEIR_TYPE_NULL) {
        *out = WEIR_NULL_VALUE;
    } else {
        return fail(c, WEIR_ETYPE, "'%s' expects bools, not %s", op_names[n->op], tname(&y));
    }
    return 0;
}

__attribute__((noinline)) static int ev_binary(const evctx *c, const node *n, weir_value *out)
{
    weir_value x, y;
    int rc;
    if ((rc = ev(c, n->a, &x)) || (rc = ev(c, n->b, &y))) return rc;
    return binary(c, n->op, &x, &y, out);
}

static int ev(const evctx *c, uint32_t i, weir_value *out)
{
    const node *n = &c->nodes[i];
    switch (n->op) {
    case OP_CONST: *out = n->k; return 0;
    case OP_FIELD: *out = c->row[n->a]; return 0;
    case OP_FIELD_CMP_INT: {
        const weir_value *f = &c->row[n->a];
        if (f->type != WEIR_TYPE_INT) return binary(c, n->sub, f, &n->k, out);
        int64_t a = f->as.i, b = n->k.as.i;
        int r = (a > b) - (a < b);
        *out = weir_value_bool((n->bits >> (r + 1)) & 1);
        return 0;
    }
    case OP_FIELD_EQ_STR: {
        const weir_value *f = &c->row[n->a];
        if (f->type != WEIR_TYPE_STRING) return binary(c, n->sub, f, &n->k, out);
        bool eq = f->len == n->k.len && (!f->len || !memcmp(f->as.s, n->k.as.s, f->len));
        *out = weir_value_bool(eq == (n->sub == OP_EQ));
        return 0;
    }
    case OP_FIELD_CONST: return binary(c, n->sub, &c->row[n->a], &n->k, out);
    case OP_CONST_FIELD: return binary(c, n->sub, &n->k, &c->row[n->a], out);
    case OP_NEG:
    case OP_NOT: return ev_unary(c, n, out);
    case OP_AND:
    case OP_OR: return ev_logic(c, n, out);
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
    case OP_MOD:
    case OP_EQ:
    case OP_NE:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: return ev_binary(c, n, out);
    default: return call(c, n, out);
    }
}

int weir_expr_eval(const weir_expr *e, const weir_value *row, weir_arena *arena, weir_value *out,
                   char *errbuf, size_t errlen)
{
    evctx c = {e->nodes, e->args, row, arena, errbuf, errlen};
    /* every node writes its output last, after everything that can fail: out is untouched on
     * failure without going through a temporary (whose 16-byte copy would cost more than a
     * small filter) */
    return ev(&c, 0, out);
}

weir_type weir_expr_type(const weir_expr *e)
{
    unsigned m = e->mask & ~M_NULL;
    if (!m) return WEIR_TYPE_NULL;
    if (m & (m - 1)) return WEIR_TYPE_ANY;
    return (weir_type)__builtin_ctz(m);
}

bool weir_expr_is_constant(const weir_expr *e)
{
    return e->nodes[0].op == OP_CONST;
}

void weir_expr_destroy(weir_expr *e)
{
    free(e);
}

/* ---- lexer ---------------------------------------------------------------------------------- */

enum {
    TK_END,
    TK_INT,
    TK_FLOAT,
    TK_STRING,
    TK_NAME,
    TK_TRUE,
    TK_FALSE,
    TK_NULL,
    TK_AND,
    TK_OR,
    TK_NOT,
    TK_LPAREN,
    TK_RPAREN,
    TK_COMMA,
    TK_PLUS,
    TK_MINUS,
    TK_STAR,
    TK_SLASH,
    TK_PERCENT,
    TK_EQ,
    TK_NE,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
};

typedef struct token {
    int kind;
    uint32_t start, end; /* byte offsets in the text */
    weir_value v;        /* literals */
    const char *name;    /* TK_NAME: NUL-terminated, in the compile arena */
    bool simple;         /* TK_NAME: one plain identifier (may name a function) */
    bool int_min;        /* TK_INT: the literal 9223372036854775808, valid only after '-' */
} token;

typedef struct compiler {
    const char *text;
    uint32_t pos; /* lexer position */
    token t;      /* current token */
    weir_expr_resolver resolve;
    void *ctx;
    weir_arena arena; /* names and string constants */
    weir_buf scratch;
    node *nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t *args; /* argument lists of function nodes */
    uint32_t n_args, cap_args;
    uint32_t *stack; /* arguments being parsed */
    uint32_t n_stack, cap_stack;
    int depth; /* parser recursion */
    /* the first error */
    int err;
    uint32_t err_at;
    char msg[256];
} compiler;

__attribute__((cold, format(printf, 4, 5))) static int error(compiler *p, int code, uint32_t at,
                                                             const char *fmt, ...)
{
    if (p->err) return p->err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
    p->err = code;
    p->err_at = at;
    return code;
}

static int no_memory_c(compiler *p)
{
    return error(p, WEIR_ENOMEM, p->t.start, "out of memory");
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static bool is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_ident_char(int c)
{
    return is_ident_start(c) || is_digit(c);
}

static const struct {
    const char *word;
    int kind;
} keywords[] = {{"and", TK_AND},   {"or", TK_OR},       {"not", TK_NOT},
                {"true", TK_TRUE}, {"false", TK_FALSE}, {"null", TK_NULL}};

static int lex_number(compiler *p)
{
    const char *s = p->text;
    uint32_t i = p->pos, start = i;
    bool is_float = false;
    while (is_digit(s[i])) i++;
    if (s[i] == '.') {
        is_float = true;
        i++;
        while (is_digit(s[i])) i++;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        uint32_t j = i + 1;
        if (s[j] == '+' || s[j] == '-') j++;
        if (!is_digit(s[j])) return error(p, WEIR_EPARSE, start, "malformed number");
        is_float = true;
        for (i = j; is_digit(s[i]);) i++;
    }
    if (is_ident_char(s[i]) || s[i] == '.' || s[i] == '`')
        return error(p, WEIR_EPARSE, start, "malformed number");
    p->t.end = i;
    if (is_float) {
        char *end;
        errno = 0;
        double d = strtod(s + start, &end);
        if (end != s + i) return error(p, WEIR_EPARSE, start, "malformed number");
        if (errno == ERANGE && isinf(d))
            return error(p, WEIR_EPARSE, start, "float literal out of range");
        p->t.kind = TK_FLOAT;
        p->t.v = weir_value_double(d);
    } else {
        uint64_t v = 0;
        for (uint32_t k = start; k < i; k++) {
            unsigned d = (unsigned)(s[k] - '0');
            if (v > (UINT64_MAX - d) / 10 || (v = v * 10 + d) > (uint64_t)INT64_MAX + 1)
                return error(p, WEIR_EPARSE, start,
                             "integer literal out of range (an int is 64 bits; write a float "
                             "with '.' or 'e')");
        }
        p->t.kind = TK_INT;
        p->t.int_min = v == (uint64_t)INT64_MAX + 1;
        p->t.v = weir_value_int(p->t.int_min ? INT64_MIN : (int64_t)v);
    }
    p->pos = i;
    return 0;
}

static int lex_string(compiler *p)
{
    const char *s = p->text;
    char q = s[p->pos];
    uint32_t open = p->pos, i = open + 1, j = i;
    for (;;) { /* find the end */
        char ch = s[j];
        if (!ch) return error(p, WEIR_EPARSE, open, "unterminated string");
        if (ch == '\\') {
            if (!s[j + 1]) return error(p, WEIR_EPARSE, open, "unterminated string");
            j += 2;
        } else if (ch == q) {
            if (q == '\'' && s[j + 1] == '\'')
                j += 2;
            else
                break;
        } else {
            j++;
        }
    }
    char *buf = weir_arena_alloc(&p->arena, j - i + 1);
    if (!buf) return no_memory_c(p);
    uint32_t len = 0;
    while (i < j) {
        char ch = s[i];
        if (ch == '\\') {
            char e = s[i + 1];
            switch (e) {
            case '\\':
            case '\'':
            case '"': buf[len++] = e; break;
            case 'n': buf[len++] = '\n'; break;
            case 't': buf[len++] = '\t'; break;
            case 'r': buf[len++] = '\r'; break;
            default:
                return error(p, WEIR_EPARSE, i,
                             "unknown escape in a string (known: \\\\ \\' \\\" \\n \\t \\r)");
            }
            i += 2;
        } else if (ch == q) { /* a doubled '' */
            buf[len++] = ch;
            i += 2;
        } else {
            buf[len++] = ch;
            i++;
        }
    }
    buf[len] = 0;
    p->t.kind = TK_STRING;
    p->t.v = weir_value_string(buf, len);
    p->t.end = p->pos = j + 1;
    return 0;
}

/* An identifier, a `quoted name`, or a dotted path of them. */
static int lex_name(compiler *p)
{
    const char *s = p->text;
    weir_buf *b = &p->scratch;
    uint32_t i = p->pos, segments = 0;
    bool quoted = false;
    weir_buf_clear(b);
    for (;;) {
        if (s[i] == '`') {
            uint32_t open = i++;
            size_t before = b->len;
            for (;;) {
                if (!s[i]) return error(p, WEIR_EPARSE, open, "unterminated `quoted name`");
                if (s[i] == '`') {
                    if (s[i + 1] != '`') break;
                    i++;
                }
                if (weir_buf_putc(b, s[i++])) return no_memory_c(p);
            }
            i++;
            if (b->len == before) return error(p, WEIR_EPARSE, open, "empty `quoted name`");
            quoted = true;
        } else {
            uint32_t from = i;
            while (is_ident_char(s[i])) i++;
            if (weir_buf_append(b, s + from, i - from)) return no_memory_c(p);
        }
        segments++;
        if (s[i] == '.' && (is_ident_start(s[i + 1]) || s[i + 1] == '`')) {
            if (weir_buf_putc(b, '.')) return no_memory_c(p);
            i++;
            continue;
        }
        break;
    }
    p->t.end = p->pos = i;
    if (!quoted && segments == 1) {
        for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
            if (b->len == strlen(keywords[k].word) && !memcmp(b->data, keywords[k].word, b->len)) {
                p->t.kind = keywords[k].kind;
                return 0;
            }
        }
    }
    char *name = weir_arena_strdup(&p->arena, b->data, b->len);
    if (!name) return no_memory_c(p);
    p->t.kind = TK_NAME;
    p->t.name = name;
    p->t.simple = !quoted && segments == 1;
    return 0;
}

/* Reads the next token into p->t. */
static int lex(compiler *p)
{
    const char *s = p->text;
    while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')
        p->pos++;
    uint32_t i = p->pos;
    unsigned char ch = (unsigned char)s[i];
    memset(&p->t, 0, sizeof p->t);
    p->t.start = p->t.end = i;
    if (!ch) return 0;
    if (is_digit(ch) || (ch == '.' && is_digit(s[i + 1]))) return lex_number(p);
    if (is_ident_start(ch) || ch == '`') return lex_name(p);
    if (ch == '\'' || ch == '"') return lex_string(p);
    int kind = -1, len = 1;
    char next = s[i + 1];
    switch (ch) {
    case '(': kind = TK_LPAREN; break;
    case ')': kind = TK_RPAREN; break;
    case ',': kind = TK_COMMA; break;
    case '+': kind = TK_PLUS; break;
    case '-': kind = TK_MINUS; break;
    case '*': kind = TK_STAR; break;
    case '/': kind = TK_SLASH; break;
    case '%': kind = TK_PERCENT; break;
    case '=':
        if (next != '=') return error(p, WEIR_EPARSE, i, "'=' is not an operator: use '=='");
        kind = TK_EQ, len = 2;
        break;
    case '!':
        if (next != '=') return error(p, WEIR_EPARSE, i, "'!' is not an operator: use 'not'");
        kind = TK_NE, len = 2;
        break;
    case '<':
        if (next == '>') return error(p, WEIR_EPARSE, i, "'<>' is not an operator: use '!='");
        kind = next == '=' ? (len = 2, TK_LE) : TK_LT;
        break;
    case '>': kind = next == '=' ? (len = 2, TK_GE) : TK_GT; break;
    case '&':
        if (next == '&') return error(p, WEIR_EPARSE, i, "'&&' is not an operator: use 'and'");
        break;
    case '|':
        if (next == '|') return error(p, WEIR_EPARSE, i, "'||' is not an operator: use 'or'");
        break;
    }
    if (kind < 0) {
        if (ch >= 0x21 && ch < 0x7f) return error(p, WEIR_EPARSE, i, "unexpected '%c'", ch);
        if (ch < 0x80) return error(p, WEIR_EPARSE, i, "unexpected character \\x%02x", ch);
        return error(p, WEIR_EPARSE, i,
                     "unexpected non-ASCII character (quote field names "
                     "with backquotes: `name`)");
    }
    p->t.kind = kind;
    p->t.end = p->pos = i + (uint32_t)len;
    return 0;
}

/* How the current token reads in a message. */
static const char *describe(compiler *p, char *buf, size_t n)
{
    if (p->t.kind == TK_END) return "the end of the expression";
    uint32_t len = p->t.end - p->t.start;
    snprintf(buf, n, "'%.*s%s'", (int)(len > 40 ? 40 : len), p->text + p->t.start,
             len > 40 ? "..." : "");
    return buf;
}

/* ---- type checking -------------------------------------------------------------------------- */

static const char *mask_name(unsigned m)
{
    m &= ~M_NULL;
    if (!m) return "null";
    if (m & (m - 1)) return "any";
    return weir_type_name((weir_type)__builtin_ctz(m));
}

/* Whether an operand of possible types m can be used where types want are accepted: yes if it
 * can be null only (null propagates) or some non-null type fits. */
static bool fits(unsigned m, unsigned want)
{
    return (m & ~M_NULL) == 0 || (m & want) != 0;
}

static bool comparable_masks(unsigned a, unsigned b)
{
    a &= ~M_NULL, b &= ~M_NULL;
    if (!a || !b) return true;
    for (unsigned ta = 0; ta <= WEIR_TYPE_JSON; ta++)
        for (unsigned tb = 0; tb <= WEIR_TYPE_JSON; tb++)
            if ((a & TS(ta)) && (b & TS(tb)) && comparable(ta, tb)) return true;
    return false;
}

/* Result types of arithmetic on operands of types a and b. */
static unsigned arith_mask(int op, unsigned a, unsigned b)
{
    unsigned r = (a | b) & M_NULL, na = a & M_NUM, nb = b & M_NUM;
    if (!(a & ~M_NULL) || !(b & ~M_NULL)) return M_NULL;
    if (op == OP_DIV) return r | (na && nb ? M_DOUBLE : 0);
    if ((na & M_INT) && (nb & M_INT)) r |= M_INT;
    if (((na & M_DOUBLE) && nb) || ((nb & M_DOUBLE) && na)) r |= M_DOUBLE;
    return r;
}

/* ---- building nodes ------------------------------------------------------------------------- */

static int32_t add_node(compiler *p, const node *n)
{
    if (p->n_nodes == p->cap_nodes) {
        uint32_t cap = p->cap_nodes ? p->cap_nodes * 2 : 32;
        node *nn = realloc(p->nodes, cap * sizeof *nn);
        if (!nn) return no_memory_c(p), -1;
        p->nodes = nn;
        p->cap_nodes = cap;
    }
    p->nodes[p->n_nodes] = *n;
    return (int32_t)p->n_nodes++;
}

static int push_u32(compiler *p, uint32_t **v, uint32_t *n, uint32_t *cap, uint32_t x)
{
    if (*n == *cap) {
        uint32_t c = *cap ? *cap * 2 : 16;
        uint32_t *nv = realloc(*v, c * sizeof *nv);
        if (!nv) return no_memory_c(p);
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return 0;
}

static int children(const node *n)
{
    switch (n->op) {
    case OP_CONST:
    case OP_FIELD: return 0;
    case OP_NEG:
    case OP_NOT: return 1;
    default: return n->op <= OP_OR ? 2 : 3; /* 3: a function */
    }
}

/* Sets depth and checks it. */
static int set_depth(compiler *p, node *n)
{
    unsigned d = 0;
    int kind = children(n);
    if (kind == 1 || kind == 2) d = p->nodes[n->a].depth;
    if (kind == 2 && p->nodes[n->b].depth > d) d = p->nodes[n->b].depth;
    if (kind == 3)
        for (uint32_t k = 0; k < n->n; k++)
            if (p->nodes[p->args[n->a + k]].depth > d) d = p->nodes[p->args[n->a + k]].depth;
    if (d >= WEIR_EXPR_MAX_DEPTH)
        return error(p, WEIR_EPARSE, n->at, "expression nested too deeply (more than %d levels)",
                     WEIR_EXPR_MAX_DEPTH);
    n->depth = (uint16_t)(d + 1);
    return 0;
}

/* Evaluates node i if its operands are constants (or it short-circuits on a constant). */
static int fold(compiler *p, int32_t i)
{
    node *n = &p->nodes[i];
    int kind = children(n);
    bool constant = true;
    if (kind == 1 || kind == 2) constant = p->nodes[n->a].op == OP_CONST;
    if (kind == 2) {
        const node *l = &p->nodes[n->a];
        if ((n->op == OP_AND || n->op == OP_OR) && constant && l->k.type == WEIR_TYPE_BOOL &&
            l->k.as.b == (n->op == OP_OR)) {
            n->op = OP_CONST;
            n->k = l->k;
            n->mask = M_BOOL;
            return 0;
        }
        constant = constant && p->nodes[n->b].op == OP_CONST;
    }
    if (kind == 3)
        for (uint32_t k = 0; k < n->n && constant; k++)
            constant = p->nodes[p->args[n->a + k]].op == OP_CONST;
    if (!constant) return 0;
    char msg[256] = "";
    evctx c = {p->nodes, p->args, NULL, &p->arena, msg, sizeof msg};
    weir_value v;
    int rc = ev(&c, (uint32_t)i, &v);
    if (rc) return error(p, rc, n->at, "%s", msg);
    n->op = OP_CONST;
    n->k = v;
    n->mask = (uint8_t)TS(v.type);
    return 0;
}

/* Checks and adds a node whose operands are already in place; returns its index or -1. */
static int32_t finish_node(compiler *p, node *n)
{
    bool function = children(n) == 3;
    const node *a = function ? NULL : &p->nodes[n->a], *b = function ? NULL : &p->nodes[n->b];
    unsigned m = 0;
    if (set_depth(p, n)) return -1;
    switch (n->op) {
    case OP_NEG:
        if (!fits(a->mask, M_NUM))
            return error(p, WEIR_ETYPE, n->at, "cannot negate a %s", mask_name(a->mask)), -1;
        m = a->mask & (M_NUM | M_NULL);
        break;
    case OP_NOT:
        if (!fits(a->mask, M_BOOL))
            return error(p, WEIR_ETYPE, n->at, "'not' expects a bool, not %s", mask_name(a->mask)),
                   -1;
        m = M_BOOL | (a->mask & M_NULL);
        break;
    case OP_AND:
    case OP_OR:
        if (!fits(a->mask, M_BOOL) || !fits(b->mask, M_BOOL))
            return error(p, WEIR_ETYPE, n->at, "'%s' expects bools, not %s", op_names[n->op],
                         mask_name(fits(a->mask, M_BOOL) ? b->mask : a->mask)),
                   -1;
        m = M_BOOL | ((a->mask | b->mask) & M_NULL);
        break;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
    case OP_MOD:
        if (!fits(a->mask, M_NUM) || !fits(b->mask, M_NUM)) {
            if (n->op == OP_ADD && !(fits(a->mask, M_NUM) || fits(b->mask, M_NUM)) &&
                (a->mask & M_STRING) && (b->mask & M_STRING))
                return error(p, WEIR_ETYPE, n->at,
                             "cannot apply '+' to string and string (use concat)"),
                       -1;
            return error(p, WEIR_ETYPE, n->at, "cannot apply '%s' to %s and %s", op_names[n->op],
                         mask_name(a->mask), mask_name(b->mask)),
                   -1;
        }
        m = arith_mask(n->op, a->mask, b->mask);
        break;
    case OP_EQ:
    case OP_NE:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        if (!comparable_masks(a->mask, b->mask))
            return error(p, WEIR_ETYPE, n->at, "cannot compare %s with %s", mask_name(a->mask),
                         mask_name(b->mask)),
                   -1;
        m = M_BOOL;
        break;
    default: { /* functions */
        const uint32_t *args = p->args + n->a;
        unsigned want[3] = {M_NUM, M_INT, M_INT}, nulls = 0;
        const char *what[3] = {"a number", "an int", "an int"};
        m = 0;
        switch (n->op) {
        case OP_LOWER:
        case OP_UPPER: m = M_STRING, want[0] = M_STRING, what[0] = "a string"; break;
        case OP_LENGTH: m = M_INT, want[0] = M_STRING | M_BYTES, what[0] = "a string"; break;
        case OP_SUBSTR: m = M_STRING, want[0] = M_STRING, what[0] = "a string"; break;
        case OP_ABS: m = p->nodes[args[0]].mask & M_NUM; break;
        case OP_FLOOR:
        case OP_CEIL:
        case OP_ROUND: m = n->n == 2 ? M_DOUBLE : M_INT; break;
        }
        for (uint32_t k = 0; k < n->n; k++) {
            const node *arg = &p->nodes[args[k]];
            nulls |= arg->mask & M_NULL;
            if (n->op == OP_CONCAT) {
                if (!fits(arg->mask, M_STRING | M_NUM | M_BOOL))
                    return error(p, WEIR_ETYPE, arg->start, "concat() cannot join a %s",
                                 mask_name(arg->mask)),
                           -1;
            } else if (n->op == OP_COALESCE) {
                m |= arg->mask & ~M_NULL;
                if (!(arg->mask & M_NULL)) break; /* later arguments are never reached */
            } else if (!fits(arg->mask, want[k])) {
                return error(p, WEIR_ETYPE, arg->start, "%s() expects %s as argument %u, not %s",
                             function_name(n->op), what[k], k + 1, mask_name(arg->mask)),
                       -1;
            } else if (!(arg->mask & ~M_NULL)) {
                m = 0; /* always null */
            }
        }
        if (n->op == OP_CONCAT) m = M_STRING;
        if (n->op == OP_COALESCE) {
            bool all_null = true;
            for (uint32_t k = 0; k < n->n; k++) all_null &= (p->nodes[args[k]].mask & M_NULL) != 0;
            nulls = all_null ? M_NULL : 0;
        }
        m |= nulls;
        break;
    }
    }
    n->mask = (uint8_t)m;
    int32_t i = add_node(p, n);
    if (i < 0 || fold(p, i)) return -1;
    return i;
}

static int32_t make_const(compiler *p, weir_value v, uint32_t at)
{
    node n = {.op = OP_CONST, .mask = (uint8_t)TS(v.type), .depth = 1, .at = at, .start = at};
    n.k = v;
    return add_node(p, &n);
}

static int32_t make_op(compiler *p, int op, uint32_t at, uint32_t start, int32_t a, int32_t b)
{
    node n = {.op = (uint8_t)op,
              .a = (uint32_t)a,
              .b = (uint32_t)(b < 0 ? a : b),
              .at = at,
              .start = start};
    return finish_node(p, &n);
}

/* ---- parser --------------------------------------------------------------------------------- */

static int32_t parse_expr(compiler *p, int min_prec);

static int binary_op(int kind, int *op)
{
    switch (kind) {
    case TK_OR: *op = OP_OR; return 1;
    case TK_AND: *op = OP_AND; return 2;
    /* 3: prefix not */
    case TK_EQ: *op = OP_EQ; return 4;
    case TK_NE: *op = OP_NE; return 4;
    case TK_LT: *op = OP_LT; return 4;
    case TK_LE: *op = OP_LE; return 4;
    case TK_GT: *op = OP_GT; return 4;
    case TK_GE: *op = OP_GE; return 4;
    case TK_PLUS: *op = OP_ADD; return 5;
    case TK_MINUS: *op = OP_SUB; return 5;
    case TK_STAR: *op = OP_MUL; return 6;
    case TK_SLASH: *op = OP_DIV; return 6;
    case TK_PERCENT: *op = OP_MOD; return 6;
    default: return 0;
    }
}
enum { PREC_NOT = 3, PREC_UNARY = 7 };

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned row[32];
    if (la > 30 || lb > 30) return 99;
    for (size_t j = 0; j <= lb; j++) row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned ca = (unsigned char)a[i - 1] | 0x20, cb = (unsigned char)b[j - 1] | 0x20;
            unsigned best = diag + (ca != cb);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int32_t parse_call(compiler *p, const char *name, uint32_t at)
{
    const function *f = NULL;
    for (size_t k = 0; k < N_FUNCTIONS; k++)
        if (!strcmp(functions[k].name, name)) f = &functions[k];
    if (!f) {
        const char *best = NULL;
        unsigned best_d = 3;
        for (size_t k = 0; k < N_FUNCTIONS; k++) {
            unsigned d = edit_distance(name, functions[k].name);
            if (d < best_d) best_d = d, best = functions[k].name;
        }
        if (best)
            return error(p, WEIR_EINVAL, at, "unknown function '%.40s' (did you mean '%s'?)", name,
                         best),
                   -1;
        return error(p, WEIR_EINVAL, at,
                     "unknown function '%.40s' (functions: lower upper length concat substr "
                     "coalesce abs floor ceil round)",
                     name),
               -1;
    }
    uint32_t open = p->t.start, base = p->n_stack;
    if (lex(p)) return -1; /* ( */
    if (p->t.kind != TK_RPAREN) {
        for (;;) {
            if (p->n_stack - base >= WEIR_EXPR_MAX_ARGS)
                return error(p, WEIR_EPARSE, p->t.start, "%s(): more than %d arguments", f->name,
                             WEIR_EXPR_MAX_ARGS),
                       -1;
            int32_t a = parse_expr(p, 1);
            if (a < 0 || push_u32(p, &p->stack, &p->n_stack, &p->cap_stack, (uint32_t)a)) return -1;
            if (p->t.kind == TK_COMMA) {
                if (lex(p)) return -1;
                continue;
            }
            if (p->t.kind == TK_RPAREN) break;
            char buf[64];
            if (p->t.kind == TK_END)
                return error(p, WEIR_EPARSE, p->t.start, "missing ')' to close '%s(' at column %zu",
                             f->name, column(p->text, open)),
                       -1;
            return error(p, WEIR_EPARSE, p->t.start, "expected ',' or ')' in %s(...), found %s",
                         f->name, describe(p, buf, sizeof buf)),
                   -1;
        }
    }
    uint32_t n = p->n_stack - base;
    if (n < f->min || n > f->max) {
        if (f->min == f->max)
            return error(p, WEIR_EINVAL, at, "%s() takes %u argument%s, got %u", f->name, f->min,
                         f->min == 1 ? "" : "s", n),
                   -1;
        if (f->max == WEIR_EXPR_MAX_ARGS)
            return error(p, WEIR_EINVAL, at, "%s() takes at least %u argument%s, got %u", f->name,
                         f->min, f->min == 1 ? "" : "s", n),
                   -1;
        return error(p, WEIR_EINVAL, at, "%s() takes %u or %u arguments, got %u", f->name, f->min,
                     f->max, n),
               -1;
    }
    node nd = {.op = f->op, .n = (uint16_t)n, .a = p->n_args, .at = at, .start = at};
    for (uint32_t k = 0; k < n; k++)
        if (push_u32(p, &p->args, &p->n_args, &p->cap_args, p->stack[base + k])) return -1;
    p->n_stack = base;
    if (lex(p)) return -1; /* ) */
    return finish_node(p, &nd);
}

/* " (keywords are lowercase)" when t is a name that would be a keyword in lowercase. */
static const char *keyword_hint(const token *t)
{
    if (t->kind != TK_NAME || !t->simple) return "";
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (!strcasecmp(t->name, keywords[k].word)) return " (keywords are lowercase)";
    return "";
}

static int32_t parse_primary(compiler *p)
{
    token t = p->t;
    char buf[64];
    switch (t.kind) {
    case TK_INT:
        if (t.int_min)
            return error(p, WEIR_EPARSE, t.start,
                         "integer literal out of range (an int is 64 bits; write a float with '.' "
                         "or 'e')"),
                   -1;
        /* fallthrough */
    case TK_FLOAT:
    case TK_STRING:
        if (lex(p)) return -1;
        return make_const(p, t.v, t.start);
    case TK_TRUE:
    case TK_FALSE:
        if (lex(p)) return -1;
        return make_const(p, weir_value_bool(t.kind == TK_TRUE), t.start);
    case TK_NULL:
        if (lex(p)) return -1;
        return make_const(p, WEIR_NULL_VALUE, t.start);
    case TK_LPAREN: {
        if (lex(p)) return -1;
        int32_t e = parse_expr(p, 1);
        if (e < 0) return -1;
        if (p->t.kind != TK_RPAREN) {
            if (p->t.kind == TK_END)
                return error(p, WEIR_EPARSE, p->t.start, "missing ')' to close '(' at column %zu",
                             column(p->text, t.start)),
                       -1;
            return error(p, WEIR_EPARSE, p->t.start, "expected ')', found %s",
                         describe(p, buf, sizeof buf)),
                   -1;
        }
        if (lex(p)) return -1;
        return e;
    }
    case TK_NAME: {
        if (lex(p)) return -1;
        if (t.simple && p->t.kind == TK_LPAREN) return parse_call(p, t.name, t.start);
        uint32_t index = 0;
        weir_type type = WEIR_TYPE_ANY;
        if (!p->resolve || p->resolve(p->ctx, t.name, &index, &type))
            return error(p, WEIR_EINVAL, t.start, "unknown field '%.80s'%s", t.name,
                         keyword_hint(&t)),
                   -1;
        unsigned m = (unsigned)type <= WEIR_TYPE_JSON ? TS(type) | M_NULL : M_ANY;
        node n = {.op = OP_FIELD,
                  .mask = (uint8_t)m,
                  .depth = 1,
                  .a = index,
                  .at = t.start,
                  .start = t.start};
        return add_node(p, &n);
    }
    case TK_END: return error(p, WEIR_EPARSE, t.start, "expected an expression, found the end"), -1;
    default:
        return error(p, WEIR_EPARSE, t.start, "expected an expression, found %s",
                     describe(p, buf, sizeof buf)),
               -1;
    }
}

static int32_t parse_prefix(compiler *p, int min_prec)
{
    int32_t r;
    uint32_t at = p->t.start;
    if (++p->depth > WEIR_EXPR_MAX_DEPTH)
        return error(p, WEIR_EPARSE, at, "expression nested too deeply (more than %d levels)",
                     WEIR_EXPR_MAX_DEPTH),
               -1;
    if (p->t.kind == TK_NOT && min_prec > PREC_NOT) {
        return error(p, WEIR_EPARSE, at, "'not' here needs parentheses: (not ...)"), -1;
    } else if (p->t.kind == TK_NOT) {
        if (lex(p)) return -1;
        int32_t a = parse_expr(p, PREC_NOT);
        r = a < 0 ? -1 : make_op(p, OP_NOT, at, at, a, -1);
    } else if (p->t.kind == TK_MINUS) {
        if (lex(p)) return -1;
        if (p->t.kind == TK_INT && p->t.int_min) { /* -9223372036854775808 */
            weir_value v = p->t.v;
            if (lex(p)) return -1;
            r = make_const(p, v, at);
        } else {
            int32_t a = parse_expr(p, PREC_UNARY);
            r = a < 0 ? -1 : make_op(p, OP_NEG, at, at, a, -1);
        }
    } else {
        r = parse_primary(p);
    }
    p->depth--;
    return r;
}

static int32_t parse_expr(compiler *p, int min_prec)
{
    int32_t lhs = parse_prefix(p, min_prec);
    bool after_comparison = false;
    while (lhs >= 0) {
        int op, prec = binary_op(p->t.kind, &op);
        if (!prec || prec < min_prec) break;
        uint32_t at = p->t.start;
        if (prec == 4 && after_comparison)
            return error(p, WEIR_EPARSE, at,
                         "comparisons do not chain: write 'a < b and b < c', or use parentheses"),
                   -1;
        if (lex(p)) return -1;
        int32_t rhs = parse_expr(p, prec + 1);
        if (rhs < 0) return -1;
        lhs = make_op(p, op, at, p->nodes[lhs].start, lhs, rhs);
        after_comparison = prec == 4;
    }
    return lhs;
}

/* ---- linking: the reachable nodes into one block --------------------------------------------- */

typedef struct linker {
    const compiler *p;
    node *nodes;
    uint32_t *args;
    char *strings;
    uint32_t n_nodes, n_args;
    size_t n_strings;
} linker;

static void measure(const compiler *p, uint32_t i, linker *l)
{
    const node *n = &p->nodes[i];
    l->n_nodes++;
    switch (children(n)) {
    case 0:
        if (n->op == OP_CONST && n->k.type == WEIR_TYPE_STRING) l->n_strings += n->k.len;
        break;
    case 1: measure(p, n->a, l); break;
    case 2:
        measure(p, n->a, l);
        measure(p, n->b, l);
        break;
    default:
        l->n_args += n->n;
        for (uint32_t k = 0; k < n->n; k++) measure(p, p->args[n->a + k], l);
    }
}

static uint32_t emit(linker *l, uint32_t i)
{
    const compiler *p = l->p;
    uint32_t at = l->n_nodes++;
    node n = p->nodes[i];
    switch (children(&n)) {
    case 0:
        if (n.op == OP_CONST && n.k.type == WEIR_TYPE_STRING) {
            char *s = l->strings + l->n_strings;
            if (n.k.len) memcpy(s, n.k.as.s, n.k.len);
            l->n_strings += n.k.len;
            n.k.as.s = s;
        }
        break;
    case 1: n.a = emit(l, n.a); break;
    case 2: {
        uint32_t a = emit(l, n.a);
        uint32_t b = emit(l, n.b);
        n.a = a, n.b = b;
        /* field <op> constant: one node instead of three (not for and / or) */
        const node *x = &l->nodes[a], *y = &l->nodes[b];
        if (n.op <= OP_GE && x->op == OP_FIELD && y->op == OP_CONST) {
            n.sub = n.op, n.op = OP_FIELD_CONST, n.k = y->k, n.a = x->a;
        } else if (n.op <= OP_GE && x->op == OP_CONST && y->op == OP_FIELD) {
            n.sub = n.op, n.op = OP_CONST_FIELD, n.k = x->k, n.a = y->a;
        }
        if (n.op == OP_FIELD_CONST && n.sub >= OP_EQ && n.k.type == WEIR_TYPE_INT) {
            static const uint8_t bits[] = {
                [OP_EQ] = 2, [OP_NE] = 5, [OP_LT] = 1, [OP_LE] = 3, [OP_GT] = 4, [OP_GE] = 6};
            n.op = OP_FIELD_CMP_INT;
            n.bits = bits[n.sub];
        } else if (n.op == OP_FIELD_CONST && (n.sub == OP_EQ || n.sub == OP_NE) &&
                   n.k.type == WEIR_TYPE_STRING) {
            n.op = OP_FIELD_EQ_STR;
        }
        if (n.op >= OP_FIELD_CONST) l->n_nodes = at + 1; /* drop both operands */
        break;
    }
    default: {
        uint32_t base = l->n_args;
        l->n_args += n.n;
        for (uint32_t k = 0; k < n.n; k++) l->args[base + k] = emit(l, p->args[n.a + k]);
        n.a = base;
    }
    }
    l->nodes[at] = n;
    return at;
}

static weir_expr *link(compiler *p, uint32_t root)
{
    linker l = {.p = p};
    measure(p, root, &l);
    size_t size = sizeof(weir_expr) + l.n_nodes * sizeof(node) + l.n_args * sizeof(uint32_t) +
                  l.n_strings + 1;
    weir_expr *e = malloc(size);
    if (!e) return NULL;
    l.nodes = (node *)e->data;
    l.args = (uint32_t *)(l.nodes + l.n_nodes);
    l.strings = (char *)(l.args + l.n_args);
    l.n_nodes = l.n_args = 0;
    l.n_strings = 0;
    emit(&l, root);
    e->nodes = l.nodes;
    e->args = l.args;
    e->mask = p->nodes[root].mask;
    return e;
}

int weir_expr_compile(const char *text, weir_expr_resolver resolve, void *ctx, weir_expr **out,
                      size_t *err_column, char *errbuf, size_t errlen)
{
    compiler p = {.text = text, .resolve = resolve, .ctx = ctx};
    weir_expr *e = NULL;
    weir_arena_init(&p.arena, 4096);
    weir_buf_init(&p.scratch);
    size_t len = strlen(text);
    if (len >= UINT32_MAX / 2) {
        error(&p, WEIR_ERANGE, 0, "expression too long");
    } else if (!lex(&p)) {
        if (p.t.kind == TK_END) {
            error(&p, WEIR_EPARSE, 0, "empty expression");
        } else {
            int32_t root = parse_expr(&p, 1);
            char buf[64];
            if (root >= 0 && p.t.kind == TK_RPAREN)
                error(&p, WEIR_EPARSE, p.t.start, "unbalanced ')'");
            else if (root >= 0 && p.t.kind != TK_END)
                error(&p, WEIR_EPARSE, p.t.start, "unexpected %s after the expression%s",
                      describe(&p, buf, sizeof buf), keyword_hint(&p.t));
            if (root >= 0 && !p.err && !(e = link(&p, (uint32_t)root))) no_memory_c(&p);
        }
    }
    if (p.err) {
        if (err_column) *err_column = column(text, p.err_at);
        if (errlen) snprintf(errbuf, errlen, "%s", p.msg);
    } else {
        *out = e;
    }
    weir_arena_finish(&p.arena);
    weir_buf_finish(&p.scratch);
    free(p.nodes);
    free(p.args);
    free(p.stack);
    return p.err;
}
