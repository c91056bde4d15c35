/* tests/fuzz/fuzz_expr.c: libFuzzer target for the expression compiler and evaluator
 * (runner/expr.c). The input is expression text; whatever compiles is evaluated on a few rows
 * whose untyped fields take every kind of value, and the result is checked against the static
 * type the compiler claimed. Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude
 * -Irunner tests/fuzz/fuzz_expr.c runner/expr.c engine/arena.c engine/buf.c engine/value.c
 * engine/error.c -lm. Seeds: tests/fuzz/corpus_expr/. */
#include "expr.h"
#include "weir/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Fields: typed ones, untyped ones (any) that change per row, and a nested path. */
static const struct {
    const char *name;
    weir_type type;
} fields[] = {
    {"i", WEIR_TYPE_INT},      {"f", WEIR_TYPE_DOUBLE},    {"s", WEIR_TYPE_STRING},
    {"b", WEIR_TYPE_BOOL},     {"x", WEIR_TYPE_ANY},       {"y", WEIR_TYPE_ANY},
    {"a.b", WEIR_TYPE_ANY},    {"raw", WEIR_TYPE_BYTES},   {"obj", WEIR_TYPE_JSON},
    {"amount", WEIR_TYPE_INT}, {"user", WEIR_TYPE_STRING},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static int resolve(void *ctx, const char *name, uint32_t *index, weir_type *type)
{
    (void)ctx;
    for (uint32_t k = 0; k < N_FIELDS; k++) {
        if (!strcmp(fields[k].name, name)) {
            *index = k;
            *type = fields[k].type;
            return 0;
        }
    }
    return -1;
}

/* Values for the untyped fields, one per row. */
static weir_value any_value(int r)
{
    switch (r) {
    case 0: return WEIR_NULL_VALUE;
    case 1: return weir_value_int(0);
    case 2: return weir_value_int(INT64_MIN);
    case 3: return weir_value_int(-7);
    case 4: return weir_value_double(-2.5);
    case 5: return weir_value_double(1e300);
    case 6: return weir_value_double(0.0 / 0.0);
    case 7: return weir_value_bool(true);
    case 8: return weir_value_string("h\xc3\xa9llo", 6);
    case 9: return weir_value_string(NULL, 0);            /* empty, without memory */
    default: return weir_value_string("\x80\xbf\xff", 3); /* not UTF-8 */
    }
}
#define N_ROWS 11

static void fill_row(weir_value *row, int r)
{
    bool nulls = r == 0;
    row[0] = nulls ? WEIR_NULL_VALUE : weir_value_int(r % 2 ? INT64_MAX : -3);
    row[1] = nulls ? WEIR_NULL_VALUE : weir_value_double(r % 2 ? 0.5 : -0.0);
    row[2] = nulls ? WEIR_NULL_VALUE : weir_value_string("Ab\xc3\xa9", 4);
    row[3] = nulls ? WEIR_NULL_VALUE : weir_value_bool(r % 2);
    row[4] = any_value(r);
    row[5] = any_value((r + 3) % N_ROWS);
    row[6] = any_value((r + 7) % N_ROWS);
    row[7] = (weir_value){.type = WEIR_TYPE_BYTES, .len = 3, .as.s = "\0\1\2"};
    row[8] = (weir_value){.type = WEIR_TYPE_JSON, .len = 2, .as.s = "[]"};
    row[9] = weir_value_int(r);
    row[10] = weir_value_string("u", 1);
}

static void check_result(const weir_expr *e, const weir_value *v)
{
    weir_type t = weir_expr_type(e);
    if (v->type > WEIR_TYPE_JSON) abort();
    if (t == WEIR_TYPE_NULL && v->type != WEIR_TYPE_NULL) abort();
    if (t != WEIR_TYPE_ANY && t != WEIR_TYPE_NULL && v->type != WEIR_TYPE_NULL && v->type != t)
        abort(); /* the static type was a lie */
    if (v->type == WEIR_TYPE_STRING || v->type == WEIR_TYPE_BYTES || v->type == WEIR_TYPE_JSON) {
        /* touch every byte, so AddressSanitizer sees a dangling or short string */
        volatile unsigned sum = 0;
        for (uint32_t k = 0; k < v->len; k++) sum += (unsigned char)v->as.s[k];
        (void)sum;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    weir_expr *e = NULL;
    size_t col = 0;
    char msg[128];
    msg[0] = 0;
    int rc = weir_expr_compile(text, resolve, NULL, &e, &col, msg, sizeof msg);
    if (rc) {
        /* an error has a code, a message and a column inside the text (or just past it) */
        if (rc >= 0 || e || !msg[0] || col < 1 || col > strlen(text) + 1) abort();
        free(text);
        return 0;
    }
    if (!e) abort();
    weir_arena arena;
    weir_arena_init(&arena, 1024);
    weir_value row[N_FIELDS];
    for (int r = 0; r < N_ROWS; r++) {
        fill_row(row, r);
        weir_value v1, v2;
        char m1[128] = "", m2[128] = "";
        int r1 = weir_expr_eval(e, row, &arena, &v1, m1, sizeof m1);
        int r2 = weir_expr_eval(e, row, &arena, &v2, m2, sizeof m2);
        if (r1 != r2) abort(); /* deterministic */
        if (r1) {
            if (r1 >= 0 || !m1[0] || strcmp(m1, m2)) abort();
            continue;
        }
        check_result(e, &v1);
        if (v1.type == WEIR_TYPE_BOOL && weir_expr_type(e) == WEIR_TYPE_BOOL && v1.as.b != v2.as.b)
            abort();
        if (weir_expr_is_constant(e) && r > 0) continue;
        weir_arena_reset(&arena);
    }
    weir_arena_finish(&arena);
    weir_expr_destroy(e);
    free(text);
    return 0;
}
