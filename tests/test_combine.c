/* tests/test_combine.c: the windowed aggregation through the C DSL: every worked example of
 * windowing.md §8 (expected rows copied from the spec, not from the program), plus corner cases
 * worked out by hand: empty on-time panes, late-created windows, closed windows, negative
 * timestamps, accumulation modes, session merges, aggregates. */
#include "combine.h"

#include <criterion/criterion.h>
#include <weir/weir.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct collected {
    char rows[64][128];
    int n;
} collected;

/* Renders a result row as the spec writes it: "[s,e) n total TIMING index op", with
 * " last" appended when pane_last is true and show_last is set. */
static int collect_row(const weir_row *row, void *ctx)
{
    collected *c = ctx;
    const weir_schema *s = row->schema;
    const weir_value *v = row->values;
    int n = weir_schema_find(s, "n"), total = weir_schema_find(s, "total");
    int ws = weir_schema_find(s, "window_start"), we = weir_schema_find(s, "window_end");
    int pt = weir_schema_find(s, "pane_timing"), pi = weir_schema_find(s, "pane_index");
    int op = weir_schema_find(s, "op");
    char tot[32];
    if (v[total].type == WEIR_TYPE_INT)
        snprintf(tot, sizeof tot, "%lld", (long long)v[total].as.i);
    else
        snprintf(tot, sizeof tot, "%g", v[total].as.d);
    if (c->n < 64)
        snprintf(c->rows[c->n++], 128, "[%lld,%lld) %lld %s %.*s %lld %.*s", (long long)v[ws].as.i,
                 (long long)v[we].as.i, (long long)v[n].as.i, tot, (int)v[pt].len, v[pt].as.s,
                 (long long)v[pi].as.i, (int)v[op].len, v[op].as.s);
    return 0;
}

/* Runs records "(t,v)" for key a through a Combine and collects the rows. */
static void run(const char *const *elements, int64_t bound, weir_combine_spec spec, collected *out)
{
    memset(out, 0, sizeof *out);
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in = weir_create(p, &(weir_create_source){.elements = elements,
                                                           .timestamp = "t",
                                                           .max_out_of_orderness = bound,
                                                           .fields = WEIR_FIELDS("k", "t", "v")});
    spec.group_by = WEIR_FIELDS("k");
    spec.aggregates = WEIR_AGGREGATES(weir_count("n"), weir_sum("v", "total"));
    weir_collect(weir_combine(in, &spec), collect_row, out);
    int err = weir_run(p, &(weir_run_options){.workers = 1});
    cr_assert_eq(err, 0, "run failed: %s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
}

static void expect(const collected *c, const char *const *rows)
{
    int n = 0;
    while (rows[n]) n++;
    for (int i = 0; i < n && i < c->n; i++) cr_expect_str_eq(c->rows[i], rows[i], "row %d", i);
    cr_assert_eq(c->n, n, "expected %d rows, got %d", n, c->n);
}

#define R(t, v) "{\"k\":\"a\",\"t\":" #t ",\"v\":" #v "}"

Test(worked_examples, fixed_bound5_lateness0)
{
    collected c;
    run(WEIR_FIELDS(R(1, 1), R(12, 2), R(8, 3), R(16, 4), R(9, 5), R(30, 6)), 5,
        (weir_combine_spec){.window = weir_fixed(10)}, &c);
    expect(&c, WEIR_FIELDS("[0,10) 2 4 ON_TIME 0 +I", "[10,20) 2 6 ON_TIME 0 +I",
                           "[30,40) 1 6 ON_TIME 0 +I"));
}

Test(worked_examples, fixed_lateness20_retracting)
{
    collected c;
    run(WEIR_FIELDS(R(1, 1), R(15, 2), R(3, 3), R(25, 4), R(4, 5)), 0,
        (weir_combine_spec){
            .window = weir_fixed(10), .allowed_lateness = 20, .accumulation = WEIR_RETRACTING},
        &c);
    expect(&c,
           WEIR_FIELDS("[0,10) 1 1 ON_TIME 0 +I", "[0,10) 1 1 LATE 1 -U", "[0,10) 2 4 LATE 1 +U",
                       "[10,20) 1 2 ON_TIME 0 +I", "[0,10) 2 4 LATE 2 -U", "[0,10) 3 9 LATE 2 +U",
                       "[20,30) 1 4 ON_TIME 0 +I"));
}

Test(worked_examples, early_count_discarding)
{
    collected c;
    run(WEIR_FIELDS(R(1, 1), R(2, 2), R(3, 3), R(4, 4), R(150, 5)), 0,
        (weir_combine_spec){.window = weir_fixed(100),
                            .trigger = weir_trigger_after_watermark(weir_trigger_count(2), NULL)},
        &c);
    expect(&c, WEIR_FIELDS("[0,100) 2 3 EARLY 0 +I", "[0,100) 2 7 EARLY 1 +I",
                           "[0,100) 0 0 ON_TIME 2 +I", "[100,200) 1 5 ON_TIME 0 +I"));
}

Test(worked_examples, sessions_merge_bridge)
{
    collected c;
    run(WEIR_FIELDS(R(0, 1), R(8, 2), R(4, 3), R(100, 4)), 30,
        (weir_combine_spec){.window = weir_sessions(5)}, &c);
    expect(&c, WEIR_FIELDS("[0,13) 3 6 ON_TIME 0 +I", "[100,105) 1 4 ON_TIME 0 +I"));
}

Test(worked_examples, sliding_negative)
{
    collected c;
    run(WEIR_FIELDS(R(-7, 1), R(-1, 2), R(0, 3), R(2, 4)), 0,
        (weir_combine_spec){.window = weir_sliding(6, 3)}, &c);
    expect(&c, WEIR_FIELDS("[-12,-6) 1 1 ON_TIME 0 +I", "[-9,-3) 1 1 ON_TIME 0 +I",
                           "[-6,0) 1 2 ON_TIME 0 +I", "[-3,3) 3 9 ON_TIME 0 +I",
                           "[0,6) 2 7 ON_TIME 0 +I"));
}

/* Hand-worked: a late record within the lateness creates a window whose watermark part is
 * already satisfied: it fires at once, ON_TIME (§4), and later ones fire LATE. Discarding. */
Test(corners, late_created_window)
{
    collected c;
    run(WEIR_FIELDS(R(25, 1), R(3, 2), R(4, 3)), 0,
        (weir_combine_spec){.window = weir_fixed(10), .allowed_lateness = 30}, &c);
    /* (25,1): W=-inf; W->25. (3,2): [0,10) is new, W=25>=10: fires ON_TIME at once, not last
     * (GC at 40). (4,3): default trigger fires LATE with the one new record. End: [20,30)
     * ON_TIME, last. [0,10) has nothing pending at GC: no pane. */
    expect(&c, WEIR_FIELDS("[0,10) 1 2 ON_TIME 0 +I", "[0,10) 1 3 LATE 1 +I",
                           "[20,30) 1 1 ON_TIME 0 +I"));
}

/* A top-level count trigger fires once and finishes: the window closes and later records
 * for it are dropped; nothing fires on time for it (no watermark part). */
Test(corners, finished_trigger_closes_window)
{
    collected c;
    run(WEIR_FIELDS(R(1, 1), R(2, 2), R(3, 3), R(20, 4)), 0,
        (weir_combine_spec){.window = weir_fixed(10), .trigger = weir_trigger_count(2)}, &c);
    /* (1),(2): count 2 -> EARLY pane [0,10) 2 3, finished. (3,3) dropped (closed).
     * (20,4): [20,30) count 1, never fires; at end GC fires it (non-empty), W=+inf: ON_TIME. */
    expect(&c, WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I", "[20,30) 1 4 ON_TIME 0 +I"));
}

Test(corners, accumulating_updates)
{
    collected c;
    run(WEIR_FIELDS(R(1, 1), R(2, 2), R(3, 3), R(50, 4)), 0,
        (weir_combine_spec){.window = weir_fixed(10),
                            .accumulation = WEIR_ACCUMULATING,
                            .trigger = weir_trigger_after_watermark(weir_trigger_count(1), NULL)},
        &c);
    /* early count 1 repeats: every record fires EARLY, (50,4) included; at W=50 [0,10) owes
     * its on-time pane (empty since the last one, but accumulating shows the whole window) */
    expect(&c, WEIR_FIELDS("[0,10) 1 1 EARLY 0 +I", "[0,10) 2 3 EARLY 1 +U",
                           "[0,10) 3 6 EARLY 2 +U", "[50,60) 1 4 EARLY 0 +I",
                           "[0,10) 3 6 ON_TIME 3 +U", "[50,60) 1 4 ON_TIME 1 +U"));
}

/* Retracting sessions: a merge that changes bounds retracts the emitted part with -D and the
 * merged window starts as +I (§6). Early count 1 makes every record fire. */
Test(corners, session_merge_retracting)
{
    collected c;
    run(WEIR_FIELDS(R(0, 1), R(3, 2), R(20, 5)), 100,
        (weir_combine_spec){.window = weir_sessions(5),
                            .accumulation = WEIR_RETRACTING,
                            .trigger = weir_trigger_after_watermark(weir_trigger_count(1), NULL)},
        &c);
    /* (0,1): [0,5) EARLY 0 +I. (3,2): [3,8) overlaps [0,5): merged [0,8) differs -> -D of [0,5)
     * (value 1 1, its pane EARLY 0), then [0,8) pane index 1, +I with 2 3. (20,5): [20,25)
     * EARLY 0 +I. End: [0,8) ON_TIME: -U 2 3 / +U 2 3 (index 2); [20,25) likewise index 1. */
    expect(&c,
           WEIR_FIELDS("[0,5) 1 1 EARLY 0 +I", "[0,5) 1 1 EARLY 0 -D", "[0,8) 2 3 EARLY 1 +I",
                       "[20,25) 1 5 EARLY 0 +I", "[0,8) 2 3 ON_TIME 2 -U", "[0,8) 2 3 ON_TIME 2 +U",
                       "[20,25) 1 5 ON_TIME 1 -U", "[20,25) 1 5 ON_TIME 1 +U"));
}

/* ---- the hot slots' run: sums that are not plain integer additions ----
 *
 * With one integer group field, a count and a sum, records of a key already in its open window
 * take the hot slots' run (operators/combine.c, "the fast paths"), which adds integers itself
 * and leaves every other case to the general path: a null value (not summed, still counted), a
 * float (the sum becomes a float), an integer sum that would overflow (the integer part stays
 * exact, the excess goes to the float part). Three keys, interleaved, all at t = 1 (no
 * watermark between them): a key's first record creates its window, its second is added by the
 * fast path, which caches the window's block; from the third on the run takes them. Worked out
 * by hand:
 *   key 1: 5, 7, null, 11, 2            -> n 5, total 25 (an integer)
 *   key 2: 1, 4, 2.5, 8                 -> n 4, total 15.5
 *   key 3: 2^62, 2^62, 2^62, 2^62, 3    -> n 5, total 2^64 + 3, a float (1.84467e+19 by %g):
 *          the second, third and fourth would overflow the integer part and go to the float
 *          part; an addition that wrapped around would leave -2^62 + 3 + 2^62 = 3 instead. */
#define RK(k, v) "{\"k\":" #k ",\"t\":1,\"v\":" #v "}"

Test(hot_slots, sums_with_nulls_floats_and_overflow)
{
    setenv("WEIR_TEST_SNAPSHOT_BUDGET", "1000", 1); /* counts what the hot slots took */
    uint64_t hot = atomic_load(&weir__combine_test.hot);
    collected c;
    memset(&c, 0, sizeof c);
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in = weir_create(
        p, &(weir_create_source){
               .elements = WEIR_FIELDS(RK(1, 5), RK(2, 1), RK(3, 4611686018427387904), RK(1, 7),
                                       RK(2, 4), RK(3, 4611686018427387904), RK(1, null),
                                       RK(2, 2.5), RK(3, 4611686018427387904), RK(1, 11), RK(2, 8),
                                       RK(3, 4611686018427387904), RK(1, 2), RK(3, 3)),
               .timestamp = "t",
               .fields = WEIR_FIELDS("k", "t", "v")});
    weir_stream *out =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = weir_fixed(10),
                                              .aggregates = WEIR_AGGREGATES(
                                                  weir_count("n"), weir_sum("v", "total"))});
    weir_collect(out, collect_row, &c);
    int err = weir_run(p, &(weir_run_options){.workers = 1});
    cr_assert_eq(err, 0, "run failed: %s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    expect(&c, WEIR_FIELDS("[0,10) 5 25 ON_TIME 0 +I", "[0,10) 4 15.5 ON_TIME 0 +I",
                           "[0,10) 5 1.84467e+19 ON_TIME 0 +I"));
    /* records 3 to 5 of key 1, 3 and 4 of key 2, 3 to 5 of key 3 reach the run; it takes those
     * it can add as integers: 11 and 2, 8, 3 */
    cr_assert_eq(atomic_load(&weir__combine_test.hot) - hot, 4, "the hot slots took %llu records",
                 (unsigned long long)(atomic_load(&weir__combine_test.hot) - hot));
}

/* ---- many integer keys: the fast paths with a large key table ----
 *
 * Combine's fast paths (operators/combine.c) fetch ahead once the key table has 64K slots or
 * more, and its tables switch from 1/4 to 3/4 full there: neither happens with the few keys of
 * the other tests. ReadFromGenerator's records over 70000 keys (record i: ts = i / 100,
 * k = i * 7919 mod keys, v = i mod 1000, as pipeline.md defines it) through count + sum in
 * fixed 10 s windows and in sliding 4 s / 1 s windows, at 1 and 2 workers, against the same
 * sums computed by a plain loop over i. */

enum { MANY_KEYS = 70000, MANY_RECORDS = 1400000, MANY_WINDOWS = 20 };

typedef struct many_out {
    pthread_mutex_t lock;
    int64_t *n, *sum; /* [key][window index] */
    int64_t rows, bad;
    int64_t size, period; /* window index: window_start / period, + 3 for sliding windows (their
                             starts go down to -3 s) */
} many_out;

static int collect_many(const weir_row *row, void *ctx)
{
    many_out *o = ctx;
    const weir_schema *s = row->schema;
    const weir_value *v = row->values;
    int64_t k = v[weir_schema_find(s, "k")].as.i, n = v[weir_schema_find(s, "n")].as.i;
    int64_t total = v[weir_schema_find(s, "total")].as.i;
    int64_t start = v[weir_schema_find(s, "window_start")].as.i;
    int64_t w = start / o->period + (o->size > o->period ? 3 : 0);
    pthread_mutex_lock(&o->lock);
    o->rows++;
    if (k < 0 || k >= MANY_KEYS || w < 0 || w >= MANY_WINDOWS || o->n[k * MANY_WINDOWS + w] != 0)
        o->bad++; /* out of range, or a second row for the same window */
    else
        o->n[k * MANY_WINDOWS + w] = n, o->sum[k * MANY_WINDOWS + w] = total;
    pthread_mutex_unlock(&o->lock);
    return 0;
}

static void many_keys(weir_window_fn window, int64_t size, int64_t period, uint32_t workers)
{
    many_out o = {.lock = PTHREAD_MUTEX_INITIALIZER, .size = size, .period = period};
    size_t cells = (size_t)MANY_KEYS * MANY_WINDOWS;
    o.n = calloc(cells, sizeof *o.n);
    o.sum = calloc(cells, sizeof *o.sum);
    int64_t *want_n = calloc(cells, sizeof *want_n), *want_sum = calloc(cells, sizeof *want_sum);
    cr_assert(o.n && o.sum && want_n && want_sum);
    for (int64_t i = 0; i < MANY_RECORDS; i++) { /* the reference: every window of record i */
        int64_t ts = i / 100, k = i * 7919 % MANY_KEYS;
        for (int64_t start = ts - ts % period; start > ts - size; start -= period) {
            int64_t w = start / period + (size > period ? 3 : 0); /* starts from -3 s: exact */
            want_n[k * MANY_WINDOWS + w]++;
            want_sum[k * MANY_WINDOWS + w] += i % 1000;
        }
    }
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in = weir_read_generator(
        p, &(weir_generator_source){.count = MANY_RECORDS, .keys = MANY_KEYS, .partitions = 1});
    weir_stream *out =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = window,
                                              .aggregates = WEIR_AGGREGATES(
                                                  weir_count("n"), weir_sum("v", "total"))});
    weir_collect(out, collect_many, &o);
    int err = weir_run(p, &(weir_run_options){.workers = workers});
    cr_assert_eq(err, 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    int64_t want_rows = 0, wrong = 0;
    for (size_t c = 0; c < cells; c++) {
        want_rows += want_n[c] != 0;
        wrong += o.n[c] != want_n[c] || o.sum[c] != want_sum[c];
    }
    cr_assert_eq(o.bad, 0, "%lld rows out of range or repeated", (long long)o.bad);
    cr_assert_eq(o.rows, want_rows, "%lld rows, want %lld", (long long)o.rows,
                 (long long)want_rows);
    cr_assert_eq(wrong, 0, "%lld (key, window) cells differ from the loop", (long long)wrong);
    free(o.n), free(o.sum), free(want_n), free(want_sum);
}

Test(many_int_keys, fixed_1_worker)
{
    many_keys(weir_fixed(WEIR_SECONDS(10)), 10000, 10000, 1);
}
Test(many_int_keys, fixed_2_workers)
{
    many_keys(weir_fixed(WEIR_SECONDS(10)), 10000, 10000, 2);
}
Test(many_int_keys, sliding_1_worker)
{
    many_keys(weir_sliding(WEIR_SECONDS(4), WEIR_SECONDS(1)), 4000, 1000, 1);
}
Test(many_int_keys, sliding_2_workers)
{
    many_keys(weir_sliding(WEIR_SECONDS(4), WEIR_SECONDS(1)), 4000, 1000, 2);
}
