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
    uint32_t n_fields;
    char **fields; /* extracted fields (the schema's names) */
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
    int64_t *wm; /* [n] */
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
/* Emits what is pending; with end, also the END batch (watermark +infinity). */
int weir__json_rows_flush(json_rows *j, bool end);
/* Adds a JSON-lines source node of class cls (cfg taken over). */
weir_stream *weir__json_source_add(weir_pipeline *p, json_source_config *cfg, const char *kind,
                                   const weir_operator_class *cls);

#endif
