/* benchmarks/bench_exchange.c: the cost of moving a row between workers through the keyed
 * exchange (hash, copy into the outgoing batch, SPSC ring, wake-up, per-channel watermark).
 *
 * ReadFromGenerator with one partition (worker 0 makes every record) feeds a keyed sink that
 * only counts rows per worker. At 1 worker there is no exchange; at W workers every row passes
 * the exchange sender and the rows whose key another worker owns cross a ring. The extra CPU
 * time (user + system, all threads) over the 1-worker run, divided by the rows that crossed, is
 * the transfer cost per row; the wall times give the throughput of both. Medians of R runs.
 *
 *     build/benchmarks/bench_exchange [records=20000000] [keys=1000] [runs=5] [workers=2] */
#include <weir/graph.h>
#include <weir/weir.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static _Atomic uint64_t rows_at[256];

static int count_process(weir_operator *op, uint32_t input, const weir_batch *b)
{
    (void)input;
    atomic_fetch_add_explicit(&rows_at[weir_operator_worker_index(op)], b->n_rows,
                              memory_order_relaxed);
    return 0;
}

static const weir_operator_class counting_sink = {.name = "Count", .process = count_process};

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* One run; returns wall seconds, adds CPU seconds and crossed rows. */
static double run(int64_t records, int64_t keys, uint32_t workers, double *cpu_s, uint64_t *crossed)
{
    memset(rows_at, 0, sizeof rows_at);
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in = weir_read_generator(
        p, &(weir_generator_source){.count = records, .keys = keys, .partitions = 1});
    int32_t k = (int32_t)weir_stream_field(in, "k");
    weir_pipeline_add_node(p, &(weir_node_spec){.kind = "Count",
                                                .cls = &counting_sink,
                                                .inputs = &in,
                                                .n_inputs = 1,
                                                .keyed = true,
                                                .key_fields = &k,
                                                .n_key_fields = 1});
    double c0 = cpu(), t0 = wall();
    int err = weir_run(p, &(weir_run_options){.workers = workers});
    double t = wall() - t0;
    *cpu_s = cpu() - c0;
    if (err) {
        fprintf(stderr, "bench_exchange: %s\n", weir_pipeline_error(p));
        exit(1);
    }
    weir_pipeline_destroy(p);
    uint64_t total = 0;
    *crossed = 0;
    for (uint32_t w = 0; w < workers; w++) {
        total += rows_at[w];
        if (w) *crossed += rows_at[w];
    }
    if (total != (uint64_t)records) {
        fprintf(stderr, "bench_exchange: %llu rows arrived of %lld\n", (unsigned long long)total,
                (long long)records);
        exit(1);
    }
    return t;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int64_t records = argc > 1 ? atoll(argv[1]) : 20000000;
    int64_t keys = argc > 2 ? atoll(argv[2]) : 1000;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    uint32_t workers = argc > 4 ? (uint32_t)atoi(argv[4]) : 2;
    if (records <= 0 || keys <= 0 || runs <= 0 || workers < 2 || workers > 256) {
        fprintf(stderr, "usage: bench_exchange [records] [keys] [runs] [workers >= 2]\n");
        return 2;
    }
    double *w1 = calloc((size_t)runs, sizeof *w1), *c1 = calloc((size_t)runs, sizeof *c1);
    double *wn = calloc((size_t)runs, sizeof *wn), *cn = calloc((size_t)runs, sizeof *cn);
    uint64_t crossed = 0, none;
    for (int r = 0; r < runs; r++) {
        w1[r] = run(records, keys, 1, &c1[r], &none);
        wn[r] = run(records, keys, workers, &cn[r], &crossed);
    }
    double mw1 = median(w1, runs), mc1 = median(c1, runs), mwn = median(wn, runs),
           mcn = median(cn, runs);
    printf("# %lld records, %lld keys, one generator partition, keyed counting sink; medians of "
           "%d runs\n",
           (long long)records, (long long)keys, runs);
    printf("| workers | wall s | records/s | CPU s |\n|---|---|---|---|\n");
    printf("| 1 | %.3f | %.1fM | %.3f |\n", mw1, (double)records / mw1 / 1e6, mc1);
    printf("| %u | %.3f | %.1fM | %.3f |\n", workers, mwn, (double)records / mwn / 1e6, mcn);
    printf("rows that crossed to another worker: %llu (%.0f%%)\n", (unsigned long long)crossed,
           100.0 * (double)crossed / (double)records);
    printf("exchange CPU cost: %.1f ns per row through the exchange, %.1f ns per row that "
           "crossed\n",
           (mcn - mc1) * 1e9 / (double)records, (mcn - mc1) * 1e9 / (double)crossed);
    free(w1), free(c1), free(wn), free(cn);
    return 0;
}
