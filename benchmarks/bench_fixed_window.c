/* benchmarks/bench_fixed_window.c: throughput of a keyed fixed-window aggregation.
 *
 * ReadFromGenerator (N records, K keys, 100 per ms) -> fixed 10 s window, count + sum(v) per key
 * -> JSON lines file, through the engine with one worker, against a hand-written single-threaded
 * C loop that computes the same rows (the COST baseline), in the same run on the same machine.
 * Both outputs are compared (sorted) so the figure is only printed for correct results.
 * Prints the median of R runs of each and their ratio.
 *
 *     build/benchmarks/bench_fixed_window [records=20000000] [keys=1000] [runs=5] */
#include <weir/weir.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
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

/* The baseline: the same computation as a plain loop, writing the same JSON. */
static void baseline(int64_t n, int64_t keys, const char *path)
{
    const int64_t size = 10000;
    int64_t *count = calloc((size_t)keys, sizeof *count), *sum = calloc((size_t)keys, sizeof *sum);
    int64_t *order = malloc((size_t)keys * sizeof *order), n_order = 0;
    char *buf = malloc(1 << 20);
    size_t len = 0;
    FILE *f = fopen(path, "w");
    int64_t cur = INT64_MIN;
    for (int64_t i = 0;; i++) {
        int64_t ts = i < n ? i / 100 : INT64_MAX;
        int64_t w = i < n ? ts - ts % size : INT64_MAX;
        if (w != cur && cur != INT64_MIN) {
            for (int64_t j = 0; j < n_order; j++) {
                int64_t k = order[j];
                if (len > (1 << 20) - 256) {
                    fwrite(buf, 1, len, f);
                    len = 0;
                }
                len += (size_t)sprintf(
                    buf + len,
                    "{\"k\":%ld,\"n\":%ld,\"total\":%ld,\"window_start\":%ld,"
                    "\"window_end\":%ld,\"pane_timing\":\"ON_TIME\",\"pane_index\":0,"
                    "\"pane_last\":true,\"op\":\"+I\"}\n",
                    (long)k, (long)count[k], (long)sum[k], (long)cur, (long)(cur + size));
                count[k] = sum[k] = 0;
            }
            n_order = 0;
        }
        if (i >= n) break;
        cur = w;
        int64_t k = (i * 7919) % keys;
        if (count[k]++ == 0) order[n_order++] = k;
        sum[k] += i % 1000;
    }
    fwrite(buf, 1, len, f);
    fclose(f);
    free(count), free(sum), free(order), free(buf);
}

static int engine(int64_t n, int64_t keys, const char *path)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in = weir_read_generator(p, &(weir_generator_source){.count = n, .keys = keys});
    weir_stream *out =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = weir_fixed(WEIR_SECONDS(10)),
                                              .aggregates = WEIR_AGGREGATES(
                                                  weir_count("n"), weir_sum("v", "total"))});
    weir_write_file(out, &(weir_file_sink){.path = path});
    int err = weir_run(p, &(weir_run_options){.workers = 1});
    if (err) fprintf(stderr, "engine: %s\n", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    return err;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 20000000;
    int64_t keys = argc > 2 ? atoll(argv[2]) : 1000;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (n <= 0 || keys <= 0 || runs <= 0) {
        fprintf(stderr, "usage: %s [records] [keys] [runs]\n", argv[0]);
        return 2;
    }
    const char *a = "/tmp/weir-bench-engine.jsonl", *b = "/tmp/weir-bench-baseline.jsonl";
    double te[64], tb[64];
    if (runs > 64) runs = 64;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        if (engine(n, keys, a)) return 1;
        te[r] = now_s() - t0;
        t0 = now_s();
        baseline(n, keys, b);
        tb[r] = now_s() - t0;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cmp -s <(sort %s) <(sort %s)", a, b);
    char full[600];
    snprintf(full, sizeof full, "bash -c '%s'", cmd);
    if (system(full) != 0) {
        fprintf(stderr, "MISMATCH: the engine's output differs from the baseline's (%s vs %s)\n", a,
                b);
        return 1;
    }
    qsort(te, (size_t)runs, sizeof *te, cmp_double);
    qsort(tb, (size_t)runs, sizeof *tb, cmp_double);
    double me = te[runs / 2], mb = tb[runs / 2];
    printf("fixed 10 s window, count+sum, %lld records, %lld keys, 1 worker, median of %d runs\n",
           (long long)n, (long long)keys, runs);
    printf("  weir:     %8.3f s  %12.0f records/s\n", me, (double)n / me);
    printf("  baseline: %8.3f s  %12.0f records/s (hand-written C loop)\n", mb, (double)n / mb);
    printf("  ratio weir/baseline: %.2fx\n", mb / me);
    remove(a);
    remove(b);
    return 0;
}
