/* operators/hot_run.h: the hot run, the per-record loop shared by the Combine's fast paths
 * (combine.c) and the lifted combiner (combine_lift.c): rows whose integer key is cached in hot
 * slots (hot_slots.h), added by integer additions alone (aggregate.h, agg_try_add_known).
 *
 * The loop takes rows [r, end) of a batch as long as each row's watermark has not risen above
 * wm, its key (value g) is an integer cached in the slots, its time lies in [lo, lo + width),
 * and its values add as integers. It returns the first row it did not take, which its caller
 * then handles its own way. A cached pointer p leads to an entry whose aggregate block starts
 * at word block_word and, when rows_word >= 0, whose row count is word rows_word.
 *
 * Each caller instantiates the loop once per plan of agg_shape_known, each in a function of
 * its own (HOT_RUN_PLANS, HOT_RUN_PICK): inlined into the caller's larger loop, the run had to
 * spill its values to the stack. */
#ifndef WEIR_OPERATORS_HOT_RUN_H
#define WEIR_OPERATORS_HOT_RUN_H

#include "aggregate.h"
#include "hot_slots.h"
#include "weir/batch.h"

#include <assert.h>

/* Debug builds check every hit with this (the caller's invariant of its slots). */
typedef bool (*hot_run_check)(const void *ctx, const weir_value *key, const int64_t *p);

static inline __attribute__((always_inline)) uint32_t
hot_run_rows(const weir_batch *b, uint32_t r, uint32_t end, int32_t g, int64_t wm, int64_t lo,
             uint64_t width, const hot_slots *h, const agg_step *plan, const uint32_t np,
             const uint32_t shape, const size_t block_word, const int rows_word,
             hot_run_check check, const void *ctx)
{
    (void)check, (void)ctx; /* (debug builds only) */
    const size_t nf = b->schema->n_fields;
    const hot_slot *hs = h->s;
    const uint32_t hshift = h->shift;
    const uint64_t tag = hot_gen_tag(h->gen);
    /* the steps' values, relative to the key's */
    const ptrdiff_t v0 = (ptrdiff_t)plan[0].field - g;
    const ptrdiff_t v1 = np > 1 ? (ptrdiff_t)plan[1].field - g : 0;
    AGG_ASSERT_KNOWN_OFFSETS(plan, np, shape);
    /* one induction pointer (the row's event time) for the three streams: the watermark is at
     * the same index in b->wm, the row nf values on per row */
    const int64_t *tp = b->ts + r, *const te = b->ts + end;
    const ptrdiff_t wd = b->wm - b->ts;
    const weir_value *kv = weir_batch_row(b, r) + g;
    for (; tp < te; tp++, kv += nf) {
        if (tp[wd] > wm || kv->type != WEIR_TYPE_INT || (uint64_t)*tp - (uint64_t)lo >= width)
            break;
        const uint64_t p = hot_slots_lookup(hs, hshift, tag, kv->as.i);
        if (p > HOT_PTR_MASK) break;
        int64_t *e = (int64_t *)(uintptr_t)p;
        assert(check(ctx, kv, e));
        if (!agg_try_add_known(np, shape, e + block_word, kv, v0, v1)) break;
        if (rows_word >= 0) e[rows_word]++;
    }
    return (uint32_t)(tp - b->ts);
}

/* The plans of agg_shape_known, for instantiating: INSTANCE(suffix, np, shape) each. */
#define HOT_RUN_PLANS(INSTANCE)                                                                    \
    INSTANCE(c, 1, AGG_STEP_COUNT)                                                                 \
    INSTANCE(s, 1, AGG_STEP_SUM)                                                                   \
    INSTANCE(cs, 2, AGG_STEP_COUNT | AGG_STEP_SUM << 2)                                            \
    INSTANCE(sc, 2, AGG_STEP_SUM | AGG_STEP_COUNT << 2)                                            \
    INSTANCE(ss, 2, AGG_STEP_SUM | AGG_STEP_SUM << 2)

/* Returns prefix##_suffix(...) for the plan np, shape (constants where expanded) when it is one
 * of HOT_RUN_PLANS; otherwise goes on. */
#define HOT_RUN_PICK(np, shape, prefix, ...)                                                       \
    do {                                                                                           \
        if ((np) == 1 && (shape) == AGG_STEP_COUNT) return prefix##_c(__VA_ARGS__);                \
        if ((np) == 1 && (shape) == AGG_STEP_SUM) return prefix##_s(__VA_ARGS__);                  \
        if ((np) == 2 && (shape) == (AGG_STEP_COUNT | AGG_STEP_SUM << 2))                          \
            return prefix##_cs(__VA_ARGS__);                                                       \
        if ((np) == 2 && (shape) == (AGG_STEP_SUM | AGG_STEP_COUNT << 2))                          \
            return prefix##_sc(__VA_ARGS__);                                                       \
        if ((np) == 2 && (shape) == (AGG_STEP_SUM | AGG_STEP_SUM << 2))                            \
            return prefix##_ss(__VA_ARGS__);                                                       \
    } while (0)

#endif
