/* operators/aggregate.h: combiners of a Combine (count, sum, min, max, mean, stddev), private to
 * operators/. Every aggregate is a state of fixed size with init / add / merge / result, so that
 * partial aggregates (slices of sliding windows, parts of merged sessions) combine exactly
 * (windowing.md §7). The states of one Combine's aggregates sit in one byte block. */
#ifndef WEIR_OPERATORS_AGGREGATE_H
#define WEIR_OPERATORS_AGGREGATE_H

#include "weir/arena.h"
#include "weir/snapshot.h"
#include "weir/value.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum agg_kind { AGG_COUNT, AGG_SUM, AGG_MIN, AGG_MAX, AGG_MEAN, AGG_STDDEV } agg_kind;

typedef struct agg_def {
    agg_kind kind;
    int32_t field;   /* input column, or -1 (count of records) */
    uint32_t offset; /* of its state in the block */
} agg_def;

typedef struct agg_set {
    uint32_t n;
    agg_def *defs;
    uint32_t state_size; /* bytes of one block, multiple of 8 */
    bool owns_memory;    /* min/max may hold copied strings: agg_finish must be called */
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
/* Adds one row (sign +1) or retracts it (sign -1, retractable kinds only). 0 or WEIR_ENOMEM. */
int agg_add(const agg_set *s, void *block, const weir_value *row, int sign);
/* dst := dst combined with src. 0 or WEIR_ENOMEM. */
int agg_merge(const agg_set *s, void *dst, const void *src);
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
