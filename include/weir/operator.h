/* weir/operator.h: the operator interface, for weir's own operators and user-written ones.
 *
 * The pipeline is a graph of nodes; when it runs, every node is instantiated once per worker
 * (an instance is touched only by its worker's thread). An instance receives batches on its
 * inputs through `process` and pushes its results to its consumers with weir_operator_emit,
 * synchronously: the batch it emits is borrowed by the consumers for the duration of the call,
 * so it may point into the input batch. State an operator keeps past the call must be copied.
 *
 * Time: each row carries the watermark of its input as it stood before that row, and each batch
 * the watermark after its last row (see weir/batch.h). An operator with several inputs tracks a
 * watermark per input and uses the minimum. Operators that do not care about time forward the
 * rows' watermarks unchanged. End of input is a batch flagged WEIR_BATCH_END with wm_after
 * WEIR_TIME_MAX, sent once per input.
 *
 * Sources are operators with no inputs whose `pull` the worker calls when it has room. */
#ifndef WEIR_OPERATOR_H
#define WEIR_OPERATOR_H

#include "weir/batch.h"
#include "weir/snapshot.h"

#include <stdint.h>

typedef struct weir_operator weir_operator;
typedef struct weir_worker weir_worker;

/* What a source's pull returns (>= 0), besides negative WEIR_E* codes. */
enum {
    WEIR_PULL_MORE = 0, /* it emitted something and has more now */
    WEIR_PULL_IDLE = 1, /* nothing available now; it will call weir_worker_wake when there is */
    WEIR_PULL_END = 2,  /* its input is over and it has emitted its END batch */
};

typedef struct weir_operator_class {
    const char *name;
    /* Creates the instance's private state from the node's configuration (borrowed: it lives as
     * long as the graph). Return 0 or a negative code, with a message in errbuf. */
    int (*open)(weir_operator *op, const void *config, char *errbuf, size_t errlen);
    /* Handles one batch that arrived on input `input`. 0 or a negative code (the message set
     * with weir_operator_fail). Must not be NULL for operators with inputs. */
    int (*process)(weir_operator *op, uint32_t input, const weir_batch *b);
    /* Sources only: emit at most about max_rows rows. Returns WEIR_PULL_* or a negative code. */
    int (*pull)(weir_operator *op, uint32_t max_rows);
    /* Optional: processing time has reached now (ms); called when a deadline asked for with
     * weir_operator_wake_at has passed. */
    int (*on_time)(weir_operator *op, int64_t now);
    /* Optional: the run is stopping (signal): sources end their input as if bounded. */
    void (*stop)(weir_operator *op);
    /* Frees the private state; called once, also after a failed open. */
    void (*close)(weir_operator *op);
    /* Optional, operators with state and every source (checkpoints, weir/snapshot.h): writes the
     * instance's state into w at a checkpoint. 0, WEIR_SNAP_MORE (the operator writes the rest
     * later, copy-on-write: see snapshot_more), or a negative code. */
    int (*snapshot)(weir_operator *op, weir_snap_writer *w);
    /* Optional, with snapshot returning WEIR_SNAP_MORE: writes about `budget` more keys of the
     * snapshot into the same writer (which stays the operator's until the snapshot is done).
     * The worker calls it between batches while processing goes on; until it returns 0, the
     * operator writes any state it is about to change and has not written yet, first, so that
     * the snapshot is the state as of the checkpoint. WEIR_SNAP_MORE, 0 when done, or a
     * negative code. `budget` 0: finish now. The engine closes the open section after every
     * call, so each call (and each copy-on-write from process) starts with weir_snap_section. */
    int (*snapshot_more)(weir_operator *op, weir_snap_writer *w, uint32_t budget);
    /* Optional: restores what snapshot wrote, after open and before any batch: `group` is a key
     * group this instance owns now, or WEIR_SNAP_SHARED (once per old instance). 0 or a negative
     * code (the message set with weir_operator_fail). */
    int (*restore)(weir_operator *op, uint32_t group, weir_snap_reader *r);
    /* Optional, sinks that publish at checkpoints: the file their WEIR_SNAP_OUTPUT bytes are
     * appended to when a checkpoint completes (config: the node's configuration). */
    const char *(*output_path)(const void *config);
    /* Optional: checkpoint `id` is complete (its manifest is durable, file outputs published);
     * called on the worker's thread, after the snapshot of id and before any later one (a
     * transactional sink commits what it produced before that checkpoint's barrier). After the
     * last checkpoint of a run it comes before close. 0 or a negative code. */
    int (*checkpoint_complete)(weir_operator *op, uint64_t id);
    /* Optional, lifted combiners (weir/graph.h, weir_lift_spec): emits everything the instance
     * holds, now (a checkpoint barrier is about to follow it). 0 or a negative code. */
    int (*flush)(weir_operator *op);
    /* Set when the operator's output depends only on the rows it gets and their order, never on
     * which watermark values it sees between them (maps, filters, unions, sinks). An upstream
     * operator may then leave out rises of the watermark that change nothing for itself (see
     * weir_operator_downstream_watermark_blind). Unset, the default, every value reaches it:
     * leave it unset in an operator with windows, timers or anything else that reads the
     * watermark. */
    bool watermark_blind;
} weir_operator_class;

/* What snapshot / snapshot_more return when the snapshot is not complete yet. */
#define WEIR_SNAP_MORE 1

/* One consumer of an operator's output. */
typedef struct weir__edge {
    weir_operator *to;
    uint32_t input; /* which input of `to` */
    uint32_t port;  /* which output of the producer: 0 main, others extra outputs */
} weir__edge;

struct weir_operator {
    const weir_operator_class *cls;
    weir_worker *worker;
    const weir_schema *out_schema; /* schema of what it emits (set by the graph) */
    const char *name;              /* node name, for messages */
    void *state;                   /* the class's private state */
    uint32_t n_inputs;
    weir__edge *out; /* consumers */
    uint32_t n_out;
    uint32_t index;   /* node index in the graph */
    int64_t deadline; /* processing-time wake-up wanted (WEIR_TIME_MAX: none) */
};

/* Pushes b to every consumer of op's main output. Returns the first error a consumer returned. */
int weir_operator_emit(weir_operator *op, const weir_batch *b);
/* The same for output `port` (1, 2, ...: error and late outputs, in the order the node declares
 * them). Emitting to a port nobody consumes does nothing. */
int weir_operator_emit_port(weir_operator *op, uint32_t port, const weir_batch *b);
/* Whether anything consumes output port of op. */
bool weir_operator_port_used(const weir_operator *op, uint32_t port);
/* Records a runtime failure of op ("what is wrong", printf-style) as the worker's error, unless
 * one is already recorded, and returns code (for `return weir_operator_fail(...)`). */
int weir_operator_fail(weir_operator *op, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether everything downstream of op (for a lifted combiner: downstream of the node it is
 * lifted for) is watermark_blind: then op's results alone decide which watermark values must
 * travel on. */
bool weir_operator_downstream_watermark_blind(const weir_operator *op);
/* Processing time now (ms since the epoch) as seen by op's worker: the real clock, or the
 * injected one in tests. */
int64_t weir_operator_now(const weir_operator *op);
/* Asks for on_time to be called once processing time reaches t (replaces an earlier request;
 * WEIR_TIME_MAX cancels). */
void weir_operator_wake_at(weir_operator *op, int64_t t);
/* Counts records dropped as late (for the run summary). */
void weir_operator_count_late(weir_operator *op, uint64_t n);
/* Counts records sent to an error output (for the run summary). */
void weir_operator_count_errors(weir_operator *op, uint64_t n);
/* Counts records read by a source / written by a sink (for the run summary and progress). */
void weir_operator_count_read(weir_operator *op, uint64_t n);
void weir_operator_count_written(weir_operator *op, uint64_t n);
/* Reports a source's current watermark (for progress display). */
void weir_operator_report_watermark(weir_operator *op, int64_t wm);
/* Which worker runs op (0 .. count-1) and how many run: sources use it to split their input
 * (a single file or a Create is read by worker 0 only; the generator splits its range). */
uint32_t weir_operator_worker_index(const weir_operator *op);
uint32_t weir_operator_worker_count(const weir_operator *op);
/* Whether the run takes checkpoints: sinks then hold their output for the next checkpoint
 * (WEIR_SNAP_OUTPUT) instead of writing it at once. */
bool weir_operator_checkpointing(const weir_operator *op);
/* The directory of the run's checkpoints (NULL without), for operators that keep files of their
 * own beside them (WriteToKafka's commit log). */
const char *weir_operator_checkpoint_dir(const weir_operator *op);
/* During snapshot: the id of the checkpoint being taken (0 outside a snapshot). */
uint64_t weir_operator_checkpoint_id(const weir_operator *op);
/* Whether the run resumed from a checkpoint (restore calls came before the first batch). */
bool weir_operator_restored(const weir_operator *op);
/* Whether input `input` of op receives the partial rows of a lifted combiner (weir/graph.h,
 * weir_lift_spec) rather than its producer's rows: when several workers run and the node was
 * given a lift. */
bool weir_operator_input_lifted(const weir_operator *op, uint32_t input);
/* Rows per batch this run uses. */
uint32_t weir_operator_batch_size(const weir_operator *op);

/* Makes the worker pull op (a source that returned WEIR_PULL_IDLE) again. Worker thread only. */
void weir_worker_wake(weir_operator *op);
/* The libuv loop of op's worker, for sources and sinks that wait on I/O. Worker thread only. */
struct uv_loop_s *weir_worker_loop(weir_operator *op);

#endif
