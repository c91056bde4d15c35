/* tests/test_combine_lift.c: combiner lifting (operators/combine_lift.c) at the edges a
 * single-partition stream does not reach: a scripted source per worker (each worker its own
 * partition, with its own watermark and IDLE batches, in a fixed interleaving between the
 * workers), through a Combine at 2 workers with lifting and without; both must give the same
 * rows and the same dropped-as-late count. The cases came from a review of the lifting:
 *   - a partition that goes IDLE, then comes back with a record its watermark does not pass;
 *   - an IDLE batch whose own watermark closes the slices the worker held;
 *   - records at the end of time (a slice whose end saturates at INT64_MAX). */
#include <criterion/criterion.h>
#include <weir/graph.h>
#include <weir/weir.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A script: per worker, batches to emit (S_EMIT), and steps shared between the workers (S_SET
 * sets the step, S_WAIT waits for it and then sleeps a while, so that the other worker's
 * batches have crossed the exchange by then). */
enum { S_EMIT, S_WAIT, S_SET, S_END };
typedef struct srow {
    const char *key;
    int64_t t, wm;
    int64_t v;
} srow;
typedef struct sstep {
    int kind;
    int n_rows;
    srow rows[8];
    int64_t wm_after;
    uint32_t flags;
    int step;
    int sleep_ms;
} sstep;
typedef struct script {
    const sstep *steps;
    int n;
} script;
typedef struct scfg {
    script per_worker[4];
} scfg;

static atomic_int g_step;
typedef struct sst {
    const script *sc;
    int i;
    weir_batch *b;
} sst;

static int sc_open(weir_operator *op, const void *config, char *e, size_t n)
{
    (void)e, (void)n;
    const scfg *c = config;
    sst *s = calloc(1, sizeof *s);
    op->state = s;
    s->sc = &c->per_worker[weir_operator_worker_index(op)];
    s->b = weir_batch_create(op->out_schema, 64);
    return 0;
}
static void sc_close(weir_operator *op)
{
    sst *s = op->state;
    weir_batch_destroy(s->b);
    free(s);
}
static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
static int sc_pull(weir_operator *op, uint32_t max)
{
    (void)max;
    sst *s = op->state;
    while (s->i < s->sc->n) {
        const sstep *st = &s->sc->steps[s->i];
        if (st->kind == S_WAIT) {
            if (atomic_load(&g_step) < st->step) {
                msleep(1);
                return WEIR_PULL_MORE;
            }
            if (st->sleep_ms) msleep(st->sleep_ms);
            s->i++;
            return WEIR_PULL_MORE;
        }
        if (st->kind == S_SET) {
            atomic_store(&g_step, st->step);
            s->i++;
            continue;
        }
        weir_batch *b = s->b;
        weir_batch_clear(b);
        if (st->kind == S_END) {
            b->flags = WEIR_BATCH_END;
            b->wm_after = WEIR_TIME_MAX;
            s->i = s->sc->n;
            int rc = weir_operator_emit(op, b);
            return rc ? rc : WEIR_PULL_END;
        }
        for (int r = 0; r < st->n_rows; r++) {
            weir_value *v = weir_batch_append(b, st->rows[r].t, st->rows[r].wm);
            v[0] = weir_value_string(st->rows[r].key, strlen(st->rows[r].key));
            v[1] = weir_value_int(st->rows[r].v);
        }
        b->wm_after = st->wm_after;
        b->flags = st->flags;
        s->i++;
        int rc = weir_operator_emit(op, b);
        return rc ? rc : WEIR_PULL_MORE;
    }
    weir_batch_clear(s->b);
    s->b->flags = WEIR_BATCH_END;
    s->b->wm_after = WEIR_TIME_MAX;
    int rc = weir_operator_emit(op, s->b);
    return rc ? rc : WEIR_PULL_END;
}
static const weir_operator_class sc_class = {
    .name = "Scripted", .open = sc_open, .pull = sc_pull, .close = sc_close};

typedef struct result {
    char rows[64][128];
    int n;
    uint64_t late;
} result;

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static int collect(const weir_row *row, void *ctx)
{
    result *r = ctx;
    const weir_value *v = row->values; /* k, n, total, window_start, window_end, pane_timing, ... */
    pthread_mutex_lock(&out_lock);
    if (r->n < 64)
        snprintf(r->rows[r->n++], 128, "%.*s [%lld,%lld) n=%lld total=%lld %s", (int)v[0].len,
                 v[0].as.s, (long long)v[3].as.i, (long long)v[4].as.i, (long long)v[1].as.i,
                 (long long)v[2].as.i, v[5].as.s);
    pthread_mutex_unlock(&out_lock);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void run(const scfg *cfg, weir_window_fn win, bool lift, result *r)
{
    memset(r, 0, sizeof *r);
    atomic_store(&g_step, 0);
    weir_pipeline *p = weir_pipeline_create();
    static const char *const names[] = {"k", "v"};
    const weir_type types[] = {WEIR_TYPE_STRING, WEIR_TYPE_INT};
    weir_stream *in =
        weir_pipeline_add_node(p, &(weir_node_spec){.kind = "Scripted",
                                                    .cls = &sc_class,
                                                    .config = (void *)cfg,
                                                    .schema = weir_schema_create(2, names, types)});
    weir_stream *res =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = win,
                                              .aggregates = WEIR_AGGREGATES(
                                                  weir_count("n"), weir_sum("v", "total"))});
    weir_collect(res, collect, r);
    cr_assert(weir_pipeline_node_lifted(p, 1), "the Combine is liftable");
    int rc = weir_run(p, &(weir_run_options){.workers = 2, .no_combiner_lifting = !lift});
    cr_assert_eq(rc, 0, "%s", weir_pipeline_error(p));
    weir_run_stats st;
    weir_pipeline_stats(p, &st);
    r->late = st.dropped_late;
    qsort(r->rows, (size_t)r->n, sizeof r->rows[0], cmp);
    weir_pipeline_destroy(p);
}

/* The same rows and late count with lifting as without; want: the rows expected (sorted). */
static void check(const scfg *cfg, weir_window_fn win, const char *const *want, int n_want,
                  uint64_t want_late)
{
    result off, on;
    run(cfg, win, false, &off);
    run(cfg, win, true, &on);
    cr_assert_eq(off.n, n_want, "without lifting: %d rows, expected %d", off.n, n_want);
    for (int i = 0; i < n_want; i++)
        cr_assert_str_eq(off.rows[i], want[i], "without lifting, row %d", i);
    cr_assert_eq(off.late, want_late, "without lifting: %llu late", (unsigned long long)off.late);
    cr_assert_eq(on.n, off.n, "lifted: %d rows, without lifting %d", on.n, off.n);
    for (int i = 0; i < on.n; i++) cr_assert_str_eq(on.rows[i], off.rows[i], "lifted, row %d", i);
    cr_assert_eq(on.late, off.late, "lifted: %llu late, without lifting %llu",
                 (unsigned long long)on.late, (unsigned long long)off.late);
}

#define M WEIR_TIME_MIN

Test(combine_lift, partition_back_from_idle)
{
    /* worker 0: a@800 (wm 750), IDLE; later a@770 at an unchanged watermark, which the
     * unlifted path adds on time to [770,780) (worker 1's channel holds the minimum at 760). */
    static const sstep A[] = {
        {.kind = S_EMIT, .n_rows = 1, .rows = {{"a", 800, M, 1}}, .wm_after = 750},
        {.kind = S_EMIT, .wm_after = 750, .flags = WEIR_BATCH_IDLE},
        {.kind = S_SET, .step = 1},
        {.kind = S_WAIT, .step = 2, .sleep_ms = 100},
        {.kind = S_EMIT, .n_rows = 1, .rows = {{"a", 770, 750, 2}}, .wm_after = 750},
        {.kind = S_SET, .step = 3},
        {.kind = S_WAIT, .step = 4, .sleep_ms = 100},
        {.kind = S_EMIT, .n_rows = 1, .rows = {{"a", 900, 750, 4}}, .wm_after = 850},
        {.kind = S_SET, .step = 5},
        {.kind = S_END}};
    static const sstep B[] = {
        {.kind = S_WAIT, .step = 1, .sleep_ms = 100},
        {.kind = S_EMIT, .n_rows = 1, .rows = {{"b", 810, M, 10}}, .wm_after = 760},
        {.kind = S_SET, .step = 2},
        {.kind = S_WAIT, .step = 3, .sleep_ms = 100},
        {.kind = S_EMIT, .n_rows = 1, .rows = {{"b", 950, 760, 20}}, .wm_after = 900},
        {.kind = S_SET, .step = 4},
        {.kind = S_WAIT, .step = 5},
        {.kind = S_END}};
    scfg cfg = {.per_worker = {{A, sizeof A / sizeof *A}, {B, sizeof B / sizeof *B}}};
    static const char *const want[] = {
        "a [770,780) n=1 total=2 ON_TIME", "a [800,810) n=1 total=1 ON_TIME",
        "a [900,910) n=1 total=4 ON_TIME", "b [810,820) n=1 total=10 ON_TIME",
        "b [950,960) n=1 total=20 ON_TIME"};
    check(&cfg, weir_fixed(10), want, 5, 0);
}

Test(combine_lift, idle_batch_raises_the_watermark)
{
    /* worker 0 holds a@5; its IDLE batch raises its watermark to 30, which closes the slice */
    static const sstep A[] = {
        {.kind = S_EMIT, .n_rows = 1, .rows = {{"a", 5, M, 1}}, .wm_after = 5},
        {.kind = S_SET, .step = 1},
        {.kind = S_WAIT, .step = 2, .sleep_ms = 100},
        {.kind = S_EMIT, .wm_after = 30, .flags = WEIR_BATCH_IDLE},
        {.kind = S_SET, .step = 3},
        {.kind = S_WAIT, .step = 4},
        {.kind = S_END}};
    static const sstep B[] = {
        {.kind = S_WAIT, .step = 1, .sleep_ms = 100},
        {.kind = S_EMIT, .n_rows = 1, .rows = {{"b", 50, M, 10}}, .wm_after = 40},
        {.kind = S_SET, .step = 2},
        {.kind = S_WAIT, .step = 3, .sleep_ms = 100},
        {.kind = S_SET, .step = 4},
        {.kind = S_END}};
    scfg cfg = {.per_worker = {{A, sizeof A / sizeof *A}, {B, sizeof B / sizeof *B}}};
    static const char *const want[] = {"a [0,10) n=1 total=1 ON_TIME",
                                       "b [50,60) n=1 total=10 ON_TIME"};
    check(&cfg, weir_fixed(10), want, 2, 0);
}

Test(combine_lift, end_of_time)
{
    /* records at INT64_MAX and INT64_MAX - 1: fixed(1) gives two windows, the last one
     * [MAX, MAX) (its end saturates) */
    static const sstep A[] = {{.kind = S_EMIT,
                               .n_rows = 2,
                               .rows = {{"a", INT64_MAX, M, 1}, {"a", INT64_MAX - 1, M, 2}},
                               .wm_after = M},
                              {.kind = S_END}};
    static const sstep B[] = {{.kind = S_END}};
    scfg cfg = {.per_worker = {{A, 2}, {B, 1}}};
    static const char *const want[] = {
        "a [9223372036854775806,9223372036854775807) n=1 total=2 ON_TIME",
        "a [9223372036854775807,9223372036854775807) n=1 total=1 ON_TIME"};
    check(&cfg, weir_fixed(1), want, 2, 0);
}
