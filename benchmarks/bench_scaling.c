/* benchmarks/bench_scaling.c: how throughput grows with workers, and how speed and memory
 * behave as the number of distinct keys grows (issue #8, "Scaling").
 *
 *   bench_scaling workers [-n records=20000000] [-k keys=1000] [-e events=10000000]
 *                         [-w max_workers=cores] [-r runs=5] [-o DIR]
 *       For W = 1, 2, ... up to max_workers (every count up to 8, then powers of two and the
 *       maximum), two workloads:
 *         - the COST fixed workload of bench_cost: ReadFromGenerator (N records, K keys,
 *           100 per ms, one partition per worker) -> count + sum(v) per key in fixed 10 s
 *           windows -> JSON lines file (in /tmp, removed after each run);
 *         - Nexmark q5 as bench_nexmark runs it: ReadFromNexmark (E events, seed 1, one
 *           partition per worker) -> bids -> count per auction in sliding 10 s / 5 s windows ->
 *           a sink that counts rows (-e 0 leaves it out).
 *       Printed per W: the median wall time, records (events) per second, the speedup over
 *       W = 1 and the efficiency (speedup / W), and the median CPU time of the process.
 *   bench_scaling keys [-n records=20000000] [-K 1000,10000,100000,1000000,10000000] [-r runs=5]
 *                      [-o DIR]
 *       For each key count K: ReadFromGenerator (max(N, 2K) records over K keys, 100 per ms)
 *       -> count + sum(v) per key in fixed windows of whole hours longer than the input's event
 *       time (so every key keeps one open window until the end of the input, as in
 *       bench_window_memory and bench_checkpoint) -> a sink that counts rows (K rows, checked).
 *       One worker. Printed per K: records/s (median), its ratio to the first K, the peak
 *       resident memory of the run (median of the runs' ru_maxrss), bytes per key (peak / K) and
 *       the marginal bytes per key over the first K ((peak - peak_first) / (K - K_first)).
 *       The target: 10M distinct keys with open fixed windows in under 2 GB (read as
 *       2e9 bytes of peak RSS, the stricter reading).
 *   bench_scaling all [options of both]
 *       Both, workers first.
 *
 * Every run is a child process of its own (fork, then wait4 for its peak RSS and CPU time), so
 * that no run inherits another's heap or allocator caches; the parent never starts a pipeline.
 * With -o DIR, the figures are also written for gnuplot (benchmarks/plots/) to
 * DIR/scaling_workers.dat and DIR/scaling_keys.dat: one row per point, whitespace-separated
 * columns named in a leading '#' line. */
#include <weir/graph.h>
#include <weir/weir.h>

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- a sink that counts rows, a batch at a time (as in bench_nexmark) ---- */

typedef struct counter {
    atomic_uint_fast64_t rows;
} counter;

static int count_open(weir_operator *op, const void *config, char *errbuf, size_t errlen)
{
    (void)errbuf, (void)errlen;
    op->state = (void *)config;
    return 0;
}

static int count_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    atomic_fetch_add_explicit(&((counter *)op->state)->rows, b->n_rows, memory_order_relaxed);
    weir_operator_count_written(op, b->n_rows);
    return 0;
}

static void count_close(weir_operator *op)
{
    (void)op;
}

static void no_free(void *p)
{
    (void)p;
}

static const weir_operator_class count_class = {
    .name = "Count", .open = count_open, .process = count_process, .close = count_close};

static void count_rows(weir_stream *in, counter *c)
{
    weir_pipeline *p = weir_stream_pipeline(in);
    if (!p || weir_stream_failed(in)) return;
    weir_pipeline_add_node(p, &(weir_node_spec){.kind = "Count",
                                                .cls = &count_class,
                                                .config = c,
                                                .config_free = no_free,
                                                .inputs = &in,
                                                .n_inputs = 1});
}

/* ---- the workloads, each run in a child process ---- */

typedef enum workload { COST_FIXED, NEXMARK_Q5, OPEN_KEYS } workload;

typedef struct point {
    workload what;
    int64_t records, keys;
    uint32_t workers;
} point;

static bool is_bid(const weir_row *row, void *ctx)
{
    (void)ctx;
    const weir_value *t = &row->values[WEIR_NEXMARK_EVENT_TYPE];
    return t->len == 3 && t->as.s[0] == 'b'; /* "bid": the only 3-letter type starting with b */
}

/* Runs one point in this process; returns its wall time in seconds, or -1 on failure. */
static double run_point(const point *pt)
{
    weir_pipeline *p = weir_pipeline_create();
    counter c = {0};
    char path[64];
    snprintf(path, sizeof path, "/tmp/weir-bench-scaling-%ld.jsonl", (long)getpid());
    int64_t want_rows = -1;
    if (pt->what == NEXMARK_Q5) {
        weir_stream *ev =
            weir_read_nexmark(p, &(weir_nexmark_source){.events = pt->records, .seed = 1});
        weir_stream *out = weir_combine(
            weir_filter(ev, is_bid, NULL),
            &(weir_combine_spec){.group_by = WEIR_FIELDS("auction"),
                                 .window = weir_sliding(WEIR_SECONDS(10), WEIR_SECONDS(5)),
                                 .aggregates = WEIR_AGGREGATES(weir_count("num_bids"))});
        count_rows(out, &c);
    } else {
        weir_stream *in = weir_read_generator(
            p, &(weir_generator_source){.count = pt->records, .keys = pt->keys});
        /* OPEN_KEYS: whole hours, longer than the input's event time (100 records per ms) */
        const int64_t hour = 3600 * 1000;
        weir_window_fn window = pt->what == COST_FIXED
                                    ? weir_fixed(WEIR_SECONDS(10))
                                    : weir_fixed((pt->records / 100 / hour + 1) * hour);
        weir_stream *out =
            weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                                  .window = window,
                                                  .aggregates = WEIR_AGGREGATES(
                                                      weir_count("n"), weir_sum("v", "total"))});
        if (pt->what == COST_FIXED) {
            weir_write_file(out, &(weir_file_sink){.path = path});
        } else {
            count_rows(out, &c);
            want_rows = pt->keys;
        }
    }
    double t0 = mono_s();
    const char *nl = getenv("BENCH_NO_LIFT"); /* benchmarks/README.md */
    int err = weir_run(p, &(weir_run_options){.workers = pt->workers,
                                              .no_combiner_lifting = nl && *nl && *nl != '0'});
    double t = mono_s() - t0;
    if (err) {
        fprintf(stderr, "bench_scaling: %s\n", weir_pipeline_error(p));
        t = -1;
    }
    weir_run_stats st;
    weir_pipeline_stats(p, &st);
    if (!err && st.records_read != (uint64_t)pt->records) {
        fprintf(stderr, "bench_scaling: read %" PRIu64 " records of %" PRId64 "\n", st.records_read,
                pt->records);
        t = -1;
    }
    if (!err && want_rows >= 0 && atomic_load(&c.rows) != (uint64_t)want_rows) {
        fprintf(stderr, "bench_scaling: %" PRIu64 " rows out, expected %" PRId64 "\n",
                (uint64_t)atomic_load(&c.rows), want_rows);
        t = -1;
    }
    weir_pipeline_destroy(p);
    if (pt->what == COST_FIXED) remove(path);
    return t;
}

typedef struct measure {
    double wall, cpu; /* s */
    double peak_rss;  /* bytes */
} measure;

/* Runs pt in a child process: its wall time (measured by the child around weir_run), its CPU
 * time and peak resident memory (from wait4). Returns 0, or -1 on failure. */
static int run_isolated(const point *pt, measure *m)
{
    int fd[2];
    if (pipe(fd)) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        double t = run_point(pt);
        ssize_t w = write(fd[1], &t, sizeof t);
        _exit(w == sizeof t && t >= 0 ? 0 : 1);
    }
    close(fd[1]);
    double t = -1;
    if (read(fd[0], &t, sizeof t) != sizeof t) t = -1;
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) return -1;
    if (t < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    m->wall = t;
    m->cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
             (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    m->peak_rss = (double)ru.ru_maxrss * 1024.0; /* Linux: kilobytes */
    return 0;
}

/* The medians of `runs` isolated runs of pt. */
static int run_median(const point *pt, int runs, measure *out)
{
    double wall[99], cpu[99], rss[99];
    for (int r = 0; r < runs; r++) {
        measure m;
        if (run_isolated(pt, &m)) return -1;
        wall[r] = m.wall, cpu[r] = m.cpu, rss[r] = m.peak_rss;
    }
    out->wall = median(wall, runs);
    out->cpu = median(cpu, runs);
    out->peak_rss = median(rss, runs);
    return 0;
}

/* ---- the two scans ---- */

typedef struct options {
    int64_t records, keys, events;
    uint32_t max_workers;
    int runs;
    const char *dir;
    int64_t key_counts[16];
    int n_key_counts;
} options;

static FILE *open_dat(const options *o, const char *name)
{
    if (!o->dir) return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "bench_scaling: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static int scan_workers(const options *o)
{
    uint32_t counts[64], n = 0;
    for (uint32_t w = 1; w <= o->max_workers && n < 63; w = w < 8 ? w + 1 : w * 2) counts[n++] = w;
    if (counts[n - 1] != o->max_workers) counts[n++] = o->max_workers;
    printf("Scaling by workers, median of %d run(s), one child process per run\n", o->runs);
    printf("  COST fixed: ReadFromGenerator %" PRId64 " records, %" PRId64
           " keys -> fixed 10 s count+sum -> JSON file\n",
           o->records, o->keys);
    if (o->events)
        printf("  Nexmark q5: ReadFromNexmark %" PRId64 " events -> bids -> sliding 10 s / 5 s "
               "count per auction -> counting sink\n",
               o->events);
    printf("%-8s %-10s %9s %14s %8s %10s %9s\n", "workload", "workers", "wall s", "records/s",
           "speedup", "efficiency", "cpu s");
    FILE *dat = open_dat(o, "scaling_workers.dat");
    if (dat)
        fprintf(dat, "# workers cost_records_per_s cost_speedup q5_events_per_s q5_speedup "
                     "(bench_scaling workers; 0: not measured)\n");
    double rate[2][64] = {{0}}, speedup[2][64] = {{0}};
    for (int q = 0; q < 2; q++) {
        if (q == 1 && !o->events) continue;
        for (uint32_t i = 0; i < n; i++) {
            point pt = {.what = q ? NEXMARK_Q5 : COST_FIXED,
                        .records = q ? o->events : o->records,
                        .keys = o->keys,
                        .workers = counts[i]};
            measure m;
            if (run_median(&pt, o->runs, &m)) {
                fprintf(stderr, "bench_scaling: %s at %u workers failed\n", q ? "q5" : "cost",
                        counts[i]);
                if (dat) fclose(dat);
                return 1;
            }
            rate[q][i] = (double)pt.records / m.wall;
            speedup[q][i] = rate[q][i] / rate[q][0];
            printf("%-8s %-10u %9.3f %14.0f %7.2fx %10.2f %9.3f\n", q ? "q5" : "cost", counts[i],
                   m.wall, rate[q][i], speedup[q][i], speedup[q][i] / counts[i], m.cpu);
            fflush(stdout);
        }
    }
    for (uint32_t i = 0; dat && i < n; i++)
        fprintf(dat, "%u %.0f %.4f %.0f %.4f\n", counts[i], rate[0][i], speedup[0][i], rate[1][i],
                speedup[1][i]);
    if (dat) fclose(dat);
    return 0;
}

static int scan_keys(const options *o)
{
    printf("Scaling by keys: ReadFromGenerator max(%" PRId64 ", 2 x keys) records -> fixed "
           "window open until the end (count+sum per key) -> counting sink, 1 worker, median of "
           "%d run(s), one child process per run\n",
           o->records, o->runs);
    printf("%10s %11s %14s %9s %13s %13s %13s\n", "keys", "records", "records/s", "vs first",
           "peak RSS MiB", "bytes/key", "marginal B/k");
    FILE *dat = open_dat(o, "scaling_keys.dat");
    if (dat)
        fprintf(dat,
                "# keys records records_per_s peak_rss_bytes bytes_per_key marginal_bytes_per_key "
                "(bench_scaling keys)\n");
    double first_rate = 0, first_rss = 0;
    int64_t first_keys = 0;
    double rss_10m = -1;
    for (int i = 0; i < o->n_key_counts; i++) {
        int64_t k = o->key_counts[i];
        point pt = {.what = OPEN_KEYS,
                    .records = o->records > 2 * k ? o->records : 2 * k,
                    .keys = k,
                    .workers = 1};
        measure m;
        if (run_median(&pt, o->runs, &m)) {
            fprintf(stderr, "bench_scaling: %" PRId64 " keys failed\n", k);
            if (dat) fclose(dat);
            return 1;
        }
        double rate = (double)pt.records / m.wall;
        if (i == 0) first_rate = rate, first_rss = m.peak_rss, first_keys = k;
        double marginal = i ? (m.peak_rss - first_rss) / (double)(k - first_keys) : 0;
        if (k == 10000000) rss_10m = m.peak_rss;
        char marg[32] = "-";
        if (i) snprintf(marg, sizeof marg, "%.1f", marginal);
        printf("%10" PRId64 " %11" PRId64 " %14.0f %8.2fx %13.1f %13.1f %13s\n", k, pt.records,
               rate, rate / first_rate, m.peak_rss / 1048576.0, m.peak_rss / (double)k, marg);
        fflush(stdout);
        if (dat)
            fprintf(dat, "%" PRId64 " %" PRId64 " %.0f %.0f %.2f %.2f\n", k, pt.records, rate,
                    m.peak_rss, m.peak_rss / (double)k, marginal);
    }
    if (dat) fclose(dat);
    if (rss_10m >= 0)
        printf("target: 10M distinct keys with open fixed windows under 2 GB: %.2f GB peak, %s\n",
               rss_10m / 1e9, rss_10m < 2e9 ? "met" : "NOT met");
    else
        printf("target: 10M distinct keys under 2 GB: not measured (10000000 not in -K)\n");
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_scaling workers|keys|all [-n records] [-k keys] [-e nexmark_events]\n"
            "                     [-w max_workers] [-K key_count,...] [-r runs] [-o DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2) usage();
    const char *what = argv[1];
    bool workers = !strcmp(what, "workers") || !strcmp(what, "all");
    bool keys = !strcmp(what, "keys") || !strcmp(what, "all");
    if (!workers && !keys) usage();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    options o = {.records = 20000000,
                 .keys = 1000,
                 .events = 10000000,
                 .max_workers = cores > 0 ? (uint32_t)cores : 1,
                 .runs = 5,
                 .key_counts = {1000, 10000, 100000, 1000000, 10000000},
                 .n_key_counts = 5};
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "n:k:e:w:K:r:o:h")) != -1) {
        switch (opt) {
        case 'n': o.records = strtoll(optarg, NULL, 10); break;
        case 'k': o.keys = strtoll(optarg, NULL, 10); break;
        case 'e': o.events = strtoll(optarg, NULL, 10); break;
        case 'w': o.max_workers = (uint32_t)atoi(optarg); break;
        case 'r': o.runs = atoi(optarg); break;
        case 'o': o.dir = optarg; break;
        case 'K':
            o.n_key_counts = 0;
            for (char *save = NULL, *s = strtok_r(optarg, ",", &save); s;
                 s = strtok_r(NULL, ",", &save)) {
                if (o.n_key_counts == 16) usage();
                int64_t k = strtoll(s, NULL, 10);
                if (k <= 0 || (o.n_key_counts && k <= o.key_counts[o.n_key_counts - 1])) usage();
                o.key_counts[o.n_key_counts++] = k;
            }
            break;
        default: usage();
        }
    }
    if (optind != argc || o.records <= 0 || o.keys <= 0 || o.events < 0 || o.max_workers == 0 ||
        o.max_workers > 256 || o.runs <= 0 || o.runs > 99 || o.n_key_counts == 0)
        usage();
    printf("bench_scaling: %ld core(s) online\n", cores);
    int rc = 0;
    if (workers) rc = scan_workers(&o);
    if (!rc && workers && keys) printf("\n");
    if (!rc && keys) rc = scan_keys(&o);
    return rc;
}
