/* benchmarks/bench_kafka.c: Kafka in, Kafka out, on librdkafka's mock cluster (the cluster
 * `weir kafka-dev` serves, here started in-process), against a bare librdkafka consume → produce
 * loop with the same client settings on the same cluster, in the same run.
 *
 *   bench_kafka throughput [RECORDS] [RUNS] [WORKERS]
 *       A topic of RECORDS (default 1M) JSON records in 8 partitions is copied to another topic by
 *       (a) the bare loop, (b) weir pass-through (ReadFromKafka bounded → WriteToKafka) and
 *       (c) weir with a window (ReadFromKafka → Combine count per key, fixed 1 s → WriteToKafka).
 *       Prints the median over RUNS (default 5) of records/s and the ratio to the bare loop.
 *   bench_kafka latency [RATE ...] [--seconds S] [--rounds R] [--workers N] [--hist FILE]
 *       A producer offers RATE records/s (default 10000 100000 500000) for S seconds (default 5)
 *       (measured from one second after the pipeline's first result, not counted before) to a
 * 4-partition topic; each record carries the microsecond it was produced. Prints p50 / p99 / p99.9
 * / max of the time from production until a consumer of the output topic receives the result, from
 * all samples, for (a) the bare loop, (b) weir pass-through and (c) weir with a 10 ms fixed window,
 * whose latency is measured from the window's end (the moment the first record that closes it is
 * produced) to the receipt of its result. --rounds R (default 1) measures the three pipelines R
 * times in turn at each rate (bare, pass-through, window, bare, ...), so that each sees the same
 * spells of the machine's noise, and then prints the medians of the R rounds and, per round,
 * each weir pipeline's p99 minus the bare loop's of the same round. With --hist FILE, the
 * distribution of each measurement is also written to FILE for plotting
 * (benchmarks/plots/latency.gp): one block per (rate, pipeline), blocks separated by two blank
 * lines (gnuplot's `index`), each starting with its quoted title
 *       ("100K/s weir pass-through") and then rows "percentile latency_ms 1/(1-percentile/100)"
 *       at percentiles 0, then 1 - 10^(-j/10) for j = 1, 2, ... while at least ten samples lie
 *       beyond (so up to 99.99% at 100K samples), then the maximum (at 1/(1-p) = samples).
 *
 * Every client uses fetch.wait.max.ms=1, linger.ms=2 and socket.nagle.disable=true (the mock
 * cluster holds empty fetches for fetch.wait.max.ms, and linger.ms=0 saturates it; see
 * ARCHITECTURE.md). The mock cluster keeps about 5 MiB per partition, which bounds RECORDS. */
#include <weir/weir.h>

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *bootstrap;
static rd_kafka_mock_cluster_t *cluster;
static FILE *hist; /* --hist FILE, or NULL */
static int hist_blocks;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_kafka: %s: %s\n", what, why);
    exit(1);
}

/* The settings every client of this benchmark uses (weir's source and sink get the same):
 * fetch.wait.max.ms and linger.ms can be set (see main); queued.min.messages is weir's default
 * (connectors/kafka_source.c says why), given to the bare loop too; the partitioner is weir's
 * default (murmur2, the Java client's), for the producer that fills the input topic too. Until
 * 2026-12-03 the input and the bare loop used librdkafka's default (CRC32) and weir's sink
 * murmur2: the bare loop then wrote each input partition's records to one output partition,
 * which weir's sink spread over all 8, and that alone made the pass-through 0.67-0.8x of the
 * bare loop (the same partitioner everywhere, either one, gave 1.00-1.02x). */
#define QUEUED_MIN "500000"
static const char *consumer_settings[] = {
    "fetch.wait.max.ms", "1", "socket.nagle.disable", "true", "queued.min.messages",
    QUEUED_MIN,          NULL};
static const char *producer_settings[] = {
    "linger.ms", "2", "socket.nagle.disable", "true", "partitioner", "murmur2_random", NULL};

static rd_kafka_t *client(rd_kafka_type_t type, const char *group)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof err);
    rd_kafka_conf_set(c, "socket.nagle.disable", "true", err, sizeof err);
    if (type == RD_KAFKA_CONSUMER) {
        rd_kafka_conf_set(c, "group.id", group ? group : "bench", err, sizeof err);
        rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err);
        rd_kafka_conf_set(c, "enable.partition.eof", "false", err, sizeof err);
    } else
        rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof err);
    const char *const *set = type == RD_KAFKA_CONSUMER ? consumer_settings : producer_settings;
    for (int i = 0; set[i]; i += 2)
        if (rd_kafka_conf_set(c, set[i], set[i + 1], err, sizeof err)) die(set[i], err);
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
    if (!rk) die("client", err);
    if (type == RD_KAFKA_CONSUMER) rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Assigns every partition of topic to consumer rk from offset (BEGINNING or END). As weir's
 * source does, it looks the offsets up first, in one ListOffsets request, and assigns them as
 * numbers: librdkafka resolves a logical offset (BEGINNING, END) from a timer, which cost the
 * bare loop about 0.5 s per run. */
static void assign_all(rd_kafka_t *rk, const char *topic, int partitions, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            offset == RD_KAFKA_OFFSET_BEGINNING ? -2 : -1; /* ListOffsets: earliest, latest */
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, 10000);
    for (int p = 0; !e && p < partitions; p++) e = l->elems[p].err;
    if (e) die("offsets", rd_kafka_err2str(e));
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* partition: RD_KAFKA_PARTITION_UA for the partitioner's choice */
static void produce(rd_kafka_t *p, const char *topic, int32_t partition, const void *key,
                    size_t klen, const void *val, size_t vlen)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY((void *)key, klen),
            RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_END);
        if (!e) return;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce", rd_kafka_err2str(e));
        rd_kafka_poll(p, 1);
    }
}

static void flush_all(rd_kafka_t *p)
{
    while (rd_kafka_outq_len(p) > 0) rd_kafka_flush(p, 100);
}

/* The bare loop: consume from `in` (assigned, from the beginning or the end), produce each
 * record unchanged to `out`, until `count` records were copied (or *stop). */
typedef struct bare_args {
    const char *in, *out;
    int partitions;
    uint64_t count; /* 0: until *stop */
    _Atomic int *stop;
    int64_t from;
} bare_args;

static void *bare_loop(void *arg)
{
    bare_args *a = arg;
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, NULL), *p = client(RD_KAFKA_PRODUCER, NULL);
    /* the output topic's metadata is fetched now, as weir's sink does when it opens, not at the
     * first record (which held the bare loop's first batch back by about 0.5 s) */
    rd_kafka_topic_t *out = rd_kafka_topic_new(p, a->out, NULL);
    assign_all(c, a->in, a->partitions, a->from);
    /* batches of messages from the consumer queue, each produced unchanged: what the queue
     * holds, without waiting (rd_kafka_consume_batch_queue with a timeout waits until the batch
     * is full or the timeout passes, which at 100K records/s held each batch about 10 ms),
     * and when it is empty, the next message as soon as it comes */
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(c);
    rd_kafka_message_t *batch[1024];
    uint64_t n = 0;
    while ((!a->count || n < a->count) && !(a->stop && atomic_load(a->stop))) {
        ssize_t got = rd_kafka_consume_batch_queue(q, 0, batch, 1024);
        if (got == 0 && (batch[0] = rd_kafka_consume_queue(q, 10))) got = 1;
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = batch[i];
            if (!m->err) {
                produce(p, a->out, RD_KAFKA_PARTITION_UA, m->key, m->key_len, m->payload, m->len);
                n++;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(p, 0);
    }
    rd_kafka_queue_destroy(q);
    flush_all(p);
    rd_kafka_topic_destroy(out);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
    return NULL;
}

/* weir: ReadFromKafka → [Combine] → WriteToKafka, the output keyed by the field k. The records'
 * k is their Kafka key too, so the pass-through writes what the bare loop writes, key and value
 * (without the key, librdkafka's sticky partitioner for keyless records costs a clock read per
 * record that the bare loop does not pay). */
static weir_pipeline *weir_job(const char *in, const char *out, bool bounded, int64_t window_ms,
                               const char *group)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *s = weir_read_kafka(p, &(weir_kafka_source){.topic = in,
                                                             .bootstrap_servers = bootstrap,
                                                             .timestamp = window_ms ? "ts" : NULL,
                                                             .bounded = bounded,
                                                             .group_id = group,
                                                             .fields = WEIR_FIELDS("k"),
                                                             .config = consumer_settings});
    if (window_ms)
        s = weir_combine(s, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                                 .window = weir_fixed(window_ms),
                                                 .aggregates = WEIR_AGGREGATES(weir_count("n"))});
    weir_write_kafka(s, &(weir_kafka_sink){.topic = out,
                                           .bootstrap_servers = bootstrap,
                                           .key = "k",
                                           .config = producer_settings});
    return p;
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

static void throughput(uint64_t records, int runs, uint32_t workers)
{
    const int parts = 8;
    rd_kafka_mock_topic_create(cluster, "tp_in", parts, 1);
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL);
    char key[16], val[128];
    for (uint64_t i = 0; i < records; i++) {
        int kl = snprintf(key, sizeof key, "k%" PRIu64, i % 1000);
        int vl = snprintf(val, sizeof val,
                          "{\"k\":\"k%" PRIu64 "\",\"ts\":%" PRIu64 ",\"v\":%" PRIu64 "}", i % 1000,
                          i / 100, i % 1000);
        produce(p, "tp_in", RD_KAFKA_PARTITION_UA, key, (size_t)kl, val, (size_t)vl);
        if ((i & 4095) == 0) rd_kafka_poll(p, 0);
    }
    flush_all(p);
    rd_kafka_destroy(p);
    printf("# throughput: %" PRIu64 " records in %d partitions, %d runs, weir at %u worker(s)\n",
           records, parts, runs, workers);
    double *t[3];
    for (int k = 0; k < 3; k++) t[k] = calloc((size_t)runs, sizeof **t);
    for (int r = 0; r < runs; r++) {
        char out[32];
        snprintf(out, sizeof out, "tp_bare_%d", r);
        rd_kafka_mock_topic_create(cluster, out, parts, 1);
        bare_args a = {.in = "tp_in",
                       .out = out,
                       .partitions = parts,
                       .count = records,
                       .from = RD_KAFKA_OFFSET_BEGINNING};
        double t0 = mono();
        bare_loop(&a);
        t[0][r] = mono() - t0;
        for (int k = 1; k < 3; k++) {
            snprintf(out, sizeof out, "tp_weir%d_%d", k, r);
            rd_kafka_mock_topic_create(cluster, out, parts, 1);
            weir_pipeline *wp = weir_job("tp_in", out, true, k == 2 ? 1000 : 0, NULL);
            t0 = mono();
            int err = weir_run(wp, &(weir_run_options){.workers = workers});
            t[k][r] = mono() - t0;
            if (err) die("weir", weir_pipeline_error(wp));
            weir_run_stats st;
            weir_pipeline_stats(wp, &st);
            if (st.records_read != records) die("weir", "did not read every record");
            weir_pipeline_destroy(wp);
        }
    }
    static const char *const names[] = {"bare librdkafka loop", "weir pass-through",
                                        "weir fixed 1 s count per key"};
    double base = median(t[0], runs);
    printf("| pipeline | median s | records/s | ratio to the bare loop |\n|---|---|---|---|\n");
    for (int k = 0; k < 3; k++) {
        double m = k ? median(t[k], runs) : base;
        printf("| %s | %.3f | %.2fM | %.2fx |\n", names[k], m, (double)records / m / 1e6, base / m);
        free(t[k]);
    }
}

/* ---- latency ---- */

typedef struct offer_args {
    const char *topic;
    double rate;
    _Atomic int64_t stop_at; /* now_us() at which to stop (set once the pipeline answers) */
    _Atomic uint64_t sent;
} offer_args;

/* Produces `rate` records/s until stop_at, each {"k":..., "ts": ms, "sent": us}. */
static void *offer(void *arg)
{
    offer_args *a = arg;
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL);
    double t0 = mono();
    uint64_t i = 0, total = UINT64_MAX;
    char key[16], val[128];
    while (i < total) {
        if (now_us() >= atomic_load(&a->stop_at)) break;
        uint64_t due = (uint64_t)((mono() - t0) * a->rate);
        if (due > total) due = total;
        if (i >= due) {
            rd_kafka_poll(p, 0);
            usleep(50);
            continue;
        }
        for (; i < due; i++) {
            int64_t us = now_us();
            int kl = snprintf(key, sizeof key, "k%" PRIu64, i % 10);
            int vl = snprintf(val, sizeof val,
                              "{\"k\":\"k%" PRIu64 "\",\"ts\":%" PRId64 ",\"sent\":%" PRId64 "}",
                              i % 10, us / 1000, us);
            /* round robin over the 4 partitions: partitioned by its 10 keys with murmur2, the
             * input left the windowed pipeline without results (an empty partition holds the
             * watermark back) */
            produce(p, a->topic, (int32_t)(i % 4), key, (size_t)kl, val, (size_t)vl);
        }
        rd_kafka_poll(p, 0);
    }
    flush_all(p);
    atomic_store(&a->sent, i);
    rd_kafka_destroy(p);
    return NULL;
}

static int64_t field(const char *payload, size_t len, const char *name)
{
    char pat[32];
    int n = snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *s = memmem(payload, len, pat, (size_t)n);
    return s ? strtoll(s + n, NULL, 10) : -1;
}

static int by_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* One block of --hist: the percentiles of the n sorted samples (us) of one measurement. */
static void write_hist(const char *name, double rate, const int64_t *lat, size_t n)
{
    fprintf(hist, "%s\"%.0fK/s %s\"\n", hist_blocks++ ? "\n\n" : "", rate / 1000, name);
    fprintf(hist, "0 %.3f 1\n", (double)lat[0] / 1000);
    for (int j = 1;; j++) {
        double beyond = pow(10, -j / 10.0); /* 1 - percentile/100 */
        if ((double)n * beyond < 10) break;
        size_t i = (size_t)((double)n * (1 - beyond));
        if (i >= n) i = n - 1;
        fprintf(hist, "%.4f %.3f %.4f\n", 100 * (1 - beyond), (double)lat[i] / 1000, 1 / beyond);
    }
    fprintf(hist, "100 %.3f %zu\n", (double)lat[n - 1] / 1000, n);
    fflush(hist);
}

typedef struct weir_thread_args {
    weir_pipeline *p;
    uint32_t workers;
    int err;
} weir_thread_args;

static void *run_weir(void *arg)
{
    weir_thread_args *a = arg;
    a->err = weir_run(a->p, &(weir_run_options){.workers = a->workers});
    return NULL;
}

static const char *const kind_names[] = {"bare librdkafka loop", "weir pass-through",
                                         "weir fixed 10 ms window (from window end)"};

typedef struct lat_result {
    size_t n;                   /* 0: no results */
    double p50, p99, p999, max; /* ms */
} lat_result;

/* One latency measurement: kind 0 bare loop, 1 weir pass-through, 2 weir 10 ms window. */
static lat_result latency_one(int kind, double rate, double seconds, uint32_t workers, int round)
{
    char in[32], out[32], group[32];
    snprintf(in, sizeof in, "lat_in_%d_%d", round, kind);
    snprintf(out, sizeof out, "lat_out_%d_%d", round, kind);
    snprintf(group, sizeof group, "lat_%d_%d", round, kind);
    rd_kafka_mock_topic_create(cluster, in, 4, 1);
    rd_kafka_mock_topic_create(cluster, out, 4, 1);
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, NULL);
    assign_all(c, out, 4, RD_KAFKA_OFFSET_END);
    _Atomic int stop = 0;
    pthread_t job;
    bare_args ba = {
        .in = in, .out = out, .partitions = 4, .stop = &stop, .from = RD_KAFKA_OFFSET_BEGINNING};
    weir_thread_args wa = {.workers = workers};
    if (kind == 0) {
        pthread_create(&job, NULL, bare_loop, &ba);
    } else {
        wa.p = weir_job(in, out, false, kind == 2 ? 10 : 0, group);
        pthread_create(&job, NULL, run_weir, &wa);
    }
    sleep(2); /* consumers join and get their partitions */
    /* The load is offered from now on, but measured only from one second after the first
     * result comes out (the warm-up, not counted), for `seconds`: a consumer group's first
     * assignment can take longer than the 2 s above (the mock cluster's rebalance), and
     * records queued before it would otherwise count as latency of the pipeline. */
    offer_args oa = {.topic = in, .rate = rate, .stop_at = INT64_MAX};
    int64_t measure_from = INT64_MAX, measure_to = INT64_MAX, t_start = now_us();
    pthread_t producer;
    pthread_create(&producer, NULL, offer, &oa);
    size_t cap = (size_t)(rate * (seconds + 2)) + 1024, n = 0;
    int64_t *lat = malloc(cap * sizeof *lat);
    double quiet_since = mono();
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 10);
        int64_t t = now_us();
        if (m) {
            if (!m->err && measure_from == INT64_MAX) { /* the pipeline answers */
                measure_from = t + 1000000;
                measure_to = measure_from + (int64_t)(seconds * 1e6);
                atomic_store(&oa.stop_at, measure_to);
            }
            if (!m->err && n < cap) {
                int64_t from = kind == 2 ? field(m->payload, m->len, "window_end") * 1000
                                         : field(m->payload, m->len, "sent");
                if (from >= measure_from && from < measure_to) lat[n++] = t - from;
            }
            rd_kafka_message_destroy(m);
            quiet_since = mono();
        }
        if (measure_from == INT64_MAX && t - t_start > 30000000) /* nothing in 30 s */
            atomic_store(&oa.stop_at, t);
        if (atomic_load(&oa.sent) && mono() - quiet_since > 1.0) break; /* all that comes */
    }
    pthread_join(producer, NULL);
    atomic_store(&stop, 1);
    if (kind) weir_pipeline_stop(wa.p);
    pthread_join(job, NULL);
    if (kind) {
        if (wa.err) die("weir", weir_pipeline_error(wa.p));
        weir_pipeline_destroy(wa.p);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    const char *const *names = kind_names;
    if (!n) {
        printf("| %.0fK/s | %s | no results |\n", rate / 1000, names[kind]);
        free(lat);
        return (lat_result){0};
    }
    qsort(lat, n, sizeof *lat, by_i64);
    if (hist) write_hist(names[kind], rate, lat, n);
    lat_result res = {n, (double)lat[n / 2] / 1000, (double)lat[(size_t)((double)n * 0.99)] / 1000,
                      (double)lat[(size_t)((double)n * 0.999)] / 1000, (double)lat[n - 1] / 1000};
    printf("| %.0fK/s | %s | %zu | %.2f | %.2f | %.2f | %.2f |\n", rate / 1000, names[kind], n,
           res.p50, res.p99, res.p999, res.max);
    fflush(stdout);
    free(lat);
    return res;
}

/* The medians over the rounds of one rate, and per round the p99 above the bare loop's. */
static void latency_summary(double rate, lat_result (*res)[3], int rounds)
{
    double v[64];
    printf("\n| %.0fK/s, median of %d rounds | p50 | p99 | p99.9 | max | p99 minus the bare loop's "
           "p99, per round |\n|---|---|---|---|---|---|\n",
           rate / 1000, rounds);
    for (int kind = 0; kind < 3; kind++) {
        double m[4];
        for (int q = 0; q < 4; q++) {
            int k = 0;
            for (int r = 0; r < rounds; r++) {
                if (!res[r][kind].n) continue;
                const double f[4] = {res[r][kind].p50, res[r][kind].p99, res[r][kind].p999,
                                     res[r][kind].max};
                v[k++] = f[q];
            }
            m[q] = k ? median(v, k) : 0;
        }
        printf("| %s | %.2f | %.2f | %.2f | %.2f |", kind_names[kind], m[0], m[1], m[2], m[3]);
        for (int r = 0; kind && r < rounds; r++)
            printf("%s%+.2f", r ? ", " : " ", res[r][kind].p99 - res[r][0].p99);
        printf(" |\n");
    }
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "throughput") && strcmp(argv[1], "latency"))) {
        fprintf(stderr, "usage: bench_kafka throughput [RECORDS] [RUNS] [WORKERS]\n"
                        "       bench_kafka latency [RATE ...] [--seconds S] [--rounds R] "
                        "[--workers N] [--hist FILE]\n");
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *holder = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!holder || !(cluster = rd_kafka_mock_cluster_new(holder, 1))) die("mock cluster", err);
    bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
    /* --fetch-wait MS and --linger MS, anywhere after the mode, set both weir's and the bare
     * loop's clients */
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--fetch-wait") || !strcmp(argv[i], "--linger")) {
            (argv[i][2] == 'f' ? consumer_settings : producer_settings)[1] = argv[i + 1];
            memmove(argv + i, argv + i + 2, (size_t)(argc - i - 1) * sizeof *argv);
            argc -= 2, i--;
        }
    printf("# clients: fetch.wait.max.ms=%s linger.ms=%s socket.nagle.disable=true\n",
           consumer_settings[1], producer_settings[1]);
    if (!strcmp(argv[1], "throughput")) {
        uint64_t records = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
        int runs = argc > 3 ? atoi(argv[3]) : 5;
        uint32_t workers = argc > 4 ? (uint32_t)atoi(argv[4]) : 1;
        throughput(records, runs > 0 ? runs : 1, workers ? workers : 1);
    } else {
        double rates[16];
        int n_rates = 0;
        double seconds = 5;
        uint32_t workers = 1;
        int rounds = 1;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
                seconds = atof(argv[++i]);
            else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
                rounds = atoi(argv[++i]);
            else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
                workers = (uint32_t)atoi(argv[++i]);
            else if (!strcmp(argv[i], "--hist") && i + 1 < argc) {
                if (!(hist = fopen(argv[++i], "w"))) die(argv[i], strerror(errno));
            } else if (n_rates < 16)
                rates[n_rates++] = atof(argv[i]);
        }
        if (!n_rates) {
            rates[0] = 10000, rates[1] = 100000, rates[2] = 500000;
            n_rates = 3;
        }
        if (rounds < 1 || rounds > 64) die("--rounds", "1 to 64");
        printf("# latency: offered load for %.0f s per measurement, weir at %u worker(s), %d "
               "round(s) of the three pipelines in turn; ms\n",
               seconds, workers, rounds);
        for (int r = 0; r < n_rates; r++) {
            printf("| offered | pipeline | results | p50 | p99 | p99.9 | max |\n"
                   "|---|---|---|---|---|---|---|\n");
            lat_result res[64][3];
            for (int round = 0; round < rounds; round++)
                for (int kind = 0; kind < 3; kind++)
                    res[round][kind] =
                        latency_one(kind, rates[r], seconds, workers, r * 64 + round);
            if (rounds > 1) latency_summary(rates[r], res, rounds);
        }
    }
    if (hist) fclose(hist);
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(holder);
    return 0;
}
