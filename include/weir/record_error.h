/* weir/record_error.h: what sources and record-level transforms do with a bad record.
 *
 * With an error output configured, a bad record becomes a row {error, source, record} on the
 * operator's output port 1 (source is "PATH:LINE" for files, "TOPIC/PARTITION@OFFSET" for Kafka;
 * record is the raw input as a string) and the run goes on. A position is a line number, or for
 * an origin that ends in '@' ("TOPIC/PARTITION@", Kafka) the offset plus one. Without one, the
 * first bad record stops the run with "PATH:LINE: what is wrong" (pipeline.md "Errors"): never a
 * silent skip. A weir_record_errors lives in an operator's state (init/finish on caller memory),
 * worker thread only. */
#ifndef WEIR_RECORD_ERROR_H
#define WEIR_RECORD_ERROR_H

#include "weir/operator.h"

typedef struct weir_record_errors {
    weir_operator *op;
    weir_batch *batch; /* pending error rows (NULL without an error output) */
} weir_record_errors;

/* The schema of error rows: error, source, record (strings). NULL on no memory. */
weir_schema *weir_record_error_schema(void);
/* to_output: route bad records to port 1 (when nothing consumes port 1 they are still counted
 * in the run's errors). 0 or WEIR_ENOMEM. */
int weir_record_errors_init(weir_record_errors *e, weir_operator *op, bool to_output);
void weir_record_errors_finish(weir_record_errors *e);
/* Row r of b failed with msg. Returns 0 (routed) or the run's error code (stop). */
int weir_record_error(weir_record_errors *e, const weir_batch *b, uint32_t r, const char *msg);
/* Input that never became a row (an unparseable line): origin, position, its text. */
int weir_record_error_raw(weir_record_errors *e, const char *origin, int64_t pos, const char *text,
                          size_t len, const char *msg, int64_t wm);
/* Emits the pending error rows on port 1 with watermark wm_after (and WEIR_BATCH_END in flags
 * when the input ended: then an END batch goes out even with no rows). */
int weir_record_errors_flush(weir_record_errors *e, int64_t wm_after, uint32_t flags);

#endif
