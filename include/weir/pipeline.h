/* weir/pipeline.h: the C DSL: build a pipeline graph, then run it.
 *
 *     weir_pipeline *p = weir_pipeline_create();
 *     weir_stream *in = weir_read_file(p, &(weir_file_source){.path = "clicks.jsonl",
 *         .timestamp = "ts", .fields = WEIR_FIELDS("user", "amount")});
 *     weir_stream *out = weir_combine(in, &(weir_combine_spec){
 *         .group_by = WEIR_FIELDS("user"), .window = weir_fixed(WEIR_SECONDS(10)),
 *         .aggregates = WEIR_AGGREGATES(weir_sum("amount", "spent"), weir_count("clicks"))});
 *     weir_write_file(out, &(weir_file_sink){.path = "out.jsonl"});
 *     int err = weir_run(p, &(weir_run_options){.workers = 1});
 *     if (err) fprintf(stderr, "%s\n", weir_pipeline_error(p));
 *     weir_pipeline_destroy(p);
 *
 * Errors are sticky (as Cairo's): a builder call that fails records the first error in the
 * pipeline and returns a stream that every later call accepts and ignores, so a chain of calls
 * needs one check, at weir_run. Streams belong to their pipeline and die with it. Option structs
 * and the strings in them are copied; triggers passed in a spec are taken over (always).
 * A pipeline is used by one thread at a time. */
#ifndef WEIR_PIPELINE_H
#define WEIR_PIPELINE_H

#include "weir/batch.h"
#include "weir/operator.h"
#include "weir/window.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct weir_pipeline weir_pipeline;
typedef struct weir_stream weir_stream;

/* NULL-terminated lists for option structs. */
#define WEIR_FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A new, empty pipeline, or NULL on no memory. */
weir_pipeline *weir_pipeline_create(void);
/* Frees the pipeline, its streams and everything it took over. NULL is a no-op. */
void weir_pipeline_destroy(weir_pipeline *p);
/* The first error recorded (0 if none) and its message ("" if none). The message lives as long
 * as the pipeline. */
int weir_pipeline_status(const weir_pipeline *p);
const char *weir_pipeline_error(const weir_pipeline *p);
/* Records an error (printf-style message) unless one is recorded already; returns code. For
 * front ends (the YAML runner) that validate before building. */
int weir_pipeline_set_error(weir_pipeline *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- sources ---- */

/* A column of a CSV file and its type: "int", "float", "string", "bool" or "timestamp" (an
 * integer of ms since the epoch or an RFC 3339 date-time, read as int ms). */
typedef struct weir_csv_column {
    const char *name;
    const char *type;
} weir_csv_column;
#define WEIR_CSV_COLUMNS(...) ((const weir_csv_column[]){__VA_ARGS__, {0}})

/* Common error handling of sources and record-level transforms: with error_output set, a bad
 * record goes to the stream weir_error_output() returns (fields error, source, record) and the
 * run goes on; without it, the first bad record stops the run (exit status 1).
 *
 * format "csv" (RFC 4180; connectors/csv_codec.h, csv_rows.h): the first line of each file is its
 * header; the columns named in `columns` have that type, the others are typed per cell (a JSON
 * number is an int or a float, true/false a bool, an empty cell null, anything else a string).
 * Fields no transform reads pass through as JSON members, so a JSON sink writes every column. */
typedef struct weir_file_source {
    const char *path;               /* required */
    const char *format;             /* "json" (default) or "csv" */
    const char *timestamp;          /* field holding event time; NULL: processing time */
    int64_t max_out_of_orderness;   /* ms, default 0 */
    const char *const *fields;      /* fields transforms read (others pass through as text) */
    bool error_output;              /* route bad records to weir_error_output() */
    bool follow;                    /* keep reading as the file grows (unbounded) */
    int64_t idle_timeout;           /* ms: a file with no record for this long leaves the minimum
                                       watermark until it has one again; 0: never */
    char delimiter;                 /* csv: between cells; 0: ',' */
    const weir_csv_column *columns; /* csv: WEIR_CSV_COLUMNS(...) declared types, or NULL */
} weir_file_source;
weir_stream *weir_read_file(weir_pipeline *p, const weir_file_source *opt);

typedef struct weir_generator_source {
    int64_t count;      /* records, required (> 0) */
    int64_t keys;       /* default 1000 */
    int64_t per_ms;     /* default 100 */
    int64_t partitions; /* default 0: one per worker; partition p of P makes records p, p+P, ... */
} weir_generator_source;
/* Record i is {ts: floor(i / per_ms), k: (i * 7919) mod keys, v: i mod 1000}; each partition's
 * watermark is the ts of its last record. With one partition the results are the same at any
 * worker count. Partitions are not aligned in event time: one that runs ahead of the others keeps
 * windows open downstream until they catch up. */
weir_stream *weir_read_generator(weir_pipeline *p, const weir_generator_source *opt);

typedef struct weir_create_source {
    const char *const *elements;  /* NULL-terminated list of JSON objects, one per record */
    const char *timestamp;        /* field holding event time; NULL: processing time */
    int64_t max_out_of_orderness; /* ms, default 0 */
    const char *const *fields;    /* fields transforms read */
    const char *origin;           /* name used in error messages (default "Create") */
} weir_create_source;
weir_stream *weir_create(weir_pipeline *p, const weir_create_source *opt);

/* ---- transforms ---- */

/* A row as user functions see it: values in schema order (find indexes with weir_stream_field
 * once, when building). */
typedef struct weir_row {
    int64_t ts;
    const weir_value *values;
    const weir_schema *schema;
} weir_row;

/* Index of field name in s's schema, or -1 (and a sticky error) when it has no such field. */
int weir_stream_field(weir_stream *s, const char *name);
/* The stream's schema (NULL for a failed stream). */
const weir_schema *weir_stream_schema(const weir_stream *s);

/* true keeps the row. Return values other than 0/1 are not possible: errors are not expected
 * from filters; use a map that fails for that. */
typedef bool (*weir_filter_fn)(const weir_row *row, void *ctx);
weir_stream *weir_filter(weir_stream *in, weir_filter_fn fn, void *ctx);

/* Writes the output row's values (out[0..n_fields), all null on entry) for one input row;
 * strings may point into the input row or be allocated in arena. Return 0 to emit the row, 1 to
 * drop it, or a negative WEIR_E* code (with a message in errbuf) for a record error. */
typedef int (*weir_map_fn)(const weir_row *in, weir_value *out, weir_arena *arena, void *ctx,
                           char *errbuf, size_t errlen);
typedef struct weir_map_spec {
    const char *const *fields; /* output field names, required */
    weir_map_fn fn;
    void *ctx;
    bool error_output; /* record errors go to weir_error_output() instead of stopping */
} weir_map_spec;
weir_stream *weir_map(weir_stream *in, const weir_map_spec *spec);

/* The error output of a source or map created with error_output set. */
weir_stream *weir_error_output(weir_stream *s);

/* Aggregates of a Combine: fn is one of count, sum, min, max, mean, stddev. */
typedef struct weir_aggregate {
    const char *fn;
    const char *value; /* input field (not for count) */
    const char *name;  /* output field */
} weir_aggregate;
#define WEIR_AGGREGATES(...) ((const weir_aggregate[]){__VA_ARGS__, {0}})
static inline weir_aggregate weir_count(const char *name)
{
    return (weir_aggregate){"count", NULL, name};
}
static inline weir_aggregate weir_sum(const char *value, const char *name)
{
    return (weir_aggregate){"sum", value, name};
}
static inline weir_aggregate weir_min(const char *value, const char *name)
{
    return (weir_aggregate){"min", value, name};
}
static inline weir_aggregate weir_max(const char *value, const char *name)
{
    return (weir_aggregate){"max", value, name};
}
static inline weir_aggregate weir_mean(const char *value, const char *name)
{
    return (weir_aggregate){"mean", value, name};
}
static inline weir_aggregate weir_stddev(const char *value, const char *name)
{
    return (weir_aggregate){"stddev", value, name};
}

typedef struct weir_combine_spec {
    const char *const *group_by;      /* key fields (NULL: one group) */
    weir_window_fn window;            /* default: global */
    int64_t allowed_lateness;         /* ms */
    weir_trigger *trigger;            /* NULL: default; taken over */
    weir_accumulation accumulation;   /* default discarding */
    const weir_aggregate *aggregates; /* WEIR_AGGREGATES(...), required */
    bool late_output;                 /* dropped records go to weir_late_output() */
} weir_combine_spec;
/* A keyed, windowed aggregation; output rows as windowing.md §7. */
weir_stream *weir_combine(weir_stream *in, const weir_combine_spec *spec);
/* The records a Combine created with late_output dropped as too late. */
weir_stream *weir_late_output(weir_stream *combined);

/* ---- sinks ---- */

/* format "csv": a header line of the column names, then one line per row (connectors/
 * csv_codec.h). The columns are `columns` (fields of the input, in that order), or without it
 * every field of the input's schema; an input that passes fields through unread (straight from a
 * file, Create or Kafka source) has no known set of columns and needs `columns`. */
typedef struct weir_file_sink {
    const char *path;           /* required */
    const char *format;         /* "json" (default) or "csv" */
    char delimiter;             /* csv: between cells; 0: ',' */
    const char *const *columns; /* csv: WEIR_FIELDS(...) to write, or NULL */
} weir_file_sink;
void weir_write_file(weir_stream *in, const weir_file_sink *opt);
/* Prints each record as a JSON line to standard error. */
void weir_log_for_testing(weir_stream *in);
/* Calls fn for every row, on the worker thread that produced it (with several workers, from
 * several threads at once). A non-zero return stops the run with that code. */
typedef int (*weir_collect_fn)(const weir_row *row, void *ctx);
void weir_collect(weir_stream *in, weir_collect_fn fn, void *ctx);

/* ---- running ---- */

typedef int64_t (*weir_clock_fn)(void *ctx); /* processing time, ms since the epoch */
typedef struct weir_run_stats weir_run_stats;

/* Checkpoints (ARCHITECTURE.md "How data flows" 5; the format in state/checkpoint_store.h).
 * With dir set, the run restores the newest complete checkpoint found in dir (unless fresh),
 * takes one every `interval`, publishes sink output when each completes, keeps the last
 * `retain`, and on weir_pipeline_stop takes a last one and returns without ending the inputs. */
typedef struct weir_checkpoint_options {
    const char *dir;  /* NULL: no checkpoints */
    int64_t interval; /* ms between checkpoints; 0: 10 s */
    uint32_t retain;  /* complete checkpoints kept; 0: 3 */
    bool fresh;       /* start over: delete the checkpoints in dir and truncate the outputs */
    uint64_t from;    /* > 0: restore checkpoint `from` (an older one), not the newest */
    /* for tests: after this many checkpoints completed in this run, stop at once as a crash
     * would (no last checkpoint, nothing more published) and return WEIR_ESTOPPED; 0: never */
    uint32_t crash_after;
    /* for tests: writing checkpoint number fail_at fails as a full disk would; 0: never */
    uint64_t fail_at;
} weir_checkpoint_options;

/* What the checkpoints of the last run cost (weir_pipeline_checkpoint_stats). */
typedef struct weir_checkpoint_stats {
    uint64_t completed, skipped; /* checkpoints written / skipped after a write failure */
    uint64_t last_id;            /* the last one completed */
    uint64_t restored_id;        /* the one the run resumed from, 0: none */
    int64_t restore_ns;          /* reading it and restoring the operators */
    int64_t max_capture_ns;      /* longest snapshot of one worker (its processing paused) */
    int64_t max_pause_ns;        /* longest time a worker's sources waited (barrier to resume) */
    int64_t max_step_ns;         /* longest snapshot_more call (processing waits for it too) */
    int64_t max_align_ns;        /* longest request-to-all-captured time */
    int64_t max_total_ns;        /* longest request-to-published time */
    int64_t sum_total_ns;        /* over every completed checkpoint */
} weir_checkpoint_stats;

typedef struct weir_run_options {
    uint32_t workers;    /* 0: one per core */
    uint32_t batch_size; /* rows per batch, default 1024 */
    weir_clock_fn clock; /* processing-time clock; NULL: the real one */
    void *clock_ctx;
    void (*progress)(const weir_run_stats *s, void *ctx); /* called about every 100 ms */
    void *progress_ctx;
    bool pin_workers; /* pin worker i to CPU i mod the CPUs this process may use (Linux); the
                         calling thread, which runs worker 0, gets its affinity back after */
    bool no_combiner_lifting; /* with several workers, a Combine is lifted by default: each
                                 worker pre-aggregates its rows per key and window, and only
                                 those partial aggregates cross the exchange. true: every row
                                 crosses as it is (for measuring the exchange) */
    weir_checkpoint_options checkpoint;
} weir_run_options;

/* The checkpoint figures of the last run (zeros without checkpoints). */
void weir_pipeline_checkpoint_stats(const weir_pipeline *p, weir_checkpoint_stats *out);

struct weir_run_stats {
    uint64_t records_read;    /* by every source */
    uint64_t records_written; /* by every sink */
    uint64_t dropped_late;    /* records dropped as late by windowed operators */
    uint64_t errors;          /* records sent to error outputs */
    int64_t watermark;        /* the smallest source watermark */
    double seconds;           /* wall time of the run */
};

/* Runs the pipeline until its inputs end or weir_pipeline_stop is called. Returns 0, or the
 * first error (see weir_pipeline_error). A pipeline runs once. */
int weir_run(weir_pipeline *p, const weir_run_options *opt);
/* Asks a running pipeline to stop as if its inputs ended. Safe from any thread and from a signal
 * handler. */
void weir_pipeline_stop(weir_pipeline *p);
/* Counters of the last (or current) run. */
void weir_pipeline_stats(const weir_pipeline *p, weir_run_stats *out);

#endif
