/* weir/value.h: typed values, the cells of a row.
 *
 * A value is 16 bytes: a type tag, a length, and an 8-byte payload. Strings, bytes and nested
 * JSON never own their memory: they point into the arena of the batch that holds the row (or into
 * an operator's own store, for state). Copy them (weir_value_copy) to keep them past the batch.
 * Nested objects and arrays are kept as their raw JSON text (WEIR_TYPE_JSON) and written back
 * verbatim; a field path such as `a.b` is extracted by the reader as a column of its own. */
#ifndef WEIR_VALUE_H
#define WEIR_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum weir_type {
    WEIR_TYPE_NULL = 0,
    WEIR_TYPE_BOOL,
    WEIR_TYPE_INT,    /* int64_t */
    WEIR_TYPE_DOUBLE, /* double */
    WEIR_TYPE_STRING, /* UTF-8 text, not NUL-terminated */
    WEIR_TYPE_BYTES,  /* arbitrary bytes (raw Kafka values) */
    WEIR_TYPE_JSON,   /* a nested object or array, as raw JSON text */
    WEIR_TYPE_ANY,    /* schema only: type known per record */
} weir_type;

typedef struct weir_value {
    uint32_t type; /* weir_type */
    uint32_t len;  /* bytes, for STRING, BYTES and JSON */
    union {
        bool b;
        int64_t i;
        double d;
        const char *s; /* STRING, BYTES, JSON: not owned */
    } as;
} weir_value;

#define WEIR_NULL_VALUE ((weir_value){.type = WEIR_TYPE_NULL})
static inline weir_value weir_value_int(int64_t i)
{
    return (weir_value){.type = WEIR_TYPE_INT, .as.i = i};
}
static inline weir_value weir_value_double(double d)
{
    return (weir_value){.type = WEIR_TYPE_DOUBLE, .as.d = d};
}
static inline weir_value weir_value_bool(bool b)
{
    return (weir_value){.type = WEIR_TYPE_BOOL, .as.b = b};
}
/* A string value over s[0..len): s is borrowed, not copied. */
static inline weir_value weir_value_string(const char *s, size_t len)
{
    return (weir_value){.type = WEIR_TYPE_STRING, .len = (uint32_t)len, .as.s = s};
}
static inline bool weir_value_is_null(const weir_value *v)
{
    return v->type == WEIR_TYPE_NULL;
}

/* Name of a type ("null", "bool", "int", "float", "string", "bytes", "json", "any"). */
const char *weir_type_name(weir_type t);

/* Equality as used for grouping: same type and same content; 1 and 1.0 differ; nulls are equal. */
bool weir_value_equal(const weir_value *a, const weir_value *b);
/* Total order for sorting and min/max: null < bool < numbers < string < bytes < json; int and
 * double compare numerically. Returns <0, 0, >0. */
int weir_value_compare(const weir_value *a, const weir_value *b);
/* 64-bit hash consistent with weir_value_equal, stable across runs and machines. Integers (the
 * common key) are hashed inline; other types out of line. */
uint64_t weir__value_hash_slow(const weir_value *v, uint64_t seed);
/* The splitmix64 finalizer: a cheap, well-mixing 64-bit permutation. */
static inline uint64_t weir__mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}
static inline uint64_t weir_value_hash(const weir_value *v, uint64_t seed)
{
    if (v->type != WEIR_TYPE_INT) return weir__value_hash_slow(v, seed);
    return weir__mix64(seed ^ (0x9e3779b97f4a7c15ULL * (WEIR_TYPE_INT + 1)) ^ (uint64_t)v->as.i);
}

#endif
