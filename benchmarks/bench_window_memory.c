/* benchmarks/bench_window_memory.c: memory per open (key, window) of the windowed Combine.
 *
 * A source of its own emits, with the watermark held at -infinity (so that every window stays
 * open), N keys x R records each; the Combine (group by integer key k, count + sum(v): 40 bytes
 * of aggregate state) keeps one window per distinct (key, window). Once every record is in,
 * the source measures resident memory and only then ends its input (every window then fires,
 * and the rows are counted, as a check). The growth of RSS between the first pull and that
 * point, divided by N, is the memory per key with everything included (key entry, hash table
 * slot, timer entry, windows, slices, allocator rounding). Freed pages still cached by the
 * allocator are returned first (jemalloc's arena purge), so that what is measured is what is
 * live, not how the hash table grew.
 *
 * Each scenario runs in a child process of its own, so that none inherits another's heap:
 *   - fixed 10 s windows, one record per key: bytes per open (key, window), all in;
 *   - fixed 10 s windows, R records per key in R different windows: bytes per window beyond
 *     the key's first, (per-key(R) - per-key(1)) / (R - 1);
 *   - sliding windows of R s every 1 s, one record per key (R open windows per key), with no
 *     allowed lateness (slices only) and with 1 min of allowed lateness (window records and
 *     slices), in discarding and accumulating modes.
 *
 *     build/benchmarks/bench_window_memory [keys=1000000]
 */
#include <weir/graph.h>
#include <weir/weir.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* jemalloc's control interface, when jemalloc is the allocator (weak: absent otherwise) */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

static long rss_bytes(void)
{
    if (mallctl) mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* MALLCTL_ARENAS_ALL */
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

typedef struct scenario {
    const char *name;
    weir_window_fn window;
    int64_t lateness;
    weir_accumulation mode;
    int64_t keys, records_per_key;
    int64_t step; /* event time between a key's records */
    int64_t windows_per_key;
} scenario;

typedef struct mem_source {
    const scenario *sc;
    int64_t next; /* records emitted */
    long rss_before, rss_after;
    weir_batch *batch;
} mem_source;

static int ms_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    mem_source *s = (mem_source *)config;
    s->batch = weir_batch_create(op->out_schema, weir_operator_batch_size(op));
    op->state = s;
    return s->batch ? 0 : WEIR_ENOMEM;
}

static void ms_close(weir_operator *op)
{
    mem_source *s = op->state;
    weir_batch_destroy(s->batch);
}

static int ms_pull(weir_operator *op, uint32_t max_rows)
{
    mem_source *s = op->state;
    const scenario *sc = s->sc;
    int64_t total = sc->keys * sc->records_per_key;
    weir_batch *b = s->batch;
    weir_batch_clear(b);
    if (s->next == 0) s->rss_before = rss_bytes();
    if (s->next >= total) {
        s->rss_after = rss_bytes(); /* every record is in; no window has fired */
        b->flags = WEIR_BATCH_END;
        b->wm_after = WEIR_TIME_MAX;
        int rc = weir_operator_emit(op, b);
        return rc ? rc : WEIR_PULL_END;
    }
    for (uint32_t i = 0; i < max_rows && s->next < total && !weir_batch_full(b); i++, s->next++) {
        int64_t key = s->next % sc->keys, j = s->next / sc->keys;
        int64_t t = j * sc->step;
        weir_value *v = weir_batch_append(b, t, WEIR_TIME_MIN);
        v[0] = weir_value_int(key);
        v[1] = weir_value_int(t);
        v[2] = weir_value_int(key % 1000);
    }
    b->wm_after = WEIR_TIME_MIN;
    int rc = weir_operator_emit(op, b);
    return rc ? rc : WEIR_PULL_MORE;
}

static const weir_operator_class mem_source_class = {
    .name = "MemorySource", .open = ms_open, .pull = ms_pull, .close = ms_close};

static int count_row(const weir_row *row, void *ctx)
{
    (void)row;
    ++*(int64_t *)ctx;
    return 0;
}

/* Runs one scenario; returns bytes per key, or a negative value on failure. */
static double run(const scenario *sc)
{
    mem_source src = {.sc = sc};
    int64_t rows = 0;
    weir_pipeline *p = weir_pipeline_create();
    static const char *const names[] = {"k", "t", "v"};
    static const weir_type types[] = {WEIR_TYPE_INT, WEIR_TYPE_INT, WEIR_TYPE_INT};
    weir_stream *in =
        weir_pipeline_add_node(p, &(weir_node_spec){.kind = "MemorySource",
                                                    .cls = &mem_source_class,
                                                    .config = &src,
                                                    .schema = weir_schema_create(3, names, types)});
    weir_stream *out =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = sc->window,
                                              .allowed_lateness = sc->lateness,
                                              .accumulation = sc->mode,
                                              .aggregates = WEIR_AGGREGATES(
                                                  weir_count("n"), weir_sum("v", "total"))});
    weir_collect(out, count_row, &rows);
    int err = weir_run(p, &(weir_run_options){.workers = 1});
    if (err) fprintf(stderr, "%s: %s\n", sc->name, weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    int64_t want = sc->keys * sc->windows_per_key;
    if (err || rows != want) {
        fprintf(stderr, "%s: %lld rows, expected %lld\n", sc->name, (long long)rows,
                (long long)want);
        return -1;
    }
    return (double)(src.rss_after - src.rss_before) / (double)sc->keys;
}

/* Runs sc in a child process and returns its bytes per key. */
static double run_isolated(const scenario *sc)
{
    int fd[2];
    if (pipe(fd)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        double r = run(sc);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == sizeof r ? 0 : 1);
    }
    close(fd[1]);
    double r = -1;
    if (pid < 0 || read(fd[0], &r, sizeof r) != sizeof r) r = -1;
    close(fd[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    return r;
}

static scenario fixed(int64_t keys, int64_t windows)
{
    return (scenario){.name = "fixed",
                      .window = weir_fixed(10000),
                      .keys = keys,
                      .records_per_key = windows,
                      .step = 10000,
                      .windows_per_key = windows};
}

static scenario sliding(int64_t keys, int64_t windows, int64_t lateness, weir_accumulation mode)
{
    return (scenario){.name = "sliding",
                      .window = weir_sliding(windows * 1000, 1000),
                      .lateness = lateness,
                      .mode = mode,
                      .keys = keys,
                      .records_per_key = 1,
                      .step = 1000,
                      .windows_per_key = windows};
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 1000000;
    if (n <= 0) {
        fprintf(stderr, "usage: %s [keys]\n", argv[0]);
        return 2;
    }
    printf("bytes per key = growth of RSS / keys (count + sum: 40 bytes of aggregate state)\n\n");
    printf("fixed 10 s windows, %lld keys\n", (long long)n);
    scenario f1 = fixed(n, 1);
    double one = run_isolated(&f1);
    if (one < 0) return 1;
    printf("  1 open window per key:  %6.1f bytes per open (key, window), all in\n", one);
    const int64_t more[] = {2, 4, 16};
    for (int i = 0; i < 3; i++) {
        int64_t keys = more[i] > 4 ? n / 4 : n;
        scenario f = fixed(keys, more[i]), f1k = fixed(keys, 1);
        double all = run_isolated(&f), base = keys == n ? one : run_isolated(&f1k);
        if (all < 0 || base < 0) return 1;
        printf("  %2lld open windows per key (%lld keys): %6.1f bytes per key, %5.1f per window "
               "beyond its key's first\n",
               (long long)more[i], (long long)keys, all, (all - base) / (double)(more[i] - 1));
    }
    const struct {
        int64_t lateness;
        weir_accumulation mode;
        const char *what;
    } kinds[] = {{0, WEIR_DISCARDING, "no lateness (slices only)"},
                 {60000, WEIR_DISCARDING, "lateness 1 min, discarding"},
                 {60000, WEIR_ACCUMULATING, "lateness 1 min, accumulating"}};
    int64_t sk = n / 10 > 0 ? n / 10 : 1;
    for (int k = 0; k < 3; k++) {
        printf("\nsliding windows of W s every 1 s, one record per key (W open windows), %s, "
               "%lld keys\n",
               kinds[k].what, (long long)sk);
        scenario s1 = sliding(sk, 1, kinds[k].lateness, kinds[k].mode);
        double base = run_isolated(&s1);
        if (base < 0) return 1;
        printf("  W = 1:  %6.1f bytes per key\n", base);
        const int64_t ws[] = {2, 10, 60};
        for (int i = 0; i < 3; i++) {
            scenario s = sliding(sk, ws[i], kinds[k].lateness, kinds[k].mode);
            double all = run_isolated(&s);
            if (all < 0) return 1;
            printf("  W = %2lld: %6.1f bytes per key, %5.1f per window beyond its key's first\n",
                   (long long)ws[i], all, (all - base) / (double)(ws[i] - 1));
        }
    }
    return 0;
}
