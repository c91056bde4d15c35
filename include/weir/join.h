/* weir/join.h: the operators with several inputs: Flatten (a union) and the windowed Join.
 *
 *     weir_stream *both = weir_flatten(WEIR_STREAMS(clicks_eu, clicks_us), 2);
 *     weir_stream *q8 = weir_join(persons, auctions, &(weir_join_spec){
 *         .left_tag = "person", .right_tag = "auction",
 *         .left_keys = WEIR_FIELDS("id"), .right_keys = WEIR_FIELDS("seller"),
 *         .window = weir_fixed(WEIR_SECONDS(10))});
 *
 * Flatten. The union of its inputs, which must have the same fields (names, in the same order,
 * and the same pass-through layout; a field whose type differs between inputs has type ANY in the
 * output): rows pass unchanged, in their order within each input; the watermark is the minimum
 * over the inputs (an input that ended no longer holds it back); END once every input ended.
 *
 * Join. A windowed equi-join of two inputs. Both are partitioned by their key fields (with several
 * workers, each key's rows of both sides meet in one worker) and windowed alike by `window`
 * (fixed or sliding; session and global windows are refused). A window's rows are kept until the
 * Join's watermark, the minimum of its two inputs', passes the window's end; then the window fires
 * once and its state is dropped (the default trigger; no other trigger, no allowed lateness in
 * this version). A row is late, dropped from a window and counted as dropped (the run summary),
 * when the watermark of its own input stood at or past the window's end on its arrival (for
 * sliding windows per window; counted once, when dropped from all of its windows). Judging a row
 * by its own input's watermark makes the result independent of how the two inputs interleave, so
 * it is the same at any worker count and batch size.
 *
 * Matching: two rows match when every key field of the left equals the right's (weir_value_equal:
 * same type and value, so 1 and 1.0 differ); a null key field matches nothing (as SQL). Inner:
 * one output row per matching pair. Left: the same, plus each left row that matched nothing, once,
 * with the right side null.
 *
 * Output rows, per fired window in order of window end: for each key in the order of its first
 * left row, for each left row of it in arrival order, its matches in arrival order. Fields: every
 * field f of the left input as "LEFT_TAG.f", then every field of the right as "RIGHT_TAG.f"
 * (columns, so expressions downstream read `person.name`; nulls for an unmatched right side), then
 * window_start and window_end. Written as JSON, a row holds each input's fields nested under its
 * tag: {"person":{...},"auction":{...},"window_start":..,"window_end":..} (the tag objects are
 * the rows' pass-through text: an input's fields that no transform reads are in them too; an
 * unmatched side is null). The event time of an output row is window_end - 1, and the output
 * watermark is the Join's input watermark (every window that can still fire ends after it). There
 * are no pane fields: each window fires exactly one pane.
 *
 * Both calls copy their spec; the streams must belong to one pipeline. Errors are sticky (see
 * weir/pipeline.h). */
#ifndef WEIR_JOIN_H
#define WEIR_JOIN_H

#include "weir/pipeline.h"
#include "weir/window.h"

#include <stdint.h>

/* A compound literal list of streams, for weir_flatten. */
#define WEIR_STREAMS(...) ((weir_stream *const[]){__VA_ARGS__})

/* The union of inputs[0..n) (n >= 1). */
weir_stream *weir_flatten(weir_stream *const *inputs, uint32_t n);

typedef enum weir_join_type {
    WEIR_JOIN_INNER = 0,
    WEIR_JOIN_LEFT, /* keep left rows without a match, with the right side null */
} weir_join_type;

typedef struct weir_join_spec {
    weir_join_type type;
    const char *left_tag;          /* name of the left input in the output (default "left") */
    const char *right_tag;         /* default "right" */
    const char *const *left_keys;  /* WEIR_FIELDS(...) of the left input, required */
    const char *const *right_keys; /* as many fields of the right input */
    weir_window_fn window;         /* fixed or sliding, required */
} weir_join_spec;

/* The windowed join of left and right; output as described above. */
weir_stream *weir_join(weir_stream *left, weir_stream *right, const weir_join_spec *spec);

#endif
