/* benchmarks/bench_nexmark.c: throughput of the Nexmark queries that weir expresses, in process,
 * over ReadFromNexmark (weir/nexmark.h), built with the C DSL:
 *
 *   gen  the generator alone, into a sink that only counts rows: the baseline, what producing
 *        the events costs, so that each query's figure can be read against it
 *   q0   pass-through
 *   q1   bids, price in euros (0.908 * price)
 *   q2   bids on auctions whose id is divisible by 123, as (auction, price)
 *   q5   bids per auction in sliding windows of 10 s every 5 s
 *   q7   highest price and bid count per fixed 10 s window
 *   q11  bids and highest price per bidder in session windows with a 10 s gap
 *
 * (The same queries as examples/nexmark_q*.yaml; q5 and q7 stop before the join that Nexmark
 * does last, and q8 needs a windowed Join: see those files.) The sink counts rows per batch, or
 * with -o DIR writes each query's rows as JSON lines to DIR/QUERY.jsonl. Events are generated at
 * the default 10,000 per second of event time with seed 1 (independent draws per event), in
 * order. Each query runs R times; printed are the medians of: events per second of wall time,
 * the same divided by the workers, events per second of CPU time of the whole process (per core
 * used, and meaningful on a machine shared with other work, where wall time is not), and that
 * CPU rate as a fraction of the baseline's.
 *
 *     build/benchmarks/bench_nexmark [-n events=10000000] [-r runs=3] [-w workers=1]
 *                                    [-q gen,q0,q1,q2,q5,q7,q11] [-o DIR] */
#include <weir/graph.h>
#include <weir/weir.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- a sink that counts rows, a batch at a time ---- */

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

/* ---- the queries ---- */

static bool is_bid(const weir_row *row, void *ctx)
{
    (void)ctx;
    const weir_value *t = &row->values[WEIR_NEXMARK_EVENT_TYPE];
    return t->len == 3 && t->as.s[0] == 'b'; /* "bid": the only 3-letter type starting with b */
}

static bool q2_keep(const weir_row *row, void *ctx)
{
    return is_bid(row, ctx) && row->values[WEIR_NEXMARK_AUCTION].as.i % 123 == 0;
}

static int q1_map(const weir_row *in, weir_value *out, weir_arena *arena, void *ctx, char *errbuf,
                  size_t errlen)
{
    (void)arena, (void)ctx, (void)errbuf, (void)errlen;
    out[0] = in->values[WEIR_NEXMARK_AUCTION];
    out[1] = in->values[WEIR_NEXMARK_BIDDER];
    out[2] = weir_value_double(0.908 * (double)in->values[WEIR_NEXMARK_PRICE].as.i);
    out[3] = in->values[WEIR_NEXMARK_TS];
    return 0;
}

static int q2_map(const weir_row *in, weir_value *out, weir_arena *arena, void *ctx, char *errbuf,
                  size_t errlen)
{
    (void)arena, (void)ctx, (void)errbuf, (void)errlen;
    out[0] = in->values[WEIR_NEXMARK_AUCTION];
    out[1] = in->values[WEIR_NEXMARK_PRICE];
    return 0;
}

static weir_stream *query(const char *q, weir_stream *events)
{
    if (!strcmp(q, "gen") || !strcmp(q, "q0")) return events;
    if (!strcmp(q, "q1"))
        return weir_map(weir_filter(events, is_bid, NULL),
                        &(weir_map_spec){.fields = WEIR_FIELDS("auction", "bidder", "price", "ts"),
                                         .fn = q1_map});
    if (!strcmp(q, "q2"))
        return weir_map(weir_filter(events, q2_keep, NULL),
                        &(weir_map_spec){.fields = WEIR_FIELDS("auction", "price"), .fn = q2_map});
    weir_stream *bids = weir_filter(events, is_bid, NULL);
    if (!strcmp(q, "q5"))
        return weir_combine(
            bids, &(weir_combine_spec){.group_by = WEIR_FIELDS("auction"),
                                       .window = weir_sliding(WEIR_SECONDS(10), WEIR_SECONDS(5)),
                                       .aggregates = WEIR_AGGREGATES(weir_count("num_bids"))});
    if (!strcmp(q, "q7"))
        return weir_combine(
            bids, &(weir_combine_spec){.window = weir_fixed(WEIR_SECONDS(10)),
                                       .aggregates = WEIR_AGGREGATES(weir_max("price", "max_price"),
                                                                     weir_count("bids"))});
    if (!strcmp(q, "q11"))
        return weir_combine(bids, &(weir_combine_spec){.group_by = WEIR_FIELDS("bidder"),
                                                       .window = weir_sessions(WEIR_SECONDS(10)),
                                                       .aggregates = WEIR_AGGREGATES(
                                                           weir_count("bid_count"),
                                                           weir_max("price", "max_price"))});
    return NULL;
}

/* One run of query q; returns its wall time in seconds (and in *cpu the CPU time of the
 * process, every thread), or -1 on failure. */
static double run_once(const char *q, int64_t events, uint32_t workers, const char *dir,
                       uint64_t *rows_out, double *cpu)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *ev = weir_read_nexmark(p, &(weir_nexmark_source){.events = events, .seed = 1});
    weir_stream *out = query(q, ev);
    counter c = {0};
    char path[4096];
    if (dir && strcmp(q, "gen")) {
        snprintf(path, sizeof path, "%s/%s.jsonl", dir, q);
        weir_write_file(out, &(weir_file_sink){.path = path});
    } else {
        count_rows(out, &c);
    }
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    int err = weir_run(p, &(weir_run_options){.workers = workers});
    double t = clock_s(CLOCK_MONOTONIC) - t0;
    *cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (err) {
        fprintf(stderr, "bench_nexmark: %s: %s\n", q, weir_pipeline_error(p));
        weir_pipeline_destroy(p);
        return -1;
    }
    weir_run_stats st;
    weir_pipeline_stats(p, &st);
    *rows_out = st.records_written;
    if (st.records_read != (uint64_t)events) {
        fprintf(stderr, "bench_nexmark: %s read %" PRIu64 " events of %" PRId64 "\n", q,
                st.records_read, events);
        t = -1;
    }
    weir_pipeline_destroy(p);
    return t;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_nexmark [-n events] [-r runs] [-w workers] "
                    "[-q gen,q0,q1,q2,q5,q7,q11] [-o DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int64_t events = 10000000;
    int runs = 3;
    uint32_t workers = 1;
    char queries[256] = "gen,q0,q1,q2,q5,q7,q11";
    const char *dir = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "n:r:w:q:o:h")) != -1) {
        switch (opt) {
        case 'n': events = strtoll(optarg, NULL, 10); break;
        case 'r': runs = atoi(optarg); break;
        case 'w': workers = (uint32_t)atoi(optarg); break;
        case 'q': snprintf(queries, sizeof queries, "%s", optarg); break;
        case 'o': dir = optarg; break;
        default: usage();
        }
    }
    if (events <= 0 || runs <= 0 || runs > 99 || workers == 0 || optind != argc) usage();
    static const char *const known[] = {"gen", "q0", "q1", "q2", "q5", "q7", "q11", NULL};
    char names[256];
    snprintf(names, sizeof names, "%s", queries);
    for (char *save = NULL, *q = strtok_r(names, ",", &save); q; q = strtok_r(NULL, ",", &save)) {
        bool ok = false;
        for (int k = 0; known[k]; k++) ok = ok || !strcmp(known[k], q);
        if (!ok) {
            fprintf(stderr, "bench_nexmark: unknown query '%s' (gen q0 q1 q2 q5 q7 q11)\n", q);
            return 2;
        }
    }
    printf("Nexmark over ReadFromNexmark: %" PRId64 " events, %u worker(s), median of %d run(s), "
           "%s sink\n",
           events, workers, runs, dir ? "JSON file" : "counting");
    printf("%-5s %14s %16s %16s %8s %10s\n", "query", "events/s", "events/s/worker", "events/cpu-s",
           "vs gen", "rows out");
    double gen_rate = 0;
    for (char *save = NULL, *q = strtok_r(queries, ",", &save); q; q = strtok_r(NULL, ",", &save)) {
        double t[99], cpu[99];
        uint64_t rows = 0;
        for (int r = 0; r < runs; r++)
            if ((t[r] = run_once(q, events, workers, dir, &rows, &cpu[r])) < 0) return 1;
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
        double rate = (double)events / t[runs / 2], per_cpu = (double)events / cpu[runs / 2];
        if (!strcmp(q, "gen")) gen_rate = per_cpu;
        char vs[32] = "-";
        if (gen_rate > 0) snprintf(vs, sizeof vs, "%.2f", per_cpu / gen_rate);
        printf("%-5s %14.0f %16.0f %16.0f %8s %10" PRIu64 "\n", q, rate, rate / workers, per_cpu,
               vs, rows);
        fflush(stdout);
    }
    return 0;
}
