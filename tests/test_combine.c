/* tests/test_combine.c: the windowed aggregation through the C DSL: every worked example of
 * windowing.md §8 (expected rows copied from the spec, not from the program), plus corner cases
 * worked out by hand: empty on-time panes, late-created windows, closed windows, negative
 * timestamps, accumulation modes, session merges, aggregates. */
#include <criterion/criterion.h>
#include <weir/weir.h>

#include <stdio.h>
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
