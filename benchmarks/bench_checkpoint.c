/* benchmarks/bench_checkpoint.c: what checkpoints cost (issue #5's targets).
 *
 * The pipeline: ReadFromGenerator (N records over K keys, 100 per ms of event time) -> Combine
 * (group by k, count + sum, fixed windows of 1 h: every key keeps an open window until the
 * end, so the state is K keys with open windows) -> a sink that counts rows. Measured, each the
 * median of R runs, in this order in every round so that both see the same machine state:
 *   - the run without checkpoints (baseline);
 *   - the same run with a checkpoint every I ms (default 1000) into a fresh directory: its
 *     throughput as a ratio of the baseline's (target >= 0.90), the time a checkpoint takes
 *     from request to published (target < 1 s), the longest pause of a worker's processing
 *     (barrier to resume, which includes the snapshot into memory; target < 10 ms), the
 *     longest snapshot itself, and the size on disk;
 *   - restore: a run that stops after its second checkpoint, taken at a quarter of the
 *     interval (the generator's first K records hold every key, so all K keys are in), then a
 *     run that resumes from it: the time to read the checkpoint and restore the operators.
 *
 * With --join the state is a Join's instead: two ReadFromGenerator sources of N records each
 * over the same K keys (records default 2000000: 2 rows per side and key) -> Join on k, fixed
 * windows of 1 h -> the counting sink, which must see K x (N / K)^2 pairs; the rows wait in the
 * Join's one open window until the end, so a checkpoint holds all 2N of them.
 *
 *     build/benchmarks/bench_checkpoint [--join] [records=30000000] [keys=1000000] [runs=3]
 *                                       [workers=1] [interval_ms=1000] [dir=/tmp/weir-bench-ck]
 */
#include <weir/graph.h>
#include <weir/weir.h>

#include <stdatomic.h>
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
    return x < y ? -1 : x > y;
}

static _Atomic uint64_t rows_out;

static int count_row(const weir_row *row, void *ctx)
{
    (void)row, (void)ctx;
    atomic_fetch_add_explicit(&rows_out, 1, memory_order_relaxed);
    return 0;
}

typedef struct result {
    double seconds;
    weir_checkpoint_stats ck;
    int rc;
} result;

static bool join_mode; /* --join */

static result run(int64_t n, int64_t keys, uint32_t workers, const weir_checkpoint_options *ck)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in = weir_read_generator(p, &(weir_generator_source){.count = n, .keys = keys});
    weir_stream *out;
    if (join_mode) {
        weir_stream *right =
            weir_read_generator(p, &(weir_generator_source){.count = n, .keys = keys});
        out = weir_join(in, right,
                        &(weir_join_spec){.type = WEIR_JOIN_INNER,
                                          .left_keys = WEIR_FIELDS("k"),
                                          .right_keys = WEIR_FIELDS("k"),
                                          .window = weir_fixed(WEIR_SECONDS(3600))});
    } else {
        out = weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                                    .window = weir_fixed(WEIR_SECONDS(3600)),
                                                    .aggregates = WEIR_AGGREGATES(
                                                        weir_count("n"), weir_sum("v", "total"))});
    }
    weir_collect(out, count_row, NULL);
    atomic_store(&rows_out, 0);
    weir_run_options o = {.workers = workers};
    if (ck) o.checkpoint = *ck;
    double t0 = now_s();
    result r = {.rc = weir_run(p, &o)};
    r.seconds = now_s() - t0;
    weir_pipeline_checkpoint_stats(p, &r.ck);
    if (r.rc && r.rc != WEIR_ESTOPPED) fprintf(stderr, "run: %s\n", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    return r;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--join")) {
        join_mode = true;
        argv++, argc--;
    }
    int64_t n = argc > 1 ? atoll(argv[1]) : join_mode ? 2000000 : 30000000;
    int64_t keys = argc > 2 ? atoll(argv[2]) : 1000000;
    int runs = argc > 3 ? atoi(argv[3]) : 3;
    uint32_t workers = argc > 4 ? (uint32_t)atoi(argv[4]) : 1;
    int64_t interval = argc > 5 ? atoll(argv[5]) : 1000;
    const char *dir = argc > 6 ? argv[6] : "/tmp/weir-bench-ck";
    if (n <= 0 || keys <= 0 || runs <= 0 || runs > 64 || !workers || interval <= 0) {
        fprintf(stderr,
                "usage: %s [--join] [records] [keys] [runs] [workers] [interval_ms] [dir]\n",
                argv[0]);
        return 2;
    }
    if (join_mode && n % keys) {
        fprintf(stderr, "--join: records must be a multiple of keys\n");
        return 2;
    }
    /* the rows the sink must see: one per key, or a Join's pairs */
    uint64_t want =
        join_mode ? (uint64_t)keys * (uint64_t)(n / keys) * (uint64_t)(n / keys) : (uint64_t)keys;
    /* the window holds the whole run: n / 100 ms of event time must fit in 1 h */
    if (n / 100 >= 3600 * 1000) {
        fprintf(stderr, "records: at most %d (the run must fit in the 1 h window)\n",
                3600 * 1000 * 100 - 1);
        return 2;
    }
    char cmd[600];
    double base[64], with[64], pause_ms[64], capture_ms[64], total_ms[64], restore_ms[64],
        step_ms[64];
    uint64_t completed = 0, size_ok = 1;
    for (int r = 0; r < runs; r++) {
        result b = run(n, keys, workers, NULL);
        if (b.rc || atomic_load(&rows_out) != want) {
            fprintf(stderr, "baseline: wrong result (%llu rows, %llu expected)\n",
                    (unsigned long long)atomic_load(&rows_out), (unsigned long long)want);
            return 1;
        }
        base[r] = b.seconds;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd)) return 1;
        weir_checkpoint_options ck = {.dir = dir, .interval = interval};
        result c = run(n, keys, workers, &ck);
        if (c.rc || atomic_load(&rows_out) != want) {
            fprintf(stderr, "with checkpoints: wrong result\n");
            return 1;
        }
        with[r] = c.seconds;
        pause_ms[r] = (double)c.ck.max_pause_ns / 1e6;
        capture_ms[r] = (double)c.ck.max_capture_ns / 1e6;
        step_ms[r] = (double)c.ck.max_step_ns / 1e6;
        total_ms[r] = (double)c.ck.max_total_ns / 1e6;
        completed = c.ck.completed;
        /* restore: stop after the second checkpoint (the first taken once every key is in),
         * at a quarter of the interval, so that a fast run still has two before its end */
        if (system(cmd)) return 1;
        weir_checkpoint_options crash = {
            .dir = dir, .interval = interval / 4 ? interval / 4 : 1, .crash_after = 2};
        result k = run(n, keys, workers, &crash);
        if (k.rc != WEIR_ESTOPPED || atomic_load(&rows_out) != 0) {
            fprintf(stderr, "restore: the run ended before its second checkpoint (use more "
                            "records or a shorter interval)\n");
            size_ok = 0;
            restore_ms[r] = 0;
            continue;
        }
        weir_checkpoint_options resume = {.dir = dir, .interval = 3600000};
        result s = run(n, keys, workers, &resume);
        if (s.rc || atomic_load(&rows_out) != want) {
            fprintf(stderr, "resumed run: wrong result (%llu rows)\n",
                    (unsigned long long)atomic_load(&rows_out));
            return 1;
        }
        restore_ms[r] = (double)s.ck.restore_ns / 1e6;
    }
    snprintf(cmd, sizeof cmd, "du -sb '%s' 2>/dev/null | cut -f1", dir);
    FILE *du = popen(cmd, "r");
    long long bytes = 0;
    if (du) {
        if (fscanf(du, "%lld", &bytes) != 1) bytes = 0;
        pclose(du);
    }
    double mb = median(base, runs), mw = median(with, runs);
    printf("checkpoints%s: %lld records%s, %lld keys with open windows, %u worker%s, a "
           "checkpoint every %lld ms, median of %d runs\n",
           join_mode ? " of a Join" : "", (long long)n, join_mode ? " per side" : "",
           (long long)keys, workers, workers == 1 ? "" : "s", (long long)interval, runs);
    printf("  without checkpoints  %8.3f s  %6.2fM records/s\n", mb, (double)n / mb / 1e6);
    printf("  with checkpoints     %8.3f s  %6.2fM records/s  (%llu checkpoints in the last "
           "run)\n",
           mw, (double)n / mw / 1e6, (unsigned long long)completed);
    printf("  throughput ratio     %8.3f    (target >= 0.90)\n", mb / mw);
    printf("  checkpoint, request to published, longest  %8.1f ms  (target < 1000)\n",
           median(total_ms, runs));
    printf("  longest pause of a worker's processing     %8.2f ms  (target < 10)\n",
           median(pause_ms, runs));
    printf("    of which the snapshot into memory        %8.2f ms\n", median(capture_ms, runs));
    printf(
        "  longest copy-on-write step between batches %8.2f ms  (processing waits: target < 10)\n",
        median(step_ms, runs));
    if (size_ok)
        printf("  restore of %lld keys                     %8.1f ms\n", (long long)keys,
               median(restore_ms, runs));
    printf("  size of the retained checkpoints on disk   %8.1f MiB\n", (double)bytes / 1048576);
    return 0;
}
