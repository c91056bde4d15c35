/* operators/aggregate.h: combiners of a Combine (count, sum, min, max, mean, stddev), private to
 * operators/. Every aggregate is a state of fixed size with init / add / merge / result, so that
 * partial aggregates (slices of sliding windows, parts of merged sessions) combine exactly
 * (windowing.md §7). The states of one Combine's aggregates sit in one byte block. */
#ifndef WEIR_OPERATORS_AGGREGATE_H
#define WEIR_OPERATORS_AGGREGATE_H

#include "weir/arena.h"
#include "weir/error.h"
#include "weir/snapshot.h"
#include "weir/value.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum agg_kind { AGG_COUNT, AGG_SUM, AGG_MIN, AGG_MAX, AGG_MEAN, AGG_STDDEV } agg_kind;

typedef struct agg_def {
    agg_kind kind;
    int32_t field;   /* input column, or -1 (count of records) */
    uint32_t offset; /* of its state in the block */
} agg_def;

/* One step of a plan (agg_add_planned): the field (-1: a count of records), the state's offset, and
 * whether it is a sum (else a count). */
typedef struct agg_step {
    int32_t field;
    uint32_t offset;
    bool sum;
} agg_step;
enum { AGG_PLAN_MAX = 8 };

/* The states of count and sum (and mean), which the per-record path updates inline. */
typedef struct {
    int64_t n;
} agg_count_state;
typedef struct {
    int64_t i;       /* exact integer part */
    double d;        /* float part */
    int64_t n_float; /* inputs that were floats (or overflow spills) */
    int64_t n;       /* non-null inputs (for mean) */
} agg_sum_state;
/* agg_snapshot writes a block of counts and sums as it lies in memory: the same bytes as the
 * fields one by one (8 each, in this order). */
_Static_assert(sizeof(agg_count_state) == 8 && sizeof(agg_sum_state) == 32 &&
                   offsetof(agg_sum_state, d) == 8 && offsetof(agg_sum_state, n_float) == 16 &&
                   offsetof(agg_sum_state, n) == 24,
               "count and sum states are their 8-byte fields, in order");

typedef struct agg_set {
    uint32_t n;
    agg_def *defs;
    uint32_t state_size; /* bytes of one block, multiple of 8 */
    bool owns_memory;    /* min/max may hold copied strings: agg_finish must be called */
    uint32_t n_plan;     /* n when every aggregate is a count or a sum (at most 8), else 0 */
    agg_step plan[AGG_PLAN_MAX];
} agg_set;

/* Parses an aggregate name ("count", "sum", ...); returns -1 if unknown. */
int agg_kind_parse(const char *name);
const char *agg_kind_name(agg_kind k);
/* Whether the kind can subtract (for change-log input with retractions). */
bool agg_kind_retractable(agg_kind k);

/* Lays out the states; defs[i].kind and .field must be set. 0 or WEIR_ENOMEM. */
int agg_set_init(agg_set *s, uint32_t n, const agg_def *defs);
void agg_set_finish(agg_set *s);

void agg_init(const agg_set *s, void *block);
/* Frees what a block owns (copied strings) and leaves it initialized. */
void agg_finish(const agg_set *s, void *block);
/* Adds one value (v: the row's value of d's field, NULL for a count of records) to d's state st
 * (sign +1), or retracts it (sign -1, retractable kinds only). 0 or WEIR_ENOMEM. */
int agg_add_one(const agg_def *d, void *st, const weir_value *v, int sign);
/* The common case of a sum: the integer x added exactly to the state st (an agg_sum_state, as
 * its 8-byte fields: written so, the per-record loops stay as short as hand-inlined code). false
 * (nothing changed) when the integer part would overflow: agg_add_one then spills it to the
 * float part. */
static inline __attribute__((always_inline)) bool agg_sum_add_int(int64_t *st, int64_t x)
{
    int64_t r;
    if (__builtin_add_overflow(st[offsetof(agg_sum_state, i) / 8], x, &r)) return false;
    st[offsetof(agg_sum_state, i) / 8] = r;
    st[offsetof(agg_sum_state, n) / 8]++;
    return true;
}

/* Adds one row (sign +1) or retracts it (sign -1, retractable kinds only). 0 or WEIR_ENOMEM.
 * Inline, since it runs per record and window: counts and integer sums are updated here, the
 * rest (and an integer sum about to overflow) by agg_add_one. */
static inline int agg_add(const agg_set *s, void *block, const weir_value *row, int sign)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const agg_def *d = &s->defs[i];
        void *st = (char *)block + d->offset;
        const weir_value *v = d->field >= 0 ? &row[d->field] : NULL;
        if (d->kind == AGG_COUNT && !v) {
            ((agg_count_state *)st)->n += sign;
            continue;
        }
        if (d->kind == AGG_SUM && v && v->type == WEIR_TYPE_INT && sign > 0 &&
            agg_sum_add_int((int64_t *)st, v->as.i))
            continue;
        if (agg_add_one(d, st, v, sign)) return WEIR_ENOMEM;
    }
    return 0;
}

/* What a step of a plan is known to be where it is inlined: any (tested at run time), the count
 * of records, or a sum. A shape holds the kinds of a plan's first steps, 2 bits each. */
enum { AGG_STEP_ANY = 0, AGG_STEP_COUNT = 1, AGG_STEP_SUM = 2 };

/* The shape of s's plan, for plans of at most 2 steps (else 0, every step AGG_STEP_ANY). */
static inline uint32_t agg_plan_shape(const agg_set *s)
{
    uint32_t shape = 0;
    for (uint32_t i = 0; i < s->n_plan && s->n_plan <= 2; i++)
        shape |= (s->plan[i].field < 0 ? AGG_STEP_COUNT
                  : s->plan[i].sum     ? AGG_STEP_SUM
                                       : AGG_STEP_ANY)
                 << (2 * i);
    return s->n_plan <= 2 ? shape : 0;
}

/* One step of a plan, of kind k (AGG_STEP_*, a constant where inlined): the count of records and
 * an integer sum are updated here, every other case by agg_add_one. 0 or WEIR_ENOMEM. */
static inline __attribute__((always_inline)) int agg_step_add(const agg_set *s, uint32_t i,
                                                              agg_step p, uint32_t k, char *block,
                                                              const weir_value *row)
{
    int64_t *st = (int64_t *)(block + p.offset);
    if (k == AGG_STEP_COUNT || (k == AGG_STEP_ANY && p.field < 0)) { /* count of records */
        st[0]++;
        return 0;
    }
    const weir_value *v = &row[p.field];
    if ((k == AGG_STEP_SUM || p.sum) && v->type == WEIR_TYPE_INT && agg_sum_add_int(st, v->as.i))
        return 0;
    return agg_add_one(&s->defs[i], st, v, 1);
}

/* Whether the np steps of a plan all have a kind known from shape (AGG_STEP_COUNT or _SUM): their
 * state offsets are then known too (agg_set_init lays the states out in order: a count takes 8
 * bytes, a sum 32), and agg_try_add_known applies. */
static inline bool agg_shape_known(uint32_t np, uint32_t shape)
{
    return np >= 1 && np <= 2 && (shape & 3) && (np < 2 || ((shape >> 2) & 3));
}

/* The record whose values are v[d0] and v[d1] (the steps' fields, relative to v) added to blk
 * for a plan of np steps of shape (agg_shape_known; constants where inlined), if that is integer
 * additions only: false, with nothing changed, when a sum's value is not an integer or its
 * integer part would overflow (agg_add_planned then converts, skips or spills). Every test comes
 * before any change, so a false leaves the record whole for the other path. */
static inline __attribute__((always_inline)) bool agg_try_add_known(uint32_t np, uint32_t shape,
                                                                    int64_t *blk,
                                                                    const weir_value *v,
                                                                    ptrdiff_t d0, ptrdiff_t d1)
{
    const uint32_t k0 = shape & 3, k1 = np > 1 ? (shape >> 2) & 3 : 0;
    const size_t o0 = 0, o1 = k0 == AGG_STEP_COUNT ? 1 : 4; /* in int64s */
    int64_t s0 = 0, s1 = 0;                                 /* the sums' new integer parts */
    if (k0 == AGG_STEP_SUM &&
        (v[d0].type != WEIR_TYPE_INT || __builtin_add_overflow(blk[o0], v[d0].as.i, &s0)))
        return false;
    if (k1 == AGG_STEP_SUM &&
        (v[d1].type != WEIR_TYPE_INT || __builtin_add_overflow(blk[o1], v[d1].as.i, &s1)))
        return false;
    /* a sum: agg_sum_state's integer part (word 0) and count of inputs (word 3) */
    if (k0 == AGG_STEP_COUNT) blk[o0]++;
    if (k0 == AGG_STEP_SUM) blk[o0] = s0, blk[o0 + 3]++;
    if (k1 == AGG_STEP_COUNT) blk[o1]++;
    if (k1 == AGG_STEP_SUM) blk[o1] = s1, blk[o1 + 3]++;
    return true;
}

/* Asserts that a plan's offsets are those agg_try_add_known assumes for shape. */
#define AGG_ASSERT_KNOWN_OFFSETS(plan, np, shape)                                                  \
    assert((plan)[0].offset == 0 &&                                                                \
           ((np) < 2 || (plan)[1].offset == (((shape)&3) == AGG_STEP_COUNT ? 8u : 32u)))

/* agg_add(s, block, row, +1) for a set with a plan (s->n_plan), for the per-record fast paths.
 * plan and n are s->plan and s->n_plan, which the caller copies into locals (the compiler then
 * keeps them out of the memory the states' updates might alias); shape is agg_plan_shape(s) or
 * 0. With n and shape constants where it is inlined (n at most 3), the steps are unrolled and
 * specialized. 0 or WEIR_ENOMEM. */
static inline __attribute__((always_inline)) int agg_add_planned(const agg_set *s,
                                                                 const agg_step *plan, uint32_t n,
                                                                 uint32_t shape, void *block,
                                                                 const weir_value *row)
{
    if (n <= 3) {
        if (n > 0 && agg_step_add(s, 0, plan[0], shape & 3, block, row)) return WEIR_ENOMEM;
        if (n > 1 && agg_step_add(s, 1, plan[1], (shape >> 2) & 3, block, row)) return WEIR_ENOMEM;
        if (n > 2 && agg_step_add(s, 2, plan[2], AGG_STEP_ANY, block, row)) return WEIR_ENOMEM;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++)
        if (agg_step_add(s, i, plan[i], AGG_STEP_ANY, block, row)) return WEIR_ENOMEM;
    return 0;
}

/* x := x combined with y (sum and mean): integer parts added exactly, or spilled to the float
 * part when they would overflow. */
static inline void agg_sum_merge(agg_sum_state *x, const agg_sum_state *y)
{
    int64_t r;
    if (__builtin_add_overflow(x->i, y->i, &r)) {
        x->d += (double)y->i;
        x->n_float++;
    } else {
        x->i = r;
    }
    x->d += y->d;
    x->n_float += y->n_float;
    x->n += y->n;
}

/* dst := dst combined with src. 0 or WEIR_ENOMEM. */
int agg_merge(const agg_set *s, void *dst, const void *src);
/* The same, inline for a set with a plan (counts and sums only: they merge by additions; an
 * integer sum that would overflow goes to agg_merge's rule, its float part). */
static inline int agg_merge_planned(const agg_set *s, void *dst, const void *src)
{
    for (uint32_t i = 0; i < s->n_plan; i++) {
        uint32_t off = s->plan[i].offset;
        if (!s->plan[i].sum) {
            ((agg_count_state *)((char *)dst + off))->n +=
                ((const agg_count_state *)((const char *)src + off))->n;
            continue;
        }
        agg_sum_merge((agg_sum_state *)((char *)dst + off),
                      (const agg_sum_state *)((const char *)src + off));
    }
    return 0;
}
/* dst := a copy of src (dst must be initialized). 0 or WEIR_ENOMEM. */
int agg_copy(const agg_set *s, void *dst, const void *src);
/* Writes the n results; strings are copied into arena. 0 or WEIR_ENOMEM. */
int agg_result(const agg_set *s, const void *block, weir_value *out, weir_arena *arena);

/* Checkpoints: writes a block's states (count: n; sum and mean: the integer part, the float
 * part, the float inputs, the non-null inputs; min and max: the value; stddev: n, mean, m2; in
 * the order of the definitions, with the snapshot writer's encoding). 0 or WEIR_ENOMEM. */
int agg_snapshot(const agg_set *s, const void *block, weir_snap_writer *w);
/* Reads what agg_snapshot wrote into block (initialized: its strings are freed), copying
 * strings. 0 or WEIR_ENOMEM; a malformed input leaves r bad (weir_snap_ok). */
int agg_restore(const agg_set *s, void *block, weir_snap_reader *r);

#endif
