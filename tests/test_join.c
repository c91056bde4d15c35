/* tests/test_join.c: the windowed Join and Flatten (weir/join.h).
 *
 * Small hand-checked cases (inner and left, several matches, no match, null keys, keys on both
 * sides, late rows, the watermark as the minimum of two inputs, END, the JSON layout), then a
 * generated stream joined at 1, 2 and 3 workers and batch sizes 1, 7 and 1024: the rows of every
 * key, in order, must be the same each time (and at one worker the whole output). */
#include <criterion/criterion.h>
#include <weir/weir.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rows {
    pthread_mutex_t lock; /* the callback runs on every worker's thread */
    char **line;
    size_t n, cap;
} rows;

static int collect(const weir_row *row, void *ctx)
{
    rows *r = ctx;
    char buf[1024];
    size_t len = 0;
    for (uint32_t i = 0; i < row->schema->n_fields && len < sizeof buf - 64; i++) {
        const weir_value *v = &row->values[i];
        const char *sep = i ? " " : "";
        switch (v->type) {
        case WEIR_TYPE_INT:
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%" PRId64, sep, v->as.i);
            break;
        case WEIR_TYPE_STRING:
            len +=
                (size_t)snprintf(buf + len, sizeof buf - len, "%s%.*s", sep, (int)v->len, v->as.s);
            break;
        case WEIR_TYPE_NULL:
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s-", sep);
            break;
        default: len += (size_t)snprintf(buf + len, sizeof buf - len, "%s?", sep); break;
        }
    }
    pthread_mutex_lock(&r->lock);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->line = realloc(r->line, r->cap * sizeof *r->line);
    }
    r->line[r->n++] = strdup(buf);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void rows_init(rows *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
}

static void free_rows(rows *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->line[i]);
    free(r->line);
    pthread_mutex_destroy(&r->lock);
}

static bool is_side(const weir_row *row, void *ctx)
{
    const weir_value *v = &row->values[0]; /* field "s" comes first */
    const char *want = ctx;
    return v->type == WEIR_TYPE_STRING && v->len == 1 && v->as.s[0] == want[0];
}

typedef struct setup {
    weir_join_type type;
    weir_window_fn window;
    int64_t bound; /* max_out_of_orderness */
    uint32_t workers, batch;
} setup;

/* One Create of rows {s: "L" or "R", k, t, v}, split by s into the two sides of a Join on k. */
static weir_pipeline *build(const char *const *elements, const setup *su, rows *out)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in =
        weir_create(p, &(weir_create_source){.elements = elements,
                                             .timestamp = "t",
                                             .max_out_of_orderness = su->bound,
                                             .fields = WEIR_FIELDS("s", "k", "t", "v")});
    weir_stream *l = weir_filter(in, is_side, "L"), *r = weir_filter(in, is_side, "R");
    weir_stream *j = weir_join(l, r,
                               &(weir_join_spec){.type = su->type,
                                                 .left_tag = "l",
                                                 .right_tag = "r",
                                                 .left_keys = WEIR_FIELDS("k"),
                                                 .right_keys = WEIR_FIELDS("k"),
                                                 .window = su->window});
    weir_collect(j, collect, out);
    return p;
}

static void run(const char *const *elements, const setup *su, rows *out, weir_run_stats *stats)
{
    rows_init(out);
    weir_pipeline *p = build(elements, su, out);
    int err = weir_run(
        p, &(weir_run_options){.workers = su->workers ? su->workers : 1, .batch_size = su->batch});
    cr_assert_eq(err, 0, "%s", weir_pipeline_error(p));
    if (stats) weir_pipeline_stats(p, stats);
    weir_pipeline_destroy(p);
}

static void expect(const rows *got, const char *const *want)
{
    size_t n = 0;
    while (want[n]) n++;
    for (size_t i = 0; i < got->n && i < n; i++)
        cr_expect_str_eq(got->line[i], want[i], "row %zu: got %s, want %s", i, got->line[i],
                         want[i]);
    for (size_t i = n; i < got->n; i++) cr_expect(0, "extra row %zu: %s", i, got->line[i]);
    for (size_t i = got->n; i < n; i++) cr_expect(0, "missing row %zu: %s", i, want[i]);
}

/* Columns: l.s l.k l.t l.v r.s r.k r.t r.v window_start window_end. */
static const char *const basic[] = {
    "{\"s\":\"L\",\"k\":\"a\",\"t\":1,\"v\":1}",   "{\"s\":\"R\",\"k\":\"a\",\"t\":2,\"v\":10}",
    "{\"s\":\"L\",\"k\":\"b\",\"t\":3,\"v\":2}",   "{\"s\":\"R\",\"k\":\"a\",\"t\":4,\"v\":11}",
    "{\"s\":\"R\",\"k\":\"c\",\"t\":5,\"v\":12}",  "{\"s\":\"L\",\"k\":\"a\",\"t\":6,\"v\":3}",
    "{\"s\":\"L\",\"k\":\"c\",\"t\":13,\"v\":4}",  "{\"s\":\"R\",\"k\":\"c\",\"t\":14,\"v\":13}",
    "{\"s\":\"R\",\"k\":\"d\",\"t\":15,\"v\":14}", NULL};

Test(join, inner_several_matches)
{
    rows got;
    run(basic, &(setup){.type = WEIR_JOIN_INNER, .window = weir_fixed(10)}, &got, NULL);
    expect(&got, (const char *const[]){"L a 1 1 R a 2 10 0 10", "L a 1 1 R a 4 11 0 10",
                                       "L a 6 3 R a 2 10 0 10", "L a 6 3 R a 4 11 0 10",
                                       "L c 13 4 R c 14 13 10 20", NULL});
    free_rows(&got);
}

Test(join, left_keeps_unmatched_once)
{
    rows got;
    run(basic, &(setup){.type = WEIR_JOIN_LEFT, .window = weir_fixed(10)}, &got, NULL);
    /* keys in order of their first left row: a (t=1), then b (t=3) */
    expect(&got, (const char *const[]){"L a 1 1 R a 2 10 0 10", "L a 1 1 R a 4 11 0 10",
                                       "L a 6 3 R a 2 10 0 10", "L a 6 3 R a 4 11 0 10",
                                       "L b 3 2 - - - - 0 10", "L c 13 4 R c 14 13 10 20", NULL});
    free_rows(&got);
}

Test(join, no_match_and_null_keys)
{
    static const char *const el[] = {"{\"s\":\"L\",\"k\":\"x\",\"t\":1,\"v\":1}",
                                     "{\"s\":\"R\",\"k\":\"y\",\"t\":2,\"v\":2}",
                                     "{\"s\":\"L\",\"t\":3,\"v\":3}",
                                     "{\"s\":\"R\",\"t\":4,\"v\":4}",
                                     "{\"s\":\"L\",\"k\":1,\"t\":5,\"v\":5}",
                                     "{\"s\":\"R\",\"k\":1.0,\"t\":6,\"v\":6}",
                                     NULL};
    rows got;
    run(el, &(setup){.type = WEIR_JOIN_INNER, .window = weir_fixed(10)}, &got, NULL);
    expect(&got, (const char *const[]){NULL}); /* null keys match nothing; 1 is not 1.0 */
    free_rows(&got);
    run(el, &(setup){.type = WEIR_JOIN_LEFT, .window = weir_fixed(10)}, &got, NULL);
    expect(&got, (const char *const[]){"L x 1 1 - - - - 0 10", "L - 3 3 - - - - 0 10",
                                       "L 1 5 5 - - - - 0 10", NULL});
    free_rows(&got);
}

Test(join, sliding_windows)
{
    static const char *const el[] = {"{\"s\":\"L\",\"k\":\"a\",\"t\":4,\"v\":1}",
                                     "{\"s\":\"R\",\"k\":\"a\",\"t\":7,\"v\":2}", NULL};
    rows got;
    /* size 10, period 5: t=4 is in [-5,5) and [0,10); t=7 in [0,10) and [5,15) */
    run(el, &(setup){.type = WEIR_JOIN_LEFT, .window = weir_sliding(10, 5)}, &got, NULL);
    expect(&got, (const char *const[]){"L a 4 1 - - - - -5 5", "L a 4 1 R a 7 2 0 10", NULL});
    free_rows(&got);
}

Test(join, late_rows_dropped_and_counted)
{
    /* bound 0: after t=25 the watermark is 25; R at t=3 is late for [0,10) (its input's
     * watermark is 25 >= 10); L at t=8 as well; L at t=21 is not late for [20,30) */
    static const char *const el[] = {
        "{\"s\":\"L\",\"k\":\"a\",\"t\":1,\"v\":1}",  "{\"s\":\"R\",\"k\":\"a\",\"t\":25,\"v\":2}",
        "{\"s\":\"R\",\"k\":\"a\",\"t\":3,\"v\":3}",  "{\"s\":\"L\",\"k\":\"a\",\"t\":8,\"v\":4}",
        "{\"s\":\"L\",\"k\":\"a\",\"t\":21,\"v\":5}", NULL};
    rows got;
    weir_run_stats st;
    run(el, &(setup){.type = WEIR_JOIN_LEFT, .window = weir_fixed(10)}, &got, &st);
    expect(&got, (const char *const[]){"L a 1 1 - - - - 0 10", "L a 21 5 R a 25 2 20 30", NULL});
    cr_expect_eq(st.dropped_late, 2);
    free_rows(&got);
}

/* ---- two sources: the Join's watermark is the minimum of its inputs' ---- */

Test(join, watermark_is_the_minimum_of_both_inputs)
{
    /* The left source runs far ahead (t=1, then t=1000) and, at one worker, is read before the
     * right one. The right's rows at t=5 and t=8 are not late: the right input's own watermark
     * is still low, and [0,10) waits for it. Then END fires [1000,1010) too. */
    for (uint32_t workers = 1; workers <= 3; workers++) {
        rows got;
        rows_init(&got);
        weir_pipeline *p = weir_pipeline_create();
        weir_stream *l = weir_create(
            p, &(weir_create_source){
                   .elements = WEIR_FIELDS("{\"k\":\"a\",\"t\":1}", "{\"k\":\"a\",\"t\":1000}"),
                   .timestamp = "t",
                   .fields = WEIR_FIELDS("k", "t")});
        weir_stream *r = weir_create(
            p, &(weir_create_source){.elements = WEIR_FIELDS("{\"k\":\"a\",\"t\":5}",
                                                             "{\"k\":\"a\",\"t\":8}",
                                                             "{\"k\":\"a\",\"t\":1003}"),
                                     .timestamp = "t",
                                     .fields = WEIR_FIELDS("k", "t")});
        weir_stream *j = weir_join(l, r,
                                   &(weir_join_spec){.left_keys = WEIR_FIELDS("k"),
                                                     .right_keys = WEIR_FIELDS("k"),
                                                     .window = weir_fixed(10)});
        cr_assert_str_eq(weir_stream_schema(j)->names[0], "left.k");
        cr_assert_str_eq(weir_stream_schema(j)->names[3], "right.t");
        weir_collect(j, collect, &got);
        cr_assert_eq(weir_run(p, &(weir_run_options){.workers = workers}), 0, "%s",
                     weir_pipeline_error(p));
        weir_run_stats st;
        weir_pipeline_stats(p, &st);
        cr_expect_eq(st.dropped_late, 0);
        weir_pipeline_destroy(p);
        expect(&got, (const char *const[]){"a 1 a 5 0 10", "a 1 a 8 0 10",
                                           "a 1000 a 1003 1000 1010", NULL});
        free_rows(&got);
    }
}

/* ---- the JSON layout: each side nested under its tag ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

Test(join, json_output_nests_sides_under_their_tags)
{
    char path[] = "/tmp/weir_join_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    weir_pipeline *p = weir_pipeline_create();
    /* "extra" is read by no transform: it passes through as text, inside its side's object */
    weir_stream *in = weir_create(
        p, &(weir_create_source){
               .elements = WEIR_FIELDS("{\"s\":\"L\",\"k\":\"a\",\"t\":1,\"extra\":[1,2]}",
                                       "{\"s\":\"R\",\"k\":\"a\",\"t\":2,\"v\":2.5}",
                                       "{\"s\":\"L\",\"k\":\"b\",\"t\":3}"),
               .timestamp = "t",
               .fields = WEIR_FIELDS("s", "k", "t", "v")});
    weir_stream *l = weir_filter(in, is_side, "L"), *r = weir_filter(in, is_side, "R");
    weir_stream *j = weir_join(l, r,
                               &(weir_join_spec){.type = WEIR_JOIN_LEFT,
                                                 .left_tag = "person",
                                                 .right_tag = "auction",
                                                 .left_keys = WEIR_FIELDS("k"),
                                                 .right_keys = WEIR_FIELDS("k"),
                                                 .window = weir_fixed(10)});
    weir_write_file(j, &(weir_file_sink){.path = path});
    cr_assert_eq(weir_run(p, &(weir_run_options){.workers = 1}), 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    cr_expect_str_eq(
        slurp(path),
        "{\"person\":{\"s\":\"L\",\"k\":\"a\",\"t\":1,\"extra\":[1,2]},\"auction\":{\"s\":\"R\","
        "\"k\":\"a\",\"t\":2,\"v\":2.5},\"window_start\":0,\"window_end\":10}\n"
        "{\"person\":{\"s\":\"L\",\"k\":\"b\",\"t\":3},\"auction\":null,\"window_start\":0,"
        "\"window_end\":10}\n");
    unlink(path);
}

/* ---- errors of the DSL ---- */

Test(join, refuses_global_and_session_windows_and_unknown_fields)
{
    weir_window_fn bad[] = {weir_global(), weir_sessions(10)};
    const char *msg[] = {"global windows", "session windows"};
    for (int i = 0; i < 3; i++) {
        weir_pipeline *p = weir_pipeline_create();
        weir_stream *in = weir_create(p, &(weir_create_source){.elements = WEIR_FIELDS("{\"k\":1}"),
                                                               .fields = WEIR_FIELDS("k")});
        weir_join(in, in,
                  &(weir_join_spec){.left_keys = WEIR_FIELDS("k"),
                                    .right_keys = WEIR_FIELDS(i == 2 ? "nope" : "k"),
                                    .window = i < 2 ? bad[i] : weir_fixed(10)});
        cr_expect_neq(weir_pipeline_status(p), 0);
        cr_expect(
            strstr(weir_pipeline_error(p), i < 2 ? msg[i] : "no field 'nope' in input 'right'"),
            "%s", weir_pipeline_error(p));
        weir_pipeline_destroy(p);
    }
}

/* ---- the same results at any worker count and batch size ---- */

/* 4000 rows over 40 keys, both sides, out of order within 30 ms, a few very late. */
static char **make_elements(int n)
{
    char **e = calloc((size_t)n + 1, sizeof *e);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int64_t t = 0;
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t += (int64_t)(x % 5);
        int64_t ts = t - (int64_t)((x >> 8) % 30);
        if ((x >> 20) % 60 == 0) ts -= 300; /* very late */
        char buf[128];
        snprintf(buf, sizeof buf, "{\"s\":\"%s\",\"k\":\"k%02d\",\"t\":%" PRId64 ",\"v\":%d}",
                 (x >> 30) % 3 ? "R" : "L", (int)((x >> 32) % 40), ts, i);
        e[i] = strdup(buf);
    }
    return e;
}

typedef struct indexed {
    char *line;
    size_t i;
} indexed;

/* by the key (second column), then arrival */
static int by_key(const void *a, const void *b)
{
    const indexed *x = a, *y = b;
    const char *kx = strchr(x->line, ' ') + 1, *ky = strchr(y->line, ' ') + 1;
    size_t lx = strcspn(kx, " "), ly = strcspn(ky, " ");
    int c = strncmp(kx, ky, lx < ly ? lx : ly);
    if (!c) c = (lx > ly) - (lx < ly);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static void per_key(rows *r)
{
    indexed *v = malloc((r->n + 1) * sizeof *v);
    for (size_t i = 0; i < r->n; i++) v[i] = (indexed){r->line[i], i};
    qsort(v, r->n, sizeof *v, by_key);
    for (size_t i = 0; i < r->n; i++) r->line[i] = v[i].line;
    free(v);
}

static void check_same(weir_join_type type, weir_window_fn window)
{
    char **el = make_elements(4000);
    rows ref;
    weir_run_stats ref_st, st;
    run((const char *const *)el, &(setup){type, window, 30, 1, 1024}, &ref, &ref_st);
    cr_assert_gt(ref.n, 500, "too few rows to compare (%zu)", ref.n);
    cr_assert_gt(ref_st.dropped_late, 0, "the stream has late rows");
    static const uint32_t workers[] = {1, 2, 3}, batches[] = {1, 7, 1024};
    rows ref_keyed = ref;
    ref_keyed.line = malloc(ref.n * sizeof *ref.line);
    memcpy(ref_keyed.line, ref.line, ref.n * sizeof *ref.line);
    per_key(&ref_keyed);
    for (int wi = 0; wi < 3; wi++)
        for (int bi = 0; bi < 3; bi++) {
            rows got;
            run((const char *const *)el, &(setup){type, window, 30, workers[wi], batches[bi]}, &got,
                &st);
            cr_assert_eq(got.n, ref.n, "%zu rows with %u workers, batch %u; %zu with 1", got.n,
                         workers[wi], batches[bi], ref.n);
            cr_assert_eq(st.dropped_late, ref_st.dropped_late);
            const rows *cmp = &ref;
            if (workers[wi] > 1) { /* across keys, the order depends on the workers */
                per_key(&got);
                cmp = &ref_keyed;
            }
            for (size_t i = 0; i < ref.n; i++)
                cr_assert_str_eq(got.line[i], cmp->line[i],
                                 "row %zu differs with %u workers, batch %u:\n  1 worker: %s\n"
                                 "  got:      %s",
                                 i, workers[wi], batches[bi], cmp->line[i], got.line[i]);
            free_rows(&got);
        }
    free(ref_keyed.line);
    free_rows(&ref);
    for (int i = 0; el[i]; i++) free(el[i]);
    free(el);
}

Test(join, same_results_inner_fixed, .timeout = 120)
{
    check_same(WEIR_JOIN_INNER, weir_fixed(50));
}
Test(join, same_results_left_sliding, .timeout = 120)
{
    check_same(WEIR_JOIN_LEFT, weir_sliding(60, 20));
}

/* ---- Flatten ---- */

static weir_stream *create(weir_pipeline *p, const char *const *elements)
{
    return weir_create(p, &(weir_create_source){.elements = elements,
                                                .timestamp = "t",
                                                .fields = WEIR_FIELDS("k", "t")});
}

Test(flatten, union_with_the_minimum_watermark)
{
    /* a runs ahead to t=100 before b is read (one worker): b's rows at t=5 and t=7 are not late
     * for the Combine behind the Flatten, whose watermark is the minimum of a's and b's */
    for (uint32_t workers = 1; workers <= 3; workers++) {
        rows got;
        rows_init(&got);
        weir_pipeline *p = weir_pipeline_create();
        weir_stream *a = create(p, WEIR_FIELDS("{\"k\":\"x\",\"t\":1}", "{\"k\":\"x\",\"t\":100}"));
        weir_stream *b = create(p, WEIR_FIELDS("{\"k\":\"x\",\"t\":5}", "{\"k\":\"y\",\"t\":7}",
                                               "{\"k\":\"x\",\"t\":104}"));
        weir_stream *u = weir_flatten(WEIR_STREAMS(a, b), 2);
        weir_stream *c =
            weir_combine(u, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                                 .window = weir_fixed(10),
                                                 .aggregates = WEIR_AGGREGATES(weir_count("n"))});
        weir_collect(c, collect, &got);
        cr_assert_eq(weir_run(p, &(weir_run_options){.workers = workers}), 0, "%s",
                     weir_pipeline_error(p));
        weir_run_stats st;
        weir_pipeline_stats(p, &st);
        cr_expect_eq(st.dropped_late, 0);
        weir_pipeline_destroy(p);
        cr_assert_eq(got.n, 3);
        /* k n window_start window_end pane_timing pane_index pane_last op */
        const char *want[] = {"x 2 0 10", "y 1 0 10", "x 2 100 110"};
        for (size_t i = 0; i < 3; i++) {
            bool found = false;
            for (size_t k = 0; k < got.n; k++)
                found |= !strncmp(got.line[k], want[i], strlen(want[i]));
            cr_expect(found, "no row %s", want[i]);
        }
        free_rows(&got);
    }
}

Test(flatten, rows_in_order_per_input_and_end)
{
    rows got;
    rows_init(&got);
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *a = create(p, WEIR_FIELDS("{\"k\":\"a1\",\"t\":1}", "{\"k\":\"a2\",\"t\":2}"));
    weir_stream *b = create(p, WEIR_FIELDS("{\"k\":\"b1\",\"t\":1}", "{\"k\":\"b2\",\"t\":0}"));
    weir_stream *c = create(p, WEIR_FIELDS("{\"k\":\"c1\",\"t\":9}"));
    weir_collect(weir_flatten(WEIR_STREAMS(a, b, c), 3), collect, &got);
    cr_assert_eq(weir_run(p, &(weir_run_options){.workers = 1, .batch_size = 1}), 0, "%s",
                 weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    /* every row once; within each input in order (how inputs interleave is the worker's) */
    cr_assert_eq(got.n, 5);
    const char *want[] = {"a1 1", "a2 2", "b1 1", "b2 0", "c1 9"};
    size_t at[5];
    for (size_t i = 0; i < 5; i++) {
        at[i] = 99;
        for (size_t k = 0; k < got.n; k++)
            if (!strcmp(got.line[k], want[i])) at[i] = k;
        cr_expect_neq(at[i], 99, "no row %s", want[i]);
    }
    cr_expect_lt(at[0], at[1]);
    cr_expect_lt(at[2], at[3]);
    free_rows(&got);
}

Test(flatten, refuses_different_fields)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *a = create(p, WEIR_FIELDS("{\"k\":1,\"t\":1}"));
    weir_stream *b = weir_create(
        p, &(weir_create_source){.elements = WEIR_FIELDS("{\"x\":1}"), .fields = WEIR_FIELDS("x")});
    weir_flatten(WEIR_STREAMS(a, b), 2);
    cr_expect_neq(weir_pipeline_status(p), 0);
    cr_expect(strstr(weir_pipeline_error(p), "input 1 has (k, t), input 2 has (x)"), "%s",
              weir_pipeline_error(p));
    weir_pipeline_destroy(p);
}
