/* weir/kafka.h: Kafka sources and sinks (librdkafka), run on the worker loops.
 *
 *     weir_stream *in = weir_read_kafka(p, &(weir_kafka_source){
 *         .topic = "clicks", .bootstrap_servers = "127.0.0.1:9092", .timestamp = "ts",
 *         .max_out_of_orderness = WEIR_SECONDS(5), .group_id = "clicks-per-user"});
 *     weir_write_kafka(out, &(weir_kafka_sink){.topic = "results",
 *                                              .bootstrap_servers = "127.0.0.1:9092",
 *                                              .key = "user"});
 *
 * Each worker runs its own consumer (and producer). librdkafka's queue wakes the worker's libuv
 * loop through rd_kafka_queue_io_event_enable and a uv_poll_t: no busy polling and no thread of
 * weir's own per partition (librdkafka keeps its internal threads per broker).
 *
 * Partitions: with `bounded`, worker i of N reads partitions p with p mod N == i, from the group's
 * committed offsets (or the beginning), up to the end offsets found when the run starts, and then
 * ends its input. Unbounded, every worker is a member of the consumer group `group_id` and
 * librdkafka's group protocol spreads the partitions over the workers of every process with that
 * group (several processes scale out this way); a rebalance flushes the rows read from a revoked
 * partition before it is given up. Each partition has its own watermark (bounded
 * out-of-orderness over its records) and the worker's watermark is the minimum over its
 * partitions; a worker that has no partition, or only idle ones (`idle_timeout`), does not hold
 * the watermark of downstream operators back.
 *
 * Offsets: with checkpoints, each partition's offset and watermark state are in the checkpoint
 * and a restart resumes from them (at any worker count); the group's committed offsets follow
 * the completed checkpoints, for monitoring. Without checkpoints, the offset after the last
 * record handed to the pipeline is stored and committed to the group every 5 s (librdkafka's
 * auto commit of stored offsets): at-most-once for window state across a crash. An offset that
 * is no longer on the broker is an error that names topic, partition and offset (never a silent
 * jump: auto.offset.reset is "error").
 *
 * The sink renders each row as a JSON object (or, with format raw, sends the `value` field as
 * it is) with the key from a field, through an idempotent producer (enable.idempotence=true,
 * murmur2 partitioner as Java clients use). A delivery that fails after librdkafka's retries
 * stops the run with the error: never a silent loss. The producer is flushed at every
 * checkpoint and at the end of the input (at-least-once across restarts). With exactly_once the
 * output of each checkpoint is held and written in one transaction when the checkpoint
 * completes (connectors/kafka_txn.h). */
#ifndef WEIR_KAFKA_H
#define WEIR_KAFKA_H

#include "weir/pipeline.h"

typedef struct weir_kafka_source {
    const char *topic;             /* required */
    const char *bootstrap_servers; /* required: host:port[,host:port...] */
    const char *format;            /* "json" (default) or "raw": rows {key, value} */
    const char *group_id;          /* consumer group (default "weir"; bounded: none, read from
                                      the beginning, unless set) */
    const char *timestamp;         /* field of event time; "kafka": the record's timestamp;
                                      NULL: processing time */
    int64_t max_out_of_orderness;  /* ms, per partition */
    int64_t idle_timeout;          /* ms: a partition with no record for this long leaves the
                                      minimum; 0: never */
    bool bounded;                  /* read up to the end offsets found at start, then end */
    const char *const *fields;     /* fields transforms read (JSON; others pass through) */
    const char *const *config;     /* librdkafka consumer settings: key, value, key, value, ...,
                                      NULL (applied after weir's defaults) */
    bool error_output;             /* route bad records to weir_error_output() */
} weir_kafka_source;
weir_stream *weir_read_kafka(weir_pipeline *p, const weir_kafka_source *opt);

typedef struct weir_kafka_sink {
    const char *topic;             /* required */
    const char *bootstrap_servers; /* required */
    const char *format;            /* "json" (default) or "raw" (the `value` field as bytes) */
    const char *key;               /* field whose value is the record key; NULL: no key */
    const char *const *config;     /* librdkafka producer settings, as in weir_kafka_source */
    bool exactly_once;             /* transactions committed with checkpoints (needs them): see
                                      connectors/kafka_txn.h */
} weir_kafka_sink;
void weir_write_kafka(weir_stream *in, const weir_kafka_sink *opt);

#endif
