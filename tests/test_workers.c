/* tests/test_workers.c: several workers. For a source read as one partition the multiset of
 * output rows, and their order within each key, must be the same for 1, 2, 3, 4 and 8 workers
 * and any batch size (windowing.md §2). And backpressure: behind a slow sink, memory stays
 * bounded while the source is far larger. */
#include <criterion/criterion.h>
#include <sched.h>
#include <weir/weir.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct rows {
    pthread_mutex_t lock; /* the callback runs on every worker's thread */
    char **line;
    size_t n, cap;
} rows;

static int collect(const weir_row *row, void *ctx)
{
    rows *r = ctx;
    char buf[512];
    size_t len = 0;
    for (uint32_t i = 0; i < row->schema->n_fields && len < sizeof buf - 64; i++) {
        const weir_value *v = &row->values[i];
        switch (v->type) {
        case WEIR_TYPE_INT:
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%" PRId64 " ", v->as.i);
            break;
        case WEIR_TYPE_DOUBLE:
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%.17g ", v->as.d);
            break;
        case WEIR_TYPE_BOOL:
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%d ", v->as.b);
            break;
        case WEIR_TYPE_STRING:
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%.*s ", (int)v->len, v->as.s);
            break;
        default: len += (size_t)snprintf(buf + len, sizeof buf - len, "null "); break;
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

/* A stream with 50 keys, out-of-order timestamps and some very late records. */
static char **make_elements(int n)
{
    char **e = calloc((size_t)n + 1, sizeof *e);
    uint64_t x = 88172645463325252ULL;
    int64_t t = 0;
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t += (int64_t)(x % 7);
        int64_t ts = t - (int64_t)((x >> 8) % 40);
        if ((x >> 20) % 50 == 0) ts -= 500; /* very late */
        char buf[128];
        snprintf(buf, sizeof buf, "{\"k\":\"key%02d\",\"t\":%" PRId64 ",\"v\":%d}",
                 (int)((x >> 32) % 50), ts, (int)((x >> 40) % 100));
        e[i] = strdup(buf);
    }
    return e;
}

typedef weir_stream *(*stage_fn)(weir_stream *in);

static weir_stream *sliding_retracting(weir_stream *in)
{
    return weir_combine(
        in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                 .window = weir_sliding(60, 20),
                                 .allowed_lateness = 100,
                                 .accumulation = WEIR_RETRACTING,
                                 .trigger = weir_trigger_after_watermark(weir_trigger_count(3),
                                                                         weir_trigger_count(1)),
                                 .aggregates = WEIR_AGGREGATES(weir_count("n"), weir_sum("v", "s"),
                                                               weir_max("v", "m"))});
}

static weir_stream *sessions_discarding(weir_stream *in)
{
    return weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                                 .window = weir_sessions(25),
                                                 .allowed_lateness = 50,
                                                 .aggregates = WEIR_AGGREGATES(
                                                     weir_count("n"), weir_mean("v", "avg"))});
}

static weir_stream *fixed_then_fixed(weir_stream *in)
{
    /* two keyed stages: the second (one group) sums the first's change log per 200 ms */
    weir_stream *a =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = weir_fixed(50),
                                              .aggregates = WEIR_AGGREGATES(weir_sum("v", "s"))});
    return weir_combine(a, &(weir_combine_spec){.window = weir_fixed(200),
                                                .aggregates = WEIR_AGGREGATES(
                                                    weir_count("keys"), weir_sum("s", "total"))});
}

/* two keyed stages whose windows do not line up: the second's ends (75, 125, ...) and
 * collection times (end + 10) lie between the first's (50, 100, ...), so it tells apart
 * watermark values that the first cannot (its on-time pane is the last one only when the
 * watermark it fires at has passed end + 10): the first, lifted at several workers, must pass
 * on every value (operators/combine_lift.c, passes_deadline) */
static weir_stream *fixed_then_offset_fixed(weir_stream *in)
{
    weir_stream *a =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = weir_fixed(50),
                                              .aggregates = WEIR_AGGREGATES(weir_sum("v", "s"))});
    return weir_combine(a, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                                .window = weir_fixed_offset(50, 25),
                                                .allowed_lateness = 10,
                                                .aggregates = WEIR_AGGREGATES(
                                                    weir_count("n"), weir_sum("s", "total"))});
}

static void run(char **elements, stage_fn stage, uint32_t workers, uint32_t batch, rows *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_init(&out->lock, NULL);
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in =
        weir_create(p, &(weir_create_source){.elements = (const char *const *)elements,
                                             .timestamp = "t",
                                             .max_out_of_orderness = 40,
                                             .fields = WEIR_FIELDS("k", "t", "v")});
    weir_collect(stage(in), collect, out);
    int err = weir_run(p, &(weir_run_options){.workers = workers, .batch_size = batch});
    cr_assert_eq(err, 0, "workers=%u batch=%u: %s", workers, batch, weir_pipeline_error(p));
    weir_pipeline_destroy(p);
}

/* Rows of each key in order: sort by (key, arrival index), a stable sort by key. */
typedef struct indexed {
    char *line;
    size_t i;
} indexed;

static int by_key(const void *a, const void *b)
{
    const indexed *x = a, *y = b;
    size_t lx = strcspn(x->line, " "), ly = strcspn(y->line, " ");
    int c = strncmp(x->line, y->line, lx < ly ? lx : ly);
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

static void free_rows(rows *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->line[i]);
    free(r->line);
    pthread_mutex_destroy(&r->lock);
}

static void check_same(stage_fn stage, const char *what)
{
    char **el = make_elements(3000);
    rows ref;
    run(el, stage, 1, 1024, &ref);
    cr_assert_gt(ref.n, 40, "%s: too few rows to compare (%zu)", what, ref.n);
    per_key(&ref);
    static const uint32_t workers[] = {1, 2, 3, 4, 8}, batches[] = {1, 7, 1024};
    for (int wi = 0; wi < 5; wi++)
        for (int bi = 0; bi < 3; bi++) {
            rows got;
            run(el, stage, workers[wi], batches[bi], &got);
            per_key(&got);
            cr_assert_eq(got.n, ref.n, "%s: %zu rows with %u workers, batch %u; %zu with 1", what,
                         got.n, workers[wi], batches[bi], ref.n);
            for (size_t i = 0; i < ref.n; i++)
                cr_assert_str_eq(got.line[i], ref.line[i],
                                 "%s: row %zu differs with %u workers, batch %u:\n  1 worker: %s\n "
                                 " got:      %s",
                                 what, i, workers[wi], batches[bi], ref.line[i], got.line[i]);
            free_rows(&got);
        }
    free_rows(&ref);
    for (int i = 0; el[i]; i++) free(el[i]);
    free(el);
}

Test(workers, same_results_sliding_retracting, .timeout = 120)
{
    check_same(sliding_retracting, "sliding");
}
Test(workers, same_results_sessions, .timeout = 120)
{
    check_same(sessions_discarding, "sessions");
}
Test(workers, same_results_two_keyed_stages, .timeout = 120)
{
    check_same(fixed_then_fixed, "two stages");
}
Test(workers, same_results_two_stages_out_of_line, .timeout = 120)
{
    check_same(fixed_then_offset_fixed, "two stages out of line");
}

/* ---- backpressure ---- */

static int slow(const weir_row *row, void *ctx)
{
    (void)row;
    _Atomic uint64_t *n = ctx;
    if (atomic_fetch_add(n, 1) % 2000 == 0) usleep(1000);
    return 0;
}

static long peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

Test(workers, slow_sink_bounded_memory, .timeout = 300)
{
#if defined(__SANITIZE_ADDRESS__)
    cr_skip_test("AddressSanitizer's quarantine makes resident memory meaningless here");
#endif
    /* 3M generated records (~150 MB if they were all held as rows), read as one partition by
     * worker 0, pass the exchange into sinks that sleep 1 ms every 2000 rows: the rings fill,
     * the generator waits, memory stays bounded. One row per record comes out (1 ms fixed windows
     * of 100 records, 1000 keys). */
    long before = peak_rss_mb();
    _Atomic uint64_t n = 0;
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in = weir_read_generator(
        p, &(weir_generator_source){.count = 3000000, .keys = 1000, .partitions = 1});
    weir_stream *out =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = weir_fixed(1),
                                              .aggregates = WEIR_AGGREGATES(weir_count("n"))});
    weir_collect(out, slow, &n);
    int err = weir_run(p, &(weir_run_options){.workers = 2});
    cr_assert_eq(err, 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    cr_assert_eq(atomic_load(&n), 3000000, "every record produced one row");
    long peak = peak_rss_mb();
    cr_assert_lt(peak - before, 60, "peak RSS grew by %ld MB (bound 60 MB)", peak - before);
}

/* ---- pin_workers ---- */

typedef struct pinned {
    pthread_mutex_t lock;
    int cpus_seen_max; /* the largest affinity set any callback thread had */
    uint64_t rows;
} pinned;

static int note_affinity(const weir_row *row, void *ctx)
{
    (void)row;
    pinned *p = ctx;
    cpu_set_t set;
    int n = pthread_getaffinity_np(pthread_self(), sizeof set, &set) ? 999 : CPU_COUNT(&set);
    pthread_mutex_lock(&p->lock);
    if (n > p->cpus_seen_max) p->cpus_seen_max = n;
    p->rows++;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

Test(workers, pin_workers_pins_each_thread_and_restores_the_caller)
{
    cpu_set_t before;
    cr_assert_eq(pthread_getaffinity_np(pthread_self(), sizeof before, &before), 0);
    pinned got = {.lock = PTHREAD_MUTEX_INITIALIZER};
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in = weir_read_generator(
        p, &(weir_generator_source){.count = 100000, .keys = 100, .partitions = 2});
    weir_stream *out =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = weir_fixed(10),
                                              .aggregates = WEIR_AGGREGATES(weir_count("n"))});
    weir_collect(out, note_affinity, &got);
    int err = weir_run(p, &(weir_run_options){.workers = 2, .pin_workers = true});
    cr_assert_eq(err, 0, "%s", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    cr_assert_gt(got.rows, 0);
    cr_assert_eq(got.cpus_seen_max, 1, "every worker thread runs pinned to one CPU (saw %d)",
                 got.cpus_seen_max);
    cpu_set_t after;
    cr_assert_eq(pthread_getaffinity_np(pthread_self(), sizeof after, &after), 0);
    cr_assert(CPU_EQUAL(&before, &after), "the calling thread gets its affinity back");
}
