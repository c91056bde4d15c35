/* benchmarks/bench_cost.c: throughput of keyed window aggregations against a hand-written loop
 * (the COST baseline: "Scalability! But at what COST?", McSherry et al.).
 *
 * ReadFromGenerator (N records, K keys, 100 per ms) -> count + sum(v) per key in fixed 10 s
 * windows, or in sliding 60 s windows every 1 s (60 windows per record), or in session windows
 * with a gap of 1 s -> JSON lines file, through the engine with W workers, against a
 * single-threaded C loop that computes the same rows, in the same run on the same machine. Both
 * outputs are compared (sorted), so a figure is only printed for correct results. Prints the
 * median of R runs of each and their ratio.
 *
 * Sessions: the generator gives every key a record every keys / 100 ms (10 ms with 1000 keys),
 * a strictly periodic pattern that would make one endless session per key (or, with a period
 * over the gap, sessions of one record). So that sessions form, grow and close, a filter keeps
 * key k's records only in the seconds s = floor(ts / 1000) with (s + k) mod 3 != 0: each key is
 * active for two seconds and silent for one, its last record of an active stretch is at least
 * 1001 ms before its next one (more than the gap: the two windows do not even touch), so each
 * session holds two seconds of the key's records and closes when the watermark passes its end;
 * keys are staggered, so a third of them close a session every second. With 20M records and
 * 1000 keys: about 67 sessions per key of 200 records each. The baseline applies the same test
 * inline; records/s count the generator's records (before the filter) on both sides.
 *
 *     build/benchmarks/bench_cost [fixed|sliding|sessions] [records=20000000] [keys=1000]
 *                                 [runs=5] [workers=1] [engine-only]
 *
 * Besides the ratio of the medians, it prints the median of the runs' own ratios (each engine
 * run against the baseline run right after it): the machine's speed drifts over seconds, and a
 * pair taken together drifts together.
 *
 * engine-only: runs the engine alone and prints its times, no baseline and no check (for
 * profiling with perf record or valgrind --tool=callgrind). BENCH_BATCH=N in the environment
 * sets the engine's batch size (default 1024); BENCH_NO_LIFT=1 runs several workers without
 * combiner lifting (every record crosses the exchange, as before lifting). */
#include <weir/weir.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static void write_row(FILE *f, char *buf, size_t *len, int64_t k, int64_t n, int64_t sum, int64_t s,
                      int64_t e)
{
    if (*len > (1 << 20) - 256) {
        fwrite(buf, 1, *len, f);
        *len = 0;
    }
    *len += (size_t)sprintf(
        buf + *len,
        "{\"k\":%ld,\"n\":%ld,\"total\":%ld,\"window_start\":%ld,\"window_end\":%ld,"
        "\"pane_timing\":\"ON_TIME\",\"pane_index\":0,\"pane_last\":true,\"op\":\"+I\"}\n",
        (long)k, (long)n, (long)sum, (long)s, (long)e);
}

/* The sliding baseline: per key, count and sum per second in a ring of 64 seconds; when the
 * watermark passes a second boundary e, every key with data in [e - 60 s, e) gets its row. */
static void baseline_sliding(int64_t n, int64_t keys, const char *path)
{
    enum { RING = 64, SPAN = 60 };
    int64_t *cnt = calloc((size_t)(keys * RING), sizeof *cnt),
            *sum = calloc((size_t)(keys * RING), sizeof *sum);
    int64_t *sec_of = malloc((size_t)(keys * RING) * sizeof *sec_of);
    for (int64_t i = 0; i < keys * RING; i++) sec_of[i] = INT64_MIN;
    char *buf = malloc(1 << 20);
    size_t len = 0;
    FILE *f = fopen(path, "w");
    int64_t fired_sec = INT64_MIN; /* windows ending at (fired_sec + 1) s and before have fired */
    int64_t first_sec = 0, last_sec = -1;
    for (int64_t i = 0;; i++) {
        int64_t ts = i < n ? i / 100 : INT64_MAX;
        int64_t now_sec = i < n ? ts / 1000 : last_sec + SPAN; /* fire everything at the end */
        /* the watermark (ts) reached now_sec * 1000: windows ending at <= that boundary fire */
        for (int64_t e = (fired_sec == INT64_MIN ? first_sec + 1 : fired_sec + 1);
             i > 0 && e <= now_sec; e++) {
            for (int64_t k = 0; k < keys; k++) {
                int64_t c = 0, s = 0;
                for (int64_t q = e - SPAN; q < e; q++) {
                    int64_t slot = k * RING + (q & (RING - 1));
                    if (q >= 0 && sec_of[slot] == q) {
                        c += cnt[slot];
                        s += sum[slot];
                    }
                }
                if (c) write_row(f, buf, &len, k, c, s, (e - SPAN) * 1000, e * 1000);
            }
            fired_sec = e;
        }
        if (i >= n) break;
        int64_t k = (i * 7919) % keys, sec = ts / 1000;
        int64_t slot = k * RING + (sec & (RING - 1));
        if (sec_of[slot] != sec) {
            sec_of[slot] = sec;
            cnt[slot] = sum[slot] = 0;
        }
        cnt[slot]++;
        sum[slot] += i % 1000;
        last_sec = sec;
    }
    fwrite(buf, 1, len, f);
    fclose(f);
    free(cnt), free(sum), free(sec_of), free(buf);
}

/* Sessions: the records the session workload keeps (see the top of the file). */
enum { SESSION_GAP = 1000 };
static inline bool session_active(int64_t ts, int64_t k)
{
    return (ts / 1000 + k) % 3 != 0;
}

/* The session baseline: per key, the open session's start, last record, count and sum. A record
 * of a key at least the gap after its session's last record (windows [t, t + gap) that do not
 * overlap) closes that session, which is then written; the rest are written at the end. Rows
 * are compared sorted, so writing a session when its key's next one starts rather than when
 * the watermark passes its end gives the same output with less work. */
static void baseline_sessions(int64_t n, int64_t keys, const char *path)
{
    typedef struct session {
        int64_t start, last, count, sum;
    } session;
    session *open = calloc((size_t)keys, sizeof *open);
    char *buf = malloc(1 << 20);
    size_t len = 0;
    FILE *f = fopen(path, "w");
    for (int64_t i = 0; i < n; i++) {
        int64_t ts = i / 100, k = (i * 7919) % keys;
        if (!session_active(ts, k)) continue;
        session *s = &open[k];
        if (s->count && ts >= s->last + SESSION_GAP) {
            write_row(f, buf, &len, k, s->count, s->sum, s->start, s->last + SESSION_GAP);
            s->count = 0;
        }
        if (!s->count) s->start = ts, s->sum = 0;
        s->count++;
        s->sum += i % 1000;
        s->last = ts;
    }
    for (int64_t k = 0; k < keys; k++)
        if (open[k].count)
            write_row(f, buf, &len, k, open[k].count, open[k].sum, open[k].start,
                      open[k].last + SESSION_GAP);
    fwrite(buf, 1, len, f);
    fclose(f);
    free(open), free(buf);
}

typedef enum mode { MODE_FIXED, MODE_SLIDING, MODE_SESSIONS } mode;
static const char *const mode_names[] = {"fixed", "sliding", "sessions"};

typedef struct key_field {
    int k;
} key_field;

static bool keep_active(const weir_row *row, void *ctx)
{
    const key_field *kf = ctx;
    return session_active(row->ts, row->values[kf->k].as.i);
}

static int engine(int64_t n, int64_t keys, const char *path, mode m, uint32_t workers)
{
    weir_pipeline *p = weir_pipeline_create();
    weir_stream *in = weir_read_generator(p, &(weir_generator_source){.count = n, .keys = keys});
    key_field kf = {.k = weir_stream_field(in, "k")};
    if (m == MODE_SESSIONS) in = weir_filter(in, keep_active, &kf);
    weir_window_fn window = m == MODE_SLIDING    ? weir_sliding(WEIR_SECONDS(60), WEIR_SECONDS(1))
                            : m == MODE_SESSIONS ? weir_sessions(SESSION_GAP)
                                                 : weir_fixed(WEIR_SECONDS(10));
    weir_stream *out =
        weir_combine(in, &(weir_combine_spec){.group_by = WEIR_FIELDS("k"),
                                              .window = window,
                                              .aggregates = WEIR_AGGREGATES(
                                                  weir_count("n"), weir_sum("v", "total"))});
    weir_write_file(out, &(weir_file_sink){.path = path});
    const char *bs = getenv("BENCH_BATCH"), *nl = getenv("BENCH_NO_LIFT");
    int err = weir_run(p, &(weir_run_options){.workers = workers,
                                              .batch_size = bs ? (uint32_t)atoi(bs) : 0,
                                              .no_combiner_lifting = nl && *nl && *nl != '0'});
    if (err) fprintf(stderr, "engine: %s\n", weir_pipeline_error(p));
    weir_pipeline_destroy(p);
    return err;
}

int main(int argc, char **argv)
{
    mode m = MODE_FIXED;
    if (argc > 1) {
        for (m = 0; m < 3 && strcmp(argv[1], mode_names[m]); m++) continue;
        if (m == 3) {
            fprintf(stderr,
                    "usage: %s [fixed|sliding|sessions] [records] [keys] [runs] [workers]\n",
                    argv[0]);
            return 2;
        }
    }
    int64_t n = argc > 2 ? atoll(argv[2]) : 20000000;
    int64_t keys = argc > 3 ? atoll(argv[3]) : 1000;
    int runs = argc > 4 ? atoi(argv[4]) : 5;
    uint32_t workers = argc > 5 ? (uint32_t)atoi(argv[5]) : 1;
    if (n <= 0 || keys <= 0 || runs <= 0 || workers == 0) {
        fprintf(stderr, "usage: %s [fixed|sliding|sessions] [records] [keys] [runs] [workers]\n",
                argv[0]);
        return 2;
    }
    bool engine_only = argc > 6 && strcmp(argv[6], "engine-only") == 0;
    char a[64], b[64]; /* per process, so that two runs at once do not share files */
    snprintf(a, sizeof a, "/tmp/weir-bench-engine-%ld.jsonl", (long)getpid());
    snprintf(b, sizeof b, "/tmp/weir-bench-baseline-%ld.jsonl", (long)getpid());
    double te[64], tb[64];
    if (runs > 64) runs = 64;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        if (engine(n, keys, a, m, workers)) return 1;
        te[r] = now_s() - t0;
        if (engine_only) {
            printf("engine run %d: %.3f s, %.0f records/s\n", r + 1, te[r], (double)n / te[r]);
            continue;
        }
        t0 = now_s();
        if (m == MODE_SLIDING)
            baseline_sliding(n, keys, b);
        else if (m == MODE_SESSIONS)
            baseline_sessions(n, keys, b);
        else
            baseline(n, keys, b);
        tb[r] = now_s() - t0;
    }
    if (engine_only) {
        remove(a);
        return 0;
    }
    char full[600];
    snprintf(full, sizeof full, "bash -c 'cmp -s <(sort %s) <(sort %s)'", a, b);
    if (system(full) != 0) {
        fprintf(stderr, "MISMATCH: the engine's output differs from the baseline's (%s vs %s)\n", a,
                b);
        return 1;
    }
    double pr[64]; /* each run's ratio: its weir run and the baseline run right after it */
    for (int r = 0; r < runs; r++) pr[r] = tb[r] / te[r];
    qsort(pr, (size_t)runs, sizeof *pr, cmp_double);
    qsort(te, (size_t)runs, sizeof *te, cmp_double);
    qsort(tb, (size_t)runs, sizeof *tb, cmp_double);
    double me = te[runs / 2], mb = tb[runs / 2];
    printf("%s, count+sum -> JSON file, %lld records, %lld keys, %u worker%s, median of %d runs\n",
           m == MODE_SLIDING    ? "sliding 60 s / 1 s window"
           : m == MODE_SESSIONS ? "session windows, gap 1 s"
                                : "fixed 10 s window",
           (long long)n, (long long)keys, workers, workers == 1 ? "" : "s", runs);
    printf("  weir:     %8.3f s  %12.0f records/s\n", me, (double)n / me);
    printf("  baseline: %8.3f s  %12.0f records/s (hand-written single-threaded C loop)\n", mb,
           (double)n / mb);
    printf("  ratio weir/baseline: %.2fx\n", mb / me);
    printf("  paired ratio: %.2fx (median of the %d runs' ratios, min %.2fx, max %.2fx)\n",
           pr[runs / 2], runs, pr[0], pr[runs - 1]);
    remove(a);
    remove(b);
    return 0;
}
