/* operators/combine.h: configuration of the windowed, keyed aggregation (the Combine node),
 * private to operators/. The DSL (operators/combine_dsl.c) fills it; operators/combine.c runs
 * it. Exposed for the tests, which drive the operator directly against the reference model. */
#ifndef WEIR_OPERATORS_COMBINE_H
#define WEIR_OPERATORS_COMBINE_H

#include "aggregate.h"
#include "weir/operator.h"
#include "weir/window.h"

#include <stdatomic.h>

typedef struct combine_config {
    uint32_t n_group;
    int32_t *group; /* input columns of the key */
    agg_set aggs;
    weir_windowing windowing;     /* trigger owned */
    bool late_output;             /* port 1 gets records dropped from all their windows */
    int32_t op_field;             /* input column "op" of a change log (-1: none) */
    const weir_schema *in_schema; /* of the input (late output rows keep it); not owned */
} combine_config;

extern const weir_operator_class weir__combine_class;
void weir__combine_config_free(void *config);

/* The lifted combiner (operators/combine_lift.c): with several workers, it pre-aggregates each
 * worker's rows per key and slice before the exchange, and the Combine merges its partial rows.
 * liftable: whether a Combine of this configuration is lifted; lift_schema: the schema of its
 * partial rows (the key fields, then the block as integers, then the number of records; NULL on
 * no memory). */
extern const weir_operator_class weir__combine_lift_class;
/* The width of a slice: gcd(size, period) for sliding windows (combine.c slices by it), the
 * size for fixed ones. */
static inline int64_t weir__combine_slice_width(const weir_window_fn *wf)
{
    int64_t a = wf->size, b = wf->type == WEIR_WINDOW_SLIDING ? wf->period : 0;
    while (b) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}
bool weir__combine_liftable(const combine_config *cfg);
weir_schema *weir__combine_lift_schema(const combine_config *cfg);

/* Tests only: a Combine opened with WEIR_TEST_SNAPSHOT_BUDGET=N in the environment writes at
 * most N keys per snapshot_more call, so that its lazy snapshots span many batches, and counts
 * here (over all instances) what its lazy snapshots did. Nothing is counted without it. */
typedef struct combine_test_stats {
    _Atomic uint64_t calls;    /* snapshot_more calls */
    _Atomic uint64_t keys;     /* keys they wrote */
    _Atomic uint64_t cow;      /* keys written first because they were about to change */
    _Atomic uint64_t moved;    /* keys written first because a removal moved them behind the walk */
    _Atomic uint64_t restarts; /* walks started over because the table grew */
    _Atomic uint64_t hot;      /* records the fast paths' hot slots took (not only in snapshots) */
} combine_test_stats;
extern combine_test_stats weir__combine_test;

#endif
