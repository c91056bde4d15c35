/* tests/test_triggers.c: one test per trigger and per accumulation mode of the windowed
 * Combine, and the corners of windowing.md: empty on-time panes, late-created windows, session
 * merges that bridge two windows (with -D rows in retracting mode), negative timestamps,
 * windows closed by finished triggers, and sliding windows (computed by slicing) under every
 * kind of trigger.
 *
 * Every expected output was derived by hand from windowing.md, and the derivation is written
 * above each test. Conventions: one key a unless said, records written (t,v), aggregates
 * n = count and total = sum(v); W is the watermark (bounded out-of-orderness B: max t seen - B)
 * as it stands before each record, which is handled against it, and W then moves; END makes W
 * +infinity. Rows are written "[start,end) n total TIMING index op", with " last" when
 * pane_last is true. A GC time is end + allowed lateness L.
 *
 * The source is a test operator of its own: one event per pull, so processing-time work runs
 * between events, and @T events move the injected processing-time clock
 * (weir_run_options.clock) to T, as in tests/test_window_diff.c. */
#include <criterion/criterion.h>
#include <weir/graph.h>
#include <weir/weir.h>

#include <stdio.h>
#include <string.h>

/* ---- the test source ---- */

typedef struct ev {
    char kind; /* 'r': record, 'p': processing time moves to t */
    const char *key;
    int64_t t, v;
} ev;

#define REC(t, v)                                                                                  \
    {                                                                                              \
        'r', "a", t, v                                                                             \
    }
#define RECK(k, t, v)                                                                              \
    {                                                                                              \
        'r', k, t, v                                                                               \
    }
#define PROC(ms)                                                                                   \
    {                                                                                              \
        'p', NULL, ms, 0                                                                           \
    }
#define EVENTS(...) ((const ev[]){__VA_ARGS__}), sizeof((const ev[]){__VA_ARGS__}) / sizeof(ev)

typedef struct src_cfg {
    const ev *events;
    size_t n;
    int64_t bound;
    int64_t *clock;
} src_cfg;

typedef struct src_state {
    const src_cfg *cfg;
    size_t next;
    int64_t max_t, wm;
    bool seen;
    weir_batch *batch;
} src_state;

static int src_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    src_state *s = calloc(1, sizeof *s);
    op->state = s;
    s->cfg = config;
    s->wm = WEIR_TIME_MIN;
    s->batch = weir_batch_create(op->out_schema, 1);
    return s->batch ? 0 : WEIR_ENOMEM;
}

static void src_close(weir_operator *op)
{
    src_state *s = op->state;
    weir_batch_destroy(s->batch);
    free(s);
}

static int src_pull(weir_operator *op, uint32_t max_rows)
{
    (void)max_rows;
    src_state *s = op->state;
    weir_batch *b = s->batch;
    weir_batch_clear(b);
    if (s->next >= s->cfg->n) {
        b->flags = WEIR_BATCH_END;
        b->wm_after = WEIR_TIME_MAX;
        int rc = weir_operator_emit(op, b);
        return rc ? rc : WEIR_PULL_END;
    }
    const ev *e = &s->cfg->events[s->next++];
    if (e->kind == 'p') {
        *s->cfg->clock = e->t;
        return WEIR_PULL_MORE;
    }
    weir_value *v = weir_batch_append(b, e->t, s->wm);
    v[0] = weir_value_string(e->key, strlen(e->key));
    v[1] = weir_value_int(e->t);
    v[2] = weir_value_int(e->v);
    if (!s->seen || e->t > s->max_t) s->max_t = e->t;
    s->seen = true;
    if (s->max_t - s->cfg->bound > s->wm) s->wm = s->max_t - s->cfg->bound;
    b->wm_after = s->wm;
    int rc = weir_operator_emit(op, b);
    return rc ? rc : WEIR_PULL_MORE;
}

static const weir_operator_class src_class = {
    .name = "TriggerTestSource", .open = src_open, .pull = src_pull, .close = src_close};

/* ---- running and checking ---- */

typedef struct collected {
    char rows[64][128];
    int n;
    uint64_t dropped;
} collected;

static int collect_row(const weir_row *row, void *ctx)
{
    collected *c = ctx;
    const weir_schema *s = row->schema;
    const weir_value *v = row->values;
    int k = weir_schema_find(s, "k"), n = weir_schema_find(s, "n"),
        total = weir_schema_find(s, "total");
    int ws = weir_schema_find(s, "window_start"), we = weir_schema_find(s, "window_end");
    int pt = weir_schema_find(s, "pane_timing"), pi = weir_schema_find(s, "pane_index");
    int pl = weir_schema_find(s, "pane_last"), op = weir_schema_find(s, "op");
    char key[16] = "";
    if (strcmp(v[k].as.s, "a") != 0) snprintf(key, sizeof key, "%.*s ", (int)v[k].len, v[k].as.s);
    if (c->n < 64)
        snprintf(c->rows[c->n], 128, "%s[%lld,%lld) %lld %lld %.*s %lld %.*s%s", key,
                 (long long)v[ws].as.i, (long long)v[we].as.i, (long long)v[n].as.i,
                 (long long)v[total].as.i, (int)v[pt].len, v[pt].as.s, (long long)v[pi].as.i,
                 (int)v[op].len, v[op].as.s, v[pl].as.b ? " last" : "");
    c->n++;
    return 0;
}

static int64_t fake_clock(void *ctx)
{
    return *(int64_t *)ctx;
}

/* Runs the events through a Combine grouped by k (count n, sum total); the clock starts at
 * 1000 ms. The spec's trigger is taken over. */
static void run(const ev *events, size_t n, int64_t bound, weir_combine_spec spec, collected *out)
{
    memset(out, 0, sizeof *out);
    int64_t clock = 1000;
    src_cfg cfg = {events, n, bound, &clock};
    weir_pipeline *p = weir_pipeline_create();
    static const char *const names[] = {"k", "t", "v"};
    static const weir_type types[] = {WEIR_TYPE_STRING, WEIR_TYPE_INT, WEIR_TYPE_INT};
    weir_stream *in =
        weir_pipeline_add_node(p, &(weir_node_spec){.kind = "TriggerTestSource",
                                                    .cls = &src_class,
                                                    .config = &cfg,
                                                    .schema = weir_schema_create(3, names, types)});
    spec.group_by = WEIR_FIELDS("k");
    spec.aggregates = WEIR_AGGREGATES(weir_count("n"), weir_sum("v", "total"));
    weir_collect(weir_combine(in, &spec), collect_row, out);
    int err =
        weir_run(p, &(weir_run_options){
                        .workers = 1, .batch_size = 1, .clock = fake_clock, .clock_ctx = &clock});
    cr_assert_eq(err, 0, "run failed: %s", weir_pipeline_error(p));
    weir_run_stats st;
    weir_pipeline_stats(p, &st);
    out->dropped = st.dropped_late;
    weir_pipeline_destroy(p);
}

static void expect(const collected *c, uint64_t dropped, const char *const *rows)
{
    int n = 0;
    while (rows[n]) n++;
    for (int i = 0; i < n && i < c->n; i++) cr_expect_str_eq(c->rows[i], rows[i], "row %d", i);
    for (int i = n; i < c->n && i < 64; i++) cr_expect_fail("unexpected row %d: %s", i, c->rows[i]);
    cr_assert_eq(c->n, n, "expected %d rows, got %d", n, c->n);
    cr_expect_eq(c->dropped, dropped, "expected %llu records dropped as late, got %llu",
                 (unsigned long long)dropped, (unsigned long long)c->dropped);
}

/* ---- one test per trigger ---- */

/* default, fixed 10, B 0, L 10, discarding. Records (1,1) (12,2) (3,3) (4,4) (25,5) (5,6).
 * (1,1) opens [0,10). (12,2) opens [10,20); W 12 >= 10: [0,10) ON_TIME 0 "1 1", not last (GC
 * at 20). (3,3), (4,4): W 12 < 20 kept; after its on-time pane the default trigger fires at
 * once for every late record: LATE 1 "1 3", LATE 2 "1 4" (discarding: only that record).
 * (25,5) opens [20,30); W 25: [0,10) is collected, nothing pending, no pane; [10,20) ON_TIME
 * "1 2", not last (GC at 30). (5,6): W 25 >= 20, dropped. END: [10,20) has nothing pending;
 * [20,30) ON_TIME "1 5" last. */
Test(triggers, default_with_lateness)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(12, 2), REC(3, 3), REC(4, 4), REC(25, 5), REC(5, 6)), 0,
        (weir_combine_spec){.window = weir_fixed(10), .allowed_lateness = 10}, &c);
    expect(&c, 1,
           WEIR_FIELDS("[0,10) 1 1 ON_TIME 0 +I", "[0,10) 1 3 LATE 1 +I", "[0,10) 1 4 LATE 2 +I",
                       "[10,20) 1 2 ON_TIME 0 +I", "[20,30) 1 5 ON_TIME 0 +I last"));
}

/* after_watermark, early count 2, late count 1, fixed 10, B 0, L 20, accumulating.
 * Records (1,1) (2,2) (3,3) (15,4) (4,5) (6,6) (35,7).
 * (2,2) makes the early count 2: EARLY 0 "2 3" +I. (3,3) early count 1. (15,4) opens
 * [10,20); W 15 >= 10: on-time pane of [0,10), ON_TIME 1 "3 6" +U, not last (GC 30). (4,5) and
 * (6,6): late count 1 each time: LATE 2 "4 11", LATE 3 "5 17". (35,7) opens [30,40); W 35:
 * [0,10) collected (nothing pending); [10,20) ON_TIME 0 "1 4" +I, not last (GC 40). END:
 * [30,40) ON_TIME 0 "1 7" last. */
Test(triggers, after_watermark_early_late)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(2, 2), REC(3, 3), REC(15, 4), REC(4, 5), REC(6, 6), REC(35, 7)), 0,
        (weir_combine_spec){
            .window = weir_fixed(10),
            .allowed_lateness = 20,
            .accumulation = WEIR_ACCUMULATING,
            .trigger = weir_trigger_after_watermark(weir_trigger_count(2), weir_trigger_count(1))},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I", "[0,10) 3 6 ON_TIME 1 +U", "[0,10) 4 11 LATE 2 +U",
                       "[0,10) 5 17 LATE 3 +U", "[10,20) 1 4 ON_TIME 0 +I",
                       "[30,40) 1 7 ON_TIME 0 +I last"));
}

/* after_watermark without late: the trigger finishes with the on-time pane and the window
 * closes (§4). Fixed 10, B 0, L 20, discarding. Records (1,1) (12,2) (3,3) (25,4).
 * W 12: [0,10) ON_TIME 0 "1 1" last (finished). (3,3): W 12 < GC 30 but [0,10) is closed:
 * dropped. W 25: [10,20) ON_TIME 0 "1 2" last. END: [0,10) closed, no pane; [20,30) "1 4". */
Test(triggers, after_watermark_closes)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(12, 2), REC(3, 3), REC(25, 4)), 0,
        (weir_combine_spec){.window = weir_fixed(10),
                            .allowed_lateness = 20,
                            .trigger = weir_trigger_after_watermark(NULL, NULL)},
        &c);
    expect(&c, 1,
           WEIR_FIELDS("[0,10) 1 1 ON_TIME 0 +I last", "[10,20) 1 2 ON_TIME 0 +I last",
                       "[20,30) 1 4 ON_TIME 0 +I last"));
}

/* count 2 at the top: fires once and finishes (closes the window); there is no watermark part,
 * and garbage collection fires a window that never reached the count (FIRE_IF_NON_EMPTY).
 * Fixed 10, B 0, L 0, discarding. Records (1,1) (2,2) (3,3) (11,4) (12,5) (13,6) (25,7).
 * (2,2): count 2, W 1 < 10: EARLY 0 "2 3" last (finished). (3,3): closed, dropped. (11,4):
 * [10,20) count 1; W 11 collects [0,10) (closed: no pane). (12,5): EARLY 0 "2 9" last.
 * (13,6): dropped. (25,7): [20,30) count 1; W 25 collects [10,20). END: [20,30) is collected
 * with one record pending: a pane, W >= 30 and nothing emitted before: ON_TIME 0 "1 7" last. */
Test(triggers, count)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(2, 2), REC(3, 3), REC(11, 4), REC(12, 5), REC(13, 6), REC(25, 7)), 0,
        (weir_combine_spec){.window = weir_fixed(10), .trigger = weir_trigger_count(2)}, &c);
    expect(&c, 2,
           WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I last", "[10,20) 2 9 EARLY 0 +I last",
                       "[20,30) 1 7 ON_TIME 0 +I last"));
}

/* repeat(processing_time 10), fixed 100, B 0, discarding; the clock starts at 1000.
 * (1,1) at 1000: deadline 1010. (2,2), @1005: nothing. (3,3). @1010: deadline reached, W 3 <
 * 100: EARLY 0 "3 6"; repeat resets. (4,4) at 1010: deadline 1020. @1025: EARLY 1 "1 4".
 * (150,5) at 1025: [100,200), deadline 1035; W 150 collects [0,100) (nothing pending). END,
 * still at 1025: [100,200) is collected with a record pending: ON_TIME 0 "1 5" last. */
Test(triggers, processing_time_repeated)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(2, 2), PROC(1005), REC(3, 3), PROC(1010), REC(4, 4), PROC(1025),
               REC(150, 5)),
        0,
        (weir_combine_spec){.window = weir_fixed(100),
                            .trigger = weir_trigger_repeat(weir_trigger_processing_time(10))},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,100) 3 6 EARLY 0 +I", "[0,100) 1 4 EARLY 1 +I",
                       "[100,200) 1 5 ON_TIME 0 +I last"));
}

/* processing_time 10 alone: fires once 10 ms after the pane's first record, then finishes.
 * (1,1) at 1000: deadline 1010. @1009: not yet. @1012: EARLY 0 "1 1" last (finished, closed).
 * (2,2): closed, dropped. END: nothing. */
Test(triggers, processing_time_once)
{
    collected c;
    run(EVENTS(REC(1, 1), PROC(1009), PROC(1012), REC(2, 2)), 0,
        (weir_combine_spec){.window = weir_fixed(100), .trigger = weir_trigger_processing_time(10)},
        &c);
    expect(&c, 1, WEIR_FIELDS("[0,100) 1 1 EARLY 0 +I last"));
}

/* repeat(count 2), fixed 10, B 0, accumulating. Records (1,1) (2,2) (3,3) (4,4) (5,5) (20,6).
 * (2,2): EARLY 0 "2 3" +I, reset. (4,4): EARLY 1 "4 10" +U. (5,5): count 1. (20,6): opens
 * [20,30); W 20 >= GC 10 of [0,10): one record pending, last pane, W >= 10 and only EARLY panes
 * before: ON_TIME 2 "5 15" +U last. END: [20,30) ON_TIME 0 "1 6" +I last. */
Test(triggers, repeat)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(2, 2), REC(3, 3), REC(4, 4), REC(5, 5), REC(20, 6)), 0,
        (weir_combine_spec){.window = weir_fixed(10),
                            .accumulation = WEIR_ACCUMULATING,
                            .trigger = weir_trigger_repeat(weir_trigger_count(2))},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I", "[0,10) 4 10 EARLY 1 +U",
                       "[0,10) 5 15 ON_TIME 2 +U last", "[20,30) 1 6 ON_TIME 0 +I last"));
}

/* repeat(after_first(count 3, processing_time 10)), fixed 100, discarding.
 * (1,1) at 1000: count 1, deadline 1010. (2,2): count 2. (3,3): count 3, the first child
 * fires: EARLY 0 "3 6"; after_first finishes and repeat resets both children. @1004. (4,4) at
 * 1004: count 1, deadline 1014. @1014: the second child fires: EARLY 1 "1 4". (150,5) at 1014:
 * [100,200); W 150 collects [0,100) (nothing pending). END at 1014: [100,200) count 1,
 * deadline 1024 not reached: no firing, but GC fires it: ON_TIME 0 "1 5" last. */
Test(triggers, after_first)
{
    collected c;
    weir_trigger *kids[] = {weir_trigger_count(3), weir_trigger_processing_time(10)};
    run(EVENTS(REC(1, 1), REC(2, 2), REC(3, 3), PROC(1004), REC(4, 4), PROC(1014), REC(150, 5)), 0,
        (weir_combine_spec){.window = weir_fixed(100),
                            .trigger = weir_trigger_repeat(weir_trigger_after_first(kids, 2))},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,100) 3 6 EARLY 0 +I", "[0,100) 1 4 EARLY 1 +I",
                       "[100,200) 1 5 ON_TIME 0 +I last"));
}

/* after_all(count 2, processing_time 10), fixed 100, discarding. (1,1) at 1000: count 1,
 * deadline 1010. @1010: the deadline passed but the count is not reached: no firing. (2,2) at
 * 1010: both children ready: EARLY 0 "2 3" last (after_all finished, window closed). (3,3):
 * dropped. END: nothing. */
Test(triggers, after_all)
{
    collected c;
    weir_trigger *kids[] = {weir_trigger_count(2), weir_trigger_processing_time(10)};
    run(EVENTS(REC(1, 1), PROC(1010), REC(2, 2), REC(3, 3)), 0,
        (weir_combine_spec){.window = weir_fixed(100), .trigger = weir_trigger_after_all(kids, 2)},
        &c);
    expect(&c, 1, WEIR_FIELDS("[0,100) 2 3 EARLY 0 +I last"));
}

/* after_each(count 2, count 1), fixed 10, B 0, accumulating. (1,1), (2,2): the first child
 * fires, EARLY 0 "2 3" +I, and finishes. (3,3) goes to the second child: EARLY 1 "3 6" +U,
 * which finishes the sequence: last, window closed. (4,4): dropped. (20,5): [20,30); W 20
 * collects [0,10) (closed). END: [20,30) collected with a record pending: ON_TIME 0 "1 5"
 * last. */
Test(triggers, after_each)
{
    collected c;
    weir_trigger *kids[] = {weir_trigger_count(2), weir_trigger_count(1)};
    run(EVENTS(REC(1, 1), REC(2, 2), REC(3, 3), REC(4, 4), REC(20, 5)), 0,
        (weir_combine_spec){.window = weir_fixed(10),
                            .accumulation = WEIR_ACCUMULATING,
                            .trigger = weir_trigger_after_each(kids, 2)},
        &c);
    expect(&c, 1,
           WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I", "[0,10) 3 6 EARLY 1 +U last",
                       "[20,30) 1 5 ON_TIME 0 +I last"));
}

/* ---- one test per accumulation mode, on the same stream ----
 *
 * after_watermark, early count 2, late count 1; fixed 10, B 0, L 20. Records (1,1) (2,2) (3,3)
 * (15,4) (4,5) (40,6).
 * (2,2): EARLY 0 (records 1, 2). (3,3): pending. (15,4) opens [10,20); W 15: [0,10) ON_TIME 1
 * (new: record 3; all: 1..3). (4,5): LATE 2 (new: record 5; all: 1..3, 5). (40,6) opens
 * [40,50); W 40: [0,10) collected (nothing pending); [10,20) ON_TIME 0 "1 4", and W 40 >= its
 * GC time 40: last. END: [40,50) ON_TIME 0 "1 6" last. */
#define MODE_EVENTS EVENTS(REC(1, 1), REC(2, 2), REC(3, 3), REC(15, 4), REC(4, 5), REC(40, 6))
#define MODE_SPEC(m)                                                                               \
    (weir_combine_spec)                                                                            \
    {                                                                                              \
        .window = weir_fixed(10), .allowed_lateness = 20, .accumulation = m,                       \
        .trigger = weir_trigger_after_watermark(weir_trigger_count(2), weir_trigger_count(1))      \
    }

/* Discarding: each pane holds the records since the previous one, always +I. */
Test(modes, discarding)
{
    collected c;
    run(MODE_EVENTS, 0, MODE_SPEC(WEIR_DISCARDING), &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I", "[0,10) 1 3 ON_TIME 1 +I", "[0,10) 1 5 LATE 2 +I",
                       "[10,20) 1 4 ON_TIME 0 +I last", "[40,50) 1 6 ON_TIME 0 +I last"));
}

/* Accumulating: each pane holds the whole window so far; +I first, +U after. */
Test(modes, accumulating)
{
    collected c;
    run(MODE_EVENTS, 0, MODE_SPEC(WEIR_ACCUMULATING), &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I", "[0,10) 3 6 ON_TIME 1 +U", "[0,10) 4 11 LATE 2 +U",
                       "[10,20) 1 4 ON_TIME 0 +I last", "[40,50) 1 6 ON_TIME 0 +I last"));
}

/* Retracting: as accumulating, each later pane preceded by -U with the previous value and the
 * new pane's fields. */
Test(modes, retracting)
{
    collected c;
    run(MODE_EVENTS, 0, MODE_SPEC(WEIR_RETRACTING), &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I", "[0,10) 2 3 ON_TIME 1 -U",
                       "[0,10) 3 6 ON_TIME 1 +U", "[0,10) 3 6 LATE 2 -U", "[0,10) 4 11 LATE 2 +U",
                       "[10,20) 1 4 ON_TIME 0 +I last", "[40,50) 1 6 ON_TIME 0 +I last"));
}

/* ---- corners ---- */

/* Empty on-time pane (FIRE_ALWAYS), discarding: after_watermark, early count 2, fixed 10, B 0.
 * (1,1) (2,2): EARLY 0 "2 3". (20,3) opens [20,30); W 20: [0,10) fires its on-time pane with
 * nothing new: "0 0" ON_TIME 1, last (finished, and GC at 10). END: [20,30) "1 3". */
Test(corners, empty_on_time_pane_discarding)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(2, 2), REC(20, 3)), 0,
        (weir_combine_spec){.window = weir_fixed(10),
                            .trigger = weir_trigger_after_watermark(weir_trigger_count(2), NULL)},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I", "[0,10) 0 0 ON_TIME 1 +I last",
                       "[20,30) 1 3 ON_TIME 0 +I last"));
}

/* The same in retracting mode: the on-time pane repeats the unchanged value, -U then +U. */
Test(corners, empty_on_time_pane_retracting)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(2, 2), REC(20, 3)), 0,
        (weir_combine_spec){.window = weir_fixed(10),
                            .accumulation = WEIR_RETRACTING,
                            .trigger = weir_trigger_after_watermark(weir_trigger_count(2), NULL)},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,10) 2 3 EARLY 0 +I", "[0,10) 2 3 ON_TIME 1 -U last",
                       "[0,10) 2 3 ON_TIME 1 +U last", "[20,30) 1 3 ON_TIME 0 +I last"));
}

/* A window created late (W >= its end already, within the lateness) has its watermark part
 * satisfied on arrival (§4): after_watermark with late count 1, fixed 10, B 0, L 30,
 * accumulating. (25,1) opens [20,30); W 25. (3,2): [0,10) is new, W 25 >= 10, 25 < GC 40: it
 * fires at once, its ON_TIME pane, "1 2" +I. (4,3): late count 1: LATE 1 "2 5" +U. END: [0,10)
 * has nothing pending; [20,30) ON_TIME 0 "1 1" last. */
Test(corners, late_created_window)
{
    collected c;
    run(EVENTS(REC(25, 1), REC(3, 2), REC(4, 3)), 0,
        (weir_combine_spec){.window = weir_fixed(10),
                            .allowed_lateness = 30,
                            .accumulation = WEIR_ACCUMULATING,
                            .trigger = weir_trigger_after_watermark(NULL, weir_trigger_count(1))},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,10) 1 2 ON_TIME 0 +I", "[0,10) 2 5 LATE 1 +U",
                       "[20,30) 1 1 ON_TIME 0 +I last"));
}

/* A session merge that bridges two windows, retracting: sessions gap 5, B 100 (W stays far
 * behind), after_watermark with early count 1. (0,1): [0,5) EARLY 0 "1 1" +I. (5,2): [5,10)
 * only touches [0,5) (5 == 5): a session of its own, EARLY 0 "1 2" +I. (3,3): [3,8) overlaps
 * both: merged [0,10), whose bounds differ from both parts: each is deleted first, with its
 * last value and pane fields (-D, in start order), then the merged window's pane is new for
 * the change log: index 1 + max(0, 0) = 1, counts 0 + 0 + 1 reach 1: EARLY 1 "3 6" +I. (4,4):
 * [4,9) lies inside [0,10): same bounds, it continues as that window: EARLY 2, -U "3 6" then
 * +U "4 10". END: ON_TIME 3, -U/+U "4 10", last. */
Test(corners, session_bridge_retracting)
{
    collected c;
    run(EVENTS(REC(0, 1), REC(5, 2), REC(3, 3), REC(4, 4)), 100,
        (weir_combine_spec){.window = weir_sessions(5),
                            .accumulation = WEIR_RETRACTING,
                            .trigger = weir_trigger_after_watermark(weir_trigger_count(1), NULL)},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,5) 1 1 EARLY 0 +I", "[5,10) 1 2 EARLY 0 +I", "[0,5) 1 1 EARLY 0 -D",
                       "[5,10) 1 2 EARLY 0 -D", "[0,10) 3 6 EARLY 1 +I", "[0,10) 3 6 EARLY 2 -U",
                       "[0,10) 4 10 EARLY 2 +U", "[0,10) 4 10 ON_TIME 3 -U last",
                       "[0,10) 4 10 ON_TIME 3 +U last"));
}

/* A late record joins a session whose on-time pane fired: the merged window's watermark part
 * starts over and W is past its end, so it fires at once, LATE (§5). Sessions gap 5, B 0,
 * L 20, default trigger, retracting. (0,1): [0,5). (10,2): [10,15); W 10: [0,5) ON_TIME 0
 * "1 1", GC 25. (3,3): [3,8), 10 < 8 + 20 kept; overlaps [0,5): merged [0,8) under new
 * bounds: -D [0,5) "1 1" ON_TIME 0, then LATE 1 (it counts its part's panes) "2 4" +I. END:
 * [10,15) ON_TIME 0 "1 2" last; [0,8) has nothing pending. */
Test(corners, late_record_merges_session)
{
    collected c;
    run(EVENTS(REC(0, 1), REC(10, 2), REC(3, 3)), 0,
        (weir_combine_spec){
            .window = weir_sessions(5), .allowed_lateness = 20, .accumulation = WEIR_RETRACTING},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,5) 1 1 ON_TIME 0 +I", "[0,5) 1 1 ON_TIME 0 -D", "[0,8) 2 4 LATE 1 +I",
                       "[10,15) 1 2 ON_TIME 0 +I last"));
}

/* Negative timestamps, fixed 10, B 0: windows are floor-aligned, [-20,-10) holds -15 and -11.
 * (-1,3) opens [-10,0) and W -1 fires [-20,-10) "2 3". (0,4): W 0 fires [-10,0) "1 3". (-12,5):
 * W 0 >= -10: dropped. END: [0,10) "1 4". */
Test(corners, negative_timestamps_fixed)
{
    collected c;
    run(EVENTS(REC(-15, 1), REC(-11, 2), REC(-1, 3), REC(0, 4), REC(-12, 5)), 0,
        (weir_combine_spec){.window = weir_fixed(10)}, &c);
    expect(&c, 1,
           WEIR_FIELDS("[-20,-10) 2 3 ON_TIME 0 +I last", "[-10,0) 1 3 ON_TIME 0 +I last",
                       "[0,10) 1 4 ON_TIME 0 +I last"));
}

/* Fixed 10 with offset 3: s = floor((t - 3) / 10) * 10 + 3. t = -8: floor(-1.1) = -2, s = -17;
 * t = 2: floor(-0.1) = -1, s = -7. B 20, so both stay open until END. */
Test(corners, negative_timestamps_offset)
{
    collected c;
    run(EVENTS(REC(-8, 1), REC(2, 2)), 20, (weir_combine_spec){.window = weir_fixed_offset(10, 3)},
        &c);
    expect(&c, 0, WEIR_FIELDS("[-17,-7) 1 1 ON_TIME 0 +I last", "[-7,3) 1 2 ON_TIME 0 +I last"));
}

/* Sessions at negative times, gap 5, B 10: (-3,1) makes [-3,2), (-7,2) makes [-7,-2), which
 * overlaps it (-7 < 2 and -3 < -2): merged [-7,2). */
Test(corners, negative_timestamps_sessions)
{
    collected c;
    run(EVENTS(REC(-3, 1), REC(-7, 2)), 10, (weir_combine_spec){.window = weir_sessions(5)}, &c);
    expect(&c, 0, WEIR_FIELDS("[-7,2) 2 3 ON_TIME 0 +I last"));
}

/* A session closed by a finished trigger drops the records whose window overlaps it (§5):
 * sessions gap 5, B 100, count 1. (0,1): EARLY 0 "1 1" last (closed). (3,2): [3,8) overlaps
 * the closed [0,5): dropped. (10,3): [10,15): EARLY 0 "1 3" last. */
Test(corners, session_closed_by_finished_trigger)
{
    collected c;
    run(EVENTS(REC(0, 1), REC(3, 2), REC(10, 3)), 100,
        (weir_combine_spec){.window = weir_sessions(5), .trigger = weir_trigger_count(1)}, &c);
    expect(&c, 1, WEIR_FIELDS("[0,5) 1 1 EARLY 0 +I last", "[10,15) 1 3 EARLY 0 +I last"));
}

/* ---- sliding windows (computed by slicing) ---- */

/* Sliding 10 every 5, B 0, L 10, default trigger, retracting. t's windows: s ≡ 0 (mod 5),
 * t - 10 < s <= t. (1,1): [-5,5), [0,10). (7,2): [0,10), [5,15); W 7 fires [-5,5) "1 1" (GC
 * 15). (12,3): [5,15), [10,20); W 12 fires [0,10) "2 3" (GC 20). (6,4): [0,10) is past its
 * on-time pane: LATE 1 at once, -U "2 3", +U "3 7"; [5,15) (end 15 > 12) just holds it.
 * (30,5): [25,35), [30,40); W 30: [-5,5) and [0,10) collected (nothing pending), [5,15)
 * ON_TIME "3 9" (records 7, 12, 6) and W 30 >= its GC 25: last; [10,20) "1 3", GC 30: last.
 * END: [25,35) and [30,40) "1 5". */
Test(sliding, default_lateness_retracting)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(7, 2), REC(12, 3), REC(6, 4), REC(30, 5)), 0,
        (weir_combine_spec){
            .window = weir_sliding(10, 5), .allowed_lateness = 10, .accumulation = WEIR_RETRACTING},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[-5,5) 1 1 ON_TIME 0 +I", "[0,10) 2 3 ON_TIME 0 +I", "[0,10) 2 3 LATE 1 -U",
                       "[0,10) 3 7 LATE 1 +U", "[5,15) 3 9 ON_TIME 0 +I last",
                       "[10,20) 1 3 ON_TIME 0 +I last", "[25,35) 1 5 ON_TIME 0 +I last",
                       "[30,40) 1 5 ON_TIME 0 +I last"));
}

/* Sliding 10 every 5, B 0, repeat(count 2): each window counts its own records.
 * (1,1): [-5,5) and [0,10) count 1. (2,2): both reach 2: EARLY 0 "2 3" each, oldest first.
 * (6,3): [0,10) count 1, [5,15) new, count 1; W 6 collects [-5,5) (nothing pending). (7,4):
 * [0,10) reaches 2 again: EARLY 1 (accumulating "4 10", discarding "2 7"); [5,15) EARLY 0
 * "2 7". (20,5): [15,25), [20,30); W 20 collects [0,10), [5,15) (nothing pending). END:
 * [15,25) and [20,30) collected with a record pending: ON_TIME 0 "1 5" last. */
#define SLIDING_COUNT_EVENTS EVENTS(REC(1, 1), REC(2, 2), REC(6, 3), REC(7, 4), REC(20, 5))

Test(sliding, count_accumulating)
{
    collected c;
    run(SLIDING_COUNT_EVENTS, 0,
        (weir_combine_spec){.window = weir_sliding(10, 5),
                            .accumulation = WEIR_ACCUMULATING,
                            .trigger = weir_trigger_repeat(weir_trigger_count(2))},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[-5,5) 2 3 EARLY 0 +I", "[0,10) 2 3 EARLY 0 +I", "[0,10) 4 10 EARLY 1 +U",
                       "[5,15) 2 7 EARLY 0 +I", "[15,25) 1 5 ON_TIME 0 +I last",
                       "[20,30) 1 5 ON_TIME 0 +I last"));
}

Test(sliding, count_discarding)
{
    collected c;
    run(SLIDING_COUNT_EVENTS, 0,
        (weir_combine_spec){.window = weir_sliding(10, 5),
                            .trigger = weir_trigger_repeat(weir_trigger_count(2))},
        &c);
    expect(&c, 0,
           WEIR_FIELDS("[-5,5) 2 3 EARLY 0 +I", "[0,10) 2 3 EARLY 0 +I", "[0,10) 2 7 EARLY 1 +I",
                       "[5,15) 2 7 EARLY 0 +I", "[15,25) 1 5 ON_TIME 0 +I last",
                       "[20,30) 1 5 ON_TIME 0 +I last"));
}

/* Sliding 10 every 5 with a record dropped from one window and kept in another (§3), and from
 * a window closed by its trigger: after_watermark without late, L 10, B 0, accumulating.
 * (1,1): [-5,5), [0,10). (11,2): [5,15), [10,20); W 11: [-5,5) and [0,10) fire ON_TIME and
 * finish: "1 1" last each. (4,3): its windows [-5,5) and [0,10) are closed: dropped from both,
 * so dropped (counted). (9,4): [0,10) closed (dropped from it), [5,15) keeps it. END: [5,15)
 * "2 6" (11 and 9), [10,20) "1 2". */
Test(sliding, closed_windows)
{
    collected c;
    run(EVENTS(REC(1, 1), REC(11, 2), REC(4, 3), REC(9, 4)), 0,
        (weir_combine_spec){.window = weir_sliding(10, 5),
                            .allowed_lateness = 10,
                            .accumulation = WEIR_ACCUMULATING,
                            .trigger = weir_trigger_after_watermark(NULL, NULL)},
        &c);
    expect(&c, 1,
           WEIR_FIELDS("[-5,5) 1 1 ON_TIME 0 +I last", "[0,10) 1 1 ON_TIME 0 +I last",
                       "[5,15) 2 6 ON_TIME 0 +I last", "[10,20) 1 2 ON_TIME 0 +I last"));
}

/* Two keys, fixed 10, B 0. The spec orders the windows of a key (by end); across keys weir
 * decides, for output that does not depend on the run: same end, then the order in which the
 * keys' state was created. (a,1), (b,2): a's state, then b's. (b,12) opens b's [10,20); W 12
 * fires [0,10) of a, then of b; a has no window left and its state goes. (a,13) creates a's
 * state again, after b's. END: [10,20) of b, then of a. */
Test(corners, firing_order)
{
    collected c;
    run(EVENTS(RECK("a", 1, 1), RECK("b", 2, 2), RECK("b", 12, 3), RECK("a", 13, 4)), 0,
        (weir_combine_spec){.window = weir_fixed(10)}, &c);
    expect(&c, 0,
           WEIR_FIELDS("[0,10) 1 1 ON_TIME 0 +I last", "b [0,10) 1 2 ON_TIME 0 +I last",
                       "b [10,20) 1 3 ON_TIME 0 +I last", "[10,20) 1 4 ON_TIME 0 +I last"));
}
