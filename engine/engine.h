/* engine/engine.h: private structures of the engine shared by its files (pipeline.c builds the
 * logical graph, worker.c instantiates and drives it). Nothing outside engine/ includes this. */
#ifndef WEIR_ENGINE_PRIVATE_H
#define WEIR_ENGINE_PRIVATE_H

#include "weir/graph.h"
#include "weir/pipeline.h"

#include <stdatomic.h>
#include <uv.h>

#define WEIR__MAX_PORTS 5

typedef struct weir__node {
    char *kind, *name;
    const weir_operator_class *cls;
    void *config;
    void (*config_free)(void *);
    uint32_t n_inputs;
    uint32_t *in_node, *in_port; /* producers of each input */
    weir_schema *schema[WEIR__MAX_PORTS];
    uint32_t n_ports; /* 1 + extra outputs (0 for sinks) */
    /* per input: whether it is partitioned by key, and by which columns */
    bool *in_keyed;
    int32_t **in_key_fields;
    uint32_t *in_n_key_fields;
    /* a combiner lifted before the exchange of input 0 (weir_lift_spec), or cls NULL */
    const weir_operator_class *lift_cls;
    weir_schema *lift_schema;
    int32_t *lift_key_fields;
    uint32_t lift_n_key_fields;
} weir__node;

struct weir_stream {
    weir_pipeline *p;
    uint32_t node;
    uint32_t port;
    bool failed;
};

typedef struct weir__counters {
    _Atomic uint64_t read, written, late, errors;
    _Atomic int64_t watermark;
} weir__counters;

struct weir_pipeline {
    weir__node *nodes;
    uint32_t n_nodes, cap_nodes;
    weir_stream **streams; /* every stream handed out, freed with the pipeline */
    uint32_t n_streams, cap_streams;
    weir_stream failed;
    int status;
    char error[1024];
    bool ran;
    weir__counters counters;
    double seconds;
    _Atomic int stop_requested;
    _Atomic(struct weir__run *) run; /* set while running */
    weir_checkpoint_stats ck_stats;  /* of the last run */
};

#include "ring.h"

/* An exchange: the edge from a producer to a keyed input, repartitioned by key. Rows travel in
 * batches through one ring per ordered worker pair; used batches come back through a free ring
 * in the other direction so they are reused without allocation. */
typedef struct weir__xchg {
    uint32_t producer, port;  /* producing node and its output port */
    uint32_t consumer, input; /* keyed node and its input */
    const int32_t *key_fields;
    uint32_t n_key_fields;
    const weir_schema *schema; /* of the rows it moves (the lifted combiner's, if any) */
    int32_t lift_op;           /* index in each worker's ops of the lifted combiner, or -1 */
    weir__ring *data;          /* [from * n + to] */
    weir__ring *free;          /* [to * n + from]: batches going back to their sender */
} weir__xchg;

/* Receiving side of an exchange in one worker: a watermark per channel (sending worker). */
typedef struct weir__xrecv {
    int64_t *chan_wm;
    bool *ended;
    uint32_t n_ended;
    bool delivered_end;
    /* Until every channel has sent its first batch, nothing is delivered: a worker without a
     * partition of the input sends END first, and only once that is known does the minimum over
     * channels equal the watermark of the partitions that exist. So a single-partition input gives
     * the same results at any worker count. */
    bool *started;
    uint32_t n_started;
    bool *idle;               /* channels whose partitions are all idle: left out of the minimum */
    bool *barrier;            /* channels that delivered the checkpoint barrier: paused */
    bool *end_seen;           /* channels whose END arrived (delivered or held) */
    int64_t emitted;          /* the minimum delivered so far: it never goes back */
    struct weir_batch **held; /* batches waiting for that, in arrival order */
    uint32_t *held_from;
    uint32_t n_held, cap_held;
} weir__xrecv;

/* One run: the workers and the exchanges between them. */
typedef struct weir__run {
    weir_pipeline *p;
    uint32_t n_workers;
    struct weir_worker **workers;
    weir__xchg *xchg;
    uint32_t n_xchg;
    uint32_t n_lift; /* exchanges with a lifted combiner (its instance follows the senders) */
    _Atomic int failed;
    _Atomic uint32_t running; /* workers whose loop still runs */
    const weir_run_options *opt;
    bool restored;         /* resumed from a checkpoint */
    struct weir__ckpt *ck; /* checkpoint coordinator (engine/checkpoint.c), or NULL */
} weir__run;

typedef struct weir__ckpt weir__ckpt;
typedef weir_checkpoint_stats weir__ck_stats;

struct weir_worker {
    weir_pipeline *p;
    weir__run *run;
    uint32_t id;
    uv_loop_t loop;
    uv_idle_t pump;
    uv_timer_t timer;    /* processing-time deadlines */
    uv_timer_t progress; /* progress callback (worker 0) */
    uv_async_t wake;     /* data or room in a ring, a stop request, another worker's failure */
    bool handles_open;
    weir_operator *ops; /* the graph's nodes, one exchange sender per exchange, then one lifted
                           combiner per exchange that has one */
    uint32_t n_ops;
    uint32_t *sources; /* indexes of source operators still running */
    uint32_t n_sources;
    bool *source_idle;
    weir__xrecv *recv; /* [n_xchg] */
    uint32_t batch_size;
    weir_clock_fn clock;
    void *clock_ctx;
    const weir_run_options *opt;
    int status; /* first error */
    bool stopping;
    bool finished;
    bool any_deadline;         /* some operator asked for a processing-time wake-up */
    _Atomic int64_t source_wm; /* watermark its sources last reported (progress display) */
    _Atomic int blocked;       /* batches wait for room in a ring: sources are not pulled */
    uint32_t n_pending;        /* batches waiting for room, over every exchange sender */
    uv_thread_t thread;
    bool pumped; /* every source was pulled once */
    /* checkpoints (engine/checkpoint.c) */
    uint64_t ck_active;   /* the checkpoint whose barrier this worker injected, 0: none */
    uint64_t ck_done;     /* the last one it captured */
    uint64_t ck_notified; /* the last one whose checkpoint_complete it called */
    int64_t ck_began;     /* when it injected that barrier (monotonic ns) */
    bool *ck_sent;        /* [n_xchg] barrier sent on that exchange */
    bool ck_hold;         /* captured the last checkpoint: paused until the run closes */
    bool ck_lazy;         /* aligned and resumed; some operators still write their snapshot */
    bool *ck_more;        /* [n_nodes] that operator's snapshot is not finished */
    int64_t ck_max_step;  /* longest snapshot_more call (ns) */
    bool ck_ended;        /* told the coordinator its inputs ended */
};

/* worker.c: records a failure of the run from any thread (the first one wins) and wakes every
 * worker. Returns code. */
int weir__run_fail(weir__run *run, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* engine/checkpoint.c */
/* Sets up checkpoints for the run (nothing without options.checkpoint.dir): creates and locks the
 * directory; before the operators open. 0 or the error. */
int weir__ck_open(weir__run *run);
/* Restores the opened operators from the checkpoint to resume from, if any; before the workers
 * start. 0 or the error. */
int weir__ck_restore(weir__run *run);
/* Starts the coordinator thread. */
int weir__ck_start(weir__run *run);
/* Stops and joins the coordinator, copies its figures, frees. */
void weir__ck_finish(weir__run *run, weir__ck_stats *stats);
/* Worker side: moves the worker's part of a requested checkpoint on (barriers, snapshot). */
void weir__ck_step(struct weir_worker *w);
/* Whether the worker must not pull its sources (a checkpoint is being taken, or was the last). */
bool weir__ck_paused(const struct weir_worker *w);
/* Whether operators still write their snapshot between batches (the pump must run). */
bool weir__ck_lazy(const struct weir_worker *w);
/* A worker whose inputs ended asks whether it must stay up for the last checkpoint. */
bool weir__ck_keep_running(struct weir_worker *w);
/* Whether the last checkpoint was published (the workers exit). */
bool weir__ck_closed(const weir__run *run);
/* Wakes the coordinator (stop: weir_pipeline_stop was called). */
void weir__ck_notify(weir__run *run, bool stop);

/* engine/exchange.c */
extern const weir_operator_class weir__xchg_send_class;
/* Creates the sender state of exchange x in worker w (op->state). 0 or WEIR_ENOMEM. */
int weir__xchg_send_open(weir_operator *op, weir__xchg *x);
/* Retries batches waiting for room; returns how many still wait. */
uint32_t weir__xchg_send_retry(weir_operator *op);
/* Delivers what arrived for worker w: returns whether anything was delivered; errors are
 * recorded in w->status. */
bool weir__xchg_drain(struct weir_worker *w);
/* Sends the checkpoint barrier to every worker on exchange sender op (nothing once it ended). */
int weir__xchg_send_barrier(weir_operator *op);

/* Frees what an exchange still holds after the run. */
void weir__xchg_finish(weir__run *run);

#endif
