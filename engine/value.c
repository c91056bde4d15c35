/* engine/value.c: comparison, equality and hashing of values (see weir/value.h). */
#include "weir/value.h"

#include <string.h>

const char *weir_type_name(weir_type t)
{
    switch (t) {
    case WEIR_TYPE_NULL: return "null";
    case WEIR_TYPE_BOOL: return "bool";
    case WEIR_TYPE_INT: return "int";
    case WEIR_TYPE_DOUBLE: return "float";
    case WEIR_TYPE_STRING: return "string";
    case WEIR_TYPE_BYTES: return "bytes";
    case WEIR_TYPE_JSON: return "json";
    case WEIR_TYPE_ANY: return "any";
    }
    return "unknown";
}

static int bytes_compare(const weir_value *a, const weir_value *b)
{
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->as.s, b->as.s, n) : 0;
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

bool weir_value_equal(const weir_value *a, const weir_value *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case WEIR_TYPE_NULL: return true;
    case WEIR_TYPE_BOOL: return a->as.b == b->as.b;
    case WEIR_TYPE_INT: return a->as.i == b->as.i;
    case WEIR_TYPE_DOUBLE: return a->as.d == b->as.d || (a->as.d != a->as.d && b->as.d != b->as.d);
    default: return a->len == b->len && (a->len == 0 || memcmp(a->as.s, b->as.s, a->len) == 0);
    }
}

static int rank(uint32_t t)
{
    switch (t) {
    case WEIR_TYPE_NULL: return 0;
    case WEIR_TYPE_BOOL: return 1;
    case WEIR_TYPE_INT:
    case WEIR_TYPE_DOUBLE: return 2;
    case WEIR_TYPE_STRING: return 3;
    case WEIR_TYPE_BYTES: return 4;
    default: return 5;
    }
}

int weir_value_compare(const weir_value *a, const weir_value *b)
{
    int ra = rank(a->type), rb = rank(b->type);
    if (ra != rb) return ra < rb ? -1 : 1;
    switch (ra) {
    case 0: return 0;
    case 1: return (int)a->as.b - (int)b->as.b;
    case 2:
        if (a->type == WEIR_TYPE_INT && b->type == WEIR_TYPE_INT)
            return (a->as.i > b->as.i) - (a->as.i < b->as.i);
        else {
            double x = a->type == WEIR_TYPE_INT ? (double)a->as.i : a->as.d;
            double y = b->type == WEIR_TYPE_INT ? (double)b->as.i : b->as.d;
            return (x > y) - (x < y);
        }
    default: return bytes_compare(a, b);
    }
}

/* Hashing of the types integers are not: a byte hash (FNV-1a) folded through weir__mix64. */
#define mix64 weir__mix64

uint64_t weir__value_hash_slow(const weir_value *v, uint64_t seed)
{
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (v->type + 1));
    switch (v->type) {
    case WEIR_TYPE_NULL: return mix64(h);
    case WEIR_TYPE_BOOL: return mix64(h ^ (uint64_t)v->as.b);
    case WEIR_TYPE_INT: return mix64(h ^ (uint64_t)v->as.i);
    case WEIR_TYPE_DOUBLE: {
        uint64_t bits;
        double d = v->as.d == 0 ? 0.0 : v->as.d; /* -0.0 == 0.0 */
        memcpy(&bits, &d, 8);
        return mix64(h ^ bits);
    }
    default: {
        uint64_t f = 0xcbf29ce484222325ULL;
        const unsigned char *p = (const unsigned char *)v->as.s;
        for (uint32_t i = 0; i < v->len; i++) f = (f ^ p[i]) * 0x100000001b3ULL;
        return mix64(h ^ f ^ v->len);
    }
    }
}
