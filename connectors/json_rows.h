/* connectors/json_rows.h: turning JSON lines into rows, shared by the sources that read JSON
 * lines (files, Create, Kafka): parse, extract the fields the pipeline reads, take the event
 * time, keep the watermark (bounded out-of-orderness, windowing.md §2) and route bad lines.
 * Private to connectors/. */
#ifndef WEIR_CONNECTORS_JSON_ROWS_H
#define WEIR_CONNECTORS_JSON_ROWS_H

#include "weir/json.h"
#include "weir/operator.h"
#include "weir/pipeline.h"
#include "weir/record_error.h"

typedef struct json_source_config {
    char *path;      /* file path (or NULL) */
    char **elements; /* Create: JSON lines */
    uint32_t n_elements;
    char *origin;    /* name in messages */
    char *timestamp; /* field of the event time, or NULL: processing time */
    int64_t bound;   /* max_out_of_orderness */
    bool error_output;
    bool follow;
    int64_t idle_timeout; /* ms; 0: partitions never count as idle */
    bool external_ts;     /* the event time is given with each record (Kafka's timestamp) */
    bool raw;             /* rows are {key, value} as given (weir__json_rows_raw), not parsed */
    uint32_t n_fields;
    char **fields; /* extracted fields (the schema's names) */
    /* CSV files (csv_rows.h): records are CSV, not JSON lines, when csv_delimiter is set */
    char csv_delimiter;     /* 0: JSON lines */
    uint32_t n_csv_columns; /* declared column types; other columns are inferred */
    char **csv_columns;     /* [n_csv_columns] names */
    uint8_t *csv_types;     /* [n_csv_columns] weir__csv_type */
} json_source_config;

void weir__json_source_config_free(void *config);
/* Builds the source schema: the fields (timestamp included) + raw pass-through. */
weir_schema *weir__json_source_schema(const json_source_config *cfg);
/* Fills cfg->fields from a NULL-terminated list plus the timestamp field; 0 or WEIR_ENOMEM. */
int weir__json_source_fields(json_source_config *cfg, const char *const *fields);

/* The partitions one source instance reads (the files of a glob given to one worker): each keeps
 * its own watermark, and what the instance emits carries their minimum; END goes out once every
 * partition ended. */
typedef struct json_parts {
    uint32_t n, n_ended;
    int64_t *wm;          /* [n] */
    int64_t *last_active; /* [n] processing time of each partition's last record */
    bool *idle;           /* [n] left out of the minimum (idle_timeout passed) */
    int64_t emitted;      /* the watermark emitted so far: it never goes back */
} json_parts;

typedef struct json_rows {
    weir_operator *op;
    json_parts *parts;  /* NULL: the source is a single partition */
    uint32_t part;      /* this one's index in parts */
    const char *origin; /* name in messages (the file path) */
    const json_source_config *cfg;
    weir_json_fields *fields;
    int32_t ts_index;  /* column of the timestamp, or -1 */
    int64_t max_ts;    /* largest event time seen */
    int64_t wm;        /* current watermark */
    bool seen;         /* a record was seen */
    int64_t now;       /* processing time of the batch's rows (read at its first) */
    weir_batch *batch; /* rows being filled */
    weir_record_errors errors;
    uint64_t n_read;
} json_rows;

int weir__json_rows_init(json_rows *j, weir_operator *op, const json_source_config *cfg,
                         char *errbuf, size_t errlen);
void weir__json_rows_finish(json_rows *j);
/* One line (without its newline) at position pos (1-based line number) of origin.
 * Emits the batch when it fills. 0 or the run's error. */
int weir__json_rows_line(json_rows *j, const char *line, size_t len, int64_t pos);
/* The same with the event time given: used when cfg->external_ts (otherwise ts is ignored). */
int weir__json_rows_record(json_rows *j, const char *line, size_t len, int64_t pos, int64_t ts);
/* For sources that extract values themselves (CSV), in three steps: weir__json_rows_begin
 * appends a row (emitting the batch first when it is full) and returns its values, all null, for
 * the caller to fill (strings may go into j->batch->arena from then on), or NULL with *rc set to
 * the run's error. Then weir__json_rows_end completes it: the event time and watermark as for a
 * JSON line, raw[0..raw_len) as its pass-through JSON object (NULL: none); text[0..len) is the
 * record as read, reported if the timestamp is bad. Or weir__json_rows_reject takes the row back
 * and reports text as a bad record with msg. Both return 0 or the run's error. */
weir_value *weir__json_rows_begin(json_rows *j, int *rc);
int weir__json_rows_end(json_rows *j, int64_t pos, const char *raw, size_t raw_len,
                        const char *text, size_t len, int64_t ts);
int weir__json_rows_reject(json_rows *j, int64_t pos, const char *text, size_t len,
                           const char *msg);
/* A row {key, value} of the two texts (NULL: null), each a string when it is valid UTF-8 and
 * bytes otherwise; for raw-format sources (cfg->raw). The texts must stay alive until the batch
 * is emitted. Event time as weir__json_rows_record. */
int weir__json_rows_raw(json_rows *j, const char *key, size_t klen, const char *value, size_t vlen,
                        int64_t pos, int64_t ts);
/* The value of a text: a string when it is valid UTF-8, else bytes (s is borrowed). */
weir_value weir__json_rows_text(const char *s, size_t len);
/* Emits a batch with no rows that carries the current watermark and idle state (for a source
 * whose partitions changed). 0 or the run's error. */
int weir__json_rows_emit_state(json_rows *j);
/* Emits what is pending; with end, also the END batch (watermark +infinity). */
int weir__json_rows_flush(json_rows *j, bool end);
/* Marks partitions idle whose last record is older than idle_timeout at processing time now;
 * when that changes the watermark or makes every partition idle, emits a batch saying so
 * (flag WEIR_BATCH_IDLE when all are idle). 0 or the run's error. */
int weir__json_rows_check_idle(json_rows *j, int64_t now);
/* Checkpoints: writes j's event-time state (largest event time seen, watermark, whether a record
 * was seen) and, when j is one partition of a set, that partition's slot of it (its watermark,
 * the processing time of its last record, its idleness): i64 max_ts, i64 wm, u8 seen, i64
 * partition watermark, i64 last active, u8 idle. 0 or WEIR_ENOMEM. */
int weir__json_rows_snapshot(const json_rows *j, weir_snap_writer *w);
/* Reads that back into j (and its partition slot, when it has one); the reader's sticky flag
 * says whether it was whole. */
void weir__json_rows_restore(json_rows *j, weir_snap_reader *r);
/* Adds a JSON-lines source node of class cls (cfg taken over). */
weir_stream *weir__json_source_add(weir_pipeline *p, json_source_config *cfg, const char *kind,
                                   const weir_operator_class *cls);

#endif
